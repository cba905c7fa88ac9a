/*
 * Snapshots in memory: save records every region and register, restore
 * makes the guest exactly as saved or leaves it untouched.
 */
#ifndef GM_SNAPSHOT_H
#define GM_SNAPSHOT_H

#include <stddef.h>
#include <stdint.h>

#include "arch.h"
#include "error.h"

struct gm_guest;

#define GM_SNAP_NAME_MAX 255

/* One saved region. BYTES holds SIZE bytes; a page whose bit in PRESENT is
 * clear is all zero and was never written (it costs no memory). */
struct gm_snap_region {
	uint64_t start;
	uint64_t size;
	unsigned perms;
	char *label;
	size_t label_len;
	uint8_t *bytes;
	uint8_t *present; /* one bit per page of the guest's page size */
};

struct gm_snapshot {
	char *name;
	const struct gm_arch *arch;
	uint64_t page_size;
	size_t nregions;
	struct gm_snap_region *regions; /* sorted by address */
	uint64_t *regs;			/* arch->nregs values, table order */
	uint64_t stored_bytes;		/* non-zero pages held */
};

/* Save the guest as NAME (NULL: "snap-N"), replacing a snapshot of that
 * name; *SAVED (if not NULL) points at the name. -EINVAL bad name,
 * -ENOSPC the snapshot memory limit or no host memory. */
int gm_snap_save(struct gm_guest *g, const char *name, const char **saved,
		 struct gm_error *err);

/* Make the guest exactly as snapshot NAME (NULL: the newest). -ENOENT no
 * such snapshot; on any error the guest is unchanged. */
int gm_snap_restore(struct gm_guest *g, const char *name, struct gm_error *err);

/* Delete snapshot NAME. -ENOENT when there is none. */
int gm_snap_drop(struct gm_guest *g, const char *name, struct gm_error *err);

/* The snapshots, oldest first; valid until the next save, drop or close. */
size_t gm_snap_count(const struct gm_guest *g);
const struct gm_snapshot *gm_snap_at(const struct gm_guest *g, size_t i);
const struct gm_snapshot *gm_snap_find(const struct gm_guest *g,
				       const char *name);

/* 0 when NAME can name a snapshot (and a file in snapshots/), else
 * -EINVAL with the reason. */
int gm_snap_name_check(const char *name, struct gm_error *err);

#endif
