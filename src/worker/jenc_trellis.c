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
}

/* Bits for a symbol counted @n times of @total, within 1..16. */
static float
symbol_bits(unsigned long n, double total)
{
    double b = log2((total + 1.0) / ((double)n + 0.5));

    return (float)(b < 1.0 ? 1.0 : b > 16.0 ? 16.0 : b);
}

void
jenc_rate_from_stats(const struct jenc_stats *st, struct jenc_rate *r)
{
    double tdc = 0, tac = 0;
    int i;

    for (i = 0; i < 12; i++)
        tdc += (double)st->dc[i];
    for (i = 0; i < 256; i++)
        tac += (double)st->ac[i];
    for (i = 0; i < 12; i++)
        r->dc[i] = symbol_bits(st->dc[i], tdc);
    for (i = 0; i < 256; i++)
        r->ac[i] = symbol_bits(st->ac[i], tac);
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

struct tr_state {
    float best[64];     /* least cost with k the last non-zero */
    int live[64];       /* the positions with a finite best, ascending */
    int nlive;
    float z[64];        /* zero distortion of positions 1..k */
    int val[64];        /* the level chosen at k */
    int from[64];       /* the non-zero position before k (0: none) */
};

/* best[k] over the candidate level @v at position k (@a its exact
 * magnitude in steps), from every earlier live position. */
static void
try_level(struct tr_state *t, const struct jenc_rate *r, float lambda,
          int k, float a, int v)
{
    int s = nbits(v);
    float d = (a - (float)v) * (a - (float)v);

    for (int i = t->nlive - 1; i >= 0; i--) {
        int j = t->live[i];
        float zeros = t->z[k - 1] - t->z[j], cost;

        /* The zeros between j and k alone cost this much, and more for
         * every earlier j: nothing further back can win. */
        if (zeros + d >= t->best[k])
            break;
        cost = t->best[j] + zeros + d + lambda * run_bits(r, k - j - 1, s);
        if (cost < t->best[k]) {
            t->best[k] = cost;
            t->val[k] = v;
            t->from[k] = j;
        }
    }
}

/* The last non-zero position of the best path (0: all AC zero). */
static int
best_end(const struct tr_state *t, const struct jenc_rate *r, float lambda)
{
    float least = TR_INF;
    int end = 0;

    for (int i = 0; i < t->nlive; i++) {
        int j = t->live[i];
        float cost = t->best[j] + (t->z[63] - t->z[j]) +
                     (j < 63 ? lambda * r->ac[0] : 0.0f);

        if (cost < least) {
            least = cost;
            end = j;
        }
    }
    return end;
}

void
jenc_trellis_ac(const float c[64], const float iq[64],
                const struct jenc_rate *r, float lambda, JCOEF *out)
{
    struct tr_state t;
    float mag[64];
    int k;

    t.best[0] = 0.0f;
    t.z[0] = 0.0f;
    t.live[0] = 0;
    t.nlive = 1;
    for (k = 1; k < 64; k++) {
        mag[k] = fabsf(c[zz[k]]) * iq[zz[k]];
        t.z[k] = t.z[k - 1] + mag[k] * mag[k];
        out[zz[k]] = 0;
    }
    for (k = 1; k < 64; k++) {
        int v = round_level(mag[k]);

        if (v == 0)
            continue;
        if (v > TR_MAX_AC)
            v = TR_MAX_AC;
        t.best[k] = TR_INF;
        try_level(&t, r, lambda, k, mag[k], v);
        /* The level below costs more error, and fewer bits only when it
         * has fewer magnitude bits: when v is a power of two. */
        if (v > 1 && (v & (v - 1)) == 0)
            try_level(&t, r, lambda, k, mag[k], v - 1);
        if (t.best[k] < TR_INF)
            t.live[t.nlive++] = k;
    }
    for (k = best_end(&t, r, lambda); k > 0; k = t.from[k]) {
        int n = zz[k];

        out[n] = (JCOEF)(c[n] < 0 ? -t.val[k] : t.val[k]);
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
