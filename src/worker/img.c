/*
 * img.c - one file in, its outputs out, inside a worker: the stages of
 * img.h run in order, the same for every commit.
 *
 * img_run() takes the decoder the commit planned (decode_choose(), or
 * libvips for in place and the freedesktop cache) and runs every stage
 * through its header: decode.h (one decoder interface), colour.h,
 * resize.h, encode.h, commit.h.  Two shapes of the same order, depending
 * on what that decoder delivers (decode.h):
 *   rows (direct JPEG, PNG): decode rows -> colour (alpha, CMYK) ->
 *     resize, in one streaming pass into a small buffer of output size,
 *     then colour (ICC profile to sRGB) on those few pixels; then the
 *     encoder reads it upright (orient.h) and in RGB (colour.h) row by
 *     row, with no further copy;
 *   an image (libvips): decode (shrink-on-load; decode.h says how far it
 *     resizes) -> resize (what shrink-on-load left: resize_vips_stored())
 *     -> colour, a lazy image the encoder pulls strip by strip straight
 *     into the output file; or, for several outputs (sizes, freedesktop
 *     flavours), one decode at the base box into memory, then resize
 *     (resize_vips(), or the freedesktop commit's encode) and encode per
 *     output.
 * Both end in the commit of commit.h, whichever of the three it is: it
 * begins before the decode (and may decide the task there), gives each
 * output's destination (a file or memory) and takes each encoded output.
 * libvips warnings (damaged but decodable files) are captured through a
 * GLib log handler into the task result instead of being printed.
 */
#include <malloc.h>
#include <stdlib.h>
#include <string.h>

#include <vips/vips.h>

#include "colour.h"
#include "commit.h"
#include "decode.h"
#include "encode.h"
#include "exifcopy.h"
#include "img.h"
#include "keep.h"
#include "loaderr.h"
#include "lookq.h"
#include "meta.h"
#include "orient.h"
#include "resize.h"
#include "util.h"
#include "vipsmsg.h"
#include "xmpext.h"
#include "warn.h"

/* The result being filled, for the log handler.  One task at a time per
 * worker process, so one pointer suffices. */
static struct task_result *current;

static void
log_handler(const gchar *domain, GLogLevelFlags level, const gchar *message,
            gpointer data)
{
    (void)domain;
    (void)data;
    if (level & (G_LOG_LEVEL_DEBUG | G_LOG_LEVEL_INFO))
        return;
    if (current)
        warn_append(current, message);
}

int
img_worker_init(const struct settings *s)
{
    if (VIPS_INIT("imgpool"))
        return -1;
    /* A worker decodes file after file with buffers of similar sizes:
     * keep freed memory in the heap instead of returning it to the
     * kernel after each file (fewer page faults per file).  The memory
     * cap (RLIMIT_DATA) still bounds what the heap may hold. */
    mallopt(M_MMAP_THRESHOLD, 32 * 1024 * 1024);
    mallopt(M_TRIM_THRESHOLD, 64 * 1024 * 1024);
    /* Parallelism is across processes; one libvips thread per worker. */
    vips_concurrency_set(1);
    /* Files are never revisited: the operation cache only costs memory. */
    vips_cache_set_max(0);
    vips_cache_set_max_mem(0);
    if (!s->allow_untrusted)
        vips_block_untrusted_set(TRUE);
    /* libvips 8.14 marks jxlload and jxlsave untrusted; imgpool reads
     * and writes JPEG XL as a format of its own, with libjxl, which it
     * links for -f jxl anyway (docs/SECURITY.md): those two classes are
     * let through. */
    vips_operation_block_set("VipsForeignLoadJxl", FALSE);
    vips_operation_block_set("VipsForeignSaveJxl", FALSE);
    g_log_set_default_handler(log_handler, NULL);
    g_log_set_handler("VIPS", G_LOG_LEVEL_MASK | G_LOG_FLAG_FATAL, log_handler,
                      NULL);
    return 0;
}

void
img_worker_fini(void)
{
    vips_shutdown();
}

/*
 * The encode and commit stages of output @k: @rows (or else @img) encoded
 * into the commit's destination; @exif and @xmp, when not NULL, go into
 * the encoded bytes before the commit; @keep, when not NULL, may put the
 * source in place of a file output (keep.h).  0, or -1 with @res failed
 * or skipped.
 */
static int
write_output(struct commit *cm, int k, const struct encode_params *p,
             const struct encode_rows *rows, VipsObject *parent,
             VipsImage *img, const struct exifcopy *exif,
             const struct xmpext *xmp, const struct keep *keep,
             struct task_result *res)
{
    const struct settings *s = commit_settings_of(cm, k);
    int w = rows ? rows->width : img->Xsize;
    int h = rows ? rows->height : img->Ysize;
    struct encode_out out;
    struct lookq lq;
    int rc;

    /* --target-distance: the quality searched for this image; the output
     * is then encoded from the pixels the search read (lookq.h). */
    lq.px = NULL;
    if (s->target_distance > 0 && p->format == FORMAT_JPEG) {
        if (lookq_choose(s->target_distance,
                         s->subsample == SUBSAMPLE_AUTO, p, rows, parent,
                         img, &lq, res) < 0) {
            lookq_release(&lq);
            return -1;
        }
        p = &lq.params;
        rows = rows ? &lq.rows : NULL;
        img = lq.image;
    }
    if (cm->ops->open(cm, k, &out, res) < 0) {
        lookq_release(&lq);
        return -1;
    }
    rc = rows ? encode_rows(p, rows, &out, res)
              : encode_vips(p, parent, img, &out, res);
    lookq_release(&lq);
    /* The decode ran during the encode: a recompression of damaged data
     * does not stand in for the original (loaderr.h). */
    if (s->mode == MODE_RECOMPRESS)
        rc = loaderr_fail_damaged(s->fail_on, res,
                                  rows ? NULL : vips_error_buffer(), rc);
    if (rc == 0 && exif)
        rc = commit_put_exif(&out, exif, res);
    if (rc == 0 && xmp)
        rc = commit_put_xmp(&out, xmp, res);
    if (rc == 0 && keep && out.of)
        rc = keep_apply(keep, out.of->fd, res);
    if (rc < 0)
        cm->ops->abort(cm, k, &out);
    else
        rc = cm->ops->commit(cm, k, &out, w, h, res);
    encode_out_release(&out);
    return rc;
}

/* The warning for a flattened image with nothing but the background. */
static void
warn_flat(struct task_result *res)
{
    warn_append(res, "every pixel is the background colour once "
                "transparency is flattened: keep alpha with -f png, webp "
                "or avif, or pick another --background");
}

/* Direct path: warn when the flattened pixels @px of a transparent PNG
 * source are all the background p->background. */
static void
check_flat_px(const struct colour_params *p, const struct input *in,
              const struct pixels *px, struct task_result *res)
{
    if (in->fmt != IMGF_PNG || !in->head ||
        !decode_png_may_have_alpha(in->head, in->head_len) || px->bands < 3)
        return;
    for (int y = 0; y < px->height; y++) {
        const unsigned char *r = px->data + (size_t)y * px->stride;
        for (int x = 0; x < px->width; x++)
            for (int b = 0; b < 3; b++)
                if (r[x * px->bands + b] != p->background[b])
                    return;
    }
    warn_flat(res);
}

/* libvips path: the same for @img, flattened onto p->background from a
 * source with alpha (@had_alpha).  Such an image is rendered into memory
 * first (loaders read once, in order), and that copy is what is encoded:
 * returned, or @img as it was. */
static VipsImage *
check_flat_vips(const struct colour_params *p, VipsObject *parent,
                int had_alpha, VipsImage *img, struct task_result *res)
{
    VipsImage **t = (VipsImage **)vips_object_local_array(parent, 1);
    VipsImage *mem;
    double bg[3], m = 0;

    if (!had_alpha || vips_image_hasalpha(img) || img->Bands != 3)
        return img;
    mem = vips_image_copy_memory(img);
    if (!mem)
        return img;     /* the encode reports the decode error */
    vips_object_local(parent, mem);
    for (int i = 0; i < 3; i++)
        bg[i] = p->background[i];
    if (vips_equal_const(mem, &t[0], bg, 3, NULL) == 0 &&
        vips_min(t[0], &m, NULL) == 0 && m == 255)
        warn_flat(res);
    return mem;
}

/* The direct decoders' pixels, upright and in RGB, for encode_rows(). */
struct upright {
    struct orient_view view;
    unsigned char *grey;        /* one upright grey row */
};

static const unsigned char *
upright_row(void *arg, int y, unsigned char *buf)
{
    struct upright *u = arg;
    const unsigned char *row;

    row = orient_view_row(&u->view, y, u->view.bands == 1 ? u->grey : buf);
    return colour_rgb_row(row, u->view.bands, u->view.width, buf);
}

/* decode rows -> colour -> resize into d->px: the output's size, or with
 * several sizes the base (resize_base()).  0, or -1 with @res failed. */
static int
decode_resized(const struct run_config *cfg, const struct input *in,
               enum decoder_kind kind, struct decoded *d, struct task_result *res)
{
    const struct settings *s = &cfg->out[0];
    struct resample_span x, y;
    struct decode_params dp;
    struct colour_params cp;
    struct decoder *dec;
    struct geom_box box;
    struct colour c;
    struct resize rz;
    int rc = -1;

    decode_params_of(s, &dp);
    dec = decode_open(kind, &dp, in, DECODE_FIT, d, res);
    if (!dec)
        return -1;
    res->in_width = d->width;
    res->in_height = d->height;
    box = cfg->nsizes > 1 ? resize_base(cfg, d->width, d->height) : dp.box;
    resize_plan(&box, d->width, d->height, d->orientation, &x, &y);
    decode_scale(dec, &x, &y);
    memset(&rz, 0, sizeof(rz));
    colour_params_of(s, &cp);
    if (colour_begin_decoded(&c, &cp, d, x.in, res) < 0 ||
        resize_begin(&rz, c.out_bands, &x, &y, &d->px) < 0)
        task_result_fail(res, ERR_OUT_OF_MEMORY, "cannot allocate %dx%d "
                         "image", x.out, y.out);
    else
        rc = decode_rows(dec, &c, &rz, res);
    resize_end(&rz);
    /* ICC to sRGB on the resized pixels only (colour.h). */
    if (rc == 0)
        rc = colour_after_resize(&c, &d->px, res);
    colour_end(&c);
    /* The decoder is done with: its memory goes before the encode. */
    decode_close(dec);
    return rc;
}

/* Encode @px (stored orientation @o) as output @k of @cm.  0, or -1
 * with @res failed. */
static int
write_pixels(struct commit *cm, int k, const struct encode_params *p,
             struct pixels *px, int o, struct task_result *res)
{
    struct encode_rows rows;
    struct upright u;
    int rc;

    orient_view_init(&u.view, px, o);
    u.grey = malloc((size_t)u.view.width);
    if (!u.grey) {
        task_result_fail(res, ERR_OUT_OF_MEMORY, "cannot allocate encoder");
        return -1;
    }
    rows.width = u.view.width;
    rows.height = u.view.height;
    rows.row = upright_row;
    rows.arg = &u;
    rc = write_output(cm, k, p, &rows, NULL, NULL, NULL, NULL, NULL, res);
    free(u.grey);
    return rc;
}

/* Several sizes, direct decoders: output @k resized from the base image in
 * d->px.  0, or -1 with @res failed. */
static int
write_size_direct(struct commit *cm, int k, const struct encode_params *p,
                  struct decoded *d, struct task_result *res)
{
    struct geom_box box = geom_box_of(commit_settings_of(cm, k));
    struct resample_span x, y;
    struct pixels px;
    int rc;

    resize_plan(&box, d->width, d->height, d->orientation, &x, &y);
    x.in = d->px.width;
    y.in = d->px.height;
    pixels_init(&px);
    if (resize_pixels(&d->px, &x, &y, &px) < 0) {
        task_result_fail(res, ERR_OUT_OF_MEMORY, "cannot resize to %dx%d",
                         x.out, y.out);
        return -1;
    }
    rc = write_pixels(cm, k, p, &px, d->orientation, res);
    pixels_release(&px);
    return rc;
}

static int
run_direct(struct commit *cm, struct decoded *d, struct task_result *res)
{
    const struct run_config *c = cm->cfg;
    const struct settings *s = &c->out[0];
    struct colour_params cp;
    struct encode_params p;
    int k;

    if (decode_resized(c, cm->in, cm->plan.decoder, d, res) < 0)
        return -1;
    encode_params_init(&p, s, d);
    if (c->nsizes > 1) {
        for (k = 0; k < c->nsizes; k++)
            if (write_size_direct(cm, k, &p, d, res) < 0)
                return -1;
        return 0;
    }
    colour_params_of(s, &cp);
    check_flat_px(&cp, cm->in, &d->px, res);
    return write_pixels(cm, 0, &p, &d->px, d->orientation, res);
}

/* Several sizes, libvips: output @k resized (and cropped) from @base, the
 * whole image at the base size, by the resize stage, with the source's
 * EXIF segment @exif.  0, or -1 with @res failed. */
static int
write_size_vips(struct commit *cm, int k, const struct encode_params *p,
                const struct decoded *d, VipsImage *base,
                const struct exifcopy *exif, struct task_result *res)
{
    struct geom_box box = geom_box_of(commit_settings_of(cm, k));
    VipsObject *ctx = VIPS_OBJECT(vips_image_new());
    VipsImage *img;
    int rc = -1;

    img = resize_vips(&box, d->width, d->height, ctx, base);
    if (!img)
        vipsmsg_fail(res, ERR_DECODE, "cannot resize");
    else
        rc = write_output(cm, k, p, NULL, ctx, img, exif, NULL, NULL, res);
    g_object_unref(ctx);
    return rc;
}

/*
 * decode -> resize for a decoder that delivers an image (decode.h): in
 * *@img, held by d->ctx, the image of @in at the output geometry of
 * p->box (shrunk on load, and what shrink-on-load left to do done by the
 * resize stage), or with DECODE_FULL as stored.  0, or -1 with @res
 * failed.
 */
static int
decode_image(enum decoder_kind kind, const struct decode_params *p,
             const struct input *in, enum decode_size size,
             struct decoded *d, VipsImage **img, struct task_result *res)
{
    struct decoder *dec = decode_open(kind, p, in, size, d, res);

    if (!dec)
        return -1;
    decode_close(dec);          /* what it delivered stays in @d */
    *img = d->image;
    if (size == DECODE_FULL || d->fitted)
        return 0;
    *img = resize_vips_stored(&p->box, d->width, d->height, d->stored_swap,
                              d->ctx, d->image);
    if (*img)
        return 0;
    vipsmsg_fail(res, ERR_DECODE, "cannot decode");
    loaderr_reclassify(res);
    return -1;
}

/* The commit's own outputs from @base (plan.base_in_memory): each made and
 * encoded by ops->encode, then committed.  0, or -1 with @res failed. */
static int
write_each_encoded(struct commit *cm, VipsImage *base,
                   struct task_result *res)
{
    struct encode_out out;
    int k, rc = 0;

    for (k = 0; k < cm->plan.noutputs && rc == 0; k++) {
        if (cm->ops->open(cm, k, &out, res) < 0)
            return -1;
        rc = cm->ops->encode(cm, k, base, &out, res);
        if (rc < 0)
            cm->ops->abort(cm, k, &out);
        else
            rc = cm->ops->commit(cm, k, &out, -1, -1, res);
        encode_out_release(&out);
    }
    return rc;
}

/*
 * Several outputs through libvips: one decode at the base size (shrink-on-
 * load to the largest any output needs, or the commit's box), converted
 * and held in memory, then every output resized from it.  0, or -1 with
 * @res failed.
 */
static int
run_sizes_vips(struct commit *cm, struct decoded *d, struct task_result *res)
{
    const struct settings *s = &cm->cfg->out[0];
    const struct input *in = cm->in;
    struct decode_params dp;
    struct colour_params cp;
    struct encode_params p;
    struct exifcopy exif;
    VipsImage *img, *mem;
    int k, uw, uh, own = cm->plan.base_in_memory, rc = 0;

    decode_params_of(s, &dp);
    if (own)
        dp.box = cm->plan.box;
    else if (decode_upright_size(&dp, in, &uw, &uh, res) < 0)
        return -1;
    else
        dp.box = resize_base(cm->cfg, uw, uh);
    if (decode_image(cm->plan.decoder, &dp, in, DECODE_FIT, d, &img,
                     res) < 0)
        return -1;
    res->in_width = d->width;
    res->in_height = d->height;
    /* The freedesktop cache records no colour conversion (as before). */
    colour_params_of(s, &cp);
    img = colour_vips_srgb8_res(&cp, d->ctx, img, own ? NULL : res);
    mem = img ? vips_image_copy_memory(img) : NULL;
    if (!mem) {
        vipsmsg_fail(res, ERR_DECODE, "cannot decode");
        return -1;
    }
    vips_object_local(d->ctx, mem);
    if (own)
        return write_each_encoded(cm, mem, res);
    /* The metadata of every output, as for a single one (run_vips). */
    encode_params_init(&p, s, d);
    if (!p.strip)
        meta_complete(p.format, in, mem, res);
    exifcopy_from_jpeg(in, &p, &exif);
    for (k = 0; k < cm->plan.noutputs && rc == 0; k++)
        rc = write_size_vips(cm, k, &p, d, mem, &exif, res);
    exifcopy_release(&exif);
    return rc;
}

/* libvips, one output: a new output (8-bit sRGB, the extras of a new
 * file), or in place the original as stored (commit.h). */
static int
run_vips(struct commit *cm, struct decoded *d, struct task_result *res)
{
    const struct settings *s = &cm->cfg->out[0];
    const struct input *in = cm->in;
    int stored = cm->plan.as_stored;
    struct decode_params dp;
    struct colour_params cp;
    struct encode_params p;
    struct exifcopy exif;
    struct xmpext xmp;
    struct keep keep;
    VipsImage *img;
    int rc;

    if (cm->plan.noutputs > 1 || cm->plan.base_in_memory)
        return run_sizes_vips(cm, d, res);
    decode_params_of(s, &dp);
    if (decode_image(cm->plan.decoder, &dp, in,
                     stored ? DECODE_FULL : DECODE_FIT, d, &img, res) < 0)
        return -1;
    if (!stored) {
        res->in_width = d->width;
        res->in_height = d->height;
    }
    colour_params_of(s, &cp);
    img = stored ? colour_vips_keep_res(&cp, d->ctx, img, res)
                 : colour_vips_srgb8_res(&cp, d->ctx, img, res);
    if (!img) {
        vipsmsg_fail(res, ERR_DECODE, "cannot convert to sRGB");
        return -1;
    }
    xmp.len = 0;
    encode_params_init(&p, s, d);
    if (!stored) {
        img = check_flat_vips(&cp, d->ctx, vips_image_hasalpha(d->image),
                              img, res);
        if (!p.strip)
            meta_complete(p.format, in, img, res);
        xmpext_from_image(&p, img, &xmp);
    }
    if (!xmp.len)
        xmpext_from_jpeg(&p, in, &xmp);
    exifcopy_from_jpeg(in, &p, &exif);
    if (!stored)
        keep_prepare(&keep, s, cm->cfg->nsizes, in, d->image, img->Xsize,
                     img->Ysize);
    rc = write_output(cm, 0, &p, NULL, d->ctx, img, &exif, &xmp,
                      stored ? NULL : &keep, res);
    exifcopy_release(&exif);
    xmpext_release(&xmp);
    return rc;
}

/* The pipeline after open, once the commit has begun. */
static int
run_stages(struct commit *cm, struct task_result *res)
{
    const struct input *in = cm->in;
    struct decoded d;
    int rc;

    if (!cm->plan.base_in_memory)
        lookq_begin(res, in->fmt == IMGF_JPEG && in->have_ji
                             ? sniff_jpeg_quality(&in->ji) : -1);
    decoded_init(&d);
    if (cm->plan.decoder == DECODER_VIPS)
        rc = run_vips(cm, &d, res);
    else
        rc = run_direct(cm, &d, res);
    decoded_release(&d);
    return rc;
}

void
img_run(const struct run_config *c, const struct task *t,
        const struct input *in, enum decoder_kind dec, struct task_result *res)
{
    struct commit cm;
    int rc = 0;

    res->status = TASK_FAILED;
    commit_init(&cm, c, t, in, dec);
    if (cm.ops->begin(&cm, res) == 0) {
        rc = run_stages(&cm, res);
        if (rc == 0 && res->noutputs > 0)
            res->out_bytes = res->outputs[0].bytes; /* the first output's */
        if (rc == 0)
            res->status = TASK_OK;
    }
    cm.ops->end(&cm, rc, res);
}

void
img_process(const struct run_config *c, const struct task *t,
            struct task_result *res)
{
    const struct settings *s = &c->out[0];
    const struct commit_settings *cm = &c->commit;
    int64_t t0 = util_now_us();
    struct input in;

    res->status = TASK_FAILED;
    res->in_width = res->in_height = res->out_width = res->out_height = -1;
    res->out_bytes = -1;
    res->decoded_rows = -1;     /* until a decoder can tell */
    res->noutputs = 0;
    current = res;

    if (!cm->in_place && !cm->fd_flavors && !t->out_rel)
        task_result_fail(res, ERR_INTERNAL, "no output path planned");
    else if (input_open(s->max_pixels, t, &in, res) == 0) {
        img_run(c, t, &in, cm->in_place || cm->fd_flavors
                               ? DECODER_VIPS : decode_choose(s, &in), res);
        input_close(&in);
        /* A decode that failed, or a skip decided on the decoded bytes,
         * after a read failed: the read error is what the record says. */
        if (res->status == TASK_FAILED ||
            (res->status == TASK_SKIPPED && (res->err_class == ERR_NO_GAIN ||
                                             res->err_class == ERR_DRY_RUN)))
            input_read_check(res);
    }
    if (res->status == TASK_OK) {
        res->err_class = ERR_NONE;
        res->message[0] = '\0';
    }
    res->usec = util_now_us() - t0;
    current = NULL;
}
