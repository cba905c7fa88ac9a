/*
 * Running the guest (SPEC §8): every stop reason with its exact stop line
 * and errno on x86_64, arm64 and mips, a following run that goes on from
 * pc, and the guest shared with other threads while it runs.
 */
#include <errno.h>
#include <pthread.h>
#include <time.h>
#include <unicorn/unicorn.h>

#include "cmd/cmd.h"
#include "guest.h"
#include "memory.h"
#include "regions.h"
#include "regs.h"
#include "run.h"
#include "snapshot.h"
#include "stack.h"
#include "test.h"

static struct gm_text test_text;

#define CODE 0x10000
#define DATA 0x40000
#define RO   0x60000 /* r-- */
#define WO   0x61000 /* -w- */
#define NX   0x62000 /* rw- */

/* A guest of ARCH with code at CODE (rwx), data at DATA and one page of
 * each protection above; pc at CODE. */
static struct gm_guest *rig(const char *arch, const void *code, size_t len)
{
	struct gm_guest *g = NULL;

	OK(gm_guest_open(gm_arch_find(arch), &g, ERR));
	OK(gm_map(g, CODE, 0x10000, GM_PERM_ALL, "[code]", 6, ERR));
	OK(gm_map(g, DATA, 0x10000, GM_PERM_R | GM_PERM_W, NULL, 0, ERR));
	OK(gm_map(g, RO, 0x1000, GM_PERM_R, NULL, 0, ERR));
	OK(gm_map(g, WO, 0x1000, GM_PERM_W, NULL, 0, ERR));
	OK(gm_map(g, NX, 0x1000, GM_PERM_R | GM_PERM_W, NULL, 0, ERR));
	OK(gm_mem_write(g, CODE, code, len, ERR));
	OK(gm_reg_write(g, gm_arch_reg(gm_guest_arch(g), "pc"), CODE, ERR));
	return g;
}

/* Run G (its lock held, as the daemon does) and compare the stop line
 * and the result with LINE and RC. */
static void run_expect(struct gm_guest *g, const struct gm_run_opts *o,
		       const char *line, int rc)
{
	struct gm_stop s;
	char buf[GM_STOP_LINE_MAX];
	int got;

	memset(&test_err, 0, sizeof(test_err));
	gm_guest_lock(g);
	got = gm_run(g, o, &s, ERR);
	gm_guest_unlock(g);
	ASSERT_STR(gm_stop_line(&s, buf), line);
	if (got != rc)
		TEST_FAIL("%s: returned %d, not %d (%s)", line, got, rc,
			  test_err.msg);
	ASSERT_EQ(gm_stop_errno(&s), -rc);
	if (rc < 0)
		ASSERT_STR(test_err.msg, line);
	ASSERT_EQ(gm_reg_pc(g), s.pc);
}

struct stop_case {
	const char *what;
	const char *code; /* hex bytes at CODE */
	struct gm_run_opts o;
	const char *line;
	int rc;
};

static size_t unhex(const char *hex, uint8_t *out)
{
	size_t n = 0;

	for (; hex[0] && hex[1]; hex += 2) {
		unsigned v;

		if (hex[0] == ' ')
			hex--;
		else if (sscanf(hex, "%2x", &v) == 1)
			out[n++] = (uint8_t)v;
	}
	return n;
}

static void stop_cases(const char *arch, const struct stop_case *c, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		uint8_t code[256];
		size_t len = unhex(c[i].code, code);
		struct gm_guest *g = rig(arch, code, len);

		fprintf(stdout, "# %s: %s\n", arch, c[i].what);
		run_expect(g, &c[i].o, c[i].line, c[i].rc);
		gm_guest_close(g);
	}
}

#define UNTIL(a)                                \
	{                                       \
		.has_until = true, .until = (a) \
	}
#define AT(a)                                   \
	{                                       \
		.has_begin = true, .begin = (a) \
	}

TEST(run_stops_on_x86_64)
{
	static const struct stop_case c[] = {
	    {"until", "90909090", UNTIL(0x10002), "until pc=0x10002", 0},
	    {"until at begin runs nothing", "90", UNTIL(0x10000),
	     "until pc=0x10000", 0},
	    {"count", "90909090", {.count = 3}, "count pc=0x10003", 0},
	    {"count before until",
	     "90909090",
	     {.count = 1, .has_until = true, .until = 0x10003},
	     "count pc=0x10001",
	     0},
	    {"halt", "90f490", {0}, "halt pc=0x10002", 0},
	    {"syscall", "48c7c03c0000000f0590", UNTIL(0x10100),
	     "syscall pc=0x10009 nr=0x3c", 0},
	    {"int 0x80", "b80b000000cd80", {0}, "syscall pc=0x10007 nr=0xb", 0},
	    {"int3", "90cc90", {0}, "breakpoint pc=0x10001", 0},
	    {"int 5", "90cd05", {0}, "interrupt pc=0x10003 intno=5", 0},
	    {"read unmapped",
	     "488b042500005000",
	     {0},
	     "fault read_unmapped pc=0x10000 addr=0x500000",
	     -EFAULT},
	    {"write unmapped",
	     "4889042500005000",
	     {0},
	     "fault write_unmapped pc=0x10000 addr=0x500000",
	     -EFAULT},
	    {"fetch unmapped", "90", AT(0x500000),
	     "fault fetch_unmapped pc=0x500000 addr=0x500000", -EFAULT},
	    {"read prot",
	     "488b042500100600",
	     {0},
	     "fault read_prot pc=0x10000 addr=0x61000",
	     -EFAULT},
	    {"write prot",
	     "48890425000006"
	     "00",
	     {0},
	     "fault write_prot pc=0x10000 addr=0x60000",
	     -EFAULT},
	    {"fetch prot", "90", AT(NX),
	     "fault fetch_prot pc=0x62000 "
	     "addr=0x62000",
	     -EFAULT},
	    {"invalid", "900f0b", {0}, "invalid pc=0x10001", -EILSEQ},
	    {"timeout",
	     "ebfe",
	     {.timeout_us = 20000},
	     "timeout pc=0x10000",
	     -ETIMEDOUT},
	};

	stop_cases("x86_64", c, sizeof(c) / sizeof(c[0]));
}

/* arm64 words, little endian. A data fault's pc is the start of its
 * translated block on arm64 and mips: Unicorn 2.0.1 does not restore it
 * to the instruction (README, Running code). */
#define A64_NOP	  "1f2003d5"
#define A64_MOVX8 "a80b80d2" /* movz x8, #0x5d */
#define A64_X1	  "010aa0d2" /* movz x1, #0x50, lsl 16: 0x500000 */
#define A64_X1RO  "c100a0d2" /* movz x1, #0x6, lsl 16: 0x60000 */
/* movz x1, #0x1000; movk x1, #0x6, lsl 16: 0x61000 */
#define A64_X1WO   \
	"010082d2" \
	"c100a0f2"

TEST(run_stops_on_arm64)
{
	static const struct stop_case c[] = {
	    {"until", A64_NOP A64_NOP A64_NOP, UNTIL(0x10008),
	     "until pc=0x10008", 0},
	    {"count",
	     A64_NOP A64_NOP A64_NOP,
	     {.count = 2},
	     "count pc=0x10008",
	     0},
	    {"wfi halts", A64_NOP "7f2003d5", {0}, "halt pc=0x10008", 0},
	    {"svc",
	     A64_MOVX8 "010000d4" A64_NOP,
	     {0},
	     "syscall pc=0x10008 nr=0x5d",
	     0},
	    {"brk", A64_NOP "000020d4", {0}, "breakpoint pc=0x10004", 0},
	    {"smc",
	     A64_NOP "030000d4",
	     {0},
	     "interrupt pc=0x10008 intno=13",
	     0},
	    {"read unmapped",
	     A64_X1 "200040f9",
	     {0},
	     "fault read_unmapped pc=0x10000 addr=0x500000",
	     -EFAULT},
	    {"write unmapped",
	     A64_X1 "200000f9",
	     {0},
	     "fault write_unmapped pc=0x10000 addr=0x500000",
	     -EFAULT},
	    {"fetch unmapped", A64_NOP, AT(0x500000),
	     "fault fetch_unmapped pc=0x500000 addr=0x500000", -EFAULT},
	    {"read prot",
	     A64_X1WO "200040f9",
	     {0},
	     "fault read_prot pc=0x10000 addr=0x61000",
	     -EFAULT},
	    {"write prot",
	     A64_X1RO "200000f9",
	     {0},
	     "fault write_prot pc=0x10000 addr=0x60000",
	     -EFAULT},
	    {"fetch prot", A64_NOP, AT(NX),
	     "fault fetch_prot pc=0x62000 addr=0x62000", -EFAULT},
	    {"udf", A64_NOP "00000000", {0}, "invalid pc=0x10004", -EILSEQ},
	    {"timeout",
	     "00000014",
	     {.timeout_us = 20000},
	     "timeout pc=0x10000",
	     -ETIMEDOUT},
	};

	stop_cases("arm64", c, sizeof(c) / sizeof(c[0]));
}

/* mips words, big endian. */
#define M_NOP  "00000000"
#define M_AT   "3c010050"	  /* lui at, 0x50: 0x500000 */
#define M_ATRO "3c010006"	  /* lui at, 0x6: 0x60000 */
#define M_ATWO "3c01000634211000" /* lui at, 0x6; ori at, at, 0x1000 */

TEST(run_stops_on_mips)
{
	static const struct stop_case c[] = {
	    {"until", M_NOP M_NOP M_NOP, UNTIL(0x10008), "until pc=0x10008", 0},
	    {"count", M_NOP M_NOP M_NOP, {.count = 2}, "count pc=0x10008", 0},
	    {"wait halts", M_NOP "42000020" M_NOP, {0}, "halt pc=0x10008", 0},
	    {"syscall",
	     "24020fa1"
	     "0000000c" M_NOP,
	     {0},
	     "syscall pc=0x10008 nr=0xfa1",
	     0},
	    {"break", M_NOP M_NOP "0000000d", {0}, "breakpoint pc=0x10008", 0},
	    {"teq", M_NOP "00000034", {0}, "interrupt pc=0x10004 intno=22", 0},
	    {"read unmapped",
	     M_AT "8c220000",
	     {0},
	     "fault read_unmapped pc=0x10000 addr=0x500000",
	     -EFAULT},
	    {"write unmapped",
	     M_AT "ac220000",
	     {0},
	     "fault write_unmapped pc=0x10000 addr=0x500000",
	     -EFAULT},
	    {"fetch unmapped", M_NOP, AT(0x500000),
	     "fault fetch_unmapped pc=0x500000 addr=0x500000", -EFAULT},
	    {"read prot",
	     M_ATWO "8c220000",
	     {0},
	     "fault read_prot pc=0x10000 addr=0x61000",
	     -EFAULT},
	    {"write prot",
	     M_ATRO "ac220000",
	     {0},
	     "fault write_prot pc=0x10000 addr=0x60000",
	     -EFAULT},
	    {"fetch prot", M_NOP, AT(NX),
	     "fault fetch_prot pc=0x62000 addr=0x62000", -EFAULT},
	    {"reserved instruction",
	     M_NOP "ffffffff",
	     {0},
	     "invalid pc=0x10004",
	     -EILSEQ},
	    {"timeout",
	     "1000ffff" M_NOP,
	     {.timeout_us = 20000},
	     "timeout pc=0x10000",
	     -ETIMEDOUT},
	};

	stop_cases("mips", c, sizeof(c) / sizeof(c[0]));
}

/* After each stop that lets the guest go on, the next run goes on from
 * pc: a syscall answered by the "kernel" (us), then until. */
TEST(run_goes_on_after_a_syscall_on_three_arches)
{
	static const struct {
		const char *arch, *code, *nr_reg, *ret_reg, *first;
		uint64_t until;
	} c[] = {
	    /* mov eax, 1; syscall; add rax, 1 */
	    {"x86_64", "b8010000000f054883c001", "rax", "rax",
	     "syscall pc=0x10007 nr=0x1", 0x1000b},
	    /* movz x8, #0x5d; svc 0; add x0, x0, #1 */
	    {"arm64",
	     A64_MOVX8 "010000d4"
		       "00040091",
	     "x8", "x0", "syscall pc=0x10008 nr=0x5d", 0x1000c},
	    /* li v0, 4001; syscall; addiu v0, v0, 1 */
	    {"mips",
	     "24020fa1"
	     "0000000c"
	     "24420001",
	     "v0", "v0", "syscall pc=0x10008 nr=0xfa1", 0x1000c},
	};

	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		uint8_t code[64];
		size_t len = unhex(c[i].code, code);
		struct gm_guest *g = rig(c[i].arch, code, len);
		const struct gm_arch *a = gm_guest_arch(g);
		struct gm_run_opts o = UNTIL(c[i].until);
		char want[GM_STOP_LINE_MAX];
		uint64_t v = 0;

		run_expect(g, &o, c[i].first, 0);
		OK(gm_reg_write(g, gm_arch_reg(a, c[i].ret_reg), 41, ERR));
		snprintf(want, sizeof(want), "until pc=0x%llx",
			 (unsigned long long)c[i].until);
		run_expect(g, &o, want, 0);
		OK(gm_reg_read(g, gm_arch_reg(a, c[i].ret_reg), &v, ERR));
		ASSERT_EQ(v, 42);
		gm_guest_close(g);
	}
}

/* A breakpoint leaves pc on it, and so does a fault: patching the
 * instruction away through memory lets the next run go on. */
TEST(run_goes_on_after_a_patched_breakpoint_and_fault)
{
	static const char *const arches[] = {"x86_64", "arm64", "mips"};
	static const char *const bp[] = {"90cc9090", A64_NOP "000020d4" A64_NOP,
					 M_NOP M_NOP "0000000d" M_NOP};
	static const char *const nop[] = {"90", A64_NOP, M_NOP};
	static const uint64_t at[] = {0x10001, 0x10004, 0x10008};

	for (size_t i = 0; i < 3; i++) {
		uint8_t code[64], patch[8];
		size_t len = unhex(bp[i], code), plen = unhex(nop[i], patch);
		struct gm_guest *g = rig(arches[i], code, len);
		struct gm_run_opts o = UNTIL(at[i] + plen);
		char want[GM_STOP_LINE_MAX];

		snprintf(want, sizeof(want), "breakpoint pc=0x%llx",
			 (unsigned long long)at[i]);
		run_expect(g, &o, want, 0);
		run_expect(g, &o, want, 0); /* it is still there */
		OK(gm_mem_write(g, at[i], patch, plen, ERR));
		snprintf(want, sizeof(want), "until pc=0x%llx",
			 (unsigned long long)(at[i] + plen));
		run_expect(g, &o, want, 0);
		gm_guest_close(g);
	}
}

/* The riscv engine fetches an unmapped until before it checks the exit:
 * that is the until stop all the same. */
TEST(run_until_an_unmapped_return_address_on_riscv)
{
	/* jalr zero, 0(ra) */
	static const uint8_t ret[] = {0x67, 0x80, 0x00, 0x00};
	static const char *const arches[] = {"riscv32", "riscv64"};

	for (size_t i = 0; i < 2; i++) {
		struct gm_guest *g = rig(arches[i], ret, sizeof(ret));
		struct gm_run_opts o = UNTIL(0xdead000);

		OK(gm_reg_write(g, gm_arch_reg(gm_guest_arch(g), "ra"),
				0xdead000, ERR));
		run_expect(g, &o, "until pc=0xdead000", 0);
		gm_guest_close(g);
	}
}

TEST(run_riscv_ecall_and_ebreak)
{
	/* li a7, 93; ecall; ebreak */
	static const uint8_t code[] = {0x93, 0x08, 0xd0, 0x05, 0x73, 0x00,
				       0x00, 0x00, 0x73, 0x00, 0x10, 0x00};
	struct gm_guest *g = rig("riscv64", code, sizeof(code));
	struct gm_run_opts o = {0};

	run_expect(g, &o, "syscall pc=0x10008 nr=0x5d", 0);
	run_expect(g, &o, "breakpoint pc=0x10008", 0);
	gm_guest_close(g);
}

TEST(run_x86_sysenter_stops_after_it)
{
	/* mov eax, 4; nop; sysenter; nop */
	static const uint8_t code[] = {0xb8, 0x04, 0,	 0,   0,
				       0x90, 0x0f, 0x34, 0x90};
	struct gm_guest *g = rig("x86", code, sizeof(code));
	struct gm_run_opts o = {0};

	run_expect(g, &o, "syscall pc=0x10008 nr=0x4", 0);
	gm_guest_close(g);
}

/* Threads: one runs an endless loop that counts in memory, the test
 * thread watches and acts. */
struct runner {
	struct gm_guest *g;
	struct gm_run_opts o;
	struct gm_stop stop;
	int rc;
	pthread_t t;
};

static void *runner_main(void *arg)
{
	struct runner *r = arg;
	struct gm_error err;

	gm_guest_lock(r->g);
	r->rc = gm_run(r->g, &r->o, &r->stop, &err);
	gm_guest_unlock(r->g);
	return NULL;
}

static void sleep_ms(long ms)
{
	struct timespec t = {ms / 1000, (ms % 1000) * 1000000};

	nanosleep(&t, NULL);
}

/* inc qword [0x40000]; jmp back */
static const uint8_t counter_loop[] = {0x48, 0xff, 0x04, 0x25, 0x00,
				       0x00, 0x04, 0x00, 0xeb, 0xf6};

static uint64_t counter(struct gm_guest *g)
{
	uint64_t v = 0;

	gm_guest_lock(g);
	OK(gm_mem_read(g, DATA, &v, 8, ERR));
	gm_guest_unlock(g);
	return v;
}

static void start_runner(struct runner *r, struct gm_guest *g)
{
	memset(r, 0, sizeof(*r));
	r->g = g;
	pthread_create(&r->t, NULL, runner_main, r);
	/* Wait until the loop has started counting. */
	for (int i = 0; i < 5000 && counter(g) == 0; i++)
		sleep_ms(1);
	ASSERT(counter(g) > 0);
}

TEST(stop_from_another_thread_ends_an_endless_loop)
{
	struct gm_guest *g = rig("x86_64", counter_loop, sizeof(counter_loop));
	struct runner r;
	char line[GM_STOP_LINE_MAX], want[GM_STOP_LINE_MAX];

	start_runner(&r, g);
	gm_guest_stop(g);
	pthread_join(r.t, NULL);
	ASSERT_EQ(r.rc, -EINTR);
	ASSERT_EQ(r.stop.reason, GM_STOP_STOPPED);
	ASSERT(r.stop.pc == 0x10000 || r.stop.pc == 0x10008);
	snprintf(want, sizeof(want), "stopped pc=0x%llx",
		 (unsigned long long)r.stop.pc);
	ASSERT_STR(gm_stop_line(&r.stop, line), want);
	/* A stop with nothing running is a no-op: the next run is not
	 * stopped by it. */
	gm_guest_stop(g);
	{
		/* An even count of the two-instruction loop: back where it
		 * stopped. */
		struct gm_run_opts o = {.count = 100};

		snprintf(line, sizeof(line), "count pc=0x%llx",
			 (unsigned long long)r.stop.pc);
		run_expect(g, &o, line, 0);
	}
	gm_guest_close(g);
}

/* Many stops landing anywhere around the start of runs: every run ends. */
TEST(stop_racing_the_start_of_a_run_still_ends_it)
{
	struct gm_guest *g = rig("x86_64", counter_loop, sizeof(counter_loop));

	for (int i = 0; i < 50; i++) {
		struct runner r = {.g = g};

		bool running = false;

		pthread_create(&r.t, NULL, runner_main, &r);
		/* The run is under way once the lock shows it running; it
		 * may be just before the engine or inside it. One stop. */
		while (!running) {
			gm_guest_lock(g);
			running = gm_guest_running(g);
			gm_guest_unlock(g);
		}
		for (int k = 0; k < i % 7; k++)
			sched_yield();
		gm_guest_stop(g);
		pthread_join(r.t, NULL);
		ASSERT(r.stop.reason == GM_STOP_STOPPED);
	}
	gm_guest_close(g);
}

TEST(memory_is_live_and_changes_are_busy_during_a_run)
{
	struct gm_guest *g = rig("x86_64", counter_loop, sizeof(counter_loop));
	const struct gm_arch *a = gm_guest_arch(g);
	struct runner r;
	uint64_t first, v = 0, before_rax = 0;
	size_t nregions, nsnaps;
	struct gm_stop s;
	uint8_t byte = 0x41;

	OK(gm_reg_read(g, gm_arch_reg(a, "rax"), &before_rax, ERR));
	nsnaps = gm_snap_count(g);
	gm_regions(g, &nregions);
	start_runner(&r, g);
	first = counter(g);
	sleep_ms(20);
	ASSERT(counter(g) > first);

	gm_guest_lock(g);
	ASSERT(gm_guest_running(g));
	FAILS(EBUSY, gm_map(g, 0x80000, 0x1000, GM_PERM_ALL, NULL, 0, ERR));
	FAILS(EBUSY, gm_unmap(g, NX, 0x1000, ERR));
	FAILS(EBUSY, gm_protect(g, NX, 0x1000, GM_PERM_R, ERR));
	FAILS(EBUSY, gm_unmap_all(g, ERR));
	FAILS(EBUSY, gm_reg_write(g, gm_arch_reg(a, "rax"), 1, ERR));
	FAILS(EBUSY, gm_snap_save(g, "s", NULL, ERR));
	FAILS(EBUSY, gm_snap_restore(g, NULL, ERR));
	FAILS(EBUSY, gm_snap_drop(g, "s", ERR));
	FAILS(EBUSY, gm_stack_push(g, 1, NULL, ERR));
	FAILS(EBUSY, gm_stack_pop(g, &v, ERR));
	FAILS(EBUSY, gm_stack_write(g, 0, 1, ERR));
	FAILS(EBUSY, gm_run(g, &r.o, &s, ERR));
	ASSERT_EQ(s.reason, GM_STOP_NONE);
	/* Register reads give what the run began with. */
	OK(gm_reg_read(g, gm_arch_reg(a, "rip"), &v, ERR));
	ASSERT_EQ(v, CODE);
	/* Bytes and queries go on. */
	OK(gm_mem_write(g, DATA + 8, &byte, 1, ERR));
	OK(gm_mem_read(g, DATA + 8, &byte, 1, ERR));
	ASSERT_EQ(byte, 0x41);
	gm_guest_unlock(g);

	gm_guest_stop(g);
	pthread_join(r.t, NULL);
	ASSERT_EQ(r.stop.reason, GM_STOP_STOPPED);
	/* Nothing the refused calls asked for happened. */
	ASSERT_EQ(gm_snap_count(g), nsnaps);
	ASSERT(gm_region_find(g, 0x80000) == NULL);
	ASSERT_EQ(gm_region_find(g, NX)->perms, GM_PERM_R | GM_PERM_W);
	{
		size_t n;

		gm_regions(g, &n);
		ASSERT_EQ(n, nregions);
	}
	OK(gm_reg_read(g, gm_arch_reg(a, "rax"), &v, ERR));
	ASSERT_EQ(v, before_rax);
	gm_guest_close(g);
}

/*
 * Code is what memory holds, whoever wrote it: here the region's host
 * memory is written behind the core's back, as a shared mmap of a region
 * file does, and the next run must execute the new bytes.
 */
TEST(run_executes_bytes_written_behind_the_cores_back)
{
	/* jmp CODE+0x100, where: mov eax, 1; jmp CODE+0x200: nop. Unicorn
	 * drops the blocks that hold begin and until itself; the mov's
	 * block is neither. */
	static uint8_t code[0x202] = {0xe9, 0xfb, 0x00, 0x00, 0x00};
	struct gm_guest *g;
	const struct gm_reg *rax;
	struct gm_run_opts o = {.has_begin = true,
				.begin = CODE,
				.has_until = true,
				.until = CODE + 0x201};
	uint64_t v = 0;

	memcpy(code + 0x100, "\xb8\x01\x00\x00\x00\xe9\xf6\x00\x00\x00", 10);
	code[0x200] = 0x90;
	g = rig("x86_64", code, sizeof(code));
	rax = gm_arch_reg(gm_guest_arch(g), "rax");
	run_expect(g, &o, "until pc=0x10201", 0);
	OK(gm_reg_read(g, rax, &v, ERR));
	ASSERT_EQ(v, 1);
	gm_region_find(g, CODE)->host[0x101] = 2; /* mov eax, 2 */
	run_expect(g, &o, "until pc=0x10201", 0);
	OK(gm_reg_read(g, rax, &v, ERR));
	ASSERT_EQ(v, 2);
	/* And through the core's own write path. */
	OK(gm_mem_write(g, CODE + 0x101, "\x03", 1, ERR));
	run_expect(g, &o, "until pc=0x10201", 0);
	OK(gm_reg_read(g, rax, &v, ERR));
	ASSERT_EQ(v, 3);
	gm_guest_close(g);
}

TEST(run_refuses_addresses_past_the_space)
{
	static const uint8_t nop[4] = {0};
	struct gm_guest *g = rig("mips", nop, sizeof(nop));
	struct gm_run_opts o = UNTIL(0x100000000ULL);
	struct gm_stop s;

	gm_guest_lock(g);
	FAILS(EINVAL, gm_run(g, &o, &s, ERR));
	ASSERT_EQ(s.reason, GM_STOP_NONE);
	o = (struct gm_run_opts)AT(0x100000000ULL);
	FAILS(EINVAL, gm_run(g, &o, &s, ERR));
	gm_guest_unlock(g);
	ASSERT_EQ(gm_reg_pc(g), CODE);
	gm_guest_close(g);
}

/* The verbs through the command language, as ctl and the run file see
 * them: the answer, the errno, and the log. */
static int cmd(struct gm_guest *g, struct gm_cmd_ctx *c, const char *verb,
	       const char *text, struct gm_text *out)
{
	int rc;

	gm_text_reset(out);
	gm_guest_lock(g);
	rc = gm_cmd_run(c, verb, text, strlen(text), out, ERR);
	gm_guest_unlock(g);
	return rc;
}

static void cmd_expect(struct gm_guest *g, struct gm_cmd_ctx *c,
		       const char *verb, const char *text, int rc,
		       const char *answer)
{
	int got = cmd(g, c, verb, text, &test_text);

	if (got != rc)
		TEST_FAIL("%s: returned %d, not %d (%s)", text, got, rc,
			  test_err.msg);
	ASSERT_STR(test_text.buf ? test_text.buf : "", answer);
}

TEST(run_step_and_stop_verbs_answer_stop_lines)
{
	/* nop; nop; mov rax, [0x500000]; nop */
	static const uint8_t code[] = {0x90, 0x90, 0x48, 0x8b, 0x04, 0x25,
				       0x00, 0x00, 0x50, 0x00, 0x90};
	struct gm_guest *g = rig("x86_64", code, sizeof(code));
	struct gm_cmd_ctx *c = gm_cmd_ctx_new(g);
	struct gm_text log;

	gm_text_init(&test_text);
	cmd_expect(g, c, NULL, "step", 0, "count pc=0x10001\n");
	cmd_expect(g, c, NULL, "step 1", 0, "count pc=0x10002\n");
	cmd_expect(g, c, NULL, "run until=0x10002", 0, "until pc=0x10002\n");
	cmd_expect(g, c, NULL, "run", -EFAULT,
		   "error: fault read_unmapped pc=0x10002 addr=0x500000\n");
	ASSERT_EQ(test_err.code, EFAULT);
	cmd_expect(g, c, "run", "until=0x10001 begin=0x10000", 0,
		   "until pc=0x10001\n");
	/* From 0x10001 the faulting instruction is second in its block,
	 * and Unicorn 2.0.1 leaves pc at the block's start. */
	cmd_expect(g, c, "run", "\n", -EFAULT,
		   "error: fault read_unmapped pc=0x10001 addr=0x500000\n");
	cmd_expect(g, c, NULL, "stop", 0, "");
	cmd_expect(
	    g, c, NULL, "run timeout=5", -EINVAL,
	    "error: run: timeout=\"5\": a duration is a number with ms or "
	    "s (500ms, 2s)\n");
	cmd_expect(
	    g, c, NULL, "run timeout=0ms", -EINVAL,
	    "error: run: timeout=\"0ms\": a duration is a number above 0 "
	    "with ms or s (500ms, 2s)\n");
	cmd_expect(g, c, NULL, "run count=0", -EINVAL,
		   "error: run: count must be at least 1\n");
	cmd_expect(g, c, NULL, "step 0", -EINVAL,
		   "error: step: N must be at least 1\n");
	cmd_expect(g, c, NULL, "run until=0x10000 nope=1", -EINVAL,
		   "error: run: unknown keyword \"nope=1\" (usage: run "
		   "[until=ADDR] [count=N] [timeout=DUR] [begin=ADDR])\n");
	/* The stop lines go to the log. */
	gm_text_init(&log);
	OK(gm_cmd_log_text(c, &log));
	ASSERT(strstr(log.buf, "step -> count pc=0x10001\n"));
	ASSERT(strstr(log.buf, "run until=0x10002 -> until pc=0x10002\n"));
	ASSERT(strstr(log.buf, "run -> error: fault read_unmapped "
			       "pc=0x10002 addr=0x500000\n"));
	gm_text_free(&log);
	gm_text_free(&test_text);
	gm_cmd_ctx_free(c);
	gm_guest_close(g);
}

/* A run command in progress while another thread runs commands on the
 * same context: reads go on, reg and map are busy, stop ends the run. */
struct cmd_runner {
	struct gm_guest *g;
	struct gm_cmd_ctx *c;
	struct gm_text out;
	int rc;
	pthread_t t;
};

static void *cmd_runner_main(void *arg)
{
	struct cmd_runner *r = arg;
	struct gm_error err;

	gm_guest_lock(r->g);
	r->rc = gm_cmd_run(r->c, NULL, "run", 3, &r->out, &err);
	gm_guest_unlock(r->g);
	return NULL;
}

TEST(commands_go_on_beside_a_run_command)
{
	struct gm_guest *g = rig("x86_64", counter_loop, sizeof(counter_loop));
	struct gm_cmd_ctx *c = gm_cmd_ctx_new(g);
	struct cmd_runner r = {.g = g, .c = c};

	gm_text_init(&test_text);
	gm_text_init(&r.out);
	pthread_create(&r.t, NULL, cmd_runner_main, &r);
	while (counter(g) == 0)
		sleep_ms(1);
	ASSERT_EQ(cmd(g, c, NULL, "read_ptr 0x40000 size=8", &test_text), 0);
	cmd_expect(g, c, NULL, "reg rax", -EBUSY,
		   "error: reg: the guest is running: its registers can be "
		   "read when it stops\n");
	cmd_expect(g, c, NULL, "map 0x80000 0x1000", -EBUSY,
		   "error: map: the guest is running: write stop, or wait "
		   "for the run to end\n");
	cmd_expect(g, c, NULL, "is_mapped 0x40000 8", 0, "true\n");
	cmd_expect(g, c, NULL, "stop", 0, "");
	pthread_join(r.t, NULL);
	ASSERT_EQ(r.rc, -EINTR);
	ASSERT(strncmp(r.out.buf, "error: stopped pc=0x1000", 24) == 0);
	gm_text_free(&r.out);
	gm_text_free(&test_text);
	gm_cmd_ctx_free(c);
	gm_guest_close(g);
}

/*
 * Real compiled code on all eight architectures (guest-code.c, built at
 * build time): arguments in registers or on the stack as each C calling
 * convention says, a planted return address as until, the result register
 * and memory compared with the same function run on the host.
 */
/* The "kernel" the syscall loop test plays, also the host build's. */
static long kernel_answer(long nr, long arg)
{
	return (long)(((uint32_t)arg ^ (uint32_t)nr) + 7u);
}

#define CHECKSUM
#define STRCOPY
#define SYSLOOP
#define HOST_KERNEL kernel_answer
#include "guest-code.c"

#define STACK_TOP 0x7ff08000
#define RET	  0x1f000 /* zeros inside the code region */

static size_t load_code(struct gm_guest *g, const char *arch, const char *fn)
{
	char path[512];
	uint8_t buf[4096];
	size_t n;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s-%s.bin", GM_GUEST_CODE, arch, fn);
	f = fopen(path, "rb");
	if (!f)
		TEST_FAIL("no guest code %s", path);
	n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	ASSERT(n > 0);
	OK(gm_mem_write(g, CODE, buf, n, ERR));
	return n;
}

static void set(struct gm_guest *g, const char *reg, uint64_t v)
{
	OK(gm_reg_write(g, gm_arch_reg(gm_guest_arch(g), reg), v, ERR));
}

/* Each architecture's C calling convention, and its Linux system call
 * convention: the first argument's register and the answer's. */
static const struct call_conv {
	const char *arch, *a0, *a1, *ret, *link, *sys_a0, *sys_ret;
} cc[] = {
    {"x86", NULL, NULL, "eax", NULL, "ebx", "eax"},
    {"x86_64", "rdi", "rsi", "rax", NULL, "rdi", "rax"},
    {"arm", "r0", "r1", "r0", "lr", "r0", "r0"},
    {"arm64", "x0", "x1", "x0", "lr", "x0", "x0"},
    {"mips", "a0", "a1", "v0", "ra", "a0", "v0"},
    {"mipsel", "a0", "a1", "v0", "ra", "a0", "v0"},
    {"riscv32", "a0", "a1", "a0", "ra", "a0", "a0"},
    {"riscv64", "a0", "a1", "a0", "ra", "a0", "a0"},
};

static const struct call_conv *conv(const struct gm_arch *a)
{
	size_t i = 0;

	while (strcmp(cc[i].arch, a->name) != 0)
		i++;
	return &cc[i];
}

/* Set up a call of the function at CODE with A0, A1 returning to RET. */
static void call_setup(struct gm_guest *g, uint64_t a0, uint64_t a1)
{
	const struct call_conv *c = conv(gm_guest_arch(g));

	set(g, "pc", CODE);
	set(g, "sp", STACK_TOP);
	if (!c->a0) { /* cdecl: arguments, then the return address */
		OK(gm_stack_push(g, a1, NULL, ERR));
		OK(gm_stack_push(g, a0, NULL, ERR));
		OK(gm_stack_push(g, RET, NULL, ERR));
	} else {
		set(g, c->a0, a0);
		set(g, c->a1, a1);
		if (c->link)
			set(g, c->link, RET);
		else
			OK(gm_stack_push(g, RET, NULL, ERR));
	}
}

/* The C function's result register, cut to the guest's width. */
static uint64_t call_result(struct gm_guest *g)
{
	const struct gm_arch *a = gm_guest_arch(g);
	uint64_t v = 0;

	OK(gm_reg_read(g, gm_arch_reg(a, conv(a)->ret), &v, ERR));
	return a->pointer_size == 4 ? (uint32_t)v : v;
}

/* Call the function at CODE with A0, A1 and return its result. */
static uint64_t call2(struct gm_guest *g, uint64_t a0, uint64_t a1)
{
	struct gm_run_opts o = {
	    .has_begin = true, .begin = CODE, .has_until = true, .until = RET};

	call_setup(g, a0, a1);
	run_expect(g, &o, "until pc=0x1f000", 0);
	return call_result(g);
}

static struct gm_guest *code_guest(const char *arch, const char *fn)
{
	static const uint8_t none[1];
	struct gm_guest *g = rig(arch, none, 0);

	OK(gm_map(g, STACK_TOP - 0x8000, 0x10000, GM_PERM_R | GM_PERM_W,
		  "[stack]", 7, ERR));
	load_code(g, arch, fn);
	return g;
}

TEST(compiled_checksum_matches_the_host_on_every_arch)
{
	uint8_t buf[1000];
	uint32_t seed = 12345;

	for (size_t i = 0; i < sizeof(buf); i++) {
		seed = seed * 1103515245u + 12345u;
		buf[i] = (uint8_t)(seed >> 16);
	}
	for (size_t i = 0; gm_arch_at(i); i++) {
		const char *arch = gm_arch_at(i)->name;
		struct gm_guest *g = code_guest(arch, "CHECKSUM");

		fprintf(stdout, "# %s\n", arch);
		OK(gm_mem_write(g, DATA, buf, sizeof(buf), ERR));
		ASSERT_EQ((uint32_t)call2(g, DATA, sizeof(buf)),
			  checksum(buf, sizeof(buf)));
		/* riscv64 sign-extends a 32-bit result (its ABI): compare 32
		 * bits. Again on changed data: the same code, a new answer. */
		buf[7] ^= 0xff;
		OK(gm_mem_write(g, DATA, buf, sizeof(buf), ERR));
		ASSERT_EQ((uint32_t)call2(g, DATA, sizeof(buf)),
			  checksum(buf, sizeof(buf)));
		buf[7] ^= 0xff;
		gm_guest_close(g);
	}
}

TEST(compiled_string_copy_matches_the_host_on_every_arch)
{
	static const char text[] = "Every Unix tool becomes a debugger's "
				   "memory window.";
	char want[sizeof(text)], got[sizeof(text)];
	size_t n = strcopy(want, text);

	for (size_t i = 0; gm_arch_at(i); i++) {
		const char *arch = gm_arch_at(i)->name;
		struct gm_guest *g = code_guest(arch, "STRCOPY");

		fprintf(stdout, "# %s\n", arch);
		OK(gm_mem_write(g, DATA + 0x1000, text, sizeof(text), ERR));
		ASSERT_EQ(call2(g, DATA + 0x2000, DATA + 0x1000), n);
		OK(gm_mem_read(g, DATA + 0x2000, got, sizeof(got), ERR));
		ASSERT_MEM(got, want, sizeof(want));
		gm_guest_close(g);
	}
}

/* A loop that makes system calls: the test is the kernel, answering each
 * syscall stop in the return register and running on from pc, and the
 * result is what the host computes with the same answers. */
TEST(compiled_syscall_loop_is_served_on_every_arch)
{
	const uint32_t n = 10, seed = 0x1234567;

	for (size_t i = 0; gm_arch_at(i); i++) {
		const struct gm_arch *a = gm_arch_at(i);
		struct gm_guest *g = code_guest(a->name, "SYSLOOP");
		const struct call_conv *c = conv(a);
		struct gm_run_opts o = {.has_until = true, .until = RET};
		struct gm_stop s;
		unsigned calls = 0;
		uint64_t arg = 0, prev_pc = 0;

		fprintf(stdout, "# %s\n", a->name);
		call_setup(g, n, seed);
		for (;;) {
			gm_guest_lock(g);
			OK(gm_run(g, &o, &s, ERR));
			gm_guest_unlock(g);
			if (s.reason != GM_STOP_SYSCALL)
				break;
			/* The same instruction each time, nr in turn. */
			if (calls > 0)
				ASSERT_EQ(s.pc, prev_pc);
			prev_pc = s.pc;
			ASSERT_EQ(s.nr, 100 + (calls & 3));
			OK(gm_reg_read(g, gm_arch_reg(a, c->sys_a0), &arg,
				       ERR));
			set(g, c->sys_ret,
			    (uint64_t)kernel_answer((long)s.nr, (long)arg));
			calls++;
			ASSERT(calls <= n);
		}
		ASSERT_EQ(s.reason, GM_STOP_UNTIL);
		ASSERT_EQ(s.pc, RET);
		ASSERT_EQ(calls, n);
		ASSERT_EQ((uint32_t)call_result(g), sysloop(n, seed));
		gm_guest_close(g);
	}
}
