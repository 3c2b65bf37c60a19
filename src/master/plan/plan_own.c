/*
 * plan_own.c - whether an output is an input, its own or another's,
 * decided by identity: stat(2) of the output's and the inputs' directories
 * (once per distinct directory), and only when the output's directory
 * holds inputs a look at the entry itself.  See plan_own.h.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
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


/* ---- the set of every input ---- */

static int
id_eq(uint32_t value, const void *key, void *ctx)
{
    const struct id_set *s = ctx;
    const uint64_t *k = key;

    return s->v[value][0] == k[0] && s->v[value][1] == k[1];
}

static int
id_add(struct id_set *s, uint64_t dev, uint64_t ino)
{
    uint64_t key[2] = { dev, ino };
    int rc;

    if (s->n == s->alloc) {
        size_t alloc = s->alloc ? 2 * s->alloc : 64;
        s->v = xrealloc(s->v, alloc * sizeof(*s->v));
        s->alloc = alloc;
    }
    s->v[s->n][0] = dev;
    s->v[s->n][1] = ino;
    rc = hashset_insert(&s->set, hashset_hash2(dev, ino), (uint32_t)s->n,
                        key, id_eq, s, NULL);
    if (rc < 0)
        return -1;
    if (rc == HASHSET_ADDED)
        s->n++;
    return 0;
}

static int
id_has(const struct id_set *s, uint64_t dev, uint64_t ino)
{
    uint64_t key[2] = { dev, ino };

    return s->n && hashset_find(&s->set, hashset_hash2(dev, ino), key, id_eq,
                                (void *)s) != HASHSET_NONE;
}

/* The identity of the directory holding @path (".", when it names none). */
static const struct dir_info *
dir_of(struct dir_map *dirs, const char *path)
{
    const char *slash = strrchr(path, '/');

    if (!slash)
        return dir_map_get(dirs, ".", 1);
    return dir_map_get(dirs, path, (size_t)(slash - path));
}

int
input_set_build(struct input_set *s, const struct task *tasks, size_t n,
                struct dir_map *dirs)
{
    const struct dir_info *d;
    size_t i;

    memset(s, 0, sizeof(*s));
    hashset_init(&s->files.set);
    hashset_init(&s->dirs.set);
    for (i = 0; i < n; i++) {
        const struct task *t = &tasks[i];

        if (!t->path || (t->dev == 0 && t->ino == 0))
            continue;
        if (id_add(&s->files, t->dev, t->ino) < 0)
            goto nomem;
        d = dir_of(dirs, t->path);
        if (d && id_add(&s->dirs, (uint64_t)d->dev, (uint64_t)d->ino) < 0)
            goto nomem;
    }
    return 0;
nomem:
    input_set_release(s);
    errno = ENOMEM;
    return -1;
}

void
input_set_release(struct input_set *s)
{
    hashset_release(&s->files.set);
    hashset_release(&s->dirs.set);
    free(s->files.v);
    free(s->dirs.v);
    memset(s, 0, sizeof(*s));
    hashset_init(&s->files.set);
    hashset_init(&s->dirs.set);
}

enum input_hit
input_at(const struct input_set *s, const char *path, const struct task *t,
         struct dir_map *dirs)
{
    const struct dir_info *d = dir_of(dirs, path);
    struct stat st;

    if (!d || !id_has(&s->dirs, (uint64_t)d->dev, (uint64_t)d->ino))
        return INPUT_NONE;
    if (lstat(path, &st) < 0 || !S_ISREG(st.st_mode) ||
        !id_has(&s->files, (uint64_t)st.st_dev, (uint64_t)st.st_ino))
        return INPUT_NONE;
    if ((uint64_t)st.st_dev == t->dev && (uint64_t)st.st_ino == t->ino)
        return INPUT_SELF;
    return INPUT_OTHER;
}

static const char MSG_IS_INPUT[] =
    "output path is another input file, which it would replace";
static const char MSG_OVERWRITE[] = "output would overwrite the input";

static void
own_fail(struct task *t, enum err_class c, const char *why)
{
    t->pre_status = TASK_FAILED;
    t->pre_class = c;
    t->pre_msg = why;
}

/*
 * No output replaces any input file, however spelled.  Every
 * output of every task still to run (each size) is looked up against the
 * set of inputs by identity (plan_own.h): "recompress photos/sub -o
 * photos" maps photos/sub/sub/x.jpg onto the input photos/sub/x.jpg,
 * which fails here (ERR_OUTPUT_IS_INPUT) before any worker starts, so
 * both pictures survive.  0, or -1 when out of memory.
 */
int
plan_own_check(const char *output_dir, size_t outlen, struct task *tasks,
               size_t ntasks, struct dir_map *dirs)
{
    struct input_set inputs;
    char *path = NULL;
    size_t i, size = 0;
    int k;

    if (input_set_build(&inputs, tasks, ntasks, dirs) < 0)
        return -1;
    for (i = 0; i < ntasks; i++) {
        struct task *t = &tasks[i];
        const char *rel;

        for (k = 0; t->pre_status == TASK_OK && (rel = task_out_rel(t, k));
             k++) {
            size_t need = outlen + strlen(rel) + 2;
            enum input_hit hit;

            if (need > size) {
                path = xrealloc(path, need);
                size = need;
            }
            snprintf(path, size, "%.*s/%s", (int)outlen, output_dir, rel);
            hit = input_at(&inputs, path, t, dirs);
            if (hit == INPUT_OTHER)
                own_fail(t, ERR_OUTPUT_IS_INPUT, MSG_IS_INPUT);
            else if (hit == INPUT_SELF)
                own_fail(t, ERR_OUTPUT_PATH, MSG_OVERWRITE);
        }
    }
    free(path);
    input_set_release(&inputs);
    return 0;
}
