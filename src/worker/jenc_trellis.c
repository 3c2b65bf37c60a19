/*
 * jenc_trellis.c - rate-distortion quantisation (jenc_int.h).
 *
 * The JPEG entropy code of a block's AC coefficients is a sequence of
 * (run of zeros, magnitude size) Huffman symbols, each followed by the
 * magnitude's bits, ended by EOB unless the last coefficient is non-zero.
 * Which coefficients are kept, and at which of the two levels around the
 * exact value, is chosen by dynamic programming over the zigzag positions
 * (the trellis of Ramchandran and Vetterli's RD-optimal thresholding,
 * extended by Crouse and Ramchandran to level choice): best[k] is the
 * least cost of coding positions 1..k with k the last non-zero one, and
 * the block's best is the least best[k] plus its zero tail and EOB.
 * Distortion is measured in units of each coefficient's step, so the
 * perceptual weighting of the quantisation table carries into the choice.
 *
 * DC is coded as differences along the scan; its level (the step below
 * or above the exact value) is chosen along the block row by a Viterbi
 * search with two states per block.
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "jenc_int.h"

/* Natural position of the k-th coefficient in zigzag order. */
static const unsigned char zz[64] = {
    0,  1,  8,  16, 9,  2,  3,  10, 17, 24, 32, 25, 18, 11, 4,  5,
    12, 19, 26, 33, 40, 48, 41, 34, 27, 20, 13, 6,  7,  14, 21, 28,
    35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51,
    58, 59, 52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63,
};

#define TR_INF 1e30f
#define TR_MAX_AC 1023
#define TR_MAX_DC 1023

/* The JPEG magnitude category of @v: its bit length (0 for 0). */
static int
nbits(int v)
{
    unsigned a = (unsigned)(v < 0 ? -v : v);

    return a ? 32 - __builtin_clz(a) : 0;
}

/* Nearest integer, halves away from zero (a call to lrintf() cost more
 * than the rest of the symbol count). */
static int
round_level(float a)
{
    return (int)(a < 0.0f ? a - 0.5f : a + 0.5f);
}

void
jenc_inv_steps(const unsigned short q[64], float iq[64])
{
    for (int k = 0; k < 64; k++)
        iq[k] = 1.0f / (float)q[k];
}

/* @c times @iq (both natural order) rounded to the nearest level, within
 * +-TR_MAX_AC, into @v: eight at a time with SSE2 (the rounding and its
 * sign were most of the symbol count's time as a branch per
 * coefficient). */
static void
quant_round(const float c[64], const float iq[64], short v[64])
{
#ifdef __SSE2__
    const __m128i hi = _mm_set1_epi16(TR_MAX_AC), lo = _mm_set1_epi16(-TR_MAX_AC);

    for (int k = 0; k < 64; k += 8) {
        __m128i a = _mm_cvtps_epi32(_mm_mul_ps(_mm_loadu_ps(c + k),
                                               _mm_loadu_ps(iq + k)));
        __m128i b = _mm_cvtps_epi32(_mm_mul_ps(_mm_loadu_ps(c + k + 4),
                                               _mm_loadu_ps(iq + k + 4)));
        __m128i p = _mm_packs_epi32(a, b);

        p = _mm_max_epi16(_mm_min_epi16(p, hi), lo);
        _mm_storeu_si128((__m128i *)(v + k), p);
    }
#else
    for (int k = 0; k < 64; k++) {
        int x = round_level(c[k] * iq[k]);

        v[k] = (short)(x > TR_MAX_AC ? TR_MAX_AC
                       : x < -TR_MAX_AC ? -TR_MAX_AC : x);
    }
#endif
}

/* The zigzag positions 1..63 of the non-zero levels of @v (natural
 * order), as bits. */
static uint64_t
nonzero_mask(const short v[64])
{
    uint64_t m = 0;

    for (int k = 1; k < 64; k++)
        m |= (uint64_t)(v[zz[k]] != 0) << k;
    return m;
}

void
jenc_stats_block(const float c[64], const float iq[64], int *pred,
                 struct jenc_stats *st)
{
    short v[64];
    uint64_t m;
    int last = 0;

    quant_round(c, iq, v);
    st->dc[nbits(v[0] - *pred)]++;
    *pred = v[0];
    for (m = nonzero_mask(v); m; m &= m - 1) {
        int k = __builtin_ctzll(m), run = k - last - 1;
        int s = nbits(v[zz[k]]);

        for (; run > 15; run -= 16)
            st->ac[0xf0]++;
        st->ac[(run << 4) | (s > 10 ? 10 : s)]++;
        last = k;
    }
    if (last < 63)
        st->ac[0]++;
    if (last == 0)
        st->flat++;
}

/* Bits for a symbol counted @n times of @total, within 1..16. */
static float
symbol_bits(unsigned long n, double total)
{
    double b = log2((total + 1.0) / ((double)n + 0.5));

    return (float)(b < 1.0 ? 1.0 : b > 16.0 ? 16.0 : b);
}

/* The DC and AC symbols counted in @st. */
static void
stats_totals(const struct jenc_stats *st, double *tdc, double *tac)
{
    int i;

    *tdc = *tac = 0;
    for (i = 0; i < 12; i++)
        *tdc += (double)st->dc[i];
    for (i = 0; i < 256; i++)
        *tac += (double)st->ac[i];
}

void
jenc_rate_from_stats(const struct jenc_stats *st, struct jenc_rate *r)
{
    double tdc, tac;
    int i;

    stats_totals(st, &tdc, &tac);
    for (i = 0; i < 12; i++)
        r->dc[i] = symbol_bits(st->dc[i], tdc);
    for (i = 0; i < 256; i++)
        r->ac[i] = symbol_bits(st->ac[i], tac);
}

double
jenc_stats_bytes(const struct jenc_stats *st)
{
    double tdc, tac, bits = 0;
    int i;

    stats_totals(st, &tdc, &tac);
    for (i = 0; i < 12; i++)
        if (st->dc[i])
            bits += (double)st->dc[i] * (log2(tdc / (double)st->dc[i]) + i);
    for (i = 0; i < 256; i++)
        if (st->ac[i])
            bits += (double)st->ac[i] *
                    (log2(tac / (double)st->ac[i]) + (i & 15));
    return bits / 8.0;
}

double
jenc_stats_flat(const struct jenc_stats *st, int n)
{
    double blocks = 0, flat = 0, tdc, tac;

    /* Every block counted has one DC symbol. */
    for (int c = 0; c < n; c++) {
        stats_totals(&st[c], &tdc, &tac);
        blocks += tdc;
        flat += (double)st[c].flat;
    }
    return blocks > 0 ? flat / blocks : 0.0;
}

/* Bits of a run of @run zeros then a coefficient of size @s. */
static float
run_bits(const struct jenc_rate *r, int run, int s)
{
    float b = (float)s + r->ac[((run & 15) << 4) | s];

    if (run > 15)
        b += (float)(run >> 4) * r->ac[0xf0];
    return b;
}

/*
 * The search runs over the candidates only: the zigzag positions whose
 * nearest level is not zero.  A position that rounds to zero is zero on
 * every path, so its error is the same on all of them and is left out
 * of every cost.  State 0 is the start (position 0, the DC); state i is
 * the i-th candidate, at position pos[i].
 */
struct tr_state {
    int n;              /* candidates */
    int pos[64];        /* their zigzag positions, ascending */
    float a[64];        /* their exact magnitudes, in steps */
    float best[64];     /* least cost with candidate i the last non-zero */
    float z[64];        /* error of zeroing candidates 1..i */
    float g[64];        /* least best[j] - z[j] over the states j <= i */
    int val[64];        /* the level chosen at i */
    int from[64];       /* the state before i */
};

/* best[i] over the level @v of candidate @i, from every earlier state. */
static void
try_level(struct tr_state *t, const struct jenc_rate *r, float lambda,
          int i, int v)
{
    int s = nbits(v), k = t->pos[i];
    float d = (t->a[i] - (float)v) * (t->a[i] - (float)v);
    /* What any path to this level costs on top of g: the zeros before
     * it, its error and at least its magnitude bits and a 1-bit code. */
    float lower = t->z[i - 1] + d + lambda * (float)(s + 1);

    for (int j = i - 1; j >= 0; j--) {
        float zeros = t->z[i - 1] - t->z[j], cost;

        /* No path from j or any state before it can cost less than
         * g[j] + lower: nothing further back can win. */
        if (t->g[j] + lower >= t->best[i])
            break;
        cost = t->best[j] + zeros + d +
               lambda * run_bits(r, k - t->pos[j] - 1, s);
        if (cost < t->best[i]) {
            t->best[i] = cost;
            t->val[i] = v;
            t->from[i] = j;
        }
    }
}

/* The last non-zero state of the best path (0: all AC zero). */
static int
best_end(const struct tr_state *t, const struct jenc_rate *r, float lambda)
{
    float least = TR_INF;
    int end = 0;

    for (int i = 0; i <= t->n; i++) {
        float cost = t->best[i] + (t->z[t->n] - t->z[i]) +
                     (t->pos[i] < 63 ? lambda * r->ac[0] : 0.0f);

        if (cost < least) {
            least = cost;
            end = i;
        }
    }
    return end;
}

/* Inverse of zz: the zigzag position of each natural one. */
static const unsigned char izz[64] = {
    0,  1,  5,  6,  14, 15, 27, 28, 2,  4,  7,  13, 16, 26, 29, 42,
    3,  8,  12, 17, 25, 30, 41, 43, 9,  11, 18, 24, 31, 40, 44, 53,
    10, 19, 23, 32, 39, 45, 52, 54, 20, 22, 33, 38, 46, 51, 55, 60,
    21, 34, 37, 47, 50, 56, 59, 61, 35, 36, 48, 49, 57, 58, 62, 63,
};

/* |@c| times @iq into @m, and the natural positions 1..63 whose
 * magnitude rounds to a non-zero level, as bits. */
static uint64_t
abs_steps(const float c[64], const float iq[64], float m[64])
{
    uint64_t mask = 0;
#ifdef __SSE2__
    const __m128 sign = _mm_set1_ps(-0.0f), half = _mm_set1_ps(0.5f);

    for (int k = 0; k < 64; k += 4) {
        __m128 x = _mm_andnot_ps(sign, _mm_mul_ps(_mm_loadu_ps(c + k),
                                                  _mm_loadu_ps(iq + k)));

        _mm_storeu_ps(m + k, x);
        mask |= (uint64_t)_mm_movemask_ps(_mm_cmpge_ps(x, half)) << k;
    }
#else
    for (int k = 0; k < 64; k++) {
        m[k] = fabsf(c[k]) * iq[k];
        mask |= (uint64_t)(m[k] >= 0.5f) << k;
    }
#endif
    return mask & ~(uint64_t)1;
}

void
jenc_trellis_ac(const float c[64], const float iq[64],
                const struct jenc_rate *r, float lambda, JCOEF *out)
{
    struct tr_state t;
    float m[64];
    uint64_t nat = abs_steps(c, iq, m), zig = 0;
    int i;

    memset(out + 1, 0, 63 * sizeof(*out));
    if (!nat)
        return;
    for (; nat; nat &= nat - 1)
        zig |= (uint64_t)1 << izz[__builtin_ctzll(nat)];
    t.n = 0;
    t.pos[0] = 0;
    t.best[0] = 0.0f;
    t.z[0] = 0.0f;
    t.g[0] = 0.0f;
    for (; zig; zig &= zig - 1) {
        int k = __builtin_ctzll(zig);

        i = ++t.n;
        t.pos[i] = k;
        t.a[i] = m[zz[k]];
        t.z[i] = t.z[i - 1] + t.a[i] * t.a[i];
    }
    for (i = 1; i <= t.n; i++) {
        int v = round_level(t.a[i]);

        if (v > TR_MAX_AC)
            v = TR_MAX_AC;
        t.best[i] = TR_INF;
        try_level(&t, r, lambda, i, v);
        /* The level below costs more error, and fewer bits only when it
         * has fewer magnitude bits: when v is a power of two. */
        if (v > 1 && (v & (v - 1)) == 0)
            try_level(&t, r, lambda, i, v - 1);
        t.g[i] = t.best[i] - t.z[i] < t.g[i - 1] ? t.best[i] - t.z[i]
                                                   : t.g[i - 1];
    }
    for (i = best_end(&t, r, lambda); i > 0; i = t.from[i]) {
        int n = zz[t.pos[i]];

        out[n] = (JCOEF)(c[n] < 0 ? -t.val[i] : t.val[i]);
    }
}

/* The two DC levels around @a, nearest first, within range. */
static void
dc_levels(float a, int lv[2])
{
    int v = round_level(a);

    lv[0] = v;
    lv[1] = (float)v < a ? v + 1 : v - 1;
    for (int i = 0; i < 2; i++) {
        if (lv[i] > TR_MAX_DC)
            lv[i] = TR_MAX_DC;
        if (lv[i] < -TR_MAX_DC - 1)
            lv[i] = -TR_MAX_DC - 1;
    }
}

static float
dc_bits(const struct jenc_rate *r, int diff)
{
    int s = nbits(diff);

    return (float)s + r->dc[s];
}

void
jenc_trellis_dc(const float *dc, int n, int q0, const struct jenc_rate *r,
                float lambda, int *pred, JCOEF *out, int *scratch)
{
    int *lv = scratch, *back = scratch + 2 * n;
    float cost[2] = { 0, 0 }, next[2], d;
    int i, s, p, pick;

    if (n <= 0)
        return;
    for (i = 0; i < n; i++) {
        float a = dc[i] / (float)q0;

        dc_levels(a, lv + 2 * i);
        for (s = 0; s < 2; s++) {
            d = (a - (float)lv[2 * i + s]) * (a - (float)lv[2 * i + s]);
            next[s] = TR_INF;
            back[2 * i + s] = 0;
            for (p = 0; p < (i ? 2 : 1); p++) {
                int prev = i ? lv[2 * (i - 1) + p] : *pred;
                float c = cost[p] + d +
                          lambda * dc_bits(r, lv[2 * i + s] - prev);

                if (c < next[s]) {
                    next[s] = c;
                    back[2 * i + s] = p;
                }
            }
        }
        cost[0] = next[0];
        cost[1] = next[1];
    }
    pick = cost[1] < cost[0];
    *pred = lv[2 * (n - 1) + pick];
    for (i = n - 1; i >= 0; i--) {
        out[(size_t)i * 64] = (JCOEF)lv[2 * i + pick];
        pick = back[2 * i + pick];
    }
}
