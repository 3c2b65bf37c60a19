/*
 * colour.c - the colour stage; see colour.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lcms2.h>

#include <vips/vips.h>

#include "colour.h"
#include "decode.h"
#include "icc.h"
#include "pixels.h"
#include "warn.h"

void
colour_params_of(const struct settings *s, struct colour_params *p)
{
    memcpy(p->background, s->background, sizeof(p->background));
    p->keep_alpha = settings_keep_alpha(s);
    p->to_srgb = s->to_srgb;
}

int
colour_begin(struct colour *c, const struct colour_params *p, int bands,
             int width)
{
    memset(c, 0, sizeof(*c));
    memcpy(c->background, p->background, sizeof(c->background));
    c->in_bands = bands;
    c->width = width;
    if (bands != 1 && bands != 3 && bands != 4)
        return -1;
    c->out_bands = bands == 4 ? 3 : bands;
    if (bands == 4) {
        c->scratch = malloc((size_t)width * 4);
        if (!c->scratch)
            return -1;
    }
    return 0;
}

/*
 * libvips' built-in generic CMYK profile (what its own path uses for CMYK
 * without one), loaded once per process; NULL when libvips has none.
 */
static const void *
generic_cmyk(size_t *len)
{
    static VipsBlob *blob;
    static int tried;

    if (!tried) {
        tried = 1;
        if (vips_profile_load("cmyk", &blob, NULL)) {
            vips_error_clear();
            blob = NULL;
        }
    }
    if (!blob)
        return NULL;
    return vips_blob_get(blob, len);
}

/* @msg as a warning of the task: into @res, or without one through
 * GLib's log, which the worker adds to the task's warnings (img.c). */
static void
say_warning(struct task_result *res, const char *msg)
{
    if (res)
        warn_append(res, msg);
    else
        g_warning("%s", msg);
}

/* res->colour, when there is a result to fill. */
static void
say_colour(struct task_result *res, const char *colour)
{
    if (res)
        snprintf(res->colour, sizeof(res->colour), "%s", colour);
}

/*
 * The transform for CMYK pixels @px with embedded profile @icc (@len
 * bytes; NULL for none): the embedded one if usable, else libvips'
 * generic one; NULL for the naive formula (cmyk_row).  The decision goes
 * to res->colour, an unusable profile to the warnings.  Both paths.
 */
static const struct icc_xform *
cmyk_xform(const void *icc, size_t len, enum icc_pixels px,
           struct task_result *res)
{
    const struct icc_xform *x;
    const void *generic;
    char msg[160];

    if (icc && len > 0) {
        x = icc_lookup(icc, len, px);
        if (x->outcome == ICC_TRANSFORM) {
            say_colour(res, x->intent == INTENT_PERCEPTUAL
                                ? "cmyk:profile-perceptual"
                                : "cmyk:profile");
            return x;
        }
        snprintf(msg, sizeof(msg), "%s; a generic CMYK conversion is used",
                 x->why);
        say_warning(res, msg);
    }
    say_colour(res, "cmyk:generic");
    generic = generic_cmyk(&len);
    x = generic ? icc_lookup(generic, len, px) : NULL;
    return x && x->outcome == ICC_TRANSFORM ? x : NULL;
}

/* CMYK rows: the embedded profile if usable, else the generic one. */
static void
begin_cmyk(struct colour *c, const struct decoded *d,
           struct task_result *res)
{
    c->cmyk = 1;
    c->cmyk_inverted = d->cmyk_inverted;
    c->out_bands = 3;
    c->pre = cmyk_xform(d->icc, d->icc_len,
                        d->cmyk_inverted ? ICC_PX_CMYK_INVERTED : ICC_PX_CMYK,
                        res);
}

/*
 * The transform for RGB or grey pixels @px with embedded profile @icc:
 * NULL when the pixels stay as they are (a profile that is sRGB in
 * effect, or an unusable one, with a warning).  The decision goes to
 * res->colour.  Both paths.
 */
static const struct icc_xform *
profile_xform(const void *icc, size_t len, enum icc_pixels px,
              struct task_result *res)
{
    const struct icc_xform *x = icc_lookup(icc, len, px);
    char msg[160];

    switch (x->outcome) {
    case ICC_IDENTITY:
        say_colour(res, "srgb-profile");
        return NULL;
    case ICC_UNUSABLE:
        snprintf(msg, sizeof(msg), "%s; it is ignored", x->why);
        say_warning(res, msg);
        say_colour(res, "none:unusable-profile");
        return NULL;
    case ICC_TRANSFORM:
        break;
    }
    say_colour(res, x->intent == INTENT_PERCEPTUAL ? "icc:perceptual"
                                                   : "icc:relative");
    return x;
}

/* RGB, RGBA or grey rows with profile d->icc. */
static void
begin_profile(struct colour *c, const struct decoded *d,
              struct task_result *res)
{
    enum icc_pixels px;
    const struct icc_xform *x;

    if (c->in_bands == 1)
        px = ICC_PX_GREY;
    else if (c->in_bands == 3)
        px = d->grey_source ? ICC_PX_GREY_RGB : ICC_PX_RGB;
    else
        px = d->grey_source ? ICC_PX_GREY_RGBA : ICC_PX_RGBA;
    x = profile_xform(d->icc, d->icc_len, px, res);
    if (!x)
        return;
    if (c->in_bands == 4)
        c->pre = x;             /* before alpha is flattened */
    else
        c->post = x;
}

int
colour_begin_decoded(struct colour *c, const struct colour_params *p,
                     const struct decoded *d, int width,
                     struct task_result *res)
{
    if (colour_begin(c, p, d->bands, width) < 0)
        return -1;
    res->colour[0] = '\0';
    if (d->cmyk && d->bands == 4)
        begin_cmyk(c, d, res);
    else if (d->icc && d->icc_len > 0)
        begin_profile(c, d, res);
    else if (d->tagged)
        /* A profile the decoder could not put together: ignored, as
         * libvips' copy of it is on the other path. */
        say_colour(res, "none:unusable-profile");
    return 0;
}

/* CMYK row @in as RGB into @out, without a profile: each ink darkens its
 * complement in proportion, and black all three. */
static void
cmyk_row(const unsigned char *in, int w, int inverted, unsigned char *out)
{
    int x, k;

    for (x = 0; x < w; x++, in += 4, out += 3) {
        unsigned black = inverted ? in[3] : 255u - in[3];

        for (k = 0; k < 3; k++) {
            unsigned v = inverted ? in[k] : 255u - in[k];

            out[k] = (unsigned char)((v * black + 127) / 255);
        }
    }
}

unsigned char *
colour_row_in(struct colour *c, struct resize *rz)
{
    return c->scratch ? c->scratch : resize_row(rz);
}

void
colour_row_done(struct colour *c, struct resize *rz)
{
    if (c->cmyk) {
        if (c->pre)
            icc_apply(c->pre, c->scratch, resize_row(rz), (size_t)c->width);
        else
            cmyk_row(c->scratch, c->width, c->cmyk_inverted, resize_row(rz));
    } else if (c->scratch) {
        if (c->pre)
            icc_apply(c->pre, c->scratch, c->scratch, (size_t)c->width);
        colour_flatten_row(c->scratch, c->width, c->background,
                           resize_row(rz));
    }
    resize_push(rz);
}

int
colour_after_resize(struct colour *c, struct pixels *px,
                    struct task_result *res)
{
    struct pixels rgb;
    int y;

    if (!c->post)
        return 0;
    if (c->post->in_bytes == c->post->out_bytes) {
        for (y = 0; y < px->height; y++)
            icc_apply(c->post, pixels_row(px, y), pixels_row(px, y),
                      (size_t)px->width);
        return 0;
    }
    /* Grey with a grey profile: the result is RGB. */
    pixels_init(&rgb);
    if (pixels_alloc(&rgb, px->width, px->height, 3) < 0) {
        task_result_fail(res, ERR_OUT_OF_MEMORY, "cannot allocate %dx%d "
                         "image", px->width, px->height);
        return -1;
    }
    for (y = 0; y < px->height; y++)
        icc_apply(c->post, pixels_row(px, y), pixels_row(&rgb, y),
                  (size_t)px->width);
    pixels_release(px);
    *px = rgb;
    return 0;
}

void
colour_end(struct colour *c)
{
    free(c->scratch);
    c->scratch = NULL;
}

void
colour_flatten_row(const unsigned char *in, int w, const uint8_t bg[3],
                   unsigned char *out)
{
    int x, k;

    for (x = 0; x < w; x++, in += 4, out += 3) {
        unsigned a = in[3];

        /* Opaque and clear pixels, most of them: what the formula gives. */
        if (a == 255) {
            out[0] = in[0];
            out[1] = in[1];
            out[2] = in[2];
            continue;
        }
        if (a == 0) {
            out[0] = bg[0];
            out[1] = bg[1];
            out[2] = bg[2];
            continue;
        }
        for (k = 0; k < 3; k++)
            out[k] = (unsigned char)((a * in[k] + (255 - a) * bg[k] + 127) /
                                     255);
    }
}

const unsigned char *
colour_rgb_row(const unsigned char *in, int bands, int w, unsigned char *buf)
{
    unsigned char *d = buf;
    int x;

    if (bands == 3)
        return in;
    for (x = 0; x < w; x++, d += 3)
        d[0] = d[1] = d[2] = in[x];
    return buf;
}

/* The first @bands bands of @x as 8-bit: the band cut into t[2], the
 * cast into t[3] (each only when needed).  NULL on a vips error. */
static VipsImage *
first_bands_uchar(VipsImage *x, VipsImage **t, int bands)
{
    if (x->Bands > bands) {
        if (vips_extract_band(x, &t[2], 0, "n", bands, NULL))
            return NULL;
        x = t[2];
    }
    if (x->BandFmt != VIPS_FORMAT_UCHAR) {
        if (vips_cast_uchar(x, &t[3], NULL))
            return NULL;
        x = t[3];
    }
    return x;
}

/* 3-band 8-bit sRGB (4 with alpha kept) from @x, colour already managed:
 * libvips' own conversions for what has no profile (grey, 16 bits, Lab,
 * ...), then alpha flattened or kept. */
static VipsImage *
srgb8_tail(const struct colour_params *p, VipsObject *parent, VipsImage *x)
{
    VipsImage **t = (VipsImage **)vips_object_local_array(parent, 4);

    if (x->Type != VIPS_INTERPRETATION_sRGB ||
        x->BandFmt != VIPS_FORMAT_UCHAR) {
        if (vips_colourspace(x, &t[0], VIPS_INTERPRETATION_sRGB, NULL))
            return NULL;
        x = t[0];
    }
    if (vips_image_hasalpha(x) && p->keep_alpha) {
        /* Kept: sRGB plus alpha, 8-bit (colourspace made it so). */
        return first_bands_uchar(x, t, 4);
    }
    if (vips_image_hasalpha(x)) {
        /* After vips_colourspace() to sRGB the image is 8-bit, so alpha
         * and the background are both on a 0..255 scale. */
        VipsArrayDouble *bg;
        double bgv[3];
        int rc;

        for (int i = 0; i < 3; i++)
            bgv[i] = p->background[i];
        bg = vips_array_double_new(bgv, 3);
        rc = vips_flatten(x, &t[1], "background", bg, NULL);
        vips_area_unref(VIPS_AREA(bg));
        if (rc)
            return NULL;
        x = t[1];
    }
    return first_bands_uchar(x, t, 3);
}

/* vips_image_generate() callback: rows of region @out from the input
 * region @seq through transform @b, or for CMYK without a usable profile
 * (@b NULL) the naive formula. */
static int
xform_generate(VipsRegion *out, void *seq, void *a, void *b, gboolean *stop)
{
    VipsRegion *ir = seq;
    const struct icc_xform *x = b;
    VipsRect *r = &out->valid;
    int y;

    (void)a;
    (void)stop;
    if (vips_region_prepare(ir, r))
        return -1;
    for (y = 0; y < r->height; y++) {
        const unsigned char *src = VIPS_REGION_ADDR(ir, r->left, r->top + y);
        unsigned char *dst = VIPS_REGION_ADDR(out, r->left, r->top + y);

        if (x && x->out_bytes == 4) {
            /* Alpha: the transforms leave the 4th byte as it is. */
            memcpy(dst, src, (size_t)r->width * 4);
            icc_apply(x, dst, dst, (size_t)r->width);
        } else if (x) {
            icc_apply(x, src, dst, (size_t)r->width);
        } else {
            cmyk_row(src, r->width, 0, dst);
        }
    }
    return 0;
}

/*
 * 8-bit @in (grey, RGB, RGBA or CMYK, in the layout @x reads) through
 * transform @x (NULL: CMYK by the naive formula) into a new lazy image,
 * tagged with libvips' sRGB profile and held by @parent.  Computed strip
 * by strip as the encoder pulls it, like every other step here.
 */
static VipsImage *
xform_image(VipsObject *parent, VipsImage *in, const struct icc_xform *x)
{
    VipsImage **t = (VipsImage **)vips_object_local_array(parent, 1);
    VipsImage *out;
    VipsBlob *srgb = NULL;
    const void *data;
    size_t len;

    out = t[0] = vips_image_new();
    if (vips_image_pipelinev(out, VIPS_DEMAND_STYLE_THINSTRIP, in, NULL))
        return NULL;
    out->Bands = x ? x->out_bytes : 3;
    out->Type = VIPS_INTERPRETATION_sRGB;
    vips_image_remove(out, VIPS_META_ICC_NAME);
    if (vips_profile_load("srgb", &srgb, NULL) == 0) {
        data = vips_blob_get(srgb, &len);
        vips_image_set_blob_copy(out, VIPS_META_ICC_NAME, data, len);
        vips_area_unref(VIPS_AREA(srgb));
    } else {
        vips_error_clear();
    }
    if (vips_image_generate(out, vips_start_one, xform_generate,
                            vips_stop_one, in, (void *)x))
        return NULL;
    return out;
}

/* @in as 8 bits, the high byte of 16-bit samples (as the direct PNG
 * decoder keeps it), into *@out (a new reference).  0, or -1 on a vips
 * error. */
static int
to_uchar(VipsImage *in, VipsImage **out)
{
    if (in->BandFmt == VIPS_FORMAT_USHORT)
        return vips_cast(in, out, VIPS_FORMAT_UCHAR, "shift", TRUE, NULL);
    if (in->BandFmt != VIPS_FORMAT_UCHAR)
        return vips_cast_uchar(in, out, NULL);
    return vips_copy(in, out, NULL);
}

/* CMYK @in (alpha after the four inks kept) to sRGB with @icc (NULL: none)
 * through cmyk_xform(). */
static VipsImage *
managed_cmyk(VipsObject *parent, VipsImage *in, const void *icc,
             size_t len, struct task_result *res)
{
    VipsImage **t = (VipsImage **)vips_object_local_array(parent, 4);
    const struct icc_xform *x;
    VipsImage *inks, *rgb;

    if (to_uchar(in, &t[0]))
        return NULL;
    inks = t[0];
    if (inks->Bands > 4) {
        if (vips_extract_band(t[0], &t[1], 0, "n", 4, NULL))
            return NULL;
        inks = t[1];
    }
    x = cmyk_xform(icc, len, ICC_PX_CMYK, res);
    rgb = xform_image(parent, inks, x);
    if (!rgb || t[0]->Bands == 4)
        return rgb;
    /* The fifth band is alpha: on again after the conversion. */
    if (vips_extract_band(t[0], &t[2], 4, NULL) ||
        vips_bandjoin2(rgb, t[2], &t[3], NULL))
        return NULL;
    return t[3];
}

/*
 * Grey, RGB or RGBA @in with embedded profile @icc to sRGB through
 * profile_xform(), in 8 bits: the cache's layouts are 1 (grey), 3 (RGB)
 * or 4 bytes (RGBA; grey with alpha becomes G G G A, the layout the
 * direct PNG decoder hands over); other band counts are cut to those.
 */
static VipsImage *
managed_profile(VipsObject *parent, VipsImage *in, const void *icc,
                size_t len, struct task_result *res)
{
    VipsImage **t = (VipsImage **)vips_object_local_array(parent, 3);
    VipsImage *x;
    const struct icc_xform *xf;
    enum icc_pixels px;
    int bands = in->Bands;

    if (to_uchar(in, &t[0]))
        return NULL;
    x = t[0];
    if (bands == 2) {
        VipsImage *g[4] = {x, x, x, NULL};

        if (vips_extract_band(x, &t[1], 1, NULL))
            return NULL;
        g[3] = t[1];
        if (vips_bandjoin(g, &t[2], 4, NULL))
            return NULL;
        x = t[2];
        px = ICC_PX_GREY_RGBA;
    } else {
        bands = bands >= 4 ? 4 : bands == 1 ? 1 : 3;
        if (x->Bands > bands) {
            if (vips_extract_band(x, &t[1], 0, "n", bands, NULL))
                return NULL;
            x = t[1];
        }
        px = bands == 1 ? ICC_PX_GREY : bands == 3 ? ICC_PX_RGB : ICC_PX_RGBA;
    }
    xf = profile_xform(icc, len, px, res);
    if (!xf)
        return in;              /* the pixels stay as they are */
    return xform_image(parent, x, xf);
}

/* The colour management of colour_vips_srgb8_res(): @in itself when it
 * needs none. */
static VipsImage *
managed(VipsObject *parent, VipsImage *in, struct task_result *res)
{
    const void *icc = NULL;
    size_t len = 0;
    VipsInterpretation type = in->Type;

    if (in->Coding != VIPS_CODING_NONE)
        return in;
    if (vips_image_get_typeof(in, VIPS_META_ICC_NAME) &&
        vips_image_get_blob(in, VIPS_META_ICC_NAME, &icc, &len))
        return NULL;
    if (type == VIPS_INTERPRETATION_CMYK && in->Bands >= 4)
        return managed_cmyk(parent, in, icc, len, res);
    if (!icc || len == 0)
        return in;
    /* Device spaces a profile describes; libvips converts the rest (Lab,
     * XYZ, float scRGB) by their definition. */
    if (type != VIPS_INTERPRETATION_sRGB &&
        type != VIPS_INTERPRETATION_RGB16 &&
        type != VIPS_INTERPRETATION_B_W &&
        type != VIPS_INTERPRETATION_GREY16 &&
        type != VIPS_INTERPRETATION_RGB)
        return in;
    return managed_profile(parent, in, icc, len, res);
}

VipsImage *
colour_vips_srgb8(const struct colour_params *p, VipsObject *parent,
                  VipsImage *in)
{
    return colour_vips_srgb8_res(p, parent, in, NULL);
}

VipsImage *
colour_vips_srgb8_res(const struct colour_params *p, VipsObject *parent,
                      VipsImage *in, struct task_result *res)
{
    VipsImage *x;

    if (res)
        res->colour[0] = '\0';
    x = managed(parent, in, res);
    return x ? srgb8_tail(p, parent, x) : NULL;
}

/* The cached transform for the profile of 8-bit @in, or NULL when the
 * image is not a layout the cache takes. */
static const struct icc_xform *
keep_lookup(VipsImage *in)
{
    const void *data;
    size_t len;
    enum icc_pixels px;

    if (in->BandFmt != VIPS_FORMAT_UCHAR ||
        vips_image_get_blob(in, VIPS_META_ICC_NAME, &data, &len))
        return NULL;
    switch (in->Bands) {
    case 1:
        px = ICC_PX_GREY;
        break;
    case 3:
        px = ICC_PX_RGB;
        break;
    case 4:
        px = ICC_PX_RGBA;
        break;
    default:
        return NULL;
    }
    return icc_lookup(data, len, px);
}

VipsImage *
colour_vips_keep(const struct colour_params *p, VipsObject *parent,
                 VipsImage *in)
{
    return colour_vips_keep_res(p, parent, in, NULL);
}

VipsImage *
colour_vips_keep_res(const struct colour_params *p, VipsObject *parent,
                     VipsImage *in, struct task_result *res)
{
    VipsImage **t = (VipsImage **)vips_object_local_array(parent, 1);
    const struct icc_xform *x;
    char msg[160];

    if (!p->to_srgb || !vips_image_get_typeof(in, VIPS_META_ICC_NAME) ||
        in->Type == VIPS_INTERPRETATION_CMYK)
        return in;
    x = keep_lookup(in);
    if (!x) {
        /* 16-bit and other layouts: libvips converts. */
        if (vips_icc_transform(in, &t[0], "srgb", "embedded", TRUE, NULL))
            return NULL;
        say_colour(res, "icc:vips");
        return t[0];
    }
    switch (x->outcome) {
    case ICC_IDENTITY:
        say_colour(res, "srgb-profile");
        return in;
    case ICC_UNUSABLE:
        /* Without @res, through the worker's GLib log handler, which
         * adds it to the task's warnings (img.c). */
        snprintf(msg, sizeof(msg), "%s; it is ignored", x->why);
        if (res)
            warn_append(res, msg);
        else
            g_warning("%s", msg);
        say_colour(res, "none:unusable-profile");
        return in;
    case ICC_TRANSFORM:
        break;
    }
    say_colour(res, x->intent == INTENT_PERCEPTUAL ? "icc:perceptual"
                                                 : "icc:relative");
    return xform_image(parent, in, x);
}
