/*
 * Unit tests of core/stack.h, after Qiling's arch.py: push and pop move SP
 * by the pointer size, read and write at SP + offset leave it alone.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <unicorn/unicorn.h>

#include "arch.h"
#include "guest.h"
#include "memory.h"
#include "regions.h"
#include "regs.h"
#include "stack.h"
#include "test.h"

#define STACK_BASE 0x10000
#define STACK_TOP  0x20000

/* A guest of ARCH with [BASE, TOP) mapped rw- and SP at SP. */
static struct gm_guest *stack_open(const char *name, uint64_t base,
				   uint64_t top, uint64_t sp)
{
	const struct gm_arch *arch = gm_arch_find(name);
	struct gm_guest *g = NULL;

	if (arch == NULL)
		TEST_FAIL("no architecture %s", name);
	OK(gm_guest_open(arch, &g, ERR));
	OK(gm_map(g, base, top - base, GM_PERM_R | GM_PERM_W, "[stack]", 7,
		  ERR));
	OK(gm_reg_set_sp(g, sp, ERR));
	ASSERT_EQ(gm_reg_sp(g), sp);
	return g;
}

static struct gm_guest *default_stack(const char *name)
{
	return stack_open(name, STACK_BASE, STACK_TOP, STACK_TOP);
}

/* The guest's bytes as the engine sees them, independent of the core. */
static void assert_bytes(struct gm_guest *g, uint64_t addr, const uint8_t *want,
			 size_t n)
{
	uint8_t seen[16];
	uc_err e;

	ASSERT(n <= sizeof(seen));
	e = uc_mem_read(gm_guest_engine(g), addr, seen, n);
	if (e != UC_ERR_OK)
		TEST_FAIL("uc_mem_read: %s", uc_strerror(e));
	ASSERT_MEM(seen, want, n);
}

static void engine_fill(struct gm_guest *g, uint64_t addr, int byte,
			size_t size)
{
	uint8_t buf[64];
	uc_err e;

	ASSERT(size <= sizeof(buf));
	memset(buf, byte, size);
	e = uc_mem_write(gm_guest_engine(g), addr, buf, size);
	if (e != UC_ERR_OK)
		TEST_FAIL("uc_mem_write: %s", uc_strerror(e));
}

static uint64_t push(struct gm_guest *g, uint64_t value)
{
	uint64_t sp = 0xdeadbeef;

	OK(gm_stack_push(g, value, &sp, ERR));
	return sp;
}

static uint64_t pop(struct gm_guest *g)
{
	uint64_t v = 0xdeadbeef;

	OK(gm_stack_pop(g, &v, ERR));
	return v;
}

static uint64_t sread(struct gm_guest *g, int64_t offset)
{
	uint64_t v = 0xdeadbeef;

	OK(gm_stack_read(g, offset, &v, ERR));
	return v;
}

/* Push */

TEST(stack_push_x86_64_writes_little_endian_word)
{
	struct gm_guest *g = default_stack("x86_64");
	static const uint8_t want[] = {0x88, 0x77, 0x66, 0x55,
				       0x44, 0x33, 0x22, 0x11};

	ASSERT_EQ(push(g, 0x1122334455667788), STACK_TOP - 8);
	ASSERT_EQ(gm_reg_sp(g), STACK_TOP - 8);
	assert_bytes(g, STACK_TOP - 8, want, sizeof(want));
	ASSERT_EQ(push(g, 0xffffffffffffffff), STACK_TOP - 16);
	ASSERT_EQ(gm_reg_sp(g), STACK_TOP - 16);
	gm_guest_close(g);
}

TEST(stack_push_x86_writes_4_byte_word)
{
	struct gm_guest *g = default_stack("x86");
	static const uint8_t want[] = {0xaa, 0xaa, 0xaa, 0xaa,
				       0x44, 0x33, 0x22, 0x11};

	engine_fill(g, STACK_TOP - 8, 0xaa, 8);
	ASSERT_EQ(push(g, 0x11223344), STACK_TOP - 4);
	ASSERT_EQ(gm_reg_sp(g), STACK_TOP - 4);
	assert_bytes(g, STACK_TOP - 8, want, sizeof(want));
	gm_guest_close(g);
}

TEST(stack_push_mips_writes_big_endian_word)
{
	struct gm_guest *g = default_stack("mips");
	static const uint8_t want[] = {0xaa, 0xaa, 0xaa, 0xaa,
				       0x11, 0x22, 0x33, 0x44};

	engine_fill(g, STACK_TOP - 8, 0xaa, 8);
	ASSERT_EQ(push(g, 0x11223344), STACK_TOP - 4);
	ASSERT_EQ(gm_reg_sp(g), STACK_TOP - 4);
	assert_bytes(g, STACK_TOP - 8, want, sizeof(want));
	gm_guest_close(g);
}

TEST(stack_push_value_too_wide_is_erange)
{
	struct gm_guest *g = default_stack("x86");
	static const uint8_t want[] = {0xaa, 0xaa, 0xaa, 0xaa};
	uint64_t sp = 0x1234;

	engine_fill(g, STACK_TOP - 4, 0xaa, 4);
	FAILS(ERANGE, gm_stack_push(g, 0x100000000, &sp, ERR));
	ASSERT_EQ(gm_reg_sp(g), STACK_TOP);
	assert_bytes(g, STACK_TOP - 4, want, sizeof(want));
	/* The widest value that fits still goes in. */
	ASSERT_EQ(push(g, 0xffffffff), STACK_TOP - 4);
	gm_guest_close(g);
}

TEST(stack_push_to_unmapped_is_efault)
{
	struct gm_guest *g =
	    stack_open("x86_64", STACK_BASE, STACK_TOP, STACK_BASE);
	uint64_t sp = 0x1234;

	FAILS(EFAULT, gm_stack_push(g, 1, &sp, ERR));
	ASSERT_EQ(gm_reg_sp(g), STACK_BASE);
	/* Half of the word would land below the region. */
	OK(gm_reg_set_sp(g, STACK_BASE + 4, ERR));
	FAILS(EFAULT, gm_stack_push(g, 1, &sp, ERR));
	ASSERT_EQ(gm_reg_sp(g), STACK_BASE + 4);
	gm_guest_close(g);
}

TEST(stack_push_below_address_zero_is_efault)
{
	struct gm_guest *g = stack_open("x86", 0, 0x1000, 2);
	uint64_t sp = 0x1234;

	/* SP - 4 would wrap to the top page, which is mapped. */
	OK(gm_map(g, 0xfffff000, 0x1000, GM_PERM_R | GM_PERM_W, NULL, 0, ERR));
	FAILS(EFAULT, gm_stack_push(g, 1, &sp, ERR));
	ASSERT_EQ(gm_reg_sp(g), 2);
	gm_guest_close(g);
}

/* Pop */

TEST(stack_pop_returns_value_and_moves_sp_back)
{
	struct gm_guest *g = default_stack("x86_64");

	push(g, 0x1111);
	push(g, 0x2222222222222222);
	ASSERT_EQ(pop(g), 0x2222222222222222);
	ASSERT_EQ(gm_reg_sp(g), STACK_TOP - 8);
	ASSERT_EQ(pop(g), 0x1111);
	ASSERT_EQ(gm_reg_sp(g), STACK_TOP);
	gm_guest_close(g);
}

TEST(stack_pop_reads_guest_byte_order)
{
	static const uint8_t word[] = {0x11, 0x22, 0x33, 0x44};
	struct gm_guest *g =
	    stack_open("mips", STACK_BASE, STACK_TOP, STACK_TOP - 4);

	OK(gm_mem_write(g, STACK_TOP - 4, word, sizeof(word), ERR));
	ASSERT_EQ(pop(g), 0x11223344);
	ASSERT_EQ(gm_reg_sp(g), STACK_TOP);
	gm_guest_close(g);

	g = stack_open("x86", STACK_BASE, STACK_TOP, STACK_TOP - 4);
	OK(gm_mem_write(g, STACK_TOP - 4, word, sizeof(word), ERR));
	ASSERT_EQ(pop(g), 0x44332211);
	ASSERT_EQ(gm_reg_sp(g), STACK_TOP);
	gm_guest_close(g);
}

TEST(stack_pop_from_unmapped_is_efault)
{
	struct gm_guest *g = default_stack("x86_64");
	uint64_t v = 0;

	FAILS(EFAULT, gm_stack_pop(g, &v, ERR));
	ASSERT_EQ(gm_reg_sp(g), STACK_TOP);
	/* The word straddles the end of the region. */
	OK(gm_reg_set_sp(g, STACK_TOP - 4, ERR));
	FAILS(EFAULT, gm_stack_pop(g, &v, ERR));
	ASSERT_EQ(gm_reg_sp(g), STACK_TOP - 4);
	gm_guest_close(g);
}

/* Read and write at an offset */

TEST(stack_read_write_at_offsets_keep_sp)
{
	uint64_t sp = STACK_BASE + 0x8000;
	struct gm_guest *g = stack_open("x86_64", STACK_BASE, STACK_TOP, sp);
	uint64_t v = 0;

	OK(gm_stack_write(g, 8, 0x0807060504030201, ERR));
	OK(gm_stack_write(g, -8, 0xa1a2a3a4a5a6a7a8, ERR));
	OK(gm_stack_write(g, 0, 0x42, ERR));
	ASSERT_EQ(gm_reg_sp(g), sp);
	OK(gm_mem_read_ptr(g, sp + 8, 8, false, &v, ERR));
	ASSERT_EQ(v, 0x0807060504030201);
	OK(gm_mem_read_ptr(g, sp - 8, 8, false, &v, ERR));
	ASSERT_EQ(v, 0xa1a2a3a4a5a6a7a8);
	ASSERT_EQ(sread(g, 8), 0x0807060504030201);
	ASSERT_EQ(sread(g, -8), 0xa1a2a3a4a5a6a7a8);
	ASSERT_EQ(sread(g, 0), 0x42);
	/* Offsets need not be word multiples. */
	ASSERT_EQ(sread(g, -1), 0x42a1);
	ASSERT_EQ(gm_reg_sp(g), sp);
	gm_guest_close(g);
}

TEST(stack_write_x86_uses_4_byte_words)
{
	uint64_t sp = STACK_BASE + 0x100;
	struct gm_guest *g = stack_open("x86", STACK_BASE, STACK_TOP, sp);
	static const uint8_t want[] = {0xaa, 0xaa, 0xaa, 0xaa, 0x78, 0x56,
				       0x34, 0x12, 0xaa, 0xaa, 0xaa, 0xaa};

	engine_fill(g, sp - 8, 0xaa, 12);
	OK(gm_stack_write(g, -4, 0x12345678, ERR));
	assert_bytes(g, sp - 8, want, sizeof(want));
	ASSERT_EQ(sread(g, -4), 0x12345678);
	ASSERT_EQ(sread(g, -8), 0xaaaaaaaa);
	FAILS(ERANGE, gm_stack_write(g, 0, 0x100000000, ERR));
	ASSERT_EQ(sread(g, 0), 0xaaaaaaaa);
	ASSERT_EQ(gm_reg_sp(g), sp);
	gm_guest_close(g);
}

TEST(stack_write_mips_is_big_endian)
{
	uint64_t sp = STACK_BASE + 0x100;
	struct gm_guest *g = stack_open("mips", STACK_BASE, STACK_TOP, sp);
	static const uint8_t want[] = {0xde, 0xad, 0xbe, 0xef};

	OK(gm_stack_write(g, 4, 0xdeadbeef, ERR));
	assert_bytes(g, sp + 4, want, sizeof(want));
	ASSERT_EQ(sread(g, 4), 0xdeadbeef);
	ASSERT_EQ(gm_reg_sp(g), sp);
	gm_guest_close(g);
}

TEST(stack_read_write_unmapped_is_efault)
{
	struct gm_guest *g = default_stack("x86_64");
	uint64_t v = 0;

	FAILS(EFAULT, gm_stack_read(g, 0, &v, ERR));
	FAILS(EFAULT, gm_stack_read(g, 0x100, &v, ERR));
	FAILS(EFAULT, gm_stack_read(g, -4, &v, ERR));
	FAILS(EFAULT, gm_stack_write(g, 0, 1, ERR));
	FAILS(EFAULT, gm_stack_write(g, -STACK_TOP, 1, ERR));
	ASSERT_EQ(sread(g, -8), 0);
	ASSERT_EQ(gm_reg_sp(g), STACK_TOP);
	gm_guest_close(g);
}

TEST(stack_offset_leaving_32bit_space_is_efault)
{
	struct gm_guest *g = stack_open("x86", 0, 0x1000, 0x10);
	uint64_t v = 0;

	/* Both ends are mapped, so wrapping around would "work". */
	OK(gm_map(g, 0xfffff000, 0x1000, GM_PERM_R | GM_PERM_W, NULL, 0, ERR));
	FAILS(EFAULT, gm_stack_read(g, -0x100, &v, ERR));
	FAILS(EFAULT, gm_stack_write(g, -0x100, 1, ERR));
	OK(gm_reg_set_sp(g, 0xfffff000, ERR));
	FAILS(EFAULT, gm_stack_read(g, 0x1000, &v, ERR));
	FAILS(EFAULT, gm_stack_read(g, 0xffffffc, &v, ERR));
	FAILS(EFAULT, gm_stack_write(g, 0x1010, 1, ERR));
	/* The last word of the space is fine. */
	OK(gm_stack_write(g, 0xffc, 0x5a5a5a5a, ERR));
	ASSERT_EQ(sread(g, 0xffc), 0x5a5a5a5a);
	gm_guest_close(g);
}

TEST(stack_offset_leaving_64bit_space_is_efault)
{
	struct gm_guest *g = stack_open("x86_64", 0, 0x1000, 0x10);
	uint64_t v = 0;

	OK(gm_map(g, 0xfffffffffffff000, 0x1000, GM_PERM_R | GM_PERM_W, NULL, 0,
		  ERR));
	FAILS(EFAULT, gm_stack_read(g, -0x100, &v, ERR));
	FAILS(EFAULT, gm_stack_write(g, -0x100, 1, ERR));
	OK(gm_reg_set_sp(g, 0xfffffffffffff000, ERR));
	FAILS(EFAULT, gm_stack_read(g, 0x1000, &v, ERR));
	FAILS(EFAULT, gm_stack_read(g, INT64_MAX, &v, ERR));
	OK(gm_stack_write(g, 0xff8, 0x0102030405060708, ERR));
	ASSERT_EQ(sread(g, 0xff8), 0x0102030405060708);
	gm_guest_close(g);
}
