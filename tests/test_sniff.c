/*
 * test_sniff.c - magic-byte detection and header parsing on byte arrays
 * built by hand, so that each case shows exactly which bytes it is about.
 *
 * Buffers handed to the parsers are heap copies of the exact length: a read
 * one byte past the end is then an AddressSanitizer error in sanitised
 * builds instead of a silent success.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sniff.h"

/* ------------------------------------------------------------------------
 * A tiny JPEG header builder
 */

struct jb {
    unsigned char buf[4096];
    size_t len;
};

static void
jb_bytes(struct jb *b, const void *p, size_t n)
{
    cr_assert(b->len + n <= sizeof(b->buf));
    memcpy(b->buf + b->len, p, n);
    b->len += n;
}

static void
jb_byte(struct jb *b, unsigned v)
{
    unsigned char c = (unsigned char)v;
    jb_bytes(b, &c, 1);
}

static void
jb_be16(struct jb *b, unsigned v)
{
    jb_byte(b, v >> 8);
    jb_byte(b, v & 0xff);
}

static void
jb_init(struct jb *b)
{
    b->len = 0;
    jb_byte(b, 0xff);
    jb_byte(b, 0xd8);
}

/* One marker segment: FF, code, length, payload. */
static void
jb_segment(struct jb *b, unsigned marker, const void *payload, size_t n)
{
    jb_byte(b, 0xff);
    jb_byte(b, marker);
    jb_be16(b, (unsigned)n + 2);
    jb_bytes(b, payload, n);
}

/* A frame header: @nc components, the first with sampling @h0 x @v0. */
static void
jb_sof(struct jb *b, unsigned marker, unsigned w, unsigned h, unsigned nc,
       unsigned h0, unsigned v0)
{
    unsigned char p[6 + 3 * 4];
    unsigned i;

    p[0] = 8;
    p[1] = (unsigned char)(h >> 8);
    p[2] = (unsigned char)h;
    p[3] = (unsigned char)(w >> 8);
    p[4] = (unsigned char)w;
    p[5] = (unsigned char)nc;
    for (i = 0; i < nc; i++) {
        p[6 + 3 * i] = (unsigned char)(i + 1);
        p[6 + 3 * i + 1] = i == 0 ? (unsigned char)(h0 << 4 | v0) : 0x11;
        p[6 + 3 * i + 2] = i == 0 ? 0 : 1;
    }
    jb_segment(b, marker, p, 6 + 3 * nc);
}

static void
jb_eoi(struct jb *b)
{
    jb_byte(b, 0xff);
    jb_byte(b, 0xd9);
}

/* Exact-size heap copy of the first @n bytes, so overreads are caught. */
static unsigned char *
dup_n(const void *p, size_t n)
{
    unsigned char *q = malloc(n ? n : 1);
    cr_assert_not_null(q);
    if (n)
        memcpy(q, p, n);
    return q;
}

static int
parse(const struct jb *b, size_t n, struct jpeg_info *info)
{
    unsigned char *copy = dup_n(b->buf, n);
    int r = sniff_jpeg_info(copy, n, info);
    free(copy);
    return r;
}

static enum img_format
fmt_of(const void *p, size_t n)
{
    unsigned char *copy = dup_n(p, n);
    enum img_format f = sniff_format(copy, n);
    free(copy);
    return f;
}

#define FMT(lit) fmt_of(lit, sizeof(lit) - 1)

/* ------------------------------------------------------------------------
 * sniff_format
 */

Test(sniff, signatures)
{
    cr_assert_eq(FMT("\xff\xd8\xff\xe0\0\x10JFIF\0"), IMGF_JPEG);
    cr_assert_eq(FMT("\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR"), IMGF_PNG);
    cr_assert_eq(FMT("GIF87a\x01\0\x01\0"), IMGF_GIF);
    cr_assert_eq(FMT("GIF89a\x01\0\x01\0"), IMGF_GIF);
    cr_assert_eq(FMT("RIFF\x24\0\0\0WEBPVP8 "), IMGF_WEBP);
    cr_assert_eq(FMT("II*\0\x08\0\0\0"), IMGF_TIFF);
    cr_assert_eq(FMT("MM\0*\0\0\0\x08"), IMGF_TIFF);
    cr_assert_eq(FMT("II+\0\x08\0\0\0\x10\0\0\0\0\0\0\0"), IMGF_TIFF);
    cr_assert_eq(FMT("MM\0+\0\x08\0\0\0\0\0\0\0\0\0\x10"), IMGF_TIFF);
    cr_assert_eq(FMT("\0\0\0\x18" "ftypheic\0\0\0\0mif1heic"), IMGF_HEIF);
    cr_assert_eq(FMT("\0\0\0\x1c" "ftypavif\0\0\0\0avifmif1miaf"), IMGF_HEIF);
    /* Image brand only among the compatible ones. */
    cr_assert_eq(FMT("\0\0\0\x18" "ftypmsf1\0\0\0\0msf1hevc"), IMGF_HEIF);
    cr_assert_eq(FMT("\0\0\0\x18" "ftypmiaf\0\0\0\0avifmiaf"), IMGF_HEIF);
    cr_assert_eq(FMT("BM\x36\0\0\0\0\0\0\0\x36\0\0\0\x28\0\0\0"), IMGF_BMP);
    cr_assert_eq(FMT("\0\0\0\x0cjP  \r\n\x87\n\0\0\0\x14" "ftypjp2 "),
                 IMGF_JP2);
    cr_assert_eq(FMT("\xff\x4f\xff\x51\0\x2f"), IMGF_JP2);
    cr_assert_eq(FMT("8BPS\0\x01\0\0\0\0\0\0"), IMGF_PSD);
    cr_assert_eq(FMT("8BPS\0\x02\0\0\0\0\0\0"), IMGF_PSD);
    cr_assert_eq(FMT("P1\n2 2\n0 1\n1 0\n"), IMGF_PNM);
    cr_assert_eq(FMT("P5 640 480 255\n"), IMGF_PNM);
    cr_assert_eq(FMT("P6\n# made by hand\n1 1\n255\n"), IMGF_PNM);
    cr_assert_eq(FMT("P7\nWIDTH 4\nHEIGHT 4\n"), IMGF_PNM);
    cr_assert_eq(FMT("PF\n1 1\n-1.0\n"), IMGF_PNM);
}

/* JPEG XL: the bare codestream, the container's signature box, and a
 * container whose ftyp box (brand "jxl ") comes first. */
Test(sniff, jpeg_xl)
{
    cr_assert_eq(FMT("\xff\x0a\xff\x07"), IMGF_JXL);
    cr_assert_eq(FMT("\0\0\0\x0cJXL \r\n\x87\n"), IMGF_JXL);
    cr_assert_eq(FMT("\0\0\0\x14" "ftypjxl \0\0\0\0jxl "), IMGF_JXL);
    cr_assert_eq(FMT("\xff\x0b"), IMGF_UNKNOWN);
    cr_assert_eq(FMT("\0\0\0\x0cJXL \r\n\x87\x0b"), IMGF_UNKNOWN);
    cr_assert_str_eq(img_format_str(IMGF_JXL), "jxl");
    cr_assert_str_eq(img_format_name(IMGF_JXL), "JPEG XL");
}

Test(sniff, other_images)
{
    cr_assert_eq(FMT("\x76\x2f\x31\x01\x02\0\0\0"), IMGF_OTHER_IMAGE);
    cr_assert_eq(FMT("#?RADIANCE\nFORMAT=32-bit_rle_rgbe\n"),
                 IMGF_OTHER_IMAGE);
    cr_assert_eq(FMT("qoif\0\0\0\x10\0\0\0\x10\x04\0"), IMGF_OTHER_IMAGE);
    cr_assert_eq(FMT("\0\0\x01\0\x01\0\x10\x10\0\0\x01\0\x20\0"
                     "\x68\x04\0\0\x16\0\0\0"),
                 IMGF_OTHER_IMAGE);    /* ICO, one 16x16 32-bit entry */
    cr_assert_eq(FMT("\0\0\0\x18" "ftypcrx \0\0\0\x01" "crx isom"),
                 IMGF_OTHER_IMAGE);
}

Test(sniff, not_images)
{
    cr_assert_eq(sniff_format(NULL, 0), IMGF_UNKNOWN);
    cr_assert_eq(fmt_of("", 0), IMGF_UNKNOWN);
    cr_assert_eq(FMT("\xff"), IMGF_UNKNOWN);
    cr_assert_eq(FMT("\xff\xd8"), IMGF_UNKNOWN);       /* too short */
    cr_assert_eq(FMT("\x89PNG\r\n"), IMGF_UNKNOWN);
    cr_assert_eq(FMT("GIF90a"), IMGF_UNKNOWN);
    cr_assert_eq(FMT("RIFF\x24\0\0\0WAVEfmt "), IMGF_UNKNOWN);
    cr_assert_eq(FMT("\0\0\0\x18" "ftypisom\0\0\x02\0isomiso2"),
                 IMGF_UNKNOWN);                          /* MP4 video */
    cr_assert_eq(FMT("BMW owners club newsletter, issue 4"), IMGF_UNKNOWN);
    cr_assert_eq(FMT("P1 priority: fix the build"), IMGF_UNKNOWN);
    cr_assert_eq(FMT("P5"), IMGF_UNKNOWN);
    cr_assert_eq(FMT("8BPS\0\x07"), IMGF_UNKNOWN);
    cr_assert_eq(FMT("hello, world\n"), IMGF_UNKNOWN);
    cr_assert_eq(FMT("%PDF-1.7\n"), IMGF_UNKNOWN);
    cr_assert_eq(FMT("\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0"),
                 IMGF_UNKNOWN);
}

Test(sniff, every_prefix_is_safe)
{
    static const struct {
        const char *s;
        size_t n;
    } sigs[] = {
        {"\0\0\0\x1c" "ftypavif\0\0\0\0avifmif1miaf", 28},
        {"BM\x36\0\0\0\0\0\0\0\x36\0\0\0\x28\0\0\0", 18},
        {"\0\0\x01\0\x01\0\x10\x10\0\0\x01\0\x20\0"
         "\x68\x04\0\0\x16\0\0\0", 22},
        {"P7\nWIDTH 4\n", 11},
        {"\xff\xd8\xff", 3},
    };
    size_t i, n;

    /* A prefix of a signature is never an overread, and the whole one is
     * still recognised. */
    for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
        for (n = 0; n <= sigs[i].n; n++)
            (void)fmt_of(sigs[i].s, n);
        cr_assert_neq(fmt_of(sigs[i].s, sigs[i].n), IMGF_UNKNOWN, "sig %zu",
                      i);
    }
}

Test(sniff, format_names)
{
    cr_assert_str_eq(img_format_str(IMGF_JPEG), "jpeg");
    cr_assert_str_eq(img_format_str(IMGF_HEIF), "heif");
    cr_assert_str_eq(img_format_str(IMGF_OTHER_IMAGE), "other");
    cr_assert_str_eq(img_format_str(IMGF_UNKNOWN), "unknown");
    cr_assert_str_eq(img_format_str((enum img_format)999), "unknown");
}

/* ------------------------------------------------------------------------
 * sniff_jpeg_info: frame headers
 */

Test(sniff, jpeg_sof_dimensions)
{
    struct jb b;
    struct jpeg_info info;

    jb_init(&b);
    jb_segment(&b, 0xe0, "JFIF\0\x01\x01\0\0\x01\0\x01\0\0", 14);
    jb_sof(&b, 0xc0, 640, 480, 3, 2, 2);
    jb_eoi(&b);
    cr_assert_eq(parse(&b, b.len, &info), 0);
    cr_assert_eq(info.width, 640);
    cr_assert_eq(info.height, 480);
    cr_assert_eq(info.components, 3);
    cr_assert_eq(info.h_samp[0], 2);
    cr_assert_eq(info.v_samp[0], 2);
    cr_assert_eq(info.h_samp[1], 1);
    cr_assert_eq(info.v_samp[2], 1);
    cr_assert_eq(info.progressive, 0);
    cr_assert_eq(info.arithmetic, 0);
    cr_assert_eq(info.lossless, 0);
    cr_assert_eq(info.orientation, 1);
    cr_assert_eq(info.has_exif + info.has_icc + info.has_adobe, 0);
    cr_assert_eq(info.have_qtable, 0);
    cr_assert_eq(sniff_jpeg_quality(&info), -1);

    /* Largest dimensions a JPEG can declare. */
    jb_init(&b);
    jb_sof(&b, 0xc1, 65535, 65535, 1, 1, 1);
    cr_assert_eq(parse(&b, b.len, &info), 0);
    cr_assert_eq(info.width, 65535);
    cr_assert_eq(info.height, 65535);
    cr_assert_eq(info.components, 1);
}

Test(sniff, jpeg_sof_kinds)
{
    static const struct {
        unsigned marker;
        int prog, arith, lossless;
    } k[] = {
        {0xc0, 0, 0, 0}, {0xc1, 0, 0, 0}, {0xc2, 1, 0, 0}, {0xc3, 0, 0, 1},
        {0xc5, 0, 0, 0}, {0xc6, 1, 0, 0}, {0xc7, 0, 0, 1}, {0xc9, 0, 1, 0},
        {0xca, 1, 1, 0}, {0xcb, 0, 1, 1}, {0xcd, 0, 1, 0}, {0xce, 1, 1, 0},
        {0xcf, 0, 1, 1},
    };
    size_t i;

    for (i = 0; i < sizeof(k) / sizeof(k[0]); i++) {
        struct jb b;
        struct jpeg_info info;

        jb_init(&b);
        jb_sof(&b, k[i].marker, 8, 8, 4, 1, 1);
        cr_assert_eq(parse(&b, b.len, &info), 0, "SOF %02x", k[i].marker);
        cr_assert_eq(info.progressive, k[i].prog, "SOF %02x", k[i].marker);
        cr_assert_eq(info.arithmetic, k[i].arith, "SOF %02x", k[i].marker);
        cr_assert_eq(info.lossless, k[i].lossless, "SOF %02x", k[i].marker);
        cr_assert_eq(info.components, 4);
    }
}

Test(sniff, jpeg_dht_jpg_dac_are_not_frames)
{
    static const unsigned not_sof[] = {0xc4, 0xc8, 0xcc};
    size_t i;

    for (i = 0; i < 3; i++) {
        struct jb b;
        struct jpeg_info info;

        /* Shaped like a frame header, but must be skipped. */
        jb_init(&b);
        jb_sof(&b, not_sof[i], 11, 22, 1, 1, 1);
        cr_assert_eq(parse(&b, b.len, &info), -1);
        jb_sof(&b, 0xc0, 33, 44, 1, 1, 1);
        cr_assert_eq(parse(&b, b.len, &info), 0);
        cr_assert_eq(info.width, 33);
        cr_assert_eq(info.height, 44);
    }
}

Test(sniff, jpeg_fill_bytes_and_standalone_markers)
{
    struct jb b;
    struct jpeg_info info;

    jb_init(&b);
    jb_bytes(&b, "\xff\xff\xff", 3);       /* fill before a marker */
    jb_segment(&b, 0xe0, "JFIF\0", 5);
    jb_bytes(&b, "\xff\x01", 2);           /* TEM */
    jb_bytes(&b, "\xff\xd0\xff\xd7", 4);   /* RST0, RST7 */
    jb_bytes(&b, "\xff\xff", 2);
    jb_sof(&b, 0xc2, 100, 50, 3, 1, 1);
    cr_assert_eq(parse(&b, b.len, &info), 0);
    cr_assert_eq(info.width, 100);
    cr_assert_eq(info.height, 50);
    cr_assert_eq(info.progressive, 1);
}

Test(sniff, jpeg_stops_at_sos_or_eoi)
{
    struct jb b;
    struct jpeg_info info;

    jb_init(&b);
    jb_segment(&b, 0xda, "\x01\x01\0\0\x3f\0", 6);
    jb_sof(&b, 0xc0, 10, 10, 1, 1, 1);
    cr_assert_eq(parse(&b, b.len, &info), -1);

    jb_init(&b);
    jb_eoi(&b);
    jb_sof(&b, 0xc0, 10, 10, 1, 1, 1);
    cr_assert_eq(parse(&b, b.len, &info), -1);
}

Test(sniff, jpeg_not_jpeg_or_empty)
{
    struct jpeg_info info;
    unsigned char empty[1] = {0};

    cr_assert_eq(sniff_jpeg_info(empty, 0, &info), -1);
    cr_assert_eq(sniff_jpeg_info(NULL, 0, &info), -1);
    cr_assert_eq(sniff_jpeg_info(NULL, 100, &info), -1);
    cr_assert_eq(sniff_jpeg_info((const unsigned char *)"\xff\xd8", 2, &info),
                 -1);
    cr_assert_eq(sniff_jpeg_info((const unsigned char *)"\x89PNG\r\n\x1a\n",
                                 8, &info),
                 -1);
    cr_assert_eq(info.orientation, 1);
}

Test(sniff, jpeg_length_past_end)
{
    struct jb b;
    struct jpeg_info info;

    /* APP1 declares 1000 bytes, the buffer ends long before. */
    jb_init(&b);
    jb_bytes(&b, "\xff\xe1\x03\xe8" "Exif\0\0II*\0", 14);
    cr_assert_eq(parse(&b, b.len, &info), -1);

    /* SOF declares more components than it carries. */
    jb_init(&b);
    jb_bytes(&b, "\xff\xc0\0\x11\x08\0\x10\0\x10\x03\x01\x22\0", 13);
    cr_assert_eq(parse(&b, b.len, &info), -1);

    /* A segment length below 2 is malformed. */
    jb_init(&b);
    jb_bytes(&b, "\xff\xe0\0\x01", 4);
    jb_sof(&b, 0xc0, 10, 10, 1, 1, 1);
    cr_assert_eq(parse(&b, b.len, &info), -1);

    /* Zero width or zero components. */
    jb_init(&b);
    jb_sof(&b, 0xc0, 0, 10, 1, 1, 1);
    cr_assert_eq(parse(&b, b.len, &info), -1);
    jb_init(&b);
    jb_bytes(&b, "\xff\xc0\0\x08\x08\0\x10\0\x10\0", 10);
    cr_assert_eq(parse(&b, b.len, &info), -1);
}

Test(sniff, jpeg_every_truncation)
{
    static const unsigned char dqt[65] = {0};
    struct jb b;
    struct jpeg_info info;
    size_t n, sof_end;

    jb_init(&b);
    jb_segment(&b, 0xe1, "Exif\0\0MM\0*\0\0\0\x08\0\x01\x01\x12\0\x03\0\0\0"
                         "\x01\0\x06\0\0\0\0\0\0",
               32);
    jb_segment(&b, 0xe2, "ICC_PROFILE\0\x01\x01", 14);
    jb_segment(&b, 0xdb, dqt, sizeof(dqt));
    jb_sof(&b, 0xc0, 300, 200, 3, 2, 1);
    sof_end = b.len;
    jb_eoi(&b);

    for (n = 0; n <= b.len; n++) {
        int r = parse(&b, n, &info);
        cr_assert_eq(r, n >= sof_end ? 0 : -1, "n=%zu", n);
    }
    cr_assert_eq(info.orientation, 6);
    cr_assert_eq(info.has_icc, 1);
    cr_assert_eq(info.h_samp[0], 2);
    cr_assert_eq(info.v_samp[0], 1);
}

/* ------------------------------------------------------------------------
 * sniff_jpeg_info: APP segments
 */

/* An APP1 Exif payload with IFD0 holding one entry. */
static size_t
exif_payload(unsigned char *p, int little, unsigned type, unsigned value)
{
    static const unsigned char le[] = {
        'E', 'x', 'i', 'f', 0, 0,
        'I', 'I', 42, 0, 8, 0, 0, 0,           /* TIFF header */
        2, 0,                                  /* two entries */
        0x0f, 0x01, 2, 0, 4, 0, 0, 0, 'A', 'c', 'm', 0,   /* Make */
        0x12, 0x01, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0,         /* Orientation */
        0, 0, 0, 0,
    };
    static const unsigned char be[] = {
        'E', 'x', 'i', 'f', 0, 0,
        'M', 'M', 0, 42, 0, 0, 0, 8,
        0, 2,
        0x01, 0x0f, 0, 2, 0, 0, 0, 4, 'A', 'c', 'm', 0,
        0x01, 0x12, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0,
        0, 0, 0, 0,
    };
    size_t e = 6 + 8 + 2 + 12;    /* the orientation entry */

    if (little) {
        memcpy(p, le, sizeof(le));
        p[e + 2] = (unsigned char)type;
        p[e + 8] = (unsigned char)value;
        p[e + 9] = (unsigned char)(value >> 8);
    } else {
        memcpy(p, be, sizeof(be));
        p[e + 3] = (unsigned char)type;
        p[e + 8] = (unsigned char)(value >> 8);
        p[e + 9] = (unsigned char)value;
    }
    return sizeof(le);
}

static int
orientation_of(int little, unsigned type, unsigned value)
{
    unsigned char payload[64];
    size_t n = exif_payload(payload, little, type, value);
    struct jb b;
    struct jpeg_info info;

    jb_init(&b);
    jb_segment(&b, 0xe1, payload, n);
    jb_sof(&b, 0xc0, 16, 16, 3, 1, 1);
    cr_assert_eq(parse(&b, b.len, &info), 0);
    cr_assert_eq(info.has_exif, 1);
    return info.orientation;
}

Test(sniff, jpeg_exif_orientation_both_byte_orders)
{
    unsigned v;

    for (v = 1; v <= 8; v++) {
        cr_assert_eq(orientation_of(1, 3, v), (int)v, "II %u", v);
        cr_assert_eq(orientation_of(0, 3, v), (int)v, "MM %u", v);
    }
    /* Out of range, or not a SHORT: treated as absent. */
    cr_assert_eq(orientation_of(1, 3, 0), 1);
    cr_assert_eq(orientation_of(0, 3, 9), 1);
    cr_assert_eq(orientation_of(1, 3, 0x0106), 1);
    cr_assert_eq(orientation_of(0, 4, 6), 1);
}

Test(sniff, jpeg_exif_malformed)
{
    static const unsigned char cases[][24] = {
        /* IFD0 offset far past the end of the segment. */
        {'E', 'x', 'i', 'f', 0, 0, 'I', 'I', 42, 0, 0xff, 0xff, 0, 0},
        /* IFD0 offset pointing into the header. */
        {'E', 'x', 'i', 'f', 0, 0, 'M', 'M', 0, 42, 0, 0, 0, 2},
        /* Entry count larger than the data. */
        {'E', 'x', 'i', 'f', 0, 0, 'I', 'I', 42, 0, 8, 0, 0, 0, 0xff, 0xff,
         0x12, 0x01, 3, 0},
        /* Bad byte order / magic. */
        {'E', 'x', 'i', 'f', 0, 0, 'I', 'M', 42, 0, 8, 0, 0, 0},
        {'E', 'x', 'i', 'f', 0, 0, 'I', 'I', 43, 0, 8, 0, 0, 0},
        /* Header cut short. */
        {'E', 'x', 'i', 'f', 0, 0, 'I', 'I'},
    };
    static const size_t lens[] = {14, 14, 20, 14, 14, 8};
    size_t i;

    for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
        struct jb b;
        struct jpeg_info info;

        jb_init(&b);
        jb_segment(&b, 0xe1, cases[i], lens[i]);
        jb_sof(&b, 0xc0, 16, 16, 3, 1, 1);
        cr_assert_eq(parse(&b, b.len, &info), 0, "case %zu", i);
        cr_assert_eq(info.orientation, 1, "case %zu", i);
    }
}

Test(sniff, jpeg_metadata_flags)
{
    static const char xmp[] = "http://ns.adobe.com/xap/1.0/\0<x:xmpmeta/>";
    static const unsigned char adobe[] = {
        'A', 'd', 'o', 'b', 'e', 0, 100, 0, 0, 0, 0, 2};
    struct jb b;
    struct jpeg_info info;

    jb_init(&b);
    jb_segment(&b, 0xe1, xmp, sizeof(xmp) - 1);
    jb_segment(&b, 0xed, "Photoshop 3.0\08BIM\x04\x04", 20);
    jb_segment(&b, 0xe2, "ICC_PROFILE\0\x01\x01", 14);
    jb_segment(&b, 0xee, adobe, sizeof(adobe));
    jb_sof(&b, 0xc0, 16, 16, 4, 1, 1);
    cr_assert_eq(parse(&b, b.len, &info), 0);
    cr_assert_eq(info.has_xmp, 1);
    cr_assert_eq(info.has_iptc, 1);
    cr_assert_eq(info.has_icc, 1);
    cr_assert_eq(info.has_adobe, 1);
    cr_assert_eq(info.adobe_transform, 2);
    cr_assert_eq(info.has_exif, 0);

    /* Look-alikes do not count; a short Adobe segment is ignored. */
    jb_init(&b);
    jb_segment(&b, 0xe1, "http://ns.adobe.com/xap/1.0", 27);
    jb_segment(&b, 0xe2, "ICC_PROFILE", 11);
    jb_segment(&b, 0xe3, "ICC_PROFILE\0\x01\x01", 14);
    jb_segment(&b, 0xee, "Adobe\0\x64", 7);
    jb_segment(&b, 0xed, "Photoshop 2.5\0", 14);
    jb_sof(&b, 0xc0, 16, 16, 3, 1, 1);
    cr_assert_eq(parse(&b, b.len, &info), 0);
    cr_assert_eq(info.has_xmp + info.has_icc + info.has_adobe, 0);
    cr_assert_eq(info.has_iptc, 0);
}

/* ------------------------------------------------------------------------
 * Quantisation tables and quality
 */

static const unsigned char natural_of[64] = {
    0,  1,  8,  16, 9,  2,  3,  10, 17, 24, 32, 25, 18, 11, 4,  5,
    12, 19, 26, 33, 40, 48, 41, 34, 27, 20, 13, 6,  7,  14, 21, 28,
    35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51,
    58, 59, 52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63,
};

static const int annex_k_luma[64] = {
    16, 11, 10, 16, 24,  40,  51,  61,  12, 12, 14, 19, 26,  58,  60,  55,
    14, 13, 16, 24, 40,  57,  69,  56,  14, 17, 22, 29, 51,  87,  80,  62,
    18, 22, 37, 56, 68,  109, 103, 77,  24, 35, 55, 64, 81,  104, 113, 92,
    49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99,
};

static const int annex_k_chroma[64] = {
    17, 18, 24, 47, 99, 99, 99, 99, 18, 21, 26, 66, 99, 99, 99, 99,
    24, 26, 56, 99, 99, 99, 99, 99, 47, 66, 99, 99, 99, 99, 99, 99,
    99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99,
    99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99,
};

/* What cjpeg -quality @q writes, in natural order. */
static void
ijg_table(const int *base, int q, int *out)
{
    int scale = q < 50 ? 5000 / q : 200 - 2 * q;
    int i;

    for (i = 0; i < 64; i++) {
        int v = (base[i] * scale + 50) / 100;
        out[i] = v < 1 ? 1 : v > 255 ? 255 : v;
    }
}

/* A DQT payload entry for table @id, 8-bit, from a natural-order table. */
static void
dqt_entry(unsigned char *p, unsigned id, const int *natural)
{
    int k;

    p[0] = (unsigned char)id;
    for (k = 0; k < 64; k++)
        p[1 + k] = (unsigned char)natural[natural_of[k]];
}

static int
quality_of_build(int q)
{
    int luma[64], chroma[64];
    unsigned char dqt[2 * 65];
    struct jb b;
    struct jpeg_info info;

    ijg_table(annex_k_luma, q, luma);
    ijg_table(annex_k_chroma, q, chroma);
    /* Both tables in one segment, chroma first to make order matter. */
    dqt_entry(dqt, 1, chroma);
    dqt_entry(dqt + 65, 0, luma);
    jb_init(&b);
    jb_segment(&b, 0xdb, dqt, sizeof(dqt));
    jb_sof(&b, 0xc0, 64, 64, 3, 2, 2);
    cr_assert_eq(parse(&b, b.len, &info), 0);
    cr_assert_eq(info.have_qtable, 1);
    cr_assert_eq(memcmp(info.qtable_luma, luma, sizeof(luma)), 0,
                 "q=%d: table not in natural order", q);
    return sniff_jpeg_quality(&info);
}

Test(sniff, jpeg_quality_estimate)
{
    static const int qs[] = {50, 75, 90, 95, 1, 10, 25, 49, 51, 99, 100};
    size_t i;

    for (i = 0; i < sizeof(qs) / sizeof(qs[0]); i++)
        cr_assert_eq(quality_of_build(qs[i]), qs[i], "q=%d", qs[i]);
}

Test(sniff, jpeg_dqt_zigzag_to_natural)
{
    unsigned char dqt[65];
    struct jb b;
    struct jpeg_info info;
    int k;

    dqt[0] = 0;
    for (k = 0; k < 64; k++)
        dqt[1 + k] = (unsigned char)(k + 1);    /* zigzag position + 1 */
    jb_init(&b);
    jb_segment(&b, 0xdb, dqt, sizeof(dqt));
    jb_sof(&b, 0xc0, 8, 8, 1, 1, 1);
    cr_assert_eq(parse(&b, b.len, &info), 0);
    cr_assert_eq(info.qtable_luma[0], 1);
    cr_assert_eq(info.qtable_luma[1], 2);     /* (0,1) */
    cr_assert_eq(info.qtable_luma[8], 3);     /* (1,0) */
    cr_assert_eq(info.qtable_luma[16], 4);    /* (2,0) */
    cr_assert_eq(info.qtable_luma[9], 5);
    cr_assert_eq(info.qtable_luma[2], 6);
    cr_assert_eq(info.qtable_luma[7], 29);    /* end of row 0 */
    cr_assert_eq(info.qtable_luma[56], 36);   /* start of row 7 */
    cr_assert_eq(info.qtable_luma[63], 64);
}

Test(sniff, jpeg_dqt_16bit_and_placement)
{
    unsigned char dqt[1 + 128];
    int luma[64];
    struct jb b;
    struct jpeg_info info;
    int k;

    /* 16-bit precision table 0 holding libjpeg's q=75 values. */
    ijg_table(annex_k_luma, 75, luma);
    dqt[0] = 0x10;
    for (k = 0; k < 64; k++) {
        dqt[1 + 2 * k] = 0;
        dqt[2 + 2 * k] = (unsigned char)luma[natural_of[k]];
    }
    jb_init(&b);
    jb_sof(&b, 0xc0, 8, 8, 1, 1, 1);
    /* After the frame header is allowed too. */
    jb_segment(&b, 0xdb, dqt, sizeof(dqt));
    cr_assert_eq(parse(&b, b.len, &info), 0);
    cr_assert_eq(info.have_qtable, 1);
    cr_assert_eq(sniff_jpeg_quality(&info), 75);

    /* Values above 255 survive. */
    dqt[1] = 0x01;
    dqt[2] = 0x2c;
    jb_init(&b);
    jb_segment(&b, 0xdb, dqt, sizeof(dqt));
    jb_sof(&b, 0xc0, 8, 8, 1, 1, 1);
    cr_assert_eq(parse(&b, b.len, &info), 0);
    cr_assert_eq(info.qtable_luma[0], 300);
}

Test(sniff, jpeg_dqt_malformed)
{
    unsigned char dqt[65] = {0};
    struct jb b;
    struct jpeg_info info;

    dqt[0] = 0x20;    /* precision 2 does not exist */
    jb_init(&b);
    jb_segment(&b, 0xdb, dqt, sizeof(dqt));
    jb_sof(&b, 0xc0, 8, 8, 1, 1, 1);
    cr_assert_eq(parse(&b, b.len, &info), -1);

    dqt[0] = 0x04;    /* table slot 4 does not exist */
    jb_init(&b);
    jb_segment(&b, 0xdb, dqt, sizeof(dqt));
    jb_sof(&b, 0xc0, 8, 8, 1, 1, 1);
    cr_assert_eq(parse(&b, b.len, &info), -1);

    dqt[0] = 0x10;    /* 16-bit table needs 128 bytes, has 64 */
    jb_init(&b);
    jb_segment(&b, 0xdb, dqt, sizeof(dqt));
    jb_sof(&b, 0xc0, 8, 8, 1, 1, 1);
    cr_assert_eq(parse(&b, b.len, &info), -1);
}

Test(sniff, jpeg_quality_needs_table)
{
    struct jpeg_info info;

    memset(&info, 0, sizeof(info));
    cr_assert_eq(sniff_jpeg_quality(&info), -1);
    cr_assert_eq(sniff_jpeg_quality(NULL), -1);
}

/* ------------------------------------------------------------------------
 * PNG and GIF
 */

static int
png_size(const void *p, size_t n, int *w, int *h)
{
    unsigned char *copy = dup_n(p, n);
    int r = sniff_png_size(copy, n, w, h);
    free(copy);
    return r;
}

#define PNG_SIG "\x89PNG\r\n\x1a\n"

Test(sniff, png_ihdr)
{
    static const char ok[] = PNG_SIG "\0\0\0\x0dIHDR\0\0\x02\x80\0\0\x01\xe0"
                                     "\x08\x02\0\0\0";
    static const char big[] = PNG_SIG "\0\0\0\x0dIHDR\x7f\xff\xff\xff"
                                      "\0\0\0\x01\x08\x02\0\0\0";
    int w = 0, h = 0;
    size_t n;

    cr_assert_eq(png_size(ok, sizeof(ok) - 1, &w, &h), 0);
    cr_assert_eq(w, 640);
    cr_assert_eq(h, 480);
    cr_assert_eq(png_size(big, sizeof(big) - 1, &w, &h), 0);
    cr_assert_eq(w, 2147483647);
    cr_assert_eq(h, 1);

    /* Anything shorter than the width and height is malformed. */
    for (n = 0; n < 24; n++)
        cr_assert_eq(png_size(ok, n, &w, &h), -1, "n=%zu", n);
    cr_assert_eq(png_size(ok, 24, &w, &h), 0);
}

Test(sniff, png_ihdr_malformed)
{
    static const char *const bad[] = {
        PNG_SIG "\0\0\0\x0dIHDR\0\0\0\0\0\0\x01\xe0",         /* width 0 */
        PNG_SIG "\0\0\0\x0dIHDR\0\0\x02\x80\0\0\0\0",         /* height 0 */
        PNG_SIG "\0\0\0\x0dIHDR\x80\0\0\0\0\0\0\x01",         /* 2^31 */
        PNG_SIG "\0\0\0\x0dIHDR\0\0\0\x01\xff\xff\xff\xff",
        PNG_SIG "\0\0\0\x0cIHDR\0\0\0\x01\0\0\0\x01",         /* length */
        PNG_SIG "\0\0\0\x0dIDAT\0\0\0\x01\0\0\0\x01",         /* not first */
        "\x89PNG\r\n\x1a\x0b\0\0\0\x0dIHDR\0\0\0\x01\0\0\0\x01",
    };
    size_t i;
    int w, h;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        cr_assert_eq(png_size(bad[i], 24, &w, &h), -1, "case %zu", i);
    cr_assert_eq(sniff_png_size(NULL, 0, &w, &h), -1);
}

Test(sniff, gif_screen)
{
    int w = 0, h = 0;
    unsigned char *p = dup_n("GIF89a\x40\x01\xf0\0\xf7\0\0", 13);

    cr_assert_eq(sniff_gif_size(p, 13, &w, &h), 0);
    cr_assert_eq(w, 320);
    cr_assert_eq(h, 240);
    cr_assert_eq(sniff_gif_size(p, 9, &w, &h), -1);
    free(p);
    p = dup_n("GIF87a\0\0\x01\0", 10);
    cr_assert_eq(sniff_gif_size(p, 10, &w, &h), -1);
    free(p);
    p = dup_n("GIF88a\x01\0\x01\0", 10);
    cr_assert_eq(sniff_gif_size(p, 10, &w, &h), -1);
    free(p);
}

/* ------------------------------------------------------------------------
 * SVG by content, and the PNG IHDR CRC
 */

Test(sniff, svg_documents)
{
    cr_assert_eq(FMT("<svg xmlns=\"http://www.w3.org/2000/svg\"/>"),
                 IMGF_SVG);
    cr_assert_eq(FMT("<svg>"), IMGF_SVG);
    cr_assert_eq(FMT("\xef\xbb\xbf\n  <svg\n width=\"1\">"), IMGF_SVG);
    cr_assert_eq(FMT("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                     "<!-- drawn by hand <svg> -->\n"
                     "<!DOCTYPE svg PUBLIC \"-//W3C//DTD SVG 1.1//EN\" "
                     "\"http://www.w3.org/Graphics/SVG/1.1/DTD/svg11.dtd\">\n"
                     "<svg width=\"10\" height=\"10\"></svg>"),
                 IMGF_SVG);
    /* An internal DTD subset may hold '>' of its own. */
    cr_assert_eq(FMT("<?xml version=\"1.0\"?><!DOCTYPE svg [ <!ENTITY a "
                     "\"<b>\"> ]><?xml-stylesheet href=\"a.css\"?><svg/>"),
                 IMGF_SVG);
    cr_assert_str_eq(img_format_str(IMGF_SVG), "svg");
}

Test(sniff, svg_lookalikes)
{
    static char big[SNIFF_SVG_WINDOW + 64];

    cr_assert_eq(FMT("<html><svg></svg></html>"), IMGF_UNKNOWN);
    cr_assert_eq(FMT("<?xml version=\"1.0\"?><root><svg/></root>"),
                 IMGF_UNKNOWN);
    cr_assert_eq(FMT("<svgfoo>"), IMGF_UNKNOWN);
    cr_assert_eq(FMT("<svg"), IMGF_UNKNOWN);     /* no end to the name */
    cr_assert_eq(FMT("text <svg>"), IMGF_UNKNOWN);
    cr_assert_eq(FMT("<!-- never closed <svg>"), IMGF_UNKNOWN);
    cr_assert_eq(FMT("<?xml version=\"1.0\""), IMGF_UNKNOWN);
    cr_assert_eq(FMT("<!DOCTYPE svg [ <svg> "), IMGF_UNKNOWN);
    /* "<svg" past the window is not looked for. */
    memset(big, ' ', sizeof(big));
    memcpy(big + SNIFF_SVG_WINDOW, "<svg/>", 6);
    cr_assert_eq(fmt_of(big, sizeof(big)), IMGF_UNKNOWN);
    memcpy(big + SNIFF_SVG_WINDOW - 16, "<svg/>", 6);
    cr_assert_eq(fmt_of(big, sizeof(big)), IMGF_SVG);
}

Test(sniff, svg_every_prefix_is_safe)
{
    static const char doc[] = "\xef\xbb\xbf<?xml version=\"1.0\"?><!-- c -->"
                              "<!DOCTYPE svg [ <!ENTITY a \"b\"> ]><svg/>";
    size_t n;

    for (n = 0; n < sizeof(doc) - 1; n++)
        (void)fmt_of(doc, n);
    cr_assert_eq(fmt_of(doc, sizeof(doc) - 1), IMGF_SVG);
}

Test(sniff, png_ihdr_crc)
{
    /* The 1x1 RGBA IHDR and its CRC. */
    static const char good[] = PNG_SIG "\0\0\0\x0dIHDR\0\0\0\x01\0\0\0\x01"
                                       "\x08\x06\0\0\0\x1f\x15\xc4\x89";
    unsigned char *p = dup_n(good, sizeof(good) - 1);
    size_t n;

    cr_assert_eq(sniff_png_ihdr_crc(p, sizeof(good) - 1), 0);
    /* Any single bit flipped in the type, the data or the CRC. */
    for (n = 12; n < sizeof(good) - 1; n++) {
        p[n] ^= 0x10;
        errno = 0;
        cr_assert_eq(sniff_png_ihdr_crc(p, sizeof(good) - 1), -1, "n=%zu",
                     n);
        /* A changed type is no IHDR at all. */
        cr_assert_eq(errno, n < 16 ? EINVAL : EBADMSG, "n=%zu", n);
        p[n] ^= 0x10;
    }
    free(p);
    for (n = 0; n < sizeof(good) - 1; n++) {
        p = dup_n(good, n);
        errno = 0;
        cr_assert_eq(sniff_png_ihdr_crc(p, n), -1);
        cr_assert_eq(errno, EINVAL);
        free(p);
    }
    cr_assert_eq(sniff_png_ihdr_crc(NULL, 0), -1);
}

/* Some editors declare many entities before the first element: the whole
 * window is searched, not only what the scanner reads. */
Test(sniff, svg_after_a_long_doctype)
{
    static char doc[8192];
    size_t n = 0;

    n += (size_t)snprintf(doc + n, sizeof(doc) - n,
                          "<?xml version=\"1.0\"?>\n<!DOCTYPE svg [\n");
    while (n < 6000)
        n += (size_t)snprintf(doc + n, sizeof(doc) - n,
                              "  <!ENTITY ns_%zu \"http://example.com/%zu\">\n",
                              n, n);
    n += (size_t)snprintf(doc + n, sizeof(doc) - n, "]>\n<svg/>");
    cr_assert_eq(fmt_of(doc, n), IMGF_SVG);
    cr_assert_eq(fmt_of(doc, SNIFF_BYTES), IMGF_UNKNOWN);
}
