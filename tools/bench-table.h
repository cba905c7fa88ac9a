/*
 * What the benchmarks share: a clock, best-of-trials timing, and the table
 * they print, where every figure stands beside a reference measured in the
 * same run (the machine is shared and noisy; only ratios travel).
 */
#ifndef BENCH_TABLE_H
#define BENCH_TABLE_H

enum bench_unit { OPS_PER_S, US_PER_CALL, MS_PER_CALL, GB_PER_S };

typedef void (*bench_fn)(void *arg);

/* Seconds on the monotonic clock. */
double bench_now(void);

/* Seconds per call of FN(ARG): the best of TRIALS trials, each repeating
 * it enough times to last at least MIN_TRIAL seconds. */
double bench_measure(bench_fn fn, void *arg, double min_trial, int trials);

/* The same for N functions FNS[i](ARGS[i]) at once, their trials taken in
 * turn so that the machine's noise falls on all of them alike: BEST[i] is
 * the seconds per call of FNS[i]. */
void bench_measure_turns(const bench_fn *fns, void *const *args, int n,
			 double min_trial, int trials, double *best);

/* The table's title line, what "ratio" means, and the column heads. */
void bench_header(const char *title);

/* One table row: WHAT took SECS per call moving BYTES; REF (NULL: none)
 * took REF_SECS for the same work. The ratio is our speed over REF's. */
void bench_row(const char *what, enum bench_unit u, double bytes, double secs,
	       const char *ref, double ref_secs);

#endif
