/*
 * The stack verbs, as Qiling's ql.stack_push/pop/read/write: `stack push
 * VALUE` and its alias `stack_push VALUE`, and so on. A negative VALUE is
 * its two's complement in the pointer size.
 */
#include "stack.h"
#include "cmd-priv.h"
#include "guest.h"

/* VALUE in the guest's pointer size. */
static int stack_value(struct gm_cmd_ctx *c, const struct gm_token *t,
		       uint64_t *value, struct gm_error *err)
{
	bool negative;

	return gm_arg_value(t, "VALUE", 8 * gm_guest_arch(c->g)->pointer_size,
			    value, &negative, err);
}

static int exec_push(struct gm_cmd_ctx *c, struct gm_args *a,
		     struct gm_text *out, struct gm_error *err)
{
	uint64_t value, sp;
	int rc;

	rc = stack_value(c, a->pos[0], &value, err);
	if (rc == 0)
		rc = gm_stack_push(c->g, value, &sp, err);
	if (rc == 0)
		gm_answer_u64(out, sp);
	return rc;
}

const struct gm_cmd gm_cmd_stack_push = {
    .name = "stack push",
    .alias = "stack_push",
    .usage = "stack push VALUE (or: stack_push VALUE)",
    .min_args = 1,
    .max_args = 1,
    .exec = exec_push,
};

static int exec_pop(struct gm_cmd_ctx *c, struct gm_args *a,
		    struct gm_text *out, struct gm_error *err)
{
	uint64_t value;
	int rc;

	(void)a;
	rc = gm_stack_pop(c->g, &value, err);
	if (rc == 0)
		gm_answer_u64(out, value);
	return rc;
}

const struct gm_cmd gm_cmd_stack_pop = {
    .name = "stack pop",
    .alias = "stack_pop",
    .usage = "stack pop (or: stack_pop)",
    .min_args = 0,
    .max_args = 0,
    .exec = exec_pop,
};

static int exec_read(struct gm_cmd_ctx *c, struct gm_args *a,
		     struct gm_text *out, struct gm_error *err)
{
	uint64_t value;
	int64_t offset;
	int rc;

	rc = gm_arg_i64(a->pos[0], "OFFSET", &offset, err);
	if (rc == 0)
		rc = gm_stack_read(c->g, offset, &value, err);
	if (rc == 0)
		gm_answer_u64(out, value);
	return rc;
}

const struct gm_cmd gm_cmd_stack_read = {
    .name = "stack read",
    .alias = "stack_read",
    .usage = "stack read OFFSET (or: stack_read OFFSET)",
    .min_args = 1,
    .max_args = 1,
    .exec = exec_read,
};

static int exec_write(struct gm_cmd_ctx *c, struct gm_args *a,
		      struct gm_text *out, struct gm_error *err)
{
	uint64_t value;
	int64_t offset;
	int rc;

	(void)out;
	rc = gm_arg_i64(a->pos[0], "OFFSET", &offset, err);
	if (rc == 0)
		rc = stack_value(c, a->pos[1], &value, err);
	return rc < 0 ? rc : gm_stack_write(c->g, offset, value, err);
}

const struct gm_cmd gm_cmd_stack_write = {
    .name = "stack write",
    .alias = "stack_write",
    .usage = "stack write OFFSET VALUE (or: stack_write OFFSET VALUE)",
    .min_args = 2,
    .max_args = 2,
    .exec = exec_write,
};
