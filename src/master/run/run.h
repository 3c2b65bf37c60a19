/*
 * run.h - one imgpool command from parsed options to exit status: the
 * master's side of a run (output directory, lock, scan, plan, state, pool,
 * report) with the worker's entry points handed in.
 *
 * Call sequence (main.c):
 *   struct cli_opts o;
 *   cli_opts_init(&o);
 *   if (cli_parse(&o, argc, argv) == CLI_RUN)
 *       code = run_command(&o, &worker);     // else o.exit_code
 *   cli_opts_release(&o);
 *
 * The master library never includes worker code: @worker names the
 * functions a worker process calls (worker.h in the real program, fakes in
 * tests), and the pool calls them after fork().
 */
#ifndef IMGPOOL_RUN_H
#define IMGPOOL_RUN_H

#include "cli.h"
#include "settings.h"
#include "task.h"

/* Exit statuses of imgpool (docs/imgpool.1). */
enum run_exit {
    RUN_EXIT_OK = 0,          /* every file ok or skipped */
    RUN_EXIT_SOME_FAILED = 1, /* at least one file failed */
    RUN_EXIT_USAGE = 2,       /* setup or usage error: nothing was run */
    RUN_EXIT_BUSY = 75,       /* EX_TEMPFAIL: another run holds the lock */
};

/*
 * What a worker process runs, in this order: init once (0, or -1 when the
 * worker cannot start), work once per task, fini before it exits.  The
 * configuration and tasks are the master's, inherited across fork().
 */
struct run_worker {
    int (*init)(const struct run_config *c);
    void (*work)(const struct run_config *c, const struct task *t,
                 struct task_result *res);
    void (*fini)(void);
};

/*
 * Carry out the command parsed into @o: process the inputs, or merge
 * reports.  Sets the message level from --quiet/--verbose.  Output roots
 * (--output, --backup-dir) come normalised in @o->config (cli_parse()):
 * the run reads @o and never writes it.  Everything
 * the run has to say is printed; returns an enum run_exit value, or the
 * 128 + signal status of an interrupted run.
 */
int run_command(const struct cli_opts *o, const struct run_worker *worker);

/*
 * Watching a run from a test (NULL in the program): scan_entry() is called
 * in the master after every entry the walk looks at (a test slows the
 * walk there), scan_done() once the walk is complete, before anything
 * else happens; with @eager set, the run waits for the whole scan before
 * any worker starts even where lazy dispatch is safe; @step_every > 0
 * makes a lazy run plan and dispatch after every that many entries
 * (run_stream.h says when it does otherwise).
 */
struct run_probe {
    void (*scan_entry)(void *data);
    void (*scan_done)(void *data);
    int eager;
    unsigned step_every;
    void *data;
};

/* run_command() with @probe (may be NULL). */
int run_command_probed(const struct cli_opts *o, const struct run_worker *worker,
                       const struct run_probe *probe);

#endif
