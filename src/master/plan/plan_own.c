/*
 * plan_own.c - whether an output is its own input, decided by directory
 * identity: stat(2) of the output's and the input's directory (once per
 * distinct directory), and only when both are the same directory a look
 * at the entry itself.  See plan_own.h.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "plan_own.h"
#include "util.h"

/* A byte string that is not NUL-terminated: a hash set key. */
struct dspan {
    const char *p;
    size_t len;
};

void
dir_map_init(struct dir_map *m)
{
    memset(m, 0, sizeof(*m));
    hashset_init(&m->set);
}

static int
dir_info_eq(uint32_t value, const void *key, void *ctx)
{
    const struct dir_map *m = ctx;
    const struct dspan *k = key;

    return m->v[value].len == k->len &&
           memcmp(m->v[value].path, k->p, k->len) == 0;
}

void
dir_map_release(struct dir_map *m)
{
    size_t i;

    for (i = 0; i < m->n; i++)
        free(m->v[i].path);
    free(m->v);
    hashset_release(&m->set);
    memset(m, 0, sizeof(*m));
}

/*
 * The identity of directory @dir (@len bytes; "" means "/"), looked up once.
 * NULL when it is not a reachable directory, or when memory runs out (which
 * only costs the check).
 */
static const struct dir_info *
dir_map_get(struct dir_map *m, const char *dir, size_t len)
{
    struct dspan key = { dir, len };
    uint64_t h = hashset_hash(dir, len);
    uint32_t idx = hashset_find(&m->set, h, &key, dir_info_eq, m);
    struct dir_info *e;
    struct stat st;

    if (idx != HASHSET_NONE)
        return m->v[idx].ok ? &m->v[idx] : NULL;
    if (m->n == m->alloc) {
        size_t alloc = m->alloc ? 2 * m->alloc : 16;
        struct dir_info *v = xrealloc(m->v, alloc * sizeof(*v));
        m->v = v;
        m->alloc = alloc;
    }
    e = &m->v[m->n];
    e->path = xstrndup(dir, len);
    e->len = len;
    e->ok = stat(len ? e->path : "/", &st) == 0 && S_ISDIR(st.st_mode);
    if (e->ok) {
        e->dev = st.st_dev;
        e->ino = st.st_ino;
    }
    if (hashset_insert(&m->set, h, (uint32_t)m->n, &key, dir_info_eq, m,
                       NULL) < 0) {
        free(e->path);
        return NULL;
    }
    m->n++;
    return e->ok ? e : NULL;
}

int
is_own_input(const struct task *t, struct dir_map *dirs)
{
    const char *out_slash = strrchr(t->out_path, '/');
    const char *in_slash = strrchr(t->path, '/');
    const struct dir_info *in_dir, *out_dir;
    const char *in_base;
    struct stat st;
    dev_t out_dev;
    ino_t out_ino;

    if (strcmp(t->out_path, t->path) == 0)
        return 1;
    if (!out_slash)
        return 0;
    out_dir = dir_map_get(dirs, t->out_path,
                          (size_t)(out_slash - t->out_path));
    if (!out_dir)
        return 0;
    /* Copied: the next lookup may move the map's entries. */
    out_dev = out_dir->dev;
    out_ino = out_dir->ino;
    if (in_slash) {
        in_base = in_slash + 1;
        in_dir = dir_map_get(dirs, t->path, (size_t)(in_slash - t->path));
    } else {
        in_base = t->path;
        in_dir = dir_map_get(dirs, ".", 1);
    }
    if (!in_dir || in_dir->dev != out_dev || in_dir->ino != out_ino)
        return 0;
    if (strcmp(in_base, out_slash + 1) == 0)
        return 1;
    return lstat(t->out_path, &st) == 0 && (uint64_t)st.st_dev == t->dev &&
           (uint64_t)st.st_ino == t->ino;
}

