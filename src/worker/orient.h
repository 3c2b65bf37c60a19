/*
 * orient.h - EXIF orientation: the one place that knows which way 1..8
 * turn and mirror an image.
 *
 * Decoders that cannot rotate for free (the direct JPEG decoder) deliver
 * pixels as stored and say which orientation they carry; the geometry is
 * planned in upright terms and mapped to the stored axes here, and the
 * encoder reads the stored pixels through an orient_view, upright, without
 * a rotated copy:
 *   orient_upright_size(o, stored_w, stored_h, &w, &h);
 *   orient_stored_spans(o, &upright_x, &upright_y, &stored_x, &stored_y);
 *   ...decode and resize in stored orientation into px...
 *   struct orient_view v;
 *   orient_view_init(&v, &px, o);
 *   for (y = 0; y < v.height; y++) row = orient_view_row(&v, y, buf);
 * Orientations outside 1..8 are treated as 1 (upright).
 */
#ifndef IMGPOOL_ORIENT_H
#define IMGPOOL_ORIENT_H

#include <stddef.h>

#include "pixels.h"
#include "resample.h"

/* 1 when orientation @o swaps width and height (5..8). */
int orient_swaps(int o);

/* Upright size of a stored @w x @h image with orientation @o. */
void orient_upright_size(int o, int w, int h, int *uw, int *uh);

/*
 * Map the resampler spans of the upright result (@ux, @uy: scaled, offset
 * and out set; in ignored) to the stored pixel axes for orientation @o: a
 * mirrored axis moves its crop window to the other side, a swapped one
 * trades places.  The caller sets ->in of the results.
 */
void orient_stored_spans(int o, const struct resample_span *ux,
                         const struct resample_span *uy,
                         struct resample_span *sx, struct resample_span *sy);

/* Reading stored pixels in upright order: upright pixel (x, y) is at
 * base + y * step_y + x * step_x. */
struct orient_view {
    const unsigned char *src;
    int bands;
    int width, height;          /* upright */
    ptrdiff_t base, step_x, step_y;
};

/* @px stays borrowed and must outlive the view. */
void orient_view_init(struct orient_view *v, const struct pixels *px, int o);

/*
 * Upright row @y (px->bands bytes per pixel).  A stored row read forwards
 * (orientations 1 and 4) is returned in place; otherwise the row is
 * gathered into @buf (width * bands bytes), which is returned.
 */
const unsigned char *orient_view_row(const struct orient_view *v, int y,
                                     unsigned char *buf);

#endif
