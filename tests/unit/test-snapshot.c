/*
 * Unit tests of core/snapshot.h: save records every region and register,
 * restore makes the guest exactly as saved or leaves it untouched (SPEC §5).
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
#include "regs.h"
#include "snapshot.h"
#include "test.h"

#define KIB 1024ull
#define MIB (1024 * KIB)

/* Labels with bytes a C string would lose, to prove they are kept whole. */
static const char guard_label[] = "guard\0\xff!";
#define GUARD_LABEL_LEN (sizeof(guard_label) - 1)

/* One region as gm_regions showed it, bytes included. */
struct region_copy {
	uint64_t start;
	uint64_t size;
	unsigned perms;
	char *label;
	size_t label_len;
	uint8_t *bytes;
};

/* Everything restore must bring back: layout, contents, registers. */
struct state {
	size_t n;
	struct region_copy *r;
	size_t nregs;
	uint64_t *regs;
};

static struct gm_guest *open_guest(const char *name)
{
	struct gm_guest *g = NULL;

	ASSERT(gm_arch_find(name) != NULL);
	OK(gm_guest_open(gm_arch_find(name), &g, ERR));
	return g;
}

static const struct gm_reg *reg_named(struct gm_guest *g, const char *name)
{
	const struct gm_reg *reg = gm_arch_reg(gm_guest_arch(g), name);

	if (!reg)
		TEST_FAIL("no register %s on %s", name, gm_guest_arch(g)->name);
	return reg;
}

static uint64_t reg_get(struct gm_guest *g, const char *name)
{
	uint64_t v = 0;

	OK(gm_reg_read(g, reg_named(g, name), &v, ERR));
	return v;
}

static void reg_set(struct gm_guest *g, const char *name, uint64_t v)
{
	OK(gm_reg_write(g, reg_named(g, name), v, ERR));
}

/* Write SIZE bytes at ADDR, a pattern with no zero byte that SEED varies. */
static void fill(struct gm_guest *g, uint64_t addr, size_t size, uint8_t seed)
{
	uint8_t *buf = malloc(size);

	ASSERT(buf != NULL);
	for (size_t i = 0; i < size; i++)
		buf[i] = (uint8_t)(1 + (seed + i * 7) % 255);
	OK(gm_mem_write(g, addr, buf, size, ERR));
	free(buf);
}

static void state_take(struct gm_guest *g, struct state *s)
{
	const struct gm_arch *arch = gm_guest_arch(g);
	const struct gm_region *rs = gm_regions(g, &s->n);

	s->r = calloc(s->n + 1, sizeof(*s->r));
	ASSERT(s->r != NULL);
	for (size_t i = 0; i < s->n; i++) {
		struct region_copy *c = &s->r[i];

		c->start = rs[i].start;
		c->size = rs[i].size;
		c->perms = rs[i].perms;
		c->label_len = rs[i].label_len;
		c->label = malloc(c->label_len + 1);
		c->bytes = malloc(c->size);
		ASSERT(c->label != NULL && c->bytes != NULL);
		memcpy(c->label, rs[i].label, c->label_len + 1);
	}
	/* Read the bytes after copying the list: a read may not change it. */
	for (size_t i = 0; i < s->n; i++)
		OK(gm_mem_read(g, s->r[i].start, s->r[i].bytes, s->r[i].size,
			       ERR));
	s->nregs = arch->nregs;
	s->regs = calloc(s->nregs + 1, sizeof(*s->regs));
	ASSERT(s->regs != NULL);
	for (size_t i = 0; i < s->nregs; i++)
		OK(gm_reg_read(g, &arch->regs[i], &s->regs[i], ERR));
}

static void state_free(struct state *s)
{
	for (size_t i = 0; i < s->n; i++) {
		free(s->r[i].label);
		free(s->r[i].bytes);
	}
	free(s->r);
	free(s->regs);
	memset(s, 0, sizeof(*s));
}

/* Whether the engine holds exactly the region map: the same ranges (a
 * region may be several engine blocks), the same permissions, the same
 * bytes. A restore that updates the map but not the engine fails here. */
static bool engine_differs(struct gm_guest *g, const struct state *s, char *why,
			   size_t n)
{
	uc_engine *uc = gm_guest_engine(g);
	uc_mem_region *er = NULL;
	uint32_t count = 0;
	size_t j = 0;
	bool bad = false;

	if (uc_mem_regions(uc, &er, &count) != UC_ERR_OK) {
		snprintf(why, n, "uc_mem_regions failed");
		return true;
	}
	for (size_t i = 0; i < s->n && !bad; i++) {
		uint64_t at = s->r[i].start;
		uint64_t last = s->r[i].start + s->r[i].size - 1;

		for (;;) {
			if (j >= count || er[j].begin != at ||
			    er[j].end > last || er[j].perms != s->r[i].perms) {
				snprintf(why, n,
					 "engine block %zu does not match "
					 "region 0x%" PRIx64 " at 0x%" PRIx64,
					 j, s->r[i].start, at);
				bad = true;
				break;
			}
			if (er[j++].end == last)
				break;
			at = er[j - 1].end + 1;
		}
	}
	if (!bad && j != count) {
		snprintf(why, n, "engine holds %u blocks, the map covers %zu",
			 count, j);
		bad = true;
	}
	uc_free(er);
	for (size_t i = 0; i < s->n && !bad; i++) {
		uint8_t *buf = malloc(s->r[i].size);

		if (!buf || uc_mem_read(uc, s->r[i].start, buf, s->r[i].size) !=
				UC_ERR_OK) {
			snprintf(why, n, "engine cannot read 0x%" PRIx64,
				 s->r[i].start);
			bad = true;
		} else if (memcmp(buf, s->r[i].bytes, s->r[i].size) != 0) {
			snprintf(why, n, "engine bytes of 0x%" PRIx64 " differ",
				 s->r[i].start);
			bad = true;
		}
		free(buf);
	}
	return bad;
}

/* Whether the guest differs from S; WHY says where. */
static bool state_differs(struct gm_guest *g, const struct state *s, char *why,
			  size_t n)
{
	struct state now;
	bool bad = true;

	state_take(g, &now);
	if (now.n != s->n) {
		snprintf(why, n, "%zu regions, expected %zu", now.n, s->n);
		goto out;
	}
	for (size_t i = 0; i < s->n; i++) {
		const struct region_copy *a = &now.r[i], *b = &s->r[i];

		if (a->start != b->start || a->size != b->size) {
			snprintf(why, n,
				 "region %zu is 0x%" PRIx64 "+0x%" PRIx64
				 ", expected 0x%" PRIx64 "+0x%" PRIx64,
				 i, a->start, a->size, b->start, b->size);
			goto out;
		}
		if (a->perms != b->perms) {
			snprintf(why, n,
				 "region 0x%" PRIx64 " perms %u, "
				 "expected %u",
				 a->start, a->perms, b->perms);
			goto out;
		}
		if (a->label_len != b->label_len ||
		    memcmp(a->label, b->label, b->label_len) != 0) {
			snprintf(why, n,
				 "region 0x%" PRIx64 " label \"%s\" "
				 "(%zu bytes), expected \"%s\" (%zu bytes)",
				 a->start, a->label, a->label_len, b->label,
				 b->label_len);
			goto out;
		}
		if (memcmp(a->bytes, b->bytes, b->size) != 0) {
			snprintf(why, n, "bytes of region 0x%" PRIx64 " differ",
				 a->start);
			goto out;
		}
	}
	for (size_t i = 0; i < s->nregs; i++) {
		if (now.regs[i] != s->regs[i]) {
			snprintf(why, n,
				 "register %s is 0x%" PRIx64
				 ", expected 0x%" PRIx64,
				 gm_guest_arch(g)->regs[i].name, now.regs[i],
				 s->regs[i]);
			goto out;
		}
	}
	bad = engine_differs(g, s, why, n);
out:
	state_free(&now);
	return bad;
}

/* The guest is exactly as state S recorded it. */
#define ASSERT_STATE(g, s)                                             \
	do {                                                           \
		char why_[512];                                        \
		if (state_differs((g), (s), why_, sizeof(why_)))       \
			TEST_FAIL("guest is not as %s: %s", #s, why_); \
	} while (0)

/* The guest differs from S: a change that a test relies on took place. */
#define ASSERT_CHANGED(g, s)                                      \
	do {                                                      \
		char why_[512];                                   \
		if (!state_differs((g), (s), why_, sizeof(why_))) \
			TEST_FAIL("guest is still as %s", #s);    \
	} while (0)

#define TEXT	   0x10000ull
#define HEAP	   0x20000ull
#define GUARD	   0x30000ull
#define STACK	   0x7ffffffde000ull
#define STACK_SIZE 0x21000ull

/*
 * An x86_64 guest with four regions of different permissions and labels,
 * some pages written and some not, and registers set:
 *   0x10000-0x14000 r-x text          all 4 pages written
 *   0x20000-0x28000 rw- [heap]        pages 0 and 1 written
 *   0x30000-0x31000 --- guard\0\xff!  never written
 *   STACK (33 pages) rw- [stack]      the top page written
 */
static struct gm_guest *populated(void)
{
	struct gm_guest *g = open_guest("x86_64");

	OK(gm_map(g, TEXT, 0x4000, GM_PERM_R | GM_PERM_X, "text", 4, ERR));
	OK(gm_map(g, HEAP, 0x8000, GM_PERM_R | GM_PERM_W, "[heap]", 6, ERR));
	OK(gm_map(g, GUARD, 0x1000, 0, guard_label, GUARD_LABEL_LEN, ERR));
	OK(gm_map(g, STACK, STACK_SIZE, GM_PERM_R | GM_PERM_W, "[stack]", 7,
		  ERR));
	fill(g, TEXT, 0x4000, 1);
	fill(g, HEAP, 0x2000, 2);
	fill(g, STACK + STACK_SIZE - 0x1000, 0x1000, 3);
	reg_set(g, "rax", 0x1122334455667788);
	reg_set(g, "rip", TEXT + 0x10);
	reg_set(g, "rsp", STACK + STACK_SIZE - 0x10);
	return g;
}

static bool bit(const uint8_t *bits, uint64_t i)
{
	return bits[i / 8] & (1u << (i % 8));
}

/* Save, names and the list */

TEST(snapshot_save_without_name_counts_up)
{
	struct gm_guest *g = populated();
	const char *saved = NULL;

	ASSERT_EQ(gm_snap_count(g), 0);
	OK(gm_snap_save(g, NULL, &saved, ERR));
	ASSERT(saved != NULL);
	ASSERT_STR(saved, "snap-1");
	OK(gm_snap_save(g, NULL, &saved, ERR));
	ASSERT(saved != NULL);
	ASSERT_STR(saved, "snap-2");
	ASSERT_EQ(gm_snap_count(g), 2);
	ASSERT_STR(gm_snap_at(g, 0)->name, "snap-1");
	ASSERT_STR(gm_snap_at(g, 1)->name, "snap-2");
	ASSERT(gm_snap_find(g, "snap-1") == gm_snap_at(g, 0));
	ASSERT(gm_snap_find(g, "snap-2") == gm_snap_at(g, 1));
	ASSERT(gm_snap_find(g, "snap-3") == NULL);
	OK(gm_snap_save(g, NULL, NULL, ERR));
	ASSERT_STR(gm_snap_at(g, 2)->name, "snap-3");
	gm_guest_close(g);
}

TEST(snapshot_save_with_name_reports_it)
{
	struct gm_guest *g = populated();
	const char *saved = NULL;

	OK(gm_snap_save(g, "before patch", &saved, ERR));
	ASSERT(saved != NULL);
	ASSERT_STR(saved, "before patch");
	ASSERT_EQ(gm_snap_count(g), 1);
	ASSERT_STR(gm_snap_find(g, "before patch")->name, "before patch");
	ASSERT(gm_snap_find(g, "before") == NULL);
	gm_guest_close(g);
}

TEST(snapshot_save_records_every_region_and_register)
{
	struct gm_guest *g = populated();
	const struct gm_arch *arch = gm_guest_arch(g);
	const struct gm_snapshot *s;
	struct state a;

	state_take(g, &a);
	OK(gm_snap_save(g, "a", NULL, ERR));
	s = gm_snap_find(g, "a");
	ASSERT(s != NULL);
	ASSERT_STR(s->name, "a");
	ASSERT(s->arch == arch);
	ASSERT_EQ(s->page_size, 4096);
	ASSERT_EQ(s->nregions, 4);
	for (size_t i = 0; i < a.n; i++) {
		const struct gm_snap_region *r = &s->regions[i];

		ASSERT_EQ(r->start, a.r[i].start);
		ASSERT_EQ(r->size, a.r[i].size);
		ASSERT_EQ(r->perms, a.r[i].perms);
		ASSERT_EQ(r->label_len, a.r[i].label_len);
		ASSERT_MEM(r->label, a.r[i].label, a.r[i].label_len);
		ASSERT_MEM(r->bytes, a.r[i].bytes, a.r[i].size);
	}
	ASSERT_EQ(s->regions[2].label_len, GUARD_LABEL_LEN);
	ASSERT_MEM(s->regions[2].label, guard_label, GUARD_LABEL_LEN);
	ASSERT(s->regs != NULL);
	for (size_t i = 0; i < arch->nregs; i++)
		ASSERT_EQ(s->regs[i], a.regs[i]);
	for (size_t i = 0; i < arch->nregs; i++) {
		if (strcmp(arch->regs[i].name, "rax") == 0)
			ASSERT_EQ(s->regs[i], 0x1122334455667788);
		if (strcmp(arch->regs[i].name, "rip") == 0)
			ASSERT_EQ(s->regs[i], TEXT + 0x10);
		if (strcmp(arch->regs[i].name, "rsp") == 0)
			ASSERT_EQ(s->regs[i], STACK + STACK_SIZE - 0x10);
	}
	state_free(&a);
	gm_guest_close(g);
}

TEST(snapshot_present_bits_mark_written_pages)
{
	struct gm_guest *g = populated();
	const struct gm_snapshot *s;

	OK(gm_snap_save(g, "a", NULL, ERR));
	s = gm_snap_find(g, "a");
	ASSERT(s != NULL);
	/* 4 text pages, 2 heap pages, 1 stack page; the guard is zero. */
	ASSERT_EQ(s->stored_bytes, 7 * 4096);
	ASSERT_EQ(s->regions[0].present[0], 0x0f);
	ASSERT_EQ(s->regions[1].present[0], 0x03);
	ASSERT_EQ(s->regions[2].present[0], 0x00);
	for (size_t i = 0; i < 32; i++)
		ASSERT(!bit(s->regions[3].present, i));
	ASSERT(bit(s->regions[3].present, 32));
	gm_guest_close(g);
}

TEST(snapshot_zero_pages_cost_nothing)
{
	struct gm_guest *g = open_guest("x86_64");
	const uint64_t base = 0x1000000, size = 16 * MIB;
	const uint64_t pages = size / 4096;
	const struct gm_snapshot *s;
	uint8_t *zero = calloc(1, size);

	ASSERT(zero != NULL);
	gm_guest_set_snapshot_limit(g, 64 * KIB);
	OK(gm_map(g, base, size, GM_PERM_ALL, NULL, 0, ERR));
	OK(gm_snap_save(g, "empty", NULL, ERR));
	s = gm_snap_find(g, "empty");
	ASSERT(s != NULL);
	ASSERT_EQ(s->stored_bytes, 0);
	ASSERT_EQ(s->nregions, 1);
	for (uint64_t i = 0; i < pages; i++)
		if (bit(s->regions[0].present, i))
			TEST_FAIL("page %" PRIu64 " marked present", i);
	ASSERT_MEM(s->regions[0].bytes, zero, size);

	fill(g, base, 16, 1);
	fill(g, base + 9 * 4096 + 100, 1, 2);
	fill(g, base + size - 1, 1, 3);
	OK(gm_snap_save(g, "three", NULL, ERR));
	s = gm_snap_find(g, "three");
	ASSERT(s != NULL);
	ASSERT_EQ(s->stored_bytes, 3 * 4096);
	for (uint64_t i = 0; i < pages; i++)
		if (bit(s->regions[0].present, i) !=
		    (i == 0 || i == 9 || i == pages - 1))
			TEST_FAIL("page %" PRIu64 " present bit wrong", i);
	ASSERT_EQ(s->regions[0].present[0], 0x01);
	ASSERT_EQ(s->regions[0].present[1], 0x02);
	ASSERT_EQ(s->regions[0].present[pages / 8 - 1], 0x80);
	ASSERT_EQ(s->regions[0].bytes[9 * 4096 + 100], 1 + (2 + 0 * 7) % 255);
	ASSERT_EQ(s->regions[0].bytes[size - 1], 1 + 3 % 255);
	ASSERT_EQ(s->regions[0].bytes[size - 2], 0);
	free(zero);
	gm_guest_close(g);
}

TEST(snapshot_save_of_empty_guest_restores_to_nothing)
{
	struct gm_guest *g = open_guest("x86_64");
	struct state a;

	reg_set(g, "rax", 7);
	state_take(g, &a);
	OK(gm_snap_save(g, "nothing", NULL, ERR));
	ASSERT_EQ(gm_snap_find(g, "nothing")->nregions, 0);
	ASSERT_EQ(gm_snap_find(g, "nothing")->stored_bytes, 0);
	OK(gm_map(g, 0x1000, 0x3000, GM_PERM_ALL, "x", 1, ERR));
	fill(g, 0x1000, 0x3000, 9);
	reg_set(g, "rax", 8);
	OK(gm_snap_restore(g, "nothing", ERR));
	ASSERT_STATE(g, &a);
	state_free(&a);
	gm_guest_close(g);
}

/* Restore brings back what changed */

TEST(snapshot_restore_unmaps_regions_mapped_since)
{
	struct gm_guest *g = populated();
	struct state a;
	uint64_t addr = 0;

	state_take(g, &a);
	OK(gm_snap_save(g, "a", NULL, ERR));
	OK(gm_map(g, 0x40000, 0x2000, GM_PERM_R, "new", 3, ERR));
	OK(gm_map(g, 0x14000, 0x1000, GM_PERM_ALL, NULL, 0, ERR));
	OK(gm_map_anywhere(g, 0x5000, GM_PERM_ALL, NULL, 0, NULL, 0, &addr,
			   ERR));
	fill(g, 0x40000, 0x2000, 5);
	ASSERT_CHANGED(g, &a);
	OK(gm_snap_restore(g, "a", ERR));
	ASSERT_STATE(g, &a);
	state_free(&a);
	gm_guest_close(g);
}

TEST(snapshot_restore_after_unmap_all_brings_everything_back)
{
	struct gm_guest *g = populated();
	struct state a;
	size_t n;

	state_take(g, &a);
	OK(gm_snap_save(g, "a", NULL, ERR));
	OK(gm_unmap_all(g, ERR));
	gm_regions(g, &n);
	ASSERT_EQ(n, 0);
	OK(gm_snap_restore(g, "a", ERR));
	ASSERT_STATE(g, &a);
	state_free(&a);
	gm_guest_close(g);
}

TEST(snapshot_restore_joins_region_split_by_unmap)
{
	struct gm_guest *g = populated();
	struct state a;
	size_t n;

	state_take(g, &a);
	OK(gm_snap_save(g, "a", NULL, ERR));
	/* Page 1 of the heap holds data: it must come back too. */
	OK(gm_unmap(g, HEAP + 0x1000, 0x1000, ERR));
	fill(g, HEAP, 0x1000, 77);
	gm_regions(g, &n);
	ASSERT_EQ(n, 5);
	OK(gm_snap_restore(g, "a", ERR));
	ASSERT_STATE(g, &a);
	state_free(&a);
	gm_guest_close(g);
}

TEST(snapshot_restore_undoes_protect_split)
{
	struct gm_guest *g = populated();
	struct state a;
	size_t n;

	state_take(g, &a);
	OK(gm_snap_save(g, "a", NULL, ERR));
	OK(gm_protect(g, TEXT + 0x1000, 0x1000, GM_PERM_ALL, ERR));
	OK(gm_protect(g, GUARD, 0x1000, GM_PERM_R, ERR));
	gm_regions(g, &n);
	ASSERT_EQ(n, 6);
	OK(gm_snap_restore(g, "a", ERR));
	ASSERT_STATE(g, &a);
	state_free(&a);
	gm_guest_close(g);
}

TEST(snapshot_restore_brings_back_labels)
{
	struct gm_guest *g = populated();
	struct state a;
	char big[1000];

	memset(big, 'L', sizeof(big));
	state_take(g, &a);
	OK(gm_snap_save(g, "a", NULL, ERR));
	OK(gm_set_label(g, HEAP, "renamed", 7, ERR));
	OK(gm_set_label(g, GUARD, "guard", 5, ERR));
	OK(gm_set_label(g, STACK, big, sizeof(big), ERR));
	ASSERT_CHANGED(g, &a);
	OK(gm_snap_restore(g, "a", ERR));
	ASSERT_STATE(g, &a);
	ASSERT_EQ(gm_region_find(g, GUARD)->label_len, GUARD_LABEL_LEN);
	ASSERT_MEM(gm_region_find(g, GUARD)->label, guard_label,
		   GUARD_LABEL_LEN);
	ASSERT_STR(gm_region_find(g, HEAP)->label, "[heap]");
	state_free(&a);
	gm_guest_close(g);
}

TEST(snapshot_restore_brings_back_bytes)
{
	struct gm_guest *g = populated();
	struct state a;
	uint8_t b[4];

	state_take(g, &a);
	OK(gm_snap_save(g, "a", NULL, ERR));
	fill(g, TEXT + 0x123, 0x2000, 40);
	fill(g, HEAP + 0x7000, 0x1000, 41); /* a page that was zero */
	fill(g, GUARD, 0x1000, 42);
	fill(g, STACK, STACK_SIZE, 43);
	ASSERT_CHANGED(g, &a);
	OK(gm_snap_restore(g, "a", ERR));
	ASSERT_STATE(g, &a);
	OK(gm_mem_read(g, HEAP + 0x7ffc, b, 4, ERR));
	ASSERT_MEM(b, "\0\0\0\0", 4);
	state_free(&a);
	gm_guest_close(g);
}

TEST(snapshot_restore_brings_back_registers)
{
	struct gm_guest *g = populated();
	struct state a;

	state_take(g, &a);
	OK(gm_snap_save(g, "a", NULL, ERR));
	reg_set(g, "rax", 0xdead);
	reg_set(g, "rip", 0x400000);
	reg_set(g, "rsp", 0x1234560);
	ASSERT_CHANGED(g, &a);
	OK(gm_snap_restore(g, "a", ERR));
	ASSERT_EQ(reg_get(g, "rax"), 0x1122334455667788);
	ASSERT_EQ(reg_get(g, "rip"), TEXT + 0x10);
	ASSERT_EQ(reg_get(g, "rsp"), STACK + STACK_SIZE - 0x10);
	ASSERT_EQ(gm_reg_pc(g), TEXT + 0x10);
	ASSERT_EQ(gm_reg_sp(g), STACK + STACK_SIZE - 0x10);
	ASSERT_STATE(g, &a);
	state_free(&a);
	gm_guest_close(g);
}

TEST(snapshot_restore_undoes_every_kind_of_change_at_once)
{
	struct gm_guest *g = populated();
	struct state a;

	state_take(g, &a);
	OK(gm_snap_save(g, "a", NULL, ERR));
	OK(gm_map(g, 0x50000, 0x3000, GM_PERM_W, "extra", 5, ERR));
	fill(g, 0x50000, 0x3000, 50);
	OK(gm_unmap(g, HEAP + 0x3000, 0x2000, ERR));
	OK(gm_protect(g, TEXT + 0x1000, 0x2000, GM_PERM_R, ERR));
	OK(gm_set_label(g, TEXT + 0x1000, "middle", 6, ERR));
	OK(gm_set_label(g, STACK, "[stack2]", 8, ERR));
	OK(gm_unmap(g, GUARD, 0x1000, ERR));
	fill(g, STACK + 0x8000, 0x4000, 51);
	fill(g, TEXT + 0x2ff0, 0x20, 52);
	reg_set(g, "rax", 0);
	reg_set(g, "rip", 0x50000);
	reg_set(g, "rsp", 0x53000);
	ASSERT_CHANGED(g, &a);
	OK(gm_snap_restore(g, "a", ERR));
	ASSERT_STATE(g, &a);
	state_free(&a);
	gm_guest_close(g);
}

TEST(snapshot_restore_brings_back_region_at_top_of_address_space)
{
	struct gm_guest *g = open_guest("x86_64");
	const uint64_t top = 0xffffffffffffe000ull;
	struct state a;

	OK(gm_map(g, top, 0x2000, GM_PERM_R | GM_PERM_W, "top", 3, ERR));
	fill(g, top + 0x1000, 0x1000, 60);
	state_take(g, &a);
	OK(gm_snap_save(g, "a", NULL, ERR));
	ASSERT_EQ(gm_snap_find(g, "a")->stored_bytes, 4096);
	ASSERT_EQ(gm_snap_find(g, "a")->regions[0].present[0], 0x02);
	OK(gm_unmap(g, top + 0x1000, 0x1000, ERR));
	OK(gm_map(g, top + 0x1000, 0x1000, GM_PERM_ALL, NULL, 0, ERR));
	OK(gm_snap_restore(g, "a", ERR));
	ASSERT_STATE(g, &a);
	state_free(&a);
	gm_guest_close(g);
}

TEST(snapshot_restore_twice_works)
{
	struct gm_guest *g = populated();
	struct state a;

	state_take(g, &a);
	OK(gm_snap_save(g, "a", NULL, ERR));
	fill(g, TEXT, 0x4000, 70);
	OK(gm_unmap(g, HEAP, 0x8000, ERR));
	OK(gm_snap_restore(g, "a", ERR));
	ASSERT_STATE(g, &a);
	/* Restore copies: writing the restored guest leaves the snapshot. */
	fill(g, TEXT, 0x4000, 71);
	fill(g, HEAP, 0x8000, 72);
	OK(gm_protect(g, HEAP, 0x1000, GM_PERM_X, ERR));
	reg_set(g, "rax", 1);
	ASSERT_CHANGED(g, &a);
	OK(gm_snap_restore(g, "a", ERR));
	ASSERT_STATE(g, &a);
	OK(gm_snap_restore(g, "a", ERR));
	ASSERT_STATE(g, &a);
	state_free(&a);
	gm_guest_close(g);
}

TEST(snapshot_restore_without_name_uses_newest)
{
	struct gm_guest *g = populated();
	struct state a, b;

	state_take(g, &a);
	OK(gm_snap_save(g, "a", NULL, ERR));
	fill(g, HEAP + 0x4000, 0x100, 80);
	reg_set(g, "rax", 0xb);
	state_take(g, &b);
	OK(gm_snap_save(g, "b", NULL, ERR));
	OK(gm_map(g, 0x60000, 0x1000, GM_PERM_ALL, NULL, 0, ERR));
	reg_set(g, "rax", 0xc);
	OK(gm_snap_restore(g, NULL, ERR));
	ASSERT_STATE(g, &b);
	OK(gm_snap_drop(g, "b", ERR));
	OK(gm_snap_restore(g, NULL, ERR));
	ASSERT_STATE(g, &a);
	state_free(&a);
	state_free(&b);
	gm_guest_close(g);
}

TEST(snapshot_save_existing_name_replaces_it)
{
	struct gm_guest *g = populated();
	struct state a1, b, a2;

	state_take(g, &a1);
	OK(gm_snap_save(g, "a", NULL, ERR));
	fill(g, HEAP, 0x100, 90);
	state_take(g, &b);
	OK(gm_snap_save(g, "b", NULL, ERR));
	OK(gm_map(g, 0x60000, 0x1000, GM_PERM_R, "later", 5, ERR));
	fill(g, 0x60000, 0x1000, 91);
	reg_set(g, "rax", 0xa2);
	state_take(g, &a2);
	OK(gm_snap_save(g, "a", NULL, ERR));
	ASSERT_EQ(gm_snap_count(g), 2);
	/* The replacement is the newest. */
	ASSERT_STR(gm_snap_at(g, 0)->name, "b");
	ASSERT_STR(gm_snap_at(g, 1)->name, "a");
	ASSERT_EQ(gm_snap_find(g, "a")->nregions, 5);
	OK(gm_unmap_all(g, ERR));
	OK(gm_snap_restore(g, NULL, ERR));
	ASSERT_STATE(g, &a2);
	OK(gm_snap_restore(g, "b", ERR));
	ASSERT_STATE(g, &b);
	OK(gm_snap_restore(g, "a", ERR));
	ASSERT_STATE(g, &a2);
	ASSERT_CHANGED(g, &a1);
	state_free(&a1);
	state_free(&b);
	state_free(&a2);
	gm_guest_close(g);
}

/*
 * TEXT:       jmp TEXT+0x100
 * TEXT+0x100: mov rax, IMM; jmp TEXT+0x200
 * Run to TEXT+0x200. The immediate is in a block other than the one that
 * holds the `until` address, so a stale translation of it would run again.
 */
static const uint8_t code_entry[] = {0xe9, 0xfb, 0x00, 0x00, 0x00};
static const uint8_t code_body[] = {
    0x48, 0xc7, 0xc0, 0x11, 0x11, 0x11, 0x11, 0xe9, 0xf4, 0x00, 0x00, 0x00,
};
#define CODE_IMM (TEXT + 0x103)

static uint64_t run_text(struct gm_guest *g)
{
	uc_err e;

	reg_set(g, "rax", 0);
	e = uc_emu_start(gm_guest_engine(g), TEXT, TEXT + 0x200, 0, 0);
	if (e != UC_ERR_OK)
		TEST_FAIL("uc_emu_start: %s", uc_strerror(e));
	return reg_get(g, "rax");
}

TEST(snapshot_restore_drops_translated_code)
{
	struct gm_guest *g = populated();
	static const uint8_t imm2[4] = {0x22, 0x22, 0x22, 0x22};

	OK(gm_mem_write(g, TEXT, code_entry, sizeof(code_entry), ERR));
	OK(gm_mem_write(g, TEXT + 0x100, code_body, sizeof(code_body), ERR));
	ASSERT_EQ(run_text(g), 0x11111111);
	OK(gm_snap_save(g, "a", NULL, ERR));
	OK(gm_mem_write(g, CODE_IMM, imm2, sizeof(imm2), ERR));
	ASSERT_EQ(run_text(g), 0x22222222);
	/* The engine has translated "mov rax, 0x22222222" by now. */
	OK(gm_snap_restore(g, "a", ERR));
	ASSERT_EQ(run_text(g), 0x11111111);
	gm_guest_close(g);
}

/*
 * The same on arm64, where writing the registers back does not drop
 * translated code as writing fs does on x86_64:
 * 0x10000: b 0x10100
 * 0x10100: movz x0, #IMM; b 0x10200
 */
static const uint32_t a64_entry[] = {0x14000040};
static const uint32_t a64_body[] = {0xd2822220, 0x1400003f};
static const uint32_t a64_movz_2222 = 0xd2844440;

static uint64_t run_a64(struct gm_guest *g)
{
	uc_err e;

	reg_set(g, "x0", 0);
	e = uc_emu_start(gm_guest_engine(g), 0x10000, 0x10200, 0, 0);
	if (e != UC_ERR_OK)
		TEST_FAIL("uc_emu_start: %s", uc_strerror(e));
	return reg_get(g, "x0");
}

TEST(snapshot_restore_drops_translated_code_arm64)
{
	struct gm_guest *g = open_guest("arm64");

	OK(gm_map(g, 0x10000, 0x1000, GM_PERM_R | GM_PERM_X, "code", 4, ERR));
	OK(gm_mem_write(g, 0x10000, a64_entry, sizeof(a64_entry), ERR));
	OK(gm_mem_write(g, 0x10100, a64_body, sizeof(a64_body), ERR));
	ASSERT_EQ(run_a64(g), 0x1111);
	OK(gm_snap_save(g, "a", NULL, ERR));
	OK(gm_mem_write(g, 0x10100, &a64_movz_2222, 4, ERR));
	ASSERT_EQ(run_a64(g), 0x2222);
	OK(gm_snap_restore(g, "a", ERR));
	ASSERT_EQ(run_a64(g), 0x1111);
	gm_guest_close(g);
}

/* A snapshot owns its bytes */

TEST(snapshot_bytes_do_not_follow_later_changes)
{
	struct gm_guest *g = populated();
	const struct gm_snapshot *s;
	struct state a;

	state_take(g, &a);
	OK(gm_snap_save(g, "a", NULL, ERR));
	s = gm_snap_find(g, "a");
	fill(g, TEXT, 0x4000, 100);
	fill(g, HEAP, 0x8000, 101);
	fill(g, GUARD, 0x1000, 102);
	for (size_t i = 0; i < a.n; i++)
		ASSERT_MEM(s->regions[i].bytes, a.r[i].bytes, a.r[i].size);
	OK(gm_unmap_all(g, ERR));
	OK(gm_map(g, TEXT, 0x4000, GM_PERM_ALL, NULL, 0, ERR));
	fill(g, TEXT, 0x4000, 103);
	for (size_t i = 0; i < a.n; i++)
		ASSERT_MEM(s->regions[i].bytes, a.r[i].bytes, a.r[i].size);
	OK(gm_snap_restore(g, "a", ERR));
	ASSERT_STATE(g, &a);
	state_free(&a);
	gm_guest_close(g);
}

/* Errors leave everything as it was */

TEST(snapshot_restore_unknown_name_fails_and_changes_nothing)
{
	struct gm_guest *g = populated();
	struct state b;

	OK(gm_snap_save(g, "a", NULL, ERR));
	OK(gm_unmap(g, HEAP + 0x1000, 0x1000, ERR));
	OK(gm_map(g, 0x60000, 0x1000, GM_PERM_ALL, NULL, 0, ERR));
	fill(g, TEXT, 0x100, 110);
	reg_set(g, "rax", 0x110);
	state_take(g, &b);
	FAILS(ENOENT, gm_snap_restore(g, "b", ERR));
	FAILS(ENOENT, gm_snap_restore(g, "A", ERR));
	ASSERT_STATE(g, &b);
	ASSERT_EQ(gm_snap_count(g), 1);
	state_free(&b);
	gm_guest_close(g);
}

TEST(snapshot_restore_with_no_snapshots_fails)
{
	struct gm_guest *g = populated();
	struct state a;

	state_take(g, &a);
	FAILS(ENOENT, gm_snap_restore(g, NULL, ERR));
	FAILS(ENOENT, gm_snap_restore(g, "snap-1", ERR));
	ASSERT_STATE(g, &a);
	/* Dropping the last one leaves none again. */
	OK(gm_snap_save(g, NULL, NULL, ERR));
	OK(gm_snap_drop(g, "snap-1", ERR));
	FAILS(ENOENT, gm_snap_restore(g, NULL, ERR));
	ASSERT_STATE(g, &a);
	state_free(&a);
	gm_guest_close(g);
}

TEST(snapshot_restore_past_region_limit_fails_and_changes_nothing)
{
	struct gm_guest *g = populated();
	size_t limit = gm_guest_region_limit(g);
	struct state a, b;
	size_t n;

	for (uint64_t addr = 0x40000; addr < 0x80000; addr += 0x10000) {
		OK(gm_map(g, addr, 0x1000, GM_PERM_R, NULL, 0, ERR));
		fill(g, addr, 0x1000, (uint8_t)(addr >> 16));
	}
	state_take(g, &a);
	ASSERT_EQ(a.n, 8);
	OK(gm_snap_save(g, "a", NULL, ERR));

	/* Keep some regions (with new bytes), drop others, add one. */
	fill(g, TEXT, 0x4000, 120);
	fill(g, STACK, 0x1000, 121);
	OK(gm_unmap(g, HEAP, 0x8000, ERR));
	for (uint64_t addr = 0x40000; addr < 0x80000; addr += 0x10000)
		OK(gm_unmap(g, addr, 0x1000, ERR));
	OK(gm_map(g, 0x90000, 0x2000, GM_PERM_ALL, "new", 3, ERR));
	fill(g, 0x90000, 0x2000, 122);
	OK(gm_set_label(g, TEXT, "text2", 5, ERR));
	reg_set(g, "rax", 0x120);
	reg_set(g, "rip", 0x90000);
	reg_set(g, "rsp", 0x92000);
	gm_regions(g, &n);
	ASSERT_EQ(n, 4);
	state_take(g, &b);

	gm_guest_set_region_limit(g, 5);
	ASSERT_EQ(gm_guest_region_limit(g), 5);
	FAILS(ENOSPC, gm_snap_restore(g, "a", ERR));
	ASSERT_STATE(g, &b);
	FAILS(ENOSPC, gm_snap_restore(g, NULL, ERR));
	ASSERT_STATE(g, &b);
	ASSERT_EQ(gm_snap_count(g), 1);

	gm_guest_set_region_limit(g, limit);
	OK(gm_snap_restore(g, "a", ERR));
	ASSERT_STATE(g, &a);
	state_free(&a);
	state_free(&b);
	gm_guest_close(g);
}

TEST(snapshot_rejects_bad_names)
{
	struct gm_guest *g = populated();
	char long_name[GM_SNAP_NAME_MAX + 2];
	static const char *const bad[] = {
	    "",	  "a/b",   "/",	   ".",	   "..",    "a\nb",
	    "\n", "a\x01", "a\tb", "\x1f", "a\x7f",
	};
	static const char *const good[] = {
	    "a", "a.b", "...", ".a", "a b", "snap-7", "-",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		FAILS(EINVAL, gm_snap_save(g, bad[i], NULL, ERR));
		FAILS(EINVAL, gm_snap_name_check(bad[i], ERR));
	}
	memset(long_name, 'x', sizeof(long_name));
	long_name[GM_SNAP_NAME_MAX + 1] = '\0'; /* 256 bytes */
	FAILS(EINVAL, gm_snap_save(g, long_name, NULL, ERR));
	FAILS(EINVAL, gm_snap_name_check(long_name, ERR));
	ASSERT_EQ(gm_snap_count(g), 0);

	long_name[GM_SNAP_NAME_MAX] = '\0'; /* 255 bytes */
	OK(gm_snap_name_check(long_name, ERR));
	OK(gm_snap_save(g, long_name, NULL, ERR));
	ASSERT(gm_snap_find(g, long_name) != NULL);
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		OK(gm_snap_name_check(good[i], ERR));
		OK(gm_snap_save(g, good[i], NULL, ERR));
		ASSERT(gm_snap_find(g, good[i]) != NULL);
	}
	ASSERT_EQ(gm_snap_count(g), 1 + sizeof(good) / sizeof(good[0]));
	OK(gm_snap_restore(g, long_name, ERR));
	gm_guest_close(g);
}

TEST(snapshot_save_past_limit_fails_with_enospc)
{
	struct gm_guest *g = open_guest("x86_64");

	gm_guest_set_snapshot_limit(g, 64 * KIB);
	ASSERT_EQ(gm_guest_snapshot_limit(g), 64 * KIB);
	OK(gm_map(g, 0x100000, 256 * KIB, GM_PERM_ALL, NULL, 0, ERR));
	fill(g, 0x100000, 128 * KIB, 130);
	FAILS(ENOSPC, gm_snap_save(g, NULL, NULL, ERR));
	FAILS(ENOSPC, gm_snap_save(g, "big", NULL, ERR));
	ASSERT_EQ(gm_snap_count(g), 0);
	ASSERT(gm_snap_find(g, "big") == NULL);
	FAILS(ENOENT, gm_snap_restore(g, NULL, ERR));
	gm_guest_close(g);
}

TEST(snapshot_save_past_limit_keeps_snapshot_of_that_name)
{
	struct gm_guest *g = open_guest("x86_64");
	struct state a, b;

	gm_guest_set_snapshot_limit(g, 64 * KIB);
	OK(gm_map(g, 0x100000, 256 * KIB, GM_PERM_ALL, "big", 3, ERR));
	fill(g, 0x100000, 0x1000, 140);
	reg_set(g, "rax", 0x140);
	state_take(g, &a);
	OK(gm_snap_save(g, "keep", NULL, ERR));
	ASSERT_EQ(gm_snap_find(g, "keep")->stored_bytes, 4096);

	fill(g, 0x100000, 128 * KIB, 141);
	reg_set(g, "rax", 0x141);
	state_take(g, &b);
	FAILS(ENOSPC, gm_snap_save(g, "keep", NULL, ERR));
	ASSERT_STATE(g, &b); /* a failed save changes nothing */
	ASSERT_EQ(gm_snap_count(g), 1);
	ASSERT(gm_snap_find(g, "keep") != NULL);
	ASSERT_EQ(gm_snap_find(g, "keep")->stored_bytes, 4096);
	FAILS(ENOSPC, gm_snap_save(g, "other", NULL, ERR));
	ASSERT_EQ(gm_snap_count(g), 1);
	OK(gm_snap_restore(g, "keep", ERR));
	ASSERT_STATE(g, &a);
	state_free(&a);
	state_free(&b);
	gm_guest_close(g);
}

TEST(snapshot_limit_counts_all_snapshots_together)
{
	struct gm_guest *g = open_guest("x86_64");

	gm_guest_set_snapshot_limit(g, 64 * KIB);
	OK(gm_map(g, 0x100000, 64 * KIB, GM_PERM_ALL, NULL, 0, ERR));
	fill(g, 0x100000, 40 * KIB, 150);
	OK(gm_snap_save(g, "a", NULL, ERR));
	ASSERT_EQ(gm_snap_find(g, "a")->stored_bytes, 40 * KIB);
	FAILS(ENOSPC, gm_snap_save(g, "b", NULL, ERR));
	ASSERT_EQ(gm_snap_count(g), 1);
	/* Dropping gives the memory back. */
	OK(gm_snap_drop(g, "a", ERR));
	OK(gm_snap_save(g, "b", NULL, ERR));
	ASSERT_EQ(gm_snap_count(g), 1);
	gm_guest_close(g);
}

/* Drop */

TEST(snapshot_drop_removes_only_that_snapshot)
{
	struct gm_guest *g = populated();
	struct state a, c;

	state_take(g, &a);
	OK(gm_snap_save(g, "a", NULL, ERR));
	fill(g, HEAP, 0x10, 160);
	OK(gm_snap_save(g, "b", NULL, ERR));
	OK(gm_map(g, 0x60000, 0x1000, GM_PERM_R, NULL, 0, ERR));
	reg_set(g, "rax", 0x160);
	state_take(g, &c);
	OK(gm_snap_save(g, "c", NULL, ERR));
	ASSERT_EQ(gm_snap_count(g), 3);

	OK(gm_snap_drop(g, "b", ERR));
	ASSERT_EQ(gm_snap_count(g), 2);
	ASSERT(gm_snap_find(g, "b") == NULL);
	ASSERT_STR(gm_snap_at(g, 0)->name, "a");
	ASSERT_STR(gm_snap_at(g, 1)->name, "c");
	FAILS(ENOENT, gm_snap_restore(g, "b", ERR));
	FAILS(ENOENT, gm_snap_drop(g, "b", ERR));
	ASSERT_EQ(gm_snap_count(g), 2);
	OK(gm_snap_restore(g, "a", ERR));
	ASSERT_STATE(g, &a);
	OK(gm_snap_restore(g, "c", ERR));
	ASSERT_STATE(g, &c);

	OK(gm_snap_drop(g, "c", ERR));
	OK(gm_snap_restore(g, NULL, ERR));
	ASSERT_STATE(g, &a);
	OK(gm_snap_drop(g, "a", ERR));
	ASSERT_EQ(gm_snap_count(g), 0);
	state_free(&a);
	state_free(&c);
	gm_guest_close(g);
}

TEST(snapshot_drop_unknown_name_fails_and_changes_nothing)
{
	struct gm_guest *g = populated();
	struct state a;

	state_take(g, &a);
	FAILS(ENOENT, gm_snap_drop(g, "a", ERR));
	OK(gm_snap_save(g, "a", NULL, ERR));
	FAILS(ENOENT, gm_snap_drop(g, "b", ERR));
	FAILS(ENOENT, gm_snap_drop(g, "snap-1", ERR));
	ASSERT_EQ(gm_snap_count(g), 1);
	ASSERT(gm_snap_find(g, "a") != NULL);
	ASSERT_STATE(g, &a);
	state_free(&a);
	gm_guest_close(g);
}

/* arm64: 1 KiB pages, other registers */

TEST(snapshot_arm64_round_trip)
{
	struct gm_guest *g = open_guest("arm64");
	const struct gm_snapshot *s;
	struct state a;
	size_t n;

	ASSERT_EQ(gm_guest_page_size(g), 1024);
	OK(gm_map(g, 0x10000, 0x1000, GM_PERM_R | GM_PERM_X, "code", 4, ERR));
	OK(gm_map(g, 0x20000, 0x800, GM_PERM_R | GM_PERM_W, "data", 4, ERR));
	fill(g, 0x10000, 0x1000, 170);
	fill(g, 0x20400, 0x10, 171); /* page 1 of data only */
	reg_set(g, "x0", 0xdeadbeefcafef00d);
	reg_set(g, "sp", 0x20800);
	reg_set(g, "pc", 0x10004);
	reg_set(g, "nzcv", 0x60000000);
	state_take(g, &a);
	OK(gm_snap_save(g, NULL, NULL, ERR));
	s = gm_snap_find(g, "snap-1");
	ASSERT(s != NULL);
	ASSERT_EQ(s->page_size, 1024);
	ASSERT_EQ(s->nregions, 2);
	ASSERT_EQ(s->stored_bytes, 5 * 1024);
	ASSERT_EQ(s->regions[0].present[0], 0x0f);
	ASSERT_EQ(s->regions[1].present[0], 0x02);

	OK(gm_unmap(g, 0x10400, 0x400, ERR));
	OK(gm_protect(g, 0x20000, 0x400, GM_PERM_R, ERR));
	OK(gm_set_label(g, 0x20000, "changed", 7, ERR));
	fill(g, 0x10800, 0x400, 172);
	fill(g, 0x20000, 0x400, 173);
	OK(gm_map(g, 0x30000, 0x400, GM_PERM_ALL, NULL, 0, ERR));
	reg_set(g, "x0", 1);
	reg_set(g, "sp", 0x30400);
	reg_set(g, "pc", 0x30000);
	reg_set(g, "nzcv", 0x80000000);
	gm_regions(g, &n);
	ASSERT_EQ(n, 5);
	ASSERT_CHANGED(g, &a);

	OK(gm_snap_restore(g, NULL, ERR));
	ASSERT_STATE(g, &a);
	ASSERT_EQ(reg_get(g, "x0"), 0xdeadbeefcafef00d);
	ASSERT_EQ(reg_get(g, "sp"), 0x20800);
	ASSERT_EQ(reg_get(g, "pc"), 0x10004);
	ASSERT_EQ(reg_get(g, "nzcv"), 0x60000000);
	state_free(&a);
	gm_guest_close(g);
}
