/*
 * pool.h - a prefork pool of worker processes that knows nothing of
 * images or tasks beyond an index and two opaque blobs.
 *
 * The master forks @workers children.  Each child runs init() once, then
 * loops: read a task (its index and a request blob) from its socket, call
 * work(), send the result blob back.  The master pulls the next task with
 * get_next_task() whenever a worker is idle (dynamic balance) and hands
 * the outcome of each to task_finished(), once per task pulled.  What a
 * request or a result holds, and what a crash or a timeout means for the
 * task, is the caller's business: the pool only says how a task ended
 * (enum pool_end).
 *
 * Work is pulled lazily: get_next_task() may answer POOL_NEXT_WAIT ("none
 * now, more later") while the caller is still producing tasks, and the
 * caller drives the pool in steps (pool_step()) between batches of its
 * own work; workers are forked when the first task is pulled.
 *
 * A worker that dies or exceeds the per-task timeout costs its task that
 * one outcome and is replaced; the task is not retried (a file that
 * crashed a decoder once will again).  A worker dying before it says READY
 * is a start-up failure, never a task's: after a few in a row the run
 * ends (stats.init_failed) and the tasks still to run end
 * POOL_END_NO_WORKER.
 *
 * Signals: the master's SIGINT/SIGTERM handling is in sig.h; the pool
 * checks sig_count() every step: on the first signal it stops dispatching
 * and lets in-flight tasks finish (POOL_END_ABORTED for those a second
 * signal kills); the tasks never dispatched end POOL_END_INTERRUPTED.
 *
 * Callbacks run in the worker must not write to stdout or stderr.
 *
 * Call sequence (master): sig_master_setup(); fill struct pool_opts
 * (borrowed for the whole run, as is @data), then either
 *     pool_run(&o, &stats);                      // all tasks known now
 * or
 *     p = pool_start(&o);
 *     while (producing) { ...produce a batch...; pool_step(p, 0); }
 *     pool_finish(p, &stats);                    // runs the rest, frees p
 * pool_finish() and pool_run() reap every worker before they return.
 */
#ifndef IMGPOOL_POOL_H
#define IMGPOOL_POOL_H

#include <stddef.h>
#include <stdint.h>

/* Exit status a worker uses when init() failed: it is not respawned. */
#define POOL_EXIT_INIT_FAILED 42

/* How a task ended, as the pool saw it. */
enum pool_end {
    POOL_END_RESULT = 0,   /* the worker answered: pool_done.result */
    POOL_END_CRASHED,      /* the worker died on it (pool_done.why) */
    POOL_END_MEMORY,       /* died by SIGABRT/SIGSEGV/SIGBUS after growing
                              to 3/4 of its memory cap (why) */
    POOL_END_TIMEOUT,      /* killed after timeout_s */
    POOL_END_ABORTED,      /* killed by a second signal */
    POOL_END_INTERRUPTED,  /* never started: the first signal came */
    POOL_END_NO_WORKER,    /* never started: no worker could start */
};

/* One finished task, for task_finished(); valid during the call only. */
struct pool_done {
    uint32_t id;
    enum pool_end end;
    const void *result;    /* POOL_END_RESULT: result_size bytes */
    size_t result_len;
    const char *why;       /* CRASHED, MEMORY: "worker killed by signal 11
                              (Segmentation fault)"; "" otherwise */
    int64_t usec;          /* time on a worker; 0 when never started */
};

/* What get_next_task() has. */
enum pool_next {
    POOL_NEXT_TASK = 0,    /* *id, *req and *len are set */
    POOL_NEXT_WAIT,        /* none now; ask again at the next step */
    POOL_NEXT_END,         /* none now or later */
};

struct pool_opts {
    int workers;                   /* >= 1 */
    double timeout_s;              /* per task; <= 0 means none */
    long max_memory_mb;            /* RLIMIT_DATA per worker; 0 = none */
    size_t result_size;            /* bytes of every result (> 0, at most
                                      PROTO_MAX_PAYLOAD); any other length
                                      on the wire is a protocol violation */
    /* In the worker, after fork.  Return 0, or -1 to exit the worker. */
    int (*init)(void *data);
    /* In the worker: run task @id from its request (@len bytes at @req)
     * and fill @result (result_size bytes, zeroed). */
    void (*work)(void *data, uint32_t id, const void *req, size_t len,
                 void *result);
    /* In the worker, before _exit(). */
    void (*fini)(void *data);
    /* In the master: the next task to run.  The request (at most
     * PROTO_MAX_PAYLOAD bytes) belongs to the caller and must stay valid
     * until the next call.  Never POOL_NEXT_WAIT once pool_finish() or
     * pool_run() runs. */
    enum pool_next (*get_next_task)(void *data, uint32_t *id,
                                    const void **req, size_t *len);
    /* In the master, once per task get_next_task() gave. */
    void (*task_finished)(void *data, const struct pool_done *d);
    void *data;
};

struct pool_stats {
    size_t crashes, timeouts, respawns;
    int interrupted;               /* signal that stopped dispatch, or 0 */
    int init_failed;               /* no worker could initialise */
};

struct pool;

/* A pool for @o (borrowed until pool_finish()); no worker is forked yet.
 * Never NULL (allocation failures end the program). */
struct pool *pool_start(const struct pool_opts *o);

/*
 * One step: act on signals, pull tasks for idle workers (forking the
 * workers with the first one), wait at most @timeout_ms (0: not at all,
 * -1: until something happens) for results, deaths and deadlines, and
 * settle what arrived.  0, or -1 after errorf() (no worker could be
 * forked, poll() failed): then call pool_finish() to settle the rest.
 */
int pool_step(struct pool *p, int timeout_ms);

/*
 * Run every task still to come, then settle the ones that cannot run,
 * shut the workers down, fill @stats and free @p.  0 (even with failed
 * tasks), or -1 when a step failed (after errorf()); when not even one
 * worker could be forked, nothing ran and nothing is settled.
 */
int pool_finish(struct pool *p, struct pool_stats *stats);

/* pool_start() and pool_finish() at once. */
int pool_run(const struct pool_opts *o, struct pool_stats *stats);

/* Default worker count: CPUs in this process's affinity mask. */
int pool_default_workers(void);

#endif
