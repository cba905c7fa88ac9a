/*
 * Unit tests of core/memory.h: byte, pointer and string access and search,
 * checked against Qiling's ql.mem semantics and, where it matters, against
 * what the engine itself reads and executes.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unicorn/unicorn.h>

#include "arch.h"
#include "guest.h"
#include "memory.h"
#include "regions.h"
#include "test.h"

static struct gm_guest *guest_open(const char *name)
{
	const struct gm_arch *arch = gm_arch_find(name);
	struct gm_guest *g = NULL;

	if (arch == NULL)
		TEST_FAIL("no architecture %s", name);
	OK(gm_guest_open(arch, &g, ERR));
	return g;
}

static void map_rw(struct gm_guest *g, uint64_t addr, uint64_t size)
{
	OK(gm_map(g, addr, size, GM_PERM_R | GM_PERM_W, NULL, 0, ERR));
}

/* Set SIZE bytes at ADDR to BYTE through the engine, not the code tested. */
static void engine_fill(struct gm_guest *g, uint64_t addr, int byte,
			size_t size)
{
	uint8_t *buf = malloc(size);
	uc_err e;

	ASSERT(buf != NULL);
	memset(buf, byte, size);
	e = uc_mem_write(gm_guest_engine(g), addr, buf, size);
	if (e != UC_ERR_OK)
		TEST_FAIL("uc_mem_write: %s", uc_strerror(e));
	free(buf);
}

/* What the engine sees at ADDR, so that writes are checked independently. */
static void engine_read(struct gm_guest *g, uint64_t addr, void *buf,
			size_t size)
{
	uc_err e = uc_mem_read(gm_guest_engine(g), addr, buf, size);

	if (e != UC_ERR_OK)
		TEST_FAIL("uc_mem_read: %s", uc_strerror(e));
}

/* Bytes and reads */

TEST(read_returns_what_write_wrote)
{
	struct gm_guest *g = guest_open("x86_64");
	uint8_t in[32], out[32], seen[32];

	for (size_t i = 0; i < sizeof(in); i++)
		in[i] = (uint8_t)(0x40 + i);
	map_rw(g, 0x1000, 0x2000);
	OK(gm_mem_write(g, 0x1ff0, in, sizeof(in), ERR));
	OK(gm_mem_read(g, 0x1ff0, out, sizeof(out), ERR));
	ASSERT_MEM(out, in, sizeof(in));
	engine_read(g, 0x1ff0, seen, sizeof(seen));
	ASSERT_MEM(seen, in, sizeof(in));
	gm_guest_close(g);
}

TEST(read_sees_engine_writes)
{
	struct gm_guest *g = guest_open("x86_64");
	uint8_t out[4], want[4] = {0x5a, 0x5a, 0x5a, 0x5a};

	map_rw(g, 0x1000, 0x1000);
	engine_fill(g, 0x1800, 0x5a, 4);
	OK(gm_mem_read(g, 0x1800, out, sizeof(out), ERR));
	ASSERT_MEM(out, want, 4);
	gm_guest_close(g);
}

TEST(read_write_span_adjacent_regions)
{
	struct gm_guest *g = guest_open("x86_64");
	uint8_t in[0x20], out[0x20], seen[0x20];

	for (size_t i = 0; i < sizeof(in); i++)
		in[i] = (uint8_t)(0x80 + i);
	map_rw(g, 0x1000, 0x1000);
	OK(gm_map(g, 0x2000, 0x1000, GM_PERM_R | GM_PERM_X, NULL, 0, ERR));
	OK(gm_mem_write(g, 0x1ff0, in, sizeof(in), ERR));
	OK(gm_mem_read(g, 0x1ff0, out, sizeof(out), ERR));
	ASSERT_MEM(out, in, sizeof(in));
	engine_read(g, 0x1ff0, seen, sizeof(seen));
	ASSERT_MEM(seen, in, sizeof(in));
	gm_guest_close(g);
}

TEST(read_across_gap_fails)
{
	struct gm_guest *g = guest_open("x86_64");
	uint8_t *out = malloc(0x3000);

	ASSERT(out != NULL);
	map_rw(g, 0x1000, 0x1000);
	map_rw(g, 0x3000, 0x1000);
	FAILS(EFAULT, gm_mem_read(g, 0x1ff0, out, 0x20, ERR));
	FAILS(EFAULT, gm_mem_read(g, 0x2ff0, out, 0x20, ERR));
	FAILS(EFAULT, gm_mem_read(g, 0x1000, out, 0x3000, ERR));
	FAILS(EFAULT, gm_mem_read(g, 0x5000, out, 1, ERR));
	free(out);
	gm_guest_close(g);
}

TEST(write_touching_hole_changes_nothing)
{
	struct gm_guest *g = guest_open("x86_64");
	uint8_t in[0x20], seen[0x10], want[0x10];

	memset(in, 0x11, sizeof(in));
	memset(want, 0xaa, sizeof(want));
	map_rw(g, 0x1000, 0x1000);
	map_rw(g, 0x3000, 0x1000);
	engine_fill(g, 0x1ff0, 0xaa, 0x10);
	engine_fill(g, 0x3000, 0xaa, 0x10);

	/* Mapped bytes first, then the hole. */
	FAILS(EFAULT, gm_mem_write(g, 0x1ff0, in, sizeof(in), ERR));
	engine_read(g, 0x1ff0, seen, sizeof(seen));
	ASSERT_MEM(seen, want, sizeof(want));

	/* The hole first, then mapped bytes. */
	FAILS(EFAULT, gm_mem_write(g, 0x2ff0, in, sizeof(in), ERR));
	engine_read(g, 0x3000, seen, sizeof(seen));
	ASSERT_MEM(seen, want, sizeof(want));
	gm_guest_close(g);
}

TEST(write_ignores_protection)
{
	struct gm_guest *g = guest_open("x86_64");
	uint8_t in[8] = {1, 2, 3, 4, 5, 6, 7, 8}, out[8];

	OK(gm_map(g, 0x1000, 0x1000, 0, NULL, 0, ERR));
	OK(gm_map(g, 0x2000, 0x1000, GM_PERM_R, NULL, 0, ERR));
	OK(gm_mem_write(g, 0x1100, in, sizeof(in), ERR));
	OK(gm_mem_read(g, 0x1100, out, sizeof(out), ERR));
	ASSERT_MEM(out, in, sizeof(in));
	OK(gm_mem_write(g, 0x2100, in, sizeof(in), ERR));
	OK(gm_mem_read(g, 0x2100, out, sizeof(out), ERR));
	ASSERT_MEM(out, in, sizeof(in));
	/* Straddling the "---"/"r--" boundary as well. */
	OK(gm_mem_write(g, 0x1ffc, in, sizeof(in), ERR));
	OK(gm_mem_read(g, 0x1ffc, out, sizeof(out), ERR));
	ASSERT_MEM(out, in, sizeof(in));
	gm_guest_close(g);
}

TEST(zero_size_access_succeeds_and_does_nothing)
{
	struct gm_guest *g = guest_open("x86_64");
	uint8_t buf[4] = {9, 9, 9, 9}, want[4] = {9, 9, 9, 9};

	map_rw(g, 0x1000, 0x1000);
	OK(gm_mem_read(g, 0x1000, buf, 0, ERR));
	ASSERT_MEM(buf, want, 4);
	OK(gm_mem_write(g, 0x1000, buf, 0, ERR));
	OK(gm_mem_read(g, 0x1000, buf, 4, ERR));
	ASSERT_EQ(buf[0], 0);
	/* Nothing is touched, so nothing needs to be mapped. */
	OK(gm_mem_read(g, 0x8000, buf, 0, ERR));
	OK(gm_mem_write(g, 0x8000, buf, 0, ERR));
	gm_guest_close(g);
}

TEST(range_past_32bit_space_is_einval)
{
	struct gm_guest *g = guest_open("x86");
	uint8_t buf[0x2000] = {0};

	OK(gm_map(g, 0xfffff000, 0x1000, GM_PERM_ALL, NULL, 0, ERR));
	FAILS(EINVAL, gm_mem_read(g, 0xfffff000, buf, 0x2000, ERR));
	FAILS(EINVAL, gm_mem_write(g, 0xfffff000, buf, 0x2000, ERR));
	FAILS(EINVAL, gm_mem_read(g, 0x100000000, buf, 1, ERR));
	FAILS(EINVAL, gm_mem_write(g, 0x100000000, buf, 1, ERR));
	gm_guest_close(g);
}

TEST(top_page_of_32bit_space_is_usable)
{
	struct gm_guest *g = guest_open("x86");
	uint8_t in[16], out[16];

	for (size_t i = 0; i < sizeof(in); i++)
		in[i] = (uint8_t)(0xf0 + i);
	OK(gm_map(g, 0xfffff000, 0x1000, GM_PERM_R | GM_PERM_W, NULL, 0, ERR));
	OK(gm_mem_write(g, 0xfffffff0, in, sizeof(in), ERR));
	OK(gm_mem_read(g, 0xfffffff0, out, sizeof(out), ERR));
	ASSERT_MEM(out, in, sizeof(in));
	gm_guest_close(g);
}

TEST(top_page_of_64bit_space_is_usable)
{
	struct gm_guest *g = guest_open("x86_64");
	uint8_t in[16], out[32];

	for (size_t i = 0; i < sizeof(in); i++)
		in[i] = (uint8_t)(0xe0 + i);
	OK(gm_map(g, 0xfffffffffffff000, 0x1000, GM_PERM_R | GM_PERM_W, NULL, 0,
		  ERR));
	OK(gm_mem_write(g, 0xfffffffffffffff0, in, sizeof(in), ERR));
	OK(gm_mem_read(g, 0xfffffffffffffff0, out, sizeof(in), ERR));
	ASSERT_MEM(out, in, sizeof(in));
	/* One byte more would wrap past 2^64. */
	FAILS(EINVAL, gm_mem_read(g, 0xfffffffffffffff0, out, 17, ERR));
	FAILS(EINVAL, gm_mem_write(g, 0xfffffffffffffff0, out, 32, ERR));
	gm_guest_close(g);
}

/* pread / pwrite */

TEST(pread_stops_at_first_unmapped_byte)
{
	struct gm_guest *g = guest_open("x86_64");
	uint8_t out[0x20], want[0x10];

	memset(want, 0x33, sizeof(want));
	map_rw(g, 0x1000, 0x2000);
	engine_fill(g, 0x2ff0, 0x33, 0x10);
	memset(out, 0, sizeof(out));
	ASSERT_EQ(gm_mem_pread(g, 0x2ff0, out, sizeof(out)), 0x10);
	ASSERT_MEM(out, want, sizeof(want));
	ASSERT_EQ(gm_mem_pread(g, 0x3000, out, sizeof(out)), 0);
	ASSERT_EQ(gm_mem_pread(g, 0x0, out, sizeof(out)), 0);
	ASSERT_EQ(gm_mem_pread(g, 0x1000, out, 0), 0);
	gm_guest_close(g);
}

TEST(pread_spans_adjacent_regions)
{
	struct gm_guest *g = guest_open("x86_64");
	uint8_t out[0x40];

	map_rw(g, 0x1000, 0x1000);
	OK(gm_map(g, 0x2000, 0x1000, 0, NULL, 0, ERR));
	ASSERT_EQ(gm_mem_pread(g, 0x1fe0, out, sizeof(out)), 0x40);
	ASSERT_EQ(gm_mem_pread(g, 0x2fe0, out, sizeof(out)), 0x20);
	gm_guest_close(g);
}

TEST(pwrite_stops_at_first_unmapped_byte)
{
	struct gm_guest *g = guest_open("x86_64");
	uint8_t in[0x20], seen[0x10], want[0x10];

	for (size_t i = 0; i < sizeof(in); i++)
		in[i] = (uint8_t)(i + 1);
	map_rw(g, 0x1000, 0x2000);
	ASSERT_EQ(gm_mem_pwrite(g, 0x2ff0, in, sizeof(in)), 0x10);
	engine_read(g, 0x2ff0, seen, sizeof(seen));
	ASSERT_MEM(seen, in, sizeof(seen));
	ASSERT_EQ(gm_mem_pwrite(g, 0x3000, in, sizeof(in)), 0);
	/* Starting in a hole transfers nothing, even to the region after. */
	ASSERT_EQ(gm_mem_pwrite(g, 0xff0, in, sizeof(in)), 0);
	memset(want, 0, sizeof(want));
	engine_read(g, 0x1000, seen, sizeof(seen));
	ASSERT_MEM(seen, want, sizeof(want));
	gm_guest_close(g);
}

TEST(pread_pwrite_stop_at_end_of_32bit_space)
{
	struct gm_guest *g = guest_open("x86");
	uint8_t buf[0x20];

	memset(buf, 0x77, sizeof(buf));
	OK(gm_map(g, 0xfffff000, 0x1000, GM_PERM_R | GM_PERM_W, NULL, 0, ERR));
	ASSERT_EQ(gm_mem_pwrite(g, 0xfffffff0, buf, sizeof(buf)), 0x10);
	ASSERT_EQ(gm_mem_pread(g, 0xfffffff0, buf, sizeof(buf)), 0x10);
	ASSERT_EQ(gm_mem_pread(g, 0x100000000, buf, sizeof(buf)), 0);
	ASSERT_EQ(gm_mem_pwrite(g, 0x100000000, buf, sizeof(buf)), 0);
	gm_guest_close(g);
}

TEST(pread_pwrite_stop_at_end_of_64bit_space)
{
	struct gm_guest *g = guest_open("x86_64");
	uint8_t buf[0x20], out[0x10];

	memset(buf, 0x66, sizeof(buf));
	OK(gm_map(g, 0xfffffffffffff000, 0x1000, GM_PERM_R | GM_PERM_W, NULL, 0,
		  ERR));
	ASSERT_EQ(gm_mem_pwrite(g, 0xfffffffffffffff0, buf, sizeof(buf)), 0x10);
	ASSERT_EQ(gm_mem_pread(g, 0xfffffffffffffff0, out, sizeof(buf)), 0x10);
	ASSERT_MEM(out, buf, sizeof(out));
	gm_guest_close(g);
}

/* Translated code */

/*
 * 0x1000: jmp 0x1100
 * 0x1100: mov rax, 0x11111111; jmp 0x1200
 * The patched instruction is in a block other than the one holding the
 * `until` address, so a stale translation of it would run again.
 */
static const uint8_t code_entry[] = {0xe9, 0xfb, 0x00, 0x00, 0x00};
static const uint8_t code_body[] = {
    0x48, 0xc7, 0xc0, 0x11, 0x11, 0x11, 0x11, 0xe9, 0xf4, 0x00, 0x00, 0x00,
};

#define CODE_IMM 0x1103

static uint64_t run_code(struct gm_guest *g)
{
	uc_engine *uc = gm_guest_engine(g);
	uint64_t rax = 0;
	uc_err e;

	e = uc_reg_write(uc, UC_X86_REG_RAX, &rax);
	if (e != UC_ERR_OK)
		TEST_FAIL("uc_reg_write: %s", uc_strerror(e));
	e = uc_emu_start(uc, 0x1000, 0x1200, 0, 0);
	if (e != UC_ERR_OK)
		TEST_FAIL("uc_emu_start: %s", uc_strerror(e));
	e = uc_reg_read(uc, UC_X86_REG_RAX, &rax);
	if (e != UC_ERR_OK)
		TEST_FAIL("uc_reg_read: %s", uc_strerror(e));
	return rax;
}

static struct gm_guest *code_open(void)
{
	struct gm_guest *g = guest_open("x86_64");

	OK(gm_map(g, 0x1000, 0x1000, GM_PERM_ALL, NULL, 0, ERR));
	OK(gm_mem_write(g, 0x1000, code_entry, sizeof(code_entry), ERR));
	OK(gm_mem_write(g, 0x1100, code_body, sizeof(code_body), ERR));
	ASSERT_EQ(run_code(g), 0x11111111);
	return g;
}

static const uint8_t new_imm[4] = {0x22, 0x22, 0x22, 0x22};

TEST(write_drops_translated_code)
{
	struct gm_guest *g = code_open();

	OK(gm_mem_write(g, CODE_IMM, new_imm, sizeof(new_imm), ERR));
	ASSERT_EQ(run_code(g), 0x22222222);
	gm_guest_close(g);
}

TEST(pwrite_drops_translated_code)
{
	struct gm_guest *g = code_open();

	ASSERT_EQ(gm_mem_pwrite(g, CODE_IMM, new_imm, sizeof(new_imm)), 4);
	ASSERT_EQ(run_code(g), 0x22222222);
	gm_guest_close(g);
}

TEST(write_ptr_drops_translated_code)
{
	struct gm_guest *g = code_open();

	OK(gm_mem_write_ptr(g, CODE_IMM, 0x33333333, 4, false, ERR));
	ASSERT_EQ(run_code(g), 0x33333333);
	gm_guest_close(g);
}

/* Pointers */

static const uint8_t ptr_bytes[8] = {1, 2, 3, 4, 5, 6, 7, 8};

static uint64_t read_ptr(struct gm_guest *g, uint64_t addr, unsigned size,
			 bool is_signed)
{
	uint64_t v = 0xdeadbeef;

	OK(gm_mem_read_ptr(g, addr, size, is_signed, &v, ERR));
	return v;
}

TEST(read_ptr_is_little_endian_on_x86_64)
{
	struct gm_guest *g = guest_open("x86_64");

	map_rw(g, 0x1000, 0x1000);
	OK(gm_mem_write(g, 0x1000, ptr_bytes, 8, ERR));
	ASSERT_EQ(read_ptr(g, 0x1000, 1, false), 0x01);
	ASSERT_EQ(read_ptr(g, 0x1000, 2, false), 0x0201);
	ASSERT_EQ(read_ptr(g, 0x1000, 4, false), 0x04030201);
	ASSERT_EQ(read_ptr(g, 0x1000, 8, false), 0x0807060504030201);
	ASSERT_EQ(read_ptr(g, 0x1000, 0, false), 0x0807060504030201);
	gm_guest_close(g);
}

TEST(read_ptr_is_big_endian_on_mips)
{
	struct gm_guest *g = guest_open("mips");

	map_rw(g, 0x1000, 0x1000);
	OK(gm_mem_write(g, 0x1000, ptr_bytes, 8, ERR));
	ASSERT_EQ(read_ptr(g, 0x1000, 1, false), 0x01);
	ASSERT_EQ(read_ptr(g, 0x1000, 2, false), 0x0102);
	ASSERT_EQ(read_ptr(g, 0x1000, 4, false), 0x01020304);
	ASSERT_EQ(read_ptr(g, 0x1000, 8, false), 0x0102030405060708);
	ASSERT_EQ(read_ptr(g, 0x1000, 0, false), 0x01020304);
	gm_guest_close(g);
}

TEST(read_ptr_size_zero_is_pointer_size)
{
	static const char *const archs[] = {"x86", "mipsel", "arm"};

	for (size_t i = 0; i < 3; i++) {
		struct gm_guest *g = guest_open(archs[i]);

		map_rw(g, 0x1000, 0x1000);
		OK(gm_mem_write(g, 0x1000, ptr_bytes, 8, ERR));
		ASSERT_EQ(read_ptr(g, 0x1000, 0, false), 0x04030201);
		gm_guest_close(g);
	}
}

TEST(read_ptr_signed_sign_extends)
{
	struct gm_guest *g = guest_open("x86_64");
	static const uint8_t bytes[8] = {0xff, 0x7f, 0x00, 0x80,
					 0x00, 0x00, 0x00, 0x80};

	map_rw(g, 0x1000, 0x1000);
	OK(gm_mem_write(g, 0x1000, bytes, 8, ERR));
	ASSERT_EQ(read_ptr(g, 0x1000, 1, true), 0xffffffffffffffff);
	ASSERT_EQ(read_ptr(g, 0x1000, 1, false), 0xff);
	ASSERT_EQ(read_ptr(g, 0x1001, 1, true), 0x7f);
	ASSERT_EQ(read_ptr(g, 0x1002, 2, true), 0xffffffffffff8000);
	ASSERT_EQ(read_ptr(g, 0x1002, 2, false), 0x8000);
	ASSERT_EQ(read_ptr(g, 0x1004, 4, true), 0xffffffff80000000);
	ASSERT_EQ(read_ptr(g, 0x1004, 4, false), 0x80000000);
	ASSERT_EQ(read_ptr(g, 0x1000, 8, true), 0x8000000080007fff);
	gm_guest_close(g);
}

TEST(read_ptr_signed_on_big_endian)
{
	struct gm_guest *g = guest_open("mips");
	static const uint8_t bytes[4] = {0xff, 0xfe, 0x00, 0x01};

	map_rw(g, 0x1000, 0x1000);
	OK(gm_mem_write(g, 0x1000, bytes, 4, ERR));
	ASSERT_EQ(read_ptr(g, 0x1000, 2, true), 0xfffffffffffffffe);
	ASSERT_EQ(read_ptr(g, 0x1000, 0, true), 0xfffffffffffe0001);
	ASSERT_EQ(read_ptr(g, 0x1000, 0, false), 0xfffe0001);
	gm_guest_close(g);
}

static void assert_bytes(struct gm_guest *g, uint64_t addr, const uint8_t *want,
			 size_t n)
{
	uint8_t seen[16];

	ASSERT(n <= sizeof(seen));
	engine_read(g, addr, seen, n);
	ASSERT_MEM(seen, want, n);
}

TEST(write_ptr_uses_guest_byte_order)
{
	static const uint8_t be[] = {0x11, 0x22, 0x33, 0x44, 0xaa};
	static const uint8_t le[] = {0x44, 0x33, 0x22, 0x11, 0xaa};
	static const struct {
		const char *arch;
		const uint8_t *want;
	} cases[] = {
	    {"mips", be},
	    {"mipsel", le},
	    {"arm", le},
	    {"x86_64", le},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct gm_guest *g = guest_open(cases[i].arch);

		map_rw(g, 0x1000, 0x1000);
		engine_fill(g, 0x1000, 0xaa, 16);
		OK(gm_mem_write_ptr(g, 0x1000, 0x11223344, 4, false, ERR));
		assert_bytes(g, 0x1000, cases[i].want, 5);
		gm_guest_close(g);
	}
}

TEST(write_ptr_sizes_on_mips)
{
	struct gm_guest *g = guest_open("mips");
	static const uint8_t w1[] = {0x5a, 0xaa};
	static const uint8_t w2[] = {0x12, 0x34, 0xaa};
	static const uint8_t w8[] = {0x01, 0x02, 0x03, 0x04, 0x05,
				     0x06, 0x07, 0x08, 0xaa};
	static const uint8_t w0[] = {0xca, 0xfe, 0xba, 0xbe, 0xaa};

	map_rw(g, 0x1000, 0x1000);
	engine_fill(g, 0x1000, 0xaa, 0x100);
	OK(gm_mem_write_ptr(g, 0x1000, 0x5a, 1, false, ERR));
	assert_bytes(g, 0x1000, w1, sizeof(w1));
	OK(gm_mem_write_ptr(g, 0x1010, 0x1234, 2, false, ERR));
	assert_bytes(g, 0x1010, w2, sizeof(w2));
	OK(gm_mem_write_ptr(g, 0x1020, 0x0102030405060708, 8, false, ERR));
	assert_bytes(g, 0x1020, w8, sizeof(w8));
	OK(gm_mem_write_ptr(g, 0x1030, 0xcafebabe, 0, false, ERR));
	assert_bytes(g, 0x1030, w0, sizeof(w0));
	gm_guest_close(g);
}

TEST(write_ptr_sizes_on_x86_64)
{
	struct gm_guest *g = guest_open("x86_64");
	static const uint8_t w2[] = {0x34, 0x12, 0xaa};
	static const uint8_t w8[] = {0x08, 0x07, 0x06, 0x05, 0x04,
				     0x03, 0x02, 0x01, 0xaa};

	map_rw(g, 0x1000, 0x1000);
	engine_fill(g, 0x1000, 0xaa, 0x100);
	OK(gm_mem_write_ptr(g, 0x1010, 0x1234, 2, false, ERR));
	assert_bytes(g, 0x1010, w2, sizeof(w2));
	OK(gm_mem_write_ptr(g, 0x1020, 0x0102030405060708, 8, false, ERR));
	assert_bytes(g, 0x1020, w8, sizeof(w8));
	OK(gm_mem_write_ptr(g, 0x1030, 0x0102030405060708, 0, false, ERR));
	assert_bytes(g, 0x1030, w8, sizeof(w8));
	gm_guest_close(g);
}

TEST(write_ptr_signed_values)
{
	struct gm_guest *g = guest_open("x86_64");
	static const uint8_t m1_2[] = {0xff, 0xff, 0xaa};
	static const uint8_t m128_1[] = {0x80, 0xaa};
	static const uint8_t p127_1[] = {0x7f, 0xaa};
	static const uint8_t m2_4[] = {0xfe, 0xff, 0xff, 0xff, 0xaa};
	static const uint8_t m1_8[] = {0xff, 0xff, 0xff, 0xff, 0xff,
				       0xff, 0xff, 0xff, 0xaa};

	map_rw(g, 0x1000, 0x1000);
	engine_fill(g, 0x1000, 0xaa, 0x100);
	OK(gm_mem_write_ptr(g, 0x1000, (uint64_t)-1, 2, true, ERR));
	assert_bytes(g, 0x1000, m1_2, sizeof(m1_2));
	OK(gm_mem_write_ptr(g, 0x1010, (uint64_t)-128, 1, true, ERR));
	assert_bytes(g, 0x1010, m128_1, sizeof(m128_1));
	OK(gm_mem_write_ptr(g, 0x1020, 127, 1, true, ERR));
	assert_bytes(g, 0x1020, p127_1, sizeof(p127_1));
	OK(gm_mem_write_ptr(g, 0x1030, (uint64_t)-2, 4, true, ERR));
	assert_bytes(g, 0x1030, m2_4, sizeof(m2_4));
	OK(gm_mem_write_ptr(g, 0x1040, (uint64_t)-1, 8, true, ERR));
	assert_bytes(g, 0x1040, m1_8, sizeof(m1_8));
	OK(gm_mem_write_ptr(g, 0x1050, 0xffffffffffffffff, 8, false, ERR));
	assert_bytes(g, 0x1050, m1_8, sizeof(m1_8));
	gm_guest_close(g);
}

TEST(write_ptr_value_too_wide_is_erange)
{
	struct gm_guest *g = guest_open("x86_64");
	uint8_t want[16];

	memset(want, 0xaa, sizeof(want));
	map_rw(g, 0x1000, 0x1000);
	engine_fill(g, 0x1000, 0xaa, 16);
	FAILS(ERANGE, gm_mem_write_ptr(g, 0x1000, 0x100, 1, false, ERR));
	FAILS(ERANGE, gm_mem_write_ptr(g, 0x1000, 0x10000, 2, false, ERR));
	FAILS(ERANGE, gm_mem_write_ptr(g, 0x1000, 0x100000000, 4, false, ERR));
	FAILS(ERANGE, gm_mem_write_ptr(g, 0x1000, (uint64_t)-1, 1, false, ERR));
	FAILS(ERANGE,
	      gm_mem_write_ptr(g, 0x1000, (uint64_t)-129, 1, true, ERR));
	FAILS(ERANGE, gm_mem_write_ptr(g, 0x1000, 128, 1, true, ERR));
	FAILS(ERANGE,
	      gm_mem_write_ptr(g, 0x1000, (uint64_t)-32769, 2, true, ERR));
	FAILS(ERANGE, gm_mem_write_ptr(g, 0x1000, 0x80000000, 4, true, ERR));
	assert_bytes(g, 0x1000, want, sizeof(want));
	gm_guest_close(g);
}

TEST(write_ptr_size_zero_on_32bit_guest)
{
	struct gm_guest *g = guest_open("x86");
	static const uint8_t w0[] = {0x44, 0x33, 0x22, 0x11, 0xaa};
	uint8_t want[8];

	memset(want, 0xaa, sizeof(want));
	map_rw(g, 0x1000, 0x1000);
	engine_fill(g, 0x1000, 0xaa, 0x100);
	OK(gm_mem_write_ptr(g, 0x1000, 0x11223344, 0, false, ERR));
	assert_bytes(g, 0x1000, w0, sizeof(w0));
	FAILS(ERANGE, gm_mem_write_ptr(g, 0x1010, 0x100000000, 0, false, ERR));
	assert_bytes(g, 0x1010, want, sizeof(want));
	gm_guest_close(g);
}

TEST(ptr_bad_size_is_einval)
{
	struct gm_guest *g = guest_open("x86_64");
	uint64_t v = 0;

	map_rw(g, 0x1000, 0x1000);
	FAILS(EINVAL, gm_mem_read_ptr(g, 0x1000, 3, false, &v, ERR));
	FAILS(EINVAL, gm_mem_read_ptr(g, 0x1000, 16, false, &v, ERR));
	FAILS(EINVAL, gm_mem_write_ptr(g, 0x1000, 1, 3, false, ERR));
	FAILS(EINVAL, gm_mem_write_ptr(g, 0x1000, 1, 16, false, ERR));
	gm_guest_close(g);
}

TEST(ptr_touching_hole_is_efault)
{
	struct gm_guest *g = guest_open("x86_64");
	uint8_t want[4];
	uint64_t v = 0;

	memset(want, 0xaa, sizeof(want));
	map_rw(g, 0x1000, 0x1000);
	engine_fill(g, 0x1ffc, 0xaa, 4);
	FAILS(EFAULT, gm_mem_read_ptr(g, 0x1ffc, 8, false, &v, ERR));
	FAILS(EFAULT, gm_mem_read_ptr(g, 0x3000, 1, false, &v, ERR));
	FAILS(EFAULT, gm_mem_write_ptr(g, 0x1ffc, 1, 8, false, ERR));
	assert_bytes(g, 0x1ffc, want, sizeof(want));
	gm_guest_close(g);
}

/* Strings */

TEST(string_write_adds_nul_and_reads_back)
{
	struct gm_guest *g = guest_open("x86_64");
	static const uint8_t want[] = {'h', 'e', 'l', 'l', 'o', 0, 0xaa};
	char *text = NULL;
	size_t len = 99;

	map_rw(g, 0x1000, 0x1000);
	engine_fill(g, 0x1000, 0xaa, 0x100);
	OK(gm_mem_string_write(g, 0x1000, "hello", 5, ERR));
	assert_bytes(g, 0x1000, want, sizeof(want));
	OK(gm_mem_string_read(g, 0x1000, &text, &len, ERR));
	ASSERT_EQ(len, 5);
	ASSERT_STR(text, "hello");
	free(text);
	gm_guest_close(g);
}

TEST(string_read_stops_at_first_nul)
{
	struct gm_guest *g = guest_open("x86_64");
	static const char bytes[] = "abc\0def";
	char *text = NULL;
	size_t len = 99;

	map_rw(g, 0x1000, 0x1000);
	OK(gm_mem_write(g, 0x1000, bytes, sizeof(bytes), ERR));
	OK(gm_mem_string_read(g, 0x1000, &text, &len, ERR));
	ASSERT_EQ(len, 3);
	ASSERT_STR(text, "abc");
	free(text);
	gm_guest_close(g);
}

TEST(string_empty)
{
	struct gm_guest *g = guest_open("x86_64");
	static const uint8_t want[] = {0, 0xaa};
	char *text = NULL;
	size_t len = 99;

	map_rw(g, 0x1000, 0x1000);
	engine_fill(g, 0x1000, 0xaa, 0x100);
	OK(gm_mem_string_write(g, 0x1000, "", 0, ERR));
	assert_bytes(g, 0x1000, want, sizeof(want));
	OK(gm_mem_string_read(g, 0x1000, &text, &len, ERR));
	ASSERT_EQ(len, 0);
	ASSERT_STR(text, "");
	free(text);
	gm_guest_close(g);
}

TEST(string_crosses_adjacent_regions)
{
	struct gm_guest *g = guest_open("x86_64");
	char *text = NULL;
	size_t len = 0;

	map_rw(g, 0x1000, 0x1000);
	OK(gm_map(g, 0x2000, 0x1000, GM_PERM_R, NULL, 0, ERR));
	engine_fill(g, 0x1000, 'x', 0x1000);
	OK(gm_mem_string_write(g, 0x1ffc, "abcdefgh", 8, ERR));
	OK(gm_mem_string_read(g, 0x1ffc, &text, &len, ERR));
	ASSERT_EQ(len, 8);
	ASSERT_STR(text, "abcdefgh");
	free(text);
	gm_guest_close(g);
}

TEST(string_longer_than_a_page)
{
	struct gm_guest *g = guest_open("x86_64");
	size_t n = 0x2345;
	char *in = malloc(n + 1), *text = NULL;
	size_t len = 0;

	ASSERT(in != NULL);
	for (size_t i = 0; i < n; i++)
		in[i] = (char)('a' + i % 26);
	in[n] = '\0';
	map_rw(g, 0x1000, 0x1000);
	map_rw(g, 0x2000, 0x3000);
	engine_fill(g, 0x1000, 'z', 0x4000);
	OK(gm_mem_string_write(g, 0x1800, in, n, ERR));
	OK(gm_mem_string_read(g, 0x1800, &text, &len, ERR));
	ASSERT_EQ(len, n);
	ASSERT_STR(text, in);
	free(text);
	free(in);
	gm_guest_close(g);
}

TEST(string_without_nul_before_hole_is_efault)
{
	struct gm_guest *g = guest_open("x86_64");
	char *text = NULL;
	size_t len = 0;

	map_rw(g, 0x1000, 0x1000);
	map_rw(g, 0x3000, 0x1000);
	engine_fill(g, 0x1000, 'A', 0x1000);
	FAILS(EFAULT, gm_mem_string_read(g, 0x1ff0, &text, &len, ERR));
	FAILS(EFAULT, gm_mem_string_read(g, 0x2000, &text, &len, ERR));
	gm_guest_close(g);
}

TEST(string_runs_to_end_of_32bit_space_is_efault)
{
	struct gm_guest *g = guest_open("x86");
	char *text = NULL;
	size_t len = 0;

	OK(gm_map(g, 0xfffff000, 0x1000, GM_PERM_R | GM_PERM_W, NULL, 0, ERR));
	engine_fill(g, 0xfffff000, 'A', 0x1000);
	FAILS(EFAULT, gm_mem_string_read(g, 0xfffffff0, &text, &len, ERR));
	gm_guest_close(g);
}

TEST(string_write_touching_hole_changes_nothing)
{
	struct gm_guest *g = guest_open("x86_64");
	uint8_t want[4];

	memset(want, 0xaa, sizeof(want));
	map_rw(g, 0x1000, 0x1000);
	engine_fill(g, 0x1ffc, 0xaa, 4);
	FAILS(EFAULT, gm_mem_string_write(g, 0x1ffc, "abcd", 4, ERR));
	assert_bytes(g, 0x1ffc, want, sizeof(want));
	gm_guest_close(g);
}

/* Search */

struct matches {
	uint64_t addr[16];
	size_t n;
	size_t stop_at; /* ask to stop after this many; 0: never */
};

static int collect(uint64_t addr, void *ctx)
{
	struct matches *m = ctx;

	if (m->n < sizeof(m->addr) / sizeof(m->addr[0]))
		m->addr[m->n] = addr;
	m->n++;
	return m->stop_at != 0 && m->n >= m->stop_at;
}

static long search(struct gm_guest *g, const void *pat, size_t len,
		   const struct gm_window *win, struct matches *m)
{
	long n = -1;

	OK(n = gm_mem_search(g, pat, len, win, collect, m, ERR));
	ASSERT_EQ(n, m->n);
	return n;
}

TEST(search_matches_do_not_overlap)
{
	struct gm_guest *g = guest_open("x86_64");
	struct matches m = {0};

	map_rw(g, 0x1000, 0x1000);
	OK(gm_mem_write(g, 0x1100, "aaaaa", 5, ERR));
	ASSERT_EQ(search(g, "aa", 2, NULL, &m), 2);
	ASSERT_EQ(m.addr[0], 0x1100);
	ASSERT_EQ(m.addr[1], 0x1102);
	gm_guest_close(g);
}

TEST(search_matches_do_not_overlap_across_regions)
{
	struct gm_guest *g = guest_open("x86_64");
	struct matches m = {0};

	map_rw(g, 0x1000, 0x1000);
	map_rw(g, 0x2000, 0x1000);
	OK(gm_mem_write(g, 0x1ffd, "aaaaa", 5, ERR));
	ASSERT_EQ(search(g, "aa", 2, NULL, &m), 2);
	ASSERT_EQ(m.addr[0], 0x1ffd);
	ASSERT_EQ(m.addr[1], 0x1fff);
	memset(&m, 0, sizeof(m));
	ASSERT_EQ(search(g, "aaa", 3, NULL, &m), 1);
	ASSERT_EQ(m.addr[0], 0x1ffd);
	gm_guest_close(g);
}

TEST(search_reports_in_address_order)
{
	struct gm_guest *g = guest_open("x86_64");
	struct matches m = {0};

	/* Mapped high region first, so that map order is not address order. */
	map_rw(g, 0x9000, 0x1000);
	map_rw(g, 0x1000, 0x1000);
	map_rw(g, 0x5000, 0x1000);
	OK(gm_mem_write(g, 0x9ffe, "PQ", 2, ERR));
	OK(gm_mem_write(g, 0x5000, "PQ", 2, ERR));
	OK(gm_mem_write(g, 0x1800, "PQ", 2, ERR));
	OK(gm_mem_write(g, 0x1010, "PQ", 2, ERR));
	ASSERT_EQ(search(g, "PQ", 2, NULL, &m), 4);
	ASSERT_EQ(m.addr[0], 0x1010);
	ASSERT_EQ(m.addr[1], 0x1800);
	ASSERT_EQ(m.addr[2], 0x5000);
	ASSERT_EQ(m.addr[3], 0x9ffe);
	gm_guest_close(g);
}

TEST(search_matches_across_adjacent_regions)
{
	struct gm_guest *g = guest_open("x86_64");
	struct gm_window win = {.lo = 0x1000, .hi_set = true};
	struct matches m = {0};

	map_rw(g, 0x1000, 0x1000);
	OK(gm_map(g, 0x2000, 0x1000, 0, NULL, 0, ERR));
	OK(gm_mem_write(g, 0x1ffe, "XYZW", 4, ERR));
	ASSERT_EQ(search(g, "XYZW", 4, NULL, &m), 1);
	ASSERT_EQ(m.addr[0], 0x1ffe);

	/* The window's end still cuts a match that crosses regions. */
	memset(&m, 0, sizeof(m));
	win.hi = 0x2001;
	ASSERT_EQ(search(g, "XYZW", 4, &win, &m), 0);
	memset(&m, 0, sizeof(m));
	win.hi = 0x2002;
	ASSERT_EQ(search(g, "XYZW", 4, &win, &m), 1);
	ASSERT_EQ(m.addr[0], 0x1ffe);
	gm_guest_close(g);
}

TEST(search_never_matches_across_hole)
{
	struct gm_guest *g = guest_open("x86_64");
	struct matches m = {0};

	map_rw(g, 0x1000, 0x1000);
	map_rw(g, 0x3000, 0x1000);
	OK(gm_mem_write(g, 0x1ffe, "XY", 2, ERR));
	OK(gm_mem_write(g, 0x3000, "ZW", 2, ERR));
	ASSERT_EQ(search(g, "XYZW", 4, NULL, &m), 0);
	ASSERT_EQ(search(g, "XY", 2, NULL, &m), 1);
	ASSERT_EQ(m.addr[0], 0x1ffe);
	gm_guest_close(g);
}

TEST(search_window_keeps_matches_inside)
{
	struct gm_guest *g = guest_open("x86_64");
	struct gm_window win = {.lo = 0x1100, .hi = 0x1304, .hi_set = true};
	struct matches m = {0};

	map_rw(g, 0x1000, 0x1000);
	OK(gm_mem_write(g, 0x1100, "MARK", 4, ERR));
	OK(gm_mem_write(g, 0x1200, "MARK", 4, ERR));
	OK(gm_mem_write(g, 0x1300, "MARK", 4, ERR));
	ASSERT_EQ(search(g, "MARK", 4, &win, &m), 3);
	ASSERT_EQ(m.addr[0], 0x1100);
	ASSERT_EQ(m.addr[2], 0x1300);

	/* A match that starts before lo or ends after hi is left out. */
	memset(&m, 0, sizeof(m));
	win = (struct gm_window){.lo = 0x1101, .hi = 0x1303, .hi_set = true};
	ASSERT_EQ(search(g, "MARK", 4, &win, &m), 1);
	ASSERT_EQ(m.addr[0], 0x1200);

	/* No hi: to the end of the address space. */
	memset(&m, 0, sizeof(m));
	win = (struct gm_window){.lo = 0x1200};
	ASSERT_EQ(search(g, "MARK", 4, &win, &m), 2);
	ASSERT_EQ(m.addr[0], 0x1200);
	ASSERT_EQ(m.addr[1], 0x1300);

	/* A window over unmapped memory only. */
	memset(&m, 0, sizeof(m));
	win = (struct gm_window){.lo = 0x8000, .hi = 0x9000, .hi_set = true};
	ASSERT_EQ(search(g, "MARK", 4, &win, &m), 0);
	gm_guest_close(g);
}

TEST(search_stops_when_callback_asks)
{
	struct gm_guest *g = guest_open("x86_64");
	struct matches m = {.stop_at = 2};

	map_rw(g, 0x1000, 0x1000);
	OK(gm_mem_write(g, 0x1100, "MARK", 4, ERR));
	OK(gm_mem_write(g, 0x1200, "MARK", 4, ERR));
	OK(gm_mem_write(g, 0x1300, "MARK", 4, ERR));
	ASSERT_EQ(search(g, "MARK", 4, NULL, &m), 2);
	ASSERT_EQ(m.n, 2);
	ASSERT_EQ(m.addr[1], 0x1200);
	gm_guest_close(g);
}

TEST(search_empty_pattern_or_window_is_einval)
{
	struct gm_guest *g = guest_open("x86_64");
	struct gm_window win = {.lo = 0x1100, .hi = 0x1100, .hi_set = true};
	struct matches m = {0};

	map_rw(g, 0x1000, 0x1000);
	FAILS(EINVAL, gm_mem_search(g, "", 0, NULL, collect, &m, ERR));
	FAILS(EINVAL, gm_mem_search(g, "a", 1, &win, collect, &m, ERR));
	ASSERT_EQ(m.n, 0);
	gm_guest_close(g);
}

TEST(search_with_nothing_mapped_finds_nothing)
{
	struct gm_guest *g = guest_open("x86_64");
	struct matches m = {0};

	ASSERT_EQ(search(g, "a", 1, NULL, &m), 0);
	gm_guest_close(g);
}

TEST(search_pattern_longer_than_a_page)
{
	struct gm_guest *g = guest_open("x86_64");
	struct matches m = {0};
	size_t n = 0x1800;
	uint8_t *pat = malloc(n);
	uint32_t x = 12345;

	ASSERT(pat != NULL);
	for (size_t i = 0; i < n; i++) {
		x = x * 1103515245 + 12345;
		pat[i] = (uint8_t)(x >> 16);
	}
	map_rw(g, 0x1000, 0x1000);
	map_rw(g, 0x2000, 0x3000);
	map_rw(g, 0x6000, 0x1000);
	map_rw(g, 0x8000, 0x1000);
	/* Across two adjacent regions and a page boundary. */
	OK(gm_mem_write(g, 0x1c00, pat, n, ERR));
	/* Split by a hole at 0x7000: not a match. */
	OK(gm_mem_write(g, 0x6000, pat, 0x1000, ERR));
	OK(gm_mem_write(g, 0x8000, pat + 0x1000, 0x800, ERR));
	ASSERT_EQ(search(g, pat, n, NULL, &m), 1);
	ASSERT_EQ(m.addr[0], 0x1c00);
	free(pat);
	gm_guest_close(g);
}

TEST(search_finds_match_ending_at_top_of_64bit_space)
{
	struct gm_guest *g = guest_open("x86_64");
	struct matches m = {0};

	OK(gm_map(g, 0xfffffffffffff000, 0x1000, GM_PERM_R | GM_PERM_W, NULL, 0,
		  ERR));
	OK(gm_mem_write(g, 0xfffffffffffffffc, "TOP!", 4, ERR));
	ASSERT_EQ(search(g, "TOP!", 4, NULL, &m), 1);
	ASSERT_EQ(m.addr[0], 0xfffffffffffffffc);
	gm_guest_close(g);
}
