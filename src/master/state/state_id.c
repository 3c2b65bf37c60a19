/*
 * state_id.c - the identities the state database compares: which input an
 * output was made from (its absolute path, from the realpath of its INPUT
 * root) and which settings made it (the fingerprint).  See state.h.
 */
#include <limits.h>
#include <math.h>
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
 * The settings are serialised field by field, in a fixed order, as
 * little-endian 32-bit integers (booleans as 0/1), behind a tag and
 * STATE_PIPELINE_VERSION, and hashed with XXH3-64.  Struct bytes are never
 * hashed directly: padding and enum sizes are not canonical.
 *
 * In (each changes the bytes of an output):
 *   mode, width, height, fit, upscale  - geometry and pipeline;
 *   quality, format, subsample         - the encoder (target_distance
 *                                        instead of quality when given);
 *   background                         - the flattening colour for alpha;
 *   strip                              - metadata kept or dropped;
 *   fail_on                            - a damaged input yields an output
 *                                        (grey-filled) only when lenient;
 *   allow_untrusted                    - outputs decoded by loaders libvips
 *                                        marks untrusted are redone (or
 *                                        refused) once the user withdraws
 *                                        that trust;
 *   progressive, lossless, the boxes   - the encoder and the other outputs
 *   after the first                      (only when set: a run without
 *                                        them keeps its old fingerprint).
 * Out:
 *   output_dir  - where outputs go, not what they are (and it is the
 *                 database's location anyway);
 *   max_pixels  - a resource guard for the run: it decides whether a file
 *                 is attempted, never what an attempted file becomes, and
 *                 an existing output was made safely already;
 *   fast_jpeg   - the fast path and libvips implement the same settings
 *                 and agree on geometry to the pixel, but their encoded
 *                 bytes differ slightly.  Which path a file takes depends
 *                 on the file too (ICC, CMYK), so the flag is an
 *                 implementation choice, not part of what was asked for;
 *                 toggling --no-fast-path (e.g. to compare) should not
 *                 redo a whole tree.  A fix that changes either path's
 *                 output bumps STATE_PIPELINE_VERSION instead.
 * Values are taken as given, not normalised (e.g. quality with PNG
 * output): an irrelevant change costs a redo, a wrong normalisation would
 * cost a wrong skip.
 */
uint64_t
state_fingerprint(const struct settings *s)
{
    static const char tag[] = "imgpool-settings";
    unsigned char buf[128 + 12 * SETTINGS_MAX_SIZES];
    size_t n = 0;

    memcpy(buf, tag, sizeof(tag));
    n += sizeof(tag);
    n = put_u32(buf, n, STATE_PIPELINE_VERSION);
    n = put_u32(buf, n, (uint32_t)s->mode);
    n = put_u32(buf, n, (uint32_t)s->width);
    n = put_u32(buf, n, (uint32_t)s->height);
    n = put_u32(buf, n, (uint32_t)s->fit);
    n = put_u32(buf, n, s->upscale != 0);
    /* --target-distance replaces -q (the quality is chosen per image). */
    if (s->target_distance > 0) {
        n = put_u32(buf, n, 0x6c6f6f6b);    /* "look" */
        n = put_u32(buf, n, (uint32_t)lround(s->target_distance * 1000));
    } else {
        n = put_u32(buf, n, (uint32_t)s->quality);
    }
    n = put_u32(buf, n, (uint32_t)s->format);
    n = put_u32(buf, n, (uint32_t)s->subsample);
    n = put_u32(buf, n, s->background[0]);
    n = put_u32(buf, n, s->background[1]);
    n = put_u32(buf, n, s->background[2]);
    n = put_u32(buf, n, s->strip != 0);
    n = put_u32(buf, n, (uint32_t)s->fail_on);
    n = put_u32(buf, n, s->allow_untrusted != 0);
    /* Added later, and only when not the default, so that the fingerprint
     * of a run without them (and its up-to-date outputs) stays as it was. */
    if (s->progressive || s->lossless) {
        n = put_u32(buf, n, 0x70726f67);    /* "prog" */
        n = put_u32(buf, n, s->progressive != 0);
        n = put_u32(buf, n, s->lossless != 0);
    }
    if (s->baseline)
        n = put_u32(buf, n, 0x62617365);    /* "base" */
    /* Alpha changes only outputs that can carry it (a JPEG always
     * flattens); the SVG density counts only when not the default 96, so
     * that runs without it keep their fingerprint (an SVG thumbnail an
     * earlier version drew at 72 dpi is then taken as current). */
    if (settings_keep_alpha(s) && (s->format == FORMAT_PNG ||
                                   s->format == FORMAT_WEBP ||
                                   s->format == FORMAT_AVIF))
        n = put_u32(buf, n, 0x616c7068);    /* "alph" */
    if (s->density != 96) {
        n = put_u32(buf, n, 0x64656e73);    /* "dens" */
        n = put_u32(buf, n, (uint32_t)s->density);
    }
    for (int k = 1; k < s->nsizes && k < SETTINGS_MAX_SIZES; k++) {
        n = put_u32(buf, n, (uint32_t)s->sizes[k].width);
        n = put_u32(buf, n, (uint32_t)s->sizes[k].height);
        n = put_u32(buf, n, 0x73697a65);    /* "size" */
    }
    return XXH3_64bits(buf, n);
}
