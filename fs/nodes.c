/*
 * What every kind of file shares: the dynamic nodes of region and snapshot
 * files, the list of open handles, replies from a text, and the kernel's
 * cache kept true after changes. Calls the core only, never a file.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crc32c.h"
#include "gmemfs.h"
#include "regions.h"

/* The slot of inode INO, or NULL. Read without the lock: a chunk, once
 * made, stays, and the kernel only sends numbers of nodes it knows. */
static struct gmfs_node **slot_of(struct gmfs *fs, fuse_ino_t ino)
{
	struct gmfs_node **chunk;
	uint64_t i;

	if (ino < INO_NODE_FIRST)
		return NULL;
	i = ino - INO_NODE_FIRST;
	if (i / NODE_CHUNK >= NODE_CHUNKS)
		return NULL;
	chunk =
	    __atomic_load_n(&fs->node_chunks[i / NODE_CHUNK], __ATOMIC_ACQUIRE);
	return chunk ? &chunk[i % NODE_CHUNK] : NULL;
}

struct gmfs_node *gmfs_node_of(struct gmfs *fs, fuse_ino_t ino)
{
	struct gmfs_node **slot = slot_of(fs, ino);

	return slot ? __atomic_load_n(slot, __ATOMIC_ACQUIRE) : NULL;
}

/* Give N the lowest free inode number (every number below
 * fs->node_free is taken): small numbers, reused only after the kernel
 * forgot them. */
static bool ino_take(struct gmfs *fs, struct gmfs_node *n)
{
	size_t i = fs->node_free;
	struct gmfs_node **slot;

	for (;; i++) {
		if (i / NODE_CHUNK >= NODE_CHUNKS)
			return false;
		if (!fs->node_chunks[i / NODE_CHUNK]) {
			struct gmfs_node **chunk =
			    calloc(NODE_CHUNK, sizeof(*chunk));

			if (!chunk)
				return false;
			__atomic_store_n(&fs->node_chunks[i / NODE_CHUNK],
					 chunk, __ATOMIC_RELEASE);
		}
		slot = &fs->node_chunks[i / NODE_CHUNK][i % NODE_CHUNK];
		if (!*slot)
			break;
	}
	n->ino = INO_NODE_FIRST + i;
	__atomic_store_n(slot, n, __ATOMIC_RELEASE);
	fs->node_free = i + 1;
	return true;
}

static void ino_give_back(struct gmfs *fs, struct gmfs_node *n)
{
	size_t i = n->ino - INO_NODE_FIRST;

	__atomic_store_n(slot_of(fs, n->ino), NULL, __ATOMIC_RELEASE);
	if (i < fs->node_free)
		fs->node_free = i;
}

static int node_cmp(const struct gmfs_node *n, const struct gmfs_file *file,
		    uint64_t start, uint64_t size, const char *name)
{
	if (n->file != file)
		return (uintptr_t)n->file < (uintptr_t)file ? -1 : 1;
	if (name)
		return strcmp(n->name, name);
	if (n->start != start)
		return n->start < start ? -1 : 1;
	if (n->size != size)
		return n->size < size ? -1 : 1;
	return 0;
}

/* Index of the first node not before the key. */
static size_t node_search(struct gmfs *fs, const struct gmfs_file *file,
			  uint64_t start, uint64_t size, const char *name)
{
	size_t lo = 0, hi = fs->nnodes;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (node_cmp(fs->nodes[mid], file, start, size, name) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

struct gmfs_node *gmfs_node_get(struct gmfs *fs, const struct gmfs_file *file,
				uint64_t start, uint64_t size, const char *name)
{
	size_t i = node_search(fs, file, start, size, name);
	struct gmfs_node *n;

	if (i < fs->nnodes && !node_cmp(fs->nodes[i], file, start, size, name))
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
	n->file = file;
	n->start = start;
	n->size = size;
	if ((name && !(n->name = strdup(name))) || !ino_take(fs, n)) {
		free(n->name);
		free(n);
		return NULL;
	}
	memmove(&fs->nodes[i + 1], &fs->nodes[i],
		(fs->nnodes - i) * sizeof(*fs->nodes));
	fs->nodes[i] = n;
	fs->nnodes++;
	n->indexed = true;
	return n;
}

/* Take N out of the index by name (it stays known by its number). */
static void node_unindex(struct gmfs *fs, struct gmfs_node *n)
{
	size_t i;

	if (!n->indexed)
		return;
	i = node_search(fs, n->file, n->start, n->size, n->name);
	memmove(&fs->nodes[i], &fs->nodes[i + 1],
		(fs->nnodes - i - 1) * sizeof(*fs->nodes));
	fs->nnodes--;
	n->indexed = false;
}

void gmfs_node_forget(struct gmfs *fs, struct gmfs_node *n, uint64_t count)
{
	n->nlookup -= count < n->nlookup ? count : n->nlookup;
	if (n->nlookup || n->opened)
		return;
	node_unindex(fs, n);
	ino_give_back(fs, n);
	free(n->name);
	free(n);
}

int gmfs_node_rename(struct gmfs *fs, struct gmfs_node *n, const char *name)
{
	char *copy = strdup(name);
	size_t i;

	if (!copy)
		return -ENOMEM;
	i = node_search(fs, n->file, 0, 0, name);
	if (i < fs->nnodes && !node_cmp(fs->nodes[i], n->file, 0, 0, name) &&
	    fs->nodes[i] != n)
		node_unindex(fs,
			     fs->nodes[i]); /* replaced: the kernel's alone */
	node_unindex(fs, n);
	free(n->name);
	n->name = copy;
	/* n is out of the array, which has room for it again. */
	i = node_search(fs, n->file, 0, 0, name);
	memmove(&fs->nodes[i + 1], &fs->nodes[i],
		(fs->nnodes - i) * sizeof(*fs->nodes));
	fs->nodes[i] = n;
	fs->nnodes++;
	n->indexed = true;
	return 0;
}

void gmfs_node_close(struct gmfs *fs, struct gmfs_node *node)
{
	node->opened--;
	gmfs_node_forget(fs, node, 0);
}

void gmfs_handle_add(struct gmfs *fs, struct gmfs_handle *h,
		     const struct gmfs_file *file)
{
	h->file = file;
	h->prev = NULL;
	h->next = fs->handles;
	if (fs->handles)
		fs->handles->prev = h;
	fs->handles = h;
}

void gmfs_handle_remove(struct gmfs *fs, struct gmfs_handle *h)
{
	if (h->prev)
		h->prev->next = h->next;
	else
		fs->handles = h->next;
	if (h->next)
		h->next->prev = h->prev;
}

void gmfs_free_all(struct gmfs *fs)
{
	/* Files still open when the daemon was told to end. */
	while (fs->handles)
		fs->handles->file->handle_free(fs, fs->handles);
	for (size_t c = 0; c < NODE_CHUNKS && fs->node_chunks[c]; c++) {
		for (size_t i = 0; i < NODE_CHUNK; i++)
			if (fs->node_chunks[c][i]) {
				free(fs->node_chunks[c][i]->name);
				free(fs->node_chunks[c][i]);
			}
		free(fs->node_chunks[c]);
		fs->node_chunks[c] = NULL;
	}
	free(fs->nodes);
	fs->nodes = NULL;
	free(fs->stamps);
	fs->stamps = NULL;
	fs->nnodes = fs->cap = 0;
}

void gmfs_stat_init(struct gmfs *fs, fuse_ino_t ino, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = ino;
	st->st_uid = getuid();
	st->st_gid = getgid();
	st->st_nlink = 1;
	st->st_blksize = 4096;
	st->st_atime = st->st_mtime = st->st_ctime = fs->mounted;
}

void gmfs_reply_text(fuse_req_t req, const struct gm_text *text, size_t size,
		     off_t off)
{
	size_t at = (size_t)off, left;

	if (at >= text->len) {
		fuse_reply_buf(req, NULL, 0);
		return;
	}
	left = text->len - at;
	fuse_reply_buf(req, text->buf + at, size < left ? size : left);
}

/* A directory listing is made whole at opendir, into a handle's text, so
 * that `ls` sees one state. */
void gmfs_dir_add(fuse_req_t req, struct gm_text *d, const char *name,
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

static size_t stamp_first(const struct gmfs *fs, uint64_t at)
{
	size_t lo = 0, hi = fs->nstamps;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (fs->stamps[mid].last < at)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/*
 * The regions in [LO, LAST] changed NOW: their stamps replace the ones
 * there. A change's span covers every region whose range it changed, so
 * the stamps stay the ranges of regions. No memory: the stamps there are
 * dropped, and those regions show an older time.
 */
static void stamps_update(struct gmfs *fs, uint64_t lo, uint64_t last,
			  struct timespec now)
{
	size_t i = stamp_first(fs, lo), j = i, n, first, k = 0;
	const struct gm_region *r = gm_regions(fs->guest, &n);
	size_t hi = n;

	while (j < fs->nstamps && fs->stamps[j].start <= last)
		j++;
	for (first = 0; first < hi;) {
		size_t mid = first + (hi - first) / 2;

		if (r[mid].start + (r[mid].size - 1) < lo)
			first = mid + 1;
		else
			hi = mid;
	}
	while (first + k < n && r[first + k].start <= last)
		k++;
	if (fs->nstamps - (j - i) + k > fs->stamps_cap) {
		size_t cap = 2 * (fs->nstamps + k) + 16;
		struct gmfs_stamp *v =
		    realloc(fs->stamps, cap * sizeof(*fs->stamps));

		if (!v)
			k = 0;
		else {
			fs->stamps = v;
			fs->stamps_cap = cap;
		}
	}
	memmove(&fs->stamps[i + k], &fs->stamps[j],
		(fs->nstamps - j) * sizeof(*fs->stamps));
	fs->nstamps = fs->nstamps - (j - i) + k;
	for (size_t m = 0; m < k; m++) {
		fs->stamps[i + m].start = r[first + m].start;
		fs->stamps[i + m].last =
		    r[first + m].start + (r[first + m].size - 1);
		fs->stamps[i + m].time = now;
	}
}

static bool time_after(struct timespec a, struct timespec b)
{
	return a.tv_sec != b.tv_sec ? a.tv_sec > b.tv_sec
				    : a.tv_nsec > b.tv_nsec;
}

void gmfs_stat_range_times(struct gmfs *fs, uint64_t start, uint64_t last,
			   struct stat *st)
{
	for (size_t i = stamp_first(fs, start);
	     i < fs->nstamps && fs->stamps[i].start <= last; i++)
		if (time_after(fs->stamps[i].time, st->st_mtim))
			st->st_mtim = st->st_ctim = fs->stamps[i].time;
}

void gmfs_watch(struct gmfs *fs, fuse_ino_t ino, const void *bytes, size_t len,
		struct stat *st)
{
	struct gmfs_watch *w;
	uint32_t crc;

	if (ino >= GMFS_WATCHES)
		return;
	w = &fs->watches[ino];
	crc = gm_crc32c(0, bytes, len);
	if (!w->seen) {
		w->seen = true;
		w->time = (struct timespec){.tv_sec = fs->mounted};
	} else if (crc != w->crc || len != w->len) {
		clock_gettime(CLOCK_REALTIME, &w->time);
	}
	w->crc = crc;
	w->len = len;
	if (st)
		st->st_mtim = st->st_ctim = w->time;
}

/*
 * The parts of region nodes overlapping the guest's change since the last
 * call (only region files set may_cache); the regions there, and mem, take
 * the time of the change.
 */
size_t gmfs_changes_take(struct gmfs *fs, fuse_ino_t except,
			 struct gmfs_inval **out)
{
	uint64_t lo, last;
	size_t n = 0;

	*out = NULL;
	if (!gm_guest_take_changes(fs->guest, &lo, &last))
		return 0;
	clock_gettime(CLOCK_REALTIME, &fs->changed);
	stamps_update(fs, lo, last, fs->changed);
	for (size_t i = 0; i < fs->nnodes; i++) {
		struct gmfs_node *node = fs->nodes[i];
		uint64_t node_last = node->start + (node->size - 1);
		uint64_t a, b;
		struct gmfs_inval *more;

		if (!node->may_cache)
			continue;
		if (node->start > last || node_last < lo)
			continue;
		if (!node->opened)
			node->may_cache = false;
		if (node->ino == except)
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
		(*out)[n].ino = node->ino;
		(*out)[n].off = (off_t)(a - node->start);
		/* A length past off_t's range means "to the end": 0. */
		(*out)[n].len = b - a + 1 > INT64_MAX ? 0 : (off_t)(b - a + 1);
		n++;
	}
	return n;
}

/* Does the guest have write permission somewhere in [start, last]? */
static bool guest_may_write(struct gmfs *fs, uint64_t start, uint64_t last)
{
	const struct gm_region *r;
	size_t n;

	r = gm_regions(fs->guest, &n);
	for (size_t i = 0; i < n && r[i].start <= last; i++)
		if ((r[i].perms & GM_PERM_W) &&
		    r[i].start + (r[i].size - 1) >= start)
			return true;
	return false;
}

size_t gmfs_ran_take(struct gmfs *fs, struct gmfs_inval **inval, size_t n)
{
	for (size_t i = 0; i < fs->nnodes; i++) {
		struct gmfs_node *node = fs->nodes[i];
		struct gmfs_inval *more;

		if (!node->may_cache ||
		    !guest_may_write(fs, node->start,
				     node->start + (node->size - 1)))
			continue;
		more = realloc(*inval, (n + 1) * sizeof(**inval));
		if (!more)
			continue; /* its pages may be stale: nothing better */
		*inval = more;
		/* Offset 0, length 0: the whole file. */
		(*inval)[n++] = (struct gmfs_inval){.ino = node->ino};
		if (!node->opened)
			node->may_cache = false;
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

int gmfs_run_command(struct gmfs *fs, const char *line)
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

int gmfs_command_setattr(struct gmfs *fs, const struct gmfs_inode *in,
			 const struct stat *attr, int to_set,
			 struct fuse_file_info *fi)
{
	(void)fs, (void)in, (void)attr, (void)fi;
	if (to_set & ~(FUSE_SET_ATTR_SIZE | FUSE_SET_ATTR_ATIME |
		       FUSE_SET_ATTR_MTIME | FUSE_SET_ATTR_ATIME_NOW |
		       FUSE_SET_ATTR_MTIME_NOW | FUSE_SET_ATTR_CTIME))
		return -EPERM;
	return 0;
}
