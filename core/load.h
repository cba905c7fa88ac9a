/*
 * Loading ELF executables and core dumps into a guest (SPEC §9): what
 * load_elf, load_core, --elf and --core do. All or nothing: a failure
 * leaves the guest as it was.
 */
#ifndef GM_LOAD_H
#define GM_LOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

struct gm_guest;

/* ET_DYN files load here unless told otherwise (Linux's choices). */
#define GM_ELF_BASE64 0x555555554000ull
#define GM_ELF_BASE32 0x56555000ull
/* The AT_PAGESZ the stack announces: Linux's ELF_EXEC_PAGESIZE. */
#define GM_ELF_AUX_PAGESZ 4096

struct gm_elf_load {
	bool base_set;		 /* false: the default base */
	uint64_t base;		 /* where an ET_DYN file's address 0 goes */
	const char *const *args; /* argv after the path */
	size_t nargs;
};

/*
 * Load the ELF executable at PATH into G (OPT NULL: no arguments, default
 * base): each PT_LOAD becomes a region rounded out to pages, labelled with
 * PATH's base name, with its p_flags (a page two segments share is one
 * region with the union of their permissions), the file's bytes and zeros
 * past p_filesz. The initial stack is laid out below the current SP as
 * Linux's execve does (argc, argv = PATH then ARGS, an empty envp, auxv
 * with AT_PHDR, AT_PHENT, AT_PHNUM, AT_PAGESZ, AT_ENTRY, AT_RANDOM, AT_NULL
 * and the strings and random bytes above it), SP and pc are set; *ENTRY
 * gets the entry point. PT_INTERP is not followed.
 * -ENOEXEC: not an executable of G's architecture (a core, another
 * machine…); -EINVAL: a damaged file (gm_elf_parse), a base not on a page
 * boundary or given for ET_EXEC, a segment past the address space;
 * -EEXIST: a segment onto mapped memory; -EFAULT: no mapped stack below SP
 * for the initial stack; -ENOSPC/-ENOMEM: no room; -errno of open().
 */
int gm_load_elf(struct gm_guest *g, const char *path,
		const struct gm_elf_load *opt, uint64_t *entry,
		struct gm_error *err);

/*
 * Make G the process of the core dump at PATH (gm_core_read), as restore
 * does: every region of G is replaced by the dump's, the registers the
 * dump holds are set and the others kept. -ENOEXEC: not a core of G's
 * architecture; -EINVAL: a damaged file; -ENOSPC/-ENOMEM; -errno of
 * open(). On failure G is unchanged.
 */
int gm_load_core(struct gm_guest *g, const char *path, struct gm_error *err);

#endif
