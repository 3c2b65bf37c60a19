/*
 * distance.c - perceptual distance of a decoded trial to its source: the
 * fast model the quality search runs per trial, and libjxl's butteraugli
 * for the one check of the choice (distance.h has the model and the
 * scale).
 */
#include "distance.h"

#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jxl/butteraugli.h>

/* The fine band: the error minus its mean over (2R+1)^2 pixels; the
 * masking contrast is measured over the same window. */
#define FINE_R 4          /* DISTANCE_FAST_SUPPORT follows it */
/* Weights of the opponent channels, fine and coarse, and the contrast at
 * which masking halves the fine errors: fitted with tests/bench/
 * look_calib.c (which may build with others, -DW_X=...) on ten photos,
 * Q40..Q96 (docs/BENCHMARKS.md). */
#ifndef W_X
#define W_X 2.0f
#endif
#ifndef W_Y
#define W_Y 1.0f
#endif
#ifndef W_B
#define W_B 0.15f
#endif
#ifndef W_COARSE
#define W_COARSE 1.6f
#endif
#ifndef MASK_C0
#define MASK_C0 0.006f
#endif
/* distance_fast_scale(): butteraugli ~ SCALE_A * v^SCALE_B. */
#ifndef SCALE_A
#define SCALE_A 421.4
#endif
#ifndef SCALE_B
#define SCALE_B 1.0567
#endif

void
distance_pool_init(struct distance_pool *p)
{
    memset(p, 0, sizeof(*p));
}

double
distance_pool_value(const struct distance_pool *p)
{
    if (p->n <= 0)
        return 0;
    /* As libjxl's ComputeDistanceP() with p = 3. */
    return (cbrt(p->s3 / p->n) + pow(p->s6 / p->n, 1.0 / 6) +
            pow(p->s12 / p->n, 1.0 / 12)) / 3;
}

static void
pool_add(struct distance_pool *p, double d)
{
    double d3 = d * d * d, d6 = d3 * d3;

    p->s3 += d3;
    p->s6 += d6;
    p->s12 += d6 * d6;
    if (d > p->max)
        p->max = d;
    p->n += 1;
}

double
distance_fast_scale(double v)
{
    return v > 0 ? SCALE_A * pow(v, SCALE_B) : 0;
}

/* sRGB 8-bit to linear light. */
static float lin_lut[256];
static pthread_once_t lin_once = PTHREAD_ONCE_INIT;

static void
lin_init(void)
{
    for (int i = 0; i < 256; i++) {
        double c = i / 255.0;

        lin_lut[i] = (float)(c <= 0.04045 ? c / 12.92
                                          : pow((c + 0.055) / 1.055, 2.4));
    }
}

/* The cube root of @v > 0: a first guess from the exponent bits, then
 * two Newton steps (relative error below 1e-5, some 3 times faster than
 * cbrtf here, which the model calls three times a pixel). */
static inline float
fast_cbrt(float v)
{
    union {
        float f;
        uint32_t u;
    } g = { v };
    float y;

    g.u = g.u / 3 + 709921077u;
    y = g.f;
    y = (2.0f * y + v / (y * y)) * (1.0f / 3);
    y = (2.0f * y + v / (y * y)) * (1.0f / 3);
    return y;
}

/* The XYB-like opponent channels of one RGB pixel (libjxl's opsin
 * absorbance mix and bias). */
static void
to_opponent(const unsigned char *px, float *x, float *y, float *b)
{
    static const float bias = 0.0037930732552754493f;
    static const float cb = 0.155954200549248f;   /* cbrt(bias) */
    float r = lin_lut[px[0]], g = lin_lut[px[1]], bl = lin_lut[px[2]];
    float l = fast_cbrt(0.30f * r + 0.622f * g + 0.078f * bl + bias) - cb;
    float m = fast_cbrt(0.23f * r + 0.692f * g + 0.078f * bl + bias) - cb;
    float s = fast_cbrt(0.24342269f * r + 0.20476744f * g +
                        0.55180987f * bl + bias) - cb;

    *x = (l - m) * 0.5f;
    *y = (l + m) * 0.5f;
    *b = s;
}

/* @out = the mean of @in over a (2r+1)^2 box, edges clamped, by running
 * sums (a constant cost a pixel whatever @r); @tmp holds w * h floats. */
static void
box_mean(const float *in, float *out, float *tmp, int w, int h, int r)
{
    float k = 1.0f / (float)(2 * r + 1);

    for (int y = 0; y < h; y++) {
        const float *row = in + (size_t)y * w;
        float *t = tmp + (size_t)y * w;
        double s = 0;   /* no drift over a long row */

        for (int i = -r; i <= r; i++)
            s += row[i < 0 ? 0 : i >= w ? w - 1 : i];
        for (int x = 0; x < w; x++) {
            int add = x + r + 1, sub = x - r;

            t[x] = (float)(s * k);
            s += row[add >= w ? w - 1 : add] - row[sub < 0 ? 0 : sub];
        }
    }
    for (int x = 0; x < w; x++) {
        double s = 0;

        for (int i = -r; i <= r; i++)
            s += tmp[(size_t)(i < 0 ? 0 : i >= h ? h - 1 : i) * w + x];
        for (int y = 0; y < h; y++) {
            int add = y + r + 1, sub = y - r;

            out[(size_t)y * w + x] = (float)(s * k);
            s += tmp[(size_t)(add >= h ? h - 1 : add) * w + x] -
                 tmp[(size_t)(sub < 0 ? 0 : sub) * w + x];
        }
    }
}

/* The planes of the reference (distance_ref) and of one measure. */
enum { R_X, R_Y, R_B, R_MASK, NREF };
enum { P_EX, P_EY, P_EB, P_T1, P_TMP, P_ACC, NPLANES };

int
distance_ref_init(struct distance_ref *r, const unsigned char *ref, int w,
                  int h, size_t stride)
{
    size_t n = (size_t)w * h, i;
    float *x, *y, *b, *m, *t1, *tmp;

    pthread_once(&lin_once, lin_init);
    r->w = w;
    r->h = h;
    r->planes = malloc(n * (NREF + 2) * sizeof(float));
    r->scratch = malloc(n * NPLANES * sizeof(float));
    if (!r->planes || !r->scratch)
        return -1;
    x = r->planes + n * R_X;
    y = r->planes + n * R_Y;
    b = r->planes + n * R_B;
    m = r->planes + n * R_MASK;
    t1 = r->planes + n * NREF;
    tmp = t1 + n;
    for (int yy = 0; yy < h; yy++)
        for (int xx = 0; xx < w; xx++) {
            i = (size_t)yy * w + xx;
            to_opponent(ref + yy * stride + 3 * xx, x + i, y + i, b + i);
        }
    /* Masking: the mean absolute fine detail of the source luminance. */
    box_mean(y, t1, tmp, w, h, FINE_R);
    for (i = 0; i < n; i++)
        t1[i] = fabsf(y[i] - t1[i]);
    box_mean(t1, m, tmp, w, h, FINE_R);
    for (i = 0; i < n; i++) {
        float k = MASK_C0 / (MASK_C0 + m[i]);

        m[i] = k * k;
    }
    return 0;
}

void
distance_ref_release(struct distance_ref *r)
{
    free(r->planes);
    free(r->scratch);
    r->planes = r->scratch = NULL;
}

int
distance_fast_tiles(struct distance_pool *p, const struct distance_ref *r,
                    const unsigned char *dist, size_t stride, int tw,
                    int th, int margin)
{
    static const float wc[3] = { W_X, W_Y, W_B };
    int w = r->w, h = r->h;
    size_t n = (size_t)w * h, i;
    const float *mask = r->planes + n * R_MASK;
    float *pl[NPLANES], *mem, dx, dy, db;

    /* The scratch planes, not a fresh allocation a trial: the pages of
     * one are faulted in once per search. */
    mem = r->scratch;
    for (int k = 0; k < NPLANES; k++)
        pl[k] = mem + n * k;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            i = (size_t)y * w + x;
            to_opponent(dist + y * stride + 3 * x, &dx, &dy, &db);
            pl[P_EX][i] = r->planes[n * R_X + i] - dx;
            pl[P_EY][i] = r->planes[n * R_Y + i] - dy;
            pl[P_EB][i] = r->planes[n * R_B + i] - db;
            pl[P_ACC][i] = 0;
        }
    for (int c = 0; c < 3; c++) {
        float *e = pl[P_EX + c], w2 = wc[c] * wc[c];

        box_mean(e, pl[P_T1], pl[P_TMP], w, h, FINE_R);
        for (i = 0; i < n; i++) {
            float fine = e[i] - pl[P_T1][i], coarse = pl[P_T1][i];

            pl[P_ACC][i] += w2 * (fine * fine * mask[i] +
                                  W_COARSE * coarse * coarse);
        }
    }
    /* Errors are seen over a neighbourhood, not pixel by pixel. */
    box_mean(pl[P_ACC], pl[P_T1], pl[P_TMP], w, h, 1);
    /* Each tile's inner part only: no pixel pooled sees past its own
     * tile (the filters reach DISTANCE_FAST_SUPPORT pixels). */
    for (int ty = 0; ty + th <= h; ty += th)
        for (int tx = 0; tx + tw <= w; tx += tw)
            for (int y = ty + margin; y < ty + th - margin; y++)
                for (int x = tx + margin; x < tx + tw - margin; x++)
                    pool_add(p, sqrt(fmax(pl[P_T1][(size_t)y * w + x], 0)));
    return 0;
}

int
distance_fast_add(struct distance_pool *p, const unsigned char *ref,
                  const unsigned char *dist, int w, int h, size_t stride,
                  int margin)
{
    struct distance_ref r;
    int rc;

    if (distance_ref_init(&r, ref, w, h, stride) < 0)
        return -1;
    rc = distance_fast_tiles(p, &r, dist, stride, w, h, margin);
    distance_ref_release(&r);
    return rc;
}

/* The display butteraugli_main assumes (its --intensity_target). */
#define DISPLAY_NITS 80.0f

/* One butteraugli instance per worker, made on first use. */
static JxlButteraugliApi *api;

/* @img as rows of exactly 3 * @w bytes: @img itself, or a copy in *@own
 * (the caller frees).  NULL when out of memory. */
static const unsigned char *
packed(const unsigned char *img, int w, int h, size_t stride,
       unsigned char **own)
{
    size_t row = (size_t)w * 3;

    *own = NULL;
    if (stride == row)
        return img;
    *own = malloc(row * h);
    if (!*own)
        return NULL;
    for (int y = 0; y < h; y++)
        memcpy(*own + row * y, img + stride * y, row);
    return *own;
}

/* libjxl's butteraugli map of @dist against @ref, pooled into @p over
 * each @tw x @th tile without its outermost @margin pixels.  0, or -1
 * when libjxl fails. */
static int
butteraugli_pool(struct distance_pool *p, const unsigned char *ref,
                 const unsigned char *dist, int w, int h, size_t stride,
                 int tw, int th, int margin)
{
    JxlPixelFormat fmt = { 3, JXL_TYPE_UINT8, JXL_NATIVE_ENDIAN, 0 };
    unsigned char *own_r, *own_d;
    const unsigned char *r, *d;
    JxlButteraugliResult *br = NULL;
    const float *map;
    uint32_t mstride;
    size_t len = (size_t)w * h * 3;

    if (!api) {
        api = JxlButteraugliApiCreate(NULL);
        /* butteraugli_main's display (80 nits), not the API's default of
         * 255, which reads about a third higher on photographs. */
        if (api)
            JxlButteraugliApiSetIntensityTarget(api, DISPLAY_NITS);
    }
    if (!api)
        return -1;
    r = packed(ref, w, h, stride, &own_r);
    d = packed(dist, w, h, stride, &own_d);
    if (r && d)
        br = JxlButteraugliCompute(api, (uint32_t)w, (uint32_t)h, &fmt, r,
                                   len, &fmt, d, len);
    free(own_r);
    free(own_d);
    if (!br)
        return -1;
    JxlButteraugliResultGetDistmap(br, &map, &mstride);
    for (int ty = 0; ty + th <= h; ty += th)
        for (int tx = 0; tx + tw <= w; tx += tw)
            for (int y = ty + margin; y < ty + th - margin; y++)
                for (int x = tx + margin; x < tx + tw - margin; x++)
                    pool_add(p, map[(size_t)y * mstride + x]);
    JxlButteraugliResultDestroy(br);
    return 0;
}

int
distance_butteraugli_add(struct distance_pool *p,
                         const unsigned char *ref,
                         const unsigned char *dist, int w, int h,
                         size_t stride, int margin)
{
    return butteraugli_pool(p, ref, dist, w, h, stride, w, h, margin);
}

int
distance_butteraugli_tiles(struct distance_pool *p,
                           const unsigned char *ref,
                           const unsigned char *dist, int w, int h,
                           size_t stride, int tw, int th, int margin)
{
    return butteraugli_pool(p, ref, dist, w, h, stride, tw, th, margin);
}
