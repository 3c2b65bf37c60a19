/*
 * meta.c - complete the metadata libvips 8.14's loaders leave behind (see
 * meta.h): EXIF from TIFF files, XMP from HEIF files (every image's:
 * heifxmp.h).
 *
 * The TIFF copier reads IFDs entry by entry with bounded reads (at most
 * META_MAX_ENTRIES entries an IFD, META_MAX_EXIF bytes in all: what one
 * JPEG APP1 segment holds) and writes a new TIFF structure in the file's
 * own byte order, so every value is copied byte for byte and only offsets
 * are rewritten.  A sub-IFD inside the EXIF IFD (interoperability) is not
 * copied.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <vips/vips.h>

#include "byteorder.h"
#include "heifxmp.h"
#include "meta.h"
#include "util.h"
#include "warn.h"

#define META_MAX_ENTRIES 512
#define META_MAX_EXIF 65000        /* an APP1 segment, less its header */
#define META_MAX_HEIF (256 << 20)  /* HEIF files read whole for XMP */

#define TAG_EXIF_IFD 0x8769
#define TAG_GPS_IFD 0x8825
#define TAG_INTEROP_IFD 0xA005

struct ent {
    unsigned tag, type;
    uint32_t count;
    unsigned char *data;        /* count * type size bytes */
    size_t size;
};

struct ifd {
    struct ent *e;
    size_t n;
};

struct tiffsrc {
    meta_read_fn read;
    void *arg;
    size_t filelen;
    int le;
};

/* Bytes of one value of TIFF type @type, or 0 for an unknown type. */
static size_t
type_size(unsigned type)
{
    static const unsigned char sizes[] = {0, 1, 1, 2, 4, 8, 1, 1, 2, 4, 8,
                                          4, 8, 4};
    return type < sizeof(sizes) ? sizes[type] : 0;
}

/* The IFD0 tags that describe the picture rather than its pixels. */
static int
keep_ifd0_tag(unsigned tag)
{
    switch (tag) {
    case 0x010E:    /* ImageDescription */
    case 0x010F:    /* Make */
    case 0x0110:    /* Model */
    case 0x0131:    /* Software */
    case 0x0132:    /* DateTime */
    case 0x013B:    /* Artist */
    case 0x8298:    /* Copyright */
        return 1;
    default:
        return 0;
    }
}

static void
ifd_free(struct ifd *d)
{
    for (size_t i = 0; i < d->n; i++)
        free(d->e[i].data);
    free(d->e);
    d->e = NULL;
    d->n = 0;
}

/* Read one entry at @p (12 bytes) of @src into @e.  0, or -1. */
static int
read_entry(const struct tiffsrc *src, const unsigned char *p, struct ent *e)
{
    size_t ts;

    e->tag = bo_get16(p, src->le);
    e->type = bo_get16(p + 2, src->le);
    e->count = bo_get32(p + 4, src->le);
    ts = type_size(e->type);
    if (!ts || e->count > META_MAX_EXIF / ts)
        return -1;
    e->size = ts * e->count;
    e->data = malloc(e->size ? e->size : 1);
    if (!e->data)
        return -1;
    if (e->size <= 4) {
        memcpy(e->data, p + 8, e->size);
        return 0;
    }
    uint32_t off = bo_get32(p + 8, src->le);
    if (off > src->filelen || e->size > src->filelen - off ||
        src->read(src->arg, off, e->data, e->size) < 0) {
        free(e->data);
        e->data = NULL;
        return -1;
    }
    return 0;
}

/* Read the IFD at @off, keeping the entries @keep accepts (all when NULL);
 * *@exif, *@gps receive the sub-IFD offsets (0 when absent).  0, or -1. */
static int
read_ifd(const struct tiffsrc *src, uint32_t off, int (*keep)(unsigned),
         struct ifd *d, uint32_t *exif, uint32_t *gps)
{
    unsigned char b[12];
    unsigned n;

    d->e = NULL;
    d->n = 0;
    if (off > src->filelen || src->filelen - off < 2 ||
        src->read(src->arg, off, b, 2) < 0)
        return -1;
    n = bo_get16(b, src->le);
    if (n > META_MAX_ENTRIES)
        return -1;
    d->e = calloc(n ? n : 1, sizeof(*d->e));
    if (!d->e)
        return -1;
    for (unsigned i = 0; i < n; i++) {
        size_t at = (size_t)off + 2 + (size_t)i * 12;
        struct ent e;
        if (at + 12 > src->filelen || src->read(src->arg, at, b, 12) < 0)
            break;
        unsigned tag = bo_get16(b, src->le);
        if (tag == TAG_EXIF_IFD || tag == TAG_GPS_IFD) {
            uint32_t *dst = tag == TAG_EXIF_IFD ? exif : gps;
            if (dst)
                *dst = bo_get32(b + 8, src->le);
            continue;
        }
        if (tag == TAG_INTEROP_IFD || (keep && !keep(tag)))
            continue;
        if (read_entry(src, b, &e) == 0)
            d->e[d->n++] = e;
    }
    return 0;
}

/* Bytes the IFD @d takes when written, with @extra pointer entries. */
static size_t
ifd_bytes(const struct ifd *d, unsigned extra)
{
    size_t n = 2 + 12 * (d->n + extra) + 4;

    for (size_t i = 0; i < d->n; i++)
        if (d->e[i].size > 4)
            n += (d->e[i].size + 1) & ~(size_t)1;
    return n;
}

/* Write @d at @base (an offset from the TIFF header at @tiff), with the
 * pointer entries @ptag/@pval (@np of them, tags above every other). */
static void
ifd_write(unsigned char *tiff, size_t base, const struct ifd *d, int le,
          const unsigned *ptag, const uint32_t *pval, unsigned np)
{
    unsigned char *p = tiff + base;
    size_t data = base + 2 + 12 * (d->n + np) + 4;

    bo_put16(p, (unsigned)(d->n + np), le);
    p += 2;
    for (size_t i = 0; i < d->n; i++, p += 12) {
        const struct ent *e = &d->e[i];
        bo_put16(p, e->tag, le);
        bo_put16(p + 2, e->type, le);
        bo_put32(p + 4, e->count, le);
        memset(p + 8, 0, 4);
        if (e->size <= 4) {
            memcpy(p + 8, e->data, e->size);
            continue;
        }
        bo_put32(p + 8, (uint32_t)data, le);
        memcpy(tiff + data, e->data, e->size);
        data += (e->size + 1) & ~(size_t)1;
    }
    for (unsigned i = 0; i < np; i++, p += 12) {
        bo_put16(p, ptag[i], le);
        bo_put16(p + 2, 4, le);
        bo_put32(p + 4, 1, le);
        bo_put32(p + 8, pval[i], le);
    }
    bo_put32(p, 0, le);
}

/* Remove the entry @tag from @d.  1 when there was one. */
static int
drop_tag(struct ifd *d, unsigned tag)
{
    for (size_t i = 0; i < d->n; i++)
        if (d->e[i].tag == tag) {
            free(d->e[i].data);
            memmove(&d->e[i], &d->e[i + 1], (d->n - i - 1) * sizeof(*d->e));
            d->n--;
            return 1;
        }
    return 0;
}

/* Lay out IFD0 + EXIF IFD + GPS IFD into a new APP1 payload. */
static unsigned char *
build(const struct ifd *d0, const struct ifd *dx, const struct ifd *dg,
      int le, size_t *len)
{
    unsigned ptag[2];
    uint32_t pval[2];
    unsigned np = 0;
    size_t o0 = 8, ox, og, total;
    unsigned char *buf;

    np = (dx->n > 0) + (dg->n > 0);
    ox = o0 + ifd_bytes(d0, np);
    og = ox + (dx->n ? ifd_bytes(dx, 0) : 0);
    total = og + (dg->n ? ifd_bytes(dg, 0) : 0);
    if (total > META_MAX_EXIF)
        return NULL;
    buf = calloc(1, 6 + total);
    if (!buf)
        return NULL;
    memcpy(buf, "Exif\0\0", 6);
    memcpy(buf + 6, le ? "II*\0" : "MM\0*", 4);
    bo_put32(buf + 10, (uint32_t)o0, le);
    np = 0;
    if (dx->n) {
        ptag[np] = TAG_EXIF_IFD;
        pval[np++] = (uint32_t)ox;
        ifd_write(buf + 6, ox, dx, le, NULL, NULL, 0);
    }
    if (dg->n) {
        ptag[np] = TAG_GPS_IFD;
        pval[np++] = (uint32_t)og;
        ifd_write(buf + 6, og, dg, le, NULL, NULL, 0);
    }
    ifd_write(buf + 6, o0, d0, le, ptag, pval, np);
    *len = 6 + total;
    return buf;
}

unsigned char *
meta_tiff_exif(meta_read_fn read, void *arg, size_t filelen, size_t *len)
{
    struct tiffsrc src = {read, arg, filelen, 0};
    struct ifd d0 = {0}, dx = {0}, dg = {0};
    unsigned char h[8];
    uint32_t exif = 0, gps = 0;
    unsigned char *out = NULL;

    if (filelen < 8 || read(arg, 0, h, 8) < 0)
        return NULL;
    if (memcmp(h, "II*\0", 4) == 0)
        src.le = 1;
    else if (memcmp(h, "MM\0*", 4) != 0)
        return NULL;            /* not classic TIFF (BigTIFF, other) */
    if (read_ifd(&src, bo_get32(h + 4, src.le), keep_ifd0_tag, &d0, &exif,
                 &gps) == 0 &&
        (!exif || read_ifd(&src, exif, NULL, &dx, NULL, NULL) == 0) &&
        (!gps || read_ifd(&src, gps, NULL, &dg, NULL, NULL) == 0) &&
        d0.n + dx.n + dg.n > 0) {
        out = build(&d0, &dx, &dg, src.le, len);
        if (!out && drop_tag(&dx, 0x927C))      /* MakerNote: the bulk */
            out = build(&d0, &dx, &dg, src.le, len);
    }
    ifd_free(&d0);
    ifd_free(&dx);
    ifd_free(&dg);
    return out;
}

/* meta_read_fn over a file descriptor. */
static int
fd_read(void *arg, size_t off, void *buf, size_t n)
{
    return input_pread_full(*(const int *)arg, buf, n, (int64_t)off);
}

/* A TIFF source: its EXIF, when libvips has none for it. */
static void
complete_tiff(const struct input *in, VipsImage *img)
{
    unsigned char *blob;
    size_t len;
    int fd = in->fd;

    if (vips_image_get_typeof(img, VIPS_META_EXIF_NAME))
        return;
    blob = meta_tiff_exif(fd_read, &fd, (size_t)in->size, &len);
    if (!blob)
        return;
    vips_image_set_blob_copy(img, VIPS_META_EXIF_NAME, blob, len);
    free(blob);
}

/* A HEIF source: the XMP of every image it holds (heifxmp.h), joined
 * with what libvips found on the primary image. */
static void
complete_heif(const struct input *in, VipsImage *img, struct task_result *res)
{
    const void *have = NULL;
    size_t have_len = 0, len;
    char *xmp = NULL;
    void *buf;
    int fd = in->fd, dropped = 0, rc;

    if (in->size <= 0 || in->size > META_MAX_HEIF)
        return;
    if (vips_image_get_typeof(img, VIPS_META_XMP_NAME) &&
        vips_image_get_blob(img, VIPS_META_XMP_NAME, &have, &have_len) < 0)
        have = NULL;
    buf = malloc((size_t)in->size);
    if (!buf)
        return;
    rc = fd_read(&fd, 0, buf, (size_t)in->size) < 0
             ? -1
             : heifxmp_gather(buf, (size_t)in->size, have, have_len, &xmp,
                              &len, &dropped);
    free(buf);
    if (rc < 0 && !have)
        warn_append(res, "XMP not kept: cannot read the HEIF container");
    if (rc == 1) {
        vips_image_set_blob_copy(img, VIPS_META_XMP_NAME, xmp, len);
        free(xmp);
    }
    if (dropped)
        warn_append(res, "XMP of a secondary HEIF image not kept: no "
                    "rdf:RDF element to join");
}

/* Warn about what the encoder will drop: PNG text chunks. */
static void
warn_dropped(VipsImage *img, struct task_result *res)
{
    gchar **fields = vips_image_get_fields(img);
    size_t ncomments = 0;
    char msg[128];

    for (int i = 0; fields[i]; i++)
        if (vips_isprefix("png-comment-", fields[i]))
            ncomments++;
    g_strfreev(fields);
    if (ncomments) {
        snprintf(msg, sizeof(msg), "%zu PNG text chunk%s not kept: JPEG "
                 "has no place for them", ncomments, ncomments == 1 ? "" : "s");
        warn_append(res, msg);
    }
}

/*
 * IPTC for a JPEG: an APP13 segment holds Photoshop image resources
 * ("Photoshop 3.0", then 8BIM blocks), the IPTC records in resource
 * 0x0404.  libvips hands a TIFF's IPTC over as the bare records, which it
 * would write into APP13 as they are, where no reader finds them: wrap
 * them in the resource block first.
 */
static void
wrap_iptc(VipsImage *img)
{
    static const char ps[] = "Photoshop 3.0";     /* with its NUL */
    const void *data;
    size_t len, n;
    unsigned char *buf;

    if (!vips_image_get_typeof(img, VIPS_META_IPTC_NAME) ||
        vips_image_get_blob(img, VIPS_META_IPTC_NAME, &data, &len) ||
        len == 0 || len > 60000 ||
        (len >= sizeof(ps) && memcmp(data, ps, sizeof(ps)) == 0))
        return;
    n = sizeof(ps) + 4 + 2 + 2 + 4 + len + (len & 1);
    buf = calloc(1, n);
    if (!buf)
        return;
    memcpy(buf, ps, sizeof(ps));
    memcpy(buf + sizeof(ps), "8BIM", 4);
    buf[sizeof(ps) + 4] = 0x04;                 /* resource 0x0404 */
    buf[sizeof(ps) + 5] = 0x04;
    /* an empty Pascal name, padded to even: two zero bytes */
    for (int i = 0; i < 4; i++)
        buf[sizeof(ps) + 8 + i] = (unsigned char)(len >> (24 - 8 * i));
    memcpy(buf + sizeof(ps) + 12, data, len);
    vips_image_set_blob_copy(img, VIPS_META_IPTC_NAME, buf, n);
    free(buf);
}

void
meta_complete(enum out_format format, const struct input *in,
              VipsImage *img, struct task_result *res)
{
    if (in->fmt == IMGF_TIFF)
        complete_tiff(in, img);
    else if (in->fmt == IMGF_HEIF)
        complete_heif(in, img, res);
    if (format == FORMAT_JPEG) {
        wrap_iptc(img);
        warn_dropped(img, res);
    }
}
