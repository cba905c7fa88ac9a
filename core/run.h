/*
 * Running the guest (SPEC §8): gm_run hands the guest to Unicorn until one
 * of the stops below, with the guest lock released meanwhile so that other
 * threads keep reading and writing memory; gm_guest_stop ends a run.
 */
#ifndef GM_RUN_H
#define GM_RUN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

struct gm_guest;

enum gm_stop_reason {
	GM_STOP_NONE, /* no run happened (gm_run failed before it) */
	GM_STOP_UNTIL,
	GM_STOP_COUNT,
	GM_STOP_HALT,
	GM_STOP_SYSCALL,
	GM_STOP_BREAKPOINT,
	GM_STOP_INTERRUPT,
	GM_STOP_FAULT,
	GM_STOP_INVALID,
	GM_STOP_TIMEOUT,
	GM_STOP_STOPPED,
};

enum gm_fault_kind {
	GM_FAULT_READ_UNMAPPED,
	GM_FAULT_WRITE_UNMAPPED,
	GM_FAULT_FETCH_UNMAPPED,
	GM_FAULT_READ_PROT,
	GM_FAULT_WRITE_PROT,
	GM_FAULT_FETCH_PROT,
};

/* How a run stopped: pc is where the next run goes on from. */
struct gm_stop {
	enum gm_stop_reason reason;
	uint64_t pc;
	uint64_t nr;		  /* GM_STOP_SYSCALL: the number register */
	unsigned intno;		  /* GM_STOP_INTERRUPT: the engine's number */
	enum gm_fault_kind fault; /* GM_STOP_FAULT */
	uint64_t addr;		  /* GM_STOP_FAULT: the address accessed */
};

/* What `run` takes; zero means absent for each field but the flags. */
struct gm_run_opts {
	bool has_begin; /* else the current pc */
	uint64_t begin;
	bool has_until;
	uint64_t until;
	uint64_t count;	     /* instructions; 0: no limit */
	uint64_t timeout_us; /* 0: no limit */
};

/* The longest stop line gm_stop_line writes, NUL included. */
#define GM_STOP_LINE_MAX 96

/*
 * Run the guest as O says until a stop, filling *STOP. The caller holds
 * gm_guest_lock; gm_run releases it while the engine runs (other threads
 * then read and write bytes and make queries, and every change to the map,
 * registers, stack pointer or snapshots answers -EBUSY) and holds it again
 * when it returns, whatever it returns. Every translated block is dropped
 * before the run, so it executes what memory holds now, whoever wrote it.
 *
 * Returns 0 for the stops whose write succeeds (until, count, halt,
 * syscall, breakpoint, interrupt); for the others the errno of SPEC §8
 * (-EFAULT fault, -EILSEQ invalid, -ETIMEDOUT timeout, -EINTR stopped)
 * with ERR's message the stop line; the guest then still changed as it
 * ran. -EBUSY (a run in progress) and -EINVAL (a bad address) leave
 * STOP->reason GM_STOP_NONE and the guest untouched.
 */
int gm_run(struct gm_guest *g, const struct gm_run_opts *o,
	   struct gm_stop *stop, struct gm_error *err);

/*
 * Stop the run in progress on G with reason `stopped`; a no-op when none
 * is. Thread-safe, takes no guest lock, and never blocks on the run: call
 * it from any thread, a FUSE interrupt callback included, even while
 * another thread holds the guest lock. A stop that lands while the run is
 * entering or leaving the engine still ends it (a helper thread repeats
 * uc_emu_stop until the run has left the engine).
 */
void gm_guest_stop(struct gm_guest *g);

/* The stop line of SPEC §8, "REASON pc=0x… [KEY=VALUE…]" without a
 * newline, into BUF (GM_STOP_LINE_MAX bytes). Returns BUF. */
char *gm_stop_line(const struct gm_stop *s, char *buf);

/* 0 or the positive errno of SPEC §8 for a stop. */
int gm_stop_errno(const struct gm_stop *s);

#endif
