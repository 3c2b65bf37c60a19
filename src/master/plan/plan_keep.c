/*
 * plan_keep.c - recorded output names, root directories and duplicates:
 * the facts plan_outputs() needs besides the task list.  See plan_keep.h.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "plan_keep.h"
#include "util.h"

/* ---- recorded names ---- */

static int
rec_eq(uint32_t value, const void *key, void *ctx)
{
    const struct plan_recorded *r = ctx;

    return strcmp(r->names[value], key) == 0;
}

void
plan_recorded_init(struct plan_recorded *r)
{
    memset(r, 0, sizeof(*r));
    hashset_init(&r->set);
}

void
plan_recorded_add(struct plan_recorded *r, const char *out_rel,
                  uint32_t owner)
{
    uint64_t h = hashset_hash(out_rel, strlen(out_rel));

    if (r->n == r->alloc) {
        r->alloc = r->alloc ? 2 * r->alloc : 64;
        r->names = xrealloc(r->names, r->alloc * sizeof(*r->names));
        r->owner = xrealloc(r->owner, r->alloc * sizeof(*r->owner));
    }
    r->names[r->n] = xstrdup(out_rel);
    r->owner[r->n] = owner;
    if (hashset_insert(&r->set, h, (uint32_t)r->n, out_rel, rec_eq, r,
                       NULL) == HASHSET_ADDED) {
        r->n++;
        return;
    }
    /* Present already (keeps its owner), or no memory for the table
     * (which only costs keeping this name). */
    free(r->names[r->n]);
}

uint32_t
plan_recorded_owner(const struct plan_recorded *r, const char *out_rel)
{
    uint32_t idx;

    if (!r || r->n == 0)
        return PLAN_OWNER_NONE;
    idx = hashset_find(&r->set, hashset_hash(out_rel, strlen(out_rel)),
                       out_rel, rec_eq, (void *)r);
    return idx == HASHSET_NONE ? PLAN_OWNER_NONE : r->owner[idx];
}

void
plan_recorded_release(struct plan_recorded *r)
{
    size_t i;

    for (i = 0; i < r->n; i++)
        free(r->names[i]);
    free(r->names);
    free(r->owner);
    hashset_release(&r->set);
    memset(r, 0, sizeof(*r));
}

/* ---- root directories ---- */

/* The name a directory root is given below --output (caller frees). */
static char *
root_base_name(const char *root)
{
    size_t len = strlen(root);
    const char *base;
    char *real, *name;

    while (len > 0 && root[len - 1] == '/')
        len--;
    base = root + len;
    while (base > root && base[-1] != '/')
        base--;
    len -= (size_t)(base - root);
    if (len > 0 && !(len == 1 && base[0] == '.') &&
        !(len == 2 && base[0] == '.' && base[1] == '.')) {
        name = xmalloc(len + 1);
        memcpy(name, base, len);
        name[len] = '\0';
        return name;
    }
    real = realpath(root, NULL);
    base = real ? strrchr(real, '/') : NULL;
    name = xstrdup(base && base[1] ? base + 1 : "root");
    free(real);
    return name;
}

static int
name_taken(char **dirs, size_t n, const char *name)
{
    size_t i;

    for (i = 0; i < n; i++)
        if (dirs[i] && strcmp(dirs[i], name) == 0)
            return 1;
    return 0;
}

char **
plan_root_dirs(const char *const *inputs, size_t n)
{
    struct stat *st = xcalloc(n ? n : 1, sizeof(*st));
    char *ok = xcalloc(n ? n : 1, 1);
    char **dirs = xcalloc(n ? n : 1, sizeof(*dirs));
    size_t i, j, distinct = 0;

    for (i = 0; i < n; i++) {
        ok[i] = stat(inputs[i], &st[i]) == 0;
        for (j = 0; j < i; j++)
            if (ok[i] && ok[j] && st[i].st_dev == st[j].st_dev &&
                st[i].st_ino == st[j].st_ino)
                break;
        if (j == i)
            distinct++;
    }
    for (i = 0; i < n && distinct > 1; i++) {
        char *base, cand[NAME_MAX + 16];
        unsigned k;

        if (!ok[i] || !S_ISDIR(st[i].st_mode))
            continue;
        for (j = 0; j < i; j++)
            if (ok[j] && st[i].st_dev == st[j].st_dev &&
                st[i].st_ino == st[j].st_ino)
                break;
        if (j < i) {
            dirs[i] = dirs[j] ? xstrdup(dirs[j]) : NULL;
            continue;
        }
        base = root_base_name(inputs[i]);
        snprintf(cand, sizeof(cand), "%s", base);
        for (k = 2; name_taken(dirs, i, cand); k++)
            snprintf(cand, sizeof(cand), "%s-%u", base, k);
        dirs[i] = xstrdup(cand);
        free(base);
    }
    free(st);
    free(ok);
    if (distinct > 1)
        return dirs;
    free(dirs);
    return NULL;
}

void
plan_root_dirs_free(char **dirs, size_t n)
{
    size_t i;

    for (i = 0; dirs && i < n; i++)
        free(dirs[i]);
    free(dirs);
}

/* ---- duplicates ---- */

/* A file's identity; with @path, one of its names (a hard link with an
 * output tree: see plan_mark_duplicates()). */
struct devino {
    uint64_t dev, ino;
    const char *path;
};

static int
devino_eq(uint32_t value, const void *key, void *ctx)
{
    const struct task *tasks = ctx;
    const struct devino *k = key;

    return tasks[value].dev == k->dev && tasks[value].ino == k->ino &&
           (!k->path || strcmp(tasks[value].path, k->path) == 0);
}

/* @t's key in the duplicate set, and its hash.  In place, one rewrite
 * serves every name of a file; with an output tree, the names of a
 * hard-linked file (made on purpose) each get their output, and only the
 * same name met twice is a duplicate.  A file with one name met twice is
 * always one. */
static uint64_t
dup_key(const struct task *t, int in_place, struct devino *key)
{
    int by_name = !in_place && t->nlink > 1;
    uint64_t h = hashset_hash2(t->dev, t->ino);

    key->dev = t->dev;
    key->ino = t->ino;
    key->path = by_name ? t->path : NULL;
    if (by_name)
        h ^= hashset_hash(t->path, strlen(t->path));
    return h;
}

void
plan_dups_init(struct plan_dups *d)
{
    hashset_init(&d->seen);
}

void
plan_dups_release(struct plan_dups *d)
{
    hashset_release(&d->seen);
}

int
plan_dups_check(struct plan_dups *d, struct scan_list *l, size_t i,
                int in_place)
{
    struct task *t = &l->tasks[i];
    struct devino key;
    uint64_t h = dup_key(t, in_place, &key);

    if (i >= UINT32_MAX - 2 || t->pre_status != TASK_OK ||
        (t->dev == 0 && t->ino == 0))
        return 0;
    if (hashset_insert(&d->seen, h, (uint32_t)i, &key, devino_eq, l->tasks,
                       NULL) != HASHSET_PRESENT)
        return 0;
    t->pre_status = TASK_SKIPPED;
    t->pre_class = ERR_DUPLICATE;
    t->pre_msg = "the same file as an earlier input (same device and inode)";
    return 1;
}

/* Whether @rel can name an output below the output root: no ".."
 * component (a --files-from entry "../x" cannot). */
static int
rel_plannable(const char *rel)
{
    const char *p = rel;

    if (!rel)
        return 0;
    while ((p = strstr(p, "..")) != NULL) {
        if ((p == rel || p[-1] == '/') && (p[2] == '\0' || p[2] == '/'))
            return 0;
        p += 2;
    }
    return 1;
}

size_t
plan_mark_duplicates(struct scan_list *l, int in_place)
{
    struct hashset seen;
    uint32_t *keep, g, old;
    size_t i, marked = 0;

    hashset_init(&seen);
    /* Per file met (a group), the task that keeps it. */
    keep = xmalloc(l->n * sizeof(*keep));
    for (i = 0; i < l->n && i < UINT32_MAX - 2; i++) {
        struct task *t = &l->tasks[i];
        struct devino key;
        uint64_t h = dup_key(t, in_place, &key);
        int rc;

        if (t->pre_status != TASK_OK || (t->dev == 0 && t->ino == 0))
            continue;
        rc = hashset_insert(&seen, h, (uint32_t)i, &key, devino_eq, l->tasks,
                            &old);
        if (rc == HASHSET_ADDED)
            keep[i] = (uint32_t)i;
        if (rc != HASHSET_PRESENT)
            continue;
        /* With an output tree, a spelling that can be planned ("/a/x",
         * "lnk/x") wins over an earlier one that cannot ("../x"). */
        g = keep[old];
        if (!in_place && !rel_plannable(l->tasks[g].rel) &&
            rel_plannable(t->rel)) {
            keep[old] = (uint32_t)i;
            t = &l->tasks[g];
            t->pre_msg = "the same file as a later input whose name maps "
                         "below the output root (same device and inode)";
        } else {
            t->pre_msg = "the same file as an earlier input (same device "
                         "and inode)";
        }
        t->pre_status = TASK_SKIPPED;
        t->pre_class = ERR_DUPLICATE;
        marked++;
    }
    free(keep);
    hashset_release(&seen);
    return marked;
}
