/*
 * The region map: map, unmap (splits), protect (splits and merges), labels,
 * find_free_space / map_anywhere, is_mapped / is_available. After each
 * change the engine's own region list must match the map exactly.
 */
#include <errno.h>
#include <unicorn/unicorn.h>

#include "cmd/text.h"
#include "guest.h"
#include "memory.h"
#include "regions.h"
#include "regs.h"
#include "snapshot.h"
#include "test.h"

static struct gm_guest *open_guest(const char *arch)
{
	struct gm_guest *g = NULL;

	OK(gm_guest_open(gm_arch_find(arch), &g, ERR));
	return g;
}

/* The engine's regions are exactly ours: same ranges, same permissions,
 * and the bytes it reads are the bytes the core wrote. */
static void assert_engine_matches(struct gm_guest *g)
{
	uc_engine *uc = gm_guest_engine(g);
	uc_mem_region *ur;
	uint32_t count;
	size_t n;
	const struct gm_region *r = gm_regions(g, &n);

	ASSERT(uc_mem_regions(uc, &ur, &count) == UC_ERR_OK);
	ASSERT_EQ(count, n);
	for (size_t i = 0; i < n; i++) {
		uint8_t a = (uint8_t)(0x5a + i), b = 0;

		ASSERT_EQ(ur[i].begin, r[i].start);
		ASSERT_EQ(ur[i].end, r[i].start + r[i].size - 1);
		ASSERT_EQ(ur[i].perms, r[i].perms);
		OK(gm_mem_write(g, r[i].start + r[i].size - 1, &a, 1, ERR));
		ASSERT(uc_mem_read(uc, r[i].start + r[i].size - 1, &b, 1) ==
		       UC_ERR_OK);
		ASSERT_EQ(b, a);
	}
	uc_free(ur);
}

/* Region I is [start, start+size) with PERMS. */
static void assert_region(struct gm_guest *g, size_t i, uint64_t start,
			  uint64_t size, unsigned perms)
{
	size_t n;
	const struct gm_region *r = gm_regions(g, &n);

	if (i >= n)
		TEST_FAIL("no region %zu (there are %zu)", i, n);
	ASSERT_EQ(r[i].start, start);
	ASSERT_EQ(r[i].size, size);
	ASSERT_EQ(r[i].perms, perms);
}

static size_t region_count(struct gm_guest *g)
{
	size_t n;

	gm_regions(g, &n);
	return n;
}

/* Fill [addr, addr+size) with a pattern that depends on the address. */
static void fill(struct gm_guest *g, uint64_t addr, uint64_t size)
{
	for (uint64_t a = addr; a < addr + size; a += 8) {
		uint64_t v = a * 0x9e3779b97f4a7c15ULL;

		OK(gm_mem_write(g, a, &v, 8, ERR));
	}
}

static void assert_filled(struct gm_guest *g, uint64_t addr, uint64_t size)
{
	for (uint64_t a = addr; a < addr + size; a += 8) {
		uint64_t v = 0;

		OK(gm_mem_read(g, a, &v, 8, ERR));
		ASSERT_EQ(v, a * 0x9e3779b97f4a7c15ULL);
	}
}

TEST(map_keeps_regions_sorted_with_labels)
{
	struct gm_guest *g = open_guest("x86_64");
	size_t n;
	const struct gm_region *r;

	OK(gm_map(g, 0x5000, 0x1000, GM_PERM_R, "five", 4, ERR));
	OK(gm_map(g, 0x1000, 0x2000, GM_PERM_ALL, NULL, 0, ERR));
	OK(gm_map(g, 0x3000, 0x1000, GM_PERM_R | GM_PERM_W, "a\nb\0c", 5, ERR));
	r = gm_regions(g, &n);
	ASSERT_EQ(n, 3);
	assert_region(g, 0, 0x1000, 0x2000, GM_PERM_ALL);
	assert_region(g, 1, 0x3000, 0x1000, GM_PERM_R | GM_PERM_W);
	assert_region(g, 2, 0x5000, 0x1000, GM_PERM_R);
	ASSERT_STR(r[0].label, "[mapped]");
	ASSERT_EQ(r[1].label_len, 5);
	ASSERT_MEM(r[1].label, "a\nb\0c", 5);
	ASSERT(gm_region_find(g, 0x2fff) == &r[0]);
	ASSERT(gm_region_find(g, 0x4000) == NULL);
	assert_engine_matches(g);
	gm_guest_close(g);
}

TEST(map_refuses_overlap_bad_range_and_perms)
{
	struct gm_guest *g = open_guest("x86_64");

	OK(gm_map(g, 0x10000, 0x4000, GM_PERM_ALL, NULL, 0, ERR));
	FAILS(EEXIST, gm_map(g, 0x13000, 0x2000, GM_PERM_ALL, NULL, 0, ERR));
	FAILS(EEXIST, gm_map(g, 0xf000, 0x2000, GM_PERM_ALL, NULL, 0, ERR));
	FAILS(EEXIST, gm_map(g, 0x8000, 0x10000, GM_PERM_ALL, NULL, 0, ERR));
	FAILS(EINVAL, gm_map(g, 0x20000, 0, GM_PERM_ALL, NULL, 0, ERR));
	FAILS(EINVAL, gm_map(g, 0x20001, 0x1000, GM_PERM_ALL, NULL, 0, ERR));
	FAILS(EINVAL, gm_map(g, 0x20000, 0x1001, GM_PERM_ALL, NULL, 0, ERR));
	FAILS(EINVAL, gm_map(g, 0x20000, 0x1000, 8, NULL, 0, ERR));
	/* addr + size wraps past 2^64 */
	FAILS(EINVAL, gm_map(g, 0xfffffffffffff000ULL, 0x2000, GM_PERM_ALL,
			     NULL, 0, ERR));
	FAILS(EINVAL, gm_map(g, 0x2000, 0xfffffffffffff000ULL, GM_PERM_ALL,
			     NULL, 0, ERR));
	FAILS(EINVAL, gm_map(g, 0x20000, 0x1000, GM_PERM_ALL, "x",
			     GM_LABEL_MAX + 1, ERR));
	ASSERT_EQ(region_count(g), 1);
	assert_engine_matches(g);
	gm_guest_close(g);
}

TEST(map_host_memory_refusal_is_enospc)
{
	struct gm_guest *g = open_guest("x86_64");

	/* 2^62 bytes: no host can back it, and the map must say so. */
	FAILS(ENOSPC, gm_map(g, 0x4000000000000000ULL, 0x4000000000000000ULL,
			     GM_PERM_ALL, NULL, 0, ERR));
	ASSERT_EQ(region_count(g), 0);
	gm_guest_close(g);
}

TEST(map_top_of_64_bit_space)
{
	struct gm_guest *g = open_guest("x86_64");
	uint8_t b = 0x42, c = 0;

	OK(gm_map(g, 0xfffffffffffff000ULL, 0x1000, GM_PERM_R, NULL, 0, ERR));
	OK(gm_mem_write(g, 0xffffffffffffffffULL, &b, 1, ERR));
	OK(gm_mem_read(g, 0xffffffffffffffffULL, &c, 1, ERR));
	ASSERT_EQ(c, 0x42);
	assert_engine_matches(g);
	OK(gm_unmap(g, 0xfffffffffffff000ULL, 0x1000, ERR));
	ASSERT_EQ(region_count(g), 0);
	gm_guest_close(g);
}

TEST(map_32_bit_guest_stops_at_4_gib)
{
	struct gm_guest *g = open_guest("x86");

	OK(gm_map(g, 0xfffff000, 0x1000, GM_PERM_ALL, NULL, 0, ERR));
	FAILS(EINVAL,
	      gm_map(g, 0x100000000ULL, 0x1000, GM_PERM_ALL, NULL, 0, ERR));
	FAILS(EINVAL, gm_map(g, 0xffffe000, 0x3000, GM_PERM_ALL, NULL, 0, ERR));
	ASSERT_EQ(region_count(g), 1);
	assert_engine_matches(g);
	gm_guest_close(g);
}

TEST(unmap_start_splits_region)
{
	struct gm_guest *g = open_guest("x86_64");

	OK(gm_map(g, 0x10000, 0x4000, GM_PERM_R | GM_PERM_W, "r", 1, ERR));
	fill(g, 0x10000, 0x4000);
	OK(gm_unmap(g, 0x10000, 0x1000, ERR));
	ASSERT_EQ(region_count(g), 1);
	assert_region(g, 0, 0x11000, 0x3000, GM_PERM_R | GM_PERM_W);
	ASSERT_STR(gm_regions(g, &(size_t){0})[0].label, "r");
	assert_filled(g, 0x11000, 0x3000);
	assert_engine_matches(g);
	gm_guest_close(g);
}

TEST(unmap_middle_splits_region)
{
	struct gm_guest *g = open_guest("x86_64");

	OK(gm_map(g, 0x10000, 0x4000, GM_PERM_ALL, "lbl", 3, ERR));
	fill(g, 0x10000, 0x4000);
	OK(gm_unmap(g, 0x11000, 0x2000, ERR));
	ASSERT_EQ(region_count(g), 2);
	assert_region(g, 0, 0x10000, 0x1000, GM_PERM_ALL);
	assert_region(g, 1, 0x13000, 0x1000, GM_PERM_ALL);
	ASSERT_STR(gm_regions(g, &(size_t){0})[1].label, "lbl");
	assert_filled(g, 0x10000, 0x1000);
	assert_filled(g, 0x13000, 0x1000);
	assert_engine_matches(g);
	gm_guest_close(g);
}

TEST(unmap_end_splits_region)
{
	struct gm_guest *g = open_guest("x86_64");

	OK(gm_map(g, 0x10000, 0x4000, GM_PERM_ALL, NULL, 0, ERR));
	fill(g, 0x10000, 0x4000);
	OK(gm_unmap(g, 0x13000, 0x1000, ERR));
	ASSERT_EQ(region_count(g), 1);
	assert_region(g, 0, 0x10000, 0x3000, GM_PERM_ALL);
	assert_filled(g, 0x10000, 0x3000);
	assert_engine_matches(g);
	gm_guest_close(g);
}

TEST(unmap_across_two_adjacent_regions)
{
	struct gm_guest *g = open_guest("x86_64");

	OK(gm_map(g, 0x10000, 0x3000, GM_PERM_R, "a", 1, ERR));
	OK(gm_map(g, 0x13000, 0x3000, GM_PERM_W, "b", 1, ERR));
	fill(g, 0x10000, 0x6000);
	OK(gm_unmap(g, 0x12000, 0x2000, ERR));
	ASSERT_EQ(region_count(g), 2);
	assert_region(g, 0, 0x10000, 0x2000, GM_PERM_R);
	assert_region(g, 1, 0x14000, 0x2000, GM_PERM_W);
	assert_filled(g, 0x10000, 0x2000);
	assert_filled(g, 0x14000, 0x2000);
	assert_engine_matches(g);
	gm_guest_close(g);
}

TEST(unmap_whole_regions_and_unmap_all)
{
	struct gm_guest *g = open_guest("x86_64");

	OK(gm_map(g, 0x10000, 0x1000, GM_PERM_ALL, NULL, 0, ERR));
	OK(gm_map(g, 0x11000, 0x1000, GM_PERM_ALL, NULL, 0, ERR));
	OK(gm_map(g, 0x20000, 0x1000, GM_PERM_ALL, NULL, 0, ERR));
	OK(gm_unmap(g, 0x10000, 0x2000, ERR));
	ASSERT_EQ(region_count(g), 1);
	OK(gm_map(g, 0x30000, 0x1000, GM_PERM_ALL, NULL, 0, ERR));
	OK(gm_unmap_all(g, ERR));
	ASSERT_EQ(region_count(g), 0);
	assert_engine_matches(g);
	OK(gm_unmap_all(g, ERR));
	gm_guest_close(g);
}

TEST(unmap_refuses_holes_and_changes_nothing)
{
	struct gm_guest *g = open_guest("x86_64");

	OK(gm_map(g, 0x10000, 0x2000, GM_PERM_ALL, NULL, 0, ERR));
	OK(gm_map(g, 0x13000, 0x2000, GM_PERM_ALL, NULL, 0, ERR));
	FAILS(EFAULT, gm_unmap(g, 0x11000, 0x3000, ERR));
	ASSERT(strstr(ERR->msg, "0x12000") != NULL);
	FAILS(EFAULT, gm_unmap(g, 0x40000, 0x1000, ERR));
	FAILS(EINVAL, gm_unmap(g, 0x10000, 0, ERR));
	FAILS(EINVAL, gm_unmap(g, 0x10800, 0x1000, ERR));
	ASSERT_EQ(region_count(g), 2);
	assert_region(g, 0, 0x10000, 0x2000, GM_PERM_ALL);
	assert_engine_matches(g);
	gm_guest_close(g);
}

TEST(protect_middle_splits_in_three)
{
	struct gm_guest *g = open_guest("x86_64");

	OK(gm_map(g, 0x10000, 0x4000, GM_PERM_ALL, "code", 4, ERR));
	fill(g, 0x10000, 0x4000);
	OK(gm_protect(g, 0x11000, 0x2000, GM_PERM_R, ERR));
	ASSERT_EQ(region_count(g), 3);
	assert_region(g, 0, 0x10000, 0x1000, GM_PERM_ALL);
	assert_region(g, 1, 0x11000, 0x2000, GM_PERM_R);
	assert_region(g, 2, 0x13000, 0x1000, GM_PERM_ALL);
	ASSERT_STR(gm_regions(g, &(size_t){0})[1].label, "code");
	assert_filled(g, 0x10000, 0x4000);
	assert_engine_matches(g);
	gm_guest_close(g);
}

TEST(protect_back_merges_the_pieces)
{
	struct gm_guest *g = open_guest("x86_64");

	OK(gm_map(g, 0x10000, 0x4000, GM_PERM_ALL, NULL, 0, ERR));
	fill(g, 0x10000, 0x4000);
	OK(gm_protect(g, 0x11000, 0x1000, GM_PERM_R, ERR));
	OK(gm_protect(g, 0x13000, 0x1000, GM_PERM_R, ERR));
	ASSERT_EQ(region_count(g), 4);
	OK(gm_protect(g, 0x11000, 0x3000, GM_PERM_ALL, ERR));
	ASSERT_EQ(region_count(g), 1);
	assert_region(g, 0, 0x10000, 0x4000, GM_PERM_ALL);
	assert_filled(g, 0x10000, 0x4000);
	assert_engine_matches(g);
	gm_guest_close(g);
}

TEST(protect_does_not_merge_separate_maps)
{
	struct gm_guest *g = open_guest("x86_64");

	OK(gm_map(g, 0x10000, 0x1000, GM_PERM_R, NULL, 0, ERR));
	OK(gm_map(g, 0x11000, 0x1000, GM_PERM_ALL, NULL, 0, ERR));
	OK(gm_protect(g, 0x11000, 0x1000, GM_PERM_R, ERR));
	ASSERT_EQ(region_count(g), 2);
	assert_region(g, 1, 0x11000, 0x1000, GM_PERM_R);
	assert_engine_matches(g);
	gm_guest_close(g);
}

TEST(protect_across_adjacent_regions_and_errors)
{
	struct gm_guest *g = open_guest("x86_64");

	OK(gm_map(g, 0x10000, 0x2000, GM_PERM_R, NULL, 0, ERR));
	OK(gm_map(g, 0x12000, 0x2000, GM_PERM_W, NULL, 0, ERR));
	OK(gm_protect(g, 0x11000, 0x2000, GM_PERM_X, ERR));
	ASSERT_EQ(region_count(g), 4);
	assert_region(g, 0, 0x10000, 0x1000, GM_PERM_R);
	assert_region(g, 1, 0x11000, 0x1000, GM_PERM_X);
	assert_region(g, 2, 0x12000, 0x1000, GM_PERM_X);
	assert_region(g, 3, 0x13000, 0x1000, GM_PERM_W);
	FAILS(EFAULT, gm_protect(g, 0x13000, 0x2000, GM_PERM_R, ERR));
	FAILS(EINVAL, gm_protect(g, 0x10000, 0x1000, 9, ERR));
	FAILS(EINVAL, gm_protect(g, 0x10000, 0x800, GM_PERM_R, ERR));
	ASSERT_EQ(region_count(g), 4);
	assert_engine_matches(g);
	gm_guest_close(g);
}

TEST(split_on_1k_pages_keeps_bytes)
{
	struct gm_guest *g = open_guest("arm");

	OK(gm_map(g, 0x10000, 0x2000, GM_PERM_ALL, NULL, 0, ERR));
	fill(g, 0x10000, 0x2000);
	OK(gm_protect(g, 0x10400, 0x400, GM_PERM_R, ERR));
	OK(gm_unmap(g, 0x11400, 0x400, ERR));
	ASSERT_EQ(region_count(g), 4);
	assert_region(g, 1, 0x10400, 0x400, GM_PERM_R);
	assert_region(g, 2, 0x10800, 0xc00, GM_PERM_ALL);
	assert_region(g, 3, 0x11800, 0x800, GM_PERM_ALL);
	assert_filled(g, 0x10000, 0x1400);
	assert_filled(g, 0x11800, 0x800);
	assert_engine_matches(g);
	gm_guest_close(g);
}

TEST(set_label_takes_any_bytes)
{
	struct gm_guest *g = open_guest("x86_64");

	OK(gm_map(g, 0x10000, 0x1000, GM_PERM_ALL, NULL, 0, ERR));
	OK(gm_set_label(g, 0x10000, "[heap]\n0-1 rwx x", 16, ERR));
	ASSERT_EQ(gm_regions(g, &(size_t){0})[0].label_len, 16);
	FAILS(EFAULT, gm_set_label(g, 0x10800, "x", 1, ERR));
	FAILS(EINVAL, gm_set_label(g, 0x10000, "x", GM_LABEL_MAX + 1, ERR));
	gm_guest_close(g);
}

TEST(is_mapped_adjacent_vs_gap)
{
	struct gm_guest *g = open_guest("x86_64");
	bool yes;

	OK(gm_map(g, 0x10000, 0x1000, GM_PERM_ALL, NULL, 0, ERR));
	OK(gm_map(g, 0x11000, 0x1000, GM_PERM_ALL, NULL, 0, ERR));
	OK(gm_map(g, 0x13000, 0x1000, GM_PERM_ALL, NULL, 0, ERR));
	OK(gm_is_mapped(g, 0x10800, 0x1000, &yes, ERR));
	ASSERT(yes);
	OK(gm_is_mapped(g, 0x10000, 0x2000, &yes, ERR));
	ASSERT(yes);
	OK(gm_is_mapped(g, 0x11000, 0x3000, &yes, ERR));
	ASSERT(!yes);
	OK(gm_is_mapped(g, 0x12000, 1, &yes, ERR));
	ASSERT(!yes);
	OK(gm_is_available(g, 0x12000, 0x1000, &yes, ERR));
	ASSERT(yes);
	OK(gm_is_available(g, 0x12000, 0x1001, &yes, ERR));
	ASSERT(!yes);
	OK(gm_is_available(g, 0x0, 0x10000, &yes, ERR));
	ASSERT(yes);
	FAILS(EINVAL, gm_is_mapped(g, 0x10000, 0, &yes, ERR));
	FAILS(EINVAL, gm_is_available(g, 0xffffffffffffffffULL, 2, &yes, ERR));
	gm_guest_close(g);
}

TEST(find_free_space_first_fit_with_window_and_alignment)
{
	struct gm_guest *g = open_guest("x86_64");
	struct gm_window w = {0};
	uint64_t a;

	OK(gm_map(g, 0x0, 0x3000, GM_PERM_ALL, NULL, 0, ERR));
	OK(gm_map(g, 0x5000, 0x1000, GM_PERM_ALL, NULL, 0, ERR));
	OK(gm_find_free_space(g, 0x1000, NULL, 0, &a, ERR));
	ASSERT_EQ(a, 0x3000);
	OK(gm_find_free_space(g, 0x2001, NULL, 0, &a, ERR));
	ASSERT_EQ(a, 0x6000); /* rounded up to 3 pages: the gap is 2 */
	OK(gm_find_free_space(g, 0x1000, NULL, 0x4000, &a, ERR));
	ASSERT_EQ(a, 0x4000);
	OK(gm_find_free_space(g, 0x1000, NULL, 0x8000, &a, ERR));
	ASSERT_EQ(a, 0x8000);
	w.lo = 0x3800; /* inside a gap, not at its start */
	OK(gm_find_free_space(g, 0x1000, &w, 0, &a, ERR));
	ASSERT_EQ(a, 0x4000);
	w = (struct gm_window){.lo = 0x3000, .hi = 0x5000, .hi_set = true};
	OK(gm_find_free_space(g, 0x2000, &w, 0, &a, ERR));
	ASSERT_EQ(a, 0x3000);
	FAILS(ENOMEM, gm_find_free_space(g, 0x3000, &w, 0, &a, ERR));
	FAILS(EINVAL, gm_find_free_space(g, 0x1000, NULL, 0x3000, &a, ERR));
	FAILS(EINVAL, gm_find_free_space(g, 0, NULL, 0, &a, ERR));
	w = (struct gm_window){.lo = 0x5000, .hi = 0x5000, .hi_set = true};
	FAILS(EINVAL, gm_find_free_space(g, 0x1000, &w, 0, &a, ERR));
	gm_guest_close(g);
}

TEST(find_free_space_at_the_top_of_the_space)
{
	struct gm_guest *g64 = open_guest("x86_64");
	struct gm_guest *g32 = open_guest("mips");
	struct gm_window w = {.lo = 0xffffffffffffe000ULL};
	uint64_t a;

	OK(gm_find_free_space(g64, 0x2000, &w, 0, &a, ERR));
	ASSERT_EQ(a, 0xffffffffffffe000ULL);
	OK(gm_map(g64, 0xfffffffffffff000ULL, 0x1000, GM_PERM_ALL, NULL, 0,
		  ERR));
	FAILS(ENOMEM, gm_find_free_space(g64, 0x2000, &w, 0, &a, ERR));
	OK(gm_find_free_space(g64, 0x1000, &w, 0, &a, ERR));
	ASSERT_EQ(a, 0xffffffffffffe000ULL);
	FAILS(ENOMEM,
	      gm_find_free_space(g64, 0xffffffffffffffffULL, NULL, 0, &a, ERR));

	w.lo = 0xfffff000;
	OK(gm_find_free_space(g32, 0x1000, &w, 0, &a, ERR));
	ASSERT_EQ(a, 0xfffff000);
	FAILS(ENOMEM, gm_find_free_space(g32, 0x2000, &w, 0, &a, ERR));
	w.lo = 0x100000000ULL;
	FAILS(ENOMEM, gm_find_free_space(g32, 0x1000, &w, 0, &a, ERR));
	FAILS(ENOMEM,
	      gm_find_free_space(g32, 0x100001000ULL, NULL, 0, &a, ERR));
	gm_guest_close(g64);
	gm_guest_close(g32);
}

TEST(map_anywhere_maps_where_find_free_space_says)
{
	struct gm_guest *g = open_guest("x86");
	struct gm_window w = {.lo = 0x10000, .hi = 0x20000, .hi_set = true};
	uint64_t a, b;

	OK(gm_map(g, 0x10000, 0x1000, GM_PERM_ALL, NULL, 0, ERR));
	OK(gm_map_anywhere(g, 0x1800, GM_PERM_R, "any", 3, &w, 0x4000, &a,
			   ERR));
	ASSERT_EQ(a, 0x14000);
	assert_region(g, 1, 0x14000, 0x2000, GM_PERM_R);
	OK(gm_map_anywhere(g, 0x1000, GM_PERM_ALL, NULL, 0, &w, 0, &b, ERR));
	ASSERT_EQ(b, 0x11000);
	w.lo = 0x1c000;
	FAILS(ENOMEM,
	      gm_map_anywhere(g, 0x8000, GM_PERM_ALL, NULL, 0, &w, 0, &a, ERR));
	ASSERT_EQ(region_count(g), 3);
	assert_engine_matches(g);
	gm_guest_close(g);
}

TEST(perms_text_round_trips)
{
	unsigned p;
	char buf[4];

	OK(gm_perms_parse("r-x", &p, ERR));
	ASSERT_EQ(p, GM_PERM_R | GM_PERM_X);
	gm_perms_str(p, buf);
	ASSERT_STR(buf, "r-x");
	OK(gm_perms_parse("---", &p, ERR));
	ASSERT_EQ(p, 0);
	FAILS(EINVAL, gm_perms_parse("rw", &p, ERR));
	FAILS(EINVAL, gm_perms_parse("xwr", &p, ERR));
	FAILS(EINVAL, gm_perms_parse("rwxx", &p, ERR));
}

TEST(many_regions_lookups_stay_exact)
{
	struct gm_guest *g = open_guest("x86_64");
	bool yes;

	for (uint64_t i = 0; i < 200; i++)
		OK(gm_map(g, 0x100000 + i * 0x2000, 0x1000, GM_PERM_ALL, NULL,
			  0, ERR));
	for (uint64_t i = 0; i < 200; i++) {
		uint64_t a = 0x100000 + i * 0x2000;

		ASSERT(gm_region_find(g, a + 0xfff)->start == a);
		ASSERT(gm_region_find(g, a + 0x1000) == NULL);
		OK(gm_is_mapped(g, a, 0x1000, &yes, ERR));
		ASSERT(yes);
		OK(gm_is_mapped(g, a, 0x1001, &yes, ERR));
		ASSERT(!yes);
	}
	assert_engine_matches(g);
	gm_guest_close(g);
}

/*
 * An engine step that fails half-way through a change is undone: a region
 * mapped behind the core's back makes the engine refuse the last map of a
 * restore, after it has already unmapped and re-mapped others.
 */
TEST(failed_engine_step_is_undone)
{
	struct gm_guest *g = open_guest("x86_64");
	uc_engine *uc = gm_guest_engine(g);
	const struct gm_reg *rax = gm_arch_reg(gm_guest_arch(g), "rax");
	uint64_t v = 0;

	OK(gm_map(g, 0x10000, 0x4000, GM_PERM_ALL, "one", 3, ERR));
	OK(gm_map(g, 0x20000, 0x1000, GM_PERM_R, "two", 3, ERR));
	fill(g, 0x10000, 0x4000);
	OK(gm_reg_write(g, rax, 0x1111, ERR));
	OK(gm_snap_save(g, "s", NULL, ERR));

	OK(gm_unmap(g, 0x20000, 0x1000, ERR));
	OK(gm_protect(g, 0x11000, 0x1000, GM_PERM_R, ERR));
	OK(gm_reg_write(g, rax, 0x2222, ERR));
	ASSERT(uc_mem_map(uc, 0x20000, 0x1000, UC_PROT_ALL) == UC_ERR_OK);

	FAILS(EINVAL, gm_snap_restore(g, "s", ERR));
	ASSERT(strstr(ERR->msg, "engine") != NULL);
	ASSERT(uc_mem_unmap(uc, 0x20000, 0x1000) == UC_ERR_OK);
	ASSERT_EQ(region_count(g), 3);
	assert_region(g, 0, 0x10000, 0x1000, GM_PERM_ALL);
	assert_region(g, 1, 0x11000, 0x1000, GM_PERM_R);
	assert_region(g, 2, 0x12000, 0x2000, GM_PERM_ALL);
	assert_filled(g, 0x10000, 0x4000);
	OK(gm_reg_read(g, rax, &v, ERR));
	ASSERT_EQ(v, 0x2222);
	assert_engine_matches(g);

	/* With the engine clean again, the same restore goes through. */
	OK(gm_snap_restore(g, "s", ERR));
	ASSERT_EQ(region_count(g), 2);
	assert_region(g, 0, 0x10000, 0x4000, GM_PERM_ALL);
	assert_region(g, 1, 0x20000, 0x1000, GM_PERM_R);
	assert_filled(g, 0x10000, 0x4000);
	OK(gm_reg_read(g, rax, &v, ERR));
	ASSERT_EQ(v, 0x1111);
	assert_engine_matches(g);
	gm_guest_close(g);
}
