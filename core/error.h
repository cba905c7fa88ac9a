/*
 * The one error object of the core: a negative errno for the caller and a
 * message for the user. Core functions return 0 or -errno and fill it.
 */
#ifndef GM_ERROR_H
#define GM_ERROR_H

#define GM_ERROR_MAX 256

struct gm_error {
	int code;		/* positive errno (gmemfs(1) ERRORS), 0: none */
	char msg[GM_ERROR_MAX]; /* one line, no trailing newline */
};

/* Record CODE and the formatted message in ERR (which may be NULL) and
 * return -CODE, so that callers can write `return gm_fail(err, EINVAL, …)`. */
int gm_fail(struct gm_error *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Format the range [start, start + size) as "0xSTART-0xEND" into BUF (at
 * least 48 bytes); an end of 2^64 is written in full. Returns BUF. */
char *gm_range_str(char *buf, unsigned long long start,
		   unsigned long long size);

#endif
