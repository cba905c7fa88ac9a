/* libgmemcore in 30 lines: map, write, save, change, restore, read back.
 * Build: cc example.c -o example $(pkg-config --cflags --libs gmemcore) */
#include <gmem/gmem.h>
#include <stdio.h>

int main(void)
{
	struct gm_error err = {0};
	struct gm_guest *g;
	const struct gm_region *r;
	char buf[6] = "";
	size_t n;
	int rc;

	if (gm_guest_open(gm_arch_find("x86_64"), &g, &err) < 0)
		goto fail;
	rc = gm_map(g, 0x10000, 0x4000, GM_PERM_R | GM_PERM_W, "heap", 4, &err);
	if (rc == 0)
		rc = gm_mem_write(g, 0x10000, "hello", 5, &err);
	if (rc == 0)
		rc = gm_snap_save(g, "before", NULL, &err);
	if (rc == 0) /* overwrite, and cut the region in two */
		rc = gm_mem_write(g, 0x10000, "HELLO", 5, &err);
	if (rc == 0)
		rc = gm_unmap(g, 0x12000, 0x2000, &err);
	if (rc == 0)
		rc = gm_snap_restore(g, "before", &err);
	if (rc == 0)
		rc = gm_mem_read(g, 0x10000, buf, 5, &err);
	if (rc == 0) {
		r = gm_regions(g, &n);
		printf("%s %zu 0x%llx-0x%llx %s\n", buf, n,
		       (unsigned long long)r->start,
		       (unsigned long long)(r->start + r->size), r->label);
	}
	gm_guest_close(g);
	if (rc == 0)
		return 0;
fail:
	fprintf(stderr, "example: %s\n", err.msg);
	return 1;
}
