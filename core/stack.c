/*
 * The guest stack as Qiling's arch.py drives it: pointer-sized values in
 * guest byte order at SP. Each operation checks everything before it
 * writes, so a failure moves neither SP nor memory.
 */
#include "stack.h"
#include "guest-priv.h"
#include "memory.h"
#include "regs.h"

#include <errno.h>

/* SP + OFFSET, or -EFAULT when that leaves the address space. */
static int stack_addr(struct gm_guest *g, int64_t offset, uint64_t *addr,
		      struct gm_error *err)
{
	uint64_t sp = gm_reg_sp(g);
	uint64_t mag = offset < 0 ? 0 - (uint64_t)offset : (uint64_t)offset;

	if (offset < 0 ? mag > sp : mag > g->last_addr - sp)
		return gm_fail(err, EFAULT,
			       "SP 0x%llx %s 0x%llx leaves the address space",
			       (unsigned long long)sp, offset < 0 ? "-" : "+",
			       (unsigned long long)mag);
	*addr = offset < 0 ? sp - mag : sp + mag;
	return 0;
}

int gm_stack_push(struct gm_guest *g, uint64_t value, uint64_t *new_sp,
		  struct gm_error *err)
{
	unsigned n = g->arch->pointer_size;
	uint64_t addr = 0;
	int rc = gm_guest_idle(g, err);

	if (rc < 0)
		return rc;
	if (n < 8 && value >> (8 * n) != 0)
		return gm_fail(err, ERANGE, "0x%llx does not fit in %u bytes",
			       (unsigned long long)value, n);
	rc = stack_addr(g, -(int64_t)n, &addr, err);
	if (rc == 0)
		rc = gm_mem_write_ptr(g, addr, value, n, false, err);
	if (rc == 0)
		rc = gm_reg_set_sp(g, addr, err);
	if (rc == 0 && new_sp)
		*new_sp = addr;
	return rc;
}

int gm_stack_pop(struct gm_guest *g, uint64_t *value, struct gm_error *err)
{
	uint64_t sp = gm_reg_sp(g);
	int rc = gm_guest_idle(g, err);

	if (rc < 0)
		return rc;
	rc = gm_mem_read_ptr(g, sp, 0, false, value, err);
	if (rc < 0)
		return rc;
	/* Popping the last word of the space wraps SP, as the CPU would. */
	return gm_reg_set_sp(g, (sp + g->arch->pointer_size) & g->last_addr,
			     err);
}

int gm_stack_read(struct gm_guest *g, int64_t offset, uint64_t *value,
		  struct gm_error *err)
{
	uint64_t addr = 0;
	int rc = stack_addr(g, offset, &addr, err);

	return rc < 0 ? rc : gm_mem_read_ptr(g, addr, 0, false, value, err);
}

int gm_stack_write(struct gm_guest *g, int64_t offset, uint64_t value,
		   struct gm_error *err)
{
	uint64_t addr = 0;
	int rc = gm_guest_idle(g, err);

	/* SP moves while the guest runs: OFFSET would land anywhere. */
	if (rc == 0)
		rc = stack_addr(g, offset, &addr, err);

	return rc < 0 ? rc : gm_mem_write_ptr(g, addr, value, 0, false, err);
}
