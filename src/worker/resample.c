/*
 * resample.c - separable Lanczos-3 resizing of 8-bit interleaved rows (see
 * resample.h for the contract).
 *
 * The JPEG fast path decodes with libjpeg's DCT scaling to a size a little
 * above the target, so what is left here is usually a shrink by less than
 * two; but with a tiny box or FIT_FILL any ratio can occur, so the filter
 * support grows with the shrink factor and every input sample is weighed.
 * Lanczos-3 is also what libvips' reduce uses by default, which keeps the
 * two decode paths close.
 *
 * Order of work: the vertical pass first, per output row, from a ring of
 * the last v.taps input rows; it is a multiply-add over whole rows, done 16
 * bytes at a time with SSE2 (pmaddwd on pairs of rows).  The horizontal
 * pass then runs on blocks of 16 such rows: transposed, every input sample
 * becomes a 16-row vector and the horizontal filter is the same vector
 * multiply-add, with no per-pixel horizontal sums; the result is transposed
 * back.  On a 320x240 -> 300x225 RGB shrink (the common thumbnail case
 * after DCT scaling) that is more than twice as fast as filtering the
 * interleaved pixels one by one, even with SIMD.  Without SSE2 the same
 * arithmetic runs as plain C loops, row by row; both give identical bytes.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "resample.h"

#define ONE (1 << RESAMPLE_BITS)
#define HALF (1 << (RESAMPLE_BITS - 1))

/* Lobes of the Lanczos window: 3 as in libvips' default kernel. */
#define LANCZOS_A 3

/*
 * Kernel values L((k - centre) / fscale) for the @n input samples k =
 * first, first + 1, ..., where L(x) = sinc(x) sinc(x / A) on |x| < A.
 * Successive samples are a fixed angle apart in both sines, so these are
 * rotated from one sample to the next instead of being recomputed: two
 * sin/cos pairs per output sample rather than two sines per tap.
 */
static void
lanczos_row(double centre, double fscale, int first, int n, double *out)
{
    double x0 = (first - centre) / fscale, step = M_PI / fscale;
    double s1 = sin(M_PI * x0), c1 = cos(M_PI * x0);
    double sa = sin(M_PI * x0 / LANCZOS_A), ca = cos(M_PI * x0 / LANCZOS_A);
    double ds1 = sin(step), dc1 = cos(step);
    double dsa = sin(step / LANCZOS_A), dca = cos(step / LANCZOS_A);
    int j;

    for (j = 0; j < n; j++) {
        double x = (first + j - centre) / fscale, t;

        if (fabs(x) >= LANCZOS_A)
            out[j] = 0.0;
        else if (fabs(x) < 1e-9)
            out[j] = 1.0;
        else
            out[j] = LANCZOS_A * s1 * sa / (M_PI * M_PI * x * x);
        t = s1 * dc1 + c1 * ds1;
        c1 = c1 * dc1 - s1 * ds1;
        s1 = t;
        t = sa * dca + ca * dsa;
        ca = ca * dca - sa * dsa;
        sa = t;
    }
}

/* Round a fixed-point sum (already offset by HALF) to a clamped byte. */
static inline unsigned char
to_byte(int32_t v)
{
    if (v < 0)
        return 0;
    v >>= RESAMPLE_BITS;
    return v > 255 ? 255 : (unsigned char)v;
}

static int
span_valid(const struct resample_span *sp)
{
    return sp->in >= 1 && sp->scaled >= 1 && sp->out >= 1 &&
           sp->offset >= 0 && sp->offset <= sp->scaled - sp->out &&
           (sp->extent == 0 ||
            (sp->extent > sp->in - 1 && sp->extent <= sp->in));
}

/*
 * Quantise one output sample's weights @w[0..taps) (any positive sum) to
 * fixed point summing to exactly ONE.  The rounding error goes to the
 * largest weight, where it matters least.
 */
static void
quantise(const double *w, int taps, int16_t *q)
{
    double sum = 0, scale;
    int t, total = 0, best = 0;

    for (t = 0; t < taps; t++)
        sum += w[t];
    scale = ONE / sum;
    for (t = 0; t < taps; t++) {
        q[t] = (int16_t)floor(w[t] * scale + 0.5);
        total += q[t];
        if (q[t] > q[best])
            best = t;
    }
    q[best] = (int16_t)(q[best] + ONE - total);
}

int
resample_axis_init(struct resample_axis *ax, const struct resample_span *sp)
{
    double ratio, fscale, support, extent, *w, *kv;
    int taps, nwin, i, copy;

    memset(ax, 0, sizeof(*ax));
    if (!span_valid(sp))
        return -1;
    ax->in = sp->in;
    ax->out = sp->out;
    extent = sp->extent > 0 ? sp->extent : sp->in;
    /* Whole samples mapped one to one: a copy, possibly shifted by the
     * crop. */
    copy = sp->in == sp->scaled && extent == sp->in;
    ax->identity = copy && sp->offset == 0;

    /* Input samples per output sample; the filter widens when shrinking.
     * The output spans the picture, not a partial last sample's padding. */
    ratio = extent / sp->scaled;
    fscale = ratio > 1 ? ratio : 1;
    support = LANCZOS_A * fscale;
    /* Input samples within the support of one output, before clamping. */
    nwin = (int)ceil(2 * support) + 1;
    if (copy)
        taps = 1;
    else
        taps = nwin;
    if (taps > sp->in)
        taps = sp->in;
    ax->taps = taps;
    ax->wstride = (taps + 7) & ~7;

    ax->start = malloc(sizeof(*ax->start) * (size_t)sp->out);
    ax->weight = calloc((size_t)sp->out * ax->wstride, sizeof(*ax->weight));
    w = malloc(sizeof(*w) * (size_t)taps);
    kv = malloc(sizeof(*kv) * (size_t)nwin);
    if (!ax->start || !ax->weight || !w || !kv) {
        free(w);
        free(kv);
        return -1;
    }

    for (i = 0; i < sp->out; i++) {
        /* Sample centres: output i covers [i, i + 1) of the scaled axis. */
        double centre = (i + sp->offset + 0.5) * ratio - 0.5;
        int first, last, st, k;

        if (copy) {
            ax->start[i] = i + sp->offset;
            ax->weight[(size_t)i * ax->wstride] = ONE;
            continue;
        }
        first = (int)ceil(centre - support);
        last = (int)floor(centre + support);
        /* The window must hold [first, last] after clamping to the input
         * and stay inside it: see resample.h. */
        st = first < 0 ? 0 : first;
        if (st > sp->in - taps)
            st = sp->in - taps;
        lanczos_row(centre, fscale, first, last - first + 1, kv);
        memset(w, 0, sizeof(*w) * (size_t)taps);
        for (k = first; k <= last; k++) {
            int kc = k < 0 ? 0 : k >= sp->in ? sp->in - 1 : k;
            w[kc - st] += kv[k - first];
        }
        ax->start[i] = st;
        quantise(w, taps, ax->weight + (size_t)i * ax->wstride);
    }
    free(w);
    free(kv);
    return 0;
}

void
resample_axis_release(struct resample_axis *ax)
{
    free(ax->start);
    free(ax->weight);
    ax->start = NULL;
    ax->weight = NULL;
}

int
resample_init(struct resample *r, int channels, const struct resample_span *x,
              const struct resample_span *y)
{
    memset(r, 0, sizeof(*r));
    if (channels < 1 || channels > 4)
        return -1;
    r->channels = channels;
    if (resample_axis_init(&r->h, x) < 0 || resample_axis_init(&r->v, y) < 0)
        return -1;
    r->in_row = (size_t)x->in * channels;
    r->out_row = (size_t)x->out * channels;
    r->ring = malloc(r->in_row * (size_t)r->v.taps);
    r->rows = malloc(sizeof(*r->rows) * (size_t)r->v.taps);
    if (!r->ring || !r->rows)
        return -1;
#ifdef __SSE2__
    r->blocked = !r->h.identity;
#endif
    if (r->blocked) {
        /* calloc: rows of a last, partial block are read but unused. */
        r->block = calloc(RESAMPLE_BLOCK, r->in_row);
        r->tin = malloc(r->in_row * RESAMPLE_BLOCK);
        r->tout = malloc(r->out_row * RESAMPLE_BLOCK);
        if (!r->block || !r->tin || !r->tout)
            return -1;
    } else {
        r->block = malloc(r->in_row);
        if (!r->block)
            return -1;
    }
    return 0;
}

void
resample_release(struct resample *r)
{
    resample_axis_release(&r->h);
    resample_axis_release(&r->v);
    free(r->ring);
    free(r->rows);
    free(r->block);
    free(r->tin);
    free(r->tout);
    r->ring = r->block = r->tin = r->tout = NULL;
    r->rows = NULL;
}

unsigned char *
resample_row_buffer(struct resample *r)
{
    return r->ring + (size_t)(r->rows_in % r->v.taps) * r->in_row;
}

/*
 * Vertical pass, scalar: out[i] = sum over t of w[t] * rows[t][i].  Used
 * for the tail of each row, and for whole rows without SSE2.
 */
static void
vmix_scalar(const unsigned char *const *rows, const int16_t *w, int taps,
            size_t from, size_t n, unsigned char *out)
{
    size_t i;
    int t;

    for (i = from; i < n; i++) {
        int32_t a = HALF;

        for (t = 0; t < taps; t++)
            a += w[t] * rows[t][i];
        out[i] = to_byte(a);
    }
}

/* Horizontal pass, scalar, on one row of interleaved samples. */
static void
hmix_scalar(const struct resample_axis *h, int channels,
            const unsigned char *src, unsigned char *dst)
{
    int i, t, c;

    for (i = 0; i < h->out; i++) {
        const unsigned char *p = src + (size_t)h->start[i] * channels;
        const int16_t *w = h->weight + (size_t)i * h->wstride;

        for (c = 0; c < channels; c++) {
            int32_t a = HALF;

            for (t = 0; t < h->taps; t++)
                a += w[t] * p[t * channels + c];
            *dst++ = to_byte(a);
        }
    }
}

#ifdef __SSE2__
/* Two 16-bit weights in one 32-bit lane, for _mm_madd_epi16(). */
static inline __m128i
weight_pair(int16_t w0, int16_t w1)
{
    return _mm_set1_epi32((int32_t)(((uint32_t)(uint16_t)w1 << 16) |
                                    (uint16_t)w0));
}

/* Accumulate w * p + w' * q for the 16 bytes of p and q into a[0..3]. */
static inline void
mix_pair(__m128i *a, __m128i p, __m128i q, __m128i wp)
{
    const __m128i zero = _mm_setzero_si128();
    __m128i plo = _mm_unpacklo_epi8(p, zero);
    __m128i phi = _mm_unpackhi_epi8(p, zero);
    __m128i qlo = _mm_unpacklo_epi8(q, zero);
    __m128i qhi = _mm_unpackhi_epi8(q, zero);

    a[0] = _mm_add_epi32(a[0],
                         _mm_madd_epi16(_mm_unpacklo_epi16(plo, qlo), wp));
    a[1] = _mm_add_epi32(a[1],
                         _mm_madd_epi16(_mm_unpackhi_epi16(plo, qlo), wp));
    a[2] = _mm_add_epi32(a[2],
                         _mm_madd_epi16(_mm_unpacklo_epi16(phi, qhi), wp));
    a[3] = _mm_add_epi32(a[3],
                         _mm_madd_epi16(_mm_unpackhi_epi16(phi, qhi), wp));
}

/* Round the sums in a[0..3] to 16 bytes; saturating packs clamp. */
static inline __m128i
pack_sums(const __m128i *a)
{
    __m128i lo = _mm_packs_epi32(_mm_srai_epi32(a[0], RESAMPLE_BITS),
                                 _mm_srai_epi32(a[1], RESAMPLE_BITS));
    __m128i hi = _mm_packs_epi32(_mm_srai_epi32(a[2], RESAMPLE_BITS),
                                 _mm_srai_epi32(a[3], RESAMPLE_BITS));

    return _mm_packus_epi16(lo, hi);
}

/*
 * Vertical pass, 16 bytes at a time: rows are taken two by two, their
 * bytes interleaved as 16-bit pairs and multiplied by the pair of weights
 * with one pmaddwd per four samples.  Returns how many bytes were done.
 */
static size_t
vmix_sse2(const unsigned char *const *rows, const int16_t *w, int taps,
          size_t n, unsigned char *out)
{
    const __m128i zero = _mm_setzero_si128();
    size_t i;
    int t;

    for (i = 0; i + 16 <= n; i += 16) {
        __m128i a[4];

        a[0] = a[1] = a[2] = a[3] = _mm_set1_epi32(HALF);
        for (t = 0; t + 1 < taps; t += 2)
            mix_pair(a, _mm_loadu_si128((const __m128i *)(rows[t] + i)),
                     _mm_loadu_si128((const __m128i *)(rows[t + 1] + i)),
                     weight_pair(w[t], w[t + 1]));
        if (t < taps)
            mix_pair(a, _mm_loadu_si128((const __m128i *)(rows[t] + i)),
                     zero, weight_pair(w[t], 0));
        _mm_storeu_si128((__m128i *)(out + i), pack_sums(a));
    }
    return i;
}

/*
 * Transpose a 16x16 byte tile: row i of @src (rows @sstride apart) becomes
 * column i of @dst.  Only the first @nout rows of @dst are stored.
 */
static void
transpose16(const unsigned char *src, size_t sstride, unsigned char *dst,
            size_t dstride, int nout)
{
    __m128i a[16], b[16];
    int i;

    for (i = 0; i < 16; i++)
        a[i] = _mm_loadu_si128((const __m128i *)(src + i * sstride));
    /* Bytes of row pairs, then 16-bit units of row quads, and so on: after
     * each round the runs that belong to one column are twice as long. */
    for (i = 0; i < 8; i++) {
        b[2 * i] = _mm_unpacklo_epi8(a[2 * i], a[2 * i + 1]);
        b[2 * i + 1] = _mm_unpackhi_epi8(a[2 * i], a[2 * i + 1]);
    }
    for (i = 0; i < 4; i++) {
        a[4 * i] = _mm_unpacklo_epi16(b[4 * i], b[4 * i + 2]);
        a[4 * i + 1] = _mm_unpackhi_epi16(b[4 * i], b[4 * i + 2]);
        a[4 * i + 2] = _mm_unpacklo_epi16(b[4 * i + 1], b[4 * i + 3]);
        a[4 * i + 3] = _mm_unpackhi_epi16(b[4 * i + 1], b[4 * i + 3]);
    }
    for (i = 0; i < 8; i++) {
        int half8 = i / 4 * 8, q = i % 4;

        b[half8 + 2 * q] = _mm_unpacklo_epi32(a[half8 + q], a[half8 + 4 + q]);
        b[half8 + 2 * q + 1] = _mm_unpackhi_epi32(a[half8 + q],
                                                  a[half8 + 4 + q]);
    }
    for (i = 0; i < 8; i++) {
        a[2 * i] = _mm_unpacklo_epi64(b[i], b[8 + i]);
        a[2 * i + 1] = _mm_unpackhi_epi64(b[i], b[8 + i]);
    }
    for (i = 0; i < nout; i++)
        _mm_storeu_si128((__m128i *)(dst + i * dstride), a[i]);
}

/*
 * The horizontal pass of a block of up to RESAMPLE_BLOCK rows that the
 * vertical pass left in r->block.  Transposed, each input sample becomes a
 * vector of 16 rows, so the horizontal filter is the same multiply-add
 * over vectors as the vertical one, with no per-sample reduction; the
 * result is transposed back into rows @y0 .. @y0 + @n - 1 of @out.
 */
static void
flush_block(struct resample *r, int y0, int n, unsigned char *out,
            size_t stride)
{
    const struct resample_axis *h = &r->h;
    const size_t B = RESAMPLE_BLOCK, C = (size_t)r->channels;
    const ptrdiff_t step = (ptrdiff_t)(C * B);
    size_t k, j;
    int x, c, t;

    for (k = 0; k + B <= r->in_row; k += B)
        transpose16(r->block + k, r->in_row, r->tin + k * B, B, (int)B);
    for (; k < r->in_row; k++)
        for (j = 0; j < B; j++)
            r->tin[k * B + j] = r->block[j * r->in_row + k];

    for (x = 0; x < h->out; x++) {
        const int16_t *w = h->weight + (size_t)x * h->wstride;

        for (c = 0; c < (int)C; c++) {
            const unsigned char *p =
                r->tin + ((size_t)h->start[x] * C + (size_t)c) * B;
            __m128i a[4];

            a[0] = a[1] = a[2] = a[3] = _mm_set1_epi32(HALF);
            for (t = 0; t + 1 < h->taps; t += 2, p += 2 * step)
                mix_pair(a, _mm_loadu_si128((const __m128i *)p),
                         _mm_loadu_si128((const __m128i *)(p + step)),
                         weight_pair(w[t], w[t + 1]));
            if (t < h->taps)
                mix_pair(a, _mm_loadu_si128((const __m128i *)p),
                         _mm_setzero_si128(), weight_pair(w[t], 0));
            _mm_storeu_si128((__m128i *)(r->tout +
                                         ((size_t)x * C + (size_t)c) * B),
                             pack_sums(a));
        }
    }

    out += (size_t)y0 * stride;
    for (k = 0; k + B <= r->out_row; k += B)
        transpose16(r->tout + k * B, B, out + k, stride, n);
    for (; k < r->out_row; k++)
        for (j = 0; j < (size_t)n; j++)
            out[j * stride + k] = r->tout[k * B + j];
}
#endif

/* Vertical pass for output row @y into @dst (in_row bytes). */
static void
vpass(struct resample *r, int y, unsigned char *dst)
{
    const unsigned char **rp = r->rows;
    const int16_t *w = r->v.weight + (size_t)y * r->v.wstride;
    int taps = r->v.taps, s = r->v.start[y], t;
    size_t n = r->in_row, done = 0;

    if (taps == 1) {
        memcpy(dst, r->ring, n);
        return;
    }
    for (t = 0; t < taps; t++)
        rp[t] = r->ring + (size_t)((s + t) % taps) * n;
#ifdef __SSE2__
    done = vmix_sse2(rp, w, taps, n, dst);
#endif
    vmix_scalar(rp, w, taps, done, n, dst);
}

int
resample_push_row(struct resample *r, unsigned char *out, size_t stride)
{
    r->rows_in++;
    while (r->rows_v < r->v.out &&
           r->v.start[r->rows_v] + r->v.taps <= r->rows_in) {
        int y = r->rows_v;

        if (!r->blocked) {
            vpass(r, y, r->block);
            if (r->h.identity)
                memcpy(out + (size_t)y * stride, r->block, r->out_row);
            else
                hmix_scalar(&r->h, r->channels, r->block,
                            out + (size_t)y * stride);
            r->rows_v = r->rows_out = y + 1;
            continue;
        }
#ifdef __SSE2__
        vpass(r, y, r->block + (size_t)(y % RESAMPLE_BLOCK) * r->in_row);
        r->rows_v = y + 1;
        if (r->rows_v - r->rows_out == RESAMPLE_BLOCK ||
            r->rows_v == r->v.out) {
            flush_block(r, r->rows_out, r->rows_v - r->rows_out, out,
                        stride);
            r->rows_out = r->rows_v;
        }
#endif
    }
    return r->rows_out;
}

int
resample_image(const unsigned char *in, int iw, int ih, int channels,
               unsigned char *out, int ow, int oh)
{
    struct resample_span x = { iw, ow, 0, ow };
    struct resample_span y = { ih, oh, 0, oh };
    struct resample r;
    size_t row = (size_t)iw * channels;
    int rc = -1, j;

    if (resample_init(&r, channels, &x, &y) < 0)
        goto out;
    for (j = 0; j < ih; j++) {
        memcpy(resample_row_buffer(&r), in + (size_t)j * row, row);
        resample_push_row(&r, out, (size_t)ow * channels);
    }
    rc = r.rows_out == oh ? 0 : -1;
out:
    resample_release(&r);
    return rc;
}
