/*
 * util.h - small helpers shared by the master's modules.
 */
#ifndef IMGPOOL_UTIL_H
#define IMGPOOL_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* Monotonic clock in microseconds. */
int64_t util_now_us(void);

/* Allocation that cannot fail: on exhaustion print and exit(2).  Master only
 * (a worker reports failures through its result instead). */
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);

#endif
