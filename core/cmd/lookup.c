/*
 * The parts of the command language that need no guest: finding a verb in
 * a table, splitting its arguments, and `help`. The daemon's table (cmd.c)
 * and gmem's build-time copy of it (tools/gmem-verbs.c) share them, so
 * `gmem help` without a mount answers as `help` on ctl does.
 */
#include "cmd-priv.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* How many tokens of TOK NAME (one or two words) matches: 0, 1 or 2. */
static size_t name_matches(const char *name, const struct gm_token *tok,
			   size_t n)
{
	const char *space;

	if (!name || n == 0)
		return 0;
	space = strchr(name, ' ');
	if (!space)
		return gm_token_is(&tok[0], name, strlen(name));
	if (n < 2 || !gm_token_is(&tok[0], name, (size_t)(space - name)))
		return 0;
	return gm_token_is(&tok[1], space + 1, strlen(space + 1)) ? 2 : 0;
}

const struct gm_cmd *gm_cmd_lookup(const struct gm_cmd *const *table,
				   size_t count, const struct gm_token *tok,
				   size_t n, size_t *used)
{
	const struct gm_cmd *best = NULL;

	*used = 0;
	for (size_t i = 0; i < count; i++) {
		size_t m = name_matches(table[i]->name, tok, n);

		if (m < 1)
			m = name_matches(table[i]->alias, tok, n);
		if (m > *used) {
			best = table[i];
			*used = m;
		}
	}
	return best;
}

/* The Ith argument's name in CMD's usage ("SIZE" of "map ADDR SIZE"). */
static void usage_word(const struct gm_cmd *cmd, size_t i, char *buf,
		       size_t size)
{
	const char *p = cmd->usage;
	size_t skip = i + 1 + (strchr(cmd->name, ' ') != NULL), len;

	while (skip-- > 0 && *p) {
		p += strcspn(p, " ");
		p += strspn(p, " ");
	}
	len = strcspn(p, " ");
	snprintf(buf, size, "%.*s", (int)len, p);
}

static bool key_known(const struct gm_cmd *cmd, const struct gm_token *t)
{
	for (const char *const *k = cmd->keys; *k; k++)
		if (strlen(*k) == t->key_len &&
		    memcmp(t->s, *k, t->key_len) == 0)
			return true;
	return false;
}

int gm_args_split(const struct gm_cmd *cmd, struct gm_token *tok, size_t n,
		  struct gm_args *a, struct gm_error *err)
{
	char show[GM_SHOW_MAX], word[32];

	memset(a, 0, sizeof(*a));
	a->cmd = cmd;
	for (size_t i = 0; i < n; i++) {
		struct gm_token *t = &tok[i];

		if (!cmd->keys || t->key_len == 0) {
			a->pos[a->npos++] = t;
			continue;
		}
		if (!key_known(cmd, t))
			return gm_fail(err, EINVAL,
				       "unknown keyword %s (usage: %s)",
				       gm_token_show(t, show), cmd->usage);
		for (size_t j = 0; j < a->nkv; j++)
			if (a->kv[j]->key_len == t->key_len &&
			    memcmp(a->kv[j]->s, t->s, t->key_len) == 0)
				return gm_fail(err, EINVAL,
					       "keyword %.*s= given twice",
					       (int)t->key_len, t->s);
		a->kv[a->nkv++] = t;
	}
	if (a->npos < cmd->min_args) {
		usage_word(cmd, a->npos, word, sizeof(word));
		return gm_fail(err, EINVAL, "missing %s (usage: %s)", word,
			       cmd->usage);
	}
	if (a->npos > cmd->max_args)
		return gm_fail(
		    err, EINVAL, "too many arguments at %s (usage: %s)",
		    gm_token_show(a->pos[cmd->max_args], show), cmd->usage);
	return 0;
}

const struct gm_token *gm_arg_key(const struct gm_args *a, const char *key,
				  struct gm_token *value)
{
	size_t klen = strlen(key);

	for (size_t i = 0; i < a->nkv; i++) {
		const struct gm_token *t = a->kv[i];

		if (t->key_len == klen && memcmp(t->s, key, klen) == 0) {
			value->s = t->s + klen + 1;
			value->len = t->len - klen - 1;
			value->quoted = t->quoted;
			value->key_len = 0;
			return value;
		}
	}
	return NULL;
}

int gm_cmd_help_text(const struct gm_cmd *const *table, size_t count,
		     const struct gm_token *tok, size_t n, struct gm_text *out,
		     struct gm_error *err)
{
	const struct gm_cmd *cmd;
	size_t used, found = 0;
	char show[GM_SHOW_MAX];

	if (n == 0) {
		for (size_t i = 0; i < count; i++)
			gm_text_printf(out, "%s\n", table[i]->usage);
		return 0;
	}
	cmd = gm_cmd_lookup(table, count, tok, n, &used);
	if (cmd && used == n) {
		gm_text_printf(out, "%s\n", cmd->usage);
		return 0;
	}
	for (size_t i = 0; n == 1 && i < count; i++) {
		const char *name = table[i]->name, *space = strchr(name, ' ');

		if (space && gm_token_is(tok, name, (size_t)(space - name))) {
			gm_text_printf(out, "%s\n", table[i]->usage);
			found++;
		}
	}
	if (found == 0)
		return gm_fail(err, EINVAL, "no verb %s (\"help\" lists them)",
			       gm_token_show(tok, show));
	return 0;
}
