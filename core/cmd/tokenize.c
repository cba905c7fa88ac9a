/*
 * Splits a command line into tokens (SPEC §4): blanks separate them, double
 * quotes may hold blanks and the C escapes \\ \" \n \t \xNN. One pass over
 * the line, one buffer no longer than it. Also how a token is shown in a
 * message. Needs no guest: gmem's own `help` uses it.
 */
#include "cmd-priv.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define SHOW_BYTES 40 /* bytes of a bad token echoed in a message */

static bool is_blank(char ch)
{
	return ch == ' ' || ch == '\t';
}

static int hex_value(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

/* A keyword starts with a lowercase letter and holds letters, digits and
 * '_' up to its '='. */
static bool is_key_char(char ch, bool first)
{
	return (ch >= 'a' && ch <= 'z') || ch == '_' ||
	       (!first && ch >= '0' && ch <= '9');
}

/* Decode the escape at LINE[*I] (just after the '\') into *OUT. */
static int escape(const char *line, size_t len, size_t *i, char *out,
		  struct gm_error *err)
{
	char show[GM_SHOW_MAX];
	int hi, lo;

	switch (*i < len ? line[*i] : '\0') {
	case '\\':
	case '"':
		*out = line[(*i)++];
		return 0;
	case 'n':
		*out = '\n';
		(*i)++;
		return 0;
	case 't':
		*out = '\t';
		(*i)++;
		return 0;
	case 'x':
		hi = *i + 1 < len ? hex_value(line[*i + 1]) : -1;
		lo = *i + 2 < len ? hex_value(line[*i + 2]) : -1;
		if (hi < 0 || lo < 0)
			break;
		*out = (char)(hi << 4 | lo);
		*i += 3;
		return 0;
	}
	return gm_fail(
	    err, EINVAL, "bad escape %s: use \\\\ \\\" \\n \\t or \\xNN",
	    gm_bytes_show(line + *i - 1, len - *i + 1 < 4 ? len - *i + 1 : 4,
			  show));
}

/* Decode the token that starts at LINE[*I] into T (its bytes at DST). */
static int token(const char *line, size_t len, size_t *i, char *dst,
		 struct gm_token *t, struct gm_error *err)
{
	bool in_quotes = false, key_possible = true;
	size_t n = 0, open_at = 0;
	int rc;

	t->s = dst;
	t->quoted = false;
	t->key_len = 0;
	while (*i < len && (in_quotes || !is_blank(line[*i]))) {
		char ch = line[(*i)++];

		if (ch == '"') {
			in_quotes = !in_quotes;
			open_at = *i - 1;
			t->quoted = true;
			if (t->key_len == 0)
				key_possible = false;
			continue;
		}
		if (in_quotes && ch == '\\') {
			rc = escape(line, len, i, &dst[n++], err);
			if (rc < 0)
				return rc;
			continue;
		}
		if (key_possible && ch == '=' && n > 0 && t->key_len == 0)
			t->key_len = n;
		else if (t->key_len == 0 && !is_key_char(ch, n == 0))
			key_possible = false;
		dst[n++] = ch;
	}
	if (in_quotes)
		return gm_fail(err, EINVAL, "unterminated quote at byte %zu",
			       open_at + 1);
	dst[n] = '\0';
	t->len = n;
	return 0;
}

int gm_tokenize(const char *line, size_t len, struct gm_line *out,
		struct gm_error *err)
{
	size_t i = 0, used = 0;
	const char *nul = memchr(line, '\0', len);
	int rc;

	memset(out, 0, sizeof(*out));
	if (nul)
		return gm_fail(err, EINVAL, "NUL byte at byte %zu of the line",
			       (size_t)(nul - line) + 1);
	/* Each token decodes to no more bytes than it takes, and its NUL
	 * takes the blank after it (or the extra byte at the end). */
	out->buf = malloc(len + 1);
	if (!out->buf)
		return gm_fail(err, ENOMEM, "out of memory");
	for (;;) {
		while (i < len && is_blank(line[i]))
			i++;
		if (i == len)
			return 0;
		if (out->n == GM_TOKENS_MAX)
			return gm_fail(err, EINVAL,
				       "more than %d words on one line",
				       GM_TOKENS_MAX);
		rc = token(line, len, &i, out->buf + used, &out->tok[out->n],
			   err);
		if (rc < 0)
			return rc;
		used += out->tok[out->n++].len + 1;
	}
}

void gm_line_free(struct gm_line *l)
{
	free(l->buf);
	l->buf = NULL;
	l->n = 0;
}

const char *gm_bytes_show(const char *s, size_t len, char *buf)
{
	static const char hex[] = "0123456789abcdef";
	size_t n = 0, shown = len < SHOW_BYTES ? len : SHOW_BYTES;

	buf[n++] = '"';
	for (size_t i = 0; i < shown; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (ch == '"' || ch == '\\') {
			buf[n++] = '\\';
			buf[n++] = (char)ch;
		} else if (ch >= 0x20 && ch < 0x7f) {
			buf[n++] = (char)ch;
		} else {
			buf[n++] = '\\';
			buf[n++] = 'x';
			buf[n++] = hex[ch >> 4];
			buf[n++] = hex[ch & 15];
		}
	}
	buf[n++] = '"';
	if (len > shown) { /* ASCII: messages stay printable ASCII */
		memcpy(buf + n, "...", 3);
		n += 3;
	}
	buf[n] = '\0';
	return buf;
}

const char *gm_token_show(const struct gm_token *t, char *buf)
{
	return gm_bytes_show(t->s, t->len, buf);
}
