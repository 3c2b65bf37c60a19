/*
 * test_svg.c - SVG is rendered at 96 pixels per inch (CSS pixels), as
 * browsers and ImageMagick render it: an A4 page given in points
 * (595.28pt x 841.89pt) is 794x1123, not the 595x842 of 72 dpi;
 * --density N renders at another resolution.  Outputs are read back with
 * TurboJPEG (helpers.h); the size reader svgsize.h is checked alone.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"
#include "svgsize.h"

TestSuite(svg, .init = th_dir_setup, .fini = th_dir_teardown, .timeout = 60);

static const char a4[] =
    "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"595.28pt\" "
    "height=\"841.89pt\" viewBox=\"0 0 595.28 841.89\">"
    "<rect width=\"595.28\" height=\"841.89\" fill=\"#c00000\"/></svg>\n";

/* recompress the A4 page with @density (NULL: the default); the size of
 * the JPEG written. */
static void
render(const char *density, int *w, int *h)
{
    char *src = th_path(th_dir, "a4.svg");
    char *out = th_path(th_dir, density ? density : "default");
    char *got = th_path(out, "a4.jpg");
    const char *args[8];
    int n = 0;
    struct th_image img;

    th_write_file(src, a4, sizeof(a4) - 1);
    args[n++] = "recompress";
    if (density) {
        args[n++] = "--density";
        args[n++] = density;
    }
    args[n++] = src;
    args[n++] = "-o";
    args[n++] = out;
    args[n] = NULL;
    th_run_expect(args, 0);
    cr_assert_eq(th_decode_jpeg(got, &img), 0, "no JPEG at '%s'", got);
    *w = img.w;
    *h = img.h;
    /* the page is the rectangle's colour, not a blank render */
    {
        size_t c = ((size_t)(img.h / 2) * img.w + img.w / 2) * 3;
        cr_expect_gt(img.px[c], 150);
        cr_expect_lt(img.px[c + 1], 60);
    }
    th_image_release(&img);
    free(got);
    free(out);
    free(src);
}

Test(svg, a4_in_points_renders_at_css_pixels)
{
    int w, h;

    render(NULL, &w, &h);
    cr_expect_eq(w, 794, "width %d, want 794 (96 dpi)", w);
    cr_expect_eq(h, 1123, "height %d, want 1123 (96 dpi)", h);
}

Test(svg, density_picks_another_resolution)
{
    int w, h;

    render("72", &w, &h);
    cr_expect_eq(w, 595);
    cr_expect_eq(h, 842);
    render("192", &w, &h);
    cr_expect_eq(w, 1587, "width %d", w);       /* 1587.4 */
    cr_expect_eq(h, 2245, "height %d", h);      /* 2245.0 */
}

Test(svg, density_out_of_range_is_a_usage_error)
{
    const char *args[] = {"recompress", "--density", "0", "x.svg", "-o",
                          th_dir, NULL};
    struct th_run r;

    th_run(&r, args);
    cr_expect_eq(r.status, 2, "exit %d: %s", r.status, r.err);
    th_run_release(&r);
}

Test(svg, declared_sizes_in_css_pixels)
{
    static const char in_mm[] = "<?xml version=\"1.0\"?>\n<!-- <svg -->\n"
        "<svg\n xmlns=\"http://www.w3.org/2000/svg\" width='210mm' "
        "height=\"1in\">";
    static const char in_px[] = "<svg width=\"800\" height=\"400px\">";
    static const char rel[] = "<svg width=\"100%\" height=\"400\">";
    static const char none[] = "<svg viewBox=\"0 0 10 10\">";
    double w = 0, h = 0;

    cr_assert_eq(svgsize_css(in_mm, sizeof(in_mm) - 1, &w, &h), 0);
    cr_expect_float_eq(w, 210 * 96 / 25.4, 1e-6);
    cr_expect_float_eq(h, 96, 1e-6);
    cr_assert_eq(svgsize_css(in_px, sizeof(in_px) - 1, &w, &h), 0);
    cr_expect_float_eq(w, 800, 1e-6);
    cr_expect_float_eq(h, 400, 1e-6);
    cr_expect_eq(svgsize_css(rel, sizeof(rel) - 1, &w, &h), -1);
    cr_expect_eq(svgsize_css(none, sizeof(none) - 1, &w, &h), -1);
}
