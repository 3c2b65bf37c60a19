/*
 * test_originals.c - originals are sacred (issue 21, the master's half;
 * issue 20 point 5): no output replaces another input, backups are never
 * inputs and their temporaries are swept, --report and --log are opened
 * like the lock, a typo creates nothing, names print one way only, a
 * reader leaving standard output keeps the exit status, a file listed by
 * several spellings gets its output, and SIGTERM ends a blocked scan.
 * Each test runs the built binary in a fresh temporary tree.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "helpers.h"
#include "msg.h"
#include "names.h"

TestSuite(originals, .init = th_dir_setup, .fini = th_dir_teardown,
          .timeout = 120);

/* th_dir/@rel: a new string. */
static char *
at(const char *rel)
{
    return th_path(th_dir, rel);
}

/* Copy testdata/@name to th_dir/@rel (directories made). */
static void
put(const char *name, const char *rel)
{
    char *src = th_testdata(name), *dst = at(rel);

    th_copy_file(src, dst);
    free(src);
    free(dst);
}

/* The bytes of th_dir/@rel. */
static char *
bytes(const char *rel, size_t *len)
{
    char *p = at(rel), *d = th_read_file(p, len);

    free(p);
    return d;
}

/* th_dir/@rel holds exactly testdata/@name. */
static void
assert_same(const char *rel, const char *name)
{
    char *src = th_testdata(name), *a, *b;
    size_t na, nb;

    a = th_read_file(src, &na);
    b = bytes(rel, &nb);
    cr_assert(na == nb && memcmp(a, b, na) == 0,
              "'%s' is no longer testdata/%s", rel, name);
    free(a);
    free(b);
    free(src);
}

static int
exists(const char *rel)
{
    char *p = at(rel);
    int e = th_exists(p);

    free(p);
    return e;
}

/* The record of the report th_dir/@report whose path ends in @suffix. */
static json_t *
record(json_t *arr, const char *suffix)
{
    json_t *rec = th_find_record(arr, suffix);

    cr_assert(rec, "no record for '%s'", suffix);
    return rec;
}

static const char *
error_class(json_t *rec)
{
    json_t *e = json_object_get(rec, "error");

    return e ? th_json_str(e, "class") : NULL;
}

/* Run in th_dir (the arguments are relative to it); exit status. */
static int
run_here(struct th_run *r, const char *const *args)
{
    char cwd[4096];

    cr_assert(getcwd(cwd, sizeof(cwd)));
    cr_assert_eq(chdir(th_dir), 0);
    th_run(r, args);
    cr_assert_eq(chdir(cwd), 0);
    return r->status;
}

/* ---- 1. no output replaces another input ---- */

/* recompress photos/sub -o photos: B's output is A, C's is B.  Before,
 * B replaced A and A's worker then wrote B's picture: A was lost. */
Test(originals, overlapping_output_keeps_every_picture)
{
    const char *args[] = { "recompress", "photos/sub", "-o", "photos",
                           "--report", "r.jsonl", NULL };
    struct th_image img;
    struct th_run r;
    json_t *arr;
    char *p;

    put("rgb.jpg", "photos/sub/x.jpg");            /* A, 640x480 */
    put("gray.jpg", "photos/sub/sub/x.jpg");       /* B, 200x100 */
    put("q75.jpg", "photos/sub/sub/sub/x.jpg");    /* C, 400x300 */
    cr_assert_eq(run_here(&r, args), 1, "%s", r.err);
    assert_same("photos/sub/x.jpg", "rgb.jpg");
    assert_same("photos/sub/sub/x.jpg", "gray.jpg");
    assert_same("photos/sub/sub/sub/x.jpg", "q75.jpg");
    /* A's output holds A's picture. */
    p = at("photos/x.jpg");
    cr_assert_eq(th_decode_jpeg(p, &img), 0);
    cr_expect(img.w == 640 && img.h == 480, "%dx%d", img.w, img.h);
    th_image_release(&img);
    free(p);
    p = at("r.jsonl");
    arr = th_read_jsonl(p);
    cr_expect_str_eq(th_json_str(record(arr, "photos/sub/x.jpg"), "status"),
                     "ok");
    cr_expect_str_eq(error_class(record(arr, "photos/sub/sub/x.jpg")),
                     "output-is-input");
    cr_expect_str_eq(error_class(record(arr, "photos/sub/sub/sub/x.jpg")),
                     "output-is-input");
    json_decref(arr);
    free(p);
    th_run_release(&r);
}

Test(originals, thumbnail_overlapping_output_keeps_every_picture)
{
    const char *args[] = { "thumbnail", "photos/sub", "-o", "photos",
                           "--report", "r.jsonl", NULL };
    struct th_run r;
    json_t *arr;
    char *p;

    put("rgb.jpg", "photos/sub/x.jpg");
    put("gray.jpg", "photos/sub/sub/x.jpg");
    cr_assert_eq(run_here(&r, args), 1, "%s", r.err);
    assert_same("photos/sub/x.jpg", "rgb.jpg");
    assert_same("photos/sub/sub/x.jpg", "gray.jpg");
    p = at("photos/x.jpg");
    th_assert_thumbnail(p, 300);
    free(p);
    p = at("r.jsonl");
    arr = th_read_jsonl(p);
    cr_expect_str_eq(error_class(record(arr, "photos/sub/sub/x.jpg")),
                     "output-is-input");
    json_decref(arr);
    free(p);
    th_run_release(&r);
}

/* Several sizes: the second output of photos/sub/sub/y.jpg is
 * photos/sub/y-100.jpg, which is another input. */
Test(originals, second_size_output_is_input)
{
    const char *args[] = { "thumbnail", "photos/sub", "-o", "photos",
                           "--sizes", "50,100", "--name", "{stem}-{size}.jpg",
                           "--report", "r.jsonl", NULL };
    struct th_run r;
    json_t *arr;
    char *p;

    put("rgb.jpg", "photos/sub/sub/y.jpg");
    put("gray.jpg", "photos/sub/y-100.jpg");
    cr_assert_eq(run_here(&r, args), 1, "%s", r.err);
    assert_same("photos/sub/y-100.jpg", "gray.jpg");
    assert_same("photos/sub/sub/y.jpg", "rgb.jpg");
    p = at("r.jsonl");
    arr = th_read_jsonl(p);
    cr_expect_str_eq(error_class(record(arr, "photos/sub/sub/y.jpg")),
                     "output-is-input");
    cr_expect_str_eq(th_json_str(record(arr, "photos/sub/y-100.jpg"),
                                 "status"),
                     "ok");
    json_decref(arr);
    free(p);
    th_run_release(&r);
}

/* In place writes its own input by design: no collision. */
Test(originals, in_place_is_not_output_is_input)
{
    const char *args[] = { "recompress", "--in-place", "--quality", "40",
                           "photos", "--report", "r.jsonl", NULL };
    struct th_run r;
    json_t *arr;
    char *p;

    put("rgb.jpg", "photos/x.jpg");
    put("q75.jpg", "photos/sub/x.jpg");
    cr_assert_eq(run_here(&r, args), 0, "%s", r.err);
    p = at("r.jsonl");
    arr = th_read_jsonl(p);
    cr_expect_eq(th_count_records(arr, "ok", NULL), 2);
    cr_expect_eq(th_count_records(arr, "failed", NULL), 0);
    json_decref(arr);
    free(p);
    th_run_release(&r);
}

/* ---- 2. backups are never inputs ---- */

static const char *const photos[] = { "a.jpg", "b.jpg", "sub/c.jpg" };

/* In place with --backup inside the tree, then later runs without it:
 * before, the second run recompressed the backups in place. */
Test(originals, backups_survive_later_runs)
{
    const char *first[] = { "recompress", "--in-place", "--quality", "50",
                            "--backup", "p/old", "p", "--report", "r1.jsonl",
                            NULL };
    const char *again[] = { "recompress", "--in-place", "--quality", "20",
                            "p", "--report", "r2.jsonl", "-v", NULL };
    const char *named[] = { "recompress", "--in-place", "--quality", "20",
                            "p/old/sub", "--report", "r3.jsonl", NULL };
    const char *thumbs[] = { "thumbnail", "p", "-o", "t", "--report",
                             "r4.jsonl", NULL };
    struct th_run r;
    json_t *arr;
    char name[64], *p;
    size_t i;

    for (i = 0; i < 3; i++) {
        snprintf(name, sizeof(name), "p/%s", photos[i]);
        put("rgb.jpg", name);
    }
    cr_assert_eq(run_here(&r, first), 0, "%s", r.err);
    th_run_release(&r);
    p = at("r1.jsonl");
    arr = th_read_jsonl(p);
    cr_assert_eq(th_count_records(arr, "ok", NULL), 3);
    json_decref(arr);
    free(p);
    cr_assert(exists("p/old/" IMGPOOL_BACKUP_MARKER));

    cr_assert_eq(run_here(&r, again), 0, "%s", r.err);
    /* The scan says so. */
    cr_expect(strstr(r.err, "'p/old' is a backup folder"), "%s", r.err);
    th_run_release(&r);
    cr_assert_eq(run_here(&r, named), 0, "%s", r.err);
    th_run_release(&r);
    cr_assert_eq(run_here(&r, thumbs), 0, "%s", r.err);
    th_run_release(&r);
    for (i = 0; i < 3; i++) {
        snprintf(name, sizeof(name), "p/old/%s", photos[i]);
        assert_same(name, "rgb.jpg");
    }
    p = at("r2.jsonl");
    arr = th_read_jsonl(p);
    cr_expect_eq(th_count_records(arr, "skipped", "backup"), 3);
    cr_expect_eq(json_array_size(arr), 7);    /* 6 records, the summary */
    json_decref(arr);
    free(p);
    p = at("r3.jsonl");
    arr = th_read_jsonl(p);
    cr_expect_eq(th_count_records(arr, "skipped", "backup"), 1);
    json_decref(arr);
    free(p);
    /* -o reads no backup either: no thumbnail of an old version. */
    p = at("r4.jsonl");
    arr = th_read_jsonl(p);
    cr_expect_eq(th_count_records(arr, "skipped", "backup"), 3);
    cr_expect_eq(th_count_records(arr, "ok", NULL), 3);
    json_decref(arr);
    free(p);
    cr_expect_not(exists("t/old/a.jpg"));
}

/* A --backup folder that holds the INPUT (or is it) is refused before it
 * is marked: otherwise the originals themselves would count as backups
 * from then on. */
Test(originals, backup_holding_the_input_is_refused_unmarked)
{
    const char *above[] = { "recompress", "--in-place", "--backup", "p",
                            "p/sub", NULL };
    const char *same[] = { "recompress", "--in-place", "--backup", "p", "p",
                           NULL };
    struct th_run r;

    put("rgb.jpg", "p/sub/a.jpg");
    cr_assert_eq(run_here(&r, above), 2, "%s", r.err);
    cr_expect(strstr(r.err, "holds the input"), "%s", r.err);
    th_run_release(&r);
    cr_assert_eq(run_here(&r, same), 2, "%s", r.err);
    th_run_release(&r);
    cr_expect_not(exists("p/" IMGPOOL_BACKUP_MARKER));
    assert_same("p/sub/a.jpg", "rgb.jpg");
}

/* A temporary left in the backup folder by a killed copy is swept.
 * Before, the sweep never looked there. */
Test(originals, backup_temporary_is_swept)
{
    const char *args[] = { "recompress", "--in-place", "--quality", "50",
                           "--backup", "bak", "p", NULL };
    char tname[NAMES_TMP_SIZE], rel[128];
    struct th_run r;
    pid_t dead;
    int st;

    put("rgb.jpg", "p/sub/a.jpg");
    dead = fork();
    cr_assert(dead >= 0);
    if (dead == 0)
        _exit(0);
    cr_assert_eq(waitpid(dead, &st, 0), dead);
    cr_assert_eq(names_tmp(tname, sizeof(tname), dead, 7), 0);
    snprintf(rel, sizeof(rel), "bak/sub/%s", tname);
    {
        char *p = at(rel);

        th_mkdirs(p);
        rmdir(p);
        th_write_file(p, "partial", 7);
        free(p);
    }
    cr_assert_eq(run_here(&r, args), 0, "%s", r.err);
    th_run_release(&r);
    cr_expect_not(exists(rel), "the stale backup temporary is still there");
    assert_same("bak/sub/a.jpg", "rgb.jpg");
}

/* ---- 3. --report and --log opened like the lock ---- */

/* A run with @opt @path over th_dir/in: exit 2, a message naming @path, the
 * output directory not created. */
static void
assert_refused(const char *opt, const char *path, const char *why)
{
    const char *args[] = { "thumbnail", "in", "-o", "o", opt, path, NULL };
    struct th_run r;

    cr_assert_eq(run_here(&r, args), 2, "%s", r.err);
    cr_expect(strstr(r.err, path) && strstr(r.err, why), "%s", r.err);
    cr_expect_not(exists("o"), "the output directory was created");
    th_run_release(&r);
}

Test(originals, report_and_log_symlinks_refused_victim_untouched)
{
    char *victim = at("victim"), *link = at("planted");
    char *before, *after;
    size_t nb, na;

    put("rgb.jpg", "in/a.jpg");
    th_write_file(victim, "precious\n", 9);
    cr_assert_eq(symlink(victim, link), 0);
    before = th_read_file(victim, &nb);
    assert_refused("--report", "planted", "symbolic link");
    assert_refused("--log", "planted", "symbolic link");
    /* A dangling link: nothing created behind it either. */
    cr_assert_eq(unlink(link), 0);
    cr_assert_eq(symlink("made-by-follow", link), 0);
    assert_refused("--report", "planted", "symbolic link");
    cr_expect_not(exists("made-by-follow"));
    after = th_read_file(victim, &na);
    cr_assert(na == nb && memcmp(before, after, na) == 0);
    free(before);
    free(after);
    free(victim);
    free(link);
}

Test(originals, report_hard_link_refused)
{
    char *victim = at("victim"), *second = at("r.jsonl");

    put("rgb.jpg", "in/a.jpg");
    th_write_file(victim, "precious\n", 9);
    cr_assert_eq(link(victim, second), 0);
    assert_refused("--report", "r.jsonl", "hard links");
    free(victim);
    free(second);
}

/* A FIFO at the report path, with and without a reader: refused at once.
 * Before, the run blocked in open() holding the lock. */
Test(originals, report_fifo_refused_without_blocking, .timeout = 30)
{
    char *fifo = at("r.jsonl"), *dir = at("in");
    const char *args[] = { "thumbnail", dir, "-o", NULL, "--report", fifo,
                           NULL };
    char *o = at("o");
    pid_t pid;
    int rd;

    put("rgb.jpg", "in/a.jpg");
    args[3] = o;
    cr_assert_eq(mkfifo(fifo, 0600), 0);
    pid = th_spawn(args);
    cr_expect_eq(th_wait_exit(pid, 10000), 2);
    rd = open(fifo, O_RDONLY | O_NONBLOCK);
    cr_assert(rd >= 0);
    pid = th_spawn(args);
    cr_expect_eq(th_wait_exit(pid, 10000), 2);
    close(rd);
    cr_expect_not(th_exists(o));
    free(fifo);
    free(dir);
    free(o);
}

Test(originals, report_created_0644_and_dev_stdout_kept)
{
    const char *args[] = { "thumbnail", "in", "-o", "o", "--report",
                           "r.jsonl", "--log", "l.log", NULL };
    const char *out[] = { "thumbnail", "in", "-o", "o2", "--report",
                          "/dev/stdout", NULL };
    struct th_run r;
    struct stat st;
    mode_t old = umask(022);
    char *p;

    put("rgb.jpg", "in/a.jpg");
    cr_assert_eq(run_here(&r, args), 0, "%s", r.err);
    th_run_release(&r);
    umask(old);
    p = at("r.jsonl");
    cr_assert_eq(stat(p, &st), 0);
    cr_expect_eq(st.st_mode & 07777, 0644, "%o", st.st_mode & 07777);
    free(p);
    p = at("l.log");
    cr_assert_eq(stat(p, &st), 0);
    cr_expect_eq(st.st_mode & 07777, 0644);
    free(p);
    cr_assert_eq(run_here(&r, out), 0, "%s", r.err);
    cr_expect(strstr(r.out, "\"summary\":true"), "stdout: %s", r.out);
    cr_expect(strstr(r.out, "\"status\":\"ok\""), "stdout: %s", r.out);
    th_run_release(&r);
}

/* A descriptor named as a path (a shell's ">(...)"; here /dev/fd/1, the
 * captured stdout, itself a link into /proc) is the user's own stream:
 * used as it is, not refused as a link. */
Test(originals, report_to_a_named_descriptor)
{
    const char *args[] = { "thumbnail", "in", "-o", "o", "--report",
                           "/dev/fd/1", "--log", "/proc/self/fd/2", NULL };
    struct th_run r;

    put("rgb.jpg", "in/a.jpg");
    cr_assert_eq(run_here(&r, args), 0, "%s", r.err);
    cr_expect(strstr(r.out, "\"summary\":true"), "stdout: %s", r.out);
    cr_expect(strstr(r.err, "thumbnail 'in' -> 'o': 1 file: 1 ok"),
              "stderr: %s", r.err);
    th_run_release(&r);
}

/* The report is opened before the lock (to refuse a bad path before
 * anything is created) but emptied only once the run starts: a run that
 * finds the lock busy leaves the last report whole. */
Test(originals, report_not_truncated_when_the_lock_is_busy)
{
    const char *args[] = { "thumbnail", "in", "-o", "o", "--report",
                           "r.jsonl", NULL };
    char *p = at("r.jsonl"), *lock = at("o/.imgpool/lock"), *d;
    struct th_run r;
    size_t n;
    int fd;

    put("rgb.jpg", "in/a.jpg");
    th_write_file(p, "{\"old\":1}\n", 10);
    th_write_file(lock, "", 0);
    fd = open(lock, O_RDWR);
    cr_assert(fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) == 0);
    cr_assert_eq(run_here(&r, args), 75, "%s", r.err);
    th_run_release(&r);
    close(fd);
    d = th_read_file(p, &n);
    cr_expect(n == 10 && memcmp(d, "{\"old\":1}\n", 10) == 0, "%s", d);
    free(d);
    free(p);
    free(lock);
}

/* ---- 4. a typo creates nothing (issue 20 point 5) ---- */

Test(originals, missing_input_creates_no_output_directory)
{
    const char *args[] = { "thumbnail", "/nonexistent-imgpool-input", "-o",
                           "o6", NULL };
    const char *bad_report[] = { "thumbnail", "in", "-o", "o7", "--report",
                                 "no/such/dir/r.jsonl", NULL };
    const char *bad_list[] = { "thumbnail", "--files-from", "no-such-list",
                               "-o", "o8", NULL };
    struct th_run r;

    put("rgb.jpg", "in/a.jpg");
    cr_assert_eq(run_here(&r, args), 2, "%s", r.err);
    cr_expect(strstr(r.err, "/nonexistent-imgpool-input"), "%s", r.err);
    th_run_release(&r);
    cr_expect_not(exists("o6"), "o6 was created");
    cr_assert_eq(run_here(&r, bad_report), 2, "%s", r.err);
    th_run_release(&r);
    cr_expect_not(exists("o7"), "o7 was created");
    cr_assert_eq(run_here(&r, bad_list), 2, "%s", r.err);
    th_run_release(&r);
    cr_expect_not(exists("o8"), "o8 was created");
}

/* A report or log directly in the output directory the run creates still
 * works: it is opened once that directory exists. */
Test(originals, report_in_the_new_output_directory)
{
    const char *args[] = { "thumbnail", "in", "-o", "o", "--report",
                           "o/r.jsonl", "--log", "o/l.log", NULL };
    struct th_run r;
    json_t *arr;
    char *p;

    put("rgb.jpg", "in/a.jpg");
    cr_assert_eq(run_here(&r, args), 0, "%s", r.err);
    th_run_release(&r);
    p = at("o/r.jsonl");
    arr = th_read_jsonl(p);
    cr_expect_eq(th_count_records(arr, "ok", NULL), 1);
    json_decref(arr);
    free(p);
    cr_expect(exists("o/l.log"));
}

/* The README's first command: the report and the log in the missing
 * parent of the output directory ("-o out/thumbs --report
 * out/report.jsonl"), which the run creates on the way; a missing
 * directory that the run does not create still fails before anything
 * is made. */
Test(originals, report_beside_the_new_output_directory)
{
    const char *args[] = { "thumbnail", "in", "-o", "out/thumbs", "--report",
                           "out/report.jsonl", "--log", "out/l.log", NULL };
    const char *elsewhere[] = { "thumbnail", "in", "-o", "o9/thumbs",
                                "--report", "o9x/r.jsonl", NULL };
    struct th_run r;
    json_t *arr;
    char *p;

    put("rgb.jpg", "in/a.jpg");
    cr_assert_eq(run_here(&r, args), 0, "%s", r.err);
    th_run_release(&r);
    p = at("out/report.jsonl");
    arr = th_read_jsonl(p);
    cr_expect_eq(th_count_records(arr, "ok", NULL), 1);
    json_decref(arr);
    free(p);
    cr_expect(exists("out/l.log"));
    cr_expect(exists("out/thumbs/a.jpg"));
    cr_assert_eq(run_here(&r, elsewhere), 2, "%s", r.err);
    cr_expect(strstr(r.err, "o9x/r.jsonl"), "%s", r.err);
    th_run_release(&r);
    cr_expect_not(exists("o9"), "o9 was created");
}

/* ---- 5. one spelling per name ---- */

Test(originals, dry_run_names_are_unambiguous)
{
    const char *args[] = { "thumbnail", "in", "-o", "o", "--dry-run", NULL };
    struct th_run r;
    char *line1, *line2;

    put("rgb.jpg", "in/a\001b.jpg");       /* a, control char, b */
    put("rgb.jpg", "in/a\\x01b.jpg");      /* a, backslash, "x01b" */
    cr_assert_eq(run_here(&r, args), 0, "%s", r.err);
    line1 = strstr(r.out, "write in/a\\x01b.jpg -> o/a\\x01b.jpg\n");
    line2 = strstr(r.out, "write in/a\\\\x01b.jpg -> o/a\\\\x01b.jpg\n");
    cr_expect(line1 && line2, "stdout:\n%s", r.out);
    th_run_release(&r);
}

Test(originals, escape_is_one_to_one)
{
    char *a = msg_escape("a\001b"), *b = msg_escape("a\\x01b");
    char *c = msg_escape("tab\there\n\x7f\xff");

    cr_expect_str_eq(a, "a\\x01b");
    cr_expect_str_eq(b, "a\\\\x01b");
    cr_expect_str_neq(a, b);
    cr_expect_str_eq(c, "tab\\there\\n\\x7f\\xff");
    cr_expect_str_eq(msg_name("caf\xc3\xa9"), "caf\xc3\xa9");
    free(a);
    free(b);
    free(c);
}

/* ---- 6. a reader leaving standard output ---- */

/* Run with stdout a pipe whose read end is closed; exit status. */
static int
run_closed_stdout(const char *const *args, char **err)
{
    char *errpath = at("stderr.txt");
    int p[2], efd, st;
    pid_t pid;
    size_t n = 0;

    while (args[n])
        n++;
    cr_assert_eq(pipe(p), 0);
    efd = open(errpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    cr_assert(efd >= 0);
    pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) {
        const char *argv[32];

        argv[0] = IMGPOOL_BIN;
        memcpy(argv + 1, args, (n + 1) * sizeof(*argv));
        close(p[0]);
        if (chdir(th_dir) < 0 || dup2(p[1], 1) < 0 || dup2(efd, 2) < 0)
            _exit(127);
        signal(SIGPIPE, SIG_DFL);
        execv(IMGPOOL_BIN, (char *const *)argv);
        _exit(127);
    }
    close(p[0]);
    close(p[1]);
    close(efd);
    cr_assert_eq(waitpid(pid, &st, 0), pid);
    *err = th_read_file(errpath, NULL);
    free(errpath);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

Test(originals, closed_stdout_keeps_the_exit_status)
{
    const char *rep[] = { "thumbnail", "in", "-o", "o", "--report",
                          "/dev/stdout", NULL };
    const char *dash[] = { "thumbnail", "in", "-o", "o2", "--report", "-",
                           NULL };
    const char *dry[] = { "thumbnail", "in", "-o", "o3", "--dry-run", NULL };
    const char *fail[] = { "thumbnail", "in", "bad", "-o", "o4", "--report",
                           "-", NULL };
    char *err;

    put("rgb.jpg", "in/a.jpg");
    put("q75.jpg", "in/b.jpg");
    put("garbage.jpg", "bad/g.jpg");
    cr_expect_eq(run_closed_stdout(rep, &err), 0, "%s", err);
    cr_expect(strstr(err, "went away"), "%s", err);
    free(err);
    cr_expect(exists("o/a.jpg") && exists("o/b.jpg"));
    cr_expect_eq(run_closed_stdout(dash, &err), 0, "%s", err);
    free(err);
    cr_expect_eq(run_closed_stdout(dry, &err), 0, "%s", err);
    cr_expect(strstr(err, "cut short"), "%s", err);
    free(err);
    /* A failed file still says 1, not 2. */
    cr_expect_eq(run_closed_stdout(fail, &err), 1, "%s", err);
    free(err);
}

/* ---- 7. one file, several spellings in --files-from ---- */

Test(originals, files_from_spellings_plan_once)
{
    const char *args[] = { "thumbnail", "--files-from", "../../list", "-o",
                           "../../o", "--report", "../../r.jsonl", NULL };
    char cwd[4096], *list, *abs, *text, *sub, *p;
    struct th_run r;
    json_t *arr;

    put("rgb.jpg", "d/x.jpg");
    p = at("lnk");
    cr_assert_eq(symlink("d", p), 0);
    free(p);
    sub = at("d/sub");
    th_mkdirs(sub);
    abs = realpath(th_dir, NULL);
    cr_assert(abs);
    cr_assert(asprintf(&text, "../x.jpg\n%s/d/x.jpg\n../../lnk/x.jpg\n",
                       abs) > 0);
    list = at("list");
    th_write_file(list, text, strlen(text));
    cr_assert(getcwd(cwd, sizeof(cwd)));
    cr_assert_eq(chdir(sub), 0);
    th_run(&r, args);
    cr_assert_eq(chdir(cwd), 0);
    cr_assert_eq(r.status, 0, "%s", r.err);
    p = at("r.jsonl");
    arr = th_read_jsonl(p);
    cr_expect_eq(th_count_records(arr, "ok", NULL), 1);
    cr_expect_eq(th_count_records(arr, "skipped", "duplicate"), 2);
    cr_expect_eq(th_count_records(arr, "failed", NULL), 0);
    json_decref(arr);
    free(p);
    cr_assert(asprintf(&p, "%s/o%s/d/x.jpg", th_dir, abs) > 0);
    th_assert_thumbnail(p, 300);
    free(p);
    th_run_release(&r);
    free(text);
    free(list);
    free(abs);
    free(sub);
}

/* ---- SIGTERM at a blocking point ---- */

/* A --files-from FIFO whose writer never writes: the scan blocks reading
 * it.  Before, SIGTERM was caught and the read restarted: it hung.  The
 * signal is sent only once the master sleeps in read(2) on the FIFO. */
Test(originals, sigterm_ends_a_blocked_files_from, .timeout = 30)
{
    char *fifo = at("list"), *o = at("o"), *real;
    const char *args[] = { "thumbnail", "--files-from", fifo, "-o", o,
                           NULL };
    pid_t pid;
    int wr;

    cr_assert_eq(mkfifo(fifo, 0600), 0);
    real = realpath(fifo, NULL);
    cr_assert(real);
    wr = open(fifo, O_RDWR);    /* a writer, so the open does not block */
    cr_assert(wr >= 0);
    pid = th_spawn(args);
    th_wait_blocked(pid, SYS_read, real, 10000);
    cr_assert(th_blocked_in(pid, SYS_read, real));
    cr_assert_eq(kill(pid, SIGTERM), 0);
    cr_expect_eq(th_wait_exit(pid, 10000), 143);
    close(wr);
    free(real);
    free(fifo);
    free(o);
}

/* 600 inputs with long names, so that a listing of them fills a pipe. */
static void
put_many(void)
{
    char name[128];
    int i;

    for (i = 0; i < 600; i++) {
        snprintf(name, sizeof(name), "in/d%02d/%s-%03d.jpg", i % 10,
                 "a-rather-long-file-name-so-the-report-fills-the-pipe", i);
        put("garbage.jpg", name);
    }
}

/* The system call a master stuck on a full stdout pipe sleeps in: glibc
 * implements poll() with SYS_poll where the kernel has it (x86_64), else
 * with SYS_ppoll. */
#ifdef SYS_poll
#define STALL_SYSCALL SYS_poll
#else
#define STALL_SYSCALL SYS_ppoll
#endif

/* Run @argv (argv[0] the binary) with stdout a pipe nobody reads; once
 * the pipe is full, SIGTERM.  The exit status, or a failed test when the
 * run did not end within 10 s. */
static int
sigterm_when_stalled(const char *const *argv)
{
    struct timespec ts = { 0, 100 * 1000 * 1000 };
    int p[2], devnull, waited, st = 0;
    char pipe_name[64];
    struct stat pst;
    pid_t pid;

    cr_assert_eq(pipe(p), 0);
    pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) {
        devnull = open("/dev/null", O_RDWR);
        close(p[0]);
        if (devnull < 0 || dup2(devnull, 0) < 0 || dup2(p[1], 1) < 0 ||
            dup2(devnull, 2) < 0)
            _exit(127);
        execv(IMGPOOL_BIN, (char *const *)argv);
        _exit(127);
    }
    close(p[1]);
    /* Wait until the master is stuck: the pipe is full and the master
     * sleeps waiting for room in it (report_pipe.c polls for POLLOUT). */
    for (waited = 0; waited < 200; waited++) {
        int n = 0;

        nanosleep(&ts, NULL);
        cr_assert_eq(ioctl(p[0], FIONREAD, &n), 0);
        if (n >= 60000)
            break;
    }
    cr_assert_lt(waited, 200, "the listing never filled the pipe");
    cr_assert_eq(fstat(p[0], &pst), 0);
    snprintf(pipe_name, sizeof(pipe_name), "pipe:[%lu]",
             (unsigned long)pst.st_ino);
    th_wait_blocked(pid, STALL_SYSCALL, pipe_name, 10000);
    cr_assert(th_blocked_in(pid, STALL_SYSCALL, pipe_name));
    cr_assert_eq(kill(pid, SIGTERM), 0);
    for (waited = 0; waited < 100; waited++) {
        if (waitpid(pid, &st, WNOHANG) == pid)
            break;
        nanosleep(&ts, NULL);
    }
    close(p[0]);
    if (waited == 100) {
        kill(pid, SIGKILL);
        waitpid(pid, &st, 0);
        cr_assert_fail("SIGTERM did not end the run within 10 s");
    }
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* The report goes into a pipe nobody reads: once it is full the master
 * waits for room.  Before, SIGTERM was caught and write(2) restarted: the
 * run never ended.  Now it ends as interrupted. */
Test(originals, sigterm_ends_a_report_write_to_a_stalled_pipe, .timeout = 60)
{
    char *dir = at("in"), *o = at("o");
    const char *argv[] = { IMGPOOL_BIN, "thumbnail", dir, "-o", o,
                           "--report", "-", "-j", "2", NULL };

    put_many();
    cr_expect_eq(sigterm_when_stalled(argv), 143);
    free(dir);
    free(o);
}

/* The same for the dry run's listing. */
Test(originals, sigterm_ends_a_dry_run_listing_to_a_stalled_pipe,
     .timeout = 60)
{
    char *dir = at("in"), *o = at("o");
    const char *argv[] = { IMGPOOL_BIN, "thumbnail", dir, "-o", o,
                           "--dry-run", NULL };

    put_many();
    cr_expect_eq(sigterm_when_stalled(argv), 143);
    free(dir);
    free(o);
}
