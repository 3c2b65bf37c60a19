/*
 * decode.h - the decode stage: an opened input (input.h) to 8-bit pixels at
 * or near the target size, plus what the decoder learnt on the way.
 *
 * Three decoders:
 *   DECODER_JPEG  libjpeg(-turbo) directly: DCT scaling to the smallest
 *                 size that still covers the target, rows streamed on;
 *                 grey, YCbCr and CMYK/YCCK, ICC-tagged or not;
 *   DECODER_PNG   libpng directly: rows expanded to 8-bit RGB(A) and
 *                 streamed on; iCCP-tagged or not;
 *   DECODER_VIPS  libvips for everything else (and whenever metadata is
 *                 kept or the output is not JPEG).
 * The direct decoders hand the embedded profile and the CMYK flavour to
 * the colour stage in struct decoded (icc, cmyk, cmyk_inverted,
 * grey_source; tagged with no icc: a profile too damaged to read); the
 * libvips decoder hands them in its image's metadata; the one colour
 * stage converts both to sRGB (colour.h, icc.h).
 * decode_choose() picks one; a direct decoder is used only when it gives
 * the same image libvips would.
 *
 * One interface for the three (struct decoder_ops, below): decode_open()
 * opens any of them and fills the struct decoded; what follows depends on
 * what the decoder delivers, which decode_streams() tells.
 *
 * The direct decoders stream: they hold a few rows, never the whole input,
 * and write each row into the colour stage's pre-resize step, which feeds
 * the resizer (colour.h, resize.h).  Call sequence:
 *   struct decoded d;
 *   decoded_init(&d);
 *   struct decode_params p;
 *   decode_params_of(s, &p);          // one output's settings
 *   struct decoder *dec = decode_open(DECODER_JPEG, &p, &in, DECODE_FIT,
 *                                     &d, res);
 *   ...d says the upright size, orientation, bands: plan the geometry...
 *   decode_scale(dec, &x, &y);        // may lower x.in / y.in
 *   ...colour_begin(), resize_begin() into d.px...
 *   decode_rows(dec, &c, &rz, res);   // every row, into d.px
 *   decode_close(dec);                // decoder memory freed: before encode
 *   ...d.px holds the resized pixels in STORED orientation (d.orientation)
 *   decoded_release(&d);
 *
 * The libvips decoder delivers a lazily evaluated image instead, at
 * decode_open() (d.image, owned by d; decode_close() right after frees
 * nothing of it): libvips' shrink-on-load then decodes only what the
 * output needs, and a full-size recompression of a huge file streams from
 * input to encoder in strips instead of holding the image in memory.  Its
 * pixels are computed when the encoder pulls them, so a damaged file can
 * still fail in the encode stage (as ERR_DECODE).  It leaves colour alone:
 * the image holds the file's device values (CMYK stays CMYK) and its
 * embedded profile, for the colour stage (colour_vips_srgb8_res(),
 * colour.h).  With DECODE_FIT, shrink-on-load needs libvips to resize
 * while decoding, so the decoder goes as far as that takes it:
 *   d.fitted 1: vips_thumbnail did the whole resize (same geometry as
 *     resize.h, through geom.h), upright and cropped: the image is at the
 *     output geometry of p.box;
 *   d.fitted 0 (CMYK, which vips_thumbnail would convert): only the JPEG
 *     loader's shrink, in stored orientation (d.stored_swap: width and
 *     height swapped against d.width, d.height); the resize stage takes it
 *     to the output geometry (resize_vips_stored(), resize.h).
 * With DECODE_FULL (in-place recompression) the image is as stored.
 * d.orientation is 1 on this path: the image carries its orientation.
 *
 * Every function that can fail returns -1 (or NULL) with @res failed (class
 * and message).  Decoder warnings go to @res (warn.h); damaged data follows
 * p.fail_on as libvips does: with FAIL_NONE a truncated file still gives
 * an image plus warnings.
 */
#ifndef IMGPOOL_DECODE_H
#define IMGPOOL_DECODE_H

#include <stddef.h>
#include <stdint.h>

#include "colour.h"
#include "geom.h"
#include "input.h"
#include "pixels.h"
#include "resize.h"
#include "settings.h"
#include "task.h"

enum decoder_kind { DECODER_JPEG = 0, DECODER_PNG, DECODER_VIPS };

const char *decoder_str(enum decoder_kind d);

struct _VipsImage;
struct _VipsObject;

/* What a decoder delivers and learnt.  Owned: decoded_release(). */
struct decoded {
    int width, height;          /* upright size of the input */
    int orientation;            /* EXIF orientation of px still to apply */
    int bands;                  /* direct: per decoded row (1, 3, 4) */
    int source_420;             /* a 4:2:0 colour JPEG (encode.h) */
    int progressive;            /* a progressive JPEG */
    int tagged;                 /* embedded ICC profile or CMYK */
    unsigned char *icc;         /* direct: the embedded profile, or NULL */
    size_t icc_len;
    int cmyk;                   /* direct: rows are CMYK (bands 4) */
    int cmyk_inverted;          /* ... with 255 meaning no ink (Adobe) */
    int grey_source;            /* direct: grey expanded to RGB(A) */
    struct pixels px;           /* direct decoders: the resized pixels */
    struct _VipsImage *image;   /* libvips decoder: the lazy image */
    int fitted;                 /* ... already at the output geometry */
    int stored_swap;            /* ... else stored with w, h swapped */
    struct _VipsObject *ctx;    /* holds image and its intermediates */
    void *source;               /* libvips' source on the input */
    void *filebuf;              /* whole input, for memory-only loaders */
};

void decoded_init(struct decoded *d);
void decoded_release(struct decoded *d);

/* 1 when @ji describes a colour JPEG with 4:2:0 chroma. */
int decode_jpeg_is_420(const struct jpeg_info *ji);

/* 1 when the PNG whose first @n bytes are @b may be transparent: an alpha
 * channel, a tRNS chunk, or no IDAT within those bytes to rule one out. */
int decode_png_may_have_alpha(const unsigned char *b, size_t n);

/* The decoder for @in as output with the pixel settings @s: a choice of
 * the pipeline, so it reads the output's settings (the output format,
 * metadata and alpha kept, --target); the decoder then takes only its
 * struct decode_params. */
enum decoder_kind decode_choose(const struct settings *s, const struct input *in);

/* Whether the direct decoders take an input (the contract of each in
 * decode_jpeg.c / decode_png.c): no colour management needed, no metadata
 * kept, JPEG output. */
int decode_jpeg_eligible(const struct settings *s,
                         const struct jpeg_info *info);
int decode_png_eligible(const struct settings *s, const unsigned char *head,
                        size_t len);

enum decode_size { DECODE_FIT, DECODE_FULL };

/* What the decode stage reads of an output's pixel settings. */
struct decode_params {
    /* DECODE_FIT: the box decoded for (shrink-on-load; one output's, or
     * with several outputs their base box, resize_base()) */
    struct geom_box box;
    enum mode mode;             /* recompress: a JPEG must reach its end */
    enum fail_on fail_on;       /* what damage fails the file */
    int allow_untrusted;        /* libvips' untrusted loaders let through */
    int density;                /* SVG: pixels per inch */
    int64_t max_pixels;         /* refuse larger images; 0: no limit */
    settings_rgb background;    /* the direct PNG decoder flattens onto it */
};

/* @p from the pixel settings @s of one output (its box included). */
void decode_params_of(const struct settings *s, struct decode_params *p);

struct decoder;

/*
 * Open the decoder @kind on @in with @p (any of the three; DECODE_FULL,
 * the image as stored, only for DECODER_VIPS) and fill @d's size,
 * orientation and what the header tells.  Reads from offset 0 with pread,
 * whatever the file position.  The direct decoders then deliver their
 * pixels through decode_scale() and decode_rows(); the libvips decoder has
 * delivered them here, as d->image (see the top of this file).  NULL with
 * @res failed.
 */
struct decoder *decode_open(enum decoder_kind kind,
                            const struct decode_params *p,
                            const struct input *in, enum decode_size size,
                            struct decoded *d, struct task_result *res);

/* 1 when @dec streams rows (decode_scale(), decode_rows()); 0 when it
 * delivered d->image at decode_open(). */
int decode_streams(const struct decoder *dec);

/* Set x->in, y->in to the smallest size the decoder can produce cheaply
 * that is at least x->scaled x y->scaled (stored orientation).  A decoder
 * that does not stream leaves them. */
void decode_scale(struct decoder *dec, struct resample_span *x,
                  struct resample_span *y);

/* Every row through @c into @rz.  0, or -1 with @res failed (ERR_INTERNAL
 * for a decoder that does not stream). */
int decode_rows(struct decoder *dec, struct colour *c, struct resize *rz,
                struct task_result *res);

/* The decoder's own memory freed (what it delivered stays in the struct
 * decoded).  NULL is a no-op. */
void decode_close(struct decoder *dec);

/* The upright size of @in, from our JPEG header parse (in->ji) or else a
 * header-only open of the libvips decoder (no pixel decoded), the input
 * rewound after it: for planning before the decode.  0, or -1 with @res
 * failed. */
int decode_upright_size(const struct decode_params *p,
                        const struct input *in,
                        int *uw, int *uh, struct task_result *res);

/*
 * One decoder, for decode.c's dispatch only: open() returns the decoder's
 * state (NULL with @res failed); scale and rows are NULL for a decoder
 * that delivers d->image instead of rows.
 */
struct decoder_ops {
    void *(*open)(const struct decode_params *p, const struct input *in,
                  enum decode_size size, struct decoded *d,
                  struct task_result *res);
    void (*scale)(void *impl, struct resample_span *x,
                  struct resample_span *y);
    int (*rows)(void *impl, struct colour *c, struct resize *rz,
                struct task_result *res);
    void (*close)(void *impl);
};
extern const struct decoder_ops decode_jpeg_ops, decode_png_ops,
    decode_vips_ops;

#endif
