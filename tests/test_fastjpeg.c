/*
 * test_fastjpeg.c - the direct libjpeg thumbnail path: eligibility,
 * geometry (every fit mode, every EXIF orientation, the cover crop), colour,
 * encoder settings, damaged input under each fail_on, and agreement with
 * the libvips path on the same inputs.
 *
 * Most tests run the stages with the JPEG decoder forced (img_run), so that they test this path
 * whatever img_process() decides; the comparisons with libvips go through
 * img_process() with fast_jpeg on and off.  Outputs are decoded with
 * TurboJPEG (helpers.h), independently of both paths.
 */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <fcntl.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <turbojpeg.h>
#include <unistd.h>

#include "decode.h"
#include "geom.h"
#include "helpers.h"
#include "img.h"
#include "inplace_fixtures.h"
#include "settings.h"
#include "sniff.h"
#include "stage_helpers.h"
#include "task.h"

/* ------------------------------------------------------------------ */
/* Fixtures                                                           */
/* ------------------------------------------------------------------ */

static int
info_of(const char *path, struct jpeg_info *ji)
{
    size_t len;
    char *buf = th_read_file(path, &len);
    int rc = sniff_jpeg_info((const unsigned char *)buf, len, ji);

    free(buf);
    return rc;
}

/* Run the fast path on @in with header info @ji, output to @out. */
static void
run_fast_info(const struct settings *s, const char *in,
              const struct jpeg_info *ji, const char *out,
              struct task_result *res)
{
    /* The contract allows any file position: it is left somewhere odd. */
    sh_run_decoder(s, in, IMGF_JPEG, ji, out, DECODER_JPEG, res);
}

static void
run_fast(const struct settings *s, const char *in, const char *out,
         struct task_result *res)
{
    struct jpeg_info ji;

    cr_assert_eq(info_of(in, &ji), 0, "'%s' has no JPEG header", in);
    cr_assert(decode_jpeg_eligible(s, &ji), "'%s' not eligible", in);
    run_fast_info(s, in, &ji, out, res);
}

/* The whole pipeline, as a worker runs it. */
static void
run_img(const struct settings *s, const char *in, const char *out,
        struct task_result *res)
{
    static int inited;
    struct task t;

    if (!inited) {
        cr_assert_eq(img_worker_init(s), 0);
        inited = 1;
    }
    sh_task(&t, s, in, out);
    sh_result_init(res);
    sh_process(s, &t, res);
}

static void
assert_ok(const struct task_result *res, const char *what)
{
    cr_assert_eq(res->status, TASK_OK, "%s: status %u, %s", what,
                 res->status, res->message);
}

static void
decode_or_die(const char *path, struct th_image *img)
{
    cr_assert_eq(th_decode_jpeg(path, img), 0, "cannot decode '%s'", path);
}

/* Number of entries in @dir other than . and .. */
static int
count_entries(const char *dir)
{
    char *cmd;
    int n = 0;
    FILE *p;
    char line[512];

    cr_assert(asprintf(&cmd, "ls -A '%s'", dir) > 0);
    p = popen(cmd, "r");
    cr_assert(p != NULL);
    while (fgets(line, sizeof(line), p))
        n++;
    pclose(p);
    free(cmd);
    return n;
}

/*
 * A photo-like 640x480 test image: smooth colour fields, texture near and
 * beyond what a 2x shrink can keep (it must be filtered, not aliased),
 * hard-edged shapes and a little noise.  Written with TurboJPEG, Q90 4:2:0.
 */
static void
make_photo(const char *path, int w, int h)
{
    unsigned char *px = malloc((size_t)w * h * 3), *jpg;
    unsigned long len;
    uint32_t rnd = 2463534242u;

    cr_assert(px);
    for (int y = 0; y < h; y++) {
        for (int x = 0; x < w; x++) {
            double fx = (double)x / w, fy = (double)y / h, v[3];
            unsigned char *p = px + ((size_t)y * w + x) * 3;

            v[0] = 128 + 80 * sin(fx * 7 + fy * 3) +
                   20 * sin(x * 0.9) * sin(y * 0.7);
            v[1] = 110 + 70 * cos(fx * 5 - fy * 4) + 12 * sin(x * 2.5);
            v[2] = 50 + 150 * fy + 15 * sin(x * 0.31 + y * 0.17);
            if ((x - 420) * (x - 420) + (y - 200) * (y - 200) < 90 * 90) {
                v[0] = 30;
                v[1] = 40 + 60 * fx;
                v[2] = 200;
            }
            if (x > 80 && x < 200 && y > 300 && y < 420 && (x / 6) % 2) {
                v[0] = v[1] = v[2] = 240;
            }
            for (int c = 0; c < 3; c++) {
                rnd ^= rnd << 13;
                rnd ^= rnd >> 17;
                rnd ^= rnd << 5;
                v[c] += (double)(rnd % 17) - 8;
                p[c] = (unsigned char)(v[c] < 0 ? 0 : v[c] > 255 ? 255
                                                                  : v[c]);
            }
        }
    }
    jpg = th_jpeg_encode(px, w, h, TJPF_RGB, TJSAMP_420, 90, 0, &len);
    th_write_file(path, jpg, len);
    free(jpg);
    free(px);
}

/* ------------------------------------------------------------------ */
/* Eligibility                                                        */
/* ------------------------------------------------------------------ */

Test(fastjpeg, eligibility)
{
    static const struct {
        const char *file;
        int want;
    } cases[] = {
        { "rgb.jpg", 1 },      { "progressive.jpg", 1 },
        { "q75.jpg", 1 },      { "gray.jpg", 1 },
        { "orient6.jpg", 1 },  { "tree/a/b/deep.jpg", 1 },
        { "cmyk.jpg", 1 },     { "p3_icc.jpg", 1 },
        { "srgb_icc.jpg", 1 },
    };
    struct settings s;
    struct jpeg_info ji;

    sh_thumb_settings(&s, "/nonexistent");
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *path = th_testdata(cases[i].file);

        cr_assert_eq(info_of(path, &ji), 0, "%s", cases[i].file);
        cr_expect_eq(decode_jpeg_eligible(&s, &ji), cases[i].want, "%s",
                     cases[i].file);
        free(path);
    }
}

Test(fastjpeg, eligibility_follows_settings_and_header)
{
    struct settings s;
    struct jpeg_info ji, x;
    char *path = th_testdata("rgb.jpg");

    cr_assert_eq(info_of(path, &ji), 0);
    free(path);
    sh_thumb_settings(&s, "/nonexistent");
    cr_assert(decode_jpeg_eligible(&s, &ji));

    s.format = FORMAT_PNG;
    cr_expect_not(decode_jpeg_eligible(&s, &ji), "PNG output");
    sh_thumb_settings(&s, "/nonexistent");
    s.strip = 0;
    cr_expect_not(decode_jpeg_eligible(&s, &ji), "metadata kept");
    sh_thumb_settings(&s, "/nonexistent");

    x = ji;
    x.has_adobe = 1;
    x.adobe_transform = 0;
    cr_expect_not(decode_jpeg_eligible(&s, &x), "Adobe RGB-coded");
    x.adobe_transform = 1;
    cr_expect(decode_jpeg_eligible(&s, &x), "Adobe YCbCr");
    x = ji;
    x.arithmetic = 1;
    cr_expect_not(decode_jpeg_eligible(&s, &x), "arithmetic coding");
    x = ji;
    x.lossless = 1;
    cr_expect_not(decode_jpeg_eligible(&s, &x), "lossless");
    x = ji;
    x.components = 4;
    cr_expect(decode_jpeg_eligible(&s, &x), "CMYK");
    x = ji;
    x.components = 2;
    cr_expect_not(decode_jpeg_eligible(&s, &x), "two components");
    x = ji;
    x.has_icc = 1;
    cr_expect(decode_jpeg_eligible(&s, &x), "ICC profile");
}

/* ------------------------------------------------------------------ */
/* The default thumbnail                                              */
/* ------------------------------------------------------------------ */

Test(fastjpeg, rgb_thumbnail)
{
    char *dir = th_mkdtemp();
    char *in = th_testdata("rgb.jpg");
    char *out = th_path(dir, "sub/out.jpg");
    struct settings s;
    struct task_result res;
    struct th_image img;
    struct stat st;
    double rgb[3];

    sh_thumb_settings(&s, dir);
    run_fast(&s, in, out, &res);
    assert_ok(&res, "rgb.jpg");
    cr_expect_eq(res.in_width, 640);
    cr_expect_eq(res.in_height, 480);
    cr_expect_eq(res.out_width, 300);
    cr_expect_eq(res.out_height, 225);
    cr_expect_eq(res.nwarnings, 0);
    cr_assert_eq(stat(out, &st), 0);
    cr_expect_eq(res.out_bytes, st.st_size);

    decode_or_die(out, &img);
    cr_assert_eq(img.w, 300);
    cr_assert_eq(img.h, 225);
    cr_expect_eq(img.file_channels, 3);
    cr_expect_eq(img.jpeg_subsamp, TJSAMP_420, "subsampling %d",
                 img.jpeg_subsamp);
    cr_expect_eq(th_jpeg_quality(out), 90);
    th_mean_rgb(&img, 75, 56, 4, rgb);
    cr_expect(th_rgb_near(rgb, 255, 0, 0, 8), "red %.0f %.0f %.0f", rgb[0],
              rgb[1], rgb[2]);
    th_mean_rgb(&img, 225, 56, 4, rgb);
    cr_expect(th_rgb_near(rgb, 0, 255, 0, 8), "green %.0f %.0f %.0f",
              rgb[0], rgb[1], rgb[2]);
    th_mean_rgb(&img, 75, 168, 4, rgb);
    cr_expect(th_rgb_near(rgb, 0, 0, 255, 8), "blue %.0f %.0f %.0f", rgb[0],
              rgb[1], rgb[2]);
    th_mean_rgb(&img, 225, 168, 4, rgb);
    cr_expect(th_rgb_near(rgb, 255, 255, 255, 8), "white %.0f %.0f %.0f",
              rgb[0], rgb[1], rgb[2]);
    th_image_release(&img);
    /* Only the output: the temporary file was renamed away. */
    cr_expect_eq(count_entries(dir), 1);
    th_rmrf(dir);
    free(dir);
    free(in);
    free(out);
}

Test(fastjpeg, quality_is_applied)
{
    static const int qs[] = { 30, 50, 75, 90, 95 };
    char *dir = th_mkdtemp();
    char *in = th_testdata("q75.jpg");
    char *out = th_path(dir, "out.jpg");
    struct settings s;
    struct task_result res;

    for (size_t i = 0; i < sizeof(qs) / sizeof(qs[0]); i++) {
        sh_thumb_settings(&s, dir);
        s.quality = qs[i];
        run_fast(&s, in, out, &res);
        assert_ok(&res, "q75.jpg");
        cr_expect_eq(th_jpeg_quality(out), qs[i], "quality %d", qs[i]);
    }
    th_rmrf(dir);
    free(dir);
    free(in);
    free(out);
}

static int
subsamp_of(const struct settings *s, const char *file, const char *dir)
{
    char *in = th_testdata(file);
    char *out = th_path(dir, "sub.jpg");
    struct task_result res;
    struct th_image img;
    int sub;

    run_fast(s, in, out, &res);
    assert_ok(&res, file);
    decode_or_die(out, &img);
    sub = img.jpeg_subsamp;
    th_image_release(&img);
    free(in);
    free(out);
    return sub;
}

Test(fastjpeg, chroma_subsampling)
{
    char *dir = th_mkdtemp();
    struct settings s;

    sh_thumb_settings(&s, dir);
    cr_expect_eq(subsamp_of(&s, "orient1.jpg", dir), TJSAMP_420,
                 "thumbnails default to 4:2:0, even from 4:4:4");
    s.subsample = SUBSAMPLE_444;
    cr_expect_eq(subsamp_of(&s, "rgb.jpg", dir), TJSAMP_444);
    s.subsample = SUBSAMPLE_420;
    cr_expect_eq(subsamp_of(&s, "orient1.jpg", dir), TJSAMP_420);

    /* Recompress (with --strip) keeps the source's subsampling. */
    settings_init(&s, MODE_RECOMPRESS);
    sh_outdir = dir;
    s.strip = 1;
    cr_expect_eq(subsamp_of(&s, "rgb.jpg", dir), TJSAMP_420);
    cr_expect_eq(subsamp_of(&s, "orient1.jpg", dir), TJSAMP_444);
    th_rmrf(dir);
    free(dir);
}

Test(fastjpeg, gray_input_gives_rgb_output)
{
    char *dir = th_mkdtemp();
    char *in = th_testdata("gray.jpg");
    char *out = th_path(dir, "out.jpg");
    struct settings s;
    struct task_result res;
    struct th_image img;
    double rgb[3];

    sh_thumb_settings(&s, dir);
    s.width = s.height = 100;
    run_fast(&s, in, out, &res);
    assert_ok(&res, "gray.jpg");
    decode_or_die(out, &img);
    cr_assert_eq(img.w, 100);
    cr_assert_eq(img.h, 50);
    cr_expect_eq(img.file_channels, 3);
    th_mean_rgb(&img, 25, 25, 4, rgb);
    cr_expect(th_rgb_near(rgb, 50, 50, 50, 3), "left %.1f %.1f %.1f",
              rgb[0], rgb[1], rgb[2]);
    th_mean_rgb(&img, 75, 25, 4, rgb);
    cr_expect(th_rgb_near(rgb, 200, 200, 200, 3), "right %.1f %.1f %.1f",
              rgb[0], rgb[1], rgb[2]);
    th_image_release(&img);
    th_rmrf(dir);
    free(dir);
    free(in);
    free(out);
}

/* ------------------------------------------------------------------ */
/* Geometry                                                           */
/* ------------------------------------------------------------------ */

Test(fastjpeg, fit_modes_match_geom_fit)
{
    struct geom_box box;
    static const struct {
        enum fit fit;
        int w, h, upscale;
    } boxes[] = {
        { FIT_INSIDE, 300, 300, 0 }, { FIT_INSIDE, 100, 300, 0 },
        { FIT_INSIDE, 300, 100, 0 }, { FIT_INSIDE, 1000, 1000, 0 },
        { FIT_INSIDE, 1000, 700, 1 }, { FIT_INSIDE, 7, 7, 0 },
        { FIT_INSIDE, 300, 0, 0 },   { FIT_INSIDE, 0, 50, 0 },
        { FIT_COVER, 200, 200, 0 },  { FIT_COVER, 50, 300, 0 },
        { FIT_COVER, 301, 77, 0 },   { FIT_COVER, 900, 900, 0 },
        { FIT_COVER, 900, 900, 1 },  { FIT_FILL, 200, 100, 0 },
        { FIT_FILL, 33, 400, 0 },    { FIT_FILL, 1000, 1000, 0 },
        { FIT_FILL, 1000, 50, 1 },
    };
    static const char *const files[] = {
        "rgb.jpg", "progressive.jpg", "gray.jpg", "orient6.jpg",
        "orient3.jpg",
    };
    char *dir = th_mkdtemp();
    char *out = th_path(dir, "out.jpg");

    for (size_t f = 0; f < sizeof(files) / sizeof(files[0]); f++) {
        char *in = th_testdata(files[f]);
        struct jpeg_info ji;
        int iw, ih;

        cr_assert_eq(info_of(in, &ji), 0);
        iw = ji.orientation >= 5 ? ji.height : ji.width;
        ih = ji.orientation >= 5 ? ji.width : ji.height;
        for (size_t b = 0; b < sizeof(boxes) / sizeof(boxes[0]); b++) {
            struct settings s;
            struct task_result res;
            struct th_image img;
            int ow, oh;

            sh_thumb_settings(&s, dir);
            s.fit = boxes[b].fit;
            s.width = boxes[b].w;
            s.height = boxes[b].h;
            s.upscale = boxes[b].upscale;
            box = geom_box_of(&s);
            geom_fit(&box, iw, ih, &ow, &oh);
            run_fast(&s, in, out, &res);
            assert_ok(&res, files[f]);
            cr_expect_eq(res.in_width, iw);
            cr_expect_eq(res.in_height, ih);
            cr_expect(res.out_width == ow && res.out_height == oh,
                      "%s, %s %dx%d: %dx%d, geom_fit says %dx%d", files[f],
                      fit_str(s.fit), s.width, s.height, res.out_width,
                      res.out_height, ow, oh);
            decode_or_die(out, &img);
            cr_expect(img.w == ow && img.h == oh, "%s: file is %dx%d",
                      files[f], img.w, img.h);
            th_image_release(&img);
        }
        free(in);
    }
    th_rmrf(dir);
    free(dir);
    free(out);
}

/* Every orientation comes out upright: red block top-left, white
 * elsewhere (testdata/README.md). */
Test(fastjpeg, orientations_are_applied)
{
    static const int boxes[][2] = { { 120, 120 }, { 60, 60 }, { 45, 45 } };
    char *dir = th_mkdtemp();
    char *out = th_path(dir, "out.jpg");

    for (int n = 1; n <= 8; n++) {
        char name[32];
        char *in;

        snprintf(name, sizeof(name), "orient%d.jpg", n);
        in = th_testdata(name);
        for (size_t b = 0; b < sizeof(boxes) / sizeof(boxes[0]); b++) {
            struct settings s;
            struct task_result res;
            struct th_image img;
            int w, h;
            double rgb[3];

            sh_thumb_settings(&s, dir);
            s.width = boxes[b][0];
            s.height = boxes[b][1];
            run_fast(&s, in, out, &res);
            assert_ok(&res, name);
            cr_expect_eq(res.in_width, 120, "%s", name);
            cr_expect_eq(res.in_height, 80, "%s", name);
            decode_or_die(out, &img);
            w = s.width;
            h = s.width * 2 / 3;
            cr_assert(img.w == w && img.h == h, "%s: %dx%d, want %dx%d",
                      name, img.w, img.h, w, h);
            th_mean_rgb(&img, w / 4, h / 4, 2, rgb);
            cr_expect(th_rgb_near(rgb, 255, 0, 0, 20),
                      "%s box %d: top-left %.0f %.0f %.0f", name, s.width,
                      rgb[0], rgb[1], rgb[2]);
            th_mean_rgb(&img, 3 * w / 4, h / 4, 2, rgb);
            cr_expect(th_rgb_near(rgb, 255, 255, 255, 20),
                      "%s box %d: top-right %.0f %.0f %.0f", name, s.width,
                      rgb[0], rgb[1], rgb[2]);
            th_mean_rgb(&img, w / 4, 3 * h / 4, 2, rgb);
            cr_expect(th_rgb_near(rgb, 255, 255, 255, 20),
                      "%s box %d: bottom-left %.0f %.0f %.0f", name,
                      s.width, rgb[0], rgb[1], rgb[2]);
            th_mean_rgb(&img, 3 * w / 4, 3 * h / 4, 2, rgb);
            cr_expect(th_rgb_near(rgb, 255, 255, 255, 20),
                      "%s box %d: bottom-right %.0f %.0f %.0f", name,
                      s.width, rgb[0], rgb[1], rgb[2]);
            th_image_release(&img);
        }
        free(in);
    }
    th_rmrf(dir);
    free(dir);
    free(out);
}

/* Mean green of column @x over rows [y0, y1): low on red, high on white. */
static double
column_green(const struct th_image *img, int x, int y0, int y1)
{
    double sum = 0;

    for (int y = y0; y < y1; y++)
        sum += img->px[((size_t)y * img->w + x) * 3 + 1];
    return sum / (y1 - y0);
}

static double
row_green(const struct th_image *img, int y, int x0, int x1)
{
    double sum = 0;

    for (int x = x0; x < x1; x++)
        sum += img->px[((size_t)y * img->w + x) * 3 + 1];
    return sum / (x1 - x0);
}

/*
 * Cover crops whose leftover is odd, so the crop is off-centre by one
 * pixel (libvips' rule: (scaled - out) / 2, rounded down).  A mirrored
 * axis must put the window at the same upright place: the red block's
 * edge lands on the same output column / row for every orientation.
 */
Test(fastjpeg, cover_crop_placement_under_orientation)
{
    char *dir = th_mkdtemp();
    char *out = th_path(dir, "out.jpg");

    for (int n = 1; n <= 8; n++) {
        char name[32];
        char *in;
        struct settings s;
        struct task_result res;
        struct th_image img;

        snprintf(name, sizeof(name), "orient%d.jpg", n);
        in = th_testdata(name);

        /* 120x80 at scale 1, 41 columns from offset 39: red is columns
         * 0..20 of the output. */
        sh_thumb_settings(&s, dir);
        s.fit = FIT_COVER;
        s.subsample = SUBSAMPLE_444;
        s.width = 41;
        s.height = 80;
        run_fast(&s, in, out, &res);
        assert_ok(&res, name);
        decode_or_die(out, &img);
        cr_assert(img.w == 41 && img.h == 80);
        cr_expect_lt(column_green(&img, 19, 5, 35), 60, "%s col 19", name);
        cr_expect_lt(column_green(&img, 20, 5, 35), 100, "%s col 20", name);
        cr_expect_gt(column_green(&img, 21, 5, 35), 155, "%s col 21", name);
        cr_expect_gt(column_green(&img, 22, 5, 35), 195, "%s col 22", name);
        th_image_release(&img);

        /* 41 rows from offset 19: red is rows 0..20. */
        s.width = 120;
        s.height = 41;
        run_fast(&s, in, out, &res);
        assert_ok(&res, name);
        decode_or_die(out, &img);
        cr_assert(img.w == 120 && img.h == 41);
        cr_expect_lt(row_green(&img, 19, 5, 55), 60, "%s row 19", name);
        cr_expect_lt(row_green(&img, 20, 5, 55), 100, "%s row 20", name);
        cr_expect_gt(row_green(&img, 21, 5, 55), 155, "%s row 21", name);
        cr_expect_gt(row_green(&img, 22, 5, 55), 195, "%s row 22", name);
        th_image_release(&img);
        free(in);
    }
    th_rmrf(dir);
    free(dir);
    free(out);
}

static int
imin(int a, int b)
{
    return a < b ? a : b;
}

static int
imax(int a, int b)
{
    return a > b ? a : b;
}

/*
 * Darkness-weighted mean position of the dark bar in [lo, hi] of the
 * output's green channel: along row band [a0, a1) of columns when
 * @columns, else along a band of rows.
 */
static double
bar_centre(const struct th_image *img, int columns, int lo, int hi, int a0,
           int a1)
{
    double sum = 0, at = 0;

    for (int p = lo; p <= hi; p++) {
        double d = 255 - (columns ? column_green(img, p, a0, a1)
                                  : row_green(img, p, a0, a1));

        sum += d;
        at += d * p;
    }
    cr_assert_gt(sum, 0, "no bar in [%d, %d]", lo, hi);
    return at / sum;
}

/*
 * The dark bar expected at @want (a column when @columns, else a row),
 * measured over [want - r, want + r + 1] and across the band [a0, a1)
 * clipped to the image, within 0.15 px of @want.  A bar whose window the
 * crop cuts is not measured.
 */
static void
expect_bar_at(const struct th_image *img, int columns, double want, int r,
              int a0, int a1, const char *what)
{
    int along = columns ? img->w : img->h, across = columns ? img->h : img->w;
    double g;

    if (want - r < 0 || want + r + 1 >= along)
        return;
    g = bar_centre(img, columns, (int)want - r, (int)want + r + 1,
                   imax(a0, 0), imin(a1, across));
    cr_expect(fabs(g - want) < 0.15, "%s: bar at %s %.3f, exact resize %.3f",
              what, columns ? "column" : "row", g, want);
}

/* Where upright pixel (@ux, @uy) is stored under orientation @o, in an
 * image stored @sw x @sh (orient.c's views, read backwards). */
static void
stored_at(int o, int sw, int sh, int ux, int uy, int *bx, int *by)
{
    switch (o) {
    case 2: *bx = sw - 1 - ux, *by = uy; break;
    case 3: *bx = sw - 1 - ux, *by = sh - 1 - uy; break;
    case 4: *bx = ux, *by = sh - 1 - uy; break;
    case 5: *bx = uy, *by = ux; break;
    case 6: *bx = uy, *by = sh - 1 - ux; break;
    case 7: *bx = sw - 1 - uy, *by = sh - 1 - ux; break;
    case 8: *bx = sw - 1 - uy, *by = ux; break;
    default: *bx = ux, *by = uy; break;
    }
}

/*
 * A picture 947x529 is not a whole number of 8x8 blocks, so libjpeg's
 * DCT-scaled decode at N/8 gives ceil(947 N / 8) columns for a picture
 * 947 N / 8 wide: the last one is mostly block padding.  The resize must
 * map the output onto the picture, not onto those columns, or the image
 * is stretched by up to a pixel towards the stored right and bottom
 * edges.  Dark bars at known upright places near each edge must land
 * where an exact resize of the full picture puts them: every EXIF
 * orientation (the padding then lies on another upright side), at 1/8
 * (box 100) and 3/8 (box 300), and in a cover crop.
 */
Test(fastjpeg, partial_last_block_keeps_geometry, .timeout = 60)
{
    enum { W = 947, H = 529, BAR = 16 };
    /* Upright bars: columns [xs, xs + BAR), rows [ys, ys + BAR). */
    static const int xs[] = { 40, 880 }, ys[] = { 30, 480 };
    static const struct {
        enum fit fit;
        int w, h;
    } boxes[] = {
        { FIT_INSIDE, 100, 100 }, { FIT_INSIDE, 300, 300 },
        { FIT_COVER, 300, 120 },
    };
    char *dir = th_mkdtemp();
    char *in = th_path(dir, "in.jpg"), *out = th_path(dir, "out.jpg");

    for (int o = 1; o <= 8; o++) {
        int sw = o >= 5 ? H : W, sh = o >= 5 ? W : H;
        unsigned char *px = malloc((size_t)W * H * 3), *jpg;
        unsigned long len;

        cr_assert(px);
        memset(px, 255, (size_t)W * H * 3);
        for (int uy = 0; uy < H; uy++)
            for (int ux = 0; ux < W; ux++) {
                int dark = 0, bx, by;

                /* Vertical bars in the middle rows, horizontal ones in
                 * the middle columns: they never cross. */
                for (int k = 0; k < 2; k++)
                    dark |= (ux >= xs[k] && ux < xs[k] + BAR &&
                             uy >= H / 4 && uy < 3 * H / 4) ||
                            (uy >= ys[k] && uy < ys[k] + BAR &&
                             ux >= W / 4 && ux < 3 * W / 4);
                if (!dark)
                    continue;
                stored_at(o, sw, sh, ux, uy, &bx, &by);
                memset(px + ((size_t)by * sw + bx) * 3, 0, 3);
            }
        jpg = th_jpeg_encode(px, sw, sh, TJPF_RGB, TJSAMP_444, 100, 0, &len);
        write_jpeg_oriented(in, jpg, len, o);
        free(jpg);
        free(px);

        for (size_t b = 0; b < sizeof(boxes) / sizeof(boxes[0]); b++) {
            struct settings s;
            struct task_result res;
            struct th_image img;
            struct geom_box box;
            int gw, gh, ow, oh, ox, oy;
            double sx, sy;

            sh_thumb_settings(&s, dir);
            s.fit = boxes[b].fit;
            s.width = boxes[b].w;
            s.height = boxes[b].h;
            s.subsample = SUBSAMPLE_444;
            s.quality = 100;
            box = geom_box_of(&s);
            geom_window(&box, W, H, &gw, &gh, &ow, &oh, &ox, &oy);
            run_fast(&s, in, out, &res);
            assert_ok(&res, "in.jpg");
            decode_or_die(out, &img);
            cr_assert(img.w == ow && img.h == oh, "orientation %d: %dx%d, "
                      "want %dx%d", o, img.w, img.h, ow, oh);
            sx = (double)gw / W;
            sy = (double)gh / H;
            for (int k = 0; k < 2; k++) {
                /* Where an exact resize (then the crop) puts each bar's
                 * middle; a bar the crop cuts is not measured. */
                double ex = (xs[k] + BAR / 2.0) * sx - 0.5 - ox;
                double ey = (ys[k] + BAR / 2.0) * sy - 0.5 - oy;
                char what[64];

                snprintf(what, sizeof(what), "orientation %d, %dx%d %s", o,
                         s.width, s.height, fit_str(s.fit));
                expect_bar_at(&img, 1, ex, (int)(BAR * sx) / 2 + 4,
                              (int)(H / 4 * sy) - oy + 3,
                              (int)(3 * H / 4 * sy) - oy - 3, what);
                expect_bar_at(&img, 0, ey, (int)(BAR * sy) / 2 + 4,
                              (int)(W / 4 * sx) - ox + 3,
                              (int)(3 * W / 4 * sx) - ox - 3, what);
            }
            th_image_release(&img);
        }
    }
    th_rmrf(dir);
    free(dir);
    free(in);
    free(out);
}

Test(fastjpeg, output_has_no_exif)
{
    char *dir = th_mkdtemp();
    char *in = th_testdata("orient6.jpg");
    char *out = th_path(dir, "out.jpg");
    struct settings s;
    struct task_result res;
    size_t len;
    char *data;

    sh_thumb_settings(&s, dir);
    run_fast(&s, in, out, &res);
    assert_ok(&res, "orient6.jpg");
    data = th_read_file(out, &len);
    cr_expect_null(memmem(data, len, "Exif", 4), "EXIF left in the output");
    free(data);
    th_rmrf(dir);
    free(dir);
    free(in);
    free(out);
}

/* ------------------------------------------------------------------ */
/* Damaged input                                                      */
/* ------------------------------------------------------------------ */

Test(fastjpeg, truncated_lenient_gives_image_and_warnings)
{
    char *dir = th_mkdtemp();
    char *in = th_testdata("truncated.jpg");
    char *out = th_path(dir, "out.jpg");
    struct settings s;
    struct task_result res;
    struct th_image img;

    sh_thumb_settings(&s, dir);
    s.fail_on = FAIL_NONE;
    run_fast(&s, in, out, &res);
    assert_ok(&res, "truncated.jpg");
    cr_expect_geq(res.nwarnings, 1);
    cr_expect(strstr(res.warning, "Premature end of JPEG file") != NULL,
              "warning: '%s'", res.warning);
    decode_or_die(out, &img);
    cr_expect_eq(img.w, 300);
    cr_expect_eq(img.h, 225);
    th_image_release(&img);
    th_rmrf(dir);
    free(dir);
    free(in);
    free(out);
}

Test(fastjpeg, truncated_strict_fails)
{
    static const enum fail_on modes[] = { FAIL_TRUNCATED, FAIL_ERROR,
                                          FAIL_WARNING };
    char *dir = th_mkdtemp();
    char *in = th_testdata("truncated.jpg");
    char *out = th_path(dir, "out.jpg");

    for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
        struct settings s;
        struct task_result res;

        sh_thumb_settings(&s, dir);
        s.fail_on = modes[i];
        run_fast(&s, in, out, &res);
        cr_expect_eq(res.status, TASK_FAILED, "fail_on %s",
                     fail_on_str(modes[i]));
        cr_expect_eq(res.err_class, ERR_DECODE);
        cr_expect(strstr(res.message, "Premature end of JPEG file") != NULL,
                  "message: '%s'", res.message);
        cr_expect_eq(count_entries(dir), 0, "output or temporary left");
    }
    th_rmrf(dir);
    free(dir);
    free(in);
    free(out);
}

/* A JPEG header that promises rgb.jpg, followed by noise: no SOF at all
 * once libjpeg reads it. */
Test(fastjpeg, garbage_fails)
{
    char *dir = th_mkdtemp();
    char *good = th_testdata("rgb.jpg");
    char *in = th_testdata("garbage.jpg");
    char *out = th_path(dir, "out.jpg");
    struct settings s;
    struct task_result res;
    struct jpeg_info ji;

    cr_assert_eq(info_of(good, &ji), 0);
    for (int f = FAIL_NONE; f <= FAIL_WARNING; f++) {
        sh_thumb_settings(&s, dir);
        s.fail_on = (enum fail_on)f;
        run_fast_info(&s, in, &ji, out, &res);
        cr_expect_eq(res.status, TASK_FAILED);
        cr_expect_eq(res.err_class, ERR_DECODE);
        cr_expect(strncmp(res.message, "cannot decode: ", 15) == 0 &&
                  strlen(res.message) > 15, "message: '%s'", res.message);
        cr_expect_eq(count_entries(dir), 0);
    }
    th_rmrf(dir);
    free(dir);
    free(good);
    free(in);
    free(out);
}

/* Cut inside the headers, and an empty file: failed whatever fail_on. */
Test(fastjpeg, header_cut_and_empty_fail)
{
    char *dir = th_mkdtemp();
    char *good = th_testdata("rgb.jpg");
    char *cut = th_path(dir, "in/cut.jpg");
    char *empty = th_path(dir, "in/empty.jpg");
    char *out = th_path(dir, "out/out.jpg");
    struct settings s;
    struct task_result res;
    struct jpeg_info ji;
    size_t len;
    char *data = th_read_file(good, &len);

    cr_assert_eq(info_of(good, &ji), 0);
    th_write_file(cut, data, 300);
    th_write_file(empty, data, 0);
    for (int f = FAIL_NONE; f <= FAIL_WARNING; f++) {
        sh_thumb_settings(&s, dir);
        s.fail_on = (enum fail_on)f;
        run_fast_info(&s, cut, &ji, out, &res);
        cr_expect_eq(res.status, TASK_FAILED, "cut, fail_on %d", f);
        cr_expect_eq(res.err_class, ERR_DECODE);
        run_fast_info(&s, empty, &ji, out, &res);
        cr_expect_eq(res.status, TASK_FAILED, "empty, fail_on %d", f);
        cr_expect_eq(res.err_class, ERR_DECODE);
        cr_expect(strstr(res.message, "Empty input file") != NULL, "'%s'",
                  res.message);
    }
    cr_expect_not(th_exists(out));
    free(data);
    th_rmrf(dir);
    free(dir);
    free(good);
    free(cut);
    free(empty);
    free(out);
}

/* ------------------------------------------------------------------ */
/* Agreement with the libvips path                                    */
/* ------------------------------------------------------------------ */

/* img_process() with the fast path on picks the direct JPEG decoder. */
Test(fastjpeg, img_process_takes_the_fast_path)
{
    char *dir = th_mkdtemp();
    char *in = th_testdata("rgb.jpg");
    char *a = th_path(dir, "direct.jpg");
    char *b = th_path(dir, "img.jpg");
    struct settings s;
    struct task_result res;
    size_t la, lb;
    char *da, *db;

    sh_thumb_settings(&s, dir);
    run_fast(&s, in, a, &res);
    assert_ok(&res, "direct");
    run_img(&s, in, b, &res);
    assert_ok(&res, "img_process");
    cr_expect_eq(res.out_width, 300);
    da = th_read_file(a, &la);
    db = th_read_file(b, &lb);
    cr_expect(la == lb && memcmp(da, db, la) == 0,
              "img_process output differs from the direct call");
    free(da);
    free(db);
    th_rmrf(dir);
    free(dir);
    free(in);
    free(a);
    free(b);
}

Test(fastjpeg, matches_libvips, .timeout = 120)
{
    static const struct {
        enum fit fit;
        int w, h;
    } boxes[] = {
        { FIT_INSIDE, 300, 300 }, { FIT_INSIDE, 64, 64 },
        { FIT_COVER, 200, 150 },  { FIT_COVER, 101, 203 },
        { FIT_FILL, 150, 200 },
    };
    static const char *const files[] = {
        "photo.jpg", "rgb.jpg", "progressive.jpg", "q75.jpg", "gray.jpg",
        "orient6.jpg", "orient7.jpg", "orient2.jpg",
    };
    char *dir = th_mkdtemp();
    char *fast = th_path(dir, "fast.jpg");
    char *slow = th_path(dir, "vips.jpg");
    char *photo = th_path(dir, "photo.jpg");
    double worst = 99;

    make_photo(photo, 640, 480);
    for (size_t f = 0; f < sizeof(files) / sizeof(files[0]); f++) {
        char *in = f == 0 ? strdup(photo) : th_testdata(files[f]);

        for (size_t b = 0; b < sizeof(boxes) / sizeof(boxes[0]); b++) {
            struct settings s;
            struct task_result rf, rv;
            struct th_image fi, vi;
            double p;

            sh_thumb_settings(&s, dir);
            s.fit = boxes[b].fit;
            s.width = boxes[b].w;
            s.height = boxes[b].h;
            run_img(&s, in, fast, &rf);
            assert_ok(&rf, files[f]);
            s.fast_jpeg = 0;
            run_img(&s, in, slow, &rv);
            assert_ok(&rv, files[f]);
            cr_expect(rf.out_width == rv.out_width &&
                      rf.out_height == rv.out_height &&
                      rf.in_width == rv.in_width &&
                      rf.in_height == rv.in_height,
                      "%s %s %dx%d: fast %dx%d (from %dx%d), libvips %dx%d "
                      "(from %dx%d)", files[f], fit_str(s.fit), s.width,
                      s.height, rf.out_width, rf.out_height, rf.in_width,
                      rf.in_height, rv.out_width, rv.out_height,
                      rv.in_width, rv.in_height);
            decode_or_die(fast, &fi);
            decode_or_die(slow, &vi);
            cr_assert(fi.w == vi.w && fi.h == vi.h, "%s: %dx%d vs %dx%d",
                      files[f], fi.w, fi.h, vi.w, vi.h);
            p = th_psnr(&fi, &vi);
            cr_log_info("%-16s %-6s %3dx%-3d -> %3dx%-3d PSNR %.1f dB",
                        files[f], fit_str(s.fit), s.width, s.height, fi.w,
                        fi.h, p);
            cr_expect_geq(p, 30.0, "%s %s %dx%d: PSNR %.1f dB", files[f],
                          fit_str(s.fit), s.width, s.height, p);
            if (p < worst)
                worst = p;
            th_image_release(&fi);
            th_image_release(&vi);
        }
        free(in);
    }
    cr_log_info("worst PSNR against libvips: %.1f dB", worst);
    th_rmrf(dir);
    free(dir);
    free(fast);
    free(slow);
    free(photo);
}
