/*
 * ELF files read without trusting them: the header, program headers and
 * notes of executables and core dumps, 32/64-bit, either byte order, with
 * every offset and size checked against the file. No engine here, so gmem
 * and the fuzzer use it too.
 */
#ifndef GM_ELF_H
#define GM_ELF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arch.h"
#include "error.h"

/* The constants of <elf.h> this reader uses (kept here so that the
 * reader does not depend on the host's header). */
enum {
	GM_ET_EXEC = 2,
	GM_ET_DYN = 3,
	GM_ET_CORE = 4,
	GM_PT_LOAD = 1,
	GM_PT_INTERP = 3,
	GM_PT_NOTE = 4,
	GM_PT_PHDR = 6,
	GM_PF_X = 1,
	GM_PF_W = 2,
	GM_PF_R = 4,
	GM_EM_386 = 3,
	GM_EM_MIPS = 8,
	GM_EM_ARM = 40,
	GM_EM_X86_64 = 62,
	GM_EM_AARCH64 = 183,
	GM_EM_RISCV = 243,
	GM_NT_PRSTATUS = 1,
	GM_NT_PRPSINFO = 3,
	GM_NT_FILE = 0x46494c45,
	GM_NT_ARM_TLS = 0x401,
};

/* Most pages the PT_LOAD segments of one file may span together: the
 * snapshot format's bound (GM_SNAPFILE_PAGES_MAX of 4 KiB pages). A
 * larger p_memsz is refused as gigantic before anything is allocated. */
#define GM_ELF_MEM_MAX (1ull << 40)

/* One program header, in host byte order. */
struct gm_elf_seg {
	uint32_t type;
	uint32_t flags; /* PF_* */
	uint64_t offset, vaddr, filesz, memsz, align;
};

/* A parsed file. BYTES stays the caller's: the structure points into it. */
struct gm_elf {
	const uint8_t *bytes;
	size_t len;
	bool is64;
	bool big_endian;
	uint16_t type;	  /* ET_* */
	uint16_t machine; /* EM_* */
	uint32_t flags;	  /* e_flags */
	uint64_t entry;
	uint64_t phoff;
	struct gm_elf_seg *segs; /* every program header, in file order */
	size_t nsegs;
	/* The architecture the header names, or NULL when gmemfs has no
	 * such guest (then gm_elf_parse failed with -ENOEXEC). */
	const struct gm_arch *arch;
};

/*
 * Parse the LEN bytes of an ELF file into *E (free it with gm_elf_free).
 * -ENOEXEC when the bytes are not an ELF file, or one of a machine, class
 * or byte order gmemfs cannot run; -EINVAL naming what is damaged: a
 * truncated header, program headers past the end, a PT_LOAD past the end
 * of the file or of the address space, p_offset + p_filesz overflowing,
 * p_filesz > p_memsz, overlapping PT_LOAD segments, segments of more than
 * GM_ELF_MEM_MAX bytes in all, a PT_NOTE whose notes' sizes lie; -ENOMEM.
 * Never reads outside BYTES.
 */
int gm_elf_parse(const void *bytes, size_t len, struct gm_elf *e,
		 struct gm_error *err);
void gm_elf_free(struct gm_elf *e);

/* -ENOEXEC unless E is of ARCH (machine, class and byte order), naming
 * both architectures. */
int gm_elf_check_arch(const struct gm_elf *e, const struct gm_arch *arch,
		      struct gm_error *err);

/* The architecture of the ELF file at PATH (for --elf or --core without
 * --arch): the file is parsed as gm_elf_parse does, with its errors, and
 * -errno of open() (-ENOENT). */
int gm_elf_arch_of_file(const char *path, const struct gm_arch **arch,
			struct gm_error *err);

/* An integer of N bytes (1, 2, 4, 8) at P in E's byte order. */
uint64_t gm_elf_get(const struct gm_elf *e, const uint8_t *p, unsigned n);
/* Store V as N bytes at P in this byte order. */
void gm_elf_put(bool big_endian, uint8_t *p, uint64_t v, unsigned n);

/* One note of a PT_NOTE segment; NAME is NAMESZ bytes (its NUL included
 * when the file has one), DESC DESCSZ bytes, both inside the file. */
struct gm_elf_note {
	uint32_t type;
	const char *name;
	size_t namesz;
	const uint8_t *desc;
	size_t descsz;
};

/* Whether N is the note called NAME (NUL-terminated in the file). */
bool gm_elf_note_is(const struct gm_elf_note *n, const char *name);

/* Walk the notes of every PT_NOTE segment of E in file order: *POS starts
 * at 0; returns 1 with the next note in *N, 0 at the end. gm_elf_parse
 * checked every note's sizes, so this cannot fail. */
int gm_elf_next_note(const struct gm_elf *e, size_t *seg, uint64_t *pos,
		     struct gm_elf_note *n);

/* The file at PATH, mapped read-only: *BYTES and *LEN (a placeholder
 * pointer for an empty file). -errno of open() with a message, -EINVAL
 * for what is not a regular file. Unmap with gm_elf_unmap_file. */
int gm_elf_map_file(const char *path, const uint8_t **bytes, size_t *len,
		    struct gm_error *err);
void gm_elf_unmap_file(const uint8_t *bytes, size_t len);

/* The e_machine gmemfs writes for ARCH, and the architecture of a
 * machine, class and byte order (NULL: none). */
uint16_t gm_elf_machine(const struct gm_arch *arch);
const struct gm_arch *gm_elf_arch(uint16_t machine, bool is64, bool big_endian);

#endif
