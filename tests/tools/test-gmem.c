/*
 * gmem's quoting against the real command language: every argv element must
 * reach the verb as one token with exactly its bytes. Includes tools/gmem.c
 * (its main renamed) to reach the static command_line; prints TAP.
 */
#define main gmem_main
#include "gmem.c"
#undef main

#include <sys/wait.h>

#include "arch.h"
#include "cmd/cmd.h"
#include "guest.h"
#include "memory.h"
#include "test.h"

struct gm_error test_err;

#define BASE 0x10000ULL

struct fixture {
	struct gm_guest *g;
	struct gm_cmd_ctx *c;
	struct gm_text out;
};

static void fixture_open(struct fixture *f)
{
	OK(gm_guest_open(gm_arch_find("x86_64"), &f->g, ERR));
	f->c = gm_cmd_ctx_new(f->g);
	ASSERT(f->c != NULL);
	gm_text_init(&f->out);
}

static void fixture_close(struct fixture *f)
{
	gm_text_free(&f->out);
	gm_cmd_ctx_free(f->c);
	gm_guest_close(f->g);
}

/* Run ARGV (NULL-terminated) as gmem sends it; the answer in F->out. */
static int run_argv(struct fixture *f, char **argv)
{
	size_t len;
	int argc = 0, rc;
	char *line;

	while (argv[argc] != NULL)
		argc++;
	line = command_line(argv, argc, &len);
	ASSERT(line != NULL);
	gm_text_reset(&f->out);
	memset(ERR, 0, sizeof(*ERR));
	rc = gm_cmd_run(f->c, NULL, line, len, &f->out, ERR);
	free(line);
	return rc;
}

static void expect_line(char **argv, const char *want)
{
	size_t len;
	int argc = 0;
	char *line;

	while (argv[argc] != NULL)
		argc++;
	line = command_line(argv, argc, &len);
	ASSERT(line != NULL);
	ASSERT_EQ(len, strlen(line));
	ASSERT_STR(line, want);
	free(line);
}

TEST(plain_arguments_go_as_they_are)
{
	expect_line((char *[]){"map", "0x1000", "4k", "rw-", "[heap]", NULL},
		    "map 0x1000 4k rw- [heap]\n");
	expect_line((char *[]){"stack", "read", "-0x8", NULL},
		    "stack read -0x8\n");
	expect_line((char *[]){"search", "41", "#x", "é", NULL},
		    "search 41 #x é\n");
}

TEST(arguments_with_blanks_quotes_or_controls_are_quoted)
{
	expect_line(
	    (char *[]){"map", "0x1000", "0x1000", "rw-", "my label", NULL},
	    "map 0x1000 0x1000 rw- \"my label\"\n");
	expect_line((char *[]){"string", "0x1", "a\"b\\c", "", NULL},
		    "string 0x1 \"a\\\"b\\\\c\" \"\"\n");
	expect_line((char *[]){"string", "0x1", "a\tb\nc\x01\x7f\x80", NULL},
		    "string 0x1 \"a\\tb\\nc\\x01\\x7f\x80\"\n");
	expect_line((char *[]){"string", "0x1", "\r", "\x7f", NULL},
		    "string 0x1 \"\\x0d\" \"\\x7f\"\n");
	expect_line((char *[]){"#help", NULL}, "\"#help\"\n");
}

TEST(keywords_stay_keywords_with_their_value_quoted)
{
	expect_line((char *[]){"find_free_space", "4k", "min_addr=0x20000",
			       "a_1=x y", "Key=v", "1a=b", "max_addr=", NULL},
		    "find_free_space 4k min_addr=0x20000 a_1=\"x y\" Key=v "
		    "1a=b max_addr=\n");
}

TEST(verb_starting_with_hash_is_not_a_comment)
{
	struct fixture f;

	fixture_open(&f);
	FAILS(EINVAL, run_argv(&f, (char *[]){"#help", NULL}));
	fixture_close(&f);
}

TEST(label_with_blank_is_one_argument)
{
	struct fixture f;

	fixture_open(&f);
	OK(run_argv(&f, (char *[]){"map", "0x10000", "0x1000", "rw-",
				   "my label", NULL}));
	OK(run_argv(&f, (char *[]){"show_mapinfo", NULL}));
	ASSERT_STR(f.out.buf,
		   "0000000000010000-0000000000011000 rw- my label\n");
	fixture_close(&f);
}

TEST(keyword_value_reaches_the_verb)
{
	struct fixture f;

	fixture_open(&f);
	OK(run_argv(&f, (char *[]){"find_free_space", "0x1000",
				   "min_addr=0x23000", NULL}));
	ASSERT_STR(f.out.buf, "0x23000\n");
	fixture_close(&f);
}

/* Bytes 1..255, half of them the ones the tokenizer treats specially. */
static size_t random_arg(uint64_t *seed, char *buf, size_t max)
{
	static const char special[] = " \t\n\"\\#=a_0x\x01\x7f\x80\xff";
	size_t len = 0, want;

	*seed ^= *seed << 13, *seed ^= *seed >> 7, *seed ^= *seed << 17;
	want = *seed % max;
	for (len = 0; len < want; len++) {
		*seed ^= *seed << 13, *seed ^= *seed >> 7, *seed ^= *seed << 17;
		if (*seed & 1)
			buf[len] =
			    special[(*seed >> 8) % (sizeof(special) - 1)];
		else
			buf[len] = (char)(1 + (*seed >> 8) % 255);
	}
	buf[len] = '\0';
	return len;
}

TEST(any_bytes_round_trip_through_the_tokenizer)
{
	char arg[64], back[sizeof(arg) + 1];
	uint64_t seed = 0x9e3779b97f4a7c15ULL;
	struct fixture f;

	fixture_open(&f);
	OK(run_argv(&f, (char *[]){"map", "0x10000", "0x1000", NULL}));
	for (int i = 0; i < 5000; i++) {
		size_t len = random_arg(&seed, arg, sizeof(arg));

		OK(run_argv(&f, (char *[]){"string", "0x10000", arg, NULL}));
		OK(gm_mem_read(f.g, BASE, back, len + 1, ERR));
		if (memcmp(back, arg, len + 1) != 0)
			TEST_FAIL("argument %d (%zu bytes) came back changed",
				  i, len);
	}
	fixture_close(&f);
}

static const struct {
	const char *name;
	void (*fn)(void);
} cases[] = {
#define CASE(name)                 \
	{                          \
#name, test_##name \
	}
    CASE(plain_arguments_go_as_they_are),
    CASE(arguments_with_blanks_quotes_or_controls_are_quoted),
    CASE(keywords_stay_keywords_with_their_value_quoted),
    CASE(verb_starting_with_hash_is_not_a_comment),
    CASE(label_with_blank_is_one_argument),
    CASE(keyword_value_reaches_the_verb),
    CASE(any_bytes_round_trip_through_the_tokenizer),
};

/* Each case in its own process, as tests/unit/runner.c does. */
int main(void)
{
	size_t n = sizeof(cases) / sizeof(cases[0]), failed = 0;

	printf("1..%zu\n", n);
	for (size_t i = 0; i < n; i++) {
		int status = 1;
		pid_t pid;

		fflush(stdout);
		pid = fork();
		if (pid == 0) {
			cases[i].fn();
			fflush(stdout);
			_exit(0);
		}
		if (pid < 0 || waitpid(pid, &status, 0) < 0)
			status = 1;
		if (status != 0)
			failed++;
		printf("%sok %zu - %s\n", status == 0 ? "" : "not ", i + 1,
		       cases[i].name);
	}
	return failed != 0;
}
