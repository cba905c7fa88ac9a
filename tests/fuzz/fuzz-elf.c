/*
 * The libFuzzer target of the ELF and core reader (core/elf.c,
 * core/coredump.c): any bytes give ENOEXEC or EINVAL with a message, or a
 * parse whose notes lie inside the input; a core that reads is written
 * again as pieces and must read back the same. Try it from the top
 * directory:
 *  mkdir c; build-fuzz/tests/fuzz/fuzz-elf -max_len=2048 c \
 *      tests/fuzz/corpus-elf
 *
 * The first byte picks the guest architecture (modulo 8, in --help's
 * order), the rest is the file. The seeds in corpus-elf/ were written by a
 * throwaway script: for x86_64, arm, mips and riscv32, a core with a
 * PT_NOTE (NT_PRSTATUS, NT_FILE naming /bin/x) and two PT_LOADs (one with
 * p_filesz < p_memsz), and an executable with a PT_LOAD and a PT_NOTE.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coredump.h"
#include "elf.h"
#include "snapcmp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Cores of more bytes are read but not written again (the copy would be
 * as large, and a scan of 2^28 pages takes the instrumented build half a
 * minute). */
#define BYTES_MAX (64u << 20)

#define CHECK(cond)                                                        \
	do {                                                               \
		if (!(cond)) {                                             \
			fprintf(stderr, "fuzz-elf: %s:%d: %s\n", __FILE__, \
				__LINE__, #cond);                          \
			abort();                                           \
		}                                                          \
	} while (0)

static void check_error(int rc, const struct gm_error *err)
{
	CHECK(rc == -ENOEXEC || rc == -EINVAL || rc == -ENOMEM);
	CHECK(err->code == -rc && err->msg[0] != '\0');
}

/* Every note of a parsed file inside the file. */
static void walk_notes(const uint8_t *data, size_t size)
{
	struct gm_error err = {0};
	struct gm_elf_note n;
	struct gm_elf e;
	uint64_t pos = 0;
	size_t seg = 0;
	int rc = gm_elf_parse(data, size, &e, &err);

	if (rc < 0) {
		check_error(rc, &err);
		return;
	}
	while (gm_elf_next_note(&e, &seg, &pos, &n)) {
		CHECK((const uint8_t *)n.name >= data);
		CHECK((const uint8_t *)n.name + n.namesz <= data + size);
		CHECK(n.desc >= data && n.desc + n.descsz <= data + size);
	}
	gm_elf_free(&e);
}

/* S written as a core and read again is S. */
static void round_trip(const struct gm_snapshot *s)
{
	struct gm_error err = {0};
	struct gm_core_pieces p;
	struct gm_snapshot *again;
	char why[256];
	uint8_t *bytes;

	uint64_t mapped = 0;

	for (size_t i = 0; i < s->nregions; i++)
		mapped += s->regions[i].size;
	if (mapped > BYTES_MAX || gm_core_pieces(s, &p, &err) < 0)
		return;
	if (p.size > BYTES_MAX) {
		gm_core_pieces_free(&p);
		return;
	}
	bytes = malloc(p.size);
	CHECK(bytes != NULL);
	CHECK(gm_core_pieces_read(&p, 0, bytes, p.size) == p.size);
	CHECK(gm_core_read(bytes, p.size, s->arch, s->page_size, NULL, &again,
			   &err) == 0);
	if (gm_fuzz_snap_differs(s, again, why, sizeof(why))) {
		fprintf(stderr, "fuzz-elf: the core read back differs: %s\n",
			why);
		abort();
	}
	gm_snapshot_free(again);
	free(bytes);
	gm_core_pieces_free(&p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct gm_arch *a;
	struct gm_error err = {0};
	struct gm_snapshot *s;
	uint64_t page_size;
	int rc;

	if (size < 1)
		return 0;
	a = gm_arch_at(data[0] % 8);
	page_size = strncmp(a->name, "arm", 3) == 0 ? 1024 : 4096;
	data++;
	size--;
	walk_notes(data, size);
	rc = gm_core_read(data, size, a, page_size, NULL, &s, &err);
	if (rc < 0) {
		check_error(rc, &err);
		return 0;
	}
	round_trip(s);
	gm_snapshot_free(s);
	return 0;
}
