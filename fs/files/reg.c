/*
 * regs/NAME: one text file per register of the guest's architecture, and
 * the aliases pc and sp (the same inode as their register). Reading gives
 * the value when opened; writing a number runs `reg NAME VALUE`.
 * Try it: cat /tmp/g/regs/rip; echo 0x1000 > /tmp/g/regs/rip
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "gmemfs.h"
#include "input.h"
#include "regs.h"

struct reg_handle {
	struct gmfs_handle h;
	struct gm_text text; /* the value, then the answers of writes */
};

/* The register behind regs/ inode INO. */
static const struct gm_reg *reg_of(struct gmfs *fs, fuse_ino_t ino)
{
	return &gm_guest_arch(fs->guest)->regs[ino - INO_REG_FIRST];
}

/* "0x…\n": the register's value now. Under the lock. */
static int reg_text(struct gmfs *fs, fuse_ino_t ino, struct gm_text *out)
{
	struct gm_error err = {0};
	uint64_t value;
	int rc;

	rc = gm_reg_read(fs->guest, reg_of(fs, ino), &value, &err);
	if (rc)
		return rc;
	gm_text_printf(out, "0x%llx\n", (unsigned long long)value);
	return gm_text_status(out);
}

static int reg_stat(struct gmfs *fs, const struct gmfs_inode *in,
		    struct stat *st)
{
	struct gm_text text;

	st->st_mode = S_IFREG | 0600;
	gm_text_init(&text);
	if (reg_text(fs, in->ino, &text) == 0)
		st->st_size = text.len;
	gm_text_free(&text);
	return 0;
}

static void reg_free(struct gmfs *fs, struct gmfs_handle *h)
{
	struct reg_handle *r = (struct reg_handle *)h;

	gmfs_handle_remove(fs, h);
	gm_text_free(&r->text);
	free(r);
}

static int reg_open(struct gmfs *fs, const struct gmfs_inode *in,
		    struct fuse_file_info *fi)
{
	struct reg_handle *r = calloc(1, sizeof(*r));
	int rc;

	if (!r)
		return -ENOMEM;
	gm_text_init(&r->text);
	gm_guest_lock(fs->guest);
	gmfs_handle_add(fs, &r->h, &gmfs_reg_file);
	/* The registers are the run's while it runs (SPEC §8): no stale
	 * value, and no write. */
	rc = gm_guest_running(fs->guest) ? -EBUSY
					 : reg_text(fs, in->ino, &r->text);
	if (rc)
		reg_free(fs, &r->h);
	gm_guest_unlock(fs->guest);
	if (rc)
		return rc;
	fi->direct_io = 1; /* the value is made per open */
	fi->fh = (uintptr_t)r;
	return 0;
}

static void reg_read(fuse_req_t req, struct gmfs *fs,
		     const struct gmfs_inode *in, size_t size, off_t off,
		     struct fuse_file_info *fi)
{
	struct reg_handle *r = (struct reg_handle *)(uintptr_t)fi->fh;

	(void)in;
	gm_guest_lock(fs->guest);
	gmfs_reply_text(req, &r->text, size, off);
	gm_guest_unlock(fs->guest);
}

static void reg_write(fuse_req_t req, struct gmfs *fs,
		      const struct gmfs_inode *in, const char *buf, size_t size,
		      off_t off, struct fuse_file_info *fi)
{
	struct reg_handle *r = (struct reg_handle *)(uintptr_t)fi->fh;
	struct gmfs_inval *inval = NULL;
	struct gm_error err = {0};
	size_t n = 0;
	int rc;

	(void)off;
	gm_guest_lock(fs->guest);
	rc = gmfs_reg_value_run(fs->cmd, reg_of(fs, in->ino), buf, size,
				&r->text, &err);
	n = gmfs_changes_take(fs, 0, &inval);
	gm_guest_unlock(fs->guest);
	gmfs_changes_notify(fs, inval, n);
	if (rc)
		fuse_reply_err(req, -rc);
	else
		fuse_reply_write(req, size);
}

static void reg_release(struct gmfs *fs, const struct gmfs_inode *in,
			struct fuse_file_info *fi)
{
	(void)in;
	gm_guest_lock(fs->guest);
	reg_free(fs, (struct gmfs_handle *)(uintptr_t)fi->fh);
	gm_guest_unlock(fs->guest);
}

/* regs/: "pc" and "sp" name the same inode as the register behind them. */
static int reg_lookup(struct gmfs *fs, const char *name, fuse_ino_t *ino)
{
	const struct gm_arch *arch = gm_guest_arch(fs->guest);
	const struct gm_reg *reg = gm_arch_reg(arch, name);

	if (!reg)
		return -ENOENT;
	*ino = INO_REG_FIRST + (fuse_ino_t)(reg - arch->regs);
	return 0;
}

static int reg_list(fuse_req_t req, struct gmfs *fs, struct gm_text *dir)
{
	const struct gm_arch *arch = gm_guest_arch(fs->guest);
	const char *alias[] = {"pc", "sp"};
	const char *behind[] = {arch->pc_name, arch->sp_name};
	fuse_ino_t ino;

	for (size_t i = 0; i < arch->nregs; i++)
		gmfs_dir_add(req, dir, arch->regs[i].name, INO_REG_FIRST + i,
			     S_IFREG);
	for (size_t i = 0; i < 2; i++)
		if (strcmp(behind[i], alias[i]) &&
		    reg_lookup(fs, behind[i], &ino) == 0)
			gmfs_dir_add(req, dir, alias[i], ino, S_IFREG);
	return 0;
}

const struct gmfs_file gmfs_reg_file = {
    .stat = reg_stat,
    .open = reg_open,
    .read = reg_read,
    .write = reg_write,
    .release = reg_release,
    .setattr = gmfs_command_setattr,
    .handle_free = reg_free,
    .lookup = reg_lookup,
    .list = reg_list,
};
