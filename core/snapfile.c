/*
 * Snapshot files: writing a gm_snapshot as the bytes of the format, and
 * reading them back with every field checked against the bytes there are.
 * The layout is in README "Snapshot files"; the offsets below follow it.
 */
#include "snapfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "arch.h"
#include "crc32c.h"
#include "regions.h"

#define ARCH_FIELD   16		/* the architecture's name, NUL-padded */
#define REGION_FIXED 24		/* start, size, perms, label length */
#define RUN_HEAD     16		/* offset, length */
#define REG_FIXED    9		/* name length, value */
#define TRAILER	     4		/* the CRC */
#define HUGE_RUN     (2u << 20) /* a huge page */

void gm_snapshot_free(struct gm_snapshot *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->nregions; i++) {
		struct gm_snap_region *r = &s->regions[i];

		if (r->bytes && !s->borrowed)
			munmap(r->bytes, r->size);
		free(r->present);
		free(r->label);
	}
	free(s->regions);
	free(s->regs);
	free(s->name);
	free(s);
}

/* Little-endian fields, whatever the host. */
static void put_le(uint8_t *p, uint64_t v, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_le(const uint8_t *p, unsigned n)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < n; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

/* Whether the 64 bits of BITS from bit P (a multiple of 64) are clear. */
static bool bits64_clear(const uint8_t *bits, uint64_t p)
{
	uint64_t word;

	memcpy(&word, bits + p / 8, sizeof(word));
	return word == 0;
}

/* The next run of stored pages of R at or after page *P: its first page
 * and count in *FIRST and *COUNT, false when there is none. */
static bool next_run(const struct gm_snapshot *s,
		     const struct gm_snap_region *r, uint64_t *p,
		     uint64_t *first, uint64_t *count)
{
	uint64_t pages = r->size / s->page_size;

	/* Zero words of the bitmap pass 64 pages at once: a file of a few
	 * bytes may map a TiB of 512-byte pages, 2^31 bits to look at. */
	while (*p < pages && !gm_snap_page_stored(s, r, *p))
		*p += r->present && *p % 64 == 0 && pages - *p >= 64 &&
			      bits64_clear(r->present, *p)
			  ? 64
			  : 1;
	if (*p == pages)
		return false;
	*first = *p;
	while (*p < pages && gm_snap_page_stored(s, r, *p))
		++*p;
	*count = *p - *first;
	return true;
}

uint64_t gm_snapfile_size(const struct gm_snapshot *s)
{
	uint64_t size = GM_SNAPFILE_HEADER_SIZE + TRAILER;

	for (size_t i = 0; i < s->arch->nregs; i++)
		size += REG_FIXED + strlen(s->arch->regs[i].name);
	for (size_t i = 0; i < s->nregions; i++) {
		const struct gm_snap_region *r = &s->regions[i];
		uint64_t p = 0, first, count;

		size += REGION_FIXED + r->label_len + RUN_HEAD;
		while (next_run(s, r, &p, &first, &count))
			size += RUN_HEAD + count * s->page_size;
	}
	return size;
}

/*
 * Writing: small fields gather in a buffer, page runs go out straight from
 * the snapshot's memory; the CRC follows both. PUT gets the bytes in
 * order; LASTING says they are the snapshot's own (they stay valid as long
 * as it), not the writer's buffer.
 */
typedef int (*put_fn)(void *ctx, const void *bytes, size_t len, bool lasting);

struct writer {
	put_fn put;
	void *ctx;
	uint32_t crc;
	uint8_t buf[4096];
	size_t len;
	int rc;
};

static void w_flush(struct writer *w)
{
	if (w->rc == 0 && w->len)
		w->rc = w->put(w->ctx, w->buf, w->len, false);
	w->len = 0;
}

static void w_bytes(struct writer *w, const void *bytes, size_t len)
{
	w->crc = gm_crc32c(w->crc, bytes, len);
	if (len > sizeof(w->buf) - w->len) {
		w_flush(w);
		if (len > sizeof(w->buf)) {
			if (w->rc == 0)
				w->rc = w->put(w->ctx, bytes, len, false);
			return;
		}
	}
	memcpy(w->buf + w->len, bytes, len);
	w->len += len;
}

/* A run of pages: never copied into the buffer. */
static void w_pages(struct writer *w, const uint8_t *pages, size_t len)
{
	w_flush(w);
	w->crc = gm_crc32c(w->crc, pages, len);
	if (w->rc == 0)
		w->rc = w->put(w->ctx, pages, len, true);
}

static void w_le(struct writer *w, uint64_t v, unsigned n)
{
	uint8_t field[8];

	put_le(field, v, n);
	w_bytes(w, field, n);
}

static void write_header(struct writer *w, const struct gm_snapshot *s)
{
	uint8_t h[GM_SNAPFILE_HEADER_SIZE] = {0};

	memcpy(h, GM_SNAPFILE_MAGIC, 8);
	put_le(h + 8, GM_SNAPFILE_VERSION, 4);
	/* h + 12: flags, none defined */
	memcpy(h + 16, s->arch->name, strlen(s->arch->name));
	put_le(h + 32, s->page_size, 8);
	put_le(h + 40, s->nregions, 4);
	put_le(h + 44, s->arch->nregs, 4);
	w_bytes(w, h, sizeof(h));
}

static void write_region(struct writer *w, const struct gm_snapshot *s,
			 const struct gm_snap_region *r)
{
	uint64_t p = 0, first, count;

	w_le(w, r->start, 8);
	w_le(w, r->size, 8);
	w_le(w, r->perms, 4);
	w_le(w, r->label_len, 4);
	w_bytes(w, r->label, r->label_len);
	while (next_run(s, r, &p, &first, &count) && w->rc == 0) {
		w_le(w, first * s->page_size, 8);
		w_le(w, count * s->page_size, 8);
		w_pages(w, r->bytes + first * s->page_size,
			count * s->page_size);
	}
	w_le(w, 0, 8); /* the end of the runs: offset 0, length 0 */
	w_le(w, 0, 8);
}

/* S's file through PUT, the CRC last. */
static int write_file(const struct gm_snapshot *s, put_fn put, void *ctx,
		      struct gm_error *err)
{
	struct writer *w = calloc(1, sizeof(*w));
	uint8_t trailer[TRAILER];
	int rc;

	if (!w)
		return gm_fail(err, ENOMEM, "out of memory");
	w->put = put;
	w->ctx = ctx;
	write_header(w, s);
	for (size_t i = 0; i < s->arch->nregs; i++) {
		const char *name = s->arch->regs[i].name;

		w_le(w, strlen(name), 1);
		w_bytes(w, name, strlen(name));
		w_le(w, s->regs[i], 8);
	}
	for (size_t i = 0; i < s->nregions && w->rc == 0; i++)
		write_region(w, s, &s->regions[i]);
	w_flush(w);
	put_le(trailer, w->crc, TRAILER);
	if (w->rc == 0)
		w->rc = put(ctx, trailer, TRAILER, false);
	rc = w->rc;
	free(w);
	if (rc < 0)
		return gm_fail(err, -rc, "cannot write the snapshot: %s",
			       strerror(-rc));
	return 0;
}

struct sink_ctx {
	gm_snapfile_sink sink;
	void *ctx;
};

static int put_to_sink(void *ctx, const void *bytes, size_t len, bool lasting)
{
	const struct sink_ctx *c = ctx;

	(void)lasting;
	return c->sink(c->ctx, bytes, len);
}

int gm_snapfile_write(const struct gm_snapshot *s, gm_snapfile_sink sink,
		      void *ctx, struct gm_error *err)
{
	struct sink_ctx c = {sink, ctx};

	return write_file(s, put_to_sink, &c, err);
}

/* Pieces: the fields are copied into P->fields, the pages referenced. A
 * field piece holds its offset in P->fields until all are there (the
 * buffer moves as it grows). */
static int put_piece(void *ctx, const void *bytes, size_t len, bool lasting)
{
	struct gm_snapfile_pieces *p = ctx;
	struct gm_snapfile_piece *v;

	if (!lasting && p->n && !p->v[p->n - 1].bytes &&
	    p->v[p->n - 1].field_end == p->fields_len) {
		/* adjacent fields: one piece */
	} else {
		if (p->n == p->cap) {
			size_t cap = p->cap ? 2 * p->cap : 64;

			v = realloc(p->v, cap * sizeof(*v));
			if (!v)
				return -ENOMEM;
			p->v = v;
			p->cap = cap;
		}
		p->v[p->n++] = (struct gm_snapfile_piece){
		    .off = p->size,
		    .bytes = lasting ? bytes : NULL,
		    .field_end = p->fields_len,
		};
	}
	if (!lasting) {
		if (len > p->fields_cap - p->fields_len) {
			size_t cap = 2 * (p->fields_len + len);
			uint8_t *f = realloc(p->fields, cap);

			if (!f)
				return -ENOMEM;
			p->fields = f;
			p->fields_cap = cap;
		}
		memcpy(p->fields + p->fields_len, bytes, len);
		p->fields_len += len;
		p->v[p->n - 1].field_end = p->fields_len;
	}
	p->v[p->n - 1].len += len;
	p->size += len;
	return 0;
}

int gm_snapfile_pieces(const struct gm_snapshot *s,
		       struct gm_snapfile_pieces *p, struct gm_error *err)
{
	int rc;

	memset(p, 0, sizeof(*p));
	rc = write_file(s, put_piece, p, err);
	if (rc < 0) {
		gm_snapfile_pieces_free(p);
		return rc;
	}
	for (size_t i = 0; i < p->n; i++)
		if (!p->v[i].bytes)
			p->v[i].bytes =
			    p->fields + p->v[i].field_end - p->v[i].len;
	return 0;
}

size_t gm_snapfile_piece_at(const struct gm_snapfile_pieces *p, uint64_t off)
{
	size_t lo = 0, hi = p->n;

	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;

		if (p->v[mid].off <= off)
			lo = mid;
		else
			hi = mid;
	}
	return lo;
}

void gm_snapfile_pieces_free(struct gm_snapfile_pieces *p)
{
	free(p->v);
	free(p->fields);
	memset(p, 0, sizeof(*p));
}

/* Reading: a cursor over the bytes that refuses to pass their end. */
struct reader {
	const uint8_t *bytes;
	size_t len, off;
	struct gm_error *err;
};

static int bad(struct reader *r, const char *why)
{
	return gm_fail(r->err, EINVAL, "not a valid snapshot: %s (at byte %zu)",
		       why, r->off);
}

/* The next N bytes in *P, or -EINVAL naming WHAT when the file ends. */
static int take(struct reader *r, size_t n, const uint8_t **p, const char *what)
{
	if (n > r->len - r->off) {
		gm_fail(r->err, EINVAL,
			"not a valid snapshot: the file ends inside %s (at "
			"byte %zu of %zu)",
			what, r->off, r->len);
		return -EINVAL;
	}
	*p = r->bytes + r->off;
	r->off += n;
	return 0;
}

static int take_le(struct reader *r, unsigned n, uint64_t *v, const char *what)
{
	const uint8_t *p;
	int rc = take(r, n, &p, what);

	if (rc == 0)
		*v = get_le(p, n);
	return rc;
}

static bool is_pow2(uint64_t v)
{
	return v && !(v & (v - 1));
}

/* The header: magic, version, architecture, page size, counts. */
static int read_header(struct reader *r, const struct gm_snapfile_want *want,
		       struct gm_snapshot *s, uint64_t *nregions,
		       struct gm_snapfile_about *about)
{
	const uint8_t *h;
	char arch[ARCH_FIELD + 1] = {0};
	uint64_t version, flags, nregs;

	if (r->len < 8 || memcmp(r->bytes, GM_SNAPFILE_MAGIC, 8) != 0)
		return bad(r,
			   "it does not start with \"" GM_SNAPFILE_MAGIC "\"");
	if (take(r, GM_SNAPFILE_HEADER_SIZE, &h, "the header") < 0)
		return -EINVAL;
	version = get_le(h + 8, 4);
	about->version = (uint32_t)version;
	if (version != GM_SNAPFILE_VERSION)
		return gm_fail(r->err, EINVAL,
			       "snapshot format version %llu: this gmemfs "
			       "reads version %d",
			       (unsigned long long)version,
			       GM_SNAPFILE_VERSION);
	flags = get_le(h + 12, 4);
	if (flags != 0)
		return bad(r, "unknown flags in the header");
	memcpy(arch, h + 16, ARCH_FIELD);
	for (size_t i = strlen(arch); i < ARCH_FIELD; i++)
		if (h[16 + i] != 0)
			return bad(r, "the architecture field is not "
				      "NUL-padded");
	s->arch = gm_arch_find(arch);
	if (!s->arch)
		return bad(r, "unknown architecture");
	if (want->arch && want->arch != s->arch)
		return gm_fail(r->err, EINVAL,
			       "a snapshot of an architecture other than "
			       "this guest's: %s, not %s",
			       s->arch->name, want->arch->name);
	s->page_size = get_le(h + 32, 8);
	if (!is_pow2(s->page_size) || s->page_size < 512 ||
	    s->page_size > 65536)
		return bad(r, "the page size is not a power of two from 512 "
			      "to 64 KiB");
	if (want->page_size && want->page_size != s->page_size)
		return gm_fail(r->err, EINVAL,
			       "a snapshot with 0x%llx-byte pages, and this "
			       "guest's are 0x%llx",
			       (unsigned long long)s->page_size,
			       (unsigned long long)want->page_size);
	*nregions = get_le(h + 40, 4);
	nregs = get_le(h + 44, 4);
	if (nregs != s->arch->nregs)
		return gm_fail(r->err, EINVAL,
			       "not a valid snapshot: %llu registers, and "
			       "%s has %zu",
			       (unsigned long long)nregs, s->arch->name,
			       s->arch->nregs);
	return 0;
}

/* The CRC in the last 4 bytes against the bytes before them. */
static int check_crc(struct reader *r, const struct gm_snapfile_want *want,
		     struct gm_snapfile_about *about)
{
	if (r->len < GM_SNAPFILE_HEADER_SIZE + TRAILER)
		return bad(r, "the file ends before its checksum");
	about->checksum_stored =
	    (uint32_t)get_le(r->bytes + r->len - TRAILER, TRAILER);
	about->checksum_computed = gm_crc32c(0, r->bytes, r->len - TRAILER);
	about->checksum_ok = about->checksum_stored == about->checksum_computed;
	if (!about->checksum_ok && !want->any_checksum)
		return gm_fail(r->err, EINVAL,
			       "not a valid snapshot: the checksum does not "
			       "match (the file is damaged or cut short)");
	r->len -= TRAILER; /* the fields end where the trailer starts */
	return 0;
}

/* Every register of the architecture, once each, by name. */
static int read_regs(struct reader *r, struct gm_snapshot *s)
{
	const struct gm_arch *a = s->arch;
	bool *seen = calloc(a->nregs, sizeof(*seen));
	int rc = 0;

	s->regs = calloc(a->nregs, sizeof(*s->regs));
	if (!seen || !s->regs) {
		free(seen);
		return gm_fail(r->err, ENOMEM, "out of memory");
	}
	for (size_t i = 0; i < a->nregs && rc == 0; i++) {
		uint64_t len, value;
		const uint8_t *name;
		size_t k;

		rc = take_le(r, 1, &len, "a register");
		if (rc == 0)
			rc = take(r, len, &name, "a register name");
		if (rc == 0)
			rc = take_le(r, 8, &value, "a register value");
		if (rc < 0)
			break;
		for (k = 0; k < a->nregs; k++)
			if (strlen(a->regs[k].name) == len &&
			    memcmp(a->regs[k].name, name, len) == 0)
				break;
		if (k == a->nregs)
			rc = bad(r, "a register this architecture does not "
				    "have");
		else if (seen[k])
			rc = bad(r, "a register given twice");
		else {
			seen[k] = true;
			s->regs[k] = value;
		}
	}
	free(seen);
	return rc;
}

/* Huge pages for the whole 2 MiB blocks of [P, P+LEN): a long run copied
 * into new memory faults a fraction as often; short runs stay small. */
static void advise_huge(uint8_t *p, uint64_t len)
{
	uintptr_t lo =
	    ((uintptr_t)p + HUGE_RUN - 1) & ~(uintptr_t)(HUGE_RUN - 1);
	uintptr_t hi = ((uintptr_t)p + len) & ~(uintptr_t)(HUGE_RUN - 1);

	if (hi > lo)
		madvise((void *)lo, hi - lo, MADV_HUGEPAGE);
}

/* A region's runs of stored pages, copied into its memory. */
static int read_runs(struct reader *r, const struct gm_snapshot *s,
		     struct gm_snap_region *sr, uint64_t *stored)
{
	uint64_t next = 0; /* runs come in order, without overlap */

	for (;;) {
		uint64_t off, len;
		const uint8_t *data;

		if (take_le(r, 8, &off, "a run") < 0 ||
		    take_le(r, 8, &len, "a run") < 0)
			return -EINVAL;
		if (len == 0)
			return off == 0 ? 0
					: bad(r, "a run of no bytes that is "
						 "not the end mark");
		if (off % s->page_size || len % s->page_size)
			return bad(r, "a run that is not whole pages");
		if (off < next || off > sr->size || len > sr->size - off)
			return bad(r, "a run out of order or past its "
				      "region");
		if (take(r, len, &data, "a run's bytes") < 0)
			return -EINVAL;
		advise_huge(sr->bytes + off, len);
		memcpy(sr->bytes + off, data, len);
		for (uint64_t p = off / s->page_size;
		     p < (off + len) / s->page_size; p++)
			sr->present[p / 8] |= (uint8_t)(1u << (p % 8));
		*stored += len;
		next = off + len;
	}
}

/* One region, after the one before it in S->regions; *MAPPED sums the
 * pages so far. */
static int read_region(struct reader *r, struct gm_snapshot *s,
		       struct gm_snap_region *sr, uint64_t *mapped)
{
	uint64_t perms, label_len, last, pages;
	uint64_t space = s->arch->address_bits == 64
			     ? UINT64_MAX
			     : (1ull << s->arch->address_bits) - 1;
	const uint8_t *label;

	if (take_le(r, 8, &sr->start, "a region") < 0 ||
	    take_le(r, 8, &sr->size, "a region") < 0 ||
	    take_le(r, 4, &perms, "a region") < 0 ||
	    take_le(r, 4, &label_len, "a region") < 0)
		return -EINVAL;
	if (sr->size == 0 || sr->start % s->page_size ||
	    sr->size % s->page_size)
		return bad(r, "a region that is not whole pages");
	last = sr->start + (sr->size - 1);
	if (last < sr->start || last > space)
		return bad(r, "a region past the address space");
	if (sr > s->regions && sr->start <= sr[-1].start + (sr[-1].size - 1))
		return bad(r, "regions out of order or overlapping");
	if (perms > GM_PERM_ALL)
		return bad(r, "unknown permission bits");
	if (label_len > GM_LABEL_MAX)
		return bad(r, "a label longer than 4096 bytes");
	if (sr->size / s->page_size > GM_SNAPFILE_PAGES_MAX - *mapped)
		return bad(r, "regions mapping more than 2^28 pages");
	*mapped += sr->size / s->page_size;
	if (take(r, label_len, &label, "a label") < 0)
		return -EINVAL;
	sr->perms = (unsigned)perms;
	sr->label_len = label_len;
	sr->label = malloc(label_len + 1);
	pages = sr->size / s->page_size;
	sr->present = calloc((pages + 7) / 8, 1);
	sr->bytes = mmap(NULL, sr->size, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (sr->bytes == MAP_FAILED)
		sr->bytes = NULL;
	if (!sr->label || !sr->present || !sr->bytes)
		return gm_fail(r->err, ENOMEM,
			       "no host memory for a region of 0x%llx bytes",
			       (unsigned long long)sr->size);
	memcpy(sr->label, label, label_len);
	sr->label[label_len] = '\0';
	return read_runs(r, s, sr, &s->stored_bytes);
}

static int read_body(struct reader *r, const struct gm_snapfile_want *want,
		     struct gm_snapshot *s, struct gm_snapfile_about *about)
{
	uint64_t nregions = 0, mapped = 0;
	int rc;

	rc = read_header(r, want, s, &nregions, about);
	if (rc == 0)
		rc = check_crc(r, want, about);
	if (rc == 0)
		rc = read_regs(r, s);
	if (rc < 0)
		return rc;
	/* Each region takes at least its fixed fields and an end mark. */
	if (nregions > (r->len - r->off) / (REGION_FIXED + RUN_HEAD))
		return bad(r, "more regions than the file can hold");
	s->regions = calloc(nregions + 1, sizeof(*s->regions));
	if (!s->regions)
		return gm_fail(r->err, ENOMEM, "out of memory");
	for (size_t i = 0; i < nregions && rc == 0; i++) {
		s->nregions++;
		rc = read_region(r, s, &s->regions[i], &mapped);
	}
	if (rc == 0 && r->off != r->len)
		rc = bad(r, "bytes after the last region");
	return rc;
}

int gm_snapfile_read(const void *bytes, size_t len, const char *name,
		     const struct gm_snapfile_want *want,
		     struct gm_snapshot **out, struct gm_snapfile_about *about,
		     struct gm_error *err)
{
	static const struct gm_snapfile_want any;
	struct gm_snapfile_about ignored;
	struct reader r = {.bytes = bytes, .len = len, .err = err};
	struct gm_snapshot *s = calloc(1, sizeof(*s));
	int rc;

	*out = NULL;
	if (!about)
		about = &ignored;
	memset(about, 0, sizeof(*about));
	if (!s || (name && !(s->name = strdup(name)))) {
		free(s);
		return gm_fail(err, ENOMEM, "out of memory");
	}
	rc = read_body(&r, want ? want : &any, s, about);
	if (rc < 0) {
		gm_snapshot_free(s);
		return rc;
	}
	*out = s;
	return 0;
}

/* Files on disk */

int gm_snapfile_load(const char *path, const char *name,
		     const struct gm_snapfile_want *want,
		     struct gm_snapshot **out, struct gm_snapfile_about *about,
		     struct gm_error *err)
{
	struct stat st;
	void *bytes = NULL;
	int fd, rc;

	*out = NULL;
	/* O_NONBLOCK: a FIFO is refused below instead of hanging the open. */
	fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd < 0)
		return gm_fail(err, errno, "%s", strerror(errno));
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return gm_fail(err, EINVAL, "not a regular file");
	}
	if (st.st_size > 0) {
		bytes = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE,
			     fd, 0);
		if (bytes == MAP_FAILED) {
			rc = gm_fail(err, errno, "cannot map it: %s",
				     strerror(errno));
			close(fd);
			return rc;
		}
	}
	close(fd);
	rc = gm_snapfile_read(bytes ? bytes : "", (size_t)st.st_size, name,
			      want, out, about, err);
	if (bytes)
		munmap(bytes, (size_t)st.st_size);
	return rc;
}

static int fd_sink(void *ctx, const void *bytes, size_t len)
{
	const int *fd = ctx;
	const char *p = bytes;

	while (len) {
		ssize_t n = write(*fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* fsync the directory that holds PATH, so that a rename in it lasts. */
static int sync_dir(const char *path)
{
	char *dir = strdup(path), *slash;
	int fd, rc = 0;

	if (!dir)
		return -ENOMEM;
	slash = strrchr(dir, '/');
	if (slash == dir)
		slash[1] = '\0';
	else if (slash)
		*slash = '\0';
	fd = open(slash ? dir : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || fsync(fd) < 0)
		rc = -errno;
	if (fd >= 0)
		close(fd);
	free(dir);
	return rc;
}

/*
 * Create TMP for us alone: O_EXCL and 0600, so that we never write into a
 * file someone else made (a shared directory). A TMP of ours left by a
 * crash is replaced; one of another user refused, -EEXIST.
 */
static int tmp_create(const char *tmp, struct gm_error *err)
{
	struct stat st;
	int fd;

	for (int tries = 0; tries < 2; tries++) {
		fd = open(tmp,
			  O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
			  0600);
		if (fd >= 0 || errno != EEXIST)
			break;
		if (lstat(tmp, &st) < 0)
			continue; /* gone meanwhile: try again */
		if (!S_ISREG(st.st_mode) || st.st_uid != geteuid())
			return gm_fail(err, EEXIST,
				       "%s exists and is not a file of ours "
				       "(uid %u): remove it",
				       tmp, (unsigned)st.st_uid);
		unlink(tmp);
	}
	if (fd < 0)
		return gm_fail(err, errno, "cannot create %s: %s", tmp,
			       strerror(errno));
	return fd;
}

int gm_snapfile_store(const struct gm_snapshot *s, const char *path,
		      struct gm_error *err)
{
	struct stat st;
	mode_t mode = stat(path, &st) == 0 ? st.st_mode & 07777 : 0600;
	char *tmp = malloc(strlen(path) + sizeof(GM_SNAPFILE_TMP_SUFFIX));
	int fd = -1, rc;

	if (!tmp)
		return gm_fail(err, ENOMEM, "out of memory");
	strcpy(stpcpy(tmp, path), GM_SNAPFILE_TMP_SUFFIX);
	fd = tmp_create(tmp, err);
	if (fd < 0) {
		rc = fd;
		goto out;
	}
	rc = gm_snapfile_write(s, fd_sink, &fd, err);
	if (rc == 0 && fchmod(fd, mode) < 0) /* PATH's, once written */
		rc = gm_fail(err, errno, "cannot chmod %s: %s", tmp,
			     strerror(errno));
	if (rc == 0 && fsync(fd) < 0)
		rc = gm_fail(err, errno, "cannot sync %s: %s", tmp,
			     strerror(errno));
	if (close(fd) < 0 && rc == 0)
		rc = gm_fail(err, errno, "cannot write %s: %s", tmp,
			     strerror(errno));
	if (rc == 0 && rename(tmp, path) < 0)
		rc = gm_fail(err, errno, "cannot rename %s to %s: %s", tmp,
			     path, strerror(errno));
	if (rc == 0 && (rc = sync_dir(path)) < 0)
		gm_fail(err, -rc, "cannot sync the directory of %s: %s", path,
			strerror(-rc));
	if (rc < 0) /* after a rename there is none: harmless */
		unlink(tmp);
out:
	free(tmp);
	return rc;
}
