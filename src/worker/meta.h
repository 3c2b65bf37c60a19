/*
 * meta.h - metadata the libvips loaders of Debian 12's libvips (8.14) do
 * not hand over, completed before a recompression with kept metadata is
 * encoded: the EXIF of a TIFF file (its descriptive IFD0 tags with the
 * EXIF and GPS IFDs, which tiffload leaves in the file) and the XMP of a
 * HEIF file (heifload reads the primary image's only, and only a packet
 * without an xpacket wrapper: every image's is gathered, heifxmp.h); a
 * TIFF's bare IPTC records are
 * wrapped in the Photoshop resource block a JPEG reader looks for.  What
 * still cannot be kept is said in a warning on the record.
 * Call sequence (worker, libvips path, metadata kept):
 *   img = ...the image about to be encoded...
 *   meta_complete(p.format, in, img, res);     // p: encode parameters
 * Never fails the file: a source whose metadata cannot be read is encoded
 * without it, with a warning.  meta_tiff_exif() is the pure builder.
 * XMP too large for one JPEG segment is xmpext.h's.
 */
#ifndef IMGPOOL_META_H
#define IMGPOOL_META_H

#include <stddef.h>

#include "input.h"
#include "settings.h"
#include "task.h"

struct _VipsImage;

void meta_complete(enum out_format format, const struct input *in,
                   struct _VipsImage *img, struct task_result *res);

/*
 * The EXIF payload ("Exif\0\0" then a TIFF structure, as a JPEG APP1
 * carries it) built from the TIFF file whose bytes @read reads: the IFD0
 * entries that describe the picture (make, model, date, artist,
 * copyright, description, software) and the whole EXIF and GPS IFDs,
 * copied in the file's own byte order.  A new buffer (free()) and its
 * length in *@len, or NULL when the file has none of these or is not a
 * readable TIFF.
 */
typedef int (*meta_read_fn)(void *arg, size_t off, void *buf, size_t n);
unsigned char *meta_tiff_exif(meta_read_fn read, void *arg, size_t filelen,
                              size_t *len);

#endif
