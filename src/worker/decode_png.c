/*
 * decode_png.c - the direct PNG decoder: libpng without libvips' per-image
 * pipeline cost (see decode.h for the stage's contract).
 *
 * For wallpaper-sized PNGs libvips' loader and pipeline cost about as much
 * again as the decode itself.  This decoder:
 *   1. decides eligibility from the chunks before the first IDAT, which the
 *      open stage has already read (decode_png_eligible);
 *   2. reads the file with pread() through a buffered libpng read callback
 *      and has libpng expand every pixel format to 8-bit RGB or RGBA
 *      (16-bit samples keep their high byte, as libvips' cast does);
 *   3. hands each row to the colour stage (which flattens alpha onto the
 *      background) and on to the resizer: the whole image is never held.
 *
 * Eligible: any bit depth and colour type PNG allows (grey, grey+alpha,
 * RGB, RGBA, palette with or without tRNS), not interlaced, no eXIf
 * chunk, and output JPEG with metadata stripped.  Colour chunks: an iCCP
 * profile is honoured (read_iccp hands it to the colour stage, which
 * converts to sRGB); an sRGB chunk means sRGB, nothing to do; with either
 * of them gAMA and cHRM are ignored, as the PNG specification says.
 * Without them, gAMA about 1/2.2 is sRGB as well, while other gAMA values
 * and cHRM alone send the file to libvips (which ignores both too, but
 * it stays the reference for such rare files).  Everything else goes
 * through libvips.
 *
 * libpng reports errors through fp_error(), which longjmps back to the
 * entry point that called libpng; warnings go into the task result.  Once
 * rows are being read, an error is damaged image data: under FAIL_NONE it
 * becomes a warning and the rows not read are filled with the background
 * colour, as libvips' lenient load gives an image too; otherwise it fails
 * as ERR_DECODE.  All per-file state lives in one heap context.
 *
 * Honest results (guard.h): the IHDR chunk is checked against its CRC
 * before libpng sees it (lenient CRC handling would otherwise accept
 * damaged dimensions), and a lenient decode that stopped early counts as
 * an image only when enough rows were read; otherwise ERR_TRUNCATED.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <png.h>

#include "byteorder.h"
#include "decode.h"
#include "geom.h"
#include "guard.h"
#include "loaderr.h"
#include "warn.h"

/* Bytes read from the input per pread(). */
#define FP_CHUNK (64 * 1024)

/* gAMA is stored as gamma * 100000; sRGB's is about 1/2.2. */
#define FP_GAMA_SRGB 45455
#define FP_GAMA_SLACK 500

/* Everything one file needs; freed by fp_close(). */
struct fp_ctx {
    jmp_buf jmp;
    const struct decode_params *p;
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
};

/* ------------------------------------------------------------------ */
/* Eligibility                                                        */
/* ------------------------------------------------------------------ */

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
    *w = bo_get32(p, 0);
    *h = bo_get32(p + 4, 0);
    if (*w < 1 || *h < 1 || *w > 0x7fffffffu || *h > 0x7fffffffu)
        return 0;
    if (!depth_ok(p[9], p[8]))
        return 0;
    /* compression, filter method, interlace (1 is Adam7) */
    return p[10] == 0 && p[11] == 0 && p[12] == 0;
}

/* Whether chunk @type (cHRM or gAMA; @clen data bytes at @p, of which
 * @avail are in the buffer) says no more than sRGB would. */
static int
gama_is_srgb(const unsigned char *type, const unsigned char *p,
             uint32_t clen, size_t avail)
{
    uint32_t g;

    if (memcmp(type, "gAMA", 4) != 0 || clen != 4 || avail < 4)
        return 0;
    g = bo_get32(p, 0);
    return g + FP_GAMA_SLACK >= FP_GAMA_SRGB &&
           g <= FP_GAMA_SRGB + FP_GAMA_SLACK;
}

int
decode_png_eligible(const struct settings *s, const unsigned char *head,
                    size_t len)
{
    static const unsigned char sig[8] = {137, 'P', 'N', 'G', 13, 10, 26, 10};
    size_t pos = 8;
    uint32_t w = 0, h = 0;
    struct geom_box box;
    int ow, oh, colour_chunks = 0, odd_gamma = 0;

    if (s->format != FORMAT_JPEG || !s->strip)
        return 0;
    if (len < 8 || memcmp(head, sig, 8) != 0)
        return 0;
    for (;;) {
        const unsigned char *type;
        uint32_t clen;

        if (len - pos < 8)
            return 0;
        clen = bo_get32(head + pos, 0);
        type = head + pos + 4;
        if (clen > 0x7fffffffu)
            return 0;
        if (pos == 8) {
            if (memcmp(type, "IHDR", 4) != 0 || clen != 13 ||
                len - pos - 8 < 13 || !ihdr_ok(head + pos + 8, &w, &h))
                return 0;
        } else if (memcmp(type, "IDAT", 4) == 0) {
            break;
        } else if (memcmp(type, "eXIf", 4) == 0) {
            return 0;
        } else if (memcmp(type, "iCCP", 4) == 0 ||
                   memcmp(type, "sRGB", 4) == 0) {
            colour_chunks = 1;
        } else if (memcmp(type, "cHRM", 4) == 0 ||
                   memcmp(type, "gAMA", 4) == 0) {
            odd_gamma |= !gama_is_srgb(type, head + pos + 8, clen,
                                       len - pos - 8);
        } else if (!(type[0] & 0x20) && memcmp(type, "PLTE", 4) != 0) {
            /* IEND before any IDAT, or a critical chunk we do not know:
             * let libvips say what is wrong. */
            return 0;
        }
        if (len - pos - 8 < (size_t)clen + 4)
            return 0;
        pos += 12 + (size_t)clen;
    }
    if (odd_gamma && !colour_chunks)
        return 0;
    box = geom_box_of(s);
    geom_fit(&box, (int)w, (int)h, &ow, &oh);
    return ow >= 1 && oh >= 1;
}

/* ------------------------------------------------------------------ */
/* libpng callbacks                                                   */
/* ------------------------------------------------------------------ */

static void
fp_read(png_structp png, png_bytep out, size_t len)
{
    struct fp_ctx *ctx = png_get_io_ptr(png);

    while (len > 0) {
        size_t k;

        if (ctx->used == ctx->have) {
            ssize_t n;

            n = input_pread(ctx->fd, ctx->buf, sizeof(ctx->buf), ctx->pos);
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

    if (warn_benign(msg))
        return;
    warn_append(ctx->res, msg);
    if (ctx->p->fail_on == FAIL_WARNING) {
        snprintf(ctx->msg, sizeof(ctx->msg), "%s", msg);
        ctx->reading = 0;           /* never lenient about it */
        longjmp(ctx->jmp, 1);
    }
}

/* ------------------------------------------------------------------ */
/* The decoder                                                        */
/* ------------------------------------------------------------------ */

static void
fp_close(void *impl)
{
    struct fp_ctx *ctx = impl;

    if (!ctx)
        return;
    if (ctx->png)
        png_destroy_read_struct(&ctx->png, ctx->info ? &ctx->info : NULL,
                                NULL);
    free(ctx);
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
    if (ctx->reading && ctx->p->fail_on == FAIL_NONE) {
        warn_append(res, ctx->msg);
        return 1;
    }
    task_result_fail(res, ERR_DECODE, "cannot decode: %s", ctx->msg);
    /* libpng names a size limit in a warning before "Invalid IHDR". */
    res->err_class = loaderr_class(ctx->msg,
                                   loaderr_class(res->warning, ERR_DECODE));
    return 0;
}

/* The iCCP profile, copied to d->icc, and whether the pixels are grey
 * (libpng expands them to RGB; the profile then is a grey one).  libpng
 * errors longjmp out; a damaged iCCP is dropped by libpng with a
 * warning. */
static void
read_iccp(struct fp_ctx *ctx, struct decoded *d, int ctype)
{
    png_charp name;
    png_bytep prof;
    png_uint_32 plen;
    int comp;

    d->grey_source = !(ctype & PNG_COLOR_MASK_COLOR);
    if (!png_get_iCCP(ctx->png, ctx->info, &name, &comp, &prof, &plen) ||
        !prof || plen == 0)
        return;
    d->icc = malloc(plen);
    if (!d->icc)
        return;             /* untagged then, rather than failed */
    memcpy(d->icc, prof, plen);
    d->icc_len = plen;
    d->tagged = 1;
}

/* Read the header and set up the transforms.  0, or -1 with @res failed.
 * libpng errors longjmp out instead. */
static int
read_header(struct fp_ctx *ctx, struct decoded *d)
{
    const struct decode_params *p = ctx->p;
    png_structp png = ctx->png;
    png_infop info = ctx->info;
    png_uint_32 w, h;
    int depth, ctype, interlace;

    /* Lenient like libvips: damaged CRCs and Adler-32 sums are used. */
    if (p->fail_on == FAIL_NONE)
        png_set_crc_action(png, PNG_CRC_QUIET_USE, PNG_CRC_QUIET_USE);
#ifdef PNG_IGNORE_ADLER32
    if (p->fail_on == FAIL_NONE)
        png_set_option(png, PNG_IGNORE_ADLER32, PNG_OPTION_ON);
#endif
    png_read_info(png, info);
    png_get_IHDR(png, info, &w, &h, &depth, &ctype, &interlace, NULL, NULL);
    if (interlace != PNG_INTERLACE_NONE || w > 0x7fffffffu ||
        h > 0x7fffffffu) {
        task_result_fail(ctx->res, ERR_UNSUPPORTED,
                         "cannot decode: interlaced PNG on the direct path");
        return -1;
    }
    ctx->width = (int)w;
    ctx->height = (int)h;

    png_set_expand(png);            /* palette, tRNS, low depths */
    png_set_strip_16(png);          /* high byte, as libvips' cast */
    png_set_gray_to_rgb(png);
    png_read_update_info(png, info);
    ctx->channels = png_get_channels(png, info);
    if ((ctx->channels != 3 && ctx->channels != 4) ||
        png_get_rowbytes(png, info) != (size_t)w * ctx->channels) {
        task_result_fail(ctx->res, ERR_UNSUPPORTED,
                         "cannot decode: unexpected PNG row layout");
        return -1;
    }
    d->width = ctx->width;
    d->height = ctx->height;
    d->orientation = 1;
    d->bands = ctx->channels;
    d->source_420 = 0;
    d->progressive = 0;
    d->tagged = 0;
    read_iccp(ctx, d, ctype);
    return 0;
}

/* read_header() with its jump target.  0, or -1 with ctx->res failed. */
static int
start(struct fp_ctx *ctx, struct decoded *d)
{
    /* Everything that may longjmp runs below; state is kept in *ctx. */
    if (setjmp(ctx->jmp) != 0) {
        after_jump(ctx);            /* not reading rows yet: fails */
        return -1;
    }
    return read_header(ctx, d);
}

static void *
fp_open(const struct decode_params *p, const struct input *in,
        enum decode_size size, struct decoded *d, struct task_result *res)
{
    struct fp_ctx *ctx = calloc(1, sizeof(*ctx));

    (void)size;             /* only DECODE_FIT comes here (decode.c) */
    if (!ctx) {
        task_result_fail(res, ERR_OUT_OF_MEMORY, "cannot allocate decoder");
        return NULL;
    }
    ctx->p = p;
    ctx->res = res;
    ctx->fd = in->fd;
    ctx->png = png_create_read_struct(PNG_LIBPNG_VER_STRING, ctx, fp_error,
                                      fp_warning);
    if (ctx->png)
        ctx->info = png_create_info_struct(ctx->png);
    if (!ctx->png || !ctx->info) {
        task_result_fail(res, ERR_OUT_OF_MEMORY, "cannot allocate decoder");
        fp_close(ctx);
        return NULL;
    }
    png_set_read_fn(ctx->png, ctx, fp_read);
    if (guard_png(in, 0, NULL, res) < 0 || start(ctx, d) < 0) {
        fp_close(ctx);
        return NULL;
    }
    return ctx;
}

/* A PNG has no cheaper reduced decode: rows come at full size. */
static void
fp_scale(void *impl, struct resample_span *x, struct resample_span *y)
{
    struct fp_ctx *ctx = impl;

    x->in = ctx->width;
    y->in = ctx->height;
}

/* Rows from ctx->rows_read on, which were not read, in the background
 * colour (opaque). */
static void
fill_rest(struct fp_ctx *ctx, struct colour *c, struct resize *rz)
{
    const uint8_t *bg = ctx->p->background;

    while (ctx->rows_read < ctx->height) {
        unsigned char *row = colour_row_in(c, rz);
        int x;

        for (x = 0; x < ctx->width; x++, row += ctx->channels) {
            row[0] = bg[0];
            row[1] = bg[1];
            row[2] = bg[2];
            if (ctx->channels == 4)
                row[3] = 255;
        }
        colour_row_done(c, rz);
        ctx->rows_read++;
    }
}

/* After damaged or missing image data ended the rows early in a lenient
 * decode: 1 with ctx->res failed (ERR_TRUNCATED) when too few rows were
 * read to count as an image (guard.h), before any filling; else 0.  A
 * strict decode fails as ERR_DECODE in after_jump(), as before. */
static int
too_few_rows(struct fp_ctx *ctx)
{
    if (ctx->read_errno || !ctx->reading || ctx->p->fail_on != FAIL_NONE ||
        guard_rows_enough(ctx->rows_read, ctx->height, 1))
        return 0;
    warn_append(ctx->res, ctx->msg);
    guard_rows(ctx->rows_read, ctx->height, 1, ctx->res);
    return 1;
}

static int
fp_rows(void *impl, struct colour *c, struct resize *rz,
        struct task_result *res)
{
    struct fp_ctx *ctx = impl;
    int rows;

    ctx->res = res;
    /* Everything that may longjmp runs below; state is kept in *ctx. */
    if (setjmp(ctx->jmp) != 0) {
        if (too_few_rows(ctx))
            return -1;
        if (!after_jump(ctx))
            return -1;
    } else {
        ctx->reading = 1;
        while (ctx->rows_read < ctx->height) {
            png_read_row(ctx->png, colour_row_in(c, rz), NULL);
            colour_row_done(c, rz);
            ctx->rows_read++;
        }
        ctx->reading = 0;
    }
    /* The rest of the file, IEND included, is not read. */
    rows = ctx->rows_read;
    fill_rest(ctx, c, rz);
    return guard_rows(rows, ctx->height, 1, res);
}

int
decode_png_count_rows(const struct input *in, int *rows, int *height)
{
    struct decode_params p;
    struct task_result scratch;     /* libpng's messages, not reported:
                                       the loader reports its own */
    struct decoded d;
    struct fp_ctx *ctx;
    unsigned char *row = NULL;
    volatile int rc = -1;

    memset(&p, 0, sizeof(p));
    p.fail_on = FAIL_NONE;                  /* lenient */
    memset(&scratch, 0, sizeof(scratch));
    decoded_init(&d);
    ctx = fp_open(&p, in, DECODE_FIT, &d, &scratch);
    if (!ctx)
        return -1;
    row = malloc((size_t)ctx->width * ctx->channels);
    /* Everything that may longjmp runs below; state is kept in *ctx. */
    if (row && setjmp(ctx->jmp) == 0) {
        ctx->reading = 1;
        while (ctx->rows_read < ctx->height) {
            png_read_row(ctx->png, row, NULL);
            ctx->rows_read++;
        }
    }
    if (row) {
        *rows = ctx->rows_read;
        *height = ctx->height;
        rc = 0;
    }
    free(row);
    fp_close(ctx);
    return rc;
}

const struct decoder_ops decode_png_ops = {
    .open = fp_open,
    .scale = fp_scale,
    .rows = fp_rows,
    .close = fp_close,
};
