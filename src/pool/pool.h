/*
 * pool.h - a prefork pool of worker processes that knows nothing of images.
 *
 * The master forks @workers children.  Each child runs init() once, then
 * loops: read a task index from its socket, call work(), send the
 * task_result back.  The master hands out one index at a time to whichever
 * worker is idle (dynamic balance), in the order given by @order.  Tasks
 * are not serialised: children inherit the task list across fork().
 *
 * A worker that dies or exceeds the per-task timeout costs its task a
 * failed result (ERR_WORKER_CRASHED / ERR_TIMEOUT) and is replaced; the
 * task is not retried (a file that crashed a decoder once will again).
 * A worker dying before it says READY is a start-up failure, never a
 * file's: after a few in a row the run ends (stats.init_failed).  done() is
 * called in the master exactly once per dispatched task.
 *
 * Signals: the master's SIGINT/SIGTERM handling is in sig.h; pool_run()
 * polls sig_pending() and, on the first signal, stops dispatching and lets
 * in-flight tasks finish; on a second, kills the workers.  Tasks never
 * dispatched are reported through done() as skipped, ERR_INTERRUPTED.
 *
 * Callbacks run in the worker must not write to stdout or stderr.
 *
 * Call sequence (master): sig_master_setup(); fill struct pool_opts
 * (borrowed for the whole run, as are @order and @data); pool_run(&o,
 * &stats); read stats.  pool_run() owns the workers and reaps every one
 * before it returns.
 */
#ifndef IMGPOOL_POOL_H
#define IMGPOOL_POOL_H

#include <stddef.h>
#include "task.h"

/* Exit status a worker uses when init() failed: it is not respawned. */
#define POOL_EXIT_INIT_FAILED 42

struct pool_opts {
    int workers;                   /* >= 1 */
    double timeout_s;              /* per task; <= 0 means none */
    long max_memory_mb;            /* RLIMIT_DATA per worker; 0 = none */
    const uint32_t *order;         /* task indices, dispatch order */
    size_t ntasks;                 /* entries in order */
    size_t id_limit;               /* every task index is below this */
    /* In the worker, after fork.  Return 0, or -1 to exit the worker. */
    int (*init)(void *data);
    /* In the worker: fill @res for task @id.  res->id is preset. */
    void (*work)(void *data, uint32_t id, struct task_result *res);
    /* In the worker, before _exit(). */
    void (*fini)(void *data);
    /* In the master, once per task. */
    void (*done)(void *data, const struct task_result *res);
    void *data;
};

struct pool_stats {
    size_t crashes, timeouts, respawns;
    int interrupted;               /* signal that stopped dispatch, or 0 */
    int init_failed;               /* no worker could initialise */
};

/* Run every task.  0 on completion (even with failed tasks); -1 on a setup
 * failure (cannot fork even one worker), after errorf(). */
int pool_run(const struct pool_opts *o, struct pool_stats *stats);

/* Default worker count: CPUs in this process's affinity mask. */
int pool_default_workers(void);

#endif
