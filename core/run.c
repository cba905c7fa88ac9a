/*
 * Running the guest: one uc_emu_start per run with the guest lock released,
 * hooks that turn the engine's exceptions into the stops of SPEC §8, and a
 * stopper thread that makes gm_guest_stop land whenever it is called.
 */
#include "run.h"
#include "guest-priv.h"
#include "memory.h"
#include "regs.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

/* What the hooks saw during one run; written by the engine's thread only. */
enum run_event {
	EV_NONE,
	EV_INTR,     /* UC_HOOK_INTR: intno */
	EV_SYSCALL,  /* x86_64 syscall, pc already after it */
	EV_SYSENTER, /* x86 sysenter, next_pc computed by the hook */
	EV_COUNT,    /* the count hook saw instruction count + 1 */
};

struct gm_run_state {
	/* mu guards active, in_engine, stop_req, thread_started and quit:
	 * gm_guest_stop takes it without the guest lock. */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool active;	/* between the start and the end of gm_run's run */
	bool in_engine; /* inside uc_emu_start */
	bool stop_req;
	bool thread_started, quit;
	pthread_t thread;

	bool hooks_added;
	uc_hook h_intr, h_insn, h_mem, h_block, h_count;
	bool count_hooked;

	enum run_event ev;
	int intno;
	uint64_t next_pc;
	bool mem_seen;
	int mem_type;
	uint64_t mem_addr;
	uint64_t blk_addr;
	uint32_t blk_size;
	uint64_t counted, count;
	uint64_t begin;
};

int gm_run_state_init(struct gm_guest *g)
{
	struct gm_run_state *rs = calloc(1, sizeof(*rs));

	if (!rs)
		return -ENOMEM;
	pthread_mutex_init(&rs->mu, NULL);
	pthread_cond_init(&rs->cv, NULL);
	g->run = rs;
	return 0;
}

void gm_run_state_free(struct gm_guest *g)
{
	struct gm_run_state *rs = g->run;

	if (!rs)
		return;
	pthread_mutex_lock(&rs->mu);
	rs->quit = true;
	pthread_cond_broadcast(&rs->cv);
	pthread_mutex_unlock(&rs->mu);
	if (rs->thread_started)
		pthread_join(rs->thread, NULL);
	pthread_cond_destroy(&rs->cv);
	pthread_mutex_destroy(&rs->mu);
	free(rs);
	g->run = NULL;
}

/*
 * uc_emu_start clears the engine's stop request as it begins, so a
 * uc_emu_stop that lands just before is lost and the guest would run on.
 * This thread repeats uc_emu_stop every millisecond while a stop is asked
 * and the run is in the engine; under mu, so never after the run left it.
 */
static void *stopper_main(void *arg)
{
	struct gm_guest *g = arg;
	struct gm_run_state *rs = g->run;
	struct timespec t;

	pthread_mutex_lock(&rs->mu);
	while (!rs->quit) {
		if (!(rs->stop_req && rs->in_engine)) {
			pthread_cond_wait(&rs->cv, &rs->mu);
			continue;
		}
		uc_emu_stop(g->uc);
		clock_gettime(CLOCK_REALTIME, &t);
		t.tv_nsec += 1000000;
		if (t.tv_nsec >= 1000000000) {
			t.tv_sec++;
			t.tv_nsec -= 1000000000;
		}
		pthread_cond_timedwait(&rs->cv, &rs->mu, &t);
	}
	pthread_mutex_unlock(&rs->mu);
	return NULL;
}

void gm_guest_stop(struct gm_guest *g)
{
	struct gm_run_state *rs = g->run;

	pthread_mutex_lock(&rs->mu);
	if (rs->active) {
		rs->stop_req = true;
		if (!rs->thread_started &&
		    pthread_create(&rs->thread, NULL, stopper_main, g) == 0)
			rs->thread_started = true;
		/* Without the thread, one try is what is left. */
		if (!rs->thread_started && rs->in_engine)
			uc_emu_stop(g->uc);
		pthread_cond_broadcast(&rs->cv);
	}
	pthread_mutex_unlock(&rs->mu);
}

/* Hooks: each records what it saw and ends the run. */

static void hook_intr(uc_engine *uc, uint32_t intno, void *data)
{
	struct gm_run_state *rs = data;

	rs->ev = EV_INTR;
	rs->intno = (int)intno;
	uc_emu_stop(uc);
}

static void hook_syscall(uc_engine *uc, void *data)
{
	struct gm_run_state *rs = data;

	rs->ev = EV_SYSCALL;
	uc_emu_stop(uc);
}

/*
 * In a sysenter hook Unicorn 2.0.1 reports as eip the start of the block,
 * and leaves eip meaningless after the run (measured). sysenter ends its
 * block, so the instruction after it is where the block ends.
 */
static void hook_sysenter(uc_engine *uc, void *data)
{
	struct gm_run_state *rs = data;
	uint64_t eip = 0;
	uc_tb tb = {0};

	uc_reg_read(uc, UC_X86_REG_EIP, &eip);
	rs->ev = EV_SYSENTER;
	rs->next_pc = eip;
	/* uc_ctl_request_cache's macro shifts 3 << 30 in an int, which
	 * UBSan rightly reports: the same control word, in unsigned. */
	if (uc_ctl(uc,
		   (uc_control_type)((unsigned)UC_CTL_TB_REQUEST_CACHE |
				     (2u << 26) |
				     ((unsigned)UC_CTL_IO_READ_WRITE << 30)),
		   eip, &tb) == UC_ERR_OK)
		rs->next_pc = tb.pc + tb.size;
	uc_emu_stop(uc);
}

static bool hook_mem(uc_engine *uc, uc_mem_type type, uint64_t addr, int size,
		     int64_t value, void *data)
{
	struct gm_run_state *rs = data;

	(void)uc;
	(void)size;
	(void)value;
	rs->mem_seen = true;
	rs->mem_type = type;
	rs->mem_addr = addr;
	return false;
}

/* mips only: where the running block starts and how long it is (see
 * mips_exception_pc). */
static void hook_block(uc_engine *uc, uint64_t addr, uint32_t size, void *data)
{
	struct gm_run_state *rs = data;

	(void)uc;
	rs->blk_addr = addr;
	rs->blk_size = size;
}

static void hook_count(uc_engine *uc, uint64_t addr, uint32_t size, void *data)
{
	struct gm_run_state *rs = data;

	(void)addr;
	(void)size;
	if (++rs->counted > rs->count) {
		rs->ev = EV_COUNT;
		uc_emu_stop(uc);
	}
}

static int add_hooks(struct gm_guest *g, struct gm_error *err)
{
	struct gm_run_state *rs = g->run;
	const struct gm_arch *a = g->arch;
	uc_err e;

	if (rs->hooks_added)
		return 0;
	e = uc_hook_add(g->uc, &rs->h_intr, UC_HOOK_INTR, (void *)hook_intr, rs,
			1, 0);
	if (e == UC_ERR_OK)
		e = uc_hook_add(g->uc, &rs->h_mem, UC_HOOK_MEM_INVALID,
				(void *)hook_mem, rs, 1, 0);
	if (e == UC_ERR_OK && a->uc_arch == UC_ARCH_X86 &&
	    a->uc_mode == UC_MODE_64)
		e = uc_hook_add(g->uc, &rs->h_insn, UC_HOOK_INSN,
				(void *)hook_syscall, rs, 1, 0,
				UC_X86_INS_SYSCALL);
	if (e == UC_ERR_OK && a->uc_arch == UC_ARCH_X86 &&
	    a->uc_mode == UC_MODE_32)
		e = uc_hook_add(g->uc, &rs->h_insn, UC_HOOK_INSN,
				(void *)hook_sysenter, rs, 1, 0,
				UC_X86_INS_SYSENTER);
	/* A block hook costs a call per block, so only where it is needed. */
	if (e == UC_ERR_OK && a->uc_arch == UC_ARCH_MIPS)
		e = uc_hook_add(g->uc, &rs->h_block, UC_HOOK_BLOCK,
				(void *)hook_block, rs, 1, 0);
	if (e != UC_ERR_OK)
		return gm_uc_fail(err, e, "run: adding the engine's hooks");
	rs->hooks_added = true;
	return 0;
}

/* The code hook that counts instructions exists only for runs with a
 * count, as it costs a call per instruction. */
static int set_count_hook(struct gm_guest *g, uint64_t count,
			  struct gm_error *err)
{
	struct gm_run_state *rs = g->run;
	uc_err e;

	rs->count = count;
	rs->counted = 0;
	if (count > 0 && !rs->count_hooked) {
		e = uc_hook_add(g->uc, &rs->h_count, UC_HOOK_CODE,
				(void *)hook_count, rs, 1, 0);
		if (e != UC_ERR_OK)
			return gm_uc_fail(err, e, "run: count");
		rs->count_hooked = true;
	} else if (count == 0 && rs->count_hooked) {
		uc_hook_del(g->uc, rs->h_count);
		rs->count_hooked = false;
	}
	return 0;
}

/*
 * The until address for uc_emu_start. Without one, an address no
 * instruction starts at: 2^32 on 32-bit guests (pc never gets there), and
 * 2^64-1 on 64-bit ones (only a one-byte instruction in the last byte of
 * the space could). Unicorn's exits list (uc_ctl_set_exits) would say "no
 * until" better, but in 2.0.1 runs with it end at once or never (measured).
 */
static uint64_t until_address(const struct gm_guest *g,
			      const struct gm_run_opts *o)
{
	if (o->has_until)
		return o->until;
	return g->arch->address_bits == 32 ? UINT64_C(1) << 32 : UINT64_MAX;
}

static const struct gm_reg *nr_reg(const struct gm_arch *a)
{
	switch (a->uc_arch) {
	case UC_ARCH_X86:
		return gm_arch_reg(a, a->uc_mode == UC_MODE_64 ? "rax" : "eax");
	case UC_ARCH_ARM:
		return gm_arch_reg(a, "r7");
	case UC_ARCH_ARM64:
		return gm_arch_reg(a, "x8");
	case UC_ARCH_MIPS:
		return gm_arch_reg(a, "v0");
	default:
		return gm_arch_reg(a, "a7");
	}
}

static void set_pc(struct gm_guest *g, struct gm_stop *s, uint64_t pc)
{
	s->pc = pc;
	gm_reg_write(g, gm_arch_reg(g->arch, "pc"), pc, NULL);
}

/*
 * mips: Unicorn 2.0.1 sets pc after every exception but syscall to a
 * stale value (0 in practice). The raising instruction ends its
 * translated block, so it is the block's last word (the block hook's).
 */
static uint64_t mips_exception_pc(const struct gm_run_state *rs)
{
	return rs->blk_addr + (rs->blk_size >= 4 ? rs->blk_size - 4 : 0);
}

/* The stop of an exception number, per architecture (measured on 2.0.1:
 * arm/arm64 EXCP_UDEF 1, EXCP_SWI 2, EXCP_BKPT 7; mips EXCP_SYSCALL 17,
 * EXCP_BREAK 18, EXCP_RI 20; riscv causes 2 illegal, 3 breakpoint, 8, 9,
 * 11 ecall; x86 the vector). */
static void classify_intr(struct gm_guest *g, int intno, struct gm_stop *s)
{
	struct gm_run_state *rs = g->run;
	const struct gm_arch *a = g->arch;
	uint8_t op = 0;

	s->reason = GM_STOP_INTERRUPT;
	s->intno = (unsigned)intno;
	switch (a->uc_arch) {
	case UC_ARCH_X86:
		if (intno == 0x80) {
			s->reason = GM_STOP_SYSCALL;
		} else if (intno == 3) {
			/* pc is past int3 (cc) or int 3 (cd 03). */
			s->reason = GM_STOP_BREAKPOINT;
			gm_mem_read(g, s->pc - 1, &op, 1, NULL);
			set_pc(g, s, s->pc - (op == 0xcc ? 1 : 2));
		}
		break;
	case UC_ARCH_ARM:
	case UC_ARCH_ARM64:
		if (intno == 2)
			s->reason = GM_STOP_SYSCALL;
		else if (intno == 7)
			s->reason = GM_STOP_BREAKPOINT;
		else if (intno == 1)
			s->reason = GM_STOP_INVALID;
		break;
	case UC_ARCH_MIPS:
		if (intno == 17) {
			s->reason = GM_STOP_SYSCALL;
			break;
		}
		if (intno == 18)
			s->reason = GM_STOP_BREAKPOINT;
		else if (intno == 20)
			s->reason = GM_STOP_INVALID;
		set_pc(g, s, mips_exception_pc(rs));
		break;
	default: /* riscv */
		if (intno == 8 || intno == 9 || intno == 11) {
			s->reason = GM_STOP_SYSCALL;
		} else if (intno == 3) {
			s->reason = GM_STOP_BREAKPOINT;
		} else if (intno == 2) {
			/* Unicorn leaves pc 4 past the illegal word. */
			s->reason = GM_STOP_INVALID;
			set_pc(g, s, s->pc - 4);
		}
		break;
	}
	if (s->reason == GM_STOP_SYSCALL)
		gm_reg_read(g, nr_reg(a), &s->nr, NULL);
}

static bool fault_kind(uc_err e, enum gm_fault_kind *kind)
{
	switch (e) {
	case UC_ERR_READ_UNMAPPED:
		*kind = GM_FAULT_READ_UNMAPPED;
		return true;
	case UC_ERR_WRITE_UNMAPPED:
		*kind = GM_FAULT_WRITE_UNMAPPED;
		return true;
	case UC_ERR_FETCH_UNMAPPED:
		*kind = GM_FAULT_FETCH_UNMAPPED;
		return true;
	case UC_ERR_READ_PROT:
		*kind = GM_FAULT_READ_PROT;
		return true;
	case UC_ERR_WRITE_PROT:
		*kind = GM_FAULT_WRITE_PROT;
		return true;
	case UC_ERR_FETCH_PROT:
		*kind = GM_FAULT_FETCH_PROT;
		return true;
	default:
		return false;
	}
}

/* riscv reports ebreak as an invalid instruction (measured). */
static bool is_riscv_ebreak(struct gm_guest *g, uint64_t pc)
{
	uint8_t b[4] = {0};

	if (g->arch->uc_arch != UC_ARCH_RISCV)
		return false;
	if (gm_mem_read(g, pc, b, 2, NULL) == 0 && b[0] == 0x02 && b[1] == 0x90)
		return true; /* c.ebreak */
	return gm_mem_read(g, pc, b, 4, NULL) == 0 && b[0] == 0x73 &&
	       b[1] == 0x00 && b[2] == 0x10 && b[3] == 0x00;
}

/*
 * mips: Unicorn 2.0.1 does not store pc when a run reaches until (it
 * reads as the run's begin, measured). The block that ran last then ends
 * exactly at until; or nothing ran, when the run began there.
 */
static bool mips_at_until(struct gm_guest *g, const struct gm_run_opts *o)
{
	struct gm_run_state *rs = g->run;

	if (g->arch->uc_arch != UC_ARCH_MIPS)
		return false;
	if (rs->blk_size == 0)
		return rs->begin == o->until;
	return rs->blk_addr + rs->blk_size == o->until;
}

/* Turn what the engine returned and the hooks saw into *S. */
static int classify(struct gm_guest *g, const struct gm_run_opts *o, uc_err e,
		    bool stopped, struct gm_stop *s, struct gm_error *err)
{
	struct gm_run_state *rs = g->run;
	size_t timed_out = 0;

	s->pc = gm_reg_pc(g);
	if (rs->ev == EV_INTR) {
		classify_intr(g, rs->intno, s);
	} else if (rs->ev == EV_SYSCALL || rs->ev == EV_SYSENTER) {
		s->reason = GM_STOP_SYSCALL;
		if (rs->ev == EV_SYSENTER)
			set_pc(g, s, rs->next_pc);
		gm_reg_read(g, nr_reg(g->arch), &s->nr, NULL);
	} else if (fault_kind(e, &s->fault)) {
		s->reason = GM_STOP_FAULT;
		s->addr = rs->mem_seen ? rs->mem_addr : s->pc;

		/* riscv fetches an unmapped until before it checks the
		 * exit: that is the until stop all the same. */
		if ((s->fault == GM_FAULT_FETCH_UNMAPPED ||
		     s->fault == GM_FAULT_FETCH_PROT) &&
		    o->has_until && s->addr == o->until) {
			s->reason = GM_STOP_UNTIL;
			set_pc(g, s, o->until);
		}
	} else if (e == UC_ERR_INSN_INVALID) {
		s->reason = is_riscv_ebreak(g, s->pc) ? GM_STOP_BREAKPOINT
						      : GM_STOP_INVALID;
	} else if (e != UC_ERR_OK) {
		return gm_uc_fail(err, e, "run");
	} else if (o->has_until && (s->pc == o->until || mips_at_until(g, o))) {
		s->reason = GM_STOP_UNTIL;
		set_pc(g, s, o->until);
	} else if (rs->ev == EV_COUNT) {
		s->reason = GM_STOP_COUNT;
	} else if (uc_query(g->uc, UC_QUERY_TIMEOUT, &timed_out) == UC_ERR_OK &&
		   timed_out) {
		s->reason = GM_STOP_TIMEOUT;
	} else if (stopped) {
		s->reason = GM_STOP_STOPPED;
	} else {
		/* Nothing asked the engine to stop: the CPU halted (x86
		 * hlt ends the run with pc after it). */
		s->reason = GM_STOP_HALT;
	}
	return 0;
}

static int check_opts(struct gm_guest *g, const struct gm_run_opts *o,
		      struct gm_error *err)
{
	if (o->has_begin && o->begin > g->last_addr)
		return gm_fail(err, EINVAL,
			       "begin=0x%llx is past the address space",
			       (unsigned long long)o->begin);
	if (o->has_until && o->until > g->last_addr)
		return gm_fail(err, EINVAL,
			       "until=0x%llx is past the address space",
			       (unsigned long long)o->until);
	return 0;
}

/* The address uc_emu_start begins at: on arm, bit 0 set keeps Thumb. */
static uint64_t start_address(struct gm_guest *g, const struct gm_run_opts *o)
{
	uint64_t pc = o->has_begin ? o->begin : gm_reg_pc(g), cpsr = 0;

	if (g->arch->uc_arch == UC_ARCH_ARM) {
		gm_reg_read(g, gm_arch_reg(g->arch, "cpsr"), &cpsr, NULL);
		if (cpsr & (1u << 5))
			pc |= 1;
	}
	return pc;
}

/*
 * No stale code, whoever wrote memory (a shared mmap included, which the
 * core never sees): drop what was translated from every executable
 * region, the only places code comes from. This also makes a changed
 * until or count hook take effect, as Unicorn checks both when it
 * translates. A whole flush (uc_ctl_flush_tlb, UC_CTL_TB_FLUSH) would do
 * the same but clears all of Unicorn's code buffer with a memset: seconds
 * on the first run (measured), so region by region it is.
 */
static void drop_all_code(struct gm_guest *g)
{
	for (size_t i = 0; i < g->nregions; i++)
		if (g->regions[i].perms & GM_PERM_X)
			gm_drop_code(g, g->regions[i].start,
				     g->regions[i].size);
}

/* Everything before the engine runs, under the guest lock. */
static int prepare(struct gm_guest *g, const struct gm_run_opts *o,
		   struct gm_error *err)
{
	struct gm_run_state *rs = g->run;
	int rc;

	if (g->running)
		return gm_fail(err, EBUSY, "a run is in progress");
	rc = check_opts(g, o, err);
	if (rc == 0 && !g->known_regs &&
	    !(g->known_regs = calloc(g->arch->nregs, sizeof(uint64_t))))
		rc = gm_fail(err, ENOMEM, "out of memory");
	if (rc == 0)
		rc = add_hooks(g, err);
	if (rc == 0)
		rc = set_count_hook(g, o->count, err);
	if (rc < 0)
		return rc;
	drop_all_code(g);
	if (o->has_begin)
		gm_reg_write(g, gm_arch_reg(g->arch, "pc"), o->begin, NULL);
	for (size_t i = 0; i < g->arch->nregs; i++)
		gm_reg_read(g, &g->arch->regs[i], &g->known_regs[i], NULL);
	rs->ev = EV_NONE;
	rs->mem_seen = false;
	rs->blk_addr = 0;
	rs->blk_size = 0;
	return 0;
}

int gm_run(struct gm_guest *g, const struct gm_run_opts *o,
	   struct gm_stop *stop, struct gm_error *err)
{
	struct gm_run_state *rs = g->run;
	uint64_t begin;
	bool stopped, skip;
	uc_err e = UC_ERR_OK;
	int rc;

	*stop = (struct gm_stop){0};
	rc = prepare(g, o, err);
	if (rc < 0)
		return rc;
	begin = start_address(g, o);
	rs->begin = begin;
	pthread_mutex_lock(&rs->mu);
	rs->active = true;
	rs->stop_req = false;
	pthread_mutex_unlock(&rs->mu);
	g->running = true;
	g->runs++;
	gm_guest_unlock(g);

	pthread_mutex_lock(&rs->mu);
	skip = rs->stop_req;
	rs->in_engine = !skip;
	pthread_mutex_unlock(&rs->mu);
	if (!skip)
		e = uc_emu_start(g->uc, begin, until_address(g, o),
				 o->timeout_us, 0);
	pthread_mutex_lock(&rs->mu);
	rs->in_engine = false;
	rs->active = false;
	stopped = rs->stop_req;
	rs->stop_req = false;
	pthread_mutex_unlock(&rs->mu);

	gm_guest_lock(g);
	g->running = false;
	rc = classify(g, o, e, stopped, stop, err);
	if (rc < 0)
		return rc;
	rc = gm_stop_errno(stop);
	if (rc > 0) {
		char line[GM_STOP_LINE_MAX];

		return gm_fail(err, rc, "%s", gm_stop_line(stop, line));
	}
	return 0;
}

static const char *const fault_names[] = {
    [GM_FAULT_READ_UNMAPPED] = "read_unmapped",
    [GM_FAULT_WRITE_UNMAPPED] = "write_unmapped",
    [GM_FAULT_FETCH_UNMAPPED] = "fetch_unmapped",
    [GM_FAULT_READ_PROT] = "read_prot",
    [GM_FAULT_WRITE_PROT] = "write_prot",
    [GM_FAULT_FETCH_PROT] = "fetch_prot",
};

char *gm_stop_line(const struct gm_stop *s, char *buf)
{
	static const char *const names[] = {
	    [GM_STOP_NONE] = "none",
	    [GM_STOP_UNTIL] = "until",
	    [GM_STOP_COUNT] = "count",
	    [GM_STOP_HALT] = "halt",
	    [GM_STOP_SYSCALL] = "syscall",
	    [GM_STOP_BREAKPOINT] = "breakpoint",
	    [GM_STOP_INTERRUPT] = "interrupt",
	    [GM_STOP_FAULT] = "fault",
	    [GM_STOP_INVALID] = "invalid",
	    [GM_STOP_TIMEOUT] = "timeout",
	    [GM_STOP_STOPPED] = "stopped",
	};
	unsigned long long pc = s->pc;

	switch (s->reason) {
	case GM_STOP_SYSCALL:
		snprintf(buf, GM_STOP_LINE_MAX, "syscall pc=0x%llx nr=0x%llx",
			 pc, (unsigned long long)s->nr);
		break;
	case GM_STOP_INTERRUPT:
		snprintf(buf, GM_STOP_LINE_MAX, "interrupt pc=0x%llx intno=%u",
			 pc, s->intno);
		break;
	case GM_STOP_FAULT:
		snprintf(
		    buf, GM_STOP_LINE_MAX, "fault %s pc=0x%llx addr=0x%llx",
		    fault_names[s->fault], pc, (unsigned long long)s->addr);
		break;
	default:
		snprintf(buf, GM_STOP_LINE_MAX, "%s pc=0x%llx",
			 names[s->reason], pc);
		break;
	}
	return buf;
}

int gm_stop_errno(const struct gm_stop *s)
{
	switch (s->reason) {
	case GM_STOP_FAULT:
		return EFAULT;
	case GM_STOP_INVALID:
		return EILSEQ;
	case GM_STOP_TIMEOUT:
		return ETIMEDOUT;
	case GM_STOP_STOPPED:
		return EINTR;
	default:
		return 0;
	}
}
