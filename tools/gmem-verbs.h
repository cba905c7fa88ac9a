/*
 * The daemon's command table as gmem has it: copied at build time by
 * tools/gmem-verbs.c from core/cmd/cmd.c, without the verbs' code.
 */
#ifndef GMEM_VERBS_H
#define GMEM_VERBS_H

#include <stddef.h>

#include "cmd/cmd-priv.h"

extern const struct gm_cmd *const gmem_verbs[];
extern const size_t gmem_nverbs;

#endif
