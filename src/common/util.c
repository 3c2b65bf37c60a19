/*
 * util.c - clock, checked allocation, and opening the files a user names
 * for imgpool to write.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "msg.h"
#include "util.h"

int64_t
util_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void
out_of_memory(size_t n)
{
    errorf("out of memory allocating %zu bytes", n);
    exit(2);
}

void *
xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        out_of_memory(n);
    return p;
}

void *
xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p)
        out_of_memory(n * size);
    return p;
}

void *
xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q)
        out_of_memory(n);
    return q;
}

char *
xstrdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = xmalloc(n);
    memcpy(p, s, n);
    return p;
}

char *
xstrndup(const char *s, size_t n)
{
    size_t len = strnlen(s, n);
    char *p = xmalloc(len + 1);
    memcpy(p, s, len);
    p[len] = '\0';
    return p;
}

char *
xasprintf(const char *fmt, ...)
{
    va_list ap;
    char *p;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
        /* A bad format, or a result over INT_MAX bytes: never recoverable
         * at the call site either, so it ends the run like xmalloc(). */
        errorf("cannot format '%s': %s", fmt, strerror(errno));
        exit(2);
    }
    p = xmalloc((size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return p;
}

int
util_pread_full(int fd, void *buf, size_t n, int64_t off)
{
    size_t got = 0;

    while (got < n) {
        ssize_t r = pread(fd, (char *)buf + got, n - got,
                          (off_t)(off + (int64_t)got));
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            if (r == 0)
                errno = EIO;
            return -1;
        }
        got += (size_t)r;
    }
    return 0;
}

int
util_open_user_file(const char *path, int flags, mode_t mode,
                    const char **why)
{
    struct stat sb;
    int fd, fl, err;

    *why = NULL;
    fd = open(path, O_WRONLY | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY |
                        O_CLOEXEC | flags, mode);
    if (fd < 0) {
        err = errno;
        /* ELOOP for the final link itself, ENXIO for a FIFO without a
         * reader: say what is at the path rather than the errno. */
        if ((err == ELOOP || err == ENXIO || err == EISDIR) &&
            lstat(path, &sb) == 0) {
            *why = S_ISLNK(sb.st_mode)
                       ? "it is a symbolic link, which imgpool never follows"
                       : "it is not a regular file";
            err = err == ENXIO ? EINVAL : err;
        }
        errno = err;
        return -1;
    }
    if (fstat(fd, &sb) < 0)
        goto fail;
    if (S_ISREG(sb.st_mode) && sb.st_nlink > 1) {
        /* Another name may be outside the tree: refused like the lock. */
        *why = "it has other hard links";
        errno = EMLINK;
        goto refuse;
    }
    if (!S_ISREG(sb.st_mode) &&
        !(S_ISCHR(sb.st_mode) && strncmp(path, "/dev/", 5) == 0)) {
        *why = "it is not a regular file";
        errno = EINVAL;
        goto refuse;
    }
    fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0)
        goto fail;
    return fd;
fail:
    *why = NULL;
refuse:
    err = errno;
    close(fd);
    errno = err;
    return -1;
}

int
util_user_fd(const char *path)
{
    static const char *const dirs[] = { "/dev/fd/", "/proc/self/fd/" };
    const char *p;
    long n = 0;
    size_t i;

    if (strcmp(path, "/dev/stdout") == 0)
        return STDOUT_FILENO;
    if (strcmp(path, "/dev/stderr") == 0)
        return STDERR_FILENO;
    for (i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
        if (strncmp(path, dirs[i], strlen(dirs[i])) != 0)
            continue;
        p = path + strlen(dirs[i]);
        if (*p < '0' || *p > '9')
            return -1;
        for (; *p >= '0' && *p <= '9' && n < 1000000; p++)
            n = n * 10 + (*p - '0');
        return *p == '\0' && n < 1000000 ? (int)n : -1;
    }
    return -1;
}
