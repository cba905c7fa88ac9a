/*
 * The verbs that run code (SPEC §8): run, step and stop. run and step
 * answer one stop line; a stop whose write fails (fault, invalid, timeout,
 * stopped) fails the command with the stop line as its message.
 */
#include "run.h"
#include "cmd-priv.h"
#include "guest.h"

#include <errno.h>
#include <string.h>

/* DUR: a number with "ms" or "s", into microseconds. */
static int arg_duration(const struct gm_token *t, uint64_t *us,
			struct gm_error *err)
{
	char show[GM_SHOW_MAX], num[32];
	size_t len = t->len, unit;
	uint64_t n, scale;

	if (len > 2 && memcmp(t->s + len - 2, "ms", 2) == 0)
		unit = 2, scale = 1000;
	else if (len > 1 && t->s[len - 1] == 's')
		unit = 1, scale = 1000000;
	else
		return gm_fail(err, EINVAL,
			       "timeout=%s: a duration is a number with ms "
			       "or s (500ms, 2s)",
			       gm_token_show(t, show));
	if (len - unit >= sizeof(num))
		return gm_fail(err, EINVAL, "timeout=%s is too long",
			       gm_token_show(t, show));
	memcpy(num, t->s, len - unit);
	num[len - unit] = '\0';
	if (gm_parse_u64(num, false, &n, err) < 0 || n == 0 ||
	    n > UINT64_MAX / scale)
		return gm_fail(err, EINVAL,
			       "timeout=%s: a duration is a number above 0 "
			       "with ms or s (500ms, 2s)",
			       gm_token_show(t, show));
	*us = n * scale;
	return 0;
}

static int run_opts(const struct gm_args *a, struct gm_run_opts *o,
		    struct gm_error *err)
{
	struct gm_token v;
	int rc = 0;

	memset(o, 0, sizeof(*o));
	if (gm_arg_key(a, "until", &v)) {
		o->has_until = true;
		rc = gm_arg_u64(&v, "until", false, &o->until, err);
	}
	if (rc == 0 && gm_arg_key(a, "begin", &v)) {
		o->has_begin = true;
		rc = gm_arg_u64(&v, "begin", false, &o->begin, err);
	}
	if (rc == 0 && gm_arg_key(a, "count", &v))
		rc = gm_arg_u64(&v, "count", false, &o->count, err);
	if (rc == 0 && gm_arg_key(a, "count", &v) && o->count == 0)
		rc = gm_fail(err, EINVAL, "count must be at least 1");
	if (rc == 0 && gm_arg_key(a, "timeout", &v))
		rc = arg_duration(&v, &o->timeout_us, err);
	return rc;
}

/*
 * Run and answer. The guest lock is released inside gm_run while other
 * threads run commands on the same context: nothing here points into the
 * context across it (A and OUT are this command's own).
 */
static int run_and_answer(struct gm_cmd_ctx *c, const char *verb,
			  const struct gm_run_opts *o, struct gm_text *out,
			  struct gm_error *err)
{
	struct gm_stop stop;
	char line[GM_STOP_LINE_MAX];
	int rc = gm_run(c->g, o, &stop, err);

	if (rc == 0)
		gm_text_printf(out, "%s\n", gm_stop_line(&stop, line));
	else if (stop.reason == GM_STOP_NONE)
		gm_cmd_name_error(err, verb);
	return rc;
}

static int exec_run(struct gm_cmd_ctx *c, struct gm_args *a,
		    struct gm_text *out, struct gm_error *err)
{
	struct gm_run_opts o;
	int rc = run_opts(a, &o, err);

	if (rc < 0) {
		gm_cmd_name_error(err, "run");
		return rc;
	}
	return run_and_answer(c, "run", &o, out, err);
}

static int exec_step(struct gm_cmd_ctx *c, struct gm_args *a,
		     struct gm_text *out, struct gm_error *err)
{
	struct gm_run_opts o = {.count = 1};
	int rc = 0;

	if (a->npos == 1)
		rc = gm_arg_u64(a->pos[0], "N", false, &o.count, err);
	if (rc == 0 && o.count == 0)
		rc = gm_fail(err, EINVAL, "N must be at least 1");
	if (rc < 0) {
		gm_cmd_name_error(err, "step");
		return rc;
	}
	return run_and_answer(c, "step", &o, out, err);
}

static int exec_stop(struct gm_cmd_ctx *c, struct gm_args *a,
		     struct gm_text *out, struct gm_error *err)
{
	(void)a;
	(void)out;
	(void)err;
	gm_guest_stop(c->g);
	return 0;
}

static const char *const run_keys[] = {"until", "count", "timeout", "begin",
				       NULL};

const struct gm_cmd gm_cmd_run_verb = {
    .name = "run",
    .usage = "run [until=ADDR] [count=N] [timeout=DUR] [begin=ADDR]",
    .keys = run_keys,
    .min_args = 0,
    .max_args = 0,
    .stop_line_errors = true,
    .exec = exec_run,
};

const struct gm_cmd gm_cmd_step = {
    .name = "step",
    .usage = "step [N]",
    .min_args = 0,
    .max_args = 1,
    .stop_line_errors = true,
    .exec = exec_step,
};

const struct gm_cmd gm_cmd_stop = {
    .name = "stop",
    .usage = "stop",
    .min_args = 0,
    .max_args = 0,
    .exec = exec_stop,
};
