/*
 * The table of libfuse low-level operations: each one finds what kind of
 * node it is asked about and hands it to that kind's file in files/.
 */
#include <errno.h>

#include "gmemfs.h"

static struct gmfs *fs_of(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

static void op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct gmfs *fs = fs_of(req);

	if (!gmfs_ino_valid(fs, ino)) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	switch (gmfs_kind_of(ino)) {
	case KIND_DIR:
		fuse_reply_err(req, EISDIR);
		return;
	case KIND_MEM:
	case KIND_REGION:
		gmfs_region_open(req, fs, ino, fi);
		return;
	case KIND_SNAPSHOT:
		gmfs_snapshot_open(req, fs, ino, fi);
		return;
	default:
		gmfs_text_open(req, fs, ino, fi);
	}
}

static void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	struct gmfs *fs = fs_of(req);

	switch (gmfs_kind_of(ino)) {
	case KIND_MEM:
	case KIND_REGION:
		gmfs_region_read(req, fs, ino, size, off);
		return;
	case KIND_SNAPSHOT:
		gmfs_snapshot_read(req, fs, size, off, fi);
		return;
	default:
		gmfs_text_read(req, fs, ino, size, off, fi);
	}
}

static void op_write(fuse_req_t req, fuse_ino_t ino, const char *buf,
		     size_t size, off_t off, struct fuse_file_info *fi)
{
	struct gmfs *fs = fs_of(req);

	switch (gmfs_kind_of(ino)) {
	case KIND_MEM:
	case KIND_REGION:
		gmfs_region_write(req, fs, ino, buf, size, off);
		return;
	case KIND_CONTROL:
	case KIND_REG:
		gmfs_control_write(req, fs, ino, buf, size, fi);
		return;
	case KIND_SNAPSHOT:
		gmfs_snapshot_write(req, fs, buf, size, off, fi);
		return;
	default:
		fuse_reply_err(req, EBADF);
	}
}

static void op_release(fuse_req_t req, fuse_ino_t ino,
		       struct fuse_file_info *fi)
{
	struct gmfs *fs = fs_of(req);
	struct gmfs_node *node = gmfs_node_of(ino);

	switch (gmfs_kind_of(ino)) {
	case KIND_REGION:
		gm_guest_lock(fs->guest);
		gmfs_node_close(fs, node);
		gm_guest_unlock(fs->guest);
		/* fallthrough */
	case KIND_MEM:
		fuse_reply_err(req, 0);
		return;
	case KIND_SNAPSHOT:
		gmfs_snapshot_release(fs,
				      (struct gmfs_handle *)(uintptr_t)fi->fh);
		fuse_reply_err(req, 0);
		return;
	default:
		gmfs_text_release(req, fs, ino, fi);
	}
}

/* close(): a control file's last line without a newline runs now, and a
 * written snapshot file is imported; a failure fails the close()
 * (`printf 'unmap 0 1' > MNT/ctl` sees it). */
static void op_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct gmfs_handle *h = (struct gmfs_handle *)(uintptr_t)fi->fh;
	int rc = 0;

	if (gmfs_kind_of(ino) == KIND_CONTROL)
		rc = gmfs_control_finish(fs_of(req), ino, h);
	else if (gmfs_kind_of(ino) == KIND_SNAPSHOT)
		rc = gmfs_snapshot_finish(fs_of(req), h);
	fuse_reply_err(req, -rc);
}

static void op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr,
		       int to_set, struct fuse_file_info *fi)
{
	struct gmfs *fs = fs_of(req);

	switch (gmfs_kind_of(ino)) {
	case KIND_MEM:
	case KIND_REGION:
		gmfs_region_setattr(req, fs, ino, attr, to_set);
		return;
	case KIND_SNAPSHOT:
		gmfs_snapshot_setattr(req, fs, ino, attr, to_set, fi);
		return;
	case KIND_CONTROL:
	case KIND_REG:
		/* `echo … > ctl` opens with O_TRUNC: nothing to cut. */
		if (to_set & ~(FUSE_SET_ATTR_SIZE | FUSE_SET_ATTR_ATIME |
			       FUSE_SET_ATTR_MTIME | FUSE_SET_ATTR_ATIME_NOW |
			       FUSE_SET_ATTR_MTIME_NOW | FUSE_SET_ATTR_CTIME)) {
			fuse_reply_err(req, EPERM);
			return;
		}
		gmfs_reply_attr(req, fs, ino);
		return;
	default:
		fuse_reply_err(req, EACCES);
	}
}

static void op_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct gmfs *fs = fs_of(req);

	if (parent == INO_REGIONS)
		gmfs_region_unlink(req, fs, name);
	else if (parent == INO_SNAPSHOTS)
		gmfs_snapshot_unlink(req, fs, name);
	else
		fuse_reply_err(req, EACCES);
}

static void op_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
			size_t size)
{
	if (gmfs_kind_of(ino) == KIND_REGION)
		gmfs_region_getxattr(req, fs_of(req), ino, name, size);
	else
		fuse_reply_err(req, ENODATA);
}

static void op_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
			const char *value, size_t size, int flags)
{
	if (gmfs_kind_of(ino) == KIND_REGION)
		gmfs_region_setxattr(req, fs_of(req), ino, name, value, size,
				     flags);
	else
		fuse_reply_err(req, ENOTSUP);
}

static void op_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	if (gmfs_kind_of(ino) == KIND_REGION)
		gmfs_region_listxattr(req, size);
	else
		fuse_reply_xattr(req, 0);
}

static void op_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	(void)ino;
	(void)name;
	/* A region always has a label; set it to "" to clear it. */
	fuse_reply_err(req, EPERM);
}

/* The tree is SPEC's: nothing is made, moved or linked in it but the
 * files of snapshots/. Without these, libfuse would answer ENOSYS
 * ("Function not implemented"). */
static void op_create(fuse_req_t req, fuse_ino_t parent, const char *name,
		      mode_t mode, struct fuse_file_info *fi)
{
	(void)mode;
	if (parent == INO_SNAPSHOTS)
		gmfs_snapshot_create(req, fs_of(req), name, fi);
	else
		fuse_reply_err(req, EACCES);
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

static void op_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
		      fuse_ino_t newparent, const char *newname,
		      unsigned int flags)
{
	(void)parent, (void)name, (void)newparent, (void)newname, (void)flags;
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

static void op_init(void *userdata, struct fuse_conn_info *conn)
{
	(void)userdata;
	/* Write-through: every write reaches the guest before it returns. */
	conn->want &= ~FUSE_CAP_WRITEBACK_CACHE;
	/* Only we know when region bytes change: no guessing from mtimes. */
	conn->want &= ~FUSE_CAP_AUTO_INVAL_DATA;
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
};
