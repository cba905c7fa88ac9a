/*
 * The guest: one Unicorn engine with its region map, snapshots and lock.
 * Everything the daemon does to guest memory starts from a struct gm_guest.
 */
#ifndef GM_GUEST_H
#define GM_GUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arch.h"
#include "error.h"

struct gm_guest;

/* Open an engine for ARCH with no memory mapped. Returns 0, or -ENOMEM /
 * -EINVAL when the engine cannot be created. */
int gm_guest_open(const struct gm_arch *arch, struct gm_guest **out,
		  struct gm_error *err);

/* Close the engine and free every region and snapshot. */
void gm_guest_close(struct gm_guest *g);

/*
 * Make G what gm_guest_open made: no snapshot, no region, no translated
 * code, the CPU as the engine started, the default limits, the first
 * "snap-N" name and an empty change record, in the same engine (opening
 * one costs milliseconds: the fuzzers reset instead). Returns 0, or -errno
 * when the engine refuses; then G is only fit for gm_guest_close.
 */
int gm_guest_reset(struct gm_guest *g, struct gm_error *err);

/*
 * The core is not thread-safe (nor is Unicorn): callers that share a guest
 * between threads hold this lock around every gm_ call on it, and around
 * any use of the region list or of region memory. The one exception is
 * gm_run (run.h), which releases the caller's lock while the guest runs
 * and takes it again before it returns; gm_guest_stop needs no lock.
 */
void gm_guest_lock(struct gm_guest *g);
void gm_guest_unlock(struct gm_guest *g);

/* Whether a run is in progress (the caller holds the lock). While one
 * is, map changes, register writes, stack push/pop/write and snapshot
 * save/restore/drop/add answer -EBUSY; byte reads and writes and the
 * queries go on, and register reads give the values the run began with. */
bool gm_guest_running(const struct gm_guest *g);

/* How many runs have begun on G (the caller holds the lock): a caller
 * compares it across a command to learn that the guest ran, and so that
 * its emulated stores changed memory the change record does not hold. */
uint64_t gm_guest_runs(const struct gm_guest *g);

const struct gm_arch *gm_guest_arch(const struct gm_guest *g);

/* The engine's page size: 4 KiB on most, 1 KiB on arm and arm64. */
uint64_t gm_guest_page_size(const struct gm_guest *g);

/* The highest address of the architecture: 2^32-1 or 2^64-1. */
uint64_t gm_guest_last_addr(const struct gm_guest *g);

/* How many regions the engine may hold before map/protect/unmap answer
 * ENOSPC. The default is the largest count Unicorn 2.0.1 survives, with a
 * margin; it can be lowered, never raised past that. */
size_t gm_guest_region_limit(const struct gm_guest *g);
void gm_guest_set_region_limit(struct gm_guest *g, size_t limit);

/* Bytes all snapshots may hold together (zero pages are free); a save past
 * it answers ENOSPC. Defaults to half of the host's physical memory. */
uint64_t gm_guest_snapshot_limit(const struct gm_guest *g);
void gm_guest_set_snapshot_limit(struct gm_guest *g, uint64_t bytes);

/* The Unicorn engine (a uc_engine *), for emulation. Map memory through the
 * core only, never through the engine, or the region map goes stale. From
 * the first call on, every write, map, unmap, protect and restore also
 * drops the engine's translated code for the bytes it changes (before it,
 * no code can have been translated). */
void *gm_guest_engine(struct gm_guest *g);

/* The span of guest addresses whose bytes, mapping or protection changed
 * since the last call, as [*lo, *last] (inclusive, so 2^64-1 fits); false
 * when nothing changed. Clears the record. The caller holds the lock.
 * Every change through the core counts, from the first (writes, map,
 * unmap, unmap_all, protect, restore, the stack), but not what emulated
 * code writes through the engine. */
bool gm_guest_take_changes(struct gm_guest *g, uint64_t *lo, uint64_t *last);

#endif
