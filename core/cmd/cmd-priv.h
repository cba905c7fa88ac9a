/*
 * The inside of the command language, for core/cmd/ only: tokens, the
 * argument parsers every verb uses, the verb table's entries and the log.
 */
#ifndef GM_CMD_PRIV_H
#define GM_CMD_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "cmd.h"
#include "error.h"
#include "regions.h"
#include "text.h"

/* No verb takes more; a longer line is refused before it is all read. */
#define GM_TOKENS_MAX 16

/* A token as decoded: quotes removed, escapes applied. S is NUL-terminated
 * but may hold NUL bytes of its own (from \x00), so LEN counts. */
struct gm_token {
	char *s;
	size_t len;
	bool quoted;	/* some part of it was in double quotes */
	size_t key_len; /* > 0: s starts with an unquoted KEY=, a keyword */
};

struct gm_line {
	struct gm_token tok[GM_TOKENS_MAX];
	size_t n;
	char *buf; /* the decoded bytes of every token */
};

/* Split LINE (LEN bytes, no '\n') into tokens. -EINVAL for a NUL byte, an
 * unterminated quote, a bad escape or more than GM_TOKENS_MAX tokens. */
int gm_tokenize(const char *line, size_t len, struct gm_line *out,
		struct gm_error *err);
void gm_line_free(struct gm_line *l);

/* A command's arguments after its verb: positional tokens in order and
 * KEY=VALUE keywords. */
struct gm_args {
	const struct gm_cmd *cmd;
	struct gm_token *pos[GM_TOKENS_MAX];
	size_t npos;
	struct gm_token *kv[GM_TOKENS_MAX];
	size_t nkv;
};

typedef int (*gm_cmd_exec_fn)(struct gm_cmd_ctx *c, struct gm_args *a,
			      struct gm_text *out, struct gm_error *err);

/* One verb, as tmux's cmd_entry: NAME (one or two words, "stack push"),
 * ALIAS (NULL, or one or two words), the usage line `help` prints, the
 * keywords it takes (NULL: none, and then "a=b" is a positional token)
 * and how many positional arguments. */
struct gm_cmd {
	const char *name;
	const char *alias;
	const char *usage;
	const char *const *keys;
	unsigned min_args;
	unsigned max_args;
	/* Its failures' messages are stop lines (run, step): the verb adds
	 * its name itself to its other errors (gm_cmd_name_error). */
	bool stop_line_errors;
	gm_cmd_exec_fn exec;
};

/* Prefix ERR's message with "VERB: ", as every message names its verb. */
void gm_cmd_name_error(struct gm_error *err, const char *verb);

struct gm_cmd_ctx {
	struct gm_guest *g;
	char *log[GM_CMD_LOG_LINES]; /* a ring, oldest at log_first */
	size_t log_first;
	size_t log_count;
	/* The log as one stream since the context was made: the offset of
	 * the oldest kept line, its end, and when it last grew. */
	uint64_t log_start, log_end;
	struct timespec log_time;
};

/* Add the log line of command CMD (LEN bytes): its first answer line
 * (ANSWER, LEN bytes, may run on past the line), "ok", or ERR's message
 * when RC < 0. */
void gm_log_result(struct gm_cmd_ctx *c, const char *cmd, size_t len, int rc,
		   const char *answer, size_t answer_len,
		   const struct gm_error *err);
void gm_log_free(struct gm_cmd_ctx *c);

/* The table (cmd.c) and its entries, one family per file. */
extern const struct gm_cmd gm_cmd_map, gm_cmd_map_anywhere, gm_cmd_unmap,
    gm_cmd_unmap_all, gm_cmd_protect;
extern const struct gm_cmd gm_cmd_read, gm_cmd_write, gm_cmd_read_ptr,
    gm_cmd_write_ptr, gm_cmd_string, gm_cmd_search;
extern const struct gm_cmd gm_cmd_find_free_space, gm_cmd_is_available,
    gm_cmd_is_mapped, gm_cmd_show_mapinfo;
extern const struct gm_cmd gm_cmd_save, gm_cmd_restore, gm_cmd_drop;
extern const struct gm_cmd gm_cmd_stack_push, gm_cmd_stack_pop,
    gm_cmd_stack_read, gm_cmd_stack_write;
extern const struct gm_cmd gm_cmd_reg, gm_cmd_help;
extern const struct gm_cmd gm_cmd_load_elf, gm_cmd_load_core;
extern const struct gm_cmd gm_cmd_run_verb, gm_cmd_step, gm_cmd_stop;

const struct gm_cmd *const *gm_cmd_table(size_t *count);

/* Whether T holds exactly the LEN bytes of WORD. */
static inline bool gm_token_is(const struct gm_token *t, const char *word,
			       size_t len)
{
	return t->len == len && memcmp(t->s, word, len) == 0;
}

/* The verb of TABLE (COUNT entries) that the first of the N tokens at TOK
 * name, preferring two words to one (*USED: how many), or NULL. */
const struct gm_cmd *gm_cmd_lookup(const struct gm_cmd *const *table,
				   size_t count, const struct gm_token *tok,
				   size_t n, size_t *used);

/* `help` on TABLE with the N tokens at TOK after it: every usage line, or
 * those of the verb they name (a name, an alias, or the first word of
 * two-word names such as "stack"). -EINVAL when they name none. */
int gm_cmd_help_text(const struct gm_cmd *const *table, size_t count,
		     const struct gm_token *tok, size_t n, struct gm_text *out,
		     struct gm_error *err);

/* Split TOK[0..N) after the verb into A, checking the keywords against
 * CMD's and the number of positional arguments. */
int gm_args_split(const struct gm_cmd *cmd, struct gm_token *tok, size_t n,
		  struct gm_args *a, struct gm_error *err);

/* The keyword KEY's value token (quotes and key stripped), or NULL. */
const struct gm_token *gm_arg_key(const struct gm_args *a, const char *key,
				  struct gm_token *value);

/* Argument parsers: WHAT names the argument in messages ("ADDR"). */
int gm_arg_u64(const struct gm_token *t, const char *what, bool suffix,
	       uint64_t *value, struct gm_error *err);
/* A signed number, "-0x8" or "8", that fits an int64_t. */
int gm_arg_i64(const struct gm_token *t, const char *what, int64_t *value,
	       struct gm_error *err);
/* A value to store in BITS bits: 0..2^64-1, or a negative number whose
 * two's complement in BITS bits it becomes (-ERANGE when it does not fit).
 * *NEGATIVE tells which it was. */
int gm_arg_value(const struct gm_token *t, const char *what, unsigned bits,
		 uint64_t *value, bool *negative, struct gm_error *err);
int gm_arg_bool(const struct gm_token *t, const char *what, bool *value,
		struct gm_error *err);
int gm_arg_perms(const struct gm_token *t, unsigned *perms,
		 struct gm_error *err);
/* Hex digits (an even count, at least two) decoded in place into T's own
 * buffer: *BYTES points there, *LEN bytes. */
int gm_arg_hex(struct gm_token *t, const char *what, uint8_t **bytes,
	       size_t *len, struct gm_error *err);
/* A token that must be text without NUL bytes (names). */
int gm_arg_cstr(const struct gm_token *t, const char *what,
		struct gm_error *err);

/* ADDR and SIZE from the first two positional arguments. */
int gm_arg_range(const struct gm_args *a, uint64_t *addr, uint64_t *size,
		 struct gm_error *err);
/* The window of keywords LO_KEY= and HI_KEY= (absent: everywhere). */
int gm_arg_window(const struct gm_args *a, const char *lo_key,
		  const char *hi_key, struct gm_window *win,
		  struct gm_error *err);

/* T's bytes for a message: escaped, in double quotes, cut to about 40
 * bytes with "...". BUF holds GM_SHOW_MAX bytes. */
#define GM_SHOW_MAX 200
const char *gm_token_show(const struct gm_token *t, char *buf);
const char *gm_bytes_show(const char *s, size_t len, char *buf);

/* Answers: "0x…\n", "-0x…\n" for a negative signed value. */
void gm_answer_u64(struct gm_text *out, uint64_t v);
void gm_answer_signed(struct gm_text *out, uint64_t v);
void gm_answer_bool(struct gm_text *out, bool v);

/* Append LEN bytes with those outside printable ASCII written \xNN and
 * the rest as they are (the log, where \ needs no escape), at most MAX
 * bytes of input, then "…" if there was more. */
void gm_text_add_cut(struct gm_text *t, const char *s, size_t len, size_t max);

/* Room for N more bytes at the end of T, NUL-terminated after them, or
 * NULL (and T failed). */
char *gm_text_extend(struct gm_text *t, size_t n);

#endif
