/*
 * colour.c - the colour stage; see colour.h.
 */
#include <stdlib.h>
#include <string.h>

#include <vips/vips.h>

#include "colour.h"

int
colour_begin(struct colour *c, const struct settings *s, int bands,
             int width)
{
    memset(c, 0, sizeof(*c));
    memcpy(c->background, s->background, sizeof(c->background));
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

unsigned char *
colour_row_in(struct colour *c, struct resize *rz)
{
    return c->scratch ? c->scratch : resize_row(rz);
}

void
colour_row_done(struct colour *c, struct resize *rz)
{
    if (c->scratch)
        colour_flatten_row(c->scratch, c->width, c->background,
                           resize_row(rz));
    resize_push(rz);
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

const char *
colour_vips_export_profile(int tagged)
{
    return tagged ? "srgb" : NULL;
}

VipsImage *
colour_vips_srgb8(const struct settings *s, VipsObject *parent, VipsImage *in)
{
    VipsImage **t = (VipsImage **)vips_object_local_array(parent, 4);
    VipsImage *x = in;

    if (x->Type != VIPS_INTERPRETATION_sRGB ||
        x->BandFmt != VIPS_FORMAT_UCHAR) {
        if (vips_colourspace(x, &t[0], VIPS_INTERPRETATION_sRGB, NULL))
            return NULL;
        x = t[0];
    }
    if (vips_image_hasalpha(x)) {
        /* After vips_colourspace() to sRGB the image is 8-bit, so alpha
         * and the background are both on a 0..255 scale. */
        VipsArrayDouble *bg;
        double bgv[3];
        int rc;

        for (int i = 0; i < 3; i++)
            bgv[i] = s->background[i];
        bg = vips_array_double_new(bgv, 3);
        rc = vips_flatten(x, &t[1], "background", bg, NULL);
        vips_area_unref(VIPS_AREA(bg));
        if (rc)
            return NULL;
        x = t[1];
    }
    if (x->Bands > 3) {
        if (vips_extract_band(x, &t[2], 0, "n", 3, NULL))
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

VipsImage *
colour_vips_keep(const struct settings *s, VipsObject *parent, VipsImage *in)
{
    VipsImage **t = (VipsImage **)vips_object_local_array(parent, 1);

    if (!s->to_srgb || !vips_image_get_typeof(in, VIPS_META_ICC_NAME) ||
        in->Type == VIPS_INTERPRETATION_CMYK)
        return in;
    if (vips_icc_transform(in, &t[0], "srgb", "embedded", TRUE, NULL))
        return NULL;
    return t[0];
}
