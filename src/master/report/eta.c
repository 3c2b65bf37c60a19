/*
 * eta.c - the time a run has left: per-format fits of worker time against
 * input bytes, applied to the files still to do and spread over the
 * workers.  See eta.h for the model.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "eta.h"

/* A line is fitted to sizes that span at least this ratio. */
#define ETA_SPAN 1.5

enum { TO_DO = 1, DONE = 2 };

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

/* The line of every class: its own, or that of all files done. */
static int
fit_all(const struct eta *e, double a[ETA_CLASSES], double b[ETA_CLASSES])
{
    struct eta_fit all;
    double pa, pb;
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
    if (fit_line(&all, &pa, &pb) < 0)
        return -1;
    for (c = 0; c < ETA_CLASSES; c++)
        if (fit_line(&e->fit[c], &a[c], &b[c]) < 0) {
            a[c] = pa;
            b[c] = pb;
        }
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

static int64_t
bytes_of(const struct task *t)
{
    return t->size > 0 ? t->size : 0;
}

int
eta_plan(struct eta *e, const struct task *tasks, size_t ntasks,
         const uint32_t *order, size_t n, unsigned workers, int64_t now)
{
    size_t i;
    unsigned c;

    eta_release(e);
    if (workers == 0)
        workers = 1;
    e->state = calloc(ntasks ? ntasks : 1, 1);
    e->flight = calloc(workers, sizeof(*e->flight));
    if (!e->state || !e->flight) {
        eta_release(e);
        return -1;
    }
    e->tasks = tasks;
    e->ntasks = ntasks;
    e->order = order;
    e->norder = n;
    e->workers = workers;
    for (i = 0; i < n; i++) {
        if (order[i] >= ntasks || e->state[order[i]])
            continue;
        e->state[order[i]] = TO_DO;
        c = eta_class(tasks[order[i]].path);
        e->left_n[c] += 1;
        e->left_s[c] += (double)bytes_of(&tasks[order[i]]);
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
    e->left_n[c] -= 1;
    e->left_s[c] -= s;
    if (usec >= 0) {
        f = &e->fit[c];
        if (f->n == 0 || s < f->lo)
            f->lo = s;
        if (s > f->hi)
            f->hi = s;
        f->n += 1;
        f->s += s;
        f->t += (double)usec;
        f->ss += s * s;
        f->st += s * (double)usec;
        e->samples++;
    }
    for (k = 0; k < e->nflight; k++)
        if (e->flight[k].task == i) {
            e->flight[k] = e->flight[--e->nflight];
            break;
        }
    refill(e, now);
}

double
eta_left(const struct eta *e, int64_t now)
{
    double a[ETA_CLASSES], b[ETA_CLASSES], queue = 0, flying = 0,
           longest = 0, p, r, total;
    const struct task *t;
    unsigned c, k;

    if (e->samples == 0 || fit_all(e, a, b) < 0)
        return -1;
    for (c = 0; c < ETA_CLASSES; c++) {
        queue += a[c] * e->left_n[c] + b[c] * e->left_s[c];
    }
    for (k = 0; k < e->nflight; k++) {
        t = &e->tasks[e->flight[k].task];
        c = eta_class(t->path);
        p = a[c] + b[c] * (double)bytes_of(t);
        queue -= p;
        r = p - (double)(now - e->flight[k].start_us);
        if (r < 0)
            r = 0;
        flying += r;
        if (r > longest)
            longest = r;
    }
    if (queue < 0)
        queue = 0;
    total = (flying + queue) / e->workers;
    return (total > longest ? total : longest) / 1e6;
}
