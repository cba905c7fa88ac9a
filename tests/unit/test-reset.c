/*
 * gm_guest_reset makes a used guest a fresh one, in the same engine: the
 * fuzzers reuse one guest per architecture on that promise, so that no
 * input's result depends on the input before it.
 */
#include <unicorn/unicorn.h>

#include "fresh.h"
#include "guest.h"
#include "memory.h"
#include "regions.h"
#include "regs.h"
#include "snapshot.h"
#include "test.h"

/* Everything a user can change: regions, bytes, protections, labels,
 * snapshots (named and "snap-N"), limits, every register, and a run. */
static void dirty(struct gm_guest *g)
{
	const struct gm_arch *arch = gm_guest_arch(g);
	uint64_t page = gm_guest_page_size(g);
	uc_engine *uc = gm_guest_engine(g);
	uint8_t junk[64];

	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = (uint8_t)(i * 37 + 1);
	OK(gm_map(g, 0x10000, 8 * page, GM_PERM_R | GM_PERM_W | GM_PERM_X,
		  "code", 4, ERR));
	OK(gm_map(g, 0x40000, 4 * page, GM_PERM_R | GM_PERM_W, "data", 4, ERR));
	OK(gm_mem_write(g, 0x10000, junk, sizeof(junk), ERR));
	OK(gm_protect(g, 0x40000 + page, page, GM_PERM_R, ERR));
	OK(gm_set_label(g, 0x40000, "other", 5, ERR));
	OK(gm_snap_save(g, "named", NULL, ERR));
	OK(gm_snap_save(g, NULL, NULL, ERR));
	gm_guest_set_region_limit(g, 5);
	gm_guest_set_snapshot_limit(g, 3 * page);
	/* Junk in the registers, then code runs (or faults) from it. */
	for (size_t i = 0; i < arch->nregs; i++)
		gm_reg_write(g, &arch->regs[i], 0x1234567 * (i + 1), NULL);
	OK(gm_reg_write(g, gm_arch_reg(arch, "pc"), 0x10000, ERR));
	uc_emu_start(uc, 0x10000, 0x10000 + 8 * page, 0, 16);
}

TEST(reset_makes_every_architecture_fresh)
{
	const struct gm_arch *arch;

	for (size_t i = 0; (arch = gm_arch_at(i)); i++) {
		struct gm_guest *g = NULL;

		OK(gm_guest_open(arch, &g, ERR));
		gm_fuzz_check_fresh(g, arch->name); /* the check itself */
		dirty(g);
		OK(gm_guest_reset(g, ERR));
		gm_fuzz_check_fresh(g, arch->name);
		/* Twice: a reset guest resets too. */
		dirty(g);
		OK(gm_guest_reset(g, ERR));
		gm_fuzz_check_fresh(g, arch->name);
		gm_guest_close(g);
	}
}

/* arm64: movz x0, #IMM; then b .+0x100 out of the block. */
static void arm64_code(struct gm_guest *g, unsigned imm)
{
	const uint32_t code[2] = {0xd2800000u | imm << 5, 0x14000040u};

	OK(gm_map(g, 0x10000, 0x400, GM_PERM_R | GM_PERM_X, "code", 4, ERR));
	OK(gm_mem_write(g, 0x10000, code, sizeof(code), ERR));
}

/* Code translated before a reset never runs after it: the same address
 * mapped again with other code runs the other code. */
TEST(reset_drops_translated_code)
{
	struct gm_guest *g = NULL;
	const struct gm_reg *x0;
	uint64_t v = 0;

	OK(gm_guest_open(gm_arch_find("arm64"), &g, ERR));
	x0 = gm_arch_reg(gm_guest_arch(g), "x0");
	arm64_code(g, 1);
	ASSERT_EQ(uc_emu_start(gm_guest_engine(g), 0x10000, 0x10004, 0, 0),
		  UC_ERR_OK);
	OK(gm_reg_read(g, x0, &v, ERR));
	ASSERT_EQ(v, 1);
	OK(gm_guest_reset(g, ERR));
	arm64_code(g, 2);
	ASSERT_EQ(uc_emu_start(gm_guest_engine(g), 0x10000, 0x10004, 0, 0),
		  UC_ERR_OK);
	OK(gm_reg_read(g, x0, &v, ERR));
	ASSERT_EQ(v, 2);
	gm_guest_close(g);
}
