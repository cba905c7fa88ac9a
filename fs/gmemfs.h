/*
 * The daemon's context and the pieces of the tree. fs/ serves the guest of
 * core/ as files; it knows the core and the command language, not Unicorn.
 */
#ifndef GMEMFS_H
#define GMEMFS_H

#define FUSE_USE_VERSION 312

#include <fuse_lowlevel.h>
#include <stdbool.h>
#include <stdint.h>

#include "cmd/cmd.h"
#include "guest.h"
#include "snapfile.h"

/* The fixed inodes; registers and dynamic nodes come after them. */
enum gmfs_ino {
	INO_ROOT = FUSE_ROOT_ID,
	INO_MAPS,
	INO_REGIONS,
	INO_MEM,
	INO_CTL,
	INO_MAP,
	INO_UNMAP,
	INO_SAVE,
	INO_RESTORE,
	INO_STACK,
	INO_SNAPSHOTS,
	INO_REGS,
	INO_INFO,
	INO_LOG,
	INO_FIXED_END,
	INO_REG_FIRST = 0x100, /* regs/NAME: 0x100 + register index */
};

enum gmfs_kind {
	KIND_DIR,
	KIND_TEXT,    /* maps, info, log: read-only text made at open */
	KIND_MEM,     /* mem */
	KIND_CONTROL, /* ctl, map, unmap, save, restore, stack */
	KIND_REG,     /* regs/NAME */
	KIND_REGION,  /* regions/START-END */
	KIND_SNAPSHOT,
};

/*
 * A region or snapshot file the kernel knows. Its inode number is its
 * address (as passthrough_ll does), valid until the kernel forgets it. A
 * region node stands for its range: I/O goes to those addresses, so a node
 * outlives a split or an unmap only as a view that fails with EIO.
 */
struct gmfs_node {
	enum gmfs_kind kind;
	uint64_t start, size; /* KIND_REGION */
	char *name;	      /* KIND_SNAPSHOT */
	uint64_t nlookup;
	unsigned opened; /* open file handles */
	/* KIND_SNAPSHOT: handles writing a new file, and the size of the
	 * file last written or opened for reading */
	unsigned importing;
	uint64_t open_size;
	bool may_cache; /* the kernel may hold pages of it */
};

struct gmfs {
	struct gm_guest *guest;
	struct gm_cmd_ctx *cmd;
	struct fuse_session *se;
	time_t mounted; /* the times of every file */
	/* Dynamic nodes sorted by kind, then start and size (regions) or
	 * name (snapshots). Guarded by the guest lock, as everything here. */
	struct gmfs_node **nodes;
	size_t nnodes, cap;
	struct gmfs_handle *handles; /* open files and directories */
	const char *state_path;	     /* --state, absolute; or NULL */
	int state_lock;		     /* FILE.lock, held until it is written */
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

/* ops.c: the table libfuse calls, dispatching on the kind of node */
extern const struct fuse_lowlevel_ops gmfs_ops;

/* tree.c: names, attributes, directories */
void gmfs_lookup(fuse_req_t req, fuse_ino_t parent, const char *name);
void gmfs_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup);
void gmfs_forget_multi(fuse_req_t req, size_t count,
		       struct fuse_forget_data *forgets);
void gmfs_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void gmfs_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void gmfs_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		  struct fuse_file_info *fi);
void gmfs_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
bool gmfs_ino_valid(struct gmfs *fs, fuse_ino_t ino);
struct gmfs_node *gmfs_node_get(struct gmfs *fs, enum gmfs_kind kind,
				uint64_t start, uint64_t size,
				const char *name);
void gmfs_node_forget(struct gmfs *fs, struct gmfs_node *n, uint64_t count);
void gmfs_node_close(struct gmfs *fs, struct gmfs_node *node);
struct gmfs_node *gmfs_node_of(fuse_ino_t ino);
enum gmfs_kind gmfs_kind_of(fuse_ino_t ino);
size_t gmfs_changes_take(struct gmfs *fs, fuse_ino_t except,
			 struct gmfs_inval **out);
void gmfs_changes_notify(struct gmfs *fs, struct gmfs_inval *inval, size_t n);
void gmfs_reply_attr(fuse_req_t req, struct gmfs *fs, fuse_ino_t ino);
int gmfs_stat(struct gmfs *fs, fuse_ino_t ino, struct stat *st);

/* files/region.c: region files and mem */
void gmfs_region_open(fuse_req_t req, struct gmfs *fs, fuse_ino_t ino,
		      struct fuse_file_info *fi);
void gmfs_region_read(fuse_req_t req, struct gmfs *fs, fuse_ino_t ino,
		      size_t size, off_t off);
void gmfs_region_write(fuse_req_t req, struct gmfs *fs, fuse_ino_t ino,
		       const char *buf, size_t size, off_t off);
void gmfs_region_setattr(fuse_req_t req, struct gmfs *fs, fuse_ino_t ino,
			 struct stat *attr, int to_set);
void gmfs_region_unlink(fuse_req_t req, struct gmfs *fs, const char *name);
void gmfs_region_getxattr(fuse_req_t req, struct gmfs *fs, fuse_ino_t ino,
			  const char *name, size_t size);
void gmfs_region_setxattr(fuse_req_t req, struct gmfs *fs, fuse_ino_t ino,
			  const char *name, const char *value, size_t size,
			  int flags);
void gmfs_region_listxattr(fuse_req_t req, size_t size);
const struct gm_region *gmfs_region_by_name(struct gmfs *fs, const char *name);

/* files/text.c: maps, info, log, regs/, and the control files' answers */
struct gmfs_handle {
	struct gmfs_handle *prev, *next; /* the daemon's open handles */
	struct gm_text text;		 /* what reads return */
	struct gm_text pending; /* control files: a line without its end */
	size_t cursor;		/* control files: next byte to read */
	bool answered;		/* text holds a command's answer */
	/* snapshots/NAME, read: the snapshot, and its file laid out */
	struct gm_snapshot *export;
	struct gm_snapfile_pieces pieces;
	/* snapshots/NAME, written: the file, imported at close to IMPORT's
	 * name when IMPORT_PENDING */
	uint8_t *bytes;
	size_t len, cap;
	struct gmfs_node *node; /* snapshots/NAME's */
	bool import, import_pending;
};
/* A new handle, or NULL when out of memory; free it with
 * gmfs_handle_free. Both under the lock: the daemon frees what is left
 * open at exit, and a reply from a handle's text is made under the lock so
 * that a release on another thread cannot free it under the reply. */
struct gmfs_handle *gmfs_handle_new(struct gmfs *fs);
void gmfs_handle_free(struct gmfs *fs, struct gmfs_handle *h);
int gmfs_text_make(struct gmfs *fs, fuse_ino_t ino, struct gm_text *out);
void gmfs_text_open(fuse_req_t req, struct gmfs *fs, fuse_ino_t ino,
		    struct fuse_file_info *fi);
void gmfs_text_read(fuse_req_t req, struct gmfs *fs, fuse_ino_t ino,
		    size_t size, off_t off, struct fuse_file_info *fi);
void gmfs_text_release(fuse_req_t req, struct gmfs *fs, fuse_ino_t ino,
		       struct fuse_file_info *fi);

/* files/control.c */
int gmfs_control_finish(struct gmfs *fs, fuse_ino_t ino, struct gmfs_handle *h);
void gmfs_control_write(fuse_req_t req, struct gmfs *fs, fuse_ino_t ino,
			const char *buf, size_t size,
			struct fuse_file_info *fi);

/* files/snapshot.c: snapshots/NAME in the snapshot file format */
void gmfs_snapshot_open(fuse_req_t req, struct gmfs *fs, fuse_ino_t ino,
			struct fuse_file_info *fi);
void gmfs_snapshot_create(fuse_req_t req, struct gmfs *fs, const char *name,
			  struct fuse_file_info *fi);
void gmfs_snapshot_read(fuse_req_t req, struct gmfs *fs, size_t size, off_t off,
			struct fuse_file_info *fi);
void gmfs_snapshot_write(fuse_req_t req, struct gmfs *fs, const char *buf,
			 size_t size, off_t off, struct fuse_file_info *fi);
void gmfs_snapshot_setattr(fuse_req_t req, struct gmfs *fs, fuse_ino_t ino,
			   struct stat *attr, int to_set,
			   struct fuse_file_info *fi);
int gmfs_snapshot_finish(struct gmfs *fs, struct gmfs_handle *h);
void gmfs_snapshot_release(struct gmfs *fs, struct gmfs_handle *h);
void gmfs_snapshot_handle_free(struct gmfs_handle *h); /* under the lock */
void gmfs_snapshot_unlink(fuse_req_t req, struct gmfs *fs, const char *name);
/* The size of snapshot node NODE's file; the caller holds the lock. */
int gmfs_snapshot_size(struct gmfs *fs, const struct gmfs_node *node,
		       uint64_t *size);

#endif
