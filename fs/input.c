/*
 * The bytes users write to regs/, to the user.label xattr and to a
 * snapshot being imported, turned into core calls. No FUSE here, so that
 * tests/fuzz/fuzz-files.c runs exactly what the daemon runs on them.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/xattr.h>

#include "guest.h"
#include "input.h"
#include "snapfile.h"

#define LABEL_XATTR "user.label"

int gmfs_reg_value_run(struct gm_cmd_ctx *c, const struct gm_reg *reg,
		       const char *buf, size_t size, struct gm_text *out,
		       struct gm_error *err)
{
	size_t name_len = strlen(reg->name);
	size_t head = strlen("reg ") + name_len + 1;
	char *line;
	int rc;

	/* `echo 0x10 > regs/rip` ends with one newline: not a second line. */
	if (size && buf[size - 1] == '\n')
		size--;
	/* One value, one line: never several commands. */
	if (memchr(buf, '\n', size))
		return gm_fail(err, EINVAL, "a register takes one line");
	line = malloc(head + size);
	if (!line)
		return gm_fail(err, ENOMEM, "out of memory");
	memcpy(line, "reg ", 4);
	memcpy(line + 4, reg->name, name_len);
	line[head - 1] = ' ';
	memcpy(line + head, buf, size);
	rc = gm_cmd_run(c, NULL, line, head + size, out, err);
	free(line);
	return rc;
}

int gmfs_label_set(struct gm_guest *g, struct gm_cmd_ctx *c,
		   const struct gm_region *r, const char *name,
		   const char *value, size_t size, int flags,
		   struct gm_error *err)
{
	char what[96];
	int rc;

	if (strcmp(name, LABEL_XATTR))
		return -ENOTSUP;
	if (flags & XATTR_CREATE) /* every region has a label */
		return -EEXIST;
	if (!r)
		return -ENOENT;
	rc = gm_set_label(g, r->start, value, size, err);
	snprintf(what, sizeof(what), "setfattr user.label 0x%llx",
		 (unsigned long long)r->start);
	gm_cmd_log_add(c, what, rc, err);
	return rc;
}

int gmfs_import_resize(struct gmfs_import *im, uint64_t len, uint64_t limit)
{
	if (len > limit + GMFS_IMPORT_SLACK)
		return -EFBIG;
	if (len == im->len)
		return 0; /* O_TRUNC of a new file: nothing written yet */
	if (len > im->cap) {
		size_t cap = im->cap ? im->cap : 1 << 20;
		uint8_t *p;

		while (cap < len)
			cap = cap > SIZE_MAX / 2 ? len : 2 * cap;
		p = im->bytes ? mremap(im->bytes, im->cap, cap, MREMAP_MAYMOVE)
			      : mmap(NULL, cap, PROT_READ | PROT_WRITE,
				     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED)
			return -ENOMEM;
		/* Huge pages halve what the faults of a large import cost. */
		madvise(p, cap, MADV_HUGEPAGE);
		im->bytes = p;
		im->cap = cap;
	}
	if (len < im->len) /* cut: what grows back later reads as zero */
		memset(im->bytes + len, 0, im->len - len);
	im->len = (size_t)len;
	return 1;
}

void gmfs_import_free(struct gmfs_import *im)
{
	if (im->bytes)
		munmap(im->bytes, im->cap);
	*im = (struct gmfs_import){0};
}

int gmfs_import_parse(struct gm_guest *g, const struct gmfs_import *im,
		      struct gm_snapshot **out, struct gm_error *err)
{
	struct gm_snapfile_want want = {
	    .arch = gm_guest_arch(g),
	    .page_size = gm_guest_page_size(g),
	};

	*out = NULL;
	return gm_snapfile_read(im->bytes, im->len, NULL, &want, out, NULL,
				err);
}

int gmfs_import_add(struct gm_guest *g, struct gm_cmd_ctx *c, int rc,
		    struct gm_snapshot *s, const char *name,
		    struct gm_error *err)
{
	char what[GM_SNAP_NAME_MAX + 32];

	if (rc == 0 && !(s->name = strdup(name)))
		rc = gm_fail(err, ENOSPC, "no host memory for a snapshot");
	if (rc == 0)
		rc = gm_snap_add(g, s, err);
	if (rc < 0)
		gm_snapshot_free(s);
	snprintf(what, sizeof(what), "import snapshots/%s", name);
	gm_cmd_log_add(c, what, rc, err);
	return rc;
}
