/*
 * input_read.c - every read of the open input and the errors it met
 * (input.h: input_pread(), input_read_check()), kept apart from the open
 * stage so that the readers (guard.c, tail.c, the decoders) depend on
 * this file only.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "input.h"

/* The open input's read errors (input.h): one input at a time per worker
 * process. */
static struct {
    int fd;             /* the input's descriptor; -1 when none */
    int64_t size;       /* its size from fstat */
    int err;            /* errno of the first failed read; 0 */
    int64_t at;         /* where the first failure (or short read) was */
    int short_read;     /* the data ended before size */
} rd_state = { -1, 0, 0, 0, 0 };

ssize_t
input_pread(int fd, void *buf, size_t n, int64_t off)
{
    ssize_t got;

    do {
        got = pread(fd, buf, n, (off_t)off);
    } while (got < 0 && errno == EINTR);
    if (fd != rd_state.fd || rd_state.err || rd_state.short_read)
        return got;
    if (got < 0) {
        rd_state.err = errno ? errno : EIO;
        rd_state.at = off;
    } else if (got == 0 && n > 0 && off < rd_state.size) {
        rd_state.short_read = 1;
        rd_state.at = off;
    }
    return got;
}

int
input_pread_full(int fd, void *buf, size_t n, int64_t off)
{
    size_t got = 0;

    while (got < n) {
        ssize_t r = input_pread(fd, (char *)buf + got, n - got,
                                off + (int64_t)got);
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
input_jpeg_segment(int fd, off_t *off, int *marker, size_t *seglen)
{
    unsigned char h[4];

    if (input_pread_full(fd, h, 4, *off) < 0 || h[0] != 0xFF)
        return -1;
    if (h[1] == 0xFF) {                 /* a fill byte */
        (*off)++;
        return 0;
    }
    if (h[1] == 0xDA || h[1] == 0xD9 || h[1] == 0x01 ||
        (h[1] >= 0xD0 && h[1] <= 0xD7))
        return -1;                      /* image data, end, no length */
    *seglen = (size_t)h[2] << 8 | h[3];
    if (*seglen < 2)
        return -1;
    *marker = h[1];
    return 1;
}

int
input_read_check(struct task_result *res)
{
    if (rd_state.err)
        task_result_fail(res, ERR_READ, "read error at byte %lld: %s",
                         (long long)rd_state.at, strerror(rd_state.err));
    else if (rd_state.short_read)
        task_result_fail(res, ERR_READ, "short read: the data ended at "
                         "byte %lld of %lld", (long long)rd_state.at,
                         (long long)rd_state.size);
    else
        return 0;
    return -1;
}

void
input_read_reset(void)
{
    memset(&rd_state, 0, sizeof(rd_state));
    rd_state.fd = -1;
}

void
input_read_watch(int fd, int64_t size)
{
    rd_state.fd = fd;
    rd_state.size = size;
}

void
input_read_unwatch(int fd)
{
    if (fd == rd_state.fd)
        rd_state.fd = -1;   /* what it met stays, for input_read_check() */
}
