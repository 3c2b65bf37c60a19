/*
 * distance.h - how different two 8-bit sRGB images look: a fast estimate
 * of butteraugli's 3-norm for the quality search of --target-distance
 * (lookq.h), and libjxl's butteraugli itself for the check of the choice.
 * Worker code only.
 *
 * The scale is butteraugli's (libjxl 0.7): the "3-norm" that
 * butteraugli_main prints, the mean of the 3-, 6- and 12-norms of its
 * distance map; 1.0 is about "no visible difference at 1:1".
 *
 * distance_fast() is a model of our own, a few passes over the pixels
 * (about 40 ns a pixel): both images go to an XYB-like opponent space
 * (linear light, cone-like mixes, cube root), the error of each channel is
 * split into a fine band (the error minus its 9x9 box mean) and a coarse
 * one (that mean), the fine band is divided by the local contrast of the
 * source's luminance (masking: noise hides in texture), and the per-pixel
 * distance map is pooled as butteraugli pools it.  A power law fitted on
 * photographs against butteraugli_main turns the pooled value into the
 * butteraugli scale (docs/BENCHMARKS.md has the figures).
 *
 * distance_butteraugli() calls JxlButteraugliCompute (about 1.5 s a
 * megapixel on this kind of machine), so callers give it samples.
 *
 * Both take a sequence of tiles, so that a sample of a large image can be
 * measured as the whole would be: distance_pool_init(), one
 * distance_*_add() per tile pair, distance_pool_value().
 */
#ifndef IMGPOOL_DISTANCE_H
#define IMGPOOL_DISTANCE_H

#include <stddef.h>

/* The sums butteraugli pools a distance map with. */
struct distance_pool {
    double s3, s6, s12;         /* sums of d^3, d^6, d^12 */
    double max;                 /* the largest d */
    double n;                   /* pixels */
};

void distance_pool_init(struct distance_pool *p);

/* The pooled distance: the mean of the 3-, 6- and 12-norms (0 when
 * empty). */
double distance_pool_value(const struct distance_pool *p);

/*
 * Add the fast model's map of @dist against @ref (both @w x @h RGB, rows
 * @stride bytes apart) to @p, the outermost @margin pixels of each side
 * left out of the pool (they lack neighbours).  The values added are on
 * the model's own scale: distance_fast_scale() of the pooled value gives
 * butteraugli's.  0, or -1 when out of memory.
 */
int distance_fast_add(struct distance_pool *p, const unsigned char *ref,
                      const unsigned char *dist, int w, int h, size_t stride,
                      int margin);

/* The reference side of the fast model, computed once for every trial
 * measured against it: its opponent planes and masking. */
struct distance_ref {
    int w, h;
    float *planes;              /* owned */
    float *scratch;             /* owned: the planes of one measure, kept
                                   from trial to trial */
};

/* The filters' reach: a pixel's value in the model's map depends on the
 * pixels up to this far away. */
#define DISTANCE_FAST_SUPPORT (2 * 4 + 1)

/* @r made from @ref (@w x @h RGB, rows @stride bytes apart).  0, or -1
 * when out of memory; distance_ref_release() frees it either way. */
int distance_ref_init(struct distance_ref *r, const unsigned char *ref,
                      int w, int h, size_t stride);
void distance_ref_release(struct distance_ref *r);

/*
 * Add the fast model's map of @dist (as large as @r, rows @stride bytes
 * apart) to @p, pooled over each @tw x @th tile of the grid from the
 * top left without the outermost @margin pixels of each tile: with
 * @margin >= DISTANCE_FAST_SUPPORT each tile counts as if measured on its
 * own.  Model scale, as distance_fast_add().  0, or -1 when out of
 * memory.
 */
int distance_fast_tiles(struct distance_pool *p, const struct distance_ref *r,
                        const unsigned char *dist, size_t stride, int tw,
                        int th, int margin);

/* The model's pooled value @v on butteraugli's 3-norm scale. */
double distance_fast_scale(double v);

/*
 * Add libjxl's butteraugli map of @dist against @ref (as above) to @p,
 * the margin left out the same way.  0, or -1 when libjxl fails (out of
 * memory).
 */
int distance_butteraugli_add(struct distance_pool *p,
                             const unsigned char *ref,
                             const unsigned char *dist, int w, int h,
                             size_t stride, int margin);

/*
 * The same over a mosaic of tiles measured in one call (cheaper than a
 * call a tile): the map of the whole @w x @h, pooled over each @tw x @th
 * tile of the grid without its outermost @margin pixels (butteraugli's
 * filters reach past the margin, so a tile's neighbours count a little).
 */
int distance_butteraugli_tiles(struct distance_pool *p,
                               const unsigned char *ref,
                               const unsigned char *dist, int w, int h,
                               size_t stride, int tw, int th, int margin);

#endif
