/*
 * mpf.c - find the MPF index of a JPEG and read its image count (see
 * mpf.h).  The index is a little TIFF structure after "MPF\0" in an APP2
 * segment: byte order, offset of the first IFD, then 12-byte entries, of
 * which tag 0xB001 (NumberOfImages, LONG) is the one needed.
 */
#include <stdint.h>
#include <string.h>

#include "byteorder.h"
#include "mpf.h"

#define MPF_TAG_NUMBER_OF_IMAGES 0xB001

/* The count from the TIFF structure @t of @n bytes, or -1. */
static long
index_count(const unsigned char *t, size_t n)
{
    int le;
    uint32_t ifd;
    unsigned entries;

    if (n < 8)
        return -1;
    if (memcmp(t, "II*\0", 4) == 0)
        le = 1;
    else if (memcmp(t, "MM\0*", 4) == 0)
        le = 0;
    else
        return -1;
    ifd = bo_get32(t + 4, le);
    if (ifd > n - 2)
        return -1;
    entries = bo_get16(t + ifd, le);
    for (unsigned i = 0; i < entries; i++) {
        size_t e = (size_t)ifd + 2 + (size_t)i * 12;
        if (e + 12 > n)
            return -1;
        if (bo_get16(t + e, le) == MPF_TAG_NUMBER_OF_IMAGES)
            return (long)bo_get32(t + e + 8, le);
    }
    return -1;
}

long
mpf_image_count(const unsigned char *buf, size_t len)
{
    size_t off = 2;

    if (len < 4 || buf[0] != 0xFF || buf[1] != 0xD8)
        return 0;
    while (off + 4 <= len) {
        unsigned marker, seglen;

        if (buf[off] != 0xFF)
            return 0;
        marker = buf[off + 1];
        if (marker == 0xFF) {           /* fill byte */
            off++;
            continue;
        }
        if (marker == 0xDA || marker == 0xD9)   /* SOS, EOI: no index */
            return 0;
        seglen = bo_get16(buf + off + 2, 0);
        if (seglen < 2)
            return 0;
        if (marker == 0xE2 && seglen >= 6 && off + 2 + seglen <= len &&
            memcmp(buf + off + 4, "MPF\0", 4) == 0)
            return index_count(buf + off + 8, seglen - 6);
        off += 2 + (size_t)seglen;
    }
    return 0;
}
