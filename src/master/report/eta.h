/*
 * eta.h - the time a run has left, from what the finished files cost.
 *
 * The pool takes its tasks largest first, so the files done early say
 * little about the rest by bytes alone (a small file still costs its fixed
 * part: a fork's worth of set-up, an AVIF or a thumbnail encode) and by
 * file count alone (a 16 MB photo is not a 100 KB icon).  Per input
 * format (by file name: .jpg, .png, .webp, .avif/.heic, .tif, .gif, the
 * rest) the model fits worker time = a + b * bytes over all files done:
 * least squares (a and b kept >= 0) once three files of that format span
 * sizes 1.5:1 or more; before that a fixed time per file when the larger
 * files did not take longer, otherwise time per byte.  When the last
 * files done (up to ETA_RING) are not within 2% of that line, a file's
 * time is the geometric mean of the line and a power law k * bytes^p
 * fitted to those last files (p drawn towards 0.25, kept in 0..1.5): in
 * largest-first order they are the nearest in size to the files left.  A
 * file larger than all done of its format takes at least the time per
 * byte of the largest.  A format not seen yet borrows the model of all
 * files.  The time left is the end of a schedule over the workers: each
 * file in flight (the first ones in the pool's order not done, each
 * started when the completion that freed its worker came in) keeps its
 * predicted time less what it has run, or a quarter of what it has run
 * when it is past its prediction; the files not started are spread
 * evenly, the last 8 per worker handed out one by one to the first free
 * worker.
 *
 * Measured (tests/test_eta.c, from 20% to 90% of a run's time, 1, 2 and
 * 4 workers): within 10% on 2,000 similar JPEGs; on the recorded traces
 * of the bench corpora within 30% (or half a second) except the loaded
 * machine's wallpapers (38-51%) and the wallpapers to AVIF with one
 * worker (35%); on two later runs on a machine loaded by other builds,
 * kept out of the model's tuning, 50-88% (AVIF) and 56-93% (WebP, where
 * three PNGs took 20-60 times as long as others of their size).
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

struct eta_fit {
    double n, s, t, ss, st;   /* files, sums of bytes, usec, bytes^2, bytes*usec */
    double lo, hi;            /* the smallest and largest size */
    double hi_t;              /* the time of the largest */
};

/* The last files done of one format (or of all): sizes and times. */
#define ETA_RING 12
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
    struct eta_fit fit[ETA_CLASSES];   /* the files done, per class */
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
