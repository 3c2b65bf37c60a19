/*
 * jpeghead.c - a JPEG's header past the first bytes; see jpeghead.h.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "jpeghead.h"

static unsigned char jh_buf[1 << 20];

/* pread of exactly @n bytes at @off: 0, or -1. */
static int
read_exact(int fd, unsigned char *buf, size_t n, int64_t off)
{
    size_t got = 0;

    while (got < n) {
        ssize_t k = pread(fd, buf + got, n - got, (off_t)(off + (int64_t)got));
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return -1;
        got += (size_t)k;
    }
    return 0;
}

/* Frame headers: SOF0..SOF15 but DHT, JPG and DAC. */
static int
is_sof(int m)
{
    return m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC;
}

/*
 * Copy the segment with marker @m whose payload of @n bytes starts at
 * @off into jh_buf at *@len, keeping at most @keep bytes of it (its
 * length field says what was kept).  0, or -1 when the buffer is full or
 * the read fails.
 */
static int
copy_segment(int fd, int m, int64_t off, size_t n, size_t keep, size_t *len)
{
    unsigned char *p = jh_buf + *len;

    if (keep > n)
        keep = n;
    if (*len + 4 + keep > sizeof(jh_buf))
        return -1;
    p[0] = 0xFF;
    p[1] = (unsigned char)m;
    p[2] = (unsigned char)((keep + 2) >> 8);
    p[3] = (unsigned char)((keep + 2) & 0xFF);
    if (read_exact(fd, p + 4, keep, off) < 0)
        return -1;
    *len += 4 + keep;
    return 0;
}

int
jpeghead_read(int fd, int64_t size, struct jpeg_info *ji)
{
    unsigned char h[10];
    int64_t pos = 2;
    size_t len = 2;
    int k, sof = 0, exif = 0;

    if (read_exact(fd, h, 2, 0) < 0 || h[0] != 0xFF || h[1] != 0xD8)
        return -1;
    jh_buf[0] = 0xFF;
    jh_buf[1] = 0xD8;
    for (k = 0; k < JPEGHEAD_MAX_SEGMENTS && pos + 4 <= size; k++) {
        size_t n, keep = 0;
        int m;

        if (read_exact(fd, h, 4, pos) < 0 || h[0] != 0xFF)
            break;
        m = h[1];
        if (m == 0xFF) {                /* a fill byte */
            pos++;
            continue;
        }
        if (m == 0x01 || (m >= 0xD0 && m <= 0xD8)) {
            pos += 2;                   /* no length field */
            continue;
        }
        if (m == 0xDA || m == 0xD9)     /* the first scan, or the end */
            break;
        n = (size_t)(h[2] << 8 | h[3]);
        if (n < 2)
            break;
        n -= 2;
        if (is_sof(m) || m == 0xDB) {
            keep = n;
        } else if (m >= 0xE0 && m <= 0xEF) {
            keep = JPEGHEAD_APP_KEEP;
            if (m == 0xE1 && !exif && n >= 6 &&
                read_exact(fd, h + 4, 6, pos + 4) == 0 &&
                memcmp(h + 4, "Exif\0\0", 6) == 0) {
                keep = n;               /* the orientation may be deep */
                exif = 1;
            }
        }
        if (keep && copy_segment(fd, m, pos + 4, n, keep, &len) < 0)
            break;
        sof |= is_sof(m);
        pos += 4 + (int64_t)n;
    }
    if (!sof)
        return -1;
    return sniff_jpeg_info(jh_buf, len, ji);
}
