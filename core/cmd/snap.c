/*
 * The snapshot verbs: save, restore and drop (Qiling's mem.save and
 * mem.restore, with the CPU registers). The core checks names.
 */
#include "cmd-priv.h"
#include "snapshot.h"

#include <string.h>

/* The optional NAME argument: NULL when absent. */
static int snap_name(const struct gm_args *a, const char **name,
		     struct gm_error *err)
{
	*name = NULL;
	if (a->npos == 0)
		return 0;
	*name = a->pos[0]->s;
	return gm_arg_cstr(a->pos[0], "NAME", err);
}

static int exec_save(struct gm_cmd_ctx *c, struct gm_args *a,
		     struct gm_text *out, struct gm_error *err)
{
	const char *name, *saved;
	int rc;

	rc = snap_name(a, &name, err);
	if (rc == 0)
		rc = gm_snap_save(c->g, name, &saved, err);
	if (rc == 0)
		gm_text_printf(out, "%s\n", saved);
	return rc;
}

const struct gm_cmd gm_cmd_save = {
    .name = "save",
    .usage = "save [NAME]",
    .min_args = 0,
    .max_args = 1,
    .exec = exec_save,
};

static int exec_restore(struct gm_cmd_ctx *c, struct gm_args *a,
			struct gm_text *out, struct gm_error *err)
{
	const char *name;
	int rc;

	(void)out;
	rc = snap_name(a, &name, err);
	return rc < 0 ? rc : gm_snap_restore(c->g, name, err);
}

const struct gm_cmd gm_cmd_restore = {
    .name = "restore",
    .usage = "restore [NAME]",
    .min_args = 0,
    .max_args = 1,
    .exec = exec_restore,
};

static int exec_drop(struct gm_cmd_ctx *c, struct gm_args *a,
		     struct gm_text *out, struct gm_error *err)
{
	const char *name;
	int rc;

	(void)out;
	rc = snap_name(a, &name, err);
	return rc < 0 ? rc : gm_snap_drop(c->g, name, err);
}

const struct gm_cmd gm_cmd_drop = {
    .name = "drop",
    .usage = "drop NAME",
    .min_args = 1,
    .max_args = 1,
    .exec = exec_drop,
};
