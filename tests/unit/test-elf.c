/*
 * Unit tests of core/elf.h, core/load.h and core/coredump.h with files no
 * one here wrote: busybox-static and cross-compiled programs are loaded and
 * compared with what `readelf -lW` says of them, damaged copies are refused
 * with the guest unchanged, cores round-trip on every arch, gcore's load.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "arch.h"
#include "coredump.h"
#include "elf.h"
#include "guest.h"
#include "load.h"
#include "memory.h"
#include "regions.h"
#include "regs.h"
#include "snapcmp.h"
#include "snapfile.h"
#include "snapshot.h"
#include "test.h"

/* A guest of NAME with its default stack, SP at the top, as gmemfs
 * starts. */
static struct gm_guest *guest_with_stack(const char *name)
{
	const struct gm_arch *a = gm_arch_find(name);
	struct gm_guest *g = NULL;

	ASSERT(a != NULL);
	OK(gm_guest_open(a, &g, ERR));
	OK(gm_map(g, a->stack_addr, a->stack_size, GM_PERM_R | GM_PERM_W,
		  "[stack]", 7, ERR));
	OK(gm_reg_set_sp(g, a->stack_addr + a->stack_size, ERR));
	return g;
}

/* The test program built for ARCH (tests/unit/meson.build), or NULL
 * when its compiler was not found. */
static const char *prog(const char *arch, char *buf, size_t n)
{
	snprintf(buf, n, "%s/prog-%s", GM_TEST_ELF_DIR, arch);
	if (access(buf, R_OK) != 0) {
		printf("# %s not built (no compiler): skipped\n", buf);
		return NULL;
	}
	return buf;
}

/* The oracle: PT_LOAD rows and the entry as readelf prints them. */
struct seg {
	uint64_t off, vaddr, filesz, memsz;
	unsigned perms;
};

static size_t readelf_loads(const char *path, struct seg *v, size_t max,
			    uint64_t *entry, bool *dyn)
{
	char cmd[512], line[512];
	size_t n = 0;
	FILE *f;

	snprintf(cmd, sizeof(cmd), "readelf -lW '%s'", path);
	f = popen(cmd, "r");
	ASSERT(f != NULL);
	while (fgets(line, sizeof(line), f)) {
		char *p = line;

		if (sscanf(line, "Entry point %" SCNx64, entry) == 1)
			continue;
		if (strstr(line, "Elf file type is DYN"))
			*dyn = true;
		while (*p == ' ')
			p++;
		if (strncmp(p, "LOAD ", 5) != 0 || n == max)
			continue;
		p += 5;
		v[n].off = strtoull(p, &p, 16);
		v[n].vaddr = strtoull(p, &p, 16);
		(void)strtoull(p, &p, 16); /* PhysAddr */
		v[n].filesz = strtoull(p, &p, 16);
		v[n].memsz = strtoull(p, &p, 16);
		ASSERT(p[0] == ' ');
		v[n].perms = (p[1] == 'R' ? GM_PERM_R : 0) |
			     (p[2] == 'W' ? GM_PERM_W : 0) |
			     (p[3] == 'E' ? GM_PERM_X : 0);
		n++;
	}
	ASSERT(pclose(f) == 0);
	ASSERT(n > 0);
	return n;
}

static uint8_t *file_bytes(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *b;
	long n;

	ASSERT(f != NULL);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	b = malloc((size_t)n + 1);
	ASSERT(b != NULL);
	ASSERT(fread(b, 1, (size_t)n, f) == (size_t)n);
	fclose(f);
	*len = (size_t)n;
	return b;
}

static void write_file(const char *path, const void *b, size_t len)
{
	FILE *f = fopen(path, "wb");

	ASSERT(f != NULL);
	ASSERT(fwrite(b, 1, len, f) == len);
	ASSERT(fclose(f) == 0);
}

/*
 * Load PATH into a fresh guest of ARCH and check it against readelf:
 * every region labelled NAME is the page-rounded union of the segments
 * in it with their permissions joined, each segment's file bytes are
 * there, zeros after p_filesz, pc is the entry.
 */
static void check_like_readelf(const char *arch, const char *path,
			       const char *name)
{
	struct gm_guest *g = guest_with_stack(arch);
	uint64_t ps = gm_guest_page_size(g), entry = 0, loaded, bias = 0;
	struct seg v[32];
	struct {
		uint64_t start, end;
		unsigned perms;
	} want[32];
	size_t n, nwant = 0, len, count, k = 0;
	bool dyn = false;
	uint8_t *file = file_bytes(path, &len);
	const struct gm_region *r;

	n = readelf_loads(path, v, 32, &entry, &dyn);
	OK(gm_load_elf(g, path, NULL, &loaded, ERR));
	if (dyn)
		bias = (gm_guest_arch(g)->pointer_size == 8 ? GM_ELF_BASE64
							    : GM_ELF_BASE32) -
		       (v[0].vaddr & ~(ps - 1));
	ASSERT_EQ(loaded, entry + bias);
	if (strcmp(arch, "arm") == 0 && entry & 1) {
		/* a Thumb entry: the engine keeps the bit as the T flag */
		uint64_t cpsr;

		OK(gm_reg_read(g, gm_arch_reg(gm_guest_arch(g), "cpsr"), &cpsr,
			       ERR));
		ASSERT(cpsr & 0x20);
		ASSERT_EQ(gm_reg_pc(g), entry + bias - 1);
	} else {
		ASSERT_EQ(gm_reg_pc(g), entry + bias);
	}
	for (size_t i = 0; i < n; i++) {
		uint64_t lo = (v[i].vaddr + bias) & ~(ps - 1);
		uint64_t hi =
		    (v[i].vaddr + bias + v[i].memsz + ps - 1) & ~(ps - 1);

		if (nwant && lo < want[nwant - 1].end) {
			want[nwant - 1].end = hi;
			want[nwant - 1].perms |= v[i].perms;
		} else {
			want[nwant].start = lo;
			want[nwant].end = hi;
			want[nwant++].perms = v[i].perms;
		}
	}
	r = gm_regions(g, &count);
	for (size_t i = 0; i < count; i++) {
		if (strcmp(r[i].label, name) != 0)
			continue;
		ASSERT(k < nwant);
		ASSERT_EQ(r[i].start, want[k].start);
		ASSERT_EQ(r[i].start + r[i].size, want[k].end);
		ASSERT_EQ(r[i].perms, want[k].perms);
		k++;
	}
	ASSERT_EQ(k, nwant);
	for (size_t i = 0; i < n; i++) {
		uint8_t *mem = malloc(v[i].memsz + 1);

		OK(gm_mem_read(g, v[i].vaddr + bias, mem, v[i].memsz, ERR));
		ASSERT_MEM(mem, file + v[i].off, v[i].filesz);
		for (uint64_t z = v[i].filesz; z < v[i].memsz; z++)
			if (mem[z] != 0)
				TEST_FAIL("segment %zu: byte 0x%" PRIx64
					  " past p_filesz is not zero",
					  i, z);
		free(mem);
	}
	free(file);
	gm_guest_close(g);
}

TEST(busybox_static_loads_as_readelf_says)
{
	if (access("/bin/busybox", R_OK) != 0)
		TEST_FAIL("/bin/busybox: install busybox-static (tools/deps)");
	check_like_readelf("x86_64", "/bin/busybox", "busybox");
}

TEST(cross_compiled_programs_load_as_readelf_says_on_every_arch)
{
	static const char *const arches[] = {
	    "x86",  "x86_64", "arm",	 "arm64",
	    "mips", "mipsel", "riscv32", "riscv64",
	};
	char buf[512], name[64];
	const char *path;

	for (size_t i = 0; i < sizeof(arches) / sizeof(arches[0]); i++) {
		if (!(path = prog(arches[i], buf, sizeof(buf))))
			continue;
		snprintf(name, sizeof(name), "prog-%s", arches[i]);
		check_like_readelf(arches[i], path, name);
	}
}

TEST(static_glibc_programs_load_as_readelf_says)
{
	static const char *const arches[] = {"arm", "arm64", "mips", "riscv64"};
	char buf[512], arch[64], name[80];
	const char *path;

	for (size_t i = 0; i < sizeof(arches) / sizeof(arches[0]); i++) {
		snprintf(arch, sizeof(arch), "%s-libc", arches[i]);
		if (!(path = prog(arch, buf, sizeof(buf))))
			continue;
		snprintf(name, sizeof(name), "prog-%s", arch);
		check_like_readelf(arches[i], path, name);
	}
}

TEST(static_pie_loads_at_the_default_base_and_at_base)
{
	char buf[512];
	const char *path = prog("x86_64-pie", buf, sizeof(buf));
	struct gm_elf_load opt = {.base_set = true, .base = 0x10000000};
	struct gm_guest *g;
	uint64_t entry;

	if (!path)
		return;
	check_like_readelf("x86_64", path, "prog-x86_64-pie");
	g = guest_with_stack("x86_64");
	OK(gm_load_elf(g, path, &opt, &entry, ERR));
	ASSERT(gm_region_find(g, 0x10000000) != NULL);
	ASSERT(entry > 0x10000000 && entry < 0x10100000);
	opt.base = 0x10000800; /* not a page */
	FAILS(EINVAL, gm_load_elf(g, path, &opt, &entry, ERR));
	gm_guest_close(g);
}

/* The word at ADDR in the guest's byte order. */
static uint64_t word(struct gm_guest *g, uint64_t addr)
{
	uint64_t v;

	OK(gm_mem_read_ptr(g, addr, 0, false, &v, ERR));
	return v;
}

static char *string_at(struct gm_guest *g, uint64_t addr)
{
	char *s;
	size_t len;

	OK(gm_mem_string_read(g, addr, &s, &len, ERR));
	return s;
}

/* argc, argv, envp and auxv read back from SP, on a 64-bit little and a
 * 32-bit big-endian guest. */
static void check_initial_stack(const char *arch)
{
	static const char *const args[] = {"-x", "hello world"};
	struct gm_elf_load opt = {.args = args, .nargs = 2};
	struct gm_guest *g = guest_with_stack(arch);
	const struct gm_arch *a = gm_guest_arch(g);
	uint64_t w = a->pointer_size, top = a->stack_addr + a->stack_size;
	uint64_t entry, sp, p, aux[32] = {0}, seen = 0;
	char buf[512];
	const char *path = prog(arch, buf, sizeof(buf));
	uint8_t rnd[16], zero[16] = {0};
	char *s;

	if (!path) {
		gm_guest_close(g);
		return;
	}
	OK(gm_load_elf(g, path, &opt, &entry, ERR));
	sp = gm_reg_sp(g);
	ASSERT_EQ(sp % 16, 0);
	ASSERT(sp < top && sp > top - 4096);
	ASSERT_EQ(word(g, sp), 3);
	ASSERT_STR(s = string_at(g, word(g, sp + w)), path);
	free(s);
	ASSERT_STR(s = string_at(g, word(g, sp + 2 * w)), "-x");
	free(s);
	ASSERT_STR(s = string_at(g, word(g, sp + 3 * w)), "hello world");
	free(s);
	ASSERT_EQ(word(g, sp + 4 * w), 0); /* argv's end */
	ASSERT_EQ(word(g, sp + 5 * w), 0); /* envp, empty */
	for (p = sp + 6 * w;; p += 2 * w) {
		uint64_t key = word(g, p);

		if (key == 0)
			break;
		ASSERT(key < 32);
		aux[key] = word(g, p + w);
		seen |= 1ull << key;
	}
	ASSERT_EQ(seen, (1ull << 3) | (1ull << 4) | (1ull << 5) | (1ull << 6) |
			    (1ull << 9) | (1ull << 25));
	ASSERT_EQ(aux[9], entry);
	ASSERT_EQ(aux[6], 4096);
	ASSERT_EQ(aux[4], w == 8 ? 56 : 32);
	/* AT_PHDR: the program headers as the file has them */
	{
		size_t len;
		uint8_t *file = file_bytes(path, &len), mem[56];
		struct gm_elf e;

		OK(gm_elf_parse(file, len, &e, ERR));
		ASSERT_EQ(aux[5], e.nsegs);
		OK(gm_mem_read(g, aux[3], mem, aux[4], ERR));
		ASSERT_MEM(mem, file + e.phoff, aux[4]);
		gm_elf_free(&e);
		free(file);
	}
	OK(gm_mem_read(g, aux[25], rnd, 16, ERR));
	ASSERT(memcmp(rnd, zero, 16) != 0);
	ASSERT(aux[25] > sp && aux[25] + 16 <= top);
	gm_guest_close(g);
}

TEST(initial_stack_is_argc_argv_envp_and_auxv)
{
	check_initial_stack("x86_64");
	check_initial_stack("mips");
	check_initial_stack("arm");
}

/* Save the guest as "before"; after a failure, the guest must be it. */
static void assert_same_as_saved(struct gm_guest *g)
{
	struct gm_snapshot *view;
	char why[256];

	OK(gm_snap_view(g, &view, ERR));
	if (gm_fuzz_snap_differs(gm_snap_find(g, "before"), view, why,
				 sizeof(why)))
		TEST_FAIL("the guest changed: %s", why);
	gm_snapshot_free(view);
}

/* PATH's bytes with CHANGE applied, loaded: refused with ERRNO. */
static void refused(struct gm_guest *g, const uint8_t *orig, size_t len,
		    void (*change)(uint8_t *b, size_t *len), int want,
		    const char *what)
{
	uint8_t *b = malloc(len + 1);
	char path[] = "/tmp/gm-test-elf-XXXXXX";
	int fd = mkstemp(path), rc;
	uint64_t entry;
	size_t n = len;

	ASSERT(fd >= 0 && b);
	close(fd);
	memcpy(b, orig, len);
	change(b, &n);
	write_file(path, b, n);
	memset(&test_err, 0, sizeof(test_err));
	rc = gm_load_elf(g, path, NULL, &entry, ERR);
	unlink(path);
	free(b);
	if (rc != -want)
		TEST_FAIL("%s: expected -%d, got %d (%s)", what, want, rc,
			  test_err.msg);
	printf("# %s: %s\n", what, test_err.msg);
	ASSERT(test_err.msg[0] != '\0');
	assert_same_as_saved(g);
}

/* Edits of a 64-bit little-endian executable (prog-x86_64). */
#define PH(i) (64 + 56 * (i))
static void put64(uint8_t *p, uint64_t v)
{
	gm_elf_put(false, p, v, 8);
}

static void cut_header(uint8_t *b, size_t *len)
{
	(void)b;
	*len = 40;
}

static void cut_ident(uint8_t *b, size_t *len)
{
	(void)b;
	*len = 10;
}

static void not_elf(uint8_t *b, size_t *len)
{
	(void)len;
	b[1] = 'X';
}

static void phdrs_past_end(uint8_t *b, size_t *len)
{
	put64(b + 32, *len - 8);
}

static void bad_phentsize(uint8_t *b, size_t *len)
{
	(void)len;
	gm_elf_put(false, b + 54, 40, 2);
}

/* The index of the first PT_LOAD with file bytes, and of the PT_NOTE. */
static size_t next_of(const uint8_t *b, uint32_t type, size_t from)
{
	size_t phnum = b[56] | (size_t)b[57] << 8;

	for (size_t i = from; i < phnum; i++)
		if (gm_elf_get(&(struct gm_elf){0}, b + PH(i), 4) == type)
			return i;
	TEST_FAIL("no segment of type %u", type);
}

static size_t first_of(const uint8_t *b, uint32_t type)
{
	return next_of(b, type, 0);
}

static void seg_past_end(uint8_t *b, size_t *len)
{
	size_t i = first_of(b, GM_PT_LOAD);

	put64(b + PH(i) + 8, *len - 16); /* p_offset */
	put64(b + PH(i) + 32, 64);	 /* p_filesz */
	put64(b + PH(i) + 40, 64);
}

static void offset_overflow(uint8_t *b, size_t *len)
{
	size_t i = first_of(b, GM_PT_LOAD);

	(void)len;
	put64(b + PH(i) + 8, UINT64_MAX - 8);
	put64(b + PH(i) + 32, 64);
	put64(b + PH(i) + 40, 64);
}

static void gigantic_memsz(uint8_t *b, size_t *len)
{
	size_t i = first_of(b, GM_PT_LOAD);

	(void)len;
	put64(b + PH(i) + 40, 1ull << 50);
}

static void filesz_over_memsz(uint8_t *b, size_t *len)
{
	size_t i = first_of(b, GM_PT_LOAD);

	(void)len;
	put64(b + PH(i) + 40, 1);
	put64(b + PH(i) + 32, 2);
}

static void overlapping(uint8_t *b, size_t *len)
{
	size_t i = first_of(b, GM_PT_LOAD);
	uint64_t vaddr = gm_elf_get(&(struct gm_elf){0}, b + PH(i) + 16, 8);

	(void)len;
	/* the next PT_LOAD starts inside this one */
	put64(b + PH(next_of(b, GM_PT_LOAD, i + 1)) + 16, vaddr + 8);
}

static void note_lies(uint8_t *b, size_t *len)
{
	size_t i = first_of(b, GM_PT_NOTE);
	uint64_t off = gm_elf_get(&(struct gm_elf){0}, b + PH(i) + 8, 8);

	(void)len;
	gm_elf_put(false, b + off + 4, 0x10000, 4); /* n_descsz */
}

static void wrong_machine(uint8_t *b, size_t *len)
{
	(void)len;
	gm_elf_put(false, b + 18, GM_EM_AARCH64, 2);
}

static void unknown_machine(uint8_t *b, size_t *len)
{
	(void)len;
	gm_elf_put(false, b + 18, 0x1234, 2);
}

static void big_endian(uint8_t *b, size_t *len)
{
	(void)len;
	b[5] = 2;
}

static void as_core(uint8_t *b, size_t *len)
{
	(void)len;
	gm_elf_put(false, b + 16, GM_ET_CORE, 2);
}

static void past_space(uint8_t *b, size_t *len)
{
	size_t i = first_of(b, GM_PT_LOAD);

	(void)len;
	put64(b + PH(i) + 16, UINT64_MAX - 16);
}

TEST(damaged_and_foreign_files_are_refused_and_the_guest_unchanged)
{
	char buf[512];
	const char *path = prog("x86_64", buf, sizeof(buf));
	struct gm_guest *g = guest_with_stack("x86_64");
	size_t len;
	uint8_t *file;
	uint64_t entry;

	if (!path)
		TEST_FAIL("prog-x86_64 must be built (gcc)");
	file = file_bytes(path, &len);
	OK(gm_map(g, 0x1000, 0x1000, GM_PERM_ALL, "other", 5, ERR));
	OK(gm_snap_save(g, "before", NULL, ERR));
	refused(g, file, len, cut_ident, EINVAL, "truncated identification");
	refused(g, file, len, cut_header, EINVAL, "truncated header");
	refused(g, file, len, not_elf, ENOEXEC, "not an ELF file");
	refused(g, file, len, phdrs_past_end, EINVAL, "phdrs past the end");
	refused(g, file, len, bad_phentsize, EINVAL, "bad e_phentsize");
	refused(g, file, len, seg_past_end, EINVAL, "a segment past EOF");
	refused(g, file, len, offset_overflow, EINVAL,
		"p_offset + p_filesz overflows");
	refused(g, file, len, gigantic_memsz, EINVAL, "gigantic p_memsz");
	refused(g, file, len, filesz_over_memsz, EINVAL, "filesz > memsz");
	refused(g, file, len, overlapping, EINVAL, "overlapping segments");
	{
		size_t bb_len;
		uint8_t *bb = file_bytes("/bin/busybox", &bb_len);

		refused(g, bb, bb_len, note_lies, EINVAL,
			"a note size that lies");
		free(bb);
	}
	refused(g, file, len, wrong_machine, ENOEXEC, "another arch");
	refused(g, file, len, unknown_machine, ENOEXEC, "unknown machine");
	refused(g, file, len, big_endian, ENOEXEC, "big-endian x86_64");
	refused(g, file, len, as_core, ENOEXEC, "a core for load_elf");
	refused(g, file, len, past_space, EINVAL, "past the address space");
	FAILS(ENOENT, gm_load_elf(g, "/nonexistent/x", NULL, &entry, ERR));
	FAILS(EINVAL, gm_load_elf(g, "/tmp", NULL, &entry, ERR));
	assert_same_as_saved(g);
	/* the right file still loads after all that */
	OK(gm_load_elf(g, path, NULL, &entry, ERR));
	free(file);
	gm_guest_close(g);
}

TEST(segment_onto_mapped_memory_is_eexist_and_no_stack_is_efault)
{
	char buf[512];
	const char *path = prog("x86_64", buf, sizeof(buf));
	struct gm_guest *g = guest_with_stack("x86_64");
	const struct gm_arch *a = gm_guest_arch(g);
	struct gm_elf e;
	uint8_t *file;
	size_t len;
	uint64_t entry, last_load = 0;

	if (!path)
		TEST_FAIL("prog-x86_64 must be built (gcc)");
	file = file_bytes(path, &len);
	OK(gm_elf_parse(file, len, &e, ERR));
	for (size_t i = 0; i < e.nsegs; i++)
		if (e.segs[i].type == GM_PT_LOAD)
			last_load = e.segs[i].vaddr & ~0xfffull;
	/* the last segment's page taken: nothing of the others is mapped */
	OK(gm_map(g, last_load, 0x1000, GM_PERM_R, "taken", 5, ERR));
	OK(gm_snap_save(g, "before", NULL, ERR));
	FAILS(EEXIST, gm_load_elf(g, path, NULL, &entry, ERR));
	assert_same_as_saved(g);
	OK(gm_unmap(g, last_load, 0x1000, ERR));
	OK(gm_unmap(g, a->stack_addr, a->stack_size, ERR));
	OK(gm_snap_save(g, "before", NULL, ERR));
	FAILS(EFAULT, gm_load_elf(g, path, NULL, &entry, ERR));
	assert_same_as_saved(g);
	gm_elf_free(&e);
	free(file);
	gm_guest_close(g);
}

TEST(arch_of_a_file_is_its_machine_class_and_byte_order)
{
	static const char *const arches[] = {
	    "x86",  "x86_64", "arm",	 "arm64",
	    "mips", "mipsel", "riscv32", "riscv64",
	};
	const struct gm_arch *a;
	char buf[512];
	const char *path;

	OK(gm_elf_arch_of_file("/bin/busybox", &a, ERR));
	ASSERT_STR(a->name, "x86_64");
	for (size_t i = 0; i < sizeof(arches) / sizeof(arches[0]); i++) {
		if (!(path = prog(arches[i], buf, sizeof(buf))))
			continue;
		OK(gm_elf_arch_of_file(path, &a, ERR));
		ASSERT_STR(a->name, arches[i]);
	}
	FAILS(ENOEXEC, gm_elf_arch_of_file(GM_TEST_ELF_DIR "/../../build.ninja",
					   &a, ERR));
}

/* A guest of ARCH with three regions (one mostly zero, one with a label
 * that is no path) and every register set to a pattern it keeps. */
static struct gm_guest *busy_guest(const char *arch)
{
	struct gm_guest *g = guest_with_stack(arch);
	const struct gm_arch *a = gm_guest_arch(g);
	uint64_t ps = gm_guest_page_size(g);

	OK(gm_map(g, 0x100000, 16 * ps, GM_PERM_R | GM_PERM_X, "/usr/bin/x", 10,
		  ERR));
	OK(gm_map(g, 0x200000, 64 * ps, GM_PERM_R | GM_PERM_W, "[heap]", 6,
		  ERR));
	OK(gm_map(g, 0x400000, ps, 0, "", 0, ERR));
	OK(gm_mem_write(g, 0x100000 + 3, "code", 4, ERR));
	OK(gm_mem_write(g, 0x200000 + 40 * ps, "heap", 4, ERR));
	OK(gm_mem_write(g, a->stack_addr + a->stack_size - 8, "stack", 5, ERR));
	for (size_t i = 0; i < a->nregs; i++) {
		const struct gm_reg *r = &a->regs[i];
		uint64_t v = 0x1000 + i * 0x11;

		/* flags and selectors keep what the engine holds */
		if (i == 0 || r->bits == 16 || strcmp(r->name, "zero") == 0)
			continue;
		OK(gm_reg_write(g, r, v, ERR));
	}
	return g;
}

/* S's core file, made by pieces, in a temporary file at PATH; also
 * checks that gm_core_write writes the same bytes. */
static int collect(void *ctx, const void *bytes, size_t len)
{
	FILE *f = ctx;

	return fwrite(bytes, 1, len, f) == len ? 0 : -EIO;
}

static void core_of(struct gm_guest *g, char *path)
{
	struct gm_snapshot *view;
	struct gm_core_pieces p;
	uint8_t *a, *b;
	size_t len;
	FILE *f;
	int fd = mkstemp(path);

	ASSERT(fd >= 0);
	close(fd);
	OK(gm_snap_view(g, &view, ERR));
	OK(gm_core_pieces(view, &p, ERR));
	a = malloc(p.size);
	ASSERT(a != NULL);
	ASSERT_EQ(gm_core_pieces_read(&p, 0, a, p.size), p.size);
	ASSERT_EQ(gm_core_pieces_read(&p, p.size, a, 1), 0);
	f = fopen(path, "wb");
	ASSERT(f != NULL);
	OK(gm_core_write(view, collect, f, ERR));
	ASSERT(fclose(f) == 0);
	b = file_bytes(path, &len);
	ASSERT_EQ(len, p.size);
	ASSERT_MEM(a, b, len);
	/* reads at odd offsets cross pieces */
	for (uint64_t off = 1; off < p.size; off += p.size / 7 + 1) {
		uint8_t chunk[9000];
		size_t n = gm_core_pieces_read(&p, off, chunk, sizeof(chunk));

		ASSERT_MEM(chunk, b + off, n);
	}
	free(a);
	free(b);
	gm_core_pieces_free(&p);
	gm_snapshot_free(view);
}

/* The value gdb shows for register REG of the core at CORE. */
static bool gdb_reg(const char *core, const char *reg, uint64_t *value)
{
	char cmd[512], line[512], name[64];
	bool found = false;
	FILE *f;

	snprintf(cmd, sizeof(cmd),
		 "gdb -nx -batch -c %s -ex 'info registers %s' 2>/dev/null",
		 core, reg);
	f = popen(cmd, "r");
	ASSERT(f != NULL);
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%63s %" SCNx64, name, value) == 2 &&
		    strcmp(name, reg) == 0)
			found = true;
	pclose(f);
	return found;
}

TEST(a_core_written_loads_back_the_same_guest_on_every_arch)
{
	for (size_t i = 0; gm_arch_at(i); i++) {
		const char *arch = gm_arch_at(i)->name;
		struct gm_guest *src = busy_guest(arch), *dst;
		struct gm_snapshot *a, *b;
		char path[] = "/tmp/gm-test-core-XXXXXX", why[256];

		core_of(src, path);
		dst = guest_with_stack(arch);
		OK(gm_map(dst, 0x900000, 0x1000, GM_PERM_ALL, "gone", 4, ERR));
		OK(gm_load_core(dst, path, ERR));
		OK(gm_snap_view(src, &a, ERR));
		OK(gm_snap_view(dst, &b, ERR));
		if (gm_fuzz_snap_differs(a, b, why, sizeof(why)))
			TEST_FAIL("%s: the loaded core differs: %s", arch, why);
		gm_snapshot_free(a);
		gm_snapshot_free(b);
		/* a core is not an executable, nor of another arch */
		{
			uint64_t entry;
			struct gm_guest *other = guest_with_stack(
			    strcmp(arch, "x86_64") ? "x86_64" : "arm64");

			FAILS(ENOEXEC,
			      gm_load_elf(dst, path, NULL, &entry, ERR));
			FAILS(ENOEXEC, gm_load_core(other, path, ERR));
			gm_guest_close(other);
		}
		unlink(path);
		gm_guest_close(src);
		gm_guest_close(dst);
	}
}

TEST(readelf_reads_the_core_written)
{
	struct gm_guest *g = busy_guest("mips");
	char path[] = "/tmp/gm-test-core-XXXXXX", cmd[256], line[512];
	size_t loads = 0;
	bool prstatus = false, file = false;
	FILE *f;

	core_of(g, path);
	snprintf(cmd, sizeof(cmd), "readelf -hlnW %s 2>&1", path);
	f = popen(cmd, "r");
	ASSERT(f != NULL);
	while (fgets(line, sizeof(line), f)) {
		ASSERT(strstr(line, "Warning") == NULL);
		ASSERT(strstr(line, "Error") == NULL);
		loads += strstr(line, "  LOAD ") != NULL;
		prstatus |= strstr(line, "NT_PRSTATUS") != NULL;
		file |= strstr(line, "NT_FILE") != NULL;
	}
	ASSERT(pclose(f) == 0);
	ASSERT_EQ(loads, 4);
	ASSERT(prstatus && file);
	unlink(path);
	gm_guest_close(g);
}

/* Edits of a core: a short NT_PRSTATUS, an NT_FILE that lies, a segment
 * off a page boundary; each refused, the guest unchanged. */
static void core_refused(struct gm_guest *g, const uint8_t *orig, size_t len,
			 size_t at, uint64_t value, unsigned n, int want,
			 const char *what)
{
	uint8_t *b = malloc(len);
	char path[] = "/tmp/gm-test-core-XXXXXX";
	int fd = mkstemp(path), rc;

	ASSERT(fd >= 0 && b);
	close(fd);
	memcpy(b, orig, len);
	gm_elf_put(false, b + at, value, n);
	write_file(path, b, len);
	memset(&test_err, 0, sizeof(test_err));
	rc = gm_load_core(g, path, ERR);
	unlink(path);
	free(b);
	if (rc != -want)
		TEST_FAIL("%s: expected -%d, got %d (%s)", what, want, rc,
			  test_err.msg);
	printf("# %s: %s\n", what, test_err.msg);
	assert_same_as_saved(g);
}

TEST(damaged_cores_are_refused_and_the_guest_unchanged)
{
	struct gm_guest *src = busy_guest("x86_64");
	struct gm_guest *g = guest_with_stack("x86_64");
	char path[] = "/tmp/gm-test-core-XXXXXX";
	size_t len, notes;
	uint8_t *core;

	core_of(src, path);
	core = file_bytes(path, &len);
	unlink(path);
	OK(gm_snap_save(g, "before", NULL, ERR));
	/* layout written: ehdr, PT_NOTE first, then the PT_LOADs */
	notes = gm_elf_get(&(struct gm_elf){0}, core + PH(0) + 8, 8);
	{
		/* NT_PRSTATUS cut to 100 bytes, a filler note after it keeps
		 * the notes in step: the registers are what is missing */
		uint8_t *cut = malloc(len);

		memcpy(cut, core, len);
		gm_elf_put(false, cut + notes + 4, 100, 4);
		gm_elf_put(false, cut + notes + 20 + 100, 0, 4);
		gm_elf_put(false, cut + notes + 20 + 100 + 4, 336 - 100 - 12,
			   4);
		gm_elf_put(false, cut + notes + 20 + 100 + 8, 0xdead, 4);
		core_refused(g, cut, len, 0, 0x7f, 1, EINVAL,
			     "a short NT_PRSTATUS");
		free(cut);
	}
	core_refused(g, core, len, notes + 4, 0x100000, 4, EINVAL,
		     "an NT_PRSTATUS longer than its segment");
	core_refused(g, core, len, PH(1) + 16, 0x100010, 8, EINVAL,
		     "a segment off a page boundary");
	core_refused(g, core, len, 16, GM_ET_EXEC, 2, ENOEXEC,
		     "an executable for load_core");
	core_refused(g, core, len, 18, GM_EM_386, 2, ENOEXEC,
		     "x86 machine in a 64-bit file");
	{
		/* NT_FILE's count says more files than it holds */
		size_t prs = notes + 12 + 8 + 336;

		ASSERT_EQ(gm_elf_get(&(struct gm_elf){0}, core + prs + 8, 4),
			  GM_NT_FILE);
		core_refused(g, core, len, prs + 20, 1000, 8, EINVAL,
			     "an NT_FILE that lies");
	}
	free(core);
	gm_guest_close(src);
	gm_guest_close(g);
}

TEST(a_gcore_dump_of_a_live_process_loads)
{
	char dir[] = "/tmp/gm-test-gcore-XXXXXX", cmd[512], core[600];
	struct gm_guest *g = guest_with_stack("x86_64");
	const struct gm_region *r;
	bool sleep_seen = false, libc_seen = false;
	uint64_t rip, rsp;
	size_t count;
	pid_t pid;
	int status;

	if (system("command -v gcore >/dev/null") != 0)
		TEST_FAIL("gcore: install gdb (tools/deps)");
	ASSERT(mkdtemp(dir) != NULL);
	pid = fork();
	ASSERT(pid >= 0);
	if (pid == 0) {
		execlp("sleep", "sleep", "60", (char *)NULL);
		_exit(127);
	}
	usleep(200000);
	snprintf(cmd, sizeof(cmd), "gcore -o %s/core %d >/dev/null 2>&1", dir,
		 (int)pid);
	status = system(cmd);
	snprintf(core, sizeof(core), "%s/core.%d", dir, (int)pid);
	if (status != 0 || access(core, R_OK) != 0) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		TEST_FAIL("gcore failed (ptrace not allowed here?)");
	}
	/* the bytes of the process, from /proc/PID/mem, while it lives */
	OK(gm_unmap(g, gm_guest_arch(g)->stack_addr,
		    gm_guest_arch(g)->stack_size, ERR));
	OK(gm_load_core(g, core, ERR));
	r = gm_regions(g, &count);
	{
		char mem[64];
		int fd;

		snprintf(mem, sizeof(mem), "/proc/%d/mem", (int)pid);
		fd = open(mem, O_RDONLY);
		ASSERT(fd >= 0);
		for (size_t i = 0; i < count; i++) {
			uint8_t want[64], seen[64];

			sleep_seen |= strstr(r[i].label, "sleep") != NULL;
			libc_seen |= strstr(r[i].label, "libc") != NULL;
			if (!(r[i].perms & GM_PERM_R) ||
			    strstr(r[i].label, "[vvar]") ||
			    pread(fd, want, 64, (off_t)r[i].start) != 64)
				continue;
			OK(gm_mem_read(g, r[i].start, seen, 64, ERR));
			if (memcmp(want, seen, 64) != 0 &&
			    !(r[i].perms & GM_PERM_W))
				TEST_FAIL("region %s at 0x%" PRIx64
					  " differs from /proc/PID/mem",
					  r[i].label, r[i].start);
		}
		close(fd);
	}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	ASSERT(sleep_seen && libc_seen);
	ASSERT(gdb_reg(core, "rip", &rip) && gdb_reg(core, "rsp", &rsp));
	ASSERT_EQ(gm_reg_pc(g), rip);
	ASSERT_EQ(gm_reg_sp(g), rsp);
	unlink(core);
	rmdir(dir);
	gm_guest_close(g);
}

TEST(gdb_reads_the_bytes_and_registers_of_the_core_written)
{
	struct gm_guest *g = busy_guest("x86_64");
	char path[] = "/tmp/gm-test-core-XXXXXX", cmd[512], line[512];
	uint64_t rip, r15;
	bool bytes = false;
	FILE *f;

	core_of(g, path);
	ASSERT(gdb_reg(path, "rip", &rip) && gdb_reg(path, "r15", &r15));
	ASSERT_EQ(rip, gm_reg_pc(g));
	ASSERT_EQ(r15, 0x1000 + 16 * 0x11);
	snprintf(cmd, sizeof(cmd),
		 "gdb -nx -batch -c %s -ex 'x/4xb 0x100003' 2>&1", path);
	f = popen(cmd, "r");
	ASSERT(f != NULL);
	while (fgets(line, sizeof(line), f)) {
		printf("# gdb: %s", line);
		bytes |= strstr(line, "0x63\t0x6f\t0x64\t0x65") != NULL;
	}
	pclose(f);
	ASSERT(bytes);
	unlink(path);
	gm_guest_close(g);
}

TEST(gmem_snapshot_core_writes_the_core_of_a_snapshot_file)
{
	struct gm_guest *g = busy_guest("arm");
	char snap[] = "/tmp/gm-test-snap-XXXXXX",
	     core[] = "/tmp/gm-test-core-XXXXXX", cmd[1024];
	uint8_t *a, *b;
	size_t alen, blen;
	int fd = mkstemp(snap);

	ASSERT(fd >= 0);
	close(fd);
	OK(gm_snap_store(g, snap, ERR));
	core_of(g, core);
	snprintf(cmd, sizeof(cmd),
		 "%s/../../tools/gmem snapshot core %s > %s.out",
		 GM_TEST_ELF_DIR, snap, core);
	ASSERT(system(cmd) == 0);
	a = file_bytes(core, &alen);
	snprintf(cmd, sizeof(cmd), "%s.out", core);
	b = file_bytes(cmd, &blen);
	ASSERT_EQ(alen, blen);
	ASSERT_MEM(a, b, alen);
	unlink(cmd);
	/* not a snapshot: status 1 */
	snprintf(cmd, sizeof(cmd),
		 "%s/../../tools/gmem snapshot core %s > /dev/null 2>&1",
		 GM_TEST_ELF_DIR, core);
	ASSERT_EQ(WEXITSTATUS(system(cmd)), 1);
	unlink(snap);
	unlink(core);
	free(a);
	free(b);
	gm_guest_close(g);
}

TEST(a_mostly_zero_gigabyte_costs_its_pages_not_a_gigabyte)
{
	const struct gm_arch *a = gm_arch_find("x86_64");
	struct gm_guest *g = NULL;
	struct gm_snapshot *view;
	struct gm_core_pieces p;
	uint64_t gib = 1ull << 30, zeros = 0, stored = 0;
	uint8_t buf[8];

	OK(gm_guest_open(a, &g, ERR));
	OK(gm_map(g, 0x40000000, gib, GM_PERM_R | GM_PERM_W, "big", 3, ERR));
	OK(gm_mem_write(g, 0x40000000, "first", 5, ERR));
	OK(gm_mem_write(g, 0x40000000 + gib / 2, "middle", 6, ERR));
	OK(gm_snap_view(g, &view, ERR));
	OK(gm_core_pieces(view, &p, ERR));
	for (size_t i = 0; i < p.n; i++) {
		if (p.v[i].bytes)
			stored += p.v[i].len;
		else
			zeros += p.v[i].len;
	}
	/* headers, two pages, the zeros between them; none after "middle" */
	ASSERT_EQ(stored, 4096 + 2 * 4096);
	ASSERT_EQ(zeros, gib / 2 - 4096);
	ASSERT_EQ(p.size, 4096 + gib / 2 + 4096);
	ASSERT_EQ(gm_core_pieces_read(&p, 4096 + gib / 2, buf, 8), 8);
	ASSERT_MEM(buf, "middle\0\0", 8);
	ASSERT_EQ(gm_core_pieces_read(&p, 4096 + 4096 * 3, buf, 8), 8);
	ASSERT_MEM(buf, "\0\0\0\0\0\0\0\0", 8);
	gm_core_pieces_free(&p);
	gm_snapshot_free(view);
	gm_guest_close(g);
}

/* main's address and size in PATH, from readelf -sW. */
static void main_of(const char *path, uint64_t *addr, uint64_t *size)
{
	char cmd[600], line[512];
	FILE *f;

	*size = 0;
	snprintf(cmd, sizeof(cmd), "readelf -sW '%s'", path);
	f = popen(cmd, "r");
	ASSERT(f != NULL);
	while (fgets(line, sizeof(line), f)) {
		char name[64] = "";
		unsigned n;

		if (sscanf(line,
			   " %u: %" SCNx64 " %" SCNu64
			   " FUNC GLOBAL %*s %*s %63s",
			   &n, addr, size, name) == 4 &&
		    strcmp(name, "main") == 0)
			break;
		*size = 0;
	}
	pclose(f);
	ASSERT(*size > 0);
}

/* The core qemu-user writes when PROG (built for QEMU_ARCH) dies, loaded
 * into a guest of ARCH: pc in main, the store's operands in registers. */
static void check_qemu_core(const char *prog_name, const char *qemu_arch,
			    const char *arch)
{
	char buf[512], dir[] = "/tmp/gm-test-qemu-XXXXXX", cmd[1400];
	char path[512];
	struct gm_guest *g = guest_with_stack(arch);
	const struct gm_arch *a = gm_guest_arch(g);
	bool addr = false, value = false;
	uint64_t main_addr, main_size, pc;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", GM_TEST_ELF_DIR, prog_name);
	if (access(path, R_OK) != 0) {
		printf("# %s not built (no compiler): skipped\n", path);
		gm_guest_close(g);
		return;
	}
	ASSERT(mkdtemp(dir) != NULL);
	snprintf(cmd, sizeof(cmd),
		 "cd %s && ulimit -c unlimited && qemu-%s-static %s "
		 ">/dev/null 2>&1; ls %s/*.core",
		 dir, qemu_arch, path, dir);
	f = popen(cmd, "r");
	ASSERT(f != NULL);
	ASSERT(fgets(buf, sizeof(buf), f) != NULL);
	pclose(f);
	buf[strcspn(buf, "\n")] = '\0';
	OK(gm_load_core(g, buf, ERR));
	/* qemu's own core ("core", from the signal it re-raises) too */
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	ASSERT(system(cmd) == 0);
	main_of(path, &main_addr, &main_size);
	main_addr &= ~1ull; /* a Thumb function's bit */
	pc = gm_reg_pc(g);
	ASSERT(pc >= main_addr && pc < main_addr + main_size);
	for (size_t i = 0; i < a->nregs; i++) {
		uint64_t v;

		OK(gm_reg_read(g, &a->regs[i], &v, ERR));
		addr |= v == 16;
		value |= v == 0x12345678;
	}
	ASSERT(addr && value);
	if (strcmp(arch, "arm") == 0) { /* the program is Thumb-2 */
		uint64_t cpsr;

		OK(gm_reg_read(g, gm_arch_reg(a, "cpsr"), &cpsr, ERR));
		ASSERT(cpsr & 0x20);
	}
	gm_guest_close(g);
}

TEST(qemu_user_cores_of_crashed_programs_load_with_their_registers)
{
	if (system("command -v qemu-mips-static >/dev/null") != 0)
		TEST_FAIL("qemu-mips-static: install qemu-user-static "
			  "(tools/deps)");
	check_qemu_core("crash-mips", "mips", "mips");
	check_qemu_core("crash-arm", "arm", "arm");
	check_qemu_core("crash-arm64", "aarch64", "arm64");
}

TEST(a_core_from_a_taken_snapshot_stays_as_it_was_at_the_take)
{
	struct gm_guest *g = busy_guest("riscv64"), *back;
	struct gm_snapshot *taken, *view;
	struct gm_core_pieces p;
	char path[] = "/tmp/gm-test-core-XXXXXX", why[256];
	uint8_t *bytes;
	int fd = mkstemp(path);

	ASSERT(fd >= 0);
	close(fd);
	OK(gm_snap_take(g, &taken, ERR));
	ASSERT_EQ(gm_snap_count(g), 0);
	OK(gm_core_pieces(taken, &p, ERR));
	/* the guest changes after the take: the core does not */
	OK(gm_mem_write(g, 0x100000, "XXXX", 4, ERR));
	OK(gm_unmap(g, 0x400000, gm_guest_page_size(g), ERR));
	bytes = malloc(p.size);
	ASSERT_EQ(gm_core_pieces_read(&p, 0, bytes, p.size), p.size);
	write_file(path, bytes, p.size);
	back = guest_with_stack("riscv64");
	OK(gm_load_core(back, path, ERR));
	OK(gm_snap_view(back, &view, ERR));
	if (gm_fuzz_snap_differs(taken, view, why, sizeof(why)))
		TEST_FAIL("the core is not the guest at the take: %s", why);
	gm_snapshot_free(view);
	gm_core_pieces_free(&p);
	gm_snapshot_free(taken);
	free(bytes);
	unlink(path);
	gm_guest_close(back);
	gm_guest_close(g);
}
