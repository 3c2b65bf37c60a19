/*
 * test_formats.c - output formats: WebP and AVIF decoded by independent
 * decoders (dwebp, heif-convert) for every fit mode and an EXIF-rotated
 * input, the format taken from --name, contradictions (exit 2),
 * --progressive, --lossless, the quality scale, and the default WebP and
 * AVIF against the default JPEG (fewer bytes, SSIM no worse).
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "e2e_fixture.h"
#include "encode.h"
#include "jxl.h"
#include "formats_helpers.h"
#include "plan.h"

E2E_TREE

TestSuite(formats, .init = e2e_setup, .fini = e2e_teardown);

/* Exit 2 with both @a and @b in the message. */
static void
run_usage_error(const char *const *args, const char *a, const char *b)
{
    struct th_run r;

    th_run(&r, args);
    cr_assert_eq(r.status, 2, "exit %d, expected 2: %s", r.status, r.err);
    cr_assert(strstr(r.err, a) && strstr(r.err, b),
              "message should name '%s' and '%s': %s", a, b, r.err);
    th_run_release(&r);
}

static void
assert_rgb_near(const struct th_image *img, int x, int y, int r, int g,
                int b, const char *what)
{
    double got[3];

    th_mean_rgb(img, x, y, 2, got);
    cr_assert(th_rgb_near(got, r, g, b, 40), "%s at (%d,%d): %.0f,%.0f,%.0f "
              "not near %d,%d,%d", what, x, y, got[0], got[1], got[2], r, g,
              b);
}

/* rgb.jpg (640x480 quadrants) through --fit @fit into 100x100 as @fmt. */
static void
check_fit(enum out_format fmt, const char *fit, int w, int h)
{
    char name[64];
    struct th_image img;
    char *path;

    snprintf(name, sizeof(name), "rgb-%s.%s", fit, format_ext(fmt));
    const char *a[] = { "thumbnail", "--quiet", "-s", "100", "--fit", fit,
                        "-f", format_str(fmt), "--name", name, "-o", out,
                        in, NULL };
    th_run_expect(a, 0);
    path = th_path(out, name);
    fh_decode(path, &img);
    cr_assert_eq(img.w, w, "%s width", name);
    cr_assert_eq(img.h, h, "%s height", name);
    cr_assert_eq(img.channels, 3, "%s: 3 channels", name);
    /* Quadrants keep their places (cover crops the centre: still so). */
    assert_rgb_near(&img, w / 4, h / 4, 255, 0, 0, name);
    assert_rgb_near(&img, 3 * w / 4, h / 4, 0, 255, 0, name);
    assert_rgb_near(&img, w / 4, 3 * h / 4, 0, 0, 255, name);
    assert_rgb_near(&img, 3 * w / 4, 3 * h / 4, 255, 255, 255, name);
    th_image_release(&img);
    free(path);
}

static void
check_format(enum out_format fmt)
{
    struct th_image img;
    char *path, name[32];

    fh_require(fmt);
    th_copy_testdata(in, "rgb.jpg", "rgb.jpg");
    check_fit(fmt, "inside", 100, 75);
    check_fit(fmt, "cover", 100, 100);
    check_fit(fmt, "fill", 100, 100);

    /* EXIF orientation 6: upright 120x80, red top-left, white bottom-right;
     * the default name's extension follows the format. */
    th_rmrf(in);
    th_mkdirs(in);
    th_copy_testdata(in, "orient6.jpg", "orient6.jpg");
    const char *a[] = { "thumbnail", "--quiet", "-f", format_str(fmt), "-o",
                        out, in, NULL };
    th_run_expect(a, 0);
    snprintf(name, sizeof(name), "orient6.%s", format_ext(fmt));
    path = th_path(out, name);
    fh_decode(path, &img);
    cr_assert_eq(img.w, 120);
    cr_assert_eq(img.h, 80);
    cr_assert_eq(img.channels, 3);
    assert_rgb_near(&img, 30, 20, 255, 0, 0, name);
    assert_rgb_near(&img, 90, 60, 255, 255, 255, name);
    th_image_release(&img);
    free(path);
}

Test(formats, webp_decodes_independently_every_fit_and_orientation)
{
    check_format(FORMAT_WEBP);
}

Test(formats, avif_decodes_independently_every_fit_and_orientation)
{
    check_format(FORMAT_AVIF);
}

Test(formats, jxl_decodes_independently_every_fit_and_orientation)
{
    check_format(FORMAT_JXL);
}

/* -q to JPEG XL distance (jxl.h): -q 90 is 1.0, -q 100 0.1, -q 30 6.4,
 * never above libjxl's 25, and falling as -q rises. */
Test(formats, jxl_distance_scale)
{
    cr_assert_float_eq(jxl_distance(90), 1.0, 1e-9);
    cr_assert_float_eq(jxl_distance(100), 0.1, 1e-9);
    cr_assert_float_eq(jxl_distance(30), 6.4, 1e-9);
    cr_assert_float_eq(jxl_distance(25), 6.4 + 2.5 / 6.25, 1e-9);
    cr_assert_float_eq(jxl_distance(1), 25.0, 1e-9);
    for (int q = 2; q <= 100; q++)
        cr_assert_leq(jxl_distance(q), jxl_distance(q - 1), "monotone at %d",
                      q);
    cr_assert_eq(encode_quality(FORMAT_JXL, 90), 90);
}

Test(formats, name_extension_picks_the_format)
{
    struct th_image img;
    char *path;

    fh_require(FORMAT_WEBP);
    th_copy_testdata(in, "rgb.jpg", "rgb.jpg");
    const char *a[] = { "thumbnail", "--quiet", "--name", "{stem}.webp",
                        "-o", out, in, NULL };
    th_run_expect(a, 0);
    path = th_path(out, "rgb.webp");
    /* WebP data, not JPEG data under a .webp name. */
    cr_assert_neq(th_decode_jpeg(path, &img), 0, "a JPEG named .webp");
    fh_decode(path, &img);
    cr_assert_eq(img.w, 300);
    th_image_release(&img);
    free(path);
}

Test(formats, contradictions_are_usage_errors)
{
    th_copy_testdata(in, "rgb.jpg", "rgb.jpg");
    const char *a[] = { "thumbnail", "-f", "png", "--name", "{stem}.jpg",
                        "-o", out, in, NULL };
    run_usage_error(a, "png", "{stem}.jpg");
    const char *b[] = { "thumbnail", "-f", "jpeg", "--name", "{stem}.webp",
                        "-o", out, in, NULL };
    run_usage_error(b, "jpeg", "{stem}.webp");
    const char *c[] = { "thumbnail", "--lossless", "-o", out, in, NULL };
    run_usage_error(c, "--lossless", "jpeg");
    const char *d[] = { "thumbnail", "--progressive", "-f", "avif", "-o",
                        out, in, NULL };
    run_usage_error(d, "--progressive", "avif");
    cr_assert_not(th_exists(out), "a usage error writes nothing");
}

Test(formats, cli_settings)
{
    struct cli_opts o;
    char *argv[] = { "imgpool", "thumbnail", "--name", "x-{stem}.AVIF",
                     "-o", "out", "in", NULL };

    cli_opts_init(&o);
    cr_assert_eq(cli_parse(&o, 7, argv), CLI_RUN);
    cr_assert_eq(o.config.out[0].format, FORMAT_AVIF);
    cli_opts_release(&o);

    char *argv2[] = { "imgpool", "thumbnail", "-f", "webp", "--lossless",
                      "--name", "{stem}.{fmt}", "-o", "out", "in", NULL };
    cli_opts_init(&o);
    cr_assert_eq(cli_parse(&o, 10, argv2), CLI_RUN);
    cr_assert_eq(o.config.out[0].format, FORMAT_WEBP);
    cr_assert_eq(o.config.out[0].lossless, 1);
    cli_opts_release(&o);
}

Test(formats, default_names_follow_the_format)
{
    char buf[64];

    cr_assert_gt(plan_expand_name(NULL, "a.JPG", FORMAT_WEBP, buf,
                                  sizeof(buf)), 0);
    cr_assert_str_eq(buf, "a.webp");
    cr_assert_gt(plan_expand_name(NULL, "a.JPG", FORMAT_AVIF, buf,
                                  sizeof(buf)), 0);
    cr_assert_str_eq(buf, "a.avif");
    cr_assert_gt(plan_expand_name("{stem}.{fmt}", "a.png", FORMAT_JPEG, buf,
                                  sizeof(buf)), 0);
    cr_assert_str_eq(buf, "a.jpg");
}

Test(formats, quality_scale)
{
    cr_assert_eq(encode_quality(FORMAT_JPEG, 90), 90);
    cr_assert_eq(encode_quality(FORMAT_JPEG, 37), 37);
    cr_assert_eq(encode_quality(FORMAT_WEBP, 90), 91);
    cr_assert_eq(encode_quality(FORMAT_AVIF, 90), 88);
    for (int f = FORMAT_JPEG; f <= FORMAT_AVIF; f++) {
        cr_assert_eq(encode_quality(f, 1), 1);
        cr_assert_eq(encode_quality(f, 100), 100);
        for (int q = 2; q <= 100; q++)
            cr_assert_geq(encode_quality(f, q), encode_quality(f, q - 1),
                          "monotone");
    }
}

/* Does the JPEG at @path have a progressive (SOF2) frame header? */
static int
is_progressive(const char *path)
{
    size_t len, i;
    unsigned char *d = (unsigned char *)th_read_file(path, &len);
    int found = 0;

    for (i = 2; i + 1 < len; i++)
        if (d[i] == 0xff && (d[i + 1] == 0xc2 || d[i + 1] == 0xc0 ||
                             d[i + 1] == 0xc1)) {
            found = d[i + 1] == 0xc2;
            break;
        }
    free(d);
    return found;
}

Test(formats, progressive_jpeg)
{
    char *p1, *p2;
    struct th_image img;

    th_copy_testdata(in, "rgb.jpg", "rgb.jpg");
    const char *a[] = { "thumbnail", "--quiet", "--progressive", "-o", out,
                        in, NULL };
    th_run_expect(a, 0);
    p1 = th_path(out, "rgb.jpg");
    cr_assert(is_progressive(p1));
    th_assert_thumbnail(p1, 300);
    cr_assert_eq(th_decode_jpeg(p1, &img), 0);
    th_image_release(&img);
    char *out2 = th_path(tmp, "out2");
    const char *b[] = { "thumbnail", "--quiet", "--baseline", "-o", out2,
                        in, NULL };
    th_run_expect(b, 0);
    p2 = th_path(out2, "rgb.jpg");
    cr_assert_not(is_progressive(p2), "baseline when asked");
    free(p1);
    free(p2);
    free(out2);
}

Test(formats, lossless_webp_is_exact)
{
    struct th_image w, p;
    char *pw, *pp;

    fh_require(FORMAT_WEBP);
    th_copy_testdata(in, "rgba.png", "rgba.png");
    th_copy_testdata(in, "rgb.jpg", "rgb.jpg");
    const char *a[] = { "thumbnail", "--quiet", "--no-fast-path",
                        "--lossless", "-f", "webp", "-o", out, in, NULL };
    th_run_expect(a, 0);
    const char *b[] = { "thumbnail", "--quiet", "--no-fast-path", "-f",
                        "png", "-o", out, in, NULL };
    th_run_expect(b, 0);
    for (int i = 0; i < 2; i++) {
        const char *stem = i ? "rgb" : "rgba";
        char nw[32], np[32];

        snprintf(nw, sizeof(nw), "%s.webp", stem);
        snprintf(np, sizeof(np), "%s.png", stem);
        pw = th_path(out, nw);
        pp = th_path(out, np);
        fh_decode(pw, &w);
        fh_decode(pp, &p);
        cr_assert(w.w == p.w && w.h == p.h && w.channels == p.channels);
        /* Alpha is kept (4 channels for rgba): the colour under a fully
         * transparent pixel is invisible, and libwebp's lossless mode
         * does not keep it; everything visible must be identical. */
        for (size_t k = 0; k < (size_t)w.w * w.h; k++) {
            const unsigned char *pa = w.px + k * w.channels;
            const unsigned char *pb = p.px + k * p.channels;
            int vis = w.channels != 4 || pb[3] != 0;
            cr_assert(vis ? memcmp(pa, pb, w.channels) == 0 : pa[3] == 0,
                      "%s: lossless WebP differs from the PNG at pixel %zu",
                      stem, k);
        }
        th_image_release(&w);
        th_image_release(&p);
        free(pw);
        free(pp);
    }
}

/* Default WebP and AVIF of a photograph: fewer bytes than the default
 * JPEG (Q90) and an SSIM against the lossless rendition no worse. */
Test(formats, defaults_beat_jpeg_q90_on_a_photo)
{
    static const char *const exts[] = { "jpg", "webp", "avif" };
    const char *corpus = th_corpus_dir();
    struct th_image ref, img;
    double ssim[3];
    long long bytes[3];
    char src[4096], name[32], *path;

    fh_require(FORMAT_WEBP);
    fh_require(FORMAT_AVIF);
    if (!corpus)
        cr_skip_test("the shared corpus is absent: no photograph");
    snprintf(src, sizeof(src), "%s/../exif-orientation/Landscape_1.jpg",
             corpus);
    if (!th_exists(src))
        cr_skip_test("%s is absent", src);
    path = th_path(in, "photo.jpg");
    th_copy_file(src, path);
    free(path);
    const char *fmts[] = { "png", "jpeg", "webp", "avif" };
    for (int i = 0; i < 4; i++) {
        /* The anchor is libjpeg's Q90 (encode_quality()): --effort fast;
         * the default JPEG encoder is smaller at a look of its own. */
        const char *a[] = { "thumbnail", "--quiet", "--no-fast-path",
                            "--effort", "fast", "-f", fmts[i], "-o", out, in,
                            NULL };
        th_run_expect(a, 0);
    }
    path = th_path(out, "photo.png");
    fh_decode(path, &ref);
    free(path);
    for (int i = 0; i < 3; i++) {
        snprintf(name, sizeof(name), "photo.%s", exts[i]);
        path = th_path(out, name);
        fh_decode(path, &img);
        ssim[i] = fh_ssim(&ref, &img);
        size_t len;
        free(th_read_file(path, &len));
        bytes[i] = (long long)len;
        th_image_release(&img);
        free(path);
    }
    th_image_release(&ref);
    for (int i = 1; i < 3; i++) {
        cr_assert_lt(bytes[i], bytes[0], "%s %lld bytes, JPEG %lld", exts[i],
                     bytes[i], bytes[0]);
        cr_assert_geq(ssim[i], ssim[0], "%s SSIM %.5f, JPEG %.5f", exts[i],
                      ssim[i], ssim[0]);
    }
}
