/*
 * run_int.h - the run's state, shared by run.c (planning, the pool, the
 * end) and run_setup.c (checks, output directory, lock, scan).
 * Private to src/master/run/.
 *
 * Call sequence (run_process() in run.c):
 *   run_preflight(run); run_setup(run); ... plan, pool, finish ...
 * The roots come normalised in the options' run configuration (cli.h);
 * the run only reads the options.
 * run_preflight() and run_setup() return RUN_EXIT_OK or the exit status
 * after errorf(); run_scan_inputs() 0 or -1 after errorf().
 */
#ifndef IMGPOOL_RUN_INT_H
#define IMGPOOL_RUN_INT_H

#include <stdio.h>
#include <sys/stat.h>

#include "cli.h"
#include "plan.h"
#include "pool.h"
#include "report.h"
#include "run.h"
#include "run_stream.h"
#include "scan.h"
#include "state.h"

struct run {
    const struct cli_opts *opts;   /* the caller's, only read */
    const struct run_worker *worker;
    struct scan_list list;
    struct report rep;
    struct report_summary sum;
    struct pool_stats stats;
    struct run_lock lock;
    uint32_t *order;
    size_t nwork;
    size_t next;                /* next index into order */
    unsigned char *req;         /* the request of the task last pulled */
    size_t req_cap;
    /* Lazy dispatch (run_stream.h): the pool starts while the walk goes
     * on; lazy 0 means the whole scan and plan come first. */
    int lazy;
    struct run_stream stream;
    struct pool_opts pool_opts;
    const struct run_probe *probe;
    struct stat out_st;
    int have_out;
    /* Incremental runs (state.h); state NULL when not used, read-only
     * (state_open_readonly()) for --dry-run. */
    struct state *state;
    struct state_roots roots;
    uint64_t fingerprint;
    int dry_run;
    /* Several INPUTs: each root's directory below --output. */
    char **root_dirs;
    /* Opened before anything is created (run_preflight()). */
    FILE *files_from;            /* --files-from stream, NULL without */
    int log_fd;                  /* --log, -1 without */
    int dry_pipe;                /* stdout is a pipe, FIFO or socket */
    int dry_err;                 /* errno of the dry listing's first
                                    failed write, 0 while none failed */
};

int run_scan_inputs(struct run *run, const struct stat *skip, int have_skip);
enum run_exit run_setup(struct run *run);
enum run_exit run_preflight(struct run *run);
int run_writes_tree(const struct cli_opts *o);

#endif
