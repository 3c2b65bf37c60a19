/*
 * tail.h - the end of a JPEG: where its real data stops, and what the file
 * holds besides the primary image.  Worker code only.
 *
 * Real data.  A power cut on delayed allocation leaves a file whose last
 * blocks are zeros; a sparse file may end in a hole of gigabytes.  Neither
 * is image data, and a decoder looking for the end of the image would read
 * it all.  tail_data_end() gives the offset where a trailing run of one
 * repeated byte value (at least TAIL_MIN_RUN bytes, or a hole reaching the
 * end of the file, found with SEEK_HOLE/SEEK_DATA) begins; the direct
 * decoders and the structure walk (guard.h) read no further.
 *
 * Beyond the image.  Re-encoding keeps only the primary image and the
 * metadata libvips understands; anything else in the file would be lost.
 * tail_jpeg_keep_whole() says when a JPEG must not be recompressed:
 *   - an MPF index anywhere before the image data (further images: an HDR
 *     gain map, a preview)                                -> multi-picture
 *   - XMP that declares a motion photo (GCamera:MotionPhoto or
 *     GCamera:MicroVideo not 0)                           -> motion-photo
 *   - XMP that declares a container (Container:Directory) -> has-trailer
 *   - bytes after the primary image's EOI other than padding: an MP4
 *     ('ftyp' box) or a Samsung trailer (MotionPhoto_Data, SEFT) is
 *     motion-photo, anything else has-trailer
 * Padding is any mix of 0x00 and 0xFF bytes (holes included): it carries
 * nothing, and dropping it loses nothing.
 *
 * Call sequence: in->data_end = tail_data_end(fd, size) at open; later
 * tail_jpeg_keep_whole(in, res) before a recompression.
 */
#ifndef IMGPOOL_TAIL_H
#define IMGPOOL_TAIL_H

#include <stddef.h>
#include <stdint.h>

#include "input.h"
#include "task.h"

/* A trailing run of one byte value shorter than this is taken as data. */
#define TAIL_MIN_RUN 512

/* What an XMP packet declares (tail_xmp_container()). */
enum tail_xmp {
    TAIL_XMP_NONE = 0,
    TAIL_XMP_CONTAINER,         /* Container:Directory: appended items */
    TAIL_XMP_MOTION,            /* a motion photo (MotionPhoto, MicroVideo) */
};

/*
 * The offset where the real data of the @size-byte file on @fd ends (see
 * above): @size when it does not end in such a run.  Reads backwards from
 * the end, a chunk at a time, and skips holes without reading them.  A
 * read error counts as data (@size).  The descriptor's position is left
 * alone.
 */
int64_t tail_data_end(int fd, int64_t size);

/* What the XMP packet @p (@n bytes, an APP1 segment's payload) declares.
 * Pure. */
enum tail_xmp tail_xmp_container(const unsigned char *p, size_t n);

/* What lies in [@from, @size) of @fd: 0 nothing or padding, else the
 * class it calls for (ERR_MOTION_PHOTO or ERR_HAS_TRAILER); -1 with errno
 * on a read error.  Holes are skipped unread. */
int tail_after_image(int fd, int64_t from, int64_t size,
                     enum err_class *cls);

/*
 * Whether the JPEG @in must be left whole (see above): 1 with @res
 * skipped (its class and a message saying what would be lost), 0 when a
 * recompression loses nothing, -1 with @res failed on a read error.
 */
int tail_jpeg_keep_whole(const struct input *in, struct task_result *res);

/* The first occurrence of the @k bytes @s in @p (@n bytes), or NULL. */
const unsigned char *tail_find(const unsigned char *p, size_t n,
                               const char *s, size_t k);

#endif
