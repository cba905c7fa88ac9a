/*
 * The log file: the last GM_CMD_LOG_LINES commands with their results, in
 * a ring of lines built once each, so reading the log is a concatenation.
 */
#include "cmd-priv.h"

#include <stdlib.h>
#include <string.h>

#define LOG_CMD_MAX    200 /* bytes of a command kept, then "…" */
#define LOG_ANSWER_MAX 200 /* bytes of its answer's first line */

static void log_push(struct gm_cmd_ctx *c, char *line)
{
	size_t slot;

	if (c->log_count == GM_CMD_LOG_LINES) {
		c->log_start += strlen(c->log[c->log_first]);
		free(c->log[c->log_first]);
		c->log[c->log_first] = NULL;
		c->log_first = (c->log_first + 1) % GM_CMD_LOG_LINES;
		c->log_count--;
	}
	slot = (c->log_first + c->log_count) % GM_CMD_LOG_LINES;
	c->log[slot] = line;
	c->log_count++;
	c->log_end += strlen(line);
	clock_gettime(CLOCK_REALTIME, &c->log_time);
}

void gm_log_result(struct gm_cmd_ctx *c, const char *cmd, size_t len, int rc,
		   const char *answer, size_t answer_len,
		   const struct gm_error *err)
{
	struct gm_text line;
	const char *nl;

	gm_text_init(&line);
	gm_text_add_cut(&line, cmd, len, LOG_CMD_MAX);
	gm_text_add(&line, " -> ", 4);
	if (rc < 0) {
		gm_text_add(&line, "error: ", 7);
		gm_text_add_cut(&line, err->msg, strlen(err->msg),
				LOG_ANSWER_MAX);
	} else if (answer_len > 0) {
		nl = memchr(answer, '\n', answer_len);
		gm_text_add_cut(&line, answer,
				nl ? (size_t)(nl - answer) : answer_len,
				LOG_ANSWER_MAX);
	} else {
		gm_text_add(&line, "ok", 2);
	}
	gm_text_add(&line, "\n", 1);
	if (gm_text_status(&line) < 0) {
		gm_text_free(&line);
		return; /* out of memory: the line is lost, not the command */
	}
	log_push(c, line.buf);
}

void gm_cmd_log_add(struct gm_cmd_ctx *c, const char *what, int result,
		    const struct gm_error *err)
{
	struct gm_error none = {0, "error"};

	if (result < 0 && !err)
		err = &none;
	if (!what)
		what = "";
	gm_log_result(c, what, strlen(what), result, NULL, 0, err);
}

int gm_cmd_log_text(const struct gm_cmd_ctx *c, struct gm_text *out)
{
	for (size_t i = 0; i < c->log_count; i++) {
		const char *line =
		    c->log[(c->log_first + i) % GM_CMD_LOG_LINES];

		gm_text_add(out, line, strlen(line));
	}
	return gm_text_status(out);
}

void gm_cmd_log_span(const struct gm_cmd_ctx *c, uint64_t *start, uint64_t *end,
		     struct timespec *time)
{
	*start = c->log_start;
	*end = c->log_end;
	*time = c->log_time;
}

int gm_cmd_log_read(const struct gm_cmd_ctx *c, uint64_t from, size_t size,
		    struct gm_text *out)
{
	uint64_t at = c->log_start;

	if (from < at)
		from = at;
	for (size_t i = 0; i < c->log_count && size; i++) {
		const char *line =
		    c->log[(c->log_first + i) % GM_CMD_LOG_LINES];
		size_t len = strlen(line), skip, n;

		if (at + len <= from) {
			at += len;
			continue;
		}
		skip = (size_t)(from - at);
		n = len - skip < size ? len - skip : size;
		gm_text_add(out, line + skip, n);
		size -= n;
		from += n;
		at += len;
	}
	return gm_text_status(out);
}

void gm_log_free(struct gm_cmd_ctx *c)
{
	for (size_t i = 0; i < GM_CMD_LOG_LINES; i++) {
		free(c->log[i]);
		c->log[i] = NULL;
	}
	c->log_count = 0;
	c->log_first = 0;
}
