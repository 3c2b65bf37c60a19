/*
 * geom.c - fit arithmetic (see geom.h).
 */
#include <math.h>

#include "geom.h"

static int
scaled(int v, double scale)
{
    long r = lround(v * scale);
    return r < 1 ? 1 : (int)r;
}

struct geom_box
geom_box_of(const struct settings *s)
{
    struct geom_box b;

    b.width = s->width;
    b.height = s->height;
    b.fit = s->fit;
    b.upscale = s->upscale;
    return b;
}

void
geom_cover_scaled(const struct geom_box *b, int iw, int ih, int *sw, int *sh)
{
    double sx = b->width ? (double)b->width / iw : 0;
    double sy = b->height ? (double)b->height / ih : 0;
    double scale = sx > sy ? sx : sy;

    if (scale <= 0 || (!b->upscale && scale > 1))
        scale = 1;
    *sw = scaled(iw, scale);
    *sh = scaled(ih, scale);
}

void
geom_fit(const struct geom_box *b, int iw, int ih, int *ow, int *oh)
{
    int W = b->width, H = b->height;
    double sx, sy, scale;

    if (W == 0 && H == 0) {
        *ow = iw;
        *oh = ih;
        return;
    }
    if (b->fit == FIT_FILL) {
        *ow = (!b->upscale && W > iw) ? iw : W;
        *oh = (!b->upscale && H > ih) ? ih : H;
        return;
    }
    sx = W ? (double)W / iw : 0;
    sy = H ? (double)H / ih : 0;
    if (b->fit == FIT_COVER && W && H) {
        geom_cover_scaled(b, iw, ih, ow, oh);
        if (*ow > W)
            *ow = W;
        if (*oh > H)
            *oh = H;
        return;
    }
    /* inside: the tighter constraint wins; that side is exact */
    if (!W)
        scale = sy;
    else if (!H)
        scale = sx;
    else
        scale = sx < sy ? sx : sy;
    if (!b->upscale && scale >= 1) {
        *ow = iw;
        *oh = ih;
        return;
    }
    *ow = (scale == sx) ? W : scaled(iw, scale);
    *oh = (scale == sy) ? H : scaled(ih, scale);
}

void
geom_window(const struct geom_box *b, int iw, int ih, int *sw, int *sh,
            int *ow, int *oh, int *ox, int *oy)
{
    geom_fit(b, iw, ih, ow, oh);
    *sw = *ow;
    *sh = *oh;
    *ox = *oy = 0;
    if (b->fit == FIT_COVER && b->width && b->height) {
        geom_cover_scaled(b, iw, ih, sw, sh);
        if (*sw < *ow)
            *sw = *ow;
        if (*sh < *oh)
            *sh = *oh;
        *ox = (*sw - *ow) / 2;
        *oy = (*sh - *oh) / 2;
    }
}
