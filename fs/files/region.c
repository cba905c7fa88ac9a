/*
 * Region files and mem: guest memory as bytes at file offsets (SPEC §3).
 * Region files go through the page cache, kept true by invalidation; mem
 * is direct I/O, so that a read stopping at a hole is not taken for EOF.
 * Try it: xxd -s 0x20fe0 -l 32 /tmp/g/regions/00007ffffffde000-00007ffffffff000
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>

#include "gmemfs.h"
#include "memory.h"
#include "regions.h"

#define LABEL_XATTR "user.label"

/* The region named NAME ("START-END" exactly as gm_range_name writes it). */
const struct gm_region *gmfs_region_by_name(struct gmfs *fs, const char *name)
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

void gmfs_region_open(fuse_req_t req, struct gmfs *fs, fuse_ino_t ino,
		      struct fuse_file_info *fi)
{
	struct gmfs_node *node = gmfs_node_of(ino);

	if (node) {
		gm_guest_lock(fs->guest);
		node->opened++;
		node->may_cache = true;
		gm_guest_unlock(fs->guest);
		/* Changes made elsewhere are invalidated as they happen. */
		fi->keep_cache = 1;
	} else {
		fi->direct_io = 1;
	}
	fuse_reply_open(req, fi);
}

/* The addresses of [off, off+size) of the file INO, cut to the file's end:
 * false when OFF is past it. mem's last offset is the last address. */
static bool file_span(struct gmfs *fs, fuse_ino_t ino, off_t off, size_t *size,
		      uint64_t *addr)
{
	struct gmfs_node *node = gmfs_node_of(ino);
	uint64_t at = (uint64_t)off;
	uint64_t last = node ? node->size - 1 : gm_guest_last_addr(fs->guest);

	if (at > last)
		return false;
	if (*size && *size - 1 > last - at)
		*size = last - at + 1;
	*addr = (node ? node->start : 0) + at;
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

void gmfs_region_read(fuse_req_t req, struct gmfs *fs, fuse_ino_t ino,
		      size_t size, off_t off)
{
	uint64_t addr;
	size_t got;
	char *buf;

	if (!file_span(fs, ino, off, &size, &addr) || !size) {
		fuse_reply_buf(req, NULL, 0);
		return;
	}
	if (gmfs_node_of(ino) && reply_in_place(req, fs, addr, size))
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

void gmfs_region_write(fuse_req_t req, struct gmfs *fs, fuse_ino_t ino,
		       const char *buf, size_t size, off_t off)
{
	struct gmfs_inval *inval;
	uint64_t addr;
	size_t got, n;

	if (!file_span(fs, ino, off, &size, &addr)) {
		fuse_reply_err(req, gmfs_node_of(ino) ? ENOSPC : EIO);
		return;
	}
	gm_guest_lock(fs->guest);
	got = gm_mem_pwrite(fs->guest, addr, buf, size);
	n = gmfs_changes_take(fs, ino, &inval);
	gm_guest_unlock(fs->guest);
	/*
	 * A region file's write holds its page locks until we reply, and a
	 * write to another node overlapping it may be invalidating us: reply
	 * first. mem is direct I/O and holds none: invalidate first, so that
	 * a read right after the write() sees the new bytes.
	 */
	if (gmfs_node_of(ino)) {
		got ? fuse_reply_write(req, got) : fuse_reply_err(req, EIO);
		gmfs_changes_notify(fs, inval, n);
	} else {
		gmfs_changes_notify(fs, inval, n);
		got ? fuse_reply_write(req, got) : fuse_reply_err(req, EIO);
	}
}

/* Run one command line for an operation on a file (chmod, rm), so that it
 * is checked, logged and answered as the command would be. */
static int run_command(struct gmfs *fs, const char *line)
{
	struct gm_text answer;
	struct gm_error err = {0};
	struct gmfs_inval *inval;
	size_t n;
	int rc;

	gm_text_init(&answer);
	gm_guest_lock(fs->guest);
	rc = gm_cmd_run(fs->cmd, NULL, line, strlen(line), &answer, &err);
	n = gmfs_changes_take(fs, 0, &inval);
	gm_guest_unlock(fs->guest);
	gmfs_changes_notify(fs, inval, n);
	gm_text_free(&answer);
	return rc;
}

void gmfs_region_setattr(fuse_req_t req, struct gmfs *fs, fuse_ino_t ino,
			 struct stat *attr, int to_set)
{
	struct gmfs_node *node = gmfs_node_of(ino);
	/* The last offset: mem's is the last address. */
	uint64_t last = node ? node->size - 1 : gm_guest_last_addr(fs->guest);
	uint64_t size = (uint64_t)attr->st_size;
	char line[128];
	int rc = 0;

	if (to_set & (FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID)) {
		fuse_reply_err(req, EPERM);
		return;
	}
	/* Truncating cannot shrink guest memory: up to the size is a no-op,
	 * so `cat f > region` patches the region's start. */
	if ((to_set & FUSE_SET_ATTR_SIZE) && size && size - 1 > last) {
		fuse_reply_err(req, EFBIG);
		return;
	}
	if (node && (to_set & FUSE_SET_ATTR_MODE)) {
		snprintf(line, sizeof(line), "protect 0x%llx 0x%llx %c%c%c",
			 (unsigned long long)node->start,
			 (unsigned long long)node->size,
			 attr->st_mode & 0400 ? 'r' : '-',
			 attr->st_mode & 0200 ? 'w' : '-',
			 attr->st_mode & 0100 ? 'x' : '-');
		rc = run_command(fs, line);
	}
	if (rc)
		fuse_reply_err(req, -rc);
	else
		gmfs_reply_attr(req, fs, ino);
}

void gmfs_region_unlink(fuse_req_t req, struct gmfs *fs, const char *name)
{
	const struct gm_region *r;
	char line[128];
	int rc;

	gm_guest_lock(fs->guest);
	r = gmfs_region_by_name(fs, name);
	if (r)
		snprintf(line, sizeof(line), "unmap 0x%llx 0x%llx",
			 (unsigned long long)r->start,
			 (unsigned long long)r->size);
	gm_guest_unlock(fs->guest);
	/* The region may change between the locks; unmap checks again. */
	rc = r ? run_command(fs, line) : -ENOENT;
	fuse_reply_err(req, -rc);
}

/* The region behind a node, if it still has the node's range. */
static const struct gm_region *node_region(struct gmfs *fs, fuse_ino_t ino)
{
	struct gmfs_node *node = gmfs_node_of(ino);
	const struct gm_region *r;

	if (!node || node->kind != KIND_REGION)
		return NULL;
	r = gm_region_find(fs->guest, node->start);
	if (!r || r->start != node->start || r->size != node->size)
		return NULL;
	return r;
}

void gmfs_region_getxattr(fuse_req_t req, struct gmfs *fs, fuse_ino_t ino,
			  const char *name, size_t size)
{
	const struct gm_region *r;

	if (strcmp(name, LABEL_XATTR)) {
		fuse_reply_err(req, ENODATA);
		return;
	}
	gm_guest_lock(fs->guest);
	r = node_region(fs, ino);
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

void gmfs_region_setxattr(fuse_req_t req, struct gmfs *fs, fuse_ino_t ino,
			  const char *name, const char *value, size_t size,
			  int flags)
{
	struct gm_error err = {0};
	const struct gm_region *r;
	int rc;

	if (strcmp(name, LABEL_XATTR)) {
		fuse_reply_err(req, ENOTSUP);
		return;
	}
	if (flags & XATTR_CREATE) { /* every region has a label */
		fuse_reply_err(req, EEXIST);
		return;
	}
	gm_guest_lock(fs->guest);
	r = node_region(fs, ino);
	rc = r ? gm_set_label(fs->guest, r->start, value, size, &err) : -ENOENT;
	if (r) {
		char what[96];

		snprintf(what, sizeof(what), "setfattr user.label 0x%llx",
			 (unsigned long long)gmfs_node_of(ino)->start);
		gm_cmd_log_add(fs->cmd, what, rc, &err);
	}
	gm_guest_unlock(fs->guest);
	fuse_reply_err(req, -rc);
}

void gmfs_region_listxattr(fuse_req_t req, size_t size)
{
	static const char names[] = LABEL_XATTR; /* with its NUL */

	if (!size)
		fuse_reply_xattr(req, sizeof(names));
	else if (size < sizeof(names))
		fuse_reply_err(req, ERANGE);
	else
		fuse_reply_buf(req, names, sizeof(names));
}
