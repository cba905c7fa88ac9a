/*
 * ELF core dumps as snapshots: reading a Linux or gdb core into a
 * gm_snapshot, and writing a snapshot as a core (the `core` file and
 * `gmem snapshot core`). No engine here; README "ELF core files" documents
 * the layout written.
 */
#ifndef GM_COREDUMP_H
#define GM_COREDUMP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arch.h"
#include "error.h"
#include "snapfile.h"
#include "snapshot.h"

/* The label of a region no NT_FILE entry covers. */
#define GM_CORE_LABEL "[core]"

/*
 * Read the LEN bytes of a core dump of ARCH into a new snapshot (no name)
 * in *OUT, with PAGE_SIZE-byte pages (the guest's); free it with
 * gm_snapshot_free. Each PT_LOAD of p_memsz > 0 is a region with its
 * p_flags, the file's p_filesz bytes and zeros after; its label is the
 * path of the NT_FILE entry that covers its start, else GM_CORE_LABEL.
 * Registers are BASE_REGS (ARCH's table order; NULL: all zero) overlaid
 * with those of the first NT_PRSTATUS (and arm64's NT_ARM_TLS); on x86
 * the segment selectors of the dump are not taken, as the engine has no
 * descriptor table to load them from.
 * -ENOEXEC: not an ELF core of ARCH (an executable, another machine…);
 * -EINVAL: what gm_elf_parse refuses, a PT_LOAD not on a page boundary,
 * an NT_PRSTATUS or NT_FILE note too short for what it says; -ENOMEM.
 */
int gm_core_read(const void *bytes, size_t len, const struct gm_arch *arch,
		 uint64_t page_size, const uint64_t *base_regs,
		 struct gm_snapshot **out, struct gm_error *err);

/* One piece of a core file: LEN bytes at offset OFF of the file, which
 * are BYTES, or zeros when BYTES is NULL (a run of zero pages: it costs
 * no memory, and a reader may report it as a hole). */
struct gm_core_piece {
	uint64_t off;
	const uint8_t *bytes;
	uint64_t len;
};

struct gm_core_pieces {
	struct gm_core_piece *v; /* in file order, no gaps, none empty */
	size_t n, cap;
	uint64_t size;	 /* the file's */
	uint8_t *fields; /* the headers and notes the pieces point into */
	size_t fields_len;
};

/*
 * Lay out S's core file in *P: the ELF header, program headers and notes
 * are made (a few KiB), each region's pages point into S's memory (valid
 * as long as S: hold it), its zero pages are NULL pieces. -EINVAL when S
 * has more regions than an ELF file can list; -ENOMEM. Free with
 * gm_core_pieces_free. S may be a view (gm_snap_view), a saved snapshot
 * or one read from a file.
 */
int gm_core_pieces(const struct gm_snapshot *s, struct gm_core_pieces *p,
		   struct gm_error *err);
void gm_core_pieces_free(struct gm_core_pieces *p);

/* Copy up to LEN bytes of P's file from offset OFF into BUF (zeros for
 * NULL pieces); returns the count, 0 at or past the end. */
size_t gm_core_pieces_read(const struct gm_core_pieces *p, uint64_t off,
			   void *buf, size_t len);

/* The index of the piece that holds byte OFF (< P->size). */
size_t gm_core_piece_at(const struct gm_core_pieces *p, uint64_t off);

/* Write S's core file through SINK in order (zero runs in bounded
 * chunks): the sink's error with a message, or as gm_core_pieces. */
int gm_core_write(const struct gm_snapshot *s, gm_snapfile_sink sink, void *ctx,
		  struct gm_error *err);

#endif
