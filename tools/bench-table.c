/*
 * The benchmarks' clock, best-of-trials loop and table (bench-table.h),
 * one copy for bench-core and bench-fs so that their tables read alike.
 */
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "bench-table.h"

double bench_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double run(bench_fn fn, void *arg, uint64_t n)
{
	double t0 = bench_now();

	for (uint64_t i = 0; i < n; i++)
		fn(arg);
	return bench_now() - t0;
}

/* How many calls of FN make a trial of MIN_TRIAL seconds; *SECS is the
 * seconds per call of the last try. */
static uint64_t calibrate(bench_fn fn, void *arg, double min_trial,
			  double *secs)
{
	uint64_t n = 1;
	double t;

	while ((t = run(fn, arg, n)) < min_trial)
		n *= t < min_trial / 10 ? 10 : 2;
	*secs = t / n;
	return n;
}

double bench_measure(bench_fn fn, void *arg, double min_trial, int trials)
{
	double best;

	bench_measure_turns(&fn, &arg, 1, min_trial, trials, &best);
	return best;
}

void bench_measure_turns(const bench_fn *fns, void *const *args, int n,
			 double min_trial, int trials, double *best)
{
	uint64_t calls[n];

	for (int f = 0; f < n; f++)
		calls[f] = calibrate(fns[f], args[f], min_trial, &best[f]);
	for (int i = 1; i < trials; i++) {
		for (int f = 0; f < n; f++) {
			double t = run(fns[f], args[f], calls[f]) / calls[f];

			if (t < best[f])
				best[f] = t;
		}
	}
}

static void format_value(char *buf, size_t len, enum bench_unit u, double bytes,
			 double secs)
{
	switch (u) {
	case OPS_PER_S:
		snprintf(buf, len, "%.0f ops/s", 1 / secs);
		break;
	case US_PER_CALL:
		snprintf(buf, len, "%.3f µs", secs * 1e6);
		break;
	case MS_PER_CALL:
		snprintf(buf, len, "%.1f ms", secs * 1e3);
		break;
	case GB_PER_S:
		snprintf(buf, len, "%.2f GB/s", bytes / secs / 1e9);
		break;
	}
}

/* Print S padded to WIDTH columns (µ is two bytes and one column). */
static void column(const char *s, int width)
{
	int cols = 0;

	for (const char *p = s; *p; p++)
		cols += ((unsigned char)*p & 0xc0) != 0x80;
	fputs(s, stdout);
	while (cols++ < width)
		putchar(' ');
}

void bench_header(const char *title)
{
	printf("%s\n", title);
	printf("ratio = our speed / reference speed (above 1: faster; "
	       "GB = 10^9 bytes)\n\n");
	column("what", 38);
	column("value", 16);
	column("reference", 38);
	puts("ratio");
	fflush(stdout);
}

void bench_row(const char *what, enum bench_unit u, double bytes, double secs,
	       const char *ref, double ref_secs)
{
	char value[64], refval[64], refcol[128];

	format_value(value, sizeof(value), u, bytes, secs);
	column(what, 38);
	column(value, 16);
	if (!ref) {
		column("-", 38);
		puts("-");
		fflush(stdout);
		return;
	}
	format_value(refval, sizeof(refval), u, bytes, ref_secs);
	snprintf(refcol, sizeof(refcol), "%s %s", ref, refval);
	column(refcol, 38);
	printf("%.2f\n", ref_secs / secs);
	fflush(stdout);
}
