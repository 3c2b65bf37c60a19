/*
 * eta.h - the time a run has left, from what the finished files cost.
 *
 * The pool takes its tasks largest first, so the files done early say
 * little about the rest by bytes alone (a small file still costs its fixed
 * part: a fork's worth of set-up, an AVIF or a thumbnail encode) and by
 * file count alone (a 16 MB photo is not a 100 KB icon).  Per input
 * format (by file name: .jpg, .png, .webp, .avif/.heic, .tif, .gif, the
 * rest) a file's worker time is k * bytes^p.  The slope p is fitted by
 * least squares on the logarithms of all files done of that format, each
 * file's weight halving after 16 later ones (in largest-first order the
 * recent files are the nearest in size to those left: a JPEG shrunk on
 * load costs far less than its bytes say), drawn towards 0.25 (towards
 * 0 for PNG, whose cost is its pixels, which its bytes do not tell) and
 * kept in 0..1.2 (a format whose smaller files took longer gets the
 * mean).  The level k makes the last 64 files
 * add up, each weighing half after 32 later ones: the ratio of observed
 * to predicted on recent files.  Before three files of a format, or
 * while its last dozen lie within 2% of the line a + b * bytes fitted to
 * the same weights (a and b >= 0), the line predicts instead: a cost with
 * a fixed part and a part per byte, exactly.  A file larger than all done of its
 * format takes at least the time per byte of the largest.  A format not
 * seen yet borrows the law of all files.  The time left is the end of a
 * schedule over the workers: each file in flight (the first ones in the
 * pool's order not done, each started when the completion that freed its
 * worker came in) keeps its predicted time less what it has run, or a
 * quarter of what it has run when it is past its prediction, and what
 * such files have overrun raises their format's level as if shared with
 * 4 more files of it; the files not started are spread evenly, the last
 * 8 per worker handed out one by one to the first free worker.
 *
 * Tuned on tests/data/eta/ library-corpus-jpeg, mix-jpeg, wallpapers-jpeg,
 * wallpapers-avif and the generated corpora of tests/test_eta.c; held
 * out: library-small-node-avif, both wallpapers-webp-webp,
 * wallpapers-avif-quiet and the -loaded traces (the structure was chosen
 * after looking at why they missed; the overrun rule changes only them,
 * so it is checked on them, not held out from them).  Measured (test_eta,
 * from 20% to 90% of a run's time, 1, 2 and 4 workers, 0.5 s floor):
 * every trace recorded on a quiet machine by today's encoders within 30%
 * (library to AVIF, 2,012 files, 22%; wallpapers to AVIF 23-29%; the
 * wallpapers to WebP 13%).  The same WebP run recorded by a build that
 * encoded alpha at libwebp method 6 (-method6) misses, 48-69%: PNGs of
 * one size took 40 ms or 2 s (the slow ones the smaller files), which
 * bytes cannot tell.  Of the -loaded ones, the wallpapers to AVIF within
 * 27%, the others 38-82%.
 * docs/REPORT.md has the table.
 *
 *   struct eta e;
 *   eta_init(&e);
 *   eta_plan(&e, tasks, ntasks, order, n, workers, now); // the pool's work
 *   eta_done(&e, &tasks[i], usec, now);            // each finished task
 *   eta_left(&e, now);                             // seconds, -1 unknown
 *   eta_release(&e);
 *
 * Times are microseconds on one clock chosen by the caller (the tests use
 * a simulated one).  Pure bookkeeping: no I/O; eta_plan() allocates.
 */
#ifndef IMGPOOL_ETA_H
#define IMGPOOL_ETA_H

#include <stddef.h>
#include <stdint.h>

#include "task.h"

#define ETA_CLASSES 7

/* The files done of one class (or of all): x = ln bytes, y = ln usec,
 * sums weighted by recency (see eta.c HALF_LIFE). */
struct eta_fit {
    double n;                 /* files */
    double w, x, y, xx, xy;   /* weighted sums of 1, x, y, x^2, x*y */
    double s, t, ss, st;      /* and of bytes, usec, bytes^2, bytes*usec */
    double lo, hi;            /* the smallest and largest size */
    double hi_t;              /* the time of the largest */
};

/* The last files done of one format (or of all): sizes and times. */
#define ETA_RING 64
struct eta_ring {
    double bytes[ETA_RING], usec[ETA_RING];
    unsigned n, head;
};

/* Files not done, by class and by a quarter-octave of size. */
#define ETA_BUCKETS 160

struct eta_flight {
    uint32_t task;            /* index into the task array */
    int64_t start_us;
};

struct eta {
    const struct task *tasks;
    size_t ntasks;            /* the task array's length (indices below) */
    const uint32_t *order;
    size_t norder, next;      /* next: order[next] is the next to start */
    unsigned char *state;     /* per task: 0 not planned, 1 to do, 2 done */
    unsigned workers;
    struct eta_flight *flight;
    unsigned nflight;
    double *slot;             /* per worker: scratch of eta_left() */
    struct eta_fit fit[ETA_CLASSES + 1];  /* done; [ETA_CLASSES]: any */
    struct eta_ring seen[ETA_CLASSES + 1];  /* last done; [ETA_CLASSES]: any */
    double left_n[ETA_CLASSES][ETA_BUCKETS];  /* files not done */
    double left_s[ETA_CLASSES][ETA_BUCKETS];  /* and their bytes */
    size_t left_files, samples;
};

void eta_init(struct eta *e);
/*
 * The @n tasks of @tasks (an array of @ntasks) at the indices in @order,
 * processed in that order by @workers workers (0 counts as 1) from @now.
 * Replaces an earlier plan.  Returns 0 (running out of memory ends the
 * program, see xmalloc()).
 */
int eta_plan(struct eta *e, const struct task *tasks, size_t ntasks,
             const uint32_t *order, size_t n, unsigned workers, int64_t now);
/* Task @t (a pointer into the planned array) finished at @now after
 * @usec of worker time (negative: not measured).  Tasks not in the plan
 * are ignored. */
void eta_done(struct eta *e, const struct task *t, int64_t usec,
              int64_t now);
/* Seconds left at @now, or -1 before anything is known. */
double eta_left(const struct eta *e, int64_t now);
/* The model's class of a path (by its extension); exposed for tests. */
unsigned eta_class(const char *path);
void eta_release(struct eta *e);

#endif
