/*
 * resize.c - output geometry and streamed resampling; see resize.h.
 */
#include <string.h>

#include <vips/vips.h>

#include "geom.h"
#include "orient.h"
#include "resize.h"

void
resize_plan(const struct geom_box *b, int uw, int uh, int o,
            struct resample_span *x, struct resample_span *y)
{
    struct resample_span ux = { 0 }, uy = { 0 };

    geom_window(b, uw, uh, &ux.scaled, &uy.scaled, &ux.out, &uy.out,
                &ux.offset, &uy.offset);
    orient_stored_spans(o, &ux, &uy, x, y);
    orient_upright_size(o, uw, uh, &x->in, &y->in);
    /* upright -> stored is the same swap as stored -> upright */
}

struct geom_box
resize_base(const struct run_config *c, int uw, int uh)
{
    int k, sw, sh, ow, oh, ox, oy;
    /* Outputs differ only in their boxes: upscale is every output's. */
    struct geom_box b = { 1, 1, FIT_FILL, c->out[0].upscale }, ok;

    for (k = 0; k < c->nsizes; k++) {
        ok = geom_box_of(&c->out[k]);
        geom_window(&ok, uw, uh, &sw, &sh, &ow, &oh, &ox, &oy);
        b.width = sw > b.width ? sw : b.width;
        b.height = sh > b.height ? sh : b.height;
    }
    return b;
}

int
resize_begin(struct resize *rz, int bands, const struct resample_span *x,
             const struct resample_span *y, struct pixels *out)
{
    rz->out = out;
    rz->have_rs = 1;
    if (pixels_alloc(out, x->out, y->out, bands) < 0) {
        memset(&rz->rs, 0, sizeof(rz->rs));
        return -1;
    }
    return resample_init(&rz->rs, bands, x, y);
}

void
resize_end(struct resize *rz)
{
    if (rz->have_rs)
        resample_release(&rz->rs);
    rz->have_rs = 0;
}

int
resize_pixels(const struct pixels *in, const struct resample_span *x,
              const struct resample_span *y, struct pixels *out)
{
    struct resize rz;
    size_t row = (size_t)in->width * (size_t)in->bands;
    int j, rc = -1;

    if (x->in != in->width || y->in != in->height)
        return -1;
    if (resize_begin(&rz, in->bands, x, y, out) < 0)
        goto out;
    for (j = 0; j < in->height; j++) {
        memcpy(resize_row(&rz), pixels_row(in, j), row);
        resize_push(&rz);
    }
    rc = rz.rs.rows_out == y->out ? 0 : -1;
out:
    resize_end(&rz);
    if (rc < 0)
        pixels_release(out);
    return rc;
}

/* @in resized to exactly @w x @h (Lanczos 3), held by @parent.  NULL
 * with libvips' error set. */
static VipsImage *
resize_vips_exact(VipsObject *parent, VipsImage *in, int w, int h)
{
    VipsImage **t = (VipsImage **)vips_object_local_array(parent, 2);

    if (w == in->Xsize && h == in->Ysize)
        return in;
    if (vips_resize(in, &t[0], (double)w / in->Xsize, "vscale",
                    (double)h / in->Ysize, "kernel", VIPS_KERNEL_LANCZOS3,
                    NULL))
        return NULL;
    if (t[0]->Xsize == w && t[0]->Ysize == h)
        return t[0];
    /* libvips rounds the scaled size its own way: a pixel off at most. */
    if (vips_embed(t[0], &t[1], 0, 0, w, h, "extend", VIPS_EXTEND_COPY,
                   NULL))
        return NULL;
    return t[1];
}

/* resize_vips() and resize_vips_stored(): @rotate says whether @in may
 * still carry an orientation to apply. */
static VipsImage *
resize_vips_fit(const struct geom_box *b, int uw, int uh, int swap,
                int rotate, VipsObject *parent, VipsImage *in)
{
    VipsImage **t = (VipsImage **)vips_object_local_array(parent, 3);
    int sw, sh, ow, oh, ox, oy;
    VipsImage *x;

    geom_window(b, uw, uh, &sw, &sh, &ow, &oh, &ox, &oy);
    x = resize_vips_exact(parent, in, swap ? sh : sw, swap ? sw : sh);
    if (x && rotate && vips_image_get_orientation(x) != 1) {
        t[0] = vips_image_copy_memory(x);
        if (!t[0] || vips_autorot(t[0], &t[1], NULL))
            return NULL;
        x = t[1];
    }
    if (x && (ow != sw || oh != sh))
        x = vips_extract_area(x, &t[2], ox, oy, ow, oh, NULL) ? NULL : t[2];
    return x;
}

VipsImage *
resize_vips(const struct geom_box *b, int uw, int uh, VipsObject *parent,
            VipsImage *in)
{
    return resize_vips_fit(b, uw, uh, 0, 0, parent, in);
}

VipsImage *
resize_vips_stored(const struct geom_box *b, int uw, int uh, int swap,
                   VipsObject *parent, VipsImage *in)
{
    return resize_vips_fit(b, uw, uh, swap, 1, parent, in);
}

int
resize_vips_down(VipsImage *in, int box, VipsImage **out)
{
    return vips_thumbnail_image(in, out, box, "height", box, "size",
                                VIPS_SIZE_DOWN, NULL) ? -1 : 0;
}
