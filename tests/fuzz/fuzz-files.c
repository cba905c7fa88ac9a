/*
 * The libFuzzer target of the files that take bytes from users (fs/input.c,
 * the code the daemon's handlers run on them): regs/NAME writes, the
 * user.label xattr and snapshot imports. Try it from the top directory:
 *  mkdir c; build-fuzz/tests/fuzz/fuzz-files -max_len=16384 -len_control=0 \
 *      c tests/fuzz/corpus-files
 *
 * The first byte picks the architecture (bits 0-1: x86_64, x86, arm, mips)
 * and the file (bits 2-3: regs/, user.label, an import twice as often);
 * the second byte picks within it:
 *  regs/   the register (byte 1 modulo the architecture's count); the rest
 *          is the value written.
 *  label   the region (bits 0-1: data, code, [stack], 3 a file whose
 *          region is gone), the flags (bit 2 XATTR_CREATE, bit 3
 *          XATTR_REPLACE), bit 4 another name than user.label; the rest is
 *          the value.
 *  import  bit 0: the name, "a" (replacing the snapshot the guest starts
 *          with) or "b" (new). The rest is chunks, each a 16-bit little
 *          endian head then data: bit 15 clear, a write of the head's low
 *          14 bits of bytes (fewer at the end of the input) where the last
 *          write ended, or at 0 with bit 14; bit 15 set, a truncate to the
 *          low 14 bits, plus the most an import may hold with bit 14
 *          (EFBIG but at +0). The file is closed at the end.
 *
 * Each architecture's guest (three regions, a snapshot "a") is kept and
 * reset between inputs; GM_FUZZ_CHECK_RESET compares it with a new one.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>

#include "fresh.h"
#include "guest.h"
#include "input.h"
#include "memory.h"
#include "snapcmp.h"
#include "snapfile.h"

#define SNAP_LIMIT (256u << 10)
#define SNAPS_MAX  4

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const arches[] = {"x86_64", "x86", "arm", "mips"};

#define CHECK(cond)                                                          \
	do {                                                                 \
		if (!(cond)) {                                               \
			fprintf(stderr, "fuzz-files: %s:%d: %s\n", __FILE__, \
				__LINE__, #cond);                            \
			abort();                                             \
		}                                                            \
	} while (0)

static struct gm_guest *guests[4];

/* With GM_FUZZ_TRACE set, each input's result and message. */
static void trace(const char *what, int rc, const struct gm_error *err)
{
	if (getenv("GM_FUZZ_TRACE"))
		fprintf(stderr, "fuzz-files: %s: %d %s\n", what, rc,
			rc ? err->msg : "");
}

/* The guest an input starts from: [stack], "data" and "code" regions, a
 * string in data, SP at the top, and snapshot "a" of that. */
static struct gm_guest *guest_get(unsigned kind)
{
	const struct gm_arch *arch = gm_arch_find(arches[kind]);
	struct gm_guest *g = guests[kind];
	struct gm_error err;
	uint64_t page;

	CHECK(arch != NULL);
	if (!g)
		CHECK(gm_guest_open(arch, &guests[kind], &err) == 0);
	else if (gm_fuzz_check_reset())
		gm_fuzz_check_fresh(g, "fuzz-files");
	g = guests[kind];
	page = gm_guest_page_size(g);
	CHECK(gm_map(g, arch->stack_addr, arch->stack_size,
		     GM_PERM_R | GM_PERM_W, "[stack]", 7, &err) == 0);
	CHECK(gm_map(g, 0x10000, 4 * page, GM_PERM_R | GM_PERM_W, "data", 4,
		     &err) == 0);
	CHECK(gm_map(g, 0x400000, 2 * page, GM_PERM_R | GM_PERM_X, "code\n", 5,
		     &err) == 0);
	CHECK(gm_mem_write(g, 0x10000, "hello\0world\xff", 12, &err) == 0);
	CHECK(gm_reg_set_sp(g, arch->stack_addr + arch->stack_size, &err) == 0);
	gm_guest_set_snapshot_limit(g, SNAP_LIMIT);
	CHECK(gm_snap_save(g, "a", NULL, &err) == 0);
	return g;
}

/* What an input may change, to see that a failure changed nothing. */
struct state {
	uint64_t regs[256];
	struct gm_text maps, log;
	size_t nsnaps;
	const struct gm_snapshot *snaps[SNAPS_MAX];
};

static void state_take(struct gm_guest *g, struct gm_cmd_ctx *c,
		       struct state *st)
{
	const struct gm_arch *arch = gm_guest_arch(g);
	struct gm_error err;

	CHECK(arch->nregs <= 256);
	for (size_t i = 0; i < arch->nregs; i++)
		CHECK(gm_reg_read(g, &arch->regs[i], &st->regs[i], &err) == 0);
	gm_text_init(&st->maps);
	gm_text_init(&st->log);
	CHECK(gm_maps_text(g, &st->maps) == 0);
	CHECK(gm_cmd_log_text(c, &st->log) == 0);
	st->nsnaps = gm_snap_count(g);
	CHECK(st->nsnaps <= SNAPS_MAX);
	for (size_t i = 0; i < st->nsnaps; i++)
		st->snaps[i] = gm_snap_at(g, i);
}

static void state_free(struct state *st)
{
	gm_text_free(&st->maps);
	gm_text_free(&st->log);
}

static bool text_same(const struct gm_text *a, const struct gm_text *b)
{
	return a->len == b->len && (!a->len || !memcmp(a->buf, b->buf, a->len));
}

/* The parts of the guest named in WHAT are as in ST: 'r' registers, 'm'
 * regions and labels, 's' snapshots, 'l' the log. */
static void state_check(struct gm_guest *g, struct gm_cmd_ctx *c,
			const struct state *st, const char *what)
{
	struct state now;

	state_take(g, c, &now);
	if (strchr(what, 'r'))
		CHECK(!memcmp(now.regs, st->regs,
			      gm_guest_arch(g)->nregs * sizeof(uint64_t)));
	if (strchr(what, 'm'))
		CHECK(text_same(&now.maps, &st->maps));
	if (strchr(what, 'l'))
		CHECK(text_same(&now.log, &st->log));
	if (strchr(what, 's')) {
		CHECK(now.nsnaps == st->nsnaps);
		CHECK(!memcmp(now.snaps, st->snaps,
			      st->nsnaps * sizeof(st->snaps[0])));
	}
	state_free(&now);
}

/* regs/NAME: a value that is refused changes nothing; one that is taken
 * reads back as a value that is taken again, and reads back the same. */
static void reg_input(struct gm_guest *g, struct gm_cmd_ctx *c,
		      const uint8_t *data, size_t size)
{
	const struct gm_arch *arch = gm_guest_arch(g);
	const struct gm_reg *reg = &arch->regs[data[1] % arch->nregs];
	const char *value = (const char *)data + 2;
	size_t len = size - 2, lines;
	struct gm_error err = {0};
	struct gm_text out;
	struct state st;
	uint64_t v, again_v;
	char again[32];
	int rc;

	lines = len && value[len - 1] == '\n' ? len - 1 : len;
	gm_text_init(&out);
	state_take(g, c, &st);
	rc = gmfs_reg_value_run(c, reg, value, len, &out, &err);
	trace(reg->name, rc, &err);
	state_check(g, c, &st, "ms"); /* `reg` touches registers only */
	if (memchr(value, '\n', lines)) {
		CHECK(rc == -EINVAL);
		state_check(g, c, &st, "l"); /* never run */
	}
	if (rc) {
		CHECK(rc == -EINVAL || rc == -ERANGE || rc == -ENOENT);
		state_check(g, c, &st, "r");
	} else {
		/* Only REG reads back the same: on arm, pc's bit 0 is the
		 * Thumb bit of cpsr, which writing it back clears. */
		CHECK(gm_reg_read(g, reg, &v, &err) == 0);
		snprintf(again, sizeof(again), "0x%llx\n",
			 (unsigned long long)v);
		state_free(&st);
		state_take(g, c, &st);
		CHECK(gmfs_reg_value_run(c, reg, again, strlen(again), &out,
					 &err) == 0);
		state_check(g, c, &st, "ms");
		CHECK(gm_reg_read(g, reg, &again_v, &err) == 0);
		CHECK(again_v == v);
	}
	state_free(&st);
	gm_text_free(&out);
}

/* user.label: the result is the one the rules give; a label set reads
 * back the same, anything else changes no label. */
static void label_input(struct gm_guest *g, struct gm_cmd_ctx *c,
			const uint8_t *data, size_t size)
{
	static const uint64_t starts[] = {0x10000, 0x400000, 0};
	const struct gm_region *r = NULL;
	const char *value = (const char *)data + 2;
	size_t len = size - 2;
	int flags = (data[1] & 4 ? XATTR_CREATE : 0) |
		    (data[1] & 8 ? XATTR_REPLACE : 0);
	const char *name = data[1] & 16 ? "user.other" : "user.label";
	struct gm_error err = {0};
	struct state st;
	uint64_t start = 0;
	int rc, want;

	if ((data[1] & 3) != 3) {
		start = (data[1] & 3) == 2 ? gm_guest_arch(g)->stack_addr
					   : starts[data[1] & 3];
		r = gm_region_find(g, start);
		CHECK(r && r->start == start);
	}
	if (data[1] & 16)
		want = -ENOTSUP;
	else if (flags & XATTR_CREATE)
		want = -EEXIST;
	else if (!r)
		want = -ENOENT;
	else if (len > GM_LABEL_MAX)
		want = -EINVAL;
	else
		want = 0;
	state_take(g, c, &st);
	rc = gmfs_label_set(g, c, r, name, value, len, flags, &err);
	trace(name, rc, &err);
	CHECK(rc == want);
	state_check(g, c, &st, "rs");
	if (rc) {
		state_check(g, c, &st, "m");
	} else {
		r = gm_region_find(g, start);
		CHECK(r && r->start == start && r->label_len == len);
		CHECK(!len || !memcmp(r->label, value, len));
	}
	state_free(&st);
}

/* A snapshot import: the file holds exactly what the chunks wrote, and
 * closing it adds what gm_snapfile_read makes of those bytes, or changes
 * no snapshot. The model holds the first MODEL_MAX bytes: writes never
 * reach past the input's size, and what is beyond is zero. */
#define MODEL_MAX 16384

static void import_input(struct gm_guest *g, struct gm_cmd_ctx *c,
			 const uint8_t *data, size_t size)
{
	static uint8_t model[MODEL_MAX];
	const char *name = data[1] & 1 ? "b" : "a";
	struct gm_snapfile_want want = {
	    .arch = gm_guest_arch(g),
	    .page_size = gm_guest_page_size(g),
	};
	struct gmfs_import im = {0};
	struct gm_snapshot *s = NULL, *ref = NULL;
	size_t model_len = 0, pos = 2, at = 0;
	bool pending = false;
	struct gm_error err = {0};
	struct state st;
	int rc, ref_rc;

	memset(model, 0, sizeof(model));
	state_take(g, c, &st);
	while (pos + 2 <= size) {
		unsigned head = data[pos] | data[pos + 1] << 8;
		uint64_t len = head & 0x3fff, end;

		pos += 2;
		if (head & 0x8000) { /* ftruncate (setattr) */
			/* At the limit or past it: a file that large costs
			 * a checksum of 64 MiB, so only one size is taken. */
			if (head & 0x4000)
				len += SNAP_LIMIT + GMFS_IMPORT_SLACK;
			rc = gmfs_import_resize(&im, len, SNAP_LIMIT);
			if (len > SNAP_LIMIT + GMFS_IMPORT_SLACK) {
				CHECK(rc == -EFBIG);
				continue;
			}
			CHECK(rc == (len != model_len));
			if (len < MODEL_MAX) /* a cut, then zeros */
				memset(model + len, 0, MODEL_MAX - len);
			model_len = (size_t)len;
		} else { /* a write, as snapshot_write makes it */
			if (len > size - pos)
				len = size - pos;
			if (head & 0x4000)
				at = 0;
			end = at + len;
			rc = gmfs_import_resize(
			    &im, end > im.len ? end : im.len, SNAP_LIMIT);
			CHECK(rc == (end > model_len));
			CHECK(end <= MODEL_MAX);
			if (len) { /* no bytes yet: BYTES is NULL */
				memcpy(im.bytes + at, data + pos, len);
				memcpy(model + at, data + pos, len);
			}
			if (end > model_len)
				model_len = (size_t)end;
			rc |= len > 0;
			pos += len;
			at = (size_t)end;
		}
		pending |= rc > 0;
		CHECK(im.len == model_len);
		CHECK(!model_len ||
		      !memcmp(im.bytes, model,
			      model_len < MODEL_MAX ? model_len : MODEL_MAX));
	}
	if (pending) { /* the close */
		ref_rc = gm_snapfile_read(im.bytes, im.len, NULL, &want, &ref,
					  NULL, &err);
		rc = gmfs_import_parse(g, &im, &s, &err);
		CHECK(rc == ref_rc);
		rc = gmfs_import_add(g, c, rc, s, name, &err);
		trace("import", rc, &err);
		if (rc == 0) {
			const struct gm_snapshot *got = gm_snap_find(g, name);
			char why[256];

			CHECK(ref_rc == 0 && got != NULL);
			if (gm_fuzz_snap_differs(got, ref, why, sizeof(why))) {
				fprintf(stderr, "fuzz-files: import: %s\n",
					why);
				abort();
			}
		} else {
			CHECK(rc == ref_rc || rc == -ENOSPC);
			state_check(g, c, &st, "s");
		}
		gm_snapshot_free(ref);
	}
	state_check(g, c, &st, "rm");
	state_free(&st);
	gmfs_import_free(&im);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct gm_guest *g;
	struct gm_cmd_ctx *c;
	struct gm_error err;

	if (size < 2)
		return 0;
	g = guest_get(data[0] & 3);
	c = gm_cmd_ctx_new(g);
	CHECK(c != NULL);
	switch ((data[0] >> 2) & 3) {
	case 0:
		reg_input(g, c, data, size);
		break;
	case 1:
		label_input(g, c, data, size);
		break;
	default:
		import_input(g, c, data, size);
	}
	gm_cmd_ctx_free(c);
	CHECK(gm_guest_reset(g, &err) == 0);
	return 0;
}
