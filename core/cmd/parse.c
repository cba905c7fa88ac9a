/*
 * Numbers, booleans, permissions and hex bytes as commands and the
 * daemon's options write them, and the answers' number formats. Every
 * refusal quotes the bad token, escaped and cut short.
 */
#include "cmd-priv.h"
#include "regions.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>

enum num_status { NUM_OK, NUM_BAD, NUM_OVERFLOW };

static int digit_value(char ch, unsigned base)
{
	int v = -1;

	if (ch >= '0' && ch <= '9')
		v = ch - '0';
	else if (ch >= 'a' && ch <= 'f')
		v = ch - 'a' + 10;
	else if (ch >= 'A' && ch <= 'F')
		v = ch - 'A' + 10;
	return v >= 0 && (unsigned)v < base ? v : -1;
}

static unsigned suffix_shift(char ch)
{
	switch (ch) {
	case 'k':
	case 'K':
		return 10;
	case 'm':
	case 'M':
		return 20;
	case 'g':
	case 'G':
		return 30;
	}
	return 0;
}

/* S[0..LEN) as 0x hex or decimal, with a k/m/g suffix when SUFFIX. */
static enum num_status parse_num(const char *s, size_t len, bool suffix,
				 uint64_t *value)
{
	unsigned base = 10, shift = 0;
	size_t i = 0;
	uint64_t v = 0;

	if (len >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		i = 2;
	}
	if (suffix && len > i && suffix_shift(s[len - 1]) != 0)
		shift = suffix_shift(s[--len]);
	if (i == len)
		return NUM_BAD;
	for (; i < len; i++) {
		int d = digit_value(s[i], base);

		if (d < 0)
			return NUM_BAD;
		if (v > (UINT64_MAX - (uint64_t)d) / base)
			return NUM_OVERFLOW;
		v = v * base + (uint64_t)d;
	}
	if (shift && v > UINT64_MAX >> shift)
		return NUM_OVERFLOW;
	*value = v << shift;
	return NUM_OK;
}

static int num_fail(const char *s, size_t len, const char *what, bool suffix,
		    enum num_status st, struct gm_error *err)
{
	char show[GM_SHOW_MAX];

	gm_bytes_show(s, len, show);
	if (len == 0)
		return gm_fail(err, EINVAL, "%s is empty", what);
	if (st == NUM_OVERFLOW)
		return gm_fail(err, EINVAL, "%s %s is past 2^64-1", what, show);
	return gm_fail(err, EINVAL, "bad %s %s: expected 0x hex or decimal%s",
		       what, show, suffix ? ", may end in k, m or g" : "");
}

int gm_parse_u64(const char *text, bool suffix, uint64_t *value,
		 struct gm_error *err)
{
	size_t len = text ? strlen(text) : 0;
	enum num_status st =
	    len ? parse_num(text, len, suffix, value) : NUM_BAD;

	if (st != NUM_OK)
		return num_fail(text, len, "number", suffix, st, err);
	return 0;
}

int gm_arg_u64(const struct gm_token *t, const char *what, bool suffix,
	       uint64_t *value, struct gm_error *err)
{
	enum num_status st = parse_num(t->s, t->len, suffix, value);

	if (st != NUM_OK)
		return num_fail(t->s, t->len, what, suffix, st, err);
	return 0;
}

/* A leading '-' and the magnitude after it; *NEG false without one. */
static int arg_magnitude(const struct gm_token *t, const char *what,
			 uint64_t *mag, bool *neg, struct gm_error *err)
{
	size_t skip = t->len > 0 && t->s[0] == '-';
	enum num_status st = parse_num(t->s + skip, t->len - skip, false, mag);

	*neg = skip;
	if (st != NUM_OK)
		return num_fail(t->s, t->len, what, false, st, err);
	if (*neg && *mag == 0)
		*neg = false;
	return 0;
}

int gm_arg_i64(const struct gm_token *t, const char *what, int64_t *value,
	       struct gm_error *err)
{
	char show[GM_SHOW_MAX];
	uint64_t mag;
	bool neg;
	int rc = arg_magnitude(t, what, &mag, &neg, err);

	if (rc < 0)
		return rc;
	if (mag > (neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX))
		return gm_fail(err, EINVAL, "%s %s is past %s2^63%s", what,
			       gm_token_show(t, show), neg ? "-" : "",
			       neg ? "" : "-1");
	*value = neg ? (int64_t)(0 - mag) : (int64_t)mag;
	return 0;
}

int gm_arg_value(const struct gm_token *t, const char *what, unsigned bits,
		 uint64_t *value, bool *negative, struct gm_error *err)
{
	uint64_t mag,
	    mask = bits >= 64 ? UINT64_MAX : (UINT64_C(1) << bits) - 1;
	bool neg;
	int rc = arg_magnitude(t, what, &mag, &neg, err);

	if (rc < 0)
		return rc;
	if (neg && mag > UINT64_C(1) << (bits - 1))
		return gm_fail(err, ERANGE,
			       "%s -0x%" PRIx64 " does not fit in %u bits",
			       what, mag, bits);
	*value = neg ? (0 - mag) & mask : mag;
	*negative = neg;
	return 0;
}

int gm_arg_bool(const struct gm_token *t, const char *what, bool *value,
		struct gm_error *err)
{
	char show[GM_SHOW_MAX];

	if (t->len == 4 && memcmp(t->s, "true", 4) == 0)
		*value = true;
	else if (t->len == 5 && memcmp(t->s, "false", 5) == 0)
		*value = false;
	else
		return gm_fail(err, EINVAL, "%s must be true or false, not %s",
			       what, gm_token_show(t, show));
	return 0;
}

int gm_arg_perms(const struct gm_token *t, unsigned *perms,
		 struct gm_error *err)
{
	char show[GM_SHOW_MAX];

	if (t->len != 3 || memchr(t->s, '\0', 3) ||
	    gm_perms_parse(t->s, perms, NULL) < 0)
		return gm_fail(err, EINVAL,
			       "bad PERMS %s: three letters rwx with - for an "
			       "absent one, as r-x",
			       gm_token_show(t, show));
	return 0;
}

int gm_arg_hex(struct gm_token *t, const char *what, uint8_t **bytes,
	       size_t *len, struct gm_error *err)
{
	char show[GM_SHOW_MAX];
	size_t n = t->len;

	if (n == 0)
		return gm_fail(err, EINVAL, "%s is empty", what);
	for (size_t i = 0; i < n; i++)
		if (digit_value(t->s[i], 16) < 0)
			return gm_fail(err, EINVAL,
				       "%s %s is not hex digits (byte %zu)",
				       what, gm_token_show(t, show), i + 1);
	if (n % 2)
		return gm_fail(err, EINVAL,
			       "%s %s has an odd number of hex digits", what,
			       gm_token_show(t, show));
	for (size_t i = 0; i < n / 2; i++)
		t->s[i] = (char)(digit_value(t->s[2 * i], 16) << 4 |
				 digit_value(t->s[2 * i + 1], 16));
	*bytes = (uint8_t *)t->s;
	*len = n / 2;
	return 0;
}

int gm_arg_cstr(const struct gm_token *t, const char *what,
		struct gm_error *err)
{
	char show[GM_SHOW_MAX];

	if (memchr(t->s, '\0', t->len))
		return gm_fail(err, EINVAL, "%s %s holds a NUL byte", what,
			       gm_token_show(t, show));
	return 0;
}

void gm_answer_u64(struct gm_text *out, uint64_t v)
{
	gm_text_printf(out, "0x%" PRIx64 "\n", v);
}

void gm_answer_signed(struct gm_text *out, uint64_t v)
{
	if ((int64_t)v < 0)
		gm_text_printf(out, "-0x%" PRIx64 "\n", 0 - v);
	else
		gm_answer_u64(out, v);
}

void gm_answer_bool(struct gm_text *out, bool v)
{
	gm_text_add(out, v ? "true\n" : "false\n", v ? 5 : 6);
}

int gm_arg_range(const struct gm_args *a, uint64_t *addr, uint64_t *size,
		 struct gm_error *err)
{
	int rc = gm_arg_u64(a->pos[0], "ADDR", false, addr, err);

	return rc < 0 ? rc : gm_arg_u64(a->pos[1], "SIZE", true, size, err);
}

int gm_arg_window(const struct gm_args *a, const char *lo_key,
		  const char *hi_key, struct gm_window *win,
		  struct gm_error *err)
{
	struct gm_token v;
	int rc = 0;

	win->lo = 0;
	win->hi = 0;
	win->hi_set = false;
	if (gm_arg_key(a, lo_key, &v))
		rc = gm_arg_u64(&v, lo_key, false, &win->lo, err);
	if (rc == 0 && gm_arg_key(a, hi_key, &v)) {
		rc = gm_arg_u64(&v, hi_key, false, &win->hi, err);
		win->hi_set = true;
	}
	return rc;
}
