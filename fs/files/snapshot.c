/*
 * snapshots/NAME: each saved snapshot as a file in the snapshot file format
 * (core/snapfile.h). Reading exports it; writing a file there imports it
 * when it is closed; rm drops it (as `drop NAME`).
 * Try it: echo a > /tmp/g/save; cp /tmp/g/snapshots/a a.snap;
 * cp a.snap /tmp/g/snapshots/b; echo b > /tmp/g/restore
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gmemfs.h"
#include "input.h"
#include "snapfile.h"
#include "snapshot.h"

struct snapshot_handle {
	struct gmfs_handle h;
	struct gmfs_node *node;
	/* read: the snapshot, and its file laid out */
	struct gm_snapshot *export;
	struct gm_snapfile_pieces pieces;
	/* written: the file, imported at the close that follows a write
	 * (IMPORT_PENDING); IM is guarded by MU, not the guest lock, so
	 * that an import is parsed while the guest is served */
	pthread_mutex_t mu;
	struct gmfs_import im;
	bool import, import_pending;
	/* opened for writing without O_TRUNC in sight: the kernel sends
	 * O_TRUNC as a truncate to 0 after the open (no atomic_o_trunc),
	 * which makes it an import; until then a write is EACCES */
	bool await_trunc;
	bool importing; /* counted in node->importing */
};

static struct snapshot_handle *handle_of(struct fuse_file_info *fi)
{
	return (struct snapshot_handle *)(uintptr_t)fi->fh;
}

/* The handle goes, but not its node; the caller holds the lock. */
static void handle_free(struct gmfs *fs, struct gmfs_handle *gh)
{
	struct snapshot_handle *h = (struct snapshot_handle *)gh;

	gmfs_handle_remove(fs, gh);
	pthread_mutex_destroy(&h->mu);
	gmfs_import_free(&h->im);
	if (h->export) {
		gm_snapfile_pieces_free(&h->pieces);
		gm_snap_put(h->export);
	}
	free(h);
}

/* H reads snapshot S's file: its fields are laid out now, and its pages
 * are read from S itself, which H keeps alive. The caller holds the
 * lock. */
static int export(struct snapshot_handle *h, const struct gm_snapshot *s)
{
	int rc = gm_snapfile_pieces(s, &h->pieces, NULL);

	if (rc < 0)
		return rc;
	h->export = gm_snap_hold(s);
	if (!h->node->importing)
		h->node->open_size = h->pieces.size;
	return 0;
}

/* A handle of snapshot NODE, for a new file when IMPORT; the caller
 * holds the lock. */
/* H writes a new file for its name from now on; under the lock. */
static void import_start(struct snapshot_handle *h)
{
	h->import = true;
	h->await_trunc = false;
	h->importing = true;
	h->node->importing++;
	h->node->open_size = 0;
}

static struct snapshot_handle *handle_new(struct gmfs *fs,
					  struct gmfs_node *node, bool import)
{
	struct snapshot_handle *h = calloc(1, sizeof(*h));

	if (!h)
		return NULL;
	pthread_mutex_init(&h->mu, NULL);
	gmfs_handle_add(fs, &h->h, &gmfs_snapshot_file);
	h->node = node;
	node->opened++;
	if (import)
		import_start(h);
	return h;
}

/* Whether H's new file counts as the file of its name (until a close
 * finishes it, and again once written after); the caller holds the
 * lock. */
static void importing_set(struct snapshot_handle *h, bool on)
{
	if (h->importing == on)
		return;
	h->importing = on;
	if (on)
		h->node->importing++;
	else
		h->node->importing--;
}

/* The handle goes; the caller holds the lock. */
static void handle_drop(struct gmfs *fs, struct snapshot_handle *h)
{
	struct gmfs_node *node = h->node;

	importing_set(h, false);
	handle_free(fs, &h->h);
	gmfs_node_close(fs, node);
}

/*
 * open of an existing snapshot: for reading, the file of the snapshot the
 * name holds now, which the handle keeps, so a reader sees one snapshot
 * even if it is replaced or dropped meanwhile; for writing, with O_TRUNC
 * (as cp and > do), a new file that replaces it at close.
 */
static int snapshot_open(struct gmfs *fs, const struct gmfs_inode *in,
			 struct fuse_file_info *fi)
{
	struct gmfs_node *node = in->node;
	const struct gm_snapshot *s;
	struct snapshot_handle *h = NULL;
	int rc = 0;

	gm_guest_lock(fs->guest);
	if ((fi->flags & O_ACCMODE) != O_RDONLY) {
		/* a snapshot is replaced whole: O_TRUNC, here or as the
		 * truncate that follows (snapshot_setattr) */
		if (!(h = handle_new(fs, node, fi->flags & O_TRUNC)))
			rc = -ENOMEM;
		else
			h->await_trunc = !h->import;
	} else if (!(s = gm_snap_find(fs->guest, node->name))) {
		rc = -ENOENT;
	} else if (!(h = handle_new(fs, node, false))) {
		rc = -ENOMEM;
	} else {
		rc = export(h, s);
	}
	if (rc < 0 && h)
		handle_drop(fs, h);
	gm_guest_unlock(fs->guest);
	if (rc < 0)
		return rc;
	fi->fh = (uintptr_t)h;
	/* No page cache: every open reads its own snapshot, and a write to
	 * the name must not reach a reader's pages or size. */
	fi->direct_io = 1;
	return 0;
}

/* The size of snapshot NODE's file; the caller holds the lock. */
static int node_size(struct gmfs *fs, const struct gmfs_node *node,
		     uint64_t *size)
{
	const struct gm_snapshot *s = gm_snap_find(fs->guest, node->name);

	if (node->importing) /* the file being written */
		*size = node->open_size;
	else if (s)
		*size = gm_snapfile_size(s);
	else if (node->opened) /* a dropped one, still open */
		*size = node->open_size;
	else
		return -ENOENT;
	return 0;
}

static int node_stat(struct gmfs *fs, const struct gmfs_node *node,
		     struct stat *st)
{
	uint64_t size;
	int rc = node_size(fs, node, &size);

	if (rc < 0)
		return rc;
	const struct gm_snapshot *s = gm_snap_find(fs->guest, node->name);

	st->st_mode = S_IFREG | 0600; /* writing replaces it */
	st->st_size = (off_t)size;
	if (s && !node->importing) /* when it was saved or imported */
		st->st_mtim = st->st_ctim = s->made;
	st->st_blocks = (blkcnt_t)((size + 511) / 512);
	return 0;
}

static int snapshot_stat(struct gmfs *fs, const struct gmfs_inode *in,
			 struct stat *st)
{
	return node_stat(fs, in->node, st);
}

/* create in snapshots/: a new file that becomes snapshot NAME at close. */
static int snapshot_create(struct gmfs *fs, const char *name,
			   struct fuse_file_info *fi,
			   struct fuse_entry_param *e)
{
	struct gm_error err = {0};
	struct gmfs_node *node = NULL;
	struct snapshot_handle *h = NULL;
	int rc;

	if (strlen(name) > GM_SNAP_NAME_MAX)
		return -ENAMETOOLONG;
	gm_guest_lock(fs->guest);
	rc = gm_snap_name_check(name, &err);
	if (rc == 0 &&
	    !(node = gmfs_node_get(fs, &gmfs_snapshot_file, 0, 0, name)))
		rc = -ENOMEM;
	if (rc == 0 && !(h = handle_new(fs, node, true)))
		rc = -ENOMEM;
	if (rc == 0) {
		node->nlookup++;
		e->ino = node->ino;
		gmfs_stat_init(fs, e->ino, &e->attr);
		rc = node_stat(fs, node, &e->attr);
	}
	if (rc < 0 && h) /* the node lives on through its lookup */
		handle_drop(fs, h);
	if (rc < 0 && node)
		gmfs_node_forget(fs, node, node->nlookup);
	gm_guest_unlock(fs->guest);
	if (rc < 0)
		return rc;
	fi->fh = (uintptr_t)h;
	fi->direct_io = 1;
	return 0;
}

/* The pieces of an export from OFF on, SIZE bytes at most, as one reply
 * (the kernel copies them straight from the snapshot's memory). */
#define READ_IOV_MAX 64

static void snapshot_read(fuse_req_t req, struct gmfs *fs,
			  const struct gmfs_inode *in, size_t size, off_t off,
			  struct fuse_file_info *fi)
{
	struct snapshot_handle *h = handle_of(fi);
	const struct gm_snapfile_pieces *p = &h->pieces;
	struct iovec iov[READ_IOV_MAX];
	uint64_t at = (uint64_t)off;
	int n = 0;

	(void)in;
	gm_guest_lock(fs->guest);
	/* What is being written is not shown: it is not a snapshot yet. */
	for (size_t i = h->export && at < p->size ? gm_snapfile_piece_at(p, at)
						  : p->n;
	     i < p->n && size > 0 && n < READ_IOV_MAX; i++, n++) {
		uint64_t skip = at - p->v[i].off;
		size_t len =
		    p->v[i].len - skip < size ? p->v[i].len - skip : size;

		iov[n].iov_base = (void *)(p->v[i].bytes + skip);
		iov[n].iov_len = len;
		at += len;
		size -= len;
	}
	fuse_reply_iov(req, iov, n);
	gm_guest_unlock(fs->guest);
}

/* H's new file becomes LEN bytes long (cut, or grown with zeros), within
 * what an import may hold; the caller holds H's mutex and the lock. */
static int import_resize(struct gmfs *fs, struct snapshot_handle *h,
			 uint64_t len)
{
	int rc =
	    gmfs_import_resize(&h->im, len, gm_guest_snapshot_limit(fs->guest));

	if (rc <= 0) /* unchanged (O_TRUNC of a new file), or failed */
		return rc;
	h->import_pending = true;
	importing_set(h, true);
	h->node->open_size = h->im.len;
	return 0;
}

static void snapshot_write(fuse_req_t req, struct gmfs *fs,
			   const struct gmfs_inode *in, const char *buf,
			   size_t size, off_t off, struct fuse_file_info *fi)
{
	struct snapshot_handle *h = handle_of(fi);
	uint64_t end;
	int rc;

	(void)in;
	pthread_mutex_lock(&h->mu);
	gm_guest_lock(fs->guest);
	end = (uint64_t)off + size; /* off < 2^63, size < 2^32 */
	if (!h->import)
		rc = h->await_trunc ? -EACCES : -EBADF;
	else
		rc = import_resize(fs, h, end > h->im.len ? end : h->im.len);
	if (rc == 0 && size) {
		h->import_pending = true;
		importing_set(h, true);
	}
	gm_guest_unlock(fs->guest);
	if (rc == 0 && size) /* a new file has no bytes yet */
		memcpy(h->im.bytes + off, buf, size);
	pthread_mutex_unlock(&h->mu);
	if (rc < 0)
		fuse_reply_err(req, -rc);
	else
		fuse_reply_write(req, size);
}

/* The truncate to 0 an open(O_TRUNC) sends after the open (the daemon
 * leaves atomic_o_trunc off: see op_init) makes NODE's write handles
 * that wait for it imports; with none, a saved snapshot cannot be cut. */
static int trunc_arms(struct gmfs *fs, struct gmfs_node *node)
{
	int rc = -EACCES;

	gm_guest_lock(fs->guest);
	for (struct gmfs_handle *gh = fs->handles; gh; gh = gh->next) {
		struct snapshot_handle *h = (struct snapshot_handle *)gh;

		if (gh->file != &gmfs_snapshot_file || h->node != node ||
		    !h->await_trunc)
			continue;
		import_start(h);
		rc = 0;
	}
	gm_guest_unlock(fs->guest);
	return rc;
}

/* truncate of a file being written (ftruncate, or O_TRUNC's truncate to
 * 0: trunc_arms); a saved snapshot cannot be cut. */
static int snapshot_setattr(struct gmfs *fs, const struct gmfs_inode *in,
			    const struct stat *attr, int to_set,
			    struct fuse_file_info *fi)
{
	struct snapshot_handle *h = fi ? handle_of(fi) : NULL;
	int rc = 0;

	(void)in;
	/* Modes and times are accepted and not kept (tar -x, cp -a and
	 * rsync set them): a snapshot file is 0600 and its mtime is when
	 * it was saved or imported. */
	if (!(to_set & FUSE_SET_ATTR_SIZE))
		return 0;
	if (!h && attr->st_size == 0)
		return trunc_arms(fs, in->node);
	if (!h || !h->import)
		return -EACCES;
	pthread_mutex_lock(&h->mu);
	gm_guest_lock(fs->guest);
	rc = import_resize(fs, h, (uint64_t)attr->st_size);
	gm_guest_unlock(fs->guest);
	pthread_mutex_unlock(&h->mu);
	return rc;
}

/*
 * close(): a file written since it was opened or last closed becomes the
 * snapshot of its name, or the close fails with EINVAL (not a valid
 * snapshot of this guest) or ENOSPC (the snapshot memory limit) and no
 * snapshot changes. A close with nothing written since (the shell's own
 * descriptor of `cat a > x`, closed before cat writes) imports nothing.
 * The file is parsed under H's mutex only; the guest lock is taken to
 * add it.
 */
static int finish(struct gmfs *fs, struct snapshot_handle *h)
{
	struct gm_error err = {0};
	struct gm_snapshot *s = NULL;
	int rc;

	if (!h->import)
		return 0;
	pthread_mutex_lock(&h->mu);
	if (!h->import_pending) {
		gm_guest_lock(fs->guest);
		importing_set(h, false);
		gm_guest_unlock(fs->guest);
		pthread_mutex_unlock(&h->mu);
		return 0;
	}
	h->import_pending = false;
	/* The name is read under the lock (a rename may change it). */
	rc = gmfs_import_parse(fs->guest, &h->im, &s, &err);
	gm_guest_lock(fs->guest);
	rc = gmfs_import_add(fs->guest, fs->cmd, rc, s, h->node->name, &err);
	importing_set(h, false);
	gm_guest_unlock(fs->guest);
	pthread_mutex_unlock(&h->mu);
	return rc;
}

static int snapshot_flush(struct gmfs *fs, const struct gmfs_inode *in,
			  struct fuse_file_info *fi)
{
	(void)in;
	return finish(fs, handle_of(fi));
}

/* release: without a flush (a failed close()), the import runs now. */
static void snapshot_release(struct gmfs *fs, const struct gmfs_inode *in,
			     struct fuse_file_info *fi)
{
	struct snapshot_handle *h = handle_of(fi);

	(void)in;
	finish(fs, h);
	gm_guest_lock(fs->guest);
	handle_drop(fs, h);
	gm_guest_unlock(fs->guest);
}

/* snapshots/: a name being written is there too, but stat fails for it
 * unless the snapshot exists or the write goes on. */
static int snapshot_lookup(struct gmfs *fs, const char *name, fuse_ino_t *ino)
{
	struct gmfs_node *node;

	if (strlen(name) > GM_SNAP_NAME_MAX)
		return -ENAMETOOLONG;
	node = gmfs_node_get(fs, &gmfs_snapshot_file, 0, 0, name);
	if (!node)
		return -ENOMEM;
	node->nlookup++;
	*ino = node->ino;
	return 0;
}

static int snapshot_list(fuse_req_t req, struct gmfs *fs, struct gm_text *dir)
{
	for (size_t i = 0; i < gm_snap_count(fs->guest); i++)
		gmfs_dir_add(req, dir, gm_snap_at(fs->guest, i)->name,
			     DIRENT_INO, S_IFREG);
	return 0;
}

static int snapshot_unlink(struct gmfs *fs, const char *name)
{
	struct gm_error err = {0};
	char what[GM_SNAP_NAME_MAX + 16];
	int rc;

	gm_guest_lock(fs->guest);
	rc = gm_snap_drop(fs->guest, name, &err);
	snprintf(what, sizeof(what), "rm snapshots/%s", name);
	gm_cmd_log_add(fs->cmd, what, rc, &err);
	gm_guest_unlock(fs->guest);
	return rc;
}

/*
 * mv FROM TO in snapshots/: the snapshot FROM becomes TO, replacing one of
 * that name, logged as `mv snapshots/FROM TO`. A file still being written
 * as FROM follows the rename: it is imported as TO when it is closed (so
 * rsync's temp-then-rename works also while the temp is open).
 */
static int snapshot_rename(struct gmfs *fs, const char *from, const char *to,
			   unsigned flags)
{
	struct gm_error err = {0};
	struct gmfs_node *node;
	char what[2 * GM_SNAP_NAME_MAX + 32];
	bool saved, written;
	int rc;

	if (strlen(to) > GM_SNAP_NAME_MAX)
		return -ENAMETOOLONG;
	if (flags) /* RENAME_EXCHANGE, RENAME_NOREPLACE: not offered */
		return -EINVAL;
	gm_guest_lock(fs->guest);
	node = gmfs_node_get(fs, &gmfs_snapshot_file, 0, 0, from);
	saved = gm_snap_find(fs->guest, from) != NULL;
	written = node && node->importing;
	rc = gm_snap_name_check(to, &err);
	if (rc == 0 && !node)
		rc = gm_fail(&err, ENOMEM, "out of memory");
	if (rc == 0 && !saved && !written)
		rc = gm_fail(&err, ENOENT, "no snapshot named \"%s\"", from);
	if (rc == 0 && saved)
		rc = gm_snap_rename(fs->guest, from, to, &err);
	if (rc == 0)
		rc = gmfs_node_rename(fs, node, to);
	if (node)
		gmfs_node_forget(fs, node, 0);
	if (saved || rc != -ENOENT) {
		snprintf(what, sizeof(what), "mv snapshots/%s %s", from, to);
		gm_cmd_log_add(fs->cmd, what, rc, &err);
	}
	gm_guest_unlock(fs->guest);
	return rc;
}

const struct gmfs_file gmfs_snapshot_file = {
    .stat = snapshot_stat,
    .open = snapshot_open,
    .read = snapshot_read,
    .write = snapshot_write,
    .flush = snapshot_flush,
    .release = snapshot_release,
    .setattr = snapshot_setattr,
    .handle_free = handle_free,
    .lookup = snapshot_lookup,
    .list = snapshot_list,
    .unlink = snapshot_unlink,
    .create = snapshot_create,
    .rename = snapshot_rename,
};
