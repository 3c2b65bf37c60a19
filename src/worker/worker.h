/*
 * worker.h - what a worker process runs: the entry points the master hands
 * to the pool (pool.h) as its init / work / fini callbacks.
 *
 * Call sequence, inside a worker process only (after fork):
 *   if (worker_init(&config) < 0) ...exit: this worker cannot start...
 *   worker_run(&config, &tasks[id], &res);     // once per task
 *   worker_fini();
 *
 * The master includes this header and nothing else of src/worker/: it names
 * these functions, never an image library.  The configuration and tasks are the
 * master's, inherited across fork() and only read here.
 */
#ifndef IMGPOOL_WORKER_H
#define IMGPOOL_WORKER_H

#include "settings.h"
#include "task.h"

/*
 * Start the image libraries for this process, and read the test-only fault
 * injection from the environment: IMGPOOL_FAULT="KIND:GLOB" with KIND one of
 * crash, abort, exit, hang, leak makes the worker misbehave that way on
 * every file whose name matches GLOB (only in builds with
 * IMGPOOL_FAULT_INJECTION, see fault.h).  0, or -1 when the worker cannot
 * run.
 */
int worker_init(const struct run_config *c);

/* Process task @t through the pipeline; the outcome lands in @res (never
 * printed). */
void worker_run(const struct run_config *c, const struct task *t,
                struct task_result *res);

/* Release what worker_init() set up, before the worker exits. */
void worker_fini(void);

#endif
