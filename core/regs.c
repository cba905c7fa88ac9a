/*
 * Register access by table entry. Unicorn reads and writes only as many
 * bytes as a register is wide, so values pass through a variable of that
 * width rather than a uint64_t that would be half-written.
 */
#include "regs.h"
#include "guest-priv.h"

#include <errno.h>

int gm_reg_read(struct gm_guest *g, const struct gm_reg *reg, uint64_t *value,
		struct gm_error *err)
{
	uint8_t v8 = 0;
	uint16_t v16 = 0;
	uint32_t v32 = 0;
	uint64_t v64 = 0;
	void *p = reg->bits == 8    ? (void *)&v8
		  : reg->bits == 16 ? (void *)&v16
		  : reg->bits == 32 ? (void *)&v32
				    : (void *)&v64;
	uc_err e;

	/* The engine is the run's while it runs: answer what it began
	 * with (gm_guest_running). */
	if (g->running) {
		*value = g->known_regs[reg - g->arch->regs];
		return 0;
	}
	e = uc_reg_read(g->uc, reg->uc_id, p);
	if (e != UC_ERR_OK)
		return gm_uc_fail(err, e, reg->name);
	*value = reg->bits == 8	   ? v8
		 : reg->bits == 16 ? v16
		 : reg->bits == 32 ? v32
				   : v64;
	return 0;
}

int gm_reg_write(struct gm_guest *g, const struct gm_reg *reg, uint64_t value,
		 struct gm_error *err)
{
	uint8_t v8 = (uint8_t)value;
	uint16_t v16 = (uint16_t)value;
	uint32_t v32 = (uint32_t)value;
	uint64_t v64 = value;
	void *p = reg->bits == 8    ? (void *)&v8
		  : reg->bits == 16 ? (void *)&v16
		  : reg->bits == 32 ? (void *)&v32
				    : (void *)&v64;
	uc_err e;
	int rc = gm_guest_idle(g, err);

	if (rc < 0)
		return rc;
	if (reg->bits < 64 && value >> reg->bits != 0)
		return gm_fail(err, ERANGE,
			       "0x%llx does not fit the %u-bit register %s",
			       (unsigned long long)value, reg->bits, reg->name);
	e = uc_reg_write(g->uc, reg->uc_id, p);
	if (e != UC_ERR_OK)
		return gm_uc_fail(err, e, reg->name);
	return 0;
}

static uint64_t reg_value(struct gm_guest *g, const char *name)
{
	uint64_t v = 0;

	gm_reg_read(g, gm_arch_reg(g->arch, name), &v, NULL);
	return v;
}

uint64_t gm_reg_pc(struct gm_guest *g)
{
	return reg_value(g, "pc");
}

uint64_t gm_reg_sp(struct gm_guest *g)
{
	return reg_value(g, "sp");
}

int gm_reg_set_sp(struct gm_guest *g, uint64_t value, struct gm_error *err)
{
	return gm_reg_write(g, gm_arch_reg(g->arch, "sp"), value, err);
}
