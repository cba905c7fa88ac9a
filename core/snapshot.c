/*
 * Snapshots in memory. A snapshot copies every region's bytes (skipping
 * zero pages, which cost nothing) and every register. Restore reuses the
 * regions whose range did not change, so it costs a memcpy, not a remap.
 */
#include "guest-priv.h"
#include "regs.h"
#include "snapfile.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

static size_t snap_index(const struct gm_guest *g, const char *name)
{
	for (size_t i = 0; i < g->nsnaps; i++)
		if (strcmp(g->snaps[i]->name, name) == 0)
			return i;
	return SIZE_MAX;
}

/* Room in g->snaps for one more. */
static int snap_grow(struct gm_guest *g, struct gm_error *err)
{
	struct gm_snapshot **v =
	    realloc(g->snaps, (g->nsnaps + 1) * sizeof(*v));

	if (!v)
		return gm_fail(err, ENOSPC, "no host memory for a snapshot");
	g->snaps = v;
	return 0;
}

/* What a snapshot named NAME may store: the limit less what the others
 * hold (the one of that name is replaced, so it does not count). */
static uint64_t snap_budget(const struct gm_guest *g, const char *name)
{
	size_t old = snap_index(g, name);
	uint64_t budget =
	    g->snap_limit > g->snap_bytes ? g->snap_limit - g->snap_bytes : 0;

	if (old != SIZE_MAX)
		budget += g->snaps[old]->stored_bytes;
	return budget;
}

/* Add S, replacing the snapshot of its name; g->snaps has room. */
static void snap_insert(struct gm_guest *g, struct gm_snapshot *s)
{
	if (snap_index(g, s->name) != SIZE_MAX)
		gm_snap_drop(g, s->name, NULL);
	s->refs = 1; /* the list's */
	clock_gettime(CLOCK_REALTIME, &s->made);
	g->snaps[g->nsnaps++] = s;
	g->snap_bytes += s->stored_bytes;
}

/* Whether S, made elsewhere, describes memory of this guest's kind. */
static int snap_fits(const struct gm_guest *g, const struct gm_snapshot *s,
		     struct gm_error *err)
{
	if (s->borrowed) /* no bitmap, and its memory may be the guest's */
		return gm_fail(err, EINVAL, "a view is not a snapshot");
	if (s->arch != g->arch)
		return gm_fail(err, EINVAL,
			       "a snapshot of an architecture other than this "
			       "guest's: %s, not %s",
			       s->arch->name, g->arch->name);
	if (s->page_size != g->page_size)
		return gm_fail(err, EINVAL,
			       "a snapshot with 0x%llx-byte pages, and this "
			       "guest's are 0x%llx",
			       (unsigned long long)s->page_size,
			       (unsigned long long)g->page_size);
	return 0;
}

/* Whether the UTF-8 at P (LEFT bytes) starts with a C1 control or a
 * character that reorders text (bidi marks, embeddings, overrides and
 * isolates): a name holding one could show as another in `ls`. */
static bool spoofing_char(const unsigned char *p, size_t left)
{
	if (left >= 2 && p[0] == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f)
		return true; /* U+0080-U+009F */
	if (left >= 2 && p[0] == 0xd8 && p[1] == 0x9c)
		return true; /* U+061C arabic letter mark */
	if (left < 3 || p[0] != 0xe2)
		return false;
	if (p[1] == 0x80)
		return p[2] == 0x8e || p[2] == 0x8f || /* U+200E, U+200F */
		       (p[2] >= 0xaa && p[2] <= 0xae); /* U+202A-U+202E */
	return p[1] == 0x81 && p[2] >= 0xa6 && p[2] <= 0xa9; /* U+2066-9 */
}

int gm_snap_name_check(const char *name, struct gm_error *err)
{
	size_t len = name ? strlen(name) : 0;

	if (len == 0)
		return gm_fail(err, EINVAL, "empty snapshot name");
	if (len > GM_SNAP_NAME_MAX)
		return gm_fail(err, EINVAL,
			       "a snapshot name holds at most %d bytes",
			       GM_SNAP_NAME_MAX);
	if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return gm_fail(err, EINVAL, "\"%s\" cannot name a snapshot",
			       name);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)name[i];

		if (c == '/' || c < 0x20 || c == 0x7f)
			return gm_fail(err, EINVAL,
				       "a snapshot name cannot hold '/' or "
				       "control characters");
		if (spoofing_char((const unsigned char *)name + i, len - i))
			return gm_fail(
			    err, EINVAL,
			    "a snapshot name cannot hold control "
			    "or bidirectional formatting characters");
	}
	return 0;
}

/* Copy region R into SR, page by page, leaving zero pages unwritten;
 * with S->borrowed, point SR at R's memory instead. BUDGET is what
 * snapshot memory may still grow by. */
static int capture_region(const struct gm_guest *g, const struct gm_region *r,
			  struct gm_snapshot *s, struct gm_snap_region *sr,
			  uint64_t budget, struct gm_error *err)
{
	uint64_t pages = r->size / g->page_size;

	sr->start = r->start;
	sr->size = r->size;
	sr->perms = r->perms;
	sr->label_len = r->label_len;
	sr->label = malloc(r->label_len + 1);
	if (!sr->label)
		return gm_fail(err, ENOMEM, "out of memory");
	memcpy(sr->label, r->label, r->label_len + 1);
	if (s->borrowed) {
		sr->bytes = r->host;
		return 0;
	}
	sr->present = calloc((size_t)(pages + 7) / 8, 1);
	sr->bytes = mmap(NULL, r->size, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (sr->bytes == MAP_FAILED)
		sr->bytes = NULL;
	if (!sr->present || !sr->bytes)
		return gm_fail(err, ENOSPC,
			       "no host memory for a snapshot of 0x%llx bytes",
			       (unsigned long long)r->size);
	for (uint64_t p = 0; p < pages; p++) {
		const uint8_t *src = r->host + p * g->page_size;

		if (gm_page_is_zero(src, g->page_size))
			continue;
		if (s->stored_bytes + g->page_size > budget)
			return gm_fail(err, ENOSPC,
				       "snapshots may hold 0x%llx bytes and "
				       "this one needs more",
				       (unsigned long long)g->snap_limit);
		memcpy(sr->bytes + p * g->page_size, src, g->page_size);
		sr->present[p / 8] |= (uint8_t)(1u << (p % 8));
		s->stored_bytes += g->page_size;
	}
	return 0;
}

/* The guest as snapshot NAME (NULL for a view), copied, or borrowed when
 * BORROW. */
static int capture(struct gm_guest *g, const char *name, uint64_t budget,
		   bool borrow, struct gm_snapshot **out, struct gm_error *err)
{
	struct gm_snapshot *s = calloc(1, sizeof(*s));
	int rc = 0;

	if (!s || (name && !(s->name = strdup(name))) ||
	    !(s->regions = calloc(g->nregions + 1, sizeof(*s->regions))) ||
	    !(s->regs = calloc(g->arch->nregs, sizeof(*s->regs)))) {
		gm_snapshot_free(s);
		return gm_fail(err, ENOSPC, "no host memory for a snapshot");
	}
	s->arch = g->arch;
	s->page_size = g->page_size;
	s->borrowed = borrow;
	for (size_t i = 0; i < g->nregions && rc == 0; i++) {
		s->nregions++;
		rc = capture_region(g, &g->regions[i], s, &s->regions[i],
				    budget, err);
	}
	for (size_t i = 0; i < g->arch->nregs && rc == 0; i++)
		rc = gm_reg_read(g, &g->arch->regs[i], &s->regs[i], err);
	if (rc < 0) {
		gm_snapshot_free(s);
		return rc;
	}
	*out = s;
	return 0;
}

int gm_snap_save(struct gm_guest *g, const char *name, const char **saved,
		 struct gm_error *err)
{
	char auto_name[32];
	struct gm_snapshot *s = NULL;
	int rc = gm_guest_idle(g, err);

	if (rc < 0)
		return rc;
	if (!name) {
		do
			snprintf(auto_name, sizeof(auto_name), "snap-%llu",
				 (unsigned long long)++g->snap_seq);
		while (snap_index(g, auto_name) != SIZE_MAX);
		name = auto_name;
	}
	rc = gm_snap_name_check(name, err);
	if (rc == 0)
		rc = snap_grow(g, err);
	if (rc < 0)
		return rc;
	rc = capture(g, name, snap_budget(g, name), false, &s, err);
	if (rc < 0)
		return rc;
	snap_insert(g, s);
	if (saved)
		*saved = s->name;
	return 0;
}

int gm_snap_add(struct gm_guest *g, struct gm_snapshot *s, struct gm_error *err)
{
	int rc = gm_guest_idle(g, err);

	if (rc == 0)
		rc = snap_fits(g, s, err);
	if (rc == 0)
		rc = gm_snap_name_check(s->name, err);
	if (rc < 0)
		return rc;
	if (s->stored_bytes > snap_budget(g, s->name))
		return gm_fail(err, ENOSPC,
			       "snapshots may hold 0x%llx bytes and this one "
			       "needs more",
			       (unsigned long long)g->snap_limit);
	rc = snap_grow(g, err);
	if (rc < 0)
		return rc;
	snap_insert(g, s);
	return 0;
}

int gm_snap_view(struct gm_guest *g, struct gm_snapshot **out,
		 struct gm_error *err)
{
	*out = NULL;
	return capture(g, NULL, 0, true, out, err);
}

int gm_snap_take(struct gm_guest *g, struct gm_snapshot **out,
		 struct gm_error *err)
{
	*out = NULL;
	return capture(g, NULL, snap_budget(g, ""), false, out, err);
}

int gm_snap_store(struct gm_guest *g, const char *path, struct gm_error *err)
{
	struct gm_snapshot *view = NULL;
	int rc = gm_snap_view(g, &view, err);

	if (rc == 0)
		rc = gm_snapfile_store(view, path, err);
	gm_snapshot_free(view);
	return rc;
}

/* Restore */

/*
 * The regions the guest will have: a region whose range is unchanged keeps
 * its host memory (FRESH[i] false), the others get new zeroed blocks.
 */
static int restore_layout(struct gm_guest *g, const struct gm_snapshot *s,
			  struct gm_region *new, bool *fresh,
			  struct gm_error *err)
{
	for (size_t i = 0; i < s->nregions; i++) {
		const struct gm_snap_region *sr = &s->regions[i];
		const struct gm_region *cur = gm_region_find(g, sr->start);
		struct gm_region *r = &new[i];

		r->start = sr->start;
		r->size = sr->size;
		r->perms = sr->perms;
		r->label_len = sr->label_len;
		r->label = malloc(sr->label_len + 1);
		if (!r->label)
			return gm_fail(err, ENOMEM, "out of memory");
		memcpy(r->label, sr->label, sr->label_len + 1);
		fresh[i] =
		    !cur || cur->start != sr->start || cur->size != sr->size;
		r->block = fresh[i] ? gm_block_new(sr->size) : cur->block;
		if (!r->block)
			return gm_fail(err, ENOMEM,
				       "cannot allocate 0x%llx bytes of host "
				       "memory",
				       (unsigned long long)sr->size);
		r->host = fresh[i] ? r->block->base : cur->host;
	}
	return 0;
}

static void layout_free(struct gm_region *new, const bool *fresh, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(new[i].label);
		if (fresh[i])
			gm_block_discard(new[i].block);
	}
}

static void restore_bytes(const struct gm_guest *g,
			  const struct gm_snap_region *sr, uint8_t *host,
			  bool fresh)
{
	uint64_t pages = sr->size / g->page_size, ps = g->page_size;

	for (uint64_t p = 0, q; p < pages; p = q) {
		bool present = gm_snap_page_saved(sr, p);

		for (q = p + 1;
		     q < pages && gm_snap_page_saved(sr, q) == present;)
			q++;
		if (present) /* one copy per run of saved pages */
			memcpy(host + p * ps, sr->bytes + p * ps, (q - p) * ps);
		else if (!fresh)
			for (uint64_t z = p; z < q; z++)
				if (!gm_page_is_zero(host + z * ps, ps))
					memset(host + z * ps, 0, ps);
	}
}

/* Write the snapshot's registers, keeping the current ones in BACKUP to
 * undo a later failure. */
static int restore_regs(struct gm_guest *g, const uint64_t *values,
			uint64_t *backup, struct gm_error *err)
{
	const struct gm_arch *a = g->arch;
	size_t i;
	int rc = 0;

	for (i = 0; i < a->nregs && rc == 0; i++)
		rc = gm_reg_read(g, &a->regs[i], &backup[i], err);
	for (i = 0; i < a->nregs && rc == 0; i++)
		rc = gm_reg_write(g, &a->regs[i], values[i], err);
	if (rc < 0)
		while (i-- > 0)
			gm_reg_write(g, &a->regs[i], backup[i], NULL);
	return rc;
}

int gm_snap_restore(struct gm_guest *g, const char *name, struct gm_error *err)
{
	const struct gm_snapshot *s = name	  ? gm_snap_find(g, name)
				      : g->nsnaps ? g->snaps[g->nsnaps - 1]
						  : NULL;

	if (gm_guest_idle(g, err) < 0)
		return -EBUSY;
	if (!s)
		return name ? gm_fail(err, ENOENT, "no snapshot named \"%s\"",
				      name)
			    : gm_fail(err, ENOENT, "no snapshot to restore");
	return gm_snap_restore_from(g, s, err);
}

int gm_snap_restore_from(struct gm_guest *g, const struct gm_snapshot *s,
			 struct gm_error *err)
{
	struct gm_region *new = NULL;
	uint64_t *backup = NULL;
	bool *fresh = NULL;
	int rc = gm_guest_idle(g, err);

	if (rc == 0)
		rc = snap_fits(g, s, err);
	if (rc < 0)
		return rc;
	new = calloc(s->nregions + 1, sizeof(*new));
	fresh = calloc(s->nregions + 1, sizeof(*fresh));
	backup = calloc(g->arch->nregs, sizeof(*backup));
	if (!new || !fresh || !backup) {
		rc = gm_fail(err, ENOMEM, "out of memory");
		goto out;
	}
	rc = restore_layout(g, s, new, fresh, err);
	if (rc == 0)
		rc = restore_regs(g, s->regs, backup, err);
	if (rc < 0) {
		layout_free(new, fresh, s->nregions);
		goto out;
	}
	rc = gm_regions_replace(g, 0, g->nregions, new, s->nregions, err);
	if (rc < 0) {
		for (size_t i = 0; i < g->arch->nregs; i++)
			gm_reg_write(g, &g->arch->regs[i], backup[i], NULL);
		layout_free(new, fresh, s->nregions);
		goto out;
	}
	/* A region that kept its host memory changes under the engine: its
	 * code goes region by region (a whole TB flush would clear all of
	 * Unicorn's code buffer, which costs more than the copy). Fresh
	 * regions were mapped by the engine steps, which noted them. */
	for (size_t i = 0; i < s->nregions; i++) {
		restore_bytes(g, &s->regions[i], g->regions[i].host, fresh[i]);
		if (!fresh[i])
			gm_changed(g, g->regions[i].start, g->regions[i].size);
	}
out:
	free(backup);
	free(fresh);
	free(new);
	return rc;
}

int gm_snap_rename(struct gm_guest *g, const char *from, const char *to,
		   struct gm_error *err)
{
	size_t i = snap_index(g, from);
	char *name;
	int rc;

	if (i == SIZE_MAX)
		return gm_fail(err, ENOENT, "no snapshot named \"%s\"", from);
	rc = gm_snap_name_check(to, err);
	if (rc < 0 || strcmp(from, to) == 0)
		return rc;
	name = strdup(to);
	if (!name)
		return gm_fail(err, ENOSPC, "no host memory for a snapshot");
	if (snap_index(g, to) != SIZE_MAX)
		gm_snap_drop(g, to, NULL);
	i = snap_index(g, from);
	free(g->snaps[i]->name);
	g->snaps[i]->name = name;
	return 0;
}

int gm_snap_drop(struct gm_guest *g, const char *name, struct gm_error *err)
{
	size_t i = name ? snap_index(g, name) : SIZE_MAX;

	if (gm_guest_idle(g, err) < 0)
		return -EBUSY;
	if (i == SIZE_MAX)
		return gm_fail(err, ENOENT, "no snapshot named \"%s\"",
			       name ? name : "");
	g->snap_bytes -= g->snaps[i]->stored_bytes;
	gm_snap_put(g->snaps[i]);
	memmove(&g->snaps[i], &g->snaps[i + 1],
		(g->nsnaps - i - 1) * sizeof(*g->snaps));
	g->nsnaps--;
	return 0;
}

struct gm_snapshot *gm_snap_hold(const struct gm_snapshot *s)
{
	struct gm_snapshot *held = (struct gm_snapshot *)s;

	held->refs++;
	return held;
}

void gm_snap_put(struct gm_snapshot *s)
{
	if (--s->refs == 0)
		gm_snapshot_free(s);
}

size_t gm_snap_count(const struct gm_guest *g)
{
	return g->nsnaps;
}

const struct gm_snapshot *gm_snap_at(const struct gm_guest *g, size_t i)
{
	return i < g->nsnaps ? g->snaps[i] : NULL;
}

const struct gm_snapshot *gm_snap_find(const struct gm_guest *g,
				       const char *name)
{
	size_t i = snap_index(g, name);

	return i == SIZE_MAX ? NULL : g->snaps[i];
}
