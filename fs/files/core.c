/*
 * core: the guest as an ELF core dump (SPEC §9), as it was at open(). The
 * open takes a copy as a save does (gm_snap_take: zero pages cost nothing)
 * and reads are served from its pages and headers (gm_core_pieces).
 * Try it: gdb -batch -c /tmp/g/core -ex 'info registers pc'
 */
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "coredump.h"
#include "gmemfs.h"
#include "snapshot.h"

struct core_handle {
	struct gmfs_handle h;
	struct gm_snapshot *taken; /* the guest at open(), the handle's own */
	struct gm_core_pieces pieces;
};

/* Zero runs are replied from here, in pieces of its size at most. */
static uint8_t zeros[256 << 10];

/* The core file of the guest as it is now, laid out over a view of its
 * memory: its exact size and the bytes it stores. Under the lock. */
static int core_stat(struct gmfs *fs, const struct gmfs_inode *in,
		     struct stat *st)
{
	struct gm_snapshot *view = NULL;
	struct gm_core_pieces p;
	uint64_t stored = 0;
	int rc;

	(void)in;
	st->st_mode = S_IFREG | 0400;
	rc = gm_snap_view(fs->guest, &view, NULL);
	if (rc == 0)
		rc = gm_core_pieces(view, &p, NULL);
	if (rc == 0) {
		for (size_t i = 0; i < p.n; i++)
			stored += p.v[i].bytes ? p.v[i].len : 0;
		st->st_size = (off_t)p.size;
		/* du sees what is stored: zero runs are holes */
		st->st_blocks = (blkcnt_t)((stored + 511) / 512);
		gm_core_pieces_free(&p);
	}
	gm_snapshot_free(view);
	return rc;
}

/* Under the lock. */
static void handle_free(struct gmfs *fs, struct gmfs_handle *gh)
{
	struct core_handle *h = (struct core_handle *)gh;

	gmfs_handle_remove(fs, gh);
	gm_core_pieces_free(&h->pieces);
	gm_snapshot_free(h->taken);
	free(h);
}

/* Read-only; a copy of the guest as a save makes it, which the handle
 * keeps until release. ENOSPC past the snapshot memory limit. */
static int core_open(struct gmfs *fs, const struct gmfs_inode *in,
		     struct fuse_file_info *fi)
{
	struct core_handle *h;
	int rc;

	(void)in;
	if ((fi->flags & O_ACCMODE) != O_RDONLY)
		return -EACCES;
	h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	gm_guest_lock(fs->guest);
	gmfs_handle_add(fs, &h->h, &gmfs_core_file);
	rc = gm_snap_take(fs->guest, &h->taken, NULL);
	if (rc == 0)
		rc = gm_core_pieces(h->taken, &h->pieces, NULL);
	if (rc)
		handle_free(fs, &h->h);
	gm_guest_unlock(fs->guest);
	if (rc)
		return rc;
	/* Each open is the guest of its moment, whose size may differ from
	 * the last stat's: reads go to us and end where this core ends. */
	fi->direct_io = 1;
	fi->fh = (uintptr_t)h;
	return 0;
}

#define READ_IOV_MAX 64

/* The pieces from OFF on as one reply: the kernel copies the stored pages
 * from the handle's copy, zero runs from ZEROS. The reply is made under
 * the lock: the reader may close, and a release on another thread free
 * the copy, while writev is still returning (ASan saw it). */
static void core_read(fuse_req_t req, struct gmfs *fs,
		      const struct gmfs_inode *in, size_t size, off_t off,
		      struct fuse_file_info *fi)
{
	struct core_handle *h = (struct core_handle *)(uintptr_t)fi->fh;
	const struct gm_core_pieces *p = &h->pieces;
	struct iovec iov[READ_IOV_MAX];
	uint64_t at = (uint64_t)off;
	int n = 0;

	(void)in;
	gm_guest_lock(fs->guest);
	for (size_t i = at < p->size ? gm_core_piece_at(p, at) : p->n;
	     i < p->n && size > 0 && n < READ_IOV_MAX; n++) {
		uint64_t skip = at - p->v[i].off, left = p->v[i].len - skip;
		size_t len = left < size ? (size_t)left : size;

		if (!p->v[i].bytes && len > sizeof(zeros))
			len = sizeof(zeros);
		iov[n].iov_base =
		    p->v[i].bytes ? (void *)(p->v[i].bytes + skip) : zeros;
		iov[n].iov_len = len;
		at += len;
		size -= len;
		if (at == p->v[i].off + p->v[i].len)
			i++;
	}
	fuse_reply_iov(req, iov, n);
	gm_guest_unlock(fs->guest);
}

/* Zero runs are holes: SEEK_DATA finds the next stored piece (the
 * headers are one), SEEK_HOLE the next zero run or the end. */
static int core_lseek(struct gmfs *fs, const struct gmfs_inode *in, off_t off,
		      int whence, struct fuse_file_info *fi, off_t *to)
{
	struct core_handle *h = (struct core_handle *)(uintptr_t)fi->fh;
	const struct gm_core_pieces *p = &h->pieces;

	(void)fs;
	(void)in;
	if (off < 0 || (uint64_t)off >= p->size)
		return -ENXIO;
	for (size_t i = gm_core_piece_at(p, (uint64_t)off); i < p->n; i++)
		if (!p->v[i].bytes == (whence == SEEK_HOLE)) {
			*to = p->v[i].off < (uint64_t)off ? off
							  : (off_t)p->v[i].off;
			return 0;
		}
	if (whence != SEEK_HOLE)
		return -ENXIO;
	*to = (off_t)p->size;
	return 0;
}

static void core_release(struct gmfs *fs, const struct gmfs_inode *in,
			 struct fuse_file_info *fi)
{
	(void)in;
	gm_guest_lock(fs->guest);
	handle_free(fs, (struct gmfs_handle *)(uintptr_t)fi->fh);
	gm_guest_unlock(fs->guest);
}

const struct gmfs_file gmfs_core_file = {
    .stat = core_stat,
    .open = core_open,
    .read = core_read,
    .lseek = core_lseek,
    .release = core_release,
    .handle_free = handle_free,
};
