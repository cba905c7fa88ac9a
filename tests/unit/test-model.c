/*
 * The model check of tests/fuzz/ops.c on fixed pseudo-random inputs and on
 * the fuzzer's seed corpus, so that every build runs it, deterministically,
 * not only the clang fuzzer, with each reset guest compared to a new one
 * (GM_FUZZ_CHECK_RESET). gm_fuzz_ops aborts the case on the first
 * difference from the model, printing the operation and the input.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>

#include "ops.h"
#include "test.h"

/* 150 inputs of about 90 operations each, a second or two per case. */
#define SEQUENCES 150
#define SEQ_LEN	  1000

/* xorshift64*: the same inputs on every machine and compiler. */
static uint8_t next_byte(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return (uint8_t)((*s * 0x2545f4914f6cdd1dULL) >> 56);
}

/*
 * Run SEQUENCES inputs on the architecture ARCH picks in the first byte
 * (ops.c's setup); the byte's other bits stay random, so about half the
 * inputs use the window at the top of the space.
 */
static void run_random(unsigned arch, uint64_t seed)
{
	uint8_t in[SEQ_LEN];
	uint64_t s = seed;

	setenv("GM_FUZZ_CHECK_RESET", "1", 1); /* fresh.c's check, each time */
	for (int i = 0; i < SEQUENCES; i++) {
		for (size_t j = 0; j < sizeof(in); j++)
			in[j] = next_byte(&s);
		in[0] = (uint8_t)((in[0] & ~3u) | arch);
		gm_fuzz_ops(in, sizeof(in));
	}
}

TEST(model_holds_for_random_arm_sequences)
{
	run_random(0, 0x9e3779b97f4a7c15ULL);
}

TEST(model_holds_for_random_x86_64_sequences)
{
	run_random(1, 0xbf58476d1ce4e5b9ULL);
}

TEST(model_holds_for_random_mips_sequences)
{
	run_random(2, 0x94d049bb133111ebULL);
}

TEST(model_holds_for_random_arm64_sequences)
{
	run_random(3, 0xd6e8feb86659fd93ULL);
}

static int regular(const struct dirent *d)
{
	return d->d_name[0] != '.';
}

/*
 * Every input of tests/fuzz/corpus, in name order: a seed per
 * architecture and window, and each input the fuzzer found a bug with
 * (seed-arm-protect-after-run and the like), which
 * tests/unit/test-code.c pins in plain C as well.
 */
TEST(model_holds_for_the_fuzz_corpus)
{
	struct dirent **names;
	int n = scandir(GM_FUZZ_CORPUS, &names, regular, alphasort);

	setenv("GM_FUZZ_CHECK_RESET", "1", 1);
	if (n < 0)
		TEST_FAIL("cannot list %s", GM_FUZZ_CORPUS);
	ASSERT(n >= 10);
	for (int i = 0; i < n; i++) {
		char path[4096];
		uint8_t *in = NULL;
		FILE *fp;
		long len;

		snprintf(path, sizeof(path), "%s/%s", GM_FUZZ_CORPUS,
			 names[i]->d_name);
		/* Whole, whatever its length: the fuzzer's inputs grow to
		 * 16 KiB (run-fuzz.sh). */
		fp = fopen(path, "rb");
		if (!fp || fseek(fp, 0, SEEK_END) != 0 ||
		    (len = ftell(fp)) < 0 || fseek(fp, 0, SEEK_SET) != 0)
			TEST_FAIL("cannot open %s", path);
		in = malloc(len ? (size_t)len : 1);
		ASSERT(in != NULL);
		ASSERT(fread(in, 1, (size_t)len, fp) == (size_t)len);
		fclose(fp);
		gm_fuzz_ops(in, (size_t)len);
		free(in);
		free(names[i]);
	}
	free(names);
}
