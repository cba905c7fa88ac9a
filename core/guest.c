/*
 * The guest: opens the engine for an architecture, asks it for its page
 * size and holds the region map, the snapshots and the lock together.
 */
#include "guest-priv.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

/*
 * Unicorn 2.0.1 keeps one "section" per mapped region plus one for
 * unassigned memory, and asserts (aborting the process) when a new section
 * would make the count reach its page size. Measured: 4095 regions fit in a
 * 4 KiB-page engine and 1023 in a 1 KiB one; the next map aborts. We stop
 * 15 short of that, for sections we do not control.
 */
#define ENGINE_SECTION_MARGIN 16

int gm_uc_fail(struct gm_error *err, uc_err e, const char *what)
{
	int code = e == UC_ERR_NOMEM ? ENOMEM : EINVAL;

	return gm_fail(err, code, "%s: engine error: %s", what, uc_strerror(e));
}

static uint64_t default_snapshot_limit(void)
{
	long pages = sysconf(_SC_PHYS_PAGES);
	long page = sysconf(_SC_PAGESIZE);

	if (pages <= 0 || page <= 0)
		return 1ULL << 30;
	return (uint64_t)pages * (uint64_t)page / 2;
}

int gm_guest_open(const struct gm_arch *arch, struct gm_guest **out,
		  struct gm_error *err)
{
	struct gm_guest *g;
	size_t page_size = 0;
	uc_err e;

	g = calloc(1, sizeof(*g));
	if (!g)
		return gm_fail(err, ENOMEM, "out of memory");
	e = uc_open(arch->uc_arch, arch->uc_mode, &g->uc);
	if (e != UC_ERR_OK) {
		free(g);
		return gm_uc_fail(err, e, arch->name);
	}
	/* uc_query, not uc_ctl_get_page_size: that macro shifts 2 << 30 in
	 * an int, which UBSan rightly reports. */
	e = uc_query(g->uc, UC_QUERY_PAGE_SIZE, &page_size);
	if (e != UC_ERR_OK || page_size == 0 ||
	    (page_size & (page_size - 1)) != 0) {
		uc_close(g->uc);
		free(g);
		return gm_fail(err, EINVAL, "%s: engine has no page size",
			       arch->name);
	}
	e = uc_context_alloc(g->uc, &g->fresh_cpu);
	if (e == UC_ERR_OK)
		e = uc_context_save(g->uc, g->fresh_cpu);
	if (e != UC_ERR_OK) {
		if (g->fresh_cpu)
			uc_context_free(g->fresh_cpu);
		uc_close(g->uc);
		free(g);
		return gm_uc_fail(err, e, arch->name);
	}
	if (gm_run_state_init(g) < 0) {
		uc_context_free(g->fresh_cpu);
		uc_close(g->uc);
		free(g);
		return gm_fail(err, ENOMEM, "out of memory");
	}
	g->arch = arch;
	g->page_size = page_size;
	g->last_addr = arch->address_bits == 64
			   ? UINT64_MAX
			   : (UINT64_C(1) << arch->address_bits) - 1;
	g->region_limit = page_size - ENGINE_SECTION_MARGIN;
	g->snap_limit = default_snapshot_limit();
	pthread_mutex_init(&g->lock, NULL);
	*out = g;
	return 0;
}

void gm_guest_close(struct gm_guest *g)
{
	if (!g)
		return;
	while (g->nsnaps > 0)
		gm_snap_drop(g, g->snaps[0]->name, NULL);
	free(g->snaps);
	uc_context_free(g->fresh_cpu);
	gm_run_state_free(g);
	free(g->known_regs);
	/* Close the engine first: unmapping region by region would make it
	 * rebuild its memory map once per region for nothing. */
	uc_close(g->uc);
	gm_regions_free(g);
	pthread_mutex_destroy(&g->lock);
	free(g);
}

int gm_guest_reset(struct gm_guest *g, struct gm_error *err)
{
	int rc;
	uc_err e;

	while (g->nsnaps > 0)
		gm_snap_drop(g, g->snaps[0]->name, NULL);
	/* The unmaps drop the code translated from each region, as any. */
	rc = gm_unmap_all(g, err);
	if (rc < 0)
		return rc;
	e = uc_context_restore(g->uc, g->fresh_cpu);
	if (e != UC_ERR_OK)
		return gm_uc_fail(err, e, "reset");
	g->snap_seq = 0;
	g->snap_bytes = 0;
	g->snap_limit = default_snapshot_limit();
	g->region_limit = g->page_size - ENGINE_SECTION_MARGIN;
	g->changed = false;
	return 0;
}

void gm_guest_lock(struct gm_guest *g)
{
	pthread_mutex_lock(&g->lock);
}

void gm_guest_unlock(struct gm_guest *g)
{
	pthread_mutex_unlock(&g->lock);
}

const struct gm_arch *gm_guest_arch(const struct gm_guest *g)
{
	return g->arch;
}

uint64_t gm_guest_page_size(const struct gm_guest *g)
{
	return g->page_size;
}

uint64_t gm_guest_last_addr(const struct gm_guest *g)
{
	return g->last_addr;
}

size_t gm_guest_region_limit(const struct gm_guest *g)
{
	return g->region_limit;
}

void gm_guest_set_region_limit(struct gm_guest *g, size_t limit)
{
	size_t engine_max = g->page_size - ENGINE_SECTION_MARGIN;

	g->region_limit = limit < engine_max ? limit : engine_max;
}

uint64_t gm_guest_snapshot_limit(const struct gm_guest *g)
{
	return g->snap_limit;
}

void gm_guest_set_snapshot_limit(struct gm_guest *g, uint64_t bytes)
{
	g->snap_limit = bytes;
}

void *gm_guest_engine(struct gm_guest *g)
{
	g->engine_lent = true;
	return g->uc;
}

/*
 * Drop the engine's translated code for [addr, addr+size) inside one
 * region. Unicorn 2.0.1 finds the code by the host memory of the first
 * page and drops SIZE bytes from there, so one call across two regions
 * (two host blocks) misses the code of the second: we measured it.
 */
void gm_drop_code(struct gm_guest *g, uint64_t addr, uint64_t size)
{
	uint64_t mask = ~(g->page_size - 1);
	uint64_t first = addr & mask;
	uint64_t last_page = (addr + size - 1) & mask;
	uint64_t end = last_page + g->page_size;

	/* uc_ctl_remove_cache refuses an end that is not above the start,
	 * as the end of the top page wraps to 0: stop one byte short, which
	 * still covers the last page. */
	if (end - 1 >= g->last_addr)
		end = last_page + (g->page_size - 1);
	uc_ctl_remove_cache(g->uc, first, end);
}

/*
 * Unicorn 2.0.1 keeps translated code after uc_mem_protect takes exec
 * away and after uc_mem_unmap; a later map of the range may reuse the
 * unmapped host block's place, and then the old code runs again. Nor does
 * a write behind its back reach it. Dropping the code of the range is
 * enough: the engine flushes its TLB itself on every map and unmap and
 * checks data and fetch permissions when it translates or accesses.
 */
void gm_changed(struct gm_guest *g, uint64_t addr, uint64_t size)
{
	uint64_t last = addr + size - 1;

	if (size == 0)
		return;
	if (!g->changed || addr < g->changed_lo)
		g->changed_lo = addr;
	if (!g->changed || last > g->changed_last)
		g->changed_last = last;
	g->changed = true;
	/* During a run the engine belongs to the run's thread; the run
	 * drops all translated code before it starts (run.c), so a write
	 * made now is seen by the next run anyway. */
	if (!g->engine_lent || g->running)
		return;
	for (size_t i = gm_region_lower_bound(g, addr);
	     i < g->nregions && g->regions[i].start <= last; i++) {
		const struct gm_region *r = &g->regions[i];
		uint64_t r_last = r->start + r->size - 1;
		uint64_t lo = r->start > addr ? r->start : addr;
		uint64_t hi = r_last < last ? r_last : last;

		gm_drop_code(g, lo, hi - lo + 1);
	}
}

int gm_guest_idle(const struct gm_guest *g, struct gm_error *err)
{
	if (!g->running)
		return 0;
	return gm_fail(err, EBUSY,
		       "the guest is running: write stop, or wait for the "
		       "run to end");
}

bool gm_guest_running(const struct gm_guest *g)
{
	return g->running;
}

uint64_t gm_guest_runs(const struct gm_guest *g)
{
	return g->runs;
}

bool gm_guest_take_changes(struct gm_guest *g, uint64_t *lo, uint64_t *last)
{
	if (!g->changed)
		return false;
	*lo = g->changed_lo;
	*last = g->changed_last;
	g->changed = false;
	return true;
}
