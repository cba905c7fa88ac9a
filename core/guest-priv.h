/*
 * The inside of struct gm_guest, for core/ only: the daemon sees the guest
 * through guest.h and never touches the engine.
 */
#ifndef GM_GUEST_PRIV_H
#define GM_GUEST_PRIV_H

#include <pthread.h>
#include <stdint.h>
#include <unicorn/unicorn.h>

#include "guest.h"
#include "regions.h"
#include "snapshot.h"

/* Host memory behind one gm_map; the pieces of later splits share it. */
struct gm_block {
	uint8_t *base;
	size_t size;
	unsigned refs; /* regions that point into it */
};

struct gm_guest {
	uc_engine *uc;
	const struct gm_arch *arch;
	uint64_t page_size;
	uint64_t last_addr; /* 2^bits - 1 */
	pthread_mutex_t lock;

	struct gm_region *regions; /* sorted, disjoint */
	size_t nregions;
	size_t cap;
	size_t region_limit;

	struct gm_snapshot **snaps; /* oldest first */
	size_t nsnaps;
	uint64_t snap_seq;   /* for "snap-N" names */
	uint64_t snap_bytes; /* stored by all snapshots */
	uint64_t snap_limit;

	/* Set once gm_guest_engine has handed the engine out: only then can
	 * code have been translated, and changes must drop it. */
	bool engine_lent;
	/* The CPU as uc_open left it, for gm_guest_reset. */
	uc_context *fresh_cpu;

	/* What changed since gm_guest_take_changes: [changed_lo,
	 * changed_last], valid when changed is set. */
	bool changed;
	uint64_t changed_lo, changed_last;

	/* A run is in progress (core/run.c): set and cleared under the
	 * guest lock, which the run releases around uc_emu_start. While it
	 * is set nothing may call into the engine but the run itself, and
	 * register reads answer known_regs, the values the run began with. */
	bool running;
	uint64_t runs;		  /* runs begun, for gm_guest_runs */
	uint64_t *known_regs;	  /* arch->nregs values, table order */
	struct gm_run_state *run; /* hooks and the stop machinery, or NULL */
};

/* -EBUSY with a message while a run is in progress, else 0: every change
 * to the map, registers, stack pointer or snapshots asks first. */
int gm_guest_idle(const struct gm_guest *g, struct gm_error *err);

/* Make / free the run machinery (run.c), stopping its thread; at close. */
int gm_run_state_init(struct gm_guest *g);
void gm_run_state_free(struct gm_guest *g);

/* Whether [addr, addr+size) is non-empty and inside the address space;
 * -EINVAL with a message otherwise. ALIGNED also requires page multiples. */
int gm_range_check(const struct gm_guest *g, uint64_t addr, uint64_t size,
		   bool aligned, struct gm_error *err);

/* Index of the first region that ends after ADDR (== nregions if none). */
size_t gm_region_lower_bound(const struct gm_guest *g, uint64_t addr);

/* -EFAULT naming the first address of [addr, addr+size) that is not
 * mapped, or 0 when the whole range is mapped. */
int gm_range_mapped(const struct gm_guest *g, uint64_t addr, uint64_t size,
		    struct gm_error *err);

/* Replace the regions [first, first+nold) with the NNEW regions of NEW in
 * the engine and the map, all or nothing. NEW's labels and block pointers
 * pass to the map on success (the map takes its own block references);
 * on failure the caller still owns them. */
int gm_regions_replace(struct gm_guest *g, size_t first, size_t nold,
		       struct gm_region *new, size_t nnew,
		       struct gm_error *err);

/* Free every region and its host memory, without telling the engine (for
 * gm_guest_close, after the engine is closed). */
void gm_regions_free(struct gm_guest *g);

/* A new zeroed host block of SIZE bytes with no references, or NULL. */
struct gm_block *gm_block_new(uint64_t size);

/* Free a block that no region took (after a failed gm_regions_replace). */
void gm_block_discard(struct gm_block *b);

/*
 * The bytes, mapping or protection of [addr, addr+size) change: the one
 * place that notes it, called by every write and before every engine step
 * of a map change. It widens the record gm_guest_take_changes hands out
 * and, once the engine was lent, drops the code translated from the
 * regions of the range, which must still be mapped as the region list
 * says (so before an unmap).
 */
void gm_changed(struct gm_guest *g, uint64_t addr, uint64_t size);

/* Drop the engine's translated code for [addr, addr+size), which must lie
 * inside one region. */
void gm_drop_code(struct gm_guest *g, uint64_t addr, uint64_t size);

/* Map a Unicorn error to an errno and a message. */
int gm_uc_fail(struct gm_error *err, uc_err e, const char *what);

#endif
