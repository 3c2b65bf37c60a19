/*
 * sniff_int.h - the bounded reads sniff.c and sniff_jpeg.c share: big- and
 * little-endian integers and byte comparisons.  Static inline, no state;
 * callers have checked the bounds (the has_* tests check their own).  Not
 * for other modules: they use sniff.h.
 */
#ifndef IMGPOOL_SNIFF_INT_H
#define IMGPOOL_SNIFF_INT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Big- and little-endian reads; callers have checked the bounds. */
static inline unsigned
rd_be16(const unsigned char *p)
{
    return (unsigned)p[0] << 8 | p[1];
}

static inline uint32_t
rd_be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
           (uint32_t)p[2] << 8 | p[3];
}

static inline unsigned
rd_le16(const unsigned char *p)
{
    return (unsigned)p[1] << 8 | p[0];
}

static inline uint32_t
rd_le32(const unsigned char *p)
{
    return (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 |
           (uint32_t)p[1] << 8 | p[0];
}

/* True when @buf holds at least @n bytes and they start with @sig. */
static inline int
has_prefix(const unsigned char *buf, size_t len, const void *sig, size_t n)
{
    return len >= n && memcmp(buf, sig, n) == 0;
}

/* True when @n bytes at @off equal @sig. */
static inline int
has_at(const unsigned char *buf, size_t len, size_t off, const void *sig,
       size_t n)
{
    return len >= off && len - off >= n && memcmp(buf + off, sig, n) == 0;
}

#endif
