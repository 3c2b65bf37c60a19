/*
 * lookq.c - the per-image quality search of --target-distance: a sample
 * of the image encoded and decoded at a few qualities, the fast distance
 * model to steer, libjxl's butteraugli to check the choice (lookq.h).
 */
#include "lookq.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <turbojpeg.h>
#include <vips/vips.h>

#include "distance.h"

/* ln(distance) per quality step near the answer: the distance about
 * halves for every 12 steps of JPEG quality (photographs, Q60..Q95). */
#define SLOPE (-0.058)
/* The trials aim a little below D, so that the check seldom fails. */
#define AIM 0.93
/* Pixels of each tile's edge left out of the pool: the decoder's chroma
 * upsampling there sees the neighbouring tile, not the image. */
#define TILE_MARGIN 12
/* The quality tried first when the source's is not known. */
#define SEED_DEFAULT 86

static int seed_quality = -1;

void
lookq_begin(struct task_result *res, int source_quality)
{
    seed_quality = source_quality;
    res->look_quality = res->look_encodes = res->look_checked = 0;
    res->look_distance = 0;
}

/* The sample: tiles copied side by side into one mosaic image (or the
 * whole image), and the decoded trials of it. */
struct sample {
    int n, tile;                /* tiles, their side (n = 1: whole) */
    int mw, mh;                 /* the mosaic */
    size_t stride;
    const unsigned char *ref;   /* the source pixels of the mosaic */
    unsigned char *own;         /* ref when a copy */
    unsigned char *dec, *best;  /* the last trial, the best passing one */
    int gx;                     /* tiles per mosaic row */
    int tw, th;                 /* one tile's size */
};

static void
sample_release(struct sample *s)
{
    free(s->own);
    free(s->dec);
    free(s->best);
}

/* The grid origin @i of @g over @len pixels, on a 16-pixel boundary. */
static int
grid_at(int i, int g, int len, int tile)
{
    int span = len - tile;

    return (g > 1 ? span * i / (g - 1) : span / 2) & ~15;
}

static int
sample_make(struct sample *s, const struct lookq *lq)
{
    int w = lq->width, h = lq->height, gx, gy;

    memset(s, 0, sizeof(*s));
    if ((long)w * h <= LOOKQ_WHOLE || w < 2 * LOOKQ_TILE ||
        h < 2 * LOOKQ_TILE) {
        s->n = 1;
        s->gx = 1;
        s->mw = s->tw = w;
        s->mh = s->th = h;
        s->stride = lq->stride;
        s->ref = lq->px;
    } else {
        gx = (int)lround(sqrt((double)LOOKQ_TILES * w / h));
        gx = gx < 1 ? 1 : gx > w / LOOKQ_TILE ? w / LOOKQ_TILE : gx;
        gy = LOOKQ_TILES / gx;
        gy = gy < 1 ? 1 : gy > h / LOOKQ_TILE ? h / LOOKQ_TILE : gy;
        s->n = gx * gy;
        s->gx = gx;
        s->tw = s->th = LOOKQ_TILE;
        s->mw = gx * LOOKQ_TILE;
        s->mh = gy * LOOKQ_TILE;
        s->stride = (size_t)s->mw * 3;
        s->own = malloc(s->stride * s->mh);
        if (!s->own)
            return -1;
        for (int ty = 0; ty < gy; ty++)
            for (int tx = 0; tx < gx; tx++) {
                int x0 = grid_at(tx, gx, w, LOOKQ_TILE);
                int y0 = grid_at(ty, gy, h, LOOKQ_TILE);

                for (int y = 0; y < LOOKQ_TILE; y++)
                    memcpy(s->own + s->stride * (ty * LOOKQ_TILE + y) +
                               (size_t)tx * LOOKQ_TILE * 3,
                           lq->px + lq->stride * (y0 + y) + (size_t)x0 * 3,
                           (size_t)LOOKQ_TILE * 3);
            }
        s->ref = s->own;
    }
    s->dec = malloc(s->stride * s->mh);
    s->best = malloc(s->stride * s->mh);
    return s->dec && s->best ? 0 : -1;
}

/* Pool @dec against the reference tile by tile, with the fast model
 * (@exact 0) or butteraugli.  The distance, or -1 on failure. */
static double
sample_distance(const struct sample *s, const unsigned char *dec, int exact)
{
    struct distance_pool pool;
    int margin = s->n > 1 ? TILE_MARGIN : 0;

    distance_pool_init(&pool);
    for (int i = 0; i < s->n; i++) {
        size_t off = s->stride * (size_t)(i / s->gx * s->th) +
                     (size_t)(i % s->gx) * s->tw * 3;
        int rc = exact ? distance_butteraugli_add(&pool, s->ref + off,
                                                  dec + off, s->tw, s->th,
                                                  s->stride, margin)
                       : distance_fast_add(&pool, s->ref + off, dec + off,
                                           s->tw, s->th, s->stride, margin);
        if (rc < 0)
            return -1;
    }
    return exact ? distance_pool_value(&pool)
                 : distance_fast_scale(distance_pool_value(&pool));
}

static const unsigned char *
mosaic_row(void *arg, int y, unsigned char *buf)
{
    const struct sample *s = arg;

    (void)buf;
    return s->ref + s->stride * y;
}

/* Encode the sample at quality @q and decode it into s->dec.  0, or -1
 * with @res failed. */
static int
trial(struct sample *s, const struct encode_params *p, int q, int sub444,
      struct task_result *res)
{
    struct encode_params tp = *p;
    struct encode_rows rows = { s->mw, s->mh, mosaic_row, s };
    struct encode_out out;
    tjhandle tj;
    int rc = -1;

    tp.quality = q;
    tp.strip = 1;
    if (sub444)
        tp.subsample_420 = 0;
    encode_out_init(&out, NULL);
    if (encode_rows(&tp, &rows, &out, res) < 0)
        goto out;
    tj = tjInitDecompress();
    if (tj && tjDecompress2(tj, out.buf, (unsigned long)out.len, s->dec,
                            s->mw, (int)s->stride, s->mh, TJPF_RGB, 0) == 0)
        rc = 0;
    else
        task_result_fail(res, ERR_INTERNAL, "cannot decode a trial: %s",
                         tj ? tjGetErrorStr2(tj) : "no decoder");
    if (tj)
        tjDestroy(tj);
out:
    encode_out_release(&out);
    return rc;
}

/* The search's state between trials. */
struct search {
    double target;              /* what the trials aim at */
    double d;                   /* the user's D */
    double scale;               /* butteraugli / model, from a check */
    int ok_q, bad_q;            /* lowest passing, highest failing */
    double ok_v, bad_v;         /* their predictions */
    int trials, checks, checked_q;
    int chroma_free;            /* 4:4:4 may replace 4:2:0 */
    int sub444;                 /* trials (and the choice) at 4:4:4 */
    double checked_v;           /* butteraugli at checked_q */
};

/* The next quality to try, or -1 when the bracket is closed. */
static int
next_quality(const struct search *st, int q, double v)
{
    double to = q + log(st->target / v) / SLOPE;
    int n;

    if (st->ok_q <= 100 && st->bad_q >= LOOKQ_Q_MIN && st->bad_v > 0 &&
        st->ok_v > 0 && st->bad_v > st->ok_v) {
        double k = (log(st->ok_v) - log(st->bad_v)) / (st->ok_q - st->bad_q);

        to = st->bad_q + (log(st->target) - log(st->bad_v)) / k;
    }
    n = (int)ceil(to - 1e-9);
    if (n <= st->bad_q)
        n = st->bad_q + 1;
    if (n >= st->ok_q)
        n = st->ok_q - 1;
    if (n > 100)
        n = 100;
    return n <= st->bad_q || n >= st->ok_q || n < LOOKQ_Q_MIN ? -1 : n;
}

/* Check the best trial with butteraugli: 1 when within D, 0 when not
 * (the search rescaled and reopened above it), -1 on failure. */
static int
check_best(struct search *st, const struct sample *s,
           struct task_result *res)
{
    double b = sample_distance(s, s->best, 1);

    if (b < 0) {
        task_result_fail(res, ERR_OUT_OF_MEMORY, "cannot measure distance");
        return -1;
    }
    st->checks++;
    st->checked_q = st->ok_q;
    st->checked_v = b;
    if (b <= st->d)
        return 1;
    st->scale *= b / st->ok_v;
    st->bad_q = st->ok_q;
    st->bad_v = b;
    st->ok_q = 101;
    st->ok_v = 0;
    return 0;
}

static int
search_seed(double d)
{
    int q = seed_quality > 0 ? (seed_quality > 95 ? 95 : seed_quality) - 7
                             : SEED_DEFAULT;

    q += (int)lround(log(d) / SLOPE);
    return q < LOOKQ_Q_MIN ? LOOKQ_Q_MIN : q > 100 ? 100 : q;
}

/* The search proper over @s.  0 with st->ok_q (or 101: none passed) and
 * the check's figures, or -1 with @res failed. */
static int
search_run(struct search *st, struct sample *s, const struct encode_params *p,
           struct task_result *res)
{
    int q = search_seed(st->d), c;
    double v;
    unsigned char *tmp;

    while (st->trials < LOOKQ_MAX_ENCODES - 1 && q > 0) {
        if (trial(s, p, q, st->sub444, res) < 0)
            return -1;
        st->trials++;
        v = sample_distance(s, s->dec, 0);
        if (v < 0) {
            task_result_fail(res, ERR_OUT_OF_MEMORY, "cannot measure "
                             "distance");
            return -1;
        }
        v = v * st->scale + 1e-6;
        if (v <= st->target) {
            st->ok_q = q;
            st->ok_v = v;
            tmp = s->best;
            s->best = s->dec;
            s->dec = tmp;
        } else {
            st->bad_q = q;
            st->bad_v = v;
        }
        if (st->bad_q == 100 && p->subsample_420 && st->chroma_free &&
            !st->sub444) {
            /* Even Q100 misses D at 4:2:0: the error is the halved
             * chroma itself, so the search starts again at 4:4:4. */
            st->sub444 = 1;
            st->bad_q = LOOKQ_Q_MIN - 1;
            st->ok_q = 101;
            q = search_seed(st->d);
            continue;
        }
        q = next_quality(st, q, v);
        if (q < 0 && st->ok_q <= 100 && st->checks < 2) {
            if ((c = check_best(st, s, res)) < 0)
                return -1;
            if (c == 0)
                q = next_quality(st, st->bad_q, st->bad_v);
        }
    }
    if (st->ok_q <= 100 && st->checked_q != st->ok_q && st->checks < 2 &&
        check_best(st, s, res) < 0)
        return -1;
    return 0;
}

/* The choice after the search, into @res and lq->params. */
static void
search_done(const struct search *st, struct lookq *lq,
            struct task_result *res)
{
    int q = st->ok_q;
    double v = st->ok_v;

    if (q > 100) {
        /* Nothing passed in the budget: the model's step above the
         * highest failing quality, unmeasured. */
        q = st->bad_q + (int)ceil(log(st->bad_v / st->target) / -SLOPE);
        q = q > 100 ? 100 : q <= st->bad_q ? st->bad_q + 1 : q;
        q = q > 100 ? 100 : q;
        v = st->bad_v * exp(SLOPE * (q - st->bad_q));
    }
    lq->params.quality = q;
    if (st->sub444)
        lq->params.subsample_420 = 0;
    if (res->look_quality > 0)
        return;                 /* the record tells of the first output */
    res->look_quality = q;
    res->look_encodes = st->trials + 1;
    res->look_checked = st->checked_q == q;
    res->look_distance = (float)(res->look_checked ? st->checked_v : v);
}

/* The pixels of @rows into lq->px. */
static int
read_rows(struct lookq *lq, const struct encode_rows *rows)
{
    lq->width = rows->width;
    lq->height = rows->height;
    lq->stride = (size_t)rows->width * 3;
    lq->px = malloc(lq->stride * rows->height);
    if (!lq->px)
        return -1;
    for (int y = 0; y < rows->height; y++) {
        unsigned char *dst = lq->px + lq->stride * y;
        const unsigned char *r = rows->row(rows->arg, y, dst);

        if (r != dst)
            memcpy(dst, r, lq->stride);
    }
    return 0;
}

static const unsigned char *
px_row(void *arg, int y, unsigned char *buf)
{
    const struct lookq *lq = arg;

    (void)buf;
    return lq->px + lq->stride * y;
}

/* @img decoded into memory (held by @parent) and its pixels in 3 bands
 * into lq->px.  0, or -1 with @res failed. */
static int
read_image(struct lookq *lq, VipsObject *parent, VipsImage *img,
           struct task_result *res)
{
    VipsImage *mem = vips_image_copy_memory(img);
    const unsigned char *p;
    int bands;

    if (!mem) {
        task_result_fail(res, ERR_DECODE, "cannot decode or encode");
        return -1;
    }
    vips_object_local(parent, mem);
    lq->image = mem;
    bands = mem->Bands;
    if (mem->BandFmt != VIPS_FORMAT_UCHAR || (bands != 1 && bands != 3)) {
        task_result_fail(res, ERR_INTERNAL, "--target-distance needs 8-bit "
                         "grey or RGB, not %d bands", bands);
        return -1;
    }
    lq->width = mem->Xsize;
    lq->height = mem->Ysize;
    lq->stride = (size_t)lq->width * 3;
    lq->px = malloc(lq->stride * lq->height);
    if (!lq->px) {
        task_result_fail(res, ERR_OUT_OF_MEMORY, "cannot allocate %dx%d",
                         lq->width, lq->height);
        return -1;
    }
    for (int y = 0; y < lq->height; y++) {
        p = VIPS_IMAGE_ADDR(mem, 0, y);
        for (int x = 0; x < lq->width; x++)
            for (int c = 0; c < 3; c++)
                lq->px[lq->stride * y + 3 * x + c] =
                    p[x * bands + (bands == 3 ? c : 0)];
    }
    return 0;
}

int
lookq_choose(double d, int chroma_free, const struct encode_params *p,
             const struct encode_rows *rows, struct _VipsObject *parent,
             struct _VipsImage *img, struct lookq *lq,
             struct task_result *res)
{
    struct search st = { .target = d * AIM, .d = d, .scale = 1,
                         .ok_q = 101, .bad_q = LOOKQ_Q_MIN - 1,
                         .checked_q = -1, .chroma_free = chroma_free };
    struct sample s;
    int rc = -1;

    memset(lq, 0, sizeof(*lq));
    lq->params = *p;
    if (rows) {
        if (read_rows(lq, rows) < 0) {
            task_result_fail(res, ERR_OUT_OF_MEMORY, "cannot allocate "
                             "%dx%d", rows->width, rows->height);
            return -1;
        }
        lq->rows.width = lq->width;
        lq->rows.height = lq->height;
        lq->rows.row = px_row;
        lq->rows.arg = lq;
    } else if (read_image(lq, parent, img, res) < 0) {
        return -1;
    }
    if (sample_make(&s, lq) < 0)
        task_result_fail(res, ERR_OUT_OF_MEMORY, "cannot allocate the "
                         "sample");
    else if (search_run(&st, &s, p, res) == 0) {
        search_done(&st, lq, res);
        rc = 0;
    }
    sample_release(&s);
    return rc;
}

void
lookq_release(struct lookq *lq)
{
    free(lq->px);
    lq->px = NULL;
}
