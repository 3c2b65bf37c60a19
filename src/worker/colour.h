/*
 * colour.h - the colour stage: the one place that turns what a decoder
 * delivers (grey, RGB, alpha, ICC-tagged, CMYK) into 8-bit sRGB.
 *
 * Rows from the direct decoders (in memory):
 *   struct colour c;
 *   if (colour_begin(&c, s, bands, width) < 0) ...out of memory...
 *   per decoded row:  write colour_row_in(&c, &rz); colour_row_done(&c, &rz);
 *     (before the resize: alpha is flattened onto s->background here,
 *      since resizing unflattened alpha would bleed the colour of
 *      transparent pixels; c.out_bands is what the resizer gets)
 *   colour_end(&c);
 *   after the resize, per output row: colour_rgb_row() (grey -> RGB)
 * The after-resize step is where per-pixel colour transforms belong
 * (converting the few thumbnail pixels rather than the whole input): an
 * ICC transform to sRGB goes into colour_rgb_row(), which already sees
 * every output row once, on its way to the encoder.  Today the direct
 * decoders take untagged (sRGB by convention) input only.
 *
 * Lazy images from the libvips decoder: the export profile the decoder
 * hands to libvips' shrink-on-load (colour_vips_export_profile: ICC and
 * CMYK are converted while shrinking), then colour_vips_srgb8() for the
 * rest (alpha, band count, 8 bits); in-place recompression keeps the
 * colour space and converts only with to_srgb (colour_vips_keep).
 * Images returned are borrowed from @parent, which holds every
 * intermediate; NULL means failure with libvips' error buffer set.
 */
#ifndef IMGPOOL_COLOUR_H
#define IMGPOOL_COLOUR_H

#include <stdint.h>

#include "resize.h"
#include "settings.h"

struct colour {
    int in_bands;               /* per decoded row: 1, 3 or 4 (RGBA) */
    int out_bands;              /* what the resizer gets: 1 or 3 */
    uint8_t background[3];
    int width;
    unsigned char *scratch;     /* one decoded row, when it has alpha */
};

/* 0, or -1 (out of memory, or @bands not 1, 3 or 4); colour_end() in
 * both cases. */
int colour_begin(struct colour *c, const struct settings *s, int bands,
                 int width);

/* Where the decoder writes the next row (width * in_bands bytes). */
unsigned char *colour_row_in(struct colour *c, struct resize *rz);

/* The row written is converted into @rz's input row and pushed. */
void colour_row_done(struct colour *c, struct resize *rz);

void colour_end(struct colour *c);

/* RGBA row @in of @w pixels onto background @bg, as RGB into @out. */
void colour_flatten_row(const unsigned char *in, int w, const uint8_t bg[3],
                        unsigned char *out);

/* Row @in (@bands 1 or 3, @w pixels) as RGB: @in itself when it is, else
 * expanded into @buf (w * 3 bytes), which is returned. */
const unsigned char *colour_rgb_row(const unsigned char *in, int bands,
                                    int w, unsigned char *buf);

struct _VipsImage;
struct _VipsObject;

/* "srgb" when the input needs colour management (@tagged: an embedded
 * profile or CMYK), else NULL: an untagged image is sRGB by convention and
 * is left alone, since an sRGB -> sRGB round trip through lcms shifts
 * saturated colours. */
const char *colour_vips_export_profile(int tagged);

/* 3-band 8-bit sRGB, alpha flattened onto s->background. */
struct _VipsImage *colour_vips_srgb8(const struct settings *s,
                                     struct _VipsObject *parent,
                                     struct _VipsImage *in);

/* In-place recompression: the original's colour space, except that a
 * non-CMYK image with a profile is converted to sRGB with s->to_srgb. */
struct _VipsImage *colour_vips_keep(const struct settings *s,
                                    struct _VipsObject *parent,
                                    struct _VipsImage *in);

#endif
