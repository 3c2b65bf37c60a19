/*
 * test_colour.c - the colour stage on its own: alpha flattened before the
 * resize, grey expanded after it, CMYK converted before it and ICC
 * profiles after it (test_icc.c has the whole files), and libvips' lazy
 * images (CMYK, ICC, grey, alpha) brought to 3-band 8-bit sRGB with the
 * expected patch values (testdata/README.md).
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include <vips/vips.h>

#include "colour.h"
#include "decode.h"
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

TestSuite(colour, .init = setup, .timeout = 60);

Test(colour, flatten_row_blends_onto_the_background)
{
    const unsigned char in[] = {
        255, 0, 0, 255,     /* opaque red */
        0, 0, 255, 0,       /* transparent blue */
        0, 255, 0, 128,     /* half green */
    };
    const uint8_t white[3] = { 255, 255, 255 };
    const uint8_t grey[3] = { 100, 100, 100 };
    unsigned char out[9];

    colour_flatten_row(in, 3, white, out);
    cr_expect_arr_eq(out, ((unsigned char[]){ 255, 0, 0, 255, 255, 255,
                                              127, 255, 127 }), 9);
    colour_flatten_row(in, 3, grey, out);
    cr_expect_arr_eq(out, ((unsigned char[]){ 255, 0, 0, 100, 100, 100,
                                              50, 178, 50 }), 9);
}

Test(colour, rgb_row_expands_grey_and_passes_rgb_through)
{
    const unsigned char grey[] = { 0, 64, 255 };
    const unsigned char rgb[] = { 1, 2, 3, 4, 5, 6 };
    unsigned char buf[9];

    cr_expect_eq(colour_rgb_row(rgb, 3, 2, buf), rgb, "RGB is not copied");
    cr_expect_eq(colour_rgb_row(grey, 1, 3, buf), buf);
    cr_expect_arr_eq(buf, ((unsigned char[]){ 0, 0, 0, 64, 64, 64, 255,
                                              255, 255 }), 9);
}

/* Rows through colour_row_in/colour_row_done reach the resizer flattened. */
Test(colour, rows_reach_the_resizer_flattened)
{
    struct colour_params p;
    struct settings s;
    struct resample_span x = { 4, 4, 0, 4 }, y = { 2, 2, 0, 2 };
    struct colour c;
    struct resize rz;
    struct pixels out;

    settings_init(&s, MODE_THUMBNAIL);
    s.background[0] = 10;
    s.background[1] = 20;
    s.background[2] = 30;
    pixels_init(&out);
    colour_params_of(&s, &p);
    cr_assert_eq(colour_begin(&c, &p, 4, 4), 0);
    cr_expect_eq(c.out_bands, 3);
    cr_assert_eq(resize_begin(&rz, c.out_bands, &x, &y, &out), 0);
    for (int j = 0; j < 2; j++) {
        unsigned char *row = colour_row_in(&c, &rz);

        for (int i = 0; i < 4; i++) {
            row[4 * i] = 200;
            row[4 * i + 1] = 200;
            row[4 * i + 2] = 200;
            row[4 * i + 3] = j == 0 ? 255 : 0;
        }
        colour_row_done(&c, &rz);
    }
    resize_end(&rz);
    colour_end(&c);
    cr_assert_eq(out.bands, 3);
    /* Identity spans: the flattened rows themselves. */
    cr_expect_arr_eq(pixels_row(&out, 0), ((unsigned char[]){ 200, 200,
                                                              200 }), 3);
    cr_expect_arr_eq(pixels_row(&out, 1), ((unsigned char[]){ 10, 20, 30 }),
                     3);
    pixels_release(&out);

    cr_expect_eq(colour_begin(&c, &p, 2, 4), -1, "2 bands are not a row "
                 "format of the direct decoders");
    colour_end(&c);
}

/* @n rows of CMYK @cmyk (one pixel each, 4 wide) through a colour stage
 * begun for @d into identity spans; the RGB of the first pixel. */
static void
cmyk_through(const struct decoded *d, const unsigned char cmyk[4],
             unsigned char rgb[3], char colour[48])
{
    struct colour_params p;
    struct settings s;
    struct resample_span x = { 4, 4, 0, 4 }, y = { 1, 1, 0, 1 };
    struct colour c;
    struct resize rz;
    struct pixels out;
    struct task_result res;
    unsigned char *row;

    settings_init(&s, MODE_THUMBNAIL);
    memset(&res, 0, sizeof(res));
    pixels_init(&out);
    colour_params_of(&s, &p);
    cr_assert_eq(colour_begin_decoded(&c, &p, d, 4, &res), 0);
    cr_expect_eq(c.out_bands, 3, "CMYK reaches the resizer as RGB");
    cr_assert_eq(resize_begin(&rz, c.out_bands, &x, &y, &out), 0);
    row = colour_row_in(&c, &rz);
    for (int i = 0; i < 4; i++)
        memcpy(row + 4 * i, cmyk, 4);
    colour_row_done(&c, &rz);
    resize_end(&rz);
    cr_assert_eq(colour_after_resize(&c, &out, &res), 0);
    colour_end(&c);
    memcpy(rgb, pixels_row(&out, 0), 3);
    memcpy(colour, res.colour, 48);
    pixels_release(&out);
}

Test(colour, cmyk_rows_become_rgb_before_the_resize)
{
    struct decoded d;
    unsigned char rgb[3];
    char colour[48];

    decoded_init(&d);
    d.bands = 4;
    d.cmyk = 1;
    /* No ink is white, all ink is (near) black, plain or inverted. */
    cmyk_through(&d, (const unsigned char[]){ 0, 0, 0, 0 }, rgb, colour);
    cr_expect_str_eq(colour, "cmyk:generic");
    cr_expect(rgb[0] > 245 && rgb[1] > 245 && rgb[2] > 245, "%d %d %d",
              rgb[0], rgb[1], rgb[2]);
    cmyk_through(&d, (const unsigned char[]){ 255, 255, 255, 255 }, rgb,
                 colour);
    cr_expect(rgb[0] < 60 && rgb[1] < 60 && rgb[2] < 60, "%d %d %d",
              rgb[0], rgb[1], rgb[2]);
    d.cmyk_inverted = 1;
    cmyk_through(&d, (const unsigned char[]){ 255, 255, 255, 255 }, rgb,
                 colour);
    cr_expect(rgb[0] > 245 && rgb[1] > 245 && rgb[2] > 245,
              "inverted no ink: %d %d %d", rgb[0], rgb[1], rgb[2]);
    /* Full cyan: no red, plenty of green and blue. */
    cmyk_through(&d, (const unsigned char[]){ 0, 255, 255, 255 }, rgb,
                 colour);
    cr_expect(rgb[0] < 40 && rgb[1] > 100 && rgb[2] > 180,
              "inverted cyan: %d %d %d", rgb[0], rgb[1], rgb[2]);
}

Test(colour, grey_with_a_grey_profile_becomes_rgb_after_the_resize)
{
    struct colour_params p;
    struct th_icc grey = th_icc_linear_grey();
    struct settings s;
    struct decoded d;
    struct colour c;
    struct pixels px;
    struct task_result res;

    decoded_init(&d);
    d.bands = 1;
    d.icc = grey.data;
    d.icc_len = grey.len;
    settings_init(&s, MODE_THUMBNAIL);
    memset(&res, 0, sizeof(res));
    colour_params_of(&s, &p);
    cr_assert_eq(colour_begin_decoded(&c, &p, &d, 2, &res), 0);
    cr_expect_str_eq(res.colour, "icc:relative");
    cr_expect_eq(c.out_bands, 1, "grey is resized as grey");
    pixels_init(&px);
    cr_assert_eq(pixels_alloc(&px, 2, 1, 1), 0);
    px.data[0] = 0;
    px.data[1] = 128;               /* linear 0.5 is sRGB 188 */
    cr_assert_eq(colour_after_resize(&c, &px, &res), 0);
    colour_end(&c);
    cr_assert_eq(px.bands, 3);
    cr_expect_arr_eq(px.data, ((unsigned char[]){ 0, 0, 0 }), 3);
    cr_expect(abs(px.data[3] - 188) <= 1 && px.data[3] == px.data[4] &&
              px.data[4] == px.data[5], "%d %d %d", px.data[3], px.data[4],
              px.data[5]);
    pixels_release(&px);
    decoded_release(&d);
}

/* A testdata file opened and decoded by libvips, thumbnail settings. */
struct vips_case {
    struct settings s;
    struct task_result res;
    struct input in;
    struct decoded d;
    struct task t;
    char *path;
};

/* Open and decode testdata @name into @c; vips_case_close() ends it. */
static void
vips_case_open(struct vips_case *c, const char *name)
{
    settings_init(&c->s, MODE_THUMBNAIL);
    memset(&c->t, 0, sizeof(c->t));
    c->path = th_testdata(name);
    c->t.path = c->path;
    sh_result_init(&c->res);
    cr_assert_eq(input_open(c->s.max_pixels, &c->t, &c->in, &c->res), 0,
                 "%s",
                 c->res.message);
    decoded_init(&c->d);
    cr_assert_eq(sh_decode_vips(&c->s, &c->in, DECODE_FIT, &c->d, &c->res),
                 0, "%s", c->res.message);
}

static void
vips_case_close(struct vips_case *c)
{
    decoded_release(&c->d);
    input_close(&c->in);
    free(c->path);
}

/* testdata @name through the libvips decoder and colour_vips_srgb8(),
 * into memory. */
static unsigned char *
vips_srgb8(const char *name, int *w, int *h)
{
    struct colour_params p;
    struct vips_case c;
    VipsImage *img;
    unsigned char *mem;
    size_t len;

    vips_case_open(&c, name);
    colour_params_of(&c.s, &p);
    img = colour_vips_srgb8(&p, c.d.ctx, c.d.image);
    cr_assert(img, "%s: %s", name, vips_error_buffer());
    cr_assert_eq(img->Bands, 3, "%s: %d bands", name, img->Bands);
    cr_assert_eq(img->BandFmt, VIPS_FORMAT_UCHAR);
    *w = img->Xsize;
    *h = img->Ysize;
    mem = vips_image_write_to_memory(img, &len);
    cr_assert(mem);
    vips_case_close(&c);
    return mem;
}

static const unsigned char *
at(const unsigned char *mem, int w, int x, int y)
{
    return mem + ((size_t)y * w + x) * 3;
}

Test(colour, cmyk_becomes_srgb)
{
    int w, h;
    unsigned char *mem = vips_srgb8("cmyk.jpg", &w, &h);
    const unsigned char *l = at(mem, w, 50, 50), *r = at(mem, w, 150, 50);

    cr_assert_eq(w, 200);
    cr_expect(l[0] < 60 && l[1] > 120 && l[2] > 180, "cyan (%d,%d,%d)", l[0],
              l[1], l[2]);
    cr_expect(r[0] > 180 && r[1] < 80 && r[2] > 100, "magenta (%d,%d,%d)",
              r[0], r[1], r[2]);
    g_free(mem);
}

Test(colour, icc_profile_is_applied)
{
    int w, h;
    unsigned char *mem = vips_srgb8("p3_icc.jpg", &w, &h);
    const unsigned char *p = at(mem, w, 32, 32);

    cr_expect(p[0] < 25 && abs(p[1] - 160) < 8 && abs(p[2] - 81) < 8,
              "P3 (0,160,80) as sRGB: (%d,%d,%d)", p[0], p[1], p[2]);
    g_free(mem);
}

Test(colour, grey_becomes_three_equal_bands)
{
    int w, h;
    unsigned char *mem = vips_srgb8("gray.png", &w, &h);
    const unsigned char *l = at(mem, w, 25, 25), *r = at(mem, w, 75, 25);

    cr_expect(l[0] == 64 && l[1] == 64 && l[2] == 64, "(%d,%d,%d)", l[0],
              l[1], l[2]);
    cr_expect(r[0] == 192 && r[1] == 192 && r[2] == 192);
    g_free(mem);
}

Test(colour, alpha_is_flattened_on_white)
{
    int w, h;
    unsigned char *mem = vips_srgb8("gray_alpha.png", &w, &h);
    const unsigned char *l = at(mem, w, 25, 25), *r = at(mem, w, 75, 25);

    cr_expect(l[0] == 0 && l[1] == 0 && l[2] == 0, "(%d,%d,%d)", l[0], l[1],
              l[2]);
    cr_expect(r[0] == 255 && r[1] == 255 && r[2] == 255, "(%d,%d,%d)", r[0],
              r[1], r[2]);
    g_free(mem);
}

/* The libvips decoder leaves colour to the colour stage: CMYK comes out
 * of it as CMYK, and the stage says what it did as for rows. */
Test(colour, libvips_decoder_hands_cmyk_to_the_colour_stage)
{
    struct colour_params p;
    struct vips_case c;
    VipsImage *img;

    vips_case_open(&c, "cmyk.jpg");
    cr_expect_eq(c.d.image->Type, VIPS_INTERPRETATION_CMYK);
    cr_expect_eq(c.d.image->Bands, 4);
    colour_params_of(&c.s, &p);
    img = colour_vips_srgb8_res(&p, c.d.ctx, c.d.image, &c.res);
    cr_assert(img);
    cr_expect_eq(img->Bands, 3);
    cr_expect_str_eq(c.res.colour, "cmyk:generic");
    vips_case_close(&c);
}
