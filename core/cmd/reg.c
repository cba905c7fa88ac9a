/*
 * The reg verb: read a register, or set it and answer what it now holds.
 * Names are the architecture's (regs.h) plus the aliases pc and sp; a
 * negative VALUE is its two's complement in the register's width.
 */
#include "arch.h"
#include "cmd-priv.h"
#include "guest.h"
#include "regs.h"

#include <errno.h>

static int exec_reg(struct gm_cmd_ctx *c, struct gm_args *a,
		    struct gm_text *out, struct gm_error *err)
{
	const struct gm_token *name = a->pos[0];
	const struct gm_reg *reg;
	char show[GM_SHOW_MAX];
	uint64_t value;
	bool negative;
	int rc;

	rc = gm_arg_cstr(name, "NAME", err);
	/* Registers change under a run: no stale answer (SPEC §8). */
	if (rc == 0 && gm_guest_running(c->g))
		rc = gm_fail(err, EBUSY,
			     "the guest is running: its registers can be "
			     "read when it stops");
	if (rc < 0)
		return rc;
	reg = gm_arch_reg(gm_guest_arch(c->g), name->s);
	if (!reg)
		return gm_fail(err, EINVAL, "no register %s on %s",
			       gm_token_show(name, show),
			       gm_guest_arch(c->g)->name);
	if (a->npos == 2) {
		rc = gm_arg_value(a->pos[1], "VALUE", reg->bits, &value,
				  &negative, err);
		if (rc == 0)
			rc = gm_reg_write(c->g, reg, value, err);
	}
	if (rc == 0)
		rc = gm_reg_read(c->g, reg, &value, err);
	if (rc == 0)
		gm_answer_u64(out, value);
	return rc;
}

const struct gm_cmd gm_cmd_reg = {
    .name = "reg",
    .usage = "reg NAME [VALUE]",
    .min_args = 1,
    .max_args = 2,
    .exec = exec_reg,
};
