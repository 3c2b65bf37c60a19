/*
 * fastjpeg.h - JPEG -> JPEG thumbnails driven directly through libjpeg
 * (libjpeg-turbo), without libvips' per-image pipeline cost.
 *
 * Call sequence, in a worker, after the input was opened and its header
 * parsed by sniff_jpeg_info():
 *   if (fastjpeg_eligible(s, &info))
 *       fastjpeg_process(s, t, fd, &info, res);
 *
 * Eligible: baseline or progressive Huffman JPEG, 1 or 3 components
 * (grey or YCbCr, no Adobe RGB transform), no embedded ICC profile (an
 * untagged JPEG is sRGB by convention), output JPEG with metadata stripped.
 * Everything else goes through libvips.
 *
 * The decode uses libjpeg's DCT scaling to the smallest size that is still
 * at least the target, then a separable resampling filter does the rest;
 * EXIF orientation is applied to the pixels; the encode uses the same
 * settings as the libvips path (quality, 4:2:0 unless told otherwise,
 * optimised Huffman tables).  Dimensions come from geom_fit(), so both paths
 * agree to the pixel.  Damaged data follows s->fail_on like libvips: with
 * FAIL_NONE a truncated file still gives an image plus warnings.
 */
#ifndef IMGPOOL_FASTJPEG_H
#define IMGPOOL_FASTJPEG_H

#include "settings.h"
#include "sniff.h"
#include "task.h"

int fastjpeg_eligible(const struct settings *s, const struct jpeg_info *info);

/*
 * Fill @res (status, dimensions, out_bytes, warnings) for task @t whose
 * input is open on @fd (positioned anywhere; read with pread or after
 * lseek to 0).  The output is written through outfile.h.
 */
void fastjpeg_process(const struct settings *s, const struct task *t, int fd,
                      const struct jpeg_info *info, struct task_result *res);

/*
 * Row source for fastjpeg_write(): RGB row @y of the image (asked for in
 * order, from 0), either pointing into the caller's data or written to
 * @buf (3 bytes per pixel), which is then returned.
 */
typedef const unsigned char *(*fastjpeg_row_fn)(void *arg, int y,
                                                unsigned char *buf);

/*
 * Encode a @w x @h RGB image, given row by row by @row_fn, as the direct
 * paths do (s->quality, 4:2:0 when @sub420 else 4:4:4, optimised Huffman
 * tables, no metadata), and write it as t->out_path through outfile.h
 * (atomically; flushed when s->fsync).  0 with res->out_bytes set, or -1
 * with @res failed (ERR_WRITE or ERR_OUT_OF_MEMORY for the encoder, or
 * whatever outfile.h reports).  Encoder warnings are added to @res.
 */
int fastjpeg_write(const struct settings *s, const struct task *t, int w,
                   int h, int sub420, fastjpeg_row_fn row_fn, void *arg,
                   struct task_result *res);

#endif
