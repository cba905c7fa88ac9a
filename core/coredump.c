/*
 * ELF core dumps: reading Linux's and gdb's into a snapshot, and laying
 * out a snapshot as a core whose page runs point into the snapshot's
 * memory. The register layouts are the kernel's elf_gregset_t per arch.
 */
#include "coredump.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "elf.h"
#include "regions.h"

#define EHDR32	   52
#define EHDR64	   64
#define PHDR32	   32
#define PHDR64	   56
#define DATA_ALIGN 4096 /* where the segments' bytes start in the file */
#define ARM_CPSR_T 0x20 /* Thumb state */

/*
 * elf_gregset_t slot by slot, as the names of our registers (NULL: a slot
 * we have no register for, written 0). Checked against the kernel's uapi
 * headers and glibc's sys/user.h and sys/procfs.h for each target:
 * x86_64 and i386 struct user_regs_struct; arm pt_regs uregs[18] (r0-r15,
 * cpsr, orig_r0); arm64 user_pt_regs (x0-x30, sp, pc, pstate); mips
 * asm/reg.h EF_R0 = 6 .. EF_CP0_CAUSE = 43 of ELF_NGREG 45; riscv
 * user_regs_struct (pc, then x1-x31).
 */
static const char *const gregs_x86_64[] = {
    "r15", "r14",     "r13",	 "r12",
    "rbp", "rbx",     "r11",	 "r10",
    "r9",  "r8",      "rax",	 "rcx",
    "rdx", "rsi",     "rdi",	 NULL /* orig_rax */,
    "rip", "cs",      "eflags",	 "rsp",
    "ss",  "fs_base", "gs_base", "ds",
    "es",  "fs",      "gs",
};

static const char *const gregs_x86[] = {
    "ebx",
    "ecx",
    "edx",
    "esi",
    "edi",
    "ebp",
    "eax",
    "ds",
    "es",
    "fs",
    "gs",
    NULL /* orig_eax */,
    "eip",
    "cs",
    "eflags",
    "esp",
    NULL /* ss: not among our registers (arch.c) */,
};

static const char *const gregs_arm[] = {
    "r0", "r1",	 "r2",	"r3",  "r4", "r5", "r6", "r7",	 "r8",
    "r9", "r10", "r11", "r12", "sp", "lr", "pc", "cpsr", NULL /* orig_r0 */,
};

static const char *const gregs_arm64[] = {
    "x0",  "x1",
    "x2",  "x3",
    "x4",  "x5",
    "x6",  "x7",
    "x8",  "x9",
    "x10", "x11",
    "x12", "x13",
    "x14", "x15",
    "x16", "x17",
    "x18", "x19",
    "x20", "x21",
    "x22", "x23",
    "x24", "x25",
    "x26", "x27",
    "x28", "fp",
    "lr",  "sp",
    "pc",  "nzcv" /* pstate */,
};

static const char *const gregs_mips[] = {
    NULL,
    NULL,
    NULL,
    NULL,
    NULL,
    NULL, /* padding before EF_R0 */
    "zero",
    "at",
    "v0",
    "v1",
    "a0",
    "a1",
    "a2",
    "a3",
    "t0",
    "t1",
    "t2",
    "t3",
    "t4",
    "t5",
    "t6",
    "t7",
    "s0",
    "s1",
    "s2",
    "s3",
    "s4",
    "s5",
    "s6",
    "s7",
    "t8",
    "t9",
    "k0",
    "k1",
    "gp",
    "sp",
    "fp",
    "ra",
    "lo",
    "hi",
    "pc" /* cp0_epc */,
    NULL /* badvaddr */,
    NULL /* status */,
    NULL /* cause */,
    NULL,
};

static const char *const gregs_riscv[] = {
    "pc", "ra", "sp", "gp", "tp",  "t0",  "t1", "t2", "s0", "s1", "a0",
    "a1", "a2", "a3", "a4", "a5",  "a6",  "a7", "s2", "s3", "s4", "s5",
    "s6", "s7", "s8", "s9", "s10", "s11", "t3", "t4", "t5", "t6",
};

#define NELEMS(t) (sizeof(t) / sizeof((t)[0]))

struct gregset {
	const char *const *slots;
	size_t n;
};

static struct gregset gregset_of(const struct gm_arch *a)
{
	switch (gm_elf_machine(a)) {
	case GM_EM_X86_64:
		return (struct gregset){gregs_x86_64, NELEMS(gregs_x86_64)};
	case GM_EM_386:
		return (struct gregset){gregs_x86, NELEMS(gregs_x86)};
	case GM_EM_ARM:
		return (struct gregset){gregs_arm, NELEMS(gregs_arm)};
	case GM_EM_AARCH64:
		return (struct gregset){gregs_arm64, NELEMS(gregs_arm64)};
	case GM_EM_MIPS:
		return (struct gregset){gregs_mips, NELEMS(gregs_mips)};
	default:
		return (struct gregset){gregs_riscv, NELEMS(gregs_riscv)};
	}
}

/* struct elf_prstatus: pr_reg follows the signal info, pids and four
 * struct timevals (longs); pr_fpvalid (an int, padded to a long) ends it. */
static size_t prstatus_reg_off(unsigned w)
{
	return w == 8 ? 112 : 72;
}

static size_t prstatus_size(const struct gm_arch *a)
{
	unsigned w = a->pointer_size;

	return prstatus_reg_off(w) + gregset_of(a).n * w + (w == 8 ? 8 : 4);
}

/* Whether slot NAME of the dump is loaded: x86's selectors cannot be (the
 * engine has no descriptor table for a dump's 0x23 or 0x2b). */
static bool slot_loads(const struct gm_arch *a, const char *name)
{
	static const char *const sel[] = {"cs", "ds", "es", "fs", "gs", "ss"};

	if (gm_elf_machine(a) != GM_EM_386)
		return true;
	for (size_t i = 0; i < NELEMS(sel); i++)
		if (strcmp(name, sel[i]) == 0)
			return false;
	return true;
}

static size_t reg_index(const struct gm_arch *a, const char *name)
{
	const struct gm_reg *r = gm_arch_reg(a, name);

	return r ? (size_t)(r - a->regs) : SIZE_MAX;
}

static uint64_t reg_mask(const struct gm_reg *r)
{
	return r->bits == 64 ? UINT64_MAX : (1ull << r->bits) - 1;
}

/* Reading */

static int read_prstatus(const struct gm_elf *e, const struct gm_arch *a,
			 const struct gm_elf_note *n, uint64_t *regs,
			 struct gm_error *err)
{
	struct gregset gs = gregset_of(a);
	unsigned w = a->pointer_size;
	size_t off = prstatus_reg_off(w);

	if (n->descsz < off + gs.n * w)
		return gm_fail(err, EINVAL,
			       "a damaged core dump: its NT_PRSTATUS note "
			       "holds %zu bytes, and %s's registers end at "
			       "byte %zu",
			       n->descsz, a->name, off + gs.n * w);
	for (size_t i = 0; i < gs.n; i++) {
		size_t k;

		if (!gs.slots[i] || !slot_loads(a, gs.slots[i]))
			continue;
		k = reg_index(a, gs.slots[i]);
		if (k == SIZE_MAX)
			continue;
		regs[k] = gm_elf_get(e, n->desc + off + i * w, w) &
			  reg_mask(&a->regs[k]);
	}
	/* A Thumb process: the engine takes the T bit from pc's bit 0 (it
	 * clears the one in cpsr when pc is written after it). */
	if (gm_elf_machine(a) == GM_EM_ARM &&
	    regs[reg_index(a, "cpsr")] & ARM_CPSR_T)
		regs[reg_index(a, "pc")] |= 1;
	return 0;
}

/* NT_FILE: count, page size, COUNT (start, end, file page) triples, then
 * COUNT NUL-terminated paths. */
struct file_note {
	uint64_t count;
	const uint8_t *triples;
	const char **paths;
	unsigned w;
};

static int read_nt_file(const struct gm_elf *e, const struct gm_elf_note *n,
			struct file_note *f, struct gm_error *err)
{
	unsigned w = e->is64 ? 8 : 4;
	const char *p, *end = (const char *)n->desc + n->descsz;

	f->w = w;
	if (n->descsz < 2 * w)
		goto lies;
	f->count = gm_elf_get(e, n->desc, w);
	if (f->count > (n->descsz - 2 * w) / (3 * w))
		goto lies;
	f->triples = n->desc + 2 * w;
	f->paths = calloc(f->count + 1, sizeof(*f->paths));
	if (!f->paths)
		return gm_fail(err, ENOMEM, "out of memory");
	p = (const char *)f->triples + f->count * 3 * w;
	for (uint64_t i = 0; i < f->count; i++) {
		const char *nul = memchr(p, '\0', (size_t)(end - p));

		if (!nul)
			goto lies;
		f->paths[i] = p;
		p = nul + 1;
	}
	return 0;
lies:
	return gm_fail(err, EINVAL,
		       "a damaged core dump: its NT_FILE note (%zu bytes) is "
		       "shorter than the files it lists",
		       n->descsz);
}

/* The path of the entry of F that covers ADDR, or NULL. */
static const char *file_at(const struct gm_elf *e, const struct file_note *f,
			   uint64_t addr)
{
	for (uint64_t i = 0; f->paths && i < f->count; i++) {
		const uint8_t *t = f->triples + i * 3 * f->w;
		uint64_t start = gm_elf_get(e, t, f->w);
		uint64_t end = gm_elf_get(e, t + f->w, f->w);

		if (start <= addr && addr < end)
			return f->paths[i];
	}
	return NULL;
}

/* The first NT_PRSTATUS and NT_FILE, and arm64's NT_ARM_TLS. */
static int read_notes(const struct gm_elf *e, const struct gm_arch *a,
		      uint64_t *regs, struct file_note *f, struct gm_error *err)
{
	bool prstatus = false, file = false;
	struct gm_elf_note n;
	uint64_t pos = 0;
	size_t seg = 0;
	int rc = 0;

	while (rc == 0 && gm_elf_next_note(e, &seg, &pos, &n)) {
		if (!prstatus && n.type == GM_NT_PRSTATUS &&
		    gm_elf_note_is(&n, "CORE")) {
			prstatus = true;
			rc = read_prstatus(e, a, &n, regs, err);
		} else if (!file && n.type == GM_NT_FILE &&
			   gm_elf_note_is(&n, "CORE")) {
			file = true;
			rc = read_nt_file(e, &n, f, err);
		} else if (n.type == GM_NT_ARM_TLS &&
			   gm_elf_note_is(&n, "LINUX") && n.descsz >= 8 &&
			   reg_index(a, "tpidr_el0") != SIZE_MAX) {
			regs[reg_index(a, "tpidr_el0")] =
			    gm_elf_get(e, n.desc, 8);
		}
	}
	return rc;
}

/* Region R from segment S: its label, and the file's non-zero pages
 * copied (zero pages stay unwritten and unmarked, costing nothing). */
static int read_region(const struct gm_elf *e, const struct gm_elf_seg *s,
		       const struct file_note *f, uint64_t page_size,
		       struct gm_snapshot *snap, struct gm_snap_region *r,
		       struct gm_error *err)
{
	const char *label = file_at(e, f, s->vaddr);
	size_t len;

	if (!label)
		label = GM_CORE_LABEL;
	len = strlen(label);
	if (len > GM_LABEL_MAX)
		return gm_fail(err, EINVAL,
			       "a core dump naming a file of more than %d "
			       "bytes",
			       GM_LABEL_MAX);
	r->start = s->vaddr;
	r->size = (s->memsz + page_size - 1) & ~(page_size - 1);
	r->perms = (s->flags & GM_PF_R ? GM_PERM_R : 0) |
		   (s->flags & GM_PF_W ? GM_PERM_W : 0) |
		   (s->flags & GM_PF_X ? GM_PERM_X : 0);
	r->label = strdup(label);
	r->label_len = len;
	r->present = calloc((r->size / page_size + 7) / 8, 1);
	r->bytes = mmap(NULL, r->size, PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (r->bytes == MAP_FAILED)
		r->bytes = NULL;
	if (!r->label || !r->present || !r->bytes)
		return gm_fail(err, ENOMEM,
			       "no host memory for a region of 0x%llx bytes",
			       (unsigned long long)r->size);
	for (uint64_t off = 0; off < s->filesz; off += page_size) {
		uint64_t n =
		    s->filesz - off < page_size ? s->filesz - off : page_size;
		const uint8_t *src = e->bytes + s->offset + off;
		uint64_t p = off / page_size;

		if (gm_page_is_zero(src, n))
			continue;
		memcpy(r->bytes + off, src, n);
		r->present[p / 8] |= (uint8_t)(1u << (p % 8));
		snap->stored_bytes += page_size;
	}
	return 0;
}

/* Each PT_LOAD on a page boundary, its end rounded up inside the space. */
static int check_segments(const struct gm_elf *e, const struct gm_arch *a,
			  uint64_t page_size, size_t *nloads,
			  struct gm_error *err)
{
	uint64_t last = a->address_bits == 64 ? UINT64_MAX : 0xffffffffull;

	*nloads = 0;
	for (size_t i = 0; i < e->nsegs; i++) {
		const struct gm_elf_seg *s = &e->segs[i];
		uint64_t end_page;

		if (s->type != GM_PT_LOAD || s->memsz == 0)
			continue;
		end_page = (s->vaddr + s->memsz - 1) | (page_size - 1);
		if (s->vaddr % page_size || end_page > last)
			return gm_fail(err, EINVAL,
				       "a core dump whose segment %zu "
				       "(0x%llx) is not on a 0x%llx-byte page "
				       "boundary",
				       i, (unsigned long long)s->vaddr,
				       (unsigned long long)page_size);
		++*nloads;
	}
	return 0;
}

static int read_core(const struct gm_elf *e, const struct gm_arch *a,
		     uint64_t page_size, struct gm_snapshot *s,
		     struct gm_error *err)
{
	struct file_note f = {0};
	size_t nloads, k = 0;
	int rc;

	if (e->type != GM_ET_CORE)
		return gm_fail(err, ENOEXEC,
			       "an ELF %s, not a core dump (load_elf loads "
			       "executables)",
			       e->type == GM_ET_DYN ? "shared object"
						    : "executable");
	rc = gm_elf_check_arch(e, a, err);
	if (rc == 0)
		rc = check_segments(e, a, page_size, &nloads, err);
	if (rc == 0)
		rc = read_notes(e, a, s->regs, &f, err);
	if (rc == 0 && !(s->regions = calloc(nloads + 1, sizeof(*s->regions))))
		rc = gm_fail(err, ENOMEM, "out of memory");
	for (size_t i = 0; i < e->nsegs && rc == 0; i++) {
		const struct gm_elf_seg *seg = &e->segs[i];

		if (seg->type != GM_PT_LOAD || seg->memsz == 0)
			continue;
		s->nregions++;
		rc = read_region(e, seg, &f, page_size, s, &s->regions[k++],
				 err);
	}
	free(f.paths);
	return rc;
}

int gm_core_read(const void *bytes, size_t len, const struct gm_arch *arch,
		 uint64_t page_size, const uint64_t *base_regs,
		 struct gm_snapshot **out, struct gm_error *err)
{
	struct gm_snapshot *s = calloc(1, sizeof(*s));
	struct gm_elf e;
	int rc;

	*out = NULL;
	if (!s || !(s->regs = calloc(arch->nregs, sizeof(*s->regs)))) {
		free(s);
		return gm_fail(err, ENOMEM, "out of memory");
	}
	s->arch = arch;
	s->page_size = page_size;
	if (base_regs)
		memcpy(s->regs, base_regs, arch->nregs * sizeof(*s->regs));
	rc = gm_elf_parse(bytes, len, &e, err);
	if (rc < 0) {
		gm_snapshot_free(s);
		return rc;
	}
	rc = read_core(&e, arch, page_size, s, err);
	gm_elf_free(&e);
	if (rc < 0) {
		gm_snapshot_free(s);
		return rc;
	}
	*out = s;
	return 0;
}

/* Writing */

static size_t note_size(size_t namesz, size_t descsz)
{
	return 12 + ((namesz + 3) & ~(size_t)3) + ((descsz + 3) & ~(size_t)3);
}

/* A label as an NT_FILE path: its bytes up to the first NUL. */
static size_t path_len(const struct gm_snap_region *r)
{
	return strnlen(r->label, r->label_len);
}

static size_t nt_file_size(const struct gm_snapshot *s)
{
	unsigned w = s->arch->pointer_size;
	size_t size = 2 * w + s->nregions * 3 * w;

	for (size_t i = 0; i < s->nregions; i++)
		size += path_len(&s->regions[i]) + 1;
	return size;
}

static bool has_tls(const struct gm_arch *a)
{
	return reg_index(a, "tpidr_el0") != SIZE_MAX;
}

static size_t notes_size(const struct gm_snapshot *s)
{
	size_t size = note_size(5, prstatus_size(s->arch)) +
		      note_size(5, nt_file_size(s));

	if (has_tls(s->arch))
		size += note_size(6, 8);
	return size;
}

/* Append a note at *P: its header and name, its DESCSZ bytes to be
 * filled by the caller at the returned pointer. */
static uint8_t *put_note(bool be, uint8_t **p, const char *name, uint32_t type,
			 size_t descsz)
{
	size_t namesz = strlen(name) + 1;
	uint8_t *desc;

	gm_elf_put(be, *p, namesz, 4);
	gm_elf_put(be, *p + 4, descsz, 4);
	gm_elf_put(be, *p + 8, type, 4);
	memcpy(*p + 12, name, namesz);
	desc = *p + 12 + ((namesz + 3) & ~(size_t)3);
	*p += note_size(namesz, descsz);
	return desc;
}

static void put_prstatus(const struct gm_snapshot *s, uint8_t *desc)
{
	const struct gm_arch *a = s->arch;
	struct gregset gs = gregset_of(a);
	unsigned w = a->pointer_size;
	size_t off = prstatus_reg_off(w);

	/* pr_pid: gdb names the thread after it */
	gm_elf_put(a->big_endian, desc + (w == 8 ? 32 : 24), 1, 4);
	for (size_t i = 0; i < gs.n; i++) {
		size_t k = gs.slots[i] ? reg_index(a, gs.slots[i]) : SIZE_MAX;

		if (k != SIZE_MAX)
			gm_elf_put(a->big_endian, desc + off + i * w,
				   s->regs[k], w);
	}
}

static void put_nt_file(const struct gm_snapshot *s, uint8_t *desc)
{
	bool be = s->arch->big_endian;
	unsigned w = s->arch->pointer_size;
	uint8_t *t = desc + 2 * w;
	char *path = (char *)t + s->nregions * 3 * w;

	gm_elf_put(be, desc, s->nregions, w);
	gm_elf_put(be, desc + w, s->page_size, w);
	for (size_t i = 0; i < s->nregions; i++) {
		const struct gm_snap_region *r = &s->regions[i];
		size_t len = path_len(r);

		gm_elf_put(be, t + i * 3 * w, r->start, w);
		gm_elf_put(be, t + i * 3 * w + w, r->start + r->size, w);
		gm_elf_put(be, t + i * 3 * w + 2 * w, 0, w);
		memcpy(path, r->label, len);
		path[len] = '\0';
		path += len + 1;
	}
}

static void put_ehdr(const struct gm_snapshot *s, uint8_t *h, size_t phnum)
{
	const struct gm_arch *a = s->arch;
	bool be = a->big_endian, is64 = a->pointer_size == 8;
	unsigned w = a->pointer_size;

	memcpy(h, "\177ELF", 4);
	h[4] = is64 ? 2 : 1;
	h[5] = be ? 2 : 1;
	h[6] = 1;
	gm_elf_put(be, h + 16, GM_ET_CORE, 2);
	gm_elf_put(be, h + 18, gm_elf_machine(a), 2);
	gm_elf_put(be, h + 20, 1, 4);
	gm_elf_put(be, h + 24 + w, is64 ? EHDR64 : EHDR32, w); /* e_phoff */
	/* e_flags: arm's EABI version 5, what the kernel's dumps carry */
	gm_elf_put(be, h + 24 + 3 * w,
		   gm_elf_machine(a) == GM_EM_ARM ? 0x05000000 : 0, 4);
	gm_elf_put(be, h + 24 + 3 * w + 4, is64 ? EHDR64 : EHDR32, 2);
	gm_elf_put(be, h + 24 + 3 * w + 6, is64 ? PHDR64 : PHDR32, 2);
	gm_elf_put(be, h + 24 + 3 * w + 8, phnum, 2);
	gm_elf_put(be, h + 24 + 3 * w + 10, is64 ? 64 : 40, 2); /* shentsize */
}

static void put_phdr(const struct gm_arch *a, uint8_t *p, uint32_t type,
		     uint32_t flags, uint64_t off, uint64_t vaddr,
		     uint64_t filesz, uint64_t size, uint64_t align)
{
	bool be = a->big_endian;

	gm_elf_put(be, p, type, 4);
	if (a->pointer_size == 8) {
		gm_elf_put(be, p + 4, flags, 4);
		gm_elf_put(be, p + 8, off, 8);
		gm_elf_put(be, p + 16, vaddr, 8);
		gm_elf_put(be, p + 32, filesz, 8);
		gm_elf_put(be, p + 40, size, 8);
		gm_elf_put(be, p + 48, align, 8);
	} else {
		gm_elf_put(be, p + 4, off, 4);
		gm_elf_put(be, p + 8, vaddr, 4);
		gm_elf_put(be, p + 16, filesz, 4);
		gm_elf_put(be, p + 20, size, 4);
		gm_elf_put(be, p + 24, flags, 4);
		gm_elf_put(be, p + 28, align, 4);
	}
}

static uint32_t pflags(unsigned perms)
{
	return (perms & GM_PERM_R ? GM_PF_R : 0) |
	       (perms & GM_PERM_W ? GM_PF_W : 0) |
	       (perms & GM_PERM_X ? GM_PF_X : 0);
}

/* The headers and notes, padded to DATA_ALIGN, into P->fields; region I
 * has FILESZ[I] bytes in the file. */
static int make_fields(const struct gm_snapshot *s, const uint64_t *filesz,
		       struct gm_core_pieces *p, struct gm_error *err)
{
	const struct gm_arch *a = s->arch;
	size_t ehdr = a->pointer_size == 8 ? EHDR64 : EHDR32;
	size_t phdr = a->pointer_size == 8 ? PHDR64 : PHDR32;
	size_t phnum = s->nregions + 1, notes = notes_size(s);
	size_t notes_off = ehdr + phnum * phdr;
	size_t len =
	    (notes_off + notes + DATA_ALIGN - 1) & ~(size_t)(DATA_ALIGN - 1);
	uint64_t off = len;
	uint8_t *q;

	if (phnum >= 0xffff)
		return gm_fail(err, EINVAL,
			       "%zu regions: an ELF core lists at most 65534",
			       s->nregions);
	p->fields = calloc(1, len);
	if (!p->fields)
		return gm_fail(err, ENOMEM, "out of memory");
	p->fields_len = len;
	put_ehdr(s, p->fields, phnum);
	put_phdr(a, p->fields + ehdr, GM_PT_NOTE, 0, notes_off, 0, notes, notes,
		 4);
	for (size_t i = 0; i < s->nregions; i++) {
		const struct gm_snap_region *r = &s->regions[i];

		put_phdr(a, p->fields + ehdr + (i + 1) * phdr, GM_PT_LOAD,
			 pflags(r->perms), off, r->start, filesz[i], r->size,
			 s->page_size);
		off += filesz[i];
	}
	/* a 32-bit PT_NOTE's p_filesz sits at +16 like p_memsz's at +20 */
	q = p->fields + notes_off;
	put_prstatus(s, put_note(a->big_endian, &q, "CORE", GM_NT_PRSTATUS,
				 prstatus_size(a)));
	put_nt_file(s, put_note(a->big_endian, &q, "CORE", GM_NT_FILE,
				nt_file_size(s)));
	if (has_tls(a))
		gm_elf_put(
		    a->big_endian,
		    put_note(a->big_endian, &q, "LINUX", GM_NT_ARM_TLS, 8),
		    s->regs[reg_index(a, "tpidr_el0")], 8);
	return 0;
}

/* Append LEN bytes at BYTES (NULL: zeros), joining a run of zeros to the
 * zeros before it. */
static int add_piece(struct gm_core_pieces *p, const uint8_t *bytes,
		     uint64_t len)
{
	if (len == 0)
		return 0;
	if (!bytes && p->n && !p->v[p->n - 1].bytes) {
		p->v[p->n - 1].len += len;
		p->size += len;
		return 0;
	}
	if (p->n == p->cap) {
		size_t cap = p->cap ? 2 * p->cap : 64;
		struct gm_core_piece *v = realloc(p->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		p->v = v;
		p->cap = cap;
	}
	p->v[p->n++] = (struct gm_core_piece){p->size, bytes, len};
	p->size += len;
	return 0;
}

/* Whether the 64 bits of BITS from bit P (a multiple of 64) are clear: a
 * TiB of zero pages passes 64 at a time. */
static bool bits64_clear(const uint8_t *bits, uint64_t p)
{
	uint64_t word;

	memcpy(&word, bits + p / 8, sizeof(word));
	return word == 0;
}

/* The bytes of R up to its last stored page: the zero pages after it
 * are left out of the file (p_filesz < p_memsz), where readers make them
 * zeros. One scan from the end (64 pages a bitmap word when it is clear). */
static uint64_t stored_len(const struct gm_snapshot *s,
			   const struct gm_snap_region *r)
{
	uint64_t p = r->size / s->page_size;

	while (p > 0) {
		if (!s->borrowed && p % 64 == 0 && p >= 64 &&
		    bits64_clear(r->present, p - 64)) {
			p -= 64;
			continue;
		}
		if (gm_snap_page_stored(s, r, p - 1))
			break;
		p--;
	}
	return p * s->page_size;
}

/* Region R's FILESZ bytes: pages of S's memory, and NULL pieces for the
 * runs of zero pages among them. */
static int add_region(struct gm_core_pieces *p, const struct gm_snapshot *s,
		      const struct gm_snap_region *r, uint64_t filesz)
{
	uint64_t pages = filesz / s->page_size, ps = s->page_size;
	int rc = 0;

	for (uint64_t q = 0, e; q < pages && rc == 0; q = e) {
		bool stored = gm_snap_page_stored(s, r, q);

		for (e = q + 1;
		     e < pages && gm_snap_page_stored(s, r, e) == stored;)
			e += !stored && !s->borrowed && e % 64 == 0 &&
				     pages - e >= 64 &&
				     bits64_clear(r->present, e)
				 ? 64
				 : 1;
		rc = add_piece(p, stored ? r->bytes + q * ps : NULL,
			       (e - q) * ps);
	}
	return rc;
}

int gm_core_pieces(const struct gm_snapshot *s, struct gm_core_pieces *p,
		   struct gm_error *err)
{
	uint64_t *filesz = calloc(s->nregions + 1, sizeof(*filesz));
	int rc;

	memset(p, 0, sizeof(*p));
	if (!filesz)
		return gm_fail(err, ENOMEM, "out of memory");
	for (size_t i = 0; i < s->nregions; i++)
		filesz[i] = stored_len(s, &s->regions[i]);
	rc = make_fields(s, filesz, p, err);
	if (rc == 0 && add_piece(p, p->fields, p->fields_len) < 0)
		rc = -ENOMEM;
	for (size_t i = 0; i < s->nregions && rc == 0; i++)
		rc = add_region(p, s, &s->regions[i], filesz[i]);
	free(filesz);
	if (rc == -ENOMEM)
		gm_fail(err, ENOMEM, "out of memory");
	if (rc < 0)
		gm_core_pieces_free(p);
	return rc;
}

void gm_core_pieces_free(struct gm_core_pieces *p)
{
	free(p->v);
	free(p->fields);
	memset(p, 0, sizeof(*p));
}

size_t gm_core_piece_at(const struct gm_core_pieces *p, uint64_t off)
{
	size_t lo = 0, hi = p->n;

	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;

		if (p->v[mid].off <= off)
			lo = mid;
		else
			hi = mid;
	}
	return lo;
}

size_t gm_core_pieces_read(const struct gm_core_pieces *p, uint64_t off,
			   void *buf, size_t len)
{
	uint8_t *dst = buf;
	size_t done = 0;

	if (off >= p->size)
		return 0;
	if (len > p->size - off)
		len = (size_t)(p->size - off);
	for (size_t i = gm_core_piece_at(p, off); done < len; i++) {
		const struct gm_core_piece *v = &p->v[i];
		uint64_t in = off + done - v->off;
		size_t n = v->len - in < len - done ? (size_t)(v->len - in)
						    : len - done;

		if (v->bytes)
			memcpy(dst + done, v->bytes + in, n);
		else
			memset(dst + done, 0, n);
		done += n;
	}
	return done;
}

int gm_core_write(const struct gm_snapshot *s, gm_snapfile_sink sink, void *ctx,
		  struct gm_error *err)
{
	static const uint8_t zeros[65536];
	struct gm_core_pieces p;
	int rc = gm_core_pieces(s, &p, err);

	for (size_t i = 0; i < p.n && rc == 0; i++) {
		const struct gm_core_piece *v = &p.v[i];

		for (uint64_t done = 0; done < v->len && rc == 0;) {
			uint64_t n = v->len - done;

			if (!v->bytes && n > sizeof(zeros))
				n = sizeof(zeros);
			rc = sink(ctx, v->bytes ? v->bytes + done : zeros,
				  (size_t)n);
			done += n;
		}
		if (rc < 0)
			gm_fail(err, -rc, "cannot write the core: %s",
				strerror(-rc));
	}
	gm_core_pieces_free(&p);
	return rc;
}
