/*
 * jenc_dct.c - the encoder's sample planes and forward DCT (jenc_int.h):
 * RGB rows to JFIF YCbCr, chroma averaged over 2x2 for 4:2:0, edges
 * replicated out to whole blocks; a separable floating-point DCT-II
 * (even/odd split of each 8-point transform).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "jenc_int.h"

#ifdef __SSE2__
#include <xmmintrin.h>
#include <emmintrin.h>
#endif

void
jenc_planes_free(struct jenc_plane pl[3])
{
    for (int i = 0; i < 3; i++) {
        free(pl[i].px);
        free(pl[i].lum);
        memset(&pl[i], 0, sizeof(pl[i]));
    }
}

/* Size @p for @w x @h samples in blocks rounded up to @sv rows of blocks
 * (and @sh columns).  0, or -1 when out of memory. */
static int
plane_alloc(struct jenc_plane *p, int w, int h, int sh, int sv)
{
    p->w = w;
    p->h = h;
    p->bw = (w + 7) / 8;
    p->bh = (h + 7) / 8;
    p->bw = (p->bw + sh - 1) / sh * sh;
    p->bh = (p->bh + sv - 1) / sv * sv;
    p->stride = p->bw * 8;
    p->px = malloc((size_t)p->stride * (size_t)p->bh * 8);
    return p->px ? 0 : -1;
}

void
jenc_plane_pad(struct jenc_plane *p)
{
    int y;

    for (y = 0; y < p->h; y++) {
        unsigned char *r = p->px + (size_t)y * p->stride;

        memset(r + p->w, r[p->w - 1], (size_t)(p->stride - p->w));
    }
    for (y = p->h; y < p->bh * 8; y++)
        memcpy(p->px + (size_t)y * p->stride,
               p->px + (size_t)(p->h - 1) * p->stride, (size_t)p->stride);
}

/* JFIF's conversion in 16-bit fixed point: the weights of each row add
 * up to 65536 exactly, so grey stays grey. */
#define FIX_HALF 32768
#define CHROMA_OFS (128 << 16)

static unsigned char
clamp8(int v)
{
    return (unsigned char)(v < 0 ? 0 : v > 255 ? 255 : v);
}

/* The light of a pixel squared, for jenc_luma.c: 0.2126 R^2 + 0.7152 G^2
 * + 0.0722 B^2 (weights in 1/32768ths), rounded; at most 255^2. */
#define LW_R 6966u
#define LW_G 23436u
#define LW_B 2366u

/* RGB row @rgb to luma row @y and light row @lum (unless NULL).  Returns
 * whether every pixel is grey. */
static int
luma_row(const unsigned char *rgb, int w, unsigned char *y,
         unsigned short *lum)
{
    int grey = 1;

    for (int x = 0; x < w; x++) {
        unsigned r = rgb[3 * x], g = rgb[3 * x + 1], b = rgb[3 * x + 2];

        grey &= (r == g) & (r == b);
        y[x] = (unsigned char)((19595 * r + 38470 * g + 7471 * b +
                                FIX_HALF) >> 16);
        if (lum)
            lum[x] = (unsigned short)((LW_R * r * r + LW_G * g * g +
                                       LW_B * b * b + 16384u) >> 15);
    }
    return grey;
}

/* Chroma of @n pixels whose R, G and B add up to @r, @g, @b, rounded:
 * the mean of their chroma, as the conversion is linear. */
static void
chroma_of(int r, int g, int b, int n, unsigned char *cb, unsigned char *cr)
{
    int shift = n == 4 ? 18 : n == 2 ? 17 : 16;
    int ofs = n * CHROMA_OFS + (1 << (shift - 1));

    *cb = clamp8((-11059 * r - 21709 * g + 32768 * b + ofs) >> shift);
    *cr = clamp8((32768 * r - 27439 * g - 5329 * b + ofs) >> shift);
}

/* Chroma rows @cb, @cr from RGB rows @a and @b (@b may equal @a):
 * averaged over 2x2 with @sub, else one sample a pixel of @a. */
static void
chroma_row(const unsigned char *a, const unsigned char *b, int w, int sub,
           unsigned char *cb, unsigned char *cr)
{
    int x;

    if (!sub) {
        for (x = 0; x < w; x++)
            chroma_of(a[3 * x], a[3 * x + 1], a[3 * x + 2], 1, cb + x,
                      cr + x);
        return;
    }
    for (x = 0; x + 1 < w; x += 2) {
        const unsigned char *p = a + 3 * x, *q = b + 3 * x;

        chroma_of(p[0] + p[3] + q[0] + q[3], p[1] + p[4] + q[1] + q[4],
                  p[2] + p[5] + q[2] + q[5], 4, cb + x / 2, cr + x / 2);
    }
    if (x < w)
        chroma_of(a[3 * x] + b[3 * x], a[3 * x + 1] + b[3 * x + 1],
                  a[3 * x + 2] + b[3 * x + 2], 2, cb + x / 2, cr + x / 2);
}

/* The two rows of a 4:2:0 chroma row are read into two buffers (a row
 * stays valid while the next is read: encode.h). */
struct reader {
    const struct encode_rows *src;
    unsigned char *rgb[2];
};

static int
read_all(struct reader *rd, int sub, struct jenc_plane pl[3])
{
    const struct encode_rows *src = rd->src;
    int w = src->width, h = src->height, grey = 1, y;

    for (y = 0; y < h; y += sub ? 2 : 1) {
        int y2 = sub && y + 1 < h ? y + 1 : y;
        int cy = sub ? y / 2 : y;
        const unsigned char *a = src->row(src->arg, y, rd->rgb[0]), *b = a;

        unsigned short *lum = pl[0].lum;

        grey &= luma_row(a, w, pl[0].px + (size_t)y * pl[0].stride,
                         lum ? lum + (size_t)y * w : NULL);
        if (y2 != y) {
            b = src->row(src->arg, y2, rd->rgb[1]);
            grey &= luma_row(b, w, pl[0].px + (size_t)y2 * pl[0].stride,
                             lum ? lum + (size_t)y2 * w : NULL);
        }
        chroma_row(a, b, w, sub, pl[1].px + (size_t)cy * pl[1].stride,
                   pl[2].px + (size_t)cy * pl[2].stride);
    }
    return grey;
}

int
jenc_planes_read(const struct encode_rows *src, int sub420,
                 int allow_grey, struct jenc_plane pl[3], int *grey)
{
    int w = src->width, h = src->height, s = sub420 ? 2 : 1, rc = -1;
    int cw = (w + s - 1) / s, ch = (h + s - 1) / s;
    struct reader rd = { .src = src };

    memset(pl, 0, 3 * sizeof(*pl));
    rd.rgb[0] = malloc((size_t)w * 3);
    rd.rgb[1] = malloc((size_t)w * 3);
    if (!rd.rgb[0] || !rd.rgb[1] || plane_alloc(&pl[0], w, h, s, s) < 0 ||
        plane_alloc(&pl[1], cw, ch, 1, 1) < 0 ||
        plane_alloc(&pl[2], cw, ch, 1, 1) < 0)
        goto out;
    /* The light only for 4:2:0, the one jenc_luma.c matches. */
    if (sub420 &&
        !(pl[0].lum = malloc((size_t)w * (size_t)h * sizeof(*pl[0].lum))))
        goto out;
    *grey = read_all(&rd, sub420, pl) && allow_grey;
    for (int i = 0; i < 3; i++)
        jenc_plane_pad(&pl[i]);
    if (*grey) {
        free(pl[0].lum);
        pl[0].lum = NULL;
        free(pl[1].px);
        free(pl[2].px);
        memset(&pl[1], 0, 2 * sizeof(*pl));
    }
    rc = 0;
out:
    free(rd.rgb[0]);
    free(rd.rgb[1]);
    if (rc < 0)
        jenc_planes_free(pl);
    return rc;
}

/* The DCT-II matrix, orthonormal: m[u][x] = c(u)/2 cos((2x+1)u pi/16).
 * Only its left half is kept: row u is symmetric about the middle for
 * even u and antisymmetric for odd u, so each 8-point transform is a 4x4
 * product on the sums s[x] + s[7-x] (even outputs) and another on the
 * differences s[x] - s[7-x] (odd outputs): half the multiplications of
 * the full product. */
static float dct_even[4][4], dct_odd[4][4];
static int dct_ready;

static void
dct_init(void)
{
    for (int k = 0; k < 4; k++) {
        for (int x = 0; x < 4; x++) {
            int ue = 2 * k, uo = 2 * k + 1;

            dct_even[k][x] = (float)((ue == 0 ? sqrt(0.5) : 1.0) / 2.0 *
                                     cos((2 * x + 1) * ue * M_PI / 16.0));
            dct_odd[k][x] = (float)(0.5 * cos((2 * x + 1) * uo * M_PI /
                                              16.0));
        }
    }
    dct_ready = 1;
}

#ifdef __SSE2__
/* The 8-point transform of eight vectors @v (each four columns side by
 * side), in place: v[u] becomes the coefficient u of each column. */
static void
dct8_ps(__m128 v[8])
{
    __m128 a[4], b[4];

    for (int x = 0; x < 4; x++) {
        a[x] = _mm_add_ps(v[x], v[7 - x]);
        b[x] = _mm_sub_ps(v[x], v[7 - x]);
    }
    for (int k = 0; k < 4; k++) {
        __m128 e = _mm_mul_ps(_mm_set1_ps(dct_even[k][0]), a[0]);
        __m128 o = _mm_mul_ps(_mm_set1_ps(dct_odd[k][0]), b[0]);

        for (int x = 1; x < 4; x++) {
            e = _mm_add_ps(e, _mm_mul_ps(_mm_set1_ps(dct_even[k][x]), a[x]));
            o = _mm_add_ps(o, _mm_mul_ps(_mm_set1_ps(dct_odd[k][x]), b[x]));
        }
        v[2 * k] = e;
        v[2 * k + 1] = o;
    }
}

/* The 8x8 of floats whose row i is @l[i] (columns 0..3) and @r[i]
 * (columns 4..7), transposed in place. */
static void
transpose8_ps(__m128 l[8], __m128 r[8])
{
    __m128 t;

    _MM_TRANSPOSE4_PS(l[0], l[1], l[2], l[3]);
    _MM_TRANSPOSE4_PS(l[4], l[5], l[6], l[7]);
    _MM_TRANSPOSE4_PS(r[0], r[1], r[2], r[3]);
    _MM_TRANSPOSE4_PS(r[4], r[5], r[6], r[7]);
    /* Each 4x4 quarter is transposed; the two off the diagonal also
     * change places. */
    for (int i = 0; i < 4; i++) {
        t = l[4 + i];
        l[4 + i] = r[i];
        r[i] = t;
    }
}

void
jenc_fdct(const struct jenc_plane *pl, int bx, int by, float out[64])
{
    const __m128i zero = _mm_setzero_si128();
    const __m128 shift = _mm_set1_ps(128.0f);
    __m128 l[8], r[8];
    int y;

    if (!dct_ready)
        dct_init();
    for (y = 0; y < 8; y++) {
        const unsigned char *p = pl->px + (size_t)(by * 8 + y) * pl->stride
                                 + (size_t)bx * 8;
        __m128i w = _mm_unpacklo_epi8(_mm_loadl_epi64((const __m128i *)p),
                                      zero);

        l[y] = _mm_sub_ps(_mm_cvtepi32_ps(_mm_unpacklo_epi16(w, zero)),
                          shift);
        r[y] = _mm_sub_ps(_mm_cvtepi32_ps(_mm_unpackhi_epi16(w, zero)),
                          shift);
    }
    /* Down the columns (l[y], r[y] are row y), then across the rows
     * (after a transpose, l[x], r[x] are column x), then back. */
    dct8_ps(l);
    dct8_ps(r);
    transpose8_ps(l, r);
    dct8_ps(l);
    dct8_ps(r);
    transpose8_ps(l, r);
    for (y = 0; y < 8; y++) {
        _mm_storeu_ps(out + y * 8, l[y]);
        _mm_storeu_ps(out + y * 8 + 4, r[y]);
    }
}

/* The inverse of dct8_ps(): v[u] (coefficient u of each column) becomes
 * the samples of each column. */
static void
idct8_ps(__m128 v[8])
{
    __m128 e[4], o[4];

    for (int x = 0; x < 4; x++) {
        e[x] = _mm_mul_ps(_mm_set1_ps(dct_even[0][x]), v[0]);
        o[x] = _mm_mul_ps(_mm_set1_ps(dct_odd[0][x]), v[1]);
        for (int k = 1; k < 4; k++) {
            e[x] = _mm_add_ps(e[x], _mm_mul_ps(_mm_set1_ps(dct_even[k][x]),
                                               v[2 * k]));
            o[x] = _mm_add_ps(o[x], _mm_mul_ps(_mm_set1_ps(dct_odd[k][x]),
                                               v[2 * k + 1]));
        }
    }
    for (int x = 0; x < 4; x++) {
        v[x] = _mm_add_ps(e[x], o[x]);
        v[7 - x] = _mm_sub_ps(e[x], o[x]);
    }
}

void
jenc_idct(const float in[64], unsigned char *out, int stride)
{
    const __m128 shift = _mm_set1_ps(128.0f);
    __m128 l[8], r[8];
    int y;

    if (!dct_ready)
        dct_init();
    for (y = 0; y < 8; y++) {
        l[y] = _mm_loadu_ps(in + y * 8);
        r[y] = _mm_loadu_ps(in + y * 8 + 4);
    }
    idct8_ps(l);
    idct8_ps(r);
    transpose8_ps(l, r);
    idct8_ps(l);
    idct8_ps(r);
    transpose8_ps(l, r);
    for (y = 0; y < 8; y++) {
        __m128i a = _mm_cvtps_epi32(_mm_add_ps(l[y], shift));
        __m128i b = _mm_cvtps_epi32(_mm_add_ps(r[y], shift));
        __m128i w = _mm_packs_epi32(a, b);

        _mm_storel_epi64((__m128i *)(out + (size_t)y * stride),
                         _mm_packus_epi16(w, w));
    }
}
#else
/* One 8-point DCT-II of @in (stride @is) into @out (stride @os). */
static void
dct8(const float *in, int is, float *out, int os)
{
    float a[4], b[4];

    for (int x = 0; x < 4; x++) {
        a[x] = in[x * is] + in[(7 - x) * is];
        b[x] = in[x * is] - in[(7 - x) * is];
    }
    for (int k = 0; k < 4; k++) {
        out[2 * k * os] = dct_even[k][0] * a[0] + dct_even[k][1] * a[1] +
                          dct_even[k][2] * a[2] + dct_even[k][3] * a[3];
        out[(2 * k + 1) * os] = dct_odd[k][0] * b[0] + dct_odd[k][1] * b[1]
                                + dct_odd[k][2] * b[2] +
                                dct_odd[k][3] * b[3];
    }
}

void
jenc_fdct(const struct jenc_plane *pl, int bx, int by, float out[64])
{
    float s[64], t[64];
    int x, y;

    if (!dct_ready)
        dct_init();
    for (y = 0; y < 8; y++) {
        const unsigned char *r = pl->px + (size_t)(by * 8 + y) * pl->stride
                                 + (size_t)bx * 8;

        for (x = 0; x < 8; x++)
            s[y * 8 + x] = (float)r[x] - 128.0f;
    }
    /* Rows into t (t[y][u]), then columns into out (out[v][u]). */
    for (y = 0; y < 8; y++)
        dct8(s + y * 8, 1, t + y * 8, 1);
    for (x = 0; x < 8; x++)
        dct8(t + x, 8, out + x, 8);
}

void
jenc_idct(const float in[64], unsigned char *out, int stride)
{
    float t[64];

    if (!dct_ready)
        dct_init();
    /* Down the columns into t (t[y][u]), then along the rows. */
    for (int u = 0; u < 8; u++)
        for (int y = 0; y < 4; y++) {
            float e = 0, o = 0;

            for (int k = 0; k < 4; k++) {
                e += dct_even[k][y] * in[2 * k * 8 + u];
                o += dct_odd[k][y] * in[(2 * k + 1) * 8 + u];
            }
            t[y * 8 + u] = e + o;
            t[(7 - y) * 8 + u] = e - o;
        }
    for (int y = 0; y < 8; y++)
        for (int x = 0; x < 4; x++) {
            float e = 128.0f, o = 0;

            for (int k = 0; k < 4; k++) {
                e += dct_even[k][x] * t[y * 8 + 2 * k];
                o += dct_odd[k][x] * t[y * 8 + 2 * k + 1];
            }
            out[(size_t)y * stride + x] = clamp8((int)lrintf(e + o));
            out[(size_t)y * stride + 7 - x] = clamp8((int)lrintf(e - o));
        }
}
#endif
