/*
 * plan.c - give every task its output path.
 *
 * The planner runs once in the master, between scan and pool.  It mirrors
 * each input's directory below its INPUT root under --output, names the file
 * from the --name template, and settles before any worker starts the
 * outcomes that need no pixels: a name that cannot be built, an output that
 * would replace its own input, and two inputs that would write the same
 * output.  Such tasks are marked failed here, so the pool never runs them
 * and the reporter turns them into ordinary "failed" records.
 *
 * Collisions are found with hash sets (hashset.h) of the outputs' paths
 * below the output root and of the directories they need, so a list of a
 * million files plans in a fraction of a second.  Whether an output is its
 * own input is decided by directory identity (plan_own.c): stat(2) of the
 * output's and the input's directory (once per distinct directory), and
 * only when both are the same directory a look at the entry itself.  That
 * catches the same file reached through a symlinked or differently spelled
 * directory without one lstat(2) per file in the common case where
 * --output is elsewhere.
 *
 * Last, every output is checked against the set of all input files by
 * device and inode (plan_inputs_safe()): an output that would replace
 * another input, at whatever depth -o and the INPUTs overlap, fails
 * ERR_OUTPUT_IS_INPUT.
 *
 * Names never move: names recorded in the state database (plan_keep.h)
 * are claimed by their inputs before anything else is named, and a name
 * recorded for another existing input is reserved (plan_keep(), claim()).
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "dirwalk.h"
#include "hashset.h"
#include "names.h"
#include "plan.h"
#include "plan_own.h"
#include "plan_int.h"
#include "util.h"

/* Reasons stored in task.pre_msg; static, as struct task requires. */
static const char MSG_OVERWRITE[] = "output would overwrite the input";
static const char MSG_CONFLICT[] =
    "output name collides with another input's output";
static const char MSG_DIR_CONFLICT[] =
    "output name is a directory other outputs need";
static const char MSG_OVERWRITE_OTHER[] =
    "output would overwrite another input";
static const char MSG_RECORDED[] =
    "output name belongs to another input (state database)";

/* Names are made in plan_name.c (plan_int.h); these keep the planner's
 * own spelling. */
static const char *
default_template(enum out_format fmt)
{
    return plan_default_template(fmt);
}

static const char *
fallback_template(enum out_format fmt)
{
    return plan_fallback_template(fmt);
}

static char *
build_out_path(const char *outdir, size_t outlen, const char *rel,
               const char *tmpl, enum out_format fmt,
               const struct plan_opts *po, const char **why)
{
    return plan_build_out_path(outdir, outlen, rel, tmpl, fmt, po->outs,
                               po->nsizes, 0, why);
}

/* A byte string that is not NUL-terminated: a hash set key. */
struct span {
    const char *p;
    size_t len;
};

/*
 * A directory some output needs: the first @len bytes of task @task's
 * out_rel.  An output file may not take a path another output needs as a
 * directory ("x.png" -> "x.jpg" beside a directory "x.jpg/").
 */
struct dir_need {
    uint32_t task;
    uint32_t len;
};

/* Everything one plan_outputs() call works with. */
struct planner {
    const struct plan_opts *o;
    struct task *tasks;
    size_t ntasks;
    const char *tmpl;
    size_t outlen;          /* output_dir without trailing '/'s */
    struct hashset outs;    /* out_rel -> task index */
    struct hashset dirs;    /* needed directory -> index into needs */
    struct dir_need *needs;
    size_t nneeds, needs_alloc;
    struct dir_map stats;   /* directory identities, for is_own_input() */
    char **prefix;          /* per root with a directory of its own:
                               "output_dir/name"; NULL entries otherwise */
    size_t nprefix;
};

static int
out_eq(uint32_t value, const void *key, void *ctx)
{
    const struct planner *pl = ctx;

    return strcmp(pl->tasks[value].out_rel, key) == 0;
}

static int
need_eq(uint32_t value, const void *key, void *ctx)
{
    const struct planner *pl = ctx;
    const struct dir_need *d = &pl->needs[value];
    const struct span *k = key;

    return d->len == k->len &&
           memcmp(pl->tasks[d->task].out_rel, k->p, k->len) == 0;
}

/*
 * Claim task @i's out_rel, whose hash is @h, in the set of outputs.
 * Returns SIZE_MAX when it was free, else the index of the task that holds
 * it already; sets *nomem when memory ran out (and returns SIZE_MAX).
 */
static size_t
out_claim(struct planner *pl, size_t i, uint64_t h, int *nomem)
{
    uint32_t old;
    int rc = hashset_insert(&pl->outs, h, (uint32_t)i, pl->tasks[i].out_rel,
                            out_eq, pl, &old);

    if (rc < 0)
        *nomem = 1;
    return rc == HASHSET_PRESENT ? old : SIZE_MAX;
}

/* Record directory @len bytes of task @i's out_rel as needed.  -1 when out
 * of memory. */
static int
need_add(struct planner *pl, size_t i, size_t len)
{
    struct span key = { pl->tasks[i].out_rel, len };
    int rc;

    if (pl->nneeds == pl->needs_alloc) {
        size_t alloc = pl->needs_alloc ? 2 * pl->needs_alloc : 64;
        struct dir_need *v = xrealloc(pl->needs, alloc * sizeof(*v));
        pl->needs = v;
        pl->needs_alloc = alloc;
    }
    /* Filled in before the insert, kept only when it was added. */
    pl->needs[pl->nneeds].task = (uint32_t)i;
    pl->needs[pl->nneeds].len = (uint32_t)len;
    rc = hashset_insert(&pl->dirs, hashset_hash(key.p, len),
                        (uint32_t)pl->nneeds, &key, need_eq, pl, NULL);
    if (rc < 0)
        return -1;
    if (rc == HASHSET_ADDED)
        pl->nneeds++;
    return 0;
}

/* Record the directories task @i's output needs, unless they are those of
 * the task before (*prev, *prevlen: consecutive tasks mostly share their
 * directory).  -1 when out of memory. */
static int
need_task(struct planner *pl, size_t i, const char **prev, size_t *prevlen)
{
    const char *p = pl->tasks[i].out_rel, *slash;
    size_t len, k;

    if (pl->tasks[i].pre_status != TASK_OK)
        return 0;
    slash = strrchr(p, '/');
    len = slash ? (size_t)(slash - p) : 0;
    if (len == 0 || (*prev && *prevlen == len && memcmp(*prev, p, len) == 0))
        return 0;
    *prev = p;
    *prevlen = len;
    for (k = 1; k <= len; k++)
        if ((k == len || p[k] == '/') && need_add(pl, i, k) < 0)
            return -1;
    return 0;
}

/* Add every directory below the output root that the planned outputs
 * need.  -1 when out of memory. */
static int
need_all(struct planner *pl)
{
    const char *prev = NULL;
    size_t prevlen = 0, i;

    for (i = 0; i < pl->ntasks; i++)
        if (need_task(pl, i, &prev, &prevlen) < 0)
            return -1;
    return 0;
}

#define CLAIMED (SIZE_MAX - 1)
#define RESERVED (SIZE_MAX - 2)

/*
 * Claim task @i's output: CLAIMED when it was free (or is @i's already),
 * SIZE_MAX when another output needs it as a directory, RESERVED when the
 * state database records it for another input that still exists, else the
 * index of the task holding it.
 */
static size_t
claim(struct planner *pl, size_t i, int *nomem)
{
    const char *rel = pl->tasks[i].out_rel;
    struct span key = { rel, strlen(rel) };
    uint64_t h = hashset_hash(rel, key.len);
    size_t other;

    uint32_t owner;

    if (pl->nneeds &&
        hashset_find(&pl->dirs, h, &key, need_eq, pl) != HASHSET_NONE)
        return SIZE_MAX;
    owner = plan_recorded_owner(pl->o->recorded, rel);
    if (owner != PLAN_OWNER_NONE && owner != (uint32_t)i &&
        (owner == PLAN_OWNER_OTHER || owner >= pl->ntasks ||
         strcmp(pl->tasks[owner].out_rel ? pl->tasks[owner].out_rel : "",
                rel) != 0))
        return RESERVED;
    other = out_claim(pl, i, h, nomem);
    return other == SIZE_MAX || other == i ? CLAIMED : other;
}

static void
plan_fail(struct task *t, enum err_class c, const char *why)
{
    t->pre_status = TASK_FAILED;
    t->pre_class = c;
    t->pre_msg = why;
}

/* In place: each output is its own input; no names to decide. */
static int
plan_in_place(struct scan_list *l)
{
    size_t i;

    for (i = 0; i < l->n; i++) {
        struct task *t = &l->tasks[i];
        if (t->pre_status != TASK_OK)
            continue;
        free(t->out_path);
        t->out_rel = NULL;
        t->out_path = xstrdup(t->path);
    }
    return 0;
}

/*
 * Give task @t the output path from template @tmpl: out_path, and out_rel
 * pointing into it.  0, or -1 with *why set when no path could be built
 * (the task is unchanged), or -1 with *why NULL when out of memory.
 */
static int
set_out_path(struct planner *pl, struct task *t, const char *tmpl,
             const char **why)
{
    const char *rel = t->rel, *dir = pl->o->output_dir;
    size_t dirlen = pl->outlen;
    char *out;

    if (!rel) {
        rel = strrchr(t->path, '/');
        rel = rel ? rel + 1 : t->path;
    }
    if (t->root_index >= 0 && (size_t)t->root_index < pl->nprefix &&
        pl->prefix[t->root_index]) {
        dir = pl->prefix[t->root_index];
        dirlen = strlen(dir);
    }
    out = build_out_path(dir, dirlen, rel, tmpl, pl->o->format, pl->o,
                         why);
    if (!out)
        return -1;
    free(t->out_path);
    t->out_path = out;
    t->out_rel = out + pl->outlen + 1;
    return 0;
}

/*
 * Pass 1 for task @i: build its path.  An output that is its own input is
 * refused and claims its name first, so that no other input's output may
 * take it, whichever comes first in task order ("b.jpeg" -> "b.jpg" must
 * not replace the input "b.jpg").  0, or -1 when out of memory.
 */
static int
plan_path_one(struct planner *pl, size_t i)
{
    static const char state_dir[] = IMGPOOL_STATE_DIR "/";
    struct task *t = &pl->tasks[i];
    const char *why;
    int nomem = 0;

    if (t->pre_status != TASK_OK)
        return 0;
    free(t->out_path);
    t->out_path = NULL;
    t->out_rel = NULL;
    if (set_out_path(pl, t, pl->tmpl, &why) < 0) {
        if (!why)
            return -1;
        plan_fail(t, ERR_OUTPUT_PATH, why);
        return 0;
    }
    if (strncmp(t->out_rel, state_dir, sizeof(state_dir) - 1) == 0) {
        /* An input directory named ".imgpool" must not write into the
         * state directory (its database, its lock). */
        plan_fail(t, ERR_OUTPUT_PATH,
                  "output would land in imgpool's own .imgpool directory");
        return 0;
    }
    if (is_own_input(t, &pl->stats)) {
        plan_fail(t, ERR_OUTPUT_PATH, MSG_OVERWRITE);
        out_claim(pl, i, hashset_hash(t->out_rel, strlen(t->out_rel)),
                  &nomem);
    }
    return nomem ? -1 : 0;
}

/* Pass 1: every path.  0, or -1 when out of memory. */
static int
plan_paths(struct planner *pl)
{
    size_t i;

    for (i = 0; i < pl->ntasks; i++)
        if (plan_path_one(pl, i) < 0)
            return -1;
    return 0;
}

/*
 * Pass 2: names never move.  A task whose template name, or with the
 * default template whose fallback name, is recorded as its own claims it
 * before any other task.  A claim that fails (the name is now a directory
 * other outputs need) leaves the task to pass 3 with its template name.
 * 0, or -1 when out of memory.
 */
static int
plan_keep(struct planner *pl)
{
    const char *why;
    size_t i;
    int nomem = 0;

    for (i = 0; i < pl->ntasks && !nomem && pl->o->recorded; i++) {
        struct task *t = &pl->tasks[i];

        if (t->pre_status != TASK_OK || !t->out_rel)
            continue;
        if (plan_recorded_owner(pl->o->recorded, t->out_rel) == (uint32_t)i) {
            claim(pl, i, &nomem);
            continue;
        }
        if (pl->o->name_template)
            continue;
        if (set_out_path(pl, t, fallback_template(pl->o->format), &why) < 0) {
            if (!why)
                return -1;
            continue;
        }
        if (plan_recorded_owner(pl->o->recorded, t->out_rel) == (uint32_t)i &&
            claim(pl, i, &nomem) == CLAIMED)
            continue;
        if (set_out_path(pl, t, pl->tmpl, &why) < 0)
            return -1;    /* it was built before: only memory can fail */
    }
    return nomem ? -1 : 0;
}

/*
 * Pass 3 for task @i: the first task in order keeps a contested name.
 * With the default template the later one falls back to "{name}.jpg"
 * ("IMG_1.CR2" -> "IMG_1.CR2.jpg" beside "IMG_1.jpg"), so a folder with a
 * JPEG and a PNG or raw file of the same stem loses nothing.  A name the
 * user chose with --name is never changed behind their back.  0, or -1
 * when out of memory.
 */
static int
plan_claim_one(struct planner *pl, size_t i)
{
    struct task *t = &pl->tasks[i];
    const char *why;
    size_t other;
    int nomem = 0;

    if (t->pre_status != TASK_OK)
        return 0;
    other = claim(pl, i, &nomem);
    if (other == CLAIMED)
        return nomem ? -1 : 0;
    if (!pl->o->name_template &&
        (other == SIZE_MAX || other == RESERVED ||
         pl->tasks[other].pre_status == TASK_OK)) {
        if (set_out_path(pl, t, fallback_template(pl->o->format),
                         &why) == 0) {
            other = claim(pl, i, &nomem);
            if (other == CLAIMED)
                return nomem ? -1 : 0;
        } else if (!why) {
            return -1;
        }
    }
    if (other == SIZE_MAX)
        plan_fail(t, ERR_OUTPUT_CONFLICT, MSG_DIR_CONFLICT);
    else if (other == RESERVED)
        plan_fail(t, ERR_OUTPUT_CONFLICT, MSG_RECORDED);
    else if (pl->tasks[other].pre_status == TASK_OK)
        plan_fail(t, ERR_OUTPUT_CONFLICT, MSG_CONFLICT);
    else
        plan_fail(t, ERR_OUTPUT_CONFLICT, MSG_OVERWRITE_OTHER);
    return nomem ? -1 : 0;
}

/* Pass 3: every claim, in list order.  0, or -1 when out of memory. */
static int
plan_claims(struct planner *pl)
{
    size_t i;

    for (i = 0; i < pl->ntasks; i++)
        if (plan_claim_one(pl, i) < 0)
            return -1;
    return 0;
}

/* Pass 5: no output replaces any input file, however spelled
 * (plan_own_check()).  0, or -1 when out of memory. */
static int
plan_inputs_safe(struct planner *pl)
{
    return plan_own_check(pl->o->output_dir, pl->outlen, pl->tasks,
                          pl->ntasks, &pl->stats);
}

/* "output_dir/name" for each root with a directory of its own.  0, or -1
 * when out of memory. */
static int
plan_prefixes(struct planner *pl)
{
    size_t i, n;

    if (!pl->o->root_dirs || pl->o->nroot_dirs == 0)
        return 0;
    pl->prefix = xcalloc(pl->o->nroot_dirs, sizeof(*pl->prefix));
    pl->nprefix = pl->o->nroot_dirs;
    for (i = 0; i < pl->nprefix; i++) {
        const char *name = pl->o->root_dirs[i];

        if (!name)
            continue;
        n = pl->outlen + 1 + strlen(name) + 1;
        pl->prefix[i] = xmalloc(n);
        memcpy(pl->prefix[i], pl->o->output_dir, pl->outlen);
        snprintf(pl->prefix[i] + pl->outlen, n - pl->outlen, "/%s", name);
    }
    return 0;
}

/* Set up @pl for @o and @l.  0, or -1 with errno. */
static int
planner_init(struct planner *pl, const struct plan_opts *o,
             struct scan_list *l)
{
    memset(pl, 0, sizeof(*pl));
    hashset_init(&pl->outs);
    hashset_init(&pl->dirs);
    dir_map_init(&pl->stats);
    if (!o->output_dir || !*o->output_dir) {
        errno = EINVAL;
        return -1;
    }
    /* Task indices travel as uint32_t (struct task_result.id). */
    if (l->n >= UINT32_MAX) {
        errno = ENOMEM;
        return -1;
    }
    pl->o = o;
    pl->tasks = l->tasks;
    pl->ntasks = l->n;
    pl->tmpl = o->name_template ? o->name_template
                                : default_template(o->format);
    pl->outlen = dirwalk_prefix_len(o->output_dir);
    if (plan_prefixes(pl) < 0) {
        errno = ENOMEM;
        return -1;
    }
    return 0;
}

static void
planner_release(struct planner *pl)
{
    size_t i;

    for (i = 0; i < pl->nprefix; i++)
        free(pl->prefix[i]);
    free(pl->prefix);
    hashset_release(&pl->outs);
    hashset_release(&pl->dirs);
    free(pl->needs);
    dir_map_release(&pl->stats);
}

int
plan_outputs(const struct plan_opts *o, struct scan_list *l)
{
    struct planner pl;
    size_t i, nplan = 0;
    int rc = -1;

    if (o->in_place)
        return plan_in_place(l);
    if (planner_init(&pl, o, l) < 0) {
        int err = errno;
        planner_release(&pl);
        errno = err;
        return -1;
    }
    for (i = 0; i < l->n; i++)
        if (l->tasks[i].pre_status == TASK_OK)
            nplan++;
    if (hashset_reserve(&pl.outs, nplan) == 0 && plan_paths(&pl) == 0 &&
        need_all(&pl) == 0 && plan_keep(&pl) == 0 && plan_claims(&pl) == 0 &&
        plan_more_outputs(o, l) == 0 && plan_inputs_safe(&pl) == 0)
        rc = 0;
    else
        errno = ENOMEM;
    planner_release(&pl);
    return rc;
}

/* ------------------------------------------------------------------------
 * Planning while the scan goes on (plan.h, struct plan_stream)
 */

struct plan_stream {
    struct planner pl;
    struct scan_list *l;
    char *prev;                  /* the directory the last need was for */
    size_t prevlen, prevcap;
    size_t cand_for;             /* task whose fallback is in cand */
    char *cand;                  /* its fallback out_path, NULL: none */
};

/* Point the planner at the list as it is now (it may have moved). */
static void
stream_sync(struct plan_stream *ps)
{
    ps->pl.tasks = ps->l->tasks;
    ps->pl.ntasks = ps->l->n;
}

struct plan_stream *
plan_stream_begin(const struct plan_opts *o, struct scan_list *l)
{
    struct plan_stream *ps = xcalloc(1, sizeof(*ps));

    if (o->in_place || o->recorded || (o->root_dirs && o->nroot_dirs) ||
        planner_init(&ps->pl, o, l) < 0) {
        planner_release(&ps->pl);
        free(ps);
        errno = EINVAL;
        return NULL;
    }
    ps->l = l;
    ps->cand_for = SIZE_MAX;
    return ps;
}

int
plan_stream_add(struct plan_stream *ps, size_t i)
{
    const char *p, *slash;
    size_t len, k;

    stream_sync(ps);
    if (plan_path_one(&ps->pl, i) < 0)
        return -1;
    if (ps->l->tasks[i].pre_status != TASK_OK)
        return 0;
    /* need_task(), with the last directory kept in a copy: an earlier
     * task's out_path may be rebuilt (fallback) before the next call. */
    p = ps->l->tasks[i].out_rel;
    slash = strrchr(p, '/');
    len = slash ? (size_t)(slash - p) : 0;
    if (len == 0 || (ps->prev && ps->prevlen == len &&
                     memcmp(ps->prev, p, len) == 0))
        return 0;
    if (len > ps->prevcap) {
        ps->prevcap = len * 2;
        ps->prev = xrealloc(ps->prev, ps->prevcap);
    }
    memcpy(ps->prev, p, len);
    ps->prevlen = len;
    for (k = 1; k <= len; k++)
        if ((k == len || p[k] == '/') && need_add(&ps->pl, i, k) < 0)
            return -1;
    return 0;
}

/*
 * Where path @a comes in the walk's order (component by component, each
 * compared with strcmp(), a directory before what is inside it) against
 * the subtree of @x: < 0 before it, 0 inside it (or @x itself), > 0 after
 * all of it.
 */
static int
walk_cmp(const char *a, const char *x)
{
    for (;;) {
        size_t la = strcspn(a, "/"), lx = strcspn(x, "/");
        int r = memcmp(a, x, la < lx ? la : lx);

        if (r == 0)
            r = (la > lx) - (la < lx);
        if (r != 0)
            return r;
        if (x[lx] == '\0')
            return 0;
        if (a[la] == '\0')
            return -1;
        a += la + 1;
        x += lx + 1;
    }
}

int
plan_stream_ready(struct plan_stream *ps, size_t i, const char *last_rel)
{
    struct task *t = &ps->l->tasks[i];
    const char *why;

    if (t->pre_status != TASK_OK || !last_rel)
        return 1;
    /* The names task i may take are those of output files; another
     * output needs one of them as a directory only when an input
     * directory of that name holds a task, and the walk lists such a
     * directory's whole subtree where its name sorts. */
    if (walk_cmp(last_rel, t->out_rel) <= 0)
        return 0;
    if (ps->pl.o->name_template)
        return 1;
    if (ps->cand_for != i) {
        free(ps->cand);
        ps->cand = plan_build_out_path(ps->pl.o->output_dir, ps->pl.outlen,
                                       t->rel, fallback_template(
                                           ps->pl.o->format), ps->pl.o->format,
                                       ps->pl.o->outs, ps->pl.o->nsizes, 0,
                                       &why);
        ps->cand_for = i;
    }
    return !ps->cand ||
           walk_cmp(last_rel, ps->cand + ps->pl.outlen + 1) > 0;
}

int
plan_stream_settle(struct plan_stream *ps, size_t i)
{
    stream_sync(ps);
    return plan_claim_one(&ps->pl, i);
}

void
plan_stream_end(struct plan_stream *ps)
{
    if (!ps)
        return;
    planner_release(&ps->pl);
    free(ps->prev);
    free(ps->cand);
    free(ps);
}
