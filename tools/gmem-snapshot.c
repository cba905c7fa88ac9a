/*
 * gmem snapshot info, diff and core: a snapshot file read with
 * core/snapfile.c (no engine, no mount) and printed as `key value` lines
 * and maps lines, or written as an ELF core (core/coredump.c).
 * Try it: cp MNT/snapshots/a a.snap; gmem snapshot info a.snap
 */
#include "gmem-snapshot.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/text.h"
#include "coredump.h"
#include "regions.h"
#include "snapfile.h"
#include <unistd.h>

#define OUT_FLUSH   65536 /* print the output in pieces of about this */
#define DIFF_STATUS 2	  /* diff's status for trouble, as diff(1)'s */

/* The snapshot in file PATH, checked as WANT says, in *OUT. 0, or -1
 * after printing "gmem: PATH: MESSAGE". */
static int snapshot_load(const char *path, const struct gm_snapfile_want *want,
			 struct gm_snapshot **out,
			 struct gm_snapfile_about *about)
{
	struct gm_error err = {0};

	if (gm_snapfile_load(path, NULL, want, out, about, &err) < 0) {
		fprintf(stderr, "gmem: %s: %s\n", path, err.msg);
		return -1;
	}
	return 0;
}

/* Print what OUT holds. 0, or -1 after saying why stdout failed. */
static int out_flush(struct gm_text *out)
{
	if (gm_text_status(out) < 0) {
		fprintf(stderr, "gmem: %s\n", strerror(ENOMEM));
		return -1;
	}
	/* A short fwrite leaves stdout's error flag set, checked below. */
	if (out->len)
		fwrite(out->buf, 1, out->len, stdout);
	gm_text_reset(out);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "gmem: stdout: %s\n", strerror(errno));
		return -1;
	}
	return 0;
}

/* "START-END" of S's addresses as `maps` names ranges. */
static char *range_str(const struct gm_snapshot *s, uint64_t start,
		       uint64_t size, char buf[GM_RANGE_NAME_MAX])
{
	return gm_range_format(s->arch->address_bits, start, size, buf);
}

/* "PERMS LABEL" of R as in `maps`. */
static void add_perms_label(struct gm_text *out, const struct gm_snap_region *r)
{
	gm_text_add_perms_label(out, r->perms, r->label, r->label_len);
}

/* R's line of `maps`, without its newline. */
static void add_region(struct gm_text *out, const struct gm_snapshot *s,
		       const struct gm_snap_region *r)
{
	char range[GM_RANGE_NAME_MAX];

	gm_text_printf(out, "%s ", range_str(s, r->start, r->size, range));
	add_perms_label(out, r);
}

static void add_info_header(struct gm_text *out, const char *path,
			    const struct gm_snapshot *s,
			    const struct gm_snapfile_about *about)
{
	uint64_t mapped = 0;

	for (size_t i = 0; i < s->nregions; i++)
		mapped += s->regions[i].size;
	gm_text_add(out, "file ", 5);
	gm_text_add_escaped(out, path, strlen(path));
	gm_text_printf(out,
		       "\nformat %" PRIu32 "\n"
		       "arch %s\n"
		       "page_size 0x%" PRIx64 "\n"
		       "regions %zu\n"
		       "mapped_bytes 0x%" PRIx64 "\n"
		       "stored_bytes 0x%" PRIx64 "\n"
		       "registers %zu\n",
		       about->version, s->arch->name, s->page_size, s->nregions,
		       mapped, s->stored_bytes, s->arch->nregs);
	if (about->checksum_ok)
		gm_text_printf(out, "checksum ok 0x%08" PRIx32 "\n",
			       about->checksum_stored);
	else
		gm_text_printf(out,
			       "checksum bad stored 0x%08" PRIx32
			       " computed 0x%08" PRIx32 "\n",
			       about->checksum_stored,
			       about->checksum_computed);
}

/* The header lines, the regions as `maps` lists them, the registers in the
 * architecture's order. A bad checksum still lists everything. */
static int snapshot_info(const char *path)
{
	const struct gm_snapfile_want want = {.any_checksum = true};
	struct gm_snapfile_about about;
	struct gm_snapshot *s;
	struct gm_text out;
	int status = 1;

	if (snapshot_load(path, &want, &s, &about) < 0)
		return 1;
	gm_text_init(&out);
	add_info_header(&out, path, s, &about);
	for (size_t i = 0; i < s->nregions; i++) {
		add_region(&out, s, &s->regions[i]);
		gm_text_add(&out, "\n", 1);
		if (out.len >= OUT_FLUSH && out_flush(&out) < 0)
			goto out;
	}
	for (size_t i = 0; i < s->arch->nregs; i++)
		gm_text_printf(&out, "%s 0x%" PRIx64 "\n",
			       s->arch->regs[i].name, s->regs[i]);
	if (out_flush(&out) < 0)
		goto out;
	status = 0;
	if (!about.checksum_ok) {
		fprintf(stderr,
			"gmem: %s: the checksum does not match (the file is "
			"damaged)\n",
			path);
		status = 1;
	}
out:
	gm_text_free(&out);
	gm_snapshot_free(s);
	return status;
}

/*
 * diff: region lines (-, +, ~) are few and found first; byte ranges come
 * page by page in address order and each is printed after the region
 * lines that start at or before it, so every line is in address order.
 */
struct region_change {
	char kind; /* '-' only in A, '+' only in B, '~' other perms or label */
	uint64_t start;
	const struct gm_snap_region *a, *b;
};

struct differ {
	const struct gm_snapshot *a, *b;
	struct region_change *changes;
	size_t nchanges, printed;
	bool open; /* a byte range [lo, hi] waits to be printed */
	uint64_t lo, hi;
	bool differ;
	struct gm_text out;
};

static bool same_looks(const struct gm_snap_region *a,
		       const struct gm_snap_region *b)
{
	return a->perms == b->perms && a->label_len == b->label_len &&
	       memcmp(a->label, b->label, a->label_len) == 0;
}

static void add_change(struct differ *d, char kind,
		       const struct gm_snap_region *a,
		       const struct gm_snap_region *b)
{
	struct region_change *c = &d->changes[d->nchanges++];

	c->kind = kind;
	c->start = a ? a->start : b->start;
	c->a = a;
	c->b = b;
}

/* The region lines, in address order; at one address A's before B's. */
static int find_region_changes(struct differ *d)
{
	const struct gm_snapshot *a = d->a, *b = d->b;
	size_t i = 0, j = 0;

	d->changes = calloc(a->nregions + b->nregions + 1, sizeof(*d->changes));
	if (!d->changes)
		return -ENOMEM;
	while (i < a->nregions || j < b->nregions) {
		const struct gm_snap_region *ra = &a->regions[i];
		const struct gm_snap_region *rb = &b->regions[j];

		if (i == a->nregions) {
			add_change(d, '+', NULL, rb);
			j++;
		} else if (j == b->nregions || ra->start < rb->start ||
			   (ra->start == rb->start && ra->size != rb->size)) {
			add_change(d, '-', ra, NULL);
			i++;
		} else if (rb->start < ra->start) {
			add_change(d, '+', NULL, rb);
			j++;
		} else {
			if (!same_looks(ra, rb))
				add_change(d, '~', ra, rb);
			i++;
			j++;
		}
	}
	return 0;
}

static void print_change(struct differ *d, const struct region_change *c)
{
	gm_text_printf(&d->out, "%c ", c->kind);
	add_region(&d->out, c->kind == '+' ? d->b : d->a,
		   c->kind == '+' ? c->b : c->a);
	if (c->kind == '~') {
		gm_text_add(&d->out, " -> ", 4);
		add_perms_label(&d->out, c->b);
	}
	gm_text_add(&d->out, "\n", 1);
	d->differ = true;
}

/* Print the region lines that start at or before ADDR. */
static void print_changes_upto(struct differ *d, uint64_t addr)
{
	while (d->printed < d->nchanges && d->changes[d->printed].start <= addr)
		print_change(d, &d->changes[d->printed++]);
}

/* Print the byte range waiting, if any. */
static void close_bytes(struct differ *d)
{
	char range[GM_RANGE_NAME_MAX];

	if (!d->open)
		return;
	print_changes_upto(d, d->lo);
	gm_text_printf(&d->out, "bytes %s\n",
		       range_str(d->a, d->lo, d->hi - d->lo + 1, range));
	d->open = false;
	d->differ = true;
}

/* Bytes [LO, HI] differ: grow the range waiting, or start a new one. */
static void mark_bytes(struct differ *d, uint64_t lo, uint64_t hi)
{
	if (d->open && d->hi + 1 == lo) {
		d->hi = hi;
		return;
	}
	close_bytes(d);
	d->open = true;
	d->lo = lo;
	d->hi = hi;
}

/* The bytes that differ in one page at ADDR, X in A and Y in B. */
static void compare_page(struct differ *d, uint64_t addr, const uint8_t *x,
			 const uint8_t *y)
{
	uint64_t ps = d->a->page_size, k = 0;

	if (memcmp(x, y, ps) == 0)
		return;
	while (k < ps) {
		uint64_t first;

		while (k < ps && x[k] == y[k])
			k++;
		if (k == ps)
			break;
		first = k;
		while (k < ps && x[k] != y[k])
			k++;
		mark_bytes(d, addr + first, addr + k - 1);
	}
}

/* Compare [LO, HI] (whole pages) of RA and RB. A page stored in neither
 * is zero in both and costs a bit test: unstored pages are never read. */
static int compare_span(struct differ *d, const struct gm_snap_region *ra,
			const struct gm_snap_region *rb, uint64_t lo,
			uint64_t hi)
{
	uint64_t ps = d->a->page_size;

	for (uint64_t addr = lo;; addr += ps) {
		uint64_t oa = addr - ra->start, ob = addr - rb->start;

		if (gm_snap_page_saved(ra, oa / ps) ||
		    gm_snap_page_saved(rb, ob / ps))
			compare_page(d, addr, ra->bytes + oa, rb->bytes + ob);
		if (d->out.len >= OUT_FLUSH && out_flush(&d->out) < 0)
			return -1;
		if (hi - addr < ps)
			return 0;
	}
}

/* Every address mapped in both, in order: the overlaps of A's regions
 * with B's. */
static int compare_bytes(struct differ *d)
{
	const struct gm_snapshot *a = d->a, *b = d->b;
	size_t i = 0, j = 0;

	while (i < a->nregions && j < b->nregions) {
		const struct gm_snap_region *ra = &a->regions[i];
		const struct gm_snap_region *rb = &b->regions[j];
		uint64_t last_a = ra->start + (ra->size - 1);
		uint64_t last_b = rb->start + (rb->size - 1);
		uint64_t lo = ra->start > rb->start ? ra->start : rb->start;
		uint64_t hi = last_a < last_b ? last_a : last_b;

		if (lo <= hi && compare_span(d, ra, rb, lo, hi) < 0)
			return -1;
		if (last_a <= last_b)
			i++;
		else
			j++;
	}
	return 0;
}

static void compare_regs(struct differ *d)
{
	const struct gm_arch *arch = d->a->arch;

	for (size_t i = 0; i < arch->nregs; i++) {
		if (d->a->regs[i] == d->b->regs[i])
			continue;
		gm_text_printf(&d->out, "reg %s 0x%" PRIx64 " 0x%" PRIx64 "\n",
			       arch->regs[i].name, d->a->regs[i],
			       d->b->regs[i]);
		d->differ = true;
	}
}

/* Both snapshots must be of one architecture and page size. */
static int comparable(const char *pa, const struct gm_snapshot *a,
		      const char *pb, const struct gm_snapshot *b)
{
	if (a->arch != b->arch) {
		fprintf(stderr,
			"gmem: %s is a snapshot of %s and %s one of %s: "
			"different architectures\n",
			pa, a->arch->name, pb, b->arch->name);
		return -1;
	}
	if (a->page_size != b->page_size) {
		fprintf(stderr,
			"gmem: %s has 0x%" PRIx64
			"-byte pages and %s 0x%" PRIx64
			"-byte ones: different page sizes\n",
			pa, a->page_size, pb, b->page_size);
		return -1;
	}
	return 0;
}

static int snapshot_diff(const char *pa, const char *pb)
{
	const struct gm_snapfile_want want = {.any_checksum = false};
	struct gm_snapshot *a = NULL, *b = NULL;
	struct differ d = {0};
	int status = DIFF_STATUS;

	gm_text_init(&d.out);
	if (snapshot_load(pa, &want, &a, NULL) < 0 ||
	    snapshot_load(pb, &want, &b, NULL) < 0 ||
	    comparable(pa, a, pb, b) < 0)
		goto out;
	d.a = a;
	d.b = b;
	if (find_region_changes(&d) < 0) {
		fprintf(stderr, "gmem: %s\n", strerror(ENOMEM));
		goto out;
	}
	if (compare_bytes(&d) < 0)
		goto out;
	close_bytes(&d);
	print_changes_upto(&d, UINT64_MAX);
	compare_regs(&d);
	if (out_flush(&d.out) < 0)
		goto out;
	status = d.differ ? 1 : 0;
out:
	gm_text_free(&d.out);
	free(d.changes);
	gm_snapshot_free(b);
	gm_snapshot_free(a);
	return status;
}

/* core: the snapshot as the ELF core file the mount's `core` serves. */
static int stdout_sink(void *ctx, const void *bytes, size_t len)
{
	const char *p = bytes;

	(void)ctx;
	while (len) {
		ssize_t n = write(STDOUT_FILENO, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int snapshot_core(const char *path)
{
	const struct gm_snapfile_want want = {0};
	struct gm_error err = {0};
	struct gm_snapshot *s;
	int status = 0;

	if (isatty(STDOUT_FILENO)) {
		fprintf(stderr, "gmem: snapshot core writes a binary file: "
				"redirect stdout (> FILE)\n");
		return 2;
	}
	if (snapshot_load(path, &want, &s, NULL) < 0)
		return 1;
	if (gm_core_write(s, stdout_sink, NULL, &err) < 0) {
		fprintf(stderr, "gmem: %s\n", err.msg);
		status = 1;
	}
	gm_snapshot_free(s);
	return status;
}

static int usage_error(const char *problem, const char *usage)
{
	fprintf(stderr, "gmem: %s\n%s", problem, usage);
	return 2;
}

int gmem_snapshot(int argc, char **argv, const char *usage)
{
	if (argc >= 1 && strcmp(argv[0], "info") == 0) {
		if (argc != 2)
			return usage_error("snapshot info takes one FILE",
					   usage);
		return snapshot_info(argv[1]);
	}
	if (argc >= 1 && strcmp(argv[0], "diff") == 0) {
		if (argc != 3)
			return usage_error("snapshot diff takes two FILEs",
					   usage);
		return snapshot_diff(argv[1], argv[2]);
	}
	if (argc >= 1 && strcmp(argv[0], "core") == 0) {
		if (argc != 2)
			return usage_error("snapshot core takes one FILE",
					   usage);
		return snapshot_core(argv[1]);
	}
	return usage_error("snapshot needs info, diff or core", usage);
}
