/*
 * util.h - small helpers: the clock, full reads, allocation (master).
 */
#ifndef IMGPOOL_UTIL_H
#define IMGPOOL_UTIL_H

#include <stddef.h>
#include <stdint.h>

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

#endif
