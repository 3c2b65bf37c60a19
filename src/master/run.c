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
#include "run_stream.h"
#include "run_task.h"
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
    /* Opened before anything is created (run_preflight()). */
    FILE *files_from;            /* --files-from stream, NULL without */
    int log_fd;                  /* --log, -1 without */
    int dry_pipe;                /* stdout is a pipe, FIFO or socket */
    int dry_err;                 /* errno of the dry listing's first
                                    failed write, 0 while none failed */
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
    run->worker->work(&run->opts->settings, &t, res);
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
    run_dry_line(m, &run->opts->settings, t, r);
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
    run_dry_line(stdout, &o->settings, t, r);
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

/* Whether @path (a name the user gave, resolved) lies below the directory
 * @dir, by identity.  What cannot be resolved says no. */
static int
lies_below(const char *path, const struct stat *dir)
{
    char *real = realpath(path, NULL);
    struct stat sb;
    size_t n;
    int below = 0;

    for (n = real ? strlen(real) : 0; real && !below && n > 1;) {
        while (n > 0 && real[n - 1] != '/')
            n--;
        if (n > 1)
            n--;
        real[n] = '\0';
        below = stat(n ? real : "/", &sb) == 0 && sb.st_dev == dir->st_dev &&
                sb.st_ino == dir->st_ino;
    }
    free(real);
    return below;
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
    for (i = 0; i < o->ninputs; i++) {
        struct stat in_st;
        if (stat(o->inputs[i], &in_st) == 0 && in_st.st_dev == st->st_dev &&
            in_st.st_ino == st->st_ino) {
            errorf("%s directory '%s' is the input '%s': choose a separate "
                   "directory", what, dir, o->inputs[i]);
            close(fd);
            return -1;
        }
        /* Below a marked backup folder every file is skipped: the
         * originals may not live there. */
        if (o->settings.in_place && lies_below(o->inputs[i], st)) {
            errorf("backup directory '%s' holds the input '%s': choose a "
                   "directory outside it", dir, o->inputs[i]);
            close(fd);
            return -1;
        }
    }
    /* A backup folder says what it is, so that no later run, with or
     * without --backup, takes its files for originals. */
    if (o->settings.in_place && !o->settings.dry_run &&
        names_mark_backup_dir(fd) < 0) {
        errorf("cannot mark backup directory '%s' (" IMGPOOL_BACKUP_MARKER
               "): %s", dir, strerror(errno));
        close(fd);
        return -1;
    }
    close(fd);
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

/* After every entry of the walk: the probe, and lazy dispatch's steps. */
static void
run_on_entry(void *data, struct scan_list *l)
{
    struct run *run = data;

    (void)l;
    if (run->probe && run->probe->scan_entry)
        run->probe->scan_entry(run->probe->data);
    if (run->lazy)
        run_stream_entry(&run->stream);
}

/* Scan every input, never descending into @skip.  0, or -1 after errorf(). */
static int
scan_inputs(struct run *run, const struct stat *skip, int have_skip)
{
    const struct cli_opts *o = run->opts;
    struct scan_opts so;
    int rc;

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
    so.files_from = run->files_from;
    so.files_from_nul = o->files_from_nul;
    so.on_entry = run_on_entry;
    so.on_entry_data = run;
    rc = scan_run(&so, &run->list);
    if (run->files_from && run->files_from != stdin)
        fclose(run->files_from);
    run->files_from = NULL;
    return rc;
}

/* Lazy dispatch where run_stream_choose() finds it safe.  0, or -1
 * after errorf(). */
static int
run_lazy_choose(struct run *run)
{
    struct cli_opts *o = run->opts;
    int r = 0;

    if (!(run->probe && run->probe->eager))
        r = run_stream_choose(o, &run->state);
    if (r == 1) {
        run->lazy = 1;
        run->fingerprint = state_fingerprint(&o->settings);
        state_roots_init(&run->roots, o->inputs, o->ninputs);
    }
    return r < 0 ? -1 : 0;
}

/*
 * --log: opened like the report (util_open_user_file(): no symbolic link,
 * FIFO or hard-linked file, created 0644 less the umask), for appending;
 * a descriptor named as a path (util_user_fd()) is the user's own stream.
 * 0, or -1 after errorf().
 */
static int
open_log(const char *path, int *fd)
{
    const char *why = NULL;

    if (util_user_fd(path) >= 0)
        *fd = fcntl(util_user_fd(path), F_DUPFD_CLOEXEC, 3);
    else
        *fd = util_open_user_file(path, O_APPEND, 0644, &why);
    if (*fd >= 0)
        return 0;
    errorf("cannot open --log '%s': %s", path, why ? why : strerror(errno));
    return -1;
}

/*
 * Whether @path is a file directly in the output (or backup) directory
 * that setup_output() is still to create ("-o out --report
 * out/r.jsonl"): such a file can only be opened once it exists.
 */
static int
in_dir_to_create(const struct cli_opts *o, const char *path)
{
    const char *dir = o->settings.in_place ? o->settings.backup_dir
                                           : o->output_dir;
    const char *slash = strrchr(path, '/');
    struct stat st;
    char *parent;
    int same;

    if (!dir || !slash || o->settings.dry_run || stat(dir, &st) == 0)
        return 0;
    parent = strndup(path, (size_t)(slash - path));
    if (!parent)
        return 0;
    dirwalk_normalize(parent);
    same = strcmp(parent, dir) == 0;
    free(parent);
    return same;
}

/* Open --log and --report unless open already; @early: not those in a
 * directory the run is still to create.  0, or -1 after errorf(). */
static int
open_user_files(struct run *run, int early)
{
    const struct cli_opts *o = run->opts;

    if (o->log_path && run->log_fd < 0 &&
        !(early && in_dir_to_create(o, o->log_path)) &&
        open_log(o->log_path, &run->log_fd) < 0)
        return -1;
    if (o->report_path && !run->rep.json_path &&
        !(early && in_dir_to_create(o, o->report_path)) &&
        report_open(&run->rep, o->report_path) < 0)
        return -1;
    return 0;
}

/*
 * What the user named that can be checked before anything is created: the
 * --log file first (so that even a refused run is logged), the INPUTs, the
 * --files-from list and the --report file.  A typo or a refused path
 * leaves no output directory and no lock behind.  A report or log file
 * directly in an output directory still to be made waits for it
 * (run_setup()).  RUN_EXIT_OK, or RUN_EXIT_USAGE after errorf().
 */
static enum run_exit
run_preflight(struct run *run)
{
    const struct cli_opts *o = run->opts;

    if (o->log_path && !in_dir_to_create(o, o->log_path) &&
        open_log(o->log_path, &run->log_fd) < 0)
        return RUN_EXIT_USAGE;
    if (scan_check_roots(o->inputs, o->ninputs) < 0 ||
        open_list(o, &run->files_from) < 0 || open_user_files(run, 1) < 0)
        return RUN_EXIT_USAGE;
    return RUN_EXIT_OK;
}

/*
 * Output directory, lock, scan and signal handlers.  RUN_EXIT_OK, or the
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
    if (setup_output(o, &out_st, &have_out) < 0 ||
        open_user_files(run, 0) < 0)
        return RUN_EXIT_USAGE;
    code = take_lock(o, &run->lock);
    if (code != RUN_EXIT_OK)
        return code;
    run->out_st = out_st;
    run->have_out = have_out;
    if (run_lazy_choose(run) < 0)
        return RUN_EXIT_USAGE;
    /* Until here SIGINT and SIGTERM keep their default action, so that
     * they end at once a --wait-lock wait, a FIFO's open or a
     * --files-from read that blocks in the scan: nothing is written yet.
     * A lazy run writes while it scans (run_lazy()), so it takes its
     * handlers first; it never reads a --files-from list. */
    if (!run->lazy && scan_inputs(run, &out_st, have_out) < 0)
        return RUN_EXIT_USAGE;
    if (sig_master_setup() < 0) {
        errorf("cannot install signal handlers: %s", strerror(errno));
        return RUN_EXIT_USAGE;
    }
    if (run->lazy)
        return RUN_EXIT_OK;
    if (run->probe && run->probe->scan_done)
        run->probe->scan_done(run->probe->data);
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
                          o->settings.in_place ? o->settings.backup_dir
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
            run_dry_settle(&run->opts->settings, t, (uint32_t)i, &r);
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
static int
run_pool(struct run *run)
{
    const struct cli_opts *o = run->opts;
    int workers;

    report_start(&run->rep, run->list.n);
    if (run->dry_run && !o->settings.in_place)
        return run_dry_all(run);
    report_presettled(run);
    run->order = xcalloc(run->list.n, sizeof(*run->order));
    run->nwork = plan_order(&run->list, run->order);
    report_plan_work(&run->rep, run->list.tasks, run->order, run->nwork);

    workers = o->jobs > 0 ? o->jobs : pool_default_workers();
    if ((size_t)workers > run->nwork && run->nwork > 0)
        workers = (int)run->nwork;
    run_pool_opts(run, workers);
    notef("%zu files to process with %d workers", run->nwork, workers);
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
    po.format = o->settings.format;
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
    fflush(stdout);
    so.pool = pool_start(&run->pool_opts);
    run_stream_init(&run->stream, &so);
    rc = scan_inputs(run, &run->out_st, run->have_out);
    if (run->probe && run->probe->scan_done)
        run->probe->scan_done(run->probe->data);
    if (rc == 0) {
        run_add_named_files(o, &run->list);
        run_warn_empty_inputs(o, &run->list);
        run->stream.scanning = 0;
        rc = run_stream_step(&run->stream, NULL);
        run->nwork = run->stream.queued;
        notef("%zu files to process with %d workers", run->nwork, workers);
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

    if (o->prune && run->state && !run->stats.interrupted)
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
    char line[512];
    int n;

    n = report_log_line(&run->rep, &run->sum, o->command_name, code, line,
                        sizeof(line) - 1);
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
run_init(struct run *run, struct cli_opts *o, const struct run_worker *w)
{
    struct report_opts ro;

    memset(run, 0, sizeof(*run));
    run->opts = o;
    run->worker = w;
    run->lock.fd = -1;
    run->log_fd = -1;
    run->dry_run = o->settings.dry_run;
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
    state_peek_close(run->peek);
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
run_process(struct cli_opts *o, const struct run_worker *w,
            const struct run_probe *probe)
{
    struct run run;
    int code;

    run_init(&run, o, w);
    run.probe = probe;
    normalise_roots(&run);
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
run_command_probed(struct cli_opts *o, const struct run_worker *worker,
                   const struct run_probe *probe)
{
    msg_set_level(o->quiet ? MSG_QUIET : o->verbose ? MSG_VERBOSE
                                                    : MSG_NORMAL);
    if (o->command == CMD_REPORT_MERGE)
        return run_merge(o);
    return run_process(o, worker, probe);
}

int
run_command(struct cli_opts *o, const struct run_worker *worker)
{
    return run_command_probed(o, worker, NULL);
}
