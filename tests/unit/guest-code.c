/*
 * Small C functions compiled for every guest architecture at build time
 * (tests/unit/meson.build, one binary per function) and for the host, so
 * that test-run.c compares what the guest computes with what the host does.
 */
#include <stddef.h>
#include <stdint.h>
#ifdef CHECKSUM
uint32_t checksum(const uint8_t *p, size_t n)
{
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 16777619u;
	return h;
}
#endif
#ifdef STRCOPY
size_t strcopy(char *d, const char *s)
{
	size_t n = 0;
	while ((d[n] = s[n]) != 0)
		n++;
	return n;
}
#endif
