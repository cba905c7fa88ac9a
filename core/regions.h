/*
 * The region map: which guest ranges are mapped, with what permissions and
 * label, and where their bytes live. Kept sorted; lookups are O(log n).
 */
#ifndef GM_REGIONS_H
#define GM_REGIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

struct gm_guest;
struct gm_block;

/* Permissions, the same bits as Unicorn's UC_PROT_*. */
enum {
	GM_PERM_R = 1,
	GM_PERM_W = 2,
	GM_PERM_X = 4,
	GM_PERM_ALL = 7,
};

#define GM_LABEL_MAX	 4096 /* bytes in a label */
#define GM_DEFAULT_LABEL "[mapped]"

struct gm_region {
	uint64_t start;
	uint64_t size;	/* > 0; start + size may be exactly 2^64 */
	unsigned perms; /* GM_PERM_* */
	char *label;	/* label_len arbitrary bytes, NUL-terminated */
	size_t label_len;
	uint8_t *host;		/* the region's bytes in host memory */
	struct gm_block *block; /* host mapping shared by pieces of a split */
};

/* An address window [lo, hi) for searches and placement; hi_set false means
 * "to the end of the address space". */
struct gm_window {
	uint64_t lo;
	uint64_t hi;
	bool hi_set;
};

/* The regions, sorted by address; valid until the next change. */
const struct gm_region *gm_regions(const struct gm_guest *g, size_t *count);

/* The region that contains ADDR, or NULL. */
const struct gm_region *gm_region_find(const struct gm_guest *g, uint64_t addr);

/* Map [addr, addr+size) with PERMS and LABEL (LABEL NULL: "[mapped]").
 * -EINVAL bad range or perms, -EEXIST not free, -ENOSPC the region limit
 * or no host memory for it (as a save without host memory). */
int gm_map(struct gm_guest *g, uint64_t addr, uint64_t size, unsigned perms,
	   const char *label, size_t label_len, struct gm_error *err);

/* Unmap a range that is fully mapped (it may span adjacent regions and
 * split them). -EINVAL bad range, -EFAULT a hole, -ENOSPC a split past the
 * region limit. */
int gm_unmap(struct gm_guest *g, uint64_t addr, uint64_t size,
	     struct gm_error *err);

/* Unmap every region. */
int gm_unmap_all(struct gm_guest *g, struct gm_error *err);

/* Set PERMS on a fully mapped range, splitting regions at its ends and
 * merging pieces of one earlier split that agree again. Errors as unmap. */
int gm_protect(struct gm_guest *g, uint64_t addr, uint64_t size, unsigned perms,
	       struct gm_error *err);

/* Set the label of the region that starts at START. -EFAULT none starts
 * there, -EINVAL too long, -ENOMEM. */
int gm_set_label(struct gm_guest *g, uint64_t start, const char *label,
		 size_t label_len, struct gm_error *err);

/* Lowest address A, a multiple of ALIGNMENT (0: the page size; never less
 * than the page size), such that [A, A+size) is free and inside WIN (NULL:
 * the whole space). SIZE is rounded up to pages. -EINVAL bad arguments,
 * -ENOMEM no such space. */
int gm_find_free_space(const struct gm_guest *g, uint64_t size,
		       const struct gm_window *win, uint64_t alignment,
		       uint64_t *addr, struct gm_error *err);

/* find_free_space, then map there; the address goes to *ADDR. */
int gm_map_anywhere(struct gm_guest *g, uint64_t size, unsigned perms,
		    const char *label, size_t label_len,
		    const struct gm_window *win, uint64_t alignment,
		    uint64_t *addr, struct gm_error *err);

/* Whether no byte of [addr, addr+size) is mapped / every byte is (adjacent
 * regions count as one range). -EINVAL for an empty or wrapping range. */
int gm_is_available(const struct gm_guest *g, uint64_t addr, uint64_t size,
		    bool *available, struct gm_error *err);
int gm_is_mapped(const struct gm_guest *g, uint64_t addr, uint64_t size,
		 bool *mapped, struct gm_error *err);

/* Parse "rwx", "r-x", "---" into *PERMS. -EINVAL otherwise. */
int gm_perms_parse(const char *text, unsigned *perms, struct gm_error *err);

#endif
