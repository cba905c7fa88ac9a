/*
 * A model-based check of the core. Input bytes decode into operations on a
 * fresh guest (the first byte picks the architecture and the window, see
 * setup; the guest is the last input's, reset); a small model (regions by
 * page, bytes, SP, one register, snapshots) predicts each result, and after every operation the core, the
 * Unicorn engine and the change record must agree with it. Code is run in
 * the engine too, so stale translations show.
 *
 * Try it: build/tests/unit/test-core model_holds_for_random_arm_sequences
 * (fixed inputs, every build), or the clang fuzzer (fuzz-ops.c). Set
 * GM_FUZZ_TRACE=1 to see the operations of an input as they run, and
 * GM_FUZZ_CHECK_RESET=1 to compare each reset guest with a new one.
 */
#include "ops.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unicorn/unicorn.h>

#include "fresh.h"
#include "guest.h"
#include "memory.h"
#include "regions.h"
#include "regs.h"
#include "snapshot.h"
#include "stack.h"

#define NPAGES	  48	      /* pages of the window the operations touch */
#define LOW_BASE  0x100000ULL /* where the window starts unless at the top */
#define MAX_SNAPS 6
#define MAX_OPS	  4096
#define IO_MAX	  (4 * 4096 + 64) /* bytes one write may carry */
#define SENTINEL  0xdead	  /* the register before a run */
#define TOO_LONG  7		  /* the label id one byte past GM_LABEL_MAX */

/*
 * A region as the model sees it, in pages of the window. BLOCK names the
 * host memory behind it: a map makes a new one, a split keeps it, and only
 * pieces of one block merge again.
 */
struct mregion {
	unsigned first;
	unsigned npages;
	unsigned perms;
	unsigned label;
	unsigned block;
};

struct model {
	struct mregion r[NPAGES];
	size_t n;
	uint8_t *mem; /* the window's bytes; unmapped pages stay zero */
	uint64_t sp;
	uint64_t reg;
};

struct msnap {
	char name[32];
	struct model m;
	uint64_t stored; /* bytes of its non-zero pages */
};

struct fuzz {
	const uint8_t *data;
	size_t size, pos;
	unsigned opno;
	char desc[200];
	bool trace;

	struct gm_guest *g;
	uc_engine *uc;
	const struct gm_arch *arch;
	unsigned kind; /* its code: 0 arm, 1 x86_64, 2 mips, 3 arm64 */
	const struct gm_reg *reg;
	uint64_t ps, base, last, wsize;
	bool top;
	size_t limit;
	uint64_t snap_limit;

	struct model m;
	struct model before;	       /* the model before the operation */
	struct msnap snaps[MAX_SNAPS]; /* oldest first, as the core's */
	size_t nsnaps;
	unsigned blocks;   /* block ids handed out */
	uint64_t snap_seq; /* the core's counter for "snap-N" names */

	/* where exec wrote code last: run again after restores */
	uint64_t code_at[4];
	unsigned ncode;
	uint8_t pool[16]; /* the start of the last write: search patterns */
	size_t pool_len;
	uint8_t *buf, *buf2;
	uint64_t *found, *want; /* search matches: the core's, the model's */
	size_t nfound, found_cap;
	unsigned stop_after;
	struct gm_error err;
	char long_label[GM_LABEL_MAX + 1];
};

/* Reporting */

static void dump(const struct fuzz *f)
{
	size_t n;
	const struct gm_region *r = gm_regions(f->g, &n);

	fprintf(stderr, "core regions:\n");
	for (size_t i = 0; i < n; i++)
		fprintf(stderr,
			"  0x%" PRIx64 "+0x%" PRIx64
			" perms %u label %zu bytes\n",
			r[i].start, r[i].size, r[i].perms, r[i].label_len);
	fprintf(stderr, "model regions:\n");
	for (size_t i = 0; i < f->m.n; i++)
		fprintf(stderr,
			"  0x%" PRIx64 "+0x%" PRIx64
			" perms %u label %u block %u\n",
			f->base + f->m.r[i].first * f->ps,
			f->m.r[i].npages * f->ps, f->m.r[i].perms,
			f->m.r[i].label, f->m.r[i].block);
	if (f->size > 4096)
		return;
	fprintf(stderr, "input (%zu bytes): ", f->size);
	for (size_t i = 0; i < f->size; i++)
		fprintf(stderr, "%02x", f->data[i]);
	fputc('\n', stderr);
}

static _Noreturn void fail(const struct fuzz *f, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static _Noreturn void fail(const struct fuzz *f, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr,
		"gm_fuzz_ops: %s guest, window 0x%" PRIx64 ", op %u (%s): ",
		f->arch->name, f->base, f->opno, f->desc);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	dump(f);
	abort();
}

static void describe(struct fuzz *f, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void describe(struct fuzz *f, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(f->desc, sizeof(f->desc), fmt, ap);
	va_end(ap);
	if (f->trace)
		fprintf(stderr, "op %u: %s\n", f->opno, f->desc);
}

static const char *rc_name(long rc)
{
	switch (rc) {
	case 0:
		return "0";
	case -EINVAL:
		return "-EINVAL";
	case -EEXIST:
		return "-EEXIST";
	case -EFAULT:
		return "-EFAULT";
	case -ENOMEM:
		return "-ENOMEM";
	case -ENOSPC:
		return "-ENOSPC";
	case -ENOENT:
		return "-ENOENT";
	case -ERANGE:
		return "-ERANGE";
	}
	return rc > 0 ? "a count" : "another error";
}

/* The call answered GOT where the model says WANT; an error must come
 * with its code and message. */
static void expect_rc(const struct fuzz *f, long want, long got)
{
	if (f->trace)
		fprintf(stderr, "  -> %ld %s\n", got, rc_name(got));
	if (got != want)
		fail(f, "expected %ld (%s), got %ld (%s) \"%s\"", want,
		     rc_name(want), got, rc_name(got), f->err.msg);
	if (got < 0 && (f->err.code != -got || f->err.msg[0] == '\0'))
		fail(f, "%s came with error code %d and message \"%s\"",
		     rc_name(got), f->err.code, f->err.msg);
}

/* Input: every take is total, past the end it reads zeros */

static unsigned take8(struct fuzz *f)
{
	return f->pos < f->size ? f->data[f->pos++] : 0;
}

static unsigned take16(struct fuzz *f)
{
	unsigned lo = take8(f);

	return lo | take8(f) << 8;
}

static uint64_t take64(struct fuzz *f)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | take8(f);
	return v;
}

/* A value for pointers, registers and the stack, often at the edge of a
 * width. */
static uint64_t take_value(struct fuzz *f)
{
	unsigned kind = take8(f) % 8, b = take8(f);

	switch (kind) {
	case 0:
	case 1:
	case 2:
		return b;
	case 3:
		return (uint64_t)b << 24 | take16(f);
	case 4:
		return take64(f);
	case 5:
		return 0 - (uint64_t)(b + 1);
	}
	return (UINT64_C(1) << (8 << (b % 3))) - (b >> 7);
}

/* An address in the window or a page around it, often in or at the end
 * of a mapped region, often at a page edge. */
static uint64_t take_addr(struct fuzz *f)
{
	unsigned mode = take8(f), a = take8(f), c = take8(f), b = take16(f);
	int64_t page = (int64_t)(a % (NPAGES + 2)) - 1;
	uint64_t sub = 0;

	if (mode % 4 != 0 && f->m.n > 0) {
		const struct mregion *r = &f->m.r[a % f->m.n];

		page = r->first + c % (r->npages + 1);
	}
	switch ((mode >> 2) % 4) {
	case 1:
		sub = f->ps - 1 - b % 16;
		break;
	case 2:
		sub = b % 16;
		break;
	case 3:
		sub = b % f->ps;
		break;
	}
	return f->base + (uint64_t)page * f->ps + sub;
}

/* A length for reads and writes: zero, a few bytes, or pages. */
static size_t take_len(struct fuzz *f)
{
	unsigned kind = take8(f) % 4, b = take16(f);

	switch (kind) {
	case 0:
		return 1 + b % 16;
	case 1:
		return f->ps * (1 + b % 4) - (b >> 8) % 2;
	case 2:
		return b % (2 * f->ps + 1);
	}
	return b % 64;
}

/* A window for find_free_space and search, mostly with lo below hi. */
static void take_window(struct fuzz *f, struct gm_window *w)
{
	w->lo = take_addr(f);
	w->hi = take_addr(f);
	if (take8(f) % 4 != 0 && w->hi < w->lo) {
		uint64_t t = w->lo;

		w->lo = w->hi;
		w->hi = t;
	}
}

/* A label id; one in 32 is too long. */
static unsigned take_label(struct fuzz *f)
{
	unsigned b = take8(f);

	return b % 32 == 31 ? TOO_LONG : b % TOO_LONG;
}

static unsigned take_perms(struct fuzz *f)
{
	unsigned b = take8(f);

	return b >> 3 == 31 ? 8 | (b & 7) : b & 7;
}

/* A size for find_free_space and map_anywhere, in bytes. */
static uint64_t take_size(struct fuzz *f)
{
	unsigned kind = take8(f) % 16, np = take8(f) % (NPAGES + 2);
	uint64_t sub = take16(f) % f->ps;

	if (kind == 0)
		return 0;
	if (kind == 1)
		return UINT64_MAX - sub;
	if (np == 0)
		return 1 + sub;
	return np * f->ps - (kind % 2 ? sub : 0);
}

static uint64_t take_align(struct fuzz *f)
{
	uint64_t ps = f->ps;
	const uint64_t aligns[] = {
	    0,	    1,	    ps / 2,  ps, 2 * ps,
	    4 * ps, 8 * ps, 16 * ps, 3,	 UINT64_C(1) << 63,
	    3 * ps,
	};

	return aligns[take8(f) % (sizeof(aligns) / sizeof(aligns[0]))];
}

/* Model helpers */

static const char *label_bytes(const struct fuzz *f, unsigned id, size_t *len)
{
	static const struct {
		const char *s;
		size_t len;
	} fixed[] = {
	    {GM_DEFAULT_LABEL, 8}, {"", 0},
	    {"[stack]", 7},	   {"line\nbreak", 10},
	    {"nul\0inside", 10},   {GM_DEFAULT_LABEL, 8},
	};

	if (id < 6) {
		*len = fixed[id].len;
		return fixed[id].s;
	}
	*len = id == TOO_LONG ? GM_LABEL_MAX + 1 : GM_LABEL_MAX;
	return f->long_label;
}

static bool same_label(const struct fuzz *f, unsigned a, unsigned b)
{
	size_t la, lb;
	const char *pa = label_bytes(f, a, &la);
	const char *pb = label_bytes(f, b, &lb);

	return la == lb && memcmp(pa, pb, la) == 0;
}

static uint64_t page_addr(const struct fuzz *f, unsigned p)
{
	return f->base + p * f->ps;
}

/* The page of the window that holds ADDR, or false. */
static bool addr_page(const struct fuzz *f, uint64_t addr, unsigned *p)
{
	uint64_t d = addr - f->base;

	if (d >= f->wsize)
		return false;
	*p = (unsigned)(d / f->ps);
	return true;
}

static int region_at(const struct model *m, unsigned p)
{
	for (size_t i = 0; i < m->n; i++)
		if (m->r[i].first <= p && p < m->r[i].first + m->r[i].npages)
			return (int)i;
	return -1;
}

static uint8_t *model_bytes(const struct fuzz *f, uint64_t addr)
{
	return f->m.mem + (addr - f->base);
}

static bool range_ok(const struct fuzz *f, uint64_t addr, uint64_t size)
{
	return size != 0 && addr <= f->last && size - 1 <= f->last - addr;
}

/* Whether every byte of a range inside the address space is mapped. */
static bool model_mapped(const struct fuzz *f, uint64_t addr, uint64_t size)
{
	unsigned p0, p1;

	if (!addr_page(f, addr, &p0) || !addr_page(f, addr + size - 1, &p1))
		return false;
	for (unsigned p = p0; p <= p1; p++)
		if (region_at(&f->m, p) < 0)
			return false;
	return true;
}

/* Whether no byte of a range inside the address space is mapped. */
static bool model_free(const struct fuzz *f, uint64_t addr, uint64_t size)
{
	uint64_t last = addr + size - 1;

	for (size_t i = 0; i < f->m.n; i++) {
		uint64_t s = page_addr(f, f->m.r[i].first);
		uint64_t e = s + f->m.r[i].npages * f->ps - 1;

		if (s <= last && addr <= e)
			return false;
	}
	return true;
}

/* What a whole-range access of [addr, addr+len) must answer. */
static int mem_rc(const struct fuzz *f, uint64_t addr, uint64_t len)
{
	if (len == 0)
		return 0;
	if (!range_ok(f, addr, len))
		return -EINVAL;
	return model_mapped(f, addr, len) ? 0 : -EFAULT;
}

/* The bytes from ADDR that are mapped without a hole, at most LEN. */
static size_t model_prefix(const struct fuzz *f, uint64_t addr, size_t len)
{
	size_t n = 0;
	unsigned p;

	while (n < len && addr_page(f, addr + n, &p) &&
	       region_at(&f->m, p) >= 0) {
		uint64_t room = f->ps - (addr + n - f->base) % f->ps;

		n += room < len - n ? room : len - n;
	}
	return n;
}

static bool fits(uint64_t v, unsigned n, bool is_signed)
{
	int64_t s = (int64_t)v, lim;

	if (n == 8)
		return true;
	if (!is_signed)
		return v >> (8 * n) == 0;
	lim = INT64_C(1) << (8 * n - 1);
	return s >= -lim && s < lim;
}

static void encode(const struct fuzz *f, uint8_t *b, uint64_t v, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		b[f->arch->big_endian ? n - 1 - i : i] =
		    (uint8_t)(v >> (8 * i));
}

static uint64_t decode(const struct fuzz *f, const uint8_t *b, unsigned n,
		       bool is_signed)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < n; i++)
		v |= (uint64_t)b[f->arch->big_endian ? n - 1 - i : i]
		     << (8 * i);
	if (is_signed && n < 8 && (v >> (8 * n - 1) & 1))
		v |= UINT64_MAX << (8 * n);
	return v;
}

/* Layouts: the region list an operation must leave */

static bool touches(const struct mregion *a, const struct mregion *b)
{
	return a->first + a->npages == b->first;
}

static bool mergeable(const struct fuzz *f, const struct mregion *a,
		      const struct mregion *b)
{
	return touches(a, b) && a->block == b->block && a->perms == b->perms &&
	       same_label(f, a->label, b->label);
}

static size_t layout_insert(const struct model *m, const struct mregion *r,
			    struct mregion *out)
{
	size_t k = 0, i = 0;

	while (i < m->n && m->r[i].first < r->first)
		out[k++] = m->r[i++];
	out[k++] = *r;
	while (i < m->n)
		out[k++] = m->r[i++];
	return k;
}

/* Unmap pages [p, q], all mapped: the regions at the ends keep what lies
 * outside. */
static size_t layout_unmap(const struct model *m, unsigned p, unsigned q,
			   struct mregion *out)
{
	size_t k = 0;

	for (size_t i = 0; i < m->n; i++) {
		struct mregion r = m->r[i];
		unsigned last = r.first + r.npages - 1;

		if (last < p || r.first > q) {
			out[k++] = r;
			continue;
		}
		if (r.first < p) {
			out[k] = r;
			out[k++].npages = p - r.first;
		}
		if (last > q) {
			out[k] = r;
			out[k].first = q + 1;
			out[k++].npages = last - q;
		}
	}
	return k;
}

/* Append to P the pieces R becomes when pages [p, q] get PERMS. */
static size_t protect_pieces(struct mregion r, unsigned p, unsigned q,
			     unsigned perms, struct mregion *out)
{
	unsigned last = r.first + r.npages - 1, n = 0;
	unsigned lo = r.first > p ? r.first : p, hi = last < q ? last : q;

	if (lo > hi) { /* a touching neighbour, taken in to merge */
		out[n++] = r;
		return n;
	}
	if (r.first < lo) {
		out[n] = r;
		out[n++].npages = lo - r.first;
	}
	out[n] = r;
	out[n].first = lo;
	out[n].npages = hi - lo + 1;
	out[n++].perms = perms;
	if (last > hi) {
		out[n] = r;
		out[n].first = hi + 1;
		out[n++].npages = last - hi;
	}
	return n;
}

/*
 * Protect pages [p, q], all mapped, as regions.h says: split the regions
 * at the ends, and merge pieces of one block that agree again, among the
 * regions touched and the neighbours that touch them.
 */
static size_t layout_protect(const struct fuzz *f, unsigned p, unsigned q,
			     unsigned perms, struct mregion *out)
{
	const struct model *m = &f->m;
	struct mregion pieces[NPAGES + 4];
	size_t first = (size_t)region_at(m, p), end = (size_t)region_at(m, q);
	size_t n = 0, k = 0;

	end++;
	if (first > 0 && touches(&m->r[first - 1], &m->r[first]))
		first--;
	if (end < m->n && touches(&m->r[end - 1], &m->r[end]))
		end++;
	for (size_t i = first; i < end; i++)
		n += protect_pieces(m->r[i], p, q, perms, pieces + n);
	for (size_t i = 0; i < first; i++)
		out[k++] = m->r[i];
	for (size_t i = 0; i < n; i++) {
		if (i > 0 && mergeable(f, &out[k - 1], &pieces[i]))
			out[k - 1].npages += pieces[i].npages;
		else
			out[k++] = pieces[i];
	}
	for (size_t i = end; i < m->n; i++)
		out[k++] = m->r[i];
	return k;
}

/* Restore S: a region whose range is mapped now keeps its memory, the
 * others get new blocks. */
static size_t layout_restore(struct fuzz *f, const struct model *s,
			     struct mregion *out)
{
	for (size_t i = 0; i < s->n; i++) {
		int j = region_at(&f->m, s->r[i].first);

		out[i] = s->r[i];
		if (j >= 0 && f->m.r[j].first == s->r[i].first &&
		    f->m.r[j].npages == s->r[i].npages)
			out[i].block = f->m.r[j].block;
		else
			out[i].block = ++f->blocks;
	}
	return s->n;
}

/* A change to N regions fails with ENOSPC when it adds regions past the
 * limit. */
static int layout_rc(const struct fuzz *f, size_t n)
{
	return n > f->m.n && n > f->limit ? -ENOSPC : 0;
}

static void layout_set(struct fuzz *f, const struct mregion *r, size_t n)
{
	if (n > 0)
		memcpy(f->m.r, r, n * sizeof(*r));
	f->m.n = n;
}

/* Unmapped pages come back zero. */
static void zero_pages(struct fuzz *f, unsigned p, unsigned q)
{
	memset(f->m.mem + p * f->ps, 0, (q - p + 1) * f->ps);
}

/* Regions */

/* Pages for map, unmap and protect; at the top of the space some pass
 * its end, and some ranges are not aligned. */
struct prange {
	unsigned p, n;
	uint64_t addr, size;
	bool valid;
};

static struct prange take_pages(struct fuzz *f, bool aim)
{
	unsigned mode = take8(f), a = take8(f), b = take8(f), c = take8(f);
	struct prange r;

	if (aim && f->m.n > 0 && mode % 4 != 0) {
		/* inside a region, or from one on across whatever follows */
		const struct mregion *m = &f->m.r[a % f->m.n];
		unsigned end = mode % 8 == 7 ? NPAGES : m->first + m->npages;

		r.p = m->first + b % m->npages;
		r.n = 1 + c % (end - r.p);
	} else {
		r.p = a % NPAGES;
		r.n = 1 + (mode % 8 == 0 ? c % NPAGES : c % 6);
	}
	if (r.p + r.n > NPAGES && !(f->top && mode % 32 == 8))
		r.n = NPAGES - r.p;
	r.addr = page_addr(f, r.p);
	r.size = r.n * f->ps;
	if (mode >> 3 == 1)
		r.size -= f->ps / 2;
	else if (mode >> 3 == 2)
		r.addr += 16;
	r.valid =
	    mode >> 3 != 1 && mode >> 3 != 2 && range_ok(f, r.addr, r.size);
	return r;
}

static void op_map(struct fuzz *f)
{
	struct prange r = take_pages(f, false);
	unsigned perms = take_perms(f), label = take_label(f);
	struct mregion out[NPAGES + 2], nr = {r.p, r.n, perms, label, 0};
	size_t len, n = 0;
	const char *text = label_bytes(f, label, &len);
	int want, rc;

	describe(f, "map 0x%" PRIx64 "+0x%" PRIx64 " perms 0x%x label %u",
		 r.addr, r.size, perms, label);
	if (!r.valid || perms > GM_PERM_ALL || label == TOO_LONG) {
		want = -EINVAL;
	} else if (!model_free(f, r.addr, r.size)) {
		want = -EEXIST;
	} else {
		nr.block = ++f->blocks;
		n = layout_insert(&f->m, &nr, out);
		want = layout_rc(f, n);
	}
	rc = gm_map(f->g, r.addr, r.size, perms, label ? text : NULL,
		    label ? len : 0, &f->err);
	expect_rc(f, want, rc);
	if (rc == 0)
		layout_set(f, out, n);
}

static void op_unmap(struct fuzz *f)
{
	struct prange r = take_pages(f, true);
	struct mregion out[NPAGES + 2];
	size_t n = 0;
	int want, rc;

	describe(f, "unmap 0x%" PRIx64 "+0x%" PRIx64, r.addr, r.size);
	if (!r.valid) {
		want = -EINVAL;
	} else if (!model_mapped(f, r.addr, r.size)) {
		want = -EFAULT;
	} else {
		n = layout_unmap(&f->m, r.p, r.p + r.n - 1, out);
		want = layout_rc(f, n);
	}
	rc = gm_unmap(f->g, r.addr, r.size, &f->err);
	expect_rc(f, want, rc);
	if (rc == 0) {
		layout_set(f, out, n);
		zero_pages(f, r.p, r.p + r.n - 1);
	}
}

static void op_protect(struct fuzz *f)
{
	struct prange r = take_pages(f, true);
	unsigned perms = take_perms(f);
	struct mregion out[NPAGES + 2];
	size_t n = 0;
	int want, rc;

	describe(f, "protect 0x%" PRIx64 "+0x%" PRIx64 " perms 0x%x", r.addr,
		 r.size, perms);
	if (!r.valid || perms > GM_PERM_ALL) {
		want = -EINVAL;
	} else if (!model_mapped(f, r.addr, r.size)) {
		want = -EFAULT;
	} else {
		n = layout_protect(f, r.p, r.p + r.n - 1, perms, out);
		want = layout_rc(f, n);
	}
	rc = gm_protect(f->g, r.addr, r.size, perms, &f->err);
	expect_rc(f, want, rc);
	if (rc == 0)
		layout_set(f, out, n);
}

/* The unmap of one whole region, as `rm regions/X` does, or (less often,
 * to keep memory around) unmap_all. */
static void op_unmap_whole(struct fuzz *f)
{
	unsigned kind = take8(f), a = take8(f);
	struct mregion out[NPAGES + 2];
	const struct mregion *r;
	size_t n;

	if (kind % 4 != 0 && f->m.n > 0) {
		r = &f->m.r[a % f->m.n];
		describe(f, "unmap region 0x%" PRIx64 "+0x%" PRIx64,
			 page_addr(f, r->first), r->npages * f->ps);
		n = layout_unmap(&f->m, r->first, r->first + r->npages - 1,
				 out);
		expect_rc(f, 0,
			  gm_unmap(f->g, page_addr(f, r->first),
				   r->npages * f->ps, &f->err));
		zero_pages(f, r->first, r->first + r->npages - 1);
		layout_set(f, out, n);
		return;
	}
	describe(f, "unmap_all");
	expect_rc(f, 0, gm_unmap_all(f->g, &f->err));
	layout_set(f, NULL, 0);
	memset(f->m.mem, 0, f->wsize);
}

/* Set the label of the region that holds a page, or (to see EFAULT) of an
 * address where no region starts. */
static void op_set_label(struct fuzz *f)
{
	unsigned p = take8(f) % NPAGES, kind = take8(f) % 8;
	unsigned label = take_label(f), a = take8(f);
	int i, want, rc;
	uint64_t at;
	bool starts = false;
	size_t len;
	const char *text = label_bytes(f, label, &len);

	if (a % 4 != 0 && f->m.n > 0)
		p = f->m.r[a % f->m.n].first;
	i = region_at(&f->m, p);
	at = page_addr(f, p);
	if (i >= 0) {
		at = page_addr(f, f->m.r[i].first);
		starts = true;
		if (kind == 1) {
			at += 1;
			starts = false;
		} else if (kind == 2 && f->m.r[i].npages > 1) {
			at += f->ps;
			starts = false;
		}
	}
	describe(f, "set_label 0x%" PRIx64 " label %u", at, label);
	want = !starts ? -EFAULT : label == TOO_LONG ? -EINVAL : 0;
	rc = gm_set_label(f->g, at, text, len, &f->err);
	expect_rc(f, want, rc);
	if (rc == 0)
		f->m.r[i].label = label;
}

/* Free space */

/* The lowest aligned free range in the window, by trying every aligned
 * address in turn; nothing is mapped outside the window. */
static int model_find(const struct fuzz *f, uint64_t size,
		      const struct gm_window *win, uint64_t align,
		      uint64_t *out)
{
	uint64_t lo = win ? win->lo : 0, hi_last = f->last, cand;

	if (size == 0)
		return -EINVAL;
	if (align == 0)
		align = f->ps;
	if ((align & (align - 1)) != 0)
		return -EINVAL;
	if (align < f->ps)
		align = f->ps;
	if (win && win->hi_set) {
		if (win->hi <= lo)
			return -EINVAL;
		if (win->hi - 1 < hi_last)
			hi_last = win->hi - 1;
	}
	if (size > UINT64_MAX - (f->ps - 1) || lo > hi_last ||
	    lo > UINT64_MAX - (align - 1))
		return -ENOMEM;
	size = (size + f->ps - 1) / f->ps * f->ps;
	cand = (lo + align - 1) / align * align;
	for (;;) {
		if (size - 1 > hi_last || cand > hi_last - (size - 1))
			return -ENOMEM;
		if (model_free(f, cand, size)) {
			*out = cand;
			return 0;
		}
		if (cand > UINT64_MAX - align)
			return -ENOMEM;
		cand += align;
	}
}

static void op_find_free(struct fuzz *f)
{
	uint64_t size = take_size(f), align = take_align(f), at = 0, got = 0;
	unsigned kind = take8(f) % 4;
	struct gm_window w = {0, 0, kind & 1};
	const struct gm_window *win = kind == 0 ? NULL : &w;
	int want, rc;

	take_window(f, &w);
	describe(f,
		 "find_free_space 0x%" PRIx64 " align 0x%" PRIx64
		 " window %u 0x%" PRIx64 "-0x%" PRIx64,
		 size, align, kind, w.lo, w.hi);
	want = model_find(f, size, win, align, &at);
	rc = gm_find_free_space(f->g, size, win, align, &got, &f->err);
	expect_rc(f, want, rc);
	if (rc == 0 && got != at)
		fail(f, "found 0x%" PRIx64 ", the model 0x%" PRIx64, got, at);
}

/* map_anywhere in a window that keeps the answer inside ours. */
static void op_map_anywhere(struct fuzz *f)
{
	uint64_t size = take_size(f), align = take_align(f), at = 0, got = 0;
	unsigned perms = take_perms(f), label = take_label(f);
	unsigned lp = take8(f) % NPAGES, hp = take8(f);
	unsigned kind = take8(f), sub = take16(f) % f->ps, p = 0;
	struct gm_window w;
	struct mregion out[NPAGES + 2], nr = {0, 0, perms, label, 0};
	size_t len, n = 0;
	const char *text = label_bytes(f, label, &len);
	int want, rc;

	/* mostly above lo; at the top of the space, sometimes open */
	hp = kind & 8 ? 1 + hp % NPAGES : lp + 1 + hp % (NPAGES - lp);
	w.lo = page_addr(f, lp) + (kind & 2 ? sub : 0);
	w.hi = page_addr(f, hp) - (kind & 4 ? sub : 0);
	w.hi_set = !(f->top && (kind & 1));
	describe(f,
		 "map_anywhere 0x%" PRIx64 " align 0x%" PRIx64 " perms 0x%x"
		 " label %u window 0x%" PRIx64 "-0x%" PRIx64 "%s",
		 size, align, perms, label, w.lo, w.hi, w.hi_set ? "" : "..");
	want = model_find(f, size, &w, align, &at);
	if (want == 0 && !addr_page(f, at, &p))
		fail(f, "the model placed 0x%" PRIx64 " outside its window",
		     at);
	if (want == 0 && (perms > GM_PERM_ALL || label == TOO_LONG)) {
		want = -EINVAL;
	} else if (want == 0) {
		nr.first = p;
		nr.npages = (unsigned)((size + f->ps - 1) / f->ps);
		nr.block = ++f->blocks;
		n = layout_insert(&f->m, &nr, out);
		want = layout_rc(f, n);
	}
	rc = gm_map_anywhere(f->g, size, perms, label ? text : NULL,
			     label ? len : 0, &w, align, &got, &f->err);
	expect_rc(f, want, rc);
	if (rc == 0 && got != at)
		fail(f, "mapped at 0x%" PRIx64 ", the model at 0x%" PRIx64, got,
		     at);
	if (rc == 0)
		layout_set(f, out, n);
}

/* is_mapped and is_available */
static void op_probe(struct fuzz *f)
{
	unsigned kind = take8(f) % 8;
	uint64_t addr = take_addr(f), size = take_len(f);
	bool valid, want = false, got;
	int rc;

	if (kind == 7)
		size = UINT64_MAX - size;
	describe(f, "%s 0x%" PRIx64 "+0x%" PRIx64,
		 kind % 2 ? "is_mapped" : "is_available", addr, size);
	valid = range_ok(f, addr, size);
	if (valid)
		want = kind % 2 ? model_mapped(f, addr, size)
				: model_free(f, addr, size);
	got = !want;
	rc = kind % 2 ? gm_is_mapped(f->g, addr, size, &got, &f->err)
		      : gm_is_available(f->g, addr, size, &got, &f->err);
	expect_rc(f, valid ? 0 : -EINVAL, rc);
	if (rc == 0 && got != want)
		fail(f, "answered %d, the model %d", got, want);
}

/* Bytes */

/* LEN bytes repeating a pattern of PERIOD bytes made from SEED; one seed
 * in eight writes zeros, which snapshots store differently. */
static void fill(uint8_t *buf, size_t len, unsigned seed, unsigned period)
{
	uint8_t pat[16];
	uint32_t x = seed;

	for (unsigned i = 0; i < period; i++) {
		x = x * 1103515245u + 12345u;
		pat[i] = seed % 8 == 0 ? 0 : (uint8_t)(x >> 16);
	}
	for (size_t i = 0; i < len; i++)
		buf[i] = pat[i % period];
}

static void op_write(struct fuzz *f)
{
	uint64_t addr = take_addr(f);
	size_t len = take_len(f);
	unsigned seed = take8(f), period = 1 + take8(f) % 16;
	int want, rc;

	fill(f->buf, len, seed, period);
	describe(f, "write 0x%" PRIx64 "+0x%zx seed %u period %u", addr, len,
		 seed, period);
	want = mem_rc(f, addr, len);
	rc = gm_mem_write(f->g, addr, f->buf, len, &f->err);
	expect_rc(f, want, rc);
	if (rc == 0 && len > 0) {
		memcpy(model_bytes(f, addr), f->buf, len);
		f->pool_len = len < sizeof(f->pool) ? len : sizeof(f->pool);
		memcpy(f->pool, f->buf, f->pool_len);
	}
}

static void compare_bytes(const struct fuzz *f, const char *who, uint64_t addr,
			  const uint8_t *got, size_t len)
{
	const uint8_t *want;

	if (len == 0) /* ADDR may lie outside the window */
		return;
	want = model_bytes(f, addr);
	if (memcmp(got, want, len) == 0) /* the fuzzer's hot path */
		return;
	for (size_t i = 0; i < len; i++)
		if (got[i] != want[i])
			fail(f,
			     "%s: the byte at 0x%" PRIx64 " is 0x%02x, "
			     "the model's 0x%02x",
			     who, addr + i, got[i], want[i]);
}

/* Whether BUF still holds the canary bytes a failed call must not touch. */
static void canary_check(const struct fuzz *f, const uint8_t *buf, size_t from,
			 size_t to)
{
	for (size_t i = from; i < to; i++)
		if (buf[i] != 0xa5)
			fail(f, "byte %zu of the buffer was written", i);
}

static void op_read(struct fuzz *f)
{
	uint64_t addr = take_addr(f);
	size_t len = take_len(f);
	int want, rc;

	describe(f, "read 0x%" PRIx64 "+0x%zx", addr, len);
	memset(f->buf, 0xa5, len);
	want = mem_rc(f, addr, len);
	rc = gm_mem_read(f->g, addr, f->buf, len, &f->err);
	expect_rc(f, want, rc);
	if (rc == 0)
		compare_bytes(f, "gm_mem_read", addr, f->buf, len);
	else
		canary_check(f, f->buf, 0, len);
}

/* pread and pwrite stop at the first unmapped byte. */
static void op_pio(struct fuzz *f)
{
	unsigned kind = take8(f) % 2, seed = take8(f);
	uint64_t addr = take_addr(f);
	size_t len = take_len(f), want = model_prefix(f, addr, len), got;

	describe(f, "%s 0x%" PRIx64 "+0x%zx", kind ? "pwrite" : "pread", addr,
		 len);
	if (kind) {
		fill(f->buf, len, seed, 1 + seed % 16);
		got = gm_mem_pwrite(f->g, addr, f->buf, len);
	} else {
		memset(f->buf, 0xa5, len);
		got = gm_mem_pread(f->g, addr, f->buf, len);
	}
	if (got != want)
		fail(f, "transferred 0x%zx bytes, the model 0x%zx", got, want);
	if (kind && got > 0)
		memcpy(model_bytes(f, addr), f->buf, got);
	if (!kind) {
		compare_bytes(f, "gm_mem_pread", addr, f->buf, got);
		canary_check(f, f->buf, got, len);
	}
}

static const unsigned ptr_sizes[] = {0, 1, 2, 4, 8, 3};

static void op_write_ptr(struct fuzz *f)
{
	uint64_t addr = take_addr(f);
	unsigned size = ptr_sizes[take8(f) % 6];
	bool is_signed = take8(f) % 2;
	uint64_t v = take_value(f);
	unsigned n = size ? size : f->arch->pointer_size;
	int want, rc;

	describe(f, "write_ptr 0x%" PRIx64 " 0x%" PRIx64 " size %u%s", addr, v,
		 size, is_signed ? " signed" : "");
	if (n != 1 && n != 2 && n != 4 && n != 8)
		want = -EINVAL;
	else if (!fits(v, n, is_signed))
		want = -ERANGE;
	else
		want = mem_rc(f, addr, n);
	rc = gm_mem_write_ptr(f->g, addr, v, size, is_signed, &f->err);
	expect_rc(f, want, rc);
	if (rc == 0)
		encode(f, model_bytes(f, addr), v, n);
}

static void op_read_ptr(struct fuzz *f)
{
	uint64_t addr = take_addr(f), got = 0, v;
	unsigned size = ptr_sizes[take8(f) % 6];
	bool is_signed = take8(f) % 2;
	unsigned n = size ? size : f->arch->pointer_size;
	int want, rc;

	describe(f, "read_ptr 0x%" PRIx64 " size %u%s", addr, size,
		 is_signed ? " signed" : "");
	if (n != 1 && n != 2 && n != 4 && n != 8)
		want = -EINVAL;
	else
		want = mem_rc(f, addr, n);
	rc = gm_mem_read_ptr(f->g, addr, size, is_signed, &got, &f->err);
	expect_rc(f, want, rc);
	if (rc < 0)
		return;
	v = decode(f, model_bytes(f, addr), n, is_signed);
	if (got != v)
		fail(f, "read 0x%" PRIx64 ", the model 0x%" PRIx64, got, v);
}

/* The length of the string at ADDR, or -EFAULT when mapped memory ends
 * before its NUL. */
static int model_strlen(const struct fuzz *f, uint64_t addr, size_t *len)
{
	size_t n = 0;
	unsigned p;

	for (;;) {
		uint64_t a = addr + n, room;
		const uint8_t *nul;

		if (!addr_page(f, a, &p) || region_at(&f->m, p) < 0)
			return -EFAULT;
		room = f->ps - (a - f->base) % f->ps;
		nul = memchr(model_bytes(f, a), 0, room);
		if (nul) {
			*len = n + (size_t)(nul - model_bytes(f, a));
			return 0;
		}
		n += room;
	}
}

static void op_string(struct fuzz *f)
{
	unsigned kind = take8(f) % 2, len = take8(f) % (f->pool_len + 1);
	uint64_t addr = take_addr(f);
	size_t want_len = 0, got_len = 0;
	char *text = NULL;
	int want, rc;

	if (kind) {
		describe(f, "string write 0x%" PRIx64 " %u bytes", addr, len);
		want = mem_rc(f, addr, len + 1);
		rc = gm_mem_string_write(f->g, addr, (const char *)f->pool, len,
					 &f->err);
		expect_rc(f, want, rc);
		if (rc == 0) {
			memcpy(model_bytes(f, addr), f->pool, len);
			*model_bytes(f, addr + len) = 0;
		}
		return;
	}
	describe(f, "string read 0x%" PRIx64, addr);
	want = model_strlen(f, addr, &want_len);
	rc = gm_mem_string_read(f->g, addr, &text, &got_len, &f->err);
	expect_rc(f, want, rc);
	if (rc < 0)
		return;
	if (got_len != want_len || text[got_len] != '\0')
		fail(f, "a string of %zu bytes, the model's has %zu", got_len,
		     want_len);
	compare_bytes(f, "gm_mem_string_read", addr, (const uint8_t *)text,
		      got_len);
	free(text);
}

/* Search */

static int collect(uint64_t addr, void *ctx)
{
	struct fuzz *f = ctx;

	if (f->nfound < f->found_cap)
		f->found[f->nfound] = addr;
	f->nfound++;
	return f->stop_after && f->nfound == f->stop_after;
}

/* A naive search of the window: matches lie in mapped pages without a
 * hole, do not overlap, and stop after STOP of them (0: never). */
static long model_search(const struct fuzz *f, const uint8_t *pat, size_t len,
			 const struct gm_window *win)
{
	uint64_t lo = win ? win->lo : 0, wl = f->base + f->wsize - 1;
	uint64_t hi_last = f->last, i, end;
	bool mapped[NPAGES];
	long n = 0;

	if (win && win->hi_set && win->hi - 1 < hi_last)
		hi_last = win->hi - 1;
	if (hi_last < f->base || lo > wl)
		return 0;
	i = lo > f->base ? lo - f->base : 0;
	end = (hi_last < wl ? hi_last : wl) - f->base;
	for (unsigned p = 0; p < NPAGES; p++)
		mapped[p] = region_at(&f->m, p) >= 0;
	while (i + len - 1 <= end) {
		const uint8_t *next = memchr(f->m.mem + i, pat[0], end - i + 1);

		if (!next)
			break;
		i = (uint64_t)(next - f->m.mem);
		if (i + len - 1 > end)
			break;
		if (!mapped[i / f->ps]) {
			i = (i / f->ps + 1) * f->ps;
		} else if (mapped[(i + len - 1) / f->ps] &&
			   memcmp(f->m.mem + i, pat, len) == 0) {
			f->want[n++] = f->base + i;
			i += len;
			if (f->stop_after && n == f->stop_after)
				break;
		} else {
			i++;
		}
	}
	return n;
}

/* LEN bytes of memory across the end of a region that another follows, as
 * a pattern for search; false when no region touches the next. */
static bool boundary_pattern(const struct fuzz *f, unsigned a, unsigned len,
			     uint8_t *pat)
{
	for (size_t k = 0; k < f->m.n; k++) {
		size_t i = (a + k) % f->m.n;
		unsigned end = f->m.r[i].first + f->m.r[i].npages;

		if (i + 1 < f->m.n && f->m.r[i + 1].first == end) {
			uint64_t at = page_addr(f, end) - 1 - a % (len - 1);

			memcpy(pat, model_bytes(f, at), len);
			return true;
		}
	}
	return false;
}

static void op_search(struct fuzz *f)
{
	unsigned start = take8(f) % f->pool_len, len = 1 + take8(f) % 8;
	unsigned kind = take8(f) % 4, a = take8(f);
	uint8_t pat[16];
	bool seam;
	struct gm_window w = {0, 0, kind >= 2};
	const struct gm_window *win = kind == 0 ? NULL : &w;
	long want, rc;

	take_window(f, &w);
	f->stop_after = take8(f) % 4;
	seam = a % 2 && len > 1 && boundary_pattern(f, a / 2, len, pat);
	if (!seam) {
		if (len > f->pool_len - start)
			len = (unsigned)(f->pool_len - start);
		memcpy(pat, f->pool + start, len);
	}
	if (take8(f) % 16 == 0)
		len = 0;
	describe(f,
		 "search %u bytes %s %u window %u 0x%" PRIx64 "-0x%" PRIx64
		 " stop %u",
		 len, seam ? "across a region end" : "of the pool at", start,
		 kind, w.lo, w.hi, f->stop_after);
	if (len == 0 || (win && w.hi_set && w.hi <= w.lo))
		want = -EINVAL;
	else
		want = model_search(f, pat, len, win);
	f->nfound = 0;
	rc = gm_mem_search(f->g, pat, len, win, collect, f, &f->err);
	expect_rc(f, want, rc);
	if (rc > 0 && f->nfound != (size_t)rc)
		fail(f, "returned %ld but reported %zu", rc, f->nfound);
	for (long i = 0; i < rc; i++)
		if (f->found[i] != f->want[i])
			fail(f,
			     "match %ld at 0x%" PRIx64 ", the model's at "
			     "0x%" PRIx64,
			     i, f->found[i], f->want[i]);
}

/* Snapshots */

static void code_run(struct fuzz *f, uint64_t at);

static const char *snap_name(unsigned k)
{
	static const char *const names[] = {
	    "a", "snap-2", "x y", "a", NULL, "bad/name", NULL, "",
	};

	return names[k % 8];
}

static int snap_find(const struct fuzz *f, const char *name)
{
	for (size_t i = 0; i < f->nsnaps; i++)
		if (strcmp(f->snaps[i].name, name) == 0)
			return (int)i;
	return -1;
}

static void model_copy(const struct fuzz *f, struct model *dst,
		       const struct model *src)
{
	memcpy(dst->r, src->r, sizeof(dst->r));
	dst->n = src->n;
	dst->sp = src->sp;
	dst->reg = src->reg;
	memcpy(dst->mem, src->mem, f->wsize);
}

/* Remove snapshot I, keeping its buffer for a later save. */
static void snap_remove(struct fuzz *f, size_t i)
{
	struct msnap tmp = f->snaps[i];

	memmove(&f->snaps[i], &f->snaps[i + 1],
		(f->nsnaps - i - 1) * sizeof(f->snaps[0]));
	f->snaps[--f->nsnaps] = tmp;
}

static uint64_t model_stored(const struct fuzz *f)
{
	uint64_t n = 0;

	for (unsigned p = 0; p < NPAGES; p++) {
		const uint8_t *b = f->m.mem + p * f->ps;

		if (b[0] != 0 || memcmp(b, b + 1, f->ps - 1) != 0)
			n += f->ps;
	}
	return n;
}

static void op_save(struct fuzz *f)
{
	const char *arg = snap_name(take8(f)), *name = arg, *saved = NULL;
	bool valid = arg && *arg && !strchr(arg, '/');
	char autoname[32];
	uint64_t stored = model_stored(f), total = 0, budget;
	int old, want, rc;

	if (!arg && f->nsnaps == MAX_SNAPS) {
		describe(f, "save (none: the model holds %d)", MAX_SNAPS);
		return;
	}
	if (!arg) { /* as the core names it: the counter moves first */
		do
			snprintf(autoname, sizeof(autoname), "snap-%" PRIu64,
				 ++f->snap_seq);
		while (snap_find(f, autoname) >= 0);
		name = autoname;
		valid = true;
	}
	old = valid ? snap_find(f, name) : -1;
	if (valid && old < 0 && f->nsnaps == MAX_SNAPS) {
		describe(f, "save \"%s\" (none: the model is full)", name);
		return;
	}
	describe(f, "save \"%s\"%s", name ? name : "",
		 arg ? "" : " by default");
	for (size_t i = 0; i < f->nsnaps; i++)
		total += f->snaps[i].stored;
	budget = f->snap_limit > total ? f->snap_limit - total : 0;
	if (old >= 0)
		budget += f->snaps[old].stored;
	want = !valid ? -EINVAL : stored > budget ? -ENOSPC : 0;
	rc = gm_snap_save(f->g, arg, &saved, &f->err);
	expect_rc(f, want, rc);
	if (rc < 0)
		return;
	if (!saved || strcmp(saved, name) != 0)
		fail(f, "saved as \"%s\"", saved ? saved : "(null)");
	if (old >= 0)
		snap_remove(f, (size_t)old);
	struct msnap *s = &f->snaps[f->nsnaps++];

	snprintf(s->name, sizeof(s->name), "%s", name);
	if (!s->m.mem && !(s->m.mem = malloc(f->wsize)))
		fail(f, "out of memory");
	model_copy(f, &s->m, &f->m);
	s->stored = stored;
}

static void op_restore(struct fuzz *f)
{
	const char *name = snap_name(take8(f));
	int i = name ? snap_find(f, name) : (int)f->nsnaps - 1, want, rc;
	struct mregion out[NPAGES + 2];
	size_t n = 0;

	describe(f, "restore \"%s\"", name ? name : "(newest)");
	if (i < 0) {
		want = -ENOENT;
	} else {
		n = layout_restore(f, &f->snaps[i].m, out);
		want = layout_rc(f, n);
	}
	rc = gm_snap_restore(f->g, name, &f->err);
	expect_rc(f, want, rc);
	if (rc < 0)
		return;
	model_copy(f, &f->m, &f->snaps[i].m);
	layout_set(f, out, n);
	/* The restore put bytes back behind the engine's back. */
	for (unsigned k = 0; k < f->ncode && k < 4; k++)
		code_run(f, f->code_at[k]);
}

static void op_drop(struct fuzz *f)
{
	const char *name = snap_name(take8(f));
	int i = name ? snap_find(f, name) : -1, rc;

	describe(f, "drop \"%s\"", name ? name : "(null)");
	rc = gm_snap_drop(f->g, name, &f->err);
	expect_rc(f, i < 0 ? -ENOENT : 0, rc);
	if (rc == 0)
		snap_remove(f, (size_t)i);
}

/* Registers and the stack */

static void op_set_reg(struct fuzz *f)
{
	uint64_t v = take_value(f);
	int rc;

	describe(f, "set %s 0x%" PRIx64, f->reg->name, v);
	rc = gm_reg_write(f->g, f->reg, v, &f->err);
	expect_rc(f, f->reg->bits < 64 && v >> f->reg->bits ? -ERANGE : 0, rc);
	if (rc == 0)
		f->m.reg = v;
}

static void op_set_sp(struct fuzz *f)
{
	unsigned kind = take8(f) % 4, page = take8(f) % (NPAGES + 1);
	uint64_t sub = take16(f) % f->ps, v;
	unsigned bits = gm_arch_reg(f->arch, "sp")->bits;
	int rc;

	if (kind != 2)
		sub &= ~(uint64_t)(f->arch->pointer_size - 1);
	if (kind < 2 && f->m.n > 0) { /* in a region, or at its end */
		const struct mregion *r = &f->m.r[page % f->m.n];

		page = r->first + (kind == 0 ? r->npages : sub % r->npages);
		sub = kind == 0 ? 0 : sub;
	}
	v = kind == 3 ? take_value(f) : f->base + page * f->ps + sub;
	describe(f, "set sp 0x%" PRIx64, v);
	rc = gm_reg_set_sp(f->g, v, &f->err);
	expect_rc(f, bits < 64 && v >> bits ? -ERANGE : 0, rc);
	if (rc == 0)
		f->m.sp = v;
}

static void op_push(struct fuzz *f)
{
	uint64_t v = take_value(f), sp = f->m.sp, got = 0;
	unsigned n = f->arch->pointer_size;
	int want, rc;

	describe(f, "push 0x%" PRIx64 " at sp 0x%" PRIx64, v, sp);
	if (n < 8 && v >> (8 * n) != 0)
		want = -ERANGE;
	else if (sp < n || !model_mapped(f, sp - n, n))
		want = -EFAULT;
	else
		want = 0;
	rc = gm_stack_push(f->g, v, &got, &f->err);
	expect_rc(f, want, rc);
	if (rc < 0)
		return;
	if (got != sp - n)
		fail(f, "new sp 0x%" PRIx64, got);
	encode(f, model_bytes(f, sp - n), v, n);
	f->m.sp = sp - n;
}

static void op_pop(struct fuzz *f)
{
	uint64_t sp = f->m.sp, got = 0, v;
	unsigned n = f->arch->pointer_size;
	int rc;

	describe(f, "pop at sp 0x%" PRIx64, sp);
	rc = gm_stack_pop(f->g, &got, &f->err);
	expect_rc(f, mem_rc(f, sp, n), rc);
	if (rc < 0)
		return;
	v = decode(f, model_bytes(f, sp), n, false);
	if (got != v)
		fail(f, "popped 0x%" PRIx64 ", the model 0x%" PRIx64, got, v);
	f->m.sp = (sp + n) & f->last;
}

/* stack_read and stack_write at SP + OFFSET. A word that starts inside
 * the space and ends past it is the one case of EINVAL. */
static void op_stack_rw(struct fuzz *f)
{
	unsigned kind = take8(f) % 2, n = f->arch->pointer_size;
	int64_t off = (int64_t)take8(f) - 128;
	uint64_t v = kind ? take_value(f) : 0, sp = f->m.sp, mag, addr;
	uint64_t got = 0;
	int want, rc;

	if (take8(f) % 2)
		off *= n;
	mag = off < 0 ? 0 - (uint64_t)off : (uint64_t)off;
	addr = off < 0 ? sp - mag : sp + mag;
	describe(f, "stack %s %" PRId64 " 0x%" PRIx64, kind ? "write" : "read",
		 off, v);
	if (off < 0 ? mag > sp : mag > f->last - sp)
		want = -EFAULT;
	else if (kind && !fits(v, n, false))
		want = -ERANGE;
	else
		want = mem_rc(f, addr, n);
	if (kind)
		rc = gm_stack_write(f->g, off, v, &f->err);
	else
		rc = gm_stack_read(f->g, off, &got, &f->err);
	expect_rc(f, want, rc);
	if (rc < 0)
		return;
	if (kind)
		encode(f, model_bytes(f, addr), v, n);
	else if (got != decode(f, model_bytes(f, addr), n, false))
		fail(f, "read 0x%" PRIx64, got);
}

/* Code */

static size_t put32(const struct fuzz *f, uint8_t *b, uint32_t w)
{
	encode(f, b, w, 4);
	return 4;
}

/*
 * The code exec runs at a slot: +0x00 branches to +0x40, which sets the
 * register to IMM and branches to +0x80, where the run stops. Three
 * blocks, so that a stale translation of the middle one would show.
 */
static size_t code_entry(const struct fuzz *f, uint8_t *b)
{
	static const uint8_t x86_jmp[] = {0xe9, 0x3b, 0, 0, 0};

	if (f->kind == 1) {
		memcpy(b, x86_jmp, sizeof(x86_jmp));
		return sizeof(x86_jmp);
	}
	if (f->kind == 0)
		return put32(f, b, 0xea00000e); /* b +0x40 */
	if (f->kind == 3)
		return put32(f, b, 0x14000010); /* b +0x40 */
	put32(f, b, 0x1000000f);		/* b +0x40, then a nop */
	return 4 + put32(f, b + 4, 0);
}

static size_t code_body(const struct fuzz *f, unsigned imm, uint8_t *b)
{
	static const uint8_t x86_jmp[] = {0xe9, 0x36, 0, 0, 0};

	if (f->kind == 1) { /* mov eax, imm; jmp +0x80 */
		b[0] = 0xb8;
		put32(f, b + 1, imm);
		memcpy(b + 5, x86_jmp, sizeof(x86_jmp));
		return 5 + sizeof(x86_jmp);
	}
	if (f->kind == 0) { /* movw r0, imm; b +0x80 */
		put32(f, b, 0xe3000000 | (imm >> 12) << 16 | (imm & 0xfff));
		return 4 + put32(f, b + 4, 0xea00000d);
	}
	if (f->kind == 3) { /* movz x0, imm; b +0x80 */
		put32(f, b, 0xd2800000 | imm << 5);
		return 4 + put32(f, b + 4, 0x1400000f);
	}
	put32(f, b, 0x34020000 | imm); /* ori v0, zero, imm; b +0x80; nop */
	put32(f, b + 4, 0x1000000e);
	return 8 + put32(f, b + 8, 0);
}

/* Whether the model holds the code at AT, and with what immediate. */
static bool code_found(const struct fuzz *f, uint64_t at, unsigned *imm)
{
	uint8_t code[16];
	const uint8_t *b = model_bytes(f, at), *body = b + 0x40;
	uint32_t w = (uint32_t)decode(f, body + (f->kind == 1), 4, false);
	size_t len = code_entry(f, code);

	if (memcmp(b, code, len) != 0)
		return false;
	if (f->kind == 0)
		*imm = ((w >> 16) & 0xf) << 12 | (w & 0xfff);
	else if (f->kind == 3)
		*imm = (w >> 5) & 0xffff;
	else
		*imm = w & 0xffff;
	len = code_body(f, *imm, code);
	return memcmp(body, code, len) == 0;
}

static void code_write(struct fuzz *f, uint64_t at, const uint8_t *code,
		       size_t len)
{
	int want = mem_rc(f, at, len), rc;

	rc = gm_mem_write(f->g, at, code, len, &f->err);
	expect_rc(f, want, rc);
	if (rc == 0)
		memcpy(model_bytes(f, at), code, len);
}

/* Whether the model holds only zeros where a run at AT goes. */
static bool slot_zero(const struct fuzz *f, uint64_t at)
{
	const uint8_t *b = model_bytes(f, at);

	return b[0] == 0 && memcmp(b, b + 1, 0x80 - 1) == 0;
}

/*
 * Run the code at AT in the engine, as the model holds it (after writes,
 * maps and restores): the register must get the immediate there, zeros
 * must run as zeros do on the architecture, and the fetch must fail as the
 * page's permissions say. Other bytes are not run.
 */
static void code_run(struct fuzz *f, uint64_t at)
{
	/* zeros: andeq r0, r0, r0 / add [rax], al / nop / udf */
	static const uc_err zeros_end[] = {UC_ERR_OK, UC_ERR_READ_UNMAPPED,
					   UC_ERR_OK, UC_ERR_EXCEPTION};
	unsigned p, found = SENTINEL;
	int i = addr_page(f, at, &p) ? region_at(&f->m, p) : -1;
	uc_err e, want = UC_ERR_OK;

	if (f->kind == 2 && f->top) /* kseg2 is not mapped 1:1 */
		return;
	if (i < 0)
		want = UC_ERR_FETCH_UNMAPPED;
	else if (!(f->m.r[i].perms & GM_PERM_X))
		want = UC_ERR_FETCH_PROT;
	else if (slot_zero(f, at))
		want = zeros_end[f->kind];
	else if (!code_found(f, at, &found))
		return;
	expect_rc(f, 0, gm_reg_write(f->g, f->reg, SENTINEL, &f->err));
	f->m.reg = SENTINEL;
	e = uc_emu_start(f->uc, at, at + 0x80, 0, 0);
	if (f->trace)
		fprintf(stderr, "  run -> %s\n", uc_strerror(e));
	if (e != want)
		fail(f,
		     "the run at 0x%" PRIx64 " ended with \"%s\", the "
		     "model expects \"%s\"",
		     at, uc_strerror(e), uc_strerror(want));
	if (e == UC_ERR_OK)
		f->m.reg = found;
}

/* Run a slot's code as it is, or write it, run it, change the immediate
 * and run it again: the engine must not run what it translated before. */
static void op_exec(struct fuzz *f)
{
	unsigned a = take8(f), page = take8(f) % NPAGES, slot = take8(f);
	unsigned imm = take16(f), write = take8(f) % 2;
	uint64_t at;
	uint8_t code[16];

	if (a % 4 != 0 && f->m.n > 0)
		page =
		    f->m.r[a % f->m.n].first + page % f->m.r[a % f->m.n].npages;
	slot = slot % 4 != 0 ? 0 : slot / 4 % (unsigned)(f->ps / 256);
	at = page_addr(f, page) + slot * 256;
	describe(f, "exec at 0x%" PRIx64 "%s 0x%x", at, write ? " writing" : "",
		 imm);
	if (write) {
		f->code_at[f->ncode++ % 4] = at;
		code_write(f, at, code, code_entry(f, code));
		code_write(f, at + 0x40, code, code_body(f, imm, code));
	}
	code_run(f, at);
	if (write) {
		code_write(f, at + 0x40, code,
			   code_body(f, imm ^ 0x5a5a, code));
		code_run(f, at);
	}
}

static void op_set_limit(struct fuzz *f)
{
	size_t limit = 2 + take8(f) % 15;

	describe(f, "region limit %zu", limit);
	gm_guest_set_region_limit(f->g, limit);
	f->limit = limit;
}

/* Checks after every operation */

static void check_regions(const struct fuzz *f)
{
	size_t n;
	const struct gm_region *r = gm_regions(f->g, &n);

	if (n != f->m.n)
		fail(f, "%zu regions, the model has %zu", n, f->m.n);
	for (size_t i = 0; i < n; i++) {
		const struct mregion *m = &f->m.r[i];
		size_t len;
		const char *label = label_bytes(f, m->label, &len);

		if (r[i].start != page_addr(f, m->first) ||
		    r[i].size != m->npages * f->ps || r[i].perms != m->perms)
			fail(f, "region %zu differs from the model", i);
		if (!r[i].label || r[i].label_len != len ||
		    memcmp(r[i].label, label, len) != 0 ||
		    r[i].label[len] != '\0')
			fail(f,
			     "region %zu has a label of %zu bytes, the "
			     "model label %u",
			     i, r[i].label_len, m->label);
		if (!r[i].host || !r[i].block)
			fail(f, "region %zu has no host memory", i);
	}
	if (gm_guest_region_limit(f->g) != f->limit)
		fail(f, "region limit %zu", gm_guest_region_limit(f->g));
}

/* gm_region_find for the first and last byte of every page. */
static void check_lookup(const struct fuzz *f)
{
	for (unsigned p = 0; p < NPAGES; p++) {
		uint64_t a = page_addr(f, p);
		int i = region_at(&f->m, p);
		const struct gm_region *r = gm_region_find(f->g, a);
		const struct gm_region *r2 =
		    gm_region_find(f->g, a + f->ps - 1);

		if (i < 0 ? r || r2
			  : !r || r2 != r ||
				r->start != page_addr(f, f->m.r[i].first))
			fail(f,
			     "gm_region_find of page 0x%" PRIx64
			     " disagrees with the model",
			     a);
	}
	if (gm_region_find(f->g, f->base - 1) ||
	    (!f->top && gm_region_find(f->g, f->base + f->wsize)))
		fail(f, "gm_region_find outside the window found a region");
}

static void check_run(const struct fuzz *f, uint64_t a, uint64_t len)
{
	struct gm_error err = {0};
	uc_err e;

	memset(f->buf2, 0xa5, len);
	if (gm_mem_read(f->g, a, f->buf2, len, &err) != 0)
		fail(f, "gm_mem_read of mapped 0x%" PRIx64 "+0x%" PRIx64 ": %s",
		     a, len, err.msg);
	compare_bytes(f, "gm_mem_read", a, f->buf2, len);
	memset(f->buf2, 0xa5, len);
	e = uc_mem_read(f->uc, a, f->buf2, len);
	if (e != UC_ERR_OK)
		fail(f, "uc_mem_read of mapped 0x%" PRIx64 "+0x%" PRIx64 ": %s",
		     a, len, uc_strerror(e));
	compare_bytes(f, "uc_mem_read", a, f->buf2, len);
}

static void check_hole(const struct fuzz *f, uint64_t a)
{
	uint8_t b;

	for (int k = 0; k < 2; k++, a += f->ps - 1) {
		if (gm_mem_read(f->g, a, &b, 1, NULL) != -EFAULT)
			fail(f,
			     "gm_mem_read of unmapped 0x%" PRIx64
			     " is not EFAULT",
			     a);
		if (uc_mem_read(f->uc, a, &b, 1) == UC_ERR_OK)
			fail(f,
			     "uc_mem_read of unmapped 0x%" PRIx64 " succeeded",
			     a);
	}
}

/* Every byte of the window, through the core and through the engine. */
static void check_bytes(const struct fuzz *f)
{
	unsigned p = 0, q;

	while (p < NPAGES) {
		bool mapped = region_at(&f->m, p) >= 0;

		for (q = p; q < NPAGES && (region_at(&f->m, q) >= 0) == mapped;
		     q++)
			if (!mapped)
				check_hole(f, page_addr(f, q));
		if (mapped)
			check_run(f, page_addr(f, p), (q - p) * f->ps);
		p = q;
	}
}

static int engine_order(const void *a, const void *b)
{
	const uc_mem_region *x = a, *y = b;

	return x->begin < y->begin ? -1 : x->begin > y->begin;
}

/* The engine holds the same regions as the core, with inclusive ends. */
static void check_engine(const struct fuzz *f)
{
	uc_mem_region *ur = NULL;
	uint32_t count = 0;
	size_t n;
	const struct gm_region *r = gm_regions(f->g, &n);
	uc_err e = uc_mem_regions(f->uc, &ur, &count);

	if (e != UC_ERR_OK)
		fail(f, "uc_mem_regions: %s", uc_strerror(e));
	if (count != n)
		fail(f, "the engine has %u regions, the core %zu", count, n);
	if (count > 0)
		qsort(ur, count, sizeof(*ur), engine_order);
	for (size_t i = 0; i < n; i++)
		if (ur[i].begin != r[i].start ||
		    ur[i].end != r[i].start + r[i].size - 1 ||
		    ur[i].perms != r[i].perms)
			fail(f,
			     "engine region 0x%" PRIx64 "-0x%" PRIx64
			     " perms %u differs from the core's %zu",
			     ur[i].begin, ur[i].end, ur[i].perms, i);
	uc_free(ur);
}

static void check_regs(const struct fuzz *f)
{
	uint64_t sp = gm_reg_sp(f->g), v = 0;

	if (sp != f->m.sp)
		fail(f, "sp is 0x%" PRIx64 ", the model's 0x%" PRIx64, sp,
		     f->m.sp);
	if (gm_reg_read(f->g, f->reg, &v, NULL) != 0 || v != f->m.reg)
		fail(f, "%s is 0x%" PRIx64 ", the model's 0x%" PRIx64,
		     f->reg->name, v, f->m.reg);
}

static void check_snaps(const struct fuzz *f)
{
	if (gm_snap_count(f->g) != f->nsnaps)
		fail(f, "%zu snapshots, the model has %zu", gm_snap_count(f->g),
		     f->nsnaps);
	for (size_t i = 0; i < f->nsnaps; i++) {
		const struct gm_snapshot *s = gm_snap_at(f->g, i);
		const struct msnap *ms = &f->snaps[i];

		if (strcmp(s->name, ms->name) != 0 ||
		    s->stored_bytes != ms->stored || s->nregions != ms->m.n)
			fail(f,
			     "snapshot %zu \"%s\" differs from the model's "
			     "\"%s\"",
			     i, s->name, ms->name);
		for (size_t j = 0; j < s->nregions; j++)
			if (s->regions[j].start !=
				page_addr(f, ms->m.r[j].first) ||
			    s->regions[j].size != ms->m.r[j].npages * f->ps ||
			    s->regions[j].perms != ms->m.r[j].perms)
				fail(f, "region %zu of snapshot \"%s\" differs",
				     j, s->name);
	}
}

/* Widen [*lo, *last] (empty when *any is false) to [a, b]. */
static void widen(bool *any, uint64_t *lo, uint64_t *last, uint64_t a,
		  uint64_t b)
{
	if (!*any || a < *lo)
		*lo = a;
	if (!*any || b > *last)
		*last = b;
	*any = true;
}

/* The bytes at page P of the window that differ before and after, as
 * offsets [*i, *j]; false when none does. */
static bool page_diff(const struct fuzz *f, unsigned p, uint64_t *i,
		      uint64_t *j)
{
	const uint8_t *a = f->before.mem + p * f->ps, *b = f->m.mem + p * f->ps;

	if (memcmp(a, b, f->ps) == 0)
		return false;
	for (*i = 0; a[*i] == b[*i];)
		(*i)++;
	for (*j = f->ps - 1; a[*j] == b[*j];)
		(*j)--;
	return true;
}

/* The addresses whose bytes, mapping or protection the operation changed
 * in the model, as [*lo, *last]; false when it changed none. */
static bool model_changes(const struct fuzz *f, uint64_t *lo, uint64_t *last)
{
	bool any = false;
	uint64_t i, j;

	for (unsigned p = 0; p < NPAGES; p++) {
		int a = region_at(&f->before, p), b = region_at(&f->m, p);

		if ((a < 0) != (b < 0) ||
		    (a >= 0 && f->before.r[a].perms != f->m.r[b].perms))
			widen(&any, lo, last, page_addr(f, p),
			      page_addr(f, p) + f->ps - 1);
		else if (page_diff(f, p, &i, &j))
			widen(&any, lo, last, page_addr(f, p) + i,
			      page_addr(f, p) + j);
	}
	return any;
}

/*
 * The change record holds every address the model says changed, inside
 * the window, where nothing else ever changes; a query records nothing.
 * The record may be wider than the change (a split counts its region).
 */
static void check_changes(struct fuzz *f, bool query)
{
	uint64_t lo = 0, last = 0, mlo = 0, mlast = 0;
	bool got = gm_guest_take_changes(f->g, &lo, &last);
	bool want = model_changes(f, &mlo, &mlast);

	if (got && (query || lo > last || lo < f->base ||
		    last > f->base + (f->wsize - 1)))
		fail(f, "the change record holds 0x%" PRIx64 "-0x%" PRIx64, lo,
		     last);
	if (want && !got)
		fail(f,
		     "0x%" PRIx64 "-0x%" PRIx64 " changed, the record is empty",
		     mlo, mlast);
	if (want && (mlo < lo || mlast > last))
		fail(f,
		     "0x%" PRIx64 "-0x%" PRIx64 " changed, the record holds "
		     "only 0x%" PRIx64 "-0x%" PRIx64,
		     mlo, mlast, lo, last);
	model_copy(f, &f->before, &f->m);
}

static void check(const struct fuzz *f)
{
	check_regions(f);
	check_lookup(f);
	check_bytes(f);
	check_engine(f);
	check_regs(f);
	check_snaps(f);
}

/* Running an input */

/* The operations; a byte picks one, each WEIGHT times in 33. */
static const struct op {
	const char *name;
	void (*fn)(struct fuzz *f);
	unsigned weight;
	bool query; /* changes no byte, mapping or protection */
} ops[] = {
    {"map", op_map, 3, false},
    {"unmap", op_unmap, 2, false},
    {"protect", op_protect, 3, false},
    {"unmap_whole", op_unmap_whole, 1, false},
    {"set_label", op_set_label, 1, true},
    {"write", op_write, 2, false},
    {"read", op_read, 1, true},
    {"pio", op_pio, 1, false},
    {"write_ptr", op_write_ptr, 1, false},
    {"read_ptr", op_read_ptr, 1, true},
    {"string", op_string, 1, false},
    {"save", op_save, 2, true},
    {"restore", op_restore, 2, false},
    {"drop", op_drop, 1, true},
    {"find_free_space", op_find_free, 1, true},
    {"map_anywhere", op_map_anywhere, 1, false},
    {"probe", op_probe, 1, true},
    {"search", op_search, 1, true},
    {"set_sp", op_set_sp, 1, true},
    {"push", op_push, 1, false},
    {"pop", op_pop, 1, true},
    {"stack_rw", op_stack_rw, 1, false},
    {"set_reg", op_set_reg, 1, true},
    {"exec", op_exec, 1, false},
    {"set_limit", op_set_limit, 1, true},
};

#define NOPS (sizeof(ops) / sizeof(ops[0]))

static const struct op *take_op(struct fuzz *f)
{
	unsigned total = 0, k;
	size_t i;

	for (i = 0; i < NOPS; i++)
		total += ops[i].weight;
	k = take8(f) % total;
	for (i = 0; k >= ops[i].weight; i++)
		k -= ops[i].weight;
	return &ops[i];
}

/*
 * The first byte chooses the guest: bits 0-1 the architecture (arm and
 * arm64 for 1 KiB pages, x86_64 and mips for 4 KiB ones, a 64-bit space
 * for x86_64 and arm64, big endian for mips), bit 2 the window at the top
 * of the space, bits 3-5 the region limit, bit 6 a small snapshot memory
 * limit.
 */
/*
 * The guest of each architecture, kept from input to input: opening an
 * engine costs more than running most inputs. Each input resets it as it
 * ends, so that what the input allocated is freed within it, as the
 * fuzzer's leak check wants.
 */
static struct gm_guest *guests[4];

static void setup(struct fuzz *f)
{
	static const char *const names[] = {"arm", "x86_64", "mips", "arm64"};
	static const char *const regs[] = {"r0", "rax", "v0", "x0"};
	unsigned cfg = take8(f);
	struct gm_error err = {0};
	size_t io;

	f->arch = gm_arch_find(names[cfg % 4]);
	f->kind = cfg % 4;
	f->top = cfg & 4;
	f->limit = 4 + (cfg >> 3) % 8;
	f->g = guests[f->kind];
	if (!f->g && gm_guest_open(f->arch, &f->g, &err) < 0) {
		fprintf(stderr, "gm_fuzz_ops: %s\n", err.msg);
		abort();
	}
	guests[f->kind] = f->g;
	if (gm_fuzz_check_reset())
		gm_fuzz_check_fresh(f->g, "gm_fuzz_ops");
	f->uc = gm_guest_engine(f->g);
	f->reg = gm_arch_reg(f->arch, regs[cfg % 4]);
	f->ps = gm_guest_page_size(f->g);
	f->last = gm_guest_last_addr(f->g);
	f->wsize = NPAGES * f->ps;
	f->base = f->top ? f->last - f->wsize + 1 : LOW_BASE;
	gm_guest_set_region_limit(f->g, f->limit);
	if (cfg & 0x40)
		gm_guest_set_snapshot_limit(f->g, 20 * f->ps);
	f->snap_limit = gm_guest_snapshot_limit(f->g);
	io = f->wsize > IO_MAX ? f->wsize : IO_MAX;
	f->m.mem = calloc(1, f->wsize);
	f->before.mem = calloc(1, f->wsize);
	f->buf = malloc(io);
	f->buf2 = malloc(io);
	f->found_cap = f->wsize + 1;
	f->found = calloc(f->found_cap, sizeof(*f->found));
	f->want = calloc(f->found_cap, sizeof(*f->want));
	if (!f->m.mem || !f->before.mem || !f->buf || !f->buf2 || !f->found ||
	    !f->want)
		fail(f, "out of memory");
	memset(f->long_label, 'L', sizeof(f->long_label));
	f->m.sp = gm_reg_sp(f->g);
	if (gm_reg_read(f->g, f->reg, &f->m.reg, &err) < 0)
		fail(f, "%s", err.msg);
	f->pool_len = 1; /* a zero byte */
	f->trace = getenv("GM_FUZZ_TRACE") != NULL;
}

static void teardown(struct fuzz *f)
{
	if (gm_guest_reset(f->g, &f->err) < 0)
		fail(f, "reset: %s", f->err.msg);
	for (size_t i = 0; i < MAX_SNAPS; i++)
		free(f->snaps[i].m.mem);
	free(f->m.mem);
	free(f->before.mem);
	free(f->buf);
	free(f->buf2);
	free(f->found);
	free(f->want);
	free(f);
}

int gm_fuzz_ops(const uint8_t *data, size_t size)
{
	struct fuzz *f = calloc(1, sizeof(*f));

	if (!f)
		abort();
	f->data = data;
	f->size = size;
	setup(f);
	snprintf(f->desc, sizeof(f->desc), "the fresh guest");
	check(f);
	check_changes(f, true);
	while (f->pos < f->size && f->opno < MAX_OPS) {
		const struct op *op = take_op(f);

		f->opno++;
		memset(&f->err, 0, sizeof(f->err));
		snprintf(f->desc, sizeof(f->desc), "%s", op->name);
		op->fn(f);
		check(f);
		check_changes(f, op->query);
	}
	teardown(f);
	return 0;
}
