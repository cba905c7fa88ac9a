/*
 * Guest memory access: bytes, pointers, strings and search, straight on the
 * regions' host memory. Writes ignore protection, as a debugger's do.
 */
#ifndef GM_MEMORY_H
#define GM_MEMORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "regions.h"

struct gm_guest;

/* Copy SIZE bytes at ADDR into BUF; all or nothing. -EFAULT names the first
 * unmapped address, -EINVAL a range past the address space. */
int gm_mem_read(const struct gm_guest *g, uint64_t addr, void *buf, size_t size,
		struct gm_error *err);

/* Copy BUF to ADDR; all or nothing, errors as gm_mem_read. Translated code
 * for the range is dropped, so emulation sees the new bytes. */
int gm_mem_write(struct gm_guest *g, uint64_t addr, const void *buf,
		 size_t size, struct gm_error *err);

/* Transfer up to SIZE bytes between BUF and guest memory at ADDR, stopping
 * at the first unmapped address or the end of the address space, as
 * /proc/PID/mem does. Returns the bytes transferred. */
size_t gm_mem_pread(const struct gm_guest *g, uint64_t addr, void *buf,
		    size_t size);
size_t gm_mem_pwrite(struct gm_guest *g, uint64_t addr, const void *buf,
		     size_t size);

/* Read a SIZE-byte integer (1, 2, 4, 8; 0 means the pointer size) in guest
 * byte order; IS_SIGNED sign-extends it into *VALUE. */
int gm_mem_read_ptr(const struct gm_guest *g, uint64_t addr, unsigned size,
		    bool is_signed, uint64_t *value, struct gm_error *err);

/* Write VALUE as a SIZE-byte integer in guest byte order. VALUE is taken as
 * an int64_t when IS_SIGNED. -ERANGE when it does not fit. */
int gm_mem_write_ptr(struct gm_guest *g, uint64_t addr, uint64_t value,
		     unsigned size, bool is_signed, struct gm_error *err);

/* The bytes at ADDR up to the first NUL, in a malloc'd, NUL-terminated
 * buffer (*LEN excludes the NUL). -EFAULT when memory ends before a NUL. */
int gm_mem_string_read(const struct gm_guest *g, uint64_t addr, char **text,
		       size_t *len, struct gm_error *err);

/* Write LEN bytes of TEXT and a NUL at ADDR. */
int gm_mem_string_write(struct gm_guest *g, uint64_t addr, const char *text,
			size_t len, struct gm_error *err);

/* Called with each match; a non-zero return stops the search. */
typedef int (*gm_match_fn)(uint64_t addr, void *ctx);

/* Find PATTERN in mapped memory inside WIN (NULL: everywhere), in address
 * order, matches not overlapping (as Qiling's re.finditer). Matches may
 * cross the boundary of adjacent regions, never a hole. Returns the number
 * of matches reported, or -EINVAL for an empty pattern or window. */
long gm_mem_search(const struct gm_guest *g, const void *pattern, size_t len,
		   const struct gm_window *win, gm_match_fn fn, void *ctx,
		   struct gm_error *err);

#endif
