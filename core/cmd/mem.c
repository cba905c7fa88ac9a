/*
 * The verbs on guest bytes: read, write, read_ptr, write_ptr, string and
 * search (Qiling's mem.read … mem.search). Bytes travel as hex digits;
 * long answers are capped so one command cannot fill the daemon's memory.
 */
#include "cmd-priv.h"
#include "guest.h"
#include "memory.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define READ_MAX     (16u << 20) /* bytes one read or string answers */
#define SEARCH_MAX   (1u << 20)	 /* matches one search answers */
#define READ_MAX_STR "16 MiB"

static const char hexdigits[] = "0123456789abcdef";

static int exec_read(struct gm_cmd_ctx *c, struct gm_args *a,
		     struct gm_text *out, struct gm_error *err)
{
	uint64_t addr, size;
	uint8_t *buf;
	char *hex;
	int rc;

	rc = gm_arg_range(a, &addr, &size, err);
	if (rc < 0)
		return rc;
	if (size == 0)
		return gm_fail(err, EINVAL, "empty range at 0x%" PRIx64, addr);
	if (size > READ_MAX)
		return gm_fail(err, EINVAL,
			       "0x%" PRIx64 " bytes is more than one read "
			       "answers (" READ_MAX_STR "): use mem or the "
			       "region files",
			       size);
	buf = malloc(size);
	if (!buf)
		return gm_fail(err, ENOMEM, "out of memory");
	rc = gm_mem_read(c->g, addr, buf, size, err);
	if (rc == 0 && (hex = gm_text_extend(out, 2 * size + 1))) {
		for (size_t i = 0; i < size; i++) {
			hex[2 * i] = hexdigits[buf[i] >> 4];
			hex[2 * i + 1] = hexdigits[buf[i] & 15];
		}
		hex[2 * size] = '\n';
	}
	free(buf);
	return rc;
}

const struct gm_cmd gm_cmd_read = {
    .name = "read",
    .usage = "read ADDR SIZE",
    .min_args = 2,
    .max_args = 2,
    .exec = exec_read,
};

static int exec_write(struct gm_cmd_ctx *c, struct gm_args *a,
		      struct gm_text *out, struct gm_error *err)
{
	uint64_t addr;
	uint8_t *bytes;
	size_t len;
	int rc;

	(void)out;
	rc = gm_arg_u64(a->pos[0], "ADDR", false, &addr, err);
	if (rc == 0)
		rc = gm_arg_hex(a->pos[1], "HEX", &bytes, &len, err);
	return rc < 0 ? rc : gm_mem_write(c->g, addr, bytes, len, err);
}

const struct gm_cmd gm_cmd_write = {
    .name = "write",
    .usage = "write ADDR HEX",
    .min_args = 2,
    .max_args = 2,
    .exec = exec_write,
};

static const char *const ptr_keys[] = {"size", "signed", NULL};

/* size= (1, 2, 4 or 8; 0 when absent: the pointer size) and signed=. */
static int ptr_options(const struct gm_args *a, unsigned *size, bool *is_signed,
		       struct gm_error *err)
{
	char show[GM_SHOW_MAX];
	struct gm_token v;
	uint64_t n = 0;
	int rc = 0;

	*is_signed = false;
	if (gm_arg_key(a, "size", &v)) {
		rc = gm_arg_u64(&v, "size", false, &n, err);
		if (rc == 0 && n != 1 && n != 2 && n != 4 && n != 8)
			return gm_fail(err, EINVAL,
				       "size must be 1, 2, 4 or 8, not %s",
				       gm_token_show(&v, show));
	}
	*size = (unsigned)n;
	if (rc == 0 && gm_arg_key(a, "signed", &v))
		rc = gm_arg_bool(&v, "signed", is_signed, err);
	return rc;
}

static int exec_read_ptr(struct gm_cmd_ctx *c, struct gm_args *a,
			 struct gm_text *out, struct gm_error *err)
{
	uint64_t addr, value;
	unsigned size;
	bool is_signed;
	int rc;

	rc = gm_arg_u64(a->pos[0], "ADDR", false, &addr, err);
	if (rc == 0)
		rc = ptr_options(a, &size, &is_signed, err);
	if (rc == 0)
		rc = gm_mem_read_ptr(c->g, addr, size, is_signed, &value, err);
	if (rc == 0 && is_signed)
		gm_answer_signed(out, value);
	else if (rc == 0)
		gm_answer_u64(out, value);
	return rc;
}

const struct gm_cmd gm_cmd_read_ptr = {
    .name = "read_ptr",
    .usage = "read_ptr ADDR [size=1|2|4|8] [signed=true]",
    .keys = ptr_keys,
    .min_args = 1,
    .max_args = 1,
    .exec = exec_read_ptr,
};

static int exec_write_ptr(struct gm_cmd_ctx *c, struct gm_args *a,
			  struct gm_text *out, struct gm_error *err)
{
	uint64_t addr, value;
	unsigned size;
	bool is_signed, negative;
	int rc;

	(void)out;
	rc = gm_arg_u64(a->pos[0], "ADDR", false, &addr, err);
	if (rc == 0)
		rc = ptr_options(a, &size, &is_signed, err);
	/* A negative VALUE is an int64_t; the core checks it fits SIZE. */
	if (rc == 0)
		rc = gm_arg_value(a->pos[1], "VALUE", 64, &value, &negative,
				  err);
	if (rc == 0)
		rc = gm_mem_write_ptr(c->g, addr, value, size,
				      is_signed || negative, err);
	return rc;
}

const struct gm_cmd gm_cmd_write_ptr = {
    .name = "write_ptr",
    .usage = "write_ptr ADDR VALUE [size=1|2|4|8] [signed=true]",
    .keys = ptr_keys,
    .min_args = 2,
    .max_args = 2,
    .exec = exec_write_ptr,
};

static int exec_string(struct gm_cmd_ctx *c, struct gm_args *a,
		       struct gm_text *out, struct gm_error *err)
{
	uint64_t addr;
	char *text;
	size_t len;
	int rc;

	rc = gm_arg_u64(a->pos[0], "ADDR", false, &addr, err);
	if (rc == 0 && a->npos == 2)
		return gm_mem_string_write(c->g, addr, a->pos[1]->s,
					   a->pos[1]->len, err);
	if (rc == 0)
		rc = gm_mem_string_read(c->g, addr, &text, &len, err);
	if (rc < 0)
		return rc;
	if (len > READ_MAX) {
		rc = gm_fail(err, EINVAL,
			     "the string at 0x%" PRIx64 " is longer than "
			     "one answer holds (" READ_MAX_STR "): use mem",
			     addr);
	} else {
		gm_text_add(out, text, len);
		gm_text_add(out, "\n", 1);
	}
	free(text);
	return rc;
}

const struct gm_cmd gm_cmd_string = {
    .name = "string",
    .usage = "string ADDR [TEXT]",
    .min_args = 1,
    .max_args = 2,
    .exec = exec_string,
};

struct matches {
	struct gm_text *out;
	long count;
};

static int add_match(uint64_t addr, void *ctx)
{
	struct matches *m = ctx;

	if (++m->count > SEARCH_MAX)
		return 1;
	gm_answer_u64(m->out, addr);
	return 0;
}

static const char *const search_keys[] = {"begin", "end", NULL};

static int exec_search(struct gm_cmd_ctx *c, struct gm_args *a,
		       struct gm_text *out, struct gm_error *err)
{
	struct gm_token *pat = a->pos[0];
	struct matches m = {out, 0};
	struct gm_window win;
	uint8_t *bytes = (uint8_t *)pat->s;
	size_t len = pat->len;
	long found;
	int rc;

	rc = gm_arg_window(a, "begin", "end", &win, err);
	/* Quoted, PATTERN is a string; else hex bytes. */
	if (rc == 0 && !pat->quoted)
		rc = gm_arg_hex(pat, "PATTERN", &bytes, &len, err);
	if (rc < 0)
		return rc;
	found = gm_mem_search(c->g, bytes, len, &win, add_match, &m, err);
	if (found < 0)
		return (int)found;
	if (m.count > SEARCH_MAX)
		return gm_fail(err, ENOSPC,
			       "more than %u matches: narrow the search with "
			       "begin= and end=",
			       SEARCH_MAX);
	return 0;
}

const struct gm_cmd gm_cmd_search = {
    .name = "search",
    .usage = "search PATTERN [begin=A] [end=B]",
    .keys = search_keys,
    .min_args = 1,
    .max_args = 1,
    .exec = exec_search,
};
