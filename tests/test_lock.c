/*
 * test_lock.c - the run lock between processes: busy at once, busy after
 * waiting, free after release, free when the holder dies, and the holder
 * description an overlapping run prints.
 *
 * flock(2) locks conflict between open file descriptions, so the second
 * party is always a forked child that opens the file itself; it reports
 * back over a pipe and leaves with _exit().  The child waits on a clock the
 * test moves (fakeclock.h), so the waiting tests need no wall time.
 */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "fakeclock.h"
#include "helpers.h"
#include "lock.h"

static char *tmp;
static char *lock_path;   /* tmp/out/.imgpool/lock; .imgpool not created */

static void
setup(void)
{
    tmp = th_mkdtemp();
    lock_path = th_path(tmp, "out/.imgpool/lock");
    /* th_path made out/.imgpool: remove it, lock_acquire creates it. */
    *strrchr(lock_path, '/') = '\0';
    cr_assert(rmdir(lock_path) == 0);
    lock_path[strlen(lock_path)] = '/';
}

static void
teardown(void)
{
    th_rmrf(tmp);
    free(tmp);
    free(lock_path);
}

TestSuite(lock, .init = setup, .fini = teardown, .timeout = 30);

/* What a child's attempt came to. */
struct attempt {
    int result;          /* enum lock_result */
    int sleeps;          /* nanosleep() calls inside lock_acquire() */
    int64_t waited_us;   /* the child's clock inside lock_acquire() */
    int64_t longest_us;  /* the longest of those sleeps */
    char holder[128];
};

/* In a child: lock_acquire() with @wait_s on the fake clock, into @r. */
static void
attempt_on_fake_clock(double wait_s, struct attempt *r)
{
    struct run_lock lk;

    memset(r, 0, sizeof(*r));
    th_clock_freeze();
    r->result = (int)lock_acquire(&lk, lock_path, wait_s, r->holder,
                                  sizeof(r->holder));
    r->sleeps = th_clock_sleeps();
    r->waited_us = th_clock_elapsed_us();
    r->longest_us = th_clock_longest_sleep_us();
    lock_release(&lk);
}

/* Fork a child that tries the lock with @wait_s and reports. */
static void
try_in_child(double wait_s, struct attempt *a)
{
    int fds[2], status;
    pid_t pid;
    ssize_t n;

    cr_assert(pipe(fds) == 0);
    pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) {
        struct attempt r;

        attempt_on_fake_clock(wait_s, &r);
        _exit(write(fds[1], &r, sizeof(r)) == (ssize_t)sizeof(r) ? 0 : 1);
    }
    close(fds[1]);
    n = read(fds[0], a, sizeof(*a));
    close(fds[0]);
    cr_assert_eq(n, (ssize_t)sizeof(*a));
    cr_assert(waitpid(pid, &status, 0) == pid);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

Test(lock, busy_at_once_names_the_holder)
{
    struct run_lock lk;
    struct attempt a;
    char *content, pid[32];

    cr_assert_eq(lock_acquire(&lk, lock_path, 0, NULL, 0), LOCK_OK);
    cr_assert(lk.fd >= 0);
    snprintf(pid, sizeof(pid), "pid %ld since ", (long)getpid());
    try_in_child(0, &a);
    cr_assert_eq(a.result, LOCK_BUSY);
    cr_assert(strstr(a.holder, pid) == a.holder, "holder: %s", a.holder);
    cr_assert_eq(a.sleeps, 0, "no waiting with 0: %d sleeps", a.sleeps);

    /* The file: "pid\nISO-8601 time\n". */
    content = th_read_file(lock_path, NULL);
    snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
    cr_assert(strncmp(content, pid, strlen(pid)) == 0, "%s", content);
    cr_assert(strchr(content + strlen(pid), 'T') != NULL, "%s", content);
    free(content);
    lock_release(&lk);
    cr_assert_eq(lk.fd, -1);
    lock_release(&lk);          /* twice is harmless */
}

Test(lock, busy_after_waiting)
{
    struct run_lock lk;
    struct attempt a;

    cr_assert_eq(lock_acquire(&lk, lock_path, 0, NULL, 0), LOCK_OK);
    try_in_child(0.5, &a);
    cr_assert_eq(a.result, LOCK_BUSY);
    /* retried every 100 ms for exactly the 0.5 s asked */
    cr_assert_eq(a.waited_us, 500000, "waited %lld us",
                 (long long)a.waited_us);
    cr_assert_eq(a.sleeps, 5, "%d sleeps", a.sleeps);
    cr_assert_eq(a.longest_us, 100000);
    lock_release(&lk);
}

Test(lock, free_after_release)
{
    struct run_lock lk;
    struct attempt a;

    cr_assert_eq(lock_acquire(&lk, lock_path, 0, NULL, 0), LOCK_OK);
    lock_release(&lk);
    try_in_child(0, &a);
    cr_assert_eq(a.result, LOCK_OK);
    /* The file stays: unlinking a flock file races. */
    cr_assert(th_exists(lock_path));
}

Test(lock, waiter_gets_it_when_released)
{
    struct run_lock lk;
    int fds[2], waiting[2], go[2], status;
    struct attempt a;
    char c;
    pid_t pid;

    cr_assert_eq(lock_acquire(&lk, lock_path, 0, NULL, 0), LOCK_OK);
    cr_assert(pipe(fds) == 0 && pipe(waiting) == 0 && pipe(go) == 0);
    pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) {
        struct attempt r;

        th_clock_on_first_sleep(waiting[1], go[0]);
        attempt_on_fake_clock(10, &r);
        _exit(write(fds[1], &r, sizeof(r)) == (ssize_t)sizeof(r) ? 0 : 1);
    }
    close(fds[1]);
    /* The child's first attempt failed and it waits: release then. */
    cr_assert_eq(read(waiting[0], &c, 1), 1);
    lock_release(&lk);
    cr_assert_eq(write(go[1], "g", 1), 1);
    cr_assert_eq(read(fds[0], &a, sizeof(a)), (ssize_t)sizeof(a));
    close(fds[0]);
    close(waiting[0]);
    close(waiting[1]);
    close(go[0]);
    close(go[1]);
    cr_assert(waitpid(pid, &status, 0) == pid);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    cr_assert_eq(a.result, LOCK_OK);
    cr_assert_eq(a.sleeps, 1, "taken at the first retry, not %d sleeps in",
                 a.sleeps);
}

Test(lock, released_when_the_holder_dies)
{
    struct run_lock lk;
    int fds[2], status;
    char ready;
    pid_t pid;

    cr_assert(pipe(fds) == 0);
    pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) {
        struct run_lock held;
        char ok = lock_acquire(&held, lock_path, 0, NULL, 0) == LOCK_OK;

        if (write(fds[1], &ok, 1) != 1)
            _exit(1);
        for (;;)
            pause();
    }
    close(fds[1]);
    cr_assert_eq(read(fds[0], &ready, 1), 1);
    close(fds[0]);
    cr_assert(ready, "the child could not take the lock");
    cr_assert_eq(lock_acquire(&lk, lock_path, 0, NULL, 0), LOCK_BUSY);
    cr_assert(kill(pid, SIGKILL) == 0);
    cr_assert(waitpid(pid, &status, 0) == pid);
    cr_assert(WIFSIGNALED(status));
    cr_assert_eq(lock_acquire(&lk, lock_path, 0, NULL, 0), LOCK_OK);
    lock_release(&lk);
}

Test(lock, planted_symlink_in_state_dir_is_moved_aside)
{
    struct run_lock lk;
    struct th_capture cap;
    char *target = th_path(tmp, "target");
    char *dir = strdup(lock_path), *err, *data;
    size_t len;
    struct stat sb;

    *strrchr(dir, '/') = '\0';
    cr_assert(mkdir(dir, 0755) == 0);
    th_write_file(target, "victim", 6);
    cr_assert(symlink(target, lock_path) == 0);
    th_capture_begin(&cap);
    cr_assert_eq(lock_acquire(&lk, lock_path, 0, NULL, 0), LOCK_OK);
    err = th_capture_end(&cap);
    cr_assert(strstr(err, "lock' is a symbolic link; moved aside as "
                          "'lock.unusable-") != NULL, "stderr: %s", err);
    /* The lock is a new regular file; the link target never written. */
    cr_assert(lstat(lock_path, &sb) == 0 && S_ISREG(sb.st_mode));
    data = th_read_file(target, &len);
    cr_assert(len == 6 && memcmp(data, "victim", 6) == 0);
    cr_assert_eq(th_count_prefixed(dir, "lock.unusable-"), 1);
    lock_release(&lk);
    free(data);
    free(err);
    free(dir);
    free(target);
}

Test(lock, planted_fifo_in_state_dir_is_moved_aside)
{
    struct run_lock lk;
    char *dir = strdup(lock_path);
    struct stat sb;

    *strrchr(dir, '/') = '\0';
    cr_assert(mkdir(dir, 0755) == 0);
    cr_assert(mkfifo(lock_path, 0666) == 0);
    cr_assert_eq(lock_acquire(&lk, lock_path, 0, NULL, 0), LOCK_OK);
    cr_assert(lstat(lock_path, &sb) == 0 && S_ISREG(sb.st_mode));
    cr_assert_eq(th_count_prefixed(dir, "lock.unusable-"), 1);
    lock_release(&lk);
    free(dir);
}

Test(lock, hard_linked_lock_in_state_dir_is_moved_aside)
{
    struct run_lock lk;
    char *target = th_path(tmp, "target"), *dir = strdup(lock_path), *data;
    size_t len;

    *strrchr(dir, '/') = '\0';
    cr_assert(mkdir(dir, 0755) == 0);
    th_write_file(target, "victim", 6);
    cr_assert(link(target, lock_path) == 0);
    cr_assert_eq(lock_acquire(&lk, lock_path, 0, NULL, 0), LOCK_OK);
    data = th_read_file(target, &len);
    cr_assert(len == 6 && memcmp(data, "victim", 6) == 0,
              "the other name of the lock file was truncated");
    cr_assert_eq(th_count_prefixed(dir, "lock.unusable-"), 1);
    lock_release(&lk);
    free(data);
    free(dir);
    free(target);
}

Test(lock, symlink_outside_a_state_dir_is_refused)
{
    struct run_lock lk;
    struct th_capture cap;
    char *target = th_path(tmp, "target");
    char *path = th_path(tmp, "my.lock"), *err;

    th_write_file(target, "", 0);
    cr_assert(symlink(target, path) == 0);
    th_capture_begin(&cap);
    errno = 0;
    cr_assert_eq(lock_acquire(&lk, path, 0, NULL, 0), LOCK_ERROR);
    cr_assert_eq(errno, ELOOP);
    err = th_capture_end(&cap);
    cr_assert_eq(lk.fd, -1);
    cr_assert(strstr(err, "my.lock' is a symbolic link") &&
              strstr(err, "remove it and run again"), "stderr: %s", err);
    {
        size_t len;
        char *data = th_read_file(target, &len);
        cr_assert_eq(len, 0, "the link's target was written");
        free(data);
    }
    lock_release(&lk);
    free(err);
    free(path);
    free(target);
}

Test(lock, symlinked_state_dir_is_refused)
{
    struct run_lock lk;
    struct th_capture cap;
    char *victim = th_path(tmp, "victim"), *dir = strdup(lock_path), *err;

    th_mkdirs(victim);
    *strrchr(dir, '/') = '\0';
    cr_assert(symlink(victim, dir) == 0);
    th_capture_begin(&cap);
    errno = 0;
    cr_assert_eq(lock_acquire(&lk, lock_path, 0, NULL, 0), LOCK_ERROR);
    cr_assert_eq(errno, ELOOP);
    err = th_capture_end(&cap);
    cr_assert(strstr(err, ".imgpool' is a symbolic link") &&
              strstr(err, "run again"), "stderr: %s", err);
    cr_assert_eq(th_count_prefixed(victim, ""), 2, "something was created in "
                 "the link's target");
    free(err);
    free(dir);
    free(victim);
}



Test(lock, unwritable_lock_file_is_locked_read_only)
{
    struct run_lock lk, lk2;
    struct th_capture cap;
    char *err;

    cr_assert_eq(lock_acquire(&lk, lock_path, 0, NULL, 0), LOCK_OK);
    lock_release(&lk);
    if (!th_make_unwritable(lock_path))
        cr_skip_test("cannot make the lock file unwritable here");
    th_capture_begin(&cap);
    cr_assert_eq(lock_acquire(&lk, lock_path, 0, NULL, 0), LOCK_OK);
    err = th_capture_end(&cap);
    cr_assert(strstr(err, "is not writable") != NULL, "stderr: %s", err);
    /* Still a lock: a second open file description is refused. */
    th_capture_begin(&cap);
    cr_assert_eq(lock_acquire(&lk2, lock_path, 0, NULL, 0), LOCK_BUSY);
    free(th_capture_end(&cap));
    lock_release(&lk);
    if (th_undo_unwritable(lock_path) < 0)
        cr_log_warn("cannot undo chattr +i on '%s'", lock_path);
    free(err);
}

Test(lock, missing_grandparent_is_an_error)
{
    struct run_lock lk;
    char *path = th_path(tmp, "x");
    char *deep;

    cr_assert(asprintf(&deep, "%s/no/such/lock", path) > 0);
    cr_assert_eq(lock_acquire(&lk, deep, 0, NULL, 0), LOCK_ERROR);
    cr_assert_eq(errno, ENOENT);
    free(deep);
    free(path);
}

/* The directory is created one level deep, mode 0755 (under umask 022),
 * and a path the user named may climb with ".." or pass a symbolic link. */
Test(lock, creates_one_level_through_dotdot_and_symlinks)
{
    struct run_lock lk;
    char *dir = strdup(lock_path), *out, *link, *via_dotdot, *via_link;
    struct stat sb;
    mode_t old = umask(022);

    *strrchr(dir, '/') = '\0';             /* tmp/out/.imgpool */
    out = th_path(tmp, "out");
    link = th_path(tmp, "outlink");
    cr_assert(asprintf(&via_dotdot, "%s/../out/.imgpool/lock", out) > 0);
    cr_assert(asprintf(&via_link, "%s/.imgpool/lock", link) > 0);

    cr_assert_eq(lock_acquire(&lk, via_dotdot, 0, NULL, 0), LOCK_OK,
                 "%s", strerror(errno));
    cr_assert(stat(dir, &sb) == 0 && S_ISDIR(sb.st_mode));
    cr_assert_eq(sb.st_mode & 07777, 0755);
    cr_assert(th_exists(lock_path));
    lock_release(&lk);

    cr_assert(rmdir(dir) != 0);            /* holds the lock file */
    cr_assert(unlink(lock_path) == 0 && rmdir(dir) == 0);
    cr_assert(symlink(out, link) == 0);
    cr_assert_eq(lock_acquire(&lk, via_link, 0, NULL, 0), LOCK_OK,
                 "%s", strerror(errno));
    cr_assert(th_exists(lock_path));
    lock_release(&lk);
    umask(old);
    free(via_link);
    free(via_dotdot);
    free(link);
    free(out);
    free(dir);
}

Test(lock, directory_that_is_a_file_is_an_error)
{
    struct run_lock lk;
    char *dir = strdup(lock_path);

    *strrchr(dir, '/') = '\0';
    th_write_file(dir, "", 0);
    errno = 0;
    cr_assert_eq(lock_acquire(&lk, lock_path, 0, NULL, 0), LOCK_ERROR);
    cr_assert_eq(errno, ENOTDIR);
    cr_assert_eq(lk.fd, -1);
    free(dir);
}

/* A wait shorter than one retry interval ends on time, not a whole
 * interval late, and never early. */
Test(lock, short_wait_is_bounded)
{
    struct run_lock lk;
    struct attempt a;

    cr_assert_eq(lock_acquire(&lk, lock_path, 0, NULL, 0), LOCK_OK);
    try_in_child(0.15, &a);
    cr_assert_eq(a.result, LOCK_BUSY);
    cr_assert_eq(a.waited_us, 150000, "waited %lld us",
                 (long long)a.waited_us);
    cr_assert_eq(a.sleeps, 2, "100 ms, then the 50 ms left: %d sleeps",
                 a.sleeps);
    lock_release(&lk);
}

Test(lock, result_names)
{
    cr_assert_str_eq(lock_result_str(LOCK_OK), "ok");
    cr_assert_str_eq(lock_result_str(LOCK_BUSY), "busy");
    cr_assert_str_eq(lock_result_str(LOCK_ERROR), "error");
}
