/*
 * CPU registers by name, with their width checked: the regs/ files, the
 * stack pointer of stack operations and the registers of snapshots.
 */
#ifndef GM_REGS_H
#define GM_REGS_H

#include <stdint.h>

#include "arch.h"
#include "error.h"

struct gm_guest;

/* Read register REG into *VALUE (zero-extended). */
int gm_reg_read(struct gm_guest *g, const struct gm_reg *reg, uint64_t *value,
		struct gm_error *err);

/* Set REG to VALUE. -ERANGE when VALUE does not fit its width. */
int gm_reg_write(struct gm_guest *g, const struct gm_reg *reg, uint64_t value,
		 struct gm_error *err);

/* The program counter and stack pointer. */
uint64_t gm_reg_pc(struct gm_guest *g);
uint64_t gm_reg_sp(struct gm_guest *g);
int gm_reg_set_sp(struct gm_guest *g, uint64_t value, struct gm_error *err);

#endif
