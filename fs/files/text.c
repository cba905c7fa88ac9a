/*
 * Files that show text: maps, info, log and regs/NAME. Each open takes the
 * text as it is then, so that a reader sees one consistent state; writing
 * a number to regs/NAME sets the register (as the `reg` command).
 * Try it: cat /tmp/g/maps /tmp/g/info; echo 0x1000 > /tmp/g/regs/rip
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "gmemfs.h"
#include "regs.h"

/* The register behind regs/ inode INO, the aliases resolved. */
static const struct gm_reg *reg_of(struct gmfs *fs, fuse_ino_t ino)
{
	const struct gm_arch *arch = gm_guest_arch(fs->guest);
	size_t i = ino - INO_REG_FIRST;

	if (i < arch->nregs)
		return &arch->regs[i];
	return gm_arch_reg(arch,
			   i == arch->nregs ? arch->pc_name : arch->sp_name);
}

/* The text of the file INO now. The caller holds the lock. */
int gmfs_text_make(struct gmfs *fs, fuse_ino_t ino, struct gm_text *out)
{
	struct gm_error err = {0};
	uint64_t value;
	int rc;

	switch (ino) {
	case INO_MAPS:
		return gm_maps_text(fs->guest, out);
	case INO_INFO:
		return gm_info_text(fs->guest, out);
	case INO_LOG:
		return gm_cmd_log_text(fs->cmd, out);
	}
	rc = gm_reg_read(fs->guest, reg_of(fs, ino), &value, &err);
	if (rc)
		return rc;
	gm_text_printf(out, "0x%llx\n", (unsigned long long)value);
	return gm_text_status(out);
}

/* Open a file whose reads are served from a handle: text files, regs/ and
 * the control files. Text files are read-only. */
void gmfs_text_open(fuse_req_t req, struct gmfs *fs, fuse_ino_t ino,
		    struct fuse_file_info *fi)
{
	enum gmfs_kind kind = gmfs_kind_of(ino);
	struct gmfs_handle *h;
	int rc = 0;

	if (kind == KIND_TEXT && (fi->flags & O_ACCMODE) != O_RDONLY) {
		fuse_reply_err(req, EACCES);
		return;
	}
	h = calloc(1, sizeof(*h));
	if (!h) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	gm_text_init(&h->text);
	if (kind != KIND_CONTROL) {
		gm_guest_lock(fs->guest);
		rc = gmfs_text_make(fs, ino, &h->text);
		gm_guest_unlock(fs->guest);
	}
	if (rc) {
		gm_text_free(&h->text);
		free(h);
		fuse_reply_err(req, -rc);
		return;
	}
	/* The text is made per open and its size changes: no page cache. */
	fi->direct_io = 1;
	if (kind == KIND_CONTROL)
		fi->nonseekable = 1;
	fi->fh = (uintptr_t)h;
	fuse_reply_open(req, fi);
}

/*
 * Text and regs/ files read at OFF. Control files read their answer from
 * the handle's own cursor, whatever the file offset the writes moved: `exec
 * 3<>ctl; echo … >&3; cat <&3` reads the answer from its start.
 */
void gmfs_text_read(fuse_req_t req, struct gmfs *fs, fuse_ino_t ino,
		    size_t size, off_t off, struct fuse_file_info *fi)
{
	struct gmfs_handle *h = (struct gmfs_handle *)(uintptr_t)fi->fh;
	size_t at = (size_t)off, left;
	int rc = 0;

	if (gmfs_kind_of(ino) == KIND_CONTROL) {
		/* Reading `stack` before any command lists the stack. */
		if (!h->answered && ino == INO_STACK) {
			gm_guest_lock(fs->guest);
			rc = gm_stack_text(fs->guest, &h->text);
			gm_guest_unlock(fs->guest);
			if (rc) {
				fuse_reply_err(req, -rc);
				return;
			}
			h->answered = true;
		}
		at = h->cursor;
	}
	if (at >= h->text.len) {
		fuse_reply_buf(req, NULL, 0);
		return;
	}
	left = h->text.len - at;
	if (size > left)
		size = left;
	if (gmfs_kind_of(ino) == KIND_CONTROL)
		h->cursor = at + size;
	fuse_reply_buf(req, h->text.buf + at, size);
}

void gmfs_text_release(fuse_req_t req, struct fuse_file_info *fi)
{
	struct gmfs_handle *h = (struct gmfs_handle *)(uintptr_t)fi->fh;

	gm_text_free(&h->text);
	free(h);
	fuse_reply_err(req, 0);
}
