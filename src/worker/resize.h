/*
 * resize.h - the resize stage: the output geometry, and Lanczos-3
 * resampling (resample.h) to exactly that size.
 *
 * Geometry comes from geom_window() in upright terms and is mapped to the
 * decoder's stored orientation (orient.h), so a decoder never rotates.
 * Pixels reach the resizer row by row: a decoder writes each input row into
 * resize_row() (after the colour stage's pre-resize step, colour.h) and
 * pushes it, so only a few input rows are ever held, however large the
 * input (a 100-megapixel PNG costs a few rows, not 300 MB):
 *   struct resample_span x, y;
 *   resize_plan(&box, upright_w, upright_h, orientation, &x, &y);
 *   ...the decoder may pick a reduced decode size: x.in, y.in...
 *   struct resize rz;
 *   struct pixels out;
 *   pixels_init(&out);
 *   if (resize_begin(&rz, bands, &x, &y, &out) < 0) ...out of memory...
 *   for each input row: write resize_row(&rz); resize_push(&rz);
 *   resize_end(&rz);            // out now holds x.out x y.out pixels
 * resize_pixels() does the same for an image already in memory.
 *
 * The libvips decoder's images (decode.h) come here too, as VipsImages:
 * where its shrink-on-load resized while decoding (d.fitted) there is
 * nothing left to do; a CMYK image it has only shrunk on load is taken to
 * the output size, upright and cropped, by resize_vips_stored(); several
 * sizes from one decode are the base box (resize_base()) and one
 * resize_vips() per output; the freedesktop flavours are
 * resize_vips_down().  The same geometry (geom.h) throughout.
 */
#ifndef IMGPOOL_RESIZE_H
#define IMGPOOL_RESIZE_H

#include "geom.h"
#include "pixels.h"
#include "resample.h"
#include "settings.h"

/*
 * The spans for an upright input of @uw x @uh carrying EXIF orientation @o,
 * in stored orientation; ->in is set to the stored input size (a decoder
 * that shrinks while decoding lowers it).
 */
void resize_plan(const struct geom_box *b, int uw, int uh, int o,
                 struct resample_span *x, struct resample_span *y);

/*
 * Several sizes from one decode: the box of the one image every output of
 * @c is resized from, fit fill (never cropped; enlarged only with
 * upscale) to the largest scaled size any output needs on each axis, for
 * the whole upright @uw x @uh input.
 */
struct geom_box resize_base(const struct run_config *c, int uw, int uh);

struct resize {
    struct resample rs;
    int have_rs;
    struct pixels *out;         /* borrowed: filled row by row */
};

/* Allocate @out (x->out x y->out, @bands) and the resampler.  0, or -1
 * (out of memory, inconsistent spans); resize_end() in both cases. */
int resize_begin(struct resize *rz, int bands, const struct resample_span *x,
                 const struct resample_span *y, struct pixels *out);

/* Where the next input row (x->in * bands bytes) must be written. */
static inline unsigned char *
resize_row(struct resize *rz)
{
    return resample_row_buffer(&rz->rs);
}

/* Take the row written at resize_row(). */
static inline void
resize_push(struct resize *rz)
{
    resample_push_row(&rz->rs, rz->out->data, rz->out->stride);
}

/* Release the resampler; @out stays with the caller. */
void resize_end(struct resize *rz);

/* Resize all of @in into a new @out per the spans (x->in == in->width,
 * y->in == in->height).  0, or -1. */
int resize_pixels(const struct pixels *in, const struct resample_span *x,
                  const struct resample_span *y, struct pixels *out);

struct _VipsImage;
struct _VipsObject;

/*
 * The resize stage for the libvips decoder's images (decode.h), which it
 * may have shrunk on load but not to the output size: @in, the whole input
 * at any size, resized (Lanczos 3) to exactly the scaled size geom_window()
 * gives for @b on the upright @uw x @uh input, then cropped to the output
 * size.  Upright (resize_vips()), or with resize_vips_stored() in stored
 * orientation (width and height swapped against @uw, @uh when @swap) and
 * turned upright between the resize and the crop when @in carries an EXIF
 * orientation (from memory: the decoder's load is sequential).  The result
 * and its intermediates are held by @parent; NULL with libvips' error set.
 */
struct _VipsImage *resize_vips(const struct geom_box *b, int uw, int uh,
                               struct _VipsObject *parent,
                               struct _VipsImage *in);
struct _VipsImage *resize_vips_stored(const struct geom_box *b, int uw,
                                      int uh, int swap,
                                      struct _VipsObject *parent,
                                      struct _VipsImage *in);

/* The freedesktop flavours (fdthumb.h): @in, in memory, shrunk to fit a
 * @box x @box square (never enlarged; libvips' thumbnail of an image) into
 * a new *@out the caller unrefs.  0, or -1 with libvips' error set. */
int resize_vips_down(struct _VipsImage *in, int box, struct _VipsImage **out);

#endif
