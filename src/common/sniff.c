/*
 * sniff.c - image formats from magic bytes, and PNG/GIF headers read
 * without decoding.
 *
 * The scanner uses sniff_format() to decide whether a file with an unknown
 * extension is an image; the planner uses sniff_jpeg_info() and
 * sniff_jpeg_quality() (sniff_jpeg.c) to see what a JPEG already is (size,
 * orientation, colour profile, how it was compressed) before paying for a
 * decode.
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
#include "sniff_int.h"

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
    /* JPEG XL in a container whose ftyp box comes first (the signature
     * box is checked in sniff_format()). */
    if (memcmp(buf + 8, "jxl ", 4) == 0)
        return IMGF_JXL;
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
    static const unsigned char exr[] = {0x76, 0x2f, 0x31, 0x01};

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
    /* JPEG XL: the container's signature box, or a bare codestream. */
    static const unsigned char jxl_box[] = {
        0, 0, 0, 0x0c, 'J', 'X', 'L', ' ', 0x0d, 0x0a, 0x87, 0x0a};
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
    if (has_prefix(buf, len, jxl_box, sizeof(jxl_box)) ||
        has_prefix(buf, len, "\xff\x0a", 2))
        return IMGF_JXL;
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
    case IMGF_JXL:
        return "jxl";
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
        [IMGF_SVG] = "SVG",     [IMGF_JXL] = "JPEG XL",
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
