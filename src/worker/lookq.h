/*
 * lookq.h - --target-distance D: the JPEG quality of one output chosen
 * per image, the lowest whose distance to the pixels the encoder gets
 * (after colour conversion and resize) stays within D on butteraugli's
 * 3-norm scale (distance.h).  Worker code only.
 *
 * The search encodes a sample, not the image: up to LOOKQ_TILES tiles of
 * LOOKQ_TILE pixels on a grid over the image, on 16-pixel boundaries so
 * that each tile's DCT blocks are those of the whole image's encode
 * (images up to LOOKQ_WHOLE pixels are their own sample).  Each trial
 * encodes the sample through encode.h at one quality, decodes it and
 * predicts butteraugli with the fast model (distance_fast_tiles(), the
 * reference's side computed once a search); the next quality comes from
 * a safeguarded secant on ln(distance) over the bracket so far.  A 4:2:0
 * trial far above D tries Q100 next, and when even that misses, the
 * search goes on at 4:4:4.  The lowest quality predicted within the aim
 * is checked with libjxl's butteraugli on the same decoded sample, which
 * scales the model for this image; the rescaled model moves the choice
 * in the trials left, and a choice moved more than a few qualities from
 * the check is checked again.  At most LOOKQ_MAX_ENCODES encodes per
 * output, the output's own included.
 *
 * Call sequence, per task: lookq_begin(res, quality estimated for the
 * source or -1); per output: lookq_choose() before the encode (it reads the
 * pixels once and hands back a row source or an in-memory image to
 * encode instead), the output encoded from lq.rows or lq.image with
 * lq.params, lookq_release().  In place (commit.h's as_stored): the
 * same on the pixels as stored, lookq_marked() before the decode and
 * lookq_mark() on the encoded bytes before the commit.
 */
#ifndef IMGPOOL_LOOKQ_H
#define IMGPOOL_LOOKQ_H

#include "encode.h"
#include "input.h"
#include "settings.h"
#include "task.h"

#define LOOKQ_MAX_ENCODES 6
#define LOOKQ_TILE 128
#define LOOKQ_TILES 8
#define LOOKQ_WHOLE (512 * 512)
/* The lowest quality tried (the bounds of D: settings.h). */
#define LOOKQ_Q_MIN 20

struct lookq {
    struct encode_params params;    /* @p with the chosen quality */
    struct encode_rows rows;        /* the pixels read, to encode from */
    struct _VipsImage *image;       /* or the image in memory (held by the
                                       caller's parent object) */
    unsigned char *px;              /* the pixels, 3 bands (owned, or
                                       the memory of image when px_own
                                       is 0) */
    int px_own;
    int width, height;
    size_t stride;
};

/* A new task: the look_* fields of @res cleared, and the quality
 * estimated for its source (sniff_jpeg_quality()), or -1, kept: the
 * search starts near it. */
void lookq_begin(struct task_result *res, int source_quality);

/*
 * Choose the quality for @p's output of @rows (or else of @img, made
 * into an in-memory image held by @parent) within distance @d.  With
 * @chroma_free (no --subsample given), a 4:2:0 output that misses @d
 * even at quality 100 is searched again at 4:4:4.  0 with
 * @lq filled (lq->params to encode with, lq->rows or lq->image), the
 * record's look_quality and look_distance set in @res; or -1 with @res
 * failed (out of memory, an encoder or decoder error).  @lq is released
 * with lookq_release() either way.
 */
int lookq_choose(double d, int chroma_free, const struct encode_params *p,
                 const struct encode_rows *rows, struct _VipsObject *parent,
                 struct _VipsImage *img, struct lookq *lq,
                 struct task_result *res);

void lookq_release(struct lookq *lq);

/*
 * In place (inplace.h), where the file itself is the record: each JPEG
 * rewritten for a look target carries a COM segment saying so
 * (LOOKQ_MARK, then the distance and quality), after SOI and a leading
 * JFIF APP0, so that the open stage's head holds it.  A file with one is
 * already compressed to a look: a second run leaves it (and its
 * lossless pass, which keeps every segment, finds the optimised file
 * nothing to gain), whatever D; --force re-encodes it anyway.
 */
#define LOOKQ_MARK "imgpool target-distance "

/* 1 with @res skipped, already-compressed, when @in (a JPEG) carries the
 * mark and @s has no force; else 0. */
int lookq_marked(const struct settings *s, const struct input *in,
                 struct task_result *res);

/* Add the mark of @res's look to @out's bytes (memory).  0, or -1 with
 * @res failed. */
int lookq_mark(struct encode_out *out, double d, struct task_result *res);

#endif
