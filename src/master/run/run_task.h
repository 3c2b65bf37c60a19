/*
 * run_task.h - a task as the pool carries it: the request a worker gets
 * (the struct task packed into one blob, since a worker forked before the
 * task was planned has no copy of it) and what a pool outcome means for
 * the task's record.
 *
 * Call sequence:
 *   master: len = run_task_pack(&task, &buf, &cap);   // the request
 *   worker: run_task_unpack(req, len, &task);          // strings in req
 *   master: run_task_outcome(&done, &lim, &result);    // pool -> record
 *
 * Ownership: run_task_pack() grows *buf (caller frees); the task from
 * run_task_unpack() points into the request and lives as long as it.
 */
#ifndef IMGPOOL_RUN_TASK_H
#define IMGPOOL_RUN_TASK_H

#include <stddef.h>
#include "pool.h"
#include "task.h"

/* Pack @t into *@buf (*@cap bytes, grown with xrealloc).  Returns the
 * length.  pre_msg is not carried (a task given to a worker has none). */
size_t run_task_pack(const struct task *t, unsigned char **buf, size_t *cap);

/* Unpack a request into @t.  0, or -1 when @req is not a packed task (a
 * protocol bug). */
int run_task_unpack(const void *req, size_t len, struct task *t);

/* What the record of a task says about limits the pool enforced. */
struct run_task_limits {
    double timeout_s;
    long max_memory_mb;
};

/* The record of the task @d ended: the worker's result (its id and
 * message ends made safe) or a failure or skip with the class and message
 * for how the pool saw it end. */
void run_task_outcome(const struct pool_done *d,
                      const struct run_task_limits *lim,
                      struct task_result *r);

#endif
