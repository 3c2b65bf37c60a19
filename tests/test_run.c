/*
 * test_run.c - the master's run (run.c) driven by fake workers: what the
 * run does around the workers - output roots, order, report, state, exit
 * status - without any image library.
 *
 * A fake worker writes a small text file as the output (output_dir joined
 * with the task's out_rel) and appends the input's name to a log, so the
 * test sees, across fork(), which files were handed out and in what order.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE     /* asprintf() */
#endif

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "cli.h"
#include "helpers.h"
#include "run.h"
#include "scan.h"

static char *tmp;

static void
setup(void)
{
    tmp = th_mkdtemp();
    cr_assert_eq(chdir(tmp), 0);
    th_mkdirs("in/sub");
}

static void
teardown(void)
{
    th_rmrf(tmp);
    free(tmp);
}

TestSuite(run, .init = setup, .fini = teardown, .timeout = 60);

/* ---- fake workers ---- */

static void
log_name(const struct task *t)
{
    int fd = open("work.log", O_WRONLY | O_APPEND | O_CREAT, 0644);
    const char *base = strrchr(t->path, '/');
    char line[256];
    int n;

    base = base ? base + 1 : t->path;
    n = snprintf(line, sizeof(line), "%s\n", base);
    if (fd >= 0) {
        if (write(fd, line, (size_t)n) != n)
            abort();
        close(fd);
    }
}

static int
fake_init(const struct run_config *c)
{
    (void)c;
    return 0;
}

static int
failing_init(const struct run_config *c)
{
    (void)c;
    return -1;
}

static void
fake_fini(void)
{
}

/* Writes "made from <rel>" to output_dir/out_rel; fails inputs named
 * "bad*". */
static void
fake_work(const struct run_config *c, const struct task *t,
          struct task_result *res)
{
    const char *base = strrchr(t->path, '/');
    char *out, *dir, *slash, text[256];
    int n;

    log_name(t);
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
    dir = strdup(out);
    slash = strrchr(dir, '/');
    *slash = '\0';
    th_mkdirs(dir);
    n = snprintf(text, sizeof(text), "made from %s", t->rel);
    th_write_file(out, text, (size_t)n);
    res->status = TASK_OK;
    res->out_bytes = n;
    free(dir);
    free(out);
}

static const struct run_worker fake = { fake_init, fake_work, fake_fini };
static const struct run_worker broken = { failing_init, fake_work, fake_fini };

/* Parse @args (after argv[0]) and run them with @w; the exit status. */
static int
run_args(const struct run_worker *w, const char *const *args)
{
    struct cli_opts before;
    char *argv[32];
    struct cli_opts o;
    int argc = 0, code;

    argv[argc++] = "imgpool";
    while (*args && argc < 31)
        argv[argc++] = (char *)*args++;
    argv[argc] = NULL;
    cli_opts_init(&o);
    cr_assert_eq(cli_parse(&o, argc, argv), CLI_RUN);
    before = o;
    code = run_command(&o, w);
    cr_assert(memcmp(&before, &o, sizeof(o)) == 0,
              "the run leaves the options as cli_parse() made them");
    cli_opts_release(&o);
    return code;
}

static void
input(const char *rel, size_t size)
{
    th_fill_file(rel, size, 'x');
}

Test(run, fake_workers_write_below_the_normalised_root_largest_first)
{
    const char *args[] = { "thumbnail", "in", "-o", "./out//", "-j", "1",
                           "--report", "r.jsonl", NULL };
    char *text, *log;
    json_t *arr, *rec;

    input("in/small.jpg", 10);
    input("in/sub/big.jpg", 300);
    input("in/mid.jpg", 200);
    cr_assert_eq(run_args(&fake, args), RUN_EXIT_OK);

    text = th_read_file("out/sub/big.jpg", NULL);
    cr_assert_str_eq(text, "made from sub/big.jpg");
    free(text);
    cr_assert(th_exists("out/small.jpg") && th_exists("out/mid.jpg"));
    log = th_read_file("work.log", NULL);
    cr_assert_str_eq(log, "big.jpg\nmid.jpg\nsmall.jpg\n", "order: %s", log);
    free(log);

    arr = th_read_jsonl("r.jsonl");
    cr_assert_eq(th_json_int(th_summary(arr), "ok"), 3);
    rec = th_find_record(arr, "/big.jpg");
    cr_assert_str_eq(th_json_str(rec, "output"), "out/sub/big.jpg");
    json_decref(arr);
}

Test(run, second_run_hands_out_nothing_that_is_up_to_date)
{
    const char *args[] = { "thumbnail", "in", "-o", "out", "--report",
                           "r.jsonl", NULL };
    json_t *arr;
    char *log;

    input("in/a.jpg", 10);
    input("in/sub/b.jpg", 20);
    cr_assert_eq(run_args(&fake, args), RUN_EXIT_OK);
    cr_assert_eq(unlink("work.log"), 0);
    input("in/sub/c.jpg", 30);
    cr_assert_eq(run_args(&fake, args), RUN_EXIT_OK);
    log = th_read_file("work.log", NULL);
    cr_assert_str_eq(log, "c.jpg\n", "handed out: %s", log);
    free(log);
    arr = th_read_jsonl("r.jsonl");
    cr_assert_eq(th_count_records(arr, "skipped", "up-to-date"), 2);
    cr_assert_eq(th_count_records(arr, "ok", NULL), 1);
    json_decref(arr);
}

Test(run, a_failed_file_makes_exit_1_with_its_reason)
{
    const char *args[] = { "thumbnail", "in", "-o", "out", "--report",
                           "r.jsonl", NULL };
    json_t *arr, *rec;

    input("in/good.jpg", 10);
    input("in/bad.jpg", 10);
    cr_assert_eq(run_args(&fake, args), RUN_EXIT_SOME_FAILED);
    arr = th_read_jsonl("r.jsonl");
    rec = th_find_record(arr, "/bad.jpg");
    cr_assert_str_eq(th_json_str(rec, "status"), "failed");
    cr_assert(strstr(th_json_str(json_object_get(rec, "error"), "message"),
                     "fake decoder refused"));
    cr_assert_eq(th_json_int(th_summary(arr), "ok"), 1);
    cr_assert_not(th_exists("out/bad.jpg"));
    json_decref(arr);
}

Test(run, workers_that_cannot_start_are_a_setup_error)
{
    const char *args[] = { "thumbnail", "in", "-o", "out", NULL };
    struct th_capture cap;
    char *err;

    input("in/a.jpg", 10);
    th_capture_begin(&cap);
    cr_assert_eq(run_args(&broken, args), RUN_EXIT_USAGE);
    err = th_capture_end(&cap);
    cr_assert(strstr(err, "no worker could start"), "stderr: %s", err);
    free(err);
    cr_assert_not(th_exists("out/a.jpg"));
}

Test(run, lock_of_the_output_tree_is_named_in_one_place)
{
    const char *args[] = { "thumbnail", "in", "-o", "out/.", "--shard",
                           "1/2", NULL };
    struct stat sb;

    input("in/a.jpg", 10);
    cr_assert_eq(run_args(&fake, args), RUN_EXIT_OK);
    cr_assert_eq(lstat("out/.imgpool/lock-1-of-2", &sb), 0);
    cr_assert_eq(lstat("out/.imgpool/state-1-of-2.sqlite", &sb), 0);
}

/* Issue 12: q.png's output stays q.jpg when q.gif (first in order) comes;
 * only the newcomer is handed out, under the fallback name. */
Test(run, a_recorded_name_stays_with_its_input)
{
    const char *args[] = { "thumbnail", "in", "-o", "out", NULL };
    char *text, *log;

    input("in/q.png", 10);
    cr_assert_eq(run_args(&fake, args), RUN_EXIT_OK);
    cr_assert_eq(unlink("work.log"), 0);
    input("in/q.gif", 20);
    cr_assert_eq(run_args(&fake, args), RUN_EXIT_OK);
    log = th_read_file("work.log", NULL);
    cr_assert_str_eq(log, "q.gif\n", "handed out: %s", log);
    free(log);
    text = th_read_file("out/q.jpg", NULL);
    cr_assert_str_eq(text, "made from q.png");
    free(text);
    text = th_read_file("out/q.gif.jpg", NULL);
    cr_assert_str_eq(text, "made from q.gif");
    free(text);
}

/* A dry run with -o starts no worker at all (a broken one would make the
 * run a setup error), writes nothing and says what it would do. */
Test(run, a_dry_run_with_output_starts_no_worker)
{
    const char *args[] = { "thumbnail", "in", "-o", "out", "--dry-run",
                           "--report", "r.jsonl", NULL };
    json_t *arr;

    input("in/a.jpg", 10);
    input("in/sub/b.jpg", 10);
    cr_assert_eq(run_args(&broken, args), RUN_EXIT_OK);
    cr_assert_not(th_exists("work.log"), "a file was handed out");
    cr_assert_not(th_exists("out"), "the output directory was created");
    arr = th_read_jsonl("r.jsonl");
    cr_assert_eq(th_count_records(arr, "skipped", "dry-run"), 2);
    cr_assert_str_eq(th_json_str(th_find_record(arr, "/b.jpg"), "output"),
                     "out/sub/b.jpg");
    json_decref(arr);
}

/* Two roots, one named twice: a directory each, the repeat a duplicate. */
Test(run, several_roots_and_a_repeated_one)
{
    const char *args[] = { "thumbnail", "in", "-o", "out", "--report",
                           "r.jsonl", "in/sub", "other/sub", "in", NULL };
    json_t *arr;

    th_mkdirs("other/sub");
    input("in/a.jpg", 10);
    input("in/sub/b.jpg", 10);
    input("other/sub/b.jpg", 10);
    cr_assert_eq(run_args(&fake, args), RUN_EXIT_OK);
    cr_assert(th_exists("out/in/a.jpg"));
    cr_assert(th_exists("out/in/sub/b.jpg"));
    cr_assert(th_exists("out/sub-2/b.jpg"), "other/sub after in/sub");
    cr_assert_not(th_exists("out/sub/b.jpg"), "in/sub/b.jpg done twice");
    arr = th_read_jsonl("r.jsonl");
    cr_assert_eq(th_count_records(arr, "ok", NULL), 3);
    cr_assert_eq(th_count_records(arr, "skipped", "duplicate"), 3,
                 "in/sub's b.jpg, and the second in's a.jpg and sub/b.jpg");
    json_decref(arr);
}

/* With --shard, every shard reads the names the others recorded, so all
 * plan alike: q.png keeps q.jpg even in the shard that does not hold it,
 * and the newcomer is made exactly once, under the fallback name. */
Test(run, shards_keep_the_names_other_shards_recorded)
{
    const char *s0[] = { "thumbnail", "in", "-o", "out", "--shard", "0/2",
                         NULL };
    const char *s1[] = { "thumbnail", "in", "-o", "out", "--shard", "1/2",
                         NULL };
    char png[64], gif[64], keep[64], fall[64], moved[64], *text, *log;
    int i;

    /* A stem whose name and fallback name fall in different shards. */
    for (i = 0; i < 1000; i++) {
        snprintf(keep, sizeof(keep), "q%d.jpg", i);
        snprintf(fall, sizeof(fall), "q%d.gif.jpg", i);
        if (scan_shard_of(keep, 2) != scan_shard_of(fall, 2))
            break;
    }
    cr_assert_lt(i, 1000);
    snprintf(png, sizeof(png), "in/q%d.png", i);
    snprintf(gif, sizeof(gif), "in/q%d.gif", i);
    snprintf(moved, sizeof(moved), "out/q%d.png.jpg", i);
    input(png, 10);
    cr_assert_eq(run_args(&fake, s0), RUN_EXIT_OK);
    cr_assert_eq(run_args(&fake, s1), RUN_EXIT_OK);
    cr_assert_eq(unlink("work.log"), 0);
    input(gif, 20);
    cr_assert_eq(run_args(&fake, s0), RUN_EXIT_OK);
    cr_assert_eq(run_args(&fake, s1), RUN_EXIT_OK);
    log = th_read_file("work.log", NULL);
    snprintf(keep, sizeof(keep), "q%d.gif\n", i);
    cr_assert_str_eq(log, keep, "handed out: %s", log);
    free(log);
    snprintf(keep, sizeof(keep), "out/q%d.jpg", i);
    text = th_read_file(keep, NULL);
    snprintf(fall, sizeof(fall), "made from q%d.png", i);
    cr_assert_str_eq(text, fall);
    free(text);
    snprintf(fall, sizeof(fall), "out/q%d.gif.jpg", i);
    cr_assert(th_exists(fall), "the newcomer was not made");
    cr_assert_not(th_exists(moved), "q.png was redone under another name");
}

/* ---- a task as the pool carries it (run_task.h) ---- */

#include "run_task.h"

Test(run, a_task_crosses_to_the_worker_whole_and_a_torn_one_is_refused)
{
    static const char more[] = "out/a.jpg\0big/a.jpg\0huge/a.jpg\0";
    struct task t, u;
    unsigned char *buf = NULL;
    size_t cap = 0, len;
    char *deep;

    memset(&t, 0, sizeof(t));
    t.path = strdup("in/sub/a.png");
    t.rel = t.path + 3;
    t.out_path = malloc(sizeof(more));
    memcpy(t.out_path, more, sizeof(more));
    t.out_rel = t.out_path + 4;
    t.out_more = t.out_path + strlen(more) + 1;
    t.size = 12345;
    t.mtime_ns = 987654321012345LL;
    t.dev = 7;
    t.ino = 1ULL << 40;
    t.nlink = 3;
    t.root_index = 2;
    t.open_follow = TASK_FOLLOW_DIRS;
    len = run_task_pack(&t, &buf, &cap);
    cr_assert_eq(run_task_unpack(buf, len, &u), 0);
    cr_assert_str_eq(u.path, "in/sub/a.png");
    cr_assert_str_eq(u.rel, "sub/a.png");
    cr_assert_str_eq(u.out_path, "out/a.jpg");
    cr_assert_str_eq(u.out_rel, "a.jpg");
    cr_assert_str_eq(task_out_rel(&u, 1), "big/a.jpg");
    cr_assert_str_eq(task_out_rel(&u, 2), "huge/a.jpg");
    cr_assert_null(task_out_rel(&u, 3));
    cr_assert_eq(u.size, 12345);
    cr_assert_eq(u.mtime_ns, 987654321012345LL);
    cr_assert_eq(u.dev, 7);
    cr_assert_eq(u.ino, 1ULL << 40);
    cr_assert_eq(u.nlink, 3);
    cr_assert_eq(u.root_index, 2);
    cr_assert_eq(u.open_follow, TASK_FOLLOW_DIRS);
    cr_assert_eq(u.pre_status, TASK_OK);
    /* Torn, or one byte too many: refused, never read past. */
    cr_assert_eq(run_task_unpack(buf, len - 1, &u), -1);
    cr_assert_eq(run_task_unpack(buf, 10, &u), -1);
    buf[len - 2] = 'x';    /* the out_more list loses its end */
    cr_assert_eq(run_task_unpack(buf, len, &u), -1);
    buf[len - 1] = 'x';    /* the last string loses its NUL */
    cr_assert_eq(run_task_unpack(buf, len, &u), -1);

    /* No output, no rel, and a path longer than PATH_MAX. */
    free(t.out_path);
    t.out_path = NULL;
    t.out_rel = t.out_more = NULL;
    deep = malloc(200001);
    memset(deep, 'd', 200000);
    deep[200000] = '\0';
    free(t.path);
    t.path = deep;
    t.rel = NULL;
    len = run_task_pack(&t, &buf, &cap);
    cr_assert_eq(run_task_unpack(buf, len, &u), 0);
    cr_assert_eq(strlen(u.path), 200000);
    cr_assert_null(u.rel);
    cr_assert_null(u.out_path);
    cr_assert_null(u.out_rel);
    free(deep);
    free(buf);
}

Test(run, pool_outcomes_become_the_classes_of_the_report)
{
    struct run_task_limits lim = { 120, 2048 };
    struct task_result worker, r;
    struct pool_done d;

    memset(&d, 0, sizeof(d));
    d.id = 5;
    d.usec = 1500;
    d.why = "worker killed by signal 11 (Segmentation fault)";
    d.end = POOL_END_CRASHED;
    run_task_outcome(&d, &lim, &r);
    cr_assert_eq(r.status, TASK_FAILED);
    cr_assert_eq(r.err_class, ERR_WORKER_CRASHED);
    cr_assert_str_eq(r.message, d.why);
    cr_assert_eq(r.usec, 1500);
    d.end = POOL_END_MEMORY;
    run_task_outcome(&d, &lim, &r);
    cr_assert_eq(r.err_class, ERR_OUT_OF_MEMORY);
    cr_assert(strstr(r.message, "under its 2048 MB memory cap"), "%s",
              r.message);
    d.end = POOL_END_TIMEOUT;
    run_task_outcome(&d, &lim, &r);
    cr_assert_eq(r.err_class, ERR_TIMEOUT);
    cr_assert_str_eq(r.message, "still running after 120 s; worker killed");
    d.end = POOL_END_ABORTED;
    run_task_outcome(&d, &lim, &r);
    cr_assert_eq(r.status, TASK_FAILED);
    cr_assert_eq(r.err_class, ERR_INTERRUPTED);
    d.end = POOL_END_INTERRUPTED;
    run_task_outcome(&d, &lim, &r);
    cr_assert_eq(r.status, TASK_SKIPPED);
    cr_assert_eq(r.err_class, ERR_INTERRUPTED);
    d.end = POOL_END_NO_WORKER;
    run_task_outcome(&d, &lim, &r);
    cr_assert_eq(r.status, TASK_FAILED);
    cr_assert_eq(r.err_class, ERR_INTERNAL);
    /* A worker's result: its own id does not count, its texts end. */
    memset(&worker, 'z', sizeof(worker));
    worker.status = TASK_OK;
    worker.err_class = ERR_NONE;
    worker.id = 999;
    d.end = POOL_END_RESULT;
    d.result = &worker;
    d.result_len = sizeof(worker);
    run_task_outcome(&d, &lim, &r);
    cr_assert_eq(r.id, 5);
    cr_assert_eq(r.status, TASK_OK);
    cr_assert_eq(strlen(r.message), sizeof(r.message) - 1);
    cr_assert_eq(strlen(r.warning), sizeof(r.warning) - 1);
    d.result_len = sizeof(worker) - 1;
    run_task_outcome(&d, &lim, &r);
    cr_assert_eq(r.err_class, ERR_INTERNAL);
}
