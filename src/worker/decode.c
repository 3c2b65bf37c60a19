/*
 * decode.c - choosing a decoder, and the entry points of the one decoder
 * interface (struct decoder_ops), which dispatch to the decoder chosen;
 * see decode.h.  The decoders themselves are decode_jpeg.c,
 * decode_png.c and decode_vips.c.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <vips/vips.h>

#include "decode.h"
#include "orient.h"

struct decoder {
    const struct decoder_ops *ops;
    void *impl;
};

const char *
decoder_str(enum decoder_kind d)
{
    switch (d) {
    case DECODER_JPEG:
        return "jpeg";
    case DECODER_PNG:
        return "png";
    case DECODER_VIPS:
        return "vips";
    }
    return "?";
}

int
decode_png_may_have_alpha(const unsigned char *b, size_t n)
{
    if (n < 26)
        return 1;
    if (b[25] == 4 || b[25] == 6)
        return 1;
    /* tRNS comes before the first IDAT: not seen that far, assume one. */
    return memmem(b, n, "tRNS", 4) != NULL || !memmem(b, n, "IDAT", 4);
}

enum decoder_kind
decode_choose(const struct settings *s, const struct input *in)
{
    if (!s->fast_jpeg || s->target == TARGET_IN_PLACE)
        return DECODER_VIPS;
    /* The direct PNG decoder flattens: alpha kept goes through libvips. */
    if (in->fmt == IMGF_PNG && settings_keep_alpha(s) && in->head &&
        decode_png_may_have_alpha(in->head, in->head_len))
        return DECODER_VIPS;
    if (in->have_ji && decode_jpeg_eligible(s, &in->ji))
        return DECODER_JPEG;
    if (in->fmt == IMGF_PNG && in->head &&
        decode_png_eligible(s, in->head, in->head_len))
        return DECODER_PNG;
    return DECODER_VIPS;
}

void
decode_params_of(const struct settings *s, struct decode_params *p)
{
    p->box = geom_box_of(s);
    p->mode = s->mode;
    p->fail_on = s->fail_on;
    p->allow_untrusted = s->allow_untrusted;
    p->density = s->density;
    p->max_pixels = s->max_pixels;
    memcpy(p->background, s->background, sizeof(p->background));
}

/* The implementation of @kind, or NULL. */
static const struct decoder_ops *
decoder_ops_of(enum decoder_kind kind)
{
    switch (kind) {
    case DECODER_JPEG:
        return &decode_jpeg_ops;
    case DECODER_PNG:
        return &decode_png_ops;
    case DECODER_VIPS:
        return &decode_vips_ops;
    }
    return NULL;
}

struct decoder *
decode_open(enum decoder_kind kind, const struct decode_params *p,
            const struct input *in, enum decode_size size, struct decoded *d,
            struct task_result *res)
{
    const struct decoder_ops *ops = decoder_ops_of(kind);
    struct decoder *dec;

    if (!ops || (size == DECODE_FULL && ops->rows)) {
        task_result_fail(res, ERR_INTERNAL, "the %s decoder does not "
                         "decode images as stored", decoder_str(kind));
        return NULL;
    }
    dec = malloc(sizeof(*dec));
    if (!dec) {
        task_result_fail(res, ERR_OUT_OF_MEMORY, "cannot allocate decoder");
        return NULL;
    }
    dec->ops = ops;
    dec->impl = ops->open(p, in, size, d, res);
    if (!dec->impl) {
        free(dec);
        return NULL;
    }
    return dec;
}

int
decode_streams(const struct decoder *dec)
{
    return dec->ops->rows != NULL;
}

void
decode_scale(struct decoder *dec, struct resample_span *x,
             struct resample_span *y)
{
    if (dec->ops->scale)
        dec->ops->scale(dec->impl, x, y);
}

int
decode_rows(struct decoder *dec, struct colour *c, struct resize *rz,
            struct task_result *res)
{
    if (!dec->ops->rows) {
        task_result_fail(res, ERR_INTERNAL, "this decoder does not stream "
                         "rows");
        return -1;
    }
    return dec->ops->rows(dec->impl, c, rz, res);
}

void
decode_close(struct decoder *dec)
{
    if (!dec)
        return;
    dec->ops->close(dec->impl);
    free(dec);
}

int
decode_upright_size(const struct decode_params *p, const struct input *in,
                    int *uw, int *uh, struct task_result *res)
{
    struct decoded probe;
    struct decoder *dec;
    int rc;

    if (in->fmt == IMGF_JPEG && in->have_ji) {
        orient_upright_size(in->ji.orientation, in->ji.width, in->ji.height,
                            uw, uh);
        return 0;
    }
    decoded_init(&probe);
    dec = decode_open(DECODER_VIPS, p, in, DECODE_FIT, &probe, res);
    rc = dec ? 0 : -1;
    decode_close(dec);
    *uw = probe.width;
    *uh = probe.height;
    decoded_release(&probe);
    if (rc == 0 && lseek(in->fd, 0, SEEK_SET) < 0) {
        task_result_fail(res, ERR_READ, "cannot rewind input");
        return -1;
    }
    return rc;
}
