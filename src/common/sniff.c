/*
 * sniff.c - image formats from magic bytes, and JPEG/PNG/GIF headers read
 * without decoding.
 *
 * The scanner uses sniff_format() to decide whether a file with an unknown
 * extension is an image; the planner uses sniff_jpeg_info() and
 * sniff_jpeg_quality() to see what a JPEG already is (size, orientation,
 * colour profile, how it was compressed) before paying for a decode.
 *
 * Everything here reads untrusted bytes, so every access is checked against
 * the caller's length before it happens: all reads go through the small
 * rd_* helpers or are guarded by an explicit "have @n bytes at @pos" test.
 * Nothing allocates and nothing does I/O; the fuzz target in tests/fuzz/
 * exercises these functions directly.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "sniff.h"

/* Big- and little-endian reads; callers have checked the bounds. */
static unsigned
rd_be16(const unsigned char *p)
{
    return (unsigned)p[0] << 8 | p[1];
}

static uint32_t
rd_be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
           (uint32_t)p[2] << 8 | p[3];
}

static unsigned
rd_le16(const unsigned char *p)
{
    return (unsigned)p[1] << 8 | p[0];
}

static uint32_t
rd_le32(const unsigned char *p)
{
    return (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 |
           (uint32_t)p[1] << 8 | p[0];
}

/* True when @buf holds at least @n bytes and they start with @sig. */
static int
has_prefix(const unsigned char *buf, size_t len, const void *sig, size_t n)
{
    return len >= n && memcmp(buf, sig, n) == 0;
}

/* True when @n bytes at @off equal @sig. */
static int
has_at(const unsigned char *buf, size_t len, size_t off, const void *sig,
       size_t n)
{
    return len >= off && len - off >= n && memcmp(buf + off, sig, n) == 0;
}

/* ------------------------------------------------------------------------
 * Format detection
 */

/* ISO BMFF brands (major or compatible) that mean a HEIF still image or
 * image sequence, including AVIF. */
static const char heif_brands[][5] = {
    "heic", "heix", "heim", "heis", "hevc", "hevx", "hevm", "hevs",
    "mif1", "mif2", "msf1", "avif", "avis", "avio",
};

/* ISO BMFF brands of other still-image formats. */
static const char other_bmff_brands[][5] = {
    "crx ",    /* Canon CR3 raw */
    "jxl ",    /* JPEG XL in a container, when ftyp comes first */
    "jpx ",    /* JPEG 2000 part 2, in case the signature box is missing */
};

static int
brand_in(const unsigned char *b, const char (*list)[5], size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        if (memcmp(b, list[i], 4) == 0)
            return 1;
    }
    return 0;
}

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/*
 * An ISO BMFF file starts with an "ftyp" box: size, "ftyp", major brand,
 * minor version, then compatible brands up to the end of the box.  Plain
 * MP4/QuickTime video shares the container, so only image brands count.
 */
static enum img_format
sniff_bmff(const unsigned char *buf, size_t len)
{
    uint32_t boxsize;
    size_t end, off;

    if (len < 12 || memcmp(buf + 4, "ftyp", 4) != 0)
        return IMGF_UNKNOWN;
    boxsize = rd_be32(buf);
    if (boxsize < 12)
        return IMGF_UNKNOWN;

    if (brand_in(buf + 8, heif_brands, NELEM(heif_brands)))
        return IMGF_HEIF;
    if (brand_in(buf + 8, other_bmff_brands, NELEM(other_bmff_brands)))
        return IMGF_OTHER_IMAGE;
    if (memcmp(buf + 8, "jp2 ", 4) == 0)
        return IMGF_JP2;

    end = boxsize < len ? boxsize : len;
    for (off = 16; off + 4 <= end; off += 4) {
        if (brand_in(buf + off, heif_brands, NELEM(heif_brands)))
            return IMGF_HEIF;
    }
    return IMGF_UNKNOWN;
}

/*
 * BMP: "BM", then file size, two reserved words and the pixel offset; the
 * DIB header that follows starts with its own size, one of a few fixed
 * values.  Checking it keeps text files that start with "BM" out.
 */
static int
is_bmp(const unsigned char *buf, size_t len)
{
    uint32_t dib;

    if (len < 18 || buf[0] != 'B' || buf[1] != 'M')
        return 0;
    dib = rd_le32(buf + 14);
    return dib == 12 || dib == 16 || dib == 40 || dib == 52 || dib == 56 ||
           dib == 64 || dib == 108 || dib == 124;
}

static int
is_pnm_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' ||
           c == '\f';
}

/*
 * Netpbm: 'P', a digit 1..7, whitespace, then (after more whitespace) a
 * comment, a number, or for PAM a header keyword.  PFM ("PF"/"Pf") is
 * grouped here too: libvips reads it with the same loader.
 */
static int
is_pnm(const unsigned char *buf, size_t len)
{
    size_t i;

    if (len < 3 || buf[0] != 'P')
        return 0;
    if (!((buf[1] >= '1' && buf[1] <= '7') || buf[1] == 'F' ||
          buf[1] == 'f'))
        return 0;
    if (!is_pnm_space(buf[2]))
        return 0;
    for (i = 3; i < len && is_pnm_space(buf[i]); i++)
        ;
    if (i == len)
        return 1;    /* nothing more to look at: give it the benefit */
    if (buf[i] == '#' || (buf[i] >= '0' && buf[i] <= '9'))
        return 1;
    if (buf[i] == '-' && (buf[1] == 'F' || buf[1] == 'f'))
        return 1;    /* PFM: negative scale means little-endian */
    return buf[1] == '7' && buf[i] >= 'A' && buf[i] <= 'Z';
}

/*
 * Windows icon/cursor: a zero word, type 1 or 2, a non-zero count, and a
 * first directory entry with a zero reserved byte and plausible planes and
 * bit depth.  The magic alone is four bytes of mostly zeros.
 */
static int
is_ico(const unsigned char *buf, size_t len)
{
    unsigned type, count, planes, bpp;

    if (len < 22 || rd_le16(buf) != 0)
        return 0;
    type = rd_le16(buf + 2);
    count = rd_le16(buf + 4);
    if ((type != 1 && type != 2) || count == 0 || buf[9] != 0)
        return 0;
    planes = rd_le16(buf + 10);
    bpp = rd_le16(buf + 12);
    if (type == 1 && planes > 1)
        return 0;
    if (type == 1 && bpp != 0 && bpp != 1 && bpp != 4 && bpp != 8 &&
        bpp != 16 && bpp != 24 && bpp != 32)
        return 0;
    /* The image data lies after the directory. */
    return rd_le32(buf + 18) >= 6 + 16 * (uint32_t)count;
}

/* Offset just past the first @n-byte string @s at or after @pos in
 * @buf[0..@len), or 0 when there is none. */
static size_t
skip_past(const unsigned char *buf, size_t len, size_t pos, const char *s,
          size_t n)
{
    while (len >= n && pos <= len - n) {
        if (memcmp(buf + pos, s, n) == 0)
            return pos + n;
        pos++;
    }
    return 0;
}

/* Offset past the DOCTYPE whose body starts at @pos, or 0: an internal
 * subset [...] may hold '>' of its own. */
static size_t
skip_doctype(const unsigned char *buf, size_t len, size_t pos)
{
    while (pos < len && buf[pos] != '>' && buf[pos] != '[')
        pos++;
    if (pos >= len)
        return 0;
    if (buf[pos] == '[') {
        pos = skip_past(buf, len, pos, "]", 1);
        if (!pos)
            return 0;
    }
    return skip_past(buf, len, pos, ">", 1);
}

/*
 * An SVG document: after an optional UTF-8 byte order mark, white space,
 * an XML declaration, processing instructions, comments and a DOCTYPE, the
 * first element is <svg.  Only the first SNIFF_SVG_WINDOW bytes are looked
 * at, so an SVG with a longer prolog is not recognised by content.  Each
 * byte is looked at a bounded number of times: linear in the window.
 */
static int
is_svg(const unsigned char *buf, size_t len)
{
    size_t pos = 0, next;

    if (len > SNIFF_SVG_WINDOW)
        len = SNIFF_SVG_WINDOW;
    if (has_prefix(buf, len, "\xef\xbb\xbf", 3))
        pos = 3;
    for (;;) {
        while (pos < len && (buf[pos] == ' ' || buf[pos] == '\t' ||
                             buf[pos] == '\r' || buf[pos] == '\n'))
            pos++;
        if (pos >= len || buf[pos] != '<')
            return 0;
        if (has_at(buf, len, pos, "<svg", 4))
            return len - pos > 4 && (buf[pos + 4] == ' ' ||
                                     buf[pos + 4] == '\t' ||
                                     buf[pos + 4] == '\r' ||
                                     buf[pos + 4] == '\n' ||
                                     buf[pos + 4] == '>' ||
                                     buf[pos + 4] == '/');
        if (has_at(buf, len, pos, "<?", 2))
            next = skip_past(buf, len, pos + 2, "?>", 2);
        else if (has_at(buf, len, pos, "<!--", 4))
            next = skip_past(buf, len, pos + 4, "-->", 3);
        else if (has_at(buf, len, pos, "<!DOCTYPE", 9))
            next = skip_doctype(buf, len, pos + 9);
        else
            return 0;
        if (!next)
            return 0;
        pos = next;
    }
}

static enum img_format
sniff_other(const unsigned char *buf, size_t len)
{
    static const unsigned char jxl_box[] = {
        0, 0, 0, 0x0c, 'J', 'X', 'L', ' ', 0x0d, 0x0a, 0x87, 0x0a};
    static const unsigned char exr[] = {0x76, 0x2f, 0x31, 0x01};

    if (has_prefix(buf, len, "\xff\x0a", 2))
        return IMGF_OTHER_IMAGE;    /* JPEG XL codestream */
    if (has_prefix(buf, len, jxl_box, sizeof(jxl_box)))
        return IMGF_OTHER_IMAGE;
    if (has_prefix(buf, len, exr, sizeof(exr)))
        return IMGF_OTHER_IMAGE;    /* OpenEXR */
    if (has_prefix(buf, len, "#?RADIANCE\n", 11) ||
        has_prefix(buf, len, "#?RGBE\n", 7))
        return IMGF_OTHER_IMAGE;
    if (has_prefix(buf, len, "SIMPLE  =", 9))
        return IMGF_OTHER_IMAGE;    /* FITS */
    if (has_prefix(buf, len, "qoif", 4) && len >= 14)
        return IMGF_OTHER_IMAGE;
    if (has_prefix(buf, len, "farbfeld", 8))
        return IMGF_OTHER_IMAGE;
    if (has_prefix(buf, len, "DDS \x7c\0\0\0", 8))
        return IMGF_OTHER_IMAGE;
    if (has_prefix(buf, len, "gimp xcf ", 9))
        return IMGF_OTHER_IMAGE;
    if (has_prefix(buf, len, "FUJIFILMCCD-RAW ", 16))
        return IMGF_OTHER_IMAGE;
    if (has_prefix(buf, len, "IIRO\x08\0\0\0", 8) ||
        has_prefix(buf, len, "IIRS\x08\0\0\0", 8) ||
        has_prefix(buf, len, "IIU\0\x08\0\0\0", 8))
        return IMGF_OTHER_IMAGE;    /* Olympus ORF, Panasonic RW2 */
    if (is_ico(buf, len))
        return IMGF_OTHER_IMAGE;
    if (is_svg(buf, len))
        return IMGF_SVG;
    return IMGF_UNKNOWN;
}

enum img_format
sniff_format(const unsigned char *buf, size_t len)
{
    static const unsigned char png_sig[] = {
        0x89, 'P', 'N', 'G', 0x0d, 0x0a, 0x1a, 0x0a};
    static const unsigned char jp2_sig[] = {
        0, 0, 0, 0x0c, 'j', 'P', ' ', ' ', 0x0d, 0x0a, 0x87, 0x0a};
    static const unsigned char j2k_sig[] = {0xff, 0x4f, 0xff, 0x51};
    enum img_format f;

    if (buf == NULL)
        return IMGF_UNKNOWN;
    if (has_prefix(buf, len, "\xff\xd8\xff", 3))
        return IMGF_JPEG;
    if (has_prefix(buf, len, png_sig, sizeof(png_sig)))
        return IMGF_PNG;
    if (has_prefix(buf, len, "GIF87a", 6) || has_prefix(buf, len, "GIF89a", 6))
        return IMGF_GIF;
    if (has_prefix(buf, len, "RIFF", 4) && has_at(buf, len, 8, "WEBP", 4))
        return IMGF_WEBP;
    if (has_prefix(buf, len, "II*\0", 4) || has_prefix(buf, len, "MM\0*", 4))
        return IMGF_TIFF;
    /* BigTIFF: version 43, offset size 8, reserved 0. */
    if (has_prefix(buf, len, "II+\0\x08\0\0\0", 8) ||
        has_prefix(buf, len, "MM\0+\0\x08\0\0", 8))
        return IMGF_TIFF;
    if (has_prefix(buf, len, jp2_sig, sizeof(jp2_sig)) ||
        has_prefix(buf, len, j2k_sig, sizeof(j2k_sig)))
        return IMGF_JP2;
    f = sniff_bmff(buf, len);
    if (f != IMGF_UNKNOWN)
        return f;
    if (has_prefix(buf, len, "8BPS\0\x01", 6) ||
        has_prefix(buf, len, "8BPS\0\x02", 6))
        return IMGF_PSD;
    if (is_bmp(buf, len))
        return IMGF_BMP;
    if (is_pnm(buf, len))
        return IMGF_PNM;
    return sniff_other(buf, len);
}

const char *
img_format_str(enum img_format f)
{
    switch (f) {
    case IMGF_UNKNOWN:
        return "unknown";
    case IMGF_JPEG:
        return "jpeg";
    case IMGF_PNG:
        return "png";
    case IMGF_GIF:
        return "gif";
    case IMGF_WEBP:
        return "webp";
    case IMGF_TIFF:
        return "tiff";
    case IMGF_HEIF:
        return "heif";
    case IMGF_BMP:
        return "bmp";
    case IMGF_JP2:
        return "jp2";
    case IMGF_PSD:
        return "psd";
    case IMGF_PNM:
        return "pnm";
    case IMGF_OTHER_IMAGE:
        return "other";
    case IMGF_SVG:
        return "svg";
    }
    return "unknown";
}

const char *
img_format_name(enum img_format f)
{
    static const char *const names[IMGF__COUNT] = {
        [IMGF_JPEG] = "JPEG",   [IMGF_PNG] = "PNG",
        [IMGF_GIF] = "GIF",     [IMGF_WEBP] = "WebP",
        [IMGF_TIFF] = "TIFF",   [IMGF_HEIF] = "HEIC/AVIF",
        [IMGF_BMP] = "BMP",     [IMGF_JP2] = "JPEG 2000",
        [IMGF_PSD] = "PSD",     [IMGF_PNM] = "PNM",
        [IMGF_SVG] = "SVG",
    };

    return (unsigned)f < IMGF__COUNT ? names[f] : NULL;
}

int
img_format_untrusted(enum img_format f)
{
    return f == IMGF_BMP || f == IMGF_JP2 || f == IMGF_PSD ||
           f == IMGF_PNM;
}

/* ------------------------------------------------------------------------
 * JPEG headers
 */

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

/* ------------------------------------------------------------------------
 * PNG and GIF
 */

int
sniff_png_size(const unsigned char *buf, size_t len, int *w, int *h)
{
    uint32_t pw, ph;

    if (buf == NULL || sniff_format(buf, len) != IMGF_PNG || len < 24)
        return -1;
    /* The first chunk must be IHDR, 13 bytes long. */
    if (rd_be32(buf + 8) != 13 || memcmp(buf + 12, "IHDR", 4) != 0)
        return -1;
    pw = rd_be32(buf + 16);
    ph = rd_be32(buf + 20);
    if (pw == 0 || ph == 0 || pw > INT32_MAX || ph > INT32_MAX)
        return -1;
    if (w != NULL)
        *w = (int)pw;
    if (h != NULL)
        *h = (int)ph;
    return 0;
}

/* CRC-32 as PNG (and zlib) computes it, bit by bit: 17 bytes per file. */
static uint32_t
png_crc(const unsigned char *p, size_t n)
{
    uint32_t c = 0xffffffffu;
    size_t i;
    int k;

    for (i = 0; i < n; i++) {
        c ^= p[i];
        for (k = 0; k < 8; k++)
            c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
    }
    return c ^ 0xffffffffu;
}

int
sniff_png_ihdr_crc(const unsigned char *buf, size_t len)
{
    /* signature 8, length 4, "IHDR" 4, data 13, CRC 4 */
    if (buf == NULL || sniff_format(buf, len) != IMGF_PNG || len < 33 ||
        rd_be32(buf + 8) != 13 || memcmp(buf + 12, "IHDR", 4) != 0) {
        errno = EINVAL;
        return -1;
    }
    if (png_crc(buf + 12, 17) != rd_be32(buf + 29)) {
        errno = EBADMSG;
        return -1;
    }
    return 0;
}

int
sniff_gif_size(const unsigned char *buf, size_t len, int *w, int *h)
{
    unsigned gw, gh;

    if (buf == NULL || sniff_format(buf, len) != IMGF_GIF || len < 10)
        return -1;
    gw = rd_le16(buf + 6);
    gh = rd_le16(buf + 8);
    if (gw == 0 || gh == 0)
        return -1;
    if (w != NULL)
        *w = (int)gw;
    if (h != NULL)
        *h = (int)gh;
    return 0;
}
