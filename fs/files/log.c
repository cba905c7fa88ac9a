/*
 * log: the recent commands as a file that grows, so `tail -f` follows it.
 * Its offsets are places in the stream of every line logged since the
 * mount, and st_size is that stream's length; the oldest lines go once
 * 1000 are kept. Try it: tail -f /tmp/g/log & echo save > /tmp/g/ctl
 */
#include <errno.h>
#include <stdlib.h>

#include "gmemfs.h"

struct log_handle {
	struct gmfs_handle h;
	/* What this open's offset 0 is in the stream, fixed at its first
	 * read: 0, or the oldest kept line when that read started before it
	 * (so `cat log` reads the kept lines from its offset 0 on). */
	uint64_t shift;
	bool placed;
};

/* st_size only grows (tail -f takes a smaller one for a truncation), and
 * the mtime is when the last line came. */
static int log_stat(struct gmfs *fs, const struct gmfs_inode *in,
		    struct stat *st)
{
	uint64_t start, end;
	struct timespec time;

	(void)in;
	gm_cmd_log_span(fs->cmd, &start, &end, &time);
	st->st_mode = S_IFREG | 0444;
	st->st_size = (off_t)end;
	if (time.tv_sec)
		st->st_mtim = st->st_ctim = time;
	return 0;
}

static void log_free(struct gmfs *fs, struct gmfs_handle *h)
{
	gmfs_handle_remove(fs, h);
	free(h);
}

static int log_open(struct gmfs *fs, const struct gmfs_inode *in,
		    struct fuse_file_info *fi)
{
	struct log_handle *l;

	(void)in;
	if ((fi->flags & O_ACCMODE) != O_RDONLY)
		return -EACCES;
	l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	gm_guest_lock(fs->guest);
	gmfs_handle_add(fs, &l->h, &gmfs_log_file);
	gm_guest_unlock(fs->guest);
	/* Every read asks us: the file grows without a write the kernel
	 * sees, and its first bytes go. */
	fi->direct_io = 1;
	fi->fh = (uintptr_t)l;
	return 0;
}

/* A reader that fell more than the kept lines behind goes on from the
 * oldest kept line. */
static void log_read(fuse_req_t req, struct gmfs *fs,
		     const struct gmfs_inode *in, size_t size, off_t off,
		     struct fuse_file_info *fi)
{
	struct log_handle *l = (struct log_handle *)(uintptr_t)fi->fh;
	uint64_t start, end, at;
	struct timespec time;
	struct gm_text text;
	int rc;

	(void)in;
	gm_text_init(&text);
	gm_guest_lock(fs->guest);
	gm_cmd_log_span(fs->cmd, &start, &end, &time);
	if (!l->placed) {
		l->placed = true;
		l->shift = (uint64_t)off < start ? start : 0;
	}
	at = (uint64_t)off + l->shift;
	rc = gm_cmd_log_read(fs->cmd, at, size, &text);
	gm_guest_unlock(fs->guest);
	if (rc)
		fuse_reply_err(req, -rc);
	else
		fuse_reply_buf(req, text.buf, text.len);
	gm_text_free(&text);
}

static void log_release(struct gmfs *fs, const struct gmfs_inode *in,
			struct fuse_file_info *fi)
{
	(void)in;
	gm_guest_lock(fs->guest);
	log_free(fs, (struct gmfs_handle *)(uintptr_t)fi->fh);
	gm_guest_unlock(fs->guest);
}

const struct gmfs_file gmfs_log_file = {
    .stat = log_stat,
    .open = log_open,
    .read = log_read,
    .release = log_release,
    .handle_free = log_free,
};
