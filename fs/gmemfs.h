/*
 * The daemon's context and the pieces of the tree. fs/ serves the guest of
 * core/ as files; it knows the core and the command language, not Unicorn.
 * Each kind of file is one const struct gmfs_file in fs/files/.
 */
#ifndef GMEMFS_H
#define GMEMFS_H

#define FUSE_USE_VERSION 312

#include <fuse_lowlevel.h>
#include <stdbool.h>
#include <stdint.h>

#include "cmd/cmd.h"
#include "guest.h"

/* The root is 1, the fixed files of tree.c follow it in their table's
 * order; regs/NAME is 0x100 + the register's index; region and snapshot
 * files are numbered from 0x10000 on, the lowest free number first. */
#define INO_ROOT       FUSE_ROOT_ID
#define INO_REG_FIRST  0x100
#define INO_NODE_FIRST 0x10000
#define NODE_CHUNK     1024 /* inode slots are made in chunks of this */
#define NODE_CHUNKS    1024

struct gmfs;
struct gmfs_file;

/*
 * A region or snapshot file the kernel knows, valid until the kernel
 * forgets it. A region node stands for its range: I/O goes to those
 * addresses, so a node outlives a split or an unmap only as a view that
 * fails with EIO.
 */
struct gmfs_node {
	const struct gmfs_file *file; /* its kind */
	fuse_ino_t ino;
	uint64_t start, size; /* region files */
	char *name;	      /* snapshot files */
	uint64_t nlookup;
	unsigned opened; /* open file handles */
	/* snapshot files: handles writing a new file, and the size of the
	 * file last written or opened for reading */
	unsigned importing;
	uint64_t open_size;
	bool may_cache; /* region files: the kernel may hold pages of it */
	bool indexed;	/* found by name (not replaced by a rename) */
};

/* A fixed file: one line of the tree's table (tree.c). */
struct gmfs_fixed {
	const char *name;
	const struct gmfs_file *file;
	/* control files: the verb each line runs, NULL for any (ctl) */
	const char *verb;
	/* text files: what they show; control files: what a read answers
	 * before any command (stack lists the stack). Under the lock. */
	int (*text)(struct gmfs *fs, struct gm_text *out);
	/* directories: the kind of their entries, which names them */
	const struct gmfs_file *entries;
};

/* An inode as the tree finds it, once per request. */
struct gmfs_inode {
	fuse_ino_t ino;
	const struct gmfs_file *file;	/* its kind's operations */
	const struct gmfs_fixed *fixed; /* a fixed file's line, or NULL */
	struct gmfs_node *node;		/* a region or snapshot file, or NULL */
};

/* What every open handle starts with: the daemon keeps them in a list, to
 * free those still open at exit through FILE->handle_free. */
struct gmfs_handle {
	struct gmfs_handle *prev, *next;
	const struct gmfs_file *file;
};

/*
 * The operations of one kind of file. ops.c calls them, once per request,
 * for the inode's kind; a NULL entry gives the answer ops.c says. Those
 * returning int return 0 or -errno and ops.c replies; the others reply
 * themselves. None is called under the lock unless it says so.
 */
struct gmfs_file {
	/* st_mode, st_size and st_blocks (the rest is common to every
	 * file); under the lock */
	int (*stat)(struct gmfs *fs, const struct gmfs_inode *in,
		    struct stat *st);
	/* fill FI (fh, direct_io, keep_cache, nonseekable) */
	int (*open)(struct gmfs *fs, const struct gmfs_inode *in,
		    struct fuse_file_info *fi);
	void (*read)(fuse_req_t req, struct gmfs *fs,
		     const struct gmfs_inode *in, size_t size, off_t off,
		     struct fuse_file_info *fi);
	void (*write)(fuse_req_t req, struct gmfs *fs,
		      const struct gmfs_inode *in, const char *buf, size_t size,
		      off_t off, struct fuse_file_info *fi);
	/* close(): its result is close()'s */
	int (*flush)(struct gmfs *fs, const struct gmfs_inode *in,
		     struct fuse_file_info *fi);
	void (*release)(struct gmfs *fs, const struct gmfs_inode *in,
			struct fuse_file_info *fi);
	/* ops.c replies the attributes after it; FI may be NULL */
	int (*setattr)(struct gmfs *fs, const struct gmfs_inode *in,
		       const struct stat *attr, int to_set,
		       struct fuse_file_info *fi);
	void (*getxattr)(fuse_req_t req, struct gmfs *fs,
			 const struct gmfs_inode *in, const char *name,
			 size_t size);
	int (*setxattr)(struct gmfs *fs, const struct gmfs_inode *in,
			const char *name, const char *value, size_t size,
			int flags);
	void (*listxattr)(fuse_req_t req, struct gmfs *fs,
			  const struct gmfs_inode *in, size_t size);
	int (*removexattr)(struct gmfs *fs, const struct gmfs_inode *in,
			   const char *name);
	/* SEEK_DATA / SEEK_HOLE from OFF into *TO, or -errno (-ENXIO past
	 * the end); under the lock. NULL: the whole file is data */
	int (*lseek)(struct gmfs *fs, const struct gmfs_inode *in, off_t off,
		     int whence, struct fuse_file_info *fi, off_t *to);
	/* free handle H at exit; under the lock */
	void (*handle_free)(struct gmfs *fs, struct gmfs_handle *h);
	/* direct writes of several threads at once (FOPEN_PARALLEL_DIRECT_
	 * WRITES): the kernel then serializes only writes past st_size */
	bool parallel_writes;

	/* The directory whose entries are of this kind (regions/,
	 * snapshots/, regs/), by name. LOOKUP and LIST run under the
	 * lock; LOOKUP takes a lookup count on a node it gives. */
	int (*lookup)(struct gmfs *fs, const char *name, fuse_ino_t *ino);
	int (*list)(fuse_req_t req, struct gmfs *fs, struct gm_text *dir);
	int (*unlink)(struct gmfs *fs, const char *name);
	/* a new file NAME, open in FI, its entry in E */
	int (*create)(struct gmfs *fs, const char *name,
		      struct fuse_file_info *fi, struct fuse_entry_param *e);
	/* mv FROM TO within the directory; FLAGS are rename2's */
	int (*rename)(struct gmfs *fs, const char *from, const char *to,
		      unsigned flags);
};

/* The kinds of files, each in fs/files/. */
extern const struct gmfs_file gmfs_region_file;	  /* regions/START-END */
extern const struct gmfs_file gmfs_mem_file;	  /* mem */
extern const struct gmfs_file gmfs_text_file;	  /* maps, info */
extern const struct gmfs_file gmfs_log_file;	  /* log */
extern const struct gmfs_file gmfs_control_file;  /* ctl, map, unmap, ... */
extern const struct gmfs_file gmfs_reg_file;	  /* regs/NAME */
extern const struct gmfs_file gmfs_snapshot_file; /* snapshots/NAME */
extern const struct gmfs_file gmfs_core_file;	  /* core */

/* When the region of [start, last] last changed (bytes, mapping or
 * protection): one per region that changed since the mount, sorted. */
struct gmfs_stamp {
	uint64_t start, last;
	struct timespec time;
};

/* A file whose mtime is when its text (or listing) was first seen
 * different: maps, info, regions/, snapshots/. */
struct gmfs_watch {
	uint32_t crc;
	uint64_t len;
	struct timespec time;
	bool seen;
};
#define GMFS_WATCHES 64 /* by inode number: the fixed files */

struct gmfs {
	struct gm_guest *guest;
	struct gm_cmd_ctx *cmd;
	struct fuse_session *se;
	time_t mounted; /* the times of every file */
	/* Dynamic nodes sorted by kind, then start and size (regions) or
	 * name (snapshots). Guarded by the guest lock, as everything here. */
	struct gmfs_node **nodes;
	size_t nnodes, cap;
	/* Every node by inode number, and the lowest number maybe free. */
	struct gmfs_node **node_chunks[NODE_CHUNKS];
	size_t node_free;
	struct gmfs_handle *handles; /* open files and directories */
	/* The thread running a control file's command under the lock, 0 when
	 * none: load_elf and load_core open their file, and one inside this
	 * mount would wait for that lock for ever (tree.c refuses it). */
	pid_t cmd_tid;
	/* Times: the regions', the last change of any byte (mem's), and
	 * the watched files'. Under the lock. */
	struct gmfs_stamp *stamps;
	size_t nstamps, stamps_cap;
	struct timespec changed;
	struct gmfs_watch watches[GMFS_WATCHES];
	const char *state_path; /* --state, absolute; or NULL */
	int state_lock;		/* FILE.lock, held until it is written */
};

/* A span of one node's pages the kernel must drop. */
struct gmfs_inval {
	fuse_ino_t ino;
	off_t off, len;
};

/* state.c: --state FILE. PREPARE makes PATH absolute (the daemon runs in
 * /), checks that a file can be written beside it and takes FILE.lock
 * (*LOCK_FD; closing it lets the next daemon start); LOAD gives the guest
 * FILE holds (NULL when there is no FILE), of ARCH unless NULL; STORE
 * writes the guest to it atomically. -errno with a message. */
int gmfs_state_prepare(const char *given, char **path, int *lock_fd,
		       struct gm_error *err);
int gmfs_state_load(const char *path, const struct gm_arch *arch,
		    struct gm_guest **out, struct gm_error *err);
int gmfs_state_store(struct gm_guest *g, const char *path,
		     struct gm_error *err);

/* ops.c: the table libfuse calls, dispatching to the inode's kind */
extern const struct fuse_lowlevel_ops gmfs_ops;

/* tree.c: inodes, names, attributes, directories */
bool gmfs_inode(struct gmfs *fs, fuse_ino_t ino, struct gmfs_inode *in);
int gmfs_stat(struct gmfs *fs, const struct gmfs_inode *in, struct stat *st);
/* Before serving: what the watched files show at the mount. */
void gmfs_times_start(struct gmfs *fs);
void gmfs_reply_attr(fuse_req_t req, struct gmfs *fs,
		     const struct gmfs_inode *in);
void gmfs_lookup(fuse_req_t req, fuse_ino_t parent, const char *name);
void gmfs_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup);
void gmfs_forget_multi(fuse_req_t req, size_t count,
		       struct fuse_forget_data *forgets);
void gmfs_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void gmfs_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void gmfs_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		  struct fuse_file_info *fi);
void gmfs_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);

/* nodes.c: what the files share. Everything under the lock unless said. */
/* setattr of a file that takes commands (control files, regs/): `echo … >
 * FILE` opens with O_TRUNC, which cuts nothing; times are accepted and
 * ignored; anything else is EPERM. */
int gmfs_command_setattr(struct gmfs *fs, const struct gmfs_inode *in,
			 const struct stat *attr, int to_set,
			 struct fuse_file_info *fi);

/* The node for a region range (NAME NULL) or a snapshot name of kind
 * FILE, made if new; NULL when out of memory. */
struct gmfs_node *gmfs_node_get(struct gmfs *fs, const struct gmfs_file *file,
				uint64_t start, uint64_t size,
				const char *name);
/* NULL: not a node. Not under the lock. */
struct gmfs_node *gmfs_node_of(struct gmfs *fs, fuse_ino_t ino);
/* Snapshot node N takes NAME; a node of that name becomes the kernel's
 * alone (found by number, never by name). -ENOMEM. */
int gmfs_node_rename(struct gmfs *fs, struct gmfs_node *n, const char *name);
void gmfs_node_forget(struct gmfs *fs, struct gmfs_node *n, uint64_t count);
/* A handle of NODE was released: free the node if the kernel forgot it. */
void gmfs_node_close(struct gmfs *fs, struct gmfs_node *node);
/* Link H (of kind FILE) into the daemon's handles, and out again. */
void gmfs_handle_add(struct gmfs *fs, struct gmfs_handle *h,
		     const struct gmfs_file *file);
void gmfs_handle_remove(struct gmfs *fs, struct gmfs_handle *h);
/* At exit: free every handle still open, then every node. */
void gmfs_free_all(struct gmfs *fs);
/* The fields of INO's stat common to every file. */
void gmfs_stat_init(struct gmfs *fs, fuse_ino_t ino, struct stat *st);
/* ST's mtime and ctime: the last change of the regions in [START,
 * LAST], if any changed since the mount. */
void gmfs_stat_range_times(struct gmfs *fs, uint64_t start, uint64_t last,
			   struct stat *st);
/* The fixed file INO shows LEN BYTES now: its mtime and ctime in ST (if
 * not NULL) are when that was first seen (the mount time at first). */
void gmfs_watch(struct gmfs *fs, fuse_ino_t ino, const void *bytes, size_t len,
		struct stat *st);
/* Reply SIZE bytes of TEXT from OFF on (none past its end). */
void gmfs_reply_text(fuse_req_t req, const struct gm_text *text, size_t size,
		     off_t off);
/* Add a directory entry to D, whose offset is its end. */
void gmfs_dir_add(fuse_req_t req, struct gm_text *d, const char *name,
		  fuse_ino_t ino, mode_t mode);
/* d_ino of region and snapshot entries: their inode numbers exist only
 * once looked up, and a zero d_ino hides an entry from some programs. */
#define DIRENT_INO 0x1000
/* Collect the pages the kernel may cache that the guest changed (but
 * EXCEPT's, whose own write made the change): *OUT, malloc'd, and how
 * many. Notify after releasing the lock (not under it), or a reader
 * holding a page lock deadlocks us. */
size_t gmfs_changes_take(struct gmfs *fs, fuse_ino_t except,
			 struct gmfs_inval **out);
void gmfs_changes_notify(struct gmfs *fs, struct gmfs_inval *inval, size_t n);
/* After a run: the guest's own stores are in no change record, so every
 * region file the kernel may cache and the guest may write to is dropped
 * whole. Appends to *INVAL (N entries so far); returns the new count. */
size_t gmfs_ran_take(struct gmfs *fs, struct gmfs_inval **inval, size_t n);
/* Run one command line (not under the lock) for an operation on a file
 * (chmod, rm), checked, logged and answered as the command would be. */
int gmfs_run_command(struct gmfs *fs, const char *line);

/* files/region.c, shared with mem: SIZE bytes at OFF of a file whose
 * offset 0 is guest address BASE and whose last offset is LAST. A read
 * past the end is EOF, a write there PAST_END; IN_PLACE replies from the
 * region's memory (page-cache reads only); REPLY_FIRST replies before it
 * invalidates what the write changed (in other files than INO). */
void gmfs_bytes_read(fuse_req_t req, struct gmfs *fs, uint64_t base,
		     uint64_t last, off_t off, size_t size, bool in_place);
void gmfs_bytes_write(fuse_req_t req, struct gmfs *fs, fuse_ino_t ino,
		      uint64_t base, uint64_t last, off_t off, const char *buf,
		      size_t size, int past_end, bool reply_first);

#endif
