/*
 * Comparing two snapshots field by field, for the snapshot file's unit
 * tests and its fuzzer: what a file holds must survive writing and reading.
 */
#ifndef GM_FUZZ_SNAPCMP_H
#define GM_FUZZ_SNAPCMP_H

#include <stdbool.h>
#include <stddef.h>

#include "snapshot.h"

/* Whether A and B differ in architecture, page size, regions (range,
 * permissions, label), which pages they store, those pages' bytes or
 * registers; WHY (N bytes) says where. A view (borrowed) stores the pages
 * that are not zero. */
bool gm_fuzz_snap_differs(const struct gm_snapshot *a,
			  const struct gm_snapshot *b, char *why, size_t n);

#endif
