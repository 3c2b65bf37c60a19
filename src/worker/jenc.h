/*
 * jenc.h - imgpool's own JPEG coefficient encoder (--effort best): colour
 * conversion, chroma subsampling, forward DCT, perceptual quantisation
 * tables (jpegq.h) and rate-distortion (trellis) quantisation here; the
 * entropy coding, Huffman optimisation and markers stay libjpeg-turbo's,
 * fed through jpeg_write_coefficients().  The scan script of a
 * progressive file is chosen for size (jenc_scan.c).
 *
 * Call sequence (worker):
 *   struct jenc_params jp = { .quality = 90, .subsample_420 = 1,
 *                             .scan = JENC_SCAN_AUTO };
 *   unsigned char *jpeg; unsigned long len;
 *   if (jenc_encode(&jp, &src, &jpeg, &len, res) == 0) { ... free(jpeg); }
 *
 * The pixels come from encode.h's row source: RGB rows, 8 bits a sample.
 * With allow_grey, an image whose every pixel is grey (R = G = B) is
 * written as a one-component (greyscale) JPEG.  Errors: -1 with @res failed (ERR_WRITE, or
 * ERR_OUT_OF_MEMORY); any size libjpeg accepts (1x1 .. 65500 a side)
 * encodes.
 */
#ifndef IMGPOOL_JENC_H
#define IMGPOOL_JENC_H

#include "encode.h"
#include "task.h"

enum jenc_scan {
    JENC_SCAN_AUTO = 0,     /* baseline or progressive, as jenc_scan.c
                               expects smaller */
    JENC_SCAN_BASELINE,     /* sequential only (--baseline) */
    JENC_SCAN_PROGRESSIVE   /* progressive only (--progressive) */
};

struct jenc_marker {
    int code;                       /* JPEG_APP0 + n, or JPEG_COM */
    const unsigned char *data;      /* borrowed */
    unsigned len;                   /* at most 65533 */
};

struct jenc_params {
    int quality;                    /* 1..100 */
    int subsample_420;              /* else 4:4:4 */
    enum jenc_scan scan;
    int allow_grey;                 /* grey pixels: one component */
    /* Segments written after SOI, in order; the JFIF APP0 of libjpeg
     * is written only when there are none. */
    const struct jenc_marker *markers;
    int nmarkers;
};

/* Encode @src into a new buffer *@out (free()), *@len bytes.  0, or -1
 * with @res failed. */
int jenc_encode(const struct jenc_params *p, const struct encode_rows *src,
                unsigned char **out, unsigned long *len,
                struct task_result *res);

/*
 * encode.c's hooks (encode_jenc.c), for encode_params without
 * effort_fast.  encode_jenc_rows(): as encode_rows() for JPEG.
 * encode_jenc_takes(): whether @img (sRGB or grey, 8-bit, 1 or 3 bands)
 * is one jenc encodes; encode_jenc_vips(): then as encode_vips(), the
 * image rendered into memory first, its metadata segments (EXIF, ICC,
 * XMP, IPTC) the ones libvips' JPEG saver writes for it.
 */
int encode_jenc_rows(const struct encode_params *p,
                     const struct encode_rows *src, struct encode_out *out,
                     struct task_result *res);
struct _VipsImage;
int encode_jenc_takes(const struct _VipsImage *img);
int encode_jenc_vips(const struct encode_params *p, struct _VipsImage *img,
                     struct encode_out *out, struct task_result *res);

#endif
