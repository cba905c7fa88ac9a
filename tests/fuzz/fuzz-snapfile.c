/*
 * The libFuzzer target of the snapshot file format (core/snapfile.c): any
 * bytes given to gm_snapfile_read give EINVAL with a message and no
 * snapshot, or a snapshot whose file has the promised size and reads back
 * the same, also as the pieces the daemon serves. Try it from the top
 * directory:
 *  mkdir c; build-fuzz/tests/fuzz/fuzz-snapfile -max_len=2048 c \
 *      tests/fuzz/corpus-snapfile
 *
 * Each input is read three ways, which must agree: as it is, with the
 * checksum checked; as it is, with any checksum (want.any_checksum); and
 * with its last 4 bytes replaced by the right CRC, so that random bytes
 * get past the checksum to the structure checks.
 *
 * The seeds in corpus-snapfile/ are valid files under run-fuzz.sh's 2 KiB
 * -max_len, written with gm_snapfile_write by a throwaway program from
 * these guests (a page of x86's 4 KiB would not fit):
 *   arm-two-regions        1 KiB pages; 0x10000 rw- "d" with page 1
 *                          written, 0x20000 r-- with an empty label
 *   arm64-one-run          0x400000 r-x "code", 4 bytes at +0x800
 *   mips-empty             no region; sp set
 *   mipsel-512-byte-pages  a made-up snapshot (no guest has 512-byte
 *                          pages, a file may): pages 0 and 64 of 128,
 *                          either side of a word of the present bitmap
 *   riscv64-adjacent       two adjacent regions, nothing written
 *   x86-long-label         one page r--, a 300-byte label with NULs
 *   x86-top-and-labels     0x10000 ---, and 0xfffff000 "top\0\xff"
 *   x86_64-zero-pages      1 GiB rwx, nothing written
 * and one like the input the fuzzer found slow (its CRC is stale: the
 * third read fixes it):
 *   timeout-riscv64-1-tib-region  a region of 0xfc00001000 bytes, which
 *                          took the writer seconds a page at a time
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crc32c.h"
#include "snapcmp.h"
#include "snapfile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Snapshots of more pages are read but not compared or written: a scan of
 * the 2^31 pages a file of 300 bytes may map takes the instrumented build
 * half a minute (0.5 s in a plain one), and a small region takes the same
 * paths. 2^22 pages is 16 GiB of 4 KiB pages. */
#define PAGES_MAX (1u << 22)

#define CHECK(cond)                                                   \
	do {                                                          \
		if (!(cond)) {                                        \
			fprintf(stderr, "fuzz-snapfile: %s:%d: %s\n", \
				__FILE__, __LINE__, #cond);           \
			abort();                                      \
		}                                                     \
	} while (0)

/* One read of BYTES: its result, error and snapshot. */
struct outcome {
	int rc;
	struct gm_error err;
	struct gm_snapfile_about about;
	struct gm_snapshot *s;
};

static void read_as(const uint8_t *bytes, size_t len, bool any_checksum,
		    struct outcome *o)
{
	struct gm_snapfile_want want = {.any_checksum = any_checksum};

	memset(o, 0, sizeof(*o));
	o->s = (struct gm_snapshot *)o; /* must become NULL on failure */
	o->rc = gm_snapfile_read(bytes, len, "fuzz", &want, &o->s, &o->about,
				 &o->err);
	if (o->rc == 0) {
		CHECK(o->s != NULL && strcmp(o->s->name, "fuzz") == 0);
		return;
	}
	CHECK(o->s == NULL);
	CHECK(o->err.msg[0] != '\0' && o->err.code == -o->rc);
	if (o->rc != -EINVAL)
		fprintf(stderr, "fuzz-snapfile: %s\n", o->err.msg);
	CHECK(o->rc == -EINVAL);
}

static void same(const struct gm_snapshot *a, const struct gm_snapshot *b)
{
	char why[512];

	if (gm_fuzz_snap_differs(a, b, why, sizeof(why))) {
		fprintf(stderr, "fuzz-snapfile: %s\n", why);
		abort();
	}
}

struct buf {
	uint8_t *p;
	size_t len, cap;
};

static int buf_sink(void *ctx, const void *bytes, size_t len)
{
	struct buf *b = ctx;

	if (len > b->cap - b->len) {
		b->cap = (b->len + len) * 2;
		b->p = realloc(b->p, b->cap);
		CHECK(b->p != NULL);
	}
	memcpy(b->p + b->len, bytes, len);
	b->len += len;
	return 0;
}

/* S's file, of exactly the size gm_snapfile_size promised. */
static struct buf written(const struct gm_snapshot *s)
{
	struct buf b = {0};
	struct gm_error err;

	CHECK(gm_snapfile_write(s, buf_sink, &b, &err) == 0);
	CHECK(b.len == gm_snapfile_size(s));
	return b;
}

static bool small(const struct gm_snapshot *s)
{
	uint64_t pages = 0;

	for (size_t i = 0; i < s->nregions; i++)
		pages += s->regions[i].size / s->page_size;
	return pages <= PAGES_MAX;
}

/* S's pieces (gm_snapfile_pieces, how the daemon serves a file) are the
 * bytes of its file FILE, in order, each found by its offset. */
static void pieces_match(const struct gm_snapshot *s, const struct buf *file)
{
	struct gm_snapfile_pieces p;
	struct gm_error err;
	uint64_t off = 0;

	CHECK(gm_snapfile_pieces(s, &p, &err) == 0);
	CHECK(p.size == file->len);
	for (size_t i = 0; i < p.n; i++) {
		CHECK(p.v[i].off == off && p.v[i].len > 0);
		CHECK(p.v[i].len <= file->len - off);
		CHECK(memcmp(p.v[i].bytes, file->p + off, p.v[i].len) == 0);
		CHECK(gm_snapfile_piece_at(&p, off) == i);
		CHECK(gm_snapfile_piece_at(&p, off + p.v[i].len - 1) == i);
		off += p.v[i].len;
	}
	CHECK(off == file->len);
	gm_snapfile_pieces_free(&p);
}

/* S written and read back, as this guest's kind, is S; and written again
 * it is the same bytes. */
static void round_trip(const struct gm_snapshot *s)
{
	struct gm_snapfile_want want = {s->arch, s->page_size, false};
	struct buf one = written(s), two;
	struct outcome back;

	memset(&back, 0, sizeof(back));
	back.rc = gm_snapfile_read(one.p, one.len, NULL, &want, &back.s,
				   &back.about, &back.err);
	if (back.rc < 0)
		fprintf(stderr, "fuzz-snapfile: %s\n", back.err.msg);
	CHECK(back.rc == 0 && back.about.checksum_ok);
	same(s, back.s);
	pieces_match(s, &one);
	two = written(back.s);
	CHECK(two.len == one.len && memcmp(two.p, one.p, one.len) == 0);
	gm_snapshot_free(back.s);
	free(one.p);
	free(two.p);
}

/* DATA (SIZE >= 4) with its last 4 bytes the CRC of the others. */
static uint8_t *with_right_crc(const uint8_t *data, size_t size)
{
	uint8_t *copy = malloc(size);
	uint32_t crc;

	CHECK(copy != NULL);
	memcpy(copy, data, size);
	crc = gm_crc32c(0, copy, size - 4);
	for (unsigned i = 0; i < 4; i++)
		copy[size - 4 + i] = (uint8_t)(crc >> (8 * i));
	return copy;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct outcome strict, any, fixed;
	uint8_t *copy;

	read_as(data, size, false, &strict);
	read_as(data, size, true, &any);
	/* The checksum is the only difference between the two. */
	CHECK((strict.rc == 0) == (any.rc == 0 && any.about.checksum_ok));
	if (strict.rc == 0 && small(any.s))
		same(strict.s, any.s);
	gm_snapshot_free(strict.s);
	if (size < GM_SNAPFILE_HEADER_SIZE + 4) {
		gm_snapshot_free(any.s);
		return 0;
	}
	copy = with_right_crc(data, size);
	read_as(copy, size, false, &fixed);
	/* With the right CRC, the checked read sees what the unchecked one
	 * saw, message and all. */
	CHECK(fixed.rc == any.rc);
	if (fixed.rc < 0)
		CHECK(strcmp(fixed.err.msg, any.err.msg) == 0);
	else if (small(fixed.s))
		same(fixed.s, any.s);
	gm_snapshot_free(any.s);
	if (fixed.rc == 0 && small(fixed.s))
		round_trip(fixed.s);
	gm_snapshot_free(fixed.s);
	free(copy);
	return 0;
}
