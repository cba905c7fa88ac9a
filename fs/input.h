/*
 * What the daemon does with the bytes users write to regs/NAME, to the
 * user.label xattr and to a snapshot file being imported, with no FUSE in
 * it: the handlers in fs/files/ and tests/fuzz/fuzz-files.c call these.
 */
#ifndef GMFS_INPUT_H
#define GMFS_INPUT_H

#include <stddef.h>
#include <stdint.h>

#include "cmd/cmd.h"
#include "error.h"
#include "regions.h"
#include "regs.h"
#include "snapshot.h"

/* An import may hold the snapshot memory limit and the fields around it. */
#define GMFS_IMPORT_SLACK (64ull << 20)

/*
 * A value written to regs/ for register REG: run as `reg NAME VALUE` on C,
 * answers to OUT. One trailing newline is the end of the line (`echo 0x10 >
 * regs/rip`); a value of several lines is -EINVAL, run as nothing and not
 * logged. -ENOMEM, or what gm_cmd_run returns. Under the guest lock.
 */
int gmfs_reg_value_run(struct gm_cmd_ctx *c, const struct gm_reg *reg,
		       const char *buf, size_t size, struct gm_text *out,
		       struct gm_error *err);

/*
 * setxattr NAME on region R (NULL: the file's region is gone): only
 * "user.label" (else -ENOTSUP); XATTR_CREATE is -EEXIST, as every region
 * has a label; else gm_set_label, logged on C as `setfattr user.label
 * 0xSTART`. Under the guest lock.
 */
int gmfs_label_set(struct gm_guest *g, struct gm_cmd_ctx *c,
		   const struct gm_region *r, const char *name,
		   const char *value, size_t size, int flags,
		   struct gm_error *err);

/* The bytes of a snapshot file being written, zero-filled where nothing
 * was written; all zero is empty. */
struct gmfs_import {
	uint8_t *bytes;
	size_t len, cap;
};

/* Make IM LEN bytes long (cut, or grown with zeros): -EFBIG past LIMIT (the
 * guest's snapshot limit) and GMFS_IMPORT_SLACK, -ENOMEM; 0 when LEN is
 * its length already, 1 when it changed. A write of SIZE bytes at OFF
 * makes it max(OFF + SIZE, its length) long, then copies into BYTES. */
int gmfs_import_resize(struct gmfs_import *im, uint64_t len, uint64_t limit);

void gmfs_import_free(struct gmfs_import *im);

/* Parse IM as a snapshot file of G's architecture and page size into *OUT
 * (gm_snapfile_read). Needs no guest lock: only G's arch and page size. */
int gmfs_import_parse(struct gm_guest *g, const struct gmfs_import *im,
		      struct gm_snapshot **out, struct gm_error *err);

/*
 * Finish an import as snapshot NAME: when RC (the parse's result) is 0,
 * add S to G's snapshots, which then own it; else, or when that fails, S
 * is freed. Logged on C as `import snapshots/NAME`. Returns 0, RC, or
 * gm_snap_add's -errno (-ENOSPC also without host memory for the name).
 * Under the guest lock.
 */
int gmfs_import_add(struct gm_guest *g, struct gm_cmd_ctx *c, int rc,
		    struct gm_snapshot *s, const char *name,
		    struct gm_error *err);

#endif
