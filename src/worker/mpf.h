/*
 * mpf.h - the Multi-Picture Format (CIPA DC-007) index of a JPEG: how many
 * images the file holds.  Phones store an HDR gain map (Ultra HDR), and
 * cameras a large preview, as further images after the primary one, found
 * through an APP2 "MPF" segment; re-encoding the primary image alone
 * would drop them.
 * Call sequence: n = mpf_image_count(buf, len) on bytes from the start of
 * a file (the structure walk of guard.h hands it SOI and the one APP2
 * segment it found, wherever that was).  Pure: no allocation, no I/O.
 */
#ifndef IMGPOOL_MPF_H
#define IMGPOOL_MPF_H

#include <stddef.h>

/* The NumberOfImages of the first MPF index among the JPEG markers in
 * @buf (@len bytes from the start of the file): 0 when there is none,
 * -1 when the index is there but unreadable (treat as "more than one":
 * unknown images must not be dropped). */
long mpf_image_count(const unsigned char *buf, size_t len);

#endif
