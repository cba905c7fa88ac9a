/*
 * The snapshot file format: one gm_snapshot as bytes, little endian on any
 * host, zero pages not stored, CRC-32C over everything before the trailer.
 * gmemfs-snapshot(5) documents it field by field. Nothing here needs a
 * guest or an engine, so gmem and the fuzzer read files with it too.
 */
#ifndef GM_SNAPFILE_H
#define GM_SNAPFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "snapshot.h"

#define GM_SNAPFILE_MAGIC	"GMEMSNAP" /* 8 bytes, no NUL */
#define GM_SNAPFILE_VERSION	1
#define GM_SNAPFILE_HEADER_SIZE 48
/* The most pages a file may map in all (1 TiB of 4 KiB pages, 256 GiB of
 * ARM's 1 KiB ones): a bound on what reading one allocates, as a present
 * bitmap is a bit per page (32 MiB at most). */
#define GM_SNAPFILE_PAGES_MAX (1ull << 28)

/* Takes the file's bytes in order; returns 0 or a negative errno, which
 * stops the writing. */
typedef int (*gm_snapfile_sink)(void *ctx, const void *bytes, size_t len);

/* The exact size of S's file. */
uint64_t gm_snapfile_size(const struct gm_snapshot *s);

/* Write S's file through SINK: the sink's error, with a message in ERR. */
int gm_snapfile_write(const struct gm_snapshot *s, gm_snapfile_sink sink,
		      void *ctx, struct gm_error *err);

/* S's file as pieces in order, to serve reads of it without copying its
 * pages: the small fields are copied, the page runs point into S's
 * memory (valid as long as S). */
struct gm_snapfile_piece {
	uint64_t off; /* where it starts in the file */
	const uint8_t *bytes;
	size_t len;
	size_t field_end; /* (while they are made) */
};

struct gm_snapfile_pieces {
	struct gm_snapfile_piece *v;
	size_t n, cap;
	uint64_t size; /* the file's */
	uint8_t *fields;
	size_t fields_len, fields_cap;
};

/* Lay out S's file in *P, computing its CRC; -ENOMEM. Free with
 * gm_snapfile_pieces_free. */
int gm_snapfile_pieces(const struct gm_snapshot *s,
		       struct gm_snapfile_pieces *p, struct gm_error *err);
void gm_snapfile_pieces_free(struct gm_snapfile_pieces *p);

/* The index of the piece that holds byte OFF (< P->size). */
size_t gm_snapfile_piece_at(const struct gm_snapfile_pieces *p, uint64_t off);

/* What must hold of a file besides being well formed. */
struct gm_snapfile_want {
	const struct gm_arch *arch; /* NULL: any architecture */
	uint64_t page_size;	    /* 0: any */
	bool any_checksum; /* a wrong checksum is not an error (for info) */
};

/* What a file says of itself, filled as far as it was read. */
struct gm_snapfile_about {
	uint32_t version;
	uint32_t checksum_stored, checksum_computed;
	bool checksum_ok;
};

/*
 * Read the LEN bytes of a file into a new snapshot named NAME (NULL: no
 * name) in *OUT; free it with gm_snapshot_free. -EINVAL with the reason
 * and the offset when the bytes are not one complete, valid file of the
 * kind WANT asks for; -ENOMEM. Never reads outside BYTES.
 */
int gm_snapfile_read(const void *bytes, size_t len, const char *name,
		     const struct gm_snapfile_want *want,
		     struct gm_snapshot **out, struct gm_snapfile_about *about,
		     struct gm_error *err);

/* gm_snapfile_read of the file at PATH. -errno of open() (-ENOENT: no
 * such file), -EINVAL for what is not a regular file, or what
 * gm_snapfile_read returns. The file is only read. */
int gm_snapfile_load(const char *path, const char *name,
		     const struct gm_snapfile_want *want,
		     struct gm_snapshot **out, struct gm_snapfile_about *about,
		     struct gm_error *err);

/*
 * Replace the file at PATH with S's file, atomically: S goes to PATH +
 * GM_SNAPFILE_TMP_SUFFIX (made new with O_EXCL and 0600, then given
 * PATH's permissions; a temporary file of another user is refused with
 * -EEXIST), which is synced and renamed over PATH, and the directory
 * synced. A crash at
 * any moment leaves PATH old or new, never torn. -errno with a message
 * naming the step that failed; the temporary file is removed then.
 */
#define GM_SNAPFILE_TMP_SUFFIX ".tmp"
int gm_snapfile_store(const struct gm_snapshot *s, const char *path,
		      struct gm_error *err);

/* Free a snapshot from gm_snapfile_read, gm_snap_view or a save. */
void gm_snapshot_free(struct gm_snapshot *s);

#endif
