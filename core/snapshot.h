/*
 * Snapshots in memory: save records every region and register, restore
 * makes the guest exactly as saved or leaves it untouched.
 */
#ifndef GM_SNAPSHOT_H
#define GM_SNAPSHOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

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

/* Whether page P of R was saved (its bit in PRESENT). */
static inline bool gm_snap_page_saved(const struct gm_snap_region *r,
				      uint64_t p)
{
	return r->present[p / 8] & (1u << (p % 8));
}

/* Whether the N (>= 1) bytes at P are all zero: a page not worth storing. */
static inline bool gm_page_is_zero(const uint8_t *p, size_t n)
{
	return p[0] == 0 && memcmp(p, p + 1, n - 1) == 0;
}

struct gm_snapshot {
	char *name;
	const struct gm_arch *arch;
	uint64_t page_size;
	size_t nregions;
	struct gm_snap_region *regions; /* sorted by address */
	uint64_t *regs;			/* arch->nregs values, table order */
	uint64_t stored_bytes;		/* non-zero pages held */
	struct timespec made; /* when it was saved or added (its mtime) */
	/* From gm_snap_view: the regions' bytes are the guest's memory and
	 * there is no present bitmap (a page is stored when not zero). */
	bool borrowed;
	/* Holders of a snapshot among the guest's: its list and
	 * gm_snap_hold's callers (the daemon's open files). */
	unsigned refs;
};

/* Whether page P of R, one of S's regions, is stored in S's file: its
 * present bit, or for a view (no bitmap) whether it holds a non-zero
 * byte. */
static inline bool gm_snap_page_stored(const struct gm_snapshot *s,
				       const struct gm_snap_region *r,
				       uint64_t p)
{
	if (s->borrowed)
		return !gm_page_is_zero(r->bytes + p * s->page_size,
					s->page_size);
	return gm_snap_page_saved(r, p);
}

/* Save the guest as NAME (NULL: "snap-N"), replacing a snapshot of that
 * name; *SAVED (if not NULL) points at the name. -EINVAL bad name,
 * -ENOSPC the snapshot memory limit or no host memory. */
int gm_snap_save(struct gm_guest *g, const char *name, const char **saved,
		 struct gm_error *err);

/* Make the guest exactly as snapshot NAME (NULL: the newest). -ENOENT no
 * such snapshot; on any error the guest is unchanged. */
int gm_snap_restore(struct gm_guest *g, const char *name, struct gm_error *err);

/* Make the guest exactly as S, a snapshot not among the guest's (read
 * from a file). -EINVAL when S is of another architecture or page size;
 * on any error the guest is unchanged. */
int gm_snap_restore_from(struct gm_guest *g, const struct gm_snapshot *s,
			 struct gm_error *err);

/* Add S (read from a file) to the guest's snapshots under S->name,
 * replacing one of that name; the guest owns S on success. -EINVAL bad
 * name, another architecture or page size; -ENOSPC the snapshot memory
 * limit. */
int gm_snap_add(struct gm_guest *g, struct gm_snapshot *s,
		struct gm_error *err);

/* The guest as it is now, as a snapshot that borrows its memory instead
 * of copying it: valid while the guest does not change (hold the lock),
 * freed with gm_snapshot_free. -ENOMEM. */
int gm_snap_view(struct gm_guest *g, struct gm_snapshot **out,
		 struct gm_error *err);

/* The guest as it is now, copied as a save copies it (zero pages cost
 * nothing), into a snapshot with no name that is not among the guest's:
 * what the `core` file serves from open() to release. Free it with
 * gm_snapshot_free. -ENOSPC past the snapshot memory left (the limit less
 * what the guest's snapshots hold) or without host memory. */
int gm_snap_take(struct gm_guest *g, struct gm_snapshot **out,
		 struct gm_error *err);

/* Keep S, one of the guest's snapshots, alive after a drop or a replace
 * until gm_snap_put; both under the guest lock. Its memory no longer
 * counts against the limit once dropped. */
struct gm_snapshot *gm_snap_hold(const struct gm_snapshot *s);
void gm_snap_put(struct gm_snapshot *s);

/* Write the guest as it is now to the snapshot file PATH, atomically
 * (gm_snapfile_store of a view): what --state does at the end. -errno
 * with a message. */
int gm_snap_store(struct gm_guest *g, const char *path, struct gm_error *err);

/* Rename snapshot FROM to TO, replacing one named TO; its time stays.
 * -ENOENT no FROM, -EINVAL bad name, -ENOSPC no host memory. */
int gm_snap_rename(struct gm_guest *g, const char *from, const char *to,
		   struct gm_error *err);

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
