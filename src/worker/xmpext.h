/*
 * xmpext.h - XMP larger than one JPEG segment (65502 bytes): extended XMP,
 * as the XMP specification (part 3) defines it, kept through every JPEG
 * output.  libvips 8.14 reads only a JPEG's standard XMP packet and will
 * not write one over a segment, so both ends are done here:
 *   - a source with a large XMP packet (TIFF, PNG, WebP, HEIF) is written
 *     as a standard packet naming a GUID plus extension segments;
 *   - a JPEG source's own extension segments are carried over verbatim
 *     (its standard packet, which names their GUID, goes through libvips).
 * The segments are APP1 segments ready to insert; they go after SOI and
 * the APP0/APP1 segments of the encoded JPEG.
 * Call sequence (worker, metadata kept, JPEG output):
 *   struct xmpext x;
 *   xmpext_from_image(&p, img, &x);    // p: the encode parameters,
 *   xmpext_from_jpeg(&p, in, &x);      // or for a JPEG source
 *   ...encode...
 *   xmpext_insert_file(&x, dirfd, tmpname, res);   // before the commit
 *   // or xmpext_insert_mem(&x, &buf, &len, res) for an encode in memory
 *   xmpext_release(&x);
 * Functions that can fail return 0 or -1 with @res failed; when there is
 * nothing to carry, x.len is 0 and inserting does nothing.
 */
#ifndef IMGPOOL_XMPEXT_H
#define IMGPOOL_XMPEXT_H

#include <stddef.h>

#include "encode.h"
#include "input.h"
#include "task.h"

struct _VipsImage;

struct xmpext {
    unsigned char *segs;        /* APP1 segments, or NULL */
    size_t len;
};

/* Take @img's XMP off it when it is over one segment and build the
 * segments (nothing for a small packet, or when @p strips metadata or is
 * not a JPEG output). */
void xmpext_from_image(const struct encode_params *p, struct _VipsImage *img,
                       struct xmpext *x);

/* The extension segments of the JPEG @in, read up to its first SOS (the
 * same conditions on @p). */
void xmpext_from_jpeg(const struct encode_params *p, const struct input *in,
                      struct xmpext *x);

int xmpext_insert_file(const struct xmpext *x, int dirfd, const char *name,
                       struct task_result *res);

/* Replace *@buf (malloc()ed, *@len bytes) by a new malloc()ed buffer with
 * the segments inserted. */
int xmpext_insert_mem(const struct xmpext *x, unsigned char **buf,
                      size_t *len, struct task_result *res);

void xmpext_release(struct xmpext *x);

#endif
