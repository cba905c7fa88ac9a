/*
 * The growing text of answers and of the files that show text. It grows
 * geometrically, so building a long answer piece by piece stays linear.
 */
#include "text.h"
#include "cmd-priv.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void gm_text_init(struct gm_text *t)
{
	memset(t, 0, sizeof(*t));
}

void gm_text_free(struct gm_text *t)
{
	free(t->buf);
	gm_text_init(t);
}

void gm_text_reset(struct gm_text *t)
{
	t->len = 0;
	t->failed = false;
	if (t->buf)
		t->buf[0] = '\0';
}

/* Room for LEN + N bytes and a NUL; false (and T failed) when there is
 * none. */
static bool text_room(struct gm_text *t, size_t n)
{
	size_t want, cap;
	char *buf;

	if (t->failed)
		return false;
	if (n >= SIZE_MAX - t->len) {
		t->failed = true;
		return false;
	}
	want = t->len + n + 1;
	if (want <= t->cap)
		return true;
	cap = t->cap ? t->cap : 64;
	while (cap < want)
		cap = cap > SIZE_MAX / 2 ? want : cap * 2;
	buf = realloc(t->buf, cap);
	if (!buf) {
		t->failed = true;
		return false;
	}
	t->buf = buf;
	t->cap = cap;
	return true;
}

char *gm_text_extend(struct gm_text *t, size_t n)
{
	char *p;

	if (!text_room(t, n))
		return NULL;
	p = t->buf + t->len;
	t->len += n;
	t->buf[t->len] = '\0';
	return p;
}

void gm_text_add(struct gm_text *t, const void *bytes, size_t len)
{
	char *p = gm_text_extend(t, len);

	if (p && len > 0)
		memcpy(p, bytes, len);
}

void gm_text_printf(struct gm_text *t, const char *fmt, ...)
{
	char small[128];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n < 0) {
		t->failed = true;
		return;
	}
	if ((size_t)n < sizeof(small)) {
		gm_text_add(t, small, (size_t)n);
		return;
	}
	if (!text_room(t, (size_t)n))
		return;
	va_start(ap, fmt);
	vsnprintf(t->buf + t->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	t->len += (size_t)n;
}

static const char hexdigits[] = "0123456789abcdef";

/* Escape S into T: bytes outside printable ASCII as \xNN, and '\' as \\
 * when BACKSLASH; at most MAX bytes of S. */
static void add_escaped(struct gm_text *t, const unsigned char *s, size_t len,
			bool backslash)
{
	size_t run = 0;

	for (size_t i = 0; i < len; i++) {
		unsigned char ch = s[i];
		bool plain =
		    ch >= 0x20 && ch < 0x7f && !(backslash && ch == '\\');
		char esc[4] = {'\\', 'x', hexdigits[ch >> 4],
			       hexdigits[ch & 15]};

		if (plain)
			continue;
		gm_text_add(t, s + run, i - run);
		if (ch == '\\')
			gm_text_add(t, "\\\\", 2);
		else
			gm_text_add(t, esc, 4);
		run = i + 1;
	}
	gm_text_add(t, s + run, len - run);
}

void gm_text_add_escaped(struct gm_text *t, const void *bytes, size_t len)
{
	add_escaped(t, bytes, len, true);
}

void gm_text_add_cut(struct gm_text *t, const char *s, size_t len, size_t max)
{
	add_escaped(t, (const unsigned char *)s, len < max ? len : max, false);
	if (len > max)
		gm_text_add(t, "\xe2\x80\xa6", 3); /* … */
}

int gm_text_status(const struct gm_text *t)
{
	return t->failed ? -ENOMEM : 0;
}

char *gm_range_format(unsigned address_bits, uint64_t start, uint64_t size,
		      char *buf)
{
	int width = address_bits == 32 ? 8 : 16;
	uint64_t end = start + size;

	if (size != 0 && end == 0) /* the end of the 64-bit space */
		snprintf(buf, GM_RANGE_NAME_MAX, "%0*" PRIx64 "-1%016d", width,
			 start, 0);
	else
		snprintf(buf, GM_RANGE_NAME_MAX, "%0*" PRIx64 "-%0*" PRIx64,
			 width, start, width, end);
	return buf;
}

void gm_perms_str(unsigned perms, char buf[4])
{
	buf[0] = perms & GM_PERM_R ? 'r' : '-';
	buf[1] = perms & GM_PERM_W ? 'w' : '-';
	buf[2] = perms & GM_PERM_X ? 'x' : '-';
	buf[3] = '\0';
}

void gm_text_add_perms_label(struct gm_text *t, unsigned perms,
			     const char *label, size_t label_len)
{
	char letters[4];

	gm_perms_str(perms, letters);
	gm_text_printf(t, "%s ", letters);
	gm_text_add_escaped(t, label, label_len);
}
