/*
 * A growing text buffer for answers and the files that show text. A failed
 * allocation is remembered, so callers append freely and check once.
 */
#ifndef GM_TEXT_H
#define GM_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct gm_text {
	char *buf; /* NUL-terminated when len > 0 */
	size_t len;
	size_t cap;
	bool failed; /* an allocation failed: the text is incomplete */
};

void gm_text_init(struct gm_text *t);
void gm_text_free(struct gm_text *t);
void gm_text_reset(struct gm_text *t); /* len = 0, keeps the memory */

void gm_text_add(struct gm_text *t, const void *bytes, size_t len);
void gm_text_printf(struct gm_text *t, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Append LEN bytes with those outside printable ASCII and '\' written as
 * \xNN and \\, as labels in `maps`. */
void gm_text_add_escaped(struct gm_text *t, const void *bytes, size_t len);

/* "START-END" of [start, start+size) as `maps` and regions/ name it, for
 * a guest of ADDRESS_BITS-bit addresses: lowercase hex without 0x,
 * zero-padded to 8 digits (32-bit) or 16 (64-bit); END is exclusive (an
 * end of 2^64 is 10000000000000000). BUF holds at least GM_RANGE_NAME_MAX
 * bytes. Returns BUF. */
#define GM_RANGE_NAME_MAX 40
char *gm_range_format(unsigned address_bits, uint64_t start, uint64_t size,
		      char *buf);

/* Write PERMS (GM_PERM_* bits) as three letters rwx/- and a NUL. */
void gm_perms_str(unsigned perms, char buf[4]);

/* Append "PERMS LABEL", the label escaped: how `maps` ends a line. */
void gm_text_add_perms_label(struct gm_text *t, unsigned perms,
			     const char *label, size_t label_len);

/* 0, or -ENOMEM when an append failed. */
int gm_text_status(const struct gm_text *t);

#endif
