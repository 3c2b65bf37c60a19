/*
 * encode_jenc.c - the encode stage's JPEG through jenc.h (--effort best):
 * rows from memory, or a libvips image rendered into memory.  Metadata
 * is what libvips' own JPEG saver would write: the image is saved once by
 * it, and its marker segments (APPn, COM) are carried into jenc's file,
 * so EXIF updates, ICC, XMP and IPTC stay exactly as on the fast path.
 */
#include <stdlib.h>
#include <string.h>

#include <vips/vips.h>

#include "jenc.h"
#include "jenc_int.h"
#include "vipsmsg.h"

/* The scan mode the parameters ask for. */
static enum jenc_scan
scan_mode(const struct encode_params *p)
{
    if (p->baseline)
        return JENC_SCAN_BASELINE;
    return p->interlace ? JENC_SCAN_PROGRESSIVE : JENC_SCAN_AUTO;
}

/* jenc_encode() into @out (the commit, or memory). */
static int
encode_to(const struct jenc_params *jp, const struct encode_rows *src,
          struct encode_out *out, struct task_result *res)
{
    unsigned char *jpeg;
    unsigned long len;
    int rc;

    if (jenc_encode(jp, src, &jpeg, &len, res) < 0)
        return -1;
    if (!out->of) {
        out->buf = jpeg;
        out->len = len;
        out->buf_glib = 0;
        return 0;
    }
    rc = outfile_write(out->of, jpeg, len, res);
    free(jpeg);
    return rc;
}

int
encode_jenc_rows(const struct encode_params *p, const struct encode_rows *src,
                 struct encode_out *out, struct task_result *res)
{
    struct jenc_params jp;

    memset(&jp, 0, sizeof(jp));
    jp.quality = p->quality;
    jp.subsample_420 = p->subsample_420;
    jp.scan = scan_mode(p);
    jp.allow_grey = 0;      /* direct paths write RGB, grey or not */
    return encode_to(&jp, src, out, res);
}

int
encode_jenc_takes(const VipsImage *img)
{
    return img->BandFmt == VIPS_FORMAT_UCHAR &&
           (img->Bands == 1 || img->Bands == 3) &&
           img->Type != VIPS_INTERPRETATION_CMYK &&
           img->Type != VIPS_INTERPRETATION_LAB;
}

/* Rows of an image in memory (struct jenc_mem_rows): RGB, grey
 * expanded. */
static const unsigned char *
mem_row(void *arg, int y, unsigned char *buf)
{
    const struct jenc_mem_rows *m = arg;
    const unsigned char *r = (const unsigned char *)VIPS_IMAGE_ADDR(
        (VipsImage *)m->img, 0, y);

    if (m->img->Bands == 3)
        return r;
    for (int x = 0; x < m->img->Xsize; x++)
        buf[3 * x] = buf[3 * x + 1] = buf[3 * x + 2] = r[x];
    return buf;
}

#define MAX_MARKERS 256

/* The APPn and COM segments of the JPEG @buf into @mk (at most
 * MAX_MARKERS); their number. */
static int
markers_of(const unsigned char *buf, size_t len, struct jenc_marker *mk)
{
    size_t pos = 2;
    int n = 0;

    while (pos + 4 <= len && buf[pos] == 0xff && n < MAX_MARKERS) {
        int m = buf[pos + 1];
        size_t seg = ((size_t)buf[pos + 2] << 8) | buf[pos + 3];

        if (m == 0xff) {
            pos++;
            continue;
        }
        if (!((m >= 0xe0 && m <= 0xef) || m == 0xfe) || seg < 2 ||
            pos + 2 + seg > len)
            break;
        mk[n].code = m;
        mk[n].data = buf + pos + 4;
        mk[n].len = (unsigned)(seg - 2);
        n++;
        pos += 2 + seg;
    }
    return n;
}

/* Whether a colour profile is among @mk's @n segments. */
static int
has_icc(const struct jenc_marker *mk, int n)
{
    for (int i = 0; i < n; i++)
        if (mk[i].code == 0xe2 && mk[i].len >= 12 &&
            memcmp(mk[i].data, "ICC_PROFILE", 12) == 0)
            return 1;
    return 0;
}

/* Encode @mem (in memory) with the segments of @meta (@meta_len bytes,
 * or none). */
static int
encode_mem(const struct encode_params *p, VipsImage *mem,
           const unsigned char *meta, size_t meta_len,
           struct encode_out *out, struct task_result *res)
{
    struct jenc_marker *mk = calloc(MAX_MARKERS, sizeof(*mk));
    struct jenc_mem_rows m;
    struct jenc_params jp;
    int rc;

    if (!mk) {
        task_result_fail(res, ERR_OUT_OF_MEMORY, "cannot allocate encoder");
        return -1;
    }
    m.img = mem;
    m.src.width = mem->Xsize;
    m.src.height = mem->Ysize;
    m.src.row = mem_row;
    m.src.arg = &m;
    memset(&jp, 0, sizeof(jp));
    jp.quality = p->quality;
    jp.subsample_420 = p->subsample_420;
    jp.scan = scan_mode(p);
    jp.markers = mk;
    jp.nmarkers = meta ? markers_of(meta, meta_len, mk) : 0;
    /* Grey only from a grey image (as libvips writes it); never with a
     * colour profile, which may be an RGB one. */
    jp.allow_grey = mem->Bands == 1 && !has_icc(mk, jp.nmarkers);
    rc = encode_to(&jp, &m.src, out, res);
    free(mk);
    return rc;
}

int
encode_jenc_vips(const struct encode_params *p, VipsImage *img,
                 struct encode_out *out, struct task_result *res)
{
    VipsImage *mem = vips_image_copy_memory(img);
    void *meta = NULL;
    size_t meta_len = 0;
    int rc;

    if (!mem) {
        /* Pixels are decoded here: a damaged input is a decode error. */
        vipsmsg_fail(res, ERR_DECODE, "cannot decode or encode");
        return -1;
    }
    if (!p->strip &&
        vips_jpegsave_buffer(mem, &meta, &meta_len, "Q", p->quality,
                             "subsample_mode", VIPS_FOREIGN_SUBSAMPLE_ON,
                             "strip", FALSE, NULL)) {
        vipsmsg_fail(res, ERR_WRITE, "cannot write output metadata");
        g_object_unref(mem);
        return -1;
    }
    rc = encode_mem(p, mem, meta, meta_len, out, res);
    g_free(meta);
    g_object_unref(mem);
    return rc;
}
