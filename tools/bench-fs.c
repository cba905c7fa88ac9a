/*
 * The filesystem benchmark: a 256 MiB region file of a mounted gmemfs read
 * and written in 1 MiB calls (as dd bs=1M does) and in random 4 KiB preads,
 * each against a 256 MiB tmpfs file in the same runs; ctl commands against
 * the same calls made in-process on the core; a snapshot of the 256 MiB
 * saved, exported, imported and stored as --state does, against whole
 * tmpfs files and the same layout and decoding in-process; the core file
 * read whole and loaded back with load_core, against reading the tmpfs
 * file, and its open on a mostly-zero 1 GiB guest against a save.
 * Try it: tools/bench --fs (it mounts a guest), or build/tools/bench-fs MNT
 * DIR with a fresh gmemfs on MNT and DIR on tmpfs.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/magic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "bench-table.h"
#include "cmd/cmd.h"
#include "guest.h"
#include "memory.h"
#include "regions.h"
#include "snapfile.h"
#include "snapshot.h"

#define MIB	     (1ULL << 20)
#define REGION_ADDR  0x100000000ULL
#define REGION_SIZE  (256 * MIB)
#define REGION_NAME  "0000000100000000-0000000110000000"
#define CHUNK	     MIB /* dd bs=1M */
#define PAGE	     4096ULL
#define RANDOM_READS 16384	    /* distinct pages: a quarter of the file */
#define CTL_ADDR     0x200000000ULL /* the page ctl maps and unmaps */
#define USAGE	     "usage: bench-fs [-n RUNS (>= 3)] [-t SECONDS] MOUNT TMPFS_DIR\n"

static const char map_line[] = "map 0x200000000 0x1000\n";
static const char unmap_line[] = "unmap 0x200000000 0x1000\n";
static const char query_line[] = "is_mapped 0x100000000 0x1000\n";

struct fsbench {
	const char *mnt;
	int runs;	  /* best of RUNS for every figure */
	double min_trial; /* seconds a trial of commands lasts at least */
	char region[PATH_MAX], mem[PATH_MAX], ref[PATH_MAX];
	int ctl;	    /* the mount's ctl, open all along */
	uint8_t *buf;	    /* CHUNK bytes */
	uint64_t *pages;    /* RANDOM_READS distinct page offsets */
	uint8_t ref_byte;   /* what every byte of the tmpfs file is */
	struct gm_guest *g; /* the in-process reference */
	struct gm_cmd_ctx *cmd;
	struct gm_text answer;
	struct gm_error err;
};

static void die(const char *what, const char *msg)
{
	fprintf(stderr, "bench-fs: %s: %s\n", what, msg);
	exit(1);
}

static void die_io(const char *what, ssize_t n, size_t want)
{
	char msg[64];

	if (n >= 0) {
		snprintf(msg, sizeof(msg), "moved %zd bytes of %zu", n, want);
		die(what, msg);
	}
	die(what, strerror(errno));
}

static void must(int rc, struct fsbench *b, const char *what)
{
	if (rc < 0)
		die(what, b->err.msg);
}

static int open_or_die(const char *path, int flags)
{
	int fd = open(path, flags);

	if (fd < 0)
		die(path, strerror(errno));
	return fd;
}

static void path_in(char *out, const char *dir, const char *name)
{
	if (snprintf(out, PATH_MAX, "%s/%s", dir, name) >= PATH_MAX)
		die(dir, "path too long");
}

/* A stale page cache shows here: the bytes read are not the last ones
 * written, whatever path wrote them. */
static void check_byte(const char *path, uint64_t off, uint8_t got,
		       uint8_t want)
{
	char msg[96];

	if (got == want)
		return;
	snprintf(msg, sizeof(msg),
		 "offset 0x%llx reads 0x%02x, but 0x%02x was written last",
		 (unsigned long long)off, got, want);
	die(path, msg);
}

/*
 * Streams taken in turn
 *
 * The machine is shared: its load swings by the second. So every figure is
 * measured block by block, each block of ours right beside the same block
 * of the reference, and a figure is the sum over blocks of each block's
 * best time over the runs. A block is 16 MiB (or 1024 random preads): big
 * enough that read-ahead work spilling into the next block is lost in it.
 */

#define NBLOCKS		16
#define BLOCK		(REGION_SIZE / NBLOCKS)
#define READS_PER_BLOCK (RANDOM_READS / NBLOCKS)

struct stream {
	const char *path;
	uint64_t base; /* the file offset of byte 0 */
	bool write;    /* else read, checking the bytes */
	bool random;   /* 4 KiB preads of b->pages, else CHUNK calls */
	uint8_t byte;  /* what is written, or must be read */
	double *best;  /* NBLOCKS best seconds, one per block */
	int fd;
};

/* Seconds for block BLK of S: BLOCK bytes in CHUNK-byte calls from the
 * block's start, as dd bs=1M (conv=notrunc) does, or READS_PER_BLOCK 4 KiB
 * preads of b->pages. */
static double stream_block(struct fsbench *b, struct stream *s, size_t blk)
{
	size_t calls = s->random ? READS_PER_BLOCK : BLOCK / CHUNK;
	size_t len = s->random ? PAGE : CHUNK;
	double t0;

	if (s->write)
		memset(b->buf, s->byte, CHUNK);
	t0 = bench_now();
	for (size_t i = 0; i < calls; i++) {
		uint64_t off = s->random ? b->pages[blk * calls + i]
					 : blk * BLOCK + i * CHUNK;
		ssize_t n = s->write ? pwrite(s->fd, b->buf, len, s->base + off)
				     : pread(s->fd, b->buf, len, s->base + off);

		if (n != (ssize_t)len)
			die_io(s->path, n, len);
		if (!s->write) {
			check_byte(s->path, off, b->buf[0], s->byte);
			check_byte(s->path, off + len - 1, b->buf[len - 1],
				   s->byte);
		}
	}
	return bench_now() - t0;
}

/* One pass over the N streams S, block by block, the streams in turn. */
static void streams_pass(struct fsbench *b, struct stream *s, int n)
{
	for (int i = 0; i < n; i++)
		s[i].fd =
		    open_or_die(s[i].path, s[i].write ? O_WRONLY : O_RDONLY);
	for (size_t blk = 0; blk < NBLOCKS; blk++) {
		for (int i = 0; i < n; i++) {
			double t = stream_block(b, &s[i], blk);

			if (t < s[i].best[blk])
				s[i].best[blk] = t;
		}
	}
	for (int i = 0; i < n; i++)
		close(s[i].fd);
}

/* A figure's seconds: the sum of its blocks' best times. */
static double total(const double *best)
{
	double sum = 0;

	for (size_t blk = 0; blk < NBLOCKS; blk++)
		sum += best[blk];
	return sum;
}

/* A pair of streams, ours and the tmpfs reference, doing the same. */
struct pair {
	double ours[NBLOCKS], ref[NBLOCKS];
};

static void pair_init(struct pair *p)
{
	for (size_t blk = 0; blk < NBLOCKS; blk++)
		p->ours[blk] = p->ref[blk] = 1e9;
}

/* One pass of PATH (at BASE) beside the tmpfs file, recorded in P. */
static void pair_pass(struct fsbench *b, struct pair *p, const char *path,
		      uint64_t base, bool write, bool random, uint8_t byte)
{
	struct stream s[2] = {
	    {path, base, write, random, byte, p->ours, -1},
	    {b->ref, 0, write, random, write ? byte : b->ref_byte, p->ref, -1},
	};

	streams_pass(b, s, 2);
	if (write)
		b->ref_byte = byte;
}

static void pair_row(const char *what, enum bench_unit u, const struct pair *p)
{
	double ours = total(p->ours), ref = total(p->ref);

	if (u == OPS_PER_S)
		bench_row(what, u, 0, ours / RANDOM_READS, "tmpfs",
			  ref / RANDOM_READS);
	else
		bench_row(what, u, REGION_SIZE, ours, "tmpfs", ref);
}

/* Sequential 1 MiB calls */

enum { MEM_WRITE, COLD, CACHED, MEM_READ, WRITE, NSEQ };

/*
 * One run of every sequential figure. Writing the region through mem
 * (direct I/O) makes the daemon invalidate the region file's pages: the
 * next read of the region file is a first read, the one after it a cached
 * re-read.
 */
static void seq_run(struct fsbench *b, uint8_t v, struct pair *p)
{
	pair_pass(b, &p[MEM_WRITE], b->mem, REGION_ADDR, true, false, v);
	pair_pass(b, &p[COLD], b->region, 0, false, false, v);
	pair_pass(b, &p[CACHED], b->region, 0, false, false, v);
	pair_pass(b, &p[MEM_READ], b->mem, REGION_ADDR, false, false, v);
	pair_pass(b, &p[WRITE], b->region, 0, true, false, v + 1);
}

static void bench_sequential(struct fsbench *b)
{
	struct pair p[NSEQ];

	for (int i = 0; i < NSEQ; i++)
		pair_init(&p[i]);
	for (int r = 0; r < b->runs; r++)
		seq_run(b, (uint8_t)(0x10 + 2 * r), p);
	pair_row("region file, 1 MiB reads, first", GB_PER_S, &p[COLD]);
	pair_row("region file, 1 MiB reads, cached", GB_PER_S, &p[CACHED]);
	pair_row("region file, 1 MiB writes", GB_PER_S, &p[WRITE]);
	pair_row("mem, 1 MiB reads", GB_PER_S, &p[MEM_READ]);
	pair_row("mem, 1 MiB writes", GB_PER_S, &p[MEM_WRITE]);
}

/* Random 4 KiB preads */

/* RANDOM_READS distinct pages of the file in a fixed random order. */
static void pick_pages(struct fsbench *b)
{
	const size_t npages = REGION_SIZE / PAGE;
	uint32_t *all = malloc(npages * sizeof(*all));
	uint64_t x = 0x9e3779b97f4a7c15; /* xorshift64: the same every run */

	b->pages = malloc(RANDOM_READS * sizeof(*b->pages));
	if (!all || !b->pages)
		die("malloc", strerror(ENOMEM));
	for (size_t i = 0; i < npages; i++)
		all[i] = (uint32_t)i;
	for (size_t i = npages - 1; i > 0; i--) { /* Fisher-Yates */
		size_t j;
		uint32_t tmp;

		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		j = x % (i + 1);
		tmp = all[i];
		all[i] = all[j];
		all[j] = tmp;
	}
	for (size_t i = 0; i < RANDOM_READS; i++)
		b->pages[i] = all[i] * PAGE;
	free(all);
}

static void bench_random(struct fsbench *b)
{
	struct pair cold, cached, fill;

	pick_pages(b);
	pair_init(&cold);
	pair_init(&cached);
	pair_init(&fill);
	for (int r = 0; r < b->runs; r++) {
		uint8_t v = (uint8_t)(0x80 + r);

		/* Through mem: the region file's cache is dropped. */
		pair_pass(b, &fill, b->mem, REGION_ADDR, true, false, v);
		pair_pass(b, &cold, b->region, 0, false, true, v);
		pair_pass(b, &cached, b->region, 0, false, true, v);
	}
	pair_row("region file, 4 KiB preads, first", OPS_PER_S, &cold);
	pair_row("region file, 4 KiB preads, cached", OPS_PER_S, &cached);
	free(b->pages);
}

/* Control commands */

/* "ctl: VERB ARGS" of LINE, for messages. */
static const char *ctl_what(const char *line, char *buf, size_t len)
{
	snprintf(buf, len, "ctl: %.*s", (int)strcspn(line, "\n"), line);
	return buf;
}

static void ctl_send(struct fsbench *b, const char *line)
{
	ssize_t n = write(b->ctl, line, strlen(line));
	char what[96];

	if (n != (ssize_t)strlen(line))
		die_io(ctl_what(line, what, sizeof(what)), n, strlen(line));
}

static void op_ctl_pair(void *arg)
{
	struct fsbench *b = arg;

	ctl_send(b, map_line);
	ctl_send(b, unmap_line);
}

static void op_core_pair(void *arg)
{
	struct fsbench *b = arg;

	gm_guest_lock(b->g);
	must(gm_map(b->g, CTL_ADDR, PAGE, GM_PERM_ALL, NULL, 0, &b->err), b,
	     "gm_map");
	must(gm_unmap(b->g, CTL_ADDR, PAGE, &b->err), b, "gm_unmap");
	gm_guest_unlock(b->g);
}

static void cmd_run(struct fsbench *b, const char *line)
{
	gm_text_reset(&b->answer);
	must(gm_cmd_run(b->cmd, NULL, line, strlen(line), &b->answer, &b->err),
	     b, line);
}

static void op_cmd_pair(void *arg)
{
	struct fsbench *b = arg;

	gm_guest_lock(b->g);
	cmd_run(b, map_line);
	cmd_run(b, unmap_line);
	gm_guest_unlock(b->g);
}

/* A command whose work is next to nothing, and its answer read back as
 * gmem does: what a round trip through ctl costs. */
static void op_ctl_query(void *arg)
{
	struct fsbench *b = arg;
	char answer[16], what[96];
	ssize_t n;

	ctl_send(b, query_line);
	n = read(b->ctl, answer, sizeof(answer));
	if (n < 0)
		die_io(ctl_what(query_line, what, sizeof(what)), n, 5);
	if (n != 5 || memcmp(answer, "true\n", 5))
		die(ctl_what(query_line, what, sizeof(what)),
		    "unexpected answer");
}

static void op_cmd_query(void *arg)
{
	struct fsbench *b = arg;

	gm_guest_lock(b->g);
	cmd_run(b, query_line);
	gm_guest_unlock(b->g);
	if (b->answer.len != 5 || memcmp(b->answer.buf, "true\n", 5))
		die(query_line, "unexpected answer");
}

/* The daemon's guest as the mount has it: the default stack and the
 * region, so that the engine holds as many regions (map slows as it
 * fills). */
static void reference_guest(struct fsbench *b)
{
	const struct gm_arch *arch = gm_arch_find("x86_64");

	if (!arch)
		die("gm_arch_find", "no x86_64");
	must(gm_guest_open(arch, &b->g, &b->err), b, "gm_guest_open");
	must(gm_map(b->g, arch->stack_addr, arch->stack_size,
		    GM_PERM_R | GM_PERM_W, "[stack]", 7, &b->err),
	     b, "gm_map");
	must(gm_map(b->g, REGION_ADDR, REGION_SIZE, GM_PERM_R | GM_PERM_W,
		    "bench", 5, &b->err),
	     b, "gm_map");
	b->cmd = gm_cmd_ctx_new(b->g);
	if (!b->cmd)
		die("gm_cmd_ctx_new", strerror(ENOMEM));
	gm_text_init(&b->answer);
}

static void reference_guest_close(struct fsbench *b)
{
	gm_text_free(&b->answer);
	gm_cmd_ctx_free(b->cmd);
	gm_guest_close(b->g);
}

static void bench_commands(struct fsbench *b)
{
	static const bench_fn fns[] = {op_ctl_pair, op_core_pair, op_cmd_pair,
				       op_ctl_query, op_cmd_query};
	void *const args[] = {b, b, b, b, b};
	double best[5];

	bench_measure_turns(fns, args, 5, b->min_trial, b->runs, best);
	bench_row("ctl map+unmap pairs", OPS_PER_S, 0, best[0],
		  "gm_map+gm_unmap", best[1]);
	bench_row("ctl map+unmap pairs", OPS_PER_S, 0, best[0], "gm_cmd_run",
		  best[2]);
	bench_row("ctl is_mapped, answer read back", OPS_PER_S, 0, best[3],
		  "gm_cmd_run", best[4]);
}

/*
 * Snapshot files
 *
 * A snapshot of the 256 MiB region, every page of it stored: saved through
 * MNT/save, exported by reading snapshots/NAME whole (the daemon lays the
 * file out at open and serves the pages from the snapshot), imported by writing
 * snapshots/NEW (decoded and checked at close), and stored by --state's
 * gm_snapfile_store in-process. Each is one whole operation, timed in turn with
 * the others and with whole-file tmpfs references: cp of an export writes a
 * tmpfs file while it reads ours, cp of an import reads one while it writes
 * ours.
 */

#define SNAP_NAME   "bench"
#define IMPORT_NAME "bench-import"

static const char save_line[] = SNAP_NAME "\n";

struct snapbench {
	struct fsbench *b;
	char save[PATH_MAX], file[PATH_MAX], import[PATH_MAX], state[PATH_MAX];
	uint8_t *bytes; /* the exported file, LEN bytes (and one spare) */
	size_t len;
	uint8_t *want; /* CHUNK bytes of the pattern, to compare */
};

/* The region's bytes: every 8-byte word made from its own offset, never a
 * zero page, so a page stored out of place or not at all shows. */
static void pattern(uint8_t *buf, uint64_t off, size_t len)
{
	for (size_t i = 0; i < len; i += 8) {
		uint64_t v = (off + i) * 0x9e3779b97f4a7c15ULL | 1;

		memcpy(buf + i, &v, 8);
	}
}

/* Die unless the LEN bytes GOT are the pattern from offset OFF on. */
static void pattern_check(struct snapbench *sb, const char *what,
			  const uint8_t *got, uint64_t off, size_t len)
{
	char msg[96];
	size_t i = 0;

	for (size_t at = 0; at < len; at += CHUNK) {
		size_t n = len - at < CHUNK ? len - at : CHUNK;

		pattern(sb->want, off + at, n);
		if (memcmp(got + at, sb->want, n) == 0)
			continue;
		while (got[at + i] == sb->want[i])
			i++;
		snprintf(msg, sizeof(msg),
			 "offset 0x%llx is not what was saved",
			 (unsigned long long)(off + at + i));
		die(what, msg);
	}
}

/* Read PATH to its end in CHUNK calls, as dd bs=1M does: each into
 * b->buf, or one after the other into DST when it is not NULL (CAP bytes,
 * one more than the file). The bytes read. */
static size_t read_file(struct fsbench *b, const char *path, uint8_t *dst,
			size_t cap)
{
	int fd = open_or_die(path, O_RDONLY);
	size_t got = 0;
	ssize_t n;

	do {
		size_t len = !dst || cap - got > CHUNK ? CHUNK : cap - got;

		if (len == 0)
			die(path, "longer than it was");
		n = read(fd, dst ? dst + got : b->buf, len);
		if (n < 0)
			die_io(path, n, len);
		got += (size_t)n;
	} while (n > 0);
	close(fd);
	return got;
}

/* echo bench > MNT/save */
static void op_save(void *arg)
{
	struct snapbench *sb = arg;
	int fd = open_or_die(sb->save, O_WRONLY | O_TRUNC);
	ssize_t n = write(fd, save_line, strlen(save_line));

	if (n != (ssize_t)strlen(save_line))
		die_io(sb->save, n, strlen(save_line));
	if (close(fd) < 0)
		die(sb->save, strerror(errno));
}

/* dd if=MNT/snapshots/bench of=/dev/null bs=1M */
static void op_export(void *arg)
{
	struct snapbench *sb = arg;

	if (read_file(sb->b, sb->file, NULL, 0) != sb->len)
		die(sb->file, "not as long as the first export");
}

/* The exported bytes to MNT/snapshots/bench-import in 1 MiB writes;
 * close() is the import, and fails when it does. */
static void op_import(void *arg)
{
	struct snapbench *sb = arg;
	int fd = open(sb->import, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	if (fd < 0)
		die(sb->import, strerror(errno));
	for (size_t off = 0; off < sb->len; off += CHUNK) {
		size_t len = sb->len - off < CHUNK ? sb->len - off : CHUNK;
		ssize_t n = write(fd, sb->bytes + off, len);

		if (n != (ssize_t)len)
			die_io(sb->import, n, len);
	}
	if (close(fd) < 0)
		die("close() of an import", strerror(errno));
}

/* What --state does at unmount (fs/state.c), on the reference guest. */
static void op_store(void *arg)
{
	struct snapbench *sb = arg;
	struct fsbench *b = sb->b;

	gm_guest_lock(b->g);
	must(gm_snap_store(b->g, sb->state, &b->err), b, "gm_snap_store");
	gm_guest_unlock(b->g);
}

/* What an export does in the daemon at open: the saved snapshot's file
 * laid out as pieces, its CRC computed (its pages are not copied). */
static void op_layout(void *arg)
{
	struct snapbench *sb = arg;
	struct fsbench *b = sb->b;
	struct gm_snapfile_pieces p;
	const struct gm_snapshot *s;

	gm_guest_lock(b->g);
	s = gm_snap_find(b->g, SNAP_NAME);
	if (!s || gm_snapfile_size(s) != sb->len)
		die("gm_snapfile_size", "not the size of the export");
	must(gm_snapfile_pieces(s, &p, &b->err), b, "gm_snapfile_pieces");
	if (p.size != sb->len)
		die("gm_snapfile_pieces", "not the size of the export");
	gm_snapfile_pieces_free(&p);
	gm_guest_unlock(b->g);
}

/* What an import does in the daemon at close, but for gm_snap_add: the
 * file checked and decoded into a new snapshot. */
static void op_decode(void *arg)
{
	struct snapbench *sb = arg;
	struct fsbench *b = sb->b;
	struct gm_snapfile_want want = {
	    .arch = gm_guest_arch(b->g),
	    .page_size = gm_guest_page_size(b->g),
	};
	struct gm_snapshot *s = NULL;

	must(gm_snapfile_read(sb->bytes, sb->len, IMPORT_NAME, &want, &s, NULL,
			      &b->err),
	     b, "gm_snapfile_read");
	gm_snapshot_free(s);
}

/* PATH (at BASE) written with BYTE or read checking it, whole: timed by
 * the caller, so the blocks' times are not kept. */
static void whole_pass(struct fsbench *b, const char *path, uint64_t base,
		       bool write, uint8_t byte)
{
	double unused[NBLOCKS] = {0};
	struct stream s = {path, base, write, false, byte, unused, -1};

	streams_pass(b, &s, 1);
}

/* The tmpfs references: the whole 256 MiB file written or read. */
static void op_ref_write(void *arg)
{
	struct fsbench *b = ((struct snapbench *)arg)->b;

	whole_pass(b, b->ref, 0, true, b->ref_byte);
}

static void op_ref_read(void *arg)
{
	struct fsbench *b = ((struct snapbench *)arg)->b;

	whole_pass(b, b->ref, 0, false, b->ref_byte);
}

/* The pattern written to the daemon's region through its file, and to
 * the reference guest's; or read back from the file and checked. */
static void region_pattern(struct snapbench *sb, bool write, const char *what)
{
	struct fsbench *b = sb->b;
	int fd = open_or_die(b->region, write ? O_WRONLY : O_RDONLY);

	for (uint64_t off = 0; off < REGION_SIZE; off += CHUNK) {
		ssize_t n;

		if (write)
			pattern(b->buf, off, CHUNK);
		n = write ? pwrite(fd, b->buf, CHUNK, (off_t)off)
			  : pread(fd, b->buf, CHUNK, (off_t)off);
		if (n != (ssize_t)CHUNK)
			die_io(b->region, n, CHUNK);
		if (!write) {
			pattern_check(sb, what, b->buf, off, CHUNK);
			continue;
		}
		gm_guest_lock(b->g);
		must(gm_mem_write(b->g, REGION_ADDR + off, b->buf, CHUNK,
				  &b->err),
		     b, "gm_mem_write");
		gm_guest_unlock(b->g);
	}
	close(fd);
}

/* The pattern into the daemon's region (through its file) and the
 * reference guest's, each saved as SNAP_NAME; the first export kept. */
static void snap_setup(struct snapbench *sb)
{
	struct fsbench *b = sb->b;
	struct stat st;

	region_pattern(sb, true, NULL);
	gm_guest_lock(b->g);
	must(gm_snap_save(b->g, SNAP_NAME, NULL, &b->err), b, "gm_snap_save");
	gm_guest_unlock(b->g);
	op_save(sb);
	if (stat(sb->file, &st))
		die(sb->file, strerror(errno));
	sb->len = (size_t)st.st_size;
	sb->bytes = malloc(sb->len + 1);
	sb->want = malloc(CHUNK);
	if (!sb->bytes || !sb->want)
		die("malloc", strerror(ENOMEM));
	if (read_file(b, sb->file, sb->bytes, sb->len + 1) != sb->len)
		die(sb->file, "reads other than its size");
}

/*
 * After the timed turns: the last save exports again, imports back, and
 * restores over other bytes to the pattern, read back through the region
 * file; the last --state file loads with the pattern.
 */
static void snap_check(struct snapbench *sb)
{
	struct fsbench *b = sb->b;
	struct gm_snapshot *s = NULL;
	const struct gm_snap_region *r;

	if (read_file(b, sb->file, sb->bytes, sb->len + 1) != sb->len)
		die(sb->file, "reads other than its size");
	whole_pass(b, b->mem, REGION_ADDR, true, 0x00);
	op_import(sb);
	ctl_send(b, "restore " IMPORT_NAME "\n");
	region_pattern(sb, false, "export, import and restore");

	must(gm_snapfile_load(sb->state, NULL, NULL, &s, NULL, &b->err), b,
	     sb->state);
	for (r = s->regions; r < s->regions + s->nregions; r++)
		if (r->start == REGION_ADDR && r->size == REGION_SIZE)
			break;
	if (r == s->regions + s->nregions)
		die(sb->state, "the region is not in it");
	pattern_check(sb, sb->state, r->bytes, 0, REGION_SIZE);
	gm_snapshot_free(s);
}

/* The timed operations, taken in turn in this order. */
enum snap_op {
	SNAP_SAVE,
	SNAP_EXPORT,
	SNAP_IMPORT,
	SNAP_STORE,
	SNAP_LAYOUT,
	SNAP_DECODE,
	TMPFS_WRITE,
	TMPFS_READ,
	NSNAP
};

static const bench_fn snap_fns[NSNAP] = {
    op_save,   op_export, op_import,	op_store,
    op_layout, op_decode, op_ref_write, op_ref_read,
};

/* Each operation against the references that tell most: for export and
 * import, first the other half of their cp, then the same work on tmpfs,
 * then the same layout or decoding in-process, without FUSE. */
static const struct {
	const char *what, *ref;
	enum snap_op ours, theirs;
} snap_rows[] = {
    {"save, 256 MiB to MNT/save", "tmpfs write", SNAP_SAVE, TMPFS_WRITE},
    {"export, snapshots/NAME read whole", "tmpfs write", SNAP_EXPORT,
     TMPFS_WRITE},
    {"export, snapshots/NAME read whole", "tmpfs read", SNAP_EXPORT,
     TMPFS_READ},
    {"export, snapshots/NAME read whole", "gm_snapfile_pieces", SNAP_EXPORT,
     SNAP_LAYOUT},
    {"import, snapshots/NEW written", "tmpfs read", SNAP_IMPORT, TMPFS_READ},
    {"import, snapshots/NEW written", "tmpfs write", SNAP_IMPORT, TMPFS_WRITE},
    {"import, snapshots/NEW written", "gm_snapfile_read", SNAP_IMPORT,
     SNAP_DECODE},
    {"--state store (gm_snap_store)", "tmpfs write", SNAP_STORE,
     TMPFS_WRITE},
};

static void bench_snapshots(struct fsbench *b, const char *dir)
{
	struct snapbench sb = {.b = b};
	void *args[NSNAP];
	double t[NSNAP];

	path_in(sb.save, b->mnt, "save");
	path_in(sb.file, b->mnt, "snapshots/" SNAP_NAME);
	path_in(sb.import, b->mnt, "snapshots/" IMPORT_NAME);
	path_in(sb.state, dir, "bench-fs.state");
	for (int i = 0; i < NSNAP; i++)
		args[i] = &sb;
	snap_setup(&sb);
	bench_measure_turns(snap_fns, args, NSNAP, b->min_trial, b->runs, t);
	snap_check(&sb);
	for (size_t i = 0; i < sizeof(snap_rows) / sizeof(snap_rows[0]); i++)
		bench_row(snap_rows[i].what, GB_PER_S, REGION_SIZE,
			  t[snap_rows[i].ours], snap_rows[i].ref,
			  t[snap_rows[i].theirs]);

	unlink(sb.file); /* rm drops the snapshots */
	unlink(sb.import);
	unlink(sb.state);
	free(sb.bytes);
	free(sb.want);
}

/*
 * The core file (SPEC §9): MNT/core of the guest (the 256 MiB region full
 * of the pattern) read whole, as `cp MNT/core` reads it, and that dump
 * loaded back by `load_core` from the tmpfs directory, both against
 * reading the 256 MiB tmpfs file. Then a 1 GiB region with a page of
 * data every 64 MiB: opening and closing MNT/core against a save.
 */

#define SPARSE_ADDR 0x400000000ULL
#define SPARSE_SIZE (1024 * MIB)

struct corebench {
	struct fsbench *b;
	char core[PATH_MAX], dump[PATH_MAX], save[PATH_MAX];
	char load[PATH_MAX + 16];
	size_t len;
};

/* cp MNT/core /dev/null */
static void op_core_read(void *arg)
{
	struct corebench *cb = arg;

	if (read_file(cb->b, cb->core, NULL, 0) != cb->len)
		die(cb->core, "not as long as its stat says");
}

/* echo "load_core DIR/bench.core" > MNT/ctl */
static void op_load_core(void *arg)
{
	struct corebench *cb = arg;

	ctl_send(cb->b, cb->load);
}

static void op_core_ref_read(void *arg)
{
	struct fsbench *b = ((struct corebench *)arg)->b;

	whole_pass(b, b->ref, 0, false, b->ref_byte);
}

/* open and close MNT/core: the guest copied as a save copies it */
static void op_core_open(void *arg)
{
	struct corebench *cb = arg;

	close(open_or_die(cb->core, O_RDONLY));
}

/* echo sparse > MNT/save */
static void op_sparse_save(void *arg)
{
	struct corebench *cb = arg;
	int fd = open_or_die(cb->save, O_WRONLY | O_TRUNC);

	if (write(fd, "sparse\n", 7) != 7 || close(fd) < 0)
		die(cb->save, strerror(errno));
}

/* The dump of the guest, copied to the tmpfs directory, checked. */
static void core_setup(struct corebench *cb, const char *dir)
{
	struct fsbench *b = cb->b;
	int in, out;
	ssize_t n;
	struct stat st;

	path_in(cb->core, b->mnt, "core");
	path_in(cb->save, b->mnt, "save");
	path_in(cb->dump, dir, "bench.core");
	snprintf(cb->load, sizeof(cb->load), "load_core %s\n", cb->dump);
	if (stat(cb->core, &st))
		die(cb->core, strerror(errno));
	cb->len = (size_t)st.st_size;
	if (cb->len < REGION_SIZE)
		die(cb->core, "shorter than the region");
	in = open_or_die(cb->core, O_RDONLY);
	out = open(cb->dump, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (out < 0)
		die(cb->dump, strerror(errno));
	while ((n = read(in, b->buf, CHUNK)) > 0)
		if (write(out, b->buf, (size_t)n) != n)
			die(cb->dump, strerror(errno));
	if (n < 0)
		die(cb->core, strerror(errno));
	close(in);
	close(out);
}

static void bench_core(struct fsbench *b, const char *dir)
{
	static const bench_fn fns[] = {op_core_read, op_load_core,
				       op_core_ref_read};
	static const bench_fn sparse_fns[] = {op_core_open, op_sparse_save};
	struct corebench cb = {.b = b};
	void *args[] = {&cb, &cb, &cb};
	double t[3], ts[2];
	char line[96];

	core_setup(&cb, dir);
	bench_measure_turns(fns, args, 3, b->min_trial, b->runs, t);
	bench_row("core, MNT/core read whole (cp)", GB_PER_S, (double)cb.len,
		  t[0], "tmpfs read", t[2]);
	bench_row("load_core of that dump", GB_PER_S, (double)cb.len, t[1],
		  "tmpfs read", t[2]);
	unlink(cb.dump);

	/* 1 GiB, mostly zero: a page of data every 64 MiB */
	snprintf(line, sizeof(line), "map 0x%llx 1g rw- sparse\n",
		 (unsigned long long)SPARSE_ADDR);
	ctl_send(b, line);
	for (uint64_t off = 0; off < SPARSE_SIZE; off += 64 * MIB) {
		snprintf(line, sizeof(line), "write 0x%llx c0ffee\n",
			 (unsigned long long)(SPARSE_ADDR + off));
		ctl_send(b, line);
	}
	bench_measure_turns(sparse_fns, args, 2, b->min_trial, b->runs, ts);
	bench_row("core open+close, 1 GiB mostly zero", MS_PER_CALL, 0, ts[0],
		  "save of it", ts[1]);
	ctl_send(b, "drop sparse\n");
	snprintf(line, sizeof(line), "unmap 0x%llx 1g\n",
		 (unsigned long long)SPARSE_ADDR);
	ctl_send(b, line);
}

/* Setup */

/* The FUSE read-ahead the kernel gave MNT, in KiB; -1 when unknown. */
static int read_ahead_kb(const char *mnt)
{
	char path[96];
	struct stat st;
	FILE *f;
	int kb = -1;

	if (stat(mnt, &st))
		return -1;
	snprintf(path, sizeof(path), "/sys/class/bdi/%u:%u/read_ahead_kb",
		 major(st.st_dev), minor(st.st_dev));
	f = fopen(path, "r");
	if (!f)
		return -1;
	if (fscanf(f, "%d", &kb) != 1)
		kb = -1;
	fclose(f);
	return kb;
}

/* Map the region through ctl and make the tmpfs file beside it. */
static void setup(struct fsbench *b, const char *dir)
{
	static const char map_region[] = "map 0x100000000 256m rw- bench\n";
	double best[NBLOCKS] = {0};
	struct stream fill = {b->ref, 0, true, false, 0x01, best, -1};
	char ctl[PATH_MAX];
	struct statfs sf;
	int fd;

	if (statfs(b->mnt, &sf))
		die(b->mnt, strerror(errno));
	if (sf.f_type != FUSE_SUPER_MAGIC)
		die(b->mnt, "not a FUSE mount");
	if (statfs(dir, &sf))
		die(dir, strerror(errno));
	if (sf.f_type != TMPFS_MAGIC)
		die(dir, "not on tmpfs");
	path_in(b->region, b->mnt, "regions/" REGION_NAME);
	path_in(b->mem, b->mnt, "mem");
	path_in(b->ref, dir, "bench-fs.ref");
	path_in(ctl, b->mnt, "ctl");
	b->ctl = open_or_die(ctl, O_RDWR);
	if (write(b->ctl, map_region, strlen(map_region)) < 0)
		die("map 0x100000000 256m (wants a fresh gmemfs mount)",
		    strerror(errno));
	fd = open(b->ref, O_WRONLY | O_CREAT | O_EXCL, 0600);
	if (fd < 0)
		die(b->ref, strerror(errno));
	close(fd);
	streams_pass(b, &fill, 1);
	b->ref_byte = 0x01;
}

int main(int argc, char **argv)
{
	struct fsbench b = {.runs = 5, .min_trial = 0.2};
	char title[768];
	int opt;

	while ((opt = getopt(argc, argv, "n:t:")) != -1) {
		if (opt == 'n' && (b.runs = atoi(optarg)) >= 3)
			continue;
		if (opt == 't' && (b.min_trial = atof(optarg)) > 0)
			continue;
		fputs(USAGE, stderr);
		return 2;
	}
	if (argc - optind != 2) {
		fputs(USAGE, stderr);
		return 2;
	}
	b.mnt = argv[optind];
	b.buf = malloc(CHUNK);
	if (!b.buf)
		die("malloc", strerror(ENOMEM));
	setup(&b, argv[optind + 1]);

	snprintf(title, sizeof(title),
		 "gmemfs filesystem benchmark: a 256 MiB region file against "
		 "a 256 MiB tmpfs file; FUSE read-ahead %d KiB, %ld CPUs\n"
		 "files: 16 blocks, each timed beside the same block of tmpfs; "
		 "a figure sums each block's best of %d runs\n"
		 "commands: best of %d turns of at least %.2f s\n"
		 "snapshots of the region full of data: whole-file "
		 "operations, also best of %d turns; tmpfs write and read\n"
		 "  are whole 256 MiB files (cp of an export writes one, cp "
		 "of an import reads one)",
		 read_ahead_kb(b.mnt), sysconf(_SC_NPROCESSORS_ONLN), b.runs,
		 b.runs, b.min_trial, b.runs);
	bench_header(title);
	bench_sequential(&b);
	bench_random(&b);
	reference_guest(&b);
	bench_commands(&b);
	bench_snapshots(&b, argv[optind + 1]);
	bench_core(&b, argv[optind + 1]);
	reference_guest_close(&b);

	ctl_send(&b, "unmap 0x100000000 256m\n");
	close(b.ctl);
	unlink(b.ref);
	free(b.buf);
	return 0;
}
