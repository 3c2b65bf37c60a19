/*
 * icc.h - embedded ICC profiles to sRGB with lcms2: one transform per
 * distinct profile, kept for the life of the worker process.
 *
 * A photo library has a handful of distinct profiles, and building an
 * lcms2 transform costs far more than applying it to a thumbnail's
 * pixels, so transforms are cached, keyed by a 128-bit hash of the
 * profile bytes plus the pixel layout (struct icc_key); the cache holds
 * ICC_CACHE_SIZE entries and evicts the least recently used.
 *
 * Call sequence (one task at a time per process):
 *   const struct icc_xform *x = icc_lookup(profile, len, ICC_PX_RGB);
 *   switch (x->outcome) {
 *   case ICC_TRANSFORM: icc_apply(x, in, out, npixels); ...
 *   case ICC_IDENTITY:  the pixels are sRGB already: nothing to do
 *   case ICC_UNUSABLE:  x->why says why; the pixels stay as they are
 *   }
 *   icc_cache_clear();     // optional: frees every transform
 *
 * The intent tried first is relative colorimetric, then perceptual; the
 * one used is x->intent.  A profile is "sRGB in effect" (ICC_IDENTITY)
 * when a real relative-colorimetric transform to lcms2's sRGB moves no
 * sample of a colour chart (icc_chart_*) by more than ICC_IDENTITY_MAX
 * levels: the sRGB IEC61966-2.1 variants that cameras and editors embed
 * pass, wider spaces do not.  Pointers returned are owned by the cache
 * and stay valid until the next icc_lookup() or icc_cache_clear().
 * Nothing here fails: an out-of-memory or a broken profile is
 * ICC_UNUSABLE.
 */
#ifndef IMGPOOL_ICC_H
#define IMGPOOL_ICC_H

#include <stddef.h>

#define ICC_CACHE_SIZE 8
#define ICC_IDENTITY_MAX 1

/* The layout of the pixels a transform reads.  Output is always 8-bit
 * sRGB, 3 bytes per pixel, except ICC_PX_RGBA and ICC_PX_GREY_RGBA, whose
 * output is 4 bytes per pixel with the 4th byte (alpha) left as it was. */
enum icc_pixels {
    ICC_PX_RGB = 0,         /* R G B */
    ICC_PX_RGBA,            /* R G B A */
    ICC_PX_GREY,            /* one grey byte */
    ICC_PX_GREY_RGB,        /* grey expanded to R=G=B (a grey PNG) */
    ICC_PX_GREY_RGBA,       /* the same with alpha */
    ICC_PX_CMYK,            /* C M Y K, 0 = no ink */
    ICC_PX_CMYK_INVERTED,   /* Adobe's inverted CMYK, 255 = no ink */
    ICC_PX__COUNT
};

enum icc_outcome { ICC_TRANSFORM = 0, ICC_IDENTITY, ICC_UNUSABLE };

struct icc_fast;

/* One cached result.  Owned by the cache.  A transform (ICC_TRANSFORM) is
 * carried out by lcms2 (handle) or, for the common matrix/TRC and grey
 * profiles, by tables checked against lcms2 when built (fast). */
struct icc_xform {
    enum icc_outcome outcome;
    int intent;                 /* lcms2 INTENT_*, when ICC_TRANSFORM */
    int in_bytes, out_bytes;    /* per pixel */
    const char *why;            /* ICC_UNUSABLE: a lowercase reason */
    enum icc_pixels px;
    void *handle;               /* cmsHTRANSFORM, or NULL when fast is used */
    struct icc_fast *fast;      /* tables for matrix/TRC and grey profiles */
};

/* The cached result for @profile (@len bytes) read as @px; never NULL. */
const struct icc_xform *icc_lookup(const void *profile, size_t len,
                                   enum icc_pixels px);

/* @n pixels from @in to @out (may be the same buffer when in_bytes ==
 * out_bytes).  For ICC_TRANSFORM only. */
void icc_apply(const struct icc_xform *x, const void *in, void *out,
               size_t n);

/* "relative" or "perceptual". */
const char *icc_intent_str(int intent);

/* Whether @px holds grey, CMYK or alpha. */
int icc_pixels_grey(enum icc_pixels px);
int icc_pixels_cmyk(enum icc_pixels px);

/* The colour chart the identity test runs: ICC_CHART_LEVELS^3 RGB
 * colours (every combination of the levels), written to @rgb (3 bytes
 * each).  Returns the number of colours. */
#define ICC_CHART_LEVELS 9
int icc_chart_rgb(unsigned char *rgb);

/* Transforms built so far in this process (for tests: proves caching). */
unsigned long icc_builds(void);

void icc_cache_clear(void);

#endif
