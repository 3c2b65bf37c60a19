/*
 * run_stream.h - scan, plan and state one batch at a time, so the pool
 * can start on the first planned files while the walk goes on (lazy
 * dispatch; docs/ARCHITECTURE.md says when a run takes this path).
 *
 * Call sequence (master, run.c):
 *   run_stream_init(&s, &opts);          // opts.pool: pool_start()ed
 *   ...the scan appends tasks to opts.list; after each entry:
 *       run_stream_entry(&s);            // now and then: plan, pool_step()
 *   run_stream_step(&s, NULL);           // the scan is complete
 *   ...pool_finish(pool, &stats);        // get_next_task: run_stream_next
 *   run_stream_release(&s);
 *
 * Each task the scan appends is checked for being a duplicate and given
 * its path at once (plan_stream_add()); its name is settled in list order
 * once the walk is past every name it could take (plan_stream_ready()),
 * then the state database says whether it is up to date, stale
 * temporaries are swept from its output directory, and it is either
 * settled (opts.settled(), for its record) or queued for the pool.
 *
 * The queue is a binary heap of task indices, largest input first, ties
 * in list order: the order plan_order() gives, over the tasks known so
 * far.  When the walk ends before the first worker asks, the whole list
 * is in the queue and the dispatch order is exactly plan_order()'s.
 *
 * Errors: run_stream_step() returns 0, or -1 when out of memory (after
 * errorf()); allocation failures elsewhere end the program (xmalloc).
 */
#ifndef IMGPOOL_RUN_STREAM_H
#define IMGPOOL_RUN_STREAM_H

#include <stddef.h>
#include <stdint.h>
#include "cli.h"
#include "plan.h"
#include "plan.h"
#include "pool.h"
#include "report.h"
#include "scan.h"
#include "state.h"

struct run_stream_opts {
    struct scan_list *list;          /* the scan's list, growing */
    struct plan_stream *plan;        /* plan_stream_begin() on it */
    struct state *state;             /* NULL: no up-to-date check */
    const struct state_roots *roots;
    uint64_t fingerprint;
    const char *output_dir;          /* stale temporaries are swept here */
    struct pool *pool;               /* stepped between batches */
    struct report *rep;              /* its total and work, kept current */
    unsigned step_every;             /* > 0: a step after every that many
                                        entries (tests); 0: the first after
                                        1024 entries or 0.5 s, then after
                                        64 or 2 ms */
    /* A task settled without a worker (pre_status not TASK_OK), in list
     * order. */
    void (*settled)(void *data, size_t i);
    void *data;
};

struct run_stream {
    struct run_stream_opts o;
    struct plan_dups dups;
    size_t added;      /* tasks given their path (plan_stream_add()) */
    size_t settled;    /* tasks whose name is settled */
    uint32_t *heap;    /* queued task indices */
    size_t nheap, heap_alloc;
    size_t queued;     /* tasks ever queued */
    int scanning;      /* the walk goes on: more tasks may come */
    int failed;        /* out of memory: nothing more is queued */
    unsigned entries;  /* walk entries since the last step */
    int64_t start_us, last_step_us;
    char *swept;       /* the output directory swept last */
    size_t swept_len;
};

void run_stream_init(struct run_stream *s, const struct run_stream_opts *o);

/* Take in what the scan appended since the last step; the walk's last
 * listed task has the relative path @last_rel, NULL once it is complete
 * (then every task is settled or queued).  0, or -1 after errorf(). */
int run_stream_step(struct run_stream *s, const char *last_rel);

/* After each entry of the walk: now and then a step with the walk's last
 * listed task, then pool_step(opts.pool, 0). */
void run_stream_entry(struct run_stream *s);

/* The largest queued task for get_next_task(): POOL_NEXT_TASK with *id
 * set, POOL_NEXT_WAIT while the walk goes on, POOL_NEXT_END after. */
enum pool_next run_stream_next(struct run_stream *s, uint32_t *id);

/* Tasks whose name is not settled yet. */
static inline size_t
run_stream_pending(const struct run_stream *s)
{
    return s->o.list->n - s->settled;
}

void run_stream_release(struct run_stream *s);

/*
 * Whether the run parsed into @o can take the lazy path at all: an output
 * tree (-o; not in place, not --freedesktop), not a dry run, no --shard,
 * no --files-from, no --follow-symlinks, one size, and exactly one INPUT,
 * a directory, that neither lies inside the output directory nor holds
 * it (checked by device and inode up both trees).  The caller still
 * checks that the state database records no names (state_has_names()).
 */
int run_stream_eligible(const struct cli_opts *o);

/*
 * run_stream_eligible(), and a state database that records no output
 * names yet (so no recorded name can claim a name ahead of list order):
 * 1 with the database opened into *@st (state_open()), 0 when the run
 * must plan the whole list first (*@st NULL), -1 after errorf() when the
 * database cannot be opened.
 */
int run_stream_choose(const struct cli_opts *o, struct state **st);

#endif
