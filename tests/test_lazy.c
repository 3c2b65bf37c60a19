/*
 * test_lazy.c - lazy dispatch (run_stream.h): workers start on the first
 * planned files while the walk goes on, the outcome is the one the whole
 * plan gives, and the master's peak memory does not grow for it.
 *
 * The run is driven through run_command_probed() with fake workers (no
 * image library).  The probe slows the walk and, when the walk is
 * complete, creates "scan.done"; a fake worker writes its output and then
 * looks for that file: when it is not there yet, the output was written
 * before the scan ended, and the worker leaves "early" behind.  That is an
 * ordering signal, not a wall-time threshold.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE     /* asprintf() */
#endif

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "cli.h"
#include "helpers.h"
#include "run.h"

static char *tmp;

/* In memory where there is a tmpfs: 200,000 links are made fast there. */
static void
setup(void)
{
    char shm[] = "/dev/shm/imgpool-lazy-XXXXXX";

    if (access("/dev/shm", W_OK) == 0 && mkdtemp(shm))
        tmp = strdup(shm);
    else
        tmp = th_mkdtemp();
    cr_assert_eq(chdir(tmp), 0);
}

static void
teardown(void)
{
    th_rmrf(tmp);
    free(tmp);
}

TestSuite(lazy, .init = setup, .fini = teardown, .timeout = 120);

/* ---- fake workers ---- */

static int
fake_init(const struct settings *s)
{
    (void)s;
    return 0;
}

static void
fake_fini(void)
{
}

/* Writes "made from <rel>" to output_dir/out_rel (fails inputs named
 * "bad*"), then leaves "early" when the scan has not ended yet. */
static void
fake_work(const struct settings *s, const struct task *t,
          struct task_result *res)
{
    const char *base = strrchr(t->path, '/');
    char *out, *slash, text[256];
    int n, fd;

    base = base ? base + 1 : t->path;
    if (strncmp(base, "bad", 3) == 0) {
        task_result_fail(res, ERR_DECODE, "fake decoder refused '%s'", base);
        return;
    }
    if (!t->out_rel ||
        asprintf(&out, "%s/%s", s->output_dir, t->out_rel) < 0) {
        task_result_fail(res, ERR_INTERNAL, "no out_rel");
        return;
    }
    slash = strrchr(out, '/');
    *slash = '\0';
    th_mkdirs(out);
    *slash = '/';
    n = snprintf(text, sizeof(text), "made from %s", t->rel);
    fd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0 || write(fd, text, (size_t)n) != n || close(fd) < 0)
        abort();
    /* The output is complete; is the scan? */
    if (access("scan.done", F_OK) != 0) {
        fd = open("early", O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
        if (fd >= 0)
            close(fd);
    }
    res->status = TASK_OK;
    res->out_bytes = n;
    free(out);
}

static const struct run_worker fake = { fake_init, fake_work, fake_fini };

/* ---- the probe ---- */

struct slow {
    unsigned long entries;
    unsigned long every;     /* sleep after this many entries (0: never) */
    long sleep_us;
    int interrupt;           /* SIGINT to ourselves once the walk ends */
};

static void
slow_entry(void *data)
{
    struct slow *s = data;

    if (s->every && ++s->entries % s->every == 0)
        usleep((useconds_t)s->sleep_us);
}

static void
slow_done(void *data)
{
    struct slow *s = data;

    th_write_file("scan.done", "", 0);
    if (s->interrupt)
        raise(SIGINT);
}

/* Parse @args (after argv[0]) and run them with @probe; the exit status. */
static int
run_probed(const char *const *args, const struct run_probe *probe)
{
    char *argv[32];
    struct cli_opts o;
    int argc = 0, code;

    argv[argc++] = "imgpool";
    while (*args && argc < 31)
        argv[argc++] = (char *)*args++;
    argv[argc] = NULL;
    cli_opts_init(&o);
    cr_assert_eq(cli_parse(&o, argc, argv), CLI_RUN);
    code = run_command_probed(&o, &fake, probe);
    cli_opts_release(&o);
    return code;
}

/* @ndirs directories of @per files each below "in", every file of a
 * directory a hard link to its first (cheap to make, cheap to walk; one
 * inode per directory stays below the file system's link limit). */
static void
make_tree(int ndirs, int per)
{
    char seed[64], path[64];

    th_mkdirs("in");
    for (int d = 0; d < ndirs; d++) {
        snprintf(path, sizeof(path), "in/d%03d", d);
        cr_assert_eq(mkdir(path, 0755), 0);
        snprintf(seed, sizeof(seed), "in/d%03d/f0000.jpg", d);
        th_fill_file(seed, 64, 'x');
        for (int f = 1; f < per; f++) {
            snprintf(path, sizeof(path), "in/d%03d/f%04d.jpg", d, f);
            cr_assert_eq(link(seed, path), 0, "link: %s", strerror(errno));
        }
    }
}

/* ---- the first output before the scan ends ---- */

Test(lazy, first_output_of_a_200k_tree_is_written_before_the_scan_ends)
{
    const char *args[] = { "thumbnail", "in", "-o", "out", "-j", "2",
                           "--report", "r.jsonl", NULL };
    struct slow s = { 0, 2000, 1000, 1 };
    struct run_probe probe = { slow_entry, slow_done, 0, 0, &s };
    json_t *arr;

    make_tree(200, 1000);
    /* Interrupted once the walk is done: what matters is what happened
     * before that, and the files never started are skipped quickly. */
    cr_assert_eq(run_probed(args, &probe), 128 + SIGINT);
    cr_assert_geq(s.entries, 200000);
    cr_assert(th_exists("early"),
              "no output was written before the scan ended");
    arr = th_read_jsonl("r.jsonl");
    cr_assert_eq(th_json_int(th_summary(arr), "total"), 200000);
    cr_assert_geq(th_count_records(arr, "ok", NULL), 1);
    cr_assert_eq(th_count_records(arr, "ok", NULL) +
                     th_count_records(arr, "skipped", "interrupted"),
                 200000);
    json_decref(arr);
}

/* ---- peak memory: lazy is not larger than eager ---- */

/* VmHWM of this process in kB. */
static long
peak_kb(void)
{
    char line[256];
    long kb = -1;
    FILE *f = fopen("/proc/self/status", "r");

    cr_assert(f);
    while (fgets(line, sizeof(line), f))
        if (sscanf(line, "VmHWM: %ld kB", &kb) == 1)
            break;
    fclose(f);
    return kb;
}

/* run_probed() without Criterion's assertions, for a forked child: the
 * exit status, or -1 when the arguments do not parse. */
static int
run_in_child(const char *const *args, const struct run_probe *probe)
{
    char *argv[32];
    struct cli_opts o;
    int argc = 0, code = -1;

    argv[argc++] = "imgpool";
    while (*args && argc < 31)
        argv[argc++] = (char *)*args++;
    argv[argc] = NULL;
    cli_opts_init(&o);
    if (cli_parse(&o, argc, argv) == CLI_RUN)
        code = run_command_probed(&o, &fake, probe);
    cli_opts_release(&o);
    return code;
}

/* Run @args in a child (lazy or @eager) and return the child's peak. */
static long
child_peak(const char *const *args, int eager)
{
    struct slow s = { 0, 0, 0, 1 };
    struct run_probe probe = { slow_entry, slow_done, eager, 0, &s };
    int fd[2], st;
    long kb = -1;
    pid_t pid;

    cr_assert_eq(pipe(fd), 0);
    pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        close(fd[0]);
        if (run_in_child(args, &probe) != 128 + SIGINT)
            _exit(3);
        kb = peak_kb();
        if (write(fd[1], &kb, sizeof(kb)) != (ssize_t)sizeof(kb))
            _exit(4);
        _exit(0);
    }
    close(fd[1]);
    cr_assert_eq(read(fd[0], &kb, sizeof(kb)), (ssize_t)sizeof(kb));
    close(fd[0]);
    cr_assert_eq(waitpid(pid, &st, 0), pid);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child status %d", st);
    return kb;
}

Test(lazy, peak_master_memory_does_not_grow)
{
    const char *lazy_args[] = { "thumbnail", "in", "-o", "out1", "-j", "2",
                                "--quiet", NULL };
    const char *eager_args[] = { "thumbnail", "in", "-o", "out2", "-j", "2",
                                 "--quiet", NULL };
    long lazy, eager;

    make_tree(200, 1000);
    eager = child_peak(eager_args, 1);
    lazy = child_peak(lazy_args, 0);
    cr_log_info("peak master memory: lazy %ld kB, eager %ld kB", lazy, eager);
    cr_assert_gt(eager, 0);
    cr_assert_leq(lazy, eager, "lazy %ld kB > eager %ld kB", lazy, eager);
}
