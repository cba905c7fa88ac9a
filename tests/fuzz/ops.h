/*
 * The model check of the core that the fuzzer and the unit tests share:
 * one input is a sequence of operations on a fresh guest.
 */
#ifndef GM_FUZZ_OPS_H
#define GM_FUZZ_OPS_H

#include <stddef.h>
#include <stdint.h>

/* Run DATA as operations on a fresh guest (the last call's guest of the
 * architecture, reset: not thread-safe) and check the guest against a
 * model after each one. On the first difference print it (the operation,
 * what was expected, what came) to stderr and abort(). Returns 0. */
int gm_fuzz_ops(const uint8_t *data, size_t size);

#endif
