/*
 * A small test harness in the shape of libuv's: each case is a function
 * TEST(name), listed in test-list.h; the runner forks one process per case
 * and prints TAP, so a crash or a leak fails that case by name.
 */
#ifndef GM_TEST_H
#define GM_TEST_H

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TEST(name) void test_##name(void)

/* Fail the running case: print where and why, then end its process. */
#define TEST_FAIL(...)                                            \
	do {                                                      \
		fprintf(stdout, "# %s:%d: ", __FILE__, __LINE__); \
		fprintf(stdout, __VA_ARGS__);                     \
		fprintf(stdout, "\n");                            \
		fflush(stdout);                                   \
		exit(1);                                          \
	} while (0)

#define ASSERT(cond)                                              \
	do {                                                      \
		if (!(cond))                                      \
			TEST_FAIL("assertion failed: %s", #cond); \
	} while (0)

/* Compare as unsigned 64-bit numbers, printing both in hex. */
#define ASSERT_EQ(a, b)                                                        \
	do {                                                                   \
		uint64_t a_ = (uint64_t)(a), b_ = (uint64_t)(b);               \
		if (a_ != b_)                                                  \
			TEST_FAIL("%s == %s: 0x%" PRIx64 " != 0x%" PRIx64, #a, \
				  #b, a_, b_);                                 \
	} while (0)

#define ASSERT_STR(a, b)                                                    \
	do {                                                                \
		const char *a_ = (a), *b_ = (b);                            \
		if (strcmp(a_, b_) != 0)                                    \
			TEST_FAIL("%s == %s: \"%s\" != \"%s\"", #a, #b, a_, \
				  b_);                                      \
	} while (0)

#define ASSERT_MEM(a, b, n)                                                \
	do {                                                               \
		if (memcmp((a), (b), (n)) != 0)                            \
			TEST_FAIL("%s and %s differ in %zu bytes", #a, #b, \
				  (size_t)(n));                            \
	} while (0)

/* The error object of the running case: pass ERR to core calls; after
 * OK() or FAILS() it holds that call's error. */
#include "error.h"
extern struct gm_error test_err;
#define ERR (&test_err)

/* A core call that must succeed: on failure print its error message. */
#define OK(call)                                                  \
	do {                                                      \
		memset(&test_err, 0, sizeof(test_err));           \
		int rc_ = (int)(call);                            \
		if (rc_ < 0)                                      \
			TEST_FAIL("%s failed: %d %s", #call, rc_, \
				  test_err.msg);                  \
	} while (0)

/* A core call that must fail with -ERRNO and leave a message. */
#define FAILS(errno_, call)                                                 \
	do {                                                                \
		memset(&test_err, 0, sizeof(test_err));                     \
		int rc_ = (int)(call);                                      \
		if (rc_ != -(errno_))                                       \
			TEST_FAIL("%s: expected -%s, got %d (%s)", #call,   \
				  #errno_, rc_, test_err.msg);              \
		if (test_err.msg[0] == '\0' || test_err.code != (errno_))   \
			TEST_FAIL("%s: no message for %s", #call, #errno_); \
	} while (0)

#endif
