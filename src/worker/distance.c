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
#ifndef FINE_R
#define FINE_R 4
#endif
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
#define SCALE_A 778.6
#endif
#ifndef SCALE_B
#define SCALE_B 1.1052
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

/* The XYB-like opponent channels of one RGB pixel (libjxl's opsin
 * absorbance mix and bias). */
static void
to_opponent(const unsigned char *px, float *x, float *y, float *b)
{
    static const float bias = 0.0037930732552754493f;
    float r = lin_lut[px[0]], g = lin_lut[px[1]], bl = lin_lut[px[2]];
    float cb = cbrtf(bias);
    float l = cbrtf(0.30f * r + 0.622f * g + 0.078f * bl + bias) - cb;
    float m = cbrtf(0.23f * r + 0.692f * g + 0.078f * bl + bias) - cb;
    float s = cbrtf(0.24342269f * r + 0.20476744f * g + 0.55180987f * bl +
                    bias) - cb;

    *x = (l - m) * 0.5f;
    *y = (l + m) * 0.5f;
    *b = s;
}

/* @out = the mean of @in over a (2r+1)^2 box, edges clamped; @tmp holds
 * w * h floats. */
static void
box_mean(const float *in, float *out, float *tmp, int w, int h, int r)
{
    float k = 1.0f / (float)(2 * r + 1);

    for (int y = 0; y < h; y++) {
        const float *row = in + (size_t)y * w;

        for (int x = 0; x < w; x++) {
            float s = 0;

            for (int i = -r; i <= r; i++) {
                int xx = x + i < 0 ? 0 : x + i >= w ? w - 1 : x + i;

                s += row[xx];
            }
            tmp[(size_t)y * w + x] = s * k;
        }
    }
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            float s = 0;

            for (int i = -r; i <= r; i++) {
                int yy = y + i < 0 ? 0 : y + i >= h ? h - 1 : y + i;

                s += tmp[(size_t)yy * w + x];
            }
            out[(size_t)y * w + x] = s * k;
        }
}

enum { P_EX, P_EY, P_EB, P_YR, P_MASK, P_T1, P_TMP, P_ACC, NPLANES };

/* The per-pixel squared distance of the model into pl[P_ACC]. */
static void
fast_map(float **pl, int w, int h)
{
    static const float wc[3] = { W_X, W_Y, W_B };
    size_t n = (size_t)w * h, i;

    /* Masking: the mean absolute fine detail of the source luminance. */
    box_mean(pl[P_YR], pl[P_T1], pl[P_TMP], w, h, FINE_R);
    for (i = 0; i < n; i++)
        pl[P_T1][i] = fabsf(pl[P_YR][i] - pl[P_T1][i]);
    box_mean(pl[P_T1], pl[P_MASK], pl[P_TMP], w, h, FINE_R);
    for (i = 0; i < n; i++) {
        float m = MASK_C0 / (MASK_C0 + pl[P_MASK][i]);

        pl[P_MASK][i] = m * m;
        pl[P_ACC][i] = 0;
    }
    for (int c = 0; c < 3; c++) {
        float *e = pl[P_EX + c], w2 = wc[c] * wc[c];

        box_mean(e, pl[P_T1], pl[P_TMP], w, h, FINE_R);
        for (i = 0; i < n; i++) {
            float fine = e[i] - pl[P_T1][i], coarse = pl[P_T1][i];

            pl[P_ACC][i] += w2 * (fine * fine * pl[P_MASK][i] +
                                  W_COARSE * coarse * coarse);
        }
    }
    /* Errors are seen over a neighbourhood, not pixel by pixel. */
    box_mean(pl[P_ACC], pl[P_T1], pl[P_TMP], w, h, 1);
    memcpy(pl[P_ACC], pl[P_T1], n * sizeof(float));
}

int
distance_fast_add(struct distance_pool *p, const unsigned char *ref,
                  const unsigned char *dist, int w, int h, size_t stride,
                  int margin)
{
    size_t n = (size_t)w * h;
    float *pl[NPLANES], *mem;
    float rx, ry, rb, dx, dy, db;

    pthread_once(&lin_once, lin_init);
    mem = malloc(n * NPLANES * sizeof(float));
    if (!mem)
        return -1;
    for (int k = 0; k < NPLANES; k++)
        pl[k] = mem + n * k;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            size_t i = (size_t)y * w + x;

            to_opponent(ref + y * stride + 3 * x, &rx, &ry, &rb);
            to_opponent(dist + y * stride + 3 * x, &dx, &dy, &db);
            pl[P_EX][i] = rx - dx;
            pl[P_EY][i] = ry - dy;
            pl[P_EB][i] = rb - db;
            pl[P_YR][i] = ry;
        }
    fast_map(pl, w, h);
    for (int y = margin; y < h - margin; y++)
        for (int x = margin; x < w - margin; x++)
            pool_add(p, sqrt(pl[P_ACC][(size_t)y * w + x]));
    free(mem);
    return 0;
}

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

int
distance_butteraugli_add(struct distance_pool *p,
                         const unsigned char *ref,
                         const unsigned char *dist, int w, int h,
                         size_t stride, int margin)
{
    JxlPixelFormat fmt = { 3, JXL_TYPE_UINT8, JXL_NATIVE_ENDIAN, 0 };
    unsigned char *own_r, *own_d;
    const unsigned char *r, *d;
    JxlButteraugliResult *br = NULL;
    const float *map;
    uint32_t mstride;
    size_t len = (size_t)w * h * 3;

    if (!api)
        api = JxlButteraugliApiCreate(NULL);
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
    for (int y = margin; y < h - margin; y++)
        for (int x = margin; x < w - margin; x++)
            pool_add(p, map[(size_t)y * mstride + x]);
    JxlButteraugliResultDestroy(br);
    return 0;
}
