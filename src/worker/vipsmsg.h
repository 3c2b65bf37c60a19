/*
 * vipsmsg.h - libvips errors into task results (workers only).
 */
#ifndef IMGPOOL_VIPSMSG_H
#define IMGPOOL_VIPSMSG_H

#include "task.h"

/*
 * Fail @res with class @c and "@what: <libvips' errors>", one line per
 * distinct message joined with "; ", then clear libvips' error buffer.
 * An empty buffer borrows the first warning already in @res.  Memory and
 * disk exhaustion override @c (out-of-memory, no-space).
 */
void vipsmsg_fail(struct task_result *res, enum err_class c,
                  const char *what);

#endif
