/*
 * decoded.c - the life of a struct decoded (decode.h): its empty state and
 * its release.  Every decoder and the stages after them use it; it calls
 * no decoder, so no decoder and decode.c call each other.
 */
#include <stdlib.h>

#include <vips/vips.h>

#include "decode.h"

void
decoded_init(struct decoded *d)
{
    d->width = d->height = -1;
    d->orientation = 1;
    d->bands = 0;
    d->source_420 = d->progressive = d->tagged = 0;
    d->icc = NULL;
    d->icc_len = 0;
    d->cmyk = d->cmyk_inverted = d->grey_source = 0;
    pixels_init(&d->px);
    d->image = NULL;
    d->fitted = d->stored_swap = 0;
    d->ctx = NULL;
    d->source = NULL;
    d->filebuf = NULL;
}

void
decoded_release(struct decoded *d)
{
    pixels_release(&d->px);
    if (d->source)
        g_object_unref(d->source);
    if (d->ctx)
        g_object_unref(d->ctx);
    free(d->filebuf);
    free(d->icc);
    decoded_init(d);
}
