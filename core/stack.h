/*
 * The guest stack, as Qiling's ql.stack_* functions use it: pointer-sized
 * values at SP, in guest byte order; only push and pop move SP.
 */
#ifndef GM_STACK_H
#define GM_STACK_H

#include <stdint.h>

#include "error.h"

struct gm_guest;

/* SP -= pointer size, then write VALUE at SP; *NEW_SP gets SP. Nothing
 * changes on error: -ERANGE value too wide, -EFAULT not mapped. */
int gm_stack_push(struct gm_guest *g, uint64_t value, uint64_t *new_sp,
		  struct gm_error *err);

/* Read the value at SP, then SP += pointer size. */
int gm_stack_pop(struct gm_guest *g, uint64_t *value, struct gm_error *err);

/* The value at SP + OFFSET (OFFSET may be negative); SP does not move.
 * -EFAULT when SP + OFFSET leaves the address space or is not mapped. */
int gm_stack_read(struct gm_guest *g, int64_t offset, uint64_t *value,
		  struct gm_error *err);
int gm_stack_write(struct gm_guest *g, int64_t offset, uint64_t value,
		   struct gm_error *err);

#endif
