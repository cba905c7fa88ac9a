/*
 * Unicorn 2.0.1 aborts the process once it holds page_size regions. The
 * core must refuse before that with ENOSPC, whatever makes the region: a
 * map, a protect that splits, an unmap that splits, a restore.
 */
#include <errno.h>
#include <unicorn/unicorn.h>

#include "guest.h"
#include "memory.h"
#include "regions.h"
#include "snapshot.h"
#include "test.h"

static size_t region_count(struct gm_guest *g)
{
	size_t n;

	gm_regions(g, &n);
	return n;
}

static size_t engine_region_count(struct gm_guest *g)
{
	uc_mem_region *ur;
	uint32_t count = 0;

	ASSERT(uc_mem_regions(gm_guest_engine(g), &ur, &count) == UC_ERR_OK);
	uc_free(ur);
	return count;
}

/* Map separate one-page regions FIRST.. FIRST+TRIES-1 (every other page)
 * until the limit answers; return how many maps succeeded. */
static size_t map_until_refused(struct gm_guest *g, size_t first, size_t tries)
{
	uint64_t ps = gm_guest_page_size(g);
	size_t ok = 0;

	for (size_t i = first; i < first + tries; i++) {
		struct gm_error err = {0};
		int rc = gm_map(g, 0x1000000 + i * 2 * ps, ps, GM_PERM_ALL,
				NULL, 0, &err);

		if (rc == 0) {
			ok++;
			continue;
		}
		if (rc != -ENOSPC || err.msg[0] == '\0')
			TEST_FAIL("map %zu: %d %s", i, rc, err.msg);
	}
	return ok;
}

TEST(default_limit_is_below_the_engine_abort)
{
	struct gm_guest *g;

	OK(gm_guest_open(gm_arch_find("x86_64"), &g, ERR));
	ASSERT_EQ(gm_guest_region_limit(g), 4080);
	gm_guest_set_region_limit(g, 100000); /* never past the engine's */
	ASSERT_EQ(gm_guest_region_limit(g), 4080);
	gm_guest_set_region_limit(g, 10);
	ASSERT_EQ(gm_guest_region_limit(g), 10);
	gm_guest_close(g);
	OK(gm_guest_open(gm_arch_find("arm64"), &g, ERR));
	ASSERT_EQ(gm_guest_region_limit(g), 1008);
	gm_guest_close(g);
}

TEST(arm_3000_maps_get_enospc_past_the_limit)
{
	struct gm_guest *g;

	OK(gm_guest_open(gm_arch_find("arm"), &g, ERR));
	ASSERT_EQ(map_until_refused(g, 0, 3000), 1008);
	ASSERT_EQ(region_count(g), 1008);
	ASSERT_EQ(engine_region_count(g), 1008);
	/* Room again after an unmap. */
	OK(gm_unmap(g, 0x1000000, 0x400, ERR));
	OK(gm_map(g, 0x1000000, 0x400, GM_PERM_ALL, NULL, 0, ERR));
	gm_guest_close(g);
}

TEST(x86_64_3000_maps_then_enospc_at_the_limit)
{
	struct gm_guest *g;

	OK(gm_guest_open(gm_arch_find("x86_64"), &g, ERR));
	ASSERT_EQ(map_until_refused(g, 0, 3000), 3000);
	ASSERT_EQ(map_until_refused(g, 3000, 1200), 1080);
	ASSERT_EQ(region_count(g), 4080);
	ASSERT_EQ(engine_region_count(g), 4080);
	gm_guest_close(g);
}

TEST(splits_count_against_the_limit)
{
	struct gm_guest *g;
	uint8_t b = 0x77, c = 0;

	OK(gm_guest_open(gm_arch_find("x86_64"), &g, ERR));
	gm_guest_set_region_limit(g, 2);
	OK(gm_map(g, 0x10000, 0x4000, GM_PERM_ALL, NULL, 0, ERR));
	OK(gm_map(g, 0x20000, 0x4000, GM_PERM_ALL, NULL, 0, ERR));
	OK(gm_mem_write(g, 0x11000, &b, 1, ERR));
	/* Cutting a region in three, or a hole in its middle, makes more. */
	FAILS(ENOSPC, gm_protect(g, 0x11000, 0x1000, GM_PERM_R, ERR));
	FAILS(ENOSPC, gm_unmap(g, 0x11000, 0x1000, ERR));
	FAILS(ENOSPC, gm_protect(g, 0x10000, 0x1000, GM_PERM_R, ERR));
	ASSERT_EQ(region_count(g), 2);
	ASSERT_EQ(engine_region_count(g), 2);
	ASSERT_EQ(gm_regions(g, &(size_t){0})[0].perms, GM_PERM_ALL);
	OK(gm_mem_read(g, 0x11000, &c, 1, ERR));
	ASSERT_EQ(c, 0x77);
	/* Splits that stay within the limit still work. */
	gm_guest_set_region_limit(g, 3);
	OK(gm_protect(g, 0x10000, 0x1000, GM_PERM_R, ERR));
	ASSERT_EQ(region_count(g), 3);
	FAILS(ENOSPC, gm_map(g, 0x30000, 0x1000, GM_PERM_ALL, NULL, 0, ERR));
	/* Merging back frees a slot. */
	OK(gm_protect(g, 0x10000, 0x1000, GM_PERM_ALL, ERR));
	OK(gm_map(g, 0x30000, 0x1000, GM_PERM_ALL, NULL, 0, ERR));
	gm_guest_close(g);
}

TEST(restore_past_the_limit_is_refused)
{
	struct gm_guest *g;

	OK(gm_guest_open(gm_arch_find("x86_64"), &g, ERR));
	for (uint64_t i = 0; i < 5; i++)
		OK(gm_map(g, 0x10000 + i * 0x2000, 0x1000, GM_PERM_ALL, NULL, 0,
			  ERR));
	OK(gm_snap_save(g, "five", NULL, ERR));
	OK(gm_unmap_all(g, ERR));
	gm_guest_set_region_limit(g, 4);
	FAILS(ENOSPC, gm_snap_restore(g, "five", ERR));
	ASSERT_EQ(region_count(g), 0);
	gm_guest_close(g);
}
