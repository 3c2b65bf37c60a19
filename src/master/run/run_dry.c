/*
 * run_dry.c - the lines of a dry run and the size estimate.  See
 * run_dry.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "geom.h"
#include "msg.h"
#include "run_dry.h"
#include "thumbcache.h"
#include "sniff.h"
#include "taskopen.h"

/* Bytes of the header read for the estimate: enough for a JPEG's EXIF
 * and ICC segments before its frame header in nearly every file. */
#define HEAD_BYTES 65536

/* The input's pixel size from its header: 0, or -1 when unknown.  *q is
 * a JPEG's estimated quality, 0 for other formats.  The file is reached
 * from its root like a worker reaches it (taskopen.h), never by its path
 * string: a link planted in the tree since the scan is not followed. */
static int
header_size(const struct task *t, int *w, int *h, int *q)
{
    static unsigned char buf[HEAD_BYTES];
    enum taskopen_step step;
    struct jpeg_info ji;
    ssize_t got = 0, r;
    int fd = taskopen_file(t, &step);

    *q = 0;
    if (fd < 0)
        return -1;
    while (got < (ssize_t)sizeof(buf)) {
        r = read(fd, buf + got, sizeof(buf) - (size_t)got);
        if (r <= 0)
            break;
        got += r;
    }
    close(fd);
    switch (sniff_format(buf, (size_t)got)) {
    case IMGF_JPEG:
        if (sniff_jpeg_info(buf, (size_t)got, &ji) < 0)
            return -1;
        *q = sniff_jpeg_quality(&ji);
        if (*q <= 0)
            *q = 90;
        *w = ji.width;
        *h = ji.height;
        if (ji.orientation >= 5) {
            *w = ji.height;
            *h = ji.width;
        }
        return 0;
    case IMGF_PNG:
        return sniff_png_size(buf, (size_t)got, w, h);
    case IMGF_GIF:
        return sniff_gif_size(buf, (size_t)got, w, h);
    default:
        return -1;
    }
}

/*
 * A JPEG's size at quality @q relative to quality 50, for the same
 * picture: measured on photographs and wallpapers re-encoded by libvips
 * (4:2:0 and 4:4:4 alike), interpolated linearly.
 */
static double
jpeg_rel_size(int q)
{
    static const struct { int q; double size; } at[] = {
        {1, 0.1}, {50, 1.0}, {75, 1.45}, {85, 1.95}, {90, 2.5},
        {95, 3.7}, {97, 7.5}, {98, 8.5}, {100, 9.0},
    };
    size_t i;

    for (i = 1; i < sizeof(at) / sizeof(at[0]); i++)
        if (q <= at[i].q)
            return at[i - 1].size + (at[i].size - at[i - 1].size) *
                                        (q - at[i - 1].q) /
                                        (at[i].q - at[i - 1].q);
    return at[i - 1].size;
}

/* Re-encoding a JPEG at or above its own quality adds about this much:
 * its blocking is coded again, no detail comes back. */
#define REENCODE_GROWTH 1.12
#define JENC_REL_SIZE 0.5

int64_t
run_dry_estimate(const struct settings *s, const struct task *t)
{
    struct geom_box box;
    int iw, ih, ow, oh, q_src;
    double px, bytes;

    if (header_size(t, &iw, &ih, &q_src) < 0 || iw <= 0 || ih <= 0)
        return t->size;
    box = geom_box_of(s);
    geom_fit(&box, iw, ih, &ow, &oh);
    px = (double)ow * (double)oh;
    if (s->target != TARGET_IN_PLACE && s->format == FORMAT_PNG)
        bytes = px * 2.0;
    else if (q_src > 0 && t->size > 0)
        /* From the source's own bytes: they say how detailed it is. */
        bytes = (double)t->size * px / ((double)iw * (double)ih) *
                (q_src > s->quality
                     ? jpeg_rel_size(s->quality) / jpeg_rel_size(q_src)
                     : REENCODE_GROWTH);
    else
        bytes = px * 0.3 * jpeg_rel_size(s->quality) / jpeg_rel_size(90);
    /* --effort best writes JPEGs this much smaller at the same -q when
     * it brings the quality down (measured as jpeg_rel_size() was,
     * docs/ENCODER.md); a re-encode at or above the source's quality
     * stays near the source's size with either encoder. */
    if ((s->target == TARGET_IN_PLACE || s->format == FORMAT_JPEG) &&
        s->effort == EFFORT_BEST && !(q_src > 0 && q_src <= s->quality))
        bytes *= JENC_REL_SIZE;
    /* recompress -o copies a JPEG at or below -q whose re-encode is not
     * smaller (kept-original, worker keep.h): the output is the source. */
    if (q_src > 0 && q_src <= s->quality && bytes > (double)t->size &&
        s->mode == MODE_RECOMPRESS && s->target == TARGET_TREE && !s->force &&
        !(s->target_distance > 0) &&
        !s->strip && !s->lossless && s->format == FORMAT_JPEG &&
        !t->out_more && ow == iw && oh == ih)
        bytes = (double)t->size;
    return bytes < 1 ? 1 : (int64_t)bytes;
}

void
run_dry_settle(const struct settings *s, const struct task *t, uint32_t id,
               struct task_result *res)
{
    task_result_set(res, id, TASK_SKIPPED, ERR_DRY_RUN, "would write '%s'",
                    t->out_path ? t->out_path : t->path);
    res->in_bytes = t->size;
    res->out_bytes = run_dry_estimate(s, t);
}

/* @s as every listing spells it (msg_escape()). */
static void
put_escaped(FILE *f, const char *s)
{
    char *e = msg_escape(s);

    fputs(e ? e : "(out of memory)", f);
    free(e);
}

void
run_dry_line(FILE *f, const struct run_config *c, const struct task *t,
             const struct task_result *res)
{
    const struct commit_settings *s = &c->commit;
    int would = res->status == TASK_SKIPPED &&
                res->err_class == ERR_DRY_RUN;

    if (would && s->in_place) {
        fputs("replace ", f);
        put_escaped(f, t->path);
        fprintf(f, " (%lld -> %lld bytes)\n", (long long)res->in_bytes,
                (long long)res->out_bytes);
        return;
    }
    fputs(would ? "write " : res->status == TASK_FAILED ? "fail " : "skip ",
          f);
    put_escaped(f, t->path);
    if (t->out_rel && t->out_path) {
        fputs(" -> ", f);
        put_escaped(f, t->out_path);
    } else if (s->fd_flavors && s->output_dir) {
        /* --freedesktop: the names are the MD5 of the file's URI, which
         * the worker computes; the listing says where and which sizes. */
        fputs(" -> ", f);
        put_escaped(f, s->output_dir);
        fputs(" (", f);
        for (int k = 0, first = 1; k < THUMBCACHE__COUNT; k++)
            if (s->fd_flavors & (1u << k)) {
                fprintf(f, "%s%s", first ? "" : ", ",
                        thumbcache_flavor_name((enum thumbcache_flavor)k));
                first = 0;
            }
        fputc(')', f);
    }
    if (would) {
        if (c->out[0].mode == MODE_RECOMPRESS)
            fprintf(f, " (~%lld bytes)", (long long)res->out_bytes);
        fputc('\n', f);
        return;
    }
    fprintf(f, ": %s", err_class_str((enum err_class)res->err_class));
    if (res->message[0]) {
        fputs(": ", f);
        put_escaped(f, res->message);
    }
    fputc('\n', f);
}
