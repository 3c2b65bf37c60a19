/*
 * pixels.c - owned 8-bit image buffers; see pixels.h.
 */
#include <stdint.h>
#include <stdlib.h>

#include "pixels.h"

void
pixels_init(struct pixels *px)
{
    px->data = NULL;
    px->width = px->height = px->bands = 0;
    px->stride = 0;
}

int
pixels_alloc(struct pixels *px, int w, int h, int bands)
{
    size_t stride;

    pixels_release(px);
    if (w < 1 || h < 1 || bands < 1 || bands > 4)
        return -1;
    stride = (size_t)w * (size_t)bands;
    if ((size_t)h > SIZE_MAX / stride)
        return -1;
    px->data = malloc(stride * (size_t)h);
    if (!px->data)
        return -1;
    px->width = w;
    px->height = h;
    px->bands = bands;
    px->stride = stride;
    return 0;
}

void
pixels_release(struct pixels *px)
{
    free(px->data);
    pixels_init(px);
}
