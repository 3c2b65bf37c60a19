/*
 * test_alpha.c - transparency kept for PNG, WebP and AVIF outputs unless
 * --background is given; JPEG flattens, and a flattened thumbnail with
 * nothing but the background left (a white logo on transparency) gets a
 * warning.  Outputs are read back with decoders independent of libvips:
 * libpng directly, dwebp, heif-convert (formats_helpers.h).
 *
 * The source is 64x64: red, alpha rising 4 a column from 0 at the left,
 * made with the vips command line; 64x64 fits the default box, so the
 * pixels are not resized and PNG alpha can be compared exactly.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats_helpers.h"
#include "helpers.h"

TestSuite(alpha, .init = th_dir_setup, .fini = th_dir_teardown,
          .timeout = 120);

/* A 64x64 PNG of colour @r,@g,@b with the alpha ramp, at @name. */
static char *
make_logo(const char *name, int r, int g, int b)
{
    char *p = th_path(th_dir, name);

    if (!th_have_tool("vips"))
        cr_skip_test("vips is not installed: cannot make the source");
    th_sh("cd '%s' && vips black z.v 64 64 && "
          "vips linear z.v r.v 1 %d --uchar && "
          "vips linear z.v g.v 1 %d --uchar && "
          "vips linear z.v b.v 1 %d --uchar && vips xyz xy.v 64 64 && "
          "vips extract_band xy.v x.v 0 && vips linear x.v a.v 4 0 --uchar && "
          "vips bandjoin 'r.v g.v b.v a.v' '%s' && rm -f *.v", th_dir, r, g, b,
          p);
    return p;
}

/* Run imgpool thumbnail on @src into @out as format @f (NULL: JPEG)
 * with @extra and @val (each NULL or one argument), writing the report; the report's records. */
static json_t *
thumb(const char *src, const char *out, const char *f, const char *extra,
      const char *val)
{
    char *rep = th_path(th_dir, "r.jsonl");
    const char *args[12];
    int n = 0;
    json_t *recs;

    args[n++] = "thumbnail";
    args[n++] = src;
    if (f) {
        args[n++] = "-f";
        args[n++] = f;
    }
    if (extra)
        args[n++] = extra;
    if (val)
        args[n++] = val;
    args[n++] = "--report";
    args[n++] = rep;
    args[n++] = "-o";
    args[n++] = out;
    args[n] = NULL;
    th_run_expect(args, 0);
    recs = th_read_jsonl(rep);
    free(rep);
    return recs;
}

/* The output @name of format @f keeps the alpha ramp. */
static void
expect_ramp(enum out_format f, const char *fmt, int exact)
{
    char *src = make_logo("logo.png", 255, 0, 0);
    char *out = th_path(th_dir, fmt);
    char name[64];
    char *got;
    struct th_image img;

    fh_require(f);
    json_decref(thumb(src, out, fmt, NULL, NULL));
    snprintf(name, sizeof(name), "logo.%s", fmt);
    got = th_path(out, name);
    fh_decode(got, &img);
    cr_assert_eq(img.w, 64);
    cr_assert_eq(img.h, 64);
    cr_assert_eq(img.channels, 4, "%s: %d channels, alpha lost", got,
                 img.channels);
    for (int y = 0; y < 64; y += 9)
        for (int x = 0; x < 64; x += 7) {
            int a = img.px[((size_t)y * 64 + (size_t)x) * 4 + 3];
            if (exact)
                cr_expect_eq(a, 4 * x, "%s (%d,%d): alpha %d", got, x, y, a);
            else
                cr_expect(abs(a - 4 * x) <= 12, "%s (%d,%d): alpha %d, "
                          "want about %d", got, x, y, a, 4 * x);
        }
    /* the opaque side is still red */
    cr_expect_gt(img.px[(32 * 64 + 63) * 4 + 0], 230);
    cr_expect_lt(img.px[(32 * 64 + 63) * 4 + 1], 30);
    th_image_release(&img);
    free(got);
    free(out);
    free(src);
}

Test(alpha, png_output_keeps_alpha)
{
    expect_ramp(FORMAT_PNG, "png", 1);
}

Test(alpha, webp_output_keeps_alpha)
{
    expect_ramp(FORMAT_WEBP, "webp", 0);
}

Test(alpha, avif_output_keeps_alpha)
{
    expect_ramp(FORMAT_AVIF, "avif", 0);
}

Test(alpha, background_flattens_png_output)
{
    char *src = make_logo("logo.png", 255, 0, 0);
    char *out = th_path(th_dir, "o");
    char *got = th_path(out, "logo.png");
    struct th_image img;

    json_decref(thumb(src, out, "png", "--background", "#0000ff"));
    fh_decode(got, &img);
    cr_assert_eq(img.channels, 3, "%d channels: not flattened",
                 img.channels);
    /* column 0 is fully transparent: the background, blue */
    cr_expect_eq(img.px[0], 0);
    cr_expect_eq(img.px[2], 255);
    th_image_release(&img);
    free(got);
    free(out);
    free(src);
}

/* White on transparency to JPEG is all white: a warning, on both the
 * direct PNG decoder and the libvips path; a red logo gets none. */
static void
expect_flat_warning(const char *extra)
{
    char *white = make_logo("white.png", 255, 255, 255);
    char *red = make_logo("red.png", 255, 0, 0);
    char *out = th_path(th_dir, "j");
    json_t *recs, *w, *rr;

    recs = thumb(white, out, NULL, extra, NULL);
    w = th_find_record(recs, "white.png");
    cr_assert(w);
    cr_expect_str_eq(th_json_str(w, "status"), "ok");
    cr_expect(json_array_size(json_object_get(w, "warnings")) >= 1 &&
              strstr(json_string_value(json_array_get(
                         json_object_get(w, "warnings"), 0)),
                     "background colour"),
              "no warning for a white logo flattened onto white");
    json_decref(recs);
    th_rmrf(out);
    recs = thumb(red, out, NULL, extra, NULL);
    rr = th_find_record(recs, "red.png");
    cr_assert(rr);
    cr_expect_null(json_object_get(rr, "warnings"));
    json_decref(recs);
    free(white);
    free(red);
    free(out);
}

Test(alpha, white_logo_to_jpeg_warns)
{
    expect_flat_warning(NULL);
}

Test(alpha, white_logo_to_jpeg_warns_on_the_libvips_path)
{
    expect_flat_warning("--no-fast-path");
}
