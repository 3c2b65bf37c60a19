/*
 * jpeghead.h - a JPEG's header when its frame header (SOF) lies past the
 * bytes the open stage reads up front (input.h's head): 300 KB of
 * comments, a large Photoshop block or extended XMP before the SOF.
 * Worker code only.
 *
 * The markers before the first scan are walked with pread, segment by
 * segment (at most JPEGHEAD_MAX_SEGMENTS of them); the ones sniff.h reads
 * are copied into a compact header: frame header and quantisation tables
 * whole, the first EXIF block whole (the orientation), other APPn
 * segments cut to their first JPEGHEAD_APP_KEEP bytes (their signatures),
 * everything else left out.  sniff_jpeg_info() then parses that.
 *
 * Call sequence: jpeghead_read(fd, size, &ji) after sniff_jpeg_info() on
 * the head found no SOF in a file longer than the head.
 */
#ifndef IMGPOOL_JPEGHEAD_H
#define IMGPOOL_JPEGHEAD_H

#include <stdint.h>

#include "sniff.h"

#define JPEGHEAD_MAX_SEGMENTS 65536
#define JPEGHEAD_APP_KEEP 4096

/* The header of the JPEG on @fd (@size bytes) into @ji, as
 * sniff_jpeg_info() gives it: 0, or -1 when no SOF was found (a read
 * error, a broken marker structure, too many segments, or a compact
 * header over 1 MiB).  The descriptor's position is left alone. */
int jpeghead_read(int fd, int64_t size, struct jpeg_info *ji);

#endif
