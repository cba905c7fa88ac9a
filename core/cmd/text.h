/*
 * A growing text buffer for answers and the files that show text. A failed
 * allocation is remembered, so callers append freely and check once.
 */
#ifndef GM_TEXT_H
#define GM_TEXT_H

#include <stdbool.h>
#include <stddef.h>

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

/* 0, or -ENOMEM when an append failed. */
int gm_text_status(const struct gm_text *t);

#endif
