/*
 * gmemfs: options, the guest they describe, the mount and its end.
 * Try it: gmemfs -f /tmp/g &  ls /tmp/g; cat /tmp/g/maps; fusermount3 -u /tmp/g
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "elf.h"
#include "gmemfs.h"
#include "load.h"
#include "memory.h"
#include "regions.h"
#include "regs.h"
#include "run.h"
#include "snapfile.h"

#ifndef GMEMFS_VERSION
#define GMEMFS_VERSION "0.1.0"
#endif

#define EXIT_USAGE 2

static const char usage[] =
    "usage: gmemfs [OPTIONS] MOUNTPOINT\n"
    "\n"
    "  --arch NAME              x86, x86_64 (default), arm, arm64, mips,\n"
    "                           mipsel, riscv32, riscv64\n"
    "  --stack ADDR:SIZE        where the default stack goes\n"
    "  --no-stack               no stack\n"
    "  --map ADDR:SIZE[:PERMS[:LABEL]]\n"
    "                           map a region at start (repeatable)\n"
    "  --load FILE@ADDR         copy FILE's bytes to ADDR, mapping free\n"
    "                           pages rwx (repeatable)\n"
    "  --elf FILE               load an ELF executable (its architecture\n"
    "                           unless --arch); --arg ARG adds to its argv\n"
    "  --core FILE              start as the process of an ELF core dump\n"
    "  --state FILE             start from the snapshot file FILE if it\n"
    "                           exists; write the guest to it at the end\n"
    "  -f, -d, -s, -o OPT       foreground, debug, single thread, FUSE "
    "option\n"
    "  -h, --help               this text\n"
    "  -V, --version            the version\n";

/* gmemfs's own options. fuse_opt takes a value glued on ("--map=V");
 * join_values makes "--map V" so first. -f, -d, -s and -o are libfuse's. */
enum option_key {
	KEY_ARCH,
	KEY_STACK,
	KEY_NO_STACK,
	KEY_MAP,
	KEY_LOAD,
	KEY_STATE,
	KEY_ELF,
	KEY_ARG,
	KEY_CORE,
	KEY_HELP,
	KEY_VERSION,
};

static const struct fuse_opt option_spec[] = {
    FUSE_OPT_KEY("--arch=", KEY_ARCH),
    FUSE_OPT_KEY("--stack=", KEY_STACK),
    FUSE_OPT_KEY("--no-stack", KEY_NO_STACK),
    FUSE_OPT_KEY("--map=", KEY_MAP),
    FUSE_OPT_KEY("--load=", KEY_LOAD),
    FUSE_OPT_KEY("--state=", KEY_STATE),
    FUSE_OPT_KEY("--elf=", KEY_ELF),
    FUSE_OPT_KEY("--arg=", KEY_ARG),
    FUSE_OPT_KEY("--core=", KEY_CORE),
    FUSE_OPT_KEY("-h", KEY_HELP),
    FUSE_OPT_KEY("--help", KEY_HELP),
    FUSE_OPT_KEY("-V", KEY_VERSION),
    FUSE_OPT_KEY("--version", KEY_VERSION),
    FUSE_OPT_KEY("-f", FUSE_OPT_KEY_KEEP),
    FUSE_OPT_KEY("-d", FUSE_OPT_KEY_KEEP),
    FUSE_OPT_KEY("-s", FUSE_OPT_KEY_KEEP),
    FUSE_OPT_END,
};

/* The options that shape the guest (--map, --load, --elf), in
 * command-line order. */
struct setup_step {
	enum option_key key;
	const char *arg;
};

struct options {
	const char *arch;  /* NULL: the state file's, else x86_64 */
	const char *stack; /* ADDR:SIZE, or NULL for the default */
	bool no_stack;
	struct setup_step *steps;
	size_t nsteps;
	const char *mountpoint;
	const char *elf;   /* --elf FILE, or NULL */
	const char **args; /* its --arg values, in order */
	size_t nargs;
	const char *core;      /* --core FILE, or NULL */
	const char *state;     /* --state FILE as given */
	char *state_path;      /* and made absolute (we chdir to /) */
	int state_lock;	       /* its FILE.lock, or -1 */
	struct fuse_args fuse; /* the arguments, then libfuse's */
	struct fuse_args kept; /* the strings above point into */
	bool help, version;
};

static void bad_option(const char *option, const char *arg, const char *why)
{
	if (arg)
		fprintf(stderr, "gmemfs: %s %s: %s\n", option, arg, why);
	else
		fprintf(stderr, "gmemfs: %s: %s\n", option, why);
}

/* A file option's failure: "gmemfs: --elf PATH: WHY", with PATH taken off
 * WHY where the core's message starts with it. */
static void bad_file(const char *option, const char *path, const char *why)
{
	size_t len = strlen(path);

	if (!strncmp(why, path, len) && !strncmp(why + len, ": ", 2))
		why += len + 2;
	bad_option(option, path, why);
}

/* Whether ARG names an option of ours that takes a value ("--map"). */
static bool takes_value(const char *arg)
{
	for (const struct fuse_opt *o = option_spec; o->templ; o++) {
		size_t len = strlen(o->templ);

		if (o->templ[len - 1] == '=' && strlen(arg) == len - 1 &&
		    !strncmp(arg, o->templ, len - 1))
			return true;
	}
	return false;
}

/* ARGV into OUT with each "--opt VALUE" of ours as "--opt=VALUE"; -o
 * keeps its value beside it. Returns false after naming an option whose
 * value is missing. "--" is refused as an unknown option. */
static bool join_values(int argc, char **argv, struct fuse_args *out)
{
	char *joined;
	int rc;

	for (int i = 0; i < argc; i++) {
		const char *arg = argv[i];
		bool value = i > 0 && (takes_value(arg) || !strcmp(arg, "-o"));

		if (i > 0 && !strcmp(arg, "--")) {
			bad_option(arg, NULL, "unknown option");
			return false;
		}
		if (value && i + 1 == argc) {
			bad_option(arg, NULL, "needs a value");
			return false;
		}
		if (!value || !strcmp(arg, "-o")) {
			rc = fuse_opt_add_arg(out, arg);
			if (rc == 0 && value)
				rc = fuse_opt_add_arg(out, argv[++i]);
		} else {
			joined = malloc(strlen(arg) + strlen(argv[i + 1]) + 2);
			if (!joined)
				return false;
			sprintf(joined, "%s=%s", arg, argv[++i]);
			rc = fuse_opt_add_arg(out, joined);
			free(joined);
		}
		if (rc)
			return false;
	}
	return true;
}

/* A copy of TEXT that lives as long as OPTS, or NULL when out of
 * memory: fuse_opt frees the arguments it hands us. */
static const char *keep(struct options *opts, const char *text)
{
	if (fuse_opt_add_arg(&opts->kept, text))
		return NULL;
	return opts->kept.argv[opts->kept.argc - 1];
}

/* fuse_opt's call for each option of ours, each it does not know, and
 * each non-option. */
static int option_proc(void *data, const char *arg, int key,
		       struct fuse_args *outargs)
{
	struct options *opts = data;
	const char *value = strchr(arg, '=');

	(void)outargs;
	/* Ours take what follows their '='; a mount point is whole. */
	if (key == FUSE_OPT_KEY_NONOPT || !value)
		value = arg;
	else
		value++;
	if (key != FUSE_OPT_KEY_OPT && !(value = keep(opts, value)))
		return -1;
	switch (key) {
	case KEY_ARCH:
		opts->arch = value;
		return 0;
	case KEY_STACK:
		opts->stack = value;
		return 0;
	case KEY_NO_STACK:
		opts->no_stack = true;
		return 0;
	case KEY_MAP:
	case KEY_LOAD:
		opts->steps[opts->nsteps].key = key;
		opts->steps[opts->nsteps++].arg = value;
		return 0;
	case KEY_STATE:
		opts->state = value;
		return 0;
	case KEY_ELF:
	case KEY_CORE:
		if (opts->elf || opts->core) {
			bad_option(key == KEY_ELF ? "--elf" : "--core", value,
				   "one --elf or --core makes the guest");
			return -1;
		}
		if (key == KEY_CORE) {
			opts->core = value;
			return 0;
		}
		opts->elf = value;
		opts->steps[opts->nsteps].key = key;
		opts->steps[opts->nsteps++].arg = value;
		return 0;
	case KEY_ARG:
		opts->args[opts->nargs++] = value;
		return 0;
	case KEY_HELP:
		opts->help = true;
		return 0;
	case KEY_VERSION:
		opts->version = true;
		return 0;
	case FUSE_OPT_KEY_NONOPT:
		if (opts->mountpoint) {
			bad_option(arg, NULL, "only one mountpoint is taken");
			return -1;
		}
		opts->mountpoint = value;
		return 0;
	}
	/* An option of -o goes to libfuse, which checks it. */
	if (arg[0] != '-')
		return 1;
	bad_option(arg, NULL, "unknown option");
	return -1;
}

/* Parse ARGV into OPTS; libfuse's own options are left in OPTS->fuse.
 * Returns false after saying what is wrong. */
static bool parse_options(int argc, char **argv, struct options *opts)
{
	if (!join_values(argc, argv, &opts->fuse))
		return false;
	if (fuse_opt_parse(&opts->fuse, opts, option_spec, option_proc))
		return false;
	if (!opts->mountpoint && !opts->help && !opts->version) {
		fprintf(stderr, "gmemfs: no mountpoint given (see --help)\n");
		return false;
	}
	if (opts->nargs && !opts->elf) {
		bad_option("--arg", opts->args[0], "needs --elf");
		return false;
	}
	/* The dump holds its own stack; SP and every region come from it. */
	if (opts->core && (opts->stack || opts->no_stack)) {
		bad_option(opts->stack ? "--stack" : "--no-stack", opts->stack,
			   "a --core guest has the dump's stack");
		return false;
	}
	return true;
}

/* Split "A:B" at the first ':' into two numbers. */
static int parse_pair(const char *text, char sep, uint64_t *a, uint64_t *b,
		      const char **rest, struct gm_error *err)
{
	const char *colon = strchr(text, sep);
	char head[64];
	int rc;

	if (!colon || (size_t)(colon - text) >= sizeof(head))
		return gm_fail(err, EINVAL, "expected ADDR%cSIZE", sep);
	memcpy(head, text, colon - text);
	head[colon - text] = '\0';
	rc = gm_parse_u64(head, false, a, err);
	if (rc)
		return rc;
	*rest = strchr(colon + 1, ':');
	if (!*rest)
		return gm_parse_u64(colon + 1, true, b, err);
	if ((size_t)(*rest - colon - 1) >= sizeof(head))
		return gm_fail(err, EINVAL, "bad size");
	memcpy(head, colon + 1, *rest - colon - 1);
	head[*rest - colon - 1] = '\0';
	(*rest)++;
	return gm_parse_u64(head, true, b, err);
}

static int setup_stack(struct gm_guest *g, const struct options *opts,
		       struct gm_error *err)
{
	const struct gm_arch *arch = gm_guest_arch(g);
	uint64_t addr = arch->stack_addr, size = arch->stack_size;
	const char *rest = NULL;
	int rc;

	if (opts->stack) {
		rc = parse_pair(opts->stack, ':', &addr, &size, &rest, err);
		if (rc)
			return rc;
		if (rest)
			return gm_fail(err, EINVAL, "expected ADDR:SIZE");
	}
	rc = gm_map(g, addr, size, GM_PERM_R | GM_PERM_W, "[stack]", 7, err);
	if (rc)
		return rc;
	return gm_reg_set_sp(g, addr + size, err);
}

/* Add BYTES as one quoted token of the command language to LINE. */
static void add_token(struct gm_text *line, const char *bytes, size_t len)
{
	gm_text_add(line, " \"", 2);
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)bytes[i];

		if (ch == '"' || ch == '\\')
			gm_text_printf(line, "\\%c", ch);
		else if (ch < 0x20 || ch >= 0x7f)
			gm_text_printf(line, "\\x%02x", ch);
		else
			gm_text_add(line, bytes + i, 1);
	}
	gm_text_add(line, "\"", 1);
}

/*
 * --map ADDR:SIZE[:PERMS[:LABEL]] runs as the command `map ADDR SIZE
 * [PERMS [LABEL]]`, each field one quoted token (LABEL is the rest, ':'
 * and all), so the command checks and makes it. CMD's log is thrown away.
 */
static int setup_map(struct gm_cmd_ctx *cmd, const char *arg,
		     struct gm_error *err)
{
	static const char prefix[] = "map: ";
	struct gm_text line, answer;
	const char *field = arg;
	size_t fields = 0;
	int rc;

	if (!strchr(arg, ':'))
		return gm_fail(err, EINVAL, "expected ADDR:SIZE");
	gm_text_init(&line);
	gm_text_init(&answer);
	gm_text_add(&line, "map", 3);
	while (field) {
		const char *colon = ++fields < 4 ? strchr(field, ':') : NULL;

		add_token(&line, field,
			  colon ? (size_t)(colon - field) : strlen(field));
		field = colon ? colon + 1 : NULL;
	}
	rc = gm_text_status(&line);
	if (rc)
		gm_fail(err, ENOMEM, "out of memory");
	else
		rc = gm_cmd_run(cmd, NULL, line.buf, line.len, &answer, err);
	/* The option names the command: its message need not. */
	if (rc && !strncmp(err->msg, prefix, strlen(prefix)))
		memmove(err->msg, err->msg + strlen(prefix),
			strlen(err->msg) - strlen(prefix) + 1);
	gm_text_free(&answer);
	gm_text_free(&line);
	return rc;
}

/* Map the free pages of [addr, addr+size) rwx with LABEL. */
static int map_free_pages(struct gm_guest *g, uint64_t addr, uint64_t size,
			  const char *label, struct gm_error *err)
{
	uint64_t page = gm_guest_page_size(g);
	uint64_t at = addr & ~(page - 1), last = addr + (size - 1);
	int rc;

	while (at <= last) {
		const struct gm_region *r = gm_region_find(g, at);
		uint64_t end = at;

		if (r) {
			if (r->start + (r->size - 1) >= last)
				return 0;
			at = r->start + r->size;
			continue;
		}
		/* Grow [at, end] page by page up to the next region. */
		while (end + (page - 1) < last &&
		       !gm_region_find(g, end + page))
			end += page;
		rc = gm_map(g, at, end - at + page, GM_PERM_ALL, label,
			    strlen(label), err);
		if (rc || end + page == 0)
			return rc;
		at = end + page;
	}
	return 0;
}

/* --load FILE@ADDR */
static int setup_load(struct gm_guest *g, const char *arg, struct gm_error *err)
{
	const char *at = strrchr(arg, '@'), *base;
	char *path = NULL, *bytes = NULL;
	size_t len = 0, cap = 0, got;
	uint64_t addr;
	FILE *f = NULL;
	int rc;

	if (!at)
		return gm_fail(err, EINVAL, "expected FILE@ADDR");
	rc = gm_parse_u64(at + 1, false, &addr, err);
	if (rc)
		return rc;
	path = strndup(arg, at - arg);
	if (!path)
		return gm_fail(err, ENOMEM, "out of memory");
	f = fopen(path, "rb");
	if (!f) {
		rc = gm_fail(err, EINVAL, "%s", strerror(errno));
		goto out;
	}
	do {
		if (len == cap) {
			char *more =
			    realloc(bytes, cap = cap ? 2 * cap : 65536);

			if (!more) {
				rc = gm_fail(err, ENOMEM, "out of memory");
				goto out;
			}
			bytes = more;
		}
		got = fread(bytes + len, 1, cap - len, f);
		len += got;
	} while (got);
	if (ferror(f)) {
		rc = gm_fail(err, EINVAL, "cannot read the file");
		goto out;
	}
	if (!len)
		goto out;
	if (addr + (len - 1) < addr ||
	    addr + (len - 1) > gm_guest_last_addr(g)) {
		rc = gm_fail(err, EINVAL, "the file passes the address space");
		goto out;
	}
	base = strrchr(path, '/');
	rc = map_free_pages(g, addr, len, base ? base + 1 : path, err);
	if (!rc)
		rc = gm_mem_write(g, addr, bytes, len, err);
out:
	if (f)
		fclose(f);
	free(bytes);
	free(path);
	return rc;
}

/* --elf FILE [--arg ARG]...: load_elf, at the default base, with the
 * initial stack below SP. */
static int setup_elf(struct gm_guest *g, const struct options *opts,
		     struct gm_error *err)
{
	struct gm_elf_load load = {.args = opts->args, .nargs = opts->nargs};
	uint64_t entry;

	return gm_load_elf(g, opts->elf, &load, &entry, err);
}

/* The guest the options describe; exits with a message when they are bad. */
static struct gm_guest *guest_from_options(const struct options *opts)
{
	const struct gm_arch *arch = gm_arch_find(opts->arch);
	struct gm_cmd_ctx *cmd = NULL;
	struct gm_error err = {0};
	struct gm_guest *g;

	if (gm_guest_open(arch, &g, &err)) {
		fprintf(stderr, "gmemfs: %s\n", err.msg);
		return NULL;
	}
	if (opts->core) { /* the dump's regions, stack and registers */
		if (gm_load_core(g, opts->core, &err)) {
			bad_file("--core", opts->core, err.msg);
			goto fail;
		}
	} else if (!opts->no_stack && setup_stack(g, opts, &err)) {
		bad_option("--stack", opts->stack, err.msg);
		goto fail;
	}
	/* The options' commands are not the mount's: a log of their own. */
	cmd = gm_cmd_ctx_new(g);
	if (!cmd) {
		fprintf(stderr, "gmemfs: out of memory\n");
		goto fail;
	}
	for (size_t i = 0; i < opts->nsteps; i++) {
		const struct setup_step *s = &opts->steps[i];
		int rc = s->key == KEY_MAP   ? setup_map(cmd, s->arg, &err)
			 : s->key == KEY_ELF ? setup_elf(g, opts, &err)
					     : setup_load(g, s->arg, &err);

		if (rc && s->key == KEY_ELF) {
			bad_file("--elf", s->arg, err.msg);
			goto fail;
		}
		if (rc) {
			bad_option(s->key == KEY_MAP ? "--map" : "--load",
				   s->arg, err.msg);
			goto fail;
		}
	}
	gm_cmd_ctx_free(cmd);
	return g;
fail:
	gm_cmd_ctx_free(cmd);
	gm_guest_close(g);
	return NULL;
}

/*
 * The guest: the one --state FILE holds if it exists, else the one the
 * options describe. *STATUS is the exit status when there is none: a bad
 * state file is 1, bad options 2.
 */
static struct gm_guest *guest_open(struct options *opts, int *status)
{
	const struct gm_arch *arch = NULL;
	struct gm_error err = {0};
	struct gm_guest *g = NULL;

	*status = EXIT_USAGE;
	if (opts->arch && !(arch = gm_arch_find(opts->arch))) {
		bad_option("--arch", opts->arch, "unknown architecture");
		return NULL;
	}
	if (opts->state) {
		*status = EXIT_FAILURE;
		if (gmfs_state_prepare(opts->state, &opts->state_path,
				       &opts->state_lock, &err) ||
		    gmfs_state_load(opts->state_path, arch, &g, &err)) {
			fprintf(stderr, "gmemfs: --state %s: %s\n", opts->state,
				err.msg);
			return NULL;
		}
		if (g && (opts->nsteps || opts->stack || opts->no_stack ||
			  opts->core))
			fprintf(stderr,
				"gmemfs: --state %s: starting from it; "
				"--stack, --no-stack, --map, --load, --elf "
				"and --core shape only a new guest\n",
				opts->state);
		if (g)
			return g;
		*status = EXIT_USAGE;
	}
	if (!opts->arch && (opts->elf || opts->core)) {
		/* --elf and --core without --arch: the file's */
		if (gm_elf_arch_of_file(opts->elf ? opts->elf : opts->core,
					&arch, &err)) {
			bad_file(opts->elf ? "--elf" : "--core",
				 opts->elf ? opts->elf : opts->core, err.msg);
			return NULL;
		}
		opts->arch = arch->name;
	}
	if (!opts->arch)
		opts->arch = "x86_64";
	return guest_from_options(opts);
}

/*
 * SIGTERM, SIGINT and SIGHUP during a run: libfuse's handler ends the
 * loop, which then waits for its threads, one of them in the run. So the
 * signal also stops the guest, and the run's writer gets `stopped` before
 * the state is written. gm_guest_stop takes a mutex, which a handler may
 * not: the handler writes a byte to a pipe whose reader thread stops the
 * guest. A handler sees no context, hence these statics (libfuse's own
 * handler works the same way).
 */
static const int exit_signals[] = {SIGTERM, SIGINT, SIGHUP};
static struct sigaction fuse_actions[3];
static int stop_pipe[2] = {-1, -1};

static void exit_signal(int sig)
{
	int saved = errno;
	size_t i = 0;

	if (write(stop_pipe[1], "s", 1) < 0) {
		/* a full pipe has stops waiting already */
	}
	while (i < 3 && exit_signals[i] != sig)
		i++;
	if (i < 3 && fuse_actions[i].sa_handler != SIG_DFL &&
	    fuse_actions[i].sa_handler != SIG_IGN)
		fuse_actions[i].sa_handler(sig);
	errno = saved;
}

static void *stop_reader(void *arg)
{
	struct gmfs *fs = arg;
	char b;

	while (read(stop_pipe[0], &b, 1) == 1 && b == 's')
		gm_guest_stop(fs->guest);
	return NULL;
}

/* Put exit_signal before libfuse's handlers; false if it cannot. */
static bool stops_start(struct gmfs *fs, pthread_t *reader)
{
	struct sigaction sa = {.sa_handler = exit_signal};

	if (pipe(stop_pipe) < 0)
		return false;
	if (pthread_create(reader, NULL, stop_reader, fs) != 0) {
		close(stop_pipe[0]);
		close(stop_pipe[1]);
		return false;
	}
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < 3; i++)
		sigaction(exit_signals[i], &sa, &fuse_actions[i]);
	return true;
}

/* Give libfuse its handlers back (it removes only its own) and end the
 * reader. */
static void stops_end(pthread_t reader)
{
	for (size_t i = 0; i < 3; i++)
		sigaction(exit_signals[i], &fuse_actions[i], NULL);
	if (write(stop_pipe[1], "q", 1) == 1)
		pthread_join(reader, NULL);
	close(stop_pipe[0]);
	close(stop_pipe[1]);
}

/* Serve until unmounted or signalled. Returns the exit status: usage
 * errors (libfuse refused an -o option; it said which) are EXIT_USAGE. */
static int serve(struct gmfs *fs, struct options *opts)
{
	struct fuse_cmdline_opts fuse_opts = {0};
	struct fuse_loop_config *loop = NULL;
	struct gm_error err = {0};
	pthread_t reader;
	bool stopping;
	int rc = -1;

	if (fuse_parse_cmdline(&opts->fuse, &fuse_opts))
		return EXIT_USAGE;
	fs->se = fuse_session_new(&opts->fuse, &gmfs_ops, sizeof(gmfs_ops), fs);
	if (!fs->se) {
		free(fuse_opts.mountpoint);
		return EXIT_USAGE;
	}
	if (fuse_set_signal_handlers(fs->se))
		goto out_session;
	/* libfuse made the mount point absolute: we unmount it from /. */
	if (fuse_session_mount(fs->se, fuse_opts.mountpoint))
		goto out_signals;
	fuse_daemonize(fuse_opts.foreground);
	/* After the fork of fuse_daemonize, which keeps no thread. */
	stopping = stops_start(fs, &reader);
	if (!stopping)
		fprintf(stderr, "gmemfs: %s\n", strerror(errno));
	else if (fuse_opts.singlethread) {
		rc = fuse_session_loop(fs->se);
	} else {
		loop = fuse_loop_cfg_create();
		if (loop) {
			/* Invalidations wait on page locks of requests in
			 * flight: keep threads free to serve those. */
			fuse_loop_cfg_set_max_threads(loop, 64);
			fuse_loop_cfg_set_clone_fd(loop, fuse_opts.clone_fd);
			rc = fuse_session_loop_mt(fs->se, loop);
			fuse_loop_cfg_destroy(loop);
		}
	}
	/* A signal ends the loop with its number: a clean exit. */
	if (rc > 0)
		rc = 0;
	/* Before the unmount, so that the mount going away tells a script
	 * that was waiting for it that the state is written. */
	if (fs->state_path &&
	    gmfs_state_store(fs->guest, fs->state_path, &err) < 0) {
		fprintf(stderr, "gmemfs: --state %s: %s\n", fs->state_path,
			err.msg);
		rc = -1;
	}
	if (fs->state_lock >= 0) /* the next daemon on FILE may start */
		close(fs->state_lock);
	fs->state_lock = -1;
	fuse_session_unmount(fs->se);
	if (stopping)
		stops_end(reader);
out_signals:
	fuse_remove_signal_handlers(fs->se);
out_session:
	fuse_session_destroy(fs->se);
	free(fuse_opts.mountpoint);
	return rc ? EXIT_FAILURE : EXIT_SUCCESS;
}

int main(int argc, char **argv)
{
	struct setup_step steps[argc];
	const char *args[argc];
	struct options opts = {
	    .state_lock = -1,
	    .steps = steps,
	    .args = args,
	    .fuse = FUSE_ARGS_INIT(0, NULL),
	    .kept = FUSE_ARGS_INIT(0, NULL),
	};
	struct gmfs fs = {.state_lock = -1};
	int status;

	/* A shell's `&` starts us with SIGINT ignored, and libfuse leaves an
	 * ignored signal alone; SPEC wants SIGINT and SIGTERM to end us
	 * wherever, also while --state waits for FILE.lock (before the
	 * mount, where ending at once leaves nothing behind). */
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	if (!parse_options(argc, argv, &opts)) {
		status = EXIT_USAGE;
		goto out;
	}
	if (opts.help || opts.version) {
		if (opts.help)
			fputs(usage, stdout);
		else
			printf("gmemfs %s (libfuse %s)\n", GMEMFS_VERSION,
			       fuse_pkgversion());
		status = EXIT_SUCCESS;
		goto out;
	}
	fuse_opt_add_arg(&opts.fuse, opts.mountpoint);
	fs.mounted = time(NULL);
	fs.guest = guest_open(&opts, &status);
	if (!fs.guest) {
		if (opts.state_lock >= 0)
			close(opts.state_lock);
		goto out;
	}
	fs.state_path = opts.state_path;
	fs.state_lock = opts.state_lock;
	fs.cmd = gm_cmd_ctx_new(fs.guest);
	if (fs.cmd) {
		gmfs_times_start(&fs);
		status = serve(&fs, &opts);
	} else {
		fprintf(stderr, "gmemfs: out of memory\n");
		status = EXIT_FAILURE;
	}
	gm_cmd_ctx_free(fs.cmd);
	gmfs_free_all(&fs);
	gm_guest_close(fs.guest);
	if (fs.state_lock >= 0) /* never served: nothing to write */
		close(fs.state_lock);
out:
	free(opts.state_path);
	fuse_opt_free_args(&opts.fuse);
	fuse_opt_free_args(&opts.kept);
	return status;
}
