/*
 * The libFuzzer target of the command language (core/cmd/): arbitrary bytes
 * run through gm_cmd_run on a small guest, and what comes back must hold
 * SPEC §4's promises. Try it from the top directory:
 *  mkdir c; build-fuzz/tests/fuzz/fuzz-cmd -max_len=16384 -len_control=0 c
 * tests/fuzz/corpus-cmd
 *
 * The first byte picks the architecture (bits 0-1) and the file written
 * (bits 2-4: ctl, map, unmap, save, restore, stack). The rest is split at
 * each 0x1e byte into separate writes; between writes, a guest that maps
 * more than MAPPED_MAX bytes ends the input, so that one huge map cannot
 * make every later search or save slow.
 *
 * Each architecture's guest is kept and reset between inputs; with
 * GM_FUZZ_CHECK_RESET set, each input also runs on a new guest, and both
 * runs must answer the same.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/cmd.h"
#include "fresh.h"
#include "guest.h"
#include "memory.h"
#include "regions.h"
#include "regs.h"

#define MAPPED_MAX   (64u << 20)
#define REGION_LIMIT 12
#define SNAP_LIMIT   (256u << 10)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const arches[] = {"x86_64", "x86", "arm", "mips"};
static const char *const verbs[] = {NULL,      "map",	"unmap", "save",
				    "restore", "stack", NULL,	 NULL};

#define CHECK(cond)                                                        \
	do {                                                               \
		if (!(cond)) {                                             \
			fprintf(stderr, "fuzz-cmd: %s:%d: %s\n", __FILE__, \
				__LINE__, #cond);                          \
			abort();                                           \
		}                                                          \
	} while (0)

/*
 * The guest of each architecture, kept from input to input: opening an
 * engine costs more than running most inputs. Each input resets it as it
 * ends, so that what the input allocated is freed within it, as the
 * fuzzer's leak check wants.
 */
static struct gm_guest *guests[4];

/* The guest an input starts from, the kept one (a new one when !KEEP): a
 * stack, a data and a code region, a string, SP at the top. */
static struct gm_guest *guest_new(unsigned kind, bool keep)
{
	const struct gm_arch *arch = gm_arch_find(arches[kind]);
	struct gm_guest *g = keep ? guests[kind] : NULL;
	struct gm_error err;
	uint64_t page;

	CHECK(arch != NULL);
	if (!g) {
		CHECK(gm_guest_open(arch, &g, &err) == 0);
		if (keep)
			guests[kind] = g;
	} else if (gm_fuzz_check_reset()) {
		gm_fuzz_check_fresh(g, "fuzz-cmd");
	}
	page = gm_guest_page_size(g);
	CHECK(gm_map(g, arch->stack_addr, arch->stack_size,
		     GM_PERM_R | GM_PERM_W, "[stack]", 7, &err) == 0);
	CHECK(gm_map(g, 0x10000, 4 * page, GM_PERM_R | GM_PERM_W, "data", 4,
		     &err) == 0);
	CHECK(gm_map(g, 0x400000, 2 * page, GM_PERM_R | GM_PERM_X, "code\n", 5,
		     &err) == 0);
	CHECK(gm_mem_write(g, 0x10000, "hello\0world\xff", 12, &err) == 0);
	CHECK(gm_reg_set_sp(g, arch->stack_addr + arch->stack_size, &err) == 0);
	gm_guest_set_region_limit(g, REGION_LIMIT);
	gm_guest_set_snapshot_limit(g, SNAP_LIMIT);
	return g;
}

static int hex_digit(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	return -1;
}

/* Lowercase hex of exactly WIDTH digits (or "1" and WIDTH zeros, the end
 * of the space) at *P, up to STOP. */
static uint64_t parse_hex(const char **p, int width, char stop, bool *top)
{
	uint64_t v = 0;
	int n = 0;

	*top = false;
	for (; **p != stop; (*p)++, n++) {
		CHECK(hex_digit(**p) >= 0);
		v = v << 4 | (uint64_t)hex_digit(**p);
	}
	(*p)++;
	if (n == width + 1) {
		CHECK(width == 16 || v == UINT64_C(1) << 32);
		*top = width == 16;
		return v;
	}
	CHECK(n == width);
	return v;
}

/* Undo gm_text_add_escaped: \\ and \xNN. */
static size_t unescape(const char *s, const char *end, char *out)
{
	size_t n = 0;

	while (s < end) {
		if (*s != '\\') {
			CHECK((unsigned char)*s >= 0x20 &&
			      (unsigned char)*s < 0x7f);
			out[n++] = *s++;
			continue;
		}
		if (s[1] == '\\') {
			out[n++] = '\\';
			s += 2;
			continue;
		}
		CHECK(s[1] == 'x' && hex_digit(s[2]) >= 0 &&
		      hex_digit(s[3]) >= 0);
		out[n++] = (char)(hex_digit(s[2]) << 4 | hex_digit(s[3]));
		s += 4;
	}
	return n;
}

/* The maps text parses back into exactly the region list. */
static void check_maps(struct gm_guest *g)
{
	int width = gm_guest_arch(g)->address_bits == 32 ? 8 : 16;
	const struct gm_region *r;
	struct gm_text t;
	const char *p;
	char *label = malloc(4 * GM_LABEL_MAX + 1);
	size_t n, i = 0;

	CHECK(label != NULL);
	gm_text_init(&t);
	CHECK(gm_maps_text(g, &t) == 0);
	r = gm_regions(g, &n);
	for (p = t.len ? t.buf : ""; *p; i++) {
		const char *nl = strchr(p, '\n');
		uint64_t start, end;
		bool top;
		unsigned perms;
		char perm_text[4];

		CHECK(nl != NULL && i < n);
		start = parse_hex(&p, width, '-', &top);
		CHECK(!top);
		end = parse_hex(&p, width, ' ', &top);
		CHECK(start == r[i].start);
		CHECK(top ? r[i].start + r[i].size == 0
			  : end == r[i].start + r[i].size);
		memcpy(perm_text, p, 3);
		perm_text[3] = '\0';
		CHECK(gm_perms_parse(perm_text, &perms, NULL) == 0);
		CHECK(perms == r[i].perms && p[3] == ' ');
		p += 4;
		CHECK(unescape(p, nl, label) == r[i].label_len);
		CHECK(memcmp(label, r[i].label, r[i].label_len) == 0);
		p = nl + 1;
	}
	CHECK(i == n);
	gm_text_free(&t);
	free(label);
}

/* The log: at most GM_CMD_LOG_LINES lines, each "CMD -> RESULT", no
 * control byte but the newlines. */
static void check_log(struct gm_cmd_ctx *c)
{
	struct gm_text t;
	size_t lines = 0;

	gm_text_init(&t);
	CHECK(gm_cmd_log_text(c, &t) == 0);
	for (size_t i = 0; i < t.len; i++) {
		unsigned char ch = (unsigned char)t.buf[i];

		CHECK(ch == '\n' || ch >= 0x20);
		CHECK(ch != 0x7f);
		lines += ch == '\n';
	}
	CHECK(t.len == 0 || t.buf[t.len - 1] == '\n');
	CHECK(lines <= GM_CMD_LOG_LINES);
	for (char *p = t.buf, *nl; p && (nl = strchr(p, '\n')); p = nl + 1) {
		*nl = '\0';
		CHECK(strstr(p, " -> ") != NULL);
	}
	gm_text_free(&t);
}

/* A failed run answers "error: MESSAGE\n" last, MESSAGE as in ERR. */
static void check_answer(int rc, const struct gm_text *out,
			 const struct gm_error *err)
{
	const char *last;
	size_t msg_len = strlen(err->msg);

	CHECK(gm_text_status(out) == 0);
	if (rc == 0)
		return;
	CHECK(rc == -EINVAL || rc == -EEXIST || rc == -EFAULT ||
	      rc == -ENOMEM || rc == -ENOSPC || rc == -ENOENT || rc == -ERANGE);
	CHECK(err->code == -rc && msg_len > 0);
	for (size_t i = 0; i < msg_len; i++)
		CHECK(err->msg[i] >= 0x20 && err->msg[i] < 0x7f);
	CHECK(out->len >= msg_len + 8 && out->buf[out->len - 1] == '\n');
	last = out->buf + out->len - msg_len - 8;
	CHECK(last == out->buf || last[-1] == '\n');
	CHECK(memcmp(last, "error: ", 7) == 0);
	CHECK(memcmp(last + 7, err->msg, msg_len) == 0);
}

static uint64_t mapped_bytes(const struct gm_guest *g)
{
	const struct gm_region *r;
	uint64_t sum = 0;
	size_t n;

	r = gm_regions(g, &n);
	for (size_t i = 0; i < n; i++)
		sum += r[i].size;
	return sum;
}

/*
 * Run the input on G and check each answer; TRANSCRIPT (if not NULL) gets
 * every result and text the input made, to compare two runs of it.
 */
static void run_input(struct gm_guest *g, const uint8_t *data, size_t size,
		      struct gm_text *transcript)
{
	const char *verb = verbs[(data[0] >> 2) & 7];
	struct gm_cmd_ctx *c = gm_cmd_ctx_new(g);
	struct gm_text out;
	size_t pos = 1;

	CHECK(c != NULL);
	gm_text_init(&out);
	while (pos < size && mapped_bytes(g) <= MAPPED_MAX) {
		const uint8_t *sep = memchr(data + pos, 0x1e, size - pos);
		size_t len = sep ? (size_t)(sep - data) - pos : size - pos;
		struct gm_error err;
		int rc;

		gm_text_reset(&out);
		rc = gm_cmd_run(c, verb, (const char *)data + pos, len, &out,
				&err);
		if (getenv("GM_FUZZ_TRACE"))
			fprintf(stderr, "fuzz-cmd: write of %zu bytes: %d\n%s",
				len, rc, out.len ? out.buf : "");
		check_answer(rc, &out, &err);
		check_maps(g);
		if (transcript) {
			gm_text_printf(transcript, "write of %zu bytes: %d\n",
				       len, rc);
			gm_text_add(transcript, out.buf, out.len);
		}
		pos += len + 1;
	}
	check_log(c);
	gm_text_reset(&out);
	CHECK(gm_info_text(g, &out) == 0);
	if (transcript)
		gm_text_add(transcript, out.buf, out.len);
	gm_text_reset(&out);
	CHECK(gm_stack_text(g, &out) == 0);
	if (transcript) {
		gm_text_add(transcript, out.buf, out.len);
		CHECK(gm_cmd_log_text(c, transcript) == 0);
		CHECK(gm_maps_text(g, transcript) == 0);
	}
	gm_text_free(&out);
	gm_cmd_ctx_free(c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct gm_text kept, fresh;
	struct gm_guest *g;
	struct gm_error err;
	bool check = gm_fuzz_check_reset();

	if (size < 1)
		return 0;
	/* run and step may loop for ever on random code: they are tested
	 * in test-run.c, not here (a run would need a stop thread). */
	if (memmem(data, size, "run", 3) || memmem(data, size, "step", 4))
		return 0;
	gm_text_init(&kept);
	g = guest_new(data[0] & 3, true);
	run_input(g, data, size, check ? &kept : NULL);
	CHECK(gm_guest_reset(g, &err) == 0);
	/* The input must not tell a reset guest from a new one. */
	if (check) {
		gm_text_init(&fresh);
		g = guest_new(data[0] & 3, false);
		run_input(g, data, size, &fresh);
		gm_guest_close(g);
		CHECK(gm_text_status(&kept) == 0 &&
		      gm_text_status(&fresh) == 0);
		if (kept.len != fresh.len ||
		    memcmp(kept.buf, fresh.buf, kept.len) != 0) {
			fprintf(stderr,
				"fuzz-cmd: on the reset guest:\n%.*s\n"
				"fuzz-cmd: on a new guest:\n%.*s\n",
				(int)kept.len, kept.buf, (int)fresh.len,
				fresh.buf);
			abort();
		}
		gm_text_free(&fresh);
	}
	gm_text_free(&kept);
	return 0;
}
