/*
 * encode.c - the encode stage; see encode.h.
 *
 * JPEG from rows in memory is libjpeg(-turbo) directly: encoded into memory
 * (libjpeg's own destination), then handed to the commit in one write.
 * Lazy images go through libvips' savers, which pull (and so decode) the
 * pixels strip by strip while writing to the commit's descriptor.  The
 * settings below are the only ones: both encoders read them from struct
 * encode_params.
 */
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <jerror.h>
#include <vips/vips.h>

#include "encode.h"
#include "jenc.h"
#include "jpegerr.h"
#include "jxlsave.h"
#include "pixels.h"
#include "vipsmsg.h"
#include "warn.h"

/* FDCT variant: the accurate one, as libvips uses (see decode_jpeg.c). */
#define ENC_DCT JDCT_ISLOW

/* zlib level for PNG output. */
#define ENC_PNG_COMPRESSION 6

/* What -q 90 means for WebP and AVIF (see encode_quality()). */
#define ENC_WEBP_Q90 91
#define ENC_AVIF_Q90 88

/* libwebp's method: 6, its slowest, saves some 5% at equal quality; a
 * thumbnail is small enough for that to cost little.  Not with an alpha
 * channel: there method 6 also searches the alpha plane's lossless
 * coding exhaustively, 14x the time of method 5 for 9% fewer bytes (ten
 * 300 px RGBA wallpaper thumbnails: 21.5 s against 1.55 s), so such
 * images get method 5. */
#define ENC_WEBP_EFFORT 6
#define ENC_WEBP_EFFORT_ALPHA 5

/* AV1 encoder speed: libheif's 0 (slowest) .. 9; libvips' default 4 costs
 * several times more per thumbnail for a few percent. */
#define ENC_AVIF_EFFORT 2

int
encode_quality(enum out_format f, int q)
{
    int q90 = f == FORMAT_WEBP ? ENC_WEBP_Q90
            : f == FORMAT_AVIF ? ENC_AVIF_Q90 : 90;
    int v;

    if (q <= 90)
        v = 1 + ((q - 1) * (q90 - 1) + 44) / 89;
    else
        v = q90 + ((q - 90) * (100 - q90) + 5) / 10;
    return v < 1 ? 1 : v > 100 ? 100 : v;
}

int
encode_subsample_420(const struct settings *s, int source_420)
{
    switch (s->subsample) {
    case SUBSAMPLE_420:
        return 1;
    case SUBSAMPLE_444:
        return 0;
    default:
        return s->mode == MODE_THUMBNAIL || source_420;
    }
}

void
encode_params_init(struct encode_params *p, const struct settings *s,
                   const struct decoded *d)
{
    memset(p, 0, sizeof(*p));
    p->format = s->target == TARGET_IN_PLACE ? FORMAT_JPEG : s->format;
    p->quality = encode_quality(p->format, s->quality);
    p->lossless = (p->format == FORMAT_WEBP || p->format == FORMAT_JXL) &&
                  s->lossless;
    p->subsample_420 = encode_subsample_420(s, d->source_420);
    p->png_compression = ENC_PNG_COMPRESSION;
    p->baseline = s->baseline;
    p->effort_fast = s->effort == EFFORT_FAST;
    if (s->target == TARGET_IN_PLACE) {
        /* The original, recompressed: its metadata, its orientation tag
         * (the pixels are as stored), its progressive mode. */
        p->strip = 0;
        p->interlace = d->progressive && !s->baseline;
        p->drop_orientation = 0;
        p->drop_gps = s->strip_gps;
    } else {
        p->strip = s->strip;
        p->interlace = p->format == FORMAT_JPEG && s->progressive;
        p->drop_orientation = 1;
        p->drop_gps = 0;
    }
}

void
encode_out_init(struct encode_out *out, struct outfile *of)
{
    out->of = of;
    out->buf = NULL;
    out->len = 0;
    out->buf_glib = 0;
}

void
encode_out_release(struct encode_out *out)
{
    if (out->buf_glib)
        g_free(out->buf);
    else
        free(out->buf);
    encode_out_init(out, out->of);
}

/* ------------------------------------------------------------------ */
/* JPEG through libjpeg                                               */
/* ------------------------------------------------------------------ */

/* The encoder's state; freed by enc_free() on every path. */
struct enc {
    struct jpeg_err err;
    struct jpeg_compress_struct c;
    int have_c;
    unsigned char *row;             /* one RGB row, for the row source */
    unsigned char *jpeg;            /* encoded output (libjpeg's malloc) */
    unsigned long jpeg_len;
};

static void
enc_free(struct enc *e)
{
    if (e->have_c)
        jpeg_destroy_compress(&e->c);
    free(e->row);
    free(e->jpeg);
    free(e);
}

/* Set up and run the compressor.  libjpeg errors longjmp out. */
static void
jpeg_encode(const struct encode_params *p, const struct encode_rows *src,
            struct enc *e)
{
    j_compress_ptr c = &e->c;
    int sub = p->subsample_420 ? 2 : 1;

    jpeg_create_compress(c);
    e->have_c = 1;
    jpeg_mem_dest(c, &e->jpeg, &e->jpeg_len);
    c->image_width = (JDIMENSION)src->width;
    c->image_height = (JDIMENSION)src->height;
    c->input_components = 3;
    c->in_color_space = JCS_RGB;
    jpeg_set_defaults(c);
    jpeg_set_quality(c, p->quality, TRUE);
    c->dct_method = ENC_DCT;
    c->optimize_coding = TRUE;
    if (p->interlace)
        jpeg_simple_progression(c);
    c->comp_info[0].h_samp_factor = sub;
    c->comp_info[0].v_samp_factor = sub;
    c->comp_info[1].h_samp_factor = c->comp_info[1].v_samp_factor = 1;
    c->comp_info[2].h_samp_factor = c->comp_info[2].v_samp_factor = 1;
    jpeg_start_compress(c, TRUE);
    while (c->next_scanline < c->image_height) {
        /* libjpeg only reads the row: casting away const is safe. */
        JSAMPROW row = (JSAMPROW)src->row(src->arg, (int)c->next_scanline,
                                          e->row);

        jpeg_write_scanlines(c, &row, 1);
    }
    jpeg_finish_compress(c);
}

/* jpeg_encode() with its jump target.  0, or -1 with @res failed. */
static int
jpeg_encode_guarded(const struct encode_params *p,
                    const struct encode_rows *src, struct enc *e,
                    struct task_result *res)
{
    /* Everything that may longjmp runs below; state is kept in *e. */
    if (setjmp(e->err.jmp) != 0) {
        task_result_fail(res, e->err.pub.msg_code == JERR_OUT_OF_MEMORY
                                  ? ERR_OUT_OF_MEMORY : ERR_WRITE,
                         "cannot encode output: %s", e->err.msg);
        return -1;
    }
    jpeg_encode(p, src, e);
    return 0;
}

static int
encode_jpeg_rows(const struct encode_params *p, const struct encode_rows *src,
                 struct encode_out *out, struct task_result *res)
{
    struct enc *e = calloc(1, sizeof(*e));
    int rc = -1;

    if (e)
        e->row = malloc((size_t)src->width * 3);
    if (!e || !e->row) {
        task_result_fail(res, ERR_OUT_OF_MEMORY, "cannot allocate encoder");
        if (e)
            enc_free(e);
        return -1;
    }
    e->c.err = jpeg_err_init(&e->err, res, FAIL_NONE);
    if (jpeg_encode_guarded(p, src, e, res) < 0)
        goto out;
    if (out->of) {
        if (outfile_write(out->of, e->jpeg, e->jpeg_len, res) < 0)
            goto out;
    } else {
        out->buf = e->jpeg;
        out->len = e->jpeg_len;
        e->jpeg = NULL;
    }
    rc = 0;
out:
    enc_free(e);
    return rc;
}

/* Rows into memory, wrapped as a libvips image, for the formats that have
 * no direct encoder. */
static int
encode_rows_via_vips(const struct encode_params *p,
                     const struct encode_rows *src, struct encode_out *out,
                     struct task_result *res)
{
    struct pixels px;
    VipsObject *ctx;
    VipsImage *img;
    int y, rc = -1;

    pixels_init(&px);
    if (pixels_alloc(&px, src->width, src->height, 3) < 0) {
        task_result_fail(res, ERR_OUT_OF_MEMORY, "cannot allocate %dx%d "
                         "image", src->width, src->height);
        return -1;
    }
    for (y = 0; y < src->height; y++) {
        unsigned char *dst = pixels_row(&px, y);
        const unsigned char *row = src->row(src->arg, y, dst);

        if (row != dst)
            memcpy(dst, row, px.stride);
    }
    ctx = VIPS_OBJECT(vips_image_new());
    img = vips_image_new_from_memory(px.data, px.stride * px.height,
                                     px.width, px.height, 3,
                                     VIPS_FORMAT_UCHAR);
    if (!img) {
        vipsmsg_fail(res, ERR_OUT_OF_MEMORY, "cannot wrap image");
    } else {
        vips_object_local(ctx, img);
        img->Type = VIPS_INTERPRETATION_sRGB;
        rc = encode_vips(p, ctx, img, out, res);
    }
    g_object_unref(ctx);
    pixels_release(&px);
    return rc;
}

int
encode_rows(const struct encode_params *p, const struct encode_rows *src,
            struct encode_out *out, struct task_result *res)
{
    if (p->format == FORMAT_JPEG && !p->effort_fast)
        return encode_jenc_rows(p, src, out, res);
    if (p->format == FORMAT_JPEG)
        return encode_jpeg_rows(p, src, out, res);
    return encode_rows_via_vips(p, src, out, res);
}

/* ------------------------------------------------------------------ */
/* Lazy images through libvips                                        */
/* ------------------------------------------------------------------ */

static void *
drop_gps(VipsImage *im, const char *name, GValue *value, void *data)
{
    (void)value;
    (void)data;
    if (strncmp(name, "exif-ifd3-", 10) == 0)
        vips_image_remove(im, name);
    return NULL;
}

/* Remove every metadata item of @im, a private copy (the header fields
 * stay: they are not removable).  libvips 8.14's webpsave ignores "strip"
 * and writes what it finds, the EXIF block with its embedded JPEG
 * thumbnail included; with nothing left it writes only a minimal EXIF
 * block (resolution).  Names are listed first: removing while mapping
 * over the fields skips some. */
static void
drop_saved_metadata(VipsImage *im)
{
    gchar **names = vips_image_get_fields(im);
    int i;

    for (i = 0; names[i]; i++)
        vips_image_remove(im, names[i]);
    g_strfreev(names);
}

/* @img with the metadata edits @p asks for (a private copy when there are
 * any), or NULL.  For WebP, stripping is done here (see
 * drop_saved_metadata()). */
static VipsImage *
edit_metadata(const struct encode_params *p, VipsObject *parent,
              VipsImage *img)
{
    VipsImage **t = (VipsImage **)vips_object_local_array(parent, 1);

    if (p->strip && p->format == FORMAT_WEBP) {
        if (vips_copy(img, &t[0], NULL))
            return NULL;
        drop_saved_metadata(t[0]);
        return t[0];
    }
    if (p->strip || (!p->drop_orientation && !p->drop_gps))
        return img;
    if (vips_copy(img, &t[0], NULL))
        return NULL;
    if (p->drop_orientation)
        vips_image_remove(t[0], VIPS_META_ORIENTATION);
    if (p->drop_gps)
        vips_image_map(t[0], drop_gps, NULL);
    return t[0];
}

static int
save_png(const struct encode_params *p, VipsImage *img, VipsTarget *target,
         struct encode_out *out)
{
    if (target)
        return vips_pngsave_target(img, target, "compression",
                                   p->png_compression, "strip", p->strip,
                                   NULL);
    return vips_pngsave_buffer(img, &out->buf, &out->len, "compression",
                               p->png_compression, "strip", p->strip, NULL);
}

/* WebP and AVIF are encoded whole into memory by libwebp and libheif in
 * any case: into a buffer, then one write into the commit. */
static int
save_webp_avif(const struct encode_params *p, VipsImage *img,
               VipsTarget *target, struct encode_out *out)
{
    void *buf = NULL;
    size_t len = 0;
    int rc;

    if (p->format == FORMAT_WEBP)
        rc = vips_webpsave_buffer(img, &buf, &len, "Q", p->quality,
                                  "lossless", p->lossless,
                                  "effort",
                                  vips_image_hasalpha(img)
                                      ? ENC_WEBP_EFFORT_ALPHA
                                      : ENC_WEBP_EFFORT,
                                  "strip", p->strip, NULL);
    else
        rc = vips_heifsave_buffer(img, &buf, &len, "Q", p->quality,
                                  "compression",
                                  VIPS_FOREIGN_HEIF_COMPRESSION_AV1,
                                  "effort", ENC_AVIF_EFFORT,
                                  "subsample_mode",
                                  p->subsample_420
                                      ? VIPS_FOREIGN_SUBSAMPLE_ON
                                      : VIPS_FOREIGN_SUBSAMPLE_OFF,
                                  "strip", p->strip, NULL);
    if (rc)
        return rc;
    if (target) {
        rc = vips_target_write(target, buf, len);
        g_free(buf);
        return rc;
    }
    out->buf = buf;
    out->len = len;
    return 0;
}

static int
save(const struct encode_params *p, VipsImage *img, VipsTarget *target,
     struct encode_out *out)
{
    VipsForeignSubsample sub = p->subsample_420 ? VIPS_FOREIGN_SUBSAMPLE_ON
                                                : VIPS_FOREIGN_SUBSAMPLE_OFF;

    if (p->format == FORMAT_PNG)
        return save_png(p, img, target, out);
    if (p->format == FORMAT_WEBP || p->format == FORMAT_AVIF)
        return save_webp_avif(p, img, target, out);
    if (p->format == FORMAT_JXL)
        return jxlsave_image(img, p->quality, p->lossless, target, &out->buf,
                             &out->len);
    if (target)
        return vips_jpegsave_target(img, target, "Q", p->quality,
                                    "optimize_coding", TRUE,
                                    "interlace", p->interlace,
                                    "subsample_mode", sub,
                                    "strip", p->strip, NULL);
    return vips_jpegsave_buffer(img, &out->buf, &out->len, "Q", p->quality,
                                "optimize_coding", TRUE,
                                "interlace", p->interlace,
                                "subsample_mode", sub,
                                "strip", p->strip, NULL);
}

int
encode_vips(const struct encode_params *p, VipsObject *parent,
            VipsImage *img, struct encode_out *out, struct task_result *res)
{
    VipsTarget *target = NULL;
    int rc;

    img = edit_metadata(p, parent, img);
    if (!img) {
        vipsmsg_fail(res, ERR_DECODE, "cannot copy image");
        return -1;
    }
    if (p->format == FORMAT_JPEG && !p->effort_fast &&
        encode_jenc_takes(img))
        return encode_jenc_vips(p, img, out, res);
    if (out->of) {
        target = vips_target_new_to_descriptor(out->of->fd);
        if (!target) {
            vipsmsg_fail(res, ERR_WRITE, "cannot write output");
            return -1;
        }
    }
    rc = save(p, img, target, out);
    if (target) {
        if (rc == 0)
            rc = vips_target_end(target);
        g_object_unref(target);
    } else if (rc == 0) {
        out->buf_glib = 1;
    }
    if (rc != 0) {
        /* Pixels are decoded lazily, during the save: a damaged input
         * surfaces here too, and is a decode error, not a write error. */
        vipsmsg_fail(res, ERR_DECODE, "cannot decode or encode");
        return -1;
    }
    return 0;
}
