/*
 * eta.c - the time a run has left: per-format power laws of worker time
 * against input bytes (a line when the files done lie on one), fitted to
 * the files done with the recent ones weighing more, applied to the
 * files still to do and scheduled over the workers.  See eta.h for the
 * model.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "eta.h"
#include "util.h"

/* The power law's exponent is drawn towards PRIOR_P (PRIOR_P_PNG for
 * PNGs) with the weight of PRIOR_W squared natural logarithms of size
 * spread, and kept in [0, P_MAX]: a narrow span of sizes says little of
 * the slope, and a class whose smaller files took longer is given their
 * mean.  A PNG's cost is its pixels (every one is inflated, filtered
 * and resampled), which its bytes do not tell: photos and flat graphics
 * of one screen size differ 10x in bytes, so its prior slope is 0. */
#define PRIOR_P 0.25
#define PRIOR_P_PNG 0.0
#define PRIOR_W 3.0
#define P_MAX 1.2
/* A line is fitted to sizes that span at least this ratio; it predicts
 * instead of the power law before LINE_FILES files, or while it gives
 * each of the last LINE_RECENT within LINE_TOLERANCE (a cost that is a
 * fixed part and a part per byte, exactly). */
#define ETA_SPAN 1.5
#define LINE_FILES 3
#define LINE_RECENT 12
#define LINE_TOLERANCE 0.02
/* The weight of a file in the fit of the slope halves after HALF_LIFE
 * later files of its class: in largest-first order the recent files are
 * the nearest in size to those left. */
#define HALF_LIFE 16.0
/* The level is set by the last ETA_RING files, the weight of each
 * halving after LEVEL_LIFE later ones. */
#define LEVEL_LIFE 32.0
/* A file in flight past its predicted time is given this fraction of
 * the time it has run so far: a file that overruns the model is likely
 * to overrun it further, and the ETA does not read 0 while it runs. */
#define OVERDUE 0.25
/* What the files in flight have overrun raises their class's level as
 * if spread over them and CENSOR_N more files (see censor()). */
#define CENSOR_N 4.0
/* The last files of the order scheduled one by one, per worker. */
#define TAIL 8

enum { TO_DO = 1, DONE = 2 };

/* How a class's time grows with bytes: k * e^(p * (ln bytes - m)). */
struct eta_law {
    double k, p, m;
    double a, b;              /* the line a + b * bytes */
    int line;                 /* 1: the line predicts, 0: the power law */
};

void
eta_init(struct eta *e)
{
    memset(e, 0, sizeof(*e));
}

void
eta_release(struct eta *e)
{
    free(e->state);
    free(e->flight);
    free(e->slot);
    eta_init(e);
}
unsigned
eta_class(const char *path)
{
    static const char *const ext[ETA_CLASSES - 1][4] = {
        {"jpg", "jpeg", "jpe", "jfif"},
        {"png", NULL, NULL, NULL},
        {"webp", NULL, NULL, NULL},
        {"avif", "heic", "heif", NULL},
        {"tif", "tiff", NULL, NULL},
        {"gif", NULL, NULL, NULL},
    };
    const char *dot = path ? strrchr(path, '.') : NULL;
    unsigned c, k;

    if (!dot || strchr(dot, '/'))
        return ETA_CLASSES - 1;
    for (c = 0; c < ETA_CLASSES - 1; c++)
        for (k = 0; k < 4 && ext[c][k]; k++)
            if (strcasecmp(dot + 1, ext[c][k]) == 0)
                return c;
    return ETA_CLASSES - 1;
}

static double
ln_bytes(double bytes)
{
    return log(bytes > 1 ? bytes : 1);
}

static int64_t
bytes_of(const struct task *t)
{
    return t->size > 0 ? t->size : 0;
}

static unsigned
bucket_of(double bytes)
{
    double b = 4 * log2(bytes > 1 ? bytes : 1);

    return b < ETA_BUCKETS - 1 ? (unsigned)b : ETA_BUCKETS - 1;
}

static void
ring_add(struct eta_ring *r, double bytes, double usec)
{
    r->bytes[r->head] = bytes;
    r->usec[r->head] = usec;
    r->head = (r->head + 1) % ETA_RING;
    if (r->n < ETA_RING)
        r->n++;
}

/* Add a file of @bytes that took @usec to @f (its count, smallest and
 * largest too), the weight of the files before it decayed by one step of
 * HALF_LIFE. */
static void
fit_add(struct eta_fit *f, double bytes, double usec)
{
    double d = exp2(-1.0 / HALF_LIFE), x = ln_bytes(bytes);
    double y = log(usec > 1 ? usec : 1);

    if (f->n == 0 || bytes < f->lo)
        f->lo = bytes;
    if (bytes >= f->hi) {
        f->hi = bytes;
        f->hi_t = usec;
    }
    f->n += 1;
    f->w = f->w * d + 1;
    f->x = f->x * d + x;
    f->y = f->y * d + y;
    f->xx = f->xx * d + x * x;
    f->xy = f->xy * d + x * y;
    f->s = f->s * d + bytes;
    f->t = f->t * d + usec;
    f->ss = f->ss * d + bytes * bytes;
    f->st = f->st * d + bytes * usec;
}

/* The line usec = a + b * bytes by least squares on the weighted sums of
 * @f, a and b kept >= 0; over too narrow a range of sizes to tell the
 * fixed part from the per-byte one, the sign of the trend picks one. */
static void
line_of(const struct eta_fit *f, struct eta_law *l)
{
    double ms = f->s / f->w, mt = f->t / f->w;
    double var = f->ss / f->w - ms * ms, cov = f->st / f->w - ms * mt;

    if (f->n >= 3 && f->hi >= ETA_SPAN * f->lo && var > 0) {
        l->b = cov > 0 ? cov / var : 0;
        l->a = mt - l->b * ms;
        if (l->a < 0) {         /* through the origin instead */
            l->a = 0;
            l->b = f->st / f->ss;
        }
    } else if (ms <= 0 || (f->n >= 2 && cov <= 0)) {
        l->a = mt;
        l->b = 0;
    } else {
        l->a = 0;
        l->b = mt / ms;
    }
}

/* 1 when the line a + b * bytes gives each of the last LINE_RECENT
 * files of @r within LINE_TOLERANCE. */
static int
on_line(const struct eta_ring *r, double a, double b)
{
    unsigned i, j;
    double p;

    for (i = 0; i < r->n && i < LINE_RECENT; i++) {
        j = (r->head + ETA_RING - 1 - i) % ETA_RING;
        p = a + b * r->bytes[j];
        if (fabs(p - r->usec[j]) > LINE_TOLERANCE * r->usec[j])
            return 0;
    }
    return 1;
}

/* The law of the files of @f (all done, recent ones weighing more) and
 * @r (the last ones): the slope in logarithms by weighted least squares,
 * drawn towards PRIOR_P; the level so the last files' times add up (the
 * ratio of what they took to what the slope alone predicts).  -1 when
 * there are none. */
static int
law_of(const struct eta_fit *f, const struct eta_ring *r, double prior,
       struct eta_law *l)
{
    double sxx, sxy, fit = 0, sum = 0, w, d = exp2(-1.0 / LEVEL_LIFE);
    unsigned i, j;

    if (f->w <= 0 || r->n == 0)
        return -1;
    l->m = f->x / f->w;
    sxx = f->xx - f->x * l->m;
    sxy = f->xy - f->x * f->y / f->w;
    l->p = (sxy + PRIOR_W * prior) / (sxx + PRIOR_W);
    if (l->p < 0)
        l->p = 0;
    if (l->p > P_MAX)
        l->p = P_MAX;
    for (i = 0, w = 1; i < r->n; i++, w *= d) {
        j = (r->head + ETA_RING - 1 - i) % ETA_RING;   /* newest first */
        fit += w * exp(l->p * (ln_bytes(r->bytes[j]) - l->m));
        sum += w * r->usec[j];
    }
    l->k = sum / fit;
    line_of(f, l);
    l->line = r->n < LINE_FILES || on_line(r, l->a, l->b);
    return 0;
}

static double
predict(const struct eta_law *l, double bytes)
{
    if (l->line)
        return l->a + l->b * bytes;
    return l->k * exp(l->p * (ln_bytes(bytes) - l->m));
}

static double
prior_of(unsigned c)
{
    return c == eta_class(".png") ? PRIOR_P_PNG : PRIOR_P;
}

/* The law of every class: its own, or that of all files done. */
static int
laws(const struct eta *e, struct eta_law law[ETA_CLASSES])
{
    struct eta_law any;
    unsigned c;

    if (law_of(&e->fit[ETA_CLASSES], &e->seen[ETA_CLASSES], PRIOR_P, &any) < 0)
        return -1;
    for (c = 0; c < ETA_CLASSES; c++)
        if (law_of(&e->fit[c], &e->seen[c], prior_of(c), &law[c]) < 0)
            law[c] = any;
    return 0;
}

/* Start tasks on the free workers, in order, at @now. */
static void
refill(struct eta *e, int64_t now)
{
    uint32_t j;

    while (e->nflight < e->workers && e->next < e->norder) {
        j = e->order[e->next++];
        if (e->state[j] != TO_DO)
            continue;
        e->flight[e->nflight].task = j;
        e->flight[e->nflight].start_us = now;
        e->nflight++;
    }
}

/* Count @t among the files not done (@sign 1) or take it out (-1). */
static void
left_add(struct eta *e, const struct task *t, int sign)
{
    unsigned c = eta_class(t->path), b = bucket_of((double)bytes_of(t));

    e->left_n[c][b] += sign;
    e->left_s[c][b] += sign * (double)bytes_of(t);
    if (sign > 0)
        e->left_files++;
    else
        e->left_files--;
}

int
eta_plan(struct eta *e, const struct task *tasks, size_t ntasks,
         const uint32_t *order, size_t n, unsigned workers, int64_t now)
{
    size_t i;

    eta_release(e);
    if (workers == 0)
        workers = 1;
    e->state = xcalloc(ntasks ? ntasks : 1, 1);
    e->flight = xcalloc(workers, sizeof(*e->flight));
    e->slot = xcalloc(workers, sizeof(*e->slot));
    e->tasks = tasks;
    e->ntasks = ntasks;
    e->order = order;
    e->norder = n;
    e->workers = workers;
    for (i = 0; i < n; i++) {
        if (order[i] >= ntasks || e->state[order[i]])
            continue;
        e->state[order[i]] = TO_DO;
        left_add(e, &tasks[order[i]], 1);
    }
    refill(e, now);
    return 0;
}

void
eta_done(struct eta *e, const struct task *t, int64_t usec, int64_t now)
{
    size_t i;
    unsigned c, k;
    double s;

    if (!e->state || t < e->tasks || t >= e->tasks + e->ntasks)
        return;
    i = (size_t)(t - e->tasks);
    if (e->state[i] != TO_DO)
        return;
    e->state[i] = DONE;
    c = eta_class(t->path);
    s = (double)bytes_of(t);
    left_add(e, t, -1);
    if (usec >= 0) {
        fit_add(&e->fit[c], s, (double)usec);
        fit_add(&e->fit[ETA_CLASSES], s, (double)usec);
        ring_add(&e->seen[c], s, (double)usec);
        ring_add(&e->seen[ETA_CLASSES], s, (double)usec);
        e->samples++;
    }
    for (k = 0; k < e->nflight; k++)
        if (e->flight[k].task == i) {
            e->flight[k] = e->flight[--e->nflight];
            break;
        }
    refill(e, now);
}

/* A file larger than all done of its class takes at least the time per
 * byte of the largest of them. */
static double
task_time(const struct eta *e, const struct eta_law law[ETA_CLASSES],
          uint32_t j)
{
    const struct task *t = &e->tasks[j];
    unsigned c = eta_class(t->path);
    double s = (double)bytes_of(t), p = predict(&law[c], s), q;

    if (e->fit[c].n > 0 && s > e->fit[c].hi && e->fit[c].hi > 0) {
        q = e->fit[c].hi_t * s / e->fit[c].hi;
        if (q > p)
            p = q;
    }
    return p;
}

/* Spread @work over the slots so the least loaded end level. */
static void
fill_level(double *slot, unsigned n, double work)
{
    double level, sum;
    unsigned i, j, k;

    for (i = 1; i < n; i++)         /* ascending */
        for (j = i; j > 0 && slot[j] < slot[j - 1]; j--) {
            level = slot[j];
            slot[j] = slot[j - 1];
            slot[j - 1] = level;
        }
    for (k = n, sum = 0, i = 0; i < n; i++)
        sum += slot[i];
    for (; k > 0; k--) {
        level = (sum + work) / k;
        if (level >= slot[k - 1] || k == 1)
            break;
        sum -= slot[k - 1];
    }
    for (i = 0; i < k; i++)
        if (slot[i] < level)
            slot[i] = level;
}

/* The last files not started, up to TAIL per worker, one by one to the
 * first free worker, after the rest (@bulk) spread evenly. */
static void
schedule(const struct eta *e, const struct eta_law law[ETA_CLASSES],
         double bulk, size_t first_tail)
{
    size_t i;
    unsigned k, w;

    for (i = first_tail; i < e->norder; i++)
        if (e->order[i] < e->ntasks && e->state[e->order[i]] == TO_DO)
            bulk -= task_time(e, law, e->order[i]);
    fill_level(e->slot, e->workers, bulk > 0 ? bulk : 0);
    for (i = first_tail; i < e->norder; i++) {
        if (e->order[i] >= e->ntasks || e->state[e->order[i]] != TO_DO)
            continue;
        for (w = 0, k = 1; k < e->workers; k++)
            if (e->slot[k] < e->slot[w])
                w = k;
        e->slot[w] += task_time(e, law, e->order[i]);
    }
}

/* Where the last TAIL files per worker not started begin in the order. */
static size_t
tail_start(const struct eta *e)
{
    size_t i = e->norder, n = 0;

    while (i > e->next && n < (size_t)TAIL * e->workers) {
        i--;
        if (e->order[i] < e->ntasks && e->state[e->order[i]] == TO_DO)
            n++;
    }
    return i;
}

/* Files in flight past their predicted time say their class costs more
 * than the files done do: its level grows by the time they have overrun,
 * over what they were predicted plus CENSOR_N files of the class (so one
 * slow file among many moves it little, and a class whose every new
 * file overruns follows them). */
static void
censor(const struct eta *e, struct eta_law law[ETA_CLASSES], int64_t now)
{
    double got[ETA_CLASSES] = {0}, want[ETA_CLASSES] = {0}, p, ran;
    unsigned k, c;

    for (k = 0; k < e->nflight; k++) {
        c = eta_class(e->tasks[e->flight[k].task].path);
        p = task_time(e, law, e->flight[k].task);
        ran = (double)(now - e->flight[k].start_us);
        if (ran > p) {
            got[c] += ran - p;
            want[c] += p;
        }
    }
    for (c = 0; c < ETA_CLASSES; c++)
        if (got[c] > 0 && e->seen[c].n > 0)
            law[c].k *= 1 + got[c] / (want[c] + law[c].k * CENSOR_N);
}

double
eta_left(const struct eta *e, int64_t now)
{
    struct eta_law law[ETA_CLASSES];
    double bulk = 0, p, r, ran, end = 0;
    unsigned c, b, k;

    if (e->samples == 0 || laws(e, law) < 0)
        return -1;
    for (c = 0; c < ETA_CLASSES; c++)
        for (b = 0; b < ETA_BUCKETS; b++)
            if (e->left_n[c][b] > 0.5)
                bulk += e->left_n[c][b] *
                        predict(&law[c], e->left_s[c][b] / e->left_n[c][b]);
    censor(e, law, now);
    memset(e->slot, 0, e->workers * sizeof(*e->slot));
    for (k = 0; k < e->nflight; k++) {
        p = task_time(e, law, e->flight[k].task);
        bulk -= p;
        ran = (double)(now - e->flight[k].start_us);
        r = p - ran;
        if (r < OVERDUE * ran)
            r = OVERDUE * ran;
        e->slot[k] = r;
    }
    schedule(e, law, bulk, tail_start(e));
    for (k = 0; k < e->workers; k++)
        if (e->slot[k] > end)
            end = e->slot[k];
    return end / 1e6;
}
