/*
 * sniff.h - recognise image formats by their first bytes, and read the
 * declared dimensions of JPEG and PNG headers without decoding pixels.
 * Also: whether a PNG's IHDR chunk matches its CRC.
 *
 * Pure functions on caller-supplied buffers: no I/O, no allocation, safe on
 * any input (they are fuzzed).
 */
#ifndef IMGPOOL_SNIFF_H
#define IMGPOOL_SNIFF_H

#include <stddef.h>
#include <stdint.h>

enum img_format {
    IMGF_UNKNOWN = 0,
    IMGF_JPEG,
    IMGF_PNG,
    IMGF_GIF,
    IMGF_WEBP,
    IMGF_TIFF,
    IMGF_HEIF,    /* HEIC / AVIF (ISO BMFF "ftyp") */
    IMGF_BMP,
    IMGF_JP2,
    IMGF_PSD,
    IMGF_PNM,
    IMGF_OTHER_IMAGE, /* recognised as an image, no loader planned */
    IMGF_SVG,     /* SVG text: "<svg" after an optional XML prolog */
    IMGF_JXL,     /* JPEG XL: a bare codestream (FF 0A) or the ISO BMFF
                     container (signature box "JXL ") */
};

/* Bytes a caller should read to let sniff_format() decide.  Binary
 * signatures need the first 32; an SVG's "<svg" may follow an XML
 * declaration, comments and a DOCTYPE, so more is read (one read of the
 * first page costs the same either way).  An SVG whose prolog is longer
 * is still recognised from a longer buffer, up to SNIFF_SVG_WINDOW (the
 * worker reads the first 256 KiB), and by its .svg name in the scan. */
#define SNIFF_BYTES 1024

/* How far into a text file sniff_format() looks for "<svg": past a DOCTYPE
 * whose internal subset declares many entities, as some editors write. */
#define SNIFF_SVG_WINDOW (64 * 1024)

/* Format named by the signature at the start of @buf (@len may be short). */
enum img_format sniff_format(const unsigned char *buf, size_t len);
const char *img_format_str(enum img_format f);
/* The name a person knows @f by ("JPEG 2000", "HEIC/AVIF"); NULL for
 * IMGF_UNKNOWN and IMGF_OTHER_IMAGE.  --help, the README and the man page
 * list these (test_help checks). */
const char *img_format_name(enum img_format f);
/* 1 when libvips reads @f only with a loader it marks untrusted (BMP,
 * JPEG 2000, PSD, PNM): such files fail untrusted-format unless
 * --allow-untrusted. */
int img_format_untrusted(enum img_format f);
/* One past the last enum img_format, for loops over the table. */
#define IMGF__COUNT (IMGF_JXL + 1)

/*
 * What a JPEG header says: dimensions, components, chroma subsampling, and
 * what the fast path needs to know (EXIF orientation, embedded ICC profile,
 * Adobe transform, progressive/arithmetic coding).
 */
struct jpeg_info {
    int width, height;
    int components;     /* 1 gray, 3 YCbCr/RGB, 4 CMYK/YCCK */
    int precision;      /* bits per sample: 8, or 12 (or 16) */
    int h_samp[4], v_samp[4];
    int progressive;
    int arithmetic;
    int lossless;
    int hierarchical;   /* differential frames (SOF5..7, SOF13..15) */
    int orientation;    /* EXIF 1..8, 1 when absent or invalid */
    int has_icc;
    int has_adobe;
    int adobe_transform;
    int has_exif, has_xmp, has_iptc;
    int qtable_luma[64];   /* first quantisation table, natural order */
    int have_qtable;
};

/*
 * Parse markers from SOI up to and including the first SOF (and every
 * APPn/DQT before it) in @buf.  Returns 0 when a SOF was found, -1 when the
 * data is not a JPEG or ends before one.
 */
int sniff_jpeg_info(const unsigned char *buf, size_t len,
                    struct jpeg_info *info);

/*
 * The quality @info's first table was scaled for: when it is one of
 * imgpool's own tables (jpegq.h, what --effort best writes) that table's
 * quality, else the libjpeg-style quality (1..100) whose scaled standard
 * luminance table best matches it; -1 when no table was seen.
 */
int sniff_jpeg_quality(const struct jpeg_info *info);

/* Width and height from a PNG IHDR.  0 on success, -1 if malformed. */
int sniff_png_size(const unsigned char *buf, size_t len, int *w, int *h);

/*
 * Whether the IHDR chunk of the PNG in @buf matches its CRC: 0 when it
 * does, -1 with errno EBADMSG when the CRC differs (a damaged critical
 * header: its dimensions cannot be trusted) or EINVAL when @buf holds no
 * complete IHDR chunk.
 */
int sniff_png_ihdr_crc(const unsigned char *buf, size_t len);

/* Width and height from a GIF logical screen descriptor.  0 / -1. */
int sniff_gif_size(const unsigned char *buf, size_t len, int *w, int *h);

#endif
