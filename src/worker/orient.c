/*
 * orient.c - EXIF orientation for geometry and pixels; see orient.h.
 */
#include <string.h>

#include "orient.h"

int
orient_swaps(int o)
{
    return o >= 5 && o <= 8;
}

void
orient_upright_size(int o, int w, int h, int *uw, int *uh)
{
    *uw = orient_swaps(o) ? h : w;
    *uh = orient_swaps(o) ? w : h;
}

/* The same axis seen mirrored: the crop window moves to the other side. */
static struct resample_span
flipped(struct resample_span a)
{
    a.offset = a.scaled - a.out - a.offset;
    return a;
}

/*
 * Stored X runs along upright X for 1-4 and along upright Y for 5-8; it
 * runs backwards for 2, 3 (X) and 7, 8 (Y).  Stored Y runs backwards for
 * 3, 4 (upright Y) and 6, 7 (upright X).
 */
void
orient_stored_spans(int o, const struct resample_span *ux,
                    const struct resample_span *uy, struct resample_span *sx,
                    struct resample_span *sy)
{
    const struct resample_span *along_x = orient_swaps(o) ? uy : ux;
    const struct resample_span *along_y = orient_swaps(o) ? ux : uy;
    int back_x = o == 2 || o == 3 || o == 7 || o == 8;
    int back_y = o == 3 || o == 4 || o == 6 || o == 7;

    *sx = back_x ? flipped(*along_x) : *along_x;
    *sy = back_y ? flipped(*along_y) : *along_y;
}

void
orient_view_init(struct orient_view *v, const struct pixels *px, int o)
{
    ptrdiff_t c = px->bands, row = (ptrdiff_t)px->stride;
    ptrdiff_t last_col = (ptrdiff_t)(px->width - 1) * c;
    ptrdiff_t last_row = (ptrdiff_t)(px->height - 1) * row;

    v->src = px->data;
    v->bands = px->bands;
    orient_upright_size(o, px->width, px->height, &v->width, &v->height);
    switch (o) {
    case 2:
        v->base = last_col, v->step_x = -c, v->step_y = row;
        break;
    case 3:
        v->base = last_row + last_col, v->step_x = -c, v->step_y = -row;
        break;
    case 4:
        v->base = last_row, v->step_x = c, v->step_y = -row;
        break;
    case 5:
        v->base = 0, v->step_x = row, v->step_y = c;
        break;
    case 6:
        v->base = last_row, v->step_x = -row, v->step_y = c;
        break;
    case 7:
        v->base = last_row + last_col, v->step_x = -row, v->step_y = -c;
        break;
    case 8:
        v->base = last_col, v->step_x = row, v->step_y = -c;
        break;
    default:
        v->base = 0, v->step_x = c, v->step_y = row;
        break;
    }
}

const unsigned char *
orient_view_row(const struct orient_view *v, int y, unsigned char *buf)
{
    const unsigned char *p = v->src + v->base + y * v->step_y;
    unsigned char *d = buf;
    int x;

    if (v->step_x == v->bands)
        return p;
    if (v->bands == 1) {
        for (x = 0; x < v->width; x++, p += v->step_x)
            *d++ = p[0];
        return buf;
    }
    if (v->bands == 3) {
        for (x = 0; x < v->width; x++, p += v->step_x, d += 3) {
            d[0] = p[0];
            d[1] = p[1];
            d[2] = p[2];
        }
        return buf;
    }
    for (x = 0; x < v->width; x++, p += v->step_x, d += v->bands)
        memcpy(d, p, (size_t)v->bands);
    return buf;
}
