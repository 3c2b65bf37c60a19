/*
 * test_resize.c - the resize stage on its own: the geometry it plans
 * (every fit, under orientation), exact output dimensions, and flat
 * colours kept exactly, whether rows are streamed or the image is whole.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "orient.h"
#include "pixels.h"
#include "resize.h"
#include "settings.h"

static void
box(struct geom_box *b, int w, int h, enum fit f)
{
    struct settings s;

    settings_init(&s, MODE_THUMBNAIL);
    s.width = w;
    s.height = h;
    s.fit = f;
    *b = geom_box_of(&s);
}

static void
fill(struct pixels *px, const unsigned char *colour)
{
    for (int y = 0; y < px->height; y++)
        for (int x = 0; x < px->width; x++)
            memcpy(pixels_row(px, y) + (size_t)x * px->bands, colour,
                   (size_t)px->bands);
}

Test(resize, plan_inside_upright)
{
    struct geom_box s;
    struct resample_span x, y;

    box(&s, 300, 300, FIT_INSIDE);
    resize_plan(&s, 640, 480, 1, &x, &y);
    cr_expect_eq(x.in, 640);
    cr_expect_eq(y.in, 480);
    cr_expect_eq(x.out, 300);
    cr_expect_eq(y.out, 225);
    cr_expect_eq(x.scaled, 300);
    cr_expect_eq(x.offset, 0);
}

Test(resize, plan_maps_cover_window_to_stored_axes)
{
    struct geom_box s;
    struct resample_span x, y;

    /* Upright 640x480 covering 100x100: scaled 133x100, window at x 16. */
    box(&s, 100, 100, FIT_COVER);
    resize_plan(&s, 640, 480, 1, &x, &y);
    cr_expect_eq(x.scaled, 133);
    cr_expect_eq(x.out, 100);
    cr_expect_eq(x.offset, 16);
    cr_expect_eq(y.out, 100);

    /* Orientation 6: stored 480x640; upright x runs along stored y,
     * backwards. */
    resize_plan(&s, 640, 480, 6, &x, &y);
    cr_expect_eq(x.in, 480);
    cr_expect_eq(y.in, 640);
    cr_expect_eq(x.scaled, 100);
    cr_expect_eq(y.scaled, 133);
    cr_expect_eq(y.offset, 133 - 100 - 16);

    /* Orientation 2 mirrors x only. */
    resize_plan(&s, 640, 480, 2, &x, &y);
    cr_expect_eq(x.offset, 133 - 100 - 16);
    cr_expect_eq(y.offset, 0);
}

Test(resize, orient_upright_size_swaps_for_5_to_8)
{
    for (int o = 0; o <= 9; o++) {
        int w, h;

        orient_upright_size(o, 30, 20, &w, &h);
        cr_expect_eq(w, o >= 5 && o <= 8 ? 20 : 30, "o %d", o);
        cr_expect_eq(h, o >= 5 && o <= 8 ? 30 : 20, "o %d", o);
    }
}

Test(resize, exact_dimensions_and_flat_colour_kept)
{
    static const int sizes[][4] = {
        { 640, 480, 300, 225 }, { 100, 100, 1, 1 }, { 7, 5, 300, 200 },
        { 1000, 3, 10, 3 }, { 333, 777, 333, 777 },
    };
    const unsigned char colour[3] = { 12, 200, 99 };

    for (size_t n = 0; n < sizeof(sizes) / sizeof(sizes[0]); n++) {
        const int *z = sizes[n];
        struct resample_span x = { z[0], z[2], 0, z[2] };
        struct resample_span y = { z[1], z[3], 0, z[3] };
        struct pixels in, out;

        pixels_init(&in);
        pixels_init(&out);
        cr_assert_eq(pixels_alloc(&in, z[0], z[1], 3), 0);
        fill(&in, colour);
        cr_assert_eq(resize_pixels(&in, &x, &y, &out), 0, "case %zu", n);
        cr_expect_eq(out.width, z[2]);
        cr_expect_eq(out.height, z[3]);
        cr_expect_eq(out.bands, 3);
        for (int j = 0; j < out.height; j++)
            for (int i = 0; i < out.width; i++)
                cr_assert_arr_eq(pixels_row(&out, j) + 3 * i, colour, 3,
                                 "case %zu at (%d,%d)", n, i, j);
        pixels_release(&in);
        pixels_release(&out);
    }
}

Test(resize, streamed_rows_equal_whole_image)
{
    struct resample_span x = { 97, 40, 0, 40 }, y = { 61, 25, 0, 25 };
    struct pixels in, whole, streamed;
    struct resize rz;

    pixels_init(&in);
    pixels_init(&whole);
    pixels_init(&streamed);
    cr_assert_eq(pixels_alloc(&in, 97, 61, 1), 0);
    for (int j = 0; j < 61; j++)
        for (int i = 0; i < 97; i++)
            pixels_row(&in, j)[i] = (unsigned char)((i * 7 + j * 13) & 255);
    cr_assert_eq(resize_pixels(&in, &x, &y, &whole), 0);
    cr_assert_eq(resize_begin(&rz, 1, &x, &y, &streamed), 0);
    for (int j = 0; j < 61; j++) {
        memcpy(resize_row(&rz), pixels_row(&in, j), 97);
        resize_push(&rz);
    }
    resize_end(&rz);
    cr_expect_eq(memcmp(whole.data, streamed.data, 40 * 25), 0);
    pixels_release(&in);
    pixels_release(&whole);
    pixels_release(&streamed);
}

Test(resize, inconsistent_spans_fail)
{
    struct resample_span x = { 10, 10, 5, 10 }, y = { 10, 10, 0, 10 };
    struct pixels in, out;

    pixels_init(&in);
    pixels_init(&out);
    cr_assert_eq(pixels_alloc(&in, 10, 10, 3), 0);
    cr_expect_eq(resize_pixels(&in, &x, &y, &out), -1, "window past the "
                 "end");
    x.offset = 0;
    x.in = 11;
    cr_expect_eq(resize_pixels(&in, &x, &y, &out), -1, "span not the "
                 "image's");
    cr_expect_null(out.data);
    pixels_release(&in);
}
