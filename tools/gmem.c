/*
 * gmem: run one command of the gmemfs command language (SPEC §4) against a
 * mount and print its answer, so scripts need no `exec 3<>ctl` dance.
 * Try it: gmem -C MNT is_mapped 0x7ffffffde000 0x1000 && echo mapped
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#define FUSE_SUPER_MAGIC 0x65735546
#define ERROR_MAX	 4096 /* the longest error answer we keep */

static void usage(void)
{
	fputs("usage: gmem [-C MOUNTPOINT] VERB [ARGS...]\n", stderr);
}

/* Does ARG need quotes to come back as one token with exactly its bytes? */
static bool needs_quotes(const char *arg)
{
	const unsigned char *p = (const unsigned char *)arg;

	if (*p == '\0' || *p == '#')
		return true;
	for (; *p != '\0'; p++) {
		if (*p <= ' ' || *p == 0x7f || *p == '"' || *p == '\\')
			return true;
	}
	return false;
}

/* Append ARG to LINE as one token of SPEC §4: as is when it can be, else in
 * double quotes with \\ \" \n \t and \xNN for the other control bytes. */
static void add_token(FILE *line, const char *arg)
{
	const unsigned char *p = (const unsigned char *)arg;

	if (!needs_quotes(arg)) {
		fputs(arg, line);
		return;
	}
	fputc('"', line);
	for (; *p != '\0'; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(line, "\\%c", *p);
		else if (*p == '\n')
			fputs("\\n", line);
		else if (*p == '\t')
			fputs("\\t", line);
		else if (*p < ' ' || *p == 0x7f)
			fprintf(line, "\\x%02x", *p);
		else
			fputc(*p, line);
	}
	fputc('"', line);
}

/* ARGV joined into one command line ending in '\n'; NULL when out of
 * memory. */
static char *command_line(char **argv, int argc, size_t *len)
{
	char *buf = NULL;
	FILE *line = open_memstream(&buf, len);

	if (line == NULL)
		return NULL;
	for (int i = 0; i < argc; i++) {
		if (i > 0)
			fputc(' ', line);
		add_token(line, argv[i]);
	}
	fputc('\n', line);
	if (fclose(line) != 0) {
		free(buf);
		return NULL;
	}
	return buf;
}

/* Open MNT/ctl read-write, refusing anything that is not a gmemfs control
 * file (so a stray `ctl` in the current directory is never written to). */
static int open_ctl(const char *mnt)
{
	char path[4096];
	struct statfs fs;
	struct stat st;
	int fd;

	if (snprintf(path, sizeof(path), "%s/ctl", mnt) >= (int)sizeof(path)) {
		fprintf(stderr, "gmem: %s: %s\n", mnt, strerror(ENAMETOOLONG));
		return -1;
	}
	fd = open(path, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT && stat(mnt, &st) < 0) {
		fprintf(stderr, "gmem: %s: %s\n", mnt, strerror(errno));
		return -1;
	}
	if (fd < 0 && errno != ENOENT && errno != ENOTDIR) {
		fprintf(stderr, "gmem: %s: %s\n", path, strerror(errno));
		return -1;
	}
	if (fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
	    fstatfs(fd, &fs) == 0 && fs.f_type == FUSE_SUPER_MAGIC)
		return fd;
	if (fd >= 0)
		close(fd);
	fprintf(stderr, "gmem: %s is not a gmemfs mount\n", mnt);
	return -1;
}

static int write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

static ssize_t read_retry(int fd, char *buf, size_t len)
{
	ssize_t n;

	do
		n = read(fd, buf, len);
	while (n < 0 && errno == EINTR);
	return n;
}

/* Copy the answer to stdout until EOF. Returns 0, 1 when it was "false\n"
 * (for is_mapped and is_available), or -1 after saying why it failed. */
static int print_answer(int fd)
{
	char buf[65536], head[7];
	size_t head_len = 0;
	ssize_t n;

	while ((n = read_retry(fd, buf, sizeof(buf))) > 0) {
		if (head_len < sizeof(head)) {
			size_t k = sizeof(head) - head_len;

			k = (size_t)n < k ? (size_t)n : k;
			memcpy(head + head_len, buf, k);
			head_len += k;
		}
		if (fwrite(buf, 1, (size_t)n, stdout) != (size_t)n)
			break;
	}
	if (n < 0) {
		fprintf(stderr, "gmem: %s\n", strerror(errno));
		return -1;
	}
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "gmem: stdout: %s\n", strerror(errno));
		return -1;
	}
	return head_len == 6 && memcmp(head, "false\n", 6) == 0;
}

/* The write failed with ERROR: print the answer's "error: MESSAGE" as
 * "gmem: MESSAGE", or strerror(ERROR) when there is none to read. */
static void print_error(int fd, int error)
{
	char buf[ERROR_MAX + 1], *msg;
	size_t len = 0;
	ssize_t n;

	while (len < ERROR_MAX &&
	       (n = read_retry(fd, buf + len, ERROR_MAX - len)) > 0)
		len += (size_t)n;
	buf[len] = '\0';
	msg = strstr(buf, "error: ");
	if (msg == NULL || (msg != buf && msg[-1] != '\n')) {
		fprintf(stderr, "gmem: %s\n", strerror(error));
		return;
	}
	msg += strlen("error: ");
	fprintf(stderr, "gmem: %.*s\n", (int)strcspn(msg, "\n"), msg);
}

int main(int argc, char **argv)
{
	const char *mnt = getenv("GMEMFS_MOUNT");
	char *line = NULL;
	size_t len;
	int opt, fd, rc, status = 1;

	opterr = 0;
	while ((opt = getopt(argc, argv, "+C:h")) != -1) {
		if (opt != 'C') {
			if (opt == '?' && optopt == 'C')
				fputs("gmem: -C needs a MOUNTPOINT\n", stderr);
			else if (opt == '?')
				fprintf(stderr, "gmem: unknown option -%c\n",
					optopt);
			usage();
			return 2;
		}
		mnt = optarg;
	}
	if (optind == argc) {
		usage();
		return 2;
	}
	if (strcmp(argv[optind], "snapshot") == 0) {
		fputs("gmem: snapshot: not yet\n", stderr);
		return 2;
	}
	if (mnt == NULL || *mnt == '\0')
		mnt = ".";

	line = command_line(argv + optind, argc - optind, &len);
	if (line == NULL) {
		fprintf(stderr, "gmem: %s\n", strerror(ENOMEM));
		return 1;
	}
	fd = open_ctl(mnt);
	if (fd < 0)
		goto out;
	rc = write_all(fd, line, len);
	if (rc < 0) {
		print_error(fd, -rc);
		goto out_close;
	}
	rc = print_answer(fd);
	if (rc < 0)
		goto out_close;
	status = 0;
	if (rc == 1 && (strcmp(argv[optind], "is_mapped") == 0 ||
			strcmp(argv[optind], "is_available") == 0))
		status = 1;
out_close:
	close(fd);
out:
	free(line);
	return status;
}
