/*
 * report_progress.c - the live progress line on stderr.
 *
 * On a terminal the line is redrawn in place ('\r', erase to the end of the
 * line), at most ten times a second and cut one column short of the
 * terminal's width; anywhere else (a log file) it is an ordinary message,
 * at most one a second.  See report_int.h.
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

/* "[done/total] NN% R files/s ETA mm:ss, N failed" into @buf. */
static void
progress_format(const struct report *r, int64_t now, char *buf, size_t size)
{
    double secs = (double)(now - r->start_us) / 1e6;
    double rate = secs > 0 ? (double)r->done / secs : 0;
    size_t total = r->total > r->done ? r->total : r->done;
    unsigned pct = total ? (unsigned)(r->done * 100 / total) : 100;
    char eta[32] = "--:--";
    long left;
    int n;

    if (rate > 0) {
        left = lround((double)(total - r->done) / rate);
        snprintf(eta, sizeof(eta), "%02ld:%02ld", left / 60, left % 60);
    }
    n = snprintf(buf, size, "[%zu/%zu] %u%% %.1f files/s ETA %s", r->done,
                 total, pct, rate, eta);
    if (n > 0 && (size_t)n < size && r->count[TASK_FAILED] > 0)
        snprintf(buf + n, size - (size_t)n, ", %zu failed",
                 r->count[TASK_FAILED]);
}

void
report_progress_draw(struct report *r, int64_t now)
{
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
    fprintf(stderr, "\r%s\033[K", line);
    fflush(stderr);
    r->progress_drawn = 1;
}

void
report_progress_tick(struct report *r)
{
    int64_t now = util_now_us();
    int64_t every = r->progress_tty ? TTY_REDRAW_US : PLAIN_REDRAW_US;

    if (now - r->last_draw_us >= every)
        report_progress_draw(r, now);
}

void
report_progress_clear(struct report *r)
{
    if (!r->progress_drawn)
        return;
    fputs("\r\033[K", stderr);
    fflush(stderr);
    r->progress_drawn = 0;
}
