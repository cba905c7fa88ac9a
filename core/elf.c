/*
 * The ELF reader: every field of the header, program headers and notes is
 * checked against the bytes there are before anything uses it, so that a
 * damaged or hostile file gets a message, never a read outside it.
 */
#include "elf.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define EHDR32	52
#define EHDR64	64
#define PHDR32	32
#define PHDR64	56
#define PN_XNUM 0xffff

static const struct {
	const char *arch;
	uint16_t machine;
	bool is64, big_endian;
} machines[] = {
    {"x86", GM_EM_386, false, false},
    {"x86_64", GM_EM_X86_64, true, false},
    {"arm", GM_EM_ARM, false, false},
    {"arm64", GM_EM_AARCH64, true, false},
    {"mips", GM_EM_MIPS, false, true},
    {"mipsel", GM_EM_MIPS, false, false},
    {"riscv32", GM_EM_RISCV, false, false},
    {"riscv64", GM_EM_RISCV, true, false},
};

#define NMACHINES (sizeof(machines) / sizeof(machines[0]))

const struct gm_arch *gm_elf_arch(uint16_t machine, bool is64, bool big_endian)
{
	for (size_t i = 0; i < NMACHINES; i++)
		if (machines[i].machine == machine &&
		    machines[i].is64 == is64 &&
		    machines[i].big_endian == big_endian)
			return gm_arch_find(machines[i].arch);
	return NULL;
}

uint16_t gm_elf_machine(const struct gm_arch *arch)
{
	for (size_t i = 0; i < NMACHINES; i++)
		if (strcmp(machines[i].arch, arch->name) == 0)
			return machines[i].machine;
	return 0;
}

static const char *machine_name(uint16_t m)
{
	switch (m) {
	case GM_EM_386:
		return "x86";
	case GM_EM_X86_64:
		return "x86_64";
	case GM_EM_ARM:
		return "arm";
	case GM_EM_AARCH64:
		return "arm64";
	case GM_EM_MIPS:
		return "mips";
	case GM_EM_RISCV:
		return "riscv";
	default:
		return NULL;
	}
}

uint64_t gm_elf_get(const struct gm_elf *e, const uint8_t *p, unsigned n)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < n; i++)
		v |= (uint64_t)p[e->big_endian ? n - 1 - i : i] << (8 * i);
	return v;
}

void gm_elf_put(bool big_endian, uint8_t *p, uint64_t v, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		p[big_endian ? n - 1 - i : i] = (uint8_t)(v >> (8 * i));
}

/* The identification bytes: ENOEXEC for what is not an ELF we run. */
static int parse_ident(const uint8_t *b, size_t len, struct gm_elf *e,
		       struct gm_error *err)
{
	if (len < 4 || memcmp(b, "\177ELF", 4) != 0)
		return gm_fail(err, ENOEXEC,
			       "not an ELF file (it does not start with "
			       "\\x7fELF)");
	if (len < 16)
		return gm_fail(err, EINVAL,
			       "a damaged ELF file: it ends inside the ELF "
			       "identification (%zu bytes)",
			       len);
	if (b[4] != 1 && b[4] != 2)
		return gm_fail(err, ENOEXEC, "an ELF file of unknown class %u",
			       b[4]);
	if (b[5] != 1 && b[5] != 2)
		return gm_fail(err, ENOEXEC,
			       "an ELF file of unknown byte order %u", b[5]);
	if (b[6] != 1)
		return gm_fail(err, ENOEXEC, "an ELF file of version %u, not 1",
			       b[6]);
	e->is64 = b[4] == 2;
	e->big_endian = b[5] == 2;
	return 0;
}

static int parse_header(struct gm_elf *e, uint16_t *phentsize, uint16_t *phnum,
			struct gm_error *err)
{
	const uint8_t *b = e->bytes;
	size_t ehdr = e->is64 ? EHDR64 : EHDR32;
	unsigned w = e->is64 ? 8 : 4;

	if (e->len < ehdr)
		return gm_fail(err, EINVAL,
			       "a damaged ELF file: its header is truncated "
			       "(%zu bytes of %zu)",
			       e->len, ehdr);
	e->type = (uint16_t)gm_elf_get(e, b + 16, 2);
	e->machine = (uint16_t)gm_elf_get(e, b + 18, 2);
	e->entry = gm_elf_get(e, b + 24, w);
	e->phoff = gm_elf_get(e, b + 24 + w, w);
	e->flags = (uint32_t)gm_elf_get(e, b + 24 + 3 * w, 4);
	*phentsize = (uint16_t)gm_elf_get(e, b + 24 + 3 * w + 6, 2);
	*phnum = (uint16_t)gm_elf_get(e, b + 24 + 3 * w + 8, 2);
	e->arch = gm_elf_arch(e->machine, e->is64, e->big_endian);
	if (!e->arch) {
		const char *m = machine_name(e->machine);

		if (m)
			return gm_fail(err, ENOEXEC,
				       "an ELF file for %d-bit %s-endian %s, "
				       "which gmemfs does not emulate",
				       e->is64 ? 64 : 32,
				       e->big_endian ? "big" : "little", m);
		return gm_fail(err, ENOEXEC,
			       "an ELF file for machine %u, which gmemfs "
			       "does not emulate",
			       e->machine);
	}
	if (e->type != GM_ET_EXEC && e->type != GM_ET_DYN &&
	    e->type != GM_ET_CORE)
		return gm_fail(err, ENOEXEC,
			       "an ELF file of type %u: not an executable, "
			       "shared object or core dump",
			       e->type);
	if (*phnum == PN_XNUM)
		return gm_fail(err, EINVAL,
			       "an ELF file with 65535 or more program "
			       "headers (PN_XNUM) is not supported");
	if (*phnum && *phentsize != (e->is64 ? PHDR64 : PHDR32))
		return gm_fail(err, EINVAL,
			       "a damaged ELF file: e_phentsize is %u, not "
			       "%u",
			       *phentsize, e->is64 ? PHDR64 : PHDR32);
	if (*phnum && (e->phoff > e->len ||
		       (uint64_t)*phnum * *phentsize > e->len - e->phoff))
		return gm_fail(err, EINVAL,
			       "a damaged ELF file: its %u program headers "
			       "at 0x%llx pass the end of the file (%zu "
			       "bytes)",
			       *phnum, (unsigned long long)e->phoff, e->len);
	return 0;
}

static void read_seg(const struct gm_elf *e, const uint8_t *p,
		     struct gm_elf_seg *s)
{
	s->type = (uint32_t)gm_elf_get(e, p, 4);
	if (e->is64) {
		s->flags = (uint32_t)gm_elf_get(e, p + 4, 4);
		s->offset = gm_elf_get(e, p + 8, 8);
		s->vaddr = gm_elf_get(e, p + 16, 8);
		s->filesz = gm_elf_get(e, p + 32, 8);
		s->memsz = gm_elf_get(e, p + 40, 8);
		s->align = gm_elf_get(e, p + 48, 8);
	} else {
		s->offset = gm_elf_get(e, p + 4, 4);
		s->vaddr = gm_elf_get(e, p + 8, 4);
		s->filesz = gm_elf_get(e, p + 16, 4);
		s->memsz = gm_elf_get(e, p + 20, 4);
		s->flags = (uint32_t)gm_elf_get(e, p + 24, 4);
		s->align = gm_elf_get(e, p + 28, 4);
	}
}

/* A segment's file bytes: inside the file, without overflow. */
static int check_file_range(const struct gm_elf *e, size_t i,
			    const struct gm_elf_seg *s, struct gm_error *err)
{
	if (s->offset + s->filesz < s->offset)
		return gm_fail(err, EINVAL,
			       "a damaged ELF file: segment %zu's p_offset "
			       "0x%llx + p_filesz 0x%llx overflows",
			       i, (unsigned long long)s->offset,
			       (unsigned long long)s->filesz);
	if (s->offset + s->filesz > e->len)
		return gm_fail(err, EINVAL,
			       "a damaged ELF file: segment %zu (bytes "
			       "0x%llx-0x%llx) passes the end of the file "
			       "(%zu bytes)",
			       i, (unsigned long long)s->offset,
			       (unsigned long long)(s->offset + s->filesz),
			       e->len);
	return 0;
}

/* A PT_LOAD's memory: filesz <= memsz, inside the address space. */
static int check_load(const struct gm_elf *e, size_t i,
		      const struct gm_elf_seg *s, uint64_t *total,
		      struct gm_error *err)
{
	uint64_t space_last = e->is64 ? UINT64_MAX : 0xffffffffull;

	if (s->filesz > s->memsz)
		return gm_fail(err, EINVAL,
			       "a damaged ELF file: segment %zu has p_filesz "
			       "0x%llx > p_memsz 0x%llx",
			       i, (unsigned long long)s->filesz,
			       (unsigned long long)s->memsz);
	if (s->memsz > GM_ELF_MEM_MAX - *total)
		return gm_fail(err, EINVAL,
			       "segment %zu's p_memsz 0x%llx is gigantic "
			       "(segments may span 0x%llx bytes in all)",
			       i, (unsigned long long)s->memsz,
			       (unsigned long long)GM_ELF_MEM_MAX);
	*total += s->memsz;
	if (s->memsz &&
	    (s->vaddr > space_last || s->memsz - 1 > space_last - s->vaddr))
		return gm_fail(err, EINVAL,
			       "a damaged ELF file: segment %zu (0x%llx + "
			       "0x%llx) passes the end of the %d-bit "
			       "address space",
			       i, (unsigned long long)s->vaddr,
			       (unsigned long long)s->memsz, e->is64 ? 64 : 32);
	return 0;
}

/* PT_LOAD segments in ascending order without overlap (Linux's rule for
 * executables; the kernel and gcore write cores that way). */
static int check_order(const struct gm_elf *e, struct gm_error *err)
{
	const struct gm_elf_seg *prev = NULL;

	for (size_t i = 0; i < e->nsegs; i++) {
		const struct gm_elf_seg *s = &e->segs[i];

		if (s->type != GM_PT_LOAD || s->memsz == 0)
			continue;
		if (prev && s->vaddr < prev->vaddr + prev->memsz)
			return gm_fail(
			    err, EINVAL,
			    "a damaged ELF file: segment %zu at 0x%llx "
			    "overlaps or precedes the one before it "
			    "(0x%llx-0x%llx)",
			    i, (unsigned long long)s->vaddr,
			    (unsigned long long)prev->vaddr,
			    (unsigned long long)(prev->vaddr + prev->memsz));
		prev = s;
	}
	return 0;
}

#define NOTE_ALIGN(n) (((n) + 3) & ~(uint64_t)3)

/* Every note of PT_NOTE segment I inside it (4-byte alignment, as Linux
 * writes notes in both classes). */
static int check_notes(const struct gm_elf *e, size_t i,
		       const struct gm_elf_seg *s, struct gm_error *err)
{
	const uint8_t *p = e->bytes + s->offset;
	uint64_t pos = 0, end = s->filesz;

	while (pos < end) {
		uint64_t namesz, descsz;

		if (end - pos < 12)
			return gm_fail(err, EINVAL,
				       "a damaged ELF file: segment %zu ends "
				       "inside a note header",
				       i);
		namesz = gm_elf_get(e, p + pos, 4);
		descsz = gm_elf_get(e, p + pos + 4, 4);
		pos += 12;
		if (NOTE_ALIGN(namesz) > end - pos ||
		    NOTE_ALIGN(descsz) > end - pos - NOTE_ALIGN(namesz))
			return gm_fail(err, EINVAL,
				       "a damaged ELF file: a note in "
				       "segment %zu says it holds 0x%llx + "
				       "0x%llx bytes, and 0x%llx are left",
				       i, (unsigned long long)namesz,
				       (unsigned long long)descsz,
				       (unsigned long long)(end - pos));
		pos += NOTE_ALIGN(namesz) + NOTE_ALIGN(descsz);
	}
	return 0;
}

int gm_elf_parse(const void *bytes, size_t len, struct gm_elf *e,
		 struct gm_error *err)
{
	uint16_t phentsize = 0, phnum = 0;
	uint64_t total = 0;
	int rc;

	memset(e, 0, sizeof(*e));
	e->bytes = bytes;
	e->len = len;
	rc = parse_ident(bytes, len, e, err);
	if (rc == 0)
		rc = parse_header(e, &phentsize, &phnum, err);
	if (rc < 0)
		return rc;
	e->segs = calloc(phnum + 1u, sizeof(*e->segs));
	if (!e->segs)
		return gm_fail(err, ENOMEM, "out of memory");
	e->nsegs = phnum;
	for (size_t i = 0; i < phnum && rc == 0; i++) {
		struct gm_elf_seg *s = &e->segs[i];

		read_seg(e, e->bytes + e->phoff + i * phentsize, s);
		if (s->type == GM_PT_LOAD || s->type == GM_PT_NOTE ||
		    s->type == GM_PT_INTERP)
			rc = check_file_range(e, i, s, err);
		if (rc == 0 && s->type == GM_PT_LOAD)
			rc = check_load(e, i, s, &total, err);
		if (rc == 0 && s->type == GM_PT_NOTE)
			rc = check_notes(e, i, s, err);
	}
	if (rc == 0)
		rc = check_order(e, err);
	if (rc < 0)
		gm_elf_free(e);
	return rc;
}

void gm_elf_free(struct gm_elf *e)
{
	free(e->segs);
	e->segs = NULL;
	e->nsegs = 0;
}

int gm_elf_check_arch(const struct gm_elf *e, const struct gm_arch *arch,
		      struct gm_error *err)
{
	if (e->arch != arch)
		return gm_fail(
		    err, ENOEXEC, "an ELF file for %s, and this guest is %s",
		    e->arch ? e->arch->name : "another machine", arch->name);
	return 0;
}

bool gm_elf_note_is(const struct gm_elf_note *n, const char *name)
{
	size_t len = strlen(name);

	return n->namesz == len + 1 && memcmp(n->name, name, len) == 0 &&
	       n->name[len] == '\0';
}

int gm_elf_next_note(const struct gm_elf *e, size_t *seg, uint64_t *pos,
		     struct gm_elf_note *n)
{
	for (; *seg < e->nsegs; (*seg)++, *pos = 0) {
		const struct gm_elf_seg *s = &e->segs[*seg];
		const uint8_t *p;

		/* only a PT_NOTE's offset was checked against the file */
		if (s->type != GM_PT_NOTE || *pos >= s->filesz)
			continue;
		p = e->bytes + s->offset;
		n->namesz = (size_t)gm_elf_get(e, p + *pos, 4);
		n->descsz = (size_t)gm_elf_get(e, p + *pos + 4, 4);
		n->type = (uint32_t)gm_elf_get(e, p + *pos + 8, 4);
		n->name = (const char *)p + *pos + 12;
		n->desc = p + *pos + 12 + NOTE_ALIGN(n->namesz);
		*pos += 12 + NOTE_ALIGN(n->namesz) + NOTE_ALIGN(n->descsz);
		return 1;
	}
	return 0;
}

int gm_elf_map_file(const char *path, const uint8_t **bytes, size_t *len,
		    struct gm_error *err)
{
	struct stat st;
	void *p;
	int fd, rc;

	/* O_NONBLOCK: a FIFO is refused below instead of hanging the open. */
	fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd < 0)
		return gm_fail(err, errno, "%s: %s", path, strerror(errno));
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return gm_fail(err, EINVAL, "%s: not a regular file", path);
	}
	*len = (size_t)st.st_size;
	*bytes = (const uint8_t *)"";
	if (st.st_size > 0) {
		p = mmap(NULL, *len, PROT_READ, MAP_PRIVATE, fd, 0);
		if (p == MAP_FAILED) {
			rc = gm_fail(err, errno, "%s: cannot map it: %s", path,
				     strerror(errno));
			close(fd);
			return rc;
		}
		*bytes = p;
	}
	close(fd);
	return 0;
}

void gm_elf_unmap_file(const uint8_t *bytes, size_t len)
{
	if (len > 0)
		munmap((void *)bytes, len);
}

int gm_elf_arch_of_file(const char *path, const struct gm_arch **arch,
			struct gm_error *err)
{
	const uint8_t *bytes;
	struct gm_elf e;
	size_t len;
	int rc = gm_elf_map_file(path, &bytes, &len, err);

	if (rc < 0)
		return rc;
	rc = gm_elf_parse(bytes, len, &e, err);
	if (rc == 0) {
		*arch = e.arch;
		gm_elf_free(&e);
	}
	gm_elf_unmap_file(bytes, len);
	return rc;
}
