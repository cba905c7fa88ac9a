/*
 * The verbs that change the region map: map, map_anywhere, unmap,
 * unmap_all and protect (Qiling's mem.map, map_anywhere, unmap, unmap_all,
 * protect). Each parses every argument before it calls the core once.
 */
#include "cmd-priv.h"
#include "regions.h"

static const char *const window_keys[] = {"min_addr", "max_addr", "alignment",
					  NULL};

/* [PERMS] [LABEL] from positional arguments FIRST and FIRST+1; the label
 * may hold any bytes. */
static int perms_label(const struct gm_args *a, size_t first, unsigned *perms,
		       const char **label, size_t *label_len,
		       struct gm_error *err)
{
	*perms = GM_PERM_ALL;
	*label = NULL;
	*label_len = 0;
	if (a->npos > first + 1) {
		*label = a->pos[first + 1]->s;
		*label_len = a->pos[first + 1]->len;
	}
	return a->npos > first ? gm_arg_perms(a->pos[first], perms, err) : 0;
}

static int exec_map(struct gm_cmd_ctx *c, struct gm_args *a,
		    struct gm_text *out, struct gm_error *err)
{
	uint64_t addr, size;
	unsigned perms;
	const char *label;
	size_t label_len;
	int rc;

	(void)out;
	rc = gm_arg_range(a, &addr, &size, err);
	if (rc == 0)
		rc = perms_label(a, 2, &perms, &label, &label_len, err);
	if (rc == 0)
		rc = gm_map(c->g, addr, size, perms, label, label_len, err);
	return rc;
}

const struct gm_cmd gm_cmd_map = {
    .name = "map",
    .usage = "map ADDR SIZE [PERMS] [LABEL]",
    .min_args = 2,
    .max_args = 4,
    .exec = exec_map,
};

static int exec_map_anywhere(struct gm_cmd_ctx *c, struct gm_args *a,
			     struct gm_text *out, struct gm_error *err)
{
	struct gm_window win;
	struct gm_token v;
	uint64_t size, align = 0, addr;
	unsigned perms;
	const char *label;
	size_t label_len;
	int rc;

	rc = gm_arg_u64(a->pos[0], "SIZE", true, &size, err);
	if (rc == 0)
		rc = perms_label(a, 1, &perms, &label, &label_len, err);
	if (rc == 0)
		rc = gm_arg_window(a, "min_addr", "max_addr", &win, err);
	if (rc == 0 && gm_arg_key(a, "alignment", &v))
		rc = gm_arg_u64(&v, "alignment", true, &align, err);
	if (rc == 0)
		rc = gm_map_anywhere(c->g, size, perms, label, label_len, &win,
				     align, &addr, err);
	if (rc == 0)
		gm_answer_u64(out, addr);
	return rc;
}

const struct gm_cmd gm_cmd_map_anywhere = {
    .name = "map_anywhere",
    .usage = "map_anywhere SIZE [PERMS] [LABEL] [min_addr=A] [max_addr=B] "
	     "[alignment=N]",
    .keys = window_keys,
    .min_args = 1,
    .max_args = 3,
    .exec = exec_map_anywhere,
};

static int exec_unmap(struct gm_cmd_ctx *c, struct gm_args *a,
		      struct gm_text *out, struct gm_error *err)
{
	uint64_t addr, size;
	int rc;

	(void)out;
	rc = gm_arg_range(a, &addr, &size, err);
	return rc < 0 ? rc : gm_unmap(c->g, addr, size, err);
}

const struct gm_cmd gm_cmd_unmap = {
    .name = "unmap",
    .usage = "unmap ADDR SIZE",
    .min_args = 2,
    .max_args = 2,
    .exec = exec_unmap,
};

static int exec_unmap_all(struct gm_cmd_ctx *c, struct gm_args *a,
			  struct gm_text *out, struct gm_error *err)
{
	(void)a;
	(void)out;
	return gm_unmap_all(c->g, err);
}

const struct gm_cmd gm_cmd_unmap_all = {
    .name = "unmap_all",
    .alias = "unmap all",
    .usage = "unmap_all (or: unmap all)",
    .min_args = 0,
    .max_args = 0,
    .exec = exec_unmap_all,
};

static int exec_protect(struct gm_cmd_ctx *c, struct gm_args *a,
			struct gm_text *out, struct gm_error *err)
{
	uint64_t addr, size;
	unsigned perms;
	int rc;

	(void)out;
	rc = gm_arg_range(a, &addr, &size, err);
	if (rc == 0)
		rc = gm_arg_perms(a->pos[2], &perms, err);
	return rc < 0 ? rc : gm_protect(c->g, addr, size, perms, err);
}

const struct gm_cmd gm_cmd_protect = {
    .name = "protect",
    .usage = "protect ADDR SIZE PERMS",
    .min_args = 3,
    .max_args = 3,
    .exec = exec_protect,
};
