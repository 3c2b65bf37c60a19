/*
 * pixels.h - an 8-bit interleaved image in memory, as the stages hand it on.
 *
 * Call sequence:
 *   struct pixels px;
 *   pixels_init(&px);
 *   if (pixels_alloc(&px, w, h, bands) < 0) ...out of memory...
 *   ...row y is at pixels_row(&px, y)...
 *   pixels_release(&px);
 *
 * The buffer is owned by the struct: pixels_release() frees it (and may be
 * called on an initialised struct that never got one).  Rows are stride
 * bytes apart; pixels_alloc() packs them (stride = width * bands).
 */
#ifndef IMGPOOL_PIXELS_H
#define IMGPOOL_PIXELS_H

#include <stddef.h>

struct pixels {
    unsigned char *data;    /* owned; NULL before pixels_alloc() */
    int width, height;
    int bands;              /* 1 grey, 2 grey+alpha, 3 RGB, 4 RGBA */
    size_t stride;          /* bytes from one row to the next */
};

void pixels_init(struct pixels *px);

/* Allocate @w x @h x @bands (all >= 1).  0, or -1 (out of memory). */
int pixels_alloc(struct pixels *px, int w, int h, int bands);

void pixels_release(struct pixels *px);

static inline unsigned char *
pixels_row(const struct pixels *px, int y)
{
    return px->data + (size_t)y * px->stride;
}

#endif
