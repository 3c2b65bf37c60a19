/*
 * test_resample.c - the Lanczos-3 resampler on synthetic images: flat
 * colour stays exactly flat, fine detail is averaged rather than point
 * sampled, gradients stay gradients, cropped windows equal the matching
 * part of the full resize, and every size is exact.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "resample.h"

static unsigned char *
alloc_image(int w, int h, int channels)
{
    unsigned char *p = malloc((size_t)w * h * channels);

    cr_assert(p != NULL);
    return p;
}

static unsigned char *
solid(int w, int h, int channels, const unsigned char *colour)
{
    unsigned char *p = alloc_image(w, h, channels);

    for (size_t i = 0; i < (size_t)w * h; i++)
        memcpy(p + i * channels, colour, (size_t)channels);
    return p;
}

/* Horizontal ramp: value = x * 255 / (w - 1), same on every row. */
static unsigned char *
hramp(int w, int h)
{
    unsigned char *p = alloc_image(w, h, 1);

    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            p[(size_t)y * w + x] = (unsigned char)((x * 255 + (w - 1) / 2) /
                                                   (w - 1));
    return p;
}

Test(resample, axis_weights_sum_to_one)
{
    static const int sizes[][2] = {
        { 640, 300 }, { 320, 300 }, { 300, 320 }, { 1000, 7 }, { 7, 1000 },
        { 2, 1 }, { 1, 5 }, { 3, 3 }, { 4096, 1 },
    };

    for (size_t n = 0; n < sizeof(sizes) / sizeof(sizes[0]); n++) {
        struct resample_span sp = { sizes[n][0], sizes[n][1], 0,
                                    sizes[n][1] };
        struct resample_axis ax;

        cr_assert_eq(resample_axis_init(&ax, &sp), 0);
        for (int i = 0; i < ax.out; i++) {
            int sum = 0;

            cr_assert_geq(ax.start[i], 0);
            cr_assert_leq(ax.start[i] + ax.taps, ax.in);
            if (i > 0)
                cr_assert_geq(ax.start[i], ax.start[i - 1]);
            for (int t = 0; t < ax.taps; t++)
                sum += ax.weight[i * ax.wstride + t];
            cr_assert_eq(sum, 1 << RESAMPLE_BITS, "%d -> %d, sample %d",
                         sp.in, sp.out, i);
            for (int t = ax.taps; t < ax.wstride; t++)
                cr_assert_eq(ax.weight[i * ax.wstride + t], 0);
        }
        resample_axis_release(&ax);
    }
}

Test(resample, bad_spans_rejected)
{
    struct resample_span bad[] = {
        { 0, 10, 0, 10 }, { 10, 0, 0, 1 }, { 10, 10, 0, 0 },
        { 10, 10, 1, 10 }, { 10, 20, -1, 5 },
        /* The picture's extent must lie in (in - 1, in]. */
        { 10, 5, 0, 5, 9.0 }, { 10, 5, 0, 5, 10.5 }, { 10, 5, 0, 5, -2 },
    };

    for (size_t n = 0; n < sizeof(bad) / sizeof(bad[0]); n++) {
        struct resample_axis ax;

        cr_assert_eq(resample_axis_init(&ax, &bad[n]), -1, "span %zu", n);
        resample_axis_release(&ax);
    }
}

Test(resample, solid_colour_stays_exact)
{
    static const int dims[][4] = {
        { 320, 240, 300, 225 }, { 640, 480, 37, 300 }, { 50, 40, 123, 77 },
        { 1, 1, 9, 4 }, { 9, 4, 1, 1 }, { 2, 300, 300, 2 },
    };
    static const unsigned char colour[4] = { 200, 3, 251, 128 };

    for (int channels = 1; channels <= 4; channels++) {
        for (size_t n = 0; n < sizeof(dims) / sizeof(dims[0]); n++) {
            int iw = dims[n][0], ih = dims[n][1];
            int ow = dims[n][2], oh = dims[n][3];
            unsigned char *in = solid(iw, ih, channels, colour);
            unsigned char *out = alloc_image(ow, oh, channels);

            cr_assert_eq(resample_image(in, iw, ih, channels, out, ow, oh),
                         0);
            for (size_t i = 0; i < (size_t)ow * oh * channels; i++)
                cr_assert_eq(out[i], colour[i % channels],
                             "%dx%d -> %dx%d, %d channels, byte %zu", iw,
                             ih, ow, oh, channels, i);
            free(in);
            free(out);
        }
    }
}

/* Alternating black and white columns: a point sampler would return
 * black or white; a proper shrink returns mid grey everywhere. */
Test(resample, fine_detail_is_averaged)
{
    int iw = 400, ih = 64, ow = 100, oh = 16;
    unsigned char *in = alloc_image(iw, ih, 3);
    unsigned char *out = alloc_image(ow, oh, 3);

    for (int y = 0; y < ih; y++)
        for (int x = 0; x < iw; x++)
            memset(in + ((size_t)y * iw + x) * 3, (x & 1) ? 255 : 0, 3);
    cr_assert_eq(resample_image(in, iw, ih, 3, out, ow, oh), 0);
    /* Away from the edges, where the border repeats. */
    for (int y = 0; y < oh; y++)
        for (int x = 2; x < ow - 2; x++)
            for (int c = 0; c < 3; c++) {
                int v = out[((size_t)y * ow + x) * 3 + c];
                cr_assert(v >= 125 && v <= 130, "(%d,%d) = %d", x, y, v);
            }
    free(in);
    free(out);
}

/* Flat 64x64 blocks shrunk 4x: the mean of the whole image is kept, and
 * block interiors (farther from an edge than the filter reaches: 3 lobes
 * times 4 input samples) keep their block's value. */
Test(resample, mean_is_preserved)
{
    int iw = 256, ih = 192, ow = 64, oh = 48;
    unsigned char *in = alloc_image(iw, ih, 1);
    unsigned char *out = alloc_image(ow, oh, 1);
    double mean_in = 0, mean_out = 0;

    for (int y = 0; y < ih; y++)
        for (int x = 0; x < iw; x++)
            in[(size_t)y * iw + x] =
                (unsigned char)(((x / 64) * 37 + (y / 64) * 53) % 256);
    cr_assert_eq(resample_image(in, iw, ih, 1, out, ow, oh), 0);
    for (size_t i = 0; i < (size_t)iw * ih; i++)
        mean_in += in[i];
    for (size_t i = 0; i < (size_t)ow * oh; i++)
        mean_out += out[i];
    mean_in /= (double)iw * ih;
    mean_out /= (double)ow * oh;
    cr_assert(mean_out > mean_in - 1.0 && mean_out < mean_in + 1.0,
              "mean %f -> %f", mean_in, mean_out);
    /* Block interiors: 16x16 output blocks, 4 samples in from each edge. */
    for (int y = 0; y < oh; y++)
        for (int x = 0; x < ow; x++) {
            int want = ((x / 16) * 37 + (y / 16) * 53) % 256;

            if (x % 16 < 4 || x % 16 > 11 || y % 16 < 4 || y % 16 > 11)
                continue;
            cr_assert(abs(out[(size_t)y * ow + x] - want) <= 1,
                      "(%d,%d) = %d, want %d", x, y,
                      out[(size_t)y * ow + x], want);
        }
    free(in);
    free(out);
}

Test(resample, gradient_stays_linear)
{
    int iw = 640, ih = 8, ow = 300, oh = 4;
    unsigned char *in = hramp(iw, ih);
    unsigned char *out = alloc_image(ow, oh, 1);

    cr_assert_eq(resample_image(in, iw, ih, 1, out, ow, oh), 0);
    for (int y = 0; y < oh; y++)
        for (int x = 0; x < ow; x++) {
            /* Centre of output x in input coordinates. */
            double cx = (x + 0.5) * iw / ow - 0.5;
            double want = cx * 255.0 / (iw - 1);
            int v = out[(size_t)y * ow + x];

            if (x < 3 || x >= ow - 3)
                continue;       /* the repeated border bends the ramp */
            cr_assert(v > want - 1.5 && v < want + 1.5,
                      "(%d,%d) = %d, want %.1f", x, y, v, want);
        }
    for (int x = 1; x < ow; x++)
        cr_assert_geq(out[x], out[x - 1], "ramp not monotonic at %d", x);
    free(in);
    free(out);
}

/*
 * An input whose last sample is partly padding (extent below in): each
 * output sample's weights are centred where output i's centre falls on the
 * picture, (i + 0.5) * extent / scaled - 0.5, not on the whole samples.
 */
Test(resample, extent_maps_onto_the_picture)
{
    static const double extents[] = { 356, 355.125, 355.5 };

    for (size_t e = 0; e < sizeof(extents) / sizeof(extents[0]); e++) {
        struct resample_span sp = { 356, 300, 0, 300, extents[e] };
        struct resample_axis ax;

        cr_assert_eq(resample_axis_init(&ax, &sp), 0);
        for (int i = 4; i < sp.out - 4; i++) {
            const int16_t *w = ax.weight + (size_t)i * ax.wstride;
            double at = 0, want = (i + 0.5) * extents[e] / sp.scaled - 0.5;

            for (int t = 0; t < ax.taps; t++)
                at += (double)w[t] * (ax.start[i] + t);
            at /= 1 << RESAMPLE_BITS;
            /* Lanczos weights sampled off-centre have a first moment a
             * little off zero: 0.03 allows that, not a stretch. */
            cr_assert(at > want - 0.03 && at < want + 0.03,
                      "extent %.3f: output %d centred at %.3f, want %.3f",
                      extents[e], i, at, want);
        }
        resample_axis_release(&ax);
    }
}

Test(resample, same_size_is_a_copy)
{
    int w = 37, h = 23;
    unsigned char *in = alloc_image(w, h, 3);
    unsigned char *out = alloc_image(w, h, 3);

    for (size_t i = 0; i < (size_t)w * h * 3; i++)
        in[i] = (unsigned char)(i * 7919 % 251);
    cr_assert_eq(resample_image(in, w, h, 3, out, w, h), 0);
    cr_assert_arr_eq(in, out, (size_t)w * h * 3);
    free(in);
    free(out);
}

/* A window of a resize equals the same window cut from the full resize:
 * how FIT_COVER's centre crop is done without resizing what is cut. */
Test(resample, crop_window_matches_full_resize)
{
    int iw = 320, ih = 240, sw = 267, sh = 200, ow = 200, oh = 150;
    int ox = (sw - ow) / 2, oy = (sh - oh) / 2;
    unsigned char *in = alloc_image(iw, ih, 3);
    unsigned char *full = alloc_image(sw, sh, 3);
    unsigned char *win = alloc_image(ow, oh, 3);
    struct resample_span x = { iw, sw, ox, ow }, y = { ih, sh, oy, oh };
    struct resample r;

    for (size_t i = 0; i < (size_t)iw * ih * 3; i++)
        in[i] = (unsigned char)((i / 3 % iw) ^ (i / 3 / iw) ^ (i % 3 * 85));
    cr_assert_eq(resample_image(in, iw, ih, 3, full, sw, sh), 0);
    cr_assert_eq(resample_init(&r, 3, &x, &y), 0);
    for (int j = 0; j < ih; j++) {
        memcpy(resample_row_buffer(&r), in + (size_t)j * iw * 3,
               (size_t)iw * 3);
        resample_push_row(&r, win, (size_t)ow * 3);
    }
    cr_assert_eq(r.rows_out, oh);
    resample_release(&r);
    for (int j = 0; j < oh; j++)
        cr_assert_arr_eq(win + (size_t)j * ow * 3,
                         full + ((size_t)(j + oy) * sw + ox) * 3,
                         (size_t)ow * 3, "row %d", j);
    free(in);
    free(full);
    free(win);
}

/* Output rows are produced (in blocks) soon after their input rows are
 * in, and only a few rows of the input are held. */
Test(resample, streams_rows)
{
    struct resample_span x = { 100, 50, 0, 50 }, y = { 1000, 100, 0, 100 };
    struct resample r;
    unsigned char *out = alloc_image(50, 100, 1);
    int done_at_half = 0;

    cr_assert_eq(resample_init(&r, 1, &x, &y), 0);
    cr_assert_lt(r.v.taps, 100);
    for (int j = 0; j < 1000; j++) {
        memset(resample_row_buffer(&r), 99, 100);
        int n = resample_push_row(&r, out, 50);
        if (j == 499)
            done_at_half = n;
    }
    /* Output row 45 needs input rows up to about 485 (a 10:1 shrink
     * widens the filter to +-30 rows); blocks may hold back a few more. */
    cr_assert(done_at_half >= 45 - RESAMPLE_BLOCK && done_at_half <= 50, "%d",
              done_at_half);
    cr_assert_eq(r.rows_out, 100);
    resample_release(&r);
    for (int i = 0; i < 50 * 100; i++)
        cr_assert_eq(out[i], 99);
    free(out);
}

Test(resample, upscale_keeps_values_in_range)
{
    int iw = 4, ih = 4, ow = 33, oh = 17;
    unsigned char in[4 * 4] = {
        0, 255, 0, 255, 255, 0, 255, 0, 0, 255, 0, 255, 255, 0, 255, 0,
    };
    unsigned char *out = alloc_image(ow, oh, 1);
    double mean = 0;

    cr_assert_eq(resample_image(in, iw, ih, 1, out, ow, oh), 0);
    for (int i = 0; i < ow * oh; i++)
        mean += out[i];
    mean /= ow * oh;
    cr_assert(mean > 100 && mean < 155, "mean %f", mean);
    free(out);
}

/* Plain C restatement of the contract: vertical pass, rounded to bytes,
 * then horizontal pass, with the axis tables' weights. */
static int
clamp_round(int32_t a)
{
    a += 1 << (RESAMPLE_BITS - 1);
    if (a < 0)
        return 0;
    a >>= RESAMPLE_BITS;
    return a > 255 ? 255 : a;
}

static void
reference(const unsigned char *in, int iw, int ih, int ch,
          unsigned char *out, int ow, int oh)
{
    struct resample_span xs = { iw, ow, 0, ow }, ys = { ih, oh, 0, oh };
    struct resample_axis h, v;
    unsigned char *mid = alloc_image(iw, 1, ch);

    cr_assert_eq(resample_axis_init(&h, &xs), 0);
    cr_assert_eq(resample_axis_init(&v, &ys), 0);
    for (int y = 0; y < oh; y++) {
        for (int i = 0; i < iw * ch; i++) {
            int32_t a = 0;

            for (int t = 0; t < v.taps; t++)
                a += v.weight[y * v.wstride + t] *
                     in[(size_t)(v.start[y] + t) * iw * ch + i];
            mid[i] = (unsigned char)clamp_round(a);
        }
        for (int x = 0; x < ow; x++)
            for (int c = 0; c < ch; c++) {
                int32_t a = 0;

                for (int t = 0; t < h.taps; t++)
                    a += h.weight[x * h.wstride + t] *
                         mid[(h.start[x] + t) * ch + c];
                out[((size_t)y * ow + x) * ch + c] =
                    (unsigned char)clamp_round(a);
            }
    }
    resample_axis_release(&h);
    resample_axis_release(&v);
    free(mid);
}

/* The vectorised loops give exactly what the plain arithmetic gives, on
 * noise (which exercises clamping) over many shapes, odd tap counts and
 * row lengths that are not multiples of the vector width. */
Test(resample, matches_plain_arithmetic)
{
    static const int dims[][4] = {
        { 320, 240, 300, 225 }, { 333, 97, 41, 29 }, { 17, 13, 5, 3 },
        { 640, 480, 37, 300 }, { 50, 40, 123, 77 }, { 3, 300, 2, 7 },
        { 101, 1, 33, 1 }, { 1, 101, 1, 33 }, { 255, 31, 254, 30 },
    };
    uint32_t rnd = 88172645u;

    for (int ch = 1; ch <= 4; ch++) {
        for (size_t n = 0; n < sizeof(dims) / sizeof(dims[0]); n++) {
            int iw = dims[n][0], ih = dims[n][1];
            int ow = dims[n][2], oh = dims[n][3];
            unsigned char *in = alloc_image(iw, ih, ch);
            unsigned char *got = alloc_image(ow, oh, ch);
            unsigned char *want = alloc_image(ow, oh, ch);

            for (size_t i = 0; i < (size_t)iw * ih * ch; i++) {
                rnd ^= rnd << 13;
                rnd ^= rnd >> 17;
                rnd ^= rnd << 5;
                /* Mostly extremes: the worst case for overshoot. */
                in[i] = (rnd & 3) == 0 ? (unsigned char)(rnd >> 8)
                                       : (rnd & 4) ? 255 : 0;
            }
            cr_assert_eq(resample_image(in, iw, ih, ch, got, ow, oh), 0);
            reference(in, iw, ih, ch, want, ow, oh);
            cr_assert_arr_eq(got, want, (size_t)ow * oh * ch,
                             "%dx%d -> %dx%d, %d channels", iw, ih, ow, oh,
                             ch);
            free(in);
            free(got);
            free(want);
        }
    }
}

/* The row-by-row horizontal pass (the only one without SSE2) and the
 * blocked one give the same bytes. */
Test(resample, row_by_row_matches_blocked)
{
    static const int dims[][4] = {
        { 320, 240, 300, 225 }, { 333, 97, 41, 29 }, { 50, 40, 123, 77 },
    };

    for (int ch = 1; ch <= 4; ch += 2) {
        for (size_t n = 0; n < sizeof(dims) / sizeof(dims[0]); n++) {
            int iw = dims[n][0], ih = dims[n][1];
            int ow = dims[n][2], oh = dims[n][3];
            struct resample_span x = { iw, ow, 0, ow }, y = { ih, oh, 0, oh };
            unsigned char *in = alloc_image(iw, ih, ch);
            unsigned char *a = alloc_image(ow, oh, ch);
            unsigned char *b = alloc_image(ow, oh, ch);
            struct resample r;

            for (size_t i = 0; i < (size_t)iw * ih * ch; i++)
                in[i] = (unsigned char)(i * 2654435761u >> 13);
            cr_assert_eq(resample_image(in, iw, ih, ch, a, ow, oh), 0);
            cr_assert_eq(resample_init(&r, ch, &x, &y), 0);
            r.blocked = 0;
            for (int j = 0; j < ih; j++) {
                memcpy(resample_row_buffer(&r), in + (size_t)j * iw * ch,
                       (size_t)iw * ch);
                resample_push_row(&r, b, (size_t)ow * ch);
            }
            cr_assert_eq(r.rows_out, oh);
            resample_release(&r);
            cr_assert_arr_eq(a, b, (size_t)ow * oh * ch,
                             "%dx%d -> %dx%d, %d channels", iw, ih, ow, oh,
                             ch);
            free(in);
            free(a);
            free(b);
        }
    }
}
