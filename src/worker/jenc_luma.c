/*
 * jenc_luma.c - luma matched to the decoded chroma (jenc_int.h).
 *
 * A JPEG decoder rebuilds each pixel from its own luma sample and chroma
 * that has been averaged (4:2:0), quantised and upsampled again.  Those
 * chroma errors are errors of colour, and where R, G and B differ they
 * are errors of brightness too: the JFIF conversion keeps the gamma-coded
 * luma Y' constant under a chroma change, but not the light the pixel
 * gives, which is what the eye (and butteraugli, which models it) sees
 * first.  Across a saturated edge a 4:2:0 file goes darker or lighter
 * than the original in a band two pixels wide.
 *
 * So the chroma planes are coded first; their blocks are decoded back
 * (inverse DCT of the quantised levels, then the triangle upsampling
 * libjpeg-turbo's decoder applies to 4:2:0 chroma), and each luma sample
 * is moved, by at most JENC_LUMA_REACH steps, to the value whose decoded
 * pixel has the light (about its linear luminance: below) of the
 * original pixel.  The luma is then transformed and quantised as
 * usual.  The idea is the one behind "sharp" RGB to YUV conversions for
 * video and WebP, applied here against the chroma the file actually
 * carries, quantisation included.  Measured in docs/ENCODER.md.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "jenc_int.h"

/* How far a luma sample may move.  On 12 photographs at -q 90 a reach
 * of 2, 4 or 8 gives the same look and bytes (1 a little less look); on
 * flat saturated graphics (testdata/rgb.jpg: pure primaries) each step
 * of reach costs bytes at the edges, 3,427 bytes with no match, 3,892
 * with 2, 4,345 with 8. */
#define JENC_LUMA_REACH 2.0f

/*
 * The light of a pixel: linear luminance with Rec. 709's weights, the
 * sRGB curve taken as a square (its exponent is 2.2 over most of the
 * range; the error cancels, as the original and the decoded pixel are
 * measured alike), given back as the grey level of the same light:
 * L = sqrt(0.2126 R^2 + 0.7152 G^2 + 0.0722 B^2).  Then the luma that
 * gives a pixel light L with decoded chroma offsets (dr, dg, db) solves
 * a quadratic: sum w_c (Y + d_c)^2 = L^2, Y = -d1 + sqrt(d1^2 - d2 +
 * L^2) with d1 = sum w_c d_c, d2 = sum w_c d_c^2.  L^2 of each
 * original pixel is computed with its luma (jenc_dct.c).  Against the
 * exact sRGB curve, searched through tables per pixel (docs/ENCODER.md):
 * a butteraugli 3-norm 0.5% higher, and the encoder 14% slower than
 * without the match where the tables made it 58% slower.
 */
#define WR 0.2126f
#define WG 0.7152f
#define WB 0.0722f
/* JFIF's YCbCr to RGB, per unit of Cb - 128 and Cr - 128. */
#define CR_R 1.402f
#define CB_G (-0.344136f)
#define CR_G (-0.714136f)
#define CB_B 1.772f
/* The samples a decoder gets from the quantised block @q (steps @qt),
 * into @out. */
static void
decode_block(const JCOEF *q, const unsigned short *qt, unsigned char *out,
             int stride)
{
    float c[64];
    int ac = 0;

    for (int k = 1; k < 64; k++)
        ac |= q[k];
    if (!ac) {
        /* A flat block, as most chroma blocks of a photograph are. */
        long v = lrintf((float)q[0] * (float)qt[0] / 8.0f) + 128;
        unsigned char s = (unsigned char)(v < 0 ? 0 : v > 255 ? 255 : v);

        for (int y = 0; y < 8; y++)
            memset(out + (size_t)y * stride, s, 8);
        return;
    }
    for (int k = 0; k < 64; k++)
        c[k] = (float)q[k] * (float)qt[k];
    jenc_idct(c, out, stride);
}

int
jenc_plane_decode(j_common_ptr cc, const struct jenc_plane *pl,
                  jvirt_barray_ptr arr, const unsigned short *qt,
                  struct jenc_plane *out)
{
    int bw = (pl->w + 7) / 8, bh = (pl->h + 7) / 8;

    *out = *pl;
    out->lum = NULL;
    out->px = malloc((size_t)pl->stride * (size_t)pl->bh * 8);
    if (!out->px)
        return -1;
    for (int by = 0; by < bh; by++) {
        JBLOCKARRAY rows = (*cc->mem->access_virt_barray)(
            cc, arr, (JDIMENSION)by, 1, FALSE);

        for (int bx = 0; bx < bw; bx++)
            decode_block(rows[0][bx], qt,
                         out->px + (size_t)by * 8 * pl->stride +
                         (size_t)bx * 8, pl->stride);
    }
    return 0;
}

/* Chroma row @y of a full-size image of width @w from the decoded 4:2:0
 * plane @c: libjpeg-turbo's h2v2 "fancy" upsampling (3/4 of the nearer
 * sample, 1/4 of the next, in each direction; edges replicated), into
 * @out.  @cs holds c->w + 2 shorts. */
static void
upsample_row(const struct jenc_plane *c, int y, int w, short *cs,
             unsigned char *out)
{
    int j = y >> 1, j2 = y & 1 ? j + 1 : j - 1, cw = c->w, i;
    const unsigned char *a, *b;

    if (j2 < 0)
        j2 = 0;
    if (j2 >= c->h)
        j2 = c->h - 1;
    a = c->px + (size_t)j * c->stride;
    b = c->px + (size_t)j2 * c->stride;
    /* The column sums, with the edge ones repeated on either side. */
    i = 0;
#ifdef __SSE2__
    for (; i + 8 <= cw; i += 8) {
        const __m128i z = _mm_setzero_si128();
        __m128i va = _mm_unpacklo_epi8(
            _mm_loadl_epi64((const __m128i *)(a + i)), z);
        __m128i vb = _mm_unpacklo_epi8(
            _mm_loadl_epi64((const __m128i *)(b + i)), z);

        _mm_storeu_si128((__m128i *)(cs + i + 1),
                         _mm_add_epi16(_mm_add_epi16(va, _mm_add_epi16(va,
                                                                      va)),
                                       vb));
    }
#endif
    for (; i < cw; i++)
        cs[i + 1] = (short)(3 * a[i] + b[i]);
    cs[0] = cs[1];
    cs[cw + 1] = cs[cw];
    i = 0;
#ifdef __SSE2__
    /* Sixteen outputs from eight sums and their neighbours. */
    for (; 2 * i + 16 <= w; i += 8) {
        __m128i l = _mm_loadu_si128((const __m128i *)(cs + i));
        __m128i m = _mm_loadu_si128((const __m128i *)(cs + i + 1));
        __m128i r = _mm_loadu_si128((const __m128i *)(cs + i + 2));
        __m128i t = _mm_add_epi16(m, _mm_add_epi16(m, m));
        __m128i ev = _mm_srli_epi16(
            _mm_add_epi16(_mm_add_epi16(t, l), _mm_set1_epi16(8)), 4);
        __m128i od = _mm_srli_epi16(
            _mm_add_epi16(_mm_add_epi16(t, r), _mm_set1_epi16(7)), 4);

        _mm_storeu_si128((__m128i *)(out + 2 * i),
                         _mm_packus_epi16(_mm_unpacklo_epi16(ev, od),
                                          _mm_unpackhi_epi16(ev, od)));
    }
#endif
    for (; 2 * i + 1 < w; i++) {
        int t = 3 * cs[i + 1];

        out[2 * i] = (unsigned char)((t + cs[i] + 8) >> 4);
        out[2 * i + 1] = (unsigned char)((t + cs[i + 2] + 7) >> 4);
    }
    if (2 * i < w)
        out[2 * i] = (unsigned char)((3 * cs[i + 1] + cs[i] + 8) >> 4);
}

/* The luma near @y0 that gives light L (@l = L^2) with chroma @cb, @cr. */
static float
match_one(float y0, float cb, float cr, float l)
{
    float b = cb - 128.0f, r = cr - 128.0f;
    /* Rounded, as the decoder's tables are. */
    float dr = rintf(CR_R * r), dg = rintf(CB_G * b + CR_G * r);
    float db = rintf(CB_B * b);
    float d1 = WR * dr + WG * dg + WB * db;
    float d2 = WR * dr * dr + WG * dg * dg + WB * db * db;
    float t = d1 * d1 - d2 + l;
    float y = (t > 0.0f ? sqrtf(t) : 0.0f) - d1;

    y = fminf(fmaxf(y, y0 - JENC_LUMA_REACH), y0 + JENC_LUMA_REACH);
    return fminf(fmaxf(y, 0.0f), 255.0f);
}

#ifdef __SSE2__
static __m128
rint4(__m128 v)
{
    return _mm_cvtepi32_ps(_mm_cvtps_epi32(v));
}

/* match_one() of four pixels. */
static __m128
match4(__m128 y0, __m128 cb, __m128 cr, __m128 l)
{
    const __m128 mid = _mm_set1_ps(128.0f), reach = _mm_set1_ps(
        JENC_LUMA_REACH);
    __m128 b = _mm_sub_ps(cb, mid), r = _mm_sub_ps(cr, mid);
    __m128 dr = rint4(_mm_mul_ps(_mm_set1_ps(CR_R), r));
    __m128 dg = rint4(_mm_add_ps(_mm_mul_ps(_mm_set1_ps(CB_G), b),
                                 _mm_mul_ps(_mm_set1_ps(CR_G), r)));
    __m128 db = rint4(_mm_mul_ps(_mm_set1_ps(CB_B), b));
    __m128 wr = _mm_set1_ps(WR), wg = _mm_set1_ps(WG), wb = _mm_set1_ps(WB);
    __m128 d1 = _mm_add_ps(_mm_add_ps(_mm_mul_ps(wr, dr),
                                      _mm_mul_ps(wg, dg)),
                           _mm_mul_ps(wb, db));
    __m128 d2 = _mm_add_ps(_mm_add_ps(_mm_mul_ps(wr, _mm_mul_ps(dr, dr)),
                                      _mm_mul_ps(wg, _mm_mul_ps(dg, dg))),
                           _mm_mul_ps(wb, _mm_mul_ps(db, db)));
    __m128 t = _mm_add_ps(_mm_sub_ps(_mm_mul_ps(d1, d1), d2), l);
    __m128 y = _mm_sub_ps(_mm_sqrt_ps(_mm_max_ps(t, _mm_setzero_ps())), d1);

    y = _mm_min_ps(_mm_max_ps(y, _mm_sub_ps(y0, reach)),
                   _mm_add_ps(y0, reach));
    return _mm_min_ps(_mm_max_ps(y, _mm_setzero_ps()), _mm_set1_ps(255.0f));
}

/* Eight unsigned bytes at @p as two vectors of four floats. */
static void
bytes8(const unsigned char *p, __m128 v[2])
{
    const __m128i z = _mm_setzero_si128();
    __m128i w = _mm_unpacklo_epi8(_mm_loadl_epi64((const __m128i *)p), z);

    v[0] = _mm_cvtepi32_ps(_mm_unpacklo_epi16(w, z));
    v[1] = _mm_cvtepi32_ps(_mm_unpackhi_epi16(w, z));
}
#endif

/* match_one() along a row of @w samples. */
static void
match_row(unsigned char *py, const unsigned char *cb, const unsigned char *cr,
          const unsigned short *l, int w)
{
    int x = 0;
#ifdef __SSE2__
    const __m128i z = _mm_setzero_si128();

    for (; x + 8 <= w; x += 8) {
        __m128 y0[2], b[2], r[2], lv[2], o[2];
        __m128i lw = _mm_loadu_si128((const __m128i *)(l + x));

        bytes8(py + x, y0);
        bytes8(cb + x, b);
        bytes8(cr + x, r);
        lv[0] = _mm_cvtepi32_ps(_mm_unpacklo_epi16(lw, z));
        lv[1] = _mm_cvtepi32_ps(_mm_unpackhi_epi16(lw, z));
        for (int k = 0; k < 2; k++)
            o[k] = match4(y0[k], b[k], r[k], lv[k]);
        lw = _mm_packs_epi32(_mm_cvtps_epi32(o[0]), _mm_cvtps_epi32(o[1]));
        _mm_storel_epi64((__m128i *)(py + x), _mm_packus_epi16(lw, lw));
    }
#endif
    for (; x < w; x++)
        py[x] = (unsigned char)lrintf(match_one(py[x], cb[x], cr[x], l[x]));
}

int
jenc_luma_match(struct jenc_plane *luma, const struct jenc_plane *cb,
                const struct jenc_plane *cr)
{
    int w = luma->w, h = luma->h;
    unsigned char *ub = malloc((size_t)w), *ur = malloc((size_t)w);
    short *cs = malloc(((size_t)cb->w + 2) * sizeof(*cs));
    int ok = ub && ur && cs;

    if (ok) {
        for (int y = 0; y < h; y++) {
            upsample_row(cb, y, w, cs, ub);
            upsample_row(cr, y, w, cs, ur);
            match_row(luma->px + (size_t)y * luma->stride, ub, ur,
                      luma->lum + (size_t)y * w, w);
        }
        jenc_plane_pad(luma);
    }
    free(ub);
    free(ur);
    free(cs);
    return ok ? 0 : -1;
}
