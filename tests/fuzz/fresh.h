/*
 * The fuzzers reuse one guest per architecture and reset it between inputs
 * (gm_guest_reset); this checks that a reset guest is a fresh one.
 */
#ifndef GM_FUZZ_FRESH_H
#define GM_FUZZ_FRESH_H

#include <stdbool.h>

struct gm_guest;

/* Whether GM_FUZZ_CHECK_RESET is set: then the targets check every reset
 * guest against a fresh one (and fuzz-cmd runs each input twice). */
bool gm_fuzz_check_reset(void);

/* Open a new guest of G's architecture and compare G with it: regions in
 * the core and in the engine, snapshots, limits, the "snap-N" counter, the
 * change record and every register. On a difference print it, naming WHO,
 * and abort(). */
void gm_fuzz_check_fresh(struct gm_guest *g, const char *who);

#endif
