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
 * Collisions are found with a hash set of output paths (XXH3), so a list of
 * a million files plans in a fraction of a second.  Whether an output is its
 * own input is decided by directory identity: stat(2) of the output's and
 * the input's directory (once per distinct directory), and only when both
 * are the same directory a look at the entry itself.  That catches the same
 * file reached through a symlinked or differently spelled directory without
 * one lstat(2) per file in the common case where --output is elsewhere.
 */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <xxhash.h>

#include "plan.h"

/* Reasons stored in task.pre_msg; static, as struct task requires. */
static const char MSG_OVERWRITE[] = "output would overwrite the input";
static const char MSG_CONFLICT[] =
    "output name collides with another input's output";
static const char MSG_DIR_CONFLICT[] =
    "output name is a directory other outputs need";
static const char MSG_OVERWRITE_OTHER[] =
    "output would overwrite another input";

enum placeholder { PH_STEM, PH_NAME, PH_EXT, PH_FMT, PH__COUNT };

static const char *const placeholder_names[PH__COUNT] = {
    [PH_STEM] = "stem",
    [PH_NAME] = "name",
    [PH_EXT] = "ext",
    [PH_FMT] = "fmt",
};

/* The pieces of one input file name that placeholders expand to. */
struct name_parts {
    const char *name;
    size_t name_len;
    size_t stem_len;      /* the stem is name[0 .. stem_len) */
    const char *ext;      /* without the dot; "" when none */
    size_t ext_len;
    const char *fmt;
};

/* Output being built: counts past the end instead of overflowing. */
struct name_buf {
    char *buf;
    size_t size, len;
};

static const char *
default_template(enum out_format fmt)
{
    return fmt == FORMAT_PNG ? "{stem}.png" : "{stem}.jpg";
}

/* The default template's second choice when two inputs share a stem. */
static const char *
fallback_template(enum out_format fmt)
{
    return fmt == FORMAT_PNG ? "{name}.png" : "{name}.jpg";
}

static const char *
format_ext(enum out_format fmt)
{
    return fmt == FORMAT_PNG ? "png" : "jpg";
}

/*
 * Split @name into stem and extension at the last dot.  A name whose only
 * dot is its first character (".bashrc") is all stem: the dot marks it
 * hidden, not typed.
 */
static void
name_split(const char *name, enum out_format fmt, struct name_parts *np)
{
    const char *dot = strrchr(name, '.');

    np->name = name;
    np->name_len = strlen(name);
    np->fmt = format_ext(fmt);
    if (!dot || dot == name) {
        np->stem_len = np->name_len;
        np->ext = name + np->name_len;
        np->ext_len = 0;
    } else {
        np->stem_len = (size_t)(dot - name);
        np->ext = dot + 1;
        np->ext_len = np->name_len - np->stem_len - 1;
    }
}

static void
name_buf_put(struct name_buf *b, const char *s, size_t n)
{
    if (b->buf && b->len < b->size) {
        size_t room = b->size - b->len;
        memcpy(b->buf + b->len, s, n < room ? n : room);
    }
    b->len += n;
}

static int
placeholder_lookup(const char *s, size_t n)
{
    int i;

    for (i = 0; i < PH__COUNT; i++) {
        if (strlen(placeholder_names[i]) == n &&
            memcmp(placeholder_names[i], s, n) == 0)
            return i;
    }
    return -1;
}

/*
 * Walk @tmpl.  With @np, append its expansion to @b; without, only check
 * the syntax.  Returns 0, or -1 with *why set to a static reason.
 */
static int
template_walk(const char *tmpl, const struct name_parts *np,
              struct name_buf *b, const char **why)
{
    const char *p = tmpl, *close;
    int ph;

    if (*tmpl == '\0') {
        *why = "template is empty";
        return -1;
    }
    if (strchr(tmpl, '/')) {
        *why = "template contains '/'";
        return -1;
    }
    while (*p) {
        if (p[0] == '{' && p[1] == '{') {
            name_buf_put(b, "{", 1);
            p += 2;
        } else if (p[0] == '}' && p[1] == '}') {
            name_buf_put(b, "}", 1);
            p += 2;
        } else if (p[0] == '}') {
            *why = "unmatched '}' in template (write '}}' for a brace)";
            return -1;
        } else if (p[0] == '{') {
            close = strchr(p + 1, '}');
            if (!close) {
                *why = "unterminated '{' in template "
                       "(write '{{' for a brace)";
                return -1;
            }
            ph = placeholder_lookup(p + 1, (size_t)(close - p - 1));
            if (ph < 0) {
                *why = "unknown placeholder in template "
                       "(known: {stem} {name} {ext} {fmt})";
                return -1;
            }
            if (np) {
                switch ((enum placeholder)ph) {
                case PH_STEM:
                    name_buf_put(b, np->name, np->stem_len);
                    break;
                case PH_NAME:
                    name_buf_put(b, np->name, np->name_len);
                    break;
                case PH_EXT:
                    name_buf_put(b, np->ext, np->ext_len);
                    break;
                case PH_FMT:
                case PH__COUNT:
                    name_buf_put(b, np->fmt, strlen(np->fmt));
                    break;
                }
            }
            p = close + 1;
        } else {
            name_buf_put(b, p, 1);
            p++;
        }
    }
    return 0;
}

int
plan_template_check(const char *tmpl, const char **why)
{
    const char *dummy;

    if (!why)
        why = &dummy;
    if (!tmpl)
        return 0;
    if (template_walk(tmpl, NULL, &(struct name_buf){0}, why) < 0)
        return -1;
    /* Without placeholders only "." and ".." can expand to those names. */
    if (strcmp(tmpl, ".") == 0 || strcmp(tmpl, "..") == 0) {
        *why = "template always expands to '.' or '..'";
        return -1;
    }
    return 0;
}

/*
 * plan_expand_name() with the reason for a refusal.  Returns the length, or
 * -1 with *why set.
 */
static int
expand_name(const char *tmpl, const char *name, enum out_format fmt,
            char *buf, size_t size, const char **why)
{
    struct name_parts np;
    struct name_buf b = {buf, size, 0};

    if (!tmpl)
        tmpl = default_template(fmt);
    name_split(name, fmt, &np);
    if (template_walk(tmpl, &np, &b, why) < 0)
        return -1;
    if (b.len >= size || b.len > INT_MAX) {
        *why = "output file name too long";
        return -1;
    }
    buf[b.len] = '\0';
    if (b.len == 0) {
        *why = "template expands to an empty name";
        return -1;
    }
    if (strcmp(buf, ".") == 0 || strcmp(buf, "..") == 0) {
        *why = "template expands to '.' or '..'";
        return -1;
    }
    /* Impossible with a checked template and a base name; stay sure. */
    if (memchr(buf, '/', b.len)) {
        *why = "output file name contains '/'";
        return -1;
    }
    return (int)b.len;
}

int
plan_expand_name(const char *tmpl, const char *name, enum out_format fmt,
                 char *buf, size_t size)
{
    const char *why;

    return expand_name(tmpl, name, fmt, buf, size, &why);
}

/* ---- output paths ---- */

/*
 * Build "@outdir/<directories of @rel>/<name>" into a new string.  Empty and
 * "." components of @rel are dropped, so no "//" appears; a ".." component
 * or a leading '/' is refused.  Returns the string (caller frees), or NULL
 * with *why set, or NULL with *why NULL when out of memory.
 */
static char *
build_out_path(const char *outdir, size_t outlen, const char *rel,
               const char *tmpl, enum out_format fmt, const char **why)
{
    char name[NAME_MAX + 1];
    const char *base = strrchr(rel, '/');
    const char *p, *end;
    char *out, *o;
    size_t n;
    int namelen;

    base = base ? base + 1 : rel;
    if (rel[0] == '/') {
        *why = "input path below its root starts with '/'";
        return NULL;
    }
    for (p = rel; p < base; p = end + 1) {
        end = strchr(p, '/');
        if (end - p == 2 && p[0] == '.' && p[1] == '.') {
            *why = "input path below its root contains '..'";
            return NULL;
        }
    }
    if (*base == '\0' || strcmp(base, ".") == 0 || strcmp(base, "..") == 0) {
        *why = "input path has no file name";
        return NULL;
    }
    namelen = expand_name(tmpl, base, fmt, name, sizeof(name), why);
    if (namelen < 0)
        return NULL;

    out = malloc(outlen + (size_t)(base - rel) + 1 + (size_t)namelen + 1);
    if (!out) {
        *why = NULL;
        return NULL;
    }
    memcpy(out, outdir, outlen);
    o = out + outlen;
    for (p = rel; p < base; p = end + 1) {
        end = strchr(p, '/');
        n = (size_t)(end - p);
        if (n == 0 || (n == 1 && p[0] == '.'))
            continue;
        *o++ = '/';
        memcpy(o, p, n);
        o += n;
    }
    *o++ = '/';
    memcpy(o, name, (size_t)namelen + 1);
    return out;
}

/*
 * Identities of the directories looked up so far, keyed by their spelling:
 * one stat(2) per distinct directory, whatever the order of the tasks.
 */
struct dir_entry {
    char *path;           /* NULL: empty slot */
    size_t len;
    uint64_t hash;
    int ok;               /* stat() succeeded and found a directory */
    dev_t dev;
    ino_t ino;
};

struct dir_map {
    struct dir_entry *slots;
    size_t mask, n;
};

static void
dir_map_release(struct dir_map *m)
{
    size_t i;

    for (i = 0; m->slots && i <= m->mask; i++)
        free(m->slots[i].path);
    free(m->slots);
    memset(m, 0, sizeof(*m));
}

/* Keep the map at most half full.  -1 on allocation failure. */
static int
dir_map_grow(struct dir_map *m)
{
    size_t cap = m->slots ? 2 * (m->mask + 1) : 64, i, pos;
    struct dir_entry *slots = calloc(cap, sizeof(*slots));

    if (!slots)
        return -1;
    for (i = 0; m->slots && i <= m->mask; i++) {
        if (!m->slots[i].path)
            continue;
        pos = (size_t)m->slots[i].hash & (cap - 1);
        while (slots[pos].path)
            pos = (pos + 1) & (cap - 1);
        slots[pos] = m->slots[i];
    }
    free(m->slots);
    m->slots = slots;
    m->mask = cap - 1;
    return 0;
}

/*
 * The identity of directory @dir (@len bytes; "" means "/"), looked up once.
 * NULL when it is not a reachable directory, or when memory runs out (which
 * only costs the check).
 */
static const struct dir_entry *
dir_map_get(struct dir_map *m, const char *dir, size_t len)
{
    uint64_t h = XXH3_64bits(dir, len);
    struct dir_entry *e;
    struct stat st;
    size_t pos;

    if ((m->n + 1) * 2 > (m->slots ? m->mask + 1 : 0) && dir_map_grow(m) < 0)
        return NULL;
    for (pos = (size_t)h & m->mask;; pos = (pos + 1) & m->mask) {
        e = &m->slots[pos];
        if (!e->path)
            break;
        if (e->hash == h && e->len == len && memcmp(e->path, dir, len) == 0)
            return e->ok ? e : NULL;
    }
    e->path = strndup(dir, len);
    if (!e->path)
        return NULL;
    e->len = len;
    e->hash = h;
    e->ok = stat(len ? e->path : "/", &st) == 0 && S_ISDIR(st.st_mode);
    if (e->ok) {
        e->dev = st.st_dev;
        e->ino = st.st_ino;
    }
    m->n++;
    return e->ok ? e : NULL;
}

/*
 * Would writing @t->out_path replace @t's input?  True when the two strings
 * are equal, or when both live in the same directory (however spelled) and
 * either the names are equal or the output's entry is the input's file (a
 * case-insensitive file system, another name for the same entry).
 */
static int
is_own_input(const struct task *t, struct dir_map *dirs)
{
    const char *out_slash = strrchr(t->out_path, '/');
    const char *in_slash = strrchr(t->path, '/');
    const struct dir_entry *in_dir, *out_dir;
    const char *in_base;
    struct stat st;

    if (strcmp(t->out_path, t->path) == 0)
        return 1;
    if (!out_slash)
        return 0;
    out_dir = dir_map_get(dirs, t->out_path,
                          (size_t)(out_slash - t->out_path));
    if (!out_dir)
        return 0;
    if (in_slash) {
        in_base = in_slash + 1;
        in_dir = dir_map_get(dirs, t->path, (size_t)(in_slash - t->path));
    } else {
        in_base = t->path;
        in_dir = dir_map_get(dirs, ".", 1);
    }
    if (!in_dir || in_dir->dev != out_dir->dev || in_dir->ino != out_dir->ino)
        return 0;
    if (strcmp(in_base, out_slash + 1) == 0)
        return 1;
    return lstat(t->out_path, &st) == 0 && (uint64_t)st.st_dev == t->dev &&
           (uint64_t)st.st_ino == t->ino;
}

/* Open-addressing set of output paths; slots hold task index + 1. */
struct out_slot {
    uint32_t tag;         /* high half of the hash: skips most strcmp()s */
    uint32_t idx1;        /* 0: empty */
};

struct out_set {
    struct out_slot *slots;
    size_t mask;
};

static int
out_set_init(struct out_set *s, size_t n)
{
    size_t cap = 16;

    while (cap < n * 2)
        cap <<= 1;
    s->slots = calloc(cap, sizeof(*s->slots));
    s->mask = cap - 1;
    return s->slots ? 0 : -1;
}

/*
 * Claim task @i's out_path.  Returns SIZE_MAX when it was free, or the index
 * of the task that holds it already.
 */
static size_t
out_set_claim(struct out_set *s, const struct task *tasks, size_t i)
{
    const char *p = tasks[i].out_path;
    uint64_t h = XXH3_64bits(p, strlen(p));
    uint32_t tag = (uint32_t)(h >> 32);
    size_t pos = (size_t)h & s->mask;
    struct out_slot *sl;

    for (;;) {
        sl = &s->slots[pos];
        if (sl->idx1 == 0) {
            sl->tag = tag;
            sl->idx1 = (uint32_t)(i + 1);
            return SIZE_MAX;
        }
        if (sl->tag == tag && strcmp(tasks[sl->idx1 - 1].out_path, p) == 0)
            return sl->idx1 - 1;
        pos = (pos + 1) & s->mask;
    }
}

/*
 * The directories that outputs need, as (task, prefix length) pairs: an
 * output file may not take a path another output needs as a directory
 * ("x.png" -> "x.jpg" beside a directory "x.jpg/").
 */
struct dir_slot {
    uint64_t hash;
    uint32_t idx1;        /* task index + 1; 0: empty */
    uint32_t len;
};

struct dir_set {
    struct dir_slot *slots;
    size_t mask, n;
};

static int
dir_set_has(const struct dir_set *d, const struct task *tasks, const char *p,
            size_t len, uint64_t h)
{
    size_t pos = (size_t)h & d->mask;

    if (!d->slots)
        return 0;
    for (;; pos = (pos + 1) & d->mask) {
        const struct dir_slot *sl = &d->slots[pos];
        if (sl->idx1 == 0)
            return 0;
        if (sl->hash == h && sl->len == len &&
            memcmp(tasks[sl->idx1 - 1].out_path, p, len) == 0)
            return 1;
    }
}

static int
dir_set_add(struct dir_set *d, const struct task *tasks, size_t i, size_t len)
{
    const char *p = tasks[i].out_path;
    uint64_t h = XXH3_64bits(p, len);
    size_t pos;

    if (dir_set_has(d, tasks, p, len, h))
        return 0;
    if (!d->slots || (d->n + 1) * 2 > d->mask + 1) {
        struct dir_set bigger;
        size_t cap = d->slots ? (d->mask + 1) * 2 : 64, j;
        bigger.slots = calloc(cap, sizeof(*bigger.slots));
        if (!bigger.slots)
            return -1;
        bigger.mask = cap - 1;
        bigger.n = d->n;
        for (j = 0; d->slots && j <= d->mask; j++) {
            if (d->slots[j].idx1 == 0)
                continue;
            pos = (size_t)d->slots[j].hash & bigger.mask;
            while (bigger.slots[pos].idx1)
                pos = (pos + 1) & bigger.mask;
            bigger.slots[pos] = d->slots[j];
        }
        free(d->slots);
        *d = bigger;
    }
    pos = (size_t)h & d->mask;
    while (d->slots[pos].idx1)
        pos = (pos + 1) & d->mask;
    d->slots[pos].hash = h;
    d->slots[pos].idx1 = (uint32_t)(i + 1);
    d->slots[pos].len = (uint32_t)len;
    d->n++;
    return 0;
}

/* Add every directory below the output root that task @i's output needs.
 * Consecutive tasks mostly share their directory: skip it when @prev did. */
static int
dir_set_add_parents(struct dir_set *d, const struct task *tasks, size_t i,
                    size_t outlen, const char **prev, size_t *prevlen)
{
    const char *p = tasks[i].out_path, *slash = strrchr(p, '/');
    size_t len = slash ? (size_t)(slash - p) : 0, k;

    if (len <= outlen ||
        (*prev && *prevlen == len && memcmp(*prev, p, len) == 0))
        return 0;
    *prev = p;
    *prevlen = len;
    for (k = outlen + 1; k <= len; k++)
        if ((k == len || p[k] == '/') && dir_set_add(d, tasks, i, k) < 0)
            return -1;
    return 0;
}

static int
is_needed_dir(const struct dir_set *d, const struct task *tasks,
              const char *p)
{
    size_t len = strlen(p);
    return dir_set_has(d, tasks, p, len, XXH3_64bits(p, len));
}

#define CLAIMED (SIZE_MAX - 1)

/*
 * Claim task @i's out_path: CLAIMED when it was free, SIZE_MAX when another
 * output needs it as a directory, else the index of the task holding it.
 */
static size_t
claim(const struct dir_set *dirs, struct out_set *set,
      const struct task *tasks, size_t i)
{
    size_t other;

    if (is_needed_dir(dirs, tasks, tasks[i].out_path))
        return SIZE_MAX;
    other = out_set_claim(set, tasks, i);
    return other == SIZE_MAX ? CLAIMED : other;
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
        t->out_path = strdup(t->path);
        if (!t->out_path) {
            errno = ENOMEM;
            return -1;
        }
    }
    return 0;
}

int
plan_outputs(const struct plan_opts *o, struct scan_list *l)
{
    const char *tmpl = o->name_template ? o->name_template
                                        : default_template(o->format);
    struct dir_map dirs = {0};
    struct out_set set = {0};
    struct dir_set dirset = {0};
    const char *prevdir = NULL;
    size_t prevdirlen = 0;
    struct task *t;
    const char *why, *rel;
    size_t outlen, i, nplan = 0, other;
    int rc = -1;

    if (o->in_place)
        return plan_in_place(l);
    if (!o->output_dir || !*o->output_dir) {
        errno = EINVAL;
        return -1;
    }
    /* Task indices travel as uint32_t (struct task_result.id). */
    if (l->n >= UINT32_MAX) {
        errno = ENOMEM;
        return -1;
    }
    /* "out/" and "out" give the same paths; "/" stays the root. */
    outlen = strlen(o->output_dir);
    while (outlen > 0 && o->output_dir[outlen - 1] == '/')
        outlen--;

    for (i = 0; i < l->n; i++) {
        if (l->tasks[i].pre_status == TASK_OK)
            nplan++;
    }
    if (out_set_init(&set, nplan) < 0)
        goto nomem;

    /*
     * Pass 1: build every path.  An output that is its own input is refused
     * and claims its name first, so that no other input's output may take
     * it, whichever comes first in task order ("b.jpeg" -> "b.jpg" must not
     * replace the input "b.jpg").
     */
    for (i = 0; i < l->n; i++) {
        t = &l->tasks[i];
        if (t->pre_status != TASK_OK)
            continue;
        free(t->out_path);
        rel = t->rel;
        if (!rel) {
            rel = strrchr(t->path, '/');
            rel = rel ? rel + 1 : t->path;
        }
        t->out_path = build_out_path(o->output_dir, outlen, rel, tmpl,
                                     o->format, &why);
        if (!t->out_path) {
            if (!why)
                goto nomem;
            plan_fail(t, ERR_OUTPUT_PATH, why);
            continue;
        }
        if (strncmp(t->out_path + outlen, "/.imgpool/", 10) == 0) {
            /* An input directory named ".imgpool" must not write into
             * the state directory (its database, its lock). */
            plan_fail(t, ERR_OUTPUT_PATH,
                      "output would land in imgpool's own .imgpool "
                      "directory");
            continue;
        }
        if (is_own_input(t, &dirs)) {
            plan_fail(t, ERR_OUTPUT_PATH, MSG_OVERWRITE);
            out_set_claim(&set, l->tasks, i);
        }
    }

    /* The directories every planned output needs. */
    for (i = 0; i < l->n; i++)
        if (l->tasks[i].pre_status == TASK_OK &&
            dir_set_add_parents(&dirset, l->tasks, i, outlen, &prevdir,
                                &prevdirlen) < 0)
            goto nomem;

    /*
     * Pass 2: the first task in order keeps a contested name.  With the
     * default template the later one falls back to "{name}.jpg"
     * ("IMG_1.CR2" -> "IMG_1.CR2.jpg" beside "IMG_1.jpg"), so a folder with
     * a JPEG and a PNG or raw file of the same stem loses nothing.  A name
     * the user chose with --name is never changed behind their back.
     */
    for (i = 0; i < l->n; i++) {
        t = &l->tasks[i];
        if (t->pre_status != TASK_OK)
            continue;
        other = claim(&dirset, &set, l->tasks, i);
        if (other == CLAIMED)
            continue;
        if (!o->name_template &&
            (other == SIZE_MAX || l->tasks[other].pre_status == TASK_OK)) {
            char *alt;
            rel = t->rel ? t->rel : t->out_path;
            alt = build_out_path(o->output_dir, outlen, rel,
                                 fallback_template(o->format), o->format,
                                 &why);
            if (!alt && !why)
                goto nomem;
            if (alt) {
                free(t->out_path);
                t->out_path = alt;
                other = claim(&dirset, &set, l->tasks, i);
                if (other == CLAIMED)
                    continue;
            }
        }
        if (other == SIZE_MAX)
            plan_fail(t, ERR_OUTPUT_CONFLICT, MSG_DIR_CONFLICT);
        else if (l->tasks[other].pre_status == TASK_OK)
            plan_fail(t, ERR_OUTPUT_CONFLICT, MSG_CONFLICT);
        else
            plan_fail(t, ERR_OUTPUT_CONFLICT, MSG_OVERWRITE_OTHER);
    }
    /* Each output also as a path below the output root, for the worker
     * (which opens it from the root's descriptor) and the state. */
    for (i = 0; i < l->n; i++) {
        t = &l->tasks[i];
        t->out_rel = t->out_path ? t->out_path + outlen + 1 : NULL;
    }
    rc = 0;
    goto out;

nomem:
    errno = ENOMEM;
out:
    free(set.slots);
    free(dirset.slots);
    dir_map_release(&dirs);
    return rc;
}

void
plan_shard(const struct plan_opts *o, struct scan_list *l, int k, int n)
{
    size_t outlen = o->output_dir ? strlen(o->output_dir) : 0;
    size_t i, kept = 0;

    for (i = 0; i < l->n; i++) {
        struct task *t = &l->tasks[i];
        const char *key = t->rel ? t->rel : t->path;

        if (!o->in_place && t->out_path &&
            strncmp(t->out_path, o->output_dir, outlen) == 0) {
            key = t->out_path + outlen;
            while (*key == '/')
                key++;
        }
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
