/*
 * report_pipe.c - writing the report into a pipe, FIFO or socket without
 * getting stuck behind a reader that stopped reading: each chunk waits
 * for room with poll(), and a termination signal that arrives while the
 * pipe is full ends the wait (the handlers restart write(2), so a plain
 * blocking write would never return).  See report.h.
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <unistd.h>

#include "report.h"
#include "sig.h"

/* How often a wait for room looks at the signals, in milliseconds. */
#define WAIT_SLICE_MS 200

int
report_pipe_write(int fd, const char *buf, size_t len)
{
    struct pollfd p;
    ssize_t w;
    size_t chunk;
    int rc;

    while (len > 0) {
        p.fd = fd;
        p.events = POLLOUT;
        p.revents = 0;
        rc = poll(&p, 1, WAIT_SLICE_MS);
        if (rc < 0 && errno != EINTR)
            return -1;
        if (rc <= 0) {
            if (sig_pending()) {
                errno = EINTR;
                return -1;
            }
            continue;
        }
        /* POLLOUT promises PIPE_BUF bytes of room: no more, so the
         * write never blocks. */
        chunk = len < PIPE_BUF ? len : PIPE_BUF;
        w = write(fd, buf, chunk);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return -1;
        buf += w;
        len -= (size_t)w;
    }
    return 0;
}
