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
#include "msg.h"
#include "names.h"
#include "state_dir.h"
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
 * path the user named (symbolic links followed, ".." allowed), except an
 * output tree's state directory (IMGPOOL_STATE_DIR) as its last component:
 * that one is never followed (errorf() with what to do).  When the last
 * component is missing it is created (one level, mode 0755, with
 * dirwalk_open()); a missing parent stays ENOENT.  Sets *@in_state when
 * the directory is a state directory.  Returns a descriptor, AT_FDCWD for
 * an empty @dir, or -1 with errno.
 */
static int
open_lock_dir(const char *dir, size_t len, int *in_state)
{
    const int dflags = O_RDONLY | O_DIRECTORY | O_CLOEXEC;
    char *copy, *last;
    int fd = -1, pfd, err;

    *in_state = 0;
    if (len == 0)
        return AT_FDCWD;
    copy = xstrndup(dir, len);
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
    *in_state = strcmp(last, IMGPOOL_STATE_DIR) == 0;
    fd = dirwalk_open(pfd, last, strlen(last),
                      DIRWALK_CREATE | (*in_state ? 0 : DIRWALK_FOLLOW),
                      0755);
    if (fd < 0 && *in_state && (errno == ELOOP || errno == ENOTDIR))
        errorf("state directory '%.*s' is %s; remove it (or replace it with "
               "a directory) and run again", (int)len, dir,
               errno == ELOOP ? "a symbolic link, which imgpool never follows"
                              : "not a directory");
    close_keep_errno(pfd);
out:
    err = errno;
    free(copy);
    errno = err;
    return fd;
}

/* openat() the lock file, regular files only, never followed: -1 with
 * ELOOP for a link, EINVAL for another type, or openat()'s errno. */
static int
open_regular(int dfd, const char *name, int flags)
{
    struct stat sb;
    int fd = openat(dfd, name, flags | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK |
                                   O_NOCTTY, 0644);

    if (fd < 0)
        return errno == EISDIR ? (errno = EINVAL, -1) : -1;
    if (fstat(fd, &sb) < 0) {
        close_keep_errno(fd);
        return -1;
    }
    /* O_NONBLOCK above only keeps a planted FIFO from hanging the open.
     * A hard-linked file may have another name outside the tree, and the
     * holder's line truncates it: planted too. */
    if (!S_ISREG(sb.st_mode) || sb.st_nlink > 1) {
        close(fd);
        errno = EINVAL;
        return -1;
    }
    return fd;
}

/*
 * Open (creating) the lock file @path.  A link or a file of another type in
 * its place is moved aside when it lies in a state directory (no run can
 * hold a lock on it: each refuses it), else refused with errorf(); a
 * regular file this user cannot write is locked read-only (flock needs no
 * write access; the holder is then not recorded).  -1 with errno.
 */
static int
open_lock_file(const char *path)
{
    const char *slash = strrchr(path, '/');
    const char *name = slash ? slash + 1 : path;
    size_t dlen = slash ? (size_t)(slash - path) + (slash == path) : 0;
    int dfd, fd, in_state, err;

    /* "/lock" lives in "/": keep its one slash as the directory. */
    dfd = open_lock_dir(path, dlen, &in_state);
    if (dfd == -1)
        return -1;
    fd = open_regular(dfd, name, O_RDWR | O_CREAT);
    if (fd < 0 && (errno == ELOOP || errno == EINVAL) && in_state) {
        char *shown = xstrndup(path, dlen);
        const char *why = errno == ELOOP ? "a symbolic link"
                                         : "not a regular file or hard-linked";

        if (state_dir_move_unusable(dfd, shown, name, why) == 0)
            fd = open_regular(dfd, name, O_RDWR | O_CREAT);
        else
            errno = EPERM;
        free(shown);
    } else if (fd < 0 && (errno == ELOOP || errno == EINVAL)) {
        err = errno;
        errorf("lock file '%s' is %s, which imgpool never uses; remove it "
               "and run again", path,
               err == ELOOP ? "a symbolic link"
                            : "not a regular file or hard-linked");
        errno = err;
    } else if (fd < 0 && (errno == EACCES || errno == EPERM ||
                          errno == EROFS)) {
        err = errno;
        fd = open_regular(dfd, name, O_RDONLY);
        if (fd >= 0)
            warnf("lock file '%s' is not writable (%s); locking it "
                  "read-only, without recording the holder", path,
                  strerror(err));
        else
            errno = err;
    }
    close_keep_errno(dfd);
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
