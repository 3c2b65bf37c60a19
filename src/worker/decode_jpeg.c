/*
 * decode_jpeg.c - the direct JPEG decoder: libjpeg(-turbo) without libvips'
 * per-image pipeline cost (see decode.h for the stage's contract).
 *
 * For small files libvips spends most of its time setting up its pipeline,
 * not in the codec.  This decoder does only what a plain JPEG needs:
 *   1. read the header with libjpeg, from the descriptor, in chunks;
 *   2. pick the smallest DCT scaling N/8 whose output still covers the
 *      target in both directions (decode_scale), so libjpeg does most of
 *      the shrinking inside its inverse DCT;
 *   3. hand each decoded row, as stored (the EXIF orientation is applied by
 *      the encoder's reader, orient.h), to the colour and resize stages.
 *
 * Eligible (decode_jpeg_eligible): baseline or progressive Huffman JPEG, 1
 * or 3 components (grey or YCbCr, no Adobe RGB transform) or 4 (CMYK or
 * YCCK), with or without an embedded ICC profile, output JPEG with
 * metadata stripped.  The profile (APP2 "ICC_PROFILE" markers, joined by
 * libjpeg-turbo's jpeg_read_icc_profile) and the CMYK flavour (always
 * Adobe's inverted CMYK, as libvips takes it: read_colour) go to the
 * colour stage through struct decoded (read_colour); an untagged JPEG is
 * sRGB by convention.  Other bit depths stay with libvips.
 *
 * libjpeg reports fatal errors through error_exit(), which longjmps back to
 * the entry point that called libjpeg (each sets its own jump target);
 * warnings (damaged data) go through emit_message() into the task result
 * and, depending on fail_on, end the decode the same way.  All per-file
 * state lives in one heap context that decode_close() frees.
 *
 * Bounded work and honest results (guard.h): a file with several scans is
 * walked once for its scan count before libjpeg starts, and a progress
 * monitor stops libjpeg past the same cap; warnings past their cap end the
 * decode too (ERR_TOO_COMPLEX).  The source manager notes where the data
 * ran out (the scan and the row of blocks libjpeg was in), which gives the
 * rows actually decoded: too few, and a lenient decode (the only one that
 * goes on past the end of the data) fails as ERR_TRUNCATED instead of
 * passing as a grey image.  The source reads nothing past the real data
 * (in->data_end: a zero tail or a final hole is where the data ran out,
 * tail.h), nothing past EOI once the walk has found it, and at most
 * DJ_AFTER_ROWS bytes once every row is decoded, so a hole or garbage
 * where EOI should be costs no more than the image.
 */
#include <errno.h>
#include <setjmp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jpeglib.h>
#include <jerror.h>

#include "decode.h"
#include "geom.h"
#include "guard.h"
#include "jpegerr.h"
#include "jpegmem.h"
#include "loaderr.h"
#include "orient.h"
#include "warn.h"

/* Bytes read from the input per fill: most thumbnails' sources in one. */
#define DJ_CHUNK (64 * 1024)

/* Bytes libjpeg may read once every row is decoded, looking for the end
 * of the image: past that (a hole or garbage where EOI should be) the
 * data is taken to end. */
#define DJ_AFTER_ROWS (1024 * 1024)

/*
 * IDCT variant: JDCT_ISLOW, the accurate one.  Measured on 200 640x480
 * photos (decode at 1/2, encode 300x225), JDCT_IFAST was no faster beyond
 * run-to-run noise: the reduced-size IDCTs used with DCT scaling ignore the
 * setting (only full-size components, such as 4:2:0 chroma at 1/2, use
 * it), and libjpeg-turbo has SIMD code for both.  ISLOW is also what
 * libvips uses, so both decoders start from the same pixels.
 */
#define DJ_DCT JDCT_ISLOW

/* Source manager reading the input with input_pread() from offset 0. */
struct dj_source {
    struct jpeg_source_mgr pub;     /* first: libjpeg sees only this */
    int fd;
    off_t pos;                      /* offset of the next read */
    off_t end;                      /* the real data's end (tail.h) */
    int rows_done;                  /* every row was decoded */
    int started;                    /* some data was read */
    int read_errno;                 /* set when a read failed */
    /* Where the data ran out (guard.h): libjpeg's scan and row of blocks
     * (iMCU row) when the end of the file was first met. */
    int eof_hit;
    int eof_scan;
    unsigned eof_imcu_row;
    JOCTET buf[DJ_CHUNK];
};

/* Everything one file needs; freed by dj_close(). */
struct dj_ctx {
    struct jpeg_err err;
    struct dj_source src;
    struct jpeg_decompress_struct d;
    int have_d;
    struct jpeg_progress_mgr progress;  /* the scan cap */
    struct jpegmem mem;                 /* multi-scan coefficients */
};

/* ------------------------------------------------------------------ */
/* libjpeg callbacks                                                  */
/* ------------------------------------------------------------------ */

static void
src_init(j_decompress_ptr cinfo)
{
    (void)cinfo;
}

/* Remember where the data first ran out (before the warning, which may
 * end the decode). */
static void
note_eof(j_decompress_ptr cinfo, struct dj_source *src)
{
    if (src->eof_hit)
        return;
    src->eof_hit = 1;
    src->eof_scan = cinfo->input_scan_number;
    src->eof_imcu_row = cinfo->input_iMCU_row;
}

static boolean
src_fill(j_decompress_ptr cinfo)
{
    struct dj_source *src = (struct dj_source *)cinfo->src;
    ssize_t n;

    n = 0;
    if (src->pos < src->end)
        n = input_pread(src->fd, src->buf,
                        src->end - src->pos < DJ_CHUNK
                            ? (size_t)(src->end - src->pos)
                            : DJ_CHUNK, src->pos);
    if (n < 0) {
        src->read_errno = errno;
        ERREXIT(cinfo, JERR_FILE_READ);
    }
    if (n == 0) {
        if (!src->started)
            ERREXIT(cinfo, JERR_INPUT_EMPTY);
        if (!src->rows_done)
            note_eof(cinfo, src);
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
    struct dj_source *src = (struct dj_source *)cinfo->src;

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

/* Called by libjpeg as it consumes input: a file past the scan cap ends
 * the decode (guard.h), whatever the walk before found. */
static void
dj_progress(j_common_ptr cinfo)
{
    struct dj_ctx *ctx = (struct dj_ctx *)(void *)
        ((char *)cinfo->progress - offsetof(struct dj_ctx, progress));

    if (!cinfo->is_decompressor ||
        ctx->d.input_scan_number <= GUARD_MAX_SCANS)
        return;
    ctx->err.too_complex = 1;
    snprintf(ctx->err.msg, sizeof(ctx->err.msg), "JPEG has more than %d "
             "scans (the limit of scans per image)", GUARD_MAX_SCANS);
    longjmp(ctx->err.jmp, 1);
}

/*
 * Source rows that hold decoded data: all of them unless the data ran
 * out.  Then the rows of blocks completed before that point in the first
 * scan; once the first scan is complete (the data ran out in a later
 * one), every row has at least its coarse data and counts.
 */
static int
dj_decoded_rows(const struct dj_ctx *ctx)
{
    const struct jpeg_decompress_struct *j = &ctx->d;
    int64_t rows;

    if (!ctx->src.eof_hit || ctx->src.eof_scan > 1)
        return (int)j->image_height;
    rows = (int64_t)ctx->src.eof_imcu_row * j->max_v_samp_factor * DCTSIZE;
    return rows < (int64_t)j->image_height ? (int)rows
                                           : (int)j->image_height;
}

/* Rows of source pixels in one MCU row. */
static int
dj_mcu_rows(const struct dj_ctx *ctx)
{
    return ctx->d.max_v_samp_factor * DCTSIZE;
}

/* ------------------------------------------------------------------ */
/* The decoder                                                        */
/* ------------------------------------------------------------------ */

int
decode_jpeg_eligible(const struct settings *s, const struct jpeg_info *info)
{
    struct geom_box box;
    int iw, ih, ow, oh;

    if (s->format != FORMAT_JPEG || !s->strip)
        return 0;
    if (info->components != 1 && info->components != 3 &&
        info->components != 4)
        return 0;
    /* Adobe transform 0 on three components is RGB-coded data. */
    if (info->components == 3 && info->has_adobe &&
        info->adobe_transform == 0)
        return 0;
    if (info->arithmetic || info->lossless)
        return 0;
    if (info->width < 1 || info->height < 1)
        return 0;
    orient_upright_size(info->orientation, info->width, info->height, &iw,
                        &ih);
    box = geom_box_of(s);
    geom_fit(&box, iw, ih, &ow, &oh);
    return ow >= 1 && oh >= 1;
}

/* Turn what ended the work with a longjmp into a failed result. */
static void
fail_jump(struct dj_ctx *ctx, struct task_result *res)
{
    if (ctx->src.read_errno) {
        task_result_fail(res, ERR_READ, "cannot read: %s",
                         strerror(ctx->src.read_errno));
    } else if (ctx->err.too_complex) {
        task_result_fail(res, ERR_TOO_COMPLEX, "cannot decode: %s",
                         ctx->err.msg);
    } else if (ctx->err.pub.msg_code == JERR_OUT_OF_MEMORY) {
        task_result_fail(res, ERR_OUT_OF_MEMORY, "cannot decode: %s",
                         ctx->err.msg);
    } else {
        task_result_fail(res, ERR_DECODE, "cannot decode: %s", ctx->err.msg);
        loaderr_reclassify(res);
    }
}

static void
dj_close(void *impl)
{
    struct dj_ctx *ctx = impl;

    if (!ctx)
        return;
    if (ctx->have_d)
        jpeg_destroy_decompress(&ctx->d);
    jpegmem_release(&ctx->mem);
    free(ctx);
}

/* Whether an APP2 "ICC_PROFILE" marker was saved. */
static int
has_icc_marker(j_decompress_ptr j)
{
    jpeg_saved_marker_ptr m;

    for (m = j->marker_list; m; m = m->next)
        if (m->marker == JPEG_APP0 + 2 && m->data_length >= 12 &&
            memcmp(m->data, "ICC_PROFILE", 12) == 0)
            return 1;
    return 0;
}

/* The colour facts of the header just read into @d: the embedded profile
 * (copied to d->icc; a damaged one is left out with a warning) and the
 * CMYK flavour.  libjpeg errors longjmp out. */
static void
read_colour(j_decompress_ptr j, struct decoded *d, struct task_result *res)
{
    JOCTET *icc = NULL;
    unsigned int len = 0;

    d->cmyk = j->num_components == 4;
    /* Inverted whether or not the Adobe marker is there, as libvips reads
     * it: Photoshop and Pillow write inverted CMYK, and a file that lost
     * its APP14 marker on the way still holds inverted data. */
    d->cmyk_inverted = d->cmyk;
    if (jpeg_read_icc_profile(j, &icc, &len) && icc && len > 0) {
        /* libjpeg's malloc()ed copy: decoded_release() frees it. */
        d->icc = icc;
        d->icc_len = len;
    } else {
        free(icc);
        if (j->marker_list && has_icc_marker(j)) {
            warn_append(res, "embedded ICC profile is incomplete; it is "
                        "ignored");
            d->tagged = 1;      /* colour.h: an unusable profile */
        }
    }
    d->tagged = d->tagged || d->icc != NULL || d->cmyk;
}

/* The header, into @d.  libjpeg errors longjmp out. */
static int
read_header(struct dj_ctx *ctx, const struct input *in, struct decoded *d,
            struct task_result *res)
{
    j_decompress_ptr j = &ctx->d;
    jpeg_component_info *ci;

    jpeg_create_decompress(j);
    ctx->have_d = 1;
    jpegmem_install(&ctx->mem, (j_common_ptr)j);
    j->src = &ctx->src.pub;
    jpeg_save_markers(j, JPEG_APP0 + 2, 0xFFFF);   /* ICC profile */
    jpeg_read_header(j, TRUE);

    /* The header sniffed before may have been misleading: trust libjpeg. */
    if (j->num_components != 1 && j->num_components != 3 &&
        j->num_components != 4) {
        task_result_fail(res, ERR_UNSUPPORTED,
                         "cannot decode: %d-component JPEG on the direct "
                         "path", j->num_components);
        return -1;
    }
    j->out_color_space = j->num_components == 1   ? JCS_GRAYSCALE
                         : j->num_components == 4 ? JCS_CMYK
                                                  : JCS_RGB;
    j->dct_method = DJ_DCT;
    /* Smooth (triangle) chroma upsampling, as libvips has it.  With DCT
     * scaling libjpeg usually scales chroma up in the IDCT instead, and
     * this costs nothing; it matters at 8/8. */
    j->do_fancy_upsampling = TRUE;

    ci = j->comp_info;
    d->bands = j->num_components;
    d->orientation = in->have_ji ? in->ji.orientation : 1;
    orient_upright_size(d->orientation, (int)j->image_width,
                        (int)j->image_height, &d->width, &d->height);
    d->source_420 = j->num_components == 3 &&
                    ci[0].h_samp_factor * ci[0].v_samp_factor > 1 &&
                    ci[1].h_samp_factor == 1 && ci[1].v_samp_factor == 1;
    d->progressive = j->progressive_mode;
    read_colour(j, d, res);
    return 0;
}

/* read_header() with its jump target.  0, or -1 with @res failed. */
static int
start(struct dj_ctx *ctx, const struct input *in, struct decoded *d,
      struct task_result *res)
{
    /* Everything that may longjmp runs below; state is kept in *ctx. */
    if (setjmp(ctx->err.jmp) != 0) {
        fail_jump(ctx, res);
        return -1;
    }
    return read_header(ctx, in, d, res);
}

/* A file with several scans: its scan count, before libjpeg spends a pass
 * over the image on each (guard.h).  0, or -1 with @res failed. */
static int
scan_cap(struct dj_ctx *ctx, const struct input *in, struct task_result *res)
{
    struct guard_jpeg_walk w;

    if (!jpeg_has_multiple_scans(&ctx->d))
        return 0;
    if (guard_jpeg(in, &w, res) < 0)
        return -1;
    /* libjpeg reads every scan before the first row: none past EOI. */
    if (w.eoi && w.eoi_end < (int64_t)ctx->src.end)
        ctx->src.end = (off_t)w.eoi_end;
    return 0;
}

/* Error manager (warnings into @res, damage per @fail_on), the caps, and
 * a source reading @in's descriptor, for a new @ctx. */
static void
dj_ctx_init(struct dj_ctx *ctx, const struct input *in,
            struct task_result *res, enum fail_on fail_on)
{
    ctx->d.err = jpeg_err_init(&ctx->err, res, fail_on);
    ctx->err.max_warnings = GUARD_MAX_WARNINGS;
    ctx->progress.progress_monitor = dj_progress;
    ctx->d.progress = &ctx->progress;
    ctx->src.fd = in->fd;
    ctx->src.end = (off_t)in->data_end;
    ctx->src.pub.init_source = src_init;
    ctx->src.pub.fill_input_buffer = src_fill;
    ctx->src.pub.skip_input_data = src_skip;
    ctx->src.pub.resync_to_restart = jpeg_resync_to_restart;
    ctx->src.pub.term_source = src_term;
}

static void *
dj_open(const struct decode_params *p, const struct input *in,
        enum decode_size size, struct decoded *d, struct task_result *res)
{
    struct dj_ctx *ctx = calloc(1, sizeof(*ctx));

    (void)size;             /* only DECODE_FIT comes here (decode.c) */
    if (!ctx) {
        task_result_fail(res, ERR_OUT_OF_MEMORY, "cannot allocate decoder");
        return NULL;
    }
    dj_ctx_init(ctx, in, res, p->fail_on);
    if (start(ctx, in, d, res) < 0 || scan_cap(ctx, in, res) < 0) {
        dj_close(ctx);
        return NULL;
    }
    return ctx;
}

/*
 * The smallest DCT scaling N/8 whose output is at least x->scaled x
 * y->scaled.  libjpeg computes the scaled size (rounding up), so ask it
 * rather than guess.  Upscaling keeps 8/8.
 */
static void
dj_scale(void *impl, struct resample_span *x, struct resample_span *y)
{
    struct dj_ctx *ctx = impl;
    j_decompress_ptr j = &ctx->d;
    unsigned n;

    /* Only a libjpeg bug could make this fail: keep the size as it is. */
    if (setjmp(ctx->err.jmp) != 0) {
        j->scale_num = j->scale_denom = 8;  /* the size libjpeg decodes */
        x->in = (int)j->image_width;
        y->in = (int)j->image_height;
        x->extent = y->extent = 0;
        return;
    }
    j->scale_denom = 8;
    for (n = 1; n <= 8; n++) {
        j->scale_num = n;
        jpeg_calc_output_dimensions(j);
        if ((int)j->output_width >= x->scaled &&
            (int)j->output_height >= y->scaled)
            break;
    }
    x->in = (int)j->output_width;
    y->in = (int)j->output_height;
    x->extent = (double)j->image_width * j->scale_num / j->scale_denom;
    y->extent = (double)j->image_height * j->scale_num / j->scale_denom;
}

static int
dj_rows(void *impl, struct colour *c, struct resize *rz,
        struct task_result *res)
{
    struct dj_ctx *ctx = impl;
    j_decompress_ptr j = &ctx->d;

    ctx->err.res = res;
    if (setjmp(ctx->err.jmp) != 0) {
        fail_jump(ctx, res);
        return -1;
    }
    jpeg_start_decompress(j);
    while (j->output_scanline < j->output_height) {
        JSAMPROW row = colour_row_in(c, rz);

        /* Our source never suspends, so each call yields a row. */
        if (jpeg_read_scanlines(j, &row, 1) != 1)
            ERREXIT(j, JERR_INPUT_EOF);
        colour_row_done(c, rz);
    }
    /* What is left is the search for EOI: bounded (DJ_AFTER_ROWS). */
    ctx->src.rows_done = 1;
    if (ctx->src.end - ctx->src.pos > DJ_AFTER_ROWS)
        ctx->src.end = ctx->src.pos + DJ_AFTER_ROWS;
    jpeg_finish_decompress(j);
    return guard_rows(dj_decoded_rows(ctx), (int)j->image_height,
                      dj_mcu_rows(ctx), res);
}

/* decode_jpeg_count_rows() once set up: every row at 1/8 scale, into a
 * scratch row.  libjpeg errors longjmp out. */
static void
count_rows(struct dj_ctx *ctx)
{
    j_decompress_ptr j = &ctx->d;
    JSAMPROW row;

    jpeg_create_decompress(j);
    ctx->have_d = 1;
    jpegmem_install(&ctx->mem, (j_common_ptr)j);
    j->src = &ctx->src.pub;
    jpeg_read_header(j, TRUE);
    /* No colour conversion: any component layout will do. */
    j->out_color_space = j->jpeg_color_space;
    j->scale_num = 1;
    j->scale_denom = 8;
    j->do_fancy_upsampling = FALSE;
    jpeg_start_decompress(j);
    row = (*j->mem->alloc_small)((j_common_ptr)j, JPOOL_IMAGE,
                                 (size_t)j->output_width *
                                     j->output_components);
    while (j->output_scanline < j->output_height)
        if (jpeg_read_scanlines(j, &row, 1) != 1)
            ERREXIT(j, JERR_INPUT_EOF);
}

int
decode_jpeg_count_rows(const struct input *in, int *rows, int *height,
                       int *mcu_rows)
{
    struct task_result scratch;     /* libjpeg's warnings, not reported:
                                       the loader reports its own */
    struct dj_ctx *ctx = calloc(1, sizeof(*ctx));
    volatile int rc = -1;

    if (!ctx)
        return -1;
    memset(&scratch, 0, sizeof(scratch));
    dj_ctx_init(ctx, in, &scratch, FAIL_NONE);
    /* Everything that may longjmp runs below; state is kept in *ctx. */
    if (setjmp(ctx->err.jmp) == 0) {
        count_rows(ctx);
        *rows = dj_decoded_rows(ctx);
        *height = (int)ctx->d.image_height;
        *mcu_rows = dj_mcu_rows(ctx);
        rc = 0;
    }
    dj_close(ctx);
    return rc;
}

int
decode_jpeg_is_420(const struct jpeg_info *ji)
{
    return ji->components == 3 && ji->h_samp[0] * ji->v_samp[0] > 1 &&
           ji->h_samp[1] == 1 && ji->v_samp[1] == 1;
}

const struct decoder_ops decode_jpeg_ops = {
    .open = dj_open,
    .scale = dj_scale,
    .rows = dj_rows,
    .close = dj_close,
};
