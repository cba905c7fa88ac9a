/*
 * The command language of gmem(1): one line, one verb, Qiling's names.
 * ctl, the control files bound to one verb, and the gmem tool all go
 * through gm_cmd_run; the daemon adds nothing but the files around it.
 */
#ifndef GM_CMD_H
#define GM_CMD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "error.h"
#include "text.h"

struct gm_guest;
struct gm_cmd_ctx;

/* A context for running commands on G: the log of the last
 * GM_CMD_LOG_LINES commands. NULL when out of memory. */
#define GM_CMD_LOG_LINES 1000
struct gm_cmd_ctx *gm_cmd_ctx_new(struct gm_guest *g);
void gm_cmd_ctx_free(struct gm_cmd_ctx *c);

/*
 * Run TEXT (LEN bytes, any bytes) as commands, one per line, in order up to
 * the first failure, appending their answers to OUT. VERB NULL is `ctl`:
 * blank lines and lines starting with '#' are skipped. VERB "map",
 * "unmap", "save", "restore" or "stack" is a control file bound to it:
 * each line runs as VERB followed by the line, and an empty line runs VERB
 * alone (`echo > save`). VERB "run" is the run control file (`echo >
 * run`, `echo until=0x401000 > run`). A final line without '\n' is a
 * line too.
 *
 * Returns 0, or the negative errno (gmemfs(1) ERRORS) of the first failing
 * command; then OUT ends with "error: MESSAGE\n", ERR holds the message,
 * and the guest is as before that command (earlier lines stay done), but
 * for run and step, whose failures are stops (gmem(1), VERBS: run): the
 * guest ran, and MESSAGE is the stop line. Every command run goes to the log with
 * its result. The caller holds gm_guest_lock; run and step release it
 * while the guest runs (gm_run) and hold it again when they return, so
 * other threads may run commands on the same context meanwhile (stop,
 * read, …). Call gm_guest_stop, not this, from an interrupt callback.
 */
int gm_cmd_run(struct gm_cmd_ctx *c, const char *verb, const char *text,
	       size_t len, struct gm_text *out, struct gm_error *err);

/* Add a line to the log for an operation made without a command (chmod,
 * rm, a label set through the xattr): WHAT as the command, RESULT 0 or a
 * negative errno with ERR's message. */
void gm_cmd_log_add(struct gm_cmd_ctx *c, const char *what, int result,
		    const struct gm_error *err);

/* The log: one line per command, oldest first: the command, then " -> "
 * and its first answer line, "ok", or "error: MESSAGE". Bytes outside
 * printable ASCII are written \xNN, so no command can forge a line. */
int gm_cmd_log_text(const struct gm_cmd_ctx *c, struct gm_text *out);

/* The log as a stream of the lines logged since C was made: START is the
 * offset of the oldest line kept, END the stream's length, TIME when a
 * line was last added (zero before any). */
void gm_cmd_log_span(const struct gm_cmd_ctx *c, uint64_t *start, uint64_t *end,
		     struct timespec *time);
/* Append to OUT at most SIZE bytes of the stream from offset FROM (from
 * the oldest kept line when FROM is older). -ENOMEM. */
int gm_cmd_log_read(const struct gm_cmd_ctx *c, uint64_t from, size_t size,
		    struct gm_text *out);

/* The texts of files that are views of the guest (gmemfs(1), THE TREE). */
int gm_maps_text(const struct gm_guest *g, struct gm_text *out);
int gm_info_text(const struct gm_guest *g, struct gm_text *out);
/* The stack from SP to the end of SP's region: "+0x8 0x7fff… 0x41" lines.
 * Empty when SP is not mapped. */
int gm_stack_text(struct gm_guest *g, struct gm_text *out);

/* gm_range_format for G's address width. */
char *gm_range_name(const struct gm_guest *g, uint64_t start, uint64_t size,
		    char *buf);

/*
 * Parsers shared with the daemon's options. A number is 0x hex or decimal;
 * with SUFFIX a size may end in k, m or g (×1024ⁿ). -EINVAL on anything
 * else, on overflow past 2^64-1, and on an empty text.
 */
int gm_parse_u64(const char *text, bool suffix, uint64_t *value,
		 struct gm_error *err);

#endif
