/*
 * Region files, regions/START-END: a region's bytes at file offsets (SPEC
 * §3), through the page cache, kept true by invalidation. chmod is
 * protect, rm is unmap, user.label is the label. mem (files/mem.c) shares
 * the byte I/O.
 * Try it: xxd -s 0x20fe0 -l 32 /tmp/g/regions/00007ffffffde000-00007ffffffff000
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>

#include "gmemfs.h"
#include "input.h"
#include "memory.h"
#include "regions.h"

#define LABEL_XATTR "user.label"

struct region_handle {
	struct gmfs_handle h;
	struct gmfs_node *node; /* the range it was opened on */
};

/* The region named NAME ("START-END" exactly as gm_range_name writes it). */
static const struct gm_region *region_by_name(struct gmfs *fs, const char *name)
{
	char canonical[GM_RANGE_NAME_MAX];
	const struct gm_region *r;
	uint64_t start;
	char *end;

	if (!strchr("0123456789abcdef", name[0]) || !name[0])
		return NULL;
	errno = 0;
	start = strtoull(name, &end, 16);
	if (errno || *end != '-')
		return NULL;
	r = gm_region_find(fs->guest, start);
	if (!r || r->start != start)
		return NULL;
	gm_range_name(fs->guest, r->start, r->size, canonical);
	return strcmp(canonical, name) ? NULL : r;
}

/* Lookups check that the range is still one region; a file open since a
 * split or an unmap shows what its start is. */
static int region_stat(struct gmfs *fs, const struct gmfs_inode *in,
		       struct stat *st)
{
	const struct gm_region *r = gm_region_find(fs->guest, in->node->start);
	unsigned perms = r ? r->perms : 0;

	st->st_mode = S_IFREG | (perms & GM_PERM_R ? 0400 : 0) |
		      (perms & GM_PERM_W ? 0200 : 0) |
		      (perms & GM_PERM_X ? 0100 : 0);
	st->st_size = in->node->size > INT64_MAX ? INT64_MAX : in->node->size;
	st->st_blocks = st->st_size / 512;
	gmfs_stat_range_times(fs, in->node->start,
			      in->node->start + (in->node->size - 1), st);
	return 0;
}

static void region_free(struct gmfs *fs, struct gmfs_handle *h)
{
	gmfs_handle_remove(fs, h);
	free(h);
}

static int region_open(struct gmfs *fs, const struct gmfs_inode *in,
		       struct fuse_file_info *fi)
{
	struct region_handle *r = calloc(1, sizeof(*r));

	if (!r)
		return -ENOMEM;
	r->node = in->node;
	gm_guest_lock(fs->guest);
	gmfs_handle_add(fs, &r->h, &gmfs_region_file);
	in->node->opened++;
	in->node->may_cache = true;
	/* Changes made elsewhere are invalidated as they happen; the
	 * guest's own stores only when its run ends, so an open during a
	 * run drops what the kernel cached. */
	fi->keep_cache = !gm_guest_running(fs->guest);
	gm_guest_unlock(fs->guest);
	fi->fh = (uintptr_t)r;
	return 0;
}

static void region_release(struct gmfs *fs, const struct gmfs_inode *in,
			   struct fuse_file_info *fi)
{
	struct region_handle *r = (struct region_handle *)(uintptr_t)fi->fh;

	(void)in;
	gm_guest_lock(fs->guest);
	gmfs_node_close(fs, r->node);
	region_free(fs, &r->h);
	gm_guest_unlock(fs->guest);
}

/* The addresses of [off, off+size) of a file whose offset 0 is BASE and
 * last offset LAST, cut to the file's end: false when OFF is past it. */
static bool file_span(uint64_t base, uint64_t last, off_t off, size_t *size,
		      uint64_t *addr)
{
	uint64_t at = (uint64_t)off;

	if (at > last)
		return false;
	if (*size && *size - 1 > last - at)
		*size = last - at + 1;
	*addr = base + at;
	return true;
}

/*
 * Reply straight from the region's memory when one region holds the whole
 * span: a copy less. Safe under the lock only for region files: their reads
 * fill the page cache, never a user buffer that could fault back into us
 * (mem is direct I/O, and its reader's buffer may be a mapped region file).
 */
static bool reply_in_place(fuse_req_t req, struct gmfs *fs, uint64_t addr,
			   size_t size)
{
	const struct gm_region *r;
	bool done = false;

	gm_guest_lock(fs->guest);
	r = gm_region_find(fs->guest, addr);
	if (r && size - 1 <= r->start + (r->size - 1) - addr) {
		fuse_reply_buf(req, (const char *)r->host + (addr - r->start),
			       size);
		done = true;
	}
	gm_guest_unlock(fs->guest);
	return done;
}

void gmfs_bytes_read(fuse_req_t req, struct gmfs *fs, uint64_t base,
		     uint64_t last, off_t off, size_t size, bool in_place)
{
	uint64_t addr;
	size_t got;
	char *buf;

	if (!file_span(base, last, off, &size, &addr) || !size) {
		fuse_reply_buf(req, NULL, 0);
		return;
	}
	if (in_place && reply_in_place(req, fs, addr, size))
		return;
	buf = malloc(size);
	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	gm_guest_lock(fs->guest);
	got = gm_mem_pread(fs->guest, addr, buf, size);
	gm_guest_unlock(fs->guest);
	/* As /proc/PID/mem: what was mapped, then EIO at the hole. */
	if (got)
		fuse_reply_buf(req, buf, got);
	else
		fuse_reply_err(req, EIO);
	free(buf);
}

void gmfs_bytes_write(fuse_req_t req, struct gmfs *fs, fuse_ino_t ino,
		      uint64_t base, uint64_t last, off_t off, const char *buf,
		      size_t size, int past_end, bool reply_first)
{
	struct gmfs_inval *inval;
	uint64_t addr;
	size_t got, n;

	if (!file_span(base, last, off, &size, &addr)) {
		fuse_reply_err(req, past_end);
		return;
	}
	gm_guest_lock(fs->guest);
	got = gm_mem_pwrite(fs->guest, addr, buf, size);
	n = gmfs_changes_take(fs, ino, &inval);
	gm_guest_unlock(fs->guest);
	if (reply_first) {
		got ? fuse_reply_write(req, got) : fuse_reply_err(req, EIO);
		gmfs_changes_notify(fs, inval, n);
	} else {
		gmfs_changes_notify(fs, inval, n);
		got ? fuse_reply_write(req, got) : fuse_reply_err(req, EIO);
	}
}

static void region_read(fuse_req_t req, struct gmfs *fs,
			const struct gmfs_inode *in, size_t size, off_t off,
			struct fuse_file_info *fi)
{
	(void)fi;
	gmfs_bytes_read(req, fs, in->node->start, in->node->size - 1, off, size,
			true);
}

/* A region file's write holds its page locks until we reply, and a write
 * to another node overlapping it may be invalidating us: reply first. */
static void region_write(fuse_req_t req, struct gmfs *fs,
			 const struct gmfs_inode *in, const char *buf,
			 size_t size, off_t off, struct fuse_file_info *fi)
{
	(void)fi;
	gmfs_bytes_write(req, fs, in->ino, in->node->start, in->node->size - 1,
			 off, buf, size, ENOSPC, true);
}

static int region_setattr(struct gmfs *fs, const struct gmfs_inode *in,
			  const struct stat *attr, int to_set,
			  struct fuse_file_info *fi)
{
	const struct gmfs_node *node = in->node;
	uint64_t size = (uint64_t)attr->st_size;
	char line[128];

	(void)fi;
	/* Truncating cannot shrink guest memory: up to the size is a no-op,
	 * so `cat f > region` patches the region's start. */
	if ((to_set & FUSE_SET_ATTR_SIZE) && size && size - 1 > node->size - 1)
		return -EFBIG;
	if (!(to_set & FUSE_SET_ATTR_MODE))
		return 0;
	snprintf(
	    line, sizeof(line), "protect 0x%llx 0x%llx %c%c%c",
	    (unsigned long long)node->start, (unsigned long long)node->size,
	    attr->st_mode & 0400 ? 'r' : '-', attr->st_mode & 0200 ? 'w' : '-',
	    attr->st_mode & 0100 ? 'x' : '-');
	return gmfs_run_command(fs, line);
}

/* The region behind a node, if it still has the node's range. */
static const struct gm_region *node_region(struct gmfs *fs,
					   const struct gmfs_node *node)
{
	const struct gm_region *r = gm_region_find(fs->guest, node->start);

	if (!r || r->start != node->start || r->size != node->size)
		return NULL;
	return r;
}

static void region_getxattr(fuse_req_t req, struct gmfs *fs,
			    const struct gmfs_inode *in, const char *name,
			    size_t size)
{
	const struct gm_region *r;

	if (strcmp(name, LABEL_XATTR)) {
		fuse_reply_err(req, ENODATA);
		return;
	}
	gm_guest_lock(fs->guest);
	r = node_region(fs, in->node);
	if (!r)
		fuse_reply_err(req, ENOENT);
	else if (!size)
		fuse_reply_xattr(req, r->label_len);
	else if (size < r->label_len)
		fuse_reply_err(req, ERANGE);
	else
		fuse_reply_buf(req, r->label, r->label_len);
	gm_guest_unlock(fs->guest);
}

static int region_setxattr(struct gmfs *fs, const struct gmfs_inode *in,
			   const char *name, const char *value, size_t size,
			   int flags)
{
	struct gm_error err = {0};
	int rc;

	gm_guest_lock(fs->guest);
	rc = gmfs_label_set(fs->guest, fs->cmd, node_region(fs, in->node), name,
			    value, size, flags, &err);
	gm_guest_unlock(fs->guest);
	return rc;
}

static void region_listxattr(fuse_req_t req, struct gmfs *fs,
			     const struct gmfs_inode *in, size_t size)
{
	static const char names[] = LABEL_XATTR; /* with its NUL */

	(void)fs, (void)in;
	if (!size)
		fuse_reply_xattr(req, sizeof(names));
	else if (size < sizeof(names))
		fuse_reply_err(req, ERANGE);
	else
		fuse_reply_buf(req, names, sizeof(names));
}

/* A region always has a label (set it to "" to clear it): EPERM. */
static int region_removexattr(struct gmfs *fs, const struct gmfs_inode *in,
			      const char *name)
{
	(void)fs, (void)in;
	return strcmp(name, LABEL_XATTR) ? -ENODATA : -EPERM;
}

/* regions/: a name is a region's range as long as it is one region. */
static int region_lookup(struct gmfs *fs, const char *name, fuse_ino_t *ino)
{
	const struct gm_region *r = region_by_name(fs, name);
	struct gmfs_node *node;

	if (!r)
		return -ENOENT;
	node = gmfs_node_get(fs, &gmfs_region_file, r->start, r->size, NULL);
	if (!node)
		return -ENOMEM;
	node->nlookup++;
	*ino = node->ino;
	return 0;
}

static int region_list(fuse_req_t req, struct gmfs *fs, struct gm_text *dir)
{
	char name[GM_RANGE_NAME_MAX];
	const struct gm_region *r;
	size_t n;

	r = gm_regions(fs->guest, &n);
	for (size_t i = 0; i < n; i++)
		gmfs_dir_add(
		    req, dir,
		    gm_range_name(fs->guest, r[i].start, r[i].size, name),
		    DIRENT_INO, S_IFREG);
	return 0;
}

static int region_unlink(struct gmfs *fs, const char *name)
{
	const struct gm_region *r;
	char line[128];

	gm_guest_lock(fs->guest);
	r = region_by_name(fs, name);
	if (r)
		snprintf(line, sizeof(line), "unmap 0x%llx 0x%llx",
			 (unsigned long long)r->start,
			 (unsigned long long)r->size);
	gm_guest_unlock(fs->guest);
	/* The region may change between the locks; unmap checks again. */
	return r ? gmfs_run_command(fs, line) : -ENOENT;
}

const struct gmfs_file gmfs_region_file = {
    .stat = region_stat,
    .open = region_open,
    .read = region_read,
    .write = region_write,
    .release = region_release,
    .setattr = region_setattr,
    .getxattr = region_getxattr,
    .setxattr = region_setxattr,
    .listxattr = region_listxattr,
    .removexattr = region_removexattr,
    .handle_free = region_free,
    .lookup = region_lookup,
    .list = region_list,
    .unlink = region_unlink,
};
