/*
 * fastpng.c - PNG -> JPEG thumbnails through libpng directly (see
 * fastpng.h for the contract).
 *
 * For wallpaper-sized PNGs libvips' loader and pipeline cost about as much
 * again as the decode itself.  This path:
 *   1. decides eligibility from the chunks before the first IDAT, which the
 *      caller has already read;
 *   2. reads the file with pread() through a buffered libpng read callback
 *      and has libpng expand every pixel format to 8-bit RGB or RGBA;
 *   3. flattens alpha onto the background colour row by row, and streams
 *      the rows through the Lanczos-3 resampler (resample.h) to the exact
 *      size geom_fit() gives; for FIT_COVER only the centre window of the
 *      covering size is computed;
 *   4. encodes and writes the result with fastjpeg_write().
 *
 * libpng reports errors through fp_error(), which longjmps back to
 * fastpng_process(); warnings go into the task result.  Once rows are
 * being read, an error is damaged image data: under FAIL_NONE it becomes a
 * warning and the rows not read are filled with the background colour,
 * as libvips' lenient load gives an image too.  All per-file state lives
 * in one heap context that is freed on every path.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <png.h>

#include "fastjpeg.h"
#include "fastpng.h"
#include "geom.h"
#include "resample.h"

/* Bytes read from the input per pread(). */
#define FP_CHUNK (64 * 1024)

/* gAMA is stored as gamma * 100000; sRGB's is about 1/2.2. */
#define FP_GAMA_SRGB 45455
#define FP_GAMA_SLACK 500

/* Everything one file needs; freed by fp_ctx_free() on every path. */
struct fp_ctx {
    jmp_buf jmp;
    const struct settings *s;
    struct task_result *res;
    png_structp png;
    png_infop info;
    char msg[256];                  /* the message that ended the decode */

    /* Reader. */
    int fd;
    off_t pos;                      /* file offset of the next pread() */
    size_t have, used;              /* bytes in buf, bytes consumed */
    int read_errno;                 /* set when a read failed */
    unsigned char buf[FP_CHUNK];

    /* Image. */
    int width, height;              /* input */
    int channels;                   /* after libpng's transforms: 3 or 4 */
    int rows_read;                  /* complete input rows pushed */
    int reading;                    /* rows are being read: damage from now */
    unsigned char *rgba;            /* one input row, when it has alpha */
    struct resample rs;
    int have_rs;
    unsigned char *img;             /* resampled RGB, ow x oh */
    int ow, oh;
};

/* ------------------------------------------------------------------ */
/* Eligibility                                                        */
/* ------------------------------------------------------------------ */

static uint32_t
be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
           (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

/* Bit depth @depth is allowed with colour type @ctype (PNG spec 11.2.2). */
static int
depth_ok(int ctype, int depth)
{
    switch (ctype) {
    case 0:
        return depth == 1 || depth == 2 || depth == 4 || depth == 8 ||
               depth == 16;
    case 3:
        return depth == 1 || depth == 2 || depth == 4 || depth == 8;
    case 2:
    case 4:
    case 6:
        return depth == 8 || depth == 16;
    default:
        return 0;
    }
}

/* IHDR's 13 data bytes at @p: a plain, non-interlaced image.  Sets the
 * dimensions. */
static int
ihdr_ok(const unsigned char *p, uint32_t *w, uint32_t *h)
{
    *w = be32(p);
    *h = be32(p + 4);
    if (*w < 1 || *h < 1 || *w > 0x7fffffffu || *h > 0x7fffffffu)
        return 0;
    if (!depth_ok(p[9], p[8]))
        return 0;
    /* compression, filter method, interlace (1 is Adam7) */
    return p[10] == 0 && p[11] == 0 && p[12] == 0;
}

int
fastpng_eligible(const struct settings *s, const unsigned char *head,
                 size_t len)
{
    static const unsigned char sig[8] = {137, 'P', 'N', 'G', 13, 10, 26, 10};
    size_t pos = 8;
    uint32_t w = 0, h = 0;
    int ow, oh;

    if (s->format != FORMAT_JPEG || !s->strip)
        return 0;
    if (len < 8 || memcmp(head, sig, 8) != 0)
        return 0;
    for (;;) {
        const unsigned char *type;
        uint32_t clen;

        if (len - pos < 8)
            return 0;
        clen = be32(head + pos);
        type = head + pos + 4;
        if (clen > 0x7fffffffu)
            return 0;
        if (pos == 8) {
            if (memcmp(type, "IHDR", 4) != 0 || clen != 13 ||
                len - pos - 8 < 13 || !ihdr_ok(head + pos + 8, &w, &h))
                return 0;
        } else if (memcmp(type, "IDAT", 4) == 0) {
            break;
        } else if (memcmp(type, "iCCP", 4) == 0 ||
                   memcmp(type, "cHRM", 4) == 0 ||
                   memcmp(type, "eXIf", 4) == 0) {
            return 0;
        } else if (memcmp(type, "gAMA", 4) == 0) {
            uint32_t g;

            if (clen != 4 || len - pos - 8 < 4)
                return 0;
            g = be32(head + pos + 8);
            if (g + FP_GAMA_SLACK < FP_GAMA_SRGB ||
                g > FP_GAMA_SRGB + FP_GAMA_SLACK)
                return 0;
        } else if (!(type[0] & 0x20) && memcmp(type, "PLTE", 4) != 0) {
            /* IEND before any IDAT, or a critical chunk we do not know:
             * let libvips say what is wrong. */
            return 0;
        }
        if (len - pos - 8 < (size_t)clen + 4)
            return 0;
        pos += 12 + (size_t)clen;
    }
    geom_fit(s, (int)w, (int)h, &ow, &oh);
    return ow >= 1 && oh >= 1;
}

/* ------------------------------------------------------------------ */
/* libpng callbacks                                                   */
/* ------------------------------------------------------------------ */

/* Append one warning to the result: counted always, text while it fits. */
static void
note_warning(struct task_result *res, const char *text)
{
    size_t used = strlen(res->warning);

    res->nwarnings++;
    if (used + 2 >= sizeof(res->warning))
        return;
    snprintf(res->warning + used, sizeof(res->warning) - used, "%s%s",
             used ? "\n" : "", text);
}

static void
fp_read(png_structp png, png_bytep out, size_t len)
{
    struct fp_ctx *ctx = png_get_io_ptr(png);

    while (len > 0) {
        size_t k;

        if (ctx->used == ctx->have) {
            ssize_t n;

            do {
                n = pread(ctx->fd, ctx->buf, sizeof(ctx->buf), ctx->pos);
            } while (n < 0 && errno == EINTR);
            if (n < 0) {
                ctx->read_errno = errno;
                png_error(png, "read error");
            }
            if (n == 0)
                png_error(png, "not enough data");
            ctx->pos += n;
            ctx->have = (size_t)n;
            ctx->used = 0;
        }
        k = ctx->have - ctx->used;
        if (k > len)
            k = len;
        memcpy(out, ctx->buf + ctx->used, k);
        ctx->used += k;
        out += k;
        len -= k;
    }
}

static void
fp_error(png_structp png, png_const_charp msg)
{
    struct fp_ctx *ctx = png_get_error_ptr(png);

    snprintf(ctx->msg, sizeof(ctx->msg), "%s", msg);
    longjmp(ctx->jmp, 1);
}

/* Warnings are counted; under FAIL_WARNING the first one ends the work. */
static void
fp_warning(png_structp png, png_const_charp msg)
{
    struct fp_ctx *ctx = png_get_error_ptr(png);

    note_warning(ctx->res, msg);
    if (ctx->s->fail_on == FAIL_WARNING) {
        snprintf(ctx->msg, sizeof(ctx->msg), "%s", msg);
        ctx->reading = 0;           /* never lenient about it */
        longjmp(ctx->jmp, 1);
    }
}

/* ------------------------------------------------------------------ */
/* Processing                                                         */
/* ------------------------------------------------------------------ */

static void
fp_ctx_free(struct fp_ctx *ctx)
{
    if (ctx->png)
        png_destroy_read_struct(&ctx->png, ctx->info ? &ctx->info : NULL,
                                NULL);
    if (ctx->have_rs)
        resample_release(&ctx->rs);
    free(ctx->rgba);
    free(ctx->img);
    free(ctx);
}

/*
 * The resampler's axes for the input (geom_window()).
 */
static void
spans(const struct settings *s, int iw, int ih, struct resample_span *x,
      struct resample_span *y)
{
    x->in = iw;
    y->in = ih;
    geom_window(s, iw, ih, &x->scaled, &y->scaled, &x->out, &y->out,
                &x->offset, &y->offset);
}

/* Read the header, set up the transforms and the resampler.  0, or -1
 * with @res failed.  libpng errors longjmp out instead. */
static int
decode_start(struct fp_ctx *ctx)
{
    const struct settings *s = ctx->s;
    struct task_result *res = ctx->res;
    png_structp png = ctx->png;
    png_infop info = ctx->info;
    struct resample_span xs, ys;
    png_uint_32 w, h;
    int depth, ctype, interlace;

    /* Lenient like libvips: damaged CRCs and Adler-32 sums are used. */
    if (s->fail_on == FAIL_NONE)
        png_set_crc_action(png, PNG_CRC_QUIET_USE, PNG_CRC_QUIET_USE);
#ifdef PNG_IGNORE_ADLER32
    if (s->fail_on == FAIL_NONE)
        png_set_option(png, PNG_IGNORE_ADLER32, PNG_OPTION_ON);
#endif
    png_read_info(png, info);
    png_get_IHDR(png, info, &w, &h, &depth, &ctype, &interlace, NULL, NULL);
    if (interlace != PNG_INTERLACE_NONE || w > 0x7fffffffu ||
        h > 0x7fffffffu) {
        task_result_fail(res, ERR_UNSUPPORTED,
                         "cannot decode: interlaced PNG on the direct path");
        return -1;
    }
    ctx->width = (int)w;
    ctx->height = (int)h;
    res->in_width = ctx->width;
    res->in_height = ctx->height;

    png_set_expand(png);            /* palette, tRNS, low depths */
    png_set_strip_16(png);          /* high byte, as libvips' cast */
    png_set_gray_to_rgb(png);
    png_read_update_info(png, info);
    ctx->channels = png_get_channels(png, info);
    if ((ctx->channels != 3 && ctx->channels != 4) ||
        png_get_rowbytes(png, info) != (size_t)w * ctx->channels) {
        task_result_fail(res, ERR_UNSUPPORTED,
                         "cannot decode: unexpected PNG row layout");
        return -1;
    }

    spans(s, ctx->width, ctx->height, &xs, &ys);
    ctx->ow = xs.out;
    ctx->oh = ys.out;
    ctx->have_rs = 1;
    ctx->img = malloc((size_t)ctx->ow * 3 * (size_t)ctx->oh);
    if (ctx->channels == 4)
        ctx->rgba = malloc((size_t)w * 4);
    if (!ctx->img || (ctx->channels == 4 && !ctx->rgba) ||
        resample_init(&ctx->rs, 3, &xs, &ys) < 0) {
        task_result_fail(res, ERR_OUT_OF_MEMORY,
                         "cannot allocate %dx%d image", ctx->ow, ctx->oh);
        return -1;
    }
    return 0;
}

/* RGBA row @in of @w pixels onto background @bg, as RGB into @out. */
static void
flatten_row(const unsigned char *in, int w, const uint8_t bg[3],
            unsigned char *out)
{
    int x, c;

    for (x = 0; x < w; x++, in += 4, out += 3) {
        unsigned a = in[3];

        for (c = 0; c < 3; c++)
            out[c] = (unsigned char)((a * in[c] + (255 - a) * bg[c] + 127) /
                                     255);
    }
}

/* Read every row into the resampler.  libpng errors longjmp out. */
static void
decode_rows(struct fp_ctx *ctx)
{
    size_t stride = (size_t)ctx->ow * 3;

    ctx->reading = 1;
    while (ctx->rows_read < ctx->height) {
        unsigned char *row = resample_row_buffer(&ctx->rs);

        if (ctx->channels == 4) {
            png_read_row(ctx->png, ctx->rgba, NULL);
            flatten_row(ctx->rgba, ctx->width, ctx->s->background, row);
        } else {
            png_read_row(ctx->png, row, NULL);
        }
        resample_push_row(&ctx->rs, ctx->img, stride);
        ctx->rows_read++;
    }
    ctx->reading = 0;
}

/* Rows from ctx->rows_read on, which were not read, in the background
 * colour. */
static void
fill_rest(struct fp_ctx *ctx)
{
    size_t stride = (size_t)ctx->ow * 3;
    const uint8_t *bg = ctx->s->background;

    while (ctx->rows_read < ctx->height) {
        unsigned char *row = resample_row_buffer(&ctx->rs);
        int x;

        for (x = 0; x < ctx->width; x++, row += 3) {
            row[0] = bg[0];
            row[1] = bg[1];
            row[2] = bg[2];
        }
        resample_push_row(&ctx->rs, ctx->img, stride);
        ctx->rows_read++;
    }
}

/*
 * After a longjmp: 1 when the decode may go on with what it has (damaged
 * image data under FAIL_NONE; the message becomes a warning), else 0 with
 * @res failed.
 */
static int
after_jump(struct fp_ctx *ctx)
{
    struct task_result *res = ctx->res;

    if (ctx->read_errno) {
        task_result_fail(res, ERR_READ, "cannot read: %s",
                         strerror(ctx->read_errno));
        return 0;
    }
    if (ctx->reading && ctx->s->fail_on == FAIL_NONE) {
        note_warning(res, ctx->msg);
        return 1;
    }
    task_result_fail(res, ERR_DECODE, "cannot decode: %s", ctx->msg);
    return 0;
}

/* fastjpeg_row_fn over ctx->img. */
static const unsigned char *
img_row(void *arg, int y, unsigned char *buf)
{
    struct fp_ctx *ctx = arg;

    (void)buf;
    return ctx->img + (size_t)y * ctx->ow * 3;
}

void
fastpng_process(const struct settings *s, const struct task *t, int fd,
                struct task_result *res)
{
    struct fp_ctx *ctx;
    int sub420;

    res->status = TASK_FAILED;
    ctx = calloc(1, sizeof(*ctx));
    if (!ctx) {
        task_result_fail(res, ERR_OUT_OF_MEMORY, "cannot allocate decoder");
        return;
    }
    ctx->s = s;
    ctx->res = res;
    ctx->fd = fd;
    ctx->png = png_create_read_struct(PNG_LIBPNG_VER_STRING, ctx, fp_error,
                                      fp_warning);
    if (ctx->png)
        ctx->info = png_create_info_struct(ctx->png);
    if (!ctx->png || !ctx->info) {
        task_result_fail(res, ERR_OUT_OF_MEMORY, "cannot allocate decoder");
        goto out;
    }
    png_set_read_fn(ctx->png, ctx, fp_read);

    /* Everything that may longjmp runs below; state is kept in *ctx. */
    if (setjmp(ctx->jmp) != 0) {
        if (!after_jump(ctx))
            goto out;
    } else {
        if (decode_start(ctx) < 0)
            goto out;
        decode_rows(ctx);
    }
    fill_rest(ctx);
    /* The decoder is done with (the rest of the file, IEND included, is
     * not read): its memory can go before the encode. */
    png_destroy_read_struct(&ctx->png, &ctx->info, NULL);
    ctx->png = NULL;
    ctx->info = NULL;

    sub420 = s->subsample == SUBSAMPLE_420 ||
             (s->subsample == SUBSAMPLE_AUTO && s->mode == MODE_THUMBNAIL);
    if (fastjpeg_write(s, t, ctx->ow, ctx->oh, sub420, img_row, ctx,
                       res) < 0)
        goto out;
    res->out_width = ctx->ow;
    res->out_height = ctx->oh;
    res->status = TASK_OK;
out:
    fp_ctx_free(ctx);
}
