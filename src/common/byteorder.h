/*
 * byteorder.h - reading and writing 16- and 32-bit integers in a given
 * byte order, for the file structures imgpool parses itself (TIFF/EXIF
 * and MPF directories, PNG chunks).  Static inline, no state; callers
 * check the bounds before.  @le: 1 little-endian ("II"), 0 big-endian
 * ("MM", PNG, JPEG).
 */
#ifndef IMGPOOL_BYTEORDER_H
#define IMGPOOL_BYTEORDER_H

#include <stdint.h>

static inline unsigned
bo_get16(const unsigned char *p, int le)
{
    return le ? (unsigned)p[0] | (unsigned)p[1] << 8
              : (unsigned)p[0] << 8 | (unsigned)p[1];
}

static inline uint32_t
bo_get32(const unsigned char *p, int le)
{
    return le ? (uint32_t)bo_get16(p, 1) | (uint32_t)bo_get16(p + 2, 1) << 16
              : (uint32_t)bo_get16(p, 0) << 16 | (uint32_t)bo_get16(p + 2, 0);
}

static inline void
bo_put16(unsigned char *p, unsigned v, int le)
{
    p[le ? 0 : 1] = (unsigned char)(v & 0xff);
    p[le ? 1 : 0] = (unsigned char)((v >> 8) & 0xff);
}

static inline void
bo_put32(unsigned char *p, uint32_t v, int le)
{
    bo_put16(p + (le ? 0 : 2), v & 0xffff, le);
    bo_put16(p + (le ? 2 : 0), v >> 16, le);
}

#endif
