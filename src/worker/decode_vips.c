/*
 * decode_vips.c - the libvips decoder, decode_vips_ops of the decoder
 * interface (see decode.h for the stage's contract): every format libvips
 * reads, and every input the direct decoders leave alone (ICC profiles,
 * CMYK, 16 bits, metadata kept).
 *
 * DECODE_FIT (thumbnails, recompression to a file):
 *   1. find a loader for the descriptor; formats whose loaders work only
 *      from memory or files (ImageMagick-backed ones in libvips 8.14) are
 *      read whole into memory, so the file name never reaches them;
 *   2. the upright size, from our own JPEG header parse or a header-only
 *      load (the pixel limit is checked here for formats the open stage
 *      could not size);
 *   3. vips_thumbnail_source: shrink-on-load to the geom_fit() size and
 *      EXIF autorotate, with no export profile, so that libvips converts
 *      no colour: the colour stage does (colour.h), with the profile the
 *      image carries (d->fitted).  CMYK, which vips_thumbnail would
 *      convert anyway, is only loaded here, with the JPEG loader's shrink
 *      (load_cmyk), and the resize stage takes the same steps as
 *      vips_thumbnail from there (resize_vips_stored(): vips_resize,
 *      autorotate, crop).  fail_on goes through
 *      option_string: libvips 8.14's thumbnail_source does not pass its
 *      own fail_on on to the loader.
 * DECODE_FULL (in-place recompression): the image as stored, read
 * sequentially with p->fail_on.
 * Nothing is computed yet when this returns: see decode.h.
 * libvips reads the file through a source of our own (input_source()), so
 * that a read error is never mistaken for a truncated file (input.h).
 *
 * Before any loader runs, the file's structure is checked (guard.h): a
 * JPEG's scans are counted (libvips 8.14 has no scan limit of its own) and
 * a JPEG or PNG without pixel data, or a PNG whose IHDR fails its CRC,
 * fails here; so does, in a strict recompression, a JPEG whose data stops
 * before its end marker (truncated: libjpeg decodes a zero tail as data
 * without a word).  DECODE_FULL checks the loaded header against the
 * pixel limit, wherever in the file the size was declared.  libvips cannot say how many rows it decoded, so
 * res->decoded_rows is -1 on this path, except for a JPEG cut short in a
 * lenient decode: libjpeg counts its rows first (guard.h).  Loader errors get their class
 * from the loader's message (loaderr.h): a variant no loader handles is
 * unsupported-format, a loader's own size limit too-large.
 *
 * SVG goes through svgload_buffer only: from memory, the document has no
 * base location, so librsvg resolves no reference to another file.  That
 * one loader class is let through libvips' untrusted-loader block; the
 * declared size (in CSS pixels, svgsize.h, at --density: 96 per inch by
 * default, as browsers render it) is checked against --max-pixels before
 * anything is rendered, and thumbnails render directly at the target size.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <vips/vips.h>

#include "decode.h"
#include "svgsize.h"
#include "geom.h"
#include "guard.h"
#include "loaderr.h"
#include "orient.h"
#include "vipsmsg.h"
#include "warn.h"

static VipsFailOn
vips_fail_on(enum fail_on f)
{
    return f == FAIL_NONE ? VIPS_FAIL_ON_NONE
         : f == FAIL_TRUNCATED ? VIPS_FAIL_ON_TRUNCATED
         : f == FAIL_WARNING ? VIPS_FAIL_ON_WARNING
                             : VIPS_FAIL_ON_ERROR;
}

/* Formats libvips reads with loaders that stay allowed for untrusted
 * input: when none accepts such a file, the file is at fault. */
static int
has_trusted_loader(enum img_format fmt)
{
    return fmt == IMGF_JPEG || fmt == IMGF_PNG || fmt == IMGF_GIF ||
           fmt == IMGF_WEBP || fmt == IMGF_TIFF || fmt == IMGF_HEIF;
}

/* Read all @size bytes of @fd into a new buffer.  0, or -1 (a read that
 * failed or ended early is also remembered: input.h). */
static int
read_whole(int fd, int64_t size, void **bufp, size_t *lenp)
{
    char *buf;

    if (size <= 0 || size > (int64_t)1 << 30)
        return -1;
    buf = malloc((size_t)size);
    if (!buf)
        return -1;
    if (input_pread_full(fd, buf, (size_t)size, 0) < 0) {
        free(buf);
        return -1;
    }
    *bufp = buf;
    *lenp = (size_t)size;
    return 0;
}

/*
 * libvips' view of the input: a custom source whose reads go through
 * input_pread() (input.h), so that a failed or short read is remembered
 * even when the loader takes it for the end of a truncated file and
 * carries on.  A source from the descriptor would read (or map) the file
 * itself and keep such errors to itself.  Seekable, like a file.
 */
struct vsrc {
    int fd;
    int64_t pos;
    int64_t size;
};

static gint64
vsrc_read(VipsSourceCustom *src, void *buf, gint64 len, void *arg)
{
    struct vsrc *v = arg;
    ssize_t n;

    (void)src;
    if (len <= 0)
        return 0;
    n = input_pread(v->fd, buf, (size_t)len, v->pos);
    if (n < 0)
        return -1;
    v->pos += n;
    return n;
}

static gint64
vsrc_seek(VipsSourceCustom *src, gint64 offset, int whence, void *arg)
{
    struct vsrc *v = arg;
    int64_t to = whence == SEEK_SET ? offset
               : whence == SEEK_CUR ? v->pos + offset
               : whence == SEEK_END ? v->size + offset : -1;

    (void)src;
    if (to < 0)
        return -1;
    v->pos = to;
    return to;
}

static VipsSource *
input_source(const struct input *in)
{
    VipsSourceCustom *src = vips_source_custom_new();
    struct vsrc *v;

    if (!src)
        return NULL;
    v = g_new0(struct vsrc, 1);
    v->fd = in->fd;
    v->size = in->size;
    g_object_set_data_full(G_OBJECT(src), "imgpool-input", v, g_free);
    g_signal_connect(src, "read", G_CALLBACK(vsrc_read), v);
    g_signal_connect(src, "seek", G_CALLBACK(vsrc_seek), v);
    return VIPS_SOURCE(src);
}

/* A loader for the input, or -1 with @res failed.  May read the whole file
 * into d->filebuf (*buflen set). */
static int
find_loader(const struct decode_params *p, const struct input *in,
            struct decoded *d, size_t *buflen, struct task_result *res)
{
    const char *loader = vips_foreign_find_load_source(d->source);
    enum img_format fmt = in->fmt;

    if (!loader && p->allow_untrusted &&
        read_whole(in->fd, in->size, &d->filebuf, buflen) == 0)
        loader = vips_foreign_find_load_buffer(d->filebuf, *buflen);
    if (loader)
        return 0;
    vips_error_clear();
    if (has_trusted_loader(fmt))
        task_result_fail(res, ERR_DECODE, "not a readable %s file: no "
                         "loader accepts its header", img_format_str(fmt));
    else if (fmt == IMGF_OTHER_IMAGE || fmt == IMGF_UNKNOWN)
        task_result_fail(res, ERR_UNSUPPORTED, "an image format no loader "
                         "here reads");
    else if (p->allow_untrusted)
        task_result_fail(res, ERR_UNSUPPORTED, "%s images are not "
                         "supported by this build of libvips",
                         img_format_str(fmt));
    else
        task_result_fail(res, ERR_UNTRUSTED, "%s images need a libvips "
                         "loader that is blocked as untrusted; "
                         "--allow-untrusted lifts the block",
                         img_format_str(fmt));
    return -1;
}

/* Upright size and whether colour management is needed, from our own
 * JPEG parse or a header-only load.  0, or -1 with @res failed. */
static int
read_size(const struct decode_params *p, const struct input *in,
          struct decoded *d, size_t buflen, int *cmyk,
          struct task_result *res)
{
    VipsImage *h;

    if (in->fmt == IMGF_JPEG && in->have_ji && !d->filebuf) {
        orient_upright_size(in->ji.orientation, in->ji.width, in->ji.height,
                            &d->width, &d->height);
        d->tagged = in->ji.has_icc || in->ji.components == 4;
        *cmyk = in->ji.components == 4;
        return 0;
    }
    h = d->filebuf ? vips_image_new_from_buffer(d->filebuf, buflen, "",
                                                "access",
                                                VIPS_ACCESS_SEQUENTIAL, NULL)
                   : vips_image_new_from_source(d->source, "", "access",
                                                VIPS_ACCESS_SEQUENTIAL,
                                                NULL);
    if (!h) {
        vipsmsg_fail(res, ERR_DECODE, "cannot read image header");
        loaderr_reclassify(res);
        return -1;
    }
    *cmyk = h->Type == VIPS_INTERPRETATION_CMYK;
    d->tagged = vips_image_get_typeof(h, VIPS_META_ICC_NAME) != 0 || *cmyk;
    if (input_too_large(p->max_pixels, h->Xsize, h->Ysize, res)) {
        g_object_unref(h);
        return -1;
    }
    orient_upright_size(vips_image_get_orientation_swap(h) ? 6 : 1,
                        h->Xsize, h->Ysize, &d->width, &d->height);
    g_object_unref(h);
    if (!d->filebuf && vips_source_rewind(d->source)) {
        vipsmsg_fail(res, ERR_READ, "cannot rewind input");
        return -1;
    }
    return 0;
}

/* vips_thumbnail from the source, or from memory when d->filebuf is set:
 * shrink-on-load, resize and autorotate, colour left as the file has it
 * (no export profile: libvips converts nothing but CMYK, which is not
 * sent here). */
static int
thumbnail(const struct decode_params *p, struct decoded *d, size_t buflen,
          VipsImage **out)
{
    VipsSize size = p->box.fit == FIT_COVER ? VIPS_SIZE_BOTH : VIPS_SIZE_FORCE;
    VipsInteresting crop = p->box.fit == FIT_COVER ? VIPS_INTERESTING_CENTRE
                                               : VIPS_INTERESTING_NONE;
    char opts[32];
    int w, h;

    geom_fit(&p->box, d->width, d->height, &w, &h);
    snprintf(opts, sizeof(opts), "fail_on=%s", fail_on_str(p->fail_on));
    if (d->filebuf)
        return vips_thumbnail_buffer(d->filebuf, buflen, out, w, "height", h,
                                     "size", size, "crop", crop,
                                     "option_string", opts, NULL);
    return vips_thumbnail_source(d->source, out, w, "height", h, "size",
                                 size, "crop", crop, "option_string", opts,
                                 NULL);
}

/* The largest JPEG shrink (libjpeg's DCT scaling: 1, 2, 4 or 8, sizes
 * rounded up) that still gives at least @w x @h from @iw x @ih. */
static int
jpeg_shrink(int iw, int ih, int w, int h)
{
    int f = 1;

    while (f < 8 && (iw + 2 * f - 1) / (2 * f) >= w &&
           (ih + 2 * f - 1) / (2 * f) >= h)
        f *= 2;
    return f;
}

/*
 * CMYK, which vips_thumbnail always converts with libvips' own colour
 * management: loaded here with the JPEG loader's shrink where there is
 * one (shrink-on-load, to no less than the geom_window() size in stored
 * orientation), the inks left for the colour stage; the resize stage
 * takes the image from there to the output size, upright
 * (resize_vips_stored(), resize.h), the steps vips_thumbnail takes.
 * 0, or -1 with libvips' error set.
 */
static int
load_cmyk(const struct decode_params *p, const struct input *in,
          struct decoded *d, size_t buflen, VipsImage **out)
{
    VipsImage **t = (VipsImage **)vips_object_local_array(d->ctx, 1);
    int sw, sh, ow, oh, ox, oy, swap, shrink = 1, jpeg = !d->filebuf &&
        in->fmt == IMGF_JPEG && in->have_ji;
    char opts[32] = "";

    geom_window(&p->box, d->width, d->height, &sw, &sh, &ow, &oh, &ox, &oy);
    swap = jpeg && in->ji.orientation >= 5 && in->ji.orientation <= 8;
    if (jpeg)
        shrink = jpeg_shrink(in->ji.width, in->ji.height, swap ? sh : sw,
                             swap ? sw : sh);
    if (shrink > 1)
        snprintf(opts, sizeof(opts), "shrink=%d", shrink);
    t[0] = d->filebuf
        ? vips_image_new_from_buffer(d->filebuf, buflen, opts, "access",
                                     VIPS_ACCESS_SEQUENTIAL, "fail_on",
                                     vips_fail_on(p->fail_on), NULL)
        : vips_image_new_from_source(d->source, opts, "access",
                                     VIPS_ACCESS_SEQUENTIAL, "fail_on",
                                     vips_fail_on(p->fail_on), NULL);
    if (!t[0])
        return -1;
    if (!jpeg)
        swap = vips_image_get_orientation_swap(t[0]);
    d->stored_swap = swap;
    *out = t[0];
    return 0;
}

static int
load_fit(const struct decode_params *p, const struct input *in,
         struct decoded *d, struct task_result *res)
{
    VipsImage **im = (VipsImage **)vips_object_local_array(d->ctx, 1);
    size_t buflen = 0;
    int cmyk = 0, rc;

    if (find_loader(p, in, d, &buflen, res) < 0 ||
        read_size(p, in, d, buflen, &cmyk, res) < 0)
        return -1;
    if (cmyk)
        rc = load_cmyk(p, in, d, buflen, &d->image);
    else if ((rc = thumbnail(p, d, buflen, &im[0])) == 0) {
        d->image = im[0];
        d->fitted = 1;
    }
    if (rc) {
        d->image = NULL;
        vipsmsg_fail(res, ERR_DECODE, "cannot decode");
        loaderr_reclassify(res);
        return -1;
    }
    return 0;
}

static int
load_full(const struct decode_params *p, const struct input *in,
          struct decoded *d, struct task_result *res)
{
    VipsImage **im = (VipsImage **)vips_object_local_array(d->ctx, 1);

    im[0] = vips_image_new_from_source(d->source, "", "access",
                                       VIPS_ACCESS_SEQUENTIAL, "fail_on",
                                       vips_fail_on(p->fail_on), NULL);
    if (!im[0]) {
        vipsmsg_fail(res, ERR_DECODE, "cannot decode");
        loaderr_reclassify(res);
        return -1;
    }
    /* The header is read, no pixel yet: the size however late it is
     * declared (the open stage only sees the first bytes). */
    if (input_too_large(p->max_pixels, im[0]->Xsize, im[0]->Ysize, res))
        return -1;
    if (in->have_ji)
        orient_upright_size(in->ji.orientation, in->ji.width, in->ji.height,
                            &d->width, &d->height);
    d->tagged = vips_image_get_typeof(im[0], VIPS_META_ICC_NAME) != 0 ||
                im[0]->Type == VIPS_INTERPRETATION_CMYK;
    d->image = im[0];
    return 0;
}

/* The size SVG @doc is rendered at: its CSS size at p->density pixels per
 * inch; from @im's (libvips' user units, which are CSS pixels) when the
 * document states none in absolute units.  The thumbnail renders the
 * vectors at that size directly. */
static void
svg_size(const struct decode_params *p, const void *doc, size_t len,
         const VipsImage *im, int *w, int *h)
{
    double cw, ch;

    if (svgsize_css(doc, len, &cw, &ch) < 0) {
        cw = im->Xsize;
        ch = im->Ysize;
    }
    *w = (int)(cw * p->density / 96.0 + 0.5);
    *h = (int)(ch * p->density / 96.0 + 0.5);
    if (*w < 1)
        *w = 1;
    if (*h < 1)
        *h = 1;
}

/* SVG (see the top of the file): 0, or -1 with @res failed. */
static int
load_svg(const struct decode_params *p, const struct input *in,
         enum decode_size size, struct decoded *d, struct task_result *res)
{
    VipsImage **im = (VipsImage **)vips_object_local_array(d->ctx, 2);
    size_t buflen = 0;

    if (size == DECODE_FULL) {
        task_result_fail(res, ERR_UNSUPPORTED, "SVG is not recompressed "
                         "in place");
        return -1;
    }
    if (read_whole(in->fd, in->size, &d->filebuf, &buflen) < 0) {
        task_result_fail(res, ERR_READ, "cannot read the SVG document");
        return -1;
    }
    vips_operation_block_set("VipsForeignLoadSvgBuffer", FALSE);
    if (vips_svgload_buffer(d->filebuf, buflen, &im[0], "access",
                            VIPS_ACCESS_SEQUENTIAL, NULL)) {
        vipsmsg_fail(res, ERR_DECODE, "cannot read SVG");
        loaderr_reclassify(res);
        return -1;
    }
    svg_size(p, d->filebuf, buflen, im[0], &d->width, &d->height);
    if (input_too_large(p->max_pixels, d->width, d->height, res))
        return -1;
    d->tagged = 0;
    if (thumbnail(p, d, buflen, &im[1])) {
        vipsmsg_fail(res, ERR_DECODE, "cannot render SVG");
        loaderr_reclassify(res);
        return -1;
    }
    d->image = im[1];
    d->fitted = 1;
    return 0;
}

/* A strict decode of a JPEG whose image data does not reach its end
 * marker: a zero tail (a write cut short by a power cut) or a file cut
 * short.  libjpeg would take zeros for data without a word, so this is
 * decided here, from the structure.  -1 with @res failed ERR_TRUNCATED. */
static int
strict_cut_short(const struct input *in, struct task_result *res)
{
    if (in->data_end < in->size)
        task_result_fail(res, ERR_TRUNCATED, "image data cut short: the "
                         "last %lld of %lld bytes are all one value (a "
                         "write that never completed) and the image has "
                         "no end marker", (long long)(in->size -
                                                      in->data_end),
                         (long long)in->size);
    else
        task_result_fail(res, ERR_TRUNCATED, "image data cut short: the "
                         "file ends before the image's end marker");
    return -1;
}

/*
 * The structure checks of guard.h, before any loader.  A JPEG or PNG cut
 * short, in a lenient decode (libvips would give an image whatever is
 * missing): the rows with data are counted with libjpeg or libpng, and
 * too few fail the file as the direct decoders would.  0, or -1 with @res
 * failed.
 */
static int
check_structure(const struct decode_params *p, const struct input *in,
                struct task_result *res)
{
    struct guard_jpeg_walk w;
    int rows, height, mcu_rows, complete;

    if (in->fmt == IMGF_PNG) {
        if (guard_png(in, 1, &complete, res) < 0)
            return -1;
        if (complete || p->fail_on != FAIL_NONE ||
            decode_png_count_rows(in, &rows, &height) < 0)
            return 0;
        return guard_rows(rows, height, 1, res);
    }
    if (in->fmt != IMGF_JPEG)
        return 0;
    if (guard_jpeg(in, &w, res) < 0)
        return -1;
    if (!w.eoi && p->fail_on != FAIL_NONE && p->mode == MODE_RECOMPRESS)
        return strict_cut_short(in, res);
    if (w.eoi || p->fail_on != FAIL_NONE ||
        decode_jpeg_count_rows(in, &rows, &height, &mcu_rows) < 0)
        return 0;
    return guard_rows(rows, height, mcu_rows, res);
}

static int
decode_vips(const struct decode_params *p, const struct input *in,
            enum decode_size size, struct decoded *d, struct task_result *res)
{
    res->decoded_rows = -1;
    if (check_structure(p, in, res) < 0)
        return -1;
    d->ctx = VIPS_OBJECT(vips_image_new());
    /* After the first object (which initialises libvips when the caller
     * has not): what the loader leaves in the error buffer is this
     * file's. */
    vips_error_clear();
    d->source = input_source(in);
    if (!d->source) {
        vipsmsg_fail(res, ERR_READ, "cannot read");
        return -1;
    }
    d->orientation = 1;
    d->source_420 = in->have_ji && decode_jpeg_is_420(&in->ji);
    d->progressive = in->have_ji && in->ji.progressive;
    if (in->fmt == IMGF_SVG)
        return load_svg(p, in, size, d, res);
    if (size == DECODE_FULL)
        return load_full(p, in, d, res);
    return load_fit(p, in, d, res);
}

/* The decoder interface (decode.h): everything is delivered in @d at
 * open, so @d itself stands for the decoder's state. */
static void *
vd_open(const struct decode_params *p, const struct input *in,
        enum decode_size size, struct decoded *d, struct task_result *res)
{
    return decode_vips(p, in, size, d, res) < 0 ? NULL : d;
}

static void
vd_close(void *impl)
{
    (void)impl;
}

const struct decoder_ops decode_vips_ops = {
    .open = vd_open,
    .scale = NULL,
    .rows = NULL,
    .close = vd_close,
};
