/*
 * jxl.c - JPEG to JPEG XL and back through libjxl's own API, without
 * pixels: the JPEG's coefficients and its reconstruction data go in, the
 * same JPEG comes out (jxl.h).
 *
 * Both directions work on whole buffers in memory and grow their output
 * buffer as libjxl asks for more room.  No thread runner is set: libjxl
 * then works in the calling thread only.  libjxl as Debian builds it
 * prints the reason of each failure on stderr (JXL_FAILURE lines); a
 * worker never prints, so stderr points at /dev/null while it runs (the
 * reason that matters is in the record).
 */
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jxl/decode.h>
#include <jxl/encode.h>

#include "jxl.h"

/* The largest distance libjxl's encoder accepts. */
#define JXL_MAX_DISTANCE 25.0

double
jxl_distance(int q)
{
    double d;

    if (q >= 100)
        return 0.1;
    if (q >= 30)
        return 0.1 + (100 - q) * 0.09;
    d = 6.4 + pow(2.5, (30 - q) / 5.0) / 6.25;
    return d > JXL_MAX_DISTANCE ? JXL_MAX_DISTANCE : d;
}

const char *
jxl_jpeg_refusal(const struct jpeg_info *ji)
{
    if (ji->arithmetic)
        return "arithmetic-coded JPEG";
    if (ji->lossless)
        return "lossless-process JPEG";
    if (ji->hierarchical)
        return "hierarchical JPEG";
    /* libjxl keeps one or three components only. */
    if (ji->components == 4)
        return "CMYK (4-component) JPEG";
    if (ji->components != 1 && ji->components != 3)
        return "JPEG with neither 1 nor 3 components";
    if (ji->precision != 8)
        return ji->precision == 12 ? "12-bit JPEG" : "JPEG of a sample "
                                                     "precision other than 8";
    return NULL;
}

/* Point stderr at /dev/null; what to give quiet_end(). */
static int
quiet_begin(void)
{
    int saved = fcntl(2, F_DUPFD_CLOEXEC, 3);
    int null = open("/dev/null", O_WRONLY | O_CLOEXEC);

    if (saved >= 0 && null >= 0)
        dup2(null, 2);
    if (null >= 0)
        close(null);
    return saved;
}

static void
quiet_end(int saved)
{
    if (saved >= 0) {
        dup2(saved, 2);
        close(saved);
    }
}

/* A growing output buffer. */
struct jxlbuf {
    unsigned char *data;
    size_t cap;
    size_t len;
};

/* Double @b's room, keeping its bytes.  0, or -1 (nothing changed). */
static int
jxlbuf_grow(struct jxlbuf *b)
{
    size_t cap = b->cap ? b->cap * 2 : 65536;
    unsigned char *nb = realloc(b->data, cap);

    if (!nb)
        return -1;
    b->data = nb;
    b->cap = cap;
    return 0;
}

/* What libjxl's encoder error @e means, for a message. */
static const char *
enc_error_str(JxlEncoderError e)
{
    switch (e) {
    case JXL_ENC_ERR_JBRD:
        return "the JPEG's structure cannot be stored for reconstruction";
    case JXL_ENC_ERR_BAD_INPUT:
        return "libjxl cannot parse this JPEG";
    case JXL_ENC_ERR_NOT_SUPPORTED:
        return "a JPEG feature libjxl does not support";
    case JXL_ENC_ERR_OOM:
        return "out of memory";
    default:
        return "libjxl refused the JPEG";
    }
}

/* The encoder's output into @b until it is done.  0, or -1 (@b freed by
 * the caller). */
static int
enc_drain(JxlEncoder *enc, struct jxlbuf *b)
{
    JxlEncoderStatus st = JXL_ENC_NEED_MORE_OUTPUT;

    while (st == JXL_ENC_NEED_MORE_OUTPUT) {
        uint8_t *next;
        size_t avail;

        if (b->cap - b->len < 4096 && jxlbuf_grow(b) < 0)
            return -1;
        next = b->data + b->len;
        avail = b->cap - b->len;
        st = JxlEncoderProcessOutput(enc, &next, &avail);
        b->len = (size_t)(next - b->data);
    }
    return st == JXL_ENC_SUCCESS ? 0 : -1;
}

static int
from_jpeg(const unsigned char *jpg, size_t len, unsigned char **out,
          size_t *out_len, struct task_result *res)
{
    JxlEncoder *enc = JxlEncoderCreate(NULL);
    JxlEncoderFrameSettings *fs;
    struct jxlbuf b = { NULL, 0, 0 };
    int rc = -1;

    *out = NULL;
    *out_len = 0;
    if (!enc) {
        task_result_fail(res, ERR_OUT_OF_MEMORY, "cannot start the JPEG XL "
                         "encoder");
        return -1;
    }
    fs = JxlEncoderFrameSettingsCreate(enc, NULL);
    if (!fs || JxlEncoderUseContainer(enc, JXL_TRUE) != JXL_ENC_SUCCESS ||
        JxlEncoderStoreJPEGMetadata(enc, JXL_TRUE) != JXL_ENC_SUCCESS ||
        JxlEncoderFrameSettingsSetOption(fs, JXL_ENC_FRAME_SETTING_EFFORT,
                                         JXL_EFFORT) != JXL_ENC_SUCCESS) {
        task_result_fail(res, ERR_INTERNAL, "cannot set up the JPEG XL "
                         "encoder");
        goto out;
    }
    if (JxlEncoderAddJPEGFrame(fs, jpg, len) != JXL_ENC_SUCCESS) {
        JxlEncoderError e = JxlEncoderGetError(enc);

        task_result_fail(res, e == JXL_ENC_ERR_OOM ? ERR_OUT_OF_MEMORY
                                                   : ERR_NOT_TRANSCODABLE,
                         "cannot transcode to JPEG XL losslessly: %s",
                         enc_error_str(e));
        goto out;
    }
    JxlEncoderCloseInput(enc);
    if (enc_drain(enc, &b) < 0) {
        JxlEncoderError e = JxlEncoderGetError(enc);

        task_result_fail(res, e == JXL_ENC_ERR_OOM || !b.data
                                  ? ERR_OUT_OF_MEMORY : ERR_NOT_TRANSCODABLE,
                         "cannot transcode to JPEG XL losslessly: %s",
                         enc_error_str(e));
        goto out;
    }
    *out = b.data;
    *out_len = b.len;
    b.data = NULL;
    rc = 0;
out:
    free(b.data);
    JxlEncoderDestroy(enc);
    return rc;
}

/* The declared size in @dec's basic info against @max_pixels.  0, or -1
 * with @res failed. */
static int
check_size(JxlDecoder *dec, int64_t max_pixels, struct task_result *res)
{
    JxlBasicInfo bi;

    if (JxlDecoderGetBasicInfo(dec, &bi) != JXL_DEC_SUCCESS) {
        task_result_fail(res, ERR_DECODE, "cannot read the JPEG XL header");
        return -1;
    }
    if (max_pixels > 0 && (int64_t)bi.xsize * bi.ysize > max_pixels) {
        task_result_fail(res, ERR_TOO_LARGE, "image is %ux%u (%lld pixels), "
                         "over --max-pixels %lld", bi.xsize, bi.ysize,
                         (long long)bi.xsize * bi.ysize,
                         (long long)max_pixels);
        return -1;
    }
    return 0;
}

/* Give @dec the free part of @b (grown first when full) for the JPEG.
 * 0, or -1. */
static int
set_jpeg_room(JxlDecoder *dec, struct jxlbuf *b)
{
    if (b->cap - b->len < 4096 && jxlbuf_grow(b) < 0)
        return -1;
    return JxlDecoderSetJPEGBuffer(dec, b->data + b->len, b->cap - b->len) ==
                   JXL_DEC_SUCCESS ? 0 : -1;
}

/* Take back the room given to @dec, counting what it wrote into @b. */
static void
take_jpeg_room(JxlDecoder *dec, struct jxlbuf *b)
{
    size_t left = JxlDecoderReleaseJPEGBuffer(dec);

    b->len = b->cap - left;
}

/* Run @dec to the end of the reconstruction into @b.  0 done, 1 no
 * reconstruction data, -1 with @res failed. */
static int
rebuild(JxlDecoder *dec, int64_t max_pixels, struct jxlbuf *b,
        struct task_result *res)
{
    int have_jpeg = 0;

    for (;;) {
        JxlDecoderStatus st = JxlDecoderProcessInput(dec);

        switch (st) {
        case JXL_DEC_BASIC_INFO:
            if (check_size(dec, max_pixels, res) < 0)
                return -1;
            break;
        case JXL_DEC_JPEG_RECONSTRUCTION:
            have_jpeg = 1;
            if (set_jpeg_room(dec, b) < 0)
                goto oom;
            break;
        case JXL_DEC_JPEG_NEED_MORE_OUTPUT:
            take_jpeg_room(dec, b);
            if (jxlbuf_grow(b) < 0 || set_jpeg_room(dec, b) < 0)
                goto oom;
            break;
        case JXL_DEC_NEED_IMAGE_OUT_BUFFER:
            /* Pixels are asked for: no JPEG is stored in this file. */
            return 1;
        case JXL_DEC_FULL_IMAGE:
            if (!have_jpeg)
                return 1;
            take_jpeg_room(dec, b);
            return 0;
        case JXL_DEC_SUCCESS:
            if (!have_jpeg)
                return 1;
            take_jpeg_room(dec, b);
            return 0;
        case JXL_DEC_NEED_MORE_INPUT:
            task_result_fail(res, ERR_DECODE, "JPEG XL data cut short");
            return -1;
        default:
            task_result_fail(res, ERR_DECODE, "cannot decode the JPEG XL "
                             "file (libjxl status %d)", (int)st);
            return -1;
        }
    }
oom:
    task_result_fail(res, ERR_OUT_OF_MEMORY, "cannot allocate %zu bytes for "
                     "the rebuilt JPEG", b->cap * 2);
    return -1;
}

static int
to_jpeg(const unsigned char *jxl, size_t len, int64_t max_pixels,
        unsigned char **out, size_t *out_len, struct task_result *res)
{
    JxlDecoder *dec = JxlDecoderCreate(NULL);
    struct jxlbuf b = { NULL, 0, 0 };
    int rc;

    *out = NULL;
    *out_len = 0;
    if (!dec) {
        task_result_fail(res, ERR_OUT_OF_MEMORY, "cannot start the JPEG XL "
                         "decoder");
        return -1;
    }
    if (JxlDecoderSubscribeEvents(dec, JXL_DEC_BASIC_INFO |
                                       JXL_DEC_JPEG_RECONSTRUCTION |
                                       JXL_DEC_FULL_IMAGE) !=
            JXL_DEC_SUCCESS ||
        JxlDecoderSetInput(dec, jxl, len) != JXL_DEC_SUCCESS) {
        task_result_fail(res, ERR_INTERNAL, "cannot set up the JPEG XL "
                         "decoder");
        JxlDecoderDestroy(dec);
        return -1;
    }
    JxlDecoderCloseInput(dec);
    rc = rebuild(dec, max_pixels, &b, res);
    JxlDecoderDestroy(dec);
    if (rc != 0) {
        free(b.data);
        return rc;
    }
    *out = b.data;
    *out_len = b.len;
    return 0;
}

int
jxl_from_jpeg(const unsigned char *jpg, size_t len, unsigned char **out,
              size_t *out_len, struct task_result *res)
{
    int saved = quiet_begin();
    int rc = from_jpeg(jpg, len, out, out_len, res);

    quiet_end(saved);
    return rc;
}

int
jxl_to_jpeg(const unsigned char *jxl, size_t len, int64_t max_pixels,
            unsigned char **out, size_t *out_len, struct task_result *res)
{
    int saved = quiet_begin();
    int rc = to_jpeg(jxl, len, max_pixels, out, out_len, res);

    quiet_end(saved);
    return rc;
}
