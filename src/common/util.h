/*
 * util.h - small helpers: the clock, full reads, allocation (master).
 */
#ifndef IMGPOOL_UTIL_H
#define IMGPOOL_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Monotonic clock in microseconds. */
int64_t util_now_us(void);

/* Read exactly @n bytes at @off of @fd (retrying on EINTR and short
 * reads).  0, or -1 with errno (EIO when the file ends first). */
int util_pread_full(int fd, void *buf, size_t n, int64_t off);

/* Allocation that cannot fail: on exhaustion print and exit(2).  Master only
 * (a worker reports failures through its result instead). */
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
/* A copy of at most @n bytes of @s, NUL-terminated. */
char *xstrndup(const char *s, size_t n);
/* The string printf(@fmt, ...) would print, in new memory (caller frees);
 * exits like xmalloc() when it cannot be made. */
char *xasprintf(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

/*
 * Open @path, a file the user named for imgpool to write into (--report,
 * --log), the way the lock is opened: O_NOFOLLOW | O_NONBLOCK, so that
 * neither a symbolic link nor a FIFO planted at the path is followed or
 * waited on, then fstat().  Accepted: a regular file with one link, or a
 * character device named directly below /dev/ ("/dev/null"); O_NONBLOCK
 * is then cleared.  Missing, it is created with @mode (less the umask).
 * @flags adds to O_WRONLY | O_CREAT (O_APPEND); the file is never
 * truncated here.  Returns a descriptor (close-on-exec), or -1 with errno;
 * *why is then a static reason when the path was refused for what it is
 * ("is a symbolic link, which imgpool never follows"), else NULL.
 */
int util_open_user_file(const char *path, int flags, mode_t mode,
                        const char **why);

/*
 * A descriptor the user names as a path: "/dev/stdout", "/dev/stderr",
 * "/dev/fd/N" or "/proc/self/fd/N" (a shell's ">(...)").  Such a stream
 * is already open and the user's own, whatever it is (a pipe, a
 * terminal), so it is used as it is, never opened by name.  Returns the
 * descriptor number, or -1 when @path names none of these.
 */
int util_user_fd(const char *path);

#endif
