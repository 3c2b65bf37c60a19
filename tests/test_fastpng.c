/*
 * test_fastpng.c - the direct libpng thumbnail path: eligibility, agreement
 * with the libvips path on every test PNG, geometry for every fit mode,
 * alpha flattening, and damaged input under each fail_on.
 *
 * Comparisons with libvips go through img_process() with fast_jpeg on and
 * off; outputs are decoded with TurboJPEG (helpers.h).
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "decode.h"
#include "geom.h"
#include "helpers.h"
#include "img.h"
#include "settings.h"
#include "stage_helpers.h"
#include "task.h"

static void
result_init(struct task_result *res)
{
    memset(res, 0, sizeof(*res));
}

static void
run_img(const struct settings *s, const char *in, const char *out,
        struct task_result *res)
{
    struct task t;

    char *path = th_path(sh_outdir, out);

    memset(&t, 0, sizeof(t));
    sh_task(&t, s, in, path);
    result_init(res);
    sh_process(s, &t, res);
    free(path);
}

static void
run_fast(const struct settings *s, const char *in, const char *out,
         struct task_result *res)
{
    char *path = th_path(sh_outdir, out);

    sh_run_decoder(s, in, IMGF_PNG, NULL, path, DECODER_PNG, res);
    free(path);
}

static int
eligible_file(const struct settings *s, const char *path)
{
    size_t len;
    char *buf = th_read_file(path, &len);
    int rc = decode_png_eligible(s, (const unsigned char *)buf, len);

    free(buf);
    return rc;
}

/* Both paths on testdata/@name; returns the fast output decoded. */
static void
compare_paths(const char *name, struct settings *s, const char *dir,
              struct th_image *fast)
{
    char *in = th_testdata(name);
    char *fo = th_path(dir, "fast.jpg"), *vo = th_path(dir, "vips.jpg");
    struct task_result rf, rv;
    struct th_image vi;

    cr_assert(eligible_file(s, in), "%s not eligible", name);
    s->fast_jpeg = 1;
    run_img(s, in, "fast.jpg", &rf);
    s->fast_jpeg = 0;
    run_img(s, in, "vips.jpg", &rv);
    s->fast_jpeg = 1;
    cr_assert_eq(rf.status, TASK_OK, "%s: %s", name, rf.message);
    cr_assert_eq(rv.status, TASK_OK, "%s: %s", name, rv.message);
    cr_assert_eq(rf.in_width, rv.in_width);
    cr_assert_eq(rf.in_height, rv.in_height);
    cr_assert_eq(rf.out_width, rv.out_width, "%s", name);
    cr_assert_eq(rf.out_height, rv.out_height, "%s", name);
    cr_assert(rf.out_bytes > 0);
    cr_assert_eq(th_decode_jpeg(fo, fast), 0);
    cr_assert_eq(th_decode_jpeg(vo, &vi), 0);
    cr_assert_eq(fast->w, rf.out_width);
    cr_assert_eq(fast->h, rf.out_height);
    cr_assert_eq(vi.w, fast->w);
    cr_assert_eq(vi.h, fast->h);
    cr_assert_geq(th_psnr(fast, &vi), 30.0, "%s: PSNR %.1f", name,
                  th_psnr(fast, &vi));
    th_image_release(&vi);
    free(in);
    free(fo);
    free(vo);
}

Test(fastpng, every_testdata_png_matches_libvips)
{
    static const char *const names[] = {
        "rgb.png", "rgba.png", "gray.png", "gray_alpha.png", "palette.png",
        "rgb16.png", "noext_png",
    };
    char *dir = th_mkdtemp();
    struct settings s;
    size_t i;

    sh_thumb_settings(&s, dir);
    for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        struct th_image img;

        compare_paths(names[i], &s, dir, &img);
        th_image_release(&img);
    }
    /* Also unscaled (upsampling is off by default: a larger box). */
    s.width = s.height = 2000;
    for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        struct th_image img;

        compare_paths(names[i], &s, dir, &img);
        th_image_release(&img);
    }
    th_rmrf(dir);
    free(dir);
}

Test(fastpng, colours)
{
    char *dir = th_mkdtemp();
    struct settings s;
    struct th_image img;
    double c[3];

    sh_thumb_settings(&s, dir);
    compare_paths("rgb.png", &s, dir, &img);
    th_mean_rgb(&img, img.w / 4, img.h / 4, 2, c);
    cr_expect(th_rgb_near(c, 255, 0, 0, 6));
    th_mean_rgb(&img, 3 * img.w / 4, img.h / 4, 2, c);
    cr_expect(th_rgb_near(c, 0, 255, 0, 6));
    th_mean_rgb(&img, img.w / 4, 3 * img.h / 4, 2, c);
    cr_expect(th_rgb_near(c, 0, 0, 255, 6));
    th_mean_rgb(&img, 3 * img.w / 4, 3 * img.h / 4, 2, c);
    cr_expect(th_rgb_near(c, 255, 255, 255, 6));
    th_image_release(&img);

    compare_paths("rgba.png", &s, dir, &img);
    th_mean_rgb(&img, img.w / 4, img.h / 2, 2, c);
    cr_expect(th_rgb_near(c, 255, 0, 0, 6));
    th_mean_rgb(&img, 3 * img.w / 4, img.h / 2, 2, c);
    cr_expect(th_rgb_near(c, 255, 255, 255, 6));
    th_image_release(&img);

    s.background[0] = s.background[1] = s.background[2] = 0;
    compare_paths("rgba.png", &s, dir, &img);
    th_mean_rgb(&img, 3 * img.w / 4, img.h / 2, 2, c);
    cr_expect(th_rgb_near(c, 0, 0, 0, 6));
    th_image_release(&img);

    s.background[0] = s.background[1] = s.background[2] = 255;
    compare_paths("gray_alpha.png", &s, dir, &img);
    th_mean_rgb(&img, img.w / 4, img.h / 2, 2, c);
    cr_expect(th_rgb_near(c, 0, 0, 0, 6));
    th_mean_rgb(&img, 3 * img.w / 4, img.h / 2, 2, c);
    cr_expect(th_rgb_near(c, 255, 255, 255, 6));
    th_image_release(&img);

    compare_paths("rgb16.png", &s, dir, &img);
    th_mean_rgb(&img, img.w / 2, img.h / 2, 2, c);
    cr_expect(th_rgb_near(c, 200, 100, 50, 3));
    th_image_release(&img);
    th_rmrf(dir);
    free(dir);
}

Test(fastpng, fit_modes_follow_geom_fit)
{
    struct geom_box box;
    static const int boxes[][2] = {{300, 300}, {50, 80}, {80, 17}, {0, 33},
                                   {41, 0}, {1, 1}};
    char *dir = th_mkdtemp();
    char *in = th_testdata("rgb.png");
    struct settings s;
    int f;
    size_t b;

    sh_thumb_settings(&s, dir);
    for (f = FIT_INSIDE; f <= FIT_FILL; f++) {
        for (b = 0; b < sizeof(boxes) / sizeof(boxes[0]); b++) {
            struct task_result res;
            int ow, oh;

            s.fit = (enum fit)f;
            s.width = boxes[b][0];
            s.height = boxes[b][1];
            box = geom_box_of(&s);
            geom_fit(&box, 160, 120, &ow, &oh);
            if (!eligible_file(&s, in))
                continue;
            run_fast(&s, in, "fit.jpg", &res);
            cr_assert_eq(res.status, TASK_OK, "%s", res.message);
            cr_expect_eq(res.out_width, ow, "fit %d box %zu", f, b);
            cr_expect_eq(res.out_height, oh, "fit %d box %zu", f, b);
            s.fast_jpeg = 0;
            {
                struct task_result rv;

                run_img(&s, in, "fitv.jpg", &rv);
                cr_expect_eq(rv.out_width, ow, "vips fit %d box %zu", f, b);
                cr_expect_eq(rv.out_height, oh, "vips fit %d box %zu", f,
                             b);
            }
            s.fast_jpeg = 1;
        }
    }
    free(in);
    th_rmrf(dir);
    free(dir);
}

/* testdata/rgb.png's bytes, and where its IDAT chunk starts. */
static unsigned char *
rgb_png(size_t *len, size_t *idat)
{
    char *in = th_testdata("rgb.png");
    unsigned char *buf = (unsigned char *)th_read_file(in, len);
    size_t i;

    free(in);
    for (i = 8; i + 8 <= *len; i++)
        if (memcmp(buf + i, "IDAT", 4) == 0)
            break;
    cr_assert(i + 8 <= *len);
    *idat = i - 4;
    return buf;
}

Test(fastpng, eligibility)
{
    struct settings s;
    size_t len, idat;
    unsigned char *buf = rgb_png(&len, &idat);
    unsigned char *x = malloc(len + 64);
    /* a gAMA chunk (CRC not checked by eligibility) */
    unsigned char gama[16] = {0, 0, 0, 4, 'g', 'A', 'M', 'A', 0, 0, 0xb1,
                              0x8f, 0, 0, 0, 0};

    sh_thumb_settings(&s, "/nonexistent");
    cr_assert(decode_png_eligible(&s, buf, len));
    cr_expect(!decode_png_eligible(&s, buf, 30));
    s.format = FORMAT_PNG;
    cr_expect(!decode_png_eligible(&s, buf, len));
    s.format = FORMAT_JPEG;
    s.strip = 0;
    cr_expect(!decode_png_eligible(&s, buf, len));
    s.strip = 1;

    /* Adam7 */
    memcpy(x, buf, len);
    x[8 + 8 + 12] = 1;
    cr_expect(!decode_png_eligible(&s, x, len));

    /* a chunk inserted before IDAT: gAMA 1/2.2 is fine, others not */
    memcpy(x, buf, idat);
    memcpy(x + idat, gama, 16);
    memcpy(x + idat + 16, buf + idat, len - idat);
    cr_expect(decode_png_eligible(&s, x, len + 16));
    x[idat + 10] = 0x80;            /* gamma 1/3 or so */
    cr_expect(!decode_png_eligible(&s, x, len + 16));
    x[idat + 10] = 0xb1;
    memcpy(x + idat + 4, "iCCP", 4);
    cr_expect(decode_png_eligible(&s, x, len + 16));
    memcpy(x + idat + 4, "cHRM", 4);
    cr_expect(!decode_png_eligible(&s, x, len + 16));
    memcpy(x + idat + 4, "eXIf", 4);
    cr_expect(!decode_png_eligible(&s, x, len + 16));
    memcpy(x + idat + 4, "sRGB", 4);
    cr_expect(decode_png_eligible(&s, x, len + 16));
    memcpy(x + idat + 4, "ABCD", 4);  /* unknown critical */
    cr_expect(!decode_png_eligible(&s, x, len + 16));
    /* chunk length past the buffer */
    memcpy(x + idat + 4, "tEXt", 4);
    x[idat] = 0x7f;
    cr_expect(!decode_png_eligible(&s, x, len + 16));
    free(x);
    free(buf);
}

Test(fastpng, vips_made_interlaced_and_icc_not_eligible)
{
    char *dir = th_mkdtemp();
    char *in = th_testdata("rgb.png");
    char *il = th_path(dir, "il.png"), *icc = th_path(dir, "icc.png");
    char cmd[4096];
    struct settings s;
    struct task_result res;

    sh_thumb_settings(&s, dir);
    snprintf(cmd, sizeof(cmd), "vips copy '%s' '%s[interlace]'", in, il);
    if (system(cmd) == 0) {
        cr_expect(!eligible_file(&s, il));
        run_img(&s, il, "il.jpg", &res);
        cr_expect_eq(res.status, TASK_OK);
    }
    snprintf(cmd, sizeof(cmd), "vips icc_export '%s' '%s' --depth 8 "
             "--output-profile srgb", in, icc);
    if (system(cmd) == 0)
        cr_expect(eligible_file(&s, icc));
    free(in);
    free(il);
    free(icc);
    th_rmrf(dir);
    free(dir);
}

/* rgb.png cut inside its IDAT, and one whose IDAT data is garbage. */
Test(fastpng, damaged_follows_fail_on_and_never_passes_for_no_pixels)
{
    char *dir = th_mkdtemp();
    char *cut = th_path(dir, "cut.png"), *junk = th_path(dir, "junk.png");
    size_t len, idat, n;
    unsigned char *buf = rgb_png(&len, &idat);
    const char *files[2];
    struct settings s;
    int f, i;

    n = (size_t)buf[idat] << 24 | buf[idat + 1] << 16 | buf[idat + 2] << 8 |
        buf[idat + 3];
    th_write_file(cut, buf, idat + 8 + n / 2);
    memset(buf + idat + 8, 0xaa, n);
    th_write_file(junk, buf, len);
    files[0] = cut;
    files[1] = junk;
    sh_thumb_settings(&s, dir);
    for (i = 0; i < 2; i++) {
        cr_assert(eligible_file(&s, files[i]));
        for (f = FAIL_NONE; f <= FAIL_WARNING; f++) {
            struct task_result rf, rv;

            s.fail_on = (enum fail_on)f;
            run_fast(&s, files[i], "d.jpg", &rf);
            s.fast_jpeg = 0;
            run_img(&s, files[i], "dv.jpg", &rv);
            s.fast_jpeg = 1;
            /* Lenient, neither file has a decodable row (the cut falls in
             * the first rows' zlib stream, the junk is no zlib at all): no
             * pixels, so truncated, not a grey "ok".  libvips counts rows
             * for the cut file too; for the junk one it cannot. */
            if (f != FAIL_NONE || i == 0)
                cr_expect_eq(rf.status, rv.status, "file %d fail_on %d: %s",
                             i, f, rf.message);
            if (f == FAIL_NONE) {
                cr_expect_eq(rf.status, TASK_FAILED, "%s", rf.message);
                cr_expect_eq(rf.err_class, ERR_TRUNCATED, "%s", rf.message);
            } else {
                cr_expect_eq(rf.status, TASK_FAILED);
                cr_expect_eq(rf.err_class, ERR_DECODE, "%s", rf.message);
            }
        }
    }
    free(buf);
    free(cut);
    free(junk);
    th_rmrf(dir);
    free(dir);
}
