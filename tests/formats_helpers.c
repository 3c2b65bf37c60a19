/*
 * formats_helpers.c - decoding WebP, AVIF and JPEG XL outputs with
 * decoders independent of libvips (libwebp's dwebp, libheif's
 * heif-convert, libjxl's djxl), and a plain SSIM (formats_helpers.h).
 *
 * Part of the test helper library.  The external decoders write a PNG
 * beside the file, read back with libpng (th_decode_png) and removed
 * again; JPEG and PNG are decoded in-process.  Every failure ends the
 * test.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "formats_helpers.h"

/* The independent decoder for @f, or NULL for JPEG and PNG (in-process). */
static const char *
fh_tool(enum out_format f)
{
    return f == FORMAT_WEBP ? "dwebp" : f == FORMAT_AVIF ? "heif-convert"
         : f == FORMAT_JXL ? "djxl" : NULL;
}

void
fh_require(enum out_format f)
{
    const char *tool = fh_tool(f);

    if (tool && !th_have_tool(tool))
        cr_skip_test("%s is not installed (package %s): cannot check %s "
                     "output", tool,
                     f == FORMAT_WEBP ? "webp"
                     : f == FORMAT_JXL ? "libjxl-tools" : "libheif-examples",
                     format_str(f));
}

void
fh_decode(const char *path, struct th_image *img)
{
    const char *dot = strrchr(path, '.');
    char png[4096], cmd[8400];
    int rc;

    cr_assert(dot, "'%s' has no extension", path);
    if (strcmp(dot, ".jpg") == 0) {
        cr_assert_eq(th_decode_jpeg(path, img), 0, "'%s' is no JPEG", path);
        return;
    }
    if (strcmp(dot, ".png") == 0) {
        cr_assert_eq(th_decode_png(path, img), 0, "'%s' is no PNG", path);
        return;
    }
    snprintf(png, sizeof(png), "%s.decoded.png", path);
    if (strcmp(dot, ".webp") == 0)
        snprintf(cmd, sizeof(cmd), "dwebp -quiet '%s' -o '%s'", path, png);
    else if (strcmp(dot, ".avif") == 0)
        snprintf(cmd, sizeof(cmd), "heif-convert '%s' '%s' >/dev/null",
                 path, png);
    else if (strcmp(dot, ".jxl") == 0)
        snprintf(cmd, sizeof(cmd), "djxl '%s' '%s' >/dev/null 2>&1", path,
                 png);
    else
        cr_assert_fail("'%s': no decoder for this extension", path);
    rc = system(cmd);
    cr_assert_eq(rc, 0, "'%s' failed", cmd);
    cr_assert_eq(th_decode_png(png, img), 0, "'%s' gave no PNG", cmd);
    unlink(png);
}

/* Luma (BT.601) of pixel @i of @img. */
static double
fh_luma(const struct th_image *img, size_t i)
{
    const unsigned char *p = img->px + i * (size_t)img->channels;

    if (img->channels < 3)
        return p[0];
    return 0.299 * p[0] + 0.587 * p[1] + 0.114 * p[2];
}

double
fh_ssim(const struct th_image *a, const struct th_image *b)
{
    const double c1 = 6.5025, c2 = 58.5225;
    double total = 0;
    long n = 0;

    cr_assert(a->w == b->w && a->h == b->h, "SSIM of %dx%d and %dx%d", a->w,
              a->h, b->w, b->h);
    for (int y0 = 0; y0 + 8 <= a->h; y0 += 4)
        for (int x0 = 0; x0 + 8 <= a->w; x0 += 4) {
            double sx = 0, sy = 0, sxx = 0, syy = 0, sxy = 0;

            for (int y = y0; y < y0 + 8; y++)
                for (int x = x0; x < x0 + 8; x++) {
                    size_t i = (size_t)y * (size_t)a->w + (size_t)x;
                    double p = fh_luma(a, i), q = fh_luma(b, i);

                    sx += p;
                    sy += q;
                    sxx += p * p;
                    syy += q * q;
                    sxy += p * q;
                }
            double mx = sx / 64, my = sy / 64;
            double vx = sxx / 64 - mx * mx, vy = syy / 64 - my * my;
            double cv = sxy / 64 - mx * my;

            total += (2 * mx * my + c1) * (2 * cv + c2) /
                     ((mx * mx + my * my + c1) * (vx + vy + c2));
            n++;
        }
    cr_assert_gt(n, 0);
    return total / (double)n;
}
