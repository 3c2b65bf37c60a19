/*
 * fastjpeg.c - JPEG -> JPEG thumbnails through libjpeg(-turbo) directly
 * (see fastjpeg.h for the contract).
 *
 * For small files libvips spends most of its time setting up its pipeline,
 * not in the codec.  This path does only what a plain JPEG needs:
 *   1. read the header with libjpeg, from the descriptor, in chunks;
 *   2. pick the smallest DCT scaling N/8 whose output still covers the
 *      target in both directions, so libjpeg does most of the shrinking
 *      inside its inverse DCT;
 *   3. stream the decoded rows through the Lanczos-3 resampler (resample.h)
 *      to the exact size geom_fit() gives; for FIT_COVER the resampler
 *      computes only the centre window of the covering size;
 *   4. turn the result upright per the EXIF orientation while feeding rows
 *      to the encoder (the output carries no EXIF);
 *   5. encode into memory with the settings the libvips path uses (quality,
 *      4:2:0 unless told otherwise, optimised Huffman tables), then write it
 *      through outfile.h so the output appears atomically; fastjpeg_write()
 *      does this step, and fastpng.c uses it too.
 *
 * Everything that could need colour management (ICC, CMYK, Adobe RGB-coded
 * data) or other bit depths stays with libvips: fastjpeg_eligible() refuses
 * it.  libjpeg reports fatal errors through error_exit(), which longjmps
 * back to fastjpeg_process(); warnings (damaged data) go through
 * emit_message() into the task result and, depending on fail_on, end the
 * decode the same way.  All per-file state lives in one heap context that
 * is freed on every path.
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jpeglib.h>
#include <jerror.h>

#include "fastjpeg.h"
#include "geom.h"
#include "outfile.h"
#include "resample.h"

/* Bytes read from the input per fill: most thumbnails' sources in one. */
#define FJ_CHUNK (64 * 1024)

/*
 * IDCT and FDCT variant: JDCT_ISLOW, the accurate one.  Measured on 200
 * 640x480 photos (decode at 1/2, encode 300x225), JDCT_IFAST was no faster
 * beyond run-to-run noise: the reduced-size IDCTs used with DCT scaling
 * ignore the setting (only full-size components, such as 4:2:0 chroma at
 * 1/2, use it), and libjpeg-turbo has SIMD code for both.  ISLOW is also
 * what libvips uses, so both paths start from the same pixels.
 */
#define FJ_DCT JDCT_ISLOW

/* Source manager reading the input with pread() from offset 0. */
struct fj_source {
    struct jpeg_source_mgr pub;     /* first: libjpeg sees only this */
    int fd;
    off_t pos;                      /* offset of the next read */
    int started;                    /* some data was read */
    int read_errno;                 /* set when a read failed */
    JOCTET buf[FJ_CHUNK];
};

/* Error manager: where to jump, and what the task result should say. */
struct fj_error {
    struct jpeg_error_mgr pub;      /* first: libjpeg sees only this */
    jmp_buf jmp;
    struct task_result *res;
    enum fail_on fail_on;
    char msg[JMSG_LENGTH_MAX];      /* the message that ended the work */
};

/* Everything one file needs; freed by fj_ctx_free() on every path. */
struct fj_ctx {
    struct fj_error err;
    struct fj_source src;
    struct jpeg_decompress_struct d;
    int have_d;
    struct resample rs;
    int have_rs;
    unsigned char *img;             /* resampled, stored orientation */
    int channels;                   /* of img: 1 or 3 */
};

/* The encoder's state, for fastjpeg_write(). */
struct fj_enc {
    struct fj_error err;
    struct jpeg_compress_struct c;
    int have_c;
    int ok;                         /* the output was written */
    unsigned char *row;             /* one RGB row, for the row source */
    unsigned char *jpeg;            /* encoded output (libjpeg's malloc) */
    unsigned long jpeg_len;
};

/* One axis of the wanted result in upright coordinates: the image is
 * scaled to @scaled samples, of which @out starting at @offset are kept. */
struct fj_axis {
    int scaled, offset, out;
};

/* ------------------------------------------------------------------ */
/* libjpeg callbacks                                                  */
/* ------------------------------------------------------------------ */

static void
src_init(j_decompress_ptr cinfo)
{
    (void)cinfo;
}

static boolean
src_fill(j_decompress_ptr cinfo)
{
    struct fj_source *src = (struct fj_source *)cinfo->src;
    ssize_t n;

    do {
        n = pread(src->fd, src->buf, sizeof(src->buf), src->pos);
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
        src->read_errno = errno;
        ERREXIT(cinfo, JERR_FILE_READ);
    }
    if (n == 0) {
        if (!src->started)
            ERREXIT(cinfo, JERR_INPUT_EMPTY);
        /* Truncated: warn, then end the data stream cleanly with a fake
         * EOI marker, as libjpeg's own stdio source does. */
        WARNMS(cinfo, JWRN_JPEG_EOF);
        src->buf[0] = (JOCTET)0xFF;
        src->buf[1] = (JOCTET)JPEG_EOI;
        n = 2;
    } else {
        src->pos += n;
    }
    src->started = 1;
    src->pub.next_input_byte = src->buf;
    src->pub.bytes_in_buffer = (size_t)n;
    return TRUE;
}

static void
src_skip(j_decompress_ptr cinfo, long num_bytes)
{
    struct fj_source *src = (struct fj_source *)cinfo->src;

    if (num_bytes <= 0)
        return;
    if ((size_t)num_bytes <= src->pub.bytes_in_buffer) {
        src->pub.next_input_byte += num_bytes;
        src->pub.bytes_in_buffer -= (size_t)num_bytes;
        return;
    }
    /* Past what is buffered: move the read offset, read nothing. */
    src->pos += num_bytes - (long)src->pub.bytes_in_buffer;
    src->pub.bytes_in_buffer = 0;
    src->pub.next_input_byte = src->buf;
}

static void
src_term(j_decompress_ptr cinfo)
{
    (void)cinfo;
}

static void
fj_error_exit(j_common_ptr cinfo)
{
    struct fj_error *err = (struct fj_error *)cinfo->err;

    cinfo->err->format_message(cinfo, err->msg);
    longjmp(err->jmp, 1);
}

/* Append one warning to the result: counted always, text while it fits. */
static void
add_warning(struct task_result *res, const char *text)
{
    size_t used;

    res->nwarnings++;
    used = strlen(res->warning);
    if (used + 2 >= sizeof(res->warning))
        return;
    snprintf(res->warning + used, sizeof(res->warning) - used, "%s%s",
             used ? "\n" : "", text);
}

/*
 * Warnings (msg_level -1) are damaged data that libjpeg worked around.
 * Trace messages (msg_level >= 0) are ignored.  Whether a warning ends the
 * decode depends on fail_on: "truncated" and "error" stop on a premature
 * end of data, "warning" on any warning.
 */
static void
fj_emit_message(j_common_ptr cinfo, int msg_level)
{
    struct fj_error *err = (struct fj_error *)cinfo->err;
    char text[JMSG_LENGTH_MAX];

    if (msg_level >= 0)
        return;
    cinfo->err->num_warnings++;
    cinfo->err->format_message(cinfo, text);
    add_warning(err->res, text);
    if (err->fail_on == FAIL_WARNING ||
        (err->fail_on >= FAIL_TRUNCATED &&
         cinfo->err->msg_code == JWRN_JPEG_EOF)) {
        memcpy(err->msg, text, sizeof(err->msg));
        longjmp(err->jmp, 1);
    }
}

/* ------------------------------------------------------------------ */
/* Geometry                                                           */
/* ------------------------------------------------------------------ */

/*
 * The upright result for an upright input of @iw x @ih (geom_window()).
 */
static void
upright_axes(const struct settings *s, int iw, int ih, struct fj_axis *x,
             struct fj_axis *y)
{
    geom_window(s, iw, ih, &x->scaled, &y->scaled, &x->out, &y->out,
                &x->offset, &y->offset);
}

/* The same axis seen mirrored: the crop window moves to the other side. */
static struct fj_axis
flipped(struct fj_axis a)
{
    a.offset = a.scaled - a.out - a.offset;
    return a;
}

/*
 * Map the upright axes to the stored pixel axes for EXIF orientation @o.
 * Stored X runs along upright X for 1-4 and along upright Y for 5-8; it
 * runs backwards for 2, 3 (X) and 7, 8 (Y).  Stored Y runs backwards for
 * 3, 4 (upright Y) and 6, 7 (upright X).
 */
static void
stored_axes(int o, struct fj_axis ux, struct fj_axis uy, struct fj_axis *sx,
            struct fj_axis *sy)
{
    switch (o) {
    case 2:
        *sx = flipped(ux);
        *sy = uy;
        break;
    case 3:
        *sx = flipped(ux);
        *sy = flipped(uy);
        break;
    case 4:
        *sx = ux;
        *sy = flipped(uy);
        break;
    case 5:
        *sx = uy;
        *sy = ux;
        break;
    case 6:
        *sx = uy;
        *sy = flipped(ux);
        break;
    case 7:
        *sx = flipped(uy);
        *sy = flipped(ux);
        break;
    case 8:
        *sx = flipped(uy);
        *sy = ux;
        break;
    default:
        *sx = ux;
        *sy = uy;
        break;
    }
}

/*
 * Walking the stored-orientation image (@sw x @sh, @channels per pixel) in
 * upright order for EXIF orientation @o: upright pixel (x, y) is at
 * base + y * step_y + x * step_x.
 */
struct fj_walk {
    const unsigned char *src;
    int channels;
    int width;                  /* upright width */
    ptrdiff_t base, step_x, step_y;
};

static void
walk_init(struct fj_walk *wk, const unsigned char *src, int sw, int sh,
          int channels, int o)
{
    ptrdiff_t c = channels, row = (ptrdiff_t)sw * channels;
    ptrdiff_t last_col = (ptrdiff_t)(sw - 1) * c;
    ptrdiff_t last_row = (ptrdiff_t)(sh - 1) * row;

    wk->src = src;
    wk->channels = channels;
    wk->width = o >= 5 ? sh : sw;
    switch (o) {
    case 2:
        wk->base = last_col, wk->step_x = -c, wk->step_y = row;
        break;
    case 3:
        wk->base = last_row + last_col, wk->step_x = -c, wk->step_y = -row;
        break;
    case 4:
        wk->base = last_row, wk->step_x = c, wk->step_y = -row;
        break;
    case 5:
        wk->base = 0, wk->step_x = row, wk->step_y = c;
        break;
    case 6:
        wk->base = last_row, wk->step_x = -row, wk->step_y = c;
        break;
    case 7:
        wk->base = last_row + last_col, wk->step_x = -row, wk->step_y = -c;
        break;
    case 8:
        wk->base = last_col, wk->step_x = row, wk->step_y = -c;
        break;
    default:
        wk->base = 0, wk->step_x = c, wk->step_y = row;
        break;
    }
}

/*
 * Upright row @y as RGB.  When that is a stored RGB row read forwards
 * (orientations 1 and 4 of colour input) it is returned in place;
 * otherwise it is gathered into @buf, which is returned.
 */
static const unsigned char *
walk_row(const struct fj_walk *wk, int y, unsigned char *buf)
{
    const unsigned char *p = wk->src + wk->base + y * wk->step_y;
    unsigned char *d = buf;
    int x;

    if (wk->channels == 3 && wk->step_x == 3)
        return p;
    for (x = 0; x < wk->width; x++, p += wk->step_x, d += 3) {
        if (wk->channels == 1) {
            d[0] = d[1] = d[2] = p[0];
        } else {
            d[0] = p[0];
            d[1] = p[1];
            d[2] = p[2];
        }
    }
    return buf;
}

/* ------------------------------------------------------------------ */
/* Eligibility                                                        */
/* ------------------------------------------------------------------ */

int
fastjpeg_eligible(const struct settings *s, const struct jpeg_info *info)
{
    int iw, ih, ow, oh;

    if (s->format != FORMAT_JPEG || !s->strip)
        return 0;
    if (info->components != 1 && info->components != 3)
        return 0;
    /* Adobe transform 0 on three components is RGB-coded data. */
    if (info->components == 3 && info->has_adobe &&
        info->adobe_transform == 0)
        return 0;
    if (info->has_icc || info->arithmetic || info->lossless)
        return 0;
    if (info->width < 1 || info->height < 1)
        return 0;
    iw = info->orientation >= 5 ? info->height : info->width;
    ih = info->orientation >= 5 ? info->width : info->height;
    geom_fit(s, iw, ih, &ow, &oh);
    return ow >= 1 && oh >= 1;
}

/* ------------------------------------------------------------------ */
/* Processing                                                         */
/* ------------------------------------------------------------------ */

static void
fj_ctx_free(struct fj_ctx *ctx)
{
    if (ctx->have_d)
        jpeg_destroy_decompress(&ctx->d);
    if (ctx->have_rs)
        resample_release(&ctx->rs);
    free(ctx->img);
    free(ctx);
}

/* The output chroma subsampling, decided as the libvips path does. */
static int
want_420(const struct settings *s, const struct jpeg_info *info)
{
    switch (s->subsample) {
    case SUBSAMPLE_420:
        return 1;
    case SUBSAMPLE_444:
        return 0;
    default:
        if (s->mode == MODE_THUMBNAIL)
            return 1;
        return info->components == 3 &&
               info->h_samp[0] * info->v_samp[0] > 1 &&
               info->h_samp[1] == 1 && info->v_samp[1] == 1;
    }
}

/*
 * Choose the DCT scaling: the smallest N/8 whose output is at least
 * @tw x @th (stored orientation).  libjpeg computes the scaled size
 * (rounding up), so ask it rather than guess.  Upscaling keeps 8/8.
 */
static void
choose_scale(j_decompress_ptr d, int tw, int th)
{
    unsigned n;

    d->scale_denom = 8;
    for (n = 1; n <= 8; n++) {
        d->scale_num = n;
        jpeg_calc_output_dimensions(d);
        if ((int)d->output_width >= tw && (int)d->output_height >= th)
            return;
    }
}

/* Decode and resample into ctx->img (stored orientation); 0, or -1 with
 * @res failed.  libjpeg errors longjmp out instead. */
static int
decode(const struct settings *s, const struct jpeg_info *info,
       struct fj_ctx *ctx, struct task_result *res, int *ow, int *oh)
{
    j_decompress_ptr d = &ctx->d;
    struct fj_axis ux, uy, sx, sy;
    struct resample_span xspan, yspan;
    int o = info->orientation, iw, ih, channels;
    size_t stride;

    jpeg_create_decompress(d);
    ctx->have_d = 1;
    d->src = &ctx->src.pub;
    jpeg_read_header(d, TRUE);

    /* The header sniffed before may have been misleading: trust libjpeg. */
    if (d->num_components != 1 && d->num_components != 3) {
        task_result_fail(res, ERR_UNSUPPORTED,
                         "cannot decode: %d-component JPEG on the direct "
                         "path", d->num_components);
        return -1;
    }
    channels = d->num_components;
    d->out_color_space = channels == 1 ? JCS_GRAYSCALE : JCS_RGB;
    d->dct_method = FJ_DCT;
    /* Smooth (triangle) chroma upsampling, as libvips has it.  With DCT
     * scaling libjpeg usually scales chroma up in the IDCT instead, and
     * this costs nothing; it matters at 8/8. */
    d->do_fancy_upsampling = TRUE;

    iw = (int)d->image_width;
    ih = (int)d->image_height;
    if (o >= 5) {
        iw = (int)d->image_height;
        ih = (int)d->image_width;
    }
    res->in_width = iw;
    res->in_height = ih;
    upright_axes(s, iw, ih, &ux, &uy);
    *ow = ux.out;
    *oh = uy.out;
    stored_axes(o, ux, uy, &sx, &sy);
    choose_scale(d, sx.scaled, sy.scaled);

    xspan.in = (int)d->output_width;
    xspan.scaled = sx.scaled;
    xspan.offset = sx.offset;
    xspan.out = sx.out;
    yspan.in = (int)d->output_height;
    yspan.scaled = sy.scaled;
    yspan.offset = sy.offset;
    yspan.out = sy.out;
    ctx->have_rs = 1;
    stride = (size_t)sx.out * channels;
    ctx->channels = channels;
    ctx->img = malloc(stride * (size_t)sy.out);
    if (!ctx->img ||
        resample_init(&ctx->rs, channels, &xspan, &yspan) < 0) {
        task_result_fail(res, ERR_OUT_OF_MEMORY,
                         "cannot allocate %dx%d image", *ow, *oh);
        return -1;
    }

    jpeg_start_decompress(d);
    while (d->output_scanline < d->output_height) {
        JSAMPROW row = resample_row_buffer(&ctx->rs);

        /* Our source never suspends, so each call yields a row. */
        if (jpeg_read_scanlines(d, &row, 1) != 1)
            ERREXIT(d, JERR_INPUT_EOF);
        resample_push_row(&ctx->rs, ctx->img, stride);
    }
    jpeg_finish_decompress(d);
    return 0;
}

/* fastjpeg_row_fn over a struct fj_walk. */
static const unsigned char *
walk_row_fn(void *arg, int y, unsigned char *buf)
{
    return walk_row(arg, y, buf);
}

/*
 * Encode ctx->img, turned upright (@w x @h) and expanded to RGB row by row
 * on the way, and write it as t->out_path.  0, or -1 with @res failed.
 */
static int
encode(const struct settings *s, const struct task *t,
       const struct jpeg_info *info, struct fj_ctx *ctx, int w, int h,
       struct task_result *res)
{
    int o = info->orientation;
    struct fj_walk wk;

    walk_init(&wk, ctx->img, o >= 5 ? h : w, o >= 5 ? w : h, ctx->channels,
              o);
    return fastjpeg_write(s, t, w, h, want_420(s, info), walk_row_fn, &wk,
                          res);
}

static void
enc_free(struct fj_enc *e)
{
    if (e->have_c)
        jpeg_destroy_compress(&e->c);
    free(e->row);
    free(e->jpeg);
    free(e);
}

int
fastjpeg_write(const struct settings *s, const struct task *t, int w, int h,
               int sub420, fastjpeg_row_fn row_fn, void *arg,
               struct task_result *res)
{
    struct fj_enc *e;
    j_compress_ptr c;
    struct outfile of;
    int sub = sub420 ? 2 : 1, ok;

    e = calloc(1, sizeof(*e));
    if (e)
        e->row = malloc((size_t)w * 3);
    if (!e || !e->row) {
        task_result_fail(res, ERR_OUT_OF_MEMORY, "cannot allocate encoder");
        if (e)
            enc_free(e);
        return -1;
    }
    c = &e->c;
    c->err = jpeg_std_error(&e->err.pub);
    e->err.pub.error_exit = fj_error_exit;
    e->err.pub.emit_message = fj_emit_message;
    e->err.res = res;
    /* fail_on is about damaged input: encoder warnings are only noted. */
    e->err.fail_on = FAIL_NONE;

    /* Everything that may longjmp runs below; state is kept in *e. */
    if (setjmp(e->err.jmp) != 0) {
        if (e->err.pub.msg_code == JERR_OUT_OF_MEMORY)
            task_result_fail(res, ERR_OUT_OF_MEMORY,
                             "cannot encode output: %s", e->err.msg);
        else
            task_result_fail(res, ERR_WRITE, "cannot encode output: %s",
                             e->err.msg);
        goto out;
    }
    jpeg_create_compress(c);
    e->have_c = 1;
    jpeg_mem_dest(c, &e->jpeg, &e->jpeg_len);
    c->image_width = (JDIMENSION)w;
    c->image_height = (JDIMENSION)h;
    c->input_components = 3;
    c->in_color_space = JCS_RGB;
    jpeg_set_defaults(c);
    jpeg_set_quality(c, s->quality, TRUE);
    c->dct_method = FJ_DCT;
    c->optimize_coding = TRUE;
    c->comp_info[0].h_samp_factor = sub;
    c->comp_info[0].v_samp_factor = sub;
    c->comp_info[1].h_samp_factor = c->comp_info[1].v_samp_factor = 1;
    c->comp_info[2].h_samp_factor = c->comp_info[2].v_samp_factor = 1;
    jpeg_start_compress(c, TRUE);
    while (c->next_scanline < c->image_height) {
        /* libjpeg only reads the row: casting away const is safe. */
        JSAMPROW row = (JSAMPROW)row_fn(arg, (int)c->next_scanline, e->row);

        jpeg_write_scanlines(c, &row, 1);
    }
    jpeg_finish_compress(c);

    if (outfile_open(&of, s->output_dir, t->out_path, s->fsync, res) < 0)
        goto out;
    if (outfile_write(&of, e->jpeg, e->jpeg_len, res) < 0) {
        outfile_abort(&of);
        goto out;
    }
    if (outfile_commit(&of, res) < 0)
        goto out;
    e->ok = 1;
out:
    ok = e->ok;
    enc_free(e);
    return ok ? 0 : -1;
}

/* Turn what ended the work with a longjmp into a failed result. */
static void
fail_jump(struct fj_ctx *ctx, struct task_result *res)
{
    if (ctx->src.read_errno) {
        task_result_fail(res, ERR_READ, "cannot read: %s",
                         strerror(ctx->src.read_errno));
    } else if (ctx->err.pub.msg_code == JERR_OUT_OF_MEMORY) {
        task_result_fail(res, ERR_OUT_OF_MEMORY, "cannot decode: %s",
                         ctx->err.msg);
    } else {
        task_result_fail(res, ERR_DECODE, "cannot decode: %s", ctx->err.msg);
    }
}

void
fastjpeg_process(const struct settings *s, const struct task *t, int fd,
                 const struct jpeg_info *info, struct task_result *res)
{
    struct fj_ctx *ctx;
    int ow = 0, oh = 0;

    res->status = TASK_FAILED;
    ctx = calloc(1, sizeof(*ctx));
    if (!ctx) {
        task_result_fail(res, ERR_OUT_OF_MEMORY, "cannot allocate decoder");
        return;
    }
    ctx->d.err = jpeg_std_error(&ctx->err.pub);
    ctx->err.pub.error_exit = fj_error_exit;
    ctx->err.pub.emit_message = fj_emit_message;
    ctx->err.res = res;
    ctx->err.fail_on = s->fail_on;
    ctx->src.fd = fd;
    ctx->src.pub.init_source = src_init;
    ctx->src.pub.fill_input_buffer = src_fill;
    ctx->src.pub.skip_input_data = src_skip;
    ctx->src.pub.resync_to_restart = jpeg_resync_to_restart;
    ctx->src.pub.term_source = src_term;

    /* Everything that may longjmp runs below; state is kept in *ctx. */
    if (setjmp(ctx->err.jmp) != 0) {
        fail_jump(ctx, res);
        goto out;
    }
    if (decode(s, info, ctx, res, &ow, &oh) < 0)
        goto out;
    /* The decoder is done with: its memory can go before the encode. */
    jpeg_destroy_decompress(&ctx->d);
    ctx->have_d = 0;
    if (encode(s, t, info, ctx, ow, oh, res) < 0)
        goto out;
    res->out_width = ow;
    res->out_height = oh;
    res->status = TASK_OK;
out:
    fj_ctx_free(ctx);
}
