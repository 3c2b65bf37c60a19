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

#include "lock.h"

#define RETRY_NS 100000000L     /* 100 ms between attempts while waiting */

static double
now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Create the directory that holds @path (one level: the output tree's
 * ".imgpool"); 0, or -1 with errno. */
static int
make_parent(const char *path)
{
    const char *slash = strrchr(path, '/');
    char *dir;
    int rc = 0;

    if (!slash || slash == path)
        return 0;
    dir = strndup(path, (size_t)(slash - path));
    if (!dir)
        return -1;
    if (mkdir(dir, 0755) < 0 && errno != EEXIST)
        rc = -1;
    free(dir);
    return rc;
}

static int
open_lock_file(const char *path)
{
    int flags = O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK;
    struct stat sb;
    int fd;

    fd = open(path, flags, 0644);
    if (fd < 0 && errno == ENOENT) {
        if (make_parent(path) < 0)
            return -1;
        fd = open(path, flags, 0644);
    }
    if (fd < 0)
        return -1;
    if (fstat(fd, &sb) < 0) {
        int err = errno;
        close(fd);
        errno = err;
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

enum lock_result
lock_acquire(struct run_lock *lk, const char *path, double wait_s,
             char *holder, size_t size)
{
    double deadline = now_s() + (wait_s > 0 ? wait_s : 0);
    struct timespec pause;
    double left;
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
            int err = errno;
            close(fd);
            errno = err;
            return LOCK_ERROR;
        }
        left = deadline - now_s();
        if (left <= 0) {
            if (holder && size > 0)
                read_holder(fd, holder, size);
            close(fd);
            return LOCK_BUSY;
        }
        pause.tv_sec = 0;
        pause.tv_nsec = left * 1e9 < RETRY_NS ? (long)(left * 1e9)
                                              : RETRY_NS;
        nanosleep(&pause, NULL);
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
