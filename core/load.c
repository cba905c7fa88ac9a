/*
 * load_elf and load_core: a file is read and checked whole, its regions
 * and stack planned and checked against the guest, and only then applied,
 * with an undo for each step, so that a failure leaves the guest as it was.
 */
#include "load.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "coredump.h"
#include "elf.h"
#include "guest-priv.h"
#include "memory.h"
#include "regs.h"
#include "snapfile.h"

/* The auxiliary vector's keys (Linux's <elf.h>). */
enum {
	AT_NULL = 0,
	AT_PHDR = 3,
	AT_PHENT = 4,
	AT_PHNUM = 5,
	AT_PAGESZ = 6,
	AT_ENTRY = 9,
	AT_RANDOM = 25,
};

#define NAUX 7

/* "PATH: message", so that a message says which file it is about. */
static int with_path(struct gm_error *err, const char *path, int rc)
{
	char msg[GM_ERROR_MAX];
	size_t n;

	if (!err || rc == 0)
		return rc;
	n = strnlen(path, GM_ERROR_MAX / 2);
	memcpy(msg, path, n);
	memcpy(msg + n, ": ", 2);
	memcpy(msg + n + 2, err->msg, GM_ERROR_MAX - n - 2);
	msg[GM_ERROR_MAX - 1] = '\0';
	memcpy(err->msg, msg, sizeof(msg));
	return rc;
}

/* One region to map: pages [start, end), the union of the permissions of
 * the segments in them. */
struct plan_region {
	uint64_t start, end;
	unsigned perms;
	bool mapped;
};

struct elf_plan {
	struct plan_region *v;
	size_t n;
	uint64_t bias;	/* added to every p_vaddr */
	uint64_t entry; /* e_entry + bias */
	uint64_t phdr;	/* AT_PHDR */
	uint8_t *stack; /* the initial stack's bytes, at stack_lo */
	size_t stack_len;
	uint64_t stack_lo;
	uint8_t *stack_old; /* what was there, for the undo */
};

static unsigned perms_of(uint32_t pf)
{
	return (pf & GM_PF_R ? GM_PERM_R : 0) | (pf & GM_PF_W ? GM_PERM_W : 0) |
	       (pf & GM_PF_X ? GM_PERM_X : 0);
}

/* Where the file's address 0 goes: BASE less the lowest segment's page
 * for ET_DYN (the lowest segment lands at BASE, as Linux puts it), 0 for
 * ET_EXEC. */
static int plan_bias(const struct gm_guest *g, const struct gm_elf *e,
		     const struct gm_elf_load *opt, struct elf_plan *p,
		     struct gm_error *err)
{
	uint64_t base, lowest = UINT64_MAX;

	if (e->type == GM_ET_EXEC) {
		if (opt && opt->base_set)
			return gm_fail(err, EINVAL,
				       "base= is for ET_DYN files: an ET_EXEC "
				       "file loads at its own addresses");
		p->bias = 0;
		return 0;
	}
	base = opt && opt->base_set	    ? opt->base
	       : g->arch->pointer_size == 8 ? GM_ELF_BASE64
					    : GM_ELF_BASE32;
	if (base % g->page_size || base > g->last_addr)
		return gm_fail(err, EINVAL,
			       "base 0x%llx is not a page boundary of the "
			       "address space",
			       (unsigned long long)base);
	for (size_t i = 0; i < e->nsegs; i++)
		if (e->segs[i].type == GM_PT_LOAD && e->segs[i].memsz &&
		    e->segs[i].vaddr < lowest)
			lowest = e->segs[i].vaddr;
	if (lowest == UINT64_MAX)
		lowest = 0;
	p->bias = base - (lowest & ~(g->page_size - 1));
	return 0;
}

/* The regions, segments sharing a page joined; each inside the space. */
static int plan_regions(const struct gm_guest *g, const struct gm_elf *e,
			struct elf_plan *p, struct gm_error *err)
{
	uint64_t mask = g->page_size - 1;

	p->v = calloc(e->nsegs + 1, sizeof(*p->v));
	if (!p->v)
		return gm_fail(err, ENOMEM, "out of memory");
	for (size_t i = 0; i < e->nsegs; i++) {
		const struct gm_elf_seg *s = &e->segs[i];
		uint64_t lo = s->vaddr + p->bias, last;
		struct plan_region *prev = p->n ? &p->v[p->n - 1] : NULL;

		if (s->type != GM_PT_LOAD || s->memsz == 0)
			continue;
		last = lo + (s->memsz - 1);
		if (lo - p->bias != s->vaddr || last < lo ||
		    lo > g->last_addr || last > g->last_addr ||
		    (last | mask) > g->last_addr)
			return gm_fail(err, EINVAL,
				       "segment %zu (0x%llx + 0x%llx) would "
				       "pass the end of the address space "
				       "at 0x%llx",
				       i, (unsigned long long)s->vaddr,
				       (unsigned long long)s->memsz,
				       (unsigned long long)p->bias);
		lo &= ~mask;
		if (prev && lo < prev->end) { /* a shared page */
			prev->end = (last | mask) + 1;
			prev->perms |= perms_of(s->flags);
			continue;
		}
		p->v[p->n++] = (struct plan_region){lo, (last | mask) + 1,
						    perms_of(s->flags), false};
	}
	if (p->n == 0)
		return gm_fail(err, ENOEXEC,
			       "an ELF file with no PT_LOAD segment to load");
	return 0;
}

/* Each region free, else EEXIST naming it. A region that ends at 2^64
 * has end 0. */
static int plan_check_free(struct gm_guest *g, const struct elf_plan *p,
			   struct gm_error *err)
{
	char range[48];

	for (size_t i = 0; i < p->n; i++) {
		uint64_t size = p->v[i].end - p->v[i].start;
		bool free_;
		int rc = gm_is_available(g, p->v[i].start, size, &free_, err);

		if (rc < 0)
			return rc;
		if (!free_)
			return gm_fail(
			    err, EEXIST, "segment pages %s are not free",
			    gm_range_str(range, p->v[i].start, size));
	}
	return 0;
}

/* AT_PHDR: the program headers' address, from PT_PHDR or the PT_LOAD
 * that holds them in the file; 0 when none does. */
static uint64_t phdr_addr(const struct gm_elf *e, uint64_t bias)
{
	size_t phdr = e->is64 ? 56 : 32;

	for (size_t i = 0; i < e->nsegs; i++)
		if (e->segs[i].type == GM_PT_PHDR)
			return e->segs[i].vaddr + bias;
	for (size_t i = 0; i < e->nsegs; i++) {
		const struct gm_elf_seg *s = &e->segs[i];

		if (s->type == GM_PT_LOAD && s->offset <= e->phoff &&
		    e->phoff + e->nsegs * phdr <= s->offset + s->filesz)
			return s->vaddr + bias + (e->phoff - s->offset);
	}
	return 0;
}

/* The initial stack as execve lays it out below SP: strings at the top
 * (argv[0] lowest), 16 random bytes under them, then 16-byte aligned
 * argc, argv, NULL, envp's NULL and the auxv pairs. */
static int plan_stack(struct gm_guest *g, const struct gm_elf *e,
		      const char *path, const struct gm_elf_load *opt,
		      struct elf_plan *p, struct gm_error *err)
{
	const struct gm_arch *a = g->arch;
	unsigned w = a->pointer_size;
	size_t argc = 1 + (opt ? opt->nargs : 0), strings = 0, words, off;
	uint64_t sp = gm_reg_sp(g), lo, str_lo, rnd;
	bool mapped;
	int rc;

	for (size_t i = 0; i < argc; i++)
		strings += strlen(i ? opt->args[i - 1] : path) + 1;
	words = 1 + argc + 1 + 1 + 2 * NAUX;
	if (strings > (1u << 20) || sp < strings + 16 + words * w + 32)
		return gm_fail(err, EFAULT,
			       "no room below sp 0x%llx for the initial stack",
			       (unsigned long long)sp);
	str_lo = sp - strings;
	rnd = str_lo - 16;
	lo = (rnd - words * w) & ~(uint64_t)15;
	rc = gm_is_mapped(g, lo, sp - lo, &mapped, err);
	if (rc == 0 && !mapped)
		rc = gm_fail(err, EFAULT,
			     "the initial stack needs 0x%llx bytes below sp "
			     "0x%llx mapped (map a stack, or start without "
			     "--no-stack)",
			     (unsigned long long)(sp - lo),
			     (unsigned long long)sp);
	if (rc < 0)
		return rc;
	p->stack_lo = lo;
	p->stack_len = (size_t)(sp - lo);
	p->stack = calloc(1, p->stack_len);
	p->stack_old = malloc(p->stack_len);
	if (!p->stack || !p->stack_old)
		return gm_fail(err, ENOMEM, "out of memory");
	if (getrandom(p->stack + (rnd - lo), 16, GRND_NONBLOCK) != 16)
		for (size_t i = 0; i < 16; i++) /* no entropy yet: still vary */
			p->stack[rnd - lo + i] = (uint8_t)(rand() >> 7);
	off = 0;
	gm_elf_put(a->big_endian, p->stack, argc, w);
	for (size_t i = 0; i < argc; i++) {
		const char *s = i ? opt->args[i - 1] : path;

		memcpy(p->stack + (str_lo - lo) + off, s, strlen(s) + 1);
		gm_elf_put(a->big_endian, p->stack + (1 + i) * w, str_lo + off,
			   w);
		off += strlen(s) + 1;
	}
	/* argv's NULL and envp's NULL are the zeros already there */
	const uint64_t aux[2 * NAUX] = {
	    AT_PHDR,  p->phdr,	AT_PHENT,  e->is64 ? 56 : 32,
	    AT_PHNUM, e->nsegs, AT_PAGESZ, GM_ELF_AUX_PAGESZ,
	    AT_ENTRY, p->entry, AT_RANDOM, rnd,
	    AT_NULL,  0,
	};
	for (size_t i = 0; i < 2 * NAUX; i++)
		gm_elf_put(a->big_endian, p->stack + (3 + argc + i) * w, aux[i],
			   w);
	return 0;
}

static const char *base_name(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash && slash[1] ? slash + 1 : path;
}

/* Undo what apply_elf did, in reverse. */
static void undo_elf(struct gm_guest *g, struct elf_plan *p, bool stack,
		     uint64_t old_pc, uint64_t old_sp)
{
	const struct gm_reg *pc = gm_arch_reg(g->arch, "pc");

	gm_reg_write(g, pc, old_pc, NULL);
	gm_reg_set_sp(g, old_sp, NULL);
	if (stack)
		gm_mem_write(g, p->stack_lo, p->stack_old, p->stack_len, NULL);
	for (size_t i = p->n; i-- > 0;)
		if (p->v[i].mapped)
			gm_unmap(g, p->v[i].start, p->v[i].end - p->v[i].start,
				 NULL);
}

static int apply_elf(struct gm_guest *g, const struct gm_elf *e,
		     const char *path, struct elf_plan *p, struct gm_error *err)
{
	const struct gm_reg *pc = gm_arch_reg(g->arch, "pc");
	const char *label = base_name(path);
	uint64_t old_pc = gm_reg_pc(g), old_sp = gm_reg_sp(g);
	bool stack = false;
	int rc = 0;

	for (size_t i = 0; i < p->n && rc == 0; i++) {
		rc = gm_map(g, p->v[i].start, p->v[i].end - p->v[i].start,
			    p->v[i].perms, label, strlen(label), err);
		p->v[i].mapped = rc == 0;
	}
	for (size_t i = 0; i < e->nsegs && rc == 0; i++) {
		const struct gm_elf_seg *s = &e->segs[i];

		if (s->type == GM_PT_LOAD && s->filesz)
			rc = gm_mem_write(g, s->vaddr + p->bias,
					  e->bytes + s->offset, s->filesz, err);
	}
	if (rc == 0)
		rc = gm_mem_read(g, p->stack_lo, p->stack_old, p->stack_len,
				 err);
	if (rc == 0) {
		rc = gm_mem_write(g, p->stack_lo, p->stack, p->stack_len, err);
		stack = rc == 0;
	}
	if (rc == 0)
		rc = gm_reg_write(g, pc, p->entry, err);
	if (rc == 0)
		rc = gm_reg_set_sp(g, p->stack_lo, err);
	if (rc < 0)
		undo_elf(g, p, stack, old_pc, old_sp);
	return rc;
}

static int load_elf_bytes(struct gm_guest *g, const struct gm_elf *e,
			  const char *path, const struct gm_elf_load *opt,
			  uint64_t *entry, struct gm_error *err)
{
	struct elf_plan p = {0};
	int rc = gm_elf_check_arch(e, g->arch, err);

	if (rc == 0 && e->type == GM_ET_CORE)
		rc = gm_fail(err, ENOEXEC,
			     "a core dump, not an executable (load_core "
			     "loads it)");
	if (rc == 0)
		rc = plan_bias(g, e, opt, &p, err);
	if (rc == 0)
		rc = plan_regions(g, e, &p, err);
	if (rc == 0) {
		p.entry = e->entry + p.bias;
		if (p.entry > g->last_addr ||
		    (e->type == GM_ET_DYN && p.entry < p.bias))
			rc = gm_fail(err, EINVAL,
				     "the entry point 0x%llx is outside the "
				     "address space",
				     (unsigned long long)e->entry);
	}
	if (rc == 0)
		rc = plan_check_free(g, &p, err);
	if (rc == 0) {
		p.phdr = phdr_addr(e, p.bias);
		rc = plan_stack(g, e, path, opt, &p, err);
	}
	if (rc == 0)
		rc = apply_elf(g, e, path, &p, err);
	if (rc == 0)
		*entry = p.entry;
	free(p.stack_old);
	free(p.stack);
	free(p.v);
	return rc;
}

int gm_load_elf(struct gm_guest *g, const char *path,
		const struct gm_elf_load *opt, uint64_t *entry,
		struct gm_error *err)
{
	const uint8_t *bytes;
	struct gm_elf e;
	size_t len;
	int rc = gm_elf_map_file(path, &bytes, &len, err);

	if (rc < 0)
		return rc;
	rc = gm_elf_parse(bytes, len, &e, err);
	if (rc == 0) {
		rc = load_elf_bytes(g, &e, path, opt, entry, err);
		gm_elf_free(&e);
	}
	gm_elf_unmap_file(bytes, len);
	return with_path(err, path, rc);
}

int gm_load_core(struct gm_guest *g, const char *path, struct gm_error *err)
{
	const struct gm_arch *a = g->arch;
	uint64_t *regs = calloc(a->nregs, sizeof(*regs));
	struct gm_snapshot *s = NULL;
	const uint8_t *bytes;
	size_t len;
	int rc;

	if (!regs)
		return gm_fail(err, ENOMEM, "out of memory");
	rc = gm_elf_map_file(path, &bytes, &len, err);
	if (rc < 0) {
		free(regs);
		return rc;
	}
	for (size_t i = 0; i < a->nregs && rc == 0; i++)
		rc = gm_reg_read(g, &a->regs[i], &regs[i], err);
	if (rc == 0)
		rc = gm_core_read(bytes, len, a, g->page_size, regs, &s, err);
	gm_elf_unmap_file(bytes, len);
	if (rc == 0)
		rc = gm_snap_restore_from(g, s, err);
	gm_snapshot_free(s);
	free(regs);
	return with_path(err, path, rc);
}
