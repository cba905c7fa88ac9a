/*
 * Two snapshots compared as a file sees them: the stored pages and their
 * bytes, not the memory behind pages that are not stored (zero in both).
 */
#include "snapcmp.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

/* Whether both bitmaps leave the 64 pages from P (a multiple of 64) out,
 * so that a region of a TiB is compared in a fraction of a second. */
static bool both_skip_word(const struct gm_snapshot *a,
			   const struct gm_snap_region *ra,
			   const struct gm_snapshot *b,
			   const struct gm_snap_region *rb, uint64_t p)
{
	static const uint8_t zero[8];

	return !a->borrowed && !b->borrowed &&
	       memcmp(ra->present + p / 8, zero, 8) == 0 &&
	       memcmp(rb->present + p / 8, zero, 8) == 0;
}

static bool pages_differ(const struct gm_snapshot *a,
			 const struct gm_snap_region *ra,
			 const struct gm_snapshot *b,
			 const struct gm_snap_region *rb, char *why, size_t n)
{
	uint64_t ps = a->page_size, pages = ra->size / ps;

	for (uint64_t p = 0; p < pages; p++) {
		if (p % 64 == 0 && pages - p >= 64 &&
		    both_skip_word(a, ra, b, rb, p)) {
			p += 63;
			continue;
		}
		if (gm_snap_page_stored(a, ra, p) !=
		    gm_snap_page_stored(b, rb, p)) {
			snprintf(why, n,
				 "page 0x%" PRIx64 " is stored in one only",
				 ra->start + p * ps);
			return true;
		}
		if (gm_snap_page_stored(a, ra, p) &&
		    memcmp(ra->bytes + p * ps, rb->bytes + p * ps, ps) != 0) {
			snprintf(why, n,
				 "the bytes of page 0x%" PRIx64 " differ",
				 ra->start + p * ps);
			return true;
		}
	}
	return false;
}

static bool region_differs(const struct gm_snapshot *a,
			   const struct gm_snap_region *ra,
			   const struct gm_snapshot *b,
			   const struct gm_snap_region *rb, char *why, size_t n)
{
	if (ra->start != rb->start || ra->size != rb->size) {
		snprintf(why, n,
			 "region 0x%" PRIx64 "+0x%" PRIx64 " against 0x%" PRIx64
			 "+0x%" PRIx64,
			 ra->start, ra->size, rb->start, rb->size);
		return true;
	}
	if (ra->perms != rb->perms) {
		snprintf(why, n, "region 0x%" PRIx64 ": perms %u against %u",
			 ra->start, ra->perms, rb->perms);
		return true;
	}
	if (ra->label_len != rb->label_len ||
	    memcmp(ra->label, rb->label, ra->label_len + 1) != 0) {
		snprintf(why, n,
			 "region 0x%" PRIx64 ": label \"%s\" (%zu bytes) "
			 "against \"%s\" (%zu bytes)",
			 ra->start, ra->label, ra->label_len, rb->label,
			 rb->label_len);
		return true;
	}
	return pages_differ(a, ra, b, rb, why, n);
}

bool gm_fuzz_snap_differs(const struct gm_snapshot *a,
			  const struct gm_snapshot *b, char *why, size_t n)
{
	if (a->arch != b->arch || a->page_size != b->page_size) {
		snprintf(why, n,
			 "%s with 0x%" PRIx64 "-byte pages against %s "
			 "with 0x%" PRIx64,
			 a->arch->name, a->page_size, b->arch->name,
			 b->page_size);
		return true;
	}
	if (a->nregions != b->nregions) {
		snprintf(why, n, "%zu regions against %zu", a->nregions,
			 b->nregions);
		return true;
	}
	for (size_t i = 0; i < a->nregions; i++)
		if (region_differs(a, &a->regions[i], b, &b->regions[i], why,
				   n))
			return true;
	for (size_t i = 0; i < a->arch->nregs; i++)
		if (a->regs[i] != b->regs[i]) {
			snprintf(why, n,
				 "register %s: 0x%" PRIx64
				 " against 0x%" PRIx64,
				 a->arch->regs[i].name, a->regs[i], b->regs[i]);
			return true;
		}
	if (!a->borrowed && !b->borrowed &&
	    a->stored_bytes != b->stored_bytes) {
		snprintf(why, n,
			 "0x%" PRIx64 " stored bytes against 0x%" PRIx64,
			 a->stored_bytes, b->stored_bytes);
		return true;
	}
	return false;
}
