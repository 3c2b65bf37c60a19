/*
 * jpegq.c - quantisation tables from a contrast sensitivity model; see
 * jpegq.h.
 *
 * Derivation.  The step for DCT coefficient (u, v) should grow with how
 * little an error at that frequency is seen.  The basis function (u, v)
 * has a radial frequency of r = sqrt(u^2 + v^2) (in half cycles per
 * block); the step is DC x w(r) with
 *
 *      w(r) = 1 + (r' / r0)^p,     r' = r / (0.95 + 0.05 cos(4 theta)),
 *
 * theta the orientation of (u, v):
 *
 *  - The shape 1 + (r/r0)^p is a smooth stand-in for the inverse of the
 *    eye's contrast sensitivity above its peak: flat at the lowest
 *    frequencies (the block averages and the smooth gradients, where an
 *    error shows as blocking or banding), then rising steeply.  For
 *    luma, r0 = 5 and p = 3 (the step doubles by r = 5, is about twelve
 *    times the curve's DC in the corner): a wider flat band than the first
 *    r0 = 4, p = 2.5, which ssimulacra rewarded most per byte.
 *  - The luma DC step is 0.85 of what the curve gives: butteraugli
 *    punishes a coarse block average (banding in skies) far more than
 *    the same error in any AC term, so a finer DC bought more look per
 *    byte than a finer table overall.
 *  - Chroma has the same form with r0 = 4.4 and p = 3.4: a wider flat
 *    band, then a steeper rise.  The same table serves 4:4:4 and 4:2:0:
 *    subsampled chroma covers twice the angle per coefficient, but
 *    doubling its frequencies (the first tables did) made its steps so
 *    coarse that colour edges bled, which butteraugli punished hardest.
 *  - Oblique effect: diagonal gratings are seen a little less well; the
 *    frequency is divided by 0.95 + 0.05 cos(4 theta) (1 along the axes,
 *    0.9 on the diagonal).  A stronger effect (0.15) bought bytes at the
 *    same cost in look as a coarser table overall.
 *
 * The quality-50 table is JPEGQ_LUMA_DC (or JPEGQ_CHROMA_DC) times w,
 * rounded; quality q scales it as libjpeg does (5000/q below 50, 200 - 2q
 * above, in percent), so -q keeps its usual feel.  The constants were set
 * by encoding photographs at -q 90 and comparing bytes, butteraugli and
 * ssimulacra with sharp (mozjpeg) at quality 90 (docs/ENCODER.md).
 * Luma 19 with chroma 17 (from 18 and 20): moving bytes from luma to
 * chroma gave 0.9% fewer bytes on 12 photos for 0.2% more butteraugli
 * 3-norm, where -q alone trades 1.3% of bytes for each 1%.
 */
#include <math.h>

#include "jpegq.h"

#define JPEGQ_LUMA_DC 20.0
#define JPEGQ_LUMA_DC_WEIGHT 0.85
#define JPEGQ_CHROMA_DC 17.0
#define JPEGQ_LUMA_R0 5.0
#define JPEGQ_LUMA_P 3.0
#define JPEGQ_CHROMA_R0 4.4
#define JPEGQ_CHROMA_P 3.4
#define JPEGQ_OBLIQUE 0.05

/* The visibility weight of coefficient (u, v), luma or chroma: >= 1
 * except the luma DC's. */
static double
weight(int chroma, int u, int v)
{
    double r = sqrt((double)(u * u + v * v));
    double theta = atan2((double)v, (double)u);
    double r0 = chroma ? JPEGQ_CHROMA_R0 : JPEGQ_LUMA_R0;
    double p = chroma ? JPEGQ_CHROMA_P : JPEGQ_LUMA_P;

    if (u == 0 && v == 0)
        return chroma ? 1.0 : JPEGQ_LUMA_DC_WEIGHT;

    r /= 1.0 - JPEGQ_OBLIQUE + JPEGQ_OBLIQUE * cos(4.0 * theta);
    return 1.0 + pow(r / r0, p);
}

/* The quality-50 tables (luma, chroma), computed once: the sniffer
 * matches a file's table against every quality. */
static unsigned short base_tables[2][64];
static int base_ready;

static void
base_init(void)
{
    for (int c = 0; c < 2; c++) {
        double dc = c ? JPEGQ_CHROMA_DC : JPEGQ_LUMA_DC;

        for (int v = 0; v < 8; v++)
            for (int u = 0; u < 8; u++)
                base_tables[c][v * 8 + u] =
                    (unsigned short)lround(dc * weight(c, u, v));
    }
    base_ready = 1;
}

void
jpegq_table(enum jpegq_kind kind, int quality, unsigned short out[64])
{
    const unsigned short *base;
    long scale;

    if (!base_ready)
        base_init();
    base = base_tables[kind != JPEGQ_LUMA];
    if (quality < 1)
        quality = 1;
    if (quality > 100)
        quality = 100;
    scale = quality < 50 ? 5000 / quality : 200 - 2 * quality;
    for (int i = 0; i < 64; i++) {
        /* Rounded to an integer at quality 50 first, as a published
         * table is, then scaled with libjpeg's integer rounding. */
        long q = ((long)base[i] * scale + 50) / 100;

        out[i] = (unsigned short)(q < 1 ? 1 : q > 255 ? 255 : q);
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
