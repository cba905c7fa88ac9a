/*
 * Control files: ctl takes any command of SPEC §4, map, unmap, save,
 * restore and stack are bound to one verb, regs/NAME to `reg NAME`. The
 * answer is read back on the same descriptor; a failing command fails the
 * write() with its errno and answers "error: MESSAGE".
 * Try it: exec 3<>/tmp/g/ctl; echo "map_anywhere 0x1000" >&3; cat <&3
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "gmemfs.h"

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
	const struct gm_arch *arch = gm_guest_arch(fs->guest);
	size_t i = ino - INO_REG_FIRST;
	const char *name = i < arch->nregs    ? arch->regs[i].name
			   : i == arch->nregs ? "pc"
					      : "sp";
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

void gmfs_control_write(fuse_req_t req, struct gmfs *fs, fuse_ino_t ino,
			const char *buf, size_t size, struct fuse_file_info *fi)
{
	struct gmfs_handle *h = (struct gmfs_handle *)(uintptr_t)fi->fh;
	struct gm_error err = {0};
	struct gmfs_inval *inval;
	char *line = NULL;
	size_t n, len = size;
	int rc;

	if (gmfs_kind_of(ino) == KIND_REG) {
		line = reg_command(fs, ino, buf, size, &len);
		if (!line) {
			fuse_reply_err(req, ENOMEM);
			return;
		}
	}
	gm_text_reset(&h->text);
	h->cursor = 0;
	h->answered = true;
	gm_guest_lock(fs->guest);
	rc = gm_cmd_run(fs->cmd, bound_verb(ino), line ? line : buf, len,
			&h->text, &err);
	n = gmfs_changes_take(fs, 0, &inval);
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
