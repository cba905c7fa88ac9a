/*
 * mem: the whole address space as one file, offset = guest address (SPEC
 * §3). Direct I/O, so that a read stopping at a hole is not taken for EOF;
 * the bytes go through files/region.c's I/O.
 * Try it: xxd -s 0x7fffffffefe0 -l 32 /tmp/g/mem
 */
#include <errno.h>
#include <unistd.h>

#include "gmemfs.h"
#include "regions.h"

/* st_size of mem: the address space, or 2^63-1 (the largest offset). */
static int mem_stat(struct gmfs *fs, const struct gmfs_inode *in,
		    struct stat *st)
{
	uint64_t last = gm_guest_last_addr(fs->guest);

	(void)in;
	st->st_mode = S_IFREG | 0600;
	st->st_size = last > INT64_MAX ? INT64_MAX : (off_t)(last + 1);
	if (fs->changed.tv_sec) /* any byte, anywhere */
		st->st_mtim = st->st_ctim = fs->changed;
	return 0;
}

static int mem_open(struct gmfs *fs, const struct gmfs_inode *in,
		    struct fuse_file_info *fi)
{
	(void)fs, (void)in;
	fi->direct_io = 1;
	return 0;
}

/* mem's last offset is the last address. */
static void mem_read(fuse_req_t req, struct gmfs *fs,
		     const struct gmfs_inode *in, size_t size, off_t off,
		     struct fuse_file_info *fi)
{
	(void)in, (void)fi;
	gmfs_bytes_read(req, fs, 0, gm_guest_last_addr(fs->guest), off, size,
			false);
}

/* mem is direct I/O and holds no page lock: invalidate first, so that a
 * read right after the write() sees the new bytes. */
static void mem_write(fuse_req_t req, struct gmfs *fs,
		      const struct gmfs_inode *in, const char *buf, size_t size,
		      off_t off, struct fuse_file_info *fi)
{
	(void)fi;
	gmfs_bytes_write(req, fs, in->ino, 0, gm_guest_last_addr(fs->guest),
			 off, buf, size, EIO, false);
}

/* Truncating up to the address space's size changes nothing; mode and
 * times are accepted and ignored. */
static int mem_setattr(struct gmfs *fs, const struct gmfs_inode *in,
		       const struct stat *attr, int to_set,
		       struct fuse_file_info *fi)
{
	uint64_t size = (uint64_t)attr->st_size;

	(void)in, (void)fi;
	if ((to_set & FUSE_SET_ATTR_SIZE) && size &&
	    size - 1 > gm_guest_last_addr(fs->guest))
		return -EFBIG;
	return 0;
}

/*
 * SEEK_DATA gives the first mapped address from OFF on, SEEK_HOLE the end
 * of the mapped run (adjacent regions are one) that holds OFF, or OFF
 * itself: so cp --sparse, and tools that look for the data, find the
 * regions. ENXIO past the last data or the file's end, as lseek(2) says.
 */
static int mem_lseek(struct gmfs *fs, const struct gmfs_inode *in, off_t off,
		     int whence, struct fuse_file_info *fi, off_t *to)
{
	uint64_t last = gm_guest_last_addr(fs->guest), at = (uint64_t)off;
	uint64_t end = last > INT64_MAX ? INT64_MAX : last + 1; /* st_size */
	const struct gm_region *r;
	size_t n, lo = 0, hi;

	(void)in, (void)fi;
	if (off < 0 || at >= end)
		return -ENXIO;
	r = gm_regions(fs->guest, &n);
	/* the first region that ends after AT */
	for (hi = n; lo < hi;) {
		size_t mid = lo + (hi - lo) / 2;

		if (r[mid].start + (r[mid].size - 1) < at)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (whence == SEEK_DATA) {
		if (lo == n || r[lo].start >= end)
			return -ENXIO;
		*to = (off_t)(r[lo].start > at ? r[lo].start : at);
		return 0;
	}
	if (lo == n || r[lo].start > at) {
		*to = off;
		return 0;
	}
	while (lo + 1 < n && r[lo].start + r[lo].size == r[lo + 1].start)
		lo++;
	at = r[lo].start + (r[lo].size - 1); /* the run's last byte */
	*to = (off_t)(at >= end - 1 ? end : at + 1);
	return 0;
}

const struct gmfs_file gmfs_mem_file = {
    .stat = mem_stat,
    .open = mem_open,
    .read = mem_read,
    .write = mem_write,
    .setattr = mem_setattr,
    .lseek = mem_lseek,
};
