/*
 * Error reporting for the core: every failure becomes an errno and one line
 * of text, so the daemon can answer `error: MESSAGE` without guessing.
 */
#include "error.h"

#include <stdarg.h>
#include <stdio.h>

int gm_fail(struct gm_error *err, int code, const char *fmt, ...)
{
	va_list ap;

	if (err) {
		err->code = code;
		va_start(ap, fmt);
		vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
		va_end(ap);
	}
	return -code;
}

char *gm_range_str(char *buf, unsigned long long start, unsigned long long size)
{
	unsigned long long last = start + size - 1;

	if (size != 0 && last == ~0ULL)
		snprintf(buf, 48, "0x%llx-0x10000000000000000", start);
	else
		snprintf(buf, 48, "0x%llx-0x%llx", start, start + size);
	return buf;
}
