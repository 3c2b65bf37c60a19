/*
 * test_taskopen.c - a task's file reached from its root (taskopen.h), by
 * the worker's open stage and the master's dry-run estimate alike: a
 * directory or file replaced by a symbolic link since the scan is not
 * followed unless the task allows it, a FIFO is refused without blocking.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <turbojpeg.h>

#include "helpers.h"
#include "run_dry.h"
#include "settings.h"
#include "taskopen.h"

TestSuite(taskopen, .init = th_dir_setup, .fini = th_dir_teardown);

/* The task of @rel below th_dir/@root, as the scan makes it. */
static void
task_of(struct task *t, const char *root, const char *rel, unsigned follow)
{
    char *r = th_path(th_dir, root);

    memset(t, 0, sizeof(*t));
    t->path = th_path(r, rel);
    t->rel = t->path + strlen(r) + 1;
    t->open_follow = follow;
    free(r);
}

/* A 640x480 JPEG at @path, and its size. */
static int64_t
write_jpeg(const char *path)
{
    unsigned char *px = calloc(640 * 480, 3);
    unsigned long len;
    unsigned char *jpg;

    cr_assert_not_null(px);
    for (int i = 0; i < 640 * 480 * 3; i++)
        px[i] = (unsigned char)(i * 7 % 251);
    jpg = th_jpeg_encode(px, 640, 480, TJPF_RGB, TJSAMP_420, 95, 0, &len);
    th_write_file(path, jpg, len);
    free(jpg);
    free(px);
    return (int64_t)len;
}

/* th_dir/root/sub/a.jpg, and th_dir/elsewhere/a.jpg (the same picture,
 * which a link planted as root/sub would lead to). */
static int64_t
make_tree(void)
{
    char *a = th_path(th_dir, "root/sub/a.jpg");
    char *b = th_path(th_dir, "elsewhere/a.jpg");
    int64_t n = write_jpeg(a);

    cr_assert_eq(write_jpeg(b), n);
    free(a);
    free(b);
    return n;
}

/* th_dir/root/sub replaced by a link to ../elsewhere. */
static void
swap_sub_for_link(void)
{
    char *sub = th_path(th_dir, "root/sub");

    th_rmrf(sub);
    cr_assert_eq(symlink("../elsewhere", sub), 0);
    free(sub);
}

Test(taskopen, opens_a_file_below_its_root)
{
    enum taskopen_step step;
    struct task t;
    int fd;

    make_tree();
    task_of(&t, "root", "sub/a.jpg", 0);
    fd = taskopen_file(&t, &step);
    cr_assert_geq(fd, 0, "%s", strerror(errno));
    cr_expect_eq(fcntl(fd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
    close(fd);
    free(t.path);
}

/* @t, with a link at step @at, is refused (ELOOP) with no follow bit,
 * and opened with @follow, the bit the scan sets for --follow-symlinks. */
static void
refused_unless(struct task *t, enum taskopen_step at, unsigned follow)
{
    enum taskopen_step step;
    int fd;

    t->open_follow = 0;
    errno = 0;
    cr_expect_eq(taskopen_file(t, &step), -1);
    cr_expect_eq(errno, ELOOP);
    cr_expect_eq(step, at);
    t->open_follow = follow;
    fd = taskopen_file(t, &step);
    cr_expect_geq(fd, 0, "%s", strerror(errno));
    if (fd >= 0)
        close(fd);
}

Test(taskopen, a_directory_swapped_for_a_link_is_not_followed)
{
    struct task t;

    make_tree();
    swap_sub_for_link();
    task_of(&t, "root", "sub/a.jpg", 0);
    refused_unless(&t, TASKOPEN_DIRS, TASK_FOLLOW_DIRS);
    free(t.path);
}

Test(taskopen, a_file_swapped_for_a_link_or_a_fifo_is_refused)
{
    char *a = th_path(th_dir, "root/sub/a.jpg");
    enum taskopen_step step;
    struct task t;

    make_tree();
    cr_assert_eq(unlink(a), 0);
    cr_assert_eq(symlink("../../elsewhere/a.jpg", a), 0);
    task_of(&t, "root", "sub/a.jpg", 0);
    refused_unless(&t, TASKOPEN_FILE, TASK_FOLLOW_FILE);
    /* A FIFO: refused at once (no writer, so a blocking open would hang). */
    cr_assert_eq(unlink(a), 0);
    cr_assert_eq(mkfifo(a, 0600), 0);
    t.open_follow = 0;
    errno = 0;
    cr_expect_eq(taskopen_file(&t, &step), -1);
    cr_expect_eq(errno, EINVAL);
    cr_expect_eq(step, TASKOPEN_FILE);
    free(t.path);
    free(a);
}

/* The dry run's estimate reads the header through the root too: with the
 * directory swapped for a link it knows no header and falls back to the
 * input's bytes, instead of estimating from a file outside the tree. */
Test(taskopen, dry_run_estimate_does_not_follow_a_swapped_directory)
{
    struct settings s;
    struct task t;
    int64_t n = make_tree(), est;

    settings_init(&s, MODE_THUMBNAIL);
    task_of(&t, "root", "sub/a.jpg", 0);
    t.size = n;
    est = run_dry_estimate(&s, &t);
    cr_expect_lt(est, n / 2, "a 300x225 thumbnail of a 640x480 Q95 JPEG "
                 "of %lld bytes estimated at %lld", (long long)n,
                 (long long)est);
    swap_sub_for_link();
    cr_expect_eq(run_dry_estimate(&s, &t), n, "the header was read "
                 "through the link");
    free(t.path);
}
