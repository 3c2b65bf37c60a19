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
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "img.h"
#include "merge.h"
#include "msg.h"
#include "outfile.h"
#include "plan.h"
#include "pool.h"
#include "report.h"
#include "scan.h"
#include "sig.h"
#include "util.h"

enum exit_code {
    EXIT_ALL_OK = 0,
    EXIT_SOME_FAILED = 1,
    EXIT_USAGE = 2,
};

struct run {
    struct cli_opts *opts;
    struct scan_list list;
    struct report rep;
    /* Test-only fault injection, from IMGPOOL_FAULT="crash|hang|leak:GLOB":
     * the worker misbehaves on files whose name matches GLOB. */
    const char *fault_kind;
    const char *fault_glob;
};

static int
worker_init(void *data)
{
    struct run *run = data;
    return img_worker_init(&run->opts->settings);
}

static void
worker_fini(void *data)
{
    (void)data;
    img_worker_fini();
}

static void
inject_fault(const struct run *run, const struct task *t)
{
    const char *base = strrchr(t->path, '/');

    base = base ? base + 1 : t->path;
    if (!run->fault_kind || fnmatch(run->fault_glob, base, 0) != 0)
        return;
    if (strcmp(run->fault_kind, "crash") == 0)
        raise(SIGSEGV);
    if (strcmp(run->fault_kind, "abort") == 0)
        abort();
    if (strcmp(run->fault_kind, "exit") == 0)
        _exit(3);
    if (strcmp(run->fault_kind, "hang") == 0)
        for (;;)
            pause();
    if (strcmp(run->fault_kind, "leak") == 0)
        for (;;) {
            char *p = malloc(1 << 20);
            if (!p)
                raise(SIGSEGV); /* what an allocator failure looks like */
            memset(p, 1, 1 << 20);
        }
}

static void
worker_work(void *data, uint32_t id, struct task_result *res)
{
    struct run *run = data;
    const struct task *t = &run->list.tasks[id];

    inject_fault(run, t);
    img_process(&run->opts->settings, t, res);
}

static void
master_done(void *data, const struct task_result *res)
{
    struct run *run = data;
    const struct task *t = &run->list.tasks[res->id];
    struct task_result r = *res;

    if (r.in_bytes <= 0)
        r.in_bytes = t->size;
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

/*
 * Remove temporary files that a killed run left in the directories this
 * run will write to.  Tasks come in scan order, so the outputs of one
 * directory are adjacent: comparing with the previous directory is enough
 * to visit each one once (almost always; a repeat visit is harmless).
 */
static void
clean_stale_temps(const struct scan_list *l)
{
    const char *prev = NULL;
    size_t prevlen = 0, i;
    int removed = 0;

    for (i = 0; i < l->n; i++) {
        const struct task *t = &l->tasks[i];
        const char *slash;
        size_t len;
        char *dir;

        if (t->pre_status != TASK_OK || !t->out_path)
            continue;
        slash = strrchr(t->out_path, '/');
        len = slash ? (size_t)(slash - t->out_path) : 0;
        if (prev && len == prevlen && memcmp(prev, t->out_path, len) == 0)
            continue;
        prev = t->out_path;
        prevlen = len;
        dir = len ? strndup(t->out_path, len) : xstrdup(".");
        if (!dir)
            continue;
        removed += outfile_clean_stale(dir);
        free(dir);
    }
    if (removed)
        notef("removed %d stale temporary file%s left by an interrupted run",
              removed, removed == 1 ? "" : "s");
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

static int
run_main(struct cli_opts *o)
{
    struct run run;
    struct scan_opts so;
    struct plan_opts po;
    struct report_opts ro;
    struct report_summary sum;
    struct pool_opts pool;
    struct pool_stats stats;
    uint32_t *order = NULL;
    size_t nwork, failed;
    const char *fault;
    struct stat out_st;
    FILE *list = NULL;
    int code = EXIT_USAGE;

    memset(&run, 0, sizeof(run));
    memset(&sum, 0, sizeof(sum));
    run.opts = o;
    scan_list_init(&run.list);
    memset(&ro, 0, sizeof(ro));
    ro.progress = o->progress;
    /* Unattended (stderr not a terminal): no summary unless there is
     * trouble, so cron mails only then; --verbose asks for it anyway. */
    ro.quiet = o->quiet || (!o->verbose && !isatty(STDERR_FILENO));
    ro.max_listed_failures = 10;
    report_init(&run.rep, &ro);

    fault = getenv("IMGPOOL_FAULT");
    if (fault && strchr(fault, ':')) {
        static char kind[16];
        size_t k = (size_t)(strchr(fault, ':') - fault);
        if (k < sizeof(kind)) {
            memcpy(kind, fault, k);
            kind[k] = '\0';
            run.fault_kind = kind;
            run.fault_glob = fault + k + 1;
        }
    }

    if (sig_master_setup() < 0) {
        errorf("cannot install signal handlers: %s", strerror(errno));
        goto out;
    }
    if (o->settings.in_place) {
        /* A backup tree inside an input must not be scanned as input. */
        if (o->settings.backup_dir &&
            (make_dirs(o->settings.backup_dir) < 0 ||
             stat(o->settings.backup_dir, &out_st) < 0)) {
            errorf("cannot create backup directory '%s': %s",
                   o->settings.backup_dir, strerror(errno));
            goto out;
        }
    } else {
        if (make_dirs(o->output_dir) < 0) {
            errorf("cannot create output directory '%s': %s", o->output_dir,
                   strerror(errno));
            goto out;
        }
        if (stat(o->output_dir, &out_st) < 0) {
            errorf("cannot read output directory '%s': %s", o->output_dir,
                   strerror(errno));
            goto out;
        }
    }
    for (size_t i = 0; i < o->ninputs && (o->output_dir ||
                                          o->settings.backup_dir); i++) {
        struct stat in_st;
        if (stat(o->inputs[i], &in_st) == 0 && in_st.st_dev == out_st.st_dev &&
            in_st.st_ino == out_st.st_ino) {
            errorf("%s directory '%s' is the input '%s': choose a separate "
                   "directory", o->output_dir ? "output" : "backup",
                   o->output_dir ? o->output_dir : o->settings.backup_dir,
                   o->inputs[i]);
            goto out;
        }
    }

    memset(&so, 0, sizeof(so));
    /* An output (or backup) tree inside an input is never scanned. */
    so.have_skip_dir = o->output_dir || o->settings.backup_dir;
    so.skip_dev = (uint64_t)out_st.st_dev;
    so.skip_ino = (uint64_t)out_st.st_ino;
    so.roots = o->inputs;
    so.nroots = o->ninputs;
    so.includes = o->includes;
    so.nincludes = o->nincludes;
    so.excludes = o->excludes;
    so.nexcludes = o->nexcludes;
    so.follow_symlinks = o->follow_symlinks;
    so.shard_k = o->shard_k;
    so.shard_n = o->shard_n;
    so.files_from_nul = o->files_from_nul;
    if (o->files_from) {
        if (strcmp(o->files_from, "-") == 0) {
            so.files_from = stdin;
        } else {
            list = fopen(o->files_from, "re");
            if (!list) {
                errorf("cannot open --files-from '%s': %s", o->files_from,
                       strerror(errno));
                goto out;
            }
            so.files_from = list;
        }
    }
    if (scan_run(&so, &run.list) < 0)
        goto out;
    if (list) {
        fclose(list);
        list = NULL;
    }

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

    clean_stale_temps(&run.list);
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
    pool.init = worker_init;
    pool.work = worker_work;
    pool.fini = worker_fini;
    pool.done = master_done;
    pool.data = &run;
    notef("%zu files to process with %d workers", nwork, pool.workers);
    if (pool_run(&pool, &stats) < 0)
        goto out;

    sum.ignored = run.list.ignored;
    sum.excluded = run.list.excluded;
    sum.interrupted = stats.interrupted;
    if (report_finish(&run.rep, &sum) < 0) {
        code = EXIT_USAGE;
        goto out;
    }
    if (stats.init_failed) {
        errorf("workers could not initialise the image library");
        code = EXIT_USAGE;
    } else if (stats.interrupted) {
        code = sig_exit_code(stats.interrupted);
    } else {
        failed = run.rep.count[TASK_FAILED];
        code = failed ? EXIT_SOME_FAILED : EXIT_ALL_OK;
    }
out:
    if (o->log_path)
        append_log(o, &run.rep, &sum, code);
    if (list)
        fclose(list);
    free(order);
    report_release(&run.rep);
    scan_list_release(&run.list);
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
