/*
 * jxlsave.h - lossy or lossless JPEG XL from pixels (the encode stage's
 * JPEG XL case, encode.h): libvips' jxlsave at the distance -q maps to
 * (jxl_distance(), jxl.h), libjxl's default effort, or modular lossless
 * with --lossless.  libvips 8.14's saver writes the pixels and the ICC
 * profile (none for sRGB): no EXIF or XMP.
 *
 * Call sequence: encode_vips() calls jxlsave_image() with the image whose
 * metadata edits are done.
 */
#ifndef IMGPOOL_JXLSAVE_H
#define IMGPOOL_JXLSAVE_H

#include <stddef.h>

struct _VipsImage;
struct _VipsTarget;

/*
 * Encode @img at -q @quality (1..100; ignored when @lossless), into
 * @target when not NULL, else into a new GLib buffer *buf (*len bytes;
 * the caller g_free()s it).  0, or -1 with libvips' error set.
 */
int jxlsave_image(struct _VipsImage *img, int quality, int lossless,
                  struct _VipsTarget *target, void **buf, size_t *len);

#endif
