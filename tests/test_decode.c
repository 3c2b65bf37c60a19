/*
 * test_decode.c - the decode stage on its own: each decoder on testdata
 * files, what it learns (upright size, orientation, bands, chroma layout),
 * the reduced decode size it picks, and the pixels it delivers.
 *
 * The direct decoders are driven through their public stage interface
 * (decode_open -> decode_scale -> colour/resize -> decode_rows), as the
 * pipeline drives them; the libvips decoder's lazy image is read back with
 * libvips itself.
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <vips/vips.h>

#include "colour.h"
#include "decode.h"
#include "guard.h"
#include "helpers.h"
#include "img.h"
#include "input.h"
#include "resize.h"
#include "settings.h"
#include "stage_helpers.h"

static void
setup(void)
{
    struct settings s;

    settings_init(&s, MODE_THUMBNAIL);
    cr_assert_eq(img_worker_init(&s), 0);
}

TestSuite(decode, .init = setup, .timeout = 60);

static void
box(struct settings *s, int w, int h)
{
    settings_init(s, MODE_THUMBNAIL);
    s->width = w;
    s->height = h;
}

/* Open testdata @name through the open stage. */
static void
open_testdata(const struct settings *s, const char *name, struct input *in)
{
    char *path = th_testdata(name);
    struct task_result res;
    struct task t;

    memset(&t, 0, sizeof(t));
    t.path = path;
    sh_result_init(&res);
    cr_assert_eq(input_open(s->max_pixels, &t, in, &res), 0, "%s: %s", name,
                 res.message);
    free(path);
}

/* A direct decoder through colour and resize into d->px, as img.c runs
 * it; the spans used are left in @x, @y.  0, or -1 with @res failed. */
static int
decode_direct(const struct settings *s, const struct input *in,
              enum decoder_kind kind, struct decoded *d,
              struct resample_span *x, struct resample_span *y,
              struct task_result *res)
{
    struct decode_params dp;
    struct colour_params cp;
    struct decoder *dec;
    struct colour c;
    struct resize rz;
    int rc;

    decode_params_of(s, &dp);
    dec = decode_open(kind, &dp, in, DECODE_FIT, d, res);
    if (!dec)
        return -1;
    resize_plan(&dp.box, d->width, d->height, d->orientation, x, y);
    decode_scale(dec, x, y);
    memset(&rz, 0, sizeof(rz));
    colour_params_of(s, &cp);
    cr_assert_eq(colour_begin(&c, &cp, d->bands, x->in), 0);
    cr_assert_eq(resize_begin(&rz, c.out_bands, x, y, &d->px), 0);
    rc = decode_rows(dec, &c, &rz, res);
    resize_end(&rz);
    colour_end(&c);
    decode_close(dec);
    return rc;
}

static void
px_at(const struct pixels *px, int x, int y, int rgb[3])
{
    const unsigned char *p = pixels_row(px, y) + (size_t)x * px->bands;

    for (int k = 0; k < 3; k++)
        rgb[k] = p[px->bands >= 3 ? k : 0];
}

static int
near(const int got[3], int r, int g, int b, int tol)
{
    return abs(got[0] - r) <= tol && abs(got[1] - g) <= tol &&
           abs(got[2] - b) <= tol;
}

Test(decode, choose_picks_the_direct_decoders_only_when_they_apply)
{
    struct settings s;
    struct input in;

    box(&s, 300, 300);
    open_testdata(&s, "rgb.jpg", &in);
    cr_expect_eq(decode_choose(&s, &in), DECODER_JPEG);
    s.fast_jpeg = 0;
    cr_expect_eq(decode_choose(&s, &in), DECODER_VIPS, "direct paths off");
    s.fast_jpeg = 1;
    s.format = FORMAT_PNG;
    cr_expect_eq(decode_choose(&s, &in), DECODER_VIPS, "PNG output");
    input_close(&in);

    box(&s, 300, 300);
    open_testdata(&s, "p3_icc.jpg", &in);
    cr_expect_eq(decode_choose(&s, &in), DECODER_JPEG, "ICC profile");
    input_close(&in);
    open_testdata(&s, "cmyk.jpg", &in);
    cr_expect_eq(decode_choose(&s, &in), DECODER_JPEG, "CMYK");
    input_close(&in);
    open_testdata(&s, "rgba.png", &in);
    cr_expect_eq(decode_choose(&s, &in), DECODER_PNG);
    input_close(&in);
}

Test(decode, jpeg_picks_the_smallest_covering_dct_scale)
{
    struct settings s;
    struct input in;
    struct decoded d;
    struct resample_span x, y;
    struct task_result res;

    box(&s, 300, 300);
    open_testdata(&s, "rgb.jpg", &in);
    decoded_init(&d);
    sh_result_init(&res);
    cr_assert_eq(decode_direct(&s, &in, DECODER_JPEG, &d, &x, &y, &res), 0,
                 "%s", res.message);
    /* 640x480 into 300x300 is 300x225: 1/2 (320x240) covers it, 3/8
     * (240x180) does not. */
    cr_expect_eq(x.in, 320);
    cr_expect_eq(y.in, 240);
    cr_expect_eq(d.width, 640);
    cr_expect_eq(d.height, 480);
    cr_expect_eq(d.orientation, 1);
    cr_expect_eq(d.bands, 3);
    cr_expect(d.source_420, "rgb.jpg is 4:2:0");
    cr_expect_eq(d.px.width, 300);
    cr_expect_eq(d.px.height, 225);
    cr_expect_eq(d.px.bands, 3);
    decoded_release(&d);
    input_close(&in);
}

Test(decode, jpeg_direct_keeps_stored_orientation_and_says_so)
{
    struct settings s;
    struct input in;
    struct decoded d;
    struct resample_span x, y;
    struct task_result res;
    int rgb[3];

    box(&s, 60, 60);
    open_testdata(&s, "orient6.jpg", &in);
    decoded_init(&d);
    sh_result_init(&res);
    cr_assert_eq(decode_direct(&s, &in, DECODER_JPEG, &d, &x, &y, &res), 0,
                 "%s", res.message);
    cr_expect_eq(d.orientation, 6);
    cr_expect_eq(d.width, 120, "upright width");
    cr_expect_eq(d.height, 80, "upright height");
    cr_expect(!d.source_420, "orient6.jpg is 4:4:4");
    /* Upright 60x40 is stored 40x60, red block bottom-left. */
    cr_assert_eq(d.px.width, 40);
    cr_assert_eq(d.px.height, 60);
    px_at(&d.px, 10, 45, rgb);
    cr_expect(near(rgb, 255, 0, 0, 12), "stored red (%d,%d,%d)", rgb[0],
              rgb[1], rgb[2]);
    px_at(&d.px, 30, 15, rgb);
    cr_expect(near(rgb, 255, 255, 255, 12), "stored white (%d,%d,%d)",
              rgb[0], rgb[1], rgb[2]);
    decoded_release(&d);
    input_close(&in);
}

Test(decode, vips_delivers_upright_image_at_target_size)
{
    struct settings s;
    struct input in;
    struct decoded d;
    struct task_result res;
    VipsImage *img;
    unsigned char *mem;
    size_t len;

    box(&s, 60, 60);
    open_testdata(&s, "orient6.jpg", &in);
    decoded_init(&d);
    sh_result_init(&res);
    cr_assert_eq(sh_decode_vips(&s, &in, DECODE_FIT, &d, &res), 0, "%s",
                 res.message);
    cr_expect_eq(d.width, 120);
    cr_expect_eq(d.height, 80);
    cr_expect_eq(d.orientation, 1, "libvips turns the image upright");
    img = d.image;
    cr_assert_eq(img->Xsize, 60);
    cr_assert_eq(img->Ysize, 40);
    mem = vips_image_write_to_memory(img, &len);
    cr_assert(mem);
    /* Upright: red at the top left, white at the bottom right. */
    {
        const unsigned char *red = mem + (10 * 60 + 15) * img->Bands;
        const unsigned char *white = mem + (30 * 60 + 45) * img->Bands;
        cr_expect(red[0] > 240 && red[1] < 20 && red[2] < 20,
                  "red (%d,%d,%d)", red[0], red[1], red[2]);
        cr_expect(white[0] > 240 && white[1] > 240 && white[2] > 240);
    }
    g_free(mem);
    decoded_release(&d);
    input_close(&in);
}

Test(decode, vips_full_size_is_as_stored)
{
    struct settings s;
    struct input in;
    struct decoded d;
    struct task_result res;

    settings_init(&s, MODE_RECOMPRESS);
    s.target = TARGET_IN_PLACE;
    open_testdata(&s, "progressive.jpg", &in);
    decoded_init(&d);
    sh_result_init(&res);
    cr_assert_eq(sh_decode_vips(&s, &in, DECODE_FULL, &d, &res), 0, "%s",
                 res.message);
    cr_expect_eq(d.image->Xsize, 320);
    cr_expect_eq(d.image->Ysize, 240);
    cr_expect(d.progressive);
    cr_expect(d.source_420);
    decoded_release(&d);
    input_close(&in);
}

Test(decode, png_direct_delivers_rgba_rows_flattened_by_colour)
{
    struct settings s;
    struct input in;
    struct decoded d;
    struct resample_span x, y;
    struct task_result res;
    int rgb[3];

    box(&s, 50, 50);
    open_testdata(&s, "rgba.png", &in);
    decoded_init(&d);
    sh_result_init(&res);
    cr_assert_eq(decode_direct(&s, &in, DECODER_PNG, &d, &x, &y, &res), 0,
                 "%s", res.message);
    cr_expect_eq(d.bands, 4, "RGBA rows");
    cr_expect_eq(x.in, 100, "no reduced decode for PNG");
    cr_assert_eq(d.px.width, 50);
    cr_assert_eq(d.px.height, 50);
    cr_assert_eq(d.px.bands, 3);
    px_at(&d.px, 10, 25, rgb);
    cr_expect(near(rgb, 255, 0, 0, 1), "left red (%d,%d,%d)", rgb[0], rgb[1],
              rgb[2]);
    px_at(&d.px, 40, 25, rgb);
    cr_expect(near(rgb, 255, 255, 255, 1), "right on white (%d,%d,%d)",
              rgb[0], rgb[1], rgb[2]);
    decoded_release(&d);
    input_close(&in);
}

Test(decode, truncated_jpeg_follows_fail_on)
{
    struct settings s;
    struct input in;
    struct decoded d;
    struct resample_span x, y;
    struct task_result res;

    box(&s, 100, 100);
    open_testdata(&s, "truncated.jpg", &in);
    decoded_init(&d);
    sh_result_init(&res);
    s.fail_on = FAIL_NONE;
    cr_expect_eq(decode_direct(&s, &in, DECODER_JPEG, &d, &x, &y, &res), 0,
                 "lenient: %s", res.message);
    cr_expect_gt(res.nwarnings, 0);
    cr_expect_eq(d.px.width, 100);
    decoded_release(&d);

    s.fail_on = FAIL_TRUNCATED;
    sh_result_init(&res);
    cr_expect_eq(decode_direct(&s, &in, DECODER_JPEG, &d, &x, &y, &res), -1);
    cr_expect_eq(res.err_class, ERR_DECODE, "class %u: %s", res.err_class,
                 res.message);
    decoded_release(&d);
    input_close(&in);
}

Test(decode, each_decoder_refuses_what_it_cannot_do)
{
    struct decode_params p;
    struct settings s;
    struct input in;
    struct decoded d;
    struct task_result res;
    struct decoder *dec;

    box(&s, 100, 100);
    decode_params_of(&s, &p);
    open_testdata(&s, "cmyk.jpg", &in);
    decoded_init(&d);
    sh_result_init(&res);
    /* A direct decoder does not decode the image as stored. */
    cr_expect_null(decode_open(DECODER_JPEG, &p, &in, DECODE_FULL, &d, &res));
    cr_expect_eq(res.err_class, ERR_INTERNAL);
    decoded_release(&d);
    /* The libvips decoder delivers an image and streams no rows. */
    sh_result_init(&res);
    dec = decode_open(DECODER_VIPS, &p, &in, DECODE_FIT, &d, &res);
    cr_assert_not_null(dec, "%s", res.message);
    cr_expect_not(decode_streams(dec));
    cr_expect_not_null(d.image);
    cr_expect_eq(decode_rows(dec, NULL, NULL, &res), -1);
    cr_expect_eq(res.err_class, ERR_INTERNAL);
    decode_close(dec);
    decoded_release(&d);
    input_close(&in);
}

/* CMYK (200x100): the libvips decoder shrinks on load only, with the
 * JPEG loader's shrink (4: 50x25, the smallest still covering 40x20), in
 * CMYK and not fitted; the resize stage takes it to the output size. */
Test(decode, vips_cmyk_is_shrunk_on_load_and_resized_by_the_resize_stage)
{
    struct decode_params p;
    struct settings s;
    struct input in;
    struct decoded d;
    struct task_result res;
    struct decoder *dec;
    VipsImage *img;

    box(&s, 40, 40);
    decode_params_of(&s, &p);
    open_testdata(&s, "cmyk.jpg", &in);
    decoded_init(&d);
    sh_result_init(&res);
    dec = decode_open(DECODER_VIPS, &p, &in, DECODE_FIT, &d, &res);
    cr_assert_not_null(dec, "%s", res.message);
    decode_close(dec);
    cr_expect_not(d.fitted);
    cr_expect_not(d.stored_swap);
    cr_assert_not_null(d.image);
    cr_expect_eq(d.image->Type, VIPS_INTERPRETATION_CMYK);
    cr_expect_eq(d.image->Xsize, 50);
    cr_expect_eq(d.image->Ysize, 25);
    img = resize_vips_stored(&p.box, d.width, d.height, d.stored_swap,
                             d.ctx, d.image);
    cr_assert_not_null(img);
    cr_expect_eq(img->Xsize, 40);
    cr_expect_eq(img->Ysize, 20);
    cr_expect_eq(img->Type, VIPS_INTERPRETATION_CMYK, "colour left alone");
    decoded_release(&d);
    input_close(&in);
}

/* ------------------------------------------------------------------ */
/* Bounded work and decoded rows (guard.h)                             */
/* ------------------------------------------------------------------ */

Test(decode, jpeg_walk_counts_scans_and_finds_the_end)
{
    struct guard_jpeg_walk w;
    char *tmp = th_mkdtemp(), *half = th_path(tmp, "half.jpg");
    char *src = th_testdata("progressive.jpg");
    size_t len;
    char *data = th_read_file(src, &len);
    int fd;

    fd = open(src, O_RDONLY);
    cr_assert_eq(guard_jpeg_walk(fd, INT64_MAX, GUARD_MAX_SCANS, &w), 0);
    /* libjpeg's progression for YCbCr has 10 scans. */
    cr_expect_eq(w.scans, 10);
    cr_expect_eq(w.eoi, 1);
    cr_expect_gt(w.first_scan_bytes, 0);
    /* The walk stops one scan past the cap. */
    cr_assert_eq(guard_jpeg_walk(fd, INT64_MAX, 3, &w), 0);
    cr_expect_eq(w.scans, 4);
    close(fd);

    th_write_file(half, data, len / 2);
    fd = open(half, O_RDONLY);
    cr_assert_eq(guard_jpeg_walk(fd, INT64_MAX, GUARD_MAX_SCANS, &w), 0);
    cr_expect_lt(w.scans, 10);
    cr_expect_eq(w.eoi, 0);
    close(fd);
    free(src);
    free(data);
    free(half);
    th_rmrf(tmp);
    free(tmp);
}

Test(decode, rows_threshold)
{
    struct task_result res;

    /* 10% of the rows, and at least one MCU row. */
    cr_expect(guard_rows_enough(48, 480, 16));
    cr_expect_not(guard_rows_enough(47, 480, 16));
    cr_expect_not(guard_rows_enough(15, 100, 16));
    cr_expect(guard_rows_enough(16, 100, 16));
    /* Shorter than an MCU row: every row. */
    cr_expect(guard_rows_enough(10, 10, 16));
    cr_expect_not(guard_rows_enough(9, 10, 16));
    cr_expect_not(guard_rows_enough(0, 1, 1));

    sh_result_init(&res);
    cr_expect_eq(guard_rows(240, 480, 16, &res), 0);
    cr_expect_eq(res.decoded_rows, 240);
    cr_expect(strstr(res.warning, "240 of 480 rows decoded (50.0%)"), "%s",
              res.warning);
    sh_result_init(&res);
    cr_expect_eq(guard_rows(480, 480, 16, &res), 0);
    cr_expect_eq(res.nwarnings, 0);
    sh_result_init(&res);
    cr_expect_eq(guard_rows(0, 2880, 8, &res), -1);
    cr_expect_eq(res.err_class, ERR_TRUNCATED);
    cr_expect_eq(res.decoded_rows, 0);
}

/* The direct decoders say how many rows they decoded. */
Test(decode, direct_decoders_count_decoded_rows)
{
    struct settings s;
    struct input in;
    struct decoded d;
    struct resample_span x, y;
    struct task_result res;

    box(&s, 100, 100);
    open_testdata(&s, "rgb.jpg", &in);
    decoded_init(&d);
    sh_result_init(&res);
    cr_assert_eq(decode_direct(&s, &in, DECODER_JPEG, &d, &x, &y, &res), 0);
    cr_expect_eq(res.decoded_rows, 480);
    decoded_release(&d);
    input_close(&in);

    open_testdata(&s, "truncated.jpg", &in);
    s.fail_on = FAIL_NONE;
    sh_result_init(&res);
    cr_assert_eq(decode_direct(&s, &in, DECODER_JPEG, &d, &x, &y, &res), 0,
                 "%s", res.message);
    cr_expect_gt(res.decoded_rows, 0);
    cr_expect_lt(res.decoded_rows, 480);
    decoded_release(&d);
    input_close(&in);

    open_testdata(&s, "rgb.png", &in);
    sh_result_init(&res);
    cr_assert_eq(decode_direct(&s, &in, DECODER_PNG, &d, &x, &y, &res), 0);
    cr_expect_eq(res.decoded_rows, 120);
    decoded_release(&d);
    input_close(&in);
}

/* The libvips path cannot count rows: -1. */
Test(decode, vips_rows_are_unknown)
{
    struct settings s;
    struct input in;
    struct decoded d;
    struct task_result res;

    box(&s, 100, 100);
    open_testdata(&s, "rgb.jpg", &in);
    decoded_init(&d);
    sh_result_init(&res);
    cr_assert_eq(sh_decode_vips(&s, &in, DECODE_FIT, &d, &res), 0);
    cr_expect_eq(res.decoded_rows, -1);
    decoded_release(&d);
    input_close(&in);
}
