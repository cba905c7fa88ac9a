/*
 * The table libfuse calls. Each operation on a file finds the inode's kind
 * once (tree.c) and hands the request to that kind's struct gmfs_file;
 * names and directories are the tree's.
 */
#include <errno.h>
#include <linux/fuse.h>
#include <unistd.h>

#include "gmemfs.h"

static struct gmfs *fs_of(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

/*
 * Who may do what. The owner (the daemon's user) and root may do
 * anything: a debugger's access, whatever a region's protection says, so
 * no default_permissions. With -o allow_other every other user gets what
 * a file's "other" bits say (maps, info and log are 0444, directories
 * 0755, the rest 0600): to read those and list, never to change anything.
 */
static bool is_owner(fuse_req_t req)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);

	return ctx->uid == getuid() || ctx->uid == 0;
}

/* Whether REQ may open IN for MODE (R_OK, W_OK); false after replying
 * EACCES. */
static bool may(fuse_req_t req, const struct gmfs_inode *in, int mode)
{
	struct gmfs *fs = fs_of(req);
	struct stat st;
	bool ok;

	if (is_owner(req))
		return true;
	gm_guest_lock(fs->guest);
	ok = gmfs_stat(fs, in, &st) == 0 &&
	     (!(mode & R_OK) || (st.st_mode & S_IROTH)) &&
	     (!(mode & W_OK) || (st.st_mode & S_IWOTH));
	gm_guest_unlock(fs->guest);
	if (!ok)
		fuse_reply_err(req, EACCES);
	return ok;
}

/* Changes are the owner's; false after replying EACCES. */
static bool may_change(fuse_req_t req)
{
	if (is_owner(req))
		return true;
	fuse_reply_err(req, EACCES);
	return false;
}

/* The inode INO of REQ, or false after replying ENOENT. */
static bool inode_of(fuse_req_t req, fuse_ino_t ino, struct gmfs_inode *in)
{
	if (gmfs_inode(fs_of(req), ino, in))
		return true;
	fuse_reply_err(req, ENOENT);
	return false;
}

/*
 * fuse_reply_open with FOPEN_PARALLEL_DIRECT_WRITES, which libfuse 3.14
 * cannot set: without it the kernel holds the inode's lock across each
 * direct write, so while `run` written to ctl runs, no other write to
 * ctl (`stop`, `gmem read`) could even reach us. A nonseekable file is
 * a stream too, so every write is at offset 0 and below st_size. The
 * reply is the kernel's struct fuse_open_out, as fuse_reply_open sends
 * it.
 */
static void reply_open_parallel(fuse_req_t req, const struct fuse_file_info *fi)
{
	struct fuse_open_out out = {.fh = fi->fh};

	out.open_flags =
	    FOPEN_PARALLEL_DIRECT_WRITES |
	    (fi->direct_io ? FOPEN_DIRECT_IO : 0) |
	    (fi->keep_cache ? FOPEN_KEEP_CACHE : 0) |
	    (fi->nonseekable ? FOPEN_NONSEEKABLE | FOPEN_STREAM : 0);
	fuse_reply_buf(req, (const char *)&out, sizeof(out));
}

static void op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct gmfs_inode in;
	int rc;

	if (!inode_of(req, ino, &in))
		return;
	if (!may(req, &in,
		 (fi->flags & O_ACCMODE) == O_RDONLY   ? R_OK
		 : (fi->flags & O_ACCMODE) == O_WRONLY ? W_OK
						       : R_OK | W_OK))
		return;
	rc = in.file->open(fs_of(req), &in, fi);
	if (rc)
		fuse_reply_err(req, -rc);
	else if (in.file->parallel_writes)
		reply_open_parallel(req, fi);
	else
		fuse_reply_open(req, fi);
}

static void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	struct gmfs_inode in;

	if (!inode_of(req, ino, &in))
		return;
	if (in.file->read)
		in.file->read(req, fs_of(req), &in, size, off, fi);
	else
		fuse_reply_err(req, EBADF);
}

static void op_write(fuse_req_t req, fuse_ino_t ino, const char *buf,
		     size_t size, off_t off, struct fuse_file_info *fi)
{
	struct gmfs_inode in;

	if (!inode_of(req, ino, &in))
		return;
	if (in.file->write)
		in.file->write(req, fs_of(req), &in, buf, size, off, fi);
	else
		fuse_reply_err(req, EBADF);
}

/* close(): a control file's last line without a newline runs now, and a
 * written snapshot file is imported; a failure fails the close()
 * (`printf 'unmap 0 1' > MNT/ctl` sees it). */
static void op_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct gmfs_inode in;

	if (!inode_of(req, ino, &in))
		return;
	fuse_reply_err(
	    req, in.file->flush ? -in.file->flush(fs_of(req), &in, fi) : 0);
}

static void op_release(fuse_req_t req, fuse_ino_t ino,
		       struct fuse_file_info *fi)
{
	struct gmfs_inode in;

	if (!inode_of(req, ino, &in))
		return;
	if (in.file->release)
		in.file->release(fs_of(req), &in, fi);
	fuse_reply_err(req, 0);
}

/* The time bits of a setattr. */
#define SET_TIMES                                                              \
	(FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_MTIME | FUSE_SET_ATTR_ATIME_NOW | \
	 FUSE_SET_ATTR_MTIME_NOW | FUSE_SET_ATTR_CTIME)

/*
 * chmod, chown, truncate, utimens. A chown to the owner every file has
 * already is a no-op (tar -x and cp -a make one), to anyone else EPERM;
 * a kind without setattr accepts that and times alone, and refuses the
 * rest with EACCES.
 */
static void op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr,
		       int to_set, struct fuse_file_info *fi)
{
	struct gmfs_inode in;
	int rc = 0;

	if (!inode_of(req, ino, &in) || !may_change(req))
		return;
	if (((to_set & FUSE_SET_ATTR_UID) && attr->st_uid != getuid()) ||
	    ((to_set & FUSE_SET_ATTR_GID) && attr->st_gid != getgid()))
		rc = -EPERM;
	to_set &= ~(FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID);
	if (rc == 0 && in.file->setattr)
		rc = in.file->setattr(fs_of(req), &in, attr, to_set, fi);
	else if (rc == 0 && (to_set & ~SET_TIMES))
		rc = -EACCES;
	if (rc)
		fuse_reply_err(req, -rc);
	else
		gmfs_reply_attr(req, fs_of(req), &in);
}

/* The kind of the entries of directory PARENT, if it has one. */
static const struct gmfs_file *entries_of(fuse_req_t req, fuse_ino_t parent)
{
	struct gmfs_inode dir;

	if (!gmfs_inode(fs_of(req), parent, &dir) || !dir.fixed)
		return NULL;
	return dir.fixed->entries;
}

static void op_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	const struct gmfs_file *entries = entries_of(req, parent);

	if (!may_change(req))
		return;
	if (entries && entries->unlink)
		fuse_reply_err(req, -entries->unlink(fs_of(req), name));
	else
		fuse_reply_err(req, EACCES);
}

/* The tree is SPEC's: nothing is made, moved or linked in it but what a
 * kind of entries allows. Without these, libfuse would answer ENOSYS
 * ("Function not implemented"). */
static void op_create(fuse_req_t req, fuse_ino_t parent, const char *name,
		      mode_t mode, struct fuse_file_info *fi)
{
	const struct gmfs_file *entries = entries_of(req, parent);
	struct fuse_entry_param e = {0};
	int rc = -EACCES;

	(void)mode;
	if (!may_change(req))
		return;
	if (entries && entries->create)
		rc = entries->create(fs_of(req), name, fi, &e);
	if (rc)
		fuse_reply_err(req, -rc);
	else
		fuse_reply_create(req, &e, fi);
}

static void op_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
			size_t size)
{
	struct gmfs_inode in;

	if (!inode_of(req, ino, &in) || !may(req, &in, R_OK))
		return;
	if (in.file->getxattr)
		in.file->getxattr(req, fs_of(req), &in, name, size);
	else
		fuse_reply_err(req, ENODATA);
}

static void op_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
			const char *value, size_t size, int flags)
{
	struct gmfs_inode in;

	if (!inode_of(req, ino, &in) || !may_change(req))
		return;
	fuse_reply_err(req, in.file->setxattr
				? -in.file->setxattr(fs_of(req), &in, name,
						     value, size, flags)
				: ENOTSUP);
}

static void op_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	struct gmfs_inode in;

	if (!inode_of(req, ino, &in) || !may(req, &in, R_OK))
		return;
	if (in.file->listxattr)
		in.file->listxattr(req, fs_of(req), &in, size);
	else if (size) /* an empty list, not its size */
		fuse_reply_buf(req, NULL, 0);
	else
		fuse_reply_xattr(req, 0);
}

/* No file has an attribute to remove (a region's label is set to "" to
 * clear it, region.c): ENODATA unless a kind says otherwise. */
static void op_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	struct gmfs_inode in;

	if (!inode_of(req, ino, &in) || !may_change(req))
		return;
	fuse_reply_err(req, in.file->removexattr
				? -in.file->removexattr(fs_of(req), &in, name)
				: ENODATA);
}

static void op_mknod(fuse_req_t req, fuse_ino_t parent, const char *name,
		     mode_t mode, dev_t rdev)
{
	(void)parent, (void)name, (void)mode, (void)rdev;
	fuse_reply_err(req, EACCES);
}

static void op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name,
		     mode_t mode)
{
	(void)parent, (void)name, (void)mode;
	fuse_reply_err(req, EACCES);
}

static void op_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	(void)parent, (void)name;
	fuse_reply_err(req, EACCES);
}

/* mv within one directory whose kind of entries renames (snapshots/). */
static void op_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
		      fuse_ino_t newparent, const char *newname,
		      unsigned int flags)
{
	const struct gmfs_file *entries = entries_of(req, parent);

	if (!may_change(req))
		return;
	if (parent == newparent && entries && entries->rename)
		fuse_reply_err(
		    req, -entries->rename(fs_of(req), name, newname, flags));
	else
		fuse_reply_err(req, EACCES);
}

static void op_symlink(fuse_req_t req, const char *link, fuse_ino_t parent,
		       const char *name)
{
	(void)link, (void)parent, (void)name;
	fuse_reply_err(req, EACCES);
}

static void op_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent,
		    const char *newname)
{
	(void)ino, (void)newparent, (void)newname;
	fuse_reply_err(req, EACCES);
}

/*
 * lseek's SEEK_DATA and SEEK_HOLE (the kernel answers the others): a
 * kind's own map of data (mem: the mapped ranges), else all data up to
 * st_size. Never ENOSYS, which would make the kernel stop asking for
 * every file.
 */
static void op_lseek(fuse_req_t req, fuse_ino_t ino, off_t off, int whence,
		     struct fuse_file_info *fi)
{
	struct gmfs *fs = fs_of(req);
	struct gmfs_inode in;
	struct stat st;
	off_t to = off;
	int rc;

	if (!inode_of(req, ino, &in))
		return;
	gm_guest_lock(fs->guest);
	if (whence != SEEK_DATA && whence != SEEK_HOLE)
		rc = -EINVAL;
	else if (in.file->lseek)
		rc = in.file->lseek(fs, &in, off, whence, fi, &to);
	else if ((rc = gmfs_stat(fs, &in, &st)) == 0 && off >= st.st_size)
		rc = -ENXIO;
	else if (rc == 0 && whence == SEEK_HOLE)
		to = st.st_size;
	gm_guest_unlock(fs->guest);
	if (rc)
		fuse_reply_err(req, -rc);
	else
		fuse_reply_lseek(req, to);
}

static void op_init(void *userdata, struct fuse_conn_info *conn)
{
	(void)userdata;
	/* Write-through: every write reaches the guest before it returns. */
	conn->want &= ~FUSE_CAP_WRITEBACK_CACHE;
	/* Only we know when region bytes change: no guessing from mtimes. */
	conn->want &= ~FUSE_CAP_AUTO_INVAL_DATA;
	/* O_TRUNC as a truncate after the open, whose answer keeps a
	 * control file's size: with atomic_o_trunc the kernel would take
	 * i_size to 0 and `echo run > ctl` would hold the file's lock
	 * alone for the whole run (see gmfs_control_file). snapshots/
	 * takes that truncate as its O_TRUNC (trunc_arms). */
	conn->want &= ~FUSE_CAP_ATOMIC_O_TRUNC;
}

const struct fuse_lowlevel_ops gmfs_ops = {
    .init = op_init,
    .lookup = gmfs_lookup,
    .forget = gmfs_forget,
    .forget_multi = gmfs_forget_multi,
    .getattr = gmfs_getattr,
    .setattr = op_setattr,
    .open = op_open,
    .read = op_read,
    .write = op_write,
    .flush = op_flush,
    .release = op_release,
    .unlink = op_unlink,
    .create = op_create,
    .mknod = op_mknod,
    .mkdir = op_mkdir,
    .rmdir = op_rmdir,
    .rename = op_rename,
    .symlink = op_symlink,
    .link = op_link,
    .opendir = gmfs_opendir,
    .readdir = gmfs_readdir,
    .releasedir = gmfs_releasedir,
    .getxattr = op_getxattr,
    .setxattr = op_setxattr,
    .listxattr = op_listxattr,
    .removexattr = op_removexattr,
    .lseek = op_lseek,
};
