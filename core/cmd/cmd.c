/*
 * The command table and the loop that runs lines through it, as tmux's
 * cmd.c: each verb is one const struct gm_cmd in its family's file; here
 * a line is tokenized, its verb looked up, its arguments split and checked,
 * and its result answered and logged.
 */
#include "cmd-priv.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct gm_cmd *const table[] = {
    &gm_cmd_map,	  &gm_cmd_map_anywhere, &gm_cmd_unmap,
    &gm_cmd_unmap_all,	  &gm_cmd_protect,	&gm_cmd_read,
    &gm_cmd_write,	  &gm_cmd_read_ptr,	&gm_cmd_write_ptr,
    &gm_cmd_string,	  &gm_cmd_search,	&gm_cmd_find_free_space,
    &gm_cmd_is_available, &gm_cmd_is_mapped,	&gm_cmd_show_mapinfo,
    &gm_cmd_save,	  &gm_cmd_restore,	&gm_cmd_drop,
    &gm_cmd_stack_push,	  &gm_cmd_stack_pop,	&gm_cmd_stack_read,
    &gm_cmd_stack_write,  &gm_cmd_reg,		&gm_cmd_run_verb,
    &gm_cmd_step,	  &gm_cmd_stop,		&gm_cmd_load_elf,
    &gm_cmd_load_core,	  &gm_cmd_help,
};

#define NCMDS (sizeof(table) / sizeof(table[0]))

const struct gm_cmd *const *gm_cmd_table(size_t *count)
{
	*count = NCMDS;
	return table;
}

struct gm_cmd_ctx *gm_cmd_ctx_new(struct gm_guest *g)
{
	struct gm_cmd_ctx *c = calloc(1, sizeof(*c));

	if (c)
		c->g = g;
	return c;
}

void gm_cmd_ctx_free(struct gm_cmd_ctx *c)
{
	if (!c)
		return;
	gm_log_free(c);
	free(c);
}

/* The error for a first word that names no verb: a family such as
 * "stack" lists its second words. */
static int cmd_unknown(const struct gm_token *tok, size_t n,
		       struct gm_error *err)
{
	char show[GM_SHOW_MAX], subs[128] = "";
	size_t len = 0;

	for (size_t i = 0; i < NCMDS; i++) {
		const char *name = table[i]->name, *space = strchr(name, ' ');

		if (space && gm_token_is(&tok[0], name, (size_t)(space - name)))
			len += (size_t)snprintf(subs + len, sizeof(subs) - len,
						"%s%s", len ? ", " : "",
						space + 1);
		if (len >= sizeof(subs))
			len = sizeof(subs) - 1;
	}
	if (len > 0 && n > 1)
		return gm_fail(err, EINVAL, "%.*s: %s is not one of %s",
			       (int)tok[0].len, tok[0].s,
			       gm_token_show(&tok[1], show), subs);
	if (len > 0)
		return gm_fail(err, EINVAL, "%.*s: expected one of %s",
			       (int)tok[0].len, tok[0].s, subs);
	return gm_fail(err, EINVAL,
		       "unknown verb %s (\"help\" lists the verbs)",
		       gm_token_show(&tok[0], show));
}

/* help [VERB]: every usage line, or those of VERB. */
static int exec_help(struct gm_cmd_ctx *c, struct gm_args *a,
		     struct gm_text *out, struct gm_error *err)
{
	(void)c;
	/* help takes no keywords: its arguments are the tokens in order. */
	return gm_cmd_help_text(table, NCMDS, a->npos ? a->pos[0] : NULL,
				a->npos, out, err);
}

const struct gm_cmd gm_cmd_help = {
    .name = "help",
    .usage = "help [VERB]",
    .min_args = 0,
    .max_args = 2,
    .exec = exec_help,
};

/* Prefix ERR's message with the verb's name, as every message names it. */
static void name_error(struct gm_error *err, const char *name, size_t len)
{
	size_t msg_len = strlen(err->msg), pre = len + 2;

	if (len == 0 || pre >= GM_ERROR_MAX ||
	    (strncmp(err->msg, name, len) == 0 &&
	     strncmp(err->msg + len, ": ", 2) == 0))
		return;
	if (msg_len > GM_ERROR_MAX - 1 - pre)
		msg_len = GM_ERROR_MAX - 1 - pre;
	memmove(err->msg + pre, err->msg, msg_len);
	memcpy(err->msg, name, len);
	memcpy(err->msg + len, ": ", 2);
	err->msg[pre + msg_len] = '\0';
}

void gm_cmd_name_error(struct gm_error *err, const char *verb)
{
	name_error(err, verb, strlen(verb));
}

/* Rewrite bytes of ERR's message outside printable ASCII as \xNN (a core
 * message may quote a name), so the answer's error stays one line. */
static void clean_error(struct gm_error *err)
{
	struct gm_text t;
	size_t len = strlen(err->msg);

	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)err->msg[i];

		if (ch < 0x20 || ch >= 0x7f)
			break;
		if (i + 1 == len)
			return;
	}
	gm_text_init(&t);
	gm_text_add_cut(&t, err->msg, len, len);
	if (gm_text_status(&t) == 0 && t.buf)
		snprintf(err->msg, sizeof(err->msg), "%s", t.buf);
	gm_text_free(&t);
}

/* The verb word at the start of a line that did not tokenize, when it is
 * one, so that even a syntax error names its verb. */
static size_t raw_verb(const char *line, size_t len)
{
	size_t n = 0;

	while (n < len && line[n] != ' ' && line[n] != '\t' && line[n] != '"')
		n++;
	if (n == len || line[n] == '"')
		return 0;
	for (size_t i = 0; i < NCMDS; i++) {
		const char *name = table[i]->name;
		size_t w = strcspn(name, " ");

		if (w == n && memcmp(line, name, n) == 0)
			return n;
	}
	return 0;
}

/* Tokenize and run one command line, its answer appended to OUT. */
static int run_tokens(struct gm_cmd_ctx *c, const char *line, size_t len,
		      struct gm_text *out, struct gm_error *err)
{
	struct gm_line toks;
	const struct gm_cmd *cmd = NULL;
	struct gm_args args;
	size_t used = 0;
	int rc;

	rc = gm_tokenize(line, len, &toks, err);
	if (rc < 0) {
		name_error(err, line, raw_verb(line, len));
		goto out;
	}
	if (toks.n == 0) {
		rc = gm_fail(err, EINVAL, "empty command");
		goto out;
	}
	cmd = gm_cmd_lookup(table, NCMDS, toks.tok, toks.n, &used);
	if (!cmd) {
		rc = cmd_unknown(toks.tok, toks.n, err);
		goto out;
	}
	rc = gm_args_split(cmd, toks.tok + used, toks.n - used, &args, err);
	if (rc < 0) {
		name_error(err, cmd->name, strlen(cmd->name));
		goto out;
	}
	rc = cmd->exec(c, &args, out, err);
	if (rc < 0 && !cmd->stop_line_errors)
		name_error(err, cmd->name, strlen(cmd->name));
out:
	gm_line_free(&toks);
	return rc;
}

/* Run LINE (with VERB before it for a bound control file), answer into
 * OUT, log it. */
static int run_line(struct gm_cmd_ctx *c, const char *verb, const char *line,
		    size_t len, struct gm_text *out, struct gm_error *err)
{
	size_t start = out->len, vlen = verb ? strlen(verb) : 0;
	char *bound = NULL;
	int rc;

	if (verb) {
		bound = malloc(vlen + 1 + len);
		if (!bound)
			return gm_fail(err, ENOMEM, "out of memory");
		memcpy(bound, verb, vlen);
		bound[vlen] = ' ';
		if (len > 0)
			memcpy(bound + vlen + 1, line, len);
		line = bound;
		len += vlen + 1;
	}
	memset(err, 0, sizeof(*err));
	rc = run_tokens(c, line, len, out, err);
	if (rc == 0 && gm_text_status(out) < 0)
		rc = gm_fail(err, ENOMEM, "out of memory for the answer");
	if (rc < 0) {
		clean_error(err);
		/* The failing command answers nothing but its error. */
		out->len = start;
		out->failed = false;
		if (out->buf)
			out->buf[start] = '\0';
	}
	/* A bound file's empty line logs as the verb alone. */
	gm_log_result(c, line, verb && len == vlen + 1 ? vlen : len, rc,
		      out->buf ? out->buf + start : "", out->len - start, err);
	if (rc < 0) {
		gm_text_printf(out, "error: %s\n", err->msg);
	}
	free(bound);
	return rc;
}

/* A ctl line with nothing to run: blank, or a comment. */
static bool line_is_empty(const char *line, size_t len)
{
	size_t i = 0;

	while (i < len && (line[i] == ' ' || line[i] == '\t'))
		i++;
	return i == len || line[i] == '#';
}

int gm_cmd_run(struct gm_cmd_ctx *c, const char *verb, const char *text,
	       size_t len, struct gm_text *out, struct gm_error *err)
{
	struct gm_error local;
	size_t pos = 0;

	if (!err)
		err = &local;
	memset(err, 0, sizeof(*err));
	while (pos < len) {
		const char *line = text + pos;
		const char *nl = memchr(line, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - line) : len - pos;
		int rc;

		pos += n + (nl != NULL);
		if (!verb && line_is_empty(line, n))
			continue;
		rc = run_line(c, verb, line, n, out, err);
		if (rc < 0)
			return rc;
	}
	return 0;
}
