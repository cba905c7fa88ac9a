/*
 * The tree of SPEC §2: the table of fixed files, the inode of a request and
 * its kind, attributes, names and directories. What a file does is its
 * kind's (fs/files/); what is in the tree is this table's.
 * Try it: gmemfs /tmp/g; ls -li /tmp/g /tmp/g/regions; stat /tmp/g/mem
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "gmemfs.h"

static int maps_text(struct gmfs *fs, struct gm_text *out)
{
	return gm_maps_text(fs->guest, out);
}

static int info_text(struct gmfs *fs, struct gm_text *out)
{
	return gm_info_text(fs->guest, out);
}

static int stack_text(struct gmfs *fs, struct gm_text *out)
{
	return gm_stack_text(fs->guest, out);
}

/* Directories, defined below with their handle. */
static const struct gmfs_file dir_file;

/*
 * The files of the root, in the order `ls -f` shows them; the Nth has
 * inode INO_ROOT + 1 + N, so a new file goes at the end. A file of a new
 * kind is a new fs/files/KIND.c with its const struct gmfs_file.
 */
static const struct gmfs_fixed fixed[] = {
    {.name = "maps", .file = &gmfs_text_file, .text = maps_text},
    {.name = "regions", .file = &dir_file, .entries = &gmfs_region_file},
    {.name = "mem", .file = &gmfs_mem_file},
    {.name = "ctl", .file = &gmfs_control_file},
    {.name = "map", .file = &gmfs_control_file, .verb = "map"},
    {.name = "unmap", .file = &gmfs_control_file, .verb = "unmap"},
    {.name = "save", .file = &gmfs_control_file, .verb = "save"},
    {.name = "restore", .file = &gmfs_control_file, .verb = "restore"},
    {.name = "stack",
     .file = &gmfs_control_file,
     .verb = "stack",
     .text = stack_text},
    {.name = "snapshots", .file = &dir_file, .entries = &gmfs_snapshot_file},
    {.name = "regs", .file = &dir_file, .entries = &gmfs_reg_file},
    {.name = "info", .file = &gmfs_text_file, .text = info_text},
    {.name = "log", .file = &gmfs_log_file},
    {.name = "core", .file = &gmfs_core_file},
    {.name = "run", .file = &gmfs_control_file, .verb = "run"},
};

#define NFIXED (sizeof(fixed) / sizeof(fixed[0]))

static const struct gmfs_fixed root = {.name = "/", .file = &dir_file};

static fuse_ino_t fixed_ino(const struct gmfs_fixed *f)
{
	return f == &root ? INO_ROOT : INO_ROOT + 1 + (fuse_ino_t)(f - fixed);
}

/* Find INO and its kind; false when it names nothing. */
bool gmfs_inode(struct gmfs *fs, fuse_ino_t ino, struct gmfs_inode *in)
{
	const struct gm_arch *arch = gm_guest_arch(fs->guest);

	memset(in, 0, sizeof(*in));
	in->ino = ino;
	/* The kernel only sends node numbers we gave it. */
	if ((in->node = gmfs_node_of(fs, ino))) {
		in->file = in->node->file;
		return true;
	}
	if (ino >= INO_REG_FIRST) {
		in->file = &gmfs_reg_file;
		return ino - INO_REG_FIRST < arch->nregs;
	}
	if (ino == INO_ROOT)
		in->fixed = &root;
	else if (ino > INO_ROOT && ino - INO_ROOT - 1 < NFIXED)
		in->fixed = &fixed[ino - INO_ROOT - 1];
	else
		return false;
	in->file = in->fixed->file;
	return true;
}

void gmfs_times_start(struct gmfs *fs)
{
	struct gmfs_inode in;
	struct gmfs_inval *inval;
	struct stat st;

	gm_guest_lock(fs->guest);
	/* The options' changes are the mount's: nothing is cached yet. */
	gmfs_changes_take(fs, 0, &inval);
	free(inval);
	for (size_t i = 0; i < NFIXED; i++)
		if (gmfs_inode(fs, fixed_ino(&fixed[i]), &in))
			gmfs_stat(fs, &in, &st);
	gm_guest_unlock(fs->guest);
}

int gmfs_stat(struct gmfs *fs, const struct gmfs_inode *in, struct stat *st)
{
	gmfs_stat_init(fs, in->ino, st);
	return in->file->stat(fs, in, st);
}

void gmfs_reply_attr(fuse_req_t req, struct gmfs *fs,
		     const struct gmfs_inode *in)
{
	struct stat st;
	int rc;

	gm_guest_lock(fs->guest);
	rc = gmfs_stat(fs, in, &st);
	gm_guest_unlock(fs->guest);
	if (rc)
		fuse_reply_err(req, -rc);
	else
		fuse_reply_attr(req, &st, 0);
}

/* The inode of NAME in directory DIR, 0 when there is none; a node's
 * lookup count is taken. Under the lock. */
static int name_lookup(struct gmfs *fs, const struct gmfs_inode *dir,
		       const char *name, fuse_ino_t *ino)
{
	*ino = 0;
	if (dir->fixed && dir->fixed->entries)
		return dir->fixed->entries->lookup(fs, name, ino);
	if (dir->fixed != &root)
		return -ENOENT;
	for (size_t i = 0; i < NFIXED; i++)
		if (!strcmp(fixed[i].name, name)) {
			*ino = fixed_ino(&fixed[i]);
			return 0;
		}
	return -ENOENT;
}

void gmfs_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct gmfs *fs = fuse_req_userdata(req);
	struct fuse_entry_param e = {0};
	struct gmfs_inode dir, in;
	pid_t cmd_tid = __atomic_load_n(&fs->cmd_tid, __ATOMIC_RELAXED);
	int rc = -ENOENT;

	/* A command of ours opening a file in this mount (load_core
	 * MNT/core) holds the lock this lookup needs: refuse, never wait. */
	if (cmd_tid && fuse_req_ctx(req)->pid == cmd_tid) {
		fuse_reply_err(req, EDEADLK);
		return;
	}
	gm_guest_lock(fs->guest);
	if (gmfs_inode(fs, parent, &dir))
		rc = name_lookup(fs, &dir, name, &e.ino);
	if (rc == 0 && !gmfs_inode(fs, e.ino, &in))
		rc = -ENOENT;
	if (rc == 0)
		rc = gmfs_stat(fs, &in, &e.attr);
	if (rc && e.ino && in.node)
		gmfs_node_forget(fs, in.node, 1);
	gm_guest_unlock(fs->guest);
	/* Fixed names never change: let the kernel keep them. */
	if (rc == 0 && !in.node)
		e.entry_timeout = 3600;
	if (rc)
		fuse_reply_err(req, -rc);
	else
		fuse_reply_entry(req, &e);
}

static void forget_one(struct gmfs *fs, fuse_ino_t ino, uint64_t n)
{
	struct gmfs_node *node = gmfs_node_of(fs, ino);

	if (node)
		gmfs_node_forget(fs, node, n);
}

void gmfs_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	struct gmfs *fs = fuse_req_userdata(req);

	gm_guest_lock(fs->guest);
	forget_one(fs, ino, nlookup);
	gm_guest_unlock(fs->guest);
	fuse_reply_none(req);
}

void gmfs_forget_multi(fuse_req_t req, size_t count,
		       struct fuse_forget_data *forgets)
{
	struct gmfs *fs = fuse_req_userdata(req);

	gm_guest_lock(fs->guest);
	for (size_t i = 0; i < count; i++)
		forget_one(fs, forgets[i].ino, forgets[i].nlookup);
	gm_guest_unlock(fs->guest);
	fuse_reply_none(req);
}

void gmfs_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct gmfs *fs = fuse_req_userdata(req);
	struct gmfs_inode in;

	(void)fi;
	if (!gmfs_inode(fs, ino, &in))
		fuse_reply_err(req, ENOENT);
	else
		gmfs_reply_attr(req, fs, &in);
}

/* Directories: the root lists the fixed files, the others their kind of
 * entries. A listing is made whole at opendir, into the handle. */
struct dir_handle {
	struct gmfs_handle h;
	struct gm_text text;
};

/* A directory of entries moves its mtime when its listing changes (the
 * root's never does). */
static int dir_stat(struct gmfs *fs, const struct gmfs_inode *in,
		    struct stat *st)
{
	struct gm_text d;

	st->st_mode = S_IFDIR | 0755;
	st->st_nlink = 2;
	if (!in->fixed->entries)
		return 0;
	gm_text_init(&d);
	if (in->fixed->entries->list(NULL, fs, &d) == 0 &&
	    gm_text_status(&d) == 0)
		gmfs_watch(fs, in->ino, d.buf, d.len, st);
	gm_text_free(&d);
	return 0;
}

static int dir_open(struct gmfs *fs, const struct gmfs_inode *in,
		    struct fuse_file_info *fi)
{
	(void)fs, (void)in, (void)fi;
	return -EISDIR;
}

static void dir_free(struct gmfs *fs, struct gmfs_handle *h)
{
	struct dir_handle *d = (struct dir_handle *)h;

	gmfs_handle_remove(fs, h);
	gm_text_free(&d->text);
	free(d);
}

static const struct gmfs_file dir_file = {
    .stat = dir_stat,
    .open = dir_open,
    .handle_free = dir_free,
};

static int dir_fill(fuse_req_t req, struct gmfs *fs,
		    const struct gmfs_inode *in, struct gm_text *d)
{
	gmfs_dir_add(req, d, ".", in->ino, S_IFDIR);
	gmfs_dir_add(req, d, "..", INO_ROOT, S_IFDIR);
	if (in->fixed->entries)
		return in->fixed->entries->list(req, fs, d);
	for (size_t i = 0; i < NFIXED; i++)
		gmfs_dir_add(req, d, fixed[i].name, fixed_ino(&fixed[i]),
			     fixed[i].file == &dir_file ? S_IFDIR : S_IFREG);
	return 0;
}

void gmfs_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct gmfs *fs = fuse_req_userdata(req);
	struct gmfs_inode in;
	struct dir_handle *d;
	int rc = 0;

	if (!gmfs_inode(fs, ino, &in) || in.file != &dir_file) {
		fuse_reply_err(req, ENOTDIR);
		return;
	}
	d = calloc(1, sizeof(*d));
	if (!d) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	gm_text_init(&d->text);
	gm_guest_lock(fs->guest);
	gmfs_handle_add(fs, &d->h, &dir_file);
	rc = dir_fill(req, fs, &in, &d->text);
	if (!rc)
		rc = gm_text_status(&d->text);

	if (rc)
		dir_free(fs, &d->h);
	gm_guest_unlock(fs->guest);
	if (rc) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	fi->fh = (uintptr_t)d;
	fuse_reply_open(req, fi);
}

/* A short reply cuts the last entry; the kernel drops it and asks again
 * from the offset of the last whole one (as hello_ll.c relies on). */
void gmfs_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		  struct fuse_file_info *fi)
{
	struct gmfs *fs = fuse_req_userdata(req);
	struct dir_handle *d = (struct dir_handle *)(uintptr_t)fi->fh;

	(void)ino;
	gm_guest_lock(fs->guest);
	gmfs_reply_text(req, &d->text, size, off);
	gm_guest_unlock(fs->guest);
}

void gmfs_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct gmfs *fs = fuse_req_userdata(req);

	(void)ino;
	gm_guest_lock(fs->guest);
	dir_free(fs, (struct gmfs_handle *)(uintptr_t)fi->fh);
	gm_guest_unlock(fs->guest);
	fuse_reply_err(req, 0);
}
