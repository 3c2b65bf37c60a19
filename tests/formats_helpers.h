/*
 * formats_helpers.h - decoding WebP, AVIF and JPEG XL outputs with
 * decoders independent of libvips (libwebp's dwebp, libheif's
 * heif-convert, libjxl's djxl), and a plain SSIM, for the suites that
 * check those formats.  Compiled into the test helper library
 * (formats_helpers.c).
 *
 * Call sequence:
 *   fh_require(FORMAT_WEBP);            // skips the test when dwebp is missing
 *   struct th_image img;
 *   fh_decode(path, &img);              // by extension: jpg, png, webp,
 *                                       // avif, jxl
 *   ...assert img.w, img.h, img.channels, th_mean_rgb()...
 *   th_image_release(&img);
 * fh_decode() converts WebP, AVIF and JPEG XL to a PNG beside the file
 * (removed again) and reads that with libpng (th_decode_png); JPEG goes
 * through TurboJPEG.  Every failure aborts the test.
 */
#ifndef IMGPOOL_FORMATS_HELPERS_H
#define IMGPOOL_FORMATS_HELPERS_H

#include "helpers.h"
#include "settings.h"

/* Skip the running test, with a message naming the package, when the
 * independent decoder of @f is not on PATH (JPEG and PNG need none). */
void fh_require(enum out_format f);

/* Decode @path by its extension into @img (th_image_release() it). */
void fh_decode(const char *path, struct th_image *img);

/* Mean SSIM of the luma (BT.601) of @a and @b (same size): 8x8 windows
 * every 4 pixels, the usual constants for 8-bit data. */
double fh_ssim(const struct th_image *a, const struct th_image *b);

#endif
