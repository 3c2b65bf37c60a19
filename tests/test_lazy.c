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
fake_init(const struct run_config *c)
{
    (void)c;
    return 0;
}

static void
fake_fini(void)
{
}

/* Writes "made from <rel>" to output_dir/out_rel (fails inputs named
 * "bad*"), then leaves "early" when the scan has not ended yet. */
static void
fake_work(const struct run_config *c, const struct task *t,
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
        asprintf(&out, "%s/%s", c->commit.output_dir, t->out_rel) < 0) {
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
 * inode per directory stays below the file system's link limit), or with
 * @single a file of its own each. */
static void
make_tree_of(int ndirs, int per, int single)
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
            if (single)
                th_fill_file(path, 64, 'x');
            else
                cr_assert_eq(link(seed, path), 0, "link: %s",
                             strerror(errno));
        }
    }
}

static void
make_tree(int ndirs, int per)
{
    make_tree_of(ndirs, per, 0);
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

/*
 * The same tree, eager then lazy, each in a child of its own.  Lazy keeps
 * the duplicate set (16-byte slots, for single-link files) alive beside
 * the plan's sets, but never builds the eager path's map of every input's
 * absolute path: measured, a tree of single-link files costs lazy about
 * 3% more at the peak, hard links (no duplicate set needed) about 13% less
 * (docs/ARCHITECTURE.md).  Allowed: 5% more.
 */
Test(lazy, peak_master_memory_does_not_grow)
{
    const char *lazy_args[] = { "thumbnail", "in", "-o", "out1", "-j", "2",
                                "--quiet", NULL };
    const char *eager_args[] = { "thumbnail", "in", "-o", "out2", "-j", "2",
                                 "--quiet", NULL };
    long lazy, eager;

    make_tree_of(200, 1000, 1);
    eager = child_peak(eager_args, 1);
    lazy = child_peak(lazy_args, 0);
    cr_log_info("peak master memory: lazy %ld kB, eager %ld kB", lazy, eager);
    cr_assert_gt(eager, 0);
    cr_assert_leq(lazy, eager + eager / 20, "lazy %ld kB > eager %ld kB + 5%%",
                  lazy, eager);
}

/* ---- the same outcome as the whole plan ---- */

/* The fields of a record that do not depend on timing, with the output
 * directory @out spelled "OUT", as one line. */
static char *
record_line(json_t *rec, const char *out)
{
    json_t *err = json_object_get(rec, "error");
    const char *o = th_json_str(rec, "output");
    char *line;
    size_t n = strlen(out);

    if (o && strncmp(o, out, n) == 0)
        o += n;
    cr_assert(asprintf(&line, "%s|%s|OUT%s|%s|%s|%s|%s",
                       th_json_str(rec, "path"), th_json_str(rec, "status"),
                       o ? o : "-",
                       err ? th_json_str(err, "class") : "-",
                       err ? th_json_str(err, "message") : "-",
                       th_json_str(rec, "reason") ? th_json_str(rec, "reason")
                                                  : "-",
                       th_json_str(rec, "detail") ? th_json_str(rec, "detail")
                                                  : "-") > 0);
    return line;
}

static int
cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The records of report @path, sorted, one string. */
static char *
records(const char *path, const char *out)
{
    json_t *arr = th_read_jsonl(path);
    size_t n = json_array_size(arr) - 1, i, len = 0;
    char **lines = calloc(n, sizeof(*lines)), *all;

    for (i = 0; i < n; i++) {
        lines[i] = record_line(json_array_get(arr, i), out);
        len += strlen(lines[i]) + 1;
    }
    qsort(lines, n, sizeof(*lines), cmp_str);
    all = calloc(1, len + 1);
    for (i = 0; i < n; i++) {
        strcat(all, lines[i]);
        strcat(all, "\n");
        free(lines[i]);
    }
    free(lines);
    json_decref(arr);
    return all;
}

/* Every file below @dir (not .imgpool) with its contents, sorted. */
static char *
tree_listing(const char *dir)
{
    char *cmd, *text;
    FILE *p;
    size_t cap = 1 << 20, n;

    cr_assert(asprintf(&cmd, "cd %s && find . -path ./.imgpool -prune -o "
                             "-type f -print | LC_ALL=C sort | "
                             "while read f; do echo \"$f: $(cat \"$f\")\"; "
                             "done", dir) > 0);
    p = popen(cmd, "r");
    cr_assert(p);
    text = calloc(1, cap);
    n = fread(text, 1, cap - 1, p);
    text[n] = '\0';
    pclose(p);
    free(cmd);
    return text;
}

/* Names that can only be settled with what comes later in the walk. */
static void
make_tricky_tree(void)
{
    char path[64];

    th_mkdirs("in/x.jpg");          /* x.jpeg's name is a directory */
    th_mkdirs("in/y.jpg");          /* empty: needed by nobody */
    th_mkdirs("in/m.jpg");          /* m.png: both names are directories */
    th_mkdirs("in/m.png.jpg");
    th_mkdirs("in/z.gif.jpg");
    th_mkdirs("in/.imgpool");
    th_mkdirs("in/sub");
    th_fill_file("in/a.jpg", 30, 'a');
    th_fill_file("in/a.png", 40, 'a');
    th_fill_file("in/a.png.jpg", 50, 'a');
    th_fill_file("in/x.jpeg", 60, 'x');
    th_fill_file("in/x.jpg/inner.jpg", 10, 'x');
    th_fill_file("in/y.png", 10, 'y');
    th_fill_file("in/m.png", 10, 'm');
    th_fill_file("in/m.jpg/k.jpg", 10, 'm');
    th_fill_file("in/m.png.jpg/k.jpg", 10, 'm');
    th_fill_file("in/z.gif", 10, 'z');
    th_fill_file("in/z.gif.jpg/k.jpg", 10, 'z');
    th_fill_file("in/z.png", 20, 'z');
    th_fill_file("in/.imgpool/state.jpg", 10, 's');
    th_fill_file("in/bad.jpg", 10, 'b');
    th_fill_file("in/empty.jpg", 0, 'e');
    cr_assert_eq(mkfifo("in/p.jpg", 0644), 0);
    cr_assert_eq(symlink("a.jpg", "in/l.jpg"), 0);
    for (int i = 0; i < 100; i++) {
        snprintf(path, sizeof(path), "in/sub/f%03d.jpg", i);
        th_fill_file(path, (size_t)(1 + (i * 37) % 101), 'f');
    }
}

Test(lazy, lazy_and_eager_give_the_same_records_and_outputs)
{
    const char *eager_args[] = { "thumbnail", "in", "-o", "out1", "-j", "1",
                                 "--report", "r1.jsonl", NULL };
    const char *lazy_args[] = { "thumbnail", "in", "-o", "out2", "-j", "1",
                                "--report", "r2.jsonl", NULL };
    /* A slow walk (5 ms an entry): a worker is up long before its end. */
    struct slow s = { 0, 1, 5000, 0 };
    struct run_probe eager = { slow_entry, slow_done, 1, 0, &s };
    struct run_probe lazy = { slow_entry, slow_done, 0, 1, &s };
    char *a, *b;

    make_tricky_tree();
    cr_assert_eq(run_probed(eager_args, &eager), RUN_EXIT_SOME_FAILED);
    cr_assert_not(th_exists("early"), "the eager run started early");
    cr_assert_eq(unlink("scan.done"), 0);
    cr_assert_eq(run_probed(lazy_args, &lazy), RUN_EXIT_SOME_FAILED);
    cr_assert(th_exists("early"), "the lazy run did not start early");

    a = records("r1.jsonl", "out1");
    b = records("r2.jsonl", "out2");
    cr_assert_str_eq(b, a);
    /* The cases are there: a fallback name, a directory in the way. */
    cr_assert(strstr(a, "in/x.jpeg|ok|OUT/x.jpeg.jpg|"), "%s", a);
    cr_assert(strstr(a, "in/a.png|ok|OUT/a.png.jpg|"), "%s", a);
    cr_assert(strstr(a, "in/a.png.jpg|ok|OUT/a.png.jpg.jpg|"), "%s", a);
    cr_assert(strstr(a, "in/m.png|failed|OUT/m.png.jpg|output-conflict"),
              "%s", a);
    free(a);
    free(b);
    a = tree_listing("out1");
    b = tree_listing("out2");
    cr_assert_str_eq(b, a);
    cr_assert(strstr(a, "./sub/f042.jpg: made from sub/f042.jpg"), "%s", a);
    free(a);
    free(b);
}

/* Where the whole list is needed first, nothing starts before the scan
 * ends, even with a step after every entry. */
static void
assert_eager(const char *const *args, int code)
{
    struct slow s = { 0, 1, 5000, 0 };
    struct run_probe probe = { slow_entry, slow_done, 0, 1, &s };

    unlink("early");
    unlink("scan.done");
    cr_assert_eq(run_probed(args, &probe), code, "%s %s %s %s", args[0],
                 args[1], args[2], args[3]);
    cr_assert_not(th_exists("early"), "started during the scan: %s %s %s",
                  args[1], args[2], args[3]);
}

Test(lazy, unsafe_runs_plan_the_whole_list_first)
{
    const char *inside[] = { "thumbnail", "in", "-o", "in/out", NULL };
    const char *shard[] = { "thumbnail", "in", "-o", "out", "--shard", "0/2",
                            NULL };
    const char *follow[] = { "thumbnail", "in", "-o", "out3",
                             "--follow-symlinks", NULL };
    const char *roots[] = { "thumbnail", "in", "-o", "out4", "in/sub",
                            NULL };
    const char *sizes[] = { "thumbnail", "in", "-o", "out5", "--sizes",
                            "100,200", NULL };
    const char *plain[] = { "thumbnail", "in", "-o", "out6", NULL };
    struct slow s = { 0, 1, 5000, 0 };
    struct run_probe probe = { slow_entry, slow_done, 0, 1, &s };
    char path[64];

    th_mkdirs("in/sub");
    for (int i = 0; i < 50; i++) {
        snprintf(path, sizeof(path), "in/sub/f%03d.jpg", i);
        th_fill_file(path, 10, 'f');
    }
    assert_eager(inside, RUN_EXIT_OK);
    assert_eager(shard, RUN_EXIT_OK);
    assert_eager(follow, RUN_EXIT_OK);
    assert_eager(roots, RUN_EXIT_OK);
    assert_eager(sizes, RUN_EXIT_OK);
    /* A database with names: a second run, with one new file. */
    unlink("scan.done");
    cr_assert_eq(run_probed(plain, &probe), RUN_EXIT_OK);
    cr_assert(th_exists("early"), "the control run did not start early");
    th_fill_file("in/sub/new.jpg", 10, 'n');
    assert_eager(plain, RUN_EXIT_OK);
    cr_assert(th_exists("out6/sub/new.jpg"));
}
