/*
 * run_inputs.c - named files, empty INPUTs and recorded names.  See
 * run_inputs.h.
 */
#include <fnmatch.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "hashset.h"
#include "msg.h"
#include "names.h"
#include "run_inputs.h"
#include "util.h"

static int
matches_any(const char *const *pats, size_t n, const char *s)
{
    size_t i;

    for (i = 0; i < n; i++)
        if (fnmatch(pats[i], s, 0) == 0)
            return 1;
    return 0;
}

/* Append a task for the regular file @path, root @root. */
static void
add_named(struct scan_list *l, const char *path, int root,
          const struct stat *st)
{
    const char *base = strrchr(path, '/');
    struct task *t;

    if (l->n == l->alloc) {
        l->alloc = l->alloc ? 2 * l->alloc : 16;
        l->tasks = xrealloc(l->tasks, l->alloc * sizeof(*l->tasks));
    }
    t = &l->tasks[l->n++];
    memset(t, 0, sizeof(*t));
    t->path = xstrdup(path);
    base = strrchr(t->path, '/');
    t->rel = base ? base + 1 : t->path;
    t->size = (int64_t)st->st_size;
    t->mtime_ns = (int64_t)st->st_mtim.tv_sec * 1000000000 +
                  st->st_mtim.tv_nsec;
    t->dev = (uint64_t)st->st_dev;
    t->ino = (uint64_t)st->st_ino;
    t->nlink = (uint32_t)st->st_nlink;
    t->root_index = root;
    t->pre_status = TASK_OK;
}

size_t
run_add_named_files(const struct cli_opts *o, struct scan_list *l)
{
    size_t i, k, added = 0;
    char *seen = xcalloc(o->ninputs + 1, 1);

    for (k = 0; k < l->n; k++)
        if (l->tasks[k].root_index >= 0 &&
            (size_t)l->tasks[k].root_index < o->ninputs)
            seen[l->tasks[k].root_index] = 1;
    for (i = 0; i < o->ninputs; i++) {
        const char *base = strrchr(o->inputs[i], '/');
        struct stat st;

        base = base ? base + 1 : o->inputs[i];
        if (seen[i] || stat(o->inputs[i], &st) < 0 || !S_ISREG(st.st_mode) ||
            !*base || strncmp(base, IMGPOOL_TMP_PREFIX,
                              sizeof(IMGPOOL_TMP_PREFIX) - 1) == 0 ||
            matches_any(o->excludes, o->nexcludes, base) ||
            (o->nincludes && !matches_any(o->includes, o->nincludes, base)))
            continue;
        add_named(l, o->inputs[i], (int)i, &st);
        /* The scan counted it as ignored (in its shard, if any). */
        if (l->ignored > 0 &&
            (o->shard_n == 0 ||
             scan_shard_of(base, o->shard_n) == o->shard_k))
            l->ignored--;
        added++;
    }
    free(seen);
    return added;
}

void
run_warn_empty_inputs(const struct cli_opts *o, const struct scan_list *l)
{
    char *seen = xcalloc(o->ninputs + 1, 1);
    size_t i;

    for (i = 0; i < l->n; i++)
        if (l->tasks[i].root_index >= 0 &&
            (size_t)l->tasks[i].root_index < o->ninputs)
            seen[l->tasks[i].root_index] = 1;
    for (i = 0; i < o->ninputs; i++) {
        struct stat st;

        if (seen[i])
            continue;
        if (stat(o->inputs[i], &st) == 0 && S_ISDIR(st.st_mode))
            warnf("no image found in '%s' (empty, filtered out, or a file "
                  "system that is not mounted?)", o->inputs[i]);
        else
            warnf("'%s' is not an image imgpool would read (filtered out, "
                  "or not a regular file)", o->inputs[i]);
    }
    free(seen);
}

/* Tasks by absolute input path, for matching the database's rows. */
struct abs_map {
    struct hashset set;
    char **abs;           /* per task; NULL when unknown */
    const struct scan_list *l;
    struct plan_recorded *rec;
};

static int
abs_eq(uint32_t value, const void *key, void *ctx)
{
    const struct abs_map *m = ctx;

    return m->abs[value] && strcmp(m->abs[value], key) == 0;
}

static void
on_row(void *data, const char *out_rel, const char *input_abs)
{
    struct abs_map *m = data;
    uint32_t idx = hashset_find(&m->set,
                                hashset_hash(input_abs, strlen(input_abs)),
                                input_abs, abs_eq, m);
    struct stat st;

    if (idx != HASHSET_NONE)
        plan_recorded_add(m->rec, out_rel, idx);
    else if (lstat(input_abs, &st) == 0)
        plan_recorded_add(m->rec, out_rel, PLAN_OWNER_OTHER);
}

void
run_recorded_names(struct plan_recorded *rec,
                   const struct state_roots *roots,
                   const struct scan_list *l, struct state *st)
{
    struct abs_map m;
    char buf[PATH_MAX * 2];
    size_t i;

    if (!st || l->n >= UINT32_MAX - 2)
        return;
    memset(&m, 0, sizeof(m));
    hashset_init(&m.set);
    m.abs = xcalloc(l->n + 1, sizeof(*m.abs));
    m.l = l;
    m.rec = rec;
    /* First task wins: a duplicate keeps no name of its own. */
    for (i = 0; i < l->n; i++) {
        const char *a = state_input_abs(roots, &l->tasks[i], buf,
                                        sizeof(buf));
        if (!a)
            continue;
        m.abs[i] = xstrdup(a);
        hashset_insert(&m.set, hashset_hash(a, strlen(a)), (uint32_t)i, a,
                       abs_eq, &m, NULL);
    }
    state_recorded_names(st, on_row, &m);
    for (i = 0; i < l->n; i++)
        free(m.abs[i]);
    free(m.abs);
    hashset_release(&m.set);
}
