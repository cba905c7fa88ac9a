/*
 * The texts of the files that are views of the guest (SPEC §2): maps, info,
 * the stack listing, and the START-END names of regions.
 */
#include "cmd-priv.h"
#include "guest.h"
#include "memory.h"
#include "regions.h"
#include "regs.h"
#include "snapshot.h"

#include <inttypes.h>
#include <stdio.h>

#ifndef GMEMFS_VERSION
#define GMEMFS_VERSION "0.1.0"
#endif

/* The stack listing stops after this many words (a stack pointer at the
 * bottom of a huge region would otherwise list gigabytes). */
#define STACK_TEXT_WORDS (1u << 20)

char *gm_range_name(const struct gm_guest *g, uint64_t start, uint64_t size,
		    char *buf)
{
	return gm_range_format(gm_guest_arch(g)->address_bits, start, size,
			       buf);
}

int gm_maps_text(const struct gm_guest *g, struct gm_text *out)
{
	const struct gm_region *r;
	char name[GM_RANGE_NAME_MAX];
	size_t n;

	r = gm_regions(g, &n);
	for (size_t i = 0; i < n; i++) {
		gm_text_printf(out, "%s ",
			       gm_range_name(g, r[i].start, r[i].size, name));
		gm_text_add_perms_label(out, r[i].perms, r[i].label,
					r[i].label_len);
		gm_text_add(out, "\n", 1);
	}
	return gm_text_status(out);
}

int gm_info_text(const struct gm_guest *g, struct gm_text *out)
{
	const struct gm_arch *arch = gm_guest_arch(g);
	/* Reading registers changes nothing, but the engine's API is not
	 * const. */
	struct gm_guest *rw = (struct gm_guest *)g;
	const struct gm_region *r;
	uint64_t mapped = 0;
	size_t n;

	r = gm_regions(g, &n);
	for (size_t i = 0; i < n; i++)
		mapped += r[i].size;
	gm_text_printf(out,
		       "arch %s\n"
		       "endian %s\n"
		       "pointer_size %u\n"
		       "page_size 0x%" PRIx64 "\n"
		       "address_bits %u\n"
		       "regions %zu\n"
		       "mapped_bytes 0x%" PRIx64 "\n"
		       "snapshots %zu\n"
		       "pc 0x%" PRIx64 "\n"
		       "sp 0x%" PRIx64 "\n"
		       "version %s\n",
		       arch->name, arch->big_endian ? "big" : "little",
		       arch->pointer_size, gm_guest_page_size(g),
		       arch->address_bits, n, mapped, gm_snap_count(g),
		       gm_reg_pc(rw), gm_reg_sp(rw), GMEMFS_VERSION);
	return gm_text_status(out);
}

int gm_stack_text(struct gm_guest *g, struct gm_text *out)
{
	unsigned word = gm_guest_arch(g)->pointer_size;
	uint64_t sp = gm_reg_sp(g), off, value;
	const struct gm_region *r = gm_region_find(g, sp);
	uint64_t room;

	if (!r)
		return gm_text_status(out);
	/* Bytes from SP to the region's end, without overflow at 2^64. */
	room = r->size - (sp - r->start);
	for (off = 0; room - off >= word && off / word < STACK_TEXT_WORDS;
	     off += word) {
		if (gm_mem_read_ptr(g, sp + off, 0, false, &value, NULL) < 0)
			break;
		gm_text_printf(out,
			       "+0x%" PRIx64 " 0x%" PRIx64 " 0x%" PRIx64 "\n",
			       off, sp + off, value);
	}
	return gm_text_status(out);
}
