/*
 * Runs the unit test cases of test-list.h, each in its own process, and
 * prints TAP. `test-core` runs them all; `test-core NAME…` runs those.
 * With GM_TEST_SKIP_SLOW set, cases listed with TEST_SLOW are skipped.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "test.h"

struct gm_error test_err;

#define TEST_ENTRY(name) void test_##name(void);
#define TEST_SLOW(name)	 TEST_ENTRY(name)
#include "test-list.h"
#undef TEST_ENTRY
#undef TEST_SLOW

static const struct {
	const char *name;
	void (*fn)(void);
	int slow;
} cases[] = {
#define TEST_ENTRY(name) {#name, test_##name, 0},
#define TEST_SLOW(name)	 {#name, test_##name, 1},
#include "test-list.h"
#undef TEST_ENTRY
#undef TEST_SLOW
};

static const size_t ncases = sizeof(cases) / sizeof(cases[0]);

static int run_case(size_t i)
{
	int status;
	pid_t pid;

	fflush(stdout);
	pid = fork();
	if (pid < 0) {
		perror("fork");
		return 0;
	}
	if (pid == 0) {
		cases[i].fn();
		fflush(stdout);
		exit(0);
	}
	if (waitpid(pid, &status, 0) < 0) {
		perror("waitpid");
		return 0;
	}
	if (WIFSIGNALED(status)) {
		printf("# killed by signal %d\n", WTERMSIG(status));
		return 0;
	}
	return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

static int wanted(size_t i, int argc, char **argv)
{
	if (argc < 2)
		return 1;
	for (int a = 1; a < argc; a++)
		if (strcmp(argv[a], cases[i].name) == 0)
			return 1;
	return 0;
}

int main(int argc, char **argv)
{
	size_t planned = 0, n = 0, failed = 0;
	int skip_slow = getenv("GM_TEST_SKIP_SLOW") != NULL;

	for (size_t i = 0; i < ncases; i++)
		planned += wanted(i, argc, argv);
	if (planned == 0) {
		fprintf(stderr, "test-core: no test case of that name\n");
		return 2;
	}
	printf("1..%zu\n", planned);
	for (size_t i = 0; i < ncases; i++) {
		if (!wanted(i, argc, argv))
			continue;
		if (skip_slow && cases[i].slow) {
			printf(
			    "ok %zu - %s # SKIP slow, run in the plain build\n",
			    ++n, cases[i].name);
			continue;
		}
		struct timespec t0, t1;

		clock_gettime(CLOCK_MONOTONIC, &t0);
		int ok = run_case(i);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		printf("# %s: %.2f s\n", cases[i].name,
		       (double)(t1.tv_sec - t0.tv_sec) +
			   (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
		printf("%s %zu - %s\n", ok ? "ok" : "not ok", ++n,
		       cases[i].name);
		failed += !ok;
	}
	return failed ? 1 : 0;
}
