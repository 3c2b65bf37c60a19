/*
 * test_jenc.c - imgpool's own JPEG encoder (jenc.h, --effort best), on
 * its own and in the binary:
 * - sizes from 1x1 to 1x65500, odd widths, flat and noisy pixels,
 *   decoded by TurboJPEG (no warnings) and djpeg (nothing on stderr),
 *   by ImageMagick, and by Pillow where installed: dimensions, colour
 *   patches, PSNR;
 * - the quality the sniffer reads back; the scan modes;
 * - an in-place run over its own output changing no byte; recompress
 *   and thumbnail keeping what --effort fast keeps (profile, EXIF,
 *   components);
 * - its pieces: the DCT against its definition, the symbol counts, the
 *   trellis against an exhaustive search, the colour conversion, the
 *   size estimate the scan choice is made from.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <turbojpeg.h>
#include <unistd.h>

#include "helpers.h"
#include "jenc.h"
#include "jenc_int.h"
#include "jpegq.h"
#include "sniff.h"
#include "task.h"

TestSuite(jenc, .init = th_dir_setup, .fini = th_dir_teardown,
          .timeout = 120);

/* A generated image: kind 0 gradient + patches, 1 black, 2 white,
 * 3 noise, 4 grey gradient. */
struct gen {
    int w, h, kind;
    unsigned seed;
};

static const unsigned char *
gen_row(void *arg, int y, unsigned char *buf)
{
    struct gen *g = arg;

    for (int x = 0; x < g->w; x++) {
        unsigned char *p = buf + 3 * x;

        switch (g->kind) {
        case 1:
            p[0] = p[1] = p[2] = 0;
            break;
        case 2:
            p[0] = p[1] = p[2] = 255;
            break;
        case 3:
            for (int b = 0; b < 3; b++) {
                g->seed = g->seed * 1103515245u + 12345u;
                p[b] = (unsigned char)(g->seed >> 16);
            }
            break;
        case 4:
            p[0] = p[1] = p[2] = (unsigned char)((x + y) * 255 /
                                                 (g->w + g->h));
            break;
        case 5:
            /* A colour gradient with faint noise: a light image, under
             * a bit a pixel, yet above the baseline mark at 640x400. */
            for (int b = 0; b < 3; b++) {
                g->seed = g->seed * 1103515245u + 12345u;
                p[b] = (unsigned char)(40 + (x * (b + 1) + y) / 5 % 160 +
                                       (int)((g->seed >> 16) % 3));
            }
            break;
        default:
            /* Four patches: red, green, blue, a gradient. */
            if (y < g->h / 2) {
                p[0] = x < g->w / 2 ? 220 : 30;
                p[1] = x < g->w / 2 ? 30 : 200;
                p[2] = 40;
            } else if (x < g->w / 2) {
                p[0] = 30; p[1] = 60; p[2] = 210;
            } else {
                p[0] = (unsigned char)(x * 255 / g->w);
                p[1] = (unsigned char)(y * 255 / g->h);
                p[2] = 128;
            }
        }
    }
    return buf;
}

/* Encode @g at @q into *@jpeg (free()); its length. */
static unsigned long
encode_gen(struct gen *g, int q, int sub420, enum jenc_scan scan,
           unsigned char **jpeg)
{
    struct encode_rows src = { g->w, g->h, gen_row, g };
    struct jenc_params p = { .quality = q, .subsample_420 = sub420,
                             .scan = scan, .allow_grey = 1 };
    struct task_result res;
    unsigned long len = 0;

    memset(&res, 0, sizeof(res));
    g->seed = 1;
    cr_assert_eq(jenc_encode(&p, &src, jpeg, &len, &res), 0,
                 "%dx%d kind %d: %s", g->w, g->h, g->kind, res.message);
    cr_assert_gt(len, 0);
    return len;
}

/* Decode with TurboJPEG, asserting no error or warning; RGB pixels. */
static unsigned char *
tj_decode(const unsigned char *jpeg, unsigned long len, int w, int h,
          int *comps)
{
    tjhandle tj = tjInitDecompress();
    int jw, jh, sub, cs;
    unsigned char *px;

    cr_assert_eq(tjDecompressHeader3(tj, jpeg, len, &jw, &jh, &sub, &cs), 0,
                 "%s", tjGetErrorStr2(tj));
    cr_assert_eq(jw, w);
    cr_assert_eq(jh, h);
    *comps = sub == TJSAMP_GRAY ? 1 : 3;
    px = malloc((size_t)w * h * 3);
    cr_assert(px);
    cr_assert_eq(tjDecompress2(tj, jpeg, len, px, w, 0, h, TJPF_RGB, 0), 0,
                 "decode %dx%d: %s", w, h, tjGetErrorStr2(tj));
    tjDestroy(tj);
    return px;
}

/* djpeg reads @jpeg with nothing on stderr (no warning) and exit 0. */
static void
djpeg_clean(const unsigned char *jpeg, unsigned long len)
{
    char *in = th_path(th_dir, "d.jpg"), *err = th_path(th_dir, "d.err");
    char cmd[4096];
    size_t elen = 0;
    char *etext;

    th_write_file(in, jpeg, len);
    snprintf(cmd, sizeof(cmd), "djpeg '%s' > /dev/null 2> '%s'", in, err);
    cr_assert_eq(system(cmd), 0, "djpeg failed");
    etext = th_read_file(err, &elen);
    cr_assert_eq(elen, 0, "djpeg said: %.*s", (int)elen, etext);
    free(etext);
    free(in);
    free(err);
}

static double
psnr(struct gen *g, const unsigned char *px)
{
    unsigned char *row = malloc((size_t)g->w * 3);
    double se = 0;

    g->seed = 1;
    for (int y = 0; y < g->h; y++) {
        gen_row(g, y, row);
        for (int i = 0; i < g->w * 3; i++) {
            double d = (double)row[i] - px[(size_t)y * g->w * 3 + i];
            se += d * d;
        }
    }
    free(row);
    se /= (double)g->w * g->h * 3;
    return se == 0 ? 99.0 : 10.0 * log10(255.0 * 255.0 / se);
}

/* Encode, decode both ways, check the size; the PSNR. */
static double
roundtrip(int w, int h, int kind, int q, int sub420, int *comps)
{
    struct gen g = { w, h, kind, 1 };
    unsigned char *jpeg, *px;
    unsigned long len = encode_gen(&g, q, sub420, JENC_SCAN_AUTO, &jpeg);
    double p;

    px = tj_decode(jpeg, len, w, h, comps);
    djpeg_clean(jpeg, len);
    p = psnr(&g, px);
    free(px);
    free(jpeg);
    return p;
}

Test(jenc, tiny_and_odd_sizes)
{
    static const int sz[][2] = { { 1, 1 }, { 2, 1 }, { 1, 3 }, { 7, 5 },
                                 { 17, 13 }, { 33, 9 }, { 15, 16 },
                                 { 9, 31 } };
    int comps;

    for (size_t i = 0; i < sizeof(sz) / sizeof(sz[0]); i++)
        for (int sub = 0; sub < 2; sub++) {
            double p = roundtrip(sz[i][0], sz[i][1], 0, 90, sub, &comps);

            /* 4:2:0 averages the patches' colours over 2x2 at their
             * edges, which a tiny image is mostly made of. */
            cr_expect_eq(comps, 3);
            cr_expect_gt(p, sub ? 14.0 : 24.0, "%dx%d sub %d: PSNR %.1f",
                         sz[i][0],
                         sz[i][1], sub, p);
        }
}

Test(jenc, extreme_aspect)
{
    int comps;

    cr_expect_gt(roundtrip(1, 65500, 0, 90, 1, &comps), 24.0);
    cr_expect_gt(roundtrip(65500, 1, 0, 90, 0, &comps), 24.0);
}

Test(jenc, flat_and_noise)
{
    int comps;

    /* Flat images: exact (the DC steps land on the values). */
    cr_expect_gt(roundtrip(64, 48, 1, 90, 1, &comps), 45.0);
    cr_expect_eq(comps, 1, "black is grey: one component");
    cr_expect_gt(roundtrip(64, 48, 2, 90, 1, &comps), 45.0);
    /* Noise: the worst case for a DCT coder; still close at q 95. */
    cr_expect_gt(roundtrip(200, 120, 3, 95, 0, &comps), 20.0);
    cr_expect_eq(comps, 3);
    cr_expect_gt(roundtrip(301, 203, 4, 90, 1, &comps), 38.0);
    cr_expect_eq(comps, 1, "a grey gradient is written as greyscale");
}

Test(jenc, big)
{
    int comps;

    cr_expect_gt(roundtrip(3000, 2000, 0, 90, 1, &comps), 30.0);
}

Test(jenc, colour_patches)
{
    struct gen g = { 128, 96, 0, 1 };
    struct th_image img;
    unsigned char *jpeg;
    unsigned long len = encode_gen(&g, 90, 1, JENC_SCAN_AUTO, &jpeg);
    char *path = th_path(th_dir, "p.jpg");
    double m[3];

    th_write_file(path, jpeg, len);
    cr_assert_eq(th_decode_jpeg(path, &img), 0);
    th_mean_rgb(&img, 32, 24, 8, m);
    cr_expect(th_rgb_near(m, 220, 30, 40, 4), "red %.0f %.0f %.0f", m[0],
              m[1], m[2]);
    th_mean_rgb(&img, 96, 24, 8, m);
    cr_expect(th_rgb_near(m, 30, 200, 40, 4), "green %.0f %.0f %.0f", m[0],
              m[1], m[2]);
    th_mean_rgb(&img, 32, 72, 8, m);
    cr_expect(th_rgb_near(m, 30, 60, 210, 4), "blue %.0f %.0f %.0f", m[0],
              m[1], m[2]);
    th_image_release(&img);
    free(jpeg);
    free(path);
}

/* The sniffer reads back the quality each file was written with. */
Test(jenc, quality_read_back)
{
    static const int qs[] = { 20, 50, 75, 85, 90, 95 };
    struct gen g = { 96, 64, 0, 1 };

    for (size_t i = 0; i < sizeof(qs) / sizeof(qs[0]); i++) {
        unsigned char *jpeg;
        unsigned long len = encode_gen(&g, qs[i], 1, JENC_SCAN_AUTO, &jpeg);
        struct jpeg_info ji;

        cr_assert_eq(sniff_jpeg_info(jpeg, len, &ji), 0);
        cr_expect_eq(sniff_jpeg_quality(&ji), qs[i], "q %d read as %d",
                     qs[i], sniff_jpeg_quality(&ji));
        free(jpeg);
    }
}

/* Tables: baseline entries, finer with quality, luma finer at DC than at
 * the highest frequency. */
Test(jenc, tables)
{
    unsigned short a[64], b[64];

    jpegq_table(JPEGQ_LUMA, 50, a);
    jpegq_table(JPEGQ_LUMA, 90, b);
    for (int i = 0; i < 64; i++) {
        cr_expect(a[i] >= 1 && a[i] <= 255);
        cr_expect_geq(a[i], b[i]);
    }
    cr_expect_lt(a[0], a[63]);
    jpegq_table(JPEGQ_LUMA, 100, b);
    for (int i = 0; i < 64; i++)
        cr_expect_eq(b[i], 1);
}

/* The scans of @jpeg: how many, and how many refine or code part of the
 * bits (successive approximation: Ah or Al not zero).  A marker walk up
 * to EOI; entropy-coded data is skipped to the next marker that is
 * neither a stuffed 0xFF00 nor a restart. */
static void
scan_shape(const unsigned char *b, unsigned long n, int *scans, int *approx)
{
    unsigned long i = 2;

    *scans = *approx = 0;
    while (i + 4 <= n && b[i] == 0xFF && b[i + 1] != 0xD9) {
        unsigned len = (unsigned)b[i + 2] << 8 | b[i + 3];

        if (b[i + 1] == 0xDA) {
            const unsigned char *s = b + i + 4;
            int ns = s[0];

            ++*scans;
            if (s[1 + 2 * ns + 2] != 0)
                ++*approx;
            for (i += 2 + len; i + 1 < n; i++)
                if (b[i] == 0xFF && b[i + 1] != 0 &&
                    (b[i + 1] < 0xD0 || b[i + 1] > 0xD7))
                    break;
            continue;
        }
        i += 2 + len;
    }
}

Test(jenc, scan_modes)
{
    /* A small smooth image (a few KB), a detailed one of thumbnail
     * size, and a light one of that size. */
    struct gen cases[] = { { 320, 240, 0, 1 }, { 640, 400, 3, 1 },
                           { 640, 400, 5, 1 } };

    for (int i = 0; i < 3; i++) {
        unsigned char *jb, *jp, *ja;
        unsigned long lb = encode_gen(&cases[i], 90, 1, JENC_SCAN_BASELINE,
                                      &jb);
        unsigned long lp = encode_gen(&cases[i], 90, 1,
                                      JENC_SCAN_PROGRESSIVE, &jp);
        unsigned long la = encode_gen(&cases[i], 90, 1, JENC_SCAN_AUTO,
                                      &ja);
        unsigned long least = lb < lp ? lb : lp;
        struct jpeg_info ji;
        int ns, na;

        cr_assert_eq(sniff_jpeg_info(jb, lb, &ji), 0);
        cr_expect_eq(ji.progressive, 0);
        cr_assert_eq(sniff_jpeg_info(jp, lp, &ji), 0);
        cr_expect_eq(ji.progressive, 1);
        /* Auto keeps the smaller of the two for the small image; the
         * detailed one is estimated large enough to be written
         * progressive without a baseline trial. */
        if (i == 0)
            cr_expect(la == least && memcmp(ja, lb < lp ? jb : jp, la) == 0,
                      "small image: auto %lu, smaller %lu", la, least);
        else
            cr_expect(la == lp && memcmp(ja, jp, la) == 0,
                      "detailed image: auto %lu, progressive %lu", la, lp);
        cr_expect_leq(la, least + least / 100, "auto %lu, smaller %lu", la,
                      least);
        /* A light thumbnail's script: spectral selection only, the DC,
         * luma in two bands, each chroma whole; a dense one's has
         * successive approximation (six scans, three of them). */
        scan_shape(jp, lp, &ns, &na);
        if (i == 1)
            cr_expect(ns == 6 && na == 3, "dense thumbnail: %d scans, %d "
                      "with successive approximation", ns, na);
        else
            cr_expect(ns == 5 && na == 0, "light thumbnail: %d scans, %d "
                      "with successive approximation", ns, na);
        djpeg_clean(jp, lp);
        djpeg_clean(ja, la);
        free(jb);
        free(jp);
        free(ja);
    }
}

/* A photo-sized image (more than 8,192 luma blocks) is written with the
 * successive-approximation scripts, which are smaller on photos. */
Test(jenc, photo_script)
{
    struct gen g = { 1600, 1200, 3, 1 };
    unsigned char *jp;
    unsigned long lp = encode_gen(&g, 90, 1, JENC_SCAN_PROGRESSIVE, &jp);
    int ns, na;

    scan_shape(jp, lp, &ns, &na);
    cr_expect(ns >= 6 && na >= 2, "photo: %d scans, %d with successive "
              "approximation", ns, na);
    djpeg_clean(jp, lp);
    free(jp);
}

/* The binary with --effort best, in place at -q 90 on a photo-like
 * image: smaller than its Q98 source and than --effort fast's file; a
 * second run over its own output changes no byte (the quality estimate
 * reads imgpool's tables, and the lossless pass saves too little). */
Test(jenc, inplace_second_run_unchanged)
{
    struct gen g = { 640, 480, 0, 1 };
    unsigned char *jpeg;
    char *in = th_path(th_dir, "in"), *f;
    size_t l1, l2;
    char *b1, *b2;
    struct th_run r;
    tjhandle tj = tjInitCompress();
    unsigned char *rgb = malloc(640 * 480 * 3), *out = NULL;
    unsigned long olen = 0;

    (void)jpeg;
    g.seed = 1;
    for (int y = 0; y < 480; y++)
        gen_row(&g, y, rgb + (size_t)y * 640 * 3);
    cr_assert_eq(tjCompress2(tj, rgb, 640, 0, 480, TJPF_RGB, &out, &olen,
                             TJSAMP_420, 98, 0), 0);
    th_mkdirs(in);
    f = th_path(in, "a.jpg");
    th_write_file(f, out, olen);
    {
        const char *args[] = { "recompress", "--in-place", "-q", "90", "-j",
                               "1", "--effort", "best", in, NULL };
        char *in2 = th_path(th_dir, "fast"), *f2 = th_path(in2, "a.jpg");
        const char *fast[] = { "recompress", "--in-place", "-q", "90", "-j",
                               "1", "--effort", "fast", in2, NULL };
        size_t lf;

        th_mkdirs(in2);
        th_write_file(f2, out, olen);
        th_run(&r, fast);
        cr_assert_eq(r.status, 0, "%s", r.err);
        th_run_release(&r);
        free(th_read_file(f2, &lf));
        free(f2);
        free(in2);
        th_run(&r, args);
        cr_assert_eq(r.status, 0, "%s", r.err);
        th_run_release(&r);
        b1 = th_read_file(f, &l1);
        cr_assert_lt(l1, olen, "the first run rewrote it smaller");
        cr_expect_lt(l1, lf, "best %zu bytes, fast %zu", l1, lf);
        cr_expect_eq(th_jpeg_quality(f) == 98, 0);
        th_run(&r, args);
        cr_assert_eq(r.status, 0, "%s", r.err);
        th_run_release(&r);
        b2 = th_read_file(f, &l2);
        cr_assert_eq(l1, l2);
        cr_assert(memcmp(b1, b2, l1) == 0, "the second run changed bytes");
    }
    free(b1);
    free(b2);
    free(f);
    free(in);
    free(rgb);
    tjFree(out);
    tjDestroy(tj);
}

/* The fast DCT is the DCT-II by its definition (orthonormal, level
 * shifted), to float rounding, on noise. */
Test(jenc, fdct_matches_definition)
{
    unsigned char px[64];
    struct jenc_plane pl = { 8, 8, 1, 1, 8, px };
    float got[64];
    unsigned seed = 7;

    for (int i = 0; i < 64; i++) {
        seed = seed * 1103515245u + 12345u;
        px[i] = (unsigned char)(seed >> 16);
    }
    jenc_fdct(&pl, 0, 0, got);
    for (int v = 0; v < 8; v++) {
        for (int u = 0; u < 8; u++) {
            double a = 0;

            for (int y = 0; y < 8; y++)
                for (int x = 0; x < 8; x++)
                    a += (px[y * 8 + x] - 128.0) *
                         cos((2 * x + 1) * u * M_PI / 16) *
                         cos((2 * y + 1) * v * M_PI / 16);
            a *= (u ? 0.5 : sqrt(0.125)) * (v ? 0.5 : sqrt(0.125));
            cr_expect(fabs(got[v * 8 + u] - a) < 1e-3,
                      "(%d,%d): %f, want %f", u, v, got[v * 8 + u], a);
        }
    }
}

/* The symbol counts of the rate model, by hand: DC category of the
 * difference, run/size of each non-zero level in zigzag order, ZRL for
 * a run past 15, EOB only when the block ends in zeros, levels rounded
 * to nearest and clamped to 10 magnitude bits. */
Test(jenc, stats_block_counts)
{
    unsigned short q[64];
    float iq[64], c[64] = { 0 };
    struct jenc_stats st;
    int pred = 2;

    for (int k = 0; k < 64; k++)
        q[k] = 10;
    jenc_inv_steps(q, iq);
    memset(&st, 0, sizeof(st));
    c[0] = 53.0f;       /* level 5, difference 3: category 2 */
    c[1] = 31.0f;       /* zigzag 1: level 3, run 0, size 2 */
    c[8] = -4.9f;       /* zigzag 2: rounds to 0 */
    c[40] = -160.0f;    /* zigzag 20: level -16, run 18: ZRL, run 2, size 5 */
    jenc_stats_block(c, iq, &pred, &st);
    cr_assert_eq(pred, 5);
    cr_assert_eq(st.dc[2], 1);
    cr_assert_eq(st.ac[0x02], 1);
    cr_assert_eq(st.ac[0xf0], 1);
    cr_assert_eq(st.ac[0x25], 1);
    cr_assert_eq(st.ac[0x00], 1, "one EOB");
    unsigned long total = 0;
    for (int i = 0; i < 256; i++)
        total += st.ac[i];
    cr_assert_eq(total, 4);

    /* Last coefficient non-zero: no EOB; a huge level has 10 bits. */
    memset(&st, 0, sizeof(st));
    memset(c, 0, sizeof(c));
    c[0] = 50.0f;
    c[63] = 200000.0f;
    jenc_stats_block(c, iq, &pred, &st);
    cr_assert_eq(st.dc[0], 1, "difference 0");
    cr_assert_eq(st.ac[0xf0], 3, "62 zeros: three ZRL");
    cr_assert_eq(st.ac[(14 << 4) | 10], 1, "then run 14, size 10");
    cr_assert_eq(st.ac[0x00], 0, "no EOB");
}

/* Zigzag order, written out again here (natural position of each). */
static const int tzz[64] = {
    0,  1,  8,  16, 9,  2,  3,  10, 17, 24, 32, 25, 18, 11, 4,  5,
    12, 19, 26, 33, 40, 48, 41, 34, 27, 20, 13, 6,  7,  14, 21, 28,
    35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51,
    58, 59, 52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63,
};

static int
tbits(int v)
{
    int n = 0;

    for (v = v < 0 ? -v : v; v; v >>= 1)
        n++;
    return n;
}

/* The trellis's choice by exhaustive search: every level of each
 * position that rounds to non-zero (the rounded one, and the one below
 * when it has fewer magnitude bits), every earlier state, no bound; in
 * float, each cost summed in the encoder's order, so that near ties
 * fall the same way. */
static void
trellis_reference(const float c[64], const float iq[64],
                  const struct jenc_rate *r, float lambda, JCOEF *out)
{
    float best[64], a[64], zc[64];
    int pos[64], val[64], from[64], n = 0;

    pos[0] = 0;
    best[0] = 0;
    zc[0] = 0;
    for (int k = 1; k < 64; k++) {
        float m = fabsf(c[tzz[k]] * iq[tzz[k]]);

        out[tzz[k]] = 0;
        if (m < 0.5f)
            continue;
        n++;
        pos[n] = k;
        a[n] = m;
        zc[n] = zc[n - 1] + m * m;
    }
    for (int i = 1; i <= n; i++) {
        int v0 = (int)(a[i] + 0.5f);

        best[i] = 1e30f;
        for (int v = v0; v >= v0 - 1 && v > 0; v--) {
            int s = tbits(v);
            float d = (a[i] - (float)v) * (a[i] - (float)v);

            if (v != v0 && !(v0 > 1 && (v0 & (v0 - 1)) == 0))
                break;
            for (int j = i - 1; j >= 0; j--) {
                int run = pos[i] - pos[j] - 1;
                float bits = (float)s + r->ac[((run & 15) << 4) | s];
                float cost;

                if (run > 15)
                    bits += (float)(run >> 4) * r->ac[0xf0];
                cost = best[j] + (zc[i - 1] - zc[j]) + d + lambda * bits;
                if (cost < best[i]) {
                    best[i] = cost;
                    val[i] = v;
                    from[i] = j;
                }
            }
        }
    }
    float least = 1e30f;
    int end = 0;

    for (int i = 0; i <= n; i++) {
        float cost = best[i] + (zc[n] - zc[i]) +
                     (pos[i] < 63 ? lambda * r->ac[0] : 0.0f);

        if (cost < least) {
            least = cost;
            end = i;
        }
    }
    for (int i = end; i > 0; i = from[i])
        out[tzz[pos[i]]] = (JCOEF)(c[tzz[pos[i]]] < 0 ? -val[i] : val[i]);
}

/* The trellis's pruned search chooses what the exhaustive one does, on
 * random blocks from sparse to dense, under a skewed rate model. */
Test(jenc, trellis_matches_exhaustive_search)
{
    struct jenc_rate r;
    unsigned short q[64];
    float iq[64], c[64];
    JCOEF got[64], want[64];
    unsigned seed = 11;
    int differ = 0, nonzero = 0;

    for (int i = 0; i < 12; i++)
        r.dc[i] = 2.0f + (float)i;
    for (int i = 0; i < 256; i++)
        r.ac[i] = 2.0f + (float)((i * 7) % 13);
    r.ac[0] = 2.0f;
    for (int k = 0; k < 64; k++)
        q[k] = (unsigned short)(4 + k / 4);
    jenc_inv_steps(q, iq);
    for (int b = 0; b < 2000; b++) {
        double scale = 1.0 + (b % 20) * 4.0;

        for (int k = 0; k < 64; k++) {
            seed = seed * 1103515245u + 12345u;
            c[k] = (float)((((int)(seed >> 16) & 1023) - 512) / 512.0 *
                           scale * q[k] / (1.0 + k / 8.0));
        }
        jenc_trellis_ac(c, iq, &r, 0.07f, got);
        trellis_reference(c, iq, &r, 0.07f, want);
        for (int k = 1; k < 64; k++) {
            differ += got[k] != want[k];
            nonzero += want[k] != 0;
        }
    }
    cr_expect_eq(differ, 0, "%d of the levels differ", differ);
    cr_expect_gt(nonzero, 10000, "the blocks were too sparse to test");
}

/* Fixed-point colour conversion: JFIF's values, rounded; 4:2:0 chroma is
 * the mean of the four pixels' chroma; grey pixels are found. */
static const unsigned char *
quad_row(void *arg, int y, unsigned char *buf)
{
    const unsigned char *px = arg;

    (void)buf;
    return px + y * 6;
}

Test(jenc, colour_conversion)
{
    /* red, green / blue, white: chroma means 128 and 128 */
    static const unsigned char rgbw[12] = { 255, 0, 0, 0, 255, 0,
                                            0, 0, 255, 255, 255, 255 };
    static const unsigned char red[12] = { 255, 0, 0, 255, 0, 0,
                                           255, 0, 0, 255, 0, 0 };
    static const unsigned char grey[12] = { 9, 9, 9, 200, 200, 200,
                                            0, 0, 0, 255, 255, 255 };
    struct encode_rows src = { 2, 2, quad_row, (void *)rgbw };
    struct jenc_plane pl[3];
    int isgrey;

    cr_assert_eq(jenc_planes_read(&src, 1, 1, pl, &isgrey), 0);
    cr_expect_eq(isgrey, 0);
    cr_expect_eq(pl[0].px[0], 76);
    cr_expect_eq(pl[0].px[1], 150);
    cr_expect_eq(pl[0].px[pl[0].stride], 29);
    cr_expect_eq(pl[0].px[pl[0].stride + 1], 255);
    cr_expect_eq(pl[1].px[0], 128, "Cb %d", pl[1].px[0]);
    cr_expect_eq(pl[2].px[0], 128, "Cr %d", pl[2].px[0]);
    jenc_planes_free(pl);

    src.arg = (void *)red;
    cr_assert_eq(jenc_planes_read(&src, 0, 1, pl, &isgrey), 0);
    for (int i = 0; i < 2; i++) {
        cr_expect_eq(pl[0].px[i], 76);
        cr_expect_eq(pl[1].px[i], 85, "Cb %d", pl[1].px[i]);
        cr_expect_eq(pl[2].px[i], 255, "Cr %d (255.5, clamped)",
                     pl[2].px[i]);
    }
    jenc_planes_free(pl);

    src.arg = (void *)grey;
    cr_assert_eq(jenc_planes_read(&src, 1, 1, pl, &isgrey), 0);
    cr_expect_eq(isgrey, 1);
    cr_expect_eq(pl[0].px[0], 9);
    cr_expect_eq(pl[0].px[1], 200);
    cr_expect_eq(pl[0].px[pl[0].stride + 1], 255);
    jenc_planes_free(pl);
}

/* The estimate the scan choice is made from: pass one's entropy is
 * near the baseline file's entropy-coded size, and a flat image's
 * blocks are all flat. */
Test(jenc, size_estimate)
{
    struct gen g = { 640, 400, 0, 1 };
    unsigned short q[64];
    float iq[64], c[64];
    struct jenc_plane pl[3];
    struct encode_rows src = { g.w, g.h, gen_row, &g };
    struct jenc_stats st;
    unsigned char *jpeg;
    unsigned long len;
    int grey, pred = 0;

    for (int kind = 0; kind < 2; kind++) {
        g.kind = kind ? 1 : 3;
        g.seed = 1;
        cr_assert_eq(jenc_planes_read(&src, 0, 0, pl, &grey), 0);
        jpegq_table(JPEGQ_LUMA, 90, q);
        jenc_inv_steps(q, iq);
        memset(&st, 0, sizeof(st));
        pred = 0;
        for (int by = 0; by < pl[0].h / 8; by++)
            for (int bx = 0; bx < pl[0].w / 8; bx++) {
                jenc_fdct(&pl[0], bx, by, c);
                jenc_stats_block(c, iq, &pred, &st);
            }
        if (kind) {
            cr_expect_eq(jenc_stats_flat(&st, 1), 1.0, "black: all flat");
            cr_expect_lt(jenc_stats_bytes(&st), 200.0);
        } else {
            double est = jenc_stats_bytes(&st);

            cr_expect_eq(jenc_stats_flat(&st, 1), 0.0, "noise: none flat");
            /* The luma of noise alone: most of a 4:4:4 baseline file's
             * bytes are luma's; the estimate is of plain rounding,
             * which writes more than the trellis. */
            len = encode_gen(&g, 90, 0, JENC_SCAN_BASELINE, &jpeg);
            cr_expect(est > 0.3 * (double)len && est < 1.2 * (double)len,
                      "estimate %.0f, file %lu", est, len);
            free(jpeg);
        }
        jenc_planes_free(pl);
    }
}

/* What a JPEG file carries besides its pixels: size, components and
 * colour space, progressive or not, its ICC profile and its APP1
 * segments (EXIF, XMP), as libjpeg reads them. */
struct carried {
    int w, h, comps, space;
    unsigned char *icc;
    unsigned int icc_len;
    size_t app1_len;
    unsigned char app1_sum;
};

static void
carried_read(const char *path, struct carried *c)
{
    struct jpeg_decompress_struct d;
    struct jpeg_error_mgr e;
    FILE *f = fopen(path, "rb");

    cr_assert_not_null(f, "cannot open '%s'", path);
    memset(c, 0, sizeof(*c));
    d.err = jpeg_std_error(&e);
    jpeg_create_decompress(&d);
    jpeg_save_markers(&d, JPEG_APP0 + 1, 0xffff);
    jpeg_save_markers(&d, JPEG_APP0 + 2, 0xffff);
    jpeg_stdio_src(&d, f);
    cr_assert_eq(jpeg_read_header(&d, TRUE), JPEG_HEADER_OK, "%s", path);
    c->w = (int)d.image_width;
    c->h = (int)d.image_height;
    c->comps = d.num_components;
    c->space = d.jpeg_color_space;
    if (!jpeg_read_icc_profile(&d, &c->icc, &c->icc_len))
        c->icc = NULL;
    for (jpeg_saved_marker_ptr m = d.marker_list; m; m = m->next)
        if (m->marker == JPEG_APP0 + 1) {
            c->app1_len += m->data_length;
            for (unsigned i = 0; i < m->data_length; i++)
                c->app1_sum = (unsigned char)(c->app1_sum * 31 + m->data[i]);
        }
    jpeg_destroy_decompress(&d);
    fclose(f);
}

/* recompress and thumbnail with --effort best keep what --effort fast
 * keeps, file by file over testdata/'s JPEGs (ICC-tagged sRGB and P3,
 * EXIF orientations, grey, CMYK, progressive): the same size, the same
 * components and colour space, the same ICC profile, the same EXIF and
 * XMP; and best's files are the smaller in total. */
Test(jenc, best_keeps_what_fast_keeps)
{
    static const char *names[] = { "rgb.jpg", "srgb_icc.jpg", "p3_icc.jpg",
                                   "orient6.jpg", "gray.jpg", "cmyk.jpg",
                                   "progressive.jpg", "q75.jpg" };
    static const char *jobs[] = { "recompress", "thumbnail" };
    char *in = th_path(th_dir, "in");
    size_t nb = sizeof(names) / sizeof(names[0]);

    th_mkdirs(in);
    for (size_t i = 0; i < nb; i++)
        th_copy_testdata(in, names[i], names[i]);
    for (int jb = 0; jb < 2; jb++) {
        char *out[2];
        long total[2] = { 0, 0 };

        for (int e = 0; e < 2; e++) {
            char name[32];
            struct th_run r;

            snprintf(name, sizeof(name), "%s-%s", jobs[jb],
                     e ? "fast" : "best");
            out[e] = th_path(th_dir, name);
            /* --force: every file rewritten, none kept as it was */
            const char *args[] = { jobs[jb], "-q", "90", "-j", "1",
                                   "--effort", e ? "fast" : "best", in,
                                   "-o", out[e], jb ? NULL : "--force",
                                   NULL };
            th_run(&r, args);
            cr_assert_eq(r.status, 0, "%s --effort %s: exit %d: %s",
                         jobs[jb], e ? "fast" : "best", r.status, r.err);
            th_run_release(&r);
        }
        for (size_t i = 0; i < nb; i++) {
            struct carried c[2];
            struct stat st;

            for (int e = 0; e < 2; e++) {
                char *p = th_path(out[e], names[i]);

                carried_read(p, &c[e]);
                cr_assert_eq(stat(p, &st), 0);
                total[e] += (long)st.st_size;
                free(p);
            }
            cr_expect(c[0].w == c[1].w && c[0].h == c[1].h,
                      "%s %s: %dx%d, fast %dx%d", jobs[jb], names[i],
                      c[0].w, c[0].h, c[1].w, c[1].h);
            cr_expect(c[0].comps == c[1].comps && c[0].space == c[1].space,
                      "%s %s: %d components (space %d), fast %d (%d)",
                      jobs[jb], names[i], c[0].comps, c[0].space,
                      c[1].comps, c[1].space);
            cr_expect(c[0].icc_len == c[1].icc_len &&
                          (!c[0].icc || memcmp(c[0].icc, c[1].icc,
                                               c[0].icc_len) == 0),
                      "%s %s: ICC %u bytes, fast %u", jobs[jb], names[i],
                      c[0].icc_len, c[1].icc_len);
            cr_expect(c[0].app1_len == c[1].app1_len &&
                          c[0].app1_sum == c[1].app1_sum,
                      "%s %s: APP1 %zu bytes, fast %zu", jobs[jb], names[i],
                      c[0].app1_len, c[1].app1_len);
            /* Not a comparison of two empty sets: recompress tags the
             * converted P3 photo with its sRGB profile. */
            if (jb == 0 && strcmp(names[i], "p3_icc.jpg") == 0)
                cr_expect_gt(c[0].icc_len, 0, "p3_icc.jpg: no profile");
            free(c[0].icc);
            free(c[1].icc);
        }
        cr_expect_lt(total[0], total[1], "%s: best %ld bytes, fast %ld",
                     jobs[jb], total[0], total[1]);
        free(out[0]);
        free(out[1]);
    }
    free(in);
}

/* Read a binary PPM (P6, maxval 255) of @w x @h into new RGB pixels, or
 * NULL when it is not one. */
static unsigned char *
ppm_read(const char *path, int w, int h)
{
    FILE *f = fopen(path, "rb");
    int pw, ph, maxv;
    unsigned char *px = NULL;

    if (!f)
        return NULL;
    if (fscanf(f, "P6 %d %d %d", &pw, &ph, &maxv) == 3 && pw == w &&
        ph == h && maxv == 255 && fgetc(f) != EOF) {
        px = malloc((size_t)w * h * 3);
        if (fread(px, 1, (size_t)w * h * 3, f) != (size_t)w * h * 3) {
            free(px);
            px = NULL;
        }
    }
    fclose(f);
    return px;
}

/* The encoder's files decoded by ImageMagick (warnings made errors) and,
 * where it is installed, by Pillow: the same size and about the same
 * PSNR as TurboJPEG's decode, for baseline, the thumbnail script, the
 * photo scripts, 4:4:4, grey and a flat image written both ways. */
Test(jenc, independent_decoders)
{
    static const struct {
        int w, h, kind, sub420;
        enum jenc_scan scan;
    } cases[] = {
        { 640, 480, 0, 1, JENC_SCAN_AUTO },
        { 640, 480, 0, 1, JENC_SCAN_BASELINE },
        { 1200, 900, 0, 1, JENC_SCAN_AUTO },
        { 1200, 900, 3, 0, JENC_SCAN_AUTO },
        { 301, 203, 4, 1, JENC_SCAN_AUTO },
        { 320, 240, 1, 1, JENC_SCAN_AUTO },
    };
    int have_im = th_have_tool("convert") && th_have_tool("identify");
    /* The Python on PATH first, then the system's (python3-pil). */
    const char *py = system("python3 -c 'import PIL' >/dev/null 2>&1") == 0
                         ? "python3"
                     : system("/usr/bin/python3 -c 'import PIL' >/dev/null "
                              "2>&1") == 0 ? "/usr/bin/python3" : NULL;
    int have_pil = py != NULL;
    char *path = th_path(th_dir, "i.jpg"), *ppm = th_path(th_dir, "i.ppm");
    char cmd[8192];

    /* ImageMagick is a test dependency (scripts/install-deps); without
     * it the suite is reported skipped for this machine (CMakeLists.txt).
     * Pillow is checked where it is installed. */
    if (!have_im) {
        fprintf(stderr, "SKIPPED (environment): ImageMagick is not "
                "installed (package imagemagick; scripts/install-deps)\n");
        cr_skip_test("ImageMagick (convert, identify) is not installed");
    }
    if (!have_pil)
        cr_log_info("Pillow (python3-pil) is not installed: ImageMagick "
                    "only");
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct gen g = { cases[i].w, cases[i].h, cases[i].kind, 1 };
        unsigned char *jpeg, *px;
        unsigned long len = encode_gen(&g, 90, cases[i].sub420,
                                       cases[i].scan, &jpeg);
        int comps;
        double ptj;

        th_write_file(path, jpeg, len);
        px = tj_decode(jpeg, len, g.w, g.h, &comps);
        ptj = psnr(&g, px);
        free(px);
        for (int d = 0; d < 2; d++) {
            if (d == 0 && !have_im)
                continue;
            if (d == 1 && !have_pil)
                continue;
            unlink(ppm);
            if (d == 0) {
                snprintf(cmd, sizeof(cmd), "identify -regard-warnings '%s' "
                         ">/dev/null 2>&1 && convert -regard-warnings '%s' "
                         "ppm:'%s' 2>/dev/null", path, path, ppm);
            } else {
                snprintf(cmd, sizeof(cmd), "%s -c 'import sys; from "
                         "PIL import Image; Image.open(sys.argv[1])."
                         "convert(\"RGB\").save(sys.argv[2], \"PPM\")' "
                         "'%s' '%s' 2>/dev/null", py, path, ppm);
            }
            cr_expect_eq(system(cmd), 0, "case %zu: %s failed", i,
                         d ? "Pillow" : "ImageMagick");
            px = ppm_read(ppm, g.w, g.h);
            cr_expect_not_null(px, "case %zu: %s gave no %dx%d picture", i,
                               d ? "Pillow" : "ImageMagick", g.w, g.h);
            if (px) {
                double p = psnr(&g, px);

                cr_expect(fabs(p - ptj) < 1.5, "case %zu: %s PSNR %.1f, "
                          "TurboJPEG %.1f", i, d ? "Pillow" : "ImageMagick",
                          p, ptj);
                free(px);
            }
        }
        free(jpeg);
    }
    free(path);
    free(ppm);
}

/* jenc_idct() undoes jenc_fdct(): every sample back within 1. */
Test(jenc, idct_inverts_fdct)
{
    unsigned char px[64], back[64];
    struct jenc_plane pl = { 8, 8, 1, 1, 8, px, NULL };
    float c[64];
    unsigned seed = 11;

    for (int round = 0; round < 50; round++) {
        for (int i = 0; i < 64; i++) {
            seed = seed * 1103515245u + 12345u;
            /* Noise, and from round 25 on smooth ramps near the ends of
             * the range (the clamp). */
            px[i] = round < 25 ? (unsigned char)(seed >> 16)
                               : (unsigned char)(round & 1 ? 250 + i % 6
                                                           : i % 6);
        }
        jenc_fdct(&pl, 0, 0, c);
        jenc_idct(c, back, 8);
        for (int i = 0; i < 64; i++)
            cr_assert(abs(back[i] - px[i]) <= 1, "round %d sample %d: %d, "
                      "want %d", round, i, back[i], px[i]);
    }
}

/* Linear light (Rec. 709 weights on the sRGB curve) of an 8-bit pixel. */
static double
light(const unsigned char *p)
{
    double l = 0;
    static const double wt[3] = { 0.2126, 0.7152, 0.0722 };

    for (int c = 0; c < 3; c++) {
        double v = p[c] / 255.0;

        l += wt[c] * (v <= 0.04045 ? v / 12.92
                                   : pow((v + 0.055) / 1.055, 2.4));
    }
    return l;
}

static const unsigned char *
stripes_row(void *arg, int y, unsigned char *buf)
{
    int w = *(int *)arg;

    /* Brick-red and sky-blue stripes three pixels wide, shifting by a
     * pixel every 8 rows: 4:2:0 chroma cannot follow them. */
    for (int x = 0; x < w; x++) {
        int red = (x + y / 8) / 3 % 2;

        buf[3 * x] = red ? 190 : 70;
        buf[3 * x + 1] = red ? 80 : 120;
        buf[3 * x + 2] = red ? 60 : 190;
    }
    return buf;
}

/* The luma is matched to the decoded 4:2:0 chroma (jenc_luma.c): across
 * colour edges a file's pixels keep their light better than plain
 * libjpeg-turbo's at the same quality (whose luma is the original's). */
Test(jenc, luma_keeps_light_across_colour_edges)
{
    int w = 203, h = 157;
    struct encode_rows src = { w, h, stripes_row, &w };
    struct jenc_params p = { .quality = 90, .subsample_420 = 1,
                             .scan = JENC_SCAN_AUTO };
    struct task_result res;
    unsigned char *rgb = malloc((size_t)w * h * 3), *jpeg = NULL;
    unsigned char *tjpeg = NULL, *px, *tpx;
    unsigned long len = 0, tlen = 0;
    double err = 0, terr = 0;
    tjhandle tj = tjInitCompress();
    int comps;

    cr_assert(rgb && tj);
    for (int y = 0; y < h; y++)
        stripes_row(&w, y, rgb + (size_t)y * w * 3);
    memset(&res, 0, sizeof(res));
    cr_assert_eq(jenc_encode(&p, &src, &jpeg, &len, &res), 0, "%s",
                 res.message);
    cr_assert_eq(tjCompress2(tj, rgb, w, 0, h, TJPF_RGB, &tjpeg, &tlen,
                             TJSAMP_420, 90, 0), 0, "%s",
                 tjGetErrorStr2(tj));
    px = tj_decode(jpeg, len, w, h, &comps);
    tpx = tj_decode(tjpeg, tlen, w, h, &comps);
    for (size_t i = 0; i < (size_t)w * h; i++) {
        double l = light(rgb + 3 * i);

        err += fabs(light(px + 3 * i) - l);
        terr += fabs(light(tpx + 3 * i) - l);
    }
    /* Measured: 0.64 of libjpeg-turbo's error; without the match 0.99. */
    cr_expect_lt(err, 0.8 * terr, "light error %.5f, libjpeg-turbo's %.5f",
                 err / ((double)w * h), terr / ((double)w * h));
    free(px);
    free(tpx);
    free(jpeg);
    tjFree(tjpeg);
    tjDestroy(tj);
    free(rgb);
}
