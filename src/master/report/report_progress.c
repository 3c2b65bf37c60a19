/*
 * report_progress.c - the live progress line on stderr.
 *
 * On a terminal the line is redrawn in place ('\r', erase to the end of the
 * line), at most ten times a second and cut one column short of the
 * terminal's width; anywhere else (a log file) it is an ordinary message,
 * at most one a second.  See report_int.h.
 *
 * While the line is on a terminal, stderr is a stream of ours
 * (fopencookie(3)) in front of the real one: a message written through it
 * erases the progress line, goes out whole, and the line is redrawn below
 * it.  The progress line itself goes to the real stream, r->term.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "msg.h"
#include "report.h"
#include "report_int.h"
#include "util.h"

#define TTY_REDRAW_US 100000      /* terminal: at most ten redraws a second */
#define PLAIN_REDRAW_US 1000000   /* log file: one line a second */

static size_t
term_columns(void)
{
    struct winsize ws;
    const char *env;
    char *end;
    long v;

    if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
        return ws.ws_col;
    env = getenv("COLUMNS");
    if (env) {
        errno = 0;
        v = strtol(env, &end, 10);
        if (errno == 0 && end != env && *end == '\0' && v > 0 && v < 100000)
            return (size_t)v;
    }
    return 80;
}

double
report_eta(const struct report *r, int64_t now)
{
    double secs = (double)(now - r->start_us) / 1e6;
    size_t total = r->total > r->done ? r->total : r->done;
    double left;

    if (secs <= 0 || r->processed == 0)
        return -1;
    left = eta_left(&r->eta, now);
    if (left >= 0)
        return left;
    return (double)(total - r->done) * secs / (double)r->processed;
}

/* "[done/total] NN% R files/s R MiB/s ETA mm:ss, N failed" into @buf. */
static void
progress_format(const struct report *r, int64_t now, char *buf, size_t size)
{
    double secs = (double)(now - r->start_us) / 1e6;
    double rate = secs > 0 ? (double)r->processed / secs : 0;
    double mib = secs > 0 ? (double)r->processed_bytes / 1048576.0 / secs : 0;
    double eta = report_eta(r, now);
    size_t total = r->total > r->done ? r->total : r->done;
    unsigned pct = total ? (unsigned)(r->done * 100 / total) : 100;
    char left[32] = "--:--";
    long s;
    int n;

    if (eta >= 0) {
        s = lround(eta);
        if (s >= 3600)
            snprintf(left, sizeof(left), "%ld:%02ld:%02ld", s / 3600,
                     s / 60 % 60, s % 60);
        else
            snprintf(left, sizeof(left), "%02ld:%02ld", s / 60, s % 60);
    }
    n = snprintf(buf, size, "[%zu/%zu] %u%% %.1f files/s %.1f MiB/s ETA %s",
                 r->done, total, pct, rate, mib, left);
    if (n > 0 && (size_t)n < size && r->count[TASK_FAILED] > 0)
        snprintf(buf + n, size - (size_t)n, ", %zu failed",
                 r->count[TASK_FAILED]);
}

void
report_progress_draw(struct report *r, int64_t now)
{
    FILE *f = r->term ? r->term : stderr;
    char line[256];
    size_t cols;

    progress_format(r, now, line, sizeof(line));
    r->last_draw_us = now;
    if (!r->progress_tty) {
        errorf("%s", line);
        return;
    }
    /* One column short of the edge: some terminals wrap on the last one. */
    cols = term_columns();
    if (cols > 1 && cols - 1 < strlen(line))
        line[cols - 1] = '\0';
    fprintf(f, "\r%s\033[K", line);
    fflush(f);
    r->progress_drawn = 1;
}

void
report_progress_tick(struct report *r)
{
    int64_t now = r->clock();
    int64_t every = r->progress_tty ? TTY_REDRAW_US : PLAIN_REDRAW_US;

    if (now - r->last_draw_us >= every)
        report_progress_draw(r, now);
}

void
report_progress_clear(struct report *r)
{
    FILE *f = r->term ? r->term : stderr;

    if (!r->progress_drawn)
        return;
    fputs("\r\033[K", f);
    fflush(f);
    r->progress_drawn = 0;
}

/* All @n bytes of @buf to fd 2, through EINTR; 0 or -1. */
static int
write_all(const char *buf, size_t n)
{
    ssize_t w;

    while (n > 0) {
        w = write(STDERR_FILENO, buf, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        buf += w;
        n -= (size_t)w;
    }
    return 0;
}

/* The write function of the stream standing in for stderr. */
static ssize_t
wrap_write(void *cookie, const char *buf, size_t n)
{
    struct report *r = cookie;

    if (getpid() != r->wrap_pid || !r->term)
        return write_all(buf, n) < 0 ? -1 : (ssize_t)n;
    report_progress_clear(r);
    fflush(r->term);
    if (write_all(buf, n) < 0)
        return -1;
    if (n > 0 && buf[n - 1] == '\n')
        report_progress_draw(r, r->clock());
    return (ssize_t)n;
}

void
report_progress_wrap(struct report *r)
{
    cookie_io_functions_t io = {.write = wrap_write};
    FILE *f;

    if (r->wrap)
        return;
    fflush(stderr);
    f = fopencookie(r, "w", io);
    if (!f)
        return;             /* messages may then run into the line */
    /* Line buffered: one message, one call of wrap_write(). */
    if (setvbuf(f, NULL, _IOLBF, 8192) != 0) {
        fclose(f);
        return;
    }
    r->term = stderr;
    r->wrap = f;
    r->wrap_pid = getpid();
    stderr = f;
}

void
report_progress_stop(struct report *r)
{
    FILE *f = r->wrap;

    if (!f)
        return;
    fflush(f);
    if (getpid() == r->wrap_pid && stderr == f)
        stderr = r->term;
    r->wrap = NULL;
    fclose(f);
}
