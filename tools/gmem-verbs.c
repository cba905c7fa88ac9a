/*
 * Build-time tool: prints the command table of core/cmd/cmd.c (names,
 * aliases, usage lines, keywords, argument counts; no code) as C source,
 * so gmem answers `help` without a mount or an engine, from the very table
 * the daemon runs. Usage: gmem-verbs OUTPUT.c
 */
#include <stdio.h>

#include "cmd/cmd-priv.h"

/* S as a C string literal, or NULL. */
static void put_string(FILE *f, const char *s)
{
	if (!s) {
		fputs("NULL", f);
		return;
	}
	fputc('"', f);
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch == '"' || ch == '\\')
			fprintf(f, "\\%c", ch);
		else if (ch < 0x20 || ch >= 0x7f)
			fprintf(f, "\\%03o", ch);
		else
			fputc(ch, f);
	}
	fputc('"', f);
}

int main(int argc, char **argv)
{
	const struct gm_cmd *const *table;
	size_t n;
	FILE *f;

	if (argc != 2) {
		fputs("usage: gmem-verbs OUTPUT.c\n", stderr);
		return 2;
	}
	f = fopen(argv[1], "w");
	if (!f) {
		perror(argv[1]);
		return 1;
	}
	table = gm_cmd_table(&n);
	fputs("/* Made by tools/gmem-verbs from core/cmd/cmd.c's table: do not "
	      "edit. */\n#include \"gmem-verbs.h\"\n\n",
	      f);
	for (size_t i = 0; i < n; i++) {
		const struct gm_cmd *c = table[i];

		if (c->keys) {
			fprintf(f, "static const char *const keys%zu[] = {", i);
			for (const char *const *k = c->keys; *k; k++) {
				put_string(f, *k);
				fputs(", ", f);
			}
			fputs("NULL};\n", f);
		}
		fprintf(
		    f, "static const struct gm_cmd verb%zu = {\n\t.name = ", i);
		put_string(f, c->name);
		fputs(",\n\t.alias = ", f);
		put_string(f, c->alias);
		fputs(",\n\t.usage = ", f);
		put_string(f, c->usage);
		if (c->keys)
			fprintf(f, ",\n\t.keys = keys%zu", i);
		fprintf(f, ",\n\t.min_args = %u,\n\t.max_args = %u,\n};\n\n",
			c->min_args, c->max_args);
	}
	fputs("const struct gm_cmd *const gmem_verbs[] = {\n", f);
	for (size_t i = 0; i < n; i++)
		fprintf(f, "\t&verb%zu,\n", i);
	fprintf(f, "};\n\nconst size_t gmem_nverbs = %zu;\n", n);
	if (fclose(f) != 0) {
		perror(argv[1]);
		return 1;
	}
	return 0;
}
