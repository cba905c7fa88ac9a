/*
 * The change record of guest.h (gm_guest_take_changes), which the daemon
 * scans its inodes against to keep the page cache true: the exact span
 * after each kind of change, nothing after reads and failures, and an
 * empty record after each take.
 */
#include <errno.h>

#include "guest.h"
#include "memory.h"
#include "regions.h"
#include "regs.h"
#include "snapshot.h"
#include "stack.h"
#include "test.h"

#define PAGE 0x1000

static struct gm_guest *open_guest(const char *arch)
{
	struct gm_guest *g = NULL;

	OK(gm_guest_open(gm_arch_find(arch), &g, ERR));
	return g;
}

/* The record holds [LO, LAST]; the take empties it. */
#define ASSERT_CHANGES(g, lo_, last_)                          \
	do {                                                   \
		uint64_t lo = 0, last = 0;                     \
		ASSERT(gm_guest_take_changes(g, &lo, &last));  \
		ASSERT_EQ(lo, lo_);                            \
		ASSERT_EQ(last, last_);                        \
		ASSERT(!gm_guest_take_changes(g, &lo, &last)); \
	} while (0)

static void assert_no_changes(struct gm_guest *g)
{
	uint64_t lo = 0x5a, last = 0xa5;

	ASSERT(!gm_guest_take_changes(g, &lo, &last));
	ASSERT_EQ(lo, 0x5a);
	ASSERT_EQ(last, 0xa5);
}

/* A guest with [0x10000, 0x13000) rw- whose map was taken. */
static struct gm_guest *open_mapped(void)
{
	struct gm_guest *g = open_guest("x86_64");

	assert_no_changes(g);
	OK(gm_map(g, 0x10000, 3 * PAGE, GM_PERM_R | GM_PERM_W, NULL, 0, ERR));
	ASSERT_CHANGES(g, 0x10000, 0x12fff);
	return g;
}

TEST(changes_span_each_write_path)
{
	struct gm_guest *g = open_mapped();
	uint8_t buf[32] = {1, 2, 3, 4};
	uint64_t sp = 0;

	OK(gm_mem_write(g, 0x10010, buf, 4, ERR));
	ASSERT_CHANGES(g, 0x10010, 0x10013);
	/* pwrite into a hole: only what it wrote */
	ASSERT_EQ(gm_mem_pwrite(g, 0x12ff0, buf, sizeof(buf)), 16);
	ASSERT_CHANGES(g, 0x12ff0, 0x12fff);
	OK(gm_mem_write_ptr(g, 0x11000, 0x1122, 2, false, ERR));
	ASSERT_CHANGES(g, 0x11000, 0x11001);
	OK(gm_mem_string_write(g, 0x11100, "abc", 3, ERR));
	ASSERT_CHANGES(g, 0x11100, 0x11103);
	OK(gm_reg_set_sp(g, 0x12000, ERR));
	assert_no_changes(g);
	OK(gm_stack_push(g, 0x41, &sp, ERR));
	ASSERT_CHANGES(g, 0x11ff8, 0x11fff);
	OK(gm_stack_write(g, 16, 0x42, ERR));
	ASSERT_CHANGES(g, 0x12008, 0x1200f);
	/* changes add up to their union until the take */
	OK(gm_mem_write(g, 0x12800, buf, 1, ERR));
	OK(gm_mem_write(g, 0x10400, buf, 2, ERR));
	OK(gm_mem_write(g, 0x11000, buf, 1, ERR));
	ASSERT_CHANGES(g, 0x10400, 0x12800);
	gm_guest_close(g);
}

/* Reads, failed writes and other questions change nothing. */
TEST(changes_none_after_reads_and_failures)
{
	struct gm_guest *g = open_mapped();
	uint8_t buf[8];
	uint64_t v, at;
	char *text = NULL;
	size_t len;
	bool yes;

	OK(gm_mem_read(g, 0x10000, buf, sizeof(buf), ERR));
	ASSERT_EQ(gm_mem_pread(g, 0x10000, buf, sizeof(buf)), 8);
	OK(gm_mem_read_ptr(g, 0x10000, 8, false, &v, ERR));
	OK(gm_mem_string_read(g, 0x10000, &text, &len, ERR));
	free(text);
	ASSERT_EQ(gm_mem_search(g, "x", 1, NULL, NULL, NULL, ERR), 0);
	OK(gm_find_free_space(g, PAGE, NULL, 0, &at, ERR));
	OK(gm_is_mapped(g, 0x10000, PAGE, &yes, ERR));
	OK(gm_snap_save(g, "a", NULL, ERR));
	FAILS(EFAULT, gm_stack_pop(g, &v, ERR)); /* SP 0 is not mapped */
	FAILS(EFAULT, gm_mem_write(g, 0x12ff8, buf, sizeof(buf) + 1, ERR));
	ASSERT_EQ(gm_mem_pwrite(g, 0x20000, buf, sizeof(buf)), 0);
	FAILS(ERANGE, gm_mem_write_ptr(g, 0x10000, 0x100, 1, false, ERR));
	FAILS(EEXIST, gm_map(g, 0x12000, PAGE, GM_PERM_R, NULL, 0, ERR));
	FAILS(EFAULT, gm_unmap(g, 0x12000, 2 * PAGE, ERR));
	FAILS(EFAULT, gm_protect(g, 0x13000, PAGE, GM_PERM_R, ERR));
	FAILS(ENOENT, gm_snap_restore(g, "none", ERR));
	gm_guest_set_region_limit(g, 1);
	FAILS(ENOSPC, gm_map(g, 0x20000, PAGE, GM_PERM_R, NULL, 0, ERR));
	/* labels are not bytes */
	OK(gm_set_label(g, 0x10000, "x", 1, ERR));
	/* a protect that changes nothing asks nothing of the engine */
	OK(gm_protect(g, 0x10000, PAGE, GM_PERM_R | GM_PERM_W, ERR));
	assert_no_changes(g);
	gm_guest_close(g);
}

/*
 * A change of the map spans the regions the engine maps anew: a split
 * remaps the whole region it cuts, a merge all of its pieces.
 */
TEST(changes_span_the_regions_a_map_change_remaps)
{
	struct gm_guest *g = open_mapped();

	OK(gm_map(g, 0x20000, PAGE, GM_PERM_R, NULL, 0, ERR));
	ASSERT_CHANGES(g, 0x20000, 0x20fff);
	OK(gm_protect(g, 0x20000, PAGE, GM_PERM_ALL, ERR));
	ASSERT_CHANGES(g, 0x20000, 0x20fff);
	OK(gm_protect(g, 0x11000, PAGE, GM_PERM_R, ERR));
	ASSERT_CHANGES(g, 0x10000, 0x12fff);
	OK(gm_protect(g, 0x12000, PAGE, GM_PERM_R, ERR)); /* merges 2 pieces */
	ASSERT_CHANGES(g, 0x11000, 0x12fff);
	OK(gm_unmap(g, 0x12000, PAGE, ERR));
	ASSERT_CHANGES(g, 0x11000, 0x12fff);
	OK(gm_unmap(g, 0x20000, PAGE, ERR));
	ASSERT_CHANGES(g, 0x20000, 0x20fff);
	OK(gm_map(g, 0x30000, PAGE, GM_PERM_R, NULL, 0, ERR));
	OK(gm_unmap_all(g, ERR));
	ASSERT_CHANGES(g, 0x10000, 0x30fff);
	OK(gm_unmap_all(g, ERR));
	assert_no_changes(g);
	gm_guest_close(g);
}

/* A restore spans the regions it maps, unmaps or copies back. */
TEST(changes_span_what_a_restore_touches)
{
	struct gm_guest *g = open_mapped();
	uint8_t b = 1;

	OK(gm_map(g, 0x20000, PAGE, GM_PERM_R, NULL, 0, ERR));
	OK(gm_snap_save(g, "a", NULL, ERR));
	OK(gm_unmap(g, 0x10000, 3 * PAGE, ERR));
	OK(gm_map(g, 0x40000, PAGE, GM_PERM_R, NULL, 0, ERR));
	ASSERT_CHANGES(g, 0x10000, 0x40fff);
	OK(gm_snap_restore(g, "a", ERR));
	ASSERT_CHANGES(g, 0x10000, 0x40fff);
	/* the regions it keeps it copies back: all of them count */
	OK(gm_mem_write(g, 0x20000, &b, 1, ERR));
	ASSERT_CHANGES(g, 0x20000, 0x20000);
	OK(gm_snap_restore(g, "a", ERR));
	ASSERT_CHANGES(g, 0x10000, 0x20fff);
	gm_guest_close(g);
}

/* The last address of a 64-bit space fits; the engine's lending changes
 * nothing to the record. */
TEST(changes_reach_the_top_of_the_space)
{
	struct gm_guest *g = open_guest("arm64");
	uint8_t buf[4] = {0};

	gm_guest_engine(g);
	OK(gm_map(g, 0xfffffffffffffc00, 0x400, GM_PERM_ALL, NULL, 0, ERR));
	ASSERT_CHANGES(g, 0xfffffffffffffc00, UINT64_MAX);
	ASSERT_EQ(gm_mem_pwrite(g, 0xfffffffffffffffe, buf, sizeof(buf)), 2);
	ASSERT_CHANGES(g, 0xfffffffffffffffe, UINT64_MAX);
	OK(gm_unmap_all(g, ERR));
	ASSERT_CHANGES(g, 0xfffffffffffffc00, UINT64_MAX);
	gm_guest_close(g);
}

/* Changes of nothing: unmap_all and a restore of an empty snapshot on an
 * empty guest (the region list is still NULL there). */
TEST(changes_none_on_an_empty_guest)
{
	struct gm_guest *g = open_guest("arm");
	size_t n = 1;

	OK(gm_snap_save(g, "empty", NULL, ERR));
	OK(gm_unmap_all(g, ERR));
	OK(gm_snap_restore(g, "empty", ERR));
	assert_no_changes(g);
	ASSERT(gm_regions(g, &n) == NULL);
	ASSERT_EQ(n, 0);
	gm_guest_close(g);
}
