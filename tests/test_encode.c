/*
 * test_encode.c - the encode stage on its own: the one subsampling rule,
 * the parameters per mode, and outputs decoded by independent decoders
 * (TurboJPEG, libpng: helpers.h) for quality, subsampling, progressive
 * mode and pixels, from rows in memory and from a lazy libvips image,
 * into memory and into a commit.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <turbojpeg.h>

#include <vips/vips.h>

#include "decode.h"
#include "encode.h"
#include "formats_helpers.h"
#include "helpers.h"
#include "img.h"
#include "outfile.h"
#include "settings.h"
#include "sniff.h"
#include "stage_helpers.h"

static char *dir;

static void
setup(void)
{
    struct settings s;

    settings_init(&s, MODE_THUMBNAIL);
    cr_assert_eq(img_worker_init(&s), 0);
    dir = th_mkdtemp();
}

static void
teardown(void)
{
    th_rmrf(dir);
    free(dir);
}

TestSuite(encode, .init = setup, .fini = teardown, .timeout = 60);

Test(encode, subsampling_rule)
{
    struct settings s;

    settings_init(&s, MODE_THUMBNAIL);
    cr_expect(encode_subsample_420(&s, 0), "thumbnails are 4:2:0");
    s.subsample = SUBSAMPLE_444;
    cr_expect(!encode_subsample_420(&s, 1), "asked for 4:4:4");
    settings_init(&s, MODE_RECOMPRESS);
    cr_expect(!encode_subsample_420(&s, 0), "recompress keeps 4:4:4");
    cr_expect(encode_subsample_420(&s, 1), "recompress keeps 4:2:0");
    s.subsample = SUBSAMPLE_420;
    cr_expect(encode_subsample_420(&s, 0), "asked for 4:2:0");
}

Test(encode, params_per_mode)
{
    struct settings s;
    struct encode_params p;
    struct decoded d;

    decoded_init(&d);
    d.source_420 = 1;
    d.progressive = 1;
    settings_init(&s, MODE_THUMBNAIL);
    s.quality = 77;
    encode_params_init(&p, &s, &d);
    cr_expect_eq(p.quality, 77);
    cr_expect(p.strip);
    cr_expect(!p.interlace, "thumbnails are baseline");
    cr_expect(p.drop_orientation, "pixels are upright");

    settings_init(&s, MODE_RECOMPRESS);
    s.target = TARGET_IN_PLACE;
    s.strip_gps = 1;
    encode_params_init(&p, &s, &d);
    cr_expect(!p.strip, "in place keeps metadata");
    cr_expect(p.interlace, "in place keeps progressive mode");
    cr_expect(!p.drop_orientation, "in place keeps the tag");
    cr_expect(p.drop_gps);
    cr_expect(p.subsample_420, "source 4:2:0 kept");
    cr_expect_eq(p.format, FORMAT_JPEG);
}

/* A flat colour, as rows handed out without a copy. */
struct flat {
    int w;
    unsigned char *row;
};

static const unsigned char *
flat_row(void *arg, int y, unsigned char *buf)
{
    (void)y;
    (void)buf;
    return ((struct flat *)arg)->row;
}

static void
flat_rows(struct encode_rows *rows, struct flat *f, int w, int h, int r,
          int g, int b)
{
    f->w = w;
    f->row = malloc((size_t)w * 3);
    for (int x = 0; x < w; x++) {
        f->row[3 * x] = (unsigned char)r;
        f->row[3 * x + 1] = (unsigned char)g;
        f->row[3 * x + 2] = (unsigned char)b;
    }
    rows->width = w;
    rows->height = h;
    rows->row = flat_row;
    rows->arg = f;
}

/* Encode into memory and write the bytes to dir/@name. */
static char *
encode_to_file(const struct encode_params *p, const struct encode_rows *rows,
               const char *name)
{
    struct task_result res;
    struct encode_out out;
    char *path = th_path(dir, name);

    sh_result_init(&res);
    encode_out_init(&out, NULL);
    cr_assert_eq(encode_rows(p, rows, &out, &res), 0, "%s", res.message);
    cr_assert_gt(out.len, 0);
    th_write_file(path, out.buf, out.len);
    encode_out_release(&out);
    return path;
}

Test(encode, jpeg_quality_and_subsampling_as_asked)
{
    static const struct {
        int quality, sub420, progressive, tjsamp;
    } cases[] = {
        { 90, 1, 0, TJSAMP_420 }, { 75, 0, 0, TJSAMP_444 },
        { 50, 1, 1, TJSAMP_420 },
    };
    struct encode_params p;
    struct encode_rows rows;
    struct flat f;
    struct decoded d;
    struct settings s;

    decoded_init(&d);
    settings_init(&s, MODE_THUMBNAIL);
    encode_params_init(&p, &s, &d);
    flat_rows(&rows, &f, 64, 48, 200, 40, 90);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct th_image img;
        struct jpeg_info ji;
        double rgb[3];
        size_t len;
        char *buf;
        char *path;

        p.quality = cases[i].quality;
        p.subsample_420 = cases[i].sub420;
        p.interlace = cases[i].progressive;
        path = encode_to_file(&p, &rows, "q.jpg");
        cr_expect_eq(th_jpeg_quality(path), cases[i].quality, "case %zu", i);
        cr_assert_eq(th_decode_jpeg(path, &img), 0);
        cr_expect_eq(img.w, 64);
        cr_expect_eq(img.h, 48);
        cr_expect_eq(img.jpeg_subsamp, cases[i].tjsamp, "case %zu", i);
        th_mean_rgb(&img, 32, 24, 4, rgb);
        cr_expect(th_rgb_near(rgb, 200, 40, 90, 3), "case %zu", i);
        buf = th_read_file(path, &len);
        cr_assert_eq(sniff_jpeg_info((unsigned char *)buf, len, &ji), 0);
        cr_expect_eq(ji.progressive, cases[i].progressive, "case %zu", i);
        cr_expect(!ji.has_exif && !ji.has_icc, "no metadata");
        free(buf);
        th_image_release(&img);
        free(path);
    }
    free(f.row);
}

Test(encode, png_from_rows_is_exact)
{
    struct encode_params p;
    struct encode_rows rows;
    struct flat f;
    struct decoded d;
    struct settings s;
    struct th_image img;
    char *path;

    decoded_init(&d);
    settings_init(&s, MODE_THUMBNAIL);
    s.format = FORMAT_PNG;
    encode_params_init(&p, &s, &d);
    flat_rows(&rows, &f, 33, 17, 1, 128, 254);
    path = encode_to_file(&p, &rows, "flat.png");
    cr_assert_eq(th_decode_png(path, &img), 0, "not a PNG");
    cr_expect_eq(img.w, 33);
    cr_expect_eq(img.h, 17);
    cr_assert_eq(img.channels, 3);
    for (int i = 0; i < 33 * 17; i++)
        cr_assert_arr_eq(img.px + 3 * i, ((unsigned char[]){ 1, 128, 254 }),
                         3, "pixel %d", i);
    th_image_release(&img);
    free(f.row);
    free(path);
}

Test(encode, into_a_commit)
{
    struct encode_params p;
    struct encode_rows rows;
    struct encode_out out;
    struct task_result res;
    struct outfile of;
    struct th_image img;
    struct flat f;
    struct decoded d;
    struct settings s;
    char *path = th_path(dir, "sub/c.jpg");

    decoded_init(&d);
    settings_init(&s, MODE_THUMBNAIL);
    encode_params_init(&p, &s, &d);
    flat_rows(&rows, &f, 20, 10, 0, 0, 0);
    sh_result_init(&res);
    cr_assert_eq(outfile_open(&of, dir, "sub/c.jpg", 0, &res), 0, "%s",
                 res.message);
    encode_out_init(&out, &of);
    cr_assert_eq(encode_rows(&p, &rows, &out, &res), 0, "%s", res.message);
    cr_expect_null(out.buf, "written to the file, not kept");
    encode_out_release(&out);
    cr_assert_eq(outfile_commit(&of, &res), 0, "%s", res.message);
    cr_assert_eq(th_decode_jpeg(path, &img), 0);
    cr_expect_eq(img.w, 20);
    {
        size_t len;
        char *bytes = th_read_file(path, &len);

        cr_expect_eq(res.out_bytes, (int64_t)len, "out_bytes is the file's");
        free(bytes);
    }
    th_image_release(&img);
    free(f.row);
    free(path);
}

Test(encode, lazy_image_with_the_same_parameters)
{
    struct settings s;
    struct encode_params p;
    struct encode_out out;
    struct task_result res;
    struct decoded d;
    struct input in;
    struct task t;
    struct th_image img;
    char *src = th_testdata("q75.jpg");
    char *path = th_path(dir, "lazy.jpg");

    settings_init(&s, MODE_THUMBNAIL);
    s.quality = 60;
    s.subsample = SUBSAMPLE_444;
    memset(&t, 0, sizeof(t));
    t.path = src;
    sh_result_init(&res);
    cr_assert_eq(input_open(s.max_pixels, &t, &in, &res), 0);
    decoded_init(&d);
    cr_assert_eq(sh_decode_vips(&s, &in, DECODE_FIT, &d, &res), 0);
    encode_params_init(&p, &s, &d);
    encode_out_init(&out, NULL);
    cr_assert_eq(encode_vips(&p, d.ctx, d.image, &out, &res), 0, "%s",
                 res.message);
    th_write_file(path, out.buf, out.len);
    encode_out_release(&out);
    cr_expect_eq(th_jpeg_quality(path), 60);
    cr_assert_eq(th_decode_jpeg(path, &img), 0);
    cr_expect_eq(img.jpeg_subsamp, TJSAMP_444);
    cr_expect_eq(img.w, 300);
    cr_expect_eq(img.h, 225);
    th_image_release(&img);
    decoded_release(&d);
    input_close(&in);
    free(src);
    free(path);
}

/* WebP and AVIF from rows, read back by libwebp's and libheif's own tools
 * (formats_helpers.h): size, 3 channels, the colour; the parameters per
 * format (quality scale, lossless only for WebP, progressive only JPEG). */
static void
webp_avif_from_rows(enum out_format fmt, int lossless)
{
    struct encode_params p;
    struct encode_rows rows;
    struct flat f;
    struct decoded d;
    struct settings s;
    struct th_image img;
    char *path, name[32];
    double got[3];

    fh_require(fmt);
    decoded_init(&d);
    settings_init(&s, MODE_THUMBNAIL);
    s.format = fmt;
    s.lossless = lossless;
    s.progressive = 1;
    encode_params_init(&p, &s, &d);
    cr_assert_eq(p.quality, encode_quality(fmt, 90));
    cr_assert_eq(p.interlace, 0, "progressive is JPEG only");
    cr_assert_eq(p.lossless, lossless);
    flat_rows(&rows, &f, 48, 20, 200, 40, 90);
    snprintf(name, sizeof(name), "flat%d.%s", lossless, format_ext(fmt));
    path = encode_to_file(&p, &rows, name);
    fh_decode(path, &img);
    cr_assert_eq(img.w, 48);
    cr_assert_eq(img.h, 20);
    cr_assert_eq(img.channels, 3);
    th_mean_rgb(&img, 24, 10, 3, got);
    cr_assert(th_rgb_near(got, 200, 40, 90, lossless ? 0.5 : 8),
              "%s: %.1f,%.1f,%.1f", name, got[0], got[1], got[2]);
    th_image_release(&img);
    free(f.row);
    free(path);
}

Test(encode, webp_from_rows)
{
    webp_avif_from_rows(FORMAT_WEBP, 0);
}

Test(encode, lossless_webp_from_rows)
{
    webp_avif_from_rows(FORMAT_WEBP, 1);
}

Test(encode, avif_from_rows)
{
    webp_avif_from_rows(FORMAT_AVIF, 0);
}

Test(encode, progressive_jpeg_when_asked)
{
    struct encode_params p;
    struct decoded d;
    struct settings s;

    decoded_init(&d);
    settings_init(&s, MODE_THUMBNAIL);
    encode_params_init(&p, &s, &d);
    cr_assert_eq(p.interlace, 0);
    s.progressive = 1;
    encode_params_init(&p, &s, &d);
    cr_assert_eq(p.interlace, 1);
    s.format = FORMAT_PNG;
    s.lossless = 1;
    encode_params_init(&p, &s, &d);
    cr_assert_eq(p.lossless, 0, "lossless is WebP only");
}
