/*
 * lock.c - one run at a time per output tree, with flock(2).
 *
 * The lock is an flock on a small file that is never removed: removing a
 * lock file races (a waiter could lock the unlinked inode while a newcomer
 * creates and locks a fresh one, and both would run).  flock locks belong
 * to the open file description, so the kernel drops the lock when the last
 * descriptor for it closes, including when the holder is killed; there is
 * never a stale lock to clean up.  On Linux, flock on NFS is emulated with
 * fcntl byte-range locks and so works across clients.
 *
 * The holder writes its pid and start time into the file, only so that an
 * overlapping run can say who holds the lock; the lock itself never
 * depends on the content.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "dirwalk.h"
#include "lock.h"
#include "util.h"

#define RETRY_US 100000         /* 100 ms between attempts while waiting */

/* Close @fd (unless it is AT_FDCWD) without losing errno. */
static void
close_keep_errno(int fd)
{
    int err = errno;

    if (fd >= 0)
        close(fd);
    errno = err;
}

/*
 * Open the directory that holds the lock file, the first @len bytes of a
 * path the user named (symbolic links followed, ".." allowed).  When it is
 * missing, create it: one level only (the output tree's ".imgpool"), with
 * dirwalk_open() below its parent; a missing parent stays ENOENT.  Returns
 * a descriptor, AT_FDCWD for an empty @dir, or -1 with errno.
 */
static int
open_lock_dir(const char *dir, size_t len)
{
    const int dflags = O_RDONLY | O_DIRECTORY | O_CLOEXEC;
    char *copy, *last;
    int fd, pfd, err;

    if (len == 0)
        return AT_FDCWD;
    copy = strndup(dir, len);
    if (!copy)
        return -1;
    fd = open(copy, dflags);
    if (fd >= 0 || errno != ENOENT)
        goto out;
    while (len > 1 && copy[len - 1] == '/')
        copy[--len] = '\0';
    last = strrchr(copy, '/');
    if (!last) {
        pfd = AT_FDCWD;
        last = copy;
    } else {
        *last++ = '\0';
        pfd = open(copy[0] ? copy : "/", dflags);
        if (pfd < 0)
            goto out;
    }
    fd = dirwalk_open(pfd, last, strlen(last),
                      DIRWALK_CREATE | DIRWALK_FOLLOW, 0755);
    close_keep_errno(pfd);
out:
    err = errno;
    free(copy);
    errno = err;
    return fd;
}

static int
open_lock_file(const char *path)
{
    int flags = O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK;
    const char *slash = strrchr(path, '/');
    const char *name = slash ? slash + 1 : path;
    struct stat sb;
    int dfd, fd;

    /* "/lock" lives in "/": keep its one slash as the directory. */
    dfd = open_lock_dir(path, slash ? (size_t)(slash - path) + (slash == path)
                                    : 0);
    if (dfd == -1)
        return -1;
    fd = openat(dfd, name, flags, 0644);
    close_keep_errno(dfd);
    if (fd < 0)
        return -1;
    if (fstat(fd, &sb) < 0) {
        close_keep_errno(fd);
        return -1;
    }
    /* O_NONBLOCK above only keeps a planted FIFO from hanging the open. */
    if (!S_ISREG(sb.st_mode)) {
        close(fd);
        errno = EINVAL;
        return -1;
    }
    return fd;
}

/* Replace the file's content with "pid\nstart-time\n"; best effort: the
 * content is only for messages. */
static void
write_holder(int fd)
{
    char buf[128], stamp[64];
    struct tm tm;
    time_t now = time(NULL);
    int n;

    localtime_r(&now, &tm);
    strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S%z", &tm);
    n = snprintf(buf, sizeof(buf), "%ld\n%s\n", (long)getpid(), stamp);
    if (ftruncate(fd, 0) < 0)
        return;
    if (pwrite(fd, buf, (size_t)n, 0) != n)
        return;         /* still locked; a waiter says "unknown process" */
}

/* Describe the holder from the file's content into @holder. */
static void
read_holder(int fd, char *holder, size_t size)
{
    char buf[128], *nl, *end;
    ssize_t n = 0;
    long pid;

    /* The holder truncates, then writes: an empty read may just be early,
     * so look twice. */
    for (int attempt = 0; attempt < 2; attempt++) {
        n = pread(fd, buf, sizeof(buf) - 1, 0);
        if (n > 0)
            break;
        nanosleep(&(struct timespec){ 0, 20000000L }, NULL);
    }
    if (n <= 0) {
        snprintf(holder, size, "an unknown process");
        return;
    }
    buf[n] = '\0';
    pid = strtol(buf, &end, 10);
    if (end == buf || *end != '\n' || pid <= 0) {
        snprintf(holder, size, "an unknown process");
        return;
    }
    end++;
    nl = strchr(end, '\n');
    if (nl && nl > end) {
        *nl = '\0';
        snprintf(holder, size, "pid %ld since %s", pid, end);
    } else {
        snprintf(holder, size, "pid %ld", pid);
    }
}

/* Sleep @us microseconds (less when a signal interrupts: the caller
 * rechecks the clock). */
static void
usleep_bounded(int64_t us)
{
    struct timespec ts;

    ts.tv_sec = (time_t)(us / 1000000);
    ts.tv_nsec = (long)(us % 1000000) * 1000;
    nanosleep(&ts, NULL);
}

const char *
lock_result_str(enum lock_result r)
{
    switch (r) {
    case LOCK_OK:
        return "ok";
    case LOCK_BUSY:
        return "busy";
    case LOCK_ERROR:
        return "error";
    }
    return "unknown";
}

enum lock_result
lock_acquire(struct run_lock *lk, const char *path, double wait_s,
             char *holder, size_t size)
{
    int64_t deadline = util_now_us() + (wait_s > 0 ? (int64_t)(wait_s * 1e6)
                                                    : 0);
    int64_t left;
    int fd;

    lk->fd = -1;
    fd = open_lock_file(path);
    if (fd < 0)
        return LOCK_ERROR;
    for (;;) {
        if (flock(fd, LOCK_EX | LOCK_NB) == 0)
            break;
        if (errno == EINTR)
            continue;
        if (errno != EWOULDBLOCK) {
            close_keep_errno(fd);
            return LOCK_ERROR;
        }
        left = deadline - util_now_us();
        if (left <= 0) {
            if (holder && size > 0)
                read_holder(fd, holder, size);
            close(fd);
            return LOCK_BUSY;
        }
        usleep_bounded(left < RETRY_US ? left : RETRY_US);
    }
    write_holder(fd);
    lk->fd = fd;
    return LOCK_OK;
}

/*
 * Unlock explicitly before closing: workers forked while the lock was held
 * share its open file description, and a straggler must not keep the
 * output tree locked after the run has ended.
 */
void
lock_release(struct run_lock *lk)
{
    if (lk->fd < 0)
        return;
    flock(lk->fd, LOCK_UN);
    close(lk->fd);
    lk->fd = -1;
}
