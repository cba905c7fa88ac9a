/*
 * The core benchmark: region, memory, snapshot and stack operations on an
 * x86_64 guest, each against a reference measured in the same run (the raw
 * Unicorn call or memcpy), because the machine is shared and noisy.
 * Try it: tools/bench (or build/tools/bench-core [-t SECONDS]).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <unicorn/unicorn.h>

#include "bench-table.h"
#include "guest.h"
#include "memory.h"
#include "regions.h"
#include "regs.h"
#include "run.h"
#include "snapshot.h"
#include "stack.h"

#define PAGE	    4096ULL
#define REGION_BASE 0x10000000ULL /* the N one-page regions start here */
#define MAX_REGIONS 1000
#define MEM_BASE    0x100000000ULL /* the 256 MiB region */
#define MEM_SIZE    (256ULL << 20)
#define TRIALS	    3

struct bench;
typedef void (*core_fn)(struct bench *b);

struct bench {
	struct gm_guest *g;
	uc_engine *raw; /* the reference engine, never the guest's */
	struct gm_error err;
	double min_trial; /* seconds one trial lasts at least */
	size_t nregions;  /* one-page regions mapped in both engines */
	uint8_t *pages;	  /* host memory of the raw engine's regions */
	uint8_t *a, *b;	  /* two MEM_SIZE host buffers */
	uint64_t addr;	  /* the guest address an operation works on */
	uint64_t expect;  /* what find_free_space must answer */
	size_t chunk;	  /* bytes per read or write call */
};

static void die(const char *what, const char *msg)
{
	fprintf(stderr, "bench-core: %s: %s\n", what, msg);
	exit(1);
}

static void must(int rc, struct bench *b, const char *what)
{
	if (rc < 0)
		die(what, b->err.msg);
}

static void uc_must(uc_err e, const char *what)
{
	if (e != UC_ERR_OK)
		die(what, uc_strerror(e));
}

static void expect(bool ok, const char *what)
{
	if (!ok)
		die(what, "unexpected answer");
}

static void *host_alloc(size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		die("mmap", strerror(errno));
	return p;
}

/* Timing and output (bench-table.c) */

struct core_call {
	struct bench *b;
	core_fn fn;
};

static void call_core(void *arg)
{
	struct core_call *c = arg;

	c->fn(c->b);
}

/* Seconds per call of FN: the best of TRIALS trials of b->min_trial. */
static double measure(struct bench *b, core_fn fn)
{
	struct core_call c = {b, fn};

	return bench_measure(call_core, &c, b->min_trial, TRIALS);
}

static void print_header(double min_trial)
{
	char title[128];

	snprintf(title, sizeof(title),
		 "gmemfs core benchmark: x86_64 guest, best of %d trials of "
		 "at least %.2f s each",
		 TRIALS, min_trial);
	bench_header(title);
}

/* Regions */

static uint64_t region_addr(size_t i)
{
	return REGION_BASE + 2 * i * PAGE; /* a one-page gap after each */
}

static void raw_open(struct bench *b)
{
	uc_must(uc_open(UC_ARCH_X86, UC_MODE_64, &b->raw), "uc_open");
}

/* Map one-page regions in the guest and the raw engine up to N of each. */
static void grow_regions(struct bench *b, size_t n)
{
	for (; b->nregions < n; b->nregions++) {
		uint64_t at = region_addr(b->nregions);

		must(gm_map(b->g, at, PAGE, GM_PERM_ALL, NULL, 0, &b->err), b,
		     "gm_map");
		uc_must(uc_mem_map_ptr(b->raw, at, PAGE, UC_PROT_ALL,
				       b->pages + b->nregions * PAGE),
			"uc_mem_map_ptr");
	}
}

static void op_map_unmap(struct bench *b)
{
	must(gm_map(b->g, b->addr, PAGE, GM_PERM_ALL, NULL, 0, &b->err), b,
	     "gm_map");
	must(gm_unmap(b->g, b->addr, PAGE, &b->err), b, "gm_unmap");
}

static void op_raw_map_unmap(struct bench *b)
{
	uc_must(uc_mem_map_ptr(b->raw, b->addr, PAGE, UC_PROT_ALL,
			       b->pages + MAX_REGIONS * PAGE),
		"uc_mem_map_ptr");
	uc_must(uc_mem_unmap(b->raw, b->addr, PAGE), "uc_mem_unmap");
}

static void op_find_free_space(struct bench *b)
{
	struct gm_window win = {.lo = REGION_BASE};
	uint64_t at = 0;

	/* Two pages fit in none of the one-page gaps: it walks them all. */
	must(gm_find_free_space(b->g, 2 * PAGE, &win, 0, &at, &b->err), b,
	     "gm_find_free_space");
	expect(at == b->expect, "gm_find_free_space");
}

static void op_is_mapped(struct bench *b)
{
	bool yes = false;

	must(gm_is_mapped(b->g, b->addr, PAGE, &yes, &b->err), b,
	     "gm_is_mapped");
	expect(yes, "gm_is_mapped");
}

static void op_is_available(struct bench *b)
{
	bool yes = false;

	must(gm_is_available(b->g, b->addr + PAGE, PAGE, &yes, &b->err), b,
	     "gm_is_available");
	expect(yes, "gm_is_available");
}

static void bench_regions(struct bench *b)
{
	static const size_t counts[] = {10, 100, 1000};
	static const struct {
		const char *name;
		core_fn fn;
	} lookups[] = {
	    {"find_free_space", op_find_free_space},
	    {"is_mapped", op_is_mapped},
	    {"is_available", op_is_available},
	};
	char what[64];

	b->pages = host_alloc((MAX_REGIONS + 1) * PAGE);
	raw_open(b);
	for (size_t c = 0; c < sizeof(counts) / sizeof(counts[0]); c++) {
		size_t n = counts[c];
		double ours, ref;

		grow_regions(b, n);
		b->addr = region_addr(n / 2) + PAGE; /* a gap mid-map */
		ours = measure(b, op_map_unmap);
		ref = measure(b, op_raw_map_unmap);
		snprintf(what, sizeof(what), "map+unmap, %zu regions", n);
		bench_row(what, OPS_PER_S, 0, ours, "uc_mem_map_ptr+unmap",
			  ref);

		b->addr = region_addr(n / 2); /* a mapped page */
		b->expect = region_addr(n - 1) + PAGE;
		for (size_t l = 0; l < sizeof(lookups) / sizeof(lookups[0]);
		     l++) {
			snprintf(what, sizeof(what), "%s, %zu regions",
				 lookups[l].name, n);
			bench_row(what, US_PER_CALL, 0,
				  measure(b, lookups[l].fn), NULL, 0);
		}
	}
	uc_close(b->raw);
	munmap(b->pages, (MAX_REGIONS + 1) * PAGE);
	must(gm_unmap_all(b->g, &b->err), b, "gm_unmap_all");
	b->nregions = 0;
}

/* Memory */

static void op_memcpy(struct bench *b)
{
	for (uint64_t off = 0; off < MEM_SIZE; off += b->chunk)
		memcpy(b->b + off, b->a + off, b->chunk);
}

static void op_gm_read(struct bench *b)
{
	for (uint64_t off = 0; off < MEM_SIZE; off += b->chunk)
		must(gm_mem_read(b->g, MEM_BASE + off, b->b + off, b->chunk,
				 &b->err),
		     b, "gm_mem_read");
}

static void op_gm_write(struct bench *b)
{
	for (uint64_t off = 0; off < MEM_SIZE; off += b->chunk)
		must(gm_mem_write(b->g, MEM_BASE + off, b->b + off, b->chunk,
				  &b->err),
		     b, "gm_mem_write");
}

static void op_uc_read(struct bench *b)
{
	for (uint64_t off = 0; off < MEM_SIZE; off += b->chunk)
		uc_must(
		    uc_mem_read(b->raw, MEM_BASE + off, b->b + off, b->chunk),
		    "uc_mem_read");
}

static void op_uc_write(struct bench *b)
{
	for (uint64_t off = 0; off < MEM_SIZE; off += b->chunk)
		uc_must(
		    uc_mem_write(b->raw, MEM_BASE + off, b->b + off, b->chunk),
		    "uc_mem_write");
}

static void bench_memory(struct bench *b)
{
	static const struct {
		size_t size;
		const char *name;
	} chunks[] = {{1 << 20, "1 MiB"}, {4 << 10, "4 KiB"}};
	static const struct {
		const char *name, *raw_name;
		core_fn fn, raw_fn;
	} ops[] = {
	    {"gm_mem_read", "uc_mem_read", op_gm_read, op_uc_read},
	    {"gm_mem_write", "uc_mem_write", op_gm_write, op_uc_write},
	};
	char what[64];

	/* The raw engine's region is backed by A; B is the other side. */
	raw_open(b);
	uc_must(uc_mem_map_ptr(b->raw, MEM_BASE, MEM_SIZE, UC_PROT_ALL, b->a),
		"uc_mem_map_ptr");
	must(gm_map(b->g, MEM_BASE, MEM_SIZE, GM_PERM_ALL, NULL, 0, &b->err), b,
	     "gm_map");
	/* Untouched pages all read the host's one zero page, from cache. */
	must(gm_mem_write(b->g, MEM_BASE, b->a, MEM_SIZE, &b->err), b,
	     "gm_mem_write");
	for (size_t c = 0; c < sizeof(chunks) / sizeof(chunks[0]); c++) {
		b->chunk = chunks[c].size;
		for (size_t o = 0; o < sizeof(ops) / sizeof(ops[0]); o++) {
			double ours = measure(b, ops[o].fn);
			double copy = measure(b, op_memcpy);
			double raw = measure(b, ops[o].raw_fn);

			snprintf(what, sizeof(what), "%s, %s chunks",
				 ops[o].name, chunks[c].name);
			bench_row(what, GB_PER_S, MEM_SIZE, ours, "memcpy",
				  copy);
			bench_row(what, GB_PER_S, MEM_SIZE, ours,
				  ops[o].raw_name, raw);
		}
	}
	uc_close(b->raw);
}

/* Snapshots */

/* What any snapshot must at least do: copy into memory it just got. */
static void op_memcpy_fresh(struct bench *b)
{
	uint8_t *dst = host_alloc(MEM_SIZE);

	memcpy(dst, b->a, MEM_SIZE);
	munmap(dst, MEM_SIZE);
}

static void op_snap_save(struct bench *b)
{
	/* Replacing the snapshot of the same name keeps memory bounded. */
	must(gm_snap_save(b->g, "bench", NULL, &b->err), b, "gm_snap_save");
}

static void op_snap_restore(struct bench *b)
{
	must(gm_snap_restore(b->g, "bench", &b->err), b, "gm_snap_restore");
}

/* Expects the 256 MiB region of bench_memory still mapped. */
static void bench_snapshots(struct bench *b)
{
	double copy, fresh, save, restore, zero;

	memset(b->a, 0xa5, MEM_SIZE);
	must(gm_mem_write(b->g, MEM_BASE, b->a, MEM_SIZE, &b->err), b,
	     "gm_mem_write");
	b->chunk = MEM_SIZE;
	copy = measure(b, op_memcpy);
	fresh = measure(b, op_memcpy_fresh);
	save = measure(b, op_snap_save);
	restore = measure(b, op_snap_restore);
	must(gm_snap_drop(b->g, "bench", &b->err), b, "gm_snap_drop");

	/* A fresh region whose pages were never touched. */
	must(gm_unmap(b->g, MEM_BASE, MEM_SIZE, &b->err), b, "gm_unmap");
	must(gm_map(b->g, MEM_BASE, MEM_SIZE, GM_PERM_ALL, NULL, 0, &b->err), b,
	     "gm_map");
	zero = measure(b, op_snap_save);
	must(gm_snap_drop(b->g, "bench", &b->err), b, "gm_snap_drop");
	must(gm_unmap_all(b->g, &b->err), b, "gm_unmap_all");

	bench_row("snap_save, 256 MiB of data", MS_PER_CALL, MEM_SIZE, save,
		  "memcpy", copy);
	bench_row("snap_save, 256 MiB of data", MS_PER_CALL, MEM_SIZE, save,
		  "memcpy to new mmap", fresh);
	bench_row("snap_restore, 256 MiB of data", MS_PER_CALL, MEM_SIZE,
		  restore, "memcpy", copy);
	bench_row("snap_save, 256 MiB never touched", MS_PER_CALL, MEM_SIZE,
		  zero, "memcpy", copy);
}

/* Stack */

static void op_push_pop(struct bench *b)
{
	uint64_t sp = 0, value = 0;

	must(gm_stack_push(b->g, 0x4142434445464748, &sp, &b->err), b,
	     "gm_stack_push");
	must(gm_stack_pop(b->g, &value, &b->err), b, "gm_stack_pop");
	expect(value == 0x4142434445464748, "gm_stack_pop");
}

static void bench_stack(struct bench *b)
{
	const struct gm_arch *arch = gm_guest_arch(b->g);

	must(gm_map(b->g, arch->stack_addr, arch->stack_size,
		    GM_PERM_R | GM_PERM_W, "[stack]", 7, &b->err),
	     b, "gm_map");
	must(gm_reg_set_sp(b->g, arch->stack_addr + arch->stack_size, &b->err),
	     b, "gm_reg_set_sp");
	bench_row("stack push+pop pairs", OPS_PER_S, 0, measure(b, op_push_pop),
		  NULL, 0);
}

/* Running code: gm_run against uc_emu_start on an engine of its own. */

#define CODE_ADDR 0x1000000ULL
#define LOOP_END  (CODE_ADDR + 10) /* after the jnz */

/* mov ecx, 50000000; 1: dec rcx; jnz 1b — 10^8 instructions and one. */
static const uint8_t tight_loop[] = {0xb9, 0x80, 0xf0, 0xfa, 0x02, 0x48,
				     0xff, 0xc9, 0x75, 0xfb};

struct runb {
	struct bench *b;
	struct gm_guest *g;
	uc_engine *raw;
	struct gm_run_opts o;
	uint64_t begin, until;
	size_t count;
};

static void op_gm_run(void *arg)
{
	struct runb *r = arg;
	struct gm_stop s;
	int rc;

	gm_guest_lock(r->g);
	rc = gm_run(r->g, &r->o, &s, &r->b->err);
	gm_guest_unlock(r->g);
	if (rc < 0)
		die("gm_run", r->b->err.msg);
}

static void op_raw_run(void *arg)
{
	struct runb *r = arg;

	uc_must(uc_emu_start(r->raw, r->begin, r->until, 0, r->count),
		"uc_emu_start");
}

static void op_write_then_run(void *arg)
{
	struct runb *r = arg;
	uint8_t byte = 0x90;

	must(gm_mem_write(r->g, CODE_ADDR + 0x800, &byte, 1, &r->b->err),
	     r->b, "gm_mem_write");
	op_gm_run(arg);
}

static void run_pair(struct runb *r, const char *what, enum bench_unit u,
		     bench_fn ours, const char *ref_name, bench_fn ref)
{
	const bench_fn fns[2] = {ours, ref};
	void *const args[2] = {r, r};
	double best[2];

	bench_measure_turns(fns, args, 2, r->b->min_trial, TRIALS, best);
	bench_row(what, u, 0, best[0], ref_name, best[1]);
}

static void bench_run(struct bench *b)
{
	struct runb r = {.b = b};
	uint8_t code[PAGE];

	memset(code, 0x90, sizeof(code));
	memcpy(code, tight_loop, sizeof(tight_loop));
	must(gm_guest_open(gm_arch_find("x86_64"), &r.g, &b->err), b,
	     "gm_guest_open");
	must(gm_map(r.g, CODE_ADDR, PAGE, GM_PERM_ALL, NULL, 0, &b->err), b,
	     "gm_map");
	must(gm_mem_write(r.g, CODE_ADDR, code, sizeof(code), &b->err), b,
	     "gm_mem_write");
	uc_must(uc_open(UC_ARCH_X86, UC_MODE_64, &r.raw), "uc_open");
	uc_must(uc_mem_map(r.raw, CODE_ADDR, PAGE, UC_PROT_ALL), "uc_mem_map");
	uc_must(uc_mem_write(r.raw, CODE_ADDR, code, sizeof(code)),
		"uc_mem_write");

	r.o = (struct gm_run_opts){.has_begin = true, .begin = CODE_ADDR,
				   .has_until = true, .until = LOOP_END};
	r.begin = CODE_ADDR;
	r.until = LOOP_END;
	run_pair(&r, "run: 10^8 instructions (x86_64 loop)", MS_PER_CALL,
		 op_gm_run, "uc_emu_start", op_raw_run);

	/* Steps from the loop's dec: each run translates that two-
	 * instruction block again (the stale-code rule); a long block,
	 * such as a page of nops, costs its whole translation per step. */
	r.o = (struct gm_run_opts){.has_begin = true, .begin = CODE_ADDR + 5,
				   .count = 1};
	r.begin = CODE_ADDR + 5;
	r.until = CODE_ADDR + PAGE;
	r.count = 1;
	run_pair(&r, "step (count=1)", OPS_PER_S, op_gm_run,
		 "uc_emu_start(count=1)", op_raw_run);

	r.o = (struct gm_run_opts){.has_begin = true, .begin = LOOP_END,
				   .has_until = true, .until = LOOP_END};
	r.begin = LOOP_END;
	r.until = LOOP_END;
	r.count = 0;
	run_pair(&r, "run that stops at once (until=begin)", OPS_PER_S,
		 op_gm_run, "uc_emu_start", op_raw_run);

	/* The stale-code rule drops the code of every executable region
	 * before each run, changed or not: both sides pay it. */
	r.o = (struct gm_run_opts){.has_begin = true, .begin = LOOP_END,
				   .has_until = true, .until = LOOP_END + 4};
	run_pair(&r, "run of 4 nops after a 1-byte write", OPS_PER_S,
		 op_write_then_run, "after no write", op_gm_run);

	uc_close(r.raw);
	gm_guest_close(r.g);
}

int main(int argc, char **argv)
{
	struct bench b = {.min_trial = 0.2};
	const struct gm_arch *arch = gm_arch_find("x86_64");
	int opt;

	while ((opt = getopt(argc, argv, "t:")) != -1) {
		if (opt != 't' || (b.min_trial = atof(optarg)) <= 0) {
			fprintf(stderr, "usage: bench-core [-t SECONDS]\n");
			return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "usage: bench-core [-t SECONDS]\n");
		return 2;
	}
	if (!arch)
		die("gm_arch_find", "no x86_64");
	must(gm_guest_open(arch, &b.g, &b.err), &b, "gm_guest_open");
	b.a = host_alloc(MEM_SIZE);
	b.b = host_alloc(MEM_SIZE);
	memset(b.a, 0xa5, MEM_SIZE);
	memset(b.b, 0x5a, MEM_SIZE);

	print_header(b.min_trial);
	bench_regions(&b);
	bench_memory(&b);
	bench_snapshots(&b);
	bench_stack(&b);
	bench_run(&b);

	gm_guest_close(b.g);
	munmap(b.a, MEM_SIZE);
	munmap(b.b, MEM_SIZE);
	return 0;
}
