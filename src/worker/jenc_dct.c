/*
 * jenc_dct.c - the encoder's sample planes and forward DCT (jenc_int.h):
 * RGB rows to JFIF YCbCr, chroma averaged over 2x2 for 4:2:0, edges
 * replicated out to whole blocks; a separable floating-point DCT-II
 * (even/odd split of each 8-point transform).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "jenc_int.h"

void
jenc_planes_free(struct jenc_plane pl[3])
{
    for (int i = 0; i < 3; i++) {
        free(pl[i].px);
        memset(&pl[i], 0, sizeof(pl[i]));
    }
}

/* Size @p for @w x @h samples in blocks rounded up to @sv rows of blocks
 * (and @sh columns).  0, or -1 when out of memory. */
static int
plane_alloc(struct jenc_plane *p, int w, int h, int sh, int sv)
{
    p->w = w;
    p->h = h;
    p->bw = (w + 7) / 8;
    p->bh = (h + 7) / 8;
    p->bw = (p->bw + sh - 1) / sh * sh;
    p->bh = (p->bh + sv - 1) / sv * sv;
    p->stride = p->bw * 8;
    p->px = malloc((size_t)p->stride * (size_t)p->bh * 8);
    return p->px ? 0 : -1;
}

/* Replicate the last column and row of @p's samples out to its blocks. */
static void
plane_pad(struct jenc_plane *p)
{
    int y;

    for (y = 0; y < p->h; y++) {
        unsigned char *r = p->px + (size_t)y * p->stride;

        memset(r + p->w, r[p->w - 1], (size_t)(p->stride - p->w));
    }
    for (y = p->h; y < p->bh * 8; y++)
        memcpy(p->px + (size_t)y * p->stride,
               p->px + (size_t)(p->h - 1) * p->stride, (size_t)p->stride);
}

static unsigned char
clamp8(float v)
{
    return v <= 0.0f ? 0 : v >= 255.0f ? 255 : (unsigned char)(v + 0.5f);
}

/* RGB row @rgb to luma row @y and full-resolution chroma @cb, @cr (in
 * 0..255, unrounded).  Returns whether every pixel is grey. */
static int
convert_row(const unsigned char *rgb, int w, unsigned char *y, float *cb,
            float *cr)
{
    int grey = 1;

    for (int x = 0; x < w; x++) {
        float r = rgb[3 * x], g = rgb[3 * x + 1], b = rgb[3 * x + 2];

        grey &= rgb[3 * x] == rgb[3 * x + 1] && rgb[3 * x] == rgb[3 * x + 2];
        y[x] = clamp8(0.299f * r + 0.587f * g + 0.114f * b);
        cb[x] = -0.168736f * r - 0.331264f * g + 0.5f * b + 128.0f;
        cr[x] = 0.5f * r - 0.418688f * g - 0.081312f * b + 128.0f;
    }
    return grey;
}

/* Chroma rows @a and @b (@b may equal @a) into plane row @out: averaged
 * over 2x2 with @sub, else copied. */
static void
chroma_row(const float *a, const float *b, int w, int sub,
           unsigned char *out)
{
    int x;

    if (!sub) {
        for (x = 0; x < w; x++)
            out[x] = clamp8(a[x]);
        return;
    }
    for (x = 0; x + 1 < w; x += 2)
        out[x / 2] = clamp8((a[x] + a[x + 1] + b[x] + b[x + 1]) * 0.25f);
    if (x < w)
        out[x / 2] = clamp8((a[x] + b[x]) * 0.5f);
}

struct reader {
    const struct encode_rows *src;
    unsigned char *rgb;
    float *cb[2], *cr[2];
};

/* Read and convert row @y into the planes (chroma into slot @slot). */
static int
read_row(struct reader *rd, struct jenc_plane pl[3], int y, int slot)
{
    int w = rd->src->width;
    const unsigned char *rgb = rd->src->row(rd->src->arg, y, rd->rgb);

    return convert_row(rgb, w, pl[0].px + (size_t)y * pl[0].stride,
                       rd->cb[slot], rd->cr[slot]);
}

static int
read_all(struct reader *rd, int sub, struct jenc_plane pl[3])
{
    int w = rd->src->width, h = rd->src->height, grey = 1, y;

    for (y = 0; y < h; y += sub ? 2 : 1) {
        int y2 = sub && y + 1 < h ? y + 1 : y;
        int cy = sub ? y / 2 : y;

        grey &= read_row(rd, pl, y, 0);
        if (y2 != y)
            grey &= read_row(rd, pl, y2, 1);
        chroma_row(rd->cb[0], rd->cb[y2 != y], w, sub,
                   pl[1].px + (size_t)cy * pl[1].stride);
        chroma_row(rd->cr[0], rd->cr[y2 != y], w, sub,
                   pl[2].px + (size_t)cy * pl[2].stride);
    }
    return grey;
}

int
jenc_planes_read(const struct encode_rows *src, int sub420,
                 int allow_grey, struct jenc_plane pl[3], int *grey)
{
    int w = src->width, h = src->height, s = sub420 ? 2 : 1, rc = -1;
    int cw = (w + s - 1) / s, ch = (h + s - 1) / s;
    struct reader rd = { .src = src };

    memset(pl, 0, 3 * sizeof(*pl));
    rd.rgb = malloc((size_t)w * 3);
    for (int i = 0; i < 2; i++) {
        rd.cb[i] = malloc((size_t)w * sizeof(float));
        rd.cr[i] = malloc((size_t)w * sizeof(float));
    }
    if (!rd.rgb || !rd.cb[0] || !rd.cb[1] || !rd.cr[0] || !rd.cr[1] ||
        plane_alloc(&pl[0], w, h, s, s) < 0 ||
        plane_alloc(&pl[1], cw, ch, 1, 1) < 0 ||
        plane_alloc(&pl[2], cw, ch, 1, 1) < 0)
        goto out;
    *grey = read_all(&rd, sub420, pl) && allow_grey;
    for (int i = 0; i < 3; i++)
        plane_pad(&pl[i]);
    if (*grey) {
        free(pl[1].px);
        free(pl[2].px);
        memset(&pl[1], 0, 2 * sizeof(*pl));
    }
    rc = 0;
out:
    free(rd.rgb);
    for (int i = 0; i < 2; i++) {
        free(rd.cb[i]);
        free(rd.cr[i]);
    }
    if (rc < 0)
        jenc_planes_free(pl);
    return rc;
}

/* The DCT-II matrix, orthonormal: m[u][x] = c(u)/2 cos((2x+1)u pi/16).
 * Only its left half is kept: row u is symmetric about the middle for
 * even u and antisymmetric for odd u, so each 8-point transform is a 4x4
 * product on the sums s[x] + s[7-x] (even outputs) and another on the
 * differences s[x] - s[7-x] (odd outputs): half the multiplications of
 * the full product. */
static float dct_even[4][4], dct_odd[4][4];
static int dct_ready;

static void
dct_init(void)
{
    for (int k = 0; k < 4; k++) {
        for (int x = 0; x < 4; x++) {
            int ue = 2 * k, uo = 2 * k + 1;

            dct_even[k][x] = (float)((ue == 0 ? sqrt(0.5) : 1.0) / 2.0 *
                                     cos((2 * x + 1) * ue * M_PI / 16.0));
            dct_odd[k][x] = (float)(0.5 * cos((2 * x + 1) * uo * M_PI /
                                              16.0));
        }
    }
    dct_ready = 1;
}

/* One 8-point DCT-II of @in (stride @is) into @out (stride @os). */
static void
dct8(const float *in, int is, float *out, int os)
{
    float a[4], b[4];

    for (int x = 0; x < 4; x++) {
        a[x] = in[x * is] + in[(7 - x) * is];
        b[x] = in[x * is] - in[(7 - x) * is];
    }
    for (int k = 0; k < 4; k++) {
        out[2 * k * os] = dct_even[k][0] * a[0] + dct_even[k][1] * a[1] +
                          dct_even[k][2] * a[2] + dct_even[k][3] * a[3];
        out[(2 * k + 1) * os] = dct_odd[k][0] * b[0] + dct_odd[k][1] * b[1]
                                + dct_odd[k][2] * b[2] +
                                dct_odd[k][3] * b[3];
    }
}

void
jenc_fdct(const struct jenc_plane *pl, int bx, int by, float out[64])
{
    float s[64], t[64];
    int x, y;

    if (!dct_ready)
        dct_init();
    for (y = 0; y < 8; y++) {
        const unsigned char *r = pl->px + (size_t)(by * 8 + y) * pl->stride
                                 + (size_t)bx * 8;

        for (x = 0; x < 8; x++)
            s[y * 8 + x] = (float)r[x] - 128.0f;
    }
    /* Rows into t (t[y][u]), then columns into out (out[v][u]). */
    for (y = 0; y < 8; y++)
        dct8(s + y * 8, 1, t + y * 8, 1);
    for (x = 0; x < 8; x++)
        dct8(t + x, 8, out + x, 8);
}
