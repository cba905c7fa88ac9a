/*
 * libgmemcore in one include: the memory manager of gmemfs over a Unicorn
 * engine (Qiling's ql.mem and ql.stack_* in C), its snapshots and snapshot
 * files, and its command language. `pkg-config --cflags --libs gmemcore`.
 */
#ifndef GM_GMEM_H
#define GM_GMEM_H

#include "version.h"

#include "arch.h"
#include "cmd.h"
#include "coredump.h"
#include "error.h"
#include "guest.h"
#include "load.h"
#include "memory.h"
#include "regions.h"
#include "regs.h"
#include "run.h"
#include "snapfile.h"
#include "snapshot.h"
#include "stack.h"
#include "text.h"

#endif
