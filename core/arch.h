/*
 * The guest architectures gmemfs knows: what Unicorn calls them, their word
 * size, byte order, address space, stack defaults and register names.
 */
#ifndef GM_ARCH_H
#define GM_ARCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A register as `regs/NAME` and snapshots know it. */
struct gm_reg {
	const char *name; /* lowercase, as Unicorn and Qiling name it */
	int uc_id;	  /* UC_<ARCH>_REG_… */
	unsigned bits;	  /* 8, 16, 32 or 64: the width Unicorn reads */
};

struct gm_arch {
	const char *name;      /* "x86_64", "mips", … as --arch takes it */
	int uc_arch;	       /* uc_arch */
	int uc_mode;	       /* uc_mode, endianness included */
	unsigned pointer_size; /* bytes */
	bool big_endian;
	unsigned address_bits; /* 32 or 64 */
	const char *pc_name;   /* register behind the alias "pc" */
	const char *sp_name;   /* register behind the alias "sp" */
	uint64_t stack_addr;   /* Qiling's Linux default stack */
	uint64_t stack_size;
	/* Registers in restore order (flags and mode first, so that writing
	 * them does not bank or clobber the others); every one is saved. */
	const struct gm_reg *regs;
	size_t nregs;
};

/* The architecture called NAME, or NULL. */
const struct gm_arch *gm_arch_find(const char *name);

/* The Ith architecture in the order `--help` lists them, or NULL past the
 * end. */
const struct gm_arch *gm_arch_at(size_t i);

/* The register called NAME on ARCH, the aliases "pc" and "sp" included,
 * or NULL. */
const struct gm_reg *gm_arch_reg(const struct gm_arch *arch, const char *name);

#endif
