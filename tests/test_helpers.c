/*
 * test_helpers.c - the test oracle checked against testdata/.
 *
 * Every other test trusts helpers.c to decode images and read JPEG
 * quality; these cases pin it to files whose contents are known from
 * testdata/README.md, so a broken oracle fails here first.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <lcms2.h>
#include <turbojpeg.h>

#include "helpers.h"

static void
decode_jpeg_ok(const char *name, struct th_image *img)
{
    char *p = th_testdata(name);

    cr_assert_eq(th_decode_jpeg(p, img), 0, "cannot decode %s", name);
    free(p);
}

static void
decode_png_ok(const char *name, struct th_image *img)
{
    char *p = th_testdata(name);

    cr_assert_eq(th_decode_png(p, img), 0, "cannot decode %s", name);
    free(p);
}

static void
expect_rgb(const struct th_image *img, int x, int y, int r, int g, int b,
           double tol)
{
    double m[3];

    th_mean_rgb(img, x, y, 4, m);
    cr_expect(th_rgb_near(m, r, g, b, tol),
              "at (%d, %d): got (%.0f, %.0f, %.0f), want (%d, %d, %d)", x, y,
              m[0], m[1], m[2], r, g, b);
}

static int
quality_of(const char *name)
{
    char *p = th_testdata(name);
    int q = th_jpeg_quality(p);

    free(p);
    return q;
}

Test(helpers, rgb_jpeg_quadrants)
{
    struct th_image img;

    decode_jpeg_ok("rgb.jpg", &img);
    cr_assert_eq(img.w, 640);
    cr_assert_eq(img.h, 480);
    cr_expect_eq(img.channels, 3);
    cr_expect_eq(img.file_channels, 3);
    cr_expect_eq(img.jpeg_subsamp, TJSAMP_420);
    expect_rgb(&img, 160, 120, 255, 0, 0, 8);
    expect_rgb(&img, 480, 120, 0, 255, 0, 8);
    expect_rgb(&img, 160, 360, 0, 0, 255, 8);
    expect_rgb(&img, 480, 360, 255, 255, 255, 8);
    th_image_release(&img);
}

Test(helpers, jpeg_quality_estimate)
{
    int q75 = quality_of("q75.jpg"), q95 = quality_of("rgb.jpg");

    cr_expect(q75 >= 74 && q75 <= 76, "q75.jpg: quality %d", q75);
    cr_expect(q95 >= 94 && q95 <= 96, "rgb.jpg: quality %d", q95);
    cr_expect_eq(quality_of("notes.txt"), -1);
}

Test(helpers, cmyk_jpeg_is_cyan_and_magenta)
{
    struct th_image img;

    decode_jpeg_ok("cmyk.jpg", &img);
    cr_expect_eq(img.file_channels, 4);
    cr_expect_eq(img.channels, 3);
    /* Naive conversion of full cyan / full magenta ink. */
    expect_rgb(&img, 50, 50, 0, 255, 255, 10);
    expect_rgb(&img, 150, 50, 255, 0, 255, 10);
    th_image_release(&img);
}

Test(helpers, gray_jpeg)
{
    struct th_image img;

    decode_jpeg_ok("gray.jpg", &img);
    cr_expect_eq(img.file_channels, 1);
    cr_expect_eq(img.jpeg_subsamp, TJSAMP_GRAY);
    expect_rgb(&img, 50, 50, 50, 50, 50, 4);
    expect_rgb(&img, 150, 50, 200, 200, 200, 4);
    th_image_release(&img);
}

Test(helpers, broken_jpegs_do_not_decode)
{
    static const char *const names[] = {
        "truncated.jpg", "garbage.jpg", "not_image.jpg", "rgb.png",
    };
    struct th_image img;

    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        char *p = th_testdata(names[i]);
        cr_expect_eq(th_decode_jpeg(p, &img), -1, "%s decoded", names[i]);
        free(p);
    }
}

Test(helpers, png_channels_after_expansion)
{
    static const struct {
        const char *name;
        int w, h, channels;
    } cases[] = {
        { "gray.png", 100, 50, 1 },
        { "gray_alpha.png", 100, 50, 2 },
        { "rgb.png", 160, 120, 3 },
        { "rgba.png", 100, 100, 4 },
        { "palette.png", 64, 64, 3 },
        { "rgb16.png", 64, 64, 3 },
        { "noext_png", 32, 32, 3 },
    };
    struct th_image img;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        decode_png_ok(cases[i].name, &img);
        cr_expect_eq(img.w, cases[i].w, "%s width", cases[i].name);
        cr_expect_eq(img.h, cases[i].h, "%s height", cases[i].name);
        cr_expect_eq(img.channels, cases[i].channels, "%s channels",
                     cases[i].name);
        cr_expect_eq(img.jpeg_subsamp, -1);
        th_image_release(&img);
    }
}

Test(helpers, png_known_colours)
{
    struct th_image img;

    decode_png_ok("rgba.png", &img);
    cr_expect_eq(img.px[(25 * 100 + 25) * 4 + 3], 255);
    cr_expect_eq(img.px[(25 * 100 + 75) * 4 + 3], 0);
    expect_rgb(&img, 25, 50, 255, 0, 0, 0);
    th_image_release(&img);

    decode_png_ok("rgb16.png", &img);
    expect_rgb(&img, 32, 32, 200, 100, 50, 0);
    th_image_release(&img);

    decode_png_ok("palette.png", &img);
    expect_rgb(&img, 16, 16, 255, 0, 0, 0);
    expect_rgb(&img, 48, 48, 255, 255, 255, 0);
    th_image_release(&img);
}

Test(helpers, orientation_files_store_rotated_pixels)
{
    /* Stored size and stored corner of the red block, per orientation. */
    static const struct {
        int w, h, x, y;
    } want[8] = {
        { 120, 80, 30, 20 }, { 120, 80, 90, 20 },
        { 120, 80, 90, 60 }, { 120, 80, 30, 60 },
        { 80, 120, 20, 30 }, { 80, 120, 20, 90 },
        { 80, 120, 60, 90 }, { 80, 120, 60, 30 },
    };
    struct th_image img;
    char name[32];

    for (int i = 0; i < 8; i++) {
        snprintf(name, sizeof(name), "orient%d.jpg", i + 1);
        decode_jpeg_ok(name, &img);
        cr_expect_eq(img.w, want[i].w, "%s width", name);
        cr_expect_eq(img.h, want[i].h, "%s height", name);
        expect_rgb(&img, want[i].x, want[i].y, 255, 0, 0, 12);
        /* The opposite corner is white. */
        expect_rgb(&img, img.w - want[i].x, img.h - want[i].y, 255, 255, 255,
                   12);
        th_image_release(&img);
    }
}

Test(helpers, files_and_temp_dirs)
{
    char *dir = th_mkdtemp();
    char *p = th_path(dir, "x/y/z.txt");
    size_t len;
    char *back;

    th_write_file(p, "hello", 5);
    cr_assert(th_exists(p));
    back = th_read_file(p, &len);
    cr_expect_eq(len, 5);
    cr_expect_str_eq(back, "hello");
    free(back);
    free(p);
    th_rmrf(dir);
    cr_expect(!th_exists(dir));
    free(dir);
}

Test(helpers, jsonl_records)
{
    char *dir = th_mkdtemp();
    char *p = th_path(dir, "r.jsonl");
    static const char text[] =
        "{\"path\":\"in/a.jpg\",\"status\":\"ok\"}\n"
        "\n"
        "{\"path\":\"in/b/c.png\",\"status\":\"failed\"}\n";
    json_t *arr, *rec;

    th_write_file(p, text, strlen(text));
    arr = th_read_jsonl(p);
    cr_assert_eq(json_array_size(arr), 2);
    rec = th_find_record(arr, "b/c.png");
    cr_assert(rec != NULL);
    cr_expect_str_eq(json_string_value(json_object_get(rec, "status")),
                     "failed");
    cr_expect_null(th_find_record(arr, "zzz.jpg"));
    json_decref(arr);
    free(p);
    th_rmrf(dir);
    free(dir);
}

Test(helpers, report_counts_and_summary)
{
    char *dir = th_mkdtemp();
    char *p = th_path(dir, "r.jsonl");
    static const char text[] =
        "{\"path\":\"a\",\"status\":\"ok\"}\n"
        "{\"path\":\"b\",\"status\":\"skipped\",\"reason\":\"up-to-date\"}\n"
        "{\"path\":\"c\",\"status\":\"skipped\",\"reason\":\"dry-run\"}\n"
        "{\"path\":\"d\",\"status\":\"failed\",\"reason\":\"decode\"}\n"
        "{\"summary\":true,\"total\":4,\"ok\":1,\"status\":\"ok\"}\n";
    json_t *arr, *sum;

    th_write_file(p, text, strlen(text));
    arr = th_read_jsonl(p);
    sum = th_summary(arr);
    cr_expect_eq(th_json_int(sum, "total"), 4);
    cr_expect_eq(th_json_int(sum, "missing"), 0);
    cr_expect_null(th_json_str(sum, "total"), "not a string");
    /* the summary line is never counted as a record */
    cr_expect_eq(th_count_records(arr, "ok", NULL), 1);
    cr_expect_eq(th_count_records(arr, "skipped", NULL), 2);
    cr_expect_eq(th_count_records(arr, "skipped", "up-to-date"), 1);
    cr_expect_eq(th_count_records(arr, "failed", "timeout"), 0);
    json_decref(arr);
    free(p);
    th_rmrf(dir);
    free(dir);
}

Test(helpers, thumbnail_check_and_stderr_capture)
{
    char *dir = th_mkdtemp();
    char *in = th_testdata("rgb.jpg");
    char *out = th_path(dir, "out");
    char *thumb = th_path(out, "rgb.jpg");
    const char *args[] = { "thumbnail", in, "-o", out, NULL };
    struct th_capture cap;
    struct th_run r;
    char *err;

    /* testdata/rgb.jpg is 640x480: the default thumbnail is 300x225, Q90 */
    th_run(&r, args);
    cr_assert_eq(r.status, 0, "%s", r.err);
    th_run_release(&r);
    th_assert_thumbnail(thumb, 300);
    th_capture_begin(&cap);
    fprintf(stderr, "to the capture\n");
    err = th_capture_end(&cap);
    cr_expect_str_eq(err, "to the capture\n");
    free(err);
    th_rmrf(dir);
    free(dir);
    free(in);
    free(out);
    free(thumb);
}

Test(helpers, same_bytes_and_run_expect)
{
    char *dir = th_mkdtemp();
    char *a = th_path(dir, "a"), *b = th_path(dir, "b");
    char *c = th_path(dir, "c");
    const char *version[] = {"--version", NULL};
    const char *bad[] = {"thumbnail", "--no-such-option", NULL};

    th_write_file(a, "abcd", 4);
    th_write_file(b, "abcd", 4);
    cr_expect(th_same_bytes(a, b));
    th_write_file(b, "abce", 4);
    cr_expect(!th_same_bytes(a, b), "one byte differs");
    th_write_file(c, "abcde", 5);
    cr_expect(!th_same_bytes(a, c), "a longer file");
    th_write_file(c, "", 0);
    cr_expect(!th_same_bytes(c, a), "an empty file");
    /* the exit code asked for, whatever it is */
    th_run_expect(version, 0);
    th_run_expect(bad, 2);
    cr_expect_eq(th_run_status(version), 0);
    cr_expect_eq(th_run_status(bad), 2);
    /* a, b, c and the two dot entries */
    cr_expect_eq(th_count_prefixed(dir, ""), 5);
    cr_expect_eq(th_count_prefixed(dir, "a"), 1);
    cr_expect_eq(th_count_prefixed(dir, "ab"), 0);
    th_rmrf(dir);
    free(dir);
    free(a);
    free(b);
    free(c);
}

/* The profile @p as lcms2 reads it back: colour space @space, its
 * description @desc, and its (first) tone curve at 0.5 within 0.002 of
 * @half. */
static void
expect_profile(const struct th_icc *p, cmsColorSpaceSignature space,
               const char *desc, double half)
{
    cmsHPROFILE h = cmsOpenProfileFromMem(p->data, (cmsUInt32Number)p->len);
    cmsTagSignature trc = space == cmsSigGrayData ? cmsSigGrayTRCTag
                                                  : cmsSigRedTRCTag;
    const cmsToneCurve *c;
    char got[128] = "";
    double v;

    cr_assert(h, "lcms2 cannot read the profile back");
    cr_expect_eq(cmsGetColorSpace(h), space);
    if (desc) {
        cmsGetProfileInfoASCII(h, cmsInfoDescription, "en", "US", got,
                               sizeof(got));
        cr_expect_str_eq(got, desc);
    }
    c = cmsReadTag(h, trc);
    cr_assert(c, "no tone curve");
    v = cmsEvalToneCurveFloat(c, 0.5f);
    cr_expect(fabs(v - half) < 0.002, "curve(0.5) is %f, not %f", v, half);
    cmsCloseProfile(h);
}

Test(helpers, icc_profiles)
{
    char *dir = th_mkdtemp();
    struct th_icc adobe = th_icc_adobe_rgb(), p3 = th_icc_display_p3();
    struct th_icc grey = th_icc_linear_grey();
    static const double xy[6] = {0.64, 0.33, 0.30, 0.60, 0.15, 0.06};
    double g = 1.8;
    struct th_icc plain = th_icc_rgb(xy, 1, &g, NULL);
    char *f = th_icc_file(dir, "sub/a.icc", &adobe);
    size_t len;
    char *back = th_read_file(f, &len);

    expect_profile(&adobe, cmsSigRgbData, "Adobe RGB (1998) primaries",
                   pow(0.5, 563.0 / 256.0));
    /* the sRGB curve: ((0.5 + 0.055) / 1.055) ^ 2.4 */
    expect_profile(&p3, cmsSigRgbData, "Display P3 primaries", 0.214041);
    expect_profile(&grey, cmsSigGrayData, NULL, 0.5);
    expect_profile(&plain, cmsSigRgbData, NULL, pow(0.5, 1.8));
    cr_expect_eq(len, adobe.len);
    cr_expect(len == adobe.len && memcmp(back, adobe.data, len) == 0,
              "th_icc_file() wrote other bytes");
    free(back);
    free(f);
    free(adobe.data);
    free(p3.data);
    free(grey.data);
    free(plain.data);
    th_rmrf(dir);
    free(dir);
}

Test(helpers, psnr)
{
    unsigned char pa[12] = {10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 110, 120};
    unsigned char pb[12];
    struct th_image a = {2, 2, 3, pa, -1, 3}, b = {2, 2, 3, pb, -1, 3};

    memcpy(pb, pa, sizeof(pb));
    cr_expect_eq(th_psnr(&a, &b), 99.0, "equal images");
    /* every sample 1 off: MSE 1, 10 log10(255^2) = 48.13 dB */
    for (size_t i = 0; i < sizeof(pb); i++)
        pb[i] = (unsigned char)(pa[i] + 1);
    cr_expect(fabs(th_psnr(&a, &b) - 48.1308) < 0.001, "%f",
              th_psnr(&a, &b));
    /* one sample 12 off: MSE 144 / 12 = 12 */
    memcpy(pb, pa, sizeof(pb));
    pb[5] = (unsigned char)(pa[5] + 12);
    cr_expect(fabs(th_psnr(&a, &b) - (48.1308 - 10 * log10(12.0))) < 0.001,
              "%f", th_psnr(&a, &b));
}
