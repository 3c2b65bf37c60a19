/*
 * run_stream.c - the master's producer for lazy dispatch: duplicates,
 * plan and state one batch at a time, and the largest-first queue the
 * pool pulls from.  See run_stream.h.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "msg.h"
#include "names.h"
#include "run_stream.h"
#include "sweep.h"
#include "util.h"

void
run_stream_init(struct run_stream *s, const struct run_stream_opts *o)
{
    memset(s, 0, sizeof(*s));
    s->o = *o;
    s->scanning = 1;
    plan_dups_init(&s->dups);
}

void
run_stream_release(struct run_stream *s)
{
    plan_dups_release(&s->dups);
    free(s->heap);
    free(s->swept);
    memset(s, 0, sizeof(*s));
}

/* ---- the queue: a max-heap by (size, then earlier index) ---- */

/* True when task @a goes before task @b (plan_order()'s order). */
static int
before(const struct task *tasks, uint32_t a, uint32_t b)
{
    if (tasks[a].size != tasks[b].size)
        return tasks[a].size > tasks[b].size;
    return a < b;
}

static void
heap_push(struct run_stream *s, uint32_t id)
{
    const struct task *tasks = s->o.list->tasks;
    size_t k;

    if (s->nheap == s->heap_alloc) {
        s->heap_alloc = s->heap_alloc ? 2 * s->heap_alloc : 1024;
        s->heap = xrealloc(s->heap, s->heap_alloc * sizeof(*s->heap));
    }
    k = s->nheap++;
    while (k > 0 && before(tasks, id, s->heap[(k - 1) / 2])) {
        s->heap[k] = s->heap[(k - 1) / 2];
        k = (k - 1) / 2;
    }
    s->heap[k] = id;
}

enum pool_next
run_stream_next(struct run_stream *s, uint32_t *id)
{
    const struct task *tasks = s->o.list->tasks;
    uint32_t last;
    size_t k = 0, c;

    if (s->nheap == 0)
        return s->scanning && !s->failed ? POOL_NEXT_WAIT : POOL_NEXT_END;
    *id = s->heap[0];
    last = s->heap[--s->nheap];
    for (;;) {
        c = 2 * k + 1;
        if (c >= s->nheap)
            break;
        if (c + 1 < s->nheap && before(tasks, s->heap[c + 1], s->heap[c]))
            c++;
        if (!before(tasks, s->heap[c], last))
            break;
        s->heap[k] = s->heap[c];
        k = c;
    }
    if (s->nheap > 0)
        s->heap[k] = last;
    return POOL_NEXT_TASK;
}

/* ---- the producer ---- */

/* The length of the directory part of task @t's output key (as
 * sweep_stale_temps() forms it), and the key. */
static size_t
out_dir_of(const struct task *t, const char **key)
{
    const char *slash;

    *key = t->out_rel ? t->out_rel : t->path;
    slash = strrchr(*key, '/');
    return slash ? (size_t)(slash - *key) : 0;
}

/* Sweep the output directories of tasks [@from, @to), each once over the
 * whole run: the walk lists a directory's files together, so only the
 * directory the last batch ended in can come again. */
static void
stream_sweep(struct run_stream *s, size_t from, size_t to)
{
    struct task *tasks = s->o.list->tasks;
    struct scan_list view;
    const char *key;
    size_t len, i;

    for (; from < to; from++) {
        if (tasks[from].pre_status != TASK_OK || !tasks[from].out_path)
            continue;
        len = out_dir_of(&tasks[from], &key);
        if (!s->swept || len != s->swept_len ||
            memcmp(s->swept, key, len) != 0)
            break;
    }
    if (from == to)
        return;
    memset(&view, 0, sizeof(view));
    view.tasks = tasks + from;
    view.n = to - from;
    sweep_stale_temps(s->o.output_dir, NULL, &view); /* no --backup */
    for (i = to; i-- > from;) {
        if (tasks[i].pre_status != TASK_OK || !tasks[i].out_path)
            continue;
        len = out_dir_of(&tasks[i], &key);
        s->swept = xrealloc(s->swept, len + 1);
        memcpy(s->swept, key, len);
        s->swept_len = len;
        break;
    }
}

/* Tasks [@from, @to) have their names: up to date?  Stale temporaries
 * out of their directories, then each settled or queued. */
static void
stream_finish_batch(struct run_stream *s, size_t from, size_t to)
{
    size_t i;

    if (from == to)
        return;
    if (s->o.state)
        state_skip_up_to_date(s->o.state, s->o.roots, s->o.list->tasks + from,
                              to - from, s->o.fingerprint);
    stream_sweep(s, from, to);
    for (i = from; i < to; i++) {
        if (s->o.list->tasks[i].pre_status != TASK_OK) {
            s->o.settled(s->o.data, i);
            continue;
        }
        heap_push(s, (uint32_t)i);
        /* What report_plan_work() counts, one task at a time. */
        s->queued++;
        s->o.rep->work_files++;
        if (s->o.list->tasks[i].size > 0)
            s->o.rep->work_bytes += s->o.list->tasks[i].size;
    }
}

int
run_stream_step(struct run_stream *s, const char *last_rel)
{
    struct scan_list *l = s->o.list;
    size_t from = s->settled;

    if (s->failed)
        return -1;
    for (; s->added < l->n; s->added++) {
        /* A file with several links is a duplicate only when its path
         * comes again (plan_mark_duplicates()), which one walk of one
         * root never does: only single-link files (reached twice through
         * a bind mount) need the set. */
        if (l->tasks[s->added].nlink <= 1)
            plan_dups_check(&s->dups, l, s->added, 0);
        if (plan_stream_add(s->o.plan, s->added) < 0)
            goto oom;
    }
    while (s->settled < l->n &&
           plan_stream_ready(s->o.plan, s->settled, last_rel)) {
        if (plan_stream_settle(s->o.plan, s->settled) < 0)
            goto oom;
        s->settled++;
    }
    stream_finish_batch(s, from, s->settled);
    s->o.rep->total = l->n;
    return 0;
oom:
    errorf("cannot plan outputs: out of memory");
    /* What is queued still runs; the run ends as a setup error. */
    s->failed = 1;
    s->nheap = 0;
    return -1;
}

/* Dispatch starts once the walk has looked at this many entries, or has
 * gone on for this long: a smaller, quicker tree is queued whole and runs
 * in plan_order()'s order, however loaded the machine. */
#define FIRST_STEP_ENTRIES 1024
#define FIRST_STEP_US 500000
/* Then a step after 64 entries, or after 2 ms if sooner (a slow walk, a
 * network file system: workers do not wait for 64 entries). */
#define STEP_ENTRIES 64
#define STEP_US 2000

void
run_stream_entry(struct run_stream *s)
{
    const struct scan_list *l = s->o.list;
    int64_t now;

    s->entries++;
    if (s->o.step_every) {
        if (s->entries < s->o.step_every)
            return;
    } else {
        unsigned want = s->last_step_us ? STEP_ENTRIES : FIRST_STEP_ENTRIES;
        int64_t wait = s->last_step_us ? STEP_US : FIRST_STEP_US;

        now = util_now_us();
        if (!s->start_us)
            s->start_us = now;
        if (s->entries < want &&
            now - (s->last_step_us ? s->last_step_us : s->start_us) < wait)
            return;
    }
    s->entries = 0;
    s->last_step_us = util_now_us();
    run_stream_step(s, l->n ? l->tasks[l->n - 1].rel : "");
    pool_step(s->o.pool, 0);
}

/* ---- when the lazy path is safe ---- */

/* True when the directory (@dev, @ino) is @dir or one of its ancestors
 * (or when that cannot be told). */
static int
is_at_or_above(const char *dir, dev_t dev, ino_t ino)
{
    struct stat st, up;
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), next, depth;
    int found = 1;

    if (fd < 0)
        return 1;
    for (depth = 0; depth < 4096; depth++) {
        if (fstat(fd, &st) < 0)
            break;
        if (st.st_dev == dev && st.st_ino == ino)
            break;
        next = openat(fd, "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (next < 0 || fstat(next, &up) < 0) {
            if (next >= 0)
                close(next);
            break;
        }
        close(fd);
        fd = next;
        if (up.st_dev == st.st_dev && up.st_ino == st.st_ino) {
            found = 0;    /* the root ("/.." is "/"), and not met */
            break;
        }
    }
    close(fd);
    return found;
}

/* Whether directory @path holds nothing but imgpool's state directory: no
 * file there can be a hard link to an input, so no output of this run can
 * replace one (plan_own.c checks that only over the whole list). */
static int
holds_only_state(const char *path)
{
    DIR *d = opendir(path);
    struct dirent *e;
    int only = 1;

    if (!d)
        return 0;
    while (only && (e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0 &&
            strcmp(e->d_name, IMGPOOL_STATE_DIR) != 0)
            only = 0;
    closedir(d);
    return only;
}

int
run_stream_eligible(const struct cli_opts *o)
{
    struct stat in, out;

    if (o->config.commit.in_place || o->freedesktop || !o->output_dir ||
        o->config.commit.dry_run || o->shard_n || o->files_from ||
        o->follow_symlinks || o->config.nsizes > 1 || o->ninputs != 1)
        return 0;
    if (stat(o->inputs[0], &in) < 0 || !S_ISDIR(in.st_mode) ||
        stat(o->output_dir, &out) < 0 || !S_ISDIR(out.st_mode))
        return 0;
    /* Outputs that could be inputs (or inputs written into the output
     * tree, or files there linked to inputs) need the whole list before
     * anything runs (plan_own.c). */
    return !is_at_or_above(o->output_dir, in.st_dev, in.st_ino) &&
           !is_at_or_above(o->inputs[0], out.st_dev, out.st_ino) &&
           holds_only_state(o->output_dir);
}

int
run_stream_choose(const struct cli_opts *o, struct state **st)
{
    *st = NULL;
    if (!run_stream_eligible(o))
        return 0;
    if (state_open(st, o->output_dir, o->shard_k, o->shard_n) < 0)
        return -1;
    if (state_has_names(*st)) {
        state_close(*st);    /* the eager path opens it again */
        *st = NULL;
        return 0;
    }
    return 1;
}
