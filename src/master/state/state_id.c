/*
 * state_id.c - the identities the state database compares: which input an
 * output was made from (its absolute path, from the realpath of its INPUT
 * root) and which settings made it (the fingerprint).  See state.h.
 */
#include <limits.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <xxhash.h>

#include "msg.h"
#include "settings.h"
#include "state.h"
#include "util.h"

/* Bump when a code change alters the bytes of outputs: every recorded
 * output then has a different fingerprint and is redone once. */
#define STATE_PIPELINE_VERSION 1

void
state_roots_init(struct state_roots *r, const char *const *inputs, size_t n)
{
    size_t i;

    r->n = n;
    r->abs = xcalloc(n + 1, sizeof(*r->abs));
    r->is_dir = xcalloc(n + 1, sizeof(*r->is_dir));
    for (i = 0; i < n; i++) {
        struct stat sb;
        r->abs[i] = realpath(inputs[i], NULL);
        r->is_dir[i] = stat(inputs[i], &sb) == 0 && S_ISDIR(sb.st_mode);
    }
    r->cwd = getcwd(NULL, 0);
}

void
state_roots_release(struct state_roots *r)
{
    size_t i;

    for (i = 0; r->abs && i < r->n; i++)
        free(r->abs[i]);
    free(r->abs);
    free(r->is_dir);
    free(r->cwd);
    memset(r, 0, sizeof(*r));
}

const char *
state_input_abs(const struct state_roots *r, const struct task *t, char *buf,
                size_t size)
{
    const char *root = t->root_index >= 0 && (size_t)t->root_index < r->n
                           ? r->abs[t->root_index] : NULL;
    int n;

    if (root && !r->is_dir[t->root_index])
        return root;
    if (root)
        n = snprintf(buf, size, "%s%s%s", root,
                     root[strlen(root) - 1] == '/' ? "" : "/", t->rel);
    else if (t->path[0] == '/')
        n = snprintf(buf, size, "%s", t->path);
    else if (r->cwd)
        n = snprintf(buf, size, "%s/%s", r->cwd, t->path);
    else
        return NULL;
    return n > 0 && (size_t)n < size ? buf : NULL;
}

size_t
state_skip_up_to_date(struct state *st, const struct state_roots *r,
                      struct task *tasks, size_t n, uint64_t fingerprint)
{
    char buf[PATH_MAX * 2];
    size_t i, skipped = 0;

    for (i = 0; i < n; i++) {
        struct task *t = &tasks[i];
        const char *abs;

        if (t->pre_status != TASK_OK)
            continue;
        abs = state_input_abs(r, t, buf, sizeof(buf));
        if (abs && state_up_to_date(st, t, abs, fingerprint)) {
            t->pre_status = TASK_SKIPPED;
            t->pre_class = ERR_UP_TO_DATE;
            t->pre_msg = "output is up to date";
            skipped++;
        }
    }
    return skipped;
}

int
state_record_task(struct state *st, const struct state_roots *r,
                  const struct task *t, uint64_t fingerprint)
{
    char buf[PATH_MAX * 2];
    const char *abs = state_input_abs(r, t, buf, sizeof(buf));

    if (!abs) {
        warnf("cannot record '%s' in the state database: its absolute "
              "path is unknown", t->path);
        return -1;
    }
    return state_record(st, t, abs, fingerprint);
}

int
state_prune_roots(struct state *st, const struct state_roots *r,
                  void (*cb)(void *data, const char *out), void *data)
{
    const char **scope = xcalloc(r->n + 1, sizeof(*scope));
    size_t i, n = 0;
    int rc = 0;

    for (i = 0; i < r->n; i++)
        if (r->abs[i])
            scope[n++] = r->abs[i];
    if (n)
        rc = state_prune(st, scope, n, cb, data);
    free(scope);
    return rc;
}

/* ------------------------------------------------------------------------
 * Fingerprint
 */

static size_t
put_u32(unsigned char *buf, size_t n, uint32_t v)
{
    buf[n] = (unsigned char)v;
    buf[n + 1] = (unsigned char)(v >> 8);
    buf[n + 2] = (unsigned char)(v >> 16);
    buf[n + 3] = (unsigned char)(v >> 24);
    return n + 4;
}

/*
 * The pixel settings are serialised field by field, in the order of
 * SETTINGS_FIELDS (settings.h), as little-endian 32-bit integers (booleans
 * as 0/1), behind a tag and STATE_PIPELINE_VERSION, and hashed with
 * XXH3-64.  Struct bytes are never hashed directly: padding and enum sizes
 * are not canonical.  The commit settings (struct commit_settings: where
 * outputs go, fsync, dry run, in place) are never part of it.
 *
 * Each field's class (settings.h) says how it goes in:
 *   U32, BOOL, RGB   always: mode, the box, fit, upscale (geometry and
 *                    pipeline); format, subsample (the encoder);
 *                    background (the flattening colour); strip (metadata
 *                    kept or dropped); fail_on (a damaged input yields an
 *                    output, grey-filled, only when lenient);
 *                    allow_untrusted (outputs of loaders libvips marks
 *                    untrusted are redone, or refused, once the user
 *                    withdraws that trust);
 *   QUALITY          -q, or in its place (behind a tag) the
 *                    --target-distance when given (the quality is then
 *                    chosen per image); BY_QUALITY: hashed by that entry;
 *   PROG, BASE, EFFORT, FORCE, ALPHA, DENSITY
 *                    added later, and only when not the default, so that
 *                    the fingerprint of a run without them (and its
 *                    up-to-date outputs) stays as it was: progressive and
 *                    lossless, baseline, --effort best (imgpool's own
 *                    JPEG encoder), force with -o (the re-encode
 *                    instead of kept-original), alpha kept (changes only outputs
 *                    that can carry it), the SVG density (an SVG thumbnail
 *                    an earlier version drew at 72 dpi is then current);
 *   OFF              never:
 *     target      - only runs writing an output tree keep a database, and
 *                   for them it is always TARGET_TREE;
 *     max_pixels  - a resource guard for the run: it decides whether a
 *                   file is attempted, never what an attempted file
 *                   becomes, and an existing output was made safely;
 *     fast_jpeg   - the fast path and libvips implement the same settings
 *                   and agree on geometry to the pixel, but their encoded
 *                   bytes differ slightly.  Which path a file takes
 *                   depends on the file too (ICC, CMYK), so the flag is an
 *                   implementation choice, not part of what was asked for;
 *                   toggling --no-fast-path (e.g. to compare) should not
 *                   redo a whole tree.  A fix that changes either path's
 *                   output bumps STATE_PIPELINE_VERSION instead;
 *     strip_gps, to_srgb
 *                 - recompress --in-place only, which keeps no database.
 * Then the boxes of the outputs after the first (only with several sizes:
 * a run of one keeps its old fingerprint).
 * Values are taken as given, not normalised (e.g. quality with PNG
 * output): an irrelevant change costs a redo, a wrong normalisation would
 * cost a wrong skip.
 */

/* One constant per class: a field whose class is not one of these fails
 * the build (state_fingerprint_classes below). */
enum {
    SETTINGS_CLASS_U32, SETTINGS_CLASS_QUALITY, SETTINGS_CLASS_BY_QUALITY,
    SETTINGS_CLASS_BOOL, SETTINGS_CLASS_RGB,
    SETTINGS_CLASS_PROG, SETTINGS_CLASS_BY_PROG, SETTINGS_CLASS_BASE,
    SETTINGS_CLASS_EFFORT, SETTINGS_CLASS_FORCE, SETTINGS_CLASS_ALPHA, SETTINGS_CLASS_DENSITY, SETTINGS_CLASS_OFF,
};
#define CLASS_KNOWN_(type, name, class)                                     \
    _Static_assert(SETTINGS_CLASS_##class >= 0,                             \
                   "settings field '" #name "' needs a hashing class");
SETTINGS_FIELDS(CLASS_KNOWN_)
#undef CLASS_KNOWN_

/* The same fields, declared again from the list alone: struct settings
 * holds nothing the list does not (a field added to the struct by hand
 * would change its size or the offset of the last field). */
struct settings_listed_ {
#define LISTED_(type, name, class) type name;
    SETTINGS_FIELDS(LISTED_)
#undef LISTED_
};
_Static_assert(sizeof(struct settings_listed_) == sizeof(struct settings),
               "struct settings has a field outside SETTINGS_FIELDS");
_Static_assert(offsetof(struct settings_listed_, to_srgb) ==
               offsetof(struct settings, to_srgb),
               "struct settings has a field outside SETTINGS_FIELDS");

/* Each class's bytes, appended to @buf at @n: the new length. */
#define HASH_U32(s, f, buf, n) n = put_u32(buf, n, (uint32_t)(s)->f)
#define HASH_QUALITY(s, f, buf, n)                                          \
    do {                                                                    \
        if ((s)->target_distance > 0) {                                     \
            n = put_u32(buf, n, 0x6c6f6f6b);        /* "look" */            \
            n = put_u32(buf, n,                                             \
                        (uint32_t)lround((s)->target_distance * 1000));     \
        } else {                                                            \
            n = put_u32(buf, n, (uint32_t)(s)->f);                          \
        }                                                                   \
    } while (0)
#define HASH_BY_QUALITY(s, f, buf, n) (void)(s)->f
#define HASH_BOOL(s, f, buf, n) n = put_u32(buf, n, (s)->f != 0)
#define HASH_RGB(s, f, buf, n)                                              \
    do {                                                                    \
        for (int i_ = 0; i_ < 3; i_++)                                      \
            n = put_u32(buf, n, (s)->f[i_]);                                \
    } while (0)
#define HASH_PROG(s, f, buf, n)                                             \
    do {                                                                    \
        if ((s)->f || (s)->lossless) {                                      \
            n = put_u32(buf, n, 0x70726f67);        /* "prog" */            \
            n = put_u32(buf, n, (s)->f != 0);                               \
            n = put_u32(buf, n, (s)->lossless != 0);                        \
        }                                                                   \
    } while (0)
#define HASH_BY_PROG(s, f, buf, n) (void)(s)->f
#define HASH_BASE(s, f, buf, n)                                             \
    do {                                                                    \
        if ((s)->f)                                                         \
            n = put_u32(buf, n, 0x62617365);        /* "base" */            \
    } while (0)
/* recompress -o --force: the re-encode even where the source would have
 * been kept (kept-original, keep.h); in place keeps no database. */
/* --effort best: imgpool's own JPEG encoder instead of the default. */
#define HASH_EFFORT(s, f, buf, n)                                           \
    do {                                                                    \
        if ((s)->f != EFFORT_FAST)                                          \
            n = put_u32(buf, n, 0x62657374);        /* "best" */            \
    } while (0)
#define HASH_FORCE(s, f, buf, n)                                            \
    do {                                                                    \
        if ((s)->f && (s)->mode == MODE_RECOMPRESS &&                       \
            (s)->target == TARGET_TREE)                                     \
            n = put_u32(buf, n, 0x666f7263);        /* "forc" */            \
    } while (0)
#define HASH_ALPHA(s, f, buf, n)                                            \
    do {                                                                    \
        if (settings_keep_alpha(s))                                         \
            n = put_u32(buf, n, 0x616c7068);        /* "alph" */            \
    } while (0)
#define HASH_DENSITY(s, f, buf, n)                                          \
    do {                                                                    \
        if ((s)->f != 96) {                                                 \
            n = put_u32(buf, n, 0x64656e73);        /* "dens" */            \
            n = put_u32(buf, n, (uint32_t)(s)->f);                          \
        }                                                                   \
    } while (0)
#define HASH_OFF(s, f, buf, n) (void)(s)->f

uint64_t
state_fingerprint(const struct settings *out, int nsizes)
{
    static const char tag[] = "imgpool-settings";
    unsigned char buf[128 + 12 * SETTINGS_MAX_SIZES];
    const struct settings *s = &out[0];
    size_t n = 0;

    memcpy(buf, tag, sizeof(tag));
    n += sizeof(tag);
    n = put_u32(buf, n, STATE_PIPELINE_VERSION);
#define HASH_FIELD_(type, name, class) HASH_##class(s, name, buf, n);
    SETTINGS_FIELDS(HASH_FIELD_)
#undef HASH_FIELD_
    for (int k = 1; k < nsizes && k < SETTINGS_MAX_SIZES; k++) {
        n = put_u32(buf, n, (uint32_t)out[k].width);
        n = put_u32(buf, n, (uint32_t)out[k].height);
        n = put_u32(buf, n, 0x73697a65);    /* "size" */
    }
    return XXH3_64bits(buf, n);
}
