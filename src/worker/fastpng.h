/*
 * fastpng.h - PNG -> JPEG thumbnails driven directly through libpng,
 * without libvips' per-image pipeline cost.
 *
 * Call sequence, in a worker, after the input was opened and its first
 * bytes read into @head:
 *   if (fastpng_eligible(s, head, len))
 *       fastpng_process(s, t, fd, res);
 *
 * Eligible, decided from the chunks before the first IDAT (all of which
 * must be inside @head): any bit depth and colour type PNG allows
 * (grey, grey+alpha, RGB, RGBA, palette with or without tRNS), not
 * interlaced, no iCCP, cHRM or eXIf chunk, gAMA absent or about 1/2.2
 * (sRGB chunks are fine), and output JPEG with metadata stripped.
 * Everything else goes through libvips.
 *
 * The rows are expanded to 8-bit RGB(A) (16-bit samples keep their high
 * byte, as libvips' cast does), alpha is flattened onto s->background,
 * and the rows stream through the resampler (resample.h) to the size
 * geom_fit() gives; the encode is fastjpeg_write().  Damaged data follows
 * s->fail_on like libvips: with FAIL_NONE a PNG that ends early or breaks
 * in its image data still gives an image (the missing rows in the
 * background colour) plus warnings; otherwise it fails as ERR_DECODE.
 */
#ifndef IMGPOOL_FASTPNG_H
#define IMGPOOL_FASTPNG_H

#include <stddef.h>

#include "settings.h"
#include "task.h"

int fastpng_eligible(const struct settings *s, const unsigned char *head,
                     size_t len);

/*
 * Fill @res (status, dimensions, out_bytes, warnings) for task @t whose
 * input is open on @fd (read with pread from offset 0, whatever the file
 * position).  The output is written through outfile.h.
 */
void fastpng_process(const struct settings *s, const struct task *t, int fd,
                     struct task_result *res);

#endif
