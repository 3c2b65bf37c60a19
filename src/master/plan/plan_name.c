/*
 * plan_name.c - output names: the --name template ({stem} {name} {ext}
 * {fmt} {size} {w} {h}), the default names per format, the path of each
 * output below --output, and with several sizes the outputs after the
 * first (see plan.h).
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dirwalk.h"
#include "hashset.h"
#include "plan.h"
#include "plan_int.h"
#include "util.h"

enum placeholder {
    PH_STEM, PH_NAME, PH_EXT, PH_FMT, PH_SIZE, PH_W, PH_H, PH__COUNT
};

static const char *const placeholder_names[PH__COUNT] = {
    [PH_STEM] = "stem",
    [PH_NAME] = "name",
    [PH_EXT] = "ext",
    [PH_FMT] = "fmt",
    [PH_SIZE] = "size",
    [PH_W] = "w",
    [PH_H] = "h",
};

/* The pieces of one input file name that placeholders expand to. */
struct name_parts {
    const char *name;
    size_t name_len;
    size_t stem_len;      /* the stem is name[0 .. stem_len) */
    const char *ext;      /* without the dot; "" when none */
    size_t ext_len;
    const char *fmt;
    char size[32], w[16], h[16];  /* the box of the output being named */
};

/* Output being built: counts past the end instead of overflowing. */
struct name_buf {
    char *buf;
    size_t size, len;
};

static const char *const default_templates[] = {
    [FORMAT_JPEG] = "{stem}.jpg", [FORMAT_PNG] = "{stem}.png",
    [FORMAT_WEBP] = "{stem}.webp", [FORMAT_AVIF] = "{stem}.avif",
    [FORMAT_JXL] = "{stem}.jxl",
};

static const char *const fallback_templates[] = {
    [FORMAT_JPEG] = "{name}.jpg", [FORMAT_PNG] = "{name}.png",
    [FORMAT_WEBP] = "{name}.webp", [FORMAT_AVIF] = "{name}.avif",
    [FORMAT_JXL] = "{name}.jxl",
};

const char *
plan_default_template(enum out_format fmt)
{
    return default_templates[fmt];
}

/* The default template's second choice when two inputs share a stem. */
const char *
plan_fallback_template(enum out_format fmt)
{
    return fallback_templates[fmt];
}

/* Several sizes under a default template: each size in its own
 * directory, "<size>/" before the mirrored path. */
static int
is_plan_default_template(const char *tmpl, enum out_format fmt)
{
    return strcmp(tmpl, plan_default_template(fmt)) == 0 ||
           strcmp(tmpl, plan_fallback_template(fmt)) == 0;
}

/* The box of output @k for naming: that of @outs[k], else the one box
 * of plan_expand_name() (0x0: "full"). */
static struct settings_size
size_of(const struct settings *outs, int nsizes, int k)
{
    struct settings_size z = { 0, 0 };

    if (outs && k < nsizes) {
        z.width = outs[k].width;
        z.height = outs[k].height;
    }
    return z;
}

static void
name_set_size(struct name_parts *np, const struct settings_size *z)
{
    settings_size_label(z, np->size, sizeof(np->size));
    snprintf(np->w, sizeof(np->w), "%d", z->width);
    snprintf(np->h, sizeof(np->h), "%d", z->height);
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
    name_set_size(np, &(struct settings_size){ 0, 0 });
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
                       "(known: {stem} {name} {ext} {fmt} {size} {w} {h})";
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
                case PH_SIZE:
                    name_buf_put(b, np->size, strlen(np->size));
                    break;
                case PH_W:
                    name_buf_put(b, np->w, strlen(np->w));
                    break;
                case PH_H:
                    name_buf_put(b, np->h, strlen(np->h));
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
            const struct settings_size *box, char *buf, size_t size,
            const char **why)
{
    struct name_parts np;
    struct name_buf b = {buf, size, 0};

    if (!tmpl)
        tmpl = plan_default_template(fmt);
    name_split(name, fmt, &np);
    if (box)
        name_set_size(&np, box);
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

    return expand_name(tmpl, name, fmt, NULL, buf, size, &why);
}

int
plan_expand_name_size(const char *tmpl, const char *name,
                      enum out_format fmt, const struct settings_size *box,
                      char *buf, size_t size)
{
    const char *why;

    return expand_name(tmpl, name, fmt, box, buf, size, &why);
}

int
plan_template_has_size(const char *tmpl)
{
    int w = strstr(tmpl, "{w}") != NULL, h = strstr(tmpl, "{h}") != NULL;

    if (strstr(tmpl, "{size}") || (w && h))
        return 2;
    return w || h;
}

int
plan_size_names_equal(const char *tmpl, const struct settings_size *a,
                      const struct settings_size *b)
{
    char na[NAME_MAX + 1], nb[NAME_MAX + 1];

    if (plan_expand_name_size(tmpl, "x.y", FORMAT_JPEG, a, na,
                              sizeof(na)) < 0 ||
        plan_expand_name_size(tmpl, "x.y", FORMAT_JPEG, b, nb,
                              sizeof(nb)) < 0)
        return 0;
    return strcmp(na, nb) == 0;
}

/* ---- output paths ---- */

/*
 * Build "@outdir/<directories of @rel>/<name>" for output @k (its box
 * names it: {size} {w} {h}, its box outs[k]'s, or 0x0 without @outs;
 * with several sizes (@nsizes > 1) under a default template,
 * "@outdir/<size>/<directories of @rel>/<name>") into a new string.  Empty
 * and "." components of @rel are dropped, so no "//" appears; a ".."
 * component or a leading '/' is refused.  Returns the string (caller
 * frees), or NULL with *why set, or NULL with *why NULL when out of memory.
 */
char *
plan_build_out_path(const char *outdir, size_t outlen, const char *rel,
                    const char *tmpl, enum out_format fmt,
                    const struct settings *outs, int nsizes, int k,
                    const char **why)
{
    char name[NAME_MAX + 1], dir[48] = "";
    struct settings_size box = size_of(outs, nsizes, k);
    const char *base = strrchr(rel, '/');
    const char *p, *end;
    char *out, *o;
    size_t n, dirlen;
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
    namelen = expand_name(tmpl, base, fmt, &box, name, sizeof(name), why);
    if (namelen < 0)
        return NULL;
    if (outs && nsizes > 1 &&
        is_plan_default_template(tmpl ? tmpl : plan_default_template(fmt), fmt)) {
        dir[0] = '/';
        settings_size_label(&box, dir + 1, sizeof(dir) - 1);
    }
    dirlen = strlen(dir);

    out = xmalloc(outlen + dirlen + (size_t)(base - rel) + 1 +
                  (size_t)namelen + 1);
    memcpy(out, outdir, outlen);
    memcpy(out + outlen, dir, dirlen);
    o = out + outlen + dirlen;
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
 * Where the outputs of @t go below: "@outdir/<root name>" when its INPUT
 * has a directory of its own (several INPUTs, plan_root_dirs()), as for
 * its first output (plan.c), else @outdir.  *len is the prefix's length;
 * free *owned after use.
 */
static const char *
root_prefix(const struct plan_opts *po, size_t outlen, const struct task *t,
            size_t *len, char **owned)
{
    const char *name = NULL;
    size_t n;

    *owned = NULL;
    *len = outlen;
    if (po->root_dirs && t->root_index >= 0 &&
        (size_t)t->root_index < po->nroot_dirs)
        name = po->root_dirs[t->root_index];
    if (!name)
        return po->output_dir;
    n = outlen + 1 + strlen(name) + 1;
    *owned = xmalloc(n);
    memcpy(*owned, po->output_dir, outlen);
    snprintf(*owned + outlen, n - outlen, "/%s", name);
    *len = n - 1;
    return *owned;
}

/*
 * Several sizes: append the out_rel of outputs 1 .. n-1 of @t to its
 * out_path allocation (t->out_more, see task.h), named with @tmpl, or the
 * fallback template when that is what named its first output.  0, or -1
 * with *why set (the task keeps its one output), or -1 with *why NULL when
 * out of memory.
 */
static int
add_more_outputs(const struct plan_opts *po, size_t outlen, struct task *t,
                 const char *tmpl, const char **why)
{
    const char *rel = t->rel, *dir;
    char *more[SETTINGS_MAX_SIZES], *first, *out, *owned;
    size_t len[SETTINGS_MAX_SIZES], total, dirlen,
        pathlen = strlen(t->out_path);
    int k, n = po->nsizes, rc = -1;

    if (!rel) {
        rel = strrchr(t->path, '/');
        rel = rel ? rel + 1 : t->path;
    }
    /* Every size of a root's file goes below that root's directory, the
     * size directory (default template) after it: DIR/<root>/<size>/. */
    dir = root_prefix(po, outlen, t, &dirlen, &owned);
    first = plan_build_out_path(dir, dirlen, rel, tmpl, po->format,
                                po->outs, po->nsizes, 0, why);
    if (first && strcmp(first, t->out_path) != 0 && !po->name_template)
        tmpl = plan_fallback_template(po->format);
    free(first);
    total = pathlen + 2;
    memset(more, 0, sizeof(more));
    for (k = 1; k < n; k++) {
        more[k] = plan_build_out_path(dir, dirlen, rel, tmpl, po->format,
                                      po->outs, po->nsizes, k, why);
        if (!more[k])
            goto out;
        len[k] = strlen(more[k]) - outlen - 1;
        total += len[k] + 1;
    }
    out = xrealloc(t->out_path, total);
    t->out_path = out;
    t->out_rel = out + outlen + 1;
    out += pathlen + 1;
    t->out_more = out;
    for (k = 1; k < n; k++) {
        memcpy(out, more[k] + outlen + 1, len[k] + 1);
        out += len[k] + 1;
    }
    *out = '\0';
    rc = 0;
out:
    for (k = 1; k < n; k++)
        free(more[k]);
    free(owned);
    return rc;
}

/* Every output of the several-size tasks, for the collision check. */
struct out_key {
    const char *rel;
    uint32_t task;
};

static int
out_key_eq(uint32_t value, const void *key, void *ctx)
{
    const struct out_key *keys = ctx;

    return strcmp(keys[value].rel, key) == 0;
}

/*
 * The names of the other sizes were not part of the claims: a task one of
 * whose outputs another task (earlier in order) also writes fails with
 * ERR_OUTPUT_CONFLICT, as a first output would.  0, or -1 when out of
 * memory.
 */
static int
check_more_outputs(struct scan_list *l)
{
    struct out_key *keys = NULL;
    struct hashset set;
    size_t i, n = 0, alloc = 0;
    uint32_t old;
    const char *rel;
    int k, rc = 0;

    hashset_init(&set);
    for (i = 0; i < l->n && rc == 0; i++) {
        struct task *t = &l->tasks[i];

        if (t->pre_status != TASK_OK || !t->out_rel)
            continue;
        for (k = 0; (rel = task_out_rel(t, k)) != NULL && rc == 0; k++) {
            if (n == alloc) {
                struct out_key *v;

                alloc = alloc ? 2 * alloc : 256;
                v = xrealloc(keys, alloc * sizeof(*v));
                keys = v;
            }
            keys[n].rel = rel;
            keys[n].task = (uint32_t)i;
            rc = hashset_insert(&set, hashset_hash(rel, strlen(rel)),
                                (uint32_t)n, rel, out_key_eq, keys, &old);
            if (rc == HASHSET_PRESENT && keys[old].task != i) {
                t->pre_status = TASK_FAILED;
                t->pre_class = ERR_OUTPUT_CONFLICT;
                t->pre_msg = "an output name collides with another "
                             "input's output";
                rc = 0;
                break;
            }
            if (rc == HASHSET_ADDED)
                n++;
            rc = rc < 0 ? -1 : 0;
        }
    }
    hashset_release(&set);
    free(keys);
    if (rc < 0)
        errno = ENOMEM;
    return rc;
}

int
plan_more_outputs(const struct plan_opts *po, struct scan_list *l)
{
    const char *tmpl, *why;
    size_t i, outlen;

    if (po->in_place || !po->outs || po->nsizes < 2)
        return 0;
    tmpl = po->name_template ? po->name_template
                             : plan_default_template(po->format);
    outlen = dirwalk_prefix_len(po->output_dir);
    for (i = 0; i < l->n; i++) {
        struct task *t = &l->tasks[i];

        if (t->pre_status != TASK_OK || !t->out_path || !t->out_rel)
            continue;
        if (add_more_outputs(po, outlen, t, tmpl, &why) == 0)
            continue;
        if (!why) {
            errno = ENOMEM;
            return -1;
        }
        t->pre_status = TASK_FAILED;
        t->pre_class = ERR_OUTPUT_PATH;
        t->pre_msg = why;
    }
    return check_more_outputs(l);
}

