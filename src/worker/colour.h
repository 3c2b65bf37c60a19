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
 * With an embedded profile or CMYK input (struct decoded says which), use
 * colour_begin_decoded() instead of colour_begin(), and after resize_end()
 * colour_after_resize(&c, &d.px, res) before colour_end():
 *   - RGB or grey with a profile: converted to sRGB AFTER the resize, on
 *     the target-size pixels only (a grey image with a grey profile
 *     becomes RGB there);
 *   - RGBA with a profile: converted before the resize, since alpha is
 *     flattened onto the (sRGB) background there;
 *   - CMYK (YCCK decoded to CMYK, Adobe's inverted CMYK included):
 *     converted to RGB before the resize, with the embedded profile, else
 *     with libvips' built-in generic CMYK profile (the one the libvips
 *     path uses, so both paths agree); the resizer only takes 1 or 3
 *     bands.
 * Transforms come from the per-worker cache (icc.h): a profile that is
 * sRGB in effect costs nothing per pixel.  res->colour says what was done
 * ("" untagged, "srgb-profile", "icc:relative", "icc:perceptual",
 * "none:unusable-profile", "cmyk:profile", "cmyk:profile-perceptual",
 * "cmyk:generic"); an unusable profile is ignored with a warning, never a
 * failure.
 *
 * Lazy images from the libvips decoder (device values, as the file holds
 * them, already shrunk: decode.h): colour_vips_srgb8_res() is the same
 * stage for them.  It reads the embedded profile from the image and
 * decides exactly as for rows, through the same cache and the same
 * helpers (so res->colour is the same word for the same file on both
 * paths): CMYK (0 = no ink, libvips' convention) with its profile or the
 * generic one, grey (grey with alpha as G G G A, like the direct PNG
 * decoder), RGB and RGBA, 16-bit samples by their high byte as the
 * direct PNG decoder takes them.  The transform runs strip by strip as
 * the encoder pulls the image (nothing is held whole); then alpha, band
 * count and 8 bits (libvips' own conversions for what has no profile:
 * Lab, XYZ, float).  Since the resize happened in the decoder, every
 * layout is converted after it here, on target-size pixels.
 * In-place recompression keeps the colour space and converts only with
 * to_srgb (colour_vips_keep).
 * Images returned are borrowed from @parent, which holds every
 * intermediate; NULL means failure with libvips' error buffer set.
 */
#ifndef IMGPOOL_COLOUR_H
#define IMGPOOL_COLOUR_H

#include <stdint.h>

#include "resize.h"
#include "settings.h"

struct icc_xform;
struct decoded;
struct pixels;
struct task_result;

/* What the colour stage reads of an output's pixel settings. */
struct colour_params {
    uint8_t background[3];      /* alpha is flattened onto this */
    int keep_alpha;             /* settings_keep_alpha(): alpha stays */
    int to_srgb;                /* in place: wide gamut taken to sRGB */
};

/* @p from the pixel settings @s of one output. */
void colour_params_of(const struct settings *s, struct colour_params *p);

struct colour {
    int in_bands;               /* per decoded row: 1, 3 or 4 (RGBA, CMYK) */
    int out_bands;              /* what the resizer gets: 1 or 3 */
    uint8_t background[3];
    int width;
    unsigned char *scratch;     /* one decoded row, when it has alpha or
                                   is CMYK */
    int cmyk;                   /* scratch rows are CMYK */
    int cmyk_inverted;          /* ... Adobe-inverted (255 = no ink) */
    const struct icc_xform *pre;    /* before the resize, or NULL */
    const struct icc_xform *post;   /* after the resize, or NULL */
};

/* 0, or -1 (out of memory, or @bands not 1, 3 or 4); colour_end() in
 * both cases. */
int colour_begin(struct colour *c, const struct colour_params *p, int bands,
                 int width);

/* colour_begin() for what decoder @d delivers (bands, profile, CMYK),
 * with the decision written to res->colour and a warning for an unusable
 * profile.  0, or -1 (out of memory); colour_end() in both cases. */
int colour_begin_decoded(struct colour *c, const struct colour_params *p,
                         const struct decoded *d, int width,
                         struct task_result *res);

/* The after-resize conversion of @px (resized, still as stored), when
 * there is one.  0, or -1 with @res failed (out of memory). */
int colour_after_resize(struct colour *c, struct pixels *px,
                        struct task_result *res);

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

/* 3-band 8-bit sRGB, alpha flattened onto p->background; 4-band sRGB
 * with its alpha when p->keep_alpha and the image has alpha.
 * ICC-tagged and CMYK images are converted first (see above), with the
 * decision in res->colour and warnings in @res; colour_vips_srgb8() sends
 * the warnings to GLib's log instead (the worker adds them to the task's
 * warnings, img.c). */
struct _VipsImage *colour_vips_srgb8_res(const struct colour_params *p,
                                         struct _VipsObject *parent,
                                         struct _VipsImage *in,
                                         struct task_result *res);
struct _VipsImage *colour_vips_srgb8(const struct colour_params *p,
                                     struct _VipsObject *parent,
                                     struct _VipsImage *in);

/* In-place recompression: the original's colour space, except that a
 * non-CMYK image with a profile is converted to sRGB with p->to_srgb,
 * through the same cached transforms as the direct decoders (8-bit grey,
 * RGB, RGBA; libvips' own transform for other layouts), the result tagged
 * with libvips' sRGB profile.  A profile that is sRGB in effect leaves
 * the image as it is; an unusable one too, with a warning.
 * colour_vips_keep_res() also says which in res->colour and puts the
 * warning in @res; colour_vips_keep() sends the warning to GLib's log
 * (which the worker adds to the task's warnings, img.c). */
struct _VipsImage *colour_vips_keep(const struct colour_params *p,
                                    struct _VipsObject *parent,
                                    struct _VipsImage *in);
struct _VipsImage *colour_vips_keep_res(const struct colour_params *p,
                                        struct _VipsObject *parent,
                                        struct _VipsImage *in,
                                        struct task_result *res);

#endif
