/*
 * eta.c - the time a run has left: per-format models of worker time
 * against input bytes (a straight line when the files done lie on one,
 * otherwise blended with a power law over the last files done), applied to the files
 * still to do and scheduled over the workers.  See eta.h for the model.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "eta.h"
#include "util.h"

/* A line is fitted to sizes that span at least this ratio. */
#define ETA_SPAN 1.5
/* The line is kept while it predicts every recent file this closely. */
#define LINE_TOLERANCE 0.02
/* The power law's exponent is drawn towards PRIOR_P with the weight of
 * PRIOR_W squared natural logarithms of size spread (a dozen files
 * spanning a factor of 1.6), and kept in [0, P_MAX]: a narrow span of
 * sizes says little of the slope. */
#define PRIOR_P 0.25
#define PRIOR_W 3.0
#define P_MAX 1.5
/* A file in flight past its predicted time is given this fraction of
 * the time it has run so far. */
/* A file in flight past its predicted time is given this fraction of
 * the time it has run so far: a file that overruns the model is likely
 * to overrun it further, and the ETA does not read 0 while it runs. */
#define OVERDUE 0.25
/* The last files of the order scheduled one by one, per worker. */
#define TAIL 8

enum { TO_DO = 1, DONE = 2 };

/* How a class's time grows with bytes: the line a + b * bytes, and
 * when @power the geometric mean of it and k * e^(p * (ln bytes - m)). */
struct eta_law {
    int power;
    double a, b, k, p, m;
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

/* usec = a + b * bytes from @f; -1 when @f holds no file. */
static int
fit_line(const struct eta_fit *f, double *a, double *b)
{
    double ms, mt, var, cov;

    if (f->n <= 0)
        return -1;
    ms = f->s / f->n;
    mt = f->t / f->n;
    var = f->ss / f->n - ms * ms;
    cov = f->st / f->n - ms * mt;
    if (f->n >= 3 && f->hi >= ETA_SPAN * f->lo && var > 0) {
        *b = cov > 0 ? cov / var : 0;
        *a = mt - *b * ms;
        if (*a < 0) {           /* through the origin instead */
            *a = 0;
            *b = f->st / f->ss;
        }
        return 0;
    }
    /* Too narrow a range to tell the fixed part from the per-byte one:
     * the sign of the trend picks one. */
    if (ms <= 0 || (f->n >= 2 && cov <= 0)) {
        *a = mt;
        *b = 0;
    } else {
        *a = 0;
        *b = mt / ms;
    }
    return 0;
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

/* usec = k * bytes^p by least squares on the logarithms of the files in
 * @r, the exponent drawn towards PRIOR_P; k so the times add up. */
static void
ring_power(const struct eta_ring *r, struct eta_law *l)
{
    double m = 0, my = 0, sxx = 0, sxy = 0, fit = 0, sum = 0, x;
    unsigned i;

    for (i = 0; i < r->n; i++) {
        m += ln_bytes(r->bytes[i]);
        my += log(r->usec[i] > 1 ? r->usec[i] : 1);
    }
    m /= r->n;
    my /= r->n;
    for (i = 0; i < r->n; i++) {
        x = ln_bytes(r->bytes[i]) - m;
        sxx += x * x;
        sxy += x * (log(r->usec[i] > 1 ? r->usec[i] : 1) - my);
    }
    l->p = (sxy + PRIOR_W * PRIOR_P) / (sxx + PRIOR_W);
    if (l->p < 0)
        l->p = 0;
    if (l->p > P_MAX)
        l->p = P_MAX;
    for (i = 0; i < r->n; i++) {
        fit += exp(l->p * (ln_bytes(r->bytes[i]) - m));
        sum += r->usec[i];
    }
    l->k = sum / fit;
    l->m = m;
    l->power = 1;
}

/* 1 when the line a + b * bytes gives every file of @r within
 * LINE_TOLERANCE. */
static int
on_line(const struct eta_ring *r, double a, double b)
{
    unsigned i;
    double p;

    for (i = 0; i < r->n; i++) {
        p = a + b * r->bytes[i];
        if (fabs(p - r->usec[i]) > LINE_TOLERANCE * r->usec[i])
            return 0;
    }
    return 1;
}

/* The law of the files of @f (all done) and @r (the last ones); -1 when
 * there are none.  Few files or files on a line: the line.  Otherwise
 * the line (steady over many files, but straight) is blended with the
 * power law of the last files (which follows the curve of time against
 * size near the sizes still to do, but from a dozen noisy files). */
static int
law_of(const struct eta_fit *f, const struct eta_ring *r, struct eta_law *l)
{
    if (fit_line(f, &l->a, &l->b) < 0)
        return -1;
    l->power = 0;
    if (r->n >= 3 && !on_line(r, l->a, l->b))
        ring_power(r, l);
    return 0;
}

static double
predict(const struct eta_law *l, double bytes)
{
    double line = l->a + l->b * bytes;

    if (l->power)
        return sqrt(line * l->k * exp(l->p * (ln_bytes(bytes) - l->m)));
    return line;
}

/* The law of every class: its own, or that of all files done. */
static int
laws(const struct eta *e, struct eta_law law[ETA_CLASSES])
{
    struct eta_fit all;
    struct eta_law any;
    unsigned c;

    memset(&all, 0, sizeof(all));
    all.lo = -1;
    for (c = 0; c < ETA_CLASSES; c++) {
        if (e->fit[c].n <= 0)
            continue;
        if (all.lo < 0 || e->fit[c].lo < all.lo)
            all.lo = e->fit[c].lo;
        if (e->fit[c].hi > all.hi)
            all.hi = e->fit[c].hi;
        all.n += e->fit[c].n;
        all.s += e->fit[c].s;
        all.t += e->fit[c].t;
        all.ss += e->fit[c].ss;
        all.st += e->fit[c].st;
    }
    if (law_of(&all, &e->seen[ETA_CLASSES], &any) < 0)
        return -1;
    for (c = 0; c < ETA_CLASSES; c++)
        if (law_of(&e->fit[c], &e->seen[c], &law[c]) < 0)
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
    struct eta_fit *f;
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
        f = &e->fit[c];
        if (f->n == 0 || s < f->lo)
            f->lo = s;
        if (s >= f->hi) {
            f->hi = s;
            f->hi_t = (double)usec;
        }
        f->n += 1;
        f->s += s;
        f->t += (double)usec;
        f->ss += s * s;
        f->st += s * (double)usec;
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
