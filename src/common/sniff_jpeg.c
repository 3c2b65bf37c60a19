/*
 * sniff_jpeg.c - JPEG headers read without decoding (sniff.h): size,
 * orientation, colour profile and sampling from the markers before the
 * scan (sniff_jpeg_info()), and the quality the quantisation tables were
 * scaled for (sniff_jpeg_quality()).
 *
 * Like sniff.c it reads untrusted bytes: every access is checked against
 * the caller's length first (sniff_int.h), nothing allocates and nothing
 * does I/O; the fuzz target in tests/fuzz/ exercises it directly.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "jpegq.h"
#include "sniff.h"
#include "sniff_int.h"

/* Position in natural (row-major) order of the k-th zigzag coefficient. */
static const unsigned char zigzag_to_natural[64] = {
    0,  1,  8,  16, 9,  2,  3,  10, 17, 24, 32, 25, 18, 11, 4,  5,
    12, 19, 26, 33, 40, 48, 41, 34, 27, 20, 13, 6,  7,  14, 21, 28,
    35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51,
    58, 59, 52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63,
};

/* ITU T.81 Annex K.1 luminance table, natural order: libjpeg's base. */
static const int std_luma[64] = {
    16, 11, 10, 16, 24,  40,  51,  61,
    12, 12, 14, 19, 26,  58,  60,  55,
    14, 13, 16, 24, 40,  57,  69,  56,
    14, 17, 22, 29, 51,  87,  80,  62,
    18, 22, 37, 56, 68,  109, 103, 77,
    24, 35, 55, 64, 81,  104, 113, 92,
    49, 64, 78, 87, 103, 121, 120, 101,
    72, 92, 95, 98, 112, 100, 103, 99,
};

/* Marker codes used below (the byte after 0xFF). */
enum {
    M_SOF0 = 0xc0,
    M_DHT = 0xc4,
    M_JPG = 0xc8,
    M_DAC = 0xcc,
    M_SOF15 = 0xcf,
    M_RST0 = 0xd0,
    M_RST7 = 0xd7,
    M_SOI = 0xd8,
    M_EOI = 0xd9,
    M_SOS = 0xda,
    M_DQT = 0xdb,
    M_APP1 = 0xe1,
    M_APP2 = 0xe2,
    M_APP13 = 0xed,
    M_APP14 = 0xee,
    M_TEM = 0x01,
};

/* Parse state: the four quantisation table slots DQT may fill. */
struct jpeg_walk {
    int qt[4][64];
    int qt_set[4];
    int luma_slot;      /* table used by the first SOF component, -1 */
    int seen_exif;
};

/*
 * Orientation from an EXIF block (the TIFF structure after "Exif\0\0"):
 * IFD0 tag 0x0112, type SHORT.  Returns 1..8, or 1 when the tag is absent,
 * malformed or out of range.
 */
static int
exif_orientation(const unsigned char *t, size_t n)
{
    int le;
    uint32_t ifd;
    unsigned count, i;

    if (n < 8)
        return 1;
    if (t[0] == 'I' && t[1] == 'I')
        le = 1;
    else if (t[0] == 'M' && t[1] == 'M')
        le = 0;
    else
        return 1;
    if ((le ? rd_le16(t + 2) : rd_be16(t + 2)) != 42)
        return 1;
    ifd = le ? rd_le32(t + 4) : rd_be32(t + 4);
    if (ifd < 8 || ifd > n || n - ifd < 2)
        return 1;
    count = le ? rd_le16(t + ifd) : rd_be16(t + ifd);
    for (i = 0; i < count; i++) {
        size_t e = (size_t)ifd + 2 + (size_t)i * 12;
        unsigned tag, type, v;
        uint32_t cnt;

        if (e > n || n - e < 12)
            break;
        tag = le ? rd_le16(t + e) : rd_be16(t + e);
        if (tag != 0x0112)
            continue;
        type = le ? rd_le16(t + e + 2) : rd_be16(t + e + 2);
        cnt = le ? rd_le32(t + e + 4) : rd_be32(t + e + 4);
        if (type != 3 || cnt < 1)
            return 1;
        /* A single SHORT sits left-justified in the value field. */
        v = le ? rd_le16(t + e + 8) : rd_be16(t + e + 8);
        return v >= 1 && v <= 8 ? (int)v : 1;
    }
    return 1;
}

/* One DQT segment: any number of 8- or 16-bit tables.  0 / -1. */
static int
parse_dqt(const unsigned char *p, size_t n, struct jpeg_walk *w)
{
    size_t pos = 0;

    while (pos < n) {
        unsigned pq = p[pos] >> 4, tq = p[pos] & 0x0f;
        size_t need = pq ? 128 : 64;
        size_t k;

        pos++;
        if (pq > 1 || tq > 3 || n - pos < need)
            return -1;
        for (k = 0; k < 64; k++) {
            int v = pq ? (int)rd_be16(p + pos + 2 * k) : p[pos + k];
            w->qt[tq][zigzag_to_natural[k]] = v;
        }
        w->qt_set[tq] = 1;
        pos += need;
    }
    return 0;
}

/* Start of frame: precision, height, width, components.  0 / -1. */
static int
parse_sof(unsigned marker, const unsigned char *p, size_t n,
          struct jpeg_info *info, struct jpeg_walk *w)
{
    unsigned nf, i;

    if (n < 6)
        return -1;
    info->precision = p[0];
    info->height = (int)rd_be16(p + 1);
    info->width = (int)rd_be16(p + 3);
    nf = p[5];
    if (nf == 0 || info->width == 0 || n - 6 < 3 * (size_t)nf)
        return -1;
    info->components = (int)nf;
    for (i = 0; i < nf && i < 4; i++) {
        info->h_samp[i] = p[6 + 3 * i + 1] >> 4;
        info->v_samp[i] = p[6 + 3 * i + 1] & 0x0f;
    }
    w->luma_slot = p[6 + 2] <= 3 ? p[6 + 2] : -1;

    info->progressive = marker == 0xc2 || marker == 0xc6 ||
                        marker == 0xca || marker == 0xce;
    info->arithmetic = marker >= 0xc9;
    info->lossless = marker == 0xc3 || marker == 0xc7 || marker == 0xcb ||
                     marker == 0xcf;
    info->hierarchical = (marker >= 0xc5 && marker <= 0xc7) ||
                         marker >= 0xcd;
    return 0;
}

static void
parse_app(unsigned marker, const unsigned char *p, size_t n,
          struct jpeg_info *info, struct jpeg_walk *w)
{
    static const char xmp_ns[] = "http://ns.adobe.com/xap/1.0/";
    static const char xmp_ext[] = "http://ns.adobe.com/xmp/extension/";

    switch (marker) {
    case M_APP1:
        if (has_prefix(p, n, "Exif\0\0", 6)) {
            info->has_exif = 1;
            if (!w->seen_exif)
                info->orientation = exif_orientation(p + 6, n - 6);
            w->seen_exif = 1;
        } else if (has_prefix(p, n, xmp_ns, sizeof(xmp_ns)) ||
                   has_prefix(p, n, xmp_ext, sizeof(xmp_ext))) {
            info->has_xmp = 1;    /* sizeof includes the NUL: matched too */
        }
        break;
    case M_APP2:
        if (has_prefix(p, n, "ICC_PROFILE\0", 12))
            info->has_icc = 1;
        break;
    case M_APP13:
        if (has_prefix(p, n, "Photoshop 3.0\0", 14))
            info->has_iptc = 1;
        break;
    case M_APP14:
        /* libjpeg only trusts an Adobe segment with all 12 bytes. */
        if (n >= 12 && memcmp(p, "Adobe", 5) == 0) {
            info->has_adobe = 1;
            info->adobe_transform = p[11];
        }
        break;
    default:
        break;
    }
}

static int
is_sof(unsigned m)
{
    return m >= M_SOF0 && m <= M_SOF15 && m != M_DHT && m != M_JPG &&
           m != M_DAC;
}

/*
 * Find the next marker at or after *pos, the way libjpeg's next_marker()
 * does: skip stray bytes, then any number of 0xFF fill bytes; a 0xFF 0x00
 * pair is stuffed data, not a marker.  Leaves *pos after the marker code.
 * Returns the code, or -1 at the end of the buffer.
 */
static int
next_marker(const unsigned char *buf, size_t len, size_t *pos)
{
    size_t i = *pos;

    for (;;) {
        while (i < len && buf[i] != 0xff)
            i++;
        while (i < len && buf[i] == 0xff)
            i++;
        if (i >= len)
            return -1;
        if (buf[i] != 0x00)
            break;
        i++;
    }
    *pos = i + 1;
    return buf[i];
}

int
sniff_jpeg_info(const unsigned char *buf, size_t len, struct jpeg_info *info)
{
    struct jpeg_walk w;
    size_t pos = 2;
    int found_sof = 0;

    if (info == NULL)
        return -1;
    memset(info, 0, sizeof(*info));
    info->orientation = 1;
    if (buf == NULL || len < 4 || buf[0] != 0xff || buf[1] != M_SOI)
        return -1;
    memset(&w, 0, sizeof(w));
    w.luma_slot = -1;

    for (;;) {
        int m = next_marker(buf, len, &pos);
        size_t seglen;
        const unsigned char *p;
        size_t n;

        if (m < 0)
            break;
        if (m == M_TEM || m == M_SOI || (m >= M_RST0 && m <= M_RST7))
            continue;    /* standalone: no length field */
        if (m == M_EOI || m == M_SOS)
            break;
        if (len - pos < 2)
            break;
        seglen = rd_be16(buf + pos);
        if (seglen < 2 || seglen > len - pos)
            break;    /* runs past what we were given */
        p = buf + pos + 2;
        n = seglen - 2;
        pos += seglen;

        if (is_sof((unsigned)m)) {
            if (found_sof)
                continue;
            if (parse_sof((unsigned)m, p, n, info, &w) < 0)
                return -1;
            found_sof = 1;
            /* Tables may legally follow the frame header; only go on
             * looking when the one we want is still missing. */
            if (w.luma_slot < 0 || w.qt_set[w.luma_slot])
                break;
        } else if (m == M_DQT) {
            if (parse_dqt(p, n, &w) < 0) {
                if (!found_sof)
                    return -1;
                break;
            }
        } else if (m >= 0xe0 && m <= 0xef && !found_sof) {
            parse_app((unsigned)m, p, n, info, &w);
        }
    }
    if (!found_sof)
        return -1;

    if (w.luma_slot >= 0 && w.qt_set[w.luma_slot]) {
        memcpy(info->qtable_luma, w.qt[w.luma_slot],
               sizeof(info->qtable_luma));
        info->have_qtable = 1;
    }
    return 0;
}

/* libjpeg's jpeg_quality_scaling() and jpeg_add_quant_table(), baseline. */
static int
scaled_entry(int std, int quality)
{
    long scale = quality < 50 ? 5000 / quality : 200 - 2 * quality;
    long v = ((long)std * scale + 50) / 100;

    if (v < 1)
        v = 1;
    if (v > 255)
        v = 255;
    return (int)v;
}

int
sniff_jpeg_quality(const struct jpeg_info *info)
{
    long best_err = -1;
    int best_q = -1;
    int q, i;

    if (info == NULL || !info->have_qtable)
        return -1;
    /* imgpool's own tables (jpegq.h), when they are the ones. */
    best_q = jpegq_match_luma(info->qtable_luma);
    if (best_q > 0)
        return best_q;
    /* From high to low, so a tie goes to the better quality. */
    for (q = 100; q >= 1; q--) {
        long err = 0;

        for (i = 0; i < 64; i++) {
            long d = (long)info->qtable_luma[i] - scaled_entry(std_luma[i], q);
            err += d < 0 ? -d : d;
        }
        if (best_err < 0 || err < best_err) {
            best_err = err;
            best_q = q;
        }
    }
    return best_q;
}
