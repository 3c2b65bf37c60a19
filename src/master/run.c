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
#include "lock.h"
#include "merge.h"
#include "msg.h"
#include "names.h"
#include "plan.h"
#include "plan_keep.h"
#include "pool.h"
#include "report.h"
#include "run.h"
#include "run_dry.h"
#include "run_inputs.h"
#include "scan.h"
#include "sig.h"
#include "state.h"
#include "state_peek.h"
#include "sweep.h"
#include "util.h"

struct run {
    struct cli_opts *opts;
    const struct run_worker *worker;
    struct scan_list list;
    struct report rep;
    struct report_summary sum;
    struct pool_stats stats;
    struct run_lock lock;
    uint32_t *order;
    size_t nwork;
    /* Incremental runs (state.h); state NULL when not used. */
    struct state *state;
    struct state_roots roots;
    uint64_t fingerprint;
    /* --dry-run: the database read without touching it. */
    struct state_peek *peek;
    int dry_run;
    /* Several INPUTs: each root's directory below --output. */
    char **root_dirs;
    /* Normalised output roots, and what @opts held before. */
    char *output_dir, *backup_dir;
    const char *orig_output_dir, *orig_backup_dir, *orig_settings_output;
};

/* ------------------------------------------------------------------------
 * The pool's callbacks
 */

static int
pool_init(void *data)
{
    struct run *run = data;

    return run->worker->init(&run->opts->settings);
}

static void
pool_fini(void *data)
{
    struct run *run = data;

    run->worker->fini();
}

static void
pool_work(void *data, uint32_t id, struct task_result *res)
{
    struct run *run = data;

    run->worker->work(&run->opts->settings, &run->list.tasks[id], res);
}

/* One record: the report, and for a dry run its line on stdout (unless
 * the report itself goes there). */
static void
run_record(struct run *run, const struct task *t,
           const struct task_result *r)
{
    const struct cli_opts *o = run->opts;

    report_add(&run->rep, t, r);
    if (run->dry_run && !(o->report_path && strcmp(o->report_path, "-") == 0))
        run_dry_line(stdout, &o->settings, t, r);
}

static void
master_done(void *data, const struct task_result *res)
{
    struct run *run = data;
    const struct task *t = &run->list.tasks[res->id];
    struct task_result r = *res;

    if (r.in_bytes <= 0)
        r.in_bytes = t->size;
    if (run->state && r.status == TASK_OK)
        state_record_task(run->state, &run->roots, t, run->fingerprint);
    run_record(run, t, &r);
}

/* ------------------------------------------------------------------------
 * Setup: output roots, lock, scan
 */

/*
 * Spell --output and --backup-dir one way for the whole run: "out//",
 * "out/." and "./out" become "out" for the planner, the state and the
 * workers alike.
 */
static void
normalise_roots(struct run *run)
{
    struct cli_opts *o = run->opts;

    run->orig_output_dir = o->output_dir;
    run->orig_backup_dir = o->settings.backup_dir;
    run->orig_settings_output = o->settings.output_dir;
    if (o->output_dir) {
        run->output_dir = xstrdup(o->output_dir);
        dirwalk_normalize(run->output_dir);
        o->output_dir = run->output_dir;
        if (o->settings.output_dir)
            o->settings.output_dir = run->output_dir;
    }
    if (o->settings.backup_dir) {
        run->backup_dir = xstrdup(o->settings.backup_dir);
        dirwalk_normalize(run->backup_dir);
        o->settings.backup_dir = run->backup_dir;
    }
}

static void
restore_roots(struct run *run)
{
    struct cli_opts *o = run->opts;

    o->output_dir = run->orig_output_dir;
    o->settings.backup_dir = run->orig_backup_dir;
    o->settings.output_dir = run->orig_settings_output;
    free(run->output_dir);
    free(run->backup_dir);
}

/* Whether the run writes an output tree of its own (-o), with its lock,
 * state and stale temporaries: not in place, not into the freedesktop.org
 * thumbnail cache. */
static int
writes_tree(const struct cli_opts *o)
{
    return !o->settings.in_place && !o->freedesktop;
}

/*
 * Create the output (or backup) directory; 0, or -1 after errorf().  *st
 * receives its identity, *have whether there is one.
 */
static int
setup_output(const struct cli_opts *o, struct stat *st, int *have)
{
    const char *dir = o->settings.in_place ? o->settings.backup_dir
                                           : o->output_dir;
    const char *what = o->settings.in_place ? "backup" : "output";
    size_t i;
    int fd;

    *have = dir != NULL;
    if (!dir)
        return 0;
    /* A dry run creates nothing: a missing directory has nothing in it. */
    if (o->settings.dry_run && stat(dir, st) < 0) {
        *have = 0;
        return 0;
    }
    /* A directory the user named: its symbolic links are theirs. */
    fd = dirwalk_open(AT_FDCWD, dir, strlen(dir),
                      (o->settings.dry_run ? 0 : DIRWALK_CREATE) |
                          DIRWALK_FOLLOW, 0777);
    if (fd < 0 || fstat(fd, st) < 0) {
        errorf("cannot create %s directory '%s': %s", what, dir,
               strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    close(fd);
    for (i = 0; i < o->ninputs; i++) {
        struct stat in_st;
        if (stat(o->inputs[i], &in_st) == 0 && in_st.st_dev == st->st_dev &&
            in_st.st_ino == st->st_ino) {
            errorf("%s directory '%s' is the input '%s': choose a separate "
                   "directory", what, dir, o->inputs[i]);
            return -1;
        }
    }
    return 0;
}

/*
 * One run per output tree: --lock FILE, else the output tree's lock
 * (names_lock_path(): one per shard, so the shards of one job run side by
 * side).  In place there is no default lock.  Returns RUN_EXIT_OK, or
 * RUN_EXIT_BUSY or RUN_EXIT_USAGE after errorf().
 */
static enum run_exit
take_lock(const struct cli_opts *o, struct run_lock *lk)
{
    char holder[128], *path;
    enum run_exit code;

    lk->fd = -1;
    /* A dry run changes nothing, so it never keeps a real run waiting. */
    if (o->settings.dry_run)
        return RUN_EXIT_OK;
    if (o->lock_path)
        path = xstrdup(o->lock_path);
    else if (!writes_tree(o))
        return RUN_EXIT_OK;
    else
        path = names_lock_path(o->output_dir, o->shard_k, o->shard_n);
    if (!path) {
        errorf("cannot build the lock path: %s", strerror(errno));
        return RUN_EXIT_USAGE;
    }
    switch (lock_acquire(lk, path, o->wait_lock_s, holder, sizeof(holder))) {
    case LOCK_OK:
        code = RUN_EXIT_OK;
        break;
    case LOCK_BUSY:
        errorf("another run holds '%s' (%s)%s; not starting", path, holder,
               o->wait_lock_s > 0 ? " after waiting" : "");
        code = RUN_EXIT_BUSY;
        break;
    case LOCK_ERROR:
    default:
        errorf("cannot lock '%s': %s", path, strerror(errno));
        code = RUN_EXIT_USAGE;
        break;
    }
    free(path);
    return code;
}

/* --files-from: the stream to read, NULL without one.  0, or -1 after
 * errorf(). */
static int
open_list(const struct cli_opts *o, FILE **list)
{
    *list = NULL;
    if (!o->files_from)
        return 0;
    if (strcmp(o->files_from, "-") == 0) {
        *list = stdin;
        return 0;
    }
    *list = fopen(o->files_from, "re");
    if (!*list) {
        errorf("cannot open --files-from '%s': %s", o->files_from,
               strerror(errno));
        return -1;
    }
    return 0;
}

/* Scan every input, never descending into @skip.  0, or -1 after errorf(). */
static int
scan_inputs(struct run *run, const struct stat *skip, int have_skip)
{
    const struct cli_opts *o = run->opts;
    struct scan_opts so;
    FILE *list;
    int rc;

    if (open_list(o, &list) < 0)
        return -1;
    memset(&so, 0, sizeof(so));
    /* An output (or backup) tree inside an input is never scanned. */
    so.have_skip_dir = have_skip;
    so.skip_dev = (uint64_t)skip->st_dev;
    so.skip_ino = (uint64_t)skip->st_ino;
    so.roots = o->inputs;
    so.nroots = o->ninputs;
    so.includes = o->includes;
    so.nincludes = o->nincludes;
    so.excludes = o->excludes;
    so.nexcludes = o->nexcludes;
    so.follow_symlinks = o->follow_symlinks;
    so.shard_k = o->shard_k;
    so.shard_n = o->shard_n;
    so.files_from = list;
    so.files_from_nul = o->files_from_nul;
    rc = scan_run(&so, &run->list);
    if (list && list != stdin)
        fclose(list);
    return rc;
}

/*
 * Output directory, lock, signal handlers and scan.  RUN_EXIT_OK, or the
 * exit status after errorf().
 */
static enum run_exit
run_setup(struct run *run)
{
    struct cli_opts *o = run->opts;
    struct stat out_st;
    enum run_exit code;
    int have_out;

    memset(&out_st, 0, sizeof(out_st));
    if (setup_output(o, &out_st, &have_out) < 0)
        return RUN_EXIT_USAGE;
    /* The lock comes before the signal handlers, so that Ctrl-C still
     * ends a --wait-lock wait. */
    code = take_lock(o, &run->lock);
    if (code != RUN_EXIT_OK)
        return code;
    if (sig_master_setup() < 0) {
        errorf("cannot install signal handlers: %s", strerror(errno));
        return RUN_EXIT_USAGE;
    }
    if (scan_inputs(run, &out_st, have_out) < 0)
        return RUN_EXIT_USAGE;
    /* Nothing silent, nothing twice. */
    run_add_named_files(o, &run->list);
    run_warn_empty_inputs(o, &run->list);
    plan_mark_duplicates(&run->list, o->settings.in_place);
    return RUN_EXIT_OK;
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
    struct cli_opts *o = run->opts;
    int k;

    run->fingerprint = state_fingerprint(&o->settings);
    state_roots_init(&run->roots, o->inputs, o->ninputs);
    if (run->dry_run)
        run->peek = state_peek_open(o->output_dir, o->shard_k, o->shard_n);
    else if (state_open(&run->state, o->output_dir, o->shard_k,
                        o->shard_n) < 0)
        return -1;
    run_recorded_names(rec, &run->roots, &run->list, run->state, run->peek);
    /* Every shard plans the whole list, and must plan it the same way:
     * each also reads the names the other shards recorded. */
    for (k = 0; o->shard_n > 1 && k < o->shard_n; k++) {
        struct state_peek *other;

        if (k == o->shard_k)
            continue;
        other = state_peek_open(o->output_dir, k, o->shard_n);
        run_recorded_names(rec, &run->roots, &run->list, NULL, other);
        state_peek_close(other);
    }
    return 0;
}

/* Outputs, shard, and what is up to date.  0, or -1 after errorf(). */
static int
run_plan(struct run *run)
{
    struct cli_opts *o = run->opts;
    struct plan_recorded rec;
    struct plan_opts po;
    int rc;

    memset(&po, 0, sizeof(po));
    po.output_dir = o->output_dir;
    po.name_template = o->name_template;
    po.format = o->settings.format;
    po.in_place = !writes_tree(o);
    plan_recorded_init(&rec);
    if (writes_tree(o)) {
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
    if (writes_tree(o) && !o->no_incremental) {
        if (run->state)
            state_skip_up_to_date(run->state, &run->roots, run->list.tasks,
                                  run->list.n, run->fingerprint);
        else
            state_peek_skip_up_to_date(run->peek, &run->roots,
                                       run->list.tasks, run->list.n,
                                       run->fingerprint);
    }
    if (!run->dry_run)
        sweep_stale_temps(writes_tree(o) ? o->output_dir : NULL,
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
            run_dry_settle(&run->opts->settings, t, (uint32_t)i, &r);
        } else {
            task_result_set(&r, (uint32_t)i, t->pre_status, t->pre_class,
                            "%s", t->pre_msg ? t->pre_msg : "");
            r.in_bytes = t->size;
        }
        run_record(run, t, &r);
    }
    fflush(stdout);
    return 0;
}

/* Every task still to be processed, through the pool.  0, or -1 after
 * errorf(). */
static int
run_pool(struct run *run)
{
    const struct cli_opts *o = run->opts;
    struct pool_opts pool;

    report_start(&run->rep, run->list.n);
    /* In place and --freedesktop, only a worker can tell (the saving,
     * whether the cached thumbnails are current). */
    if (run->dry_run && !o->settings.in_place && !o->settings.fd_flavors)
        return run_dry_all(run);
    report_presettled(run);
    run->order = xcalloc(run->list.n, sizeof(*run->order));
    run->nwork = plan_order(&run->list, run->order);
    report_plan_work(&run->rep, run->list.tasks, run->order, run->nwork);

    memset(&pool, 0, sizeof(pool));
    pool.workers = o->jobs > 0 ? o->jobs : pool_default_workers();
    if ((size_t)pool.workers > run->nwork && run->nwork > 0)
        pool.workers = (int)run->nwork;
    report_plan_workers(&run->rep, (unsigned)pool.workers);
    pool.timeout_s = o->timeout_s;
    pool.max_memory_mb = o->max_memory_mb;
    pool.order = run->order;
    pool.ntasks = run->nwork;
    pool.id_limit = run->list.n;
    pool.init = pool_init;
    pool.work = pool_work;
    pool.fini = pool_fini;
    pool.done = master_done;
    pool.data = run;
    notef("%zu %s to process with %d %s", run->nwork,
          run->nwork == 1 ? "file" : "files", pool.workers,
          pool.workers == 1 ? "worker" : "workers");
    /* Workers are forked with a copy of stdio's buffers: empty them. */
    fflush(stdout);
    return pool_run(&pool, &run->stats);
}

/* ------------------------------------------------------------------------
 * Finish
 */

static void
on_pruned(void *data, const char *out)
{
    size_t *n = data;

    (*n)++;
    notef("removed '%s': its input is gone", out);
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

    if (o->prune && run->state && !run->stats.interrupted)
        prune(run);
    else if (o->prune && run->dry_run)
        notef("--prune: nothing is removed in a dry run");
    if (run->dry_run && fflush(stdout) == EOF) {
        errorf("cannot write the dry run's list: %s", strerror(errno));
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
append_log(const struct cli_opts *o, const struct report *rep,
           const struct report_summary *sum, int code)
{
    char line[4096], *what;
    int n, fd;

    what = report_log_what(o->command_name, o->settings.in_place,
                           o->inputs, o->ninputs, o->output_dir);
    n = report_log_line(rep, sum, what, code, line, sizeof(line) - 1);
    free(what);
    if (n < 0)
        return;
    if ((size_t)n > sizeof(line) - 2)
        n = (int)sizeof(line) - 2;
    line[n++] = '\n';
    fd = open(o->log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0 || write(fd, line, (size_t)n) != n)
        errorf("cannot append to --log '%s': %s", o->log_path,
               strerror(errno));
    if (fd >= 0)
        close(fd);
}

static void
run_init(struct run *run, struct cli_opts *o, const struct run_worker *w)
{
    struct report_opts ro;

    memset(run, 0, sizeof(*run));
    run->opts = o;
    run->worker = w;
    run->lock.fd = -1;
    run->dry_run = o->settings.dry_run;
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
    state_peek_close(run->peek);
    plan_root_dirs_free(run->root_dirs, run->opts->ninputs);
    lock_release(&run->lock);
    free(run->order);
    state_roots_release(&run->roots);
    report_release(&run->rep);
    scan_list_release(&run->list);
}

/* thumbnail / recompress: the whole run; its exit status. */
static int
run_process(struct cli_opts *o, const struct run_worker *w)
{
    struct run run;
    int code;

    run_init(&run, o, w);
    normalise_roots(&run);
    code = (int)run_setup(&run);
    if (code == 0 && run_plan(&run) < 0)
        code = RUN_EXIT_USAGE;
    if (code == 0 && o->report_path &&
        report_open(&run.rep, o->report_path) < 0)
        code = RUN_EXIT_USAGE;
    if (code == 0 && run_pool(&run) < 0)
        code = RUN_EXIT_USAGE;
    if (code == 0)
        code = run_finish(&run);
    if (o->log_path)
        append_log(o, &run.rep, &run.sum, code);
    run_release(&run);
    restore_roots(&run);
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
run_command(struct cli_opts *o, const struct run_worker *worker)
{
    msg_set_level(o->quiet ? MSG_QUIET : o->verbose ? MSG_VERBOSE
                                                    : MSG_NORMAL);
    if (o->command == CMD_REPORT_MERGE)
        return run_merge(o);
    return run_process(o, worker);
}
