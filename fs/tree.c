/*
 * The tree of SPEC §2: the fixed files, regs/, regions/ and snapshots/, their
 * inode numbers and attributes, and the kernel cache kept true after changes.
 * Try it: gmemfs /tmp/g; ls -li /tmp/g /tmp/g/regions; stat /tmp/g/mem
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gmemfs.h"
#include "regions.h"
#include "regs.h"
#include "snapshot.h"

struct fixed_file {
	const char *name;
	fuse_ino_t parent;
	enum gmfs_kind kind;
	mode_t mode;
};

static const struct fixed_file fixed[INO_FIXED_END] = {
    [INO_ROOT] = {"/", INO_ROOT, KIND_DIR, S_IFDIR | 0755},
    [INO_MAPS] = {"maps", INO_ROOT, KIND_TEXT, S_IFREG | 0444},
    [INO_REGIONS] = {"regions", INO_ROOT, KIND_DIR, S_IFDIR | 0755},
    [INO_MEM] = {"mem", INO_ROOT, KIND_MEM, S_IFREG | 0600},
    [INO_CTL] = {"ctl", INO_ROOT, KIND_CONTROL, S_IFREG | 0600},
    [INO_MAP] = {"map", INO_ROOT, KIND_CONTROL, S_IFREG | 0600},
    [INO_UNMAP] = {"unmap", INO_ROOT, KIND_CONTROL, S_IFREG | 0600},
    [INO_SAVE] = {"save", INO_ROOT, KIND_CONTROL, S_IFREG | 0600},
    [INO_RESTORE] = {"restore", INO_ROOT, KIND_CONTROL, S_IFREG | 0600},
    [INO_STACK] = {"stack", INO_ROOT, KIND_CONTROL, S_IFREG | 0600},
    [INO_SNAPSHOTS] = {"snapshots", INO_ROOT, KIND_DIR, S_IFDIR | 0755},
    [INO_REGS] = {"regs", INO_ROOT, KIND_DIR, S_IFDIR | 0755},
    [INO_INFO] = {"info", INO_ROOT, KIND_TEXT, S_IFREG | 0444},
    [INO_LOG] = {"log", INO_ROOT, KIND_TEXT, S_IFREG | 0444},
};

/* Dynamic nodes live at heap addresses, far above the fixed numbers. */
static bool ino_is_node(fuse_ino_t ino)
{
	return ino >= 0x10000;
}

struct gmfs_node *gmfs_node_of(fuse_ino_t ino)
{
	return ino_is_node(ino) ? (struct gmfs_node *)(uintptr_t)ino : NULL;
}

enum gmfs_kind gmfs_kind_of(fuse_ino_t ino)
{
	if (ino_is_node(ino))
		return gmfs_node_of(ino)->kind;
	if (ino >= INO_REG_FIRST)
		return KIND_REG;
	return fixed[ino].kind;
}

bool gmfs_ino_valid(struct gmfs *fs, fuse_ino_t ino)
{
	const struct gm_arch *arch = gm_guest_arch(fs->guest);

	if (ino_is_node(ino))
		return true; /* the kernel only sends numbers we gave it */
	if (ino >= INO_REG_FIRST)
		return ino - INO_REG_FIRST < arch->nregs;
	return ino >= INO_ROOT && ino < INO_FIXED_END;
}

static int node_cmp(const struct gmfs_node *n, enum gmfs_kind kind,
		    uint64_t start, uint64_t size, const char *name)
{
	if (n->kind != kind)
		return n->kind < kind ? -1 : 1;
	if (kind == KIND_SNAPSHOT)
		return strcmp(n->name, name);
	if (n->start != start)
		return n->start < start ? -1 : 1;
	if (n->size != size)
		return n->size < size ? -1 : 1;
	return 0;
}

/* Index of the first node not before the key. */
static size_t node_search(struct gmfs *fs, enum gmfs_kind kind, uint64_t start,
			  uint64_t size, const char *name)
{
	size_t lo = 0, hi = fs->nnodes;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (node_cmp(fs->nodes[mid], kind, start, size, name) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* The node for a region range or a snapshot name, made if new; NULL when
 * out of memory. */
struct gmfs_node *gmfs_node_get(struct gmfs *fs, enum gmfs_kind kind,
				uint64_t start, uint64_t size, const char *name)
{
	size_t i = node_search(fs, kind, start, size, name);
	struct gmfs_node *n;

	if (i < fs->nnodes && !node_cmp(fs->nodes[i], kind, start, size, name))
		return fs->nodes[i];
	if (fs->nnodes == fs->cap) {
		size_t cap = fs->cap ? 2 * fs->cap : 64;
		struct gmfs_node **nodes =
		    realloc(fs->nodes, cap * sizeof(*nodes));

		if (!nodes)
			return NULL;
		fs->nodes = nodes;
		fs->cap = cap;
	}
	n = calloc(1, sizeof(*n));
	if (!n)
		return NULL;
	n->kind = kind;
	n->start = start;
	n->size = size;
	if (name && !(n->name = strdup(name))) {
		free(n);
		return NULL;
	}
	memmove(&fs->nodes[i + 1], &fs->nodes[i],
		(fs->nnodes - i) * sizeof(*fs->nodes));
	fs->nodes[i] = n;
	fs->nnodes++;
	return n;
}

void gmfs_node_forget(struct gmfs *fs, struct gmfs_node *n, uint64_t count)
{
	size_t i;

	n->nlookup -= count < n->nlookup ? count : n->nlookup;
	if (n->nlookup || n->opened)
		return;
	i = node_search(fs, n->kind, n->start, n->size, n->name);
	memmove(&fs->nodes[i], &fs->nodes[i + 1],
		(fs->nnodes - i - 1) * sizeof(*fs->nodes));
	fs->nnodes--;
	free(n->name);
	free(n);
}

/*
 * Collect the pages the kernel may cache that the guest changed since the
 * last call: parts of region nodes overlapping the change. EXCEPT is the
 * node whose own write made the change (its cache is already right).
 * Returns how many spans *OUT (malloc'd) holds. Called under the lock;
 * notify after releasing it, or a reader holding a page lock deadlocks us.
 */
size_t gmfs_changes_take(struct gmfs *fs, fuse_ino_t except,
			 struct gmfs_inval **out)
{
	uint64_t lo, last;
	size_t n = 0;

	*out = NULL;
	if (!gm_guest_take_changes(fs->guest, &lo, &last))
		return 0;
	for (size_t i = 0; i < fs->nnodes; i++) {
		struct gmfs_node *node = fs->nodes[i];
		uint64_t node_last = node->start + (node->size - 1);
		uint64_t a, b;
		struct gmfs_inval *more;

		if (node->kind != KIND_REGION || !node->may_cache)
			continue;
		if (node->start > last || node_last < lo)
			continue;
		if (!node->opened)
			node->may_cache = false;
		if ((fuse_ino_t)(uintptr_t)node == except)
			continue;
		more = realloc(*out, (n + 1) * sizeof(**out));
		if (!more) {
			/* Cannot say which pages: drop the whole file. */
			node->may_cache = true;
			continue;
		}
		*out = more;
		a = lo > node->start ? lo : node->start;
		b = last < node_last ? last : node_last;
		/* A closed node is not looked at again until it is opened,
		 * but the kernel keeps all its pages: drop them all now. */
		if (!node->may_cache) {
			a = node->start;
			b = node_last;
		}
		(*out)[n].ino = (fuse_ino_t)(uintptr_t)node;
		(*out)[n].off = (off_t)(a - node->start);
		/* A length past off_t's range means "to the end": 0. */
		(*out)[n].len = b - a + 1 > INT64_MAX ? 0 : (off_t)(b - a + 1);
		n++;
	}
	return n;
}

void gmfs_changes_notify(struct gmfs *fs, struct gmfs_inval *inval, size_t n)
{
	for (size_t i = 0; i < n; i++)
		fuse_lowlevel_notify_inval_inode(fs->se, inval[i].ino,
						 inval[i].off, inval[i].len);
	free(inval);
}

/* st_size of mem: the address space, or 2^63-1 (the largest offset). */
static uint64_t mem_size(struct gmfs *fs)
{
	uint64_t last = gm_guest_last_addr(fs->guest);

	return last > INT64_MAX ? INT64_MAX : last + 1;
}

int gmfs_stat(struct gmfs *fs, fuse_ino_t ino, struct stat *st)
{
	struct gmfs_node *node = gmfs_node_of(ino);
	struct gm_text text;

	memset(st, 0, sizeof(*st));
	st->st_ino = ino;
	st->st_uid = getuid();
	st->st_gid = getgid();
	st->st_nlink = 1;
	st->st_blksize = 4096;
	st->st_atime = st->st_mtime = st->st_ctime = fs->mounted;
	if (node && node->kind == KIND_REGION) {
		/* Lookups check that the range is still one region; a file
		 * open since a split or an unmap shows what its start is. */
		const struct gm_region *r =
		    gm_region_find(fs->guest, node->start);
		unsigned perms = r ? r->perms : 0;

		st->st_mode = S_IFREG | (perms & GM_PERM_R ? 0400 : 0) |
			      (perms & GM_PERM_W ? 0200 : 0) |
			      (perms & GM_PERM_X ? 0100 : 0);
		st->st_size = node->size > INT64_MAX ? INT64_MAX : node->size;
		st->st_blocks = st->st_size / 512;
		return 0;
	}
	if (node) { /* a snapshot */
		uint64_t size;
		int rc = gmfs_snapshot_size(fs, node, &size);

		if (rc < 0)
			return rc;
		st->st_mode = S_IFREG | 0600; /* writing replaces it */
		st->st_size = (off_t)size;
		st->st_blocks = (blkcnt_t)((size + 511) / 512);
		return 0;
	}
	if (ino >= INO_REG_FIRST) {
		st->st_mode = S_IFREG | 0600;
		goto text_size;
	}
	st->st_mode = fixed[ino].mode;
	if (S_ISDIR(st->st_mode))
		st->st_nlink = 2;
	if (ino == INO_MEM)
		st->st_size = mem_size(fs);
	if (fixed[ino].kind != KIND_TEXT)
		return 0;
text_size:
	/* Exact sizes let `wc -c` and programs that trust st_size work. */
	gm_text_init(&text);
	if (gmfs_text_make(fs, ino, &text) == 0)
		st->st_size = text.len;
	gm_text_free(&text);
	return 0;
}

void gmfs_reply_attr(fuse_req_t req, struct gmfs *fs, fuse_ino_t ino)
{
	struct stat st;
	int rc;

	gm_guest_lock(fs->guest);
	rc = gmfs_stat(fs, ino, &st);
	gm_guest_unlock(fs->guest);
	if (rc)
		fuse_reply_err(req, -rc);
	else
		fuse_reply_attr(req, &st, 0);
}

/* The inode for NAME in the fixed directory PARENT, 0 when there is none. */
static fuse_ino_t fixed_lookup(struct gmfs *fs, fuse_ino_t parent,
			       const char *name)
{
	const struct gm_arch *arch = gm_guest_arch(fs->guest);
	const struct gm_reg *reg;

	/* "pc" and "sp" name the same inode as the register behind them. */
	if (parent == INO_REGS) {
		reg = gm_arch_reg(arch, name);
		return reg ? INO_REG_FIRST + (fuse_ino_t)(reg - arch->regs) : 0;
	}
	for (fuse_ino_t ino = INO_MAPS; ino < INO_FIXED_END; ino++)
		if (fixed[ino].parent == parent &&
		    !strcmp(fixed[ino].name, name))
			return ino;
	return 0;
}

void gmfs_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct gmfs *fs = fuse_req_userdata(req);
	struct fuse_entry_param e = {0};
	struct gmfs_node *node = NULL;
	int rc = 0;

	gm_guest_lock(fs->guest);
	if (parent == INO_REGIONS) {
		const struct gm_region *r = gmfs_region_by_name(fs, name);

		if (r)
			node = gmfs_node_get(fs, KIND_REGION, r->start, r->size,
					     NULL);
	} else if (parent == INO_SNAPSHOTS) {
		/* A name being written is there too, but stat fails for
		 * it unless the snapshot exists or the write goes on. */
		node = gmfs_node_get(fs, KIND_SNAPSHOT, 0, 0, name);
	} else {
		e.ino = fixed_lookup(fs, parent, name);
		/* Fixed names never change: let the kernel keep them. */
		e.entry_timeout = 3600;
	}
	if (node) {
		e.ino = (fuse_ino_t)(uintptr_t)node;
		node->nlookup++;
	}
	rc = e.ino ? gmfs_stat(fs, e.ino, &e.attr) : -ENOENT;
	if (rc && node)
		gmfs_node_forget(fs, node, 1);
	gm_guest_unlock(fs->guest);
	if (rc)
		fuse_reply_err(req, -rc);
	else
		fuse_reply_entry(req, &e);
}

static void forget_one(struct gmfs *fs, fuse_ino_t ino, uint64_t n)
{
	if (ino_is_node(ino))
		gmfs_node_forget(fs, gmfs_node_of(ino), n);
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
	(void)fi;
	gmfs_reply_attr(req, fuse_req_userdata(req), ino);
}

/* d_ino of region and snapshot entries: their inode numbers exist only
 * once looked up, and a zero d_ino hides an entry from some programs. */
#define DIRENT_INO 0x1000

/* A directory listing is made whole at opendir, into a handle's text, so
 * that `ls` sees one state. Each entry carries its end as its offset. */
static void dir_add(fuse_req_t req, struct gm_text *d, const char *name,
		    fuse_ino_t ino, mode_t mode)
{
	struct stat st = {.st_ino = ino, .st_mode = mode};
	char entry[512]; /* a header and a name of at most 255 bytes */
	size_t need = fuse_add_direntry(req, NULL, 0, name, NULL, 0);

	if (need > sizeof(entry)) {
		d->failed = true;
		return;
	}
	fuse_add_direntry(req, entry, need, name, &st, (off_t)(d->len + need));
	gm_text_add(d, entry, need);
}

static void dir_fill(fuse_req_t req, struct gmfs *fs, fuse_ino_t ino,
		     struct gm_text *d)
{
	const struct gm_arch *arch = gm_guest_arch(fs->guest);
	char name[GM_RANGE_NAME_MAX];
	const struct gm_region *r;
	size_t n;

	dir_add(req, d, ".", ino, S_IFDIR);
	dir_add(req, d, "..", INO_ROOT, S_IFDIR);
	switch (ino) {
	case INO_REGIONS:
		r = gm_regions(fs->guest, &n);
		for (size_t i = 0; i < n; i++)
			dir_add(req, d,
				gm_range_name(fs->guest, r[i].start, r[i].size,
					      name),
				DIRENT_INO, S_IFREG);
		return;
	case INO_SNAPSHOTS:
		for (size_t i = 0; i < gm_snap_count(fs->guest); i++)
			dir_add(req, d, gm_snap_at(fs->guest, i)->name,
				DIRENT_INO, S_IFREG);
		return;
	case INO_REGS:
		for (size_t i = 0; i < arch->nregs; i++)
			dir_add(req, d, arch->regs[i].name, INO_REG_FIRST + i,
				S_IFREG);
		if (strcmp(arch->pc_name, "pc"))
			dir_add(req, d, "pc",
				fixed_lookup(fs, INO_REGS, arch->pc_name),
				S_IFREG);
		if (strcmp(arch->sp_name, "sp"))
			dir_add(req, d, "sp",
				fixed_lookup(fs, INO_REGS, arch->sp_name),
				S_IFREG);
		return;
	default:
		for (fuse_ino_t i = INO_MAPS; i < INO_FIXED_END; i++)
			if (fixed[i].parent == ino)
				dir_add(req, d, fixed[i].name, i,
					fixed[i].mode);
	}
}

void gmfs_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct gmfs *fs = fuse_req_userdata(req);
	struct gmfs_handle *h;
	int rc = 0;

	if (!gmfs_ino_valid(fs, ino) || gmfs_kind_of(ino) != KIND_DIR) {
		fuse_reply_err(req, ENOTDIR);
		return;
	}
	gm_guest_lock(fs->guest);
	h = gmfs_handle_new(fs);
	if (h) {
		dir_fill(req, fs, ino, &h->text);
		rc = gm_text_status(&h->text);
		if (rc)
			gmfs_handle_free(fs, h);
	}
	gm_guest_unlock(fs->guest);
	if (!h || rc) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	fi->fh = (uintptr_t)h;
	fuse_reply_open(req, fi);
}

/* A short reply cuts the last entry; the kernel drops it and asks again
 * from the offset of the last whole one (as hello_ll.c relies on). */
void gmfs_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		  struct fuse_file_info *fi)
{
	struct gmfs *fs = fuse_req_userdata(req);
	struct gmfs_handle *h = (struct gmfs_handle *)(uintptr_t)fi->fh;
	size_t left;

	(void)ino;
	gm_guest_lock(fs->guest);
	if ((size_t)off >= h->text.len) {
		fuse_reply_buf(req, NULL, 0);
	} else {
		left = h->text.len - (size_t)off;
		fuse_reply_buf(req, h->text.buf + off,
			       left < size ? left : size);
	}
	gm_guest_unlock(fs->guest);
}

void gmfs_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct gmfs *fs = fuse_req_userdata(req);

	(void)ino;
	gm_guest_lock(fs->guest);
	gmfs_handle_free(fs, (struct gmfs_handle *)(uintptr_t)fi->fh);
	gm_guest_unlock(fs->guest);
	fuse_reply_err(req, 0);
}

/* A file handle of NODE was released: free the node if the kernel forgot
 * it meanwhile. */
void gmfs_node_close(struct gmfs *fs, struct gmfs_node *node)
{
	node->opened--;
	gmfs_node_forget(fs, node, 0);
}
