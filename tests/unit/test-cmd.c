/*
 * Unit tests of the command language (core/cmd/, SPEC §4): every verb's
 * answer, every errno row, quoting, bound control files, the log and the
 * texts of maps, info and stack, run on real guests through gm_cmd_run.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "cmd/cmd.h"
#include "guest.h"
#include "memory.h"
#include "regions.h"
#include "regs.h"
#include "snapshot.h"
#include "test.h"

#define STACK64	    0x7ffffffde000ULL
#define STACK64_TOP 0x7ffffffff000ULL
#define STACK32	    0x7ff0d000ULL
#define STACK32_TOP 0x7ff3d000ULL

struct fx {
	struct gm_guest *g;
	struct gm_cmd_ctx *c;
	struct gm_text out;
	struct gm_error err;
};

/* A guest of ARCH with SPEC §1's default stack and SP at its top. */
static void fx_open(struct fx *f, const char *arch_name)
{
	const struct gm_arch *arch = gm_arch_find(arch_name);
	uint64_t base = arch->address_bits == 64 ? STACK64 : STACK32;
	uint64_t top = arch->address_bits == 64 ? STACK64_TOP : STACK32_TOP;

	memset(f, 0, sizeof(*f));
	OK(gm_guest_open(arch, &f->g, ERR));
	OK(gm_map(f->g, base, top - base, GM_PERM_R | GM_PERM_W, "[stack]", 7,
		  ERR));
	OK(gm_reg_set_sp(f->g, top, ERR));
	f->c = gm_cmd_ctx_new(f->g);
	ASSERT(f->c != NULL);
	gm_text_init(&f->out);
}

static void fx_close(struct fx *f)
{
	gm_text_free(&f->out);
	gm_cmd_ctx_free(f->c);
	gm_guest_close(f->g);
}

static const char *out_str(const struct fx *f)
{
	return f->out.len ? f->out.buf : "";
}

/* Run LEN bytes of TEXT through VERB's file, OUT holding the answer. */
static int fx_run_len(struct fx *f, const char *verb, const char *text,
		      size_t len)
{
	int rc;

	gm_text_reset(&f->out);
	memset(&f->err, 0, sizeof(f->err));
	rc = gm_cmd_run(f->c, verb, text, len, &f->out, &f->err);
	ASSERT_EQ(gm_text_status(&f->out), 0);
	if (rc < 0) {
		/* The answer ends with the error's one line. */
		const char *o = out_str(f), *last;
		size_t n = strlen(o);

		ASSERT(n > 0 && o[n - 1] == '\n');
		last = memrchr(o, '\n', n - 1);
		last = last ? last + 1 : o;
		ASSERT(strncmp(last, "error: ", 7) == 0);
		ASSERT_EQ(strlen(last), strlen(f->err.msg) + 8);
		ASSERT(strncmp(last + 7, f->err.msg, strlen(f->err.msg)) == 0);
		ASSERT_EQ(f->err.code, -rc);
	}
	return rc;
}

static int fx_run(struct fx *f, const char *verb, const char *text)
{
	return fx_run_len(f, verb, text, strlen(text));
}

/* TEXT runs on ctl and answers exactly WANT. */
#define RUN(f, text, want)                                                  \
	do {                                                                \
		int rc2_ = fx_run((f), NULL, (text));                       \
		if (rc2_ != 0)                                              \
			TEST_FAIL("%s: %d %s", (text), rc2_, (f)->err.msg); \
		ASSERT_STR(out_str(f), (want));                             \
	} while (0)

/* TEXT fails on ctl with ERRNO and changes nothing in the guest. */
#define RUN_FAILS(f, errno_, text)                                         \
	do {                                                               \
		char *before_ = state(f);                                  \
		int rc2_ = fx_run((f), NULL, (text));                      \
		char *after_ = state(f);                                   \
		if (rc2_ != -(errno_))                                     \
			TEST_FAIL("%s: expected -%s, got %d (%s)", (text), \
				  #errno_, rc2_, out_str(f));              \
		ASSERT_STR(after_, before_);                               \
		free(before_);                                             \
		free(after_);                                              \
	} while (0)

/* TEXT fails with ERRNO and exactly the message MSG. */
#define RUN_MSG(f, errno_, text, want_)                       \
	do {                                                  \
		RUN_FAILS((f), errno_, (text));               \
		ASSERT_STR((f)->err.msg, (want_));            \
		ASSERT_STR(out_str(f), "error: " want_ "\n"); \
	} while (0)

static uint64_t fnv(const uint8_t *p, uint64_t n)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (uint64_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 0x100000001b3ULL;
	return h;
}

/* Everything a command may change: maps, registers, snapshots, bytes. */
static char *state(struct fx *f)
{
	struct gm_text t;
	const struct gm_region *r;
	const struct gm_arch *arch = gm_guest_arch(f->g);
	size_t n;

	gm_text_init(&t);
	OK(gm_maps_text(f->g, &t));
	OK(gm_info_text(f->g, &t));
	r = gm_regions(f->g, &n);
	for (size_t i = 0; i < n; i++)
		gm_text_printf(&t, "%016" PRIx64 "\n",
			       fnv(r[i].host, r[i].size));
	for (size_t i = 0; i < arch->nregs; i++) {
		uint64_t v = 0;

		OK(gm_reg_read(f->g, &arch->regs[i], &v, ERR));
		gm_text_printf(&t, "%s=%" PRIx64 "\n", arch->regs[i].name, v);
	}
	for (size_t i = 0; i < gm_snap_count(f->g); i++)
		gm_text_printf(&t, "snap %s\n", gm_snap_at(f->g, i)->name);
	ASSERT_EQ(gm_text_status(&t), 0);
	return t.buf;
}

static char *log_text(struct fx *f)
{
	struct gm_text t;

	gm_text_init(&t);
	OK(gm_cmd_log_text(f->c, &t));
	if (!t.buf)
		return strdup("");
	return t.buf;
}

#define ASSERT_LOG(f, want)               \
	do {                              \
		char *log_ = log_text(f); \
		ASSERT_STR(log_, (want)); \
		free(log_);               \
	} while (0)

/* Tokens */

TEST(cmd_quoted_token_holds_blanks_and_escapes)
{
	struct fx f;

	fx_open(&f, "x86_64");
	RUN(&f, "map 0x1000 0x1000", "");
	RUN(&f, "string 0x1000 \"a b\\t\\\"q\\\"\\\\\\x41\\n\"", "");
	RUN(&f, "read 0x1000 11", "612062092271225c410a00\n");
	fx_close(&f);
}

TEST(cmd_tabs_and_runs_of_blanks_separate_tokens)
{
	struct fx f;

	fx_open(&f, "x86_64");
	RUN(&f, "\t map\t0x1000 \t 0x1000  r--   \t", "");
	RUN(&f, "show_mapinfo",
	    "0000000000001000-0000000000002000 r-- [mapped]\n"
	    "00007ffffffde000-00007ffffffff000 rw- [stack]\n");
	fx_close(&f);
}

TEST(cmd_quotes_join_with_unquoted_parts)
{
	struct fx f;

	fx_open(&f, "x86_64");
	RUN(&f, "map 0x1000 0x1000 rw- ab\"c d\"e", "");
	RUN(&f, "map 0x2000 0x1000 rw- \"\"", "");
	RUN(&f, "show_mapinfo",
	    "0000000000001000-0000000000002000 rw- abc de\n"
	    "0000000000002000-0000000000003000 rw- \n"
	    "00007ffffffde000-00007ffffffff000 rw- [stack]\n");
	fx_close(&f);
}

TEST(cmd_unterminated_quote_is_einval)
{
	struct fx f;

	fx_open(&f, "x86_64");
	RUN_MSG(&f, EINVAL, "map 0x1000 0x1000 rw- \"abc",
		"map: unterminated quote at byte 23");
	RUN_MSG(&f, EINVAL, "\"abc", "unterminated quote at byte 1");
	fx_close(&f);
}

TEST(cmd_bad_escape_is_einval)
{
	struct fx f;

	fx_open(&f, "x86_64");
	RUN_MSG(&f, EINVAL, "string 0x1000 \"a\\qb\"",
		"string: bad escape \"\\\\qb\\\"\": use \\\\ \\\" \\n \\t or "
		"\\xNN");
	RUN_FAILS(&f, EINVAL, "string 0x1000 \"\\x4\"");
	RUN_MSG(&f, EINVAL, "string 0x1000 \"\\x4z\"",
		"string: bad escape \"\\\\x4z\": use \\\\ \\\" \\n \\t or "
		"\\xNN");
	RUN_FAILS(&f, EINVAL, "string 0x1000 \"\\xg1\"");
	RUN_FAILS(&f, EINVAL, "string 0x1000 \"\\");
	RUN_FAILS(&f, EINVAL, "string 0x1000 \"\\r\"");
	fx_close(&f);
}

TEST(cmd_nul_byte_in_line_is_einval)
{
	struct fx f;

	fx_open(&f, "x86_64");
	ASSERT_EQ(fx_run_len(&f, NULL, "map 0x1000\0 0x1000\n", 19), -EINVAL);
	ASSERT_STR(f.err.msg, "map: NUL byte at byte 11 of the line");
	ASSERT_EQ(fx_run(&f, NULL, "is_mapped 0x1000 0x1000"), 0);
	ASSERT_STR(out_str(&f), "false\n");
	fx_close(&f);
}

TEST(cmd_escaped_nul_is_a_byte_of_the_token)
{
	struct fx f;
	const struct gm_region *r;
	size_t n;

	fx_open(&f, "x86_64");
	RUN(&f, "map 0x1000 0x1000 rw- \"a\\x00b\"", "");
	r = gm_regions(f.g, &n);
	ASSERT_EQ(r[0].label_len, 3);
	ASSERT_MEM(r[0].label, "a\0b", 3);
	RUN(&f, "show_mapinfo",
	    "0000000000001000-0000000000002000 rw- a\\x00b\n"
	    "00007ffffffde000-00007ffffffff000 rw- [stack]\n");
	RUN_MSG(&f, EINVAL, "save \"a\\x00b\"",
		"save: NAME \"a\\x00b\" holds a NUL byte");
	RUN_FAILS(&f, EINVAL, "read 0x1000 \"1\\x00\"");
	fx_close(&f);
}

TEST(cmd_blank_and_comment_lines_are_skipped_in_ctl)
{
	struct fx f;

	fx_open(&f, "x86_64");
	RUN(&f, "\n  \n\t\n# map 0x1000 0x1000\n  # also\nstack push 1\n\n",
	    "0x7fffffffeff8\n");
	ASSERT_LOG(&f, "stack push 1 -> 0x7fffffffeff8\n");
	RUN(&f, "", "");
	fx_close(&f);
}

TEST(cmd_keywords_quoted_are_positional)
{
	struct fx f;

	fx_open(&f, "x86_64");
	/* map takes no keywords: a=b is its label. */
	RUN(&f, "map 0x1000 0x1000 rw- a=b", "");
	/* map_anywhere does: quoted, min_addr=… is a label. */
	RUN(&f, "map_anywhere 0x1000 r-- \"min_addr=0\" min_addr=0x10000",
	    "0x10000\n");
	RUN(&f, "show_mapinfo",
	    "0000000000001000-0000000000002000 rw- a=b\n"
	    "0000000000010000-0000000000011000 r-- min_addr=0\n"
	    "00007ffffffde000-00007ffffffff000 rw- [stack]\n");
	RUN(&f, "save x=y", "x=y\n");
	fx_close(&f);
}

TEST(cmd_unknown_and_repeated_keywords_are_einval)
{
	struct fx f;

	fx_open(&f, "x86_64");
	RUN_MSG(&f, EINVAL, "read_ptr 0x7ffffffde000 sizes=4",
		"read_ptr: unknown keyword \"sizes=4\" (usage: read_ptr ADDR "
		"[size=1|2|4|8] [signed=true])");
	RUN_MSG(&f, EINVAL, "read_ptr 0x7ffffffde000 size=4 size=8",
		"read_ptr: keyword size= given twice");
	RUN_MSG(&f, EINVAL, "find_free_space 0x1000 alignment=",
		"find_free_space: alignment is empty");
	fx_close(&f);
}

TEST(cmd_too_many_words_is_einval)
{
	struct fx f;
	char line[256] = "map";

	fx_open(&f, "x86_64");
	for (int i = 0; i < 16; i++)
		strcat(line, " 1");
	RUN_MSG(&f, EINVAL, line, "map: more than 16 words on one line");
	fx_close(&f);
}

/* Numbers */

TEST(parse_u64_edges)
{
	uint64_t v = 0;

	OK(gm_parse_u64("18446744073709551615", false, &v, ERR));
	ASSERT_EQ(v, UINT64_MAX);
	OK(gm_parse_u64("0xffffffffffffffff", false, &v, ERR));
	ASSERT_EQ(v, UINT64_MAX);
	OK(gm_parse_u64("0XFfFf", false, &v, ERR));
	ASSERT_EQ(v, 0xffff);
	OK(gm_parse_u64("010", false, &v, ERR));
	ASSERT_EQ(v, 10);
	OK(gm_parse_u64("0", false, &v, ERR));
	ASSERT_EQ(v, 0);
	FAILS(EINVAL, gm_parse_u64("18446744073709551616", false, &v, ERR));
	ASSERT_STR(test_err.msg,
		   "number \"18446744073709551616\" is past 2^64-1");
	FAILS(EINVAL, gm_parse_u64("0x10000000000000000", false, &v, ERR));
	FAILS(EINVAL, gm_parse_u64("0x", false, &v, ERR));
	ASSERT_STR(test_err.msg,
		   "bad number \"0x\": expected 0x hex or decimal");
	FAILS(EINVAL, gm_parse_u64("", false, &v, ERR));
	ASSERT_STR(test_err.msg, "number is empty");
	FAILS(EINVAL, gm_parse_u64("-", false, &v, ERR));
	FAILS(EINVAL, gm_parse_u64("-1", false, &v, ERR));
	FAILS(EINVAL, gm_parse_u64(" 1", false, &v, ERR));
	FAILS(EINVAL, gm_parse_u64("1 ", false, &v, ERR));
	FAILS(EINVAL, gm_parse_u64("0x1g", false, &v, ERR));
	FAILS(EINVAL, gm_parse_u64("1k", false, &v, ERR));
	ASSERT_EQ(v, 0);
}

TEST(parse_u64_size_suffixes)
{
	uint64_t v = 0;

	OK(gm_parse_u64("1k", true, &v, ERR));
	ASSERT_EQ(v, 1024);
	OK(gm_parse_u64("2m", true, &v, ERR));
	ASSERT_EQ(v, 2 << 20);
	OK(gm_parse_u64("3g", true, &v, ERR));
	ASSERT_EQ(v, 3ULL << 30);
	OK(gm_parse_u64("0x10K", true, &v, ERR));
	ASSERT_EQ(v, 0x4000);
	OK(gm_parse_u64("0x3ffffffffg", true, &v, ERR));
	ASSERT_EQ(v, 0xffffffffc0000000ULL);
	OK(gm_parse_u64("4096", true, &v, ERR));
	ASSERT_EQ(v, 4096);
	FAILS(EINVAL, gm_parse_u64("0x400000000g", true, &v, ERR));
	ASSERT_STR(test_err.msg, "number \"0x400000000g\" is past 2^64-1");
	FAILS(EINVAL, gm_parse_u64("17179869184g", true, &v, ERR));
	FAILS(EINVAL, gm_parse_u64("k", true, &v, ERR));
	FAILS(EINVAL, gm_parse_u64("0xk", true, &v, ERR));
	FAILS(EINVAL, gm_parse_u64("1kk", true, &v, ERR));
	FAILS(EINVAL, gm_parse_u64("1t", true, &v, ERR));
	ASSERT_STR(test_err.msg, "bad number \"1t\": expected 0x hex or "
				 "decimal, may end in k, m or g");
}

TEST(cmd_bad_numbers_name_verb_and_token)
{
	struct fx f;

	fx_open(&f, "x86_64");
	RUN_MSG(&f, EINVAL, "read 0x1000 0x",
		"read: bad SIZE \"0x\": expected 0x hex or decimal, may end in "
		"k, m or g");
	RUN_MSG(&f, EINVAL, "map 1k 0x1000",
		"map: bad ADDR \"1k\": expected 0x hex or decimal");
	RUN_MSG(&f, EINVAL, "stack read -",
		"stack read: bad OFFSET \"-\": expected 0x hex or decimal");
	RUN_MSG(&f, EINVAL, "stack read --8",
		"stack read: bad OFFSET \"--8\": expected 0x hex or decimal");
	RUN_MSG(&f, EINVAL, "stack read 0x8000000000000000",
		"stack read: OFFSET \"0x8000000000000000\" is past 2^63-1");
	RUN_MSG(&f, EINVAL, "stack read -0x8000000000000001",
		"stack read: OFFSET \"-0x8000000000000001\" is past -2^63");
	RUN_MSG(&f, EINVAL, "is_mapped 0x10000000000000000 1",
		"is_mapped: ADDR \"0x10000000000000000\" is past 2^64-1");
	fx_close(&f);
}

TEST(cmd_long_bad_token_is_cut_in_the_message)
{
	struct fx f;
	char line[200] = "map 0x1000 ";

	fx_open(&f, "x86_64");
	memset(line + 11, 'z', 100);
	RUN_MSG(
	    &f, EINVAL, line,
	    "map: bad SIZE \"zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz\"...: "
	    "expected 0x hex or decimal, may end in k, m or g");
	fx_close(&f);
}

/* map, map_anywhere, unmap, unmap_all, protect */

TEST(cmd_map_defaults_to_rwx_and_mapped_label)
{
	struct fx f;
	const struct gm_region *r;
	size_t n;

	fx_open(&f, "x86_64");
	RUN(&f, "map 0x10000 64k", "");
	RUN(&f, "map 4096 0x1000 r-x [code] ", "");
	r = gm_regions(f.g, &n);
	ASSERT_EQ(n, 3);
	ASSERT_EQ(r[0].start, 0x1000);
	ASSERT_EQ(r[0].perms, GM_PERM_R | GM_PERM_X);
	ASSERT_STR(r[0].label, "[code]");
	ASSERT_EQ(r[1].start, 0x10000);
	ASSERT_EQ(r[1].size, 0x10000);
	ASSERT_EQ(r[1].perms, GM_PERM_ALL);
	ASSERT_STR(r[1].label, "[mapped]");
	fx_close(&f);
}

TEST(cmd_map_errors)
{
	struct fx f;

	fx_open(&f, "x86_64");
	RUN(&f, "map 0x10000 0x4000", "");
	RUN_MSG(&f, EEXIST, "map 0x13000 0x2000",
		"map: 0x13000-0x15000 overlaps the region 0x10000-0x14000");
	RUN_FAILS(&f, EINVAL, "map 0x20001 0x1000");
	RUN_FAILS(&f, EINVAL, "map 0x20000 0");
	RUN_FAILS(&f, EINVAL, "map 0xfffffffffffff000 0x2000");
	RUN_MSG(
	    &f, EINVAL, "map 0x20000 0x1000 rwz",
	    "map: bad PERMS \"rwz\": three letters rwx with - for an absent "
	    "one, as r-x");
	RUN_FAILS(&f, EINVAL, "map 0x20000 0x1000 \"r\\nx\"");
	RUN_MSG(&f, EINVAL, "map 0x20000",
		"map: missing SIZE (usage: map ADDR SIZE [PERMS] [LABEL])");
	RUN_MSG(&f, EINVAL, "map",
		"map: missing ADDR (usage: map ADDR SIZE [PERMS] [LABEL])");
	RUN_MSG(&f, EINVAL, "map 0x20000 0x1000 rw- a b",
		"map: too many arguments at \"b\" (usage: map ADDR SIZE "
		"[PERMS] [LABEL])");
	fx_close(&f);
}

TEST(cmd_map_label_past_the_limit_is_einval)
{
	struct fx f;
	size_t n = 22 + GM_LABEL_MAX + 1;
	char *line = malloc(n + 1);

	ASSERT(line);
	fx_open(&f, "x86_64");
	memcpy(line, "map 0x1000 0x1000 r-x ", 22);
	memset(line + 22, 'L', GM_LABEL_MAX + 1);
	line[n] = '\0';
	RUN_MSG(&f, EINVAL, line, "map: a label holds at most 4096 bytes");
	line[n - 1] = '\0';
	RUN(&f, line, "");
	free(line);
	fx_close(&f);
}

TEST(cmd_map_anywhere_answers_the_address)
{
	struct fx f;

	fx_open(&f, "x86_64");
	RUN(&f, "map_anywhere 0x1800", "0x0\n");
	RUN(&f, "map_anywhere 1 r-- low", "0x2000\n");
	RUN(&f,
	    "map_anywhere 0x1000 rw- [heap] min_addr=0x100000 "
	    "alignment=0x10000",
	    "0x100000\n");
	RUN(&f, "map_anywhere 0x1000 min_addr=0x100000 alignment=64k",
	    "0x110000\n");
	RUN(&f, "show_mapinfo",
	    "0000000000000000-0000000000002000 rwx [mapped]\n"
	    "0000000000002000-0000000000003000 r-- low\n"
	    "0000000000100000-0000000000101000 rw- [heap]\n"
	    "0000000000110000-0000000000111000 rwx [mapped]\n"
	    "00007ffffffde000-00007ffffffff000 rw- [stack]\n");
	RUN_MSG(&f, ENOMEM,
		"map_anywhere 0x2000 min_addr=0x100000 max_addr=0x102000",
		"map_anywhere: no free space of 0x2000 bytes");
	RUN_FAILS(&f, EINVAL, "map_anywhere 0x1000 alignment=0x3000");
	RUN_FAILS(&f, EINVAL, "map_anywhere 0x1000 min_addr=2 max_addr=1");
	RUN_FAILS(&f, EINVAL, "map_anywhere 0x1000 bad");
	fx_close(&f);
}

TEST(cmd_unmap_splits_and_refuses_holes)
{
	struct fx f;

	fx_open(&f, "x86_64");
	RUN(&f, "map 0x10000 0x4000 rw- data", "");
	RUN(&f, "unmap 0x11000 0x1000", "");
	RUN(&f, "show_mapinfo",
	    "0000000000010000-0000000000011000 rw- data\n"
	    "0000000000012000-0000000000014000 rw- data\n"
	    "00007ffffffde000-00007ffffffff000 rw- [stack]\n");
	RUN_MSG(&f, EFAULT, "unmap 0x10000 0x3000",
		"unmap: 0x11000 is not mapped");
	RUN_FAILS(&f, EINVAL, "unmap 0x10000 0x800");
	RUN_FAILS(&f, EINVAL, "unmap 0x10000");
	fx_close(&f);
}

TEST(cmd_unmap_all_and_its_two_word_alias)
{
	struct fx f;
	size_t n;

	fx_open(&f, "x86_64");
	RUN(&f, "map 0x1000 0x1000\nunmap_all", "");
	gm_regions(f.g, &n);
	ASSERT_EQ(n, 0);
	RUN(&f, "map 0x1000 0x1000\nunmap all", "");
	gm_regions(f.g, &n);
	ASSERT_EQ(n, 0);
	RUN(&f, "unmap all", "");
	RUN_MSG(&f, EINVAL, "unmap all 1",
		"unmap_all: too many arguments at \"1\" (usage: unmap_all (or: "
		"unmap all))");
	RUN_MSG(&f, EINVAL, "unmap alll 0x1000",
		"unmap: bad ADDR \"alll\": expected 0x hex or decimal");
	fx_close(&f);
}

TEST(cmd_protect_splits_and_refuses_holes)
{
	struct fx f;

	fx_open(&f, "x86_64");
	RUN(&f, "map 0x10000 0x3000 rwx", "");
	RUN(&f, "protect 0x11000 0x1000 r--", "");
	RUN(&f, "show_mapinfo",
	    "0000000000010000-0000000000011000 rwx [mapped]\n"
	    "0000000000011000-0000000000012000 r-- [mapped]\n"
	    "0000000000012000-0000000000013000 rwx [mapped]\n"
	    "00007ffffffde000-00007ffffffff000 rw- [stack]\n");
	RUN_FAILS(&f, EFAULT, "protect 0x12000 0x2000 r--");
	RUN_FAILS(&f, EINVAL, "protect 0x12000 0x1000");
	RUN_FAILS(&f, EINVAL, "protect 0x12000 0x1000 rw");
	fx_close(&f);
}

TEST(cmd_region_limit_is_enospc)
{
	struct fx f;

	fx_open(&f, "x86_64");
	gm_guest_set_region_limit(f.g, 2);
	RUN(&f, "map 0x1000 0x3000", "");
	RUN_FAILS(&f, ENOSPC, "map 0x10000 0x1000");
	RUN_FAILS(&f, ENOSPC, "protect 0x2000 0x1000 r--");
	RUN_FAILS(&f, ENOSPC, "unmap 0x2000 0x1000");
	fx_close(&f);
}

/* read, write, read_ptr, write_ptr, string, search */

TEST(cmd_read_answers_lowercase_hex)
{
	struct fx f;

	fx_open(&f, "x86_64");
	RUN(&f, "map 0x1000 0x2000", "");
	OK(gm_mem_write(f.g, 0x1ffe, "\xAB\xcd\x00\xff", 4, ERR));
	RUN(&f, "read 0x1ffe 4", "abcd00ff\n");
	RUN(&f, "read 0x1000 1", "00\n");
	RUN_MSG(&f, EFAULT, "read 0x2ffe 4", "read: 0x3000 is not mapped");
	RUN_MSG(&f, EINVAL, "read 0x1000 0", "read: empty range at 0x1000");
	RUN_FAILS(&f, EINVAL, "read 0xffffffffffffffff 2");
	fx_close(&f);
}

TEST(cmd_read_is_capped_at_16_mib)
{
	struct fx f;

	fx_open(&f, "x86_64");
	RUN(&f, "map 0x1000000 17m", "");
	RUN_MSG(&f, EINVAL, "read 0x1000000 0x1000001",
		"read: 0x1000001 bytes is more than one read answers (16 MiB): "
		"use mem or the region files");
	ASSERT_EQ(fx_run(&f, NULL, "read 0x1000000 16m"), 0);
	ASSERT_EQ(f.out.len, 2 * (16 << 20) + 1);
	fx_close(&f);
}

TEST(cmd_write_takes_hex_digits)
{
	struct fx f;
	uint8_t b[4];

	fx_open(&f, "x86_64");
	RUN(&f, "map 0x1000 0x2000", "");
	RUN(&f, "write 0x1ffe 00Ab7fFF", "");
	OK(gm_mem_read(f.g, 0x1ffe, b, 4, ERR));
	ASSERT_MEM(b, "\x00\xab\x7f\xff", 4);
	RUN(&f, "write 0x1000 \"4142\"", "");
	RUN(&f, "read 0x1000 2", "4142\n");
	RUN_MSG(&f, EINVAL, "write 0x1000 abc",
		"write: HEX \"abc\" has an odd number of hex digits");
	RUN_MSG(&f, EINVAL, "write 0x1000 0x41",
		"write: HEX \"0x41\" is not hex digits (byte 2)");
	RUN_MSG(&f, EINVAL, "write 0x1000 \"\"", "write: HEX is empty");
	RUN_MSG(&f, EFAULT, "write 0x2fff 4142", "write: 0x3000 is not mapped");
	RUN_FAILS(&f, EINVAL, "write 0x1000 41 42");
	fx_close(&f);
}

TEST(cmd_read_ptr_sizes_and_signed)
{
	struct fx f;

	fx_open(&f, "x86_64");
	RUN(&f, "map 0x1000 0x1000", "");
	RUN(&f, "write 0x1000 f0debc9a78563412", "");
	RUN(&f, "read_ptr 0x1000", "0x123456789abcdef0\n");
	RUN(&f, "read_ptr 0x1000 size=1", "0xf0\n");
	RUN(&f, "read_ptr 0x1000 size=2", "0xdef0\n");
	RUN(&f, "read_ptr 0x1000 size=4 signed=false", "0x9abcdef0\n");
	RUN(&f, "read_ptr 0x1000 size=4 signed=true", "-0x65432110\n");
	RUN(&f, "read_ptr 0x1000 signed=true size=1", "-0x10\n");
	RUN(&f, "read_ptr 0x1007 signed=true size=1", "0x12\n");
	RUN_MSG(&f, EINVAL, "read_ptr 0x1000 size=3",
		"read_ptr: size must be 1, 2, 4 or 8, not \"3\"");
	RUN_MSG(&f, EINVAL, "read_ptr 0x1000 signed=yes",
		"read_ptr: signed must be true or false, not \"yes\"");
	RUN_FAILS(&f, EFAULT, "read_ptr 0x1ffc");
	fx_close(&f);
}

TEST(cmd_write_ptr_values_negative_and_erange)
{
	struct fx f;

	fx_open(&f, "x86_64");
	RUN(&f, "map 0x1000 0x1000", "");
	RUN(&f, "write_ptr 0x1000 0x1122334455667788", "");
	RUN(&f, "read 0x1000 8", "8877665544332211\n");
	RUN(&f, "write_ptr 0x1000 -2 size=2", "");
	RUN(&f, "read 0x1000 8", "feff665544332211\n");
	RUN(&f, "write_ptr 0x1000 -1", "");
	RUN(&f, "read 0x1000 8", "ffffffffffffffff\n");
	RUN(&f, "write_ptr 0x1000 0x7f size=1 signed=true", "");
	RUN(&f, "write_ptr 0x1001 -0x80 size=1", "");
	RUN(&f, "read 0x1000 2", "7f80\n");
	RUN(&f, "write_ptr 0x1000 0xffffffffffffffff size=8", "");
	RUN_MSG(&f, ERANGE, "write_ptr 0x1000 0x100 size=1",
		"write_ptr: 0x100 does not fit in 1 byte");
	RUN_MSG(&f, ERANGE, "write_ptr 0x1000 -0x81 size=1",
		"write_ptr: -0x81 does not fit in 1 signed byte");
	RUN_FAILS(&f, ERANGE, "write_ptr 0x1000 0x80 size=1 signed=true");
	RUN_FAILS(&f, ERANGE, "write_ptr 0x1000 -0x8000000000000001");
	RUN_FAILS(&f, EINVAL, "write_ptr 0x1000 -0x10000000000000000");
	RUN_FAILS(&f, EFAULT, "write_ptr 0x1ffc 1");
	RUN_FAILS(&f, EINVAL, "write_ptr 0x1000");
	fx_close(&f);
}

TEST(cmd_string_reads_and_writes)
{
	struct fx f;

	fx_open(&f, "x86_64");
	RUN(&f, "map 0x1000 0x1000", "");
	RUN(&f, "string 0x1000 hello", "");
	RUN(&f, "read 0x1000 6", "68656c6c6f00\n");
	RUN(&f, "string 0x1000", "hello\n");
	RUN(&f, "string 0x1000 \"two\\nlines \\xff\"", "");
	RUN(&f, "string 0x1000", "two\nlines \xff\n");
	RUN(&f, "string 0x1000 \"\"", "");
	RUN(&f, "string 0x1000", "\n");
	RUN_MSG(&f, EINVAL, "string 0x1000 hello world",
		"string: too many arguments at \"world\" (usage: string ADDR "
		"[TEXT])");
	RUN_FAILS(&f, EFAULT, "string 0x1ffe abc");
	fx_close(&f);
}

TEST(cmd_string_without_nul_is_efault)
{
	struct fx f;
	uint8_t page[0x1000];

	fx_open(&f, "x86_64");
	RUN(&f, "map 0x1000 0x1000", "");
	memset(page, 'a', sizeof(page));
	OK(gm_mem_write(f.g, 0x1000, page, sizeof(page), ERR));
	RUN_MSG(&f, EFAULT, "string 0x1ff0",
		"string: the string at 0x1ff0 runs into unmapped memory at "
		"0x2000 before its NUL");
	fx_close(&f);
}

TEST(cmd_search_hex_or_quoted_string)
{
	struct fx f;

	fx_open(&f, "x86_64");
	RUN(&f, "map 0x1000 0x2000", "");
	RUN(&f, "string 0x1000 \"abcab cab\"\nstring 0x2ffc cab", "");
	RUN(&f, "search 636162", "0x1002\n0x1006\n0x2ffc\n");
	RUN(&f, "search \"cab\"", "0x1002\n0x1006\n0x2ffc\n");
	RUN(&f, "search \"b c\"", "0x1004\n");
	RUN(&f, "search \"cab\" begin=0x1003 end=0x2ffe", "0x1006\n");
	RUN(&f, "search \"cab\" begin=0x1003 end=0x2fff", "0x1006\n0x2ffc\n");
	RUN(&f, "search \"cab\" end=0x1005", "0x1002\n");
	RUN(&f, "search \"zzz\"", "");
	RUN_MSG(&f, EINVAL, "search cab",
		"search: PATTERN \"cab\" has an odd number of hex digits");
	RUN_MSG(&f, EINVAL, "search hello",
		"search: PATTERN \"hello\" is not hex digits (byte 1)");
	RUN_FAILS(&f, EINVAL, "search \"\"");
	RUN_FAILS(&f, EINVAL, "search 41 begin=0x2000 end=0x1000");
	fx_close(&f);
}

TEST(cmd_search_answers_at_most_a_million_matches)
{
	struct fx f;

	fx_open(&f, "x86_64");
	RUN(&f, "unmap all\nmap 0x1000000 1m", "");
	ASSERT_EQ(fx_run(&f, NULL, "search 00"), 0);
	ASSERT_EQ(f.out.len, (size_t)(1 << 20) * 10);
	RUN(&f, "map 0x2000000 0x1000", "");
	RUN_MSG(&f, ENOSPC, "search 00",
		"search: more than 1048576 matches: narrow the search with "
		"begin= and end=");
	fx_close(&f);
}

/* find_free_space, is_available, is_mapped, show_mapinfo */

TEST(cmd_find_free_space_answers_the_lowest_fit)
{
	struct fx f;

	fx_open(&f, "x86_64");
	RUN(&f, "map 0 0x1000", "");
	RUN(&f, "find_free_space 1", "0x1000\n");
	RUN(&f, "find_free_space 0x1000 min_addr=0x1800", "0x2000\n");
	RUN(&f, "find_free_space 0x1000 alignment=1m", "0x100000\n");
	RUN(&f, "find_free_space 0x2000 max_addr=0x3000", "0x1000\n");
	RUN_MSG(&f, ENOMEM, "find_free_space 0x3000 max_addr=0x3000",
		"find_free_space: no free space of 0x3000 bytes");
	RUN_FAILS(&f, EINVAL, "find_free_space 0");
	RUN_FAILS(&f, EINVAL, "find_free_space 0x1000 min_addr=1k");
	fx_close(&f);
}

TEST(cmd_is_available_and_is_mapped)
{
	struct fx f;

	fx_open(&f, "x86_64");
	RUN(&f, "map 0x1000 0x1000\nmap 0x2000 0x1000", "");
	RUN(&f, "is_mapped 0x1000 0x2000", "true\n");
	RUN(&f, "is_mapped 0x1000 0x2001", "false\n");
	RUN(&f, "is_available 0x3000 0x1000", "true\n");
	RUN(&f, "is_available 0x2fff 2", "false\n");
	RUN(&f, "is_mapped 0x1800 1\nis_available 0 0x1000", "true\ntrue\n");
	RUN_MSG(&f, EINVAL, "is_mapped 0x1000 0",
		"is_mapped: empty range at 0x1000");
	RUN_FAILS(&f, EINVAL, "is_available 0xffffffffffffffff 2");
	fx_close(&f);
}

TEST(cmd_show_mapinfo_is_the_maps_text)
{
	struct fx f;
	struct gm_text t;

	fx_open(&f, "x86_64");
	RUN(&f, "map 0x1000 0x1000 r-x \"a\\\\b\"", "");
	gm_text_init(&t);
	OK(gm_maps_text(f.g, &t));
	RUN(&f, "show_mapinfo", t.buf);
	ASSERT_STR(t.buf, "0000000000001000-0000000000002000 r-x a\\\\b\n"
			  "00007ffffffde000-00007ffffffff000 rw- [stack]\n");
	RUN_FAILS(&f, EINVAL, "show_mapinfo all");
	gm_text_free(&t);
	fx_close(&f);
}

/* save, restore, drop */

TEST(cmd_save_answers_the_name_and_restore_brings_it_back)
{
	struct fx f;
	char *saved, *now;

	fx_open(&f, "x86_64");
	RUN(&f, "map 0x1000 0x1000\nwrite 0x1000 41", "");
	saved = state(&f);
	RUN(&f, "save", "snap-1\n");
	RUN(&f, "save \"my snap\"", "my snap\n");
	RUN(&f, "write 0x1000 42\nmap 0x5000 0x1000\nstack push 7",
	    "0x7fffffffeff8\n");
	RUN(&f, "restore snap-1", "");
	ASSERT_EQ(gm_snap_count(f.g), 2);
	RUN(&f, "drop \"my snap\"\ndrop snap-1", "");
	now = state(&f);
	ASSERT_STR(now, saved);
	free(now);
	free(saved);
	fx_close(&f);
}

TEST(cmd_restore_without_name_takes_the_newest)
{
	struct fx f;

	fx_open(&f, "x86_64");
	RUN(&f, "map 0x1000 0x1000\nwrite 0x1000 01\nsave a", "a\n");
	RUN(&f, "write 0x1000 02\nsave b\nwrite 0x1000 03", "b\n");
	RUN(&f, "restore\nread 0x1000 1", "02\n");
	RUN(&f, "save a", "a\n"); /* replaces a: now the newest */
	RUN(&f, "write 0x1000 04\nrestore\nread 0x1000 1", "02\n");
	fx_close(&f);
}

TEST(cmd_snapshot_errors)
{
	struct fx f;

	fx_open(&f, "x86_64");
	RUN_MSG(&f, ENOENT, "restore", "restore: no snapshot to restore");
	RUN_FAILS(&f, ENOENT, "restore nope");
	/* A name the core quotes comes back escaped, on one line. */
	RUN_MSG(&f, ENOENT, "restore \"x\\ty\"",
		"restore: no snapshot named \"x\\x09y\"");
	RUN_FAILS(&f, ENOENT, "drop nope");
	RUN_FAILS(&f, EINVAL, "drop");
	RUN_FAILS(&f, EINVAL, "save a/b");
	RUN_FAILS(&f, EINVAL, "save ..");
	RUN_FAILS(&f, EINVAL, "save \"\"");
	RUN_FAILS(&f, EINVAL, "save \"a\\nb\"");
	RUN_FAILS(&f, EINVAL, "save a b");
	OK(gm_mem_write(f.g, STACK64, "x", 1, ERR));
	gm_guest_set_snapshot_limit(f.g, 0x800);
	RUN_FAILS(&f, ENOSPC, "save big");
	fx_close(&f);
}

/* stack */

TEST(cmd_stack_push_pop_read_write)
{
	struct fx f;

	fx_open(&f, "x86_64");
	RUN(&f, "stack push 0x41", "0x7fffffffeff8\n");
	RUN(&f, "stack_push 0x42", "0x7fffffffeff0\n");
	RUN(&f, "stack read 0", "0x42\n");
	RUN(&f, "stack read 8", "0x41\n");
	RUN(&f, "stack_read 0x8", "0x41\n");
	RUN(&f, "stack write 8 0x43\nstack_write 0 -1", "");
	RUN(&f, "read 0x7fffffffeff0 16", "ffffffffffffffff4300000000000000\n");
	RUN(&f, "stack pop", "0xffffffffffffffff\n");
	RUN(&f, "stack_pop", "0x43\n");
	RUN(&f, "reg sp", "0x7ffffffff000\n");
	fx_close(&f);
}

TEST(cmd_stack_negative_offsets_reach_below_sp)
{
	struct fx f;

	fx_open(&f, "x86_64");
	RUN(&f, "stack write -8 0x99", "");
	RUN(&f, "stack read -0x8", "0x99\n");
	RUN(&f, "reg sp", "0x7ffffffff000\n");
	RUN(&f, "stack push 1\nstack read -8", "0x7fffffffeff8\n0x0\n");
	fx_close(&f);
}

TEST(cmd_stack_errors)
{
	struct fx f;

	fx_open(&f, "x86_64");
	RUN_FAILS(&f, EFAULT, "stack pop");
	RUN_FAILS(&f, EFAULT, "stack read 0");
	RUN_FAILS(&f, EFAULT, "stack write 0 1");
	RUN_MSG(&f, EINVAL, "stack",
		"stack: expected one of push, pop, read, "
		"write");
	RUN_MSG(&f, EINVAL, "stack peek",
		"stack: \"peek\" is not one of push, pop, read, write");
	RUN_MSG(&f, EINVAL, "stack push",
		"stack push: missing VALUE (usage: stack push VALUE (or: "
		"stack_push VALUE))");
	RUN_FAILS(&f, EINVAL, "stack pop 1");
	RUN_FAILS(&f, ERANGE, "stack push -0x8000000000000001");
	fx_close(&f);
}

TEST(cmd_stack_on_32_bit_guest_uses_4_byte_words)
{
	struct fx f;

	fx_open(&f, "x86");
	RUN(&f, "stack push -1", "0x7ff3cffc\n");
	RUN(&f, "stack push 0x12345678", "0x7ff3cff8\n");
	RUN(&f, "read 0x7ff3cff8 8", "78563412ffffffff\n");
	RUN(&f, "stack read 4", "0xffffffff\n");
	RUN_MSG(&f, ERANGE, "stack push 0x100000000",
		"stack push: 0x100000000 does not fit in 4 bytes");
	RUN_MSG(&f, ERANGE, "stack push -0x80000001",
		"stack push: VALUE -0x80000001 does not fit in 32 bits");
	RUN(&f, "stack push -0x80000000", "0x7ff3cff4\n");
	RUN(&f, "stack pop", "0x80000000\n");
	fx_close(&f);
}

/* reg */

TEST(cmd_reg_reads_and_sets_with_aliases)
{
	struct fx f;

	fx_open(&f, "x86_64");
	RUN(&f, "reg rax 0x1234", "0x1234\n");
	RUN(&f, "reg rax", "0x1234\n");
	RUN(&f, "reg pc 0x401000\nreg rip", "0x401000\n0x401000\n");
	RUN(&f, "reg sp", "0x7ffffffff000\n");
	RUN(&f, "reg rbx -1", "0xffffffffffffffff\n");
	RUN_MSG(&f, EINVAL, "reg xyz", "reg: no register \"xyz\" on x86_64");
	RUN_FAILS(&f, EINVAL, "reg RAX");
	RUN_MSG(&f, ERANGE, "reg cs 0x10000",
		"reg: 0x10000 does not fit the 16-bit register cs");
	RUN_FAILS(&f, ERANGE, "reg cs -0x8001");
	RUN_FAILS(&f, EINVAL, "reg rax 1 2");
	fx_close(&f);
}

TEST(cmd_reg_on_arm_and_mips)
{
	struct fx f;

	fx_open(&f, "arm");
	RUN(&f, "reg r0 -1", "0xffffffff\n");
	RUN(&f, "reg pc 0x1000\nreg pc", "0x1000\n0x1000\n");
	RUN_FAILS(&f, ERANGE, "reg r1 0x100000000");
	fx_close(&f);
	fx_open(&f, "mips");
	RUN(&f, "reg sp", "0x7ff3d000\n");
	RUN(&f, "reg a0 0xdeadbeef", "0xdeadbeef\n");
	fx_close(&f);
}

/* help and unknown verbs */

TEST(cmd_help_lists_every_usage_line)
{
	struct fx f;

	fx_open(&f, "x86_64");
	RUN(&f, "help",
	    "map ADDR SIZE [PERMS] [LABEL]\n"
	    "map_anywhere SIZE [PERMS] [LABEL] [min_addr=A] [max_addr=B] "
	    "[alignment=N]\n"
	    "unmap ADDR SIZE\n"
	    "unmap_all (or: unmap all)\n"
	    "protect ADDR SIZE PERMS\n"
	    "read ADDR SIZE\n"
	    "write ADDR HEX\n"
	    "read_ptr ADDR [size=1|2|4|8] [signed=true]\n"
	    "write_ptr ADDR VALUE [size=1|2|4|8] [signed=true]\n"
	    "string ADDR [TEXT]\n"
	    "search PATTERN [begin=A] [end=B]\n"
	    "find_free_space SIZE [min_addr=A] [max_addr=B] [alignment=N]\n"
	    "is_available ADDR SIZE\n"
	    "is_mapped ADDR SIZE\n"
	    "show_mapinfo\n"
	    "save [NAME]\n"
	    "restore [NAME]\n"
	    "drop NAME\n"
	    "stack push VALUE (or: stack_push VALUE)\n"
	    "stack pop (or: stack_pop)\n"
	    "stack read OFFSET (or: stack_read OFFSET)\n"
	    "stack write OFFSET VALUE (or: stack_write OFFSET VALUE)\n"
	    "reg NAME [VALUE]\n"
	    "run [until=ADDR] [count=N] [timeout=DUR] [begin=ADDR]\n"
	    "step [N]\n"
	    "stop\n"
	    "load_elf PATH [base=ADDR] [ARG...]\n"
	    "load_core PATH\n"
	    "help [VERB]\n");
	fx_close(&f);
}

TEST(cmd_help_verb_gives_its_usage)
{
	struct fx f;

	fx_open(&f, "x86_64");
	RUN(&f, "help map", "map ADDR SIZE [PERMS] [LABEL]\n");
	RUN(&f, "help unmap", "unmap ADDR SIZE\n");
	RUN(&f, "help unmap all", "unmap_all (or: unmap all)\n");
	RUN(&f, "help stack_pop", "stack pop (or: stack_pop)\n");
	RUN(&f, "help stack read",
	    "stack read OFFSET (or: stack_read OFFSET)\n");
	RUN(&f, "help stack",
	    "stack push VALUE (or: stack_push VALUE)\n"
	    "stack pop (or: stack_pop)\n"
	    "stack read OFFSET (or: stack_read OFFSET)\n"
	    "stack write OFFSET VALUE (or: stack_write OFFSET VALUE)\n");
	RUN_MSG(&f, EINVAL, "help frob",
		"help: no verb \"frob\" (\"help\" lists them)");
	RUN_FAILS(&f, EINVAL, "help stack frob");
	fx_close(&f);
}

TEST(cmd_unknown_verb_is_einval)
{
	struct fx f;

	fx_open(&f, "x86_64");
	RUN_MSG(&f, EINVAL, "frob 1 2",
		"unknown verb \"frob\" (\"help\" lists the verbs)");
	RUN_MSG(&f, EINVAL, "MAP 0x1000 0x1000",
		"unknown verb \"MAP\" (\"help\" lists the verbs)");
	RUN_MSG(&f, EINVAL, "\"map\\x01\"",
		"unknown verb \"map\\x01\" (\"help\" lists the verbs)");
	fx_close(&f);
}

/* Several lines, failures */

TEST(cmd_lines_run_in_order_up_to_the_first_error)
{
	struct fx f;
	size_t n;

	fx_open(&f, "x86_64");
	ASSERT_EQ(fx_run(&f, NULL,
			 "map 0x1000 0x1000\n"
			 "stack push 5\n"
			 "map 0x1000 0x1000 rw- again\n"
			 "map 0x9000 0x1000\n"),
		  -EEXIST);
	ASSERT_STR(out_str(&f), "0x7fffffffeff8\n"
				"error: map: 0x1000-0x2000 overlaps the region "
				"0x1000-0x2000\n");
	gm_regions(f.g, &n);
	ASSERT_EQ(n, 2); /* the first map stayed, the last never ran */
	ASSERT_EQ(gm_reg_sp(f.g), 0x7fffffffeff8ULL);
	ASSERT_LOG(&f, "map 0x1000 0x1000 -> ok\n"
		       "stack push 5 -> 0x7fffffffeff8\n"
		       "map 0x1000 0x1000 rw- again -> error: map: "
		       "0x1000-0x2000 overlaps the region 0x1000-0x2000\n");
	fx_close(&f);
}

TEST(cmd_final_line_without_newline_runs)
{
	struct fx f;

	fx_open(&f, "x86_64");
	RUN(&f, "stack push 1\nstack push 2",
	    "0x7fffffffeff8\n"
	    "0x7fffffffeff0\n");
	/* Only LEN bytes count: the rest of the buffer is not a line. */
	ASSERT_EQ(fx_run_len(&f, NULL, "stack pop\nstack pop", 10), 0);
	ASSERT_STR(out_str(&f), "0x2\n");
	fx_close(&f);
}

TEST(cmd_failing_verbs_leave_the_guest_unchanged)
{
	struct fx f;

	fx_open(&f, "x86_64");
	RUN(&f, "map 0x1000 0x3000 rw- a\nsave s\nstack push 9",
	    "s\n0x7fffffffeff8\n");
	RUN_FAILS(&f, EFAULT, "write 0x3fff 4142");
	RUN_FAILS(&f, EFAULT, "unmap 0x1000 0x4000");
	RUN_FAILS(&f, EFAULT, "protect 0x0 0x2000 r--");
	RUN_FAILS(&f, EINVAL, "map 0x10000 0x1000 rw- x y");
	RUN_FAILS(&f, EINVAL, "map_anywhere 0x1000 rwq");
	RUN_FAILS(&f, ERANGE, "write_ptr 0x1000 0x100 size=1");
	RUN_FAILS(&f, EINVAL, "write_ptr 0x1000 1 size=3");
	RUN_FAILS(&f, ERANGE, "reg cs 0x10000");
	RUN_FAILS(&f, EINVAL, "reg rax zz");
	RUN_FAILS(&f, ENOENT, "restore t");
	RUN_FAILS(&f, EINVAL, "stack write 0 zz");
	RUN_FAILS(&f, EINVAL, "stack push 1 2");
	RUN_FAILS(&f, EINVAL, "string 0x1000 \"unterminated");
	fx_close(&f);
}

TEST(cmd_a_long_line_is_answered_in_linear_time)
{
	struct fx f;
	size_t n = 1 << 20;
	char *line = malloc(n + 32);
	struct timespec t0, t1;
	double s;

	fx_open(&f, "x86_64");
	RUN(&f, "map 0x100000 1m", "");
	/* write 0x100000 with 512 KiB of hex: 1 MiB of line */
	strcpy(line, "write 0x100000 ");
	for (size_t i = 0; i < n; i++)
		line[15 + i] = "0123456789abcdef"[i % 16];
	line[15 + n] = '\0';
	clock_gettime(CLOCK_MONOTONIC, &t0);
	RUN(&f, line, "");
	RUN(&f, "read 0x17fff0 0x10", "0123456789abcdef0123456789abcdef\n");
	/* A bad 1 MiB token: a short message, and fast. */
	line[15 + n - 1] = 'z';
	RUN_FAILS(&f, EINVAL, line);
	ASSERT(strlen(f.err.msg) < 160);
	/* 1 MiB of blanks then a verb */
	memset(line, ' ', n);
	strcpy(line + n, "is_mapped 0x100000 1");
	RUN(&f, line, "true\n");
	clock_gettime(CLOCK_MONOTONIC, &t1);
	s = (double)(t1.tv_sec - t0.tv_sec) +
	    (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	if (s > 2.0)
		TEST_FAIL("three 1 MiB lines took %.2f s", s);
	free(line);
	fx_close(&f);
}

/* Control files bound to one verb */

TEST(cmd_bound_map_and_unmap_files)
{
	struct fx f;
	size_t n;

	fx_open(&f, "x86_64");
	ASSERT_EQ(fx_run(&f, "map", "0x1000 0x1000 r-- one\n0x2000 4k\n"), 0);
	ASSERT_STR(out_str(&f), "");
	gm_regions(f.g, &n);
	ASSERT_EQ(n, 3);
	ASSERT_EQ(fx_run(&f, "unmap", "0x2000 0x1000"), 0);
	ASSERT_EQ(fx_run(&f, "map", "# comment"), -EINVAL);
	ASSERT_STR(f.err.msg,
		   "map: bad ADDR \"#\": expected 0x hex or decimal");
	ASSERT_EQ(fx_run(&f, "unmap", "all\n"), 0);
	gm_regions(f.g, &n);
	ASSERT_EQ(n, 0);
	ASSERT_LOG(&f, "map 0x1000 0x1000 r-- one -> ok\n"
		       "map 0x2000 4k -> ok\n"
		       "unmap 0x2000 0x1000 -> ok\n"
		       "map # comment -> error: map: bad ADDR "
		       "\"#\": expected 0x hex or decimal\n"
		       "unmap all -> ok\n");
	fx_close(&f);
}

TEST(cmd_bound_save_and_restore_run_alone_on_an_empty_line)
{
	struct fx f;

	fx_open(&f, "x86_64");
	ASSERT_EQ(fx_run(&f, "save", "\n"), 0);
	ASSERT_STR(out_str(&f), "snap-1\n");
	ASSERT_EQ(fx_run(&f, "save", "mine\n\n"), 0);
	ASSERT_STR(out_str(&f), "mine\nsnap-2\n");
	ASSERT_EQ(fx_run(&f, "save", ""), 0);
	ASSERT_STR(out_str(&f), "");
	OK(gm_mem_write(f.g, STACK64, "\x77", 1, ERR));
	ASSERT_EQ(fx_run(&f, "restore", "mine\n"), 0);
	RUN(&f, "read 0x7ffffffde000 1", "00\n");
	OK(gm_mem_write(f.g, STACK64, "\x77", 1, ERR));
	ASSERT_EQ(fx_run(&f, "restore", "\n"), 0);
	RUN(&f, "read 0x7ffffffde000 1", "00\n");
	ASSERT_LOG(&f, "save -> snap-1\n"
		       "save mine -> mine\n"
		       "save -> snap-2\n"
		       "restore mine -> ok\n"
		       "read 0x7ffffffde000 1 -> 00\n"
		       "restore -> ok\n"
		       "read 0x7ffffffde000 1 -> 00\n");
	fx_close(&f);
}

TEST(cmd_bound_stack_file_takes_stack_forms)
{
	struct fx f;

	fx_open(&f, "x86_64");
	ASSERT_EQ(fx_run(&f, "stack", "push 0x41\npush 0x42\nread 8\n"), 0);
	ASSERT_STR(out_str(&f), "0x7fffffffeff8\n0x7fffffffeff0\n0x41\n");
	ASSERT_EQ(fx_run(&f, "stack", "write 0 7\npop\n"), 0);
	ASSERT_STR(out_str(&f), "0x7\n");
	ASSERT_EQ(fx_run(&f, "stack", "\n"), -EINVAL);
	ASSERT_STR(out_str(&f),
		   "error: stack: expected one of push, pop, read, write\n");
	ASSERT_EQ(fx_run(&f, "stack", "stack push 1"), -EINVAL);
	ASSERT_STR(f.err.msg,
		   "stack: \"stack\" is not one of push, pop, read, write");
	fx_close(&f);
}

/* The log */

TEST(cmd_log_lines_show_answer_ok_or_error)
{
	struct fx f;

	fx_open(&f, "x86_64");
	RUN(&f, "map 0x1000 0x1000\nsearch 00 end=0x1002\nstring 0x1000",
	    "0x1000\n0x1001\n\n");
	RUN_FAILS(&f, EINVAL, "read 0x1000");
	ASSERT_LOG(&f,
		   "map 0x1000 0x1000 -> ok\n"
		   "search 00 end=0x1002 -> 0x1000\n"
		   "string 0x1000 -> \n"
		   "read 0x1000 -> error: read: missing SIZE (usage: read ADDR "
		   "SIZE)\n");
	fx_close(&f);
}

TEST(cmd_log_escapes_bytes_that_could_forge_a_line)
{
	struct fx f;

	fx_open(&f, "x86_64");
	RUN(&f, "map 0x1000 0x1000 rw- a\x01\x7f\xc3\xa9\\b\"\\n\"", "");
	RUN(&f, "string 0x1000 \"x\\ny\\x01\"\nstring 0x1000", "x\ny\x01\n");
	RUN_FAILS(&f, EINVAL, "frob \"\\x0a\"\x02");
	ASSERT_LOG(&f,
		   "map 0x1000 0x1000 rw- a\\x01\\x7f\\xc3\\xa9\\b\"\\n\" -> "
		   "ok\n"
		   "string 0x1000 \"x\\ny\\x01\" -> ok\n"
		   "string 0x1000 -> x\n"
		   "frob \"\\x0a\"\\x02 -> error: unknown verb \"frob\" "
		   "(\"help\" lists the verbs)\n");
	fx_close(&f);
}

TEST(cmd_log_cuts_long_commands)
{
	struct fx f;
	char line[400], want[600];

	fx_open(&f, "x86_64");
	memset(line, 'x', sizeof(line));
	memcpy(line, "is_mapped 0 1 ", 14);
	line[sizeof(line) - 1] = '\0';
	RUN_FAILS(&f, EINVAL, line);
	snprintf(want, sizeof(want),
		 "%.200s\xe2\x80\xa6 -> error: is_mapped: too many arguments "
		 "at \"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"... "
		 "(usage: is_mapped ADDR SIZE)\n",
		 line);
	ASSERT_LOG(&f, want);
	fx_close(&f);
}

TEST(cmd_log_keeps_the_last_1000_lines)
{
	struct fx f;
	char cmd[64], *log, *first, *nl;
	size_t lines = 0;

	fx_open(&f, "x86_64");
	for (int i = 0; i < 1005; i++) {
		snprintf(cmd, sizeof(cmd), "reg rax %d", i);
		ASSERT_EQ(fx_run(&f, NULL, cmd), 0);
	}
	log = log_text(&f);
	for (char *p = log; (p = strchr(p, '\n')); p++)
		lines++;
	ASSERT_EQ(lines, GM_CMD_LOG_LINES);
	first = log;
	nl = strchr(first, '\n');
	*nl = '\0';
	ASSERT_STR(first, "reg rax 5 -> 0x5");
	ASSERT(strstr(nl + 1, "reg rax 1004 -> 0x3ec\n") != NULL);
	ASSERT_STR(nl + 1 + strlen(nl + 1) - strlen("reg rax 1004 -> 0x3ec\n"),
		   "reg rax 1004 -> 0x3ec\n");
	free(log);
	fx_close(&f);
}

TEST(cmd_log_add_records_operations_without_a_command)
{
	struct fx f;
	struct gm_error e = {EFAULT, "no region starts at 0x5000"};

	fx_open(&f, "x86_64");
	gm_cmd_log_add(f.c,
		       "chmod regions/0000000000001000-0000000000002000 r--", 0,
		       NULL);
	gm_cmd_log_add(f.c, "setxattr user.label \"a\nb\"", -EFAULT, &e);
	ASSERT_LOG(&f, "chmod regions/0000000000001000-0000000000002000 r-- "
		       "-> ok\n"
		       "setxattr user.label \"a\\x0ab\" -> error: no region "
		       "starts at 0x5000\n");
	fx_close(&f);
}

/* Views: maps, range names, info, stack */

TEST(maps_text_escapes_labels_with_newlines)
{
	struct fx f;
	struct gm_text t;

	fx_open(&f, "x86_64");
	OK(gm_map(f.g, 0x1000, 0x1000, GM_PERM_R, "evil\n0-1 rwx x", 14, ERR));
	OK(gm_map(f.g, 0x2000, 0x1000, 0, "\\\t\xff ok", 6, ERR));
	gm_text_init(&t);
	OK(gm_maps_text(f.g, &t));
	ASSERT_STR(t.buf,
		   "0000000000001000-0000000000002000 r-- evil\\x0a0-1 rwx x\n"
		   "0000000000002000-0000000000003000 --- \\\\\\x09\\xff ok\n"
		   "00007ffffffde000-00007ffffffff000 rw- [stack]\n");
	gm_text_free(&t);
	fx_close(&f);
}

TEST(maps_text_of_32_bit_guests_has_8_digits)
{
	struct fx f;

	fx_open(&f, "x86");
	RUN(&f, "map 0xfffff000 0x1000 r-- top", "");
	RUN(&f, "show_mapinfo",
	    "7ff0d000-7ff3d000 rw- [stack]\n"
	    "fffff000-100000000 r-- top\n");
	RUN_MSG(&f, EINVAL, "map 0x100000000 0x1000",
		"map: 0x100000000+0x1000 passes the end of the 32-bit address "
		"space");
	RUN_FAILS(&f, EINVAL, "map 0xfffff000 0x2000");
	RUN_FAILS(&f, EINVAL, "read 0xffffffff 2");
	fx_close(&f);
	fx_open(&f, "arm");
	RUN(&f, "map 0x400 1k", "");
	RUN(&f, "show_mapinfo",
	    "00000400-00000800 rwx [mapped]\n"
	    "7ff0d000-7ff3d000 rw- [stack]\n");
	fx_close(&f);
}

TEST(range_names_pad_to_the_address_width)
{
	struct fx f;
	char buf[GM_RANGE_NAME_MAX];

	fx_open(&f, "x86_64");
	ASSERT_STR(gm_range_name(f.g, 0x1000, 0x1000, buf),
		   "0000000000001000-0000000000002000");
	ASSERT_STR(gm_range_name(f.g, 0xfffffffffffff000ULL, 0x1000, buf),
		   "fffffffffffff000-10000000000000000");
	ASSERT_STR(gm_range_name(f.g, 0, 0, buf),
		   "0000000000000000-0000000000000000");
	RUN(&f, "map 0xfffffffffffff000 0x1000 r--", "");
	RUN(&f, "show_mapinfo",
	    "00007ffffffde000-00007ffffffff000 rw- [stack]\n"
	    "fffffffffffff000-10000000000000000 r-- [mapped]\n");
	fx_close(&f);
	fx_open(&f, "mips");
	ASSERT_STR(gm_range_name(f.g, 0x400000, 0x1000, buf),
		   "00400000-00401000");
	ASSERT_STR(gm_range_name(f.g, 0xfffff000, 0x1000, buf),
		   "fffff000-100000000");
	fx_close(&f);
}

TEST(info_text_lists_the_keys_in_order)
{
	struct fx f;
	struct gm_text t;

	fx_open(&f, "x86_64");
	RUN(&f, "map 0x1000 0x2000\nsave\nreg rip 0x1000", "snap-1\n0x1000\n");
	gm_text_init(&t);
	OK(gm_info_text(f.g, &t));
	ASSERT_STR(t.buf, "arch x86_64\n"
			  "endian little\n"
			  "pointer_size 8\n"
			  "page_size 0x1000\n"
			  "address_bits 64\n"
			  "regions 2\n"
			  "mapped_bytes 0x23000\n"
			  "snapshots 1\n"
			  "pc 0x1000\n"
			  "sp 0x7ffffffff000\n"
			  "version 0.1.0\n");
	gm_text_free(&t);
	fx_close(&f);
}

TEST(info_text_of_mips_and_arm)
{
	struct fx f;
	struct gm_text t;

	fx_open(&f, "mips");
	gm_text_init(&t);
	OK(gm_info_text(f.g, &t));
	ASSERT_STR(t.buf, "arch mips\n"
			  "endian big\n"
			  "pointer_size 4\n"
			  "page_size 0x1000\n"
			  "address_bits 32\n"
			  "regions 1\n"
			  "mapped_bytes 0x30000\n"
			  "snapshots 0\n"
			  "pc 0x0\n"
			  "sp 0x7ff3d000\n"
			  "version 0.1.0\n");
	fx_close(&f);
	fx_open(&f, "arm");
	gm_text_reset(&t);
	OK(gm_info_text(f.g, &t));
	ASSERT(strstr(t.buf, "\npage_size 0x400\n") != NULL);
	gm_text_free(&t);
	fx_close(&f);
}

TEST(mips_read_ptr_is_big_endian)
{
	struct fx f;

	fx_open(&f, "mips");
	RUN(&f, "map 0x1000 0x1000", "");
	RUN(&f, "write 0x1000 12345678fffe", "");
	RUN(&f, "read_ptr 0x1000", "0x12345678\n");
	RUN(&f, "read_ptr 0x1004 size=2", "0xfffe\n");
	RUN(&f, "read_ptr 0x1004 size=2 signed=true", "-0x2\n");
	RUN(&f, "write_ptr 0x1000 -2", "");
	RUN(&f, "read 0x1000 4", "fffffffe\n");
	RUN(&f, "stack push 0x11223344\nread 0x7ff3cffc 4",
	    "0x7ff3cffc\n11223344\n");
	RUN_FAILS(&f, ERANGE, "write_ptr 0x1000 0x100000000");
	fx_close(&f);
}

TEST(stack_text_lists_words_from_sp_to_the_region_end)
{
	struct fx f;
	struct gm_text t;

	fx_open(&f, "x86_64");
	RUN(&f, "stack push 0x41\nstack push 0x7fffffffeff8",
	    "0x7fffffffeff8\n0x7fffffffeff0\n");
	gm_text_init(&t);
	OK(gm_stack_text(f.g, &t));
	ASSERT_STR(t.buf, "+0x0 0x7fffffffeff0 0x7fffffffeff8\n"
			  "+0x8 0x7fffffffeff8 0x41\n");
	fx_close(&f);
	fx_open(&f, "mips");
	RUN(&f, "stack push 0x41\nstack push 2\nstack push 3",
	    "0x7ff3cffc\n0x7ff3cff8\n0x7ff3cff4\n");
	gm_text_reset(&t);
	OK(gm_stack_text(f.g, &t));
	ASSERT_STR(t.buf, "+0x0 0x7ff3cff4 0x3\n"
			  "+0x4 0x7ff3cff8 0x2\n"
			  "+0x8 0x7ff3cffc 0x41\n");
	gm_text_free(&t);
	fx_close(&f);
}

TEST(stack_text_is_empty_when_sp_is_not_mapped)
{
	struct fx f;
	struct gm_text t;

	fx_open(&f, "x86_64");
	gm_text_init(&t);
	OK(gm_stack_text(f.g, &t));
	ASSERT_EQ(t.len, 0);
	/* Only whole words up to the region's end are listed. */
	RUN(&f, "reg sp 0x7fffffffeff4\nmap 0x7ffffffff000 0x1000",
	    "0x7fffffffeff4\n");
	OK(gm_stack_text(f.g, &t));
	ASSERT_STR(t.buf, "+0x0 0x7fffffffeff4 0x0\n");
	gm_text_free(&t);
	fx_close(&f);
}

TEST(text_buffer_grows_and_escapes)
{
	struct gm_text t;
	char big[300];

	gm_text_init(&t);
	ASSERT_EQ(t.len, 0);
	memset(big, 'a', sizeof(big));
	gm_text_printf(&t, "%.*s|%d", (int)sizeof(big), big, 42);
	ASSERT_EQ(t.len, 303);
	ASSERT_STR(t.buf + 300, "|42");
	gm_text_reset(&t);
	ASSERT_EQ(t.len, 0);
	gm_text_add_escaped(&t, "a\\b\n\x7f~ ", 7);
	ASSERT_STR(t.buf, "a\\\\b\\x0a\\x7f~ ");
	ASSERT_EQ(gm_text_status(&t), 0);
	gm_text_free(&t);
	ASSERT(t.buf == NULL);
}

/* load_elf and load_core (core/load.c tests the loading itself) */

TEST(cmd_load_elf_answers_the_entry_and_load_core_refuses_it)
{
	struct fx f;

	fx_open(&f, "x86_64");
	RUN_FAILS(&f, EINVAL, "load_elf /bin/busybox base=0x1000");
	RUN_FAILS(&f, ENOENT, "load_elf /nonexistent/busybox");
	RUN_FAILS(&f, EINVAL, "load_elf /bin/busybox size=1");
	RUN_FAILS(&f, ENOEXEC, "load_core /bin/busybox");
	RUN(&f, "load_elf /bin/busybox --help \"a b\"", "0x40ebf0\n");
	RUN(&f, "reg rip", "0x40ebf0\n");
	RUN(&f, "stack read 0", "0x3\n");
	RUN_FAILS(&f, EEXIST, "load_elf /bin/busybox");
	RUN_MSG(&f, ENOEXEC, "load_core /bin/busybox",
		"load_core: /bin/busybox: an ELF executable, not a core dump "
		"(load_elf loads executables)");
	fx_close(&f);
}
