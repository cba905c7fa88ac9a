/*
 * Control files: ctl takes any command of SPEC §4, map, unmap, save,
 * restore and stack are bound to one verb, regs/NAME to `reg NAME`. The
 * answer is read back on the same descriptor; a failing command fails the
 * write() with its errno and answers "error: MESSAGE".
 * Try it: exec 3<>/tmp/g/ctl; echo "map_anywhere 0x1000" >&3; cat <&3
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gmemfs.h"

/* Lines are shorter than this. The kernel hands a write() over in pieces
 * of 1 MiB, less the offset of the buffer in its first page: so a line too
 * long is seen in the first piece of a write() that starts with it, and
 * the whole write() fails instead of being cut short. */
#define LINE_MAX_BYTES ((1u << 20) - 4096)

static const char *bound_verb(fuse_ino_t ino)
{
	switch (ino) {
	case INO_MAP:
		return "map";
	case INO_UNMAP:
		return "unmap";
	case INO_SAVE:
		return "save";
	case INO_RESTORE:
		return "restore";
	case INO_STACK:
		return "stack";
	}
	return NULL;
}

/* "reg NAME " and the value written to regs/NAME, as one command; a value
 * of several lines is refused by the command's own parser. */
static char *reg_command(struct gmfs *fs, fuse_ino_t ino, const char *buf,
			 size_t size, size_t *len)
{
	const char *name =
	    gm_guest_arch(fs->guest)->regs[ino - INO_REG_FIRST].name;
	size_t head = strlen("reg ") + strlen(name) + 1;
	char *line;

	/* `echo 0x10 > regs/rip` ends with one newline: not a second line. */
	if (size && buf[size - 1] == '\n')
		size--;
	line = malloc(head + size);
	if (!line)
		return NULL;
	memcpy(line, "reg ", 4);
	memcpy(line + 4, name, strlen(name));
	line[head - 1] = ' ';
	memcpy(line + head, buf, size);
	*len = head + size;
	return line;
}

/* Make room for a new answer in H. Answers pile up until read: a write
 * the kernel cut in pieces, or several writes before one read, answer
 * every line. */
static void answer_begin(struct gmfs_handle *h)
{
	if (h->cursor == h->text.len) {
		gm_text_reset(&h->text);
		h->cursor = 0;
	}
	h->answered = true;
}

/* Run TEXT as commands of the control file INO, the answer into H. The
 * caller holds the lock; *INVAL gets what to invalidate after it. */
static int control_run(struct gmfs *fs, fuse_ino_t ino, struct gmfs_handle *h,
		       const char *text, size_t len, struct gmfs_inval **inval,
		       size_t *ninval)
{
	struct gm_error err = {0};
	int rc;

	answer_begin(h);
	rc = gm_cmd_run(fs->cmd, bound_verb(ino), text, len, &h->text, &err);
	*ninval = gmfs_changes_take(fs, 0, inval);
	return rc;
}

/* Refuse a line of LEN bytes or more: answer, log, and return -EINVAL. */
static int line_too_long(struct gmfs *fs, struct gmfs_handle *h, size_t len)
{
	struct gm_error err = {0};
	char what[64];

	gm_text_reset(&h->pending);
	gm_fail(&err, EINVAL,
		"a line holds less than 1020 KiB (%u bytes); bulk data goes "
		"through mem or regions/",
		LINE_MAX_BYTES);
	answer_begin(h);
	gm_text_printf(&h->text, "error: %s\n", err.msg);
	snprintf(what, sizeof(what), "(a line of %zu bytes or more)", len);
	gm_cmd_log_add(fs->cmd, what, -EINVAL, &err);
	return -EINVAL;
}

/*
 * The kernel hands a long write() over in pieces (of 1 MiB; `cat` writes
 * 128 KiB at a time), so a line may arrive cut: what follows the last
 * newline waits in the handle for the rest of its line. The caller holds
 * the lock.
 */
static int control_take(struct gmfs *fs, fuse_ino_t ino, struct gmfs_handle *h,
			const char *buf, size_t size, struct gmfs_inval **inval,
			size_t *ninval)
{
	const char *first_nl = memchr(buf, '\n', size);
	const char *nl = memrchr(buf, '\n', size);
	size_t whole = nl ? (size_t)(nl + 1 - buf) : 0;
	size_t first = first_nl ? (size_t)(first_nl - buf) : size;
	int rc = 0;

	if (h->pending.len + first >= LINE_MAX_BYTES)
		return line_too_long(fs, h, h->pending.len + first);
	if (size - whole >= LINE_MAX_BYTES)
		return line_too_long(fs, h, size - whole);
	if (!nl) {
		gm_text_add(&h->pending, buf, size);
		return gm_text_status(&h->pending);
	}
	if (h->pending.len) {
		gm_text_add(&h->pending, buf, whole);
		rc = gm_text_status(&h->pending);
		if (!rc)
			rc = control_run(fs, ino, h, h->pending.buf,
					 h->pending.len, inval, ninval);
	} else {
		rc = control_run(fs, ino, h, buf, whole, inval, ninval);
	}
	gm_text_reset(&h->pending);
	if (!rc)
		gm_text_add(&h->pending, buf + whole, size - whole);
	return rc ? rc : gm_text_status(&h->pending);
}

/* Run a line left without its newline: when the answer is read, or at
 * close (then close() fails with the command's errno). */
int gmfs_control_finish(struct gmfs *fs, fuse_ino_t ino, struct gmfs_handle *h)
{
	struct gmfs_inval *inval = NULL;
	size_t n = 0;
	int rc = 0;

	gm_guest_lock(fs->guest);
	if (h->pending.len) {
		rc = control_run(fs, ino, h, h->pending.buf, h->pending.len,
				 &inval, &n);
		gm_text_reset(&h->pending);
	}
	gm_guest_unlock(fs->guest);
	gmfs_changes_notify(fs, inval, n);
	return rc;
}

void gmfs_control_write(fuse_req_t req, struct gmfs *fs, fuse_ino_t ino,
			const char *buf, size_t size, struct fuse_file_info *fi)
{
	struct gmfs_handle *h = (struct gmfs_handle *)(uintptr_t)fi->fh;
	struct gmfs_inval *inval = NULL;
	char *line = NULL;
	size_t n = 0, len;
	int rc;

	if (gmfs_kind_of(ino) == KIND_REG) {
		line = reg_command(fs, ino, buf, size, &len);
		if (!line) {
			fuse_reply_err(req, ENOMEM);
			return;
		}
	}
	gm_guest_lock(fs->guest);
	if (line)
		rc = control_run(fs, ino, h, line, len, &inval, &n);
	else
		rc = control_take(fs, ino, h, buf, size, &inval, &n);
	gm_guest_unlock(fs->guest);
	free(line);
	/* A control write holds no page lock: invalidate before answering,
	 * so the next read anywhere sees the command's effect. */
	gmfs_changes_notify(fs, inval, n);
	if (rc)
		fuse_reply_err(req, -rc);
	else
		fuse_reply_write(req, size);
}
