/*
 * geom.h - output dimensions from input dimensions and the settings.
 *
 * Pure arithmetic, shared by every decode path so that they agree to the
 * pixel.  Input dimensions are those of the upright image (after EXIF
 * orientation).
 *
 *   inside  scale by the smaller of W/iw and H/ih; one side meets the box
 *   cover   scale by the larger, then centre-crop to the box
 *   fill    exactly WxH, aspect ratio ignored
 * Without upscale, no side is ever enlarged: inside and cover stop at scale
 * 1, fill clamps each side to the input's.  A 0 side in the box is
 * unbounded; a 0x0 box keeps the input size.
 */
#ifndef IMGPOOL_GEOM_H
#define IMGPOOL_GEOM_H

#include "settings.h"

/* An output box and how an image is fitted into it: all the geometry
 * reads of an output's settings.  A stage that sizes an image takes one
 * of these, so a decode for several outputs is given the box it decodes
 * for, not a copy of some output's settings with the box changed. */
struct geom_box {
    int width, height;          /* 0 on a side: unbounded on that axis */
    enum fit fit;
    int upscale;
};

/* The box of one output's settings. */
struct geom_box geom_box_of(const struct settings *s);

void geom_fit(const struct geom_box *b, int iw, int ih, int *ow, int *oh);

/* For cover: the scaled size before the centre crop (both sides at least
 * the box's, unless that would enlarge without upscale).  A cover box with
 * a 0 side behaves as inside. */
void geom_cover_scaled(const struct geom_box *b, int iw, int ih, int *sw,
                       int *sh);

/*
 * geom_fit() as a crop window, for resamplers: the upright input is scaled
 * to @sw x @sh and the @ow x @oh window at (@ox, @oy) is kept.  Only cover
 * crops; its window is centred like libvips' VIPS_INTERESTING_CENTRE,
 * (scaled - out) / 2 rounded down.
 */
void geom_window(const struct geom_box *b, int iw, int ih, int *sw, int *sh,
                 int *ow, int *oh, int *ox, int *oy);

#endif
