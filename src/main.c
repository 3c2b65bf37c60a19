/*
 * main.c - wire the modules together: cli -> scan -> plan -> pool(img) ->
 * report, and map the outcome to an exit status.
 *
 * This is the only file that sees every module.  The run's state lives in
 * struct run, which the pool's callbacks receive as their data pointer;
 * workers inherit it across fork().
 */
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "lock.h"
#include "merge.h"
#include "msg.h"
#include "plan.h"
#include "pool.h"
#include "report.h"
#include "scan.h"
#include "sig.h"
#include "state.h"
#include "sweep.h"
#include "util.h"
#include "worker.h"

enum exit_code {
    EXIT_ALL_OK = 0,
    EXIT_SOME_FAILED = 1,
    EXIT_USAGE = 2,
    EXIT_BUSY = 75,         /* EX_TEMPFAIL: another run holds the lock */
};

struct run {
    struct cli_opts *opts;
    struct scan_list list;
    struct report rep;
    /* Incremental runs (state.h); NULL when not used. */
    struct state *state;
    uint64_t fingerprint;
    char **root_abs;        /* realpath of each INPUT, or NULL */
    char *root_is_dir;
    char *cwd_abs;
};

static const char *input_abs(const struct run *run, const struct task *t,
                             char *buf, size_t size);

static int
pool_init(void *data)
{
    struct run *run = data;
    return worker_init(&run->opts->settings);
}

static void
pool_fini(void *data)
{
    (void)data;
    worker_fini();
}

static void
pool_work(void *data, uint32_t id, struct task_result *res)
{
    struct run *run = data;
    const struct task *t = &run->list.tasks[id];

    worker_run(&run->opts->settings, t, res);
}

static void
master_done(void *data, const struct task_result *res)
{
    struct run *run = data;
    const struct task *t = &run->list.tasks[res->id];
    struct task_result r = *res;

    if (r.in_bytes <= 0)
        r.in_bytes = t->size;
    if (run->state && r.status == TASK_OK) {
        char buf[PATH_MAX * 2];
        const char *abs = input_abs(run, t, buf, sizeof(buf));
        if (abs)
            state_record(run->state, t, abs, run->fingerprint);
    }
    report_add(&run->rep, t, &r);
}

/* Settle tasks whose fate scan or plan already decided. */
static size_t
report_presettled(struct run *run, uint32_t *order)
{
    struct task_result r;
    size_t i, n = 0;

    for (i = 0; i < run->list.n; i++) {
        const struct task *t = &run->list.tasks[i];
        if (t->pre_status == TASK_OK) {
            order[n++] = (uint32_t)i;
            continue;
        }
        task_result_set(&r, (uint32_t)i, t->pre_status, t->pre_class, "%s",
                        t->pre_msg ? t->pre_msg : "");
        r.in_bytes = t->size;
        report_add(&run->rep, t, &r);
    }
    return n;
}

static const struct task *sort_tasks;

/* Largest input first, so no giant file starts last; ties by scan order. */
static int
by_size_desc(const void *a, const void *b)
{
    const struct task *ta = &sort_tasks[*(const uint32_t *)a];
    const struct task *tb = &sort_tasks[*(const uint32_t *)b];
    uint32_t ia = *(const uint32_t *)a, ib = *(const uint32_t *)b;

    if (ta->size != tb->size)
        return ta->size < tb->size ? 1 : -1;
    return ia < ib ? -1 : ia > ib;
}

/* --log: one line per run, appended with a single write(2). */
static void
append_log(const struct cli_opts *o, const struct report *rep,
           const struct report_summary *sum, int code)
{
    char line[512];
    int n, fd;

    n = report_log_line(rep, sum, o->command_name, code, line,
                        sizeof(line) - 1);
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

/* mkdir -p; 0 or -1 with errno. */
static int
make_dirs(const char *path)
{
    char *p = xstrdup(path), *q;
    int rc = 0;

    for (q = p + 1; *q; q++) {
        if (*q != '/')
            continue;
        *q = '\0';
        if (mkdir(p, 0777) < 0 && errno != EEXIST) {
            rc = -1;
            break;
        }
        *q = '/';
    }
    if (rc == 0 && mkdir(p, 0777) < 0 && errno != EEXIST)
        rc = -1;
    free(p);
    if (rc == 0) {
        struct stat st;
        if (stat(path, &st) < 0)
            return -1;
        if (!S_ISDIR(st.st_mode)) {
            errno = ENOTDIR;
            return -1;
        }
    }
    return rc;
}

/* Prepare the output (or backup) directory; 0, or -1 after errorf().
 * *st receives its identity, *have whether there is one. */
static int
setup_output(const struct cli_opts *o, struct stat *st, int *have)
{
    const char *dir = o->settings.in_place ? o->settings.backup_dir
                                           : o->output_dir;
    const char *what = o->settings.in_place ? "backup" : "output";
    size_t i;

    *have = dir != NULL;
    if (!dir)
        return 0;
    if (make_dirs(dir) < 0 || stat(dir, st) < 0) {
        errorf("cannot create %s directory '%s': %s", what, dir,
               strerror(errno));
        return -1;
    }
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
 * One run per output tree: --lock FILE, else OUT/.imgpool/lock (one per
 * shard, lock-K-of-N, so the shards of one job run side by side).  In
 * place there is no default lock.  Returns 0, EXIT_BUSY, or EXIT_USAGE.
 */
static int
take_lock(const struct cli_opts *o, struct run_lock *lk)
{
    char path[PATH_MAX], holder[128];
    int n;

    lk->fd = -1;
    if (o->lock_path) {
        n = snprintf(path, sizeof(path), "%s", o->lock_path);
    } else if (o->settings.in_place) {
        return 0;
    } else if (o->shard_n) {
        n = snprintf(path, sizeof(path), "%s/.imgpool/lock-%d-of-%d",
                     o->output_dir, o->shard_k, o->shard_n);
    } else {
        n = snprintf(path, sizeof(path), "%s/.imgpool/lock", o->output_dir);
    }
    if (n < 0 || (size_t)n >= sizeof(path)) {
        errorf("lock path too long");
        return EXIT_USAGE;
    }
    switch (lock_acquire(lk, path, o->wait_lock_s, holder, sizeof(holder))) {
    case LOCK_OK:
        return 0;
    case LOCK_BUSY:
        errorf("another run holds '%s' (%s)%s; not starting", path, holder,
               o->wait_lock_s > 0 ? " after waiting" : "");
        return EXIT_BUSY;
    case LOCK_ERROR:
    default:
        errorf("cannot lock '%s': %s", path, strerror(errno));
        return EXIT_USAGE;
    }
}

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
 * Absolute path of each INPUT root (realpath, once per root) and of the
 * working directory, for the identities the state database keeps.
 */
static void
resolve_roots(struct run *run)
{
    const struct cli_opts *o = run->opts;
    size_t i;

    run->root_abs = xcalloc(o->ninputs + 1, sizeof(*run->root_abs));
    run->root_is_dir = xcalloc(o->ninputs + 1, sizeof(*run->root_is_dir));
    for (i = 0; i < o->ninputs; i++) {
        struct stat st;
        run->root_abs[i] = realpath(o->inputs[i], NULL);
        run->root_is_dir[i] = stat(o->inputs[i], &st) == 0 &&
                              S_ISDIR(st.st_mode);
    }
    run->cwd_abs = getcwd(NULL, 0);
}

/* The absolute input path recorded for @t, into @buf; NULL if unknown. */
static const char *
input_abs(const struct run *run, const struct task *t, char *buf,
          size_t size)
{
    const char *root = (size_t)t->root_index < run->opts->ninputs
                           ? run->root_abs[t->root_index] : NULL;
    int n;

    if (root && !run->root_is_dir[t->root_index])
        return root;
    if (root)
        n = snprintf(buf, size, "%s%s%s", root,
                     root[strlen(root) - 1] == '/' ? "" : "/", t->rel);
    else if (t->path[0] == '/')
        n = snprintf(buf, size, "%s", t->path);
    else if (run->cwd_abs)
        n = snprintf(buf, size, "%s/%s", run->cwd_abs, t->path);
    else
        return NULL;
    return n > 0 && (size_t)n < size ? buf : NULL;
}

/* Incremental runs: tasks whose output is recorded as made from this very
 * input with these settings are skipped, up-to-date. */
static void
mark_up_to_date(struct run *run)
{
    char buf[PATH_MAX * 2];
    size_t i;

    for (i = 0; i < run->list.n; i++) {
        struct task *t = &run->list.tasks[i];
        const char *abs;

        if (t->pre_status != TASK_OK)
            continue;
        abs = input_abs(run, t, buf, sizeof(buf));
        if (abs && state_up_to_date(run->state, t, abs, run->fingerprint)) {
            t->pre_status = TASK_SKIPPED;
            t->pre_class = ERR_UP_TO_DATE;
            t->pre_msg = "output is up to date";
        }
    }
}

static void
on_pruned(void *data, const char *out)
{
    size_t *n = data;
    (*n)++;
    notef("removed '%s': its input is gone", out);
}

/* --prune, only after a complete, clean walk of every root. */
static void
prune(struct run *run, struct report_summary *sum)
{
    const char **scope;
    size_t i, n = 0, pruned = 0;

    if (run->list.walk_errors) {
        warnf("not pruning: %zu problems while scanning the inputs",
              run->list.walk_errors);
        return;
    }
    scope = xcalloc(run->opts->ninputs + 1, sizeof(*scope));
    for (i = 0; i < run->opts->ninputs; i++)
        if (run->root_abs[i])
            scope[n++] = run->root_abs[i];
    if (n && state_prune(run->state, scope, n, on_pruned, &pruned) > 0)
        sum->pruned = pruned;
    free(scope);
}

static void
run_release(struct run *run)
{
    if (run->root_abs)
        for (size_t i = 0; i < run->opts->ninputs; i++)
            free(run->root_abs[i]);
    free(run->root_abs);
    free(run->root_is_dir);
    free(run->cwd_abs);
    report_release(&run->rep);
    scan_list_release(&run->list);
}

static int
run_main(struct cli_opts *o)
{
    struct run run;
    struct plan_opts po;
    struct report_opts ro;
    struct report_summary sum;
    struct pool_opts pool;
    struct pool_stats stats;
    struct run_lock lock = { -1 };
    struct stat out_st;
    uint32_t *order = NULL;
    size_t nwork;
    int code = EXIT_USAGE, have_out, rc;

    memset(&run, 0, sizeof(run));
    memset(&sum, 0, sizeof(sum));
    memset(&out_st, 0, sizeof(out_st));
    run.opts = o;
    scan_list_init(&run.list);
    memset(&ro, 0, sizeof(ro));
    ro.progress = o->progress;
    /* Unattended (stderr not a terminal): no summary unless there is
     * trouble, so cron mails only then; --verbose asks for it anyway. */
    ro.quiet = o->quiet || (!o->verbose && !isatty(STDERR_FILENO));
    ro.max_listed_failures = 10;
    report_init(&run.rep, &ro);

    if (setup_output(o, &out_st, &have_out) < 0)
        goto out;
    /* The lock comes before the signal handlers, so that Ctrl-C still
     * ends a --wait-lock wait. */
    rc = take_lock(o, &lock);
    if (rc) {
        code = rc;
        goto out;
    }
    if (sig_master_setup() < 0) {
        errorf("cannot install signal handlers: %s", strerror(errno));
        goto out;
    }
    if (scan_inputs(&run, &out_st, have_out) < 0)
        goto out;

    memset(&po, 0, sizeof(po));
    po.output_dir = o->output_dir;
    po.name_template = o->name_template;
    po.format = o->settings.format;
    po.in_place = o->settings.in_place;
    if (plan_outputs(&po, &run.list) < 0) {
        errorf("cannot plan outputs: out of memory");
        goto out;
    }
    if (o->shard_n) {
        plan_shard(&po, &run.list, o->shard_k, o->shard_n);
        notef("shard %d/%d: %zu files here, %zu in other shards", o->shard_k,
              o->shard_n, run.list.n, run.list.other_shards);
    }

    /* --no-incremental redoes every file but still records what it made,
     * so the next ordinary run can skip again. */
    if (!o->settings.in_place) {
        if (state_open(&run.state, o->output_dir, o->shard_k, o->shard_n) < 0)
            goto out;
        run.fingerprint = state_fingerprint(&o->settings);
        resolve_roots(&run);
        if (!o->no_incremental)
            mark_up_to_date(&run);
    }

    sweep_stale_temps(&run.list);
    if (o->report_path && report_open(&run.rep, o->report_path) < 0)
        goto out;

    report_start(&run.rep, run.list.n);
    order = xcalloc(run.list.n, sizeof(*order));
    nwork = report_presettled(&run, order);
    sort_tasks = run.list.tasks;
    qsort(order, nwork, sizeof(*order), by_size_desc);

    memset(&pool, 0, sizeof(pool));
    pool.workers = o->jobs > 0 ? o->jobs : pool_default_workers();
    if ((size_t)pool.workers > nwork && nwork > 0)
        pool.workers = (int)nwork;
    pool.timeout_s = o->timeout_s;
    pool.max_memory_mb = o->max_memory_mb;
    pool.order = order;
    pool.ntasks = nwork;
    pool.id_limit = run.list.n;
    pool.init = pool_init;
    pool.work = pool_work;
    pool.fini = pool_fini;
    pool.done = master_done;
    pool.data = &run;
    notef("%zu files to process with %d workers", nwork, pool.workers);
    if (pool_run(&pool, &stats) < 0)
        goto out;

    if (o->prune && run.state && !stats.interrupted)
        prune(&run, &sum);
    if (run.state) {
        state_close(run.state);
        run.state = NULL;
    }

    sum.ignored = run.list.ignored;
    sum.excluded = run.list.excluded;
    sum.interrupted = stats.interrupted;
    if (report_finish(&run.rep, &sum) < 0) {
        code = EXIT_USAGE;
        goto out;
    }
    if (stats.init_failed) {
        if (o->max_memory_mb > 0)
            errorf("no worker could start (is --max-memory %ld too small?)",
                   o->max_memory_mb);
        else
            errorf("no worker could start: the image library failed to "
                   "initialise");
        code = EXIT_USAGE;
    } else if (stats.interrupted) {
        code = sig_exit_code(stats.interrupted);
    } else {
        code = run.rep.count[TASK_FAILED] ? EXIT_SOME_FAILED : EXIT_ALL_OK;
    }
out:
    if (run.state)
        state_close(run.state);
    if (o->log_path)
        append_log(o, &run.rep, &sum, code);
    lock_release(&lock);
    free(order);
    run_release(&run);
    return code;
}

int
main(int argc, char **argv)
{
    struct cli_opts o;
    int code;

    cli_opts_init(&o);
    if (cli_parse(&o, argc, argv) == CLI_EXIT) {
        code = o.exit_code;
        cli_opts_release(&o);
        return code;
    }
    msg_set_level(o.quiet ? MSG_QUIET : o.verbose ? MSG_VERBOSE : MSG_NORMAL);
    if (o.command == CMD_REPORT_MERGE) {
        struct merge_totals totals;
        signal(SIGPIPE, SIG_IGN);
        if (report_merge(o.inputs, o.ninputs, stdout, &totals) < 0)
            code = EXIT_USAGE;
        else
            code = totals.failed ? EXIT_SOME_FAILED : EXIT_ALL_OK;
    } else {
        code = run_main(&o);
    }
    cli_opts_release(&o);
    return code;
}
