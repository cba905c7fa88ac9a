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

/* The register behind regs/ inode INO. */
static const struct gm_reg *reg_of(struct gmfs *fs, fuse_ino_t ino)
{
	return &gm_guest_arch(fs->guest)->regs[ino - INO_REG_FIRST];
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

struct gmfs_handle *gmfs_handle_new(struct gmfs *fs)
{
	struct gmfs_handle *h = calloc(1, sizeof(*h));

	if (!h)
		return NULL;
	gm_text_init(&h->text);
	gm_text_init(&h->pending);
	h->next = fs->handles;
	if (fs->handles)
		fs->handles->prev = h;
	fs->handles = h;
	return h;
}

void gmfs_handle_free(struct gmfs *fs, struct gmfs_handle *h)
{
	if (h->prev)
		h->prev->next = h->next;
	else
		fs->handles = h->next;
	if (h->next)
		h->next->prev = h->prev;
	gm_text_free(&h->pending);
	gm_text_free(&h->text);
	gmfs_snapshot_handle_free(h);
	free(h);
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
	gm_guest_lock(fs->guest);
	h = gmfs_handle_new(fs);
	if (!h)
		rc = -ENOMEM;
	else if (kind != KIND_CONTROL)
		rc = gmfs_text_make(fs, ino, &h->text);
	if (rc && h)
		gmfs_handle_free(fs, h);
	gm_guest_unlock(fs->guest);
	if (rc) {
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
 * Control files read their answer from the handle's own cursor, whatever
 * the file offset the writes moved: `exec 3<>ctl; echo … >&3; cat <&3`
 * reads the answer from its start. A line still waiting for its newline
 * runs first; reading `stack` before any command lists the stack.
 */
static void control_read(fuse_req_t req, struct gmfs *fs, fuse_ino_t ino,
			 size_t size, struct gmfs_handle *h)
{
	size_t left;
	int rc = 0;

	gmfs_control_finish(fs, ino, h);
	gm_guest_lock(fs->guest);
	if (!h->answered && ino == INO_STACK) {
		rc = gm_stack_text(fs->guest, &h->text);
		h->answered = !rc;
	}
	if (rc) {
		fuse_reply_err(req, -rc);
	} else if (h->cursor >= h->text.len) {
		fuse_reply_buf(req, NULL, 0);
	} else {
		left = h->text.len - h->cursor;
		if (size > left)
			size = left;
		fuse_reply_buf(req, h->text.buf + h->cursor, size);
		h->cursor += size;
	}
	gm_guest_unlock(fs->guest);
}

/*
 * Text and regs/ files read at OFF, from the text made at open.
 */
void gmfs_text_read(fuse_req_t req, struct gmfs *fs, fuse_ino_t ino,
		    size_t size, off_t off, struct fuse_file_info *fi)
{
	struct gmfs_handle *h = (struct gmfs_handle *)(uintptr_t)fi->fh;
	size_t at = (size_t)off, left;

	if (gmfs_kind_of(ino) == KIND_CONTROL) {
		control_read(req, fs, ino, size, h);
		return;
	}
	gm_guest_lock(fs->guest);
	if (at >= h->text.len) {
		fuse_reply_buf(req, NULL, 0);
	} else {
		left = h->text.len - at;
		fuse_reply_buf(req, h->text.buf + at,
			       size < left ? size : left);
	}
	gm_guest_unlock(fs->guest);
}

void gmfs_text_release(fuse_req_t req, struct gmfs *fs, fuse_ino_t ino,
		       struct fuse_file_info *fi)
{
	struct gmfs_handle *h = (struct gmfs_handle *)(uintptr_t)fi->fh;

	/* Without a flush (a failed close()), the last line still runs. */
	if (gmfs_kind_of(ino) == KIND_CONTROL)
		gmfs_control_finish(fs, ino, h);
	gm_guest_lock(fs->guest);
	gmfs_handle_free(fs, h);
	gm_guest_unlock(fs->guest);
	fuse_reply_err(req, 0);
}
