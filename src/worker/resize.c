/*
 * resize.c - output geometry and streamed resampling; see resize.h.
 */
#include <string.h>

#include "geom.h"
#include "orient.h"
#include "resize.h"

void
resize_plan(const struct settings *s, int uw, int uh, int o,
            struct resample_span *x, struct resample_span *y)
{
    struct resample_span ux, uy;

    geom_window(s, uw, uh, &ux.scaled, &uy.scaled, &ux.out, &uy.out,
                &ux.offset, &uy.offset);
    orient_stored_spans(o, &ux, &uy, x, y);
    orient_upright_size(o, uw, uh, &x->in, &y->in);
    /* upright -> stored is the same swap as stored -> upright */
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
