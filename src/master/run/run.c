/*
 * run.c - one run of the master: output directory, lock, scan, plan,
 * state, pool, report, exit status.  See run.h.
 *
 * The run's state lives in struct run, which the pool's callbacks receive
 * as their data pointer; workers inherit it across fork() and only read
 * the options and the task list.  The policy of each step lives in its
 * module (names.h: the lock's name; plan.h: the order; state.h: what is up
 * to date); this file only strings the steps together.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dirwalk.h"
#include "msg.h"
#include "names.h"
#include "plan.h"
#include "pool.h"
#include "report.h"
#include "run.h"
#include "run_dry.h"
#include "run_inputs.h"
#include "run_stream.h"
#include "run_task.h"
#include "scan.h"
#include "sig.h"
#include "state.h"
#include "sweep.h"
#include "util.h"

#include "run_int.h"

/* ------------------------------------------------------------------------
 * The pool's callbacks
 */

static int
pool_init(void *data)
{
    struct run *run = data;

    return run->worker->init(&run->opts->config);
}

static void
pool_fini(void *data)
{
    struct run *run = data;

    run->worker->fini();
}

static void
pool_work(void *data, uint32_t id, const void *req, size_t len, void *result)
{
    struct run *run = data;
    struct task_result *res = result;
    struct task t;

    res->id = id;
    if (run_task_unpack(req, len, &t) < 0) {
        task_result_set(res, id, TASK_FAILED, ERR_INTERNAL,
                        "malformed task request from the master");
        return;
    }
    run->worker->work(&run->opts->config, &t, res);
    res->id = id;
}

/* The next task for the pool: from the order (the whole plan came
 * first) or the lazy queue, packed into the request. */
static enum pool_next
pool_next_task(void *data, uint32_t *id, const void **req, size_t *len)
{
    struct run *run = data;
    enum pool_next r;

    if (run->lazy) {
        r = run_stream_next(&run->stream, id);
        if (r != POOL_NEXT_TASK)
            return r;
    } else {
        if (run->next >= run->nwork)
            return POOL_NEXT_END;
        *id = run->order[run->next++];
    }
    *len = run_task_pack(&run->list.tasks[*id], &run->req, &run->req_cap);
    *req = run->req;
    return POOL_NEXT_TASK;
}

/* A dry run's line into a pipe on stdout, through report_pipe_write(): a
 * reader that stopped reading cannot hold off SIGTERM.  After the first
 * failure nothing more is written. */
static void
dry_line_to_pipe(struct run *run, const struct task *t,
                 const struct task_result *r)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *m;

    if (run->dry_err)
        return;
    m = open_memstream(&buf, &len);
    if (!m) {
        run->dry_err = errno;
        return;
    }
    run_dry_line(m, &run->opts->config, t, r);
    if (fclose(m) == EOF)
        run->dry_err = ENOMEM;
    else if (fflush(stdout) == EOF ||
             report_pipe_write(STDOUT_FILENO, buf, len) < 0)
        run->dry_err = errno;
    free(buf);
}

/* One record: the report, and for a dry run its line on stdout (unless
 * the report itself goes there). */
static void
run_record(struct run *run, const struct task *t,
           const struct task_result *r)
{
    const struct cli_opts *o = run->opts;

    report_add(&run->rep, t, r);
    if (!run->dry_run || (o->report_path && strcmp(o->report_path, "-") == 0))
        return;
    if (run->dry_pipe) {
        dry_line_to_pipe(run, t, r);
        return;
    }
    run_dry_line(stdout, &o->config, t, r);
    if (!run->dry_err && ferror(stdout))
        run->dry_err = errno ? errno : EIO;
}

static void
master_done(void *data, const struct pool_done *d)
{
    struct run *run = data;
    const struct task *t = &run->list.tasks[d->id];
    struct run_task_limits lim;
    struct task_result r;

    lim.timeout_s = run->opts->timeout_s;
    lim.max_memory_mb = run->opts->max_memory_mb;
    run_task_outcome(d, &lim, &r);
    if (r.in_bytes <= 0)
        r.in_bytes = t->size;
    if (run->state && r.status == TASK_OK)
        state_record_task(run->state, &run->roots, t, run->fingerprint);
    run_record(run, t, &r);
}

/* ------------------------------------------------------------------------
 * Plan, state, pool
 */

/*
 * The state database before planning, so that recorded names stay with
 * their inputs: opened for the run, or only peeked at for a dry run.
 * 0, or -1 after errorf().
 */
static int
run_state_open(struct run *run, struct plan_recorded *rec)
{
    const struct cli_opts *o = run->opts;
    int k;

    run->fingerprint = state_fingerprint(o->config.out, o->config.nsizes);
    state_roots_init(&run->roots, o->inputs, o->ninputs);
    if (run->dry_run)
        state_open_readonly(&run->state, o->output_dir, o->shard_k,
                            o->shard_n);
    else if (state_open(&run->state, o->output_dir, o->shard_k,
                        o->shard_n) < 0)
        return -1;
    run_recorded_names(rec, &run->roots, &run->list, run->state);
    /* Every shard plans the whole list, and must plan it the same way:
     * each also reads the names the other shards recorded. */
    for (k = 0; o->shard_n > 1 && k < o->shard_n; k++) {
        struct state *other;

        if (k == o->shard_k)
            continue;
        state_open_readonly(&other, o->output_dir, k, o->shard_n);
        run_recorded_names(rec, &run->roots, &run->list, other);
        state_close(other);
    }
    return 0;
}

/* Outputs, shard, and what is up to date.  0, or -1 after errorf(). */
static int
run_plan(struct run *run)
{
    const struct cli_opts *o = run->opts;
    struct plan_recorded rec;
    struct plan_opts po;
    int rc;

    memset(&po, 0, sizeof(po));
    po.output_dir = o->output_dir;
    po.name_template = o->name_template;
    po.format = o->config.out[0].format;
    po.in_place = !run_writes_tree(o);
    po.outs = o->config.out;
    po.nsizes = o->config.nsizes;
    plan_recorded_init(&rec);
    if (run_writes_tree(o)) {
        if (run_state_open(run, &rec) < 0)
            return -1;
        run->root_dirs = plan_root_dirs(o->inputs, o->ninputs);
        po.root_dirs = run->root_dirs;
        po.nroot_dirs = run->root_dirs ? o->ninputs : 0;
        po.recorded = &rec;
    }
    rc = plan_outputs(&po, &run->list);
    plan_recorded_release(&rec);
    if (rc < 0) {
        errorf("cannot plan outputs: out of memory");
        return -1;
    }
    if (o->shard_n) {
        plan_shard(&po, &run->list, o->shard_k, o->shard_n);
        notef("shard %d/%d: %zu files here, %zu in other shards", o->shard_k,
              o->shard_n, run->list.n, run->list.other_shards);
    }
    /* --no-incremental redoes every file but still records what it made,
     * so the next ordinary run can skip again. */
    if (run_writes_tree(o) && !o->no_incremental) {
        if (run->state)
            state_skip_up_to_date(run->state, &run->roots, run->list.tasks,
                                  run->list.n, run->fingerprint);
    }
    if (!run->dry_run)
        sweep_stale_temps(run_writes_tree(o) ? o->output_dir : NULL,
                          o->config.commit.in_place ? o->config.commit.backup_dir
                                               : NULL,
                          &run->list);
    return 0;
}

/* Report the tasks whose fate scan, plan or state already decided. */
static void
report_presettled(struct run *run)
{
    struct task_result r;
    size_t i;

    for (i = 0; i < run->list.n; i++) {
        const struct task *t = &run->list.tasks[i];
        if (t->pre_status == TASK_OK)
            continue;
        task_result_set(&r, (uint32_t)i, t->pre_status, t->pre_class, "%s",
                        t->pre_msg ? t->pre_msg : "");
        r.in_bytes = t->size;
        run_record(run, t, &r);
    }
}

/* A dry run with -o: every task settled here, in list order; no worker
 * runs.  Returns 0. */
static int
run_dry_all(struct run *run)
{
    struct task_result r;
    size_t i;

    for (i = 0; i < run->list.n; i++) {
        const struct task *t = &run->list.tasks[i];

        if (t->pre_status == TASK_OK) {
            run_dry_settle(&run->opts->config.out[0], t, (uint32_t)i, &r);
        } else {
            task_result_set(&r, (uint32_t)i, t->pre_status, t->pre_class,
                            "%s", t->pre_msg ? t->pre_msg : "");
            r.in_bytes = t->size;
        }
        run_record(run, t, &r);
        if (sig_pending())
            break;
    }
    if (fflush(stdout) == EOF && !run->dry_err)
        run->dry_err = errno;
    run->stats.interrupted = sig_pending();
    return 0;
}

/* The pool's options for @workers workers. */
static void
run_pool_opts(struct run *run, int workers)
{
    const struct cli_opts *o = run->opts;
    struct pool_opts *pool = &run->pool_opts;

    memset(pool, 0, sizeof(*pool));
    pool->workers = workers;
    pool->timeout_s = o->timeout_s;
    pool->max_memory_mb = o->max_memory_mb;
    pool->result_size = sizeof(struct task_result);
    pool->init = pool_init;
    pool->work = pool_work;
    pool->fini = pool_fini;
    pool->get_next_task = pool_next_task;
    pool->task_finished = master_done;
    pool->data = run;
}

/* Every task still to be processed, through the pool.  0, or -1 after
 * errorf(). */
/* "N files to process with N workers", in the singular where it is one. */
static void
note_work(size_t n, int workers)
{
    notef("%zu %s to process with %d %s", n, n == 1 ? "file" : "files",
          workers, workers == 1 ? "worker" : "workers");
}

static int
run_pool(struct run *run)
{
    const struct cli_opts *o = run->opts;
    int workers;

    report_start(&run->rep, run->list.n);
    /* In place and --freedesktop, only a worker can tell (the saving,
     * whether the cached thumbnails are current). */
    if (run->dry_run && !o->config.commit.in_place && !o->config.commit.fd_flavors)
        return run_dry_all(run);
    report_presettled(run);
    run->order = xcalloc(run->list.n, sizeof(*run->order));
    run->nwork = plan_order(&run->list, run->order);
    report_plan_work(&run->rep, run->list.tasks, run->order, run->nwork);

    workers = o->jobs > 0 ? o->jobs : pool_default_workers();
    if ((size_t)workers > run->nwork && run->nwork > 0)
        workers = (int)run->nwork;
    run_pool_opts(run, workers);
    report_plan_workers(&run->rep, (unsigned)workers);
    note_work(run->nwork, workers);
    /* Workers are forked with a copy of stdio's buffers: empty them. */
    fflush(stdout);
    return pool_run(&run->pool_opts, &run->stats);
}

/* Lazy dispatch: a task settled without a worker, and one queued. */
static void
lazy_settled(void *data, size_t i)
{
    struct run *run = data;
    const struct task *t = &run->list.tasks[i];
    struct task_result r;

    task_result_set(&r, (uint32_t)i, t->pre_status, t->pre_class, "%s",
                    t->pre_msg ? t->pre_msg : "");
    r.in_bytes = t->size;
    run_record(run, t, &r);
}

/*
 * Scan, plan, state and pool together (run_stream.h): the pool starts
 * on the first planned files while the walk goes on.  0, or -1 after
 * errorf() (the walk or the planning failed: what was dispatched has
 * run and is reported).
 */
static int
run_lazy(struct run *run)
{
    const struct cli_opts *o = run->opts;
    struct run_stream_opts so;
    struct plan_opts po;
    int rc, workers = o->jobs > 0 ? o->jobs : pool_default_workers();

    memset(&po, 0, sizeof(po));
    po.output_dir = o->output_dir;
    po.name_template = o->name_template;
    po.format = o->config.out[0].format;
    memset(&so, 0, sizeof(so));
    so.list = &run->list;
    so.plan = plan_stream_begin(&po, &run->list);
    if (!so.plan) {
        errorf("cannot plan outputs: %s", strerror(errno));
        return -1;
    }
    /* No up-to-date check: the lazy path is taken only on a database
     * that records nothing (run_stream_choose()), and what this run
     * records is for outputs already claimed. */
    so.state = NULL;
    so.roots = &run->roots;
    so.fingerprint = run->fingerprint;
    so.output_dir = o->output_dir;
    so.rep = &run->rep;
    so.step_every = run->probe ? run->probe->step_every : 0;
    so.settled = lazy_settled;
    so.data = run;
    report_start(&run->rep, 0);
    run_pool_opts(run, workers);
    report_plan_workers(&run->rep, (unsigned)workers);
    fflush(stdout);
    so.pool = pool_start(&run->pool_opts);
    run_stream_init(&run->stream, &so);
    rc = run_scan_inputs(run, &run->out_st, run->have_out);
    if (run->probe && run->probe->scan_done)
        run->probe->scan_done(run->probe->data);
    if (rc == 0) {
        run_add_named_files(o, &run->list);
        run_warn_empty_inputs(o, &run->list);
        run->stream.scanning = 0;
        rc = run_stream_step(&run->stream, NULL);
        run->nwork = run->stream.queued;
        /* The pool started them all; only as many as there are files work. */
        note_work(run->nwork, run->nwork > 0 && (size_t)workers > run->nwork
                                  ? (int)run->nwork : workers);
    }
    if (rc < 0)
        run->stream.nheap = 0;    /* in-flight files finish, no others */
    run->stream.scanning = 0;
    if (pool_finish(so.pool, &run->stats) < 0)
        rc = -1;
    plan_stream_end(so.plan);
    return rc;
}

/* ------------------------------------------------------------------------
 * Finish
 */

static void
on_pruned(void *data, const char *out)
{
    size_t *n = data;

    (*n)++;
    notef("removed '%s': its input is gone", msg_name(out));
}

/* --prune, only after a complete, clean walk of every root. */
static void
prune(struct run *run)
{
    size_t pruned = 0;

    if (run->list.walk_errors) {
        warnf("not pruning: %zu problems while scanning the inputs",
              run->list.walk_errors);
        return;
    }
    if (state_prune_roots(run->state, &run->roots, on_pruned, &pruned) > 0)
        run->sum.pruned = pruned;
}

/* Prune, close the state, write the summary; the exit status. */
static int
run_finish(struct run *run)
{
    const struct cli_opts *o = run->opts;

    if (o->prune && run->state && !run->dry_run && !run->stats.interrupted)
        prune(run);
    else if (o->prune && run->dry_run)
        notef("--prune: nothing is removed in a dry run");
    if (run->dry_run && fflush(stdout) == EOF && !run->dry_err)
        run->dry_err = errno;
    /* A reader that left ("| head -1") took what it wanted: say what it
     * missed and keep the run's own exit status.  Any other error
     * is a setup error. */
    if (run->dry_err == EINTR) {
        warnf("the dry run's list on standard output was cut short: "
              "interrupted while its reader was not reading");
    } else if (run->dry_err == EPIPE) {
        warnf("the dry run's list on standard output was cut short: its "
              "reader went away");
    } else if (run->dry_err) {
        errorf("cannot write the dry run's list: %s",
               strerror(run->dry_err));
        return RUN_EXIT_USAGE;
    }
    if (run->state) {
        state_close(run->state);
        run->state = NULL;
    }
    run->sum.ignored = run->list.ignored;
    run->sum.excluded = run->list.excluded;
    run->sum.interrupted = run->stats.interrupted;
    if (report_finish(&run->rep, &run->sum) < 0)
        return RUN_EXIT_USAGE;
    if (run->stats.init_failed) {
        if (o->max_memory_mb > 0)
            errorf("no worker could start (is --max-memory %ld too small?)",
                   o->max_memory_mb);
        else
            errorf("no worker could start: the image library failed to "
                   "initialise");
        return RUN_EXIT_USAGE;
    }
    if (run->stats.interrupted)
        return sig_exit_code(run->stats.interrupted);
    return run->rep.count[TASK_FAILED] ? RUN_EXIT_SOME_FAILED : RUN_EXIT_OK;
}

/* --log: one line per run, appended with a single write(2). */
static void
append_log(const struct run *run, int code)
{
    const struct cli_opts *o = run->opts;
    char line[4096], *what;
    int n;

    what = report_log_what(o->command_name, o->config.commit.in_place,
                           o->inputs, o->ninputs, o->output_dir);
    n = report_log_line(&run->rep, &run->sum, what, code, line,
                        sizeof(line) - 1);
    free(what);
    if (n < 0)
        return;
    if ((size_t)n > sizeof(line) - 2)
        n = (int)sizeof(line) - 2;
    line[n++] = '\n';
    if (write(run->log_fd, line, (size_t)n) != n)
        errorf("cannot append to --log '%s': %s", o->log_path,
               strerror(errno));
}

static void
run_init(struct run *run, const struct cli_opts *o, const struct run_worker *w)
{
    struct report_opts ro;

    memset(run, 0, sizeof(*run));
    run->opts = o;
    run->worker = w;
    run->lock.fd = -1;
    run->log_fd = -1;
    run->dry_run = o->config.commit.dry_run;
    {
        struct stat sb;

        run->dry_pipe = run->dry_run && fstat(STDOUT_FILENO, &sb) == 0 &&
                        (S_ISFIFO(sb.st_mode) || S_ISSOCK(sb.st_mode));
    }
    scan_list_init(&run->list);
    memset(&ro, 0, sizeof(ro));
    ro.progress = o->progress;
    /* Unattended (stderr not a terminal): no summary unless there is
     * trouble, so cron mails only then; --verbose asks for it anyway. */
    ro.quiet = o->quiet || (!o->verbose && !isatty(STDERR_FILENO));
    ro.max_listed_failures = 10;
    report_init(&run->rep, &ro);
}

static void
run_release(struct run *run)
{
    if (run->state)
        state_close(run->state);
    plan_root_dirs_free(run->root_dirs, run->opts->ninputs);
    lock_release(&run->lock);
    if (run->files_from && run->files_from != stdin)
        fclose(run->files_from);
    if (run->log_fd >= 0)
        close(run->log_fd);
    free(run->order);
    free(run->req);
    run_stream_release(&run->stream);
    state_roots_release(&run->roots);
    report_release(&run->rep);
    scan_list_release(&run->list);
}

/* thumbnail / recompress: the whole run; its exit status. */
static int
run_process(const struct cli_opts *o, const struct run_worker *w,
            const struct run_probe *probe)
{
    struct run run;
    int code;

    run_init(&run, o, w);
    run.probe = probe;
    code = (int)run_preflight(&run);
    if (code == 0)
        code = (int)run_setup(&run);
    if (code == 0 && !run.lazy && run_plan(&run) < 0)
        code = RUN_EXIT_USAGE;
    if (code == 0 && (run.lazy ? run_lazy(&run) : run_pool(&run)) < 0)
        code = RUN_EXIT_USAGE;
    if (code == 0)
        code = run_finish(&run);
    if (run.log_fd >= 0)
        append_log(&run, code);
    run_release(&run);
    return code;
}

/* report merge FILE...: the merged report on standard output. */
static int
run_merge(const struct cli_opts *o)
{
    struct merge_totals totals;

    signal(SIGPIPE, SIG_IGN);
    if (report_merge(o->inputs, o->ninputs, stdout, &totals) < 0)
        return RUN_EXIT_USAGE;
    return totals.failed ? RUN_EXIT_SOME_FAILED : RUN_EXIT_OK;
}

int
run_command_probed(const struct cli_opts *o, const struct run_worker *worker,
                   const struct run_probe *probe)
{
    msg_set_level(o->quiet ? MSG_QUIET : o->verbose ? MSG_VERBOSE
                                                    : MSG_NORMAL);
    if (o->command == CMD_REPORT_MERGE)
        return run_merge(o);
    return run_process(o, worker, probe);
}

int
run_command(const struct cli_opts *o, const struct run_worker *worker)
{
    return run_command_probed(o, worker, NULL);
}
