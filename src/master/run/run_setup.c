/*
 * run_setup.c - what a run does before planning: one spelling of the
 * output roots, the checks of what the user named before anything is
 * created (INPUTs, --files-from, --report, --log), the output directory,
 * the lock, the choice of lazy dispatch, and the scan.  run.c calls these
 * (run_int.h); nothing here calls back into run.c.
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
 * Setup: output roots, lock, scan
 */

/* Whether the run writes an output tree of its own (-o), with its lock,
 * state and stale temporaries: not in place, not into the freedesktop.org
 * thumbnail cache. */
int
run_writes_tree(const struct cli_opts *o)
{
    return !o->config.commit.in_place && !o->freedesktop;
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
    const char *dir = o->config.commit.in_place ? o->config.commit.backup_dir
                                           : o->output_dir;
    const char *what = o->config.commit.in_place ? "backup" : "output";
    size_t i;
    int fd;

    *have = dir != NULL;
    if (!dir)
        return 0;
    /* A dry run creates nothing: a missing directory has nothing in it. */
    if (o->config.commit.dry_run && stat(dir, st) < 0) {
        *have = 0;
        return 0;
    }
    /* A directory the user named: its symbolic links are theirs. */
    fd = dirwalk_open(AT_FDCWD, dir, strlen(dir),
                      (o->config.commit.dry_run ? 0 : DIRWALK_CREATE) |
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
        if (o->config.commit.in_place && lies_below(o->inputs[i], st)) {
            errorf("backup directory '%s' holds the input '%s': choose a "
                   "directory outside it", dir, o->inputs[i]);
            close(fd);
            return -1;
        }
    }
    /* A backup folder says what it is, so that no later run, with or
     * without --backup, takes its files for originals. */
    if (o->config.commit.in_place && !o->config.commit.dry_run &&
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
    if (o->config.commit.dry_run)
        return RUN_EXIT_OK;
    if (o->lock_path)
        path = xstrdup(o->lock_path);
    else if (!run_writes_tree(o))
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
int
run_scan_inputs(struct run *run, const struct stat *skip, int have_skip)
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
    const struct cli_opts *o = run->opts;
    int r = 0;

    if (!(run->probe && run->probe->eager))
        r = run_stream_choose(o, &run->state);
    if (r == 1) {
        run->lazy = 1;
        run->fingerprint = state_fingerprint(o->config.out, o->config.nsizes);
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
 * that setup_output() is still to create, or in a missing directory
 * above it that setup_output() creates on the way ("-o out --report
 * out/r.jsonl", "-o out/thumbs --report out/r.jsonl"): such a file can
 * only be opened once its directory exists.
 */
static int
in_dir_to_create(const struct cli_opts *o, const char *path)
{
    const char *dir = o->config.commit.in_place ? o->config.commit.backup_dir
                                           : o->output_dir;
    const char *slash = strrchr(path, '/');
    struct stat st;
    char *parent;
    size_t n;
    int same;

    if (!dir || !slash || o->config.commit.dry_run || stat(dir, &st) == 0)
        return 0;
    parent = xstrndup(path, (size_t)(slash - path));
    dirwalk_normalize(parent);
    n = strlen(parent);
    same = stat(parent, &st) < 0 && strncmp(parent, dir, n) == 0 &&
           (dir[n] == '\0' || (n > 0 && dir[n] == '/'));
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
enum run_exit
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
enum run_exit
run_setup(struct run *run)
{
    const struct cli_opts *o = run->opts;
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
    if (!run->lazy && run_scan_inputs(run, &out_st, have_out) < 0)
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
    plan_mark_duplicates(&run->list, o->config.commit.in_place);
    return RUN_EXIT_OK;
}
