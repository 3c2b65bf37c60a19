/*
 * test_img.c - the libvips pipeline, one file at a time, in-process.
 *
 * Each Criterion test runs in its own process, so each one initialises
 * libvips itself, exactly as a worker does after fork().  Outputs are
 * decoded with TurboJPEG and libpng (tests/helpers.c), never with libvips.
 * The direct libjpeg path is switched off here (fast_jpeg = 0); it has its
 * own tests and is compared against this one.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <turbojpeg.h>

#include "helpers.h"
#include "img.h"
#include "settings.h"
#include "sniff.h"
#include "stage_helpers.h"

static char *outdir;

static void
setup(void)
{
    outdir = th_mkdtemp();
}

static void
teardown(void)
{
    th_rmrf(outdir);
    free(outdir);
}

TestSuite(img, .init = setup, .fini = teardown, .timeout = 60);

static void
thumb_settings(struct settings *s)
{
    settings_init(s, MODE_THUMBNAIL);
    s->fast_jpeg = 0;
    sh_outdir = outdir;
}

/* Process @input (a path) into outdir/@outname with @s. */
static void
process_path(const struct settings *s, const char *input, const char *outname,
             struct task_result *res)
{
    struct task t;
    char *out = th_path(outdir, outname);

    memset(&t, 0, sizeof(t));
    t.path = (char *)input;
    t.rel = strrchr(input, '/') ? strrchr(input, '/') + 1 : input;
    t.out_path = out;
    t.out_rel = outname;
    memset(res, 0, sizeof(*res));
    cr_assert_eq(img_worker_init(s), 0);
    sh_process(s, &t, res);
    free(out);
}

static void
process(const struct settings *s, const char *name, const char *outname,
        struct task_result *res)
{
    char *in = th_testdata(name);
    process_path(s, in, outname, res);
    free(in);
}

static void
decode_out(const char *outname, struct th_image *img)
{
    char *out = th_path(outdir, outname);
    cr_assert_eq(th_decode_jpeg(out, img), 0, "output %s not a JPEG", out);
    cr_assert_eq(img->file_channels, 3);
    free(out);
}

static void
assert_rgb_at(const struct th_image *img, int x, int y, int r, int g, int b)
{
    double rgb[3];
    th_mean_rgb(img, x, y, 2, rgb);
    cr_assert(th_rgb_near(rgb, r, g, b, 12),
              "at (%d,%d) got (%.0f,%.0f,%.0f), want (%d,%d,%d)", x, y,
              rgb[0], rgb[1], rgb[2], r, g, b);
}

static void
assert_quadrants(const struct th_image *img)
{
    int w = img->w, h = img->h;
    assert_rgb_at(img, w / 4, h / 4, 255, 0, 0);
    assert_rgb_at(img, 3 * w / 4, h / 4, 0, 255, 0);
    assert_rgb_at(img, w / 4, 3 * h / 4, 0, 0, 255);
    assert_rgb_at(img, 3 * w / 4, 3 * h / 4, 255, 255, 255);
}

static int
count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int n = 0;

    cr_assert(d);
    while ((e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            n++;
    closedir(d);
    return n;
}

Test(img, thumbnail_default_fits_300_box_q90_420)
{
    struct settings s;
    struct task_result r;
    struct th_image img;
    char *out;

    thumb_settings(&s);
    process(&s, "rgb.jpg", "rgb.jpg", &r);
    cr_assert_eq(r.status, TASK_OK, "%s", r.message);
    cr_assert_eq(r.in_width, 640);
    cr_assert_eq(r.in_height, 480);
    cr_assert_eq(r.out_width, 300);
    cr_assert_eq(r.out_height, 225);
    decode_out("rgb.jpg", &img);
    cr_assert_eq(img.w, 300);
    cr_assert_eq(img.h, 225);
    cr_assert_eq(img.jpeg_subsamp, TJSAMP_420);
    assert_quadrants(&img);
    out = th_path(outdir, "rgb.jpg");
    cr_assert_eq(th_jpeg_quality(out), 90);
    free(out);
    cr_assert_gt(r.out_bytes, 0);
    cr_assert_eq(count_entries(outdir), 1, "temporary file left behind");
    th_image_release(&img);
}

Test(img, fit_modes_give_exact_dimensions)
{
    static const struct {
        enum fit fit;
        int w, h, upscale;
        int ow, oh;
    } cases[] = {
        { FIT_INSIDE, 100, 100, 0, 100, 75 },
        { FIT_INSIDE, 0, 120, 0, 160, 120 },
        { FIT_INSIDE, 1000, 1000, 0, 640, 480 },
        { FIT_INSIDE, 1000, 1000, 1, 1000, 750 },
        { FIT_COVER, 100, 100, 0, 100, 100 },
        { FIT_COVER, 600, 100, 0, 600, 100 },
        { FIT_FILL, 100, 100, 0, 100, 100 },
        { FIT_FILL, 50, 200, 0, 50, 200 },
        { FIT_FILL, 800, 100, 0, 640, 100 },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct settings s;
        struct task_result r;
        struct th_image img;
        char name[32];

        thumb_settings(&s);
        s.fit = cases[i].fit;
        s.width = cases[i].w;
        s.height = cases[i].h;
        s.upscale = cases[i].upscale;
        snprintf(name, sizeof(name), "fit%zu.jpg", i);
        process(&s, "rgb.jpg", name, &r);
        cr_assert_eq(r.status, TASK_OK, "case %zu: %s", i, r.message);
        decode_out(name, &img);
        cr_assert_eq(img.w, cases[i].ow, "case %zu: width %d", i, img.w);
        cr_assert_eq(img.h, cases[i].oh, "case %zu: height %d", i, img.h);
        cr_assert_eq(r.out_width, img.w);
        cr_assert_eq(r.out_height, img.h);
        if (cases[i].fit != FIT_COVER)
            assert_quadrants(&img);
        th_image_release(&img);
    }
}

Test(img, cover_crops_the_centre)
{
    struct settings s;
    struct task_result r;
    struct th_image img;

    thumb_settings(&s);
    s.fit = FIT_COVER;
    s.width = 100;
    s.height = 100;
    /* 640x480 -> 133x100 -> centre 100x100: quadrants keep their corners */
    process(&s, "rgb.jpg", "c.jpg", &r);
    cr_assert_eq(r.status, TASK_OK);
    decode_out("c.jpg", &img);
    assert_quadrants(&img);
    th_image_release(&img);
}

Test(img, every_exif_orientation_comes_out_upright)
{
    for (int n = 1; n <= 8; n++) {
        struct settings s;
        struct task_result r;
        struct th_image img;
        char in[32], out[32];

        thumb_settings(&s);
        snprintf(in, sizeof(in), "orient%d.jpg", n);
        snprintf(out, sizeof(out), "o%d.jpg", n);
        process(&s, in, out, &r);
        cr_assert_eq(r.status, TASK_OK, "orientation %d: %s", n, r.message);
        decode_out(out, &img);
        cr_assert_eq(img.w, 120, "orientation %d: width %d", n, img.w);
        cr_assert_eq(img.h, 80, "orientation %d: height %d", n, img.h);
        assert_rgb_at(&img, 30, 20, 255, 0, 0);
        assert_rgb_at(&img, 90, 60, 255, 255, 255);
        assert_rgb_at(&img, 90, 20, 255, 255, 255);
        cr_assert_eq(r.in_width, 120);
        cr_assert_eq(r.in_height, 80);
        th_image_release(&img);
    }
}

Test(img, orientation_applies_before_the_box)
{
    struct settings s;
    struct task_result r;
    struct th_image img;

    thumb_settings(&s);
    s.width = 60;
    s.height = 60;
    process(&s, "orient6.jpg", "o6.jpg", &r);
    cr_assert_eq(r.status, TASK_OK);
    decode_out("o6.jpg", &img);
    cr_assert_eq(img.w, 60);
    cr_assert_eq(img.h, 40);
    assert_rgb_at(&img, 15, 10, 255, 0, 0);
    th_image_release(&img);
}

Test(img, cmyk_jpeg_has_true_colours)
{
    struct settings s;
    struct task_result r;
    struct th_image img;
    double rgb[3];

    thumb_settings(&s);
    process(&s, "cmyk.jpg", "cmyk.jpg", &r);
    cr_assert_eq(r.status, TASK_OK, "%s", r.message);
    decode_out("cmyk.jpg", &img);
    th_mean_rgb(&img, img.w / 4, img.h / 2, 2, rgb);
    cr_assert(rgb[0] < 60 && rgb[1] > 120 && rgb[2] > 180,
              "left half not cyan: (%.0f,%.0f,%.0f)", rgb[0], rgb[1], rgb[2]);
    th_mean_rgb(&img, 3 * img.w / 4, img.h / 2, 2, rgb);
    cr_assert(rgb[0] > 180 && rgb[1] < 80 && rgb[2] > 100,
              "right half not magenta: (%.0f,%.0f,%.0f)", rgb[0], rgb[1],
              rgb[2]);
    th_image_release(&img);
}

Test(img, embedded_p3_profile_is_converted_to_srgb)
{
    struct settings s;
    struct task_result r;
    struct th_image img;
    double rgb[3];

    thumb_settings(&s);
    process(&s, "p3_icc.jpg", "p3.jpg", &r);
    cr_assert_eq(r.status, TASK_OK, "%s", r.message);
    decode_out("p3.jpg", &img);
    th_mean_rgb(&img, 32, 32, 4, rgb);
    cr_assert_lt(rgb[0], 25, "red %.0f: profile ignored", rgb[0]);
    cr_assert(th_rgb_near(rgb, 0, 160, 81, 12));
    th_image_release(&img);
}

Test(img, srgb_profile_keeps_colour)
{
    struct settings s;
    struct task_result r;
    struct th_image img;

    thumb_settings(&s);
    process(&s, "srgb_icc.jpg", "srgb.jpg", &r);
    cr_assert_eq(r.status, TASK_OK);
    decode_out("srgb.jpg", &img);
    assert_rgb_at(&img, 32, 32, 179, 100, 61);
    th_image_release(&img);
}

Test(img, alpha_is_flattened_on_the_background)
{
    struct settings s;
    struct task_result r;
    struct th_image img;

    thumb_settings(&s);
    process(&s, "rgba.png", "rgba.jpg", &r);
    cr_assert_eq(r.status, TASK_OK, "%s", r.message);
    decode_out("rgba.jpg", &img);
    assert_rgb_at(&img, 25, 50, 255, 0, 0);
    assert_rgb_at(&img, 75, 50, 255, 255, 255);
    th_image_release(&img);

    s.background[0] = 0;
    s.background[1] = 0;
    s.background[2] = 0;
    process(&s, "gray_alpha.png", "ga.jpg", &r);
    cr_assert_eq(r.status, TASK_OK, "%s", r.message);
    decode_out("ga.jpg", &img);
    assert_rgb_at(&img, 25, 25, 0, 0, 0);
    assert_rgb_at(&img, 75, 25, 0, 0, 0);
    th_image_release(&img);
}

Test(img, grey_palette_and_16bit_become_8bit_rgb)
{
    struct settings s;
    struct task_result r;
    struct th_image img;

    thumb_settings(&s);
    process(&s, "gray.png", "g.jpg", &r);
    cr_assert_eq(r.status, TASK_OK, "%s", r.message);
    decode_out("g.jpg", &img);
    assert_rgb_at(&img, 25, 25, 64, 64, 64);
    assert_rgb_at(&img, 75, 25, 192, 192, 192);
    th_image_release(&img);

    process(&s, "gray.jpg", "gj.jpg", &r);
    cr_assert_eq(r.status, TASK_OK, "%s", r.message);
    decode_out("gj.jpg", &img);
    assert_rgb_at(&img, 50, 50, 50, 50, 50);
    th_image_release(&img);

    process(&s, "palette.png", "p.jpg", &r);
    cr_assert_eq(r.status, TASK_OK, "%s", r.message);
    decode_out("p.jpg", &img);
    assert_quadrants(&img);
    th_image_release(&img);

    process(&s, "rgb16.png", "r16.jpg", &r);
    cr_assert_eq(r.status, TASK_OK, "%s", r.message);
    decode_out("r16.jpg", &img);
    assert_rgb_at(&img, 32, 32, 200, 100, 50);
    th_image_release(&img);
}

/* PNG output of a transparent source: alpha kept, unless --background. */
Test(img, png_output_keeps_alpha)
{
    struct settings s;
    struct task_result r;
    struct th_image img;
    char *out;

    thumb_settings(&s);
    s.format = FORMAT_PNG;
    process(&s, "rgba.png", "rgba.png", &r);
    cr_assert_eq(r.status, TASK_OK, "%s", r.message);
    out = th_path(outdir, "rgba.png");
    cr_assert_eq(th_decode_png(out, &img), 0);
    cr_assert_eq(img.channels, 4);
    cr_expect_eq(img.px[((size_t)50 * img.w + 75) * 4 + 3], 0);
    cr_expect_eq(img.px[((size_t)50 * img.w + 25) * 4 + 3], 255);
    cr_expect_eq(img.px[((size_t)50 * img.w + 25) * 4 + 0], 255);
    th_image_release(&img);
    free(out);
}

Test(img, png_output_is_rgb_png)
{
    struct settings s;
    struct task_result r;
    struct th_image img;
    char *out;

    thumb_settings(&s);
    s.format = FORMAT_PNG;
    s.background_set = 1;           /* --background white: flattened */
    process(&s, "rgba.png", "rgba.png", &r);
    cr_assert_eq(r.status, TASK_OK, "%s", r.message);
    out = th_path(outdir, "rgba.png");
    cr_assert_eq(th_decode_png(out, &img), 0);
    cr_assert_eq(img.channels, 3);
    assert_rgb_at(&img, 75, 50, 255, 255, 255);
    assert_rgb_at(&img, 25, 50, 255, 0, 0);
    th_image_release(&img);
    free(out);
}

Test(img, quality_and_subsampling_follow_settings)
{
    struct settings s;
    struct task_result r;
    struct th_image img;
    char *out;

    thumb_settings(&s);
    s.quality = 75;
    s.subsample = SUBSAMPLE_444;
    process(&s, "rgb.jpg", "q.jpg", &r);
    cr_assert_eq(r.status, TASK_OK);
    out = th_path(outdir, "q.jpg");
    cr_assert_eq(th_jpeg_quality(out), 75);
    decode_out("q.jpg", &img);
    cr_assert_eq(img.jpeg_subsamp, TJSAMP_444);
    th_image_release(&img);
    free(out);
}

Test(img, recompress_keeps_size_and_source_subsampling)
{
    struct settings s;
    struct task_result r;
    struct th_image img;

    settings_init(&s, MODE_RECOMPRESS);
    s.fast_jpeg = 0;
    sh_outdir = outdir;
    process(&s, "rgb.jpg", "r.jpg", &r);
    cr_assert_eq(r.status, TASK_OK, "%s", r.message);
    decode_out("r.jpg", &img);
    cr_assert_eq(img.w, 640);
    cr_assert_eq(img.h, 480);
    cr_assert_eq(img.jpeg_subsamp, TJSAMP_420);
    assert_quadrants(&img);
    th_image_release(&img);

    /* a 4:4:4 source stays 4:4:4 */
    process(&s, "orient1.jpg", "o1.jpg", &r);
    cr_assert_eq(r.status, TASK_OK, "%s", r.message);
    decode_out("o1.jpg", &img);
    cr_assert_eq(img.jpeg_subsamp, TJSAMP_444);
    th_image_release(&img);
}

Test(img, truncated_jpeg_lenient_warns_strict_fails)
{
    struct settings s;
    struct task_result r;

    thumb_settings(&s);
    process(&s, "truncated.jpg", "t.jpg", &r);
    cr_assert_eq(r.status, TASK_OK, "%s", r.message);
    cr_assert_gt(r.nwarnings, 0);
    cr_assert_neq(r.warning[0], '\0');

    s.fail_on = FAIL_ERROR;
    process(&s, "truncated.jpg", "t2.jpg", &r);
    cr_assert_eq(r.status, TASK_FAILED);
    cr_assert_eq(r.err_class, ERR_DECODE);
    cr_assert_neq(r.message[0], '\0');
    cr_assert_not(th_exists(outdir) && count_entries(outdir) > 1,
                  "a failed file left output behind");
}

Test(img, broken_and_non_images_fail_with_a_class)
{
    struct settings s;
    struct task_result r;

    thumb_settings(&s);
    process(&s, "garbage.jpg", "g.jpg", &r);
    cr_assert_eq(r.status, TASK_FAILED);
    cr_assert_eq(r.err_class, ERR_DECODE);

    process(&s, "not_image.jpg", "n.jpg", &r);
    cr_assert_eq(r.status, TASK_FAILED);
    cr_assert_eq(r.err_class, ERR_NOT_AN_IMAGE);
    cr_assert_eq(count_entries(outdir), 0);
}

Test(img, pixel_limit_refuses_before_decoding)
{
    struct settings s;
    struct task_result r;
    /* A PNG signature and an IHDR claiming 100000 x 100000, nothing else. */
    static const unsigned char png[] = {
        0x89, 'P', 'N', 'G', 0x0d, 0x0a, 0x1a, 0x0a,
        0, 0, 0, 13, 'I', 'H', 'D', 'R',
        0x00, 0x01, 0x86, 0xa0, 0x00, 0x01, 0x86, 0xa0,
        8, 2, 0, 0, 0, 0, 0, 0, 0,
    };
    char *in = th_path(outdir, "in/bomb.png");

    th_write_file(in, png, sizeof(png));
    thumb_settings(&s);
    process_path(&s, in, "bomb.jpg", &r);
    cr_assert_eq(r.status, TASK_FAILED);
    cr_assert_eq(r.err_class, ERR_TOO_LARGE, "%s", r.message);
    cr_assert_lt(r.usec, 1000000);

    s.max_pixels = 1000;
    process(&s, "rgb.jpg", "big.jpg", &r);
    cr_assert_eq(r.err_class, ERR_TOO_LARGE);
    free(in);
}

Test(img, fifo_is_never_opened_for_reading)
{
    struct settings s;
    struct task_result r;
    char *fifo = th_path(outdir, "in/pipe.jpg");

    cr_assert_eq(mkfifo(fifo, 0600), 0);
    thumb_settings(&s);
    process_path(&s, fifo, "pipe.jpg", &r);
    cr_assert_eq(r.status, TASK_FAILED);
    cr_assert_eq(r.err_class, ERR_NOT_REGULAR);
    free(fifo);
}

Test(img, planted_symlink_in_output_is_replaced_not_followed)
{
    struct settings s;
    struct task_result r;
    char *victim = th_path(outdir, "victim/precious.txt");
    char *link = th_path(outdir, "rgb.jpg");
    char *data;

    th_write_file(victim, "keep me", 7);
    cr_assert_eq(symlink(victim, link), 0);
    thumb_settings(&s);
    process(&s, "rgb.jpg", "rgb.jpg", &r);
    cr_assert_eq(r.status, TASK_OK, "%s", r.message);
    data = th_read_file(victim, NULL);
    cr_assert_str_eq(data, "keep me");
    {
        struct stat st;
        cr_assert_eq(lstat(link, &st), 0);
        cr_assert(S_ISREG(st.st_mode), "output is still a symlink");
    }
    free(data);
    free(victim);
    free(link);
}

Test(img, symlinked_output_directory_is_refused)
{
    struct settings s;
    struct task_result r;
    char *elsewhere = th_path(outdir, "elsewhere/x");
    char *sub = th_path(outdir, "sub");
    char *target = th_path(outdir, "elsewhere");

    th_mkdirs(elsewhere);
    cr_assert_eq(symlink(target, sub), 0);
    thumb_settings(&s);
    process(&s, "rgb.jpg", "sub/rgb.jpg", &r);
    cr_assert_eq(r.status, TASK_FAILED);
    cr_assert_eq(r.err_class, ERR_OUTPUT_PATH, "%s", r.message);
    cr_assert_eq(count_entries(target), 1, "wrote through the symlink");
    free(elsewhere);
    free(sub);
    free(target);
}

Test(img, nested_output_directories_are_created)
{
    struct settings s;
    struct task_result r;
    struct th_image img;

    thumb_settings(&s);
    process(&s, "tree/a/b/deep.jpg", "a/b/deep.jpg", &r);
    cr_assert_eq(r.status, TASK_OK, "%s", r.message);
    decode_out("a/b/deep.jpg", &img);
    cr_assert_eq(img.w, 32);
    th_image_release(&img);
}

Test(img, recompress_bakes_orientation_and_keeps_exif)
{
    struct settings s;
    struct task_result r;
    struct th_image img;
    struct jpeg_info ji;
    size_t len;
    char *out, *data;

    settings_init(&s, MODE_RECOMPRESS);
    s.fast_jpeg = 0;
    sh_outdir = outdir;
    process(&s, "orient6.jpg", "o6.jpg", &r);
    cr_assert_eq(r.status, TASK_OK, "%s", r.message);
    decode_out("o6.jpg", &img);
    cr_assert_eq(img.w, 120);
    cr_assert_eq(img.h, 80);
    assert_rgb_at(&img, 30, 20, 255, 0, 0);
    th_image_release(&img);
    out = th_path(outdir, "o6.jpg");
    data = th_read_file(out, &len);
    cr_assert_eq(sniff_jpeg_info((unsigned char *)data, len, &ji), 0);
    cr_assert(ji.has_exif, "EXIF dropped by recompress");
    cr_assert_eq(ji.orientation, 1, "pixels rotated but tag still %d",
                 ji.orientation);
    free(data);
    free(out);
}

Test(img, thumbnail_strips_metadata)
{
    struct settings s;
    struct task_result r;
    struct jpeg_info ji;
    size_t len;
    char *out, *data;

    thumb_settings(&s);
    process(&s, "orient6.jpg", "o6.jpg", &r);
    cr_assert_eq(r.status, TASK_OK, "%s", r.message);
    out = th_path(outdir, "o6.jpg");
    data = th_read_file(out, &len);
    cr_assert_eq(sniff_jpeg_info((unsigned char *)data, len, &ji), 0);
    cr_assert_not(ji.has_exif);
    cr_assert_not(ji.has_icc);
    free(data);
    free(out);
}

/* The output root may be spelt with extra slashes and dots: the output is
 * named below it (t->out_rel), whatever the spelling, on every decoder. */
Test(img, output_root_spelt_any_way)
{
    static const char *spell[] = { "//", "/.", "/./" };
    static const char *inputs[] = { "rgb.jpg", "rgb.png", "cmyk.jpg" };
    struct settings s;
    struct task_result r;

    for (size_t i = 0; i < sizeof(spell) / sizeof(spell[0]); i++) {
        for (size_t k = 0; k < sizeof(inputs) / sizeof(inputs[0]); k++) {
            char root[4096], rel[64];
            struct th_image img;
            char *out;

            thumb_settings(&s);
            s.fast_jpeg = 1;
            snprintf(root, sizeof(root), "%s%s", outdir, spell[i]);
            sh_outdir = root;
            snprintf(rel, sizeof(rel), "d%zu/sub/%zu.jpg", i, k);
            process(&s, inputs[k], rel, &r);
            cr_assert_eq(r.status, TASK_OK, "root '%s', %s: %s", root,
                         inputs[k], r.message);
            out = th_path(outdir, rel);
            cr_assert_eq(th_decode_jpeg(out, &img), 0, "'%s'", out);
            cr_expect_eq(img.w, r.out_width);
            th_image_release(&img);
            free(out);
        }
    }
}
