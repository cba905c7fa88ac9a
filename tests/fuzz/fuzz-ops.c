/*
 * The libFuzzer entry point of the model check in ops.c: each input is a
 * sequence of operations on a fresh guest. Try it from the top directory:
 *  mkdir c; build-fuzz/tests/fuzz/fuzz-ops -max_len=16384 -len_control=0 c
 * tests/fuzz/corpus
 * and replay a crash with GM_FUZZ_TRACE=1 build-fuzz/tests/fuzz/fuzz-ops FILE.
 */
#include "ops.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return gm_fuzz_ops(data, size);
}
