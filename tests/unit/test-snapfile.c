/*
 * Unit tests of core/snapfile.h: a snapshot written as a file reads back as
 * the same snapshot on every architecture, the bytes are laid out as
 * documented, and every malformed file is refused with a reason.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "arch.h"
#include "crc32c.h"
#include "guest.h"
#include "memory.h"
#include "regions.h"
#include "regs.h"
#include "snapcmp.h"
#include "snapfile.h"
#include "snapshot.h"
#include "test.h"

#define GIB (1ull << 30)
#define TIB (1ull << 40)

/* A file's bytes as they grow, from a sink or from the builders below. */
struct file {
	uint8_t *p;
	size_t len, cap;
};

static void put_bytes(struct file *f, const void *bytes, size_t len)
{
	if (f->len + len > f->cap) {
		f->cap = (f->len + len) * 2 + 64;
		f->p = realloc(f->p, f->cap);
		ASSERT(f->p != NULL);
	}
	memcpy(f->p + f->len, bytes, len);
	f->len += len;
}

static int file_sink(void *ctx, const void *bytes, size_t len)
{
	put_bytes(ctx, bytes, len);
	return 0;
}

static void put_le(struct file *f, uint64_t v, unsigned n)
{
	uint8_t b[8];

	ASSERT(n <= sizeof(b));
	for (unsigned i = 0; i < n; i++)
		b[i] = (uint8_t)(v >> (8 * i));
	put_bytes(f, b, n);
}

static uint64_t get_le(const uint8_t *p, unsigned n)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < n; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

/* Overwrite the N-byte field at OFF with V, little endian. */
static void poke(struct file *f, size_t off, uint64_t v, unsigned n)
{
	ASSERT(off + n <= f->len);
	for (unsigned i = 0; i < n; i++)
		f->p[off + i] = (uint8_t)(v >> (8 * i));
}

/* S's file, whose length must be what gm_snapfile_size promised. */
static struct file file_of(const struct gm_snapshot *s)
{
	struct file f = {0};

	OK(gm_snapfile_write(s, file_sink, &f, ERR));
	ASSERT_EQ(f.len, gm_snapfile_size(s));
	return f;
}

static int read_file(const struct file *f, const struct gm_snapfile_want *want,
		     struct gm_snapshot **out, struct gm_snapfile_about *about)
{
	memset(&test_err, 0, sizeof(test_err));
	return gm_snapfile_read(f->p, f->len, "back", want, out, about, ERR);
}

/* Reading F fails with EINVAL, a message holding WHY, and no snapshot. */
static void expect_einval(const struct file *f,
			  const struct gm_snapfile_want *want, const char *why)
{
	static const struct gm_snapfile_want any;
	/* Not NULL, so that a reader leaving *out alone is caught. */
	struct gm_snapshot *s = (struct gm_snapshot *)&s;
	int rc = read_file(f, want ? want : &any, &s, NULL);

	if (rc != -EINVAL || test_err.code != EINVAL)
		TEST_FAIL("expected EINVAL (%s), got %d: %s", why, rc,
			  test_err.msg);
	if (s != NULL)
		TEST_FAIL("a snapshot came back with EINVAL (%s)", why);
	if (test_err.msg[0] == '\0' || !strstr(test_err.msg, why))
		TEST_FAIL("message \"%s\" does not say \"%s\"", test_err.msg,
			  why);
}

/* The builders of hand-made files: a body without its trailer, which
 * expect_read seals with the right CRC, so that only the field under test
 * is wrong. */

/* Magic, version 1, flags 0, ARCH, PAGE_SIZE, NREGIONS, then every
 * register of ARCH in table order with the value i + 1, except that
 * register AT (if < nregs) is written under the name NAME. */
static void put_head_named(struct file *f, const char *arch, uint64_t page_size,
			   uint32_t nregions, size_t at, const char *name)
{
	const struct gm_arch *a = gm_arch_find(arch);
	uint8_t field[16] = {0};

	ASSERT(a != NULL);
	memcpy(field, arch, strlen(arch));
	put_bytes(f, GM_SNAPFILE_MAGIC, 8);
	put_le(f, 1, 4);
	put_le(f, 0, 4);
	put_bytes(f, field, sizeof(field));
	put_le(f, page_size, 8);
	put_le(f, nregions, 4);
	put_le(f, a->nregs, 4);
	for (size_t i = 0; i < a->nregs; i++) {
		const char *n = i == at ? name : a->regs[i].name;

		put_le(f, strlen(n), 1);
		put_bytes(f, n, strlen(n));
		put_le(f, i + 1, 8);
	}
}

static void put_head(struct file *f, const char *arch, uint64_t page_size,
		     uint32_t nregions)
{
	put_head_named(f, arch, page_size, nregions, SIZE_MAX, NULL);
}

static void put_region(struct file *f, uint64_t start, uint64_t size,
		       uint64_t perms, const char *label, size_t label_len)
{
	put_le(f, start, 8);
	put_le(f, size, 8);
	put_le(f, perms, 4);
	put_le(f, label_len, 4);
	put_bytes(f, label, label_len);
}

/* A run at OFF of LEN bytes, and the bytes (a pattern, or fewer). */
static void put_run_cut(struct file *f, uint64_t off, uint64_t len,
			size_t bytes)
{
	put_le(f, off, 8);
	put_le(f, len, 8);
	for (size_t i = 0; i < bytes; i++)
		put_le(f, 0x5a ^ (i * 13), 1);
}

static void put_run(struct file *f, uint64_t off, uint64_t len)
{
	put_run_cut(f, off, len, len);
}

static void put_end(struct file *f)
{
	put_le(f, 0, 8);
	put_le(f, 0, 8);
}

/* BODY and its CRC. */
static struct file sealed(const struct file *body)
{
	struct file f = {0};

	put_bytes(&f, body->p, body->len);
	put_le(&f, gm_crc32c(0, body->p, body->len), 4);
	return f;
}

/* Reading BODY with the right CRC fails with WHY or, WHY NULL, gives a
 * snapshot. BODY is freed. */
static void expect_read(struct file *body, const char *why)
{
	static const struct gm_snapfile_want any;
	struct file f = sealed(body);
	struct gm_snapshot *s = NULL;

	if (why) {
		expect_einval(&f, NULL, why);
	} else {
		OK(read_file(&f, &any, &s, NULL));
		ASSERT(s != NULL);
		gm_snapshot_free(s);
	}
	free(f.p);
	free(body->p);
	memset(body, 0, sizeof(*body));
}

/*
 * The small x86 file the structure tests edit (4 KiB pages):
 *   0x10000 +0x3000 r-x "text", page 1 stored
 *   0x20000 +0x1000 rw- "",     nothing stored
 * HEAD_LEN is where the first region starts.
 */
static size_t head_len(const char *arch)
{
	const struct gm_arch *a = gm_arch_find(arch);
	size_t len = GM_SNAPFILE_HEADER_SIZE;

	for (size_t i = 0; i < a->nregs; i++)
		len += 9 + strlen(a->regs[i].name);
	return len;
}

static struct file small_x86(void)
{
	struct file f = {0};

	put_head(&f, "x86", 0x1000, 2);
	put_region(&f, 0x10000, 0x3000, GM_PERM_R | GM_PERM_X, "text", 4);
	put_run(&f, 0x1000, 0x1000);
	put_end(&f);
	put_region(&f, 0x20000, 0x1000, GM_PERM_R | GM_PERM_W, "", 0);
	put_end(&f);
	return f;
}

/* Guests */

static struct gm_guest *guest_of(const struct gm_arch *a)
{
	struct gm_guest *g = NULL;

	ASSERT(a != NULL);
	OK(gm_guest_open(a, &g, ERR));
	return g;
}

/* Write LEN bytes of a pattern without zeros at ADDR. */
static void scribble(struct gm_guest *g, uint64_t addr, size_t len,
		     uint8_t seed)
{
	uint8_t *buf = malloc(len);

	ASSERT(buf != NULL);
	for (size_t i = 0; i < len; i++)
		buf[i] = (uint8_t)(1 + (seed * 31 + i) % 251);
	OK(gm_mem_write(g, addr, buf, len, ERR));
	free(buf);
}

static void set_reg(struct gm_guest *g, const char *name, uint64_t v)
{
	const struct gm_reg *r = gm_arch_reg(gm_guest_arch(g), name);

	ASSERT(r != NULL);
	OK(gm_reg_write(g, r, v, ERR));
}

/* Labels whose bytes a C string would lose. */
static const char heap_label[] = "heap\0\xff";
static char long_label[GM_LABEL_MAX + 1]; /* one byte too long */

static void long_label_fill(void)
{
	for (size_t i = 0; i < sizeof(long_label); i++)
		long_label[i] = (char)(i % 3 == 0 ? 0 : 0xff - i % 7);
}

/*
 * A guest of A with regions of every kind at BASE:
 *   BASE           4 pages r-x "text"         pages 0 and 2 written
 *   BASE+4 pages   8 pages rw- "heap\0\xff"   adjacent; pages 1-3, 7 written,
 *                                             page 5 written with zeros
 *   BASE+1M+2p*i   1 page, perms i (0..7)     page of perms 5 written;
 *                                             perms 0 has a 4096-byte label
 *   top 4 pages    rw- "[top]"                the last 8 bytes written
 * and pc, sp and the first general register (all its bits) set.
 */
#define BASE 0x100000ull

static struct gm_guest *guest_with_everything(const struct gm_arch *a)
{
	struct gm_guest *g = guest_of(a);
	uint64_t ps = gm_guest_page_size(g), last = gm_guest_last_addr(g);
	uint8_t zeros[64] = {0};

	long_label_fill();
	OK(gm_map(g, BASE, 4 * ps, GM_PERM_R | GM_PERM_X, "text", 4, ERR));
	OK(gm_map(g, BASE + 4 * ps, 8 * ps, GM_PERM_R | GM_PERM_W, heap_label,
		  sizeof(heap_label) - 1, ERR));
	for (unsigned p = 0; p <= GM_PERM_ALL; p++) {
		char label[] = {'p', (char)('0' + p), '\xff', 0, 'z'};

		OK(gm_map(g, BASE + 0x100000 + 2 * ps * p, ps, p,
			  p ? label : long_label,
			  p ? sizeof(label) : GM_LABEL_MAX, ERR));
	}
	OK(gm_map(g, last - 4 * ps + 1, 4 * ps, GM_PERM_R | GM_PERM_W, "[top]",
		  5, ERR));
	scribble(g, BASE, ps, 1);
	scribble(g, BASE + 2 * ps + 100, 16, 2);
	scribble(g, BASE + 5 * ps, 3 * ps, 3);
	scribble(g, BASE + 12 * ps - 1, 1, 4);
	OK(gm_mem_write(g, BASE + 9 * ps, zeros, sizeof(zeros), ERR));
	scribble(g, BASE + 0x100000 + 2 * ps * 5 + 7, 3, 5);
	scribble(g, last - 7, 8, 6);
	set_reg(g, "pc", BASE + 0x10);
	set_reg(g, "sp", BASE + 12 * ps - 0x40);
	OK(gm_reg_write(g, &a->regs[1],
			a->address_bits == 64 ? 0x8877665544332211 : 0x87654321,
			ERR));
	return g;
}

/* Change every kind of thing a restore must undo. */
static void change_everything(struct gm_guest *g)
{
	const struct gm_arch *a = gm_guest_arch(g);
	uint64_t ps = gm_guest_page_size(g), last = gm_guest_last_addr(g);

	OK(gm_unmap(g, BASE + 6 * ps, 2 * ps, ERR));
	OK(gm_map(g, BASE + 0x300000, 2 * ps, GM_PERM_ALL, "new", 3, ERR));
	scribble(g, BASE + 0x300000, 8, 7);
	scribble(g, BASE + ps, 8, 8);
	OK(gm_protect(g, last - ps + 1, ps, GM_PERM_R, ERR));
	OK(gm_set_label(g, BASE, "changed", 7, ERR));
	set_reg(g, "pc", BASE + 0x20);
	OK(gm_reg_write(g, &a->regs[1], 0x77, ERR));
}

/* A view of G writes exactly the bytes of F. */
static void assert_view_writes(struct gm_guest *g, const struct file *f)
{
	struct gm_snapshot *v = NULL;
	struct file w;

	OK(gm_snap_view(g, &v, ERR));
	w = file_of(v);
	gm_snapshot_free(v);
	ASSERT_EQ(w.len, f->len);
	ASSERT_MEM(w.p, f->p, f->len);
	free(w.p);
}

#define ASSERT_SAME(a, b)                                                \
	do {                                                             \
		char why_[512];                                          \
		if (gm_fuzz_snap_differs((a), (b), why_, sizeof(why_)))  \
			TEST_FAIL("%s and %s differ: %s", #a, #b, why_); \
	} while (0)

static void round_trip(const struct gm_arch *a)
{
	struct gm_guest *g = guest_with_everything(a);
	struct gm_snapfile_want want = {a, gm_guest_page_size(g), false};
	struct gm_snapfile_about about;
	struct gm_snapshot *back = NULL, *now = NULL;
	const struct gm_snapshot *saved;
	struct file f;

	OK(gm_snap_save(g, "saved", NULL, ERR));
	saved = gm_snap_find(g, "saved");
	f = file_of(saved);
	assert_view_writes(g, &f);

	OK(read_file(&f, &want, &back, &about));
	ASSERT(about.checksum_ok);
	ASSERT_EQ(about.version, 1);
	ASSERT_STR(back->name, "back");
	ASSERT_SAME(saved, back);

	change_everything(g);
	OK(gm_snap_drop(g, "saved", ERR)); /* only the file's copy is left */
	OK(gm_snap_restore_from(g, back, ERR));
	OK(gm_snap_view(g, &now, ERR));
	ASSERT_SAME(back, now);
	gm_snapshot_free(now);
	assert_view_writes(g, &f);
	free(f.p);
	gm_snapshot_free(back);
	gm_guest_close(g);
}

TEST(snapfile_round_trips_every_arch)
{
	size_t n = 0;

	for (const struct gm_arch *a; (a = gm_arch_at(n)); n++)
		round_trip(a);
	ASSERT_EQ(n, 8);
}

/* Whether [p, p+len) lies inside one region's memory of S. */
static bool in_snapshot(const struct gm_snapshot *s, const uint8_t *p,
			size_t len)
{
	for (size_t i = 0; i < s->nregions; i++) {
		const struct gm_snap_region *r = &s->regions[i];

		if (p >= r->bytes && len <= r->size &&
		    (size_t)(p - r->bytes) <= r->size - len)
			return true;
	}
	return false;
}

TEST(snapfile_pieces_are_the_file_and_pages_point_into_the_snapshot)
{
	size_t n = 0;

	for (const struct gm_arch *a; (a = gm_arch_at(n)); n++) {
		struct gm_guest *g = guest_with_everything(a);
		struct gm_snapfile_pieces p;
		const struct gm_snapshot *s;
		struct file f, joined = {0};
		size_t pages = 0;

		OK(gm_snap_save(g, "s", NULL, ERR));
		s = gm_snap_find(g, "s");
		f = file_of(s);
		OK(gm_snapfile_pieces(s, &p, ERR));
		ASSERT_EQ(p.size, f.len);
		for (size_t i = 0; i < p.n; i++) {
			ASSERT_EQ(p.v[i].off, joined.len);
			ASSERT(p.v[i].len > 0);
			ASSERT_EQ(gm_snapfile_piece_at(&p, p.v[i].off), i);
			ASSERT_EQ(gm_snapfile_piece_at(&p, p.v[i].off +
							       p.v[i].len - 1),
				  i);
			if (in_snapshot(s, p.v[i].bytes, p.v[i].len))
				pages += p.v[i].len;
			put_bytes(&joined, p.v[i].bytes, p.v[i].len);
		}
		ASSERT_EQ(joined.len, f.len);
		ASSERT_MEM(joined.p, f.p, f.len);
		/* every stored page is served from the snapshot, not copied */
		ASSERT_EQ(pages, s->stored_bytes);
		gm_snapfile_pieces_free(&p);
		free(joined.p);
		free(f.p);
		gm_guest_close(g);
	}
}

TEST(snapfile_does_not_store_zero_pages)
{
	struct gm_guest *g = guest_of(gm_arch_find("x86_64"));
	const uint64_t big = 0x40000000;
	const struct gm_snapshot *s;
	struct gm_snapshot *back = NULL;
	uint8_t b = 0;
	struct file f;

	OK(gm_map(g, big, GIB, GM_PERM_R | GM_PERM_W, "big", 3, ERR));
	scribble(g, big, 1, 1);
	scribble(g, big + GIB / 2 + 5, 2, 2);
	scribble(g, big + GIB - 1, 1, 3);
	OK(gm_snap_save(g, "s", NULL, ERR));
	s = gm_snap_find(g, "s");
	ASSERT_EQ(s->stored_bytes, 3 * 0x1000);
	f = file_of(s);
	/* The header and registers, one region with its label and end mark,
	 * three runs of one page, the CRC: 13 KiB for a GiB mapped. */
	ASSERT_EQ(f.len,
		  head_len("x86_64") + 24 + 3 + 16 + 3 * (16 + 0x1000) + 4);
	OK(read_file(&f, NULL, &back, NULL));
	ASSERT_SAME(s, back);
	b = back->regions[0].bytes[GIB - 1];
	ASSERT(b != 0);
	free(f.p);
	gm_snapshot_free(back);
	gm_guest_close(g);
}

/* A mips guest (big endian) writes a little-endian file all the same. */
TEST(snapfile_layout_is_little_endian_as_documented)
{
	const struct gm_arch *a = gm_arch_find("mips");
	struct gm_guest *g = guest_of(a);
	const struct gm_snapshot *s;
	char arch[16] = "mips";
	size_t off = GM_SNAPFILE_HEADER_SIZE;
	struct file f;

	OK(gm_map(g, 0x400000, 0x2000, GM_PERM_R | GM_PERM_X, "ab", 2, ERR));
	scribble(g, 0x401000, 0x1000, 9);
	set_reg(g, "pc", 0x11223344);
	OK(gm_snap_save(g, "s", NULL, ERR));
	s = gm_snap_find(g, "s");
	f = file_of(s);

	ASSERT_MEM(f.p, "GMEMSNAP", 8);
	ASSERT_EQ(get_le(f.p + 8, 4), 1);
	ASSERT_EQ(get_le(f.p + 12, 4), 0);
	ASSERT_MEM(f.p + 16, arch, 16);
	ASSERT_EQ(get_le(f.p + 32, 8), 0x1000);
	ASSERT_EQ(get_le(f.p + 40, 4), 1);
	ASSERT_EQ(get_le(f.p + 44, 4), a->nregs);
	for (size_t i = 0; i < a->nregs; i++) {
		size_t len = strlen(a->regs[i].name);

		ASSERT_EQ(f.p[off], len);
		ASSERT_MEM(f.p + off + 1, a->regs[i].name, len);
		ASSERT_EQ(get_le(f.p + off + 1 + len, 8), s->regs[i]);
		if (strcmp(a->regs[i].name, "pc") == 0)
			ASSERT_MEM(f.p + off + 1 + len,
				   "\x44\x33\x22\x11\0\0\0\0", 8);
		off += 9 + len;
	}
	ASSERT_EQ(get_le(f.p + off, 8), 0x400000);
	ASSERT_EQ(get_le(f.p + off + 8, 8), 0x2000);
	ASSERT_EQ(get_le(f.p + off + 16, 4), GM_PERM_R | GM_PERM_X);
	ASSERT_EQ(get_le(f.p + off + 20, 4), 2);
	ASSERT_MEM(f.p + off + 24, "ab", 2);
	off += 26;
	ASSERT_EQ(get_le(f.p + off, 8), 0x1000); /* the run: page 1 only */
	ASSERT_EQ(get_le(f.p + off + 8, 8), 0x1000);
	ASSERT_MEM(f.p + off + 16, s->regions[0].bytes + 0x1000, 0x1000);
	off += 16 + 0x1000;
	ASSERT_EQ(get_le(f.p + off, 8), 0); /* the end mark */
	ASSERT_EQ(get_le(f.p + off + 8, 8), 0);
	off += 16;
	ASSERT_EQ(f.len, off + 4);
	ASSERT_EQ(get_le(f.p + off, 4), gm_crc32c(0, f.p, off));
	free(f.p);
	gm_guest_close(g);
}

TEST(crc32c_is_castagnoli_and_chains)
{
	static const char check[] = "123456789";
	uint8_t buf[1000];
	uint32_t crc = 0;

	ASSERT_EQ(gm_crc32c(0, check, 9), 0xe3069283);
	ASSERT_EQ(gm_crc32c(gm_crc32c(0, check, 4), check + 4, 5), 0xe3069283);
	ASSERT_EQ(gm_crc32c(0, "", 0), 0);
	ASSERT_EQ(gm_crc32c(0xe3069283, "", 0), 0xe3069283);
	/* Long, unaligned and byte-by-byte pieces agree. */
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)(i * 7 + 3);
	for (size_t i = 1; i < sizeof(buf); i++)
		crc = gm_crc32c(crc, buf + i, 1);
	ASSERT_EQ(gm_crc32c(0, buf + 1, sizeof(buf) - 1), crc);
	ASSERT_EQ(
	    gm_crc32c(gm_crc32c(0, buf + 1, 13), buf + 14, sizeof(buf) - 14),
	    crc);
}

/* CRC-32C bit by bit, as its definition says. */
static uint32_t crc32c_by_bits(uint32_t crc, const uint8_t *p, size_t len)
{
	crc = ~crc;
	while (len--) {
		crc ^= *p++;
		for (int k = 0; k < 8; k++)
			crc = crc & 1 ? (crc >> 1) ^ 0x82f63b78 : crc >> 1;
	}
	return ~crc;
}

TEST(crc32c_of_long_buffers_is_the_definitions_at_any_alignment)
{
	/* Past three strides of 8 KiB the host may run three streams at
	 * once and join them: every length and alignment around that. */
	size_t n = 100000;
	uint8_t *buf = malloc(n + 8);
	uint64_t x = 88172645463325252ull;

	ASSERT(buf);
	for (size_t i = 0; i < n + 8; i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		buf[i] = (uint8_t)x;
	}
	for (size_t len = 0; len <= n; len += len < 24600 ? 4093 : 7919)
		for (size_t off = 0; off < 8; off += 3)
			ASSERT_EQ(
			    gm_crc32c((uint32_t)len, buf + off, len),
			    crc32c_by_bits((uint32_t)len, buf + off, len));
	for (size_t len = 3 * 8192 - 9; len <= 3 * 8192 + 9; len++)
		ASSERT_EQ(gm_crc32c(0, buf + 1, len),
			  crc32c_by_bits(0, buf + 1, len));
	free(buf);
}

/* Malformed files */

/* A small real file: an arm guest (1 KiB pages) with two regions. */
static struct file small_arm_file(void)
{
	struct gm_guest *g = guest_of(gm_arch_find("arm"));
	struct file f;

	OK(gm_map(g, 0x10000, 0x800, GM_PERM_R | GM_PERM_W, "d", 1, ERR));
	OK(gm_map(g, 0x20000, 0x400, GM_PERM_R, "", 0, ERR));
	scribble(g, 0x10400, 0x20, 1);
	OK(gm_snap_save(g, "s", NULL, ERR));
	f = file_of(gm_snap_find(g, "s"));
	gm_guest_close(g);
	return f;
}

TEST(snapfile_every_truncation_is_einval)
{
	struct file f = small_arm_file();
	struct gm_snapfile_want any_crc = {.any_checksum = true};
	size_t full = f.len;

	for (f.len = 0; f.len < full; f.len++) {
		expect_einval(&f, NULL, "not a valid snapshot");
		/* Without the checksum the structure still sees the cut. */
		expect_einval(&f, &any_crc, "not a valid snapshot");
	}
	free(f.p);
}

TEST(snapfile_every_bit_flip_is_einval)
{
	struct file f = small_arm_file();

	for (size_t i = 0; i < f.len; i++) {
		for (unsigned bit = 0; bit < 8; bit++) {
			f.p[i] ^= (uint8_t)(1u << bit);
			/* The header is checked before the sum; past it
			 * only the sum can tell. */
			expect_einval(&f, NULL,
				      i < GM_SNAPFILE_HEADER_SIZE ? ""
								  : "checksum");
			f.p[i] ^= (uint8_t)(1u << bit);
		}
	}
	free(f.p);
}

TEST(snapfile_builder_files_are_valid)
{
	struct file f = small_x86();

	expect_read(&f, NULL);
	f = small_x86();
	ASSERT_EQ(f.len, head_len("x86") + 24 + 4 + 16 + 0x1000 + 16 + 24 + 16);
	free(f.p);
	memset(&f, 0, sizeof(f));
	put_head(&f, "x86_64", 0x1000, 0); /* no region at all */
	expect_read(&f, NULL);
}

TEST(snapfile_bad_header_fields_are_einval)
{
	static const struct {
		size_t off;
		uint64_t value;
		unsigned n;
		const char *why;
	} cases[] = {
	    {0, 'Q', 1, "does not start with \"GMEMSNAP\""},
	    {7, 'p', 1, "does not start with \"GMEMSNAP\""},
	    {8, 2, 4, "version 2"},
	    {8, 0, 4, "version 0"},
	    {12, 1, 4, "unknown flags"},
	    {15, 0x80, 1, "unknown flags"},
	    {18, '7', 1, "unknown architecture"},
	    {16, 0, 1, "not NUL-padded"},
	    {20, 'z', 1, "not NUL-padded"},
	    {31, 1, 1, "not NUL-padded"},
	    {32, 0, 8, "page size"},
	    {32, 3000, 8, "page size"},
	    {32, 256, 8, "page size"},
	    {32, 0x20000, 8, "page size"},
	    {32, 0x1001, 8, "page size"},
	    {32, 1ull << 63, 8, "page size"},
	    {40, 1000, 4, "more regions than the file can hold"},
	    {40, 0xffffffff, 4, "more regions than the file can hold"},
	    {40, 3, 4, "the file ends inside a region"},
	    {40, 1, 4, "bytes after the last region"},
	    {44, 14, 4, "14 registers, and x86 has 15"},
	    {44, 16, 4, "16 registers"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct file f = small_x86();

		poke(&f, cases[i].off, cases[i].value, cases[i].n);
		expect_read(&f, cases[i].why);
	}
}

TEST(snapfile_arch_name_of_16_bytes_is_unknown)
{
	struct file f = small_x86();

	memset(f.p + 16, 'a', 16);
	expect_read(&f, "unknown architecture");
}

TEST(snapfile_bad_registers_are_einval)
{
	struct file f = {0};

	put_head_named(&f, "x86", 0x1000, 0, 3, "xyz");
	expect_read(&f, "a register this architecture does not have");
	put_head_named(&f, "x86", 0x1000, 0, 3, "");
	expect_read(&f, "a register this architecture does not have");
	put_head_named(&f, "x86", 0x1000, 0, 3, "eip");
	expect_read(&f, "a register given twice");
	put_head_named(&f, "x86", 0x1000, 0, 3, "rax"); /* x86_64's */
	expect_read(&f, "a register this architecture does not have");
	put_head_named(&f, "x86", 0x1000, 0, 3, "ecx"); /* in its own place */
	expect_read(&f, NULL);
}

/* Two regions after the head of an x86 (32-bit) or x86_64 file. */
static void two_regions(const char *arch, uint64_t s1, uint64_t z1, uint64_t s2,
			uint64_t z2, const char *why)
{
	struct file f = {0};

	put_head(&f, arch, 0x1000, 2);
	put_region(&f, s1, z1, GM_PERM_R, "a", 1);
	put_end(&f);
	put_region(&f, s2, z2, GM_PERM_R, "b", 1);
	put_end(&f);
	expect_read(&f, why);
}

TEST(snapfile_bad_regions_are_einval)
{
	const char *whole = "a region that is not whole pages";
	const char *past = "a region past the address space";
	const char *order = "regions out of order or overlapping";
	struct file f = {0};

	long_label_fill();
	two_regions("x86", 0x10000, 0x1000, 0x20001, 0x1000, whole);
	two_regions("x86", 0x10000, 0x1000, 0x20000, 0x1800, whole);
	two_regions("x86", 0x10000, 0x1000, 0x20000, 0, whole);
	two_regions("x86", 0x10000, 0x1000, 0xfffff000, 0x1000, NULL);
	two_regions("x86", 0x10000, 0x1000, 0xfffff000, 0x2000, past);
	two_regions("x86", 0x10000, 0x1000, 0x100000000, 0x1000, past);
	two_regions("x86_64", 0x10000, 0x1000, 0xfffffffffffff000, 0x1000,
		    NULL);
	two_regions("x86_64", 0x10000, 0x1000, 0xfffffffffffff000, 0x2000,
		    past);
	two_regions("x86", 0x10000, 0x2000, 0x12000, 0x1000, NULL);
	two_regions("x86", 0x10000, 0x2000, 0x11000, 0x1000, order);
	two_regions("x86", 0x10000, 0x2000, 0x10000, 0x2000, order);
	two_regions("x86", 0x10000, 0x2000, 0x8000, 0x1000, order);
	two_regions("x86_64", 0xfffffffffffff000, 0x1000, 0x10000, 0x1000,
		    order);
	/* More than 2^28 pages (here of 4 KiB) in all: reading would
	 * allocate a bitmap for them. */
	two_regions("x86_64", 0, TIB / 2, TIB, TIB / 2, NULL);
	two_regions("x86_64", 0, TIB / 2, TIB, TIB / 2 + 0x1000,
		    "regions mapping more than 2^28 pages");

	put_head(&f, "x86", 0x1000, 1);
	put_region(&f, 0x10000, 0x1000, GM_PERM_ALL + 1, "", 0);
	put_end(&f);
	expect_read(&f, "unknown permission bits");
	put_head(&f, "x86", 0x1000, 1);
	put_region(&f, 0x10000, 0x1000, GM_PERM_ALL, long_label, GM_LABEL_MAX);
	put_end(&f);
	expect_read(&f, NULL);
	put_head(&f, "x86", 0x1000, 1);
	put_region(&f, 0x10000, 0x1000, 0, long_label, GM_LABEL_MAX + 1);
	put_end(&f);
	expect_read(&f, "a label longer than 4096 bytes");
}

/* An x86 file with one region of 4 pages and the runs of OFFS and LENS
 * (N of them), then its end mark and the bytes of EXTRA. */
static void runs(const uint64_t *offs, const uint64_t *lens, size_t n,
		 size_t extra, const char *why)
{
	static const uint8_t zeros[64];
	struct file f = {0};

	put_head(&f, "x86", 0x1000, 1);
	put_region(&f, 0x10000, 0x4000, GM_PERM_R, "r", 1);
	for (size_t i = 0; i < n; i++) /* no bytes for absurd lengths */
		put_run_cut(&f, offs[i], lens[i],
			    lens[i] > 0x4000 ? 0 : lens[i]);
	put_end(&f);
	ASSERT(extra <= sizeof(zeros));
	put_bytes(&f, zeros, extra);
	expect_read(&f, why);
}

TEST(snapfile_bad_runs_are_einval)
{
	const char *order = "a run out of order or past its region";
	const char *whole = "a run that is not whole pages";

	runs((uint64_t[]){0, 0x1000}, (uint64_t[]){0x1000, 0x3000}, 2, 0, NULL);
	runs((uint64_t[]){0x2000, 0}, (uint64_t[]){0x1000, 0x1000}, 2, 0,
	     order);
	runs((uint64_t[]){0, 0x1000}, (uint64_t[]){0x2000, 0x1000}, 2, 0,
	     order);
	runs((uint64_t[]){0x1000, 0x1000}, (uint64_t[]){0x1000, 0x1000}, 2, 0,
	     order);
	runs((uint64_t[]){0x2000}, (uint64_t[]){0x3000}, 1, 0, order);
	runs((uint64_t[]){0x4000}, (uint64_t[]){0x1000}, 1, 0, order);
	runs((uint64_t[]){0x5000}, (uint64_t[]){0x1000}, 1, 0, order);
	runs((uint64_t[]){0x1000}, (uint64_t[]){0xfffffffffffff000}, 1, 0,
	     order);
	runs((uint64_t[]){0x800}, (uint64_t[]){0x1000}, 1, 0, whole);
	runs((uint64_t[]){0}, (uint64_t[]){0x800}, 1, 0, whole);
	runs((uint64_t[]){0x1000}, (uint64_t[]){0}, 1, 0,
	     "a run of no bytes that is not the end mark");
	runs(NULL, NULL, 0, 1, "bytes after the last region");
	runs(NULL, NULL, 0, 40, "bytes after the last region");
}

TEST(snapfile_run_past_the_end_of_the_file_is_einval)
{
	struct file f = {0};

	put_head(&f, "x86", 0x1000, 1);
	put_region(&f, 0x10000, 0x100000, GM_PERM_R, "r", 1);
	put_run_cut(&f, 0, 0x80000, 0x1000);
	expect_read(&f, "the file ends inside a run's bytes");
}

/* What the reader is asked for */

static struct file small_x86_64_file(struct gm_guest **out)
{
	struct gm_guest *g = guest_of(gm_arch_find("x86_64"));
	struct file f;

	OK(gm_map(g, 0x10000, 0x4000, GM_PERM_R | GM_PERM_W, "d", 1, ERR));
	scribble(g, 0x10000, 0x3000, 1);
	OK(gm_snap_save(g, "s", NULL, ERR));
	f = file_of(gm_snap_find(g, "s"));
	if (out)
		*out = g;
	else
		gm_guest_close(g);
	return f;
}

TEST(snapfile_want_refuses_another_arch_or_page_size)
{
	struct file f = small_x86_64_file(NULL);
	const struct gm_arch *x86_64 = gm_arch_find("x86_64");
	struct gm_snapfile_want arm = {gm_arch_find("arm"), 0, false};
	struct gm_snapfile_want x86 = {gm_arch_find("x86"), 0x1000, false};
	struct gm_snapfile_want kib = {x86_64, 0x400, false};
	struct gm_snapfile_want right = {x86_64, 0x1000, false};
	struct gm_snapshot *s = NULL;

	expect_einval(&f, &arm,
		      "an architecture other than this guest's: "
		      "x86_64, not arm");
	expect_einval(&f, &x86, "x86_64, not x86");
	expect_einval(&f, &kib,
		      "0x1000-byte pages, and this guest's are "
		      "0x400");
	OK(read_file(&f, &right, &s, NULL));
	ASSERT(s->arch == x86_64);
	ASSERT_EQ(s->page_size, 0x1000);
	gm_snapshot_free(s);
	free(f.p);
}

TEST(snapfile_any_checksum_reads_a_damaged_file_and_says_so)
{
	struct gm_snapfile_want any_crc = {.any_checksum = true};
	struct file f = small_x86_64_file(NULL);
	struct gm_snapfile_about about;
	struct gm_snapshot *s = NULL;
	uint32_t stored = (uint32_t)get_le(f.p + f.len - 4, 4);
	size_t at = f.len - 4 - 16 - 0x10; /* in the last page's bytes */

	OK(read_file(&f, &any_crc, &s, &about));
	ASSERT(about.checksum_ok);
	ASSERT_EQ(about.checksum_stored, stored);
	ASSERT_EQ(about.checksum_computed, stored);
	gm_snapshot_free(s);

	f.p[at] ^= 0x40;
	expect_einval(&f, NULL, "the checksum does not match");
	OK(read_file(&f, &any_crc, &s, &about));
	ASSERT(!about.checksum_ok);
	ASSERT_EQ(about.version, 1);
	ASSERT_EQ(about.checksum_stored, stored);
	ASSERT_EQ(about.checksum_computed, gm_crc32c(0, f.p, f.len - 4));
	ASSERT(about.checksum_computed != stored);
	ASSERT_EQ(s->regions[0].bytes[0x3000 - 0x10], f.p[at]);
	gm_snapshot_free(s);
	free(f.p);
}

/* A sink that takes LEFT bytes and then fails with EIO. */
static int failing_sink(void *ctx, const void *bytes, size_t len)
{
	size_t *left = ctx;

	(void)bytes;
	if (len > *left)
		return -EIO;
	*left -= len;
	return 0;
}

TEST(snapfile_write_stops_at_the_sinks_error)
{
	struct gm_guest *g = NULL;
	struct file f = small_x86_64_file(&g);
	const struct gm_snapshot *s = gm_snap_find(g, "s");

	for (size_t left = 0; left < f.len; left += 97) {
		size_t l = left;

		FAILS(EIO, gm_snapfile_write(s, failing_sink, &l, ERR));
		ASSERT(strstr(test_err.msg, "cannot write the snapshot"));
	}
	free(f.p);
	gm_guest_close(g);
}

/* gm_snap_add: snapshots from files join the guest's */

static struct gm_snapshot *read_named(const struct file *f, const char *name)
{
	struct gm_snapshot *s = NULL;

	OK(gm_snapfile_read(f->p, f->len, name, NULL, &s, NULL, ERR));
	return s;
}

TEST(snap_add_refuses_another_arch_or_page_size)
{
	struct gm_guest *g = guest_of(gm_arch_find("x86_64"));
	struct file f = small_arm_file(), h = {0}, k;
	struct gm_snapshot *s = read_named(&f, "arm");

	FAILS(EINVAL, gm_snap_add(g, s, ERR));
	ASSERT(strstr(test_err.msg, "arm, not x86_64"));
	gm_snapshot_free(s);
	/* An x86_64 file of 512-byte pages is well formed, but not this
	 * guest's kind. */
	put_head(&h, "x86_64", 0x200, 1);
	put_region(&h, 0x10000, 0x400, GM_PERM_R, "", 0);
	put_run(&h, 0x200, 0x200);
	put_end(&h);
	k = sealed(&h);
	s = read_named(&k, "small-pages");
	FAILS(EINVAL, gm_snap_add(g, s, ERR));
	ASSERT(strstr(test_err.msg, "0x200-byte pages"));
	FAILS(EINVAL, gm_snap_restore_from(g, s, ERR));
	ASSERT_EQ(gm_snap_count(g), 0);
	gm_snapshot_free(s);
	free(f.p);
	free(h.p);
	free(k.p);
	gm_guest_close(g);
}

TEST(snap_add_refuses_a_bad_name)
{
	static const char *const names[] = {NULL, "",	"a/b",
					    ".",  "..", "tab\there"};
	struct gm_guest *g = NULL;
	struct file f = small_x86_64_file(&g);

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		struct gm_snapshot *s = read_named(&f, names[i]);

		FAILS(EINVAL, gm_snap_add(g, s, ERR));
		gm_snapshot_free(s);
	}
	ASSERT_EQ(gm_snap_count(g), 1);
	free(f.p);
	gm_guest_close(g);
}

TEST(snap_add_past_the_limit_is_enospc)
{
	struct gm_guest *g = NULL;
	struct file f = small_x86_64_file(&g); /* 3 pages stored */
	struct gm_snapshot *s = read_named(&f, "t");

	OK(gm_snap_drop(g, "s", ERR));
	gm_guest_set_snapshot_limit(g, 3 * 0x1000 - 1);
	FAILS(ENOSPC, gm_snap_add(g, s, ERR));
	ASSERT_EQ(gm_snap_count(g), 0);
	gm_guest_set_snapshot_limit(g, 3 * 0x1000);
	OK(gm_snap_add(g, s, ERR)); /* the guest owns it now */
	ASSERT(gm_snap_find(g, "t") == s);
	free(f.p);
	gm_guest_close(g);
}

TEST(snap_add_replaces_one_of_the_same_name)
{
	struct gm_guest *g = NULL;
	struct file f = small_x86_64_file(&g); /* 3 pages, as "s" */
	struct gm_snapshot *s, *t;
	uint8_t b = 0;

	/* "s" in the guest grows to 4 pages, all the limit allows: the file's
	 * "s" fits only because the one it replaces does not count. */
	scribble(g, 0x13000, 1, 9);
	OK(gm_snap_save(g, "s", NULL, ERR));
	gm_guest_set_snapshot_limit(g, 4 * 0x1000);
	s = read_named(&f, "s");
	t = read_named(&f, "t");
	OK(gm_snap_add(g, s, ERR));
	ASSERT_EQ(gm_snap_count(g), 1);
	ASSERT(gm_snap_find(g, "s") == s);
	FAILS(ENOSPC, gm_snap_add(g, t, ERR));
	gm_snapshot_free(t);
	OK(gm_snap_restore(g, "s", ERR));
	OK(gm_mem_read(g, 0x13000, &b, 1, ERR));
	ASSERT_EQ(b, 0);
	assert_view_writes(g, &f);
	free(f.p);
	gm_guest_close(g);
}
