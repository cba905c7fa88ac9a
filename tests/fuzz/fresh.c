/*
 * Whether a reset guest is a fresh one: the fuzz targets call this after
 * gm_guest_reset under GM_FUZZ_CHECK_RESET, and the unit suite always.
 * It looks inside struct gm_guest, as only a test may.
 */
#include "fresh.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unicorn/unicorn.h>

#include "guest-priv.h"
#include "regs.h"

bool gm_fuzz_check_reset(void)
{
	static int on = -1;

	if (on < 0)
		on = getenv("GM_FUZZ_CHECK_RESET") != NULL;
	return on;
}

static _Noreturn void differs(const struct gm_guest *g, const char *who,
			      const char *what, uint64_t got, uint64_t want)
{
	fprintf(stderr,
		"%s: the reset %s guest differs from a fresh one: %s is "
		"0x%" PRIx64 ", fresh 0x%" PRIx64 "\n",
		who, g->arch->name, what, got, want);
	abort();
}

static void same(const struct gm_guest *g, const char *who, const char *what,
		 uint64_t got, uint64_t want)
{
	if (got != want)
		differs(g, who, what, got, want);
}

static uint32_t engine_regions(struct gm_guest *g)
{
	uc_mem_region *r = NULL;
	uint32_t n = 0;

	if (uc_mem_regions(g->uc, &r, &n) != UC_ERR_OK)
		return UINT32_MAX;
	uc_free(r);
	return n;
}

/* The whole CPU state the engine saves, as bytes: the registers of the
 * arch table and every other one (flags, FPU, modes, system registers). */
static void same_cpu(struct gm_guest *g, struct gm_guest *fresh,
		     const char *who)
{
	size_t size = uc_context_size(g->uc);
	uc_context *a = NULL, *b = NULL;
	uint8_t *x, *y;

	same(g, who, "the CPU context size", size, uc_context_size(fresh->uc));
	if (uc_context_alloc(g->uc, &a) != UC_ERR_OK ||
	    uc_context_alloc(fresh->uc, &b) != UC_ERR_OK ||
	    uc_context_save(g->uc, a) != UC_ERR_OK ||
	    uc_context_save(fresh->uc, b) != UC_ERR_OK)
		differs(g, who, "saving the CPU", 1, 0);
	x = (uint8_t *)a;
	y = (uint8_t *)b;
	for (size_t i = 0; i < size; i++)
		if (x[i] != y[i]) {
			char what[64];

			snprintf(what, sizeof(what),
				 "byte %zu of %zu of the CPU", i, size);
			differs(g, who, what, x[i], y[i]);
		}
	uc_context_free(a);
	uc_context_free(b);
}

void gm_fuzz_check_fresh(struct gm_guest *g, const char *who)
{
	struct gm_guest *fresh = NULL;
	struct gm_error err = {0};

	if (gm_guest_open(g->arch, &fresh, &err) < 0) {
		fprintf(stderr, "%s: %s\n", who, err.msg);
		abort();
	}
	same(g, who, "the region count", g->nregions, fresh->nregions);
	same(g, who, "the engine's region count", engine_regions(g),
	     engine_regions(fresh));
	same(g, who, "the snapshot count", g->nsnaps, fresh->nsnaps);
	same(g, who, "the snapshot counter", g->snap_seq, fresh->snap_seq);
	same(g, who, "the bytes snapshots hold", g->snap_bytes,
	     fresh->snap_bytes);
	same(g, who, "the snapshot limit", g->snap_limit, fresh->snap_limit);
	same(g, who, "the region limit", g->region_limit, fresh->region_limit);
	same(g, who, "the change record", g->changed, fresh->changed);
	same(g, who, "the page size", g->page_size, fresh->page_size);
	for (size_t i = 0; i < g->arch->nregs; i++) {
		const struct gm_reg *r = &g->arch->regs[i];
		uint64_t a = 0, b = 0;

		if (gm_reg_read(g, r, &a, &err) < 0 ||
		    gm_reg_read(fresh, r, &b, &err) < 0) {
			fprintf(stderr, "%s: %s\n", who, err.msg);
			abort();
		}
		same(g, who, r->name, a, b);
	}
	same_cpu(g, fresh, who);
	gm_guest_close(fresh);
}
