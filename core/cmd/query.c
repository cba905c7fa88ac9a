/*
 * The verbs that ask about the region map without changing it:
 * find_free_space, is_available, is_mapped and show_mapinfo.
 */
#include "cmd-priv.h"
#include "regions.h"

static const char *const window_keys[] = {"min_addr", "max_addr", "alignment",
					  NULL};

static int exec_find_free_space(struct gm_cmd_ctx *c, struct gm_args *a,
				struct gm_text *out, struct gm_error *err)
{
	struct gm_window win;
	struct gm_token v;
	uint64_t size, align = 0, addr;
	int rc;

	rc = gm_arg_u64(a->pos[0], "SIZE", true, &size, err);
	if (rc == 0)
		rc = gm_arg_window(a, "min_addr", "max_addr", &win, err);
	if (rc == 0 && gm_arg_key(a, "alignment", &v))
		rc = gm_arg_u64(&v, "alignment", true, &align, err);
	if (rc == 0)
		rc = gm_find_free_space(c->g, size, &win, align, &addr, err);
	if (rc == 0)
		gm_answer_u64(out, addr);
	return rc;
}

const struct gm_cmd gm_cmd_find_free_space = {
    .name = "find_free_space",
    .usage = "find_free_space SIZE [min_addr=A] [max_addr=B] [alignment=N]",
    .keys = window_keys,
    .min_args = 1,
    .max_args = 1,
    .exec = exec_find_free_space,
};

typedef int (*range_query_fn)(const struct gm_guest *g, uint64_t addr,
			      uint64_t size, bool *answer,
			      struct gm_error *err);

static int range_query(struct gm_cmd_ctx *c, struct gm_args *a,
		       struct gm_text *out, range_query_fn query,
		       struct gm_error *err)
{
	uint64_t addr, size;
	bool answer;
	int rc;

	rc = gm_arg_range(a, &addr, &size, err);
	if (rc == 0)
		rc = query(c->g, addr, size, &answer, err);
	if (rc == 0)
		gm_answer_bool(out, answer);
	return rc;
}

static int exec_is_available(struct gm_cmd_ctx *c, struct gm_args *a,
			     struct gm_text *out, struct gm_error *err)
{
	return range_query(c, a, out, gm_is_available, err);
}

const struct gm_cmd gm_cmd_is_available = {
    .name = "is_available",
    .usage = "is_available ADDR SIZE",
    .min_args = 2,
    .max_args = 2,
    .exec = exec_is_available,
};

static int exec_is_mapped(struct gm_cmd_ctx *c, struct gm_args *a,
			  struct gm_text *out, struct gm_error *err)
{
	return range_query(c, a, out, gm_is_mapped, err);
}

const struct gm_cmd gm_cmd_is_mapped = {
    .name = "is_mapped",
    .usage = "is_mapped ADDR SIZE",
    .min_args = 2,
    .max_args = 2,
    .exec = exec_is_mapped,
};

static int exec_show_mapinfo(struct gm_cmd_ctx *c, struct gm_args *a,
			     struct gm_text *out, struct gm_error *err)
{
	(void)a;
	(void)err;
	return gm_maps_text(c->g, out);
}

const struct gm_cmd gm_cmd_show_mapinfo = {
    .name = "show_mapinfo",
    .usage = "show_mapinfo",
    .min_args = 0,
    .max_args = 0,
    .exec = exec_show_mapinfo,
};
