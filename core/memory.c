/*
 * Guest memory access on the regions' host memory: a copy is a memcpy per
 * region crossed, and every write drops the engine's translated code for
 * the bytes it changed.
 */
#include "memory.h"
#include "guest-priv.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static uint64_t region_last(const struct gm_region *r)
{
	return r->start + r->size - 1;
}

/* Call FN on each host chunk of [addr, addr+size) in order, stopping at the
 * first unmapped address. Returns the bytes walked. */
typedef void (*chunk_fn)(uint8_t *host, size_t len, size_t done, void *ctx);

static size_t mem_walk(const struct gm_guest *g, uint64_t addr, size_t size,
		       chunk_fn fn, void *ctx)
{
	size_t done = 0, i = gm_region_lower_bound(g, addr);

	while (done < size && i < g->nregions && g->regions[i].start <= addr) {
		const struct gm_region *r = &g->regions[i++];
		uint64_t off = addr - r->start;
		size_t len = size - done;

		if (len > r->size - off)
			len = r->size - off;
		fn(r->host + off, len, done, ctx);
		done += len;
		if (region_last(r) == UINT64_MAX)
			break;
		addr += len;
	}
	return done;
}

static void copy_out(uint8_t *host, size_t len, size_t done, void *buf)
{
	memcpy((uint8_t *)buf + done, host, len);
}

static void copy_in(uint8_t *host, size_t len, size_t done, void *buf)
{
	memcpy(host, (const uint8_t *)buf + done, len);
}

size_t gm_mem_pread(const struct gm_guest *g, uint64_t addr, void *buf,
		    size_t size)
{
	return mem_walk(g, addr, size, copy_out, buf);
}

size_t gm_mem_pwrite(struct gm_guest *g, uint64_t addr, const void *buf,
		     size_t size)
{
	size_t done = mem_walk(g, addr, size, copy_in, (void *)buf);

	gm_changed(g, addr, done);
	return done;
}

static int whole_range(const struct gm_guest *g, uint64_t addr, size_t size,
		       struct gm_error *err)
{
	int rc = gm_range_check(g, addr, size, false, err);

	return rc < 0 ? rc : gm_range_mapped(g, addr, size, err);
}

int gm_mem_read(const struct gm_guest *g, uint64_t addr, void *buf, size_t size,
		struct gm_error *err)
{
	int rc;

	if (size == 0)
		return 0;
	rc = whole_range(g, addr, size, err);
	if (rc == 0)
		gm_mem_pread(g, addr, buf, size);
	return rc;
}

int gm_mem_write(struct gm_guest *g, uint64_t addr, const void *buf,
		 size_t size, struct gm_error *err)
{
	int rc;

	if (size == 0)
		return 0;
	rc = whole_range(g, addr, size, err);
	if (rc == 0)
		gm_mem_pwrite(g, addr, buf, size);
	return rc;
}

/* Pointers */

static int ptr_size(const struct gm_guest *g, unsigned size, unsigned *n,
		    struct gm_error *err)
{
	*n = size ? size : g->arch->pointer_size;
	if (*n != 1 && *n != 2 && *n != 4 && *n != 8)
		return gm_fail(err, EINVAL, "size must be 1, 2, 4 or 8, not %u",
			       size);
	return 0;
}

int gm_mem_read_ptr(const struct gm_guest *g, uint64_t addr, unsigned size,
		    bool is_signed, uint64_t *value, struct gm_error *err)
{
	uint8_t b[8];
	uint64_t v = 0;
	unsigned n;
	int rc;

	rc = ptr_size(g, size, &n, err);
	if (rc == 0)
		rc = gm_mem_read(g, addr, b, n, err);
	if (rc < 0)
		return rc;
	for (unsigned i = 0; i < n; i++)
		v = v << 8 | b[g->arch->big_endian ? i : n - 1 - i];
	if (is_signed && n < 8 && (v >> (8 * n - 1)) & 1)
		v |= UINT64_MAX << (8 * n);
	*value = v;
	return 0;
}

static bool fits(uint64_t value, unsigned n, bool is_signed)
{
	int64_t s = (int64_t)value;

	if (n == 8)
		return true;
	if (!is_signed)
		return value >> (8 * n) == 0;
	return s >= -(INT64_C(1) << (8 * n - 1)) &&
	       s < (INT64_C(1) << (8 * n - 1));
}

int gm_mem_write_ptr(struct gm_guest *g, uint64_t addr, uint64_t value,
		     unsigned size, bool is_signed, struct gm_error *err)
{
	uint8_t b[8];
	unsigned n;
	int rc;

	rc = ptr_size(g, size, &n, err);
	if (rc < 0)
		return rc;
	if (!fits(value, n, is_signed)) {
		bool negative = is_signed && (int64_t)value < 0;

		return gm_fail(err, ERANGE,
			       "%s0x%llx does not fit in %u %sbyte%s",
			       negative ? "-" : "",
			       negative ? 0ULL - (unsigned long long)value
					: (unsigned long long)value,
			       n, is_signed ? "signed " : "", n > 1 ? "s" : "");
	}
	for (unsigned i = 0; i < n; i++)
		b[g->arch->big_endian ? n - 1 - i : i] =
		    (uint8_t)(value >> (8 * i));
	return gm_mem_write(g, addr, b, n, err);
}

/* Strings */

/* The length of the string at ADDR, or -EFAULT when mapped memory ends
 * before its NUL. */
static int mem_strlen(const struct gm_guest *g, uint64_t addr, size_t *len,
		      struct gm_error *err)
{
	size_t i = gm_region_lower_bound(g, addr);
	uint64_t cur = addr;

	*len = 0;
	while (i < g->nregions && g->regions[i].start <= cur) {
		const struct gm_region *r = &g->regions[i++];
		uint64_t off = cur - r->start;
		const uint8_t *nul = memchr(r->host + off, 0, r->size - off);

		if (nul) {
			*len += (size_t)(nul - (r->host + off));
			return 0;
		}
		*len += r->size - off;
		if (region_last(r) == UINT64_MAX)
			break;
		cur = region_last(r) + 1;
	}
	return gm_fail(err, EFAULT,
		       "the string at 0x%llx runs into unmapped memory at "
		       "0x%llx before its NUL",
		       (unsigned long long)addr,
		       (unsigned long long)(addr + *len));
}

int gm_mem_string_read(const struct gm_guest *g, uint64_t addr, char **text,
		       size_t *len, struct gm_error *err)
{
	char *s;
	int rc;

	rc = mem_strlen(g, addr, len, err);
	if (rc < 0)
		return rc;
	s = malloc(*len + 1);
	if (!s)
		return gm_fail(err, ENOMEM, "out of memory");
	gm_mem_pread(g, addr, s, *len);
	s[*len] = '\0';
	*text = s;
	return 0;
}

int gm_mem_string_write(struct gm_guest *g, uint64_t addr, const char *text,
			size_t len, struct gm_error *err)
{
	int rc;

	if (len == SIZE_MAX)
		return gm_fail(err, EINVAL, "string too long");
	rc = whole_range(g, addr, len + 1, err);
	if (rc < 0)
		return rc;
	gm_mem_pwrite(g, addr, text, len);
	gm_mem_pwrite(g, addr + len, "", 1);
	return 0;
}

/* Search */

struct search {
	const struct gm_guest *g;
	const uint8_t *pat;
	size_t len;
	gm_match_fn fn;
	void *ctx;
	long count;
	bool stop;
	uint8_t *seam; /* 2 * len bytes, for matches across regions */
};

static void report(struct search *s, uint64_t addr)
{
	s->count++;
	if (s->fn && s->fn(addr, s->ctx) != 0)
		s->stop = true;
}

/*
 * Search [*cur, last] of region R (last inside R), then the matches that
 * start in R and end past it, no later than RUN_LAST. *CUR is the first
 * address a match may start at, so that matches never overlap; the run's
 * earlier regions have been searched up to R's start.
 */
static void search_region(struct search *s, const struct gm_region *r,
			  uint64_t *cur, uint64_t last, uint64_t run_last)
{
	uint64_t off, end = last - r->start + 1, w0;
	size_t seam_len, got;

	if (*cur < r->start)
		*cur = r->start;
	for (off = *cur - r->start; !s->stop && end - off >= s->len;) {
		const uint8_t *m =
		    memmem(r->host + off, (size_t)(end - off), s->pat, s->len);

		if (!m)
			break;
		off = (uint64_t)(m - r->host);
		report(s, r->start + off);
		off += s->len;
		*cur = r->start + off;
	}
	if (s->stop || last == run_last || s->len == 1)
		return;
	/* Matches starting in the last len-1 bytes of R go on into the next
	 * regions: copy that seam out and look there. */
	w0 = last - r->start >= s->len - 2 ? last - (s->len - 2) : r->start;
	if (w0 < *cur)
		w0 = *cur;
	if (w0 > last)
		return;
	seam_len = (size_t)(last - w0) + s->len;
	if (seam_len - 1 > run_last - w0)
		seam_len = (size_t)(run_last - w0) + 1;
	got = gm_mem_pread(s->g, w0, s->seam, seam_len);
	for (size_t q = 0; !s->stop && q + s->len <= got;) {
		const uint8_t *m = memmem(s->seam + q, got - q, s->pat, s->len);

		if (!m || w0 + (uint64_t)(m - s->seam) > last)
			break;
		q = (size_t)(m - s->seam);
		report(s, w0 + q);
		q += s->len;
		*cur = w0 + q;
	}
}

long gm_mem_search(const struct gm_guest *g, const void *pattern, size_t len,
		   const struct gm_window *win, gm_match_fn fn, void *ctx,
		   struct gm_error *err)
{
	struct search s = {g, pattern, len, fn, ctx, 0, false, NULL};
	uint64_t lo = win ? win->lo : 0, hi_last = g->last_addr;
	size_t i;

	if (len == 0)
		return gm_fail(err, EINVAL, "empty search pattern");
	if (win && win->hi_set) {
		if (win->hi <= lo)
			return gm_fail(err, EINVAL,
				       "end 0x%llx is not above begin 0x%llx",
				       (unsigned long long)win->hi,
				       (unsigned long long)lo);
		if (win->hi - 1 < hi_last)
			hi_last = win->hi - 1;
	}
	if (len > SIZE_MAX / 2 || !(s.seam = malloc(2 * len)))
		return gm_fail(err, ENOMEM, "out of memory");
	i = gm_region_lower_bound(g, lo);
	while (!s.stop && i < g->nregions && g->regions[i].start <= hi_last) {
		/* A run: regions i..j that touch, searched as one range. */
		size_t j = i;
		uint64_t cur, run_last;

		while (j + 1 < g->nregions &&
		       region_last(&g->regions[j]) != UINT64_MAX &&
		       region_last(&g->regions[j]) + 1 ==
			   g->regions[j + 1].start)
			j++;
		cur = g->regions[i].start > lo ? g->regions[i].start : lo;
		run_last = region_last(&g->regions[j]) < hi_last
			       ? region_last(&g->regions[j])
			       : hi_last;
		for (size_t k = i; k <= j && !s.stop; k++) {
			const struct gm_region *r = &g->regions[k];
			uint64_t last = region_last(r) < run_last
					    ? region_last(r)
					    : run_last;

			if (r->start > run_last)
				break;
			if (cur <= last)
				search_region(&s, r, &cur, last, run_last);
		}
		i = j + 1;
	}
	free(s.seam);
	return s.count;
}
