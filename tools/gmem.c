/*
 * gmem: run one command of the gmemfs command language (gmem(1)) against a
 * mount and print its answer, so scripts need no `exec 3<>ctl` dance.
 * `help`, --help and --version answer without a mount.
 * Try it: gmem -C MNT is_mapped 0x7ffffffde000 0x1000 && echo mapped
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "gmem-snapshot.h"
#include "gmem-verbs.h"

#define FUSE_SUPER_MAGIC 0x65735546
#define ERROR_MAX	 4096 /* the longest error answer we keep */
#define USAGE                                          \
	"usage: gmem [-C MOUNTPOINT] VERB [ARGS...]\n" \
	"       gmem stack\n" GMEM_SNAPSHOT_USAGE      \
	"       gmem help [VERB] | -h | --help | -V | --version\n"

#ifndef GMEMFS_VERSION
#define GMEMFS_VERSION "0.1.0"
#endif

/* Does TEXT hold a byte that the tokenizer would split on or change? */
static bool needs_quotes(const char *text)
{
	for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
		if (*p <= ' ' || *p == 0x7f || *p == '"' || *p == '\\')
			return true;
	}
	return false;
}

/* The length of ARG's "KEY=" when the tokenizer takes ARG as a keyword (a
 * lowercase letter or '_', then those and digits, then '='), else 0. */
static size_t key_len(const char *arg)
{
	size_t n = 0;

	while ((arg[n] >= 'a' && arg[n] <= 'z') || arg[n] == '_' ||
	       (n > 0 && arg[n] >= '0' && arg[n] <= '9'))
		n++;
	return n > 0 && arg[n] == '=' ? n + 1 : 0;
}

/* Append TEXT in double quotes with \\ \" \n \t and \xNN for the other
 * control bytes: the tokenizer gives back exactly its bytes. */
static void add_quoted(FILE *line, const char *text)
{
	fputc('"', line);
	for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
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

/*
 * ARGV joined into one command line ending in '\n', each argument one token
 * of SPEC §4, quoted only when needed: an empty one, a verb starting with
 * '#' (a comment), bytes the tokenizer splits on or changes. A KEY=VALUE
 * argument stays a keyword: only its VALUE is quoted. NULL when out of
 * memory.
 */
static char *command_line(char **argv, int argc, size_t *len)
{
	char *buf = NULL;
	FILE *line = open_memstream(&buf, len);

	if (line == NULL)
		return NULL;
	for (int i = 0; i < argc; i++) {
		const char *arg = argv[i];
		size_t key = i > 0 ? key_len(arg) : 0;

		if (i > 0)
			fputc(' ', line);
		fwrite(arg, 1, key, line);
		arg += key;
		if (needs_quotes(arg) || (key == 0 && *arg == '\0') ||
		    (i == 0 && *arg == '#'))
			add_quoted(line, arg);
		else
			fputs(arg, line);
	}
	fputc('\n', line);
	if (fclose(line) != 0) {
		free(buf);
		return NULL;
	}
	return buf;
}

/* Open MNT/NAME (ctl, stack) with FLAGS. Anything but a regular file on a
 * FUSE mount is refused unopened, so a stray `ctl` here is safe. */
static int open_file(const char *mnt, const char *name, int flags)
{
	struct statfs fs;
	struct stat st;
	int dir, fd = -1;

	dir = open(mnt, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dir < 0 || fstatfs(dir, &fs) < 0) {
		fprintf(stderr, "gmem: %s: %s\n", mnt, strerror(errno));
	} else if (fs.f_type != FUSE_SUPER_MAGIC ||
		   fstatat(dir, name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		   !S_ISREG(st.st_mode)) {
		fprintf(stderr, "gmem: %s is not a gmemfs mount\n", mnt);
	} else {
		fd = openat(dir, name, flags | O_NOCTTY | O_CLOEXEC);
		if (fd < 0)
			fprintf(stderr, "gmem: %s/%s: %s\n", mnt, name,
				strerror(errno));
	}
	if (dir >= 0)
		close(dir);
	return fd;
}

/* No retry on EINTR: a write failing with it is the daemon's answer (a
 * run stopped), never a signal of ours that interrupted nothing. */
static int write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);

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

/* The verbs that run the guest and answer a stop line. */
static bool is_run_verb(const char *verb)
{
	return strcmp(verb, "run") == 0 || strcmp(verb, "step") == 0;
}

/* Ctrl-C on `gmem run`: a signal we catch (and nothing else) makes the
 * kernel send FUSE's INTERRUPT for the write, and the daemon answers the
 * stopped run with EINTR; the stop line is then printed as for any stop. */
static void ignore_signal(int sig)
{
	(void)sig;
}

static void catch_interrupt(void)
{
	struct sigaction sa = {.sa_handler = ignore_signal};

	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
}

/* Copy the answer to stdout until EOF. Returns 0, 1 when it was "false\n"
 * (for is_mapped and is_available), or -1 after saying why it failed. */
static int print_answer(int fd)
{
	char buf[65536];
	bool is_false = false;
	size_t total = 0;
	ssize_t n;

	while ((n = read_retry(fd, buf, sizeof(buf))) > 0) {
		if (total == 0)
			is_false = n == 6 && memcmp(buf, "false\n", 6) == 0;
		total += (size_t)n;
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
	return is_false && total == 6;
}

/* The write failed with ERROR: print the answer's "error: MESSAGE" as
 * "gmem: MESSAGE", or strerror(ERROR) when there is none to read. A
 * stop line (a MESSAGE of run or step not starting with "VERB: ", as
 * their other errors do) is printed as it is. */
static void print_error(int fd, int error, const char *verb)
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
	if (is_run_verb(verb) && !(strncmp(msg, verb, strlen(verb)) == 0 &&
				   strncmp(msg + strlen(verb), ": ", 2) == 0))
		fprintf(stderr, "%.*s\n", (int)strcspn(msg, "\n"), msg);
	else
		fprintf(stderr, "gmem: %.*s\n", (int)strcspn(msg, "\n"), msg);
}

/* `help [VERB]` answered here from the daemon's table, as ctl would:
 * 0, or 1 after "gmem: help: MESSAGE". */
static int help(char **argv, int argc)
{
	const struct gm_cmd *cmd;
	struct gm_error err = {0};
	struct gm_line toks = {0};
	struct gm_args args;
	struct gm_text out;
	size_t len, used;
	char *line;
	int rc;

	gm_text_init(&out);
	line = command_line(argv, argc, &len);
	if (!line) {
		rc = gm_fail(&err, ENOMEM, "out of memory");
		goto out;
	}
	rc = gm_tokenize(line, len - 1, &toks, &err);
	if (rc < 0)
		goto out;
	cmd = gm_cmd_lookup(gmem_verbs, gmem_nverbs, toks.tok, toks.n, &used);
	if (!cmd) { /* a table without help: the build is broken */
		rc = gm_fail(&err, ENOSYS, "not in this build");
		goto out;
	}
	rc = gm_args_split(cmd, toks.tok + used, toks.n - used, &args, &err);
	if (rc == 0)
		rc = gm_cmd_help_text(gmem_verbs, gmem_nverbs, toks.tok + used,
				      args.npos, &out, &err);
	if (rc == 0)
		rc = gm_text_status(&out);
	if (rc == 0 && out.len > 0 &&
	    (fwrite(out.buf, 1, out.len, stdout) != out.len ||
	     fflush(stdout) != 0))
		rc = gm_fail(&err, errno, "stdout: %s", strerror(errno));
out:
	if (rc < 0)
		fprintf(stderr, "gmem: %s%s\n",
			strncmp(err.msg, "help: ", 6) ? "help: " : "", err.msg);
	gm_line_free(&toks);
	gm_text_free(&out);
	free(line);
	return rc < 0;
}

/* gmem --help: the usage, then the verbs of the command language. */
static int full_help(void)
{
	fputs(USAGE "\n"
		    "Runs VERB on the gmemfs mount at MOUNTPOINT (else "
		    "$GMEMFS_MOUNT, else .)\n"
		    "and prints its answer; `gmem stack` lists the stack. "
		    "The verbs (gmem(1)):\n",
	      stdout);
	for (size_t i = 0; i < gmem_nverbs; i++)
		printf("  %s\n", gmem_verbs[i]->usage);
	return fflush(stdout) != 0 || ferror(stdout);
}

/* A bare `gmem stack`: the stack file's listing, as `cat MNT/stack`. */
static int list_stack(const char *mnt)
{
	int fd = open_file(mnt, "stack", O_RDONLY);
	int rc;

	if (fd < 0)
		return 1;
	rc = print_answer(fd);
	close(fd);
	return rc < 0;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {NULL, 0, NULL, 0},
	};
	const char *mnt = getenv("GMEMFS_MOUNT");
	char *line = NULL;
	size_t len;
	int opt, fd, rc, status = 1;

	/* '+': options end at the verb, so `stack read -0x8` works. */
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "+C:hV", longopts, NULL)) != -1) {
		if (opt == 'C')
			mnt = optarg;
		else if (opt == 'h')
			return full_help();
		else if (opt == 'V')
			return printf("gmem %s\n", GMEMFS_VERSION) < 0;
		else
			break;
	}
	if (opt == '?' && optopt == 'C')
		fputs("gmem: -C needs a MOUNTPOINT\n", stderr);
	else if (opt == '?' && optopt)
		fprintf(stderr, "gmem: unknown option -%c\n", optopt);
	else if (opt == '?')
		fprintf(stderr, "gmem: unknown option %s\n", argv[optind - 1]);
	if (opt != -1 || optind == argc) {
		fputs(USAGE, stderr);
		return 2;
	}
	/* Snapshot files are read here, without a mount, and so is help. */
	if (strcmp(argv[optind], "snapshot") == 0)
		return gmem_snapshot(argc - optind - 1, argv + optind + 1,
				     USAGE);
	if (strcmp(argv[optind], "help") == 0)
		return help(argv + optind, argc - optind);
	if (mnt == NULL || *mnt == '\0')
		mnt = ".";
	if (argc - optind == 1 && strcmp(argv[optind], "stack") == 0)
		return list_stack(mnt);

	line = command_line(argv + optind, argc - optind, &len);
	if (line == NULL) {
		fprintf(stderr, "gmem: %s\n", strerror(ENOMEM));
		return 1;
	}
	fd = open_file(mnt, "ctl", O_RDWR);
	if (fd < 0)
		goto out;
	if (is_run_verb(argv[optind]))
		catch_interrupt();
	rc = write_all(fd, line, len);
	if (rc < 0) {
		print_error(fd, -rc, argv[optind]);
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
