/*
 * plan_order.c - after planning: which tasks are this shard's (--shard
 * K/N, by a stable hash of the name each task is known by) and the order
 * the pool takes them in (largest input first).
 */
#include <stdint.h>
#include <stdlib.h>

#include "plan.h"
#include "scan.h"

void
plan_shard(const struct plan_opts *o, struct scan_list *l, int k, int n)
{
    size_t i, kept = 0;

    (void)o;    /* the tasks carry all it needs (out_rel) */
    for (i = 0; i < l->n; i++) {
        struct task *t = &l->tasks[i];
        const char *key = t->out_rel ? t->out_rel
                                     : t->rel ? t->rel : t->path;

        if (scan_shard_of(key, n) == k) {
            l->tasks[kept++] = *t;
            continue;
        }
        free(t->path);
        free(t->out_path);
        l->other_shards++;
    }
    l->n = kept;
}

/* Largest input first, so no giant file starts last; ties by scan order. */
static int
by_size_desc(const void *a, const void *b, void *ctx)
{
    const struct task *tasks = ctx;
    uint32_t ia = *(const uint32_t *)a, ib = *(const uint32_t *)b;

    if (tasks[ia].size != tasks[ib].size)
        return tasks[ia].size < tasks[ib].size ? 1 : -1;
    return ia < ib ? -1 : ia > ib;
}

size_t
plan_order(const struct scan_list *l, uint32_t *order)
{
    size_t i, n = 0;

    for (i = 0; i < l->n; i++)
        if (l->tasks[i].pre_status == TASK_OK)
            order[n++] = (uint32_t)i;
    qsort_r(order, n, sizeof(*order), by_size_desc, l->tasks);
    return n;
}
