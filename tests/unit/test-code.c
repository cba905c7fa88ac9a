/*
 * Translated code stays true: after any change the core makes to bytes,
 * mappings or protections, emulation runs what memory holds now, never
 * what the engine translated before. Unicorn 2.0.1 keeps its translations
 * across uc_mem_protect and uc_mem_unmap, so each case here failed once.
 */
#include <unicorn/unicorn.h>

#include "guest.h"
#include "memory.h"
#include "regions.h"
#include "regs.h"
#include "snapshot.h"
#include "test.h"

/*
 * arm64, 1 KiB pages. At AT: b AT+0x100; at AT+0x100: movz x0, #IMM;
 * b AT+0x200; the run stops at AT+0x200. The movz sits in a block of its
 * own, so a stale translation of it would run again. Zeros are udf #0.
 */
#define PAGE	 0x400
#define CODE	 0x10000
#define ENTRY	 0x14000040u /* b +0x100 */
#define BODY_END 0x1400003fu /* b +0x100, from +0x104 to +0x200 */
#define X0_UNSET 0xdead

static uint32_t movz_x0(unsigned imm)
{
	return 0xd2800000u | imm << 5;
}

static struct gm_guest *open_arm64(void)
{
	struct gm_guest *g = NULL;

	OK(gm_guest_open(gm_arch_find("arm64"), &g, ERR));
	return g;
}

static void write_code(struct gm_guest *g, uint64_t at, unsigned imm)
{
	const uint32_t entry = ENTRY, body[2] = {movz_x0(imm), BODY_END};

	OK(gm_mem_write(g, at, &entry, sizeof(entry), ERR));
	OK(gm_mem_write(g, at + 0x100, body, sizeof(body), ERR));
}

/* Run from AT; *X0 gets x0 (X0_UNSET when the run did not set it). */
static uc_err run(struct gm_guest *g, uint64_t at, uint64_t *x0)
{
	uc_engine *uc = gm_guest_engine(g);
	const struct gm_reg *reg = gm_arch_reg(gm_guest_arch(g), "x0");
	uc_err e;

	OK(gm_reg_write(g, reg, X0_UNSET, ERR));
	e = uc_emu_start(uc, at, at + 0x200, 0, 0);
	OK(gm_reg_read(g, reg, x0, ERR));
	return e;
}

/* Run from AT: it must end well, with x0 = IMM. */
static void run_expect(struct gm_guest *g, uint64_t at, unsigned imm)
{
	uint64_t x0 = 0;
	uc_err e = run(g, at, &x0);

	if (e != UC_ERR_OK)
		TEST_FAIL("the run at 0x%llx: %s", (unsigned long long)at,
			  uc_strerror(e));
	ASSERT_EQ(x0, imm);
}

static void run_fails(struct gm_guest *g, uint64_t at, uc_err want)
{
	uint64_t x0 = 0;
	uc_err e = run(g, at, &x0);

	if (e != want)
		TEST_FAIL("the run at 0x%llx ended with \"%s\", not \"%s\"",
			  (unsigned long long)at, uc_strerror(e),
			  uc_strerror(want));
	ASSERT_EQ(x0, X0_UNSET);
}

/* Taking exec away, alone or with write or read, stops code that ran. */
TEST(protect_taking_exec_stops_translated_code)
{
	static const unsigned no_exec[] = {GM_PERM_R | GM_PERM_W, GM_PERM_R, 0};
	struct gm_guest *g = open_arm64();

	OK(gm_map(g, CODE, PAGE, GM_PERM_ALL, NULL, 0, ERR));
	write_code(g, CODE, 0x1111);
	for (size_t i = 0; i < sizeof(no_exec) / sizeof(no_exec[0]); i++) {
		OK(gm_protect(g, CODE, PAGE, GM_PERM_ALL, ERR));
		run_expect(g, CODE, 0x1111);
		OK(gm_protect(g, CODE, PAGE, no_exec[i], ERR));
		run_fails(g, CODE, UC_ERR_FETCH_PROT);
	}
	gm_guest_close(g);
}

enum unmap_way { BY_UNMAP, BY_UNMAP_ALL, BY_RESTORE };

/* After code ran and its range was unmapped (by unmap, unmap_all or a
 * restore of a snapshot without it), a new map there runs its zeros. */
TEST(map_after_unmap_runs_the_new_zeros)
{
	for (int way = BY_UNMAP; way <= BY_RESTORE; way++) {
		struct gm_guest *g = open_arm64();

		OK(gm_snap_save(g, "empty", NULL, ERR));
		OK(gm_map(g, CODE, PAGE, GM_PERM_ALL, NULL, 0, ERR));
		write_code(g, CODE, 0x1111);
		run_expect(g, CODE, 0x1111);
		if (way == BY_UNMAP)
			OK(gm_unmap(g, CODE, PAGE, ERR));
		else if (way == BY_UNMAP_ALL)
			OK(gm_unmap_all(g, ERR));
		else
			OK(gm_snap_restore(g, "empty", ERR));
		OK(gm_map(g, CODE, PAGE, GM_PERM_ALL, NULL, 0, ERR));
		run_fails(g, CODE, UC_ERR_EXCEPTION);
		gm_guest_close(g);
	}
}

/* Code that ran in a range mapped after the save does not survive the
 * restore that maps the saved region there again. */
TEST(restore_over_a_remapped_range_runs_the_saved_code)
{
	struct gm_guest *g = open_arm64();

	OK(gm_map(g, CODE, PAGE, GM_PERM_ALL, NULL, 0, ERR));
	write_code(g, CODE, 0x1111);
	run_expect(g, CODE, 0x1111);
	OK(gm_snap_save(g, "a", NULL, ERR));
	OK(gm_unmap(g, CODE, PAGE, ERR));
	OK(gm_map(g, CODE, 2 * PAGE, GM_PERM_ALL, NULL, 0, ERR));
	write_code(g, CODE, 0x2222);
	run_expect(g, CODE, 0x2222);
	OK(gm_snap_restore(g, "a", ERR));
	run_expect(g, CODE, 0x1111);
	gm_guest_close(g);
}

/*
 * One write across two adjacent regions (two host blocks, not allocated
 * one after the other) changes code in the second: it runs the new code.
 */
TEST(write_across_regions_drops_code_in_each)
{
	struct gm_guest *g = open_arm64();
	uint8_t buf[0x20 + 0x108];
	uint32_t imm = movz_x0(0x2222);

	OK(gm_map(g, CODE + PAGE, PAGE, GM_PERM_ALL, NULL, 0, ERR));
	OK(gm_map(g, 0x80000, PAGE, GM_PERM_ALL, NULL, 0, ERR));
	OK(gm_map(g, CODE, PAGE, GM_PERM_ALL, NULL, 0, ERR));
	write_code(g, CODE + PAGE, 0x1111);
	run_expect(g, CODE + PAGE, 0x1111);
	OK(gm_mem_read(g, CODE + PAGE - 0x20, buf, sizeof(buf), ERR));
	memcpy(buf + 0x20 + 0x100, &imm, sizeof(imm));
	OK(gm_mem_write(g, CODE + PAGE - 0x20, buf, sizeof(buf), ERR));
	run_expect(g, CODE + PAGE, 0x2222);
	imm = movz_x0(0x3333);
	memcpy(buf + 0x20 + 0x100, &imm, sizeof(imm));
	ASSERT_EQ(gm_mem_pwrite(g, CODE + PAGE - 0x20, buf, sizeof(buf)),
		  sizeof(buf));
	run_expect(g, CODE + PAGE, 0x3333);
	gm_guest_close(g);
}
