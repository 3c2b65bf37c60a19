/*
 * exifcopy.h - a JPEG source's EXIF segment carried into a JPEG output byte
 * for byte.  libvips 8.14's jpegsave parses the EXIF with libexif and
 * writes back only what libexif understood (maker notes, values out of
 * range, tags it does not know are lost), so the segment the encoder wrote
 * is replaced afterwards by the source's own APP1, with only two in-place
 * patches, both keeping every offset and length:
 *   - orientation: where the pixels were turned upright, IFD0's
 *     Orientation value is set to 1 (the tag stays);
 *   - --strip-gps: the GPS IFD is emptied in place: its entry count set to
 *     0, its entries and the values they point to overwritten with zeros
 *     (the IFD0 pointer stays, to an empty IFD).
 * Everything else, IFD1 and its thumbnail included, is untouched.
 * Call sequence (worker, metadata kept, JPEG source and output):
 *   struct exifcopy x;
 *   exifcopy_from_jpeg(in, &p, &x);       // p: the encode parameters
 *   ...encode...
 *   exifcopy_apply_file(&x, dirfd, tmpname, res);   // before the commit
 *   // or exifcopy_apply_mem(&x, &buf, &len, res) for an encode in memory
 *   exifcopy_release(&x);
 * When there is nothing to carry (no EXIF, a non-JPEG source or output,
 * metadata stripped) x.len is 0 and applying does nothing.  Functions that
 * can fail return 0 or -1 with @res failed.
 */
#ifndef IMGPOOL_EXIFCOPY_H
#define IMGPOOL_EXIFCOPY_H

#include <stddef.h>

#include "encode.h"
#include "input.h"
#include "settings.h"
#include "task.h"

struct exifcopy {
    unsigned char *seg;         /* the whole APP1 segment, marker first */
    size_t len;
};

void exifcopy_from_jpeg(const struct input *in, const struct encode_params *p,
                        struct exifcopy *x);

/*
 * Patch the TIFF structure @tiff (@n bytes) in place: IFD0's Orientation
 * set to 1 when @upright, the GPS IFD emptied when @drop_gps.  Pure; a
 * structure that cannot be walked is left as it is.
 */
void exifcopy_patch(unsigned char *tiff, size_t n, int upright, int drop_gps);

/* Replace *@buf (malloc()ed, *@len bytes) by a new malloc()ed buffer whose
 * EXIF segment is @x's (inserted after SOI and APP0 when it had none). */
int exifcopy_apply_mem(const struct exifcopy *x, unsigned char **buf,
                       size_t *len, struct task_result *res);

int exifcopy_apply_file(const struct exifcopy *x, int dirfd, const char *name,
                        struct task_result *res);

void exifcopy_release(struct exifcopy *x);

#endif
