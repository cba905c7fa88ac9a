/*
 * The loading verbs of SPEC §9: load_elf maps an ELF executable, lays out
 * its initial stack and answers its entry point; load_core makes the guest
 * the process of a core dump. The work is core/load.c's.
 */
#include "load.h"
#include "cmd-priv.h"

static const char *const load_elf_keys[] = {"base", NULL};

static int exec_load_elf(struct gm_cmd_ctx *c, struct gm_args *a,
			 struct gm_text *out, struct gm_error *err)
{
	const char *args[GM_TOKENS_MAX];
	struct gm_elf_load opt = {.args = args};
	struct gm_token value;
	uint64_t entry;
	int rc = gm_arg_cstr(a->pos[0], "PATH", err);

	if (rc == 0 && gm_arg_key(a, "base", &value)) {
		opt.base_set = true;
		rc = gm_arg_u64(&value, "base", false, &opt.base, err);
	}
	for (size_t i = 1; i < a->npos && rc == 0; i++) {
		rc = gm_arg_cstr(a->pos[i], "ARG", err);
		args[opt.nargs++] = a->pos[i]->s;
	}
	if (rc == 0)
		rc = gm_load_elf(c->g, a->pos[0]->s, &opt, &entry, err);
	if (rc == 0)
		gm_answer_u64(out, entry);
	return rc;
}

const struct gm_cmd gm_cmd_load_elf = {
    .name = "load_elf",
    .usage = "load_elf PATH [base=ADDR] [ARG...]",
    .keys = load_elf_keys,
    .min_args = 1,
    .max_args = GM_TOKENS_MAX,
    .exec = exec_load_elf,
};

static int exec_load_core(struct gm_cmd_ctx *c, struct gm_args *a,
			  struct gm_text *out, struct gm_error *err)
{
	int rc = gm_arg_cstr(a->pos[0], "PATH", err);

	(void)out;
	return rc < 0 ? rc : gm_load_core(c->g, a->pos[0]->s, err);
}

const struct gm_cmd gm_cmd_load_core = {
    .name = "load_core",
    .usage = "load_core PATH",
    .min_args = 1,
    .max_args = 1,
    .exec = exec_load_core,
};
