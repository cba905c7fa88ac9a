/*
 * The table of guest architectures: how Unicorn opens each one, its word
 * size, byte order, Qiling's default stack and the registers users may read.
 */
#include "arch.h"

#include <string.h>
#include <unicorn/unicorn.h>

#define NELEMS(t) (sizeof(t) / sizeof((t)[0]))

/* Qiling's Linux stack defaults (profiles/linux.ql). */
#define STACK64_ADDR 0x7ffffffde000ULL
#define STACK64_SIZE 0x21000ULL
#define STACK32_ADDR 0x7ff0d000ULL
#define STACK32_SIZE 0x30000ULL

/*
 * Widths are those Unicorn 2.0.1 copies in reg_read/reg_write (measured):
 * segment selectors are 16 bits in both x86 modes. Flags come first.
 *
 * No "ss" on x86: a fresh 32-bit engine holds the null selector in SS and
 * refuses to load it back (UC_ERR_EXCEPTION), so no snapshot could restore.
 */
static const struct gm_reg x86_regs[] = {
    {"eflags", UC_X86_REG_EFLAGS, 32}, {"eax", UC_X86_REG_EAX, 32},
    {"ebx", UC_X86_REG_EBX, 32},       {"ecx", UC_X86_REG_ECX, 32},
    {"edx", UC_X86_REG_EDX, 32},       {"esi", UC_X86_REG_ESI, 32},
    {"edi", UC_X86_REG_EDI, 32},       {"ebp", UC_X86_REG_EBP, 32},
    {"esp", UC_X86_REG_ESP, 32},       {"eip", UC_X86_REG_EIP, 32},
    {"cs", UC_X86_REG_CS, 16},	       {"ds", UC_X86_REG_DS, 16},
    {"es", UC_X86_REG_ES, 16},	       {"fs", UC_X86_REG_FS, 16},
    {"gs", UC_X86_REG_GS, 16},
};

/*
 * "eflags" is UC_X86_REG_EFLAGS, 32 bits: RFLAGS reads 64 but drops any
 * upper bit written, so a 64-bit entry would accept values it then loses;
 * at 32 bits such writes are refused with ERANGE. fs_base and gs_base
 * follow fs and gs because loading a selector resets its base.
 */
static const struct gm_reg x86_64_regs[] = {
    {"eflags", UC_X86_REG_EFLAGS, 32},	 {"rax", UC_X86_REG_RAX, 64},
    {"rbx", UC_X86_REG_RBX, 64},	 {"rcx", UC_X86_REG_RCX, 64},
    {"rdx", UC_X86_REG_RDX, 64},	 {"rsi", UC_X86_REG_RSI, 64},
    {"rdi", UC_X86_REG_RDI, 64},	 {"rbp", UC_X86_REG_RBP, 64},
    {"rsp", UC_X86_REG_RSP, 64},	 {"r8", UC_X86_REG_R8, 64},
    {"r9", UC_X86_REG_R9, 64},		 {"r10", UC_X86_REG_R10, 64},
    {"r11", UC_X86_REG_R11, 64},	 {"r12", UC_X86_REG_R12, 64},
    {"r13", UC_X86_REG_R13, 64},	 {"r14", UC_X86_REG_R14, 64},
    {"r15", UC_X86_REG_R15, 64},	 {"rip", UC_X86_REG_RIP, 64},
    {"cs", UC_X86_REG_CS, 16},		 {"ss", UC_X86_REG_SS, 16},
    {"ds", UC_X86_REG_DS, 16},		 {"es", UC_X86_REG_ES, 16},
    {"fs", UC_X86_REG_FS, 16},		 {"gs", UC_X86_REG_GS, 16},
    {"fs_base", UC_X86_REG_FS_BASE, 64}, {"gs_base", UC_X86_REG_GS_BASE, 64},
};

/* CPSR first: writing it switches the mode and banks sp and lr. */
static const struct gm_reg arm_regs[] = {
    {"cpsr", UC_ARM_REG_CPSR, 32}, {"r0", UC_ARM_REG_R0, 32},
    {"r1", UC_ARM_REG_R1, 32},	   {"r2", UC_ARM_REG_R2, 32},
    {"r3", UC_ARM_REG_R3, 32},	   {"r4", UC_ARM_REG_R4, 32},
    {"r5", UC_ARM_REG_R5, 32},	   {"r6", UC_ARM_REG_R6, 32},
    {"r7", UC_ARM_REG_R7, 32},	   {"r8", UC_ARM_REG_R8, 32},
    {"r9", UC_ARM_REG_R9, 32},	   {"r10", UC_ARM_REG_R10, 32},
    {"r11", UC_ARM_REG_R11, 32},   {"r12", UC_ARM_REG_R12, 32},
    {"sp", UC_ARM_REG_SP, 32},	   {"lr", UC_ARM_REG_LR, 32},
    {"pc", UC_ARM_REG_PC, 32},
};

/* NZCV first like the other flags, though it banks nothing. */
static const struct gm_reg arm64_regs[] = {
    {"nzcv", UC_ARM64_REG_NZCV, 32},
    {"x0", UC_ARM64_REG_X0, 64},
    {"x1", UC_ARM64_REG_X1, 64},
    {"x2", UC_ARM64_REG_X2, 64},
    {"x3", UC_ARM64_REG_X3, 64},
    {"x4", UC_ARM64_REG_X4, 64},
    {"x5", UC_ARM64_REG_X5, 64},
    {"x6", UC_ARM64_REG_X6, 64},
    {"x7", UC_ARM64_REG_X7, 64},
    {"x8", UC_ARM64_REG_X8, 64},
    {"x9", UC_ARM64_REG_X9, 64},
    {"x10", UC_ARM64_REG_X10, 64},
    {"x11", UC_ARM64_REG_X11, 64},
    {"x12", UC_ARM64_REG_X12, 64},
    {"x13", UC_ARM64_REG_X13, 64},
    {"x14", UC_ARM64_REG_X14, 64},
    {"x15", UC_ARM64_REG_X15, 64},
    {"x16", UC_ARM64_REG_X16, 64},
    {"x17", UC_ARM64_REG_X17, 64},
    {"x18", UC_ARM64_REG_X18, 64},
    {"x19", UC_ARM64_REG_X19, 64},
    {"x20", UC_ARM64_REG_X20, 64},
    {"x21", UC_ARM64_REG_X21, 64},
    {"x22", UC_ARM64_REG_X22, 64},
    {"x23", UC_ARM64_REG_X23, 64},
    {"x24", UC_ARM64_REG_X24, 64},
    {"x25", UC_ARM64_REG_X25, 64},
    {"x26", UC_ARM64_REG_X26, 64},
    {"x27", UC_ARM64_REG_X27, 64},
    {"x28", UC_ARM64_REG_X28, 64},
    {"fp", UC_ARM64_REG_FP, 64},
    {"lr", UC_ARM64_REG_LR, 64},
    {"sp", UC_ARM64_REG_SP, 64},
    {"pc", UC_ARM64_REG_PC, 64},
    {"tpidr_el0", UC_ARM64_REG_TPIDR_EL0, 64},
};

/* Register values pass as host numbers whatever the guest's byte order,
 * so mips and mipsel share one table. */
static const struct gm_reg mips_regs[] = {
    {"zero", UC_MIPS_REG_ZERO, 32}, {"at", UC_MIPS_REG_AT, 32},
    {"v0", UC_MIPS_REG_V0, 32},	    {"v1", UC_MIPS_REG_V1, 32},
    {"a0", UC_MIPS_REG_A0, 32},	    {"a1", UC_MIPS_REG_A1, 32},
    {"a2", UC_MIPS_REG_A2, 32},	    {"a3", UC_MIPS_REG_A3, 32},
    {"t0", UC_MIPS_REG_T0, 32},	    {"t1", UC_MIPS_REG_T1, 32},
    {"t2", UC_MIPS_REG_T2, 32},	    {"t3", UC_MIPS_REG_T3, 32},
    {"t4", UC_MIPS_REG_T4, 32},	    {"t5", UC_MIPS_REG_T5, 32},
    {"t6", UC_MIPS_REG_T6, 32},	    {"t7", UC_MIPS_REG_T7, 32},
    {"s0", UC_MIPS_REG_S0, 32},	    {"s1", UC_MIPS_REG_S1, 32},
    {"s2", UC_MIPS_REG_S2, 32},	    {"s3", UC_MIPS_REG_S3, 32},
    {"s4", UC_MIPS_REG_S4, 32},	    {"s5", UC_MIPS_REG_S5, 32},
    {"s6", UC_MIPS_REG_S6, 32},	    {"s7", UC_MIPS_REG_S7, 32},
    {"t8", UC_MIPS_REG_T8, 32},	    {"t9", UC_MIPS_REG_T9, 32},
    {"k0", UC_MIPS_REG_K0, 32},	    {"k1", UC_MIPS_REG_K1, 32},
    {"gp", UC_MIPS_REG_GP, 32},	    {"sp", UC_MIPS_REG_SP, 32},
    {"fp", UC_MIPS_REG_FP, 32},	    {"ra", UC_MIPS_REG_RA, 32},
    {"pc", UC_MIPS_REG_PC, 32},	    {"hi", UC_MIPS_REG_HI, 32},
    {"lo", UC_MIPS_REG_LO, 32},
};

/* One list of names and ids; the width is the guest's XLEN. */
#define RISCV_REGS(w)                                                   \
	{"zero", UC_RISCV_REG_ZERO, w}, {"ra", UC_RISCV_REG_RA, w},     \
	    {"sp", UC_RISCV_REG_SP, w}, {"gp", UC_RISCV_REG_GP, w},     \
	    {"tp", UC_RISCV_REG_TP, w}, {"t0", UC_RISCV_REG_T0, w},     \
	    {"t1", UC_RISCV_REG_T1, w}, {"t2", UC_RISCV_REG_T2, w},     \
	    {"s0", UC_RISCV_REG_S0, w}, {"s1", UC_RISCV_REG_S1, w},     \
	    {"a0", UC_RISCV_REG_A0, w}, {"a1", UC_RISCV_REG_A1, w},     \
	    {"a2", UC_RISCV_REG_A2, w}, {"a3", UC_RISCV_REG_A3, w},     \
	    {"a4", UC_RISCV_REG_A4, w}, {"a5", UC_RISCV_REG_A5, w},     \
	    {"a6", UC_RISCV_REG_A6, w}, {"a7", UC_RISCV_REG_A7, w},     \
	    {"s2", UC_RISCV_REG_S2, w}, {"s3", UC_RISCV_REG_S3, w},     \
	    {"s4", UC_RISCV_REG_S4, w}, {"s5", UC_RISCV_REG_S5, w},     \
	    {"s6", UC_RISCV_REG_S6, w}, {"s7", UC_RISCV_REG_S7, w},     \
	    {"s8", UC_RISCV_REG_S8, w}, {"s9", UC_RISCV_REG_S9, w},     \
	    {"s10", UC_RISCV_REG_S10, w}, {"s11", UC_RISCV_REG_S11, w}, \
	    {"t3", UC_RISCV_REG_T3, w}, {"t4", UC_RISCV_REG_T4, w},     \
	    {"t5", UC_RISCV_REG_T5, w}, {"t6", UC_RISCV_REG_T6, w},     \
	{                                                               \
		"pc", UC_RISCV_REG_PC, w                                \
	}

static const struct gm_reg riscv32_regs[] = {RISCV_REGS(32)};
static const struct gm_reg riscv64_regs[] = {RISCV_REGS(64)};

#define ARCH32(name, uarch, umode, be, pc, sp, regs)                 \
	{                                                            \
		name, uarch, umode, 4, be, 32, pc, sp, STACK32_ADDR, \
		    STACK32_SIZE, regs, NELEMS(regs)                 \
	}
#define ARCH64(name, uarch, umode, pc, sp, regs)                        \
	{                                                               \
		name, uarch, umode, 8, false, 64, pc, sp, STACK64_ADDR, \
		    STACK64_SIZE, regs, NELEMS(regs)                    \
	}

static const struct gm_arch arches[] = {
    ARCH32("x86", UC_ARCH_X86, UC_MODE_32, false, "eip", "esp", x86_regs),
    ARCH64("x86_64", UC_ARCH_X86, UC_MODE_64, "rip", "rsp", x86_64_regs),
    ARCH32("arm", UC_ARCH_ARM, UC_MODE_ARM, false, "pc", "sp", arm_regs),
    ARCH64("arm64", UC_ARCH_ARM64, UC_MODE_ARM, "pc", "sp", arm64_regs),
    ARCH32("mips", UC_ARCH_MIPS, UC_MODE_MIPS32 | UC_MODE_BIG_ENDIAN, true,
	   "pc", "sp", mips_regs),
    ARCH32("mipsel", UC_ARCH_MIPS, UC_MODE_MIPS32 | UC_MODE_LITTLE_ENDIAN,
	   false, "pc", "sp", mips_regs),
    ARCH32("riscv32", UC_ARCH_RISCV, UC_MODE_RISCV32, false, "pc", "sp",
	   riscv32_regs),
    ARCH64("riscv64", UC_ARCH_RISCV, UC_MODE_RISCV64, "pc", "sp", riscv64_regs),
};

const struct gm_arch *gm_arch_find(const char *name)
{
	if (!name)
		return NULL;
	for (size_t i = 0; i < NELEMS(arches); i++)
		if (strcmp(arches[i].name, name) == 0)
			return &arches[i];
	return NULL;
}

const struct gm_arch *gm_arch_at(size_t i)
{
	return i < NELEMS(arches) ? &arches[i] : NULL;
}

const struct gm_reg *gm_arch_reg(const struct gm_arch *arch, const char *name)
{
	if (!arch || !name)
		return NULL;
	if (strcmp(name, "pc") == 0)
		name = arch->pc_name;
	else if (strcmp(name, "sp") == 0)
		name = arch->sp_name;
	for (size_t i = 0; i < arch->nregs; i++)
		if (strcmp(arch->regs[i].name, name) == 0)
			return &arch->regs[i];
	return NULL;
}
