/*
 * The region map: a sorted array of disjoint regions mirrored into the
 * engine. Every change goes through gm_regions_replace, which applies it to
 * the engine step by step and undoes the steps if one fails.
 */
#include "guest-priv.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static uint64_t region_last(const struct gm_region *r)
{
	return r->start + r->size - 1;
}

int gm_range_check(const struct gm_guest *g, uint64_t addr, uint64_t size,
		   bool aligned, struct gm_error *err)
{
	char range[48];

	if (size == 0)
		return gm_fail(err, EINVAL, "empty range at 0x%llx",
			       (unsigned long long)addr);
	if (addr > g->last_addr || size - 1 > g->last_addr - addr)
		return gm_fail(err, EINVAL,
			       "0x%llx+0x%llx passes the end of the %u-bit "
			       "address space",
			       (unsigned long long)addr,
			       (unsigned long long)size, g->arch->address_bits);
	if (aligned && ((addr | size) & (g->page_size - 1)) != 0)
		return gm_fail(err, EINVAL,
			       "%s is not a multiple of the page size 0x%llx",
			       gm_range_str(range, addr, size),
			       (unsigned long long)g->page_size);
	return 0;
}

size_t gm_region_lower_bound(const struct gm_guest *g, uint64_t addr)
{
	size_t lo = 0, hi = g->nregions;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (region_last(&g->regions[mid]) < addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

const struct gm_region *gm_regions(const struct gm_guest *g, size_t *count)
{
	*count = g->nregions;
	return g->regions;
}

const struct gm_region *gm_region_find(const struct gm_guest *g, uint64_t addr)
{
	size_t i = gm_region_lower_bound(g, addr);

	if (i < g->nregions && g->regions[i].start <= addr)
		return &g->regions[i];
	return NULL;
}

int gm_range_mapped(const struct gm_guest *g, uint64_t addr, uint64_t size,
		    struct gm_error *err)
{
	uint64_t cur = addr, last = addr + size - 1;
	size_t i = gm_region_lower_bound(g, addr);

	for (;; i++) {
		if (i == g->nregions || g->regions[i].start > cur)
			return gm_fail(err, EFAULT, "0x%llx is not mapped",
				       (unsigned long long)cur);
		if (region_last(&g->regions[i]) >= last)
			return 0;
		cur = region_last(&g->regions[i]) + 1;
	}
}

/* Host memory */

struct gm_block *gm_block_new(uint64_t size)
{
	struct gm_block *b;

	if (size == 0 || size > SIZE_MAX)
		return NULL;
	b = calloc(1, sizeof(*b));
	if (!b)
		return NULL;
	/* No MAP_NORESERVE: a map the host cannot back fails here, with a
	 * message, instead of the daemon being killed when it is touched. */
	b->base = mmap(NULL, size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (b->base == MAP_FAILED) {
		free(b);
		return NULL;
	}
	b->size = size;
	return b;
}

void gm_block_discard(struct gm_block *b)
{
	if (!b)
		return;
	munmap(b->base, b->size);
	free(b);
}

static void block_put(struct gm_block *b)
{
	if (--b->refs == 0)
		gm_block_discard(b);
}

/* Give back to the host the whole host pages inside [p, p+len), which no
 * region uses any more (the block lives on for the other pieces). */
static void block_release(uint8_t *p, uint64_t len)
{
	uintptr_t hp = (uintptr_t)sysconf(_SC_PAGESIZE);
	uintptr_t lo = ((uintptr_t)p + hp - 1) & ~(hp - 1);
	uintptr_t hi = ((uintptr_t)p + len) & ~(hp - 1);

	if (hi > lo)
		madvise((void *)lo, hi - lo, MADV_DONTNEED);
}

/* Release the parts of OLD's range that no region of NEW with the same
 * block covers any more. NEW is sorted by address. */
static void release_uncovered(const struct gm_region *old,
			      const struct gm_region *new, size_t nnew)
{
	uint64_t cur = old->start, last = region_last(old);
	size_t lo = 0, hi = nnew;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (region_last(&new[mid]) < cur)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (size_t j = lo; j < nnew && new[j].start <= last; j++) {
		if (new[j].block != old->block)
			continue;
		if (new[j].start > cur)
			block_release(old->host + (cur - old->start),
				      new[j].start - cur);
		if (region_last(&new[j]) >= last)
			return;
		cur = region_last(&new[j]) + 1;
	}
	block_release(old->host + (cur - old->start), last - cur + 1);
}

/* Engine steps: a change is a list of them, undone in reverse on failure */

enum step_kind { STEP_UNMAP, STEP_PROTECT, STEP_MAP };

struct step {
	enum step_kind kind;
	const struct gm_region *r; /* the old region for UNMAP */
	unsigned old_perms;	   /* for undoing PROTECT */
};

static uc_err step_do(uc_engine *uc, const struct step *s)
{
	const struct gm_region *r = s->r;

	switch (s->kind) {
	case STEP_UNMAP:
		return uc_mem_unmap(uc, r->start, r->size);
	case STEP_PROTECT:
		return uc_mem_protect(uc, r->start, r->size, r->perms);
	case STEP_MAP:
		return uc_mem_map_ptr(uc, r->start, r->size, r->perms, r->host);
	}
	return UC_ERR_ARG;
}

static void step_undo(uc_engine *uc, const struct step *s)
{
	const struct gm_region *r = s->r;

	switch (s->kind) {
	case STEP_UNMAP:
		uc_mem_map_ptr(uc, r->start, r->size, r->perms, r->host);
		break;
	case STEP_PROTECT:
		uc_mem_protect(uc, r->start, r->size, s->old_perms);
		break;
	case STEP_MAP:
		uc_mem_unmap(uc, r->start, r->size);
		break;
	}
}

static bool same_mapping(const struct gm_region *a, const struct gm_region *b)
{
	return a->start == b->start && a->size == b->size && a->host == b->host;
}

/*
 * The steps that turn OLD into NEW in the engine: unmaps first (so maps
 * never overlap), then protects, then maps. A region kept with the same
 * range and host memory is left alone or only re-protected: each engine map
 * costs time that grows with the square of the regions it holds.
 */
static size_t plan_steps(const struct gm_region *old, size_t nold,
			 const struct gm_region *new, size_t nnew,
			 struct step *steps, size_t *kept, bool *old_kept)
{
	size_t n = 0, i = 0, j = 0;

	for (j = 0; j < nnew; j++)
		kept[j] = SIZE_MAX;
	for (i = 0; i < nold; i++)
		old_kept[i] = false;
	/* Both lists are sorted and disjoint: one pass pairs them. */
	for (i = 0, j = 0; i < nold && j < nnew;) {
		if (same_mapping(&old[i], &new[j])) {
			old_kept[i] = true;
			kept[j++] = i++;
		} else if (old[i].start <= new[j].start) {
			i++;
		} else {
			j++;
		}
	}
	for (i = 0; i < nold; i++)
		if (!old_kept[i])
			steps[n++] = (struct step){STEP_UNMAP, &old[i], 0};
	for (j = 0; j < nnew; j++)
		if (kept[j] != SIZE_MAX && old[kept[j]].perms != new[j].perms)
			steps[n++] = (struct step){STEP_PROTECT, &new[j],
						   old[kept[j]].perms};
	for (j = 0; j < nnew; j++)
		if (kept[j] == SIZE_MAX)
			steps[n++] = (struct step){STEP_MAP, &new[j], 0};
	return n;
}

static int engine_apply(struct gm_guest *g, const struct gm_region *old,
			size_t nold, const struct gm_region *new, size_t nnew,
			struct gm_error *err)
{
	struct step *steps = malloc((nold + nnew + 1) * sizeof(*steps));
	size_t *kept = malloc((nnew + 1) * sizeof(*kept));
	bool *old_kept = malloc(nold + 1);
	size_t n, k;
	uc_err e = UC_ERR_OK;
	char range[48];

	if (!steps || !kept || !old_kept) {
		free(steps);
		free(kept);
		free(old_kept);
		return gm_fail(err, ENOMEM, "out of memory");
	}
	n = plan_steps(old, nold, new, nnew, steps, kept, old_kept);
	for (k = 0; k < n; k++) {
		/* Before the step, while the engine still maps what the
		 * region list says. */
		gm_changed(g, steps[k].r->start, steps[k].r->size);
		e = step_do(g->uc, &steps[k]);
		if (e != UC_ERR_OK)
			break;
	}
	if (e != UC_ERR_OK) {
		gm_range_str(range, steps[k].r->start, steps[k].r->size);
		while (k-- > 0)
			step_undo(g->uc, &steps[k]);
	}
	free(steps);
	free(kept);
	free(old_kept);
	return e == UC_ERR_OK ? 0 : gm_uc_fail(err, e, range);
}

static int ensure_capacity(struct gm_guest *g, size_t want)
{
	struct gm_region *v;
	size_t cap;

	if (want <= g->cap)
		return 0;
	cap = g->cap ? g->cap * 2 : 16;
	if (cap < want)
		cap = want;
	v = realloc(g->regions, cap * sizeof(*v));
	if (!v)
		return -ENOMEM;
	g->regions = v;
	g->cap = cap;
	return 0;
}

int gm_regions_replace(struct gm_guest *g, size_t first, size_t nold,
		       struct gm_region *new, size_t nnew, struct gm_error *err)
{
	struct gm_region *old;
	size_t total = g->nregions - nold + nnew;
	int rc;

	rc = gm_guest_idle(g, err);
	if (rc < 0)
		return rc;
	if (nold == 0 && nnew == 0) /* and g->regions may be NULL */
		return 0;
	if (nnew > nold && total > g->region_limit)
		return gm_fail(err, ENOSPC,
			       "the engine can hold %zu regions and this "
			       "needs %zu (Unicorn 2.0.1 aborts past its "
			       "limit): unmap or merge regions first",
			       g->region_limit, total);
	if (ensure_capacity(g, total) < 0)
		return gm_fail(err, ENOMEM, "out of memory");
	old = g->regions + first;
	rc = engine_apply(g, old, nold, new, nnew, err);
	if (rc < 0)
		return rc;

	for (size_t j = 0; j < nnew; j++)
		new[j].block->refs++;
	for (size_t i = 0; i < nold; i++) {
		if (old[i].block->refs > 1)
			release_uncovered(&old[i], new, nnew);
		free(old[i].label);
		block_put(old[i].block);
	}
	if (g->nregions - first - nold > 0)
		memmove(old + nnew, old + nold,
			(g->nregions - first - nold) * sizeof(*old));
	if (nnew > 0)
		memcpy(old, new, nnew * sizeof(*new));
	g->nregions = total;
	return 0;
}

void gm_regions_free(struct gm_guest *g)
{
	for (size_t i = 0; i < g->nregions; i++) {
		free(g->regions[i].label);
		block_put(g->regions[i].block);
	}
	free(g->regions);
	g->regions = NULL;
	g->nregions = g->cap = 0;
}

/* Pieces: new regions cut from old ones, sharing their host memory */

static char *label_dup(const char *label, size_t len)
{
	char *p = malloc(len + 1);

	if (p) {
		memcpy(p, label, len);
		p[len] = '\0';
	}
	return p;
}

/* PIECE becomes [start, start+size) of SRC with PERMS. */
static int piece_of(const struct gm_region *src, uint64_t start, uint64_t size,
		    unsigned perms, struct gm_region *piece)
{
	*piece = *src;
	piece->start = start;
	piece->size = size;
	piece->perms = perms;
	piece->host = src->host + (start - src->start);
	piece->label = label_dup(src->label, src->label_len);
	return piece->label ? 0 : -ENOMEM;
}

static void pieces_free(struct gm_region *pieces, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(pieces[i].label);
	free(pieces);
}

/* Whether B continues A: pieces of one split that agree again. */
static bool mergeable(const struct gm_region *a, const struct gm_region *b)
{
	return region_last(a) != UINT64_MAX && region_last(a) + 1 == b->start &&
	       a->block == b->block && a->host + a->size == b->host &&
	       a->perms == b->perms && a->label_len == b->label_len &&
	       memcmp(a->label, b->label, a->label_len) == 0;
}

static size_t pieces_merge(struct gm_region *p, size_t n)
{
	size_t m = 0;

	for (size_t k = 0; k < n; k++) {
		if (m > 0 && mergeable(&p[m - 1], &p[k])) {
			p[m - 1].size += p[k].size;
			free(p[k].label);
		} else {
			p[m++] = p[k];
		}
	}
	return m;
}

static int perms_check(unsigned perms, struct gm_error *err)
{
	if (perms & ~(unsigned)GM_PERM_ALL)
		return gm_fail(err, EINVAL, "bad permissions 0x%x", perms);
	return 0;
}

/* Operations */

int gm_map(struct gm_guest *g, uint64_t addr, uint64_t size, unsigned perms,
	   const char *label, size_t label_len, struct gm_error *err)
{
	struct gm_region r = {.start = addr, .size = size, .perms = perms};
	char range[48], other[48];
	size_t i;
	int rc;

	rc = gm_range_check(g, addr, size, true, err);
	if (rc == 0)
		rc = perms_check(perms, err);
	if (rc < 0)
		return rc;
	if (!label) {
		label = GM_DEFAULT_LABEL;
		label_len = strlen(label);
	}
	if (label_len > GM_LABEL_MAX)
		return gm_fail(err, EINVAL, "a label holds at most %d bytes",
			       GM_LABEL_MAX);
	i = gm_region_lower_bound(g, addr);
	if (i < g->nregions && g->regions[i].start <= addr + size - 1)
		return gm_fail(err, EEXIST, "%s overlaps the region %s",
			       gm_range_str(range, addr, size),
			       gm_range_str(other, g->regions[i].start,
					    g->regions[i].size));
	r.label = label_dup(label, label_len);
	r.label_len = label_len;
	r.block = gm_block_new(size);
	if (!r.label || !r.block) {
		free(r.label);
		gm_block_discard(r.block);
		return gm_fail(err, ENOSPC,
			       "cannot allocate 0x%llx bytes of host memory",
			       (unsigned long long)size);
	}
	r.host = r.block->base;
	rc = gm_regions_replace(g, i, 0, &r, 1, err);
	if (rc < 0) {
		free(r.label);
		gm_block_discard(r.block);
	}
	return rc;
}

int gm_unmap(struct gm_guest *g, uint64_t addr, uint64_t size,
	     struct gm_error *err)
{
	struct gm_region pieces[2];
	const struct gm_region *a, *b;
	uint64_t last = addr + size - 1;
	size_t first, end, n = 0;
	int rc;

	rc = gm_range_check(g, addr, size, true, err);
	if (rc == 0)
		rc = gm_range_mapped(g, addr, size, err);
	if (rc < 0)
		return rc;
	first = gm_region_lower_bound(g, addr);
	end = gm_region_lower_bound(g, last) + 1;
	a = &g->regions[first];
	b = &g->regions[end - 1];
	if (a->start < addr &&
	    piece_of(a, a->start, addr - a->start, a->perms, &pieces[n++]) < 0)
		goto nomem;
	if (region_last(b) > last &&
	    piece_of(b, last + 1, region_last(b) - last, b->perms,
		     &pieces[n++]) < 0)
		goto nomem;
	rc = gm_regions_replace(g, first, end - first, pieces, n, err);
	if (rc < 0)
		while (n > 0)
			free(pieces[--n].label);
	return rc;
nomem:
	while (n > 0)
		free(pieces[--n].label);
	return gm_fail(err, ENOMEM, "out of memory");
}

int gm_unmap_all(struct gm_guest *g, struct gm_error *err)
{
	return gm_regions_replace(g, 0, g->nregions, NULL, 0, err);
}

/* Append to P the pieces R becomes when [addr, last] of it gets PERMS. */
static int protect_pieces(const struct gm_region *r, uint64_t addr,
			  uint64_t last, unsigned perms, struct gm_region *p,
			  size_t *n)
{
	uint64_t lo = r->start > addr ? r->start : addr;
	uint64_t hi = region_last(r) < last ? region_last(r) : last;

	if (lo > hi) /* a neighbour taken in for merging */
		return piece_of(r, r->start, r->size, r->perms, &p[(*n)++]);
	if (r->start < lo &&
	    piece_of(r, r->start, lo - r->start, r->perms, &p[(*n)++]) < 0)
		return -ENOMEM;
	if (piece_of(r, lo, hi - lo + 1, perms, &p[(*n)++]) < 0)
		return -ENOMEM;
	if (region_last(r) > hi &&
	    piece_of(r, hi + 1, region_last(r) - hi, r->perms, &p[(*n)++]) < 0)
		return -ENOMEM;
	return 0;
}

int gm_protect(struct gm_guest *g, uint64_t addr, uint64_t size, unsigned perms,
	       struct gm_error *err)
{
	struct gm_region *pieces;
	uint64_t last = addr + size - 1;
	size_t first, end, n = 0;
	int rc;

	rc = gm_range_check(g, addr, size, true, err);
	if (rc == 0)
		rc = perms_check(perms, err);
	if (rc == 0)
		rc = gm_range_mapped(g, addr, size, err);
	if (rc < 0)
		return rc;
	first = gm_region_lower_bound(g, addr);
	end = gm_region_lower_bound(g, last) + 1;
	/* Take in touching neighbours: they may merge with the result. */
	if (first > 0 &&
	    region_last(&g->regions[first - 1]) + 1 == g->regions[first].start)
		first--;
	if (end < g->nregions &&
	    region_last(&g->regions[end - 1]) + 1 == g->regions[end].start)
		end++;
	pieces = calloc(end - first + 2, sizeof(*pieces));
	if (!pieces)
		return gm_fail(err, ENOMEM, "out of memory");
	for (size_t i = first; i < end; i++) {
		if (protect_pieces(&g->regions[i], addr, last, perms, pieces,
				   &n) < 0) {
			pieces_free(pieces, n);
			return gm_fail(err, ENOMEM, "out of memory");
		}
	}
	n = pieces_merge(pieces, n);
	rc = gm_regions_replace(g, first, end - first, pieces, n, err);
	if (rc < 0) {
		pieces_free(pieces, n);
		return rc;
	}
	free(pieces);
	return 0;
}

int gm_set_label(struct gm_guest *g, uint64_t start, const char *label,
		 size_t label_len, struct gm_error *err)
{
	struct gm_region *r = (struct gm_region *)gm_region_find(g, start);
	char *copy;

	if (!r || r->start != start)
		return gm_fail(err, EFAULT, "no region starts at 0x%llx",
			       (unsigned long long)start);
	if (label_len > GM_LABEL_MAX)
		return gm_fail(err, EINVAL, "a label holds at most %d bytes",
			       GM_LABEL_MAX);
	copy = label_dup(label, label_len);
	if (!copy)
		return gm_fail(err, ENOMEM, "out of memory");
	free(r->label);
	r->label = copy;
	r->label_len = label_len;
	return 0;
}

/* Free space */

/* X rounded up to a multiple of the power of two A; false on overflow. */
static bool align_up(uint64_t x, uint64_t a, uint64_t *out)
{
	if (x > UINT64_MAX - (a - 1))
		return false;
	*out = (x + a - 1) & ~(a - 1);
	return true;
}

int gm_find_free_space(const struct gm_guest *g, uint64_t size,
		       const struct gm_window *win, uint64_t alignment,
		       uint64_t *addr, struct gm_error *err)
{
	uint64_t align = alignment ? alignment : g->page_size;
	uint64_t lo = win ? win->lo : 0, hi_last = g->last_addr;
	uint64_t cand, cand_last;
	size_t i;

	if (size == 0)
		return gm_fail(err, EINVAL, "size must not be zero");
	if ((align & (align - 1)) != 0)
		return gm_fail(err, EINVAL,
			       "alignment 0x%llx is not a power of two",
			       (unsigned long long)align);
	if (align < g->page_size)
		align = g->page_size;
	if (win && win->hi_set) {
		if (win->hi <= lo)
			return gm_fail(err, EINVAL,
				       "max_addr 0x%llx is not above min_addr "
				       "0x%llx",
				       (unsigned long long)win->hi,
				       (unsigned long long)lo);
		if (win->hi - 1 < hi_last)
			hi_last = win->hi - 1;
	}
	if (!align_up(size, g->page_size, &size) || lo > hi_last ||
	    !align_up(lo, align, &cand))
		goto none;
	i = gm_region_lower_bound(g, cand);
	for (;;) {
		if (size - 1 > hi_last || cand > hi_last - (size - 1))
			goto none;
		cand_last = cand + size - 1;
		if (i == g->nregions || g->regions[i].start > cand_last) {
			*addr = cand;
			return 0;
		}
		if (region_last(&g->regions[i]) == UINT64_MAX ||
		    !align_up(region_last(&g->regions[i]) + 1, align, &cand))
			goto none;
		while (i < g->nregions && region_last(&g->regions[i]) < cand)
			i++;
	}
none:
	return gm_fail(err, ENOMEM, "no free space of 0x%llx bytes",
		       (unsigned long long)size);
}

int gm_map_anywhere(struct gm_guest *g, uint64_t size, unsigned perms,
		    const char *label, size_t label_len,
		    const struct gm_window *win, uint64_t alignment,
		    uint64_t *addr, struct gm_error *err)
{
	uint64_t at;
	int rc;

	rc = gm_find_free_space(g, size, win, alignment, &at, err);
	if (rc < 0)
		return rc;
	size = (size + g->page_size - 1) & ~(g->page_size - 1);
	rc = gm_map(g, at, size, perms, label, label_len, err);
	if (rc == 0)
		*addr = at;
	return rc;
}

int gm_is_available(const struct gm_guest *g, uint64_t addr, uint64_t size,
		    bool *available, struct gm_error *err)
{
	int rc = gm_range_check(g, addr, size, false, err);
	size_t i;

	if (rc < 0)
		return rc;
	i = gm_region_lower_bound(g, addr);
	*available = i == g->nregions || g->regions[i].start > addr + size - 1;
	return 0;
}

int gm_is_mapped(const struct gm_guest *g, uint64_t addr, uint64_t size,
		 bool *mapped, struct gm_error *err)
{
	int rc = gm_range_check(g, addr, size, false, err);

	if (rc < 0)
		return rc;
	*mapped = gm_range_mapped(g, addr, size, NULL) == 0;
	return 0;
}

/* Permissions as text */

int gm_perms_parse(const char *text, unsigned *perms, struct gm_error *err)
{
	static const char letters[] = "rwx";
	unsigned p = 0;

	if (strlen(text) != 3)
		goto bad;
	for (int i = 0; i < 3; i++) {
		if (text[i] == letters[i])
			p |= 1u << i;
		else if (text[i] != '-')
			goto bad;
	}
	*perms = p;
	return 0;
bad:
	return gm_fail(err, EINVAL,
		       "bad permissions \"%.8s\": three letters rwx with - "
		       "for an absent one, as r-x",
		       text);
}
