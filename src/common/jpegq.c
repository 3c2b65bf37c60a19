/*
 * jpegq.c - quantisation tables from a contrast sensitivity model; see
 * jpegq.h.
 *
 * Derivation.  The step for DCT coefficient (u, v) should be inversely
 * proportional to how visible an error at that frequency is.  The basis
 * function (u, v) of an 8x8 block has sqrt(u^2 + v^2) / 16 cycles per
 * pixel; at JPEGQ_PPD pixels per degree of visual angle (a photograph on a
 * desktop screen at arm's length) that is f = JPEGQ_PPD * sqrt(u^2+v^2)/16
 * cycles per degree, twice that for the chroma of a 4:2:0 image.
 *
 *  - Luma: the Mannos-Sakrison contrast sensitivity function,
 *      S(f) = 2.6 (0.0192 + 0.114 f) exp(-(0.114 f)^1.1),
 *    flattened below its peak (8 cycles/degree): low frequencies carry
 *    the block structure and the smooth gradients whose errors show as
 *    blocking and banding, so they are not allowed a coarser step than
 *    the most sensitive frequency.
 *  - Oblique effect: diagonal gratings are seen less well; the frequency
 *    is divided by 0.85 + 0.15 cos(4 theta) (1 along the axes, 0.7 on the
 *    diagonal) before S is taken.
 *  - Chroma: opponent colour sensitivity is low-pass with no peak; it is
 *    modelled as 1 / (1 + (f / JPEGQ_CHROMA_FC)^2).
 *  - Threshold sensitivity overstates the spread at the error levels a
 *    compressed photograph has (quantisation noise well above threshold
 *    is judged more evenly across frequencies, and natural images mask
 *    their high frequencies less than a grating test suggests), so the
 *    weight 1/S is compressed by the exponent JPEGQ_GAMMA.
 *
 * The quality-50 table is JPEGQ_LUMA_DC (or JPEGQ_CHROMA_DC) times that
 * weight; quality q scales it as libjpeg does (5000/q below 50, 200 - 2q
 * above, in percent), so -q keeps its usual feel.  The constants were set
 * by encoding photographs and comparing butteraugli and ssimulacra scores
 * and sizes with libjpeg's tables at the same -q (docs/ENCODER.md).
 */
#include <math.h>

#include "jpegq.h"

#define JPEGQ_PPD 40.0
#define JPEGQ_PEAK 8.0
#define JPEGQ_CHROMA_FC 6.0
#define JPEGQ_GAMMA 0.75
#define JPEGQ_LUMA_DC 31.0
#define JPEGQ_CHROMA_DC 35.0

/* Mannos-Sakrison sensitivity at @f cycles/degree, flat below the peak. */
static double
luma_csf(double f)
{
    double x;

    if (f < JPEGQ_PEAK)
        f = JPEGQ_PEAK;
    x = 0.114 * f;
    return 2.6 * (0.0192 + x) * exp(-pow(x, 1.1));
}

/* The visibility weight (>= 1) of coefficient (u, v) for @kind. */
static double
weight(enum jpegq_kind kind, int u, int v)
{
    double f = JPEGQ_PPD * sqrt((double)(u * u + v * v)) / 16.0;
    double theta = atan2((double)v, (double)u);
    double w;

    if (kind == JPEGQ_CHROMA_420)
        f *= 2.0;
    f /= 0.85 + 0.15 * cos(4.0 * theta);
    if (kind == JPEGQ_LUMA)
        w = luma_csf(JPEGQ_PEAK) / luma_csf(f);
    else
        w = 1.0 + (f / JPEGQ_CHROMA_FC) * (f / JPEGQ_CHROMA_FC);
    return pow(w, JPEGQ_GAMMA);
}

void
jpegq_table(enum jpegq_kind kind, int quality, unsigned short out[64])
{
    double dc = kind == JPEGQ_LUMA ? JPEGQ_LUMA_DC : JPEGQ_CHROMA_DC;
    long scale;
    int u, v;

    if (quality < 1)
        quality = 1;
    if (quality > 100)
        quality = 100;
    scale = quality < 50 ? 5000 / quality : 200 - 2 * quality;
    for (v = 0; v < 8; v++) {
        for (u = 0; u < 8; u++) {
            /* Rounded to an integer at quality 50 first, as a published
             * table is, then scaled with libjpeg's integer rounding. */
            long base = lround(dc * weight(kind, u, v));
            long q = (base * scale + 50) / 100;

            out[v * 8 + u] = (unsigned short)(q < 1 ? 1 : q > 255 ? 255 : q);
        }
    }
}

int
jpegq_match_luma(const int luma[64])
{
    unsigned short t[64];
    int q, i;

    /* A flat table (all 1 or all 255) is any encoder's at the ends of
     * the scale: left to the standard estimate. */
    for (i = 1; i < 64 && luma[i] == luma[0]; i++)
        ;
    if (i == 64)
        return -1;
    for (q = 100; q >= 1; q--) {
        jpegq_table(JPEGQ_LUMA, q, t);
        for (i = 0; i < 64 && luma[i] == t[i]; i++)
            ;
        if (i == 64)
            return q;
    }
    return -1;
}
