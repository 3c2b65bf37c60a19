/*
 * encode.h - the encode stage: the one place for output format, quality,
 * chroma subsampling, Huffman optimisation, interlacing and metadata.
 *
 * Call sequence (in a worker):
 *   struct encode_params p;
 *   encode_params_init(&p, s, &decoded);
 *   struct encode_out out;
 *   encode_out_init(&out, &of);       // stream into a commit (outfile.h)
 *   encode_out_init(&out, NULL);      // or into memory: out.buf, out.len
 *   encode_rows(&p, &rows, &out, res);          // pixels in memory
 *   encode_vips(&p, parent, image, &out, res);  // a lazy libvips image
 *   encode_out_release(&out);
 *
 * Both entry points honour the same parameters.  JPEG from memory rows goes
 * through libjpeg(-turbo) directly (no libvips pipeline set-up per file);
 * everything else through libvips' savers, which also copy metadata.  A new
 * output format is a new case here: encode_rows() falls back to wrapping
 * the rows as a libvips image for any format without a direct encoder.
 *
 * Formats: JPEG (libjpeg directly from rows, else vips_jpegsave), PNG
 * (vips_pngsave), WebP (vips_webpsave), AVIF (vips_heifsave with AV1) and
 * JPEG XL (vips_jxlsave, jxlsave.h; a JPEG's lossless transcode is not an
 * encode: transcode.h).
 * -q is one scale, 1..100, for all of them; encode_quality() maps it to
 * each encoder's own (see there and the manual).
 *
 * Errors land in @res: encoder failures are ERR_WRITE (ERR_OUT_OF_MEMORY
 * when libjpeg ran out); with libvips, pixels are decoded lazily during the
 * save, so a failure there is ERR_DECODE ("cannot decode or encode").
 * Writing into the commit may also fail as outfile_write() does.  Encoder
 * warnings are added to @res (warn.h).
 */
#ifndef IMGPOOL_ENCODE_H
#define IMGPOOL_ENCODE_H

#include <stddef.h>

#include "decode.h"
#include "outfile.h"
#include "settings.h"
#include "task.h"

struct encode_params {
    enum out_format format;
    int quality;                /* 1..100, the encoder's own scale
                                   (encode_quality()) */
    int lossless;               /* WebP, JPEG XL: lossless */
    int subsample_420;          /* JPEG chroma 4:2:0, else 4:4:4 */
    int interlace;              /* progressive JPEG */
    int baseline;               /* JPEG: never progressive */
    int effort_fast;            /* JPEG: plain libjpeg-turbo, not jenc.h */
    int strip;                  /* write no metadata at all */
    int drop_orientation;       /* pixels are upright: drop the EXIF tag */
    int drop_gps;               /* drop EXIF GPS fields */
    int png_compression;        /* zlib level */
};

/*
 * The chroma subsampling of a JPEG output: as asked (--subsample), else
 * 4:2:0 for thumbnails and for a source that was 4:2:0 itself
 * (@source_420, see decode.h), 4:4:4 otherwise.
 */
int encode_subsample_420(const struct settings *s, int source_420);

/*
 * The encoder's own quality for -q @q with format @f: one scale for every
 * lossy format, anchored so that the default -q 90 gives each format the
 * quality of JPEG Q90 (measured with butteraugli on photographs, see the
 * manual) at fewer bytes.  Piecewise linear through (1, 1), (90, Q90 of
 * the format), (100, 100): JPEG Q90 -> 90, WebP ENC_WEBP_Q90, AVIF
 * ENC_AVIF_Q90 (encode.c).  PNG ignores it.  JPEG XL keeps -q as it is
 * (its distance comes from jxl_distance(), jxl.h: -q 90 is 1.0).
 */
int encode_quality(enum out_format f, int q);

/* Parameters for an output of @d's image under @s (in place: metadata,
 * orientation and progressive mode kept; otherwise per s->strip, with
 * the orientation baked into the pixels). */
void encode_params_init(struct encode_params *p, const struct settings *s,
                        const struct decoded *d);

struct encode_out {
    struct outfile *of;         /* borrowed: write into it, or NULL */
    void *buf;                  /* without @of: the encoded bytes */
    size_t len;
    int buf_glib;               /* buf came from GLib */
};

void encode_out_init(struct encode_out *out, struct outfile *of);
void encode_out_release(struct encode_out *out);

/*
 * Row source: RGB row @y (asked for in order from 0), either pointing into
 * the caller's data or written to @buf (width * 3 bytes) and returned.  A
 * row returned stays valid while the next is read into another buffer
 * (jenc.h reads two at a time for 4:2:0).
 */
typedef const unsigned char *(*encode_row_fn)(void *arg, int y,
                                              unsigned char *buf);

struct encode_rows {
    int width, height;
    encode_row_fn row;
    void *arg;
};

/* Encode @src (3-band sRGB, no metadata).  0, or -1 with @res failed. */
int encode_rows(const struct encode_params *p, const struct encode_rows *src,
                struct encode_out *out, struct task_result *res);

struct _VipsImage;
struct _VipsObject;

/* Encode @img (intermediates hang off @parent).  0, or -1 with @res
 * failed. */
int encode_vips(const struct encode_params *p, struct _VipsObject *parent,
                struct _VipsImage *img, struct encode_out *out,
                struct task_result *res);

#endif
