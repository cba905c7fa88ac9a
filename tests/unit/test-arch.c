/*
 * The architecture table: names, word size, byte order, stack defaults,
 * and registers that every engine reads and writes back exactly, in an
 * order that lets a snapshot restore them onto a fresh engine.
 */
#include <errno.h>
#include <stdbool.h>

#include "arch.h"
#include "guest.h"
#include "regs.h"
#include "test.h"

#include <unicorn/unicorn.h>

/* What SPEC §1 and Qiling say each architecture is, written out by hand so
 * that the table is checked against something it was not copied from. */
static const struct {
	const char *name;
	int uc_arch, uc_mode;
	unsigned pointer_size;
	bool big_endian;
	unsigned address_bits;
	uint64_t page_size;
	const char *pc, *sp;
	size_t nregs;
} want[] = {
    {"x86", UC_ARCH_X86, UC_MODE_32, 4, false, 32, 4096, "eip", "esp", 15},
    {"x86_64", UC_ARCH_X86, UC_MODE_64, 8, false, 64, 4096, "rip", "rsp", 26},
    {"arm", UC_ARCH_ARM, UC_MODE_ARM, 4, false, 32, 1024, "pc", "sp", 17},
    {"arm64", UC_ARCH_ARM64, UC_MODE_ARM, 8, false, 64, 1024, "pc", "sp", 35},
    {"mips", UC_ARCH_MIPS, UC_MODE_MIPS32 | UC_MODE_BIG_ENDIAN, 4, true, 32,
     4096, "pc", "sp", 35},
    {"mipsel", UC_ARCH_MIPS, UC_MODE_MIPS32 | UC_MODE_LITTLE_ENDIAN, 4, false,
     32, 4096, "pc", "sp", 35},
    {"riscv32", UC_ARCH_RISCV, UC_MODE_RISCV32, 4, false, 32, 4096, "pc", "sp",
     33},
    {"riscv64", UC_ARCH_RISCV, UC_MODE_RISCV64, 8, false, 64, 4096, "pc", "sp",
     33},
};

#define NWANT (sizeof(want) / sizeof(want[0]))

static struct gm_guest *open_guest(const struct gm_arch *arch)
{
	struct gm_guest *g = NULL;

	ASSERT(arch != NULL);
	OK(gm_guest_open(arch, &g, ERR));
	return g;
}

/*
 * Registers whose bits the CPU or Unicorn decides: flags and mode keep
 * reserved bits and refuse invalid modes, segment selectors are checked
 * against descriptor tables that a fresh engine does not have, and `zero`
 * is hard-wired. Those are written back with the value read, not a
 * pattern.
 */
static bool cpu_forces_bits(const struct gm_reg *r)
{
	static const char *const forced[] = {
	    "eflags", "cpsr", "nzcv", "zero", "cs",
	    "ss",     "ds",   "es",   "fs",   "gs",
	};

	for (size_t i = 0; i < sizeof(forced) / sizeof(forced[0]); i++)
		if (strcmp(r->name, forced[i]) == 0)
			return true;
	return false;
}

/* A value for the Ith register that differs from every other register's
 * in its low bits, sets the register's top bit, and keeps the low nibble
 * clear so that a PC stays aligned (an odd ARM PC would mean Thumb). */
static uint64_t pattern(size_t i, unsigned bits)
{
	uint64_t v =
	    0xc877665594332210ULL ^ ((uint64_t)(i + 1) * 0x0101010101010100ULL);

	return bits == 64 ? v : v & ((UINT64_C(1) << bits) - 1);
}

static uint64_t reg_get(struct gm_guest *g, const struct gm_reg *r)
{
	uint64_t v = 0;

	OK(gm_reg_read(g, r, &v, ERR));
	return v;
}

/* The register NAME of ARCH, failing the case by name when it is missing. */
static const struct gm_reg *reg_of(const char *arch, const char *name)
{
	const struct gm_reg *r = gm_arch_reg(gm_arch_find(arch), name);

	if (!r)
		TEST_FAIL("%s has no register %s", arch, name);
	return r;
}

TEST(every_arch_opens_with_its_page_size_and_address_space)
{
	for (size_t i = 0; i < NWANT; i++) {
		const struct gm_arch *a = gm_arch_find(want[i].name);
		struct gm_guest *g = open_guest(a);

		ASSERT(gm_guest_arch(g) == a);
		ASSERT_EQ(gm_guest_page_size(g), want[i].page_size);
		ASSERT_EQ(gm_guest_last_addr(g), want[i].address_bits == 64
						     ? UINT64_MAX
						     : 0xffffffffULL);
		gm_guest_close(g);
	}
}

TEST(arches_are_listed_in_spec_order)
{
	for (size_t i = 0; i < NWANT; i++) {
		ASSERT(gm_arch_at(i) != NULL);
		ASSERT_STR(gm_arch_at(i)->name, want[i].name);
		ASSERT(gm_arch_find(want[i].name) == gm_arch_at(i));
	}
	ASSERT(gm_arch_at(NWANT) == NULL);
	ASSERT(gm_arch_at((size_t)-1) == NULL);
}

TEST(find_unknown_arch_is_null)
{
	ASSERT(gm_arch_find("sparc") == NULL);
	ASSERT(gm_arch_find("") == NULL);
	ASSERT(gm_arch_find("x86_6") == NULL);
	ASSERT(gm_arch_find("x86_64 ") == NULL);
	ASSERT(gm_arch_find("X86_64") == NULL);
	ASSERT(gm_arch_find(NULL) == NULL);
}

TEST(arch_word_size_byte_order_and_engine_mode)
{
	for (size_t i = 0; i < NWANT; i++) {
		const struct gm_arch *a = gm_arch_find(want[i].name);

		ASSERT(a != NULL);
		ASSERT_EQ(a->uc_arch, want[i].uc_arch);
		ASSERT_EQ(a->uc_mode, want[i].uc_mode);
		ASSERT_EQ(a->pointer_size, want[i].pointer_size);
		ASSERT_EQ(a->big_endian, want[i].big_endian);
		ASSERT_EQ(a->address_bits, want[i].address_bits);
	}
}

TEST(stack_defaults_are_qilings)
{
	for (size_t i = 0; i < NWANT; i++) {
		const struct gm_arch *a = gm_arch_find(want[i].name);

		if (want[i].address_bits == 64) {
			ASSERT_EQ(a->stack_addr, 0x7ffffffde000ULL);
			ASSERT_EQ(a->stack_size, 0x21000ULL);
		} else {
			ASSERT_EQ(a->stack_addr, 0x7ff0d000ULL);
			ASSERT_EQ(a->stack_size, 0x30000ULL);
		}
		/* Qiling's stacks are whole pages even at 4 KiB. */
		ASSERT_EQ(a->stack_addr % 4096, 0);
		ASSERT_EQ(a->stack_size % 4096, 0);
	}
}

TEST(pc_and_sp_aliases_name_the_real_registers)
{
	for (size_t i = 0; i < NWANT; i++) {
		const struct gm_arch *a = gm_arch_find(want[i].name);
		const struct gm_reg *pc = gm_arch_reg(a, "pc");
		const struct gm_reg *sp = gm_arch_reg(a, "sp");

		ASSERT_STR(a->pc_name, want[i].pc);
		ASSERT_STR(a->sp_name, want[i].sp);
		ASSERT(pc != NULL && sp != NULL);
		ASSERT_STR(pc->name, want[i].pc);
		ASSERT_STR(sp->name, want[i].sp);
		ASSERT(gm_arch_reg(a, want[i].pc) == pc);
		ASSERT(gm_arch_reg(a, want[i].sp) == sp);
		/* Program counter and stack pointer are pointer-wide. */
		ASSERT_EQ(pc->bits, a->pointer_size * 8);
		ASSERT_EQ(sp->bits, a->pointer_size * 8);
	}
	ASSERT_EQ(reg_of("x86_64", "pc")->uc_id, UC_X86_REG_RIP);
	ASSERT_EQ(reg_of("x86_64", "sp")->uc_id, UC_X86_REG_RSP);
	ASSERT_EQ(reg_of("x86", "sp")->uc_id, UC_X86_REG_ESP);
	ASSERT_EQ(reg_of("arm64", "sp")->uc_id, UC_ARM64_REG_SP);
	ASSERT_EQ(reg_of("mips", "sp")->uc_id, UC_MIPS_REG_SP);
	ASSERT_EQ(reg_of("riscv64", "pc")->uc_id, UC_RISCV_REG_PC);
}

TEST(register_lookup_by_name)
{
	const struct gm_arch *x64 = gm_arch_find("x86_64");
	const struct gm_arch *a64 = gm_arch_find("arm64");

	ASSERT_EQ(reg_of("x86_64", "rax")->uc_id, UC_X86_REG_RAX);
	ASSERT_EQ(reg_of("x86_64", "r15")->uc_id, UC_X86_REG_R15);
	ASSERT_EQ(reg_of("x86_64", "fs_base")->uc_id, UC_X86_REG_FS_BASE);
	ASSERT_EQ(reg_of("x86_64", "eflags")->bits, 32);
	ASSERT_EQ(reg_of("x86_64", "cs")->bits, 16);
	ASSERT_EQ(reg_of("x86", "eax")->bits, 32);
	ASSERT_EQ(reg_of("arm64", "fp")->uc_id, UC_ARM64_REG_X29);
	ASSERT_EQ(reg_of("arm64", "lr")->uc_id, UC_ARM64_REG_X30);
	ASSERT_EQ(reg_of("arm64", "x28")->uc_id, UC_ARM64_REG_X28);
	ASSERT_EQ(reg_of("arm", "cpsr")->uc_id, UC_ARM_REG_CPSR);
	ASSERT_EQ(reg_of("mips", "ra")->uc_id, UC_MIPS_REG_31);
	ASSERT_EQ(reg_of("mips", "fp")->uc_id, UC_MIPS_REG_30);
	ASSERT_EQ(reg_of("mips", "lo")->uc_id, UC_MIPS_REG_LO);
	ASSERT_EQ(reg_of("riscv32", "t6")->uc_id, UC_RISCV_REG_X31);
	ASSERT_EQ(reg_of("riscv32", "a0")->bits, 32);
	ASSERT_EQ(reg_of("riscv64", "a0")->bits, 64);

	/* Names of another architecture, of nothing, or not lowercase. */
	ASSERT(gm_arch_reg(x64, "x0") == NULL);
	ASSERT(gm_arch_reg(x64, "eax") == NULL);
	ASSERT(gm_arch_reg(a64, "rax") == NULL);
	ASSERT(gm_arch_reg(x64, "") == NULL);
	ASSERT(gm_arch_reg(x64, "RAX") == NULL);
	ASSERT(gm_arch_reg(x64, NULL) == NULL);
	ASSERT(gm_arch_reg(NULL, "pc") == NULL);
}

TEST(register_names_and_engine_ids_are_unique)
{
	for (size_t i = 0; i < NWANT; i++) {
		const struct gm_arch *a = gm_arch_find(want[i].name);

		ASSERT_EQ(a->nregs, want[i].nregs);
		for (size_t j = 0; j < a->nregs; j++) {
			const struct gm_reg *r = &a->regs[j];

			ASSERT(r->name != NULL && r->name[0] != '\0');
			ASSERT(r->bits == 16 || r->bits == 32 || r->bits == 64);
			ASSERT(gm_arch_reg(a, r->name) == r);
			for (size_t k = j + 1; k < a->nregs; k++) {
				if (strcmp(r->name, a->regs[k].name) == 0)
					TEST_FAIL("%s: %s twice", a->name,
						  r->name);
				if (r->uc_id == a->regs[k].uc_id)
					TEST_FAIL("%s: %s and %s are one "
						  "register",
						  a->name, r->name,
						  a->regs[k].name);
			}
		}
	}
}

TEST(flags_and_mode_registers_come_first)
{
	ASSERT_STR(gm_arch_find("x86")->regs[0].name, "eflags");
	ASSERT_STR(gm_arch_find("x86_64")->regs[0].name, "eflags");
	ASSERT_STR(gm_arch_find("arm")->regs[0].name, "cpsr");
	ASSERT_STR(gm_arch_find("arm64")->regs[0].name, "nzcv");
}

/*
 * Read each register straight from the engine into buffers filled with two
 * different bytes: the bytes it wrote agree in both, the others kept their
 * filler. A table width narrower than that would lose the high bits.
 */
TEST(register_widths_are_what_the_engine_reads)
{
	for (size_t i = 0; i < NWANT; i++) {
		const struct gm_arch *a = gm_arch_find(want[i].name);
		struct gm_guest *g = open_guest(a);
		uc_engine *uc = gm_guest_engine(g);

		for (size_t j = 0; j < a->nregs; j++) {
			const struct gm_reg *r = &a->regs[j];
			uint8_t b1[64], b2[64];
			unsigned bytes = 0;

			memset(b1, 0xcc, sizeof(b1));
			memset(b2, 0x33, sizeof(b2));
			ASSERT_EQ(uc_reg_read(uc, r->uc_id, b1), UC_ERR_OK);
			ASSERT_EQ(uc_reg_read(uc, r->uc_id, b2), UC_ERR_OK);
			for (unsigned k = 0; k < sizeof(b1); k++)
				if (b1[k] == b2[k])
					bytes = k + 1;
			if (bytes * 8 != r->bits)
				TEST_FAIL("%s %s: table says %u bits, engine "
					  "reads %u",
					  a->name, r->name, r->bits, bytes * 8);
		}
		gm_guest_close(g);
	}
}

/*
 * Write a distinct pattern into every register first and read them all
 * afterwards, so that two entries naming one engine register, or a write
 * that spills into a neighbour, show up as a wrong value.
 */
TEST(every_register_round_trips)
{
	for (size_t i = 0; i < NWANT; i++) {
		const struct gm_arch *a = gm_arch_find(want[i].name);
		struct gm_guest *g = open_guest(a);
		uint64_t v[64];

		ASSERT(a->nregs <= 64);
		for (size_t j = 0; j < a->nregs; j++) {
			const struct gm_reg *r = &a->regs[j];

			v[j] = cpu_forces_bits(r) ? reg_get(g, r)
						  : pattern(j, r->bits);
			OK(gm_reg_write(g, r, v[j], ERR));
		}
		for (size_t j = 0; j < a->nregs; j++) {
			uint64_t got = reg_get(g, &a->regs[j]);

			if (got != v[j])
				TEST_FAIL("%s %s: wrote 0x%" PRIx64
					  ", read 0x%" PRIx64,
					  a->name, a->regs[j].name, v[j], got);
		}
		gm_guest_close(g);
	}
}

/* Values the CPU accepts as they are, so flags are really written (a
 * write that did nothing would pass the write-back of the test above). */
TEST(flags_take_valid_values_exactly)
{
	static const struct {
		const char *arch, *reg;
		uint64_t value;
	} cases[] = {
	    {"x86", "eflags", 0xcd7},	   /* OF DF SF ZF AF PF CF */
	    {"x86_64", "eflags", 0x247},   /* IF ZF PF CF */
	    {"arm", "cpsr", 0xa00001d3},   /* N C, SVC mode */
	    {"arm", "cpsr", 0x00000010},   /* user mode */
	    {"arm64", "nzcv", 0x60000000}, /* Z C */
	    {"x86_64", "cs", 0x33},	   /* Linux user CS, SS */
	    {"x86_64", "ss", 0x2b},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct gm_arch *a = gm_arch_find(cases[i].arch);
		const struct gm_reg *r = gm_arch_reg(a, cases[i].reg);
		struct gm_guest *g = open_guest(a);

		ASSERT(r != NULL);
		ASSERT(reg_get(g, r) != cases[i].value);
		OK(gm_reg_write(g, r, cases[i].value, ERR));
		ASSERT_EQ(reg_get(g, r), cases[i].value);
		gm_guest_close(g);
	}
}

TEST(value_wider_than_register_is_erange)
{
	for (size_t i = 0; i < NWANT; i++) {
		const struct gm_arch *a = gm_arch_find(want[i].name);
		struct gm_guest *g = open_guest(a);

		for (size_t j = 0; j < a->nregs; j++) {
			const struct gm_reg *r = &a->regs[j];
			uint64_t before = reg_get(g, r);

			if (r->bits == 64)
				continue;
			FAILS(ERANGE,
			      gm_reg_write(g, r, UINT64_C(1) << r->bits, ERR));
			FAILS(ERANGE, gm_reg_write(g, r, UINT64_MAX, ERR));
			ASSERT_EQ(reg_get(g, r), before);
		}
		gm_guest_close(g);
	}
}

TEST(set_sp_round_trips_through_the_real_register)
{
	for (size_t i = 0; i < NWANT; i++) {
		const struct gm_arch *a = gm_arch_find(want[i].name);
		const struct gm_reg *sp = gm_arch_reg(a, a->sp_name);
		struct gm_guest *g = open_guest(a);
		uint64_t top = a->stack_addr + a->stack_size;

		OK(gm_reg_set_sp(g, top, ERR));
		ASSERT_EQ(gm_reg_sp(g), top);
		ASSERT_EQ(reg_get(g, sp), top);
		OK(gm_reg_write(g, sp, top - 8, ERR));
		ASSERT_EQ(gm_reg_sp(g), top - 8);
		if (a->address_bits == 32) {
			FAILS(ERANGE, gm_reg_set_sp(g, 0x100000000ULL, ERR));
			ASSERT_EQ(gm_reg_sp(g), top - 8);
		} else {
			OK(gm_reg_set_sp(g, 0xfffffffffffffff0ULL, ERR));
			ASSERT_EQ(gm_reg_sp(g), 0xfffffffffffffff0ULL);
		}
		gm_guest_close(g);
	}
}

TEST(pc_reads_what_was_written)
{
	for (size_t i = 0; i < NWANT; i++) {
		const struct gm_arch *a = gm_arch_find(want[i].name);
		struct gm_guest *g = open_guest(a);

		OK(gm_reg_write(g, gm_arch_reg(a, "pc"), 0x10000, ERR));
		ASSERT_EQ(gm_reg_pc(g), 0x10000);
		gm_guest_close(g);
	}
}

/* Values that only survive if the table order is right: ARM user mode
 * banks SP and LR, and loading fs/gs on x86_64 resets their bases. */
static uint64_t restore_value(const struct gm_reg *r, size_t j, uint64_t read)
{
	if (strcmp(r->name, "cpsr") == 0)
		return 0x80000010;
	if (strcmp(r->name, "nzcv") == 0)
		return 0x90000000;
	if (strcmp(r->name, "eflags") == 0)
		return 0x287;
	return cpu_forces_bits(r) ? read : pattern(j, r->bits);
}

/*
 * What a snapshot restore does: write one engine's registers onto a fresh
 * engine in table order. Every register must then read as saved.
 */
TEST(table_order_restores_onto_a_fresh_engine)
{
	for (size_t i = 0; i < NWANT; i++) {
		const struct gm_arch *a = gm_arch_find(want[i].name);
		struct gm_guest *src = open_guest(a);
		struct gm_guest *dst = open_guest(a);
		uint64_t saved[64];

		ASSERT(a->nregs <= 64);
		/* Set the source up mode first whatever the table says, so
		 * that it holds the banked values (user SP, fs_base). */
		for (int pass = 0; pass < 2; pass++) {
			for (size_t j = 0; j < a->nregs; j++) {
				const struct gm_reg *r = &a->regs[j];

				if (cpu_forces_bits(r) != (pass == 0))
					continue;
				OK(gm_reg_write(
				    src, r,
				    restore_value(r, j, reg_get(src, r)), ERR));
			}
		}
		for (size_t j = 0; j < a->nregs; j++)
			saved[j] = reg_get(src, &a->regs[j]);
		for (size_t j = 0; j < a->nregs; j++)
			OK(gm_reg_write(dst, &a->regs[j], saved[j], ERR));
		for (size_t j = 0; j < a->nregs; j++) {
			uint64_t got = reg_get(dst, &a->regs[j]);

			if (got != saved[j])
				TEST_FAIL("%s %s: saved 0x%" PRIx64
					  ", restored 0x%" PRIx64,
					  a->name, a->regs[j].name, saved[j],
					  got);
		}
		gm_guest_close(dst);
		gm_guest_close(src);
	}
}
