/*
 * Control files: ctl takes any command of SPEC §4; map, unmap, save,
 * restore and stack are bound to one verb (their fixed line's .verb). The
 * answer is read back on the same descriptor; a failing command fails the
 * write() with its errno and answers "error: MESSAGE".
 * Try it: exec 3<>/tmp/g/ctl; echo "map_anywhere 0x1000" >&3; cat <&3
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gmemfs.h"
#include "run.h"

/* Lines are shorter than this. The kernel hands a write() over in pieces
 * of 1 MiB, less the offset of the buffer in its first page: so a line too
 * long is seen in the first piece of a write() that starts with it, and
 * the whole write() fails instead of being cut short. */
#define LINE_MAX_BYTES ((1u << 20) - 4096)

struct control_handle {
	struct gmfs_handle h;
	struct gm_text text;	/* the answers, read from CURSOR on */
	struct gm_text pending; /* a line without its end */
	size_t cursor;
	bool answered; /* text holds a command's answer */
	/* A command of this handle runs with the lock released (a run):
	 * its text and answer are in use, so the handle's other requests
	 * answer EBUSY until it ends. */
	bool busy;
};

static struct control_handle *handle_of(struct fuse_file_info *fi)
{
	return (struct control_handle *)(uintptr_t)fi->fh;
}

static int control_stat(struct gmfs *fs, const struct gmfs_inode *in,
			struct stat *st)
{
	(void)fs, (void)in;
	st->st_mode = S_IFREG | 0600;
	/* The kernel serializes direct writes that end past st_size,
	 * parallel ones or not; every write is at offset 0 (a stream): so
	 * that `stop` reaches us during a `run` on the same file, one of a
	 * line's longest length does not. */
	st->st_size = LINE_MAX_BYTES;
	return 0;
}

static void control_free(struct gmfs *fs, struct gmfs_handle *h)
{
	struct control_handle *c = (struct control_handle *)h;

	gmfs_handle_remove(fs, h);
	gm_text_free(&c->pending);
	gm_text_free(&c->text);
	free(c);
}

static int control_open(struct gmfs *fs, const struct gmfs_inode *in,
			struct fuse_file_info *fi)
{
	struct control_handle *c = calloc(1, sizeof(*c));

	(void)in;
	if (!c)
		return -ENOMEM;
	gm_text_init(&c->text);
	gm_text_init(&c->pending);
	gm_guest_lock(fs->guest);
	gmfs_handle_add(fs, &c->h, &gmfs_control_file);
	gm_guest_unlock(fs->guest);
	/* Answers are per open and their size changes: no page cache. */
	fi->direct_io = 1;
	fi->nonseekable = 1;
	fi->fh = (uintptr_t)c;
	return 0;
}

/* Make room for a new answer in C. Answers pile up until read: a write
 * the kernel cut in pieces, or several writes before one read, answer
 * every line. */
static void answer_begin(struct control_handle *c)
{
	if (c->cursor == c->text.len) {
		gm_text_reset(&c->text);
		c->cursor = 0;
	}
	c->answered = true;
}

/*
 * Run TEXT as commands of the control file IN, the answer into C. The
 * caller holds the lock, which a run releases meanwhile (C is busy then);
 * *INVAL gets what to invalidate after it: the changes, and after a run
 * every cached region the guest could write to (its own stores are in no
 * change record).
 */
static int control_run(struct gmfs *fs, const struct gmfs_inode *in,
		       struct control_handle *c, const char *text, size_t len,
		       struct gmfs_inval **inval, size_t *ninval)
{
	uint64_t runs = gm_guest_runs(fs->guest);
	struct gm_error err = {0};
	int rc;

	answer_begin(c);
	c->busy = true;
	__atomic_store_n(&fs->cmd_tid, gettid(), __ATOMIC_RELAXED);
	rc = gm_cmd_run(fs->cmd, in->fixed->verb, text, len, &c->text, &err);
	__atomic_store_n(&fs->cmd_tid, 0, __ATOMIC_RELAXED);
	c->busy = false;
	*ninval = gmfs_changes_take(fs, 0, inval);
	if (gm_guest_runs(fs->guest) != runs)
		*ninval = gmfs_ran_take(fs, inval, *ninval);
	return rc;
}

/* FUSE's INTERRUPT for a request running commands (Ctrl-C on `echo run
 * > ctl`): stop the guest, and the run answers `stopped` (EINTR). Called
 * from another thread of libfuse, with no lock of ours held. */
static void control_interrupted(fuse_req_t req, void *data)
{
	(void)req;
	gm_guest_stop(data);
}

/* From REQ's start until its commands ran (under the lock, so that a late
 * interrupt cannot stop the next run): its INTERRUPT stops the guest. */
static void interrupt_arm(fuse_req_t req, struct gmfs *fs)
{
	if (req)
		fuse_req_interrupt_func(req, control_interrupted, fs->guest);
}

static void interrupt_disarm(fuse_req_t req)
{
	if (req)
		fuse_req_interrupt_func(req, NULL, NULL);
}

/* Refuse a line of LEN bytes or more: answer, log, and return -EINVAL. */
static int line_too_long(struct gmfs *fs, struct control_handle *c, size_t len)
{
	struct gm_error err = {0};
	char what[64];

	gm_text_reset(&c->pending);
	gm_fail(&err, EINVAL,
		"a line holds less than 1020 KiB (%u bytes); bulk data goes "
		"through mem or regions/",
		LINE_MAX_BYTES);
	answer_begin(c);
	gm_text_printf(&c->text, "error: %s\n", err.msg);
	snprintf(what, sizeof(what), "(a line of %zu bytes or more)", len);
	gm_cmd_log_add(fs->cmd, what, -EINVAL, &err);
	return -EINVAL;
}

/*
 * The kernel hands a long write() over in pieces (of 1 MiB; `cat` writes
 * 128 KiB at a time), so a line may arrive cut: what follows the last
 * newline waits in the handle for the rest of its line. The caller holds
 * the lock.
 */
static int control_take(struct gmfs *fs, const struct gmfs_inode *in,
			struct control_handle *c, const char *buf, size_t size,
			struct gmfs_inval **inval, size_t *ninval)
{
	const char *first_nl = memchr(buf, '\n', size);
	const char *nl = memrchr(buf, '\n', size);
	size_t whole = nl ? (size_t)(nl + 1 - buf) : 0;
	size_t first = first_nl ? (size_t)(first_nl - buf) : size;
	int rc = 0;

	if (c->busy)
		return -EBUSY;
	if (c->pending.len + first >= LINE_MAX_BYTES)
		return line_too_long(fs, c, c->pending.len + first);
	if (size - whole >= LINE_MAX_BYTES)
		return line_too_long(fs, c, size - whole);
	if (!nl) {
		gm_text_add(&c->pending, buf, size);
		return gm_text_status(&c->pending);
	}
	if (c->pending.len) {
		gm_text_add(&c->pending, buf, whole);
		rc = gm_text_status(&c->pending);
		if (!rc)
			rc = control_run(fs, in, c, c->pending.buf,
					 c->pending.len, inval, ninval);
	} else {
		rc = control_run(fs, in, c, buf, whole, inval, ninval);
	}
	gm_text_reset(&c->pending);
	if (!rc)
		gm_text_add(&c->pending, buf + whole, size - whole);
	return rc ? rc : gm_text_status(&c->pending);
}

/* Run a line left without its newline: when the answer is read (REQ),
 * or at close (then close() fails with the command's errno). */
static int control_finish(fuse_req_t req, struct gmfs *fs,
			  const struct gmfs_inode *in, struct control_handle *c)
{
	struct gmfs_inval *inval = NULL;
	size_t n = 0;
	int rc = 0;

	interrupt_arm(req, fs);
	gm_guest_lock(fs->guest);
	if (c->busy) {
		rc = -EBUSY;
	} else if (c->pending.len) {
		rc = control_run(fs, in, c, c->pending.buf, c->pending.len,
				 &inval, &n);
		gm_text_reset(&c->pending);
	}
	interrupt_disarm(req);
	gm_guest_unlock(fs->guest);
	gmfs_changes_notify(fs, inval, n);
	return rc;
}

static int control_flush(struct gmfs *fs, const struct gmfs_inode *in,
			 struct fuse_file_info *fi)
{
	return control_finish(NULL, fs, in, handle_of(fi));
}

/*
 * The answer is read from the handle's own cursor, whatever the file
 * offset the writes moved: `exec 3<>ctl; echo … >&3; cat <&3` reads the
 * answer from its start. A line still waiting for its newline runs first;
 * reading before any command answers the fixed line's .text (stack lists
 * the stack).
 */
static void control_read(fuse_req_t req, struct gmfs *fs,
			 const struct gmfs_inode *in, size_t size, off_t off,
			 struct fuse_file_info *fi)
{
	struct control_handle *c = handle_of(fi);
	size_t left;
	bool busy;
	int rc = 0;

	(void)off;
	gm_guest_lock(fs->guest);
	busy = c->busy;
	gm_guest_unlock(fs->guest);
	/* A run of this handle is under way: its answer is not there yet. */
	if (busy) {
		fuse_reply_err(req, EBUSY);
		return;
	}
	control_finish(req, fs, in, c);
	gm_guest_lock(fs->guest);
	if (!c->answered && in->fixed->text) {
		rc = in->fixed->text(fs, &c->text);
		c->answered = !rc;
	}
	if (rc) {
		fuse_reply_err(req, -rc);
	} else {
		left = c->text.len > c->cursor ? c->text.len - c->cursor : 0;
		gmfs_reply_text(req, &c->text, size, (off_t)c->cursor);
		c->cursor += size < left ? size : left;
	}
	gm_guest_unlock(fs->guest);
}

static void control_write(fuse_req_t req, struct gmfs *fs,
			  const struct gmfs_inode *in, const char *buf,
			  size_t size, off_t off, struct fuse_file_info *fi)
{
	struct gmfs_inval *inval = NULL;
	size_t n = 0;
	int rc;

	(void)off;
	interrupt_arm(req, fs);
	gm_guest_lock(fs->guest);
	rc = control_take(fs, in, handle_of(fi), buf, size, &inval, &n);
	interrupt_disarm(req);
	gm_guest_unlock(fs->guest);
	/* A control write holds no page lock: invalidate before answering,
	 * so the next read anywhere sees the command's effect. */
	gmfs_changes_notify(fs, inval, n);
	if (rc)
		fuse_reply_err(req, -rc);
	else
		fuse_reply_write(req, size);
}

/* Without a flush (a failed close()), the last line still runs. */
static void control_release(struct gmfs *fs, const struct gmfs_inode *in,
			    struct fuse_file_info *fi)
{
	control_finish(NULL, fs, in, handle_of(fi));
	gm_guest_lock(fs->guest);
	control_free(fs, &handle_of(fi)->h);
	gm_guest_unlock(fs->guest);
}

const struct gmfs_file gmfs_control_file = {
    .stat = control_stat,
    .open = control_open,
    .read = control_read,
    .write = control_write,
    .flush = control_flush,
    .release = control_release,
    .setattr = gmfs_command_setattr,
    .handle_free = control_free,
    .parallel_writes = true,
};
