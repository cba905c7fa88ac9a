/*
 * Text files: maps and info, read-only. Each open takes the text as
 * it is then (the fixed line's .text), so that a reader sees one state.
 * Try it: cat /tmp/g/maps /tmp/g/info; wc -c /tmp/g/maps
 */
#include <errno.h>
#include <stdlib.h>

#include "gmemfs.h"

struct text_handle {
	struct gmfs_handle h;
	struct gm_text text; /* what reads return */
};

/* Exact sizes let `wc -c` and programs that trust st_size work. */
static int text_stat(struct gmfs *fs, const struct gmfs_inode *in,
		     struct stat *st)
{
	struct gm_text text;

	st->st_mode = S_IFREG | 0444;
	gm_text_init(&text);
	if (in->fixed->text(fs, &text) == 0) {
		st->st_size = text.len;
		gmfs_watch(fs, in->ino, text.buf, text.len, st);
	}
	gm_text_free(&text);
	return 0;
}

static void text_free(struct gmfs *fs, struct gmfs_handle *h)
{
	struct text_handle *t = (struct text_handle *)h;

	gmfs_handle_remove(fs, h);
	gm_text_free(&t->text);
	free(t);
}

static int text_open(struct gmfs *fs, const struct gmfs_inode *in,
		     struct fuse_file_info *fi)
{
	struct text_handle *t;
	int rc;

	if ((fi->flags & O_ACCMODE) != O_RDONLY)
		return -EACCES;
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	gm_text_init(&t->text);
	gm_guest_lock(fs->guest);
	gmfs_handle_add(fs, &t->h, &gmfs_text_file);
	rc = in->fixed->text(fs, &t->text);
	if (rc)
		text_free(fs, &t->h);
	else
		gmfs_watch(fs, in->ino, t->text.buf, t->text.len, NULL);
	gm_guest_unlock(fs->guest);
	if (rc)
		return rc;
	/* The text is made per open and its size changes: no page cache. */
	fi->direct_io = 1;
	fi->fh = (uintptr_t)t;
	return 0;
}

/* A reply from a handle's text is made under the lock, so that a release
 * on another thread cannot free it under the reply. */
static void text_read(fuse_req_t req, struct gmfs *fs,
		      const struct gmfs_inode *in, size_t size, off_t off,
		      struct fuse_file_info *fi)
{
	struct text_handle *t = (struct text_handle *)(uintptr_t)fi->fh;

	(void)in;
	gm_guest_lock(fs->guest);
	gmfs_reply_text(req, &t->text, size, off);
	gm_guest_unlock(fs->guest);
}

static void text_release(struct gmfs *fs, const struct gmfs_inode *in,
			 struct fuse_file_info *fi)
{
	(void)in;
	gm_guest_lock(fs->guest);
	text_free(fs, (struct gmfs_handle *)(uintptr_t)fi->fh);
	gm_guest_unlock(fs->guest);
}

const struct gmfs_file gmfs_text_file = {
    .stat = text_stat,
    .open = text_open,
    .read = text_read,
    .release = text_release,
    .handle_free = text_free,
};
