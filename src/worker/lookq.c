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
#include "sniff.h"

/* ln(distance) per quality step near the answer: the distance about
 * halves for every 12 steps of JPEG quality (photographs, Q60..Q95). */
#define SLOPE (-0.058)
/* butteraugli_main on the whole output over the search's prediction on
 * the tile sample: geometric mean 1.044, log sd 0.084 (the 12 wallpapers
 * of LOOK=1 LOOK_CORPUS=.../wallpapers tests/bench/library.sh at the
 * qualities chosen for D = 1, 8 tiles; with 12 tiles 1.021 and 0.060, at
 * some 40% more time; on its Q95 look photos 1.044 and 0.048, Blinds left
 * out at 0.76; docs/BENCHMARKS.md).  A whole image measured is what
 * butteraugli_main measures. */
#define SAMPLE_BIAS 1.044
/* The whole image's distance aimed at, as a share of D: with the spread
 * above and the steps between qualities, 9 in 10 images end within D
 * (12 of 13 on the look photos of tests/bench/library.sh and 11 of 12
 * on the wallpapers; at 1.0, 10 of 13 on the photos). */
#define AIM 0.98
/* Trials on the model alone before the first check. */
#define MODEL_TRIALS 3
/* The seed: this far below the source's estimated quality at D = 1
 * (where the wallpapers' answers lie, 10 to 20 below). */
#define SEED_BELOW 14
/* Pixels of each tile's edge left out of the pool: the decoder's chroma
 * upsampling there sees the neighbouring tile, not the image. */
#define TILE_MARGIN 12
#if TILE_MARGIN < DISTANCE_FAST_SUPPORT
#error "the tiles' margin must cover the fast model's reach"
#endif
/* A 4:2:0 miss by this factor or more tries Q100 next: when even that
 * misses, the chroma's halving is the error, and the search goes on at
 * 4:4:4 with the trials left instead of climbing one step at a time. */
#define CHROMA_MISS 1.3
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
    unsigned char *dec;         /* the next trial's decoded pixels */
    struct distance_ref fref;   /* the fast model's view of ref */
    int gx;                     /* tiles per mosaic row */
    int tw, th;                 /* one tile's size */
};

static void
sample_release(struct sample *s)
{
    free(s->own);
    free(s->dec);
    distance_ref_release(&s->fref);
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
    if (!s->dec)
        return -1;
    return distance_ref_init(&s->fref, s->ref, s->mw, s->mh, s->stride);
}

/* Pool @dec against the reference tile by tile, with the fast model
 * (@exact 0) or butteraugli.  The distance, or -1 on failure. */
static double
sample_distance(const struct sample *s, const unsigned char *dec, int exact)
{
    struct distance_pool pool;
    int margin = s->n > 1 ? TILE_MARGIN : 0;

    distance_pool_init(&pool);
    if (!exact)
        return distance_fast_tiles(&pool, &s->fref, dec, s->stride, s->tw,
                                   s->th, margin) < 0
                   ? -1
                   : distance_fast_scale(distance_pool_value(&pool));
    if (distance_butteraugli_tiles(&pool, s->ref, dec, s->mw, s->mh,
                                   s->stride, s->tw, s->th, margin) < 0)
        return -1;
    return distance_pool_value(&pool);
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

/* The search's state: every trial kept (quality, model value, the
 * decoded sample), and what the checks measured. */
struct search {
    double d;                   /* the user's D */
    double target;              /* what the sample must read: D * aim */
    double k;                   /* butteraugli / model, from the check */
    int n;                      /* trials kept */
    int spent;                  /* trials made (n, and those dropped) */
    int q[LOOKQ_MAX_ENCODES];
    double v[LOOKQ_MAX_ENCODES];        /* model, butteraugli's scale */
    double b[LOOKQ_MAX_ENCODES];        /* butteraugli, 0: not checked */
    unsigned char *dec[LOOKQ_MAX_ENCODES];
    int checks;
    int chroma_free;            /* 4:4:4 may replace 4:2:0 */
    int sub444;                 /* trials (and the choice) at 4:4:4 */
    int qmax;                   /* the highest quality worth a trial */
};

static void
search_release(struct search *st)
{
    for (int i = 0; i < st->n; i++)
        free(st->dec[i]);
}

/* What is known of trial @i: its check's figure, else the model's scaled
 * by the last check's ratio. */
static double
predicted(const struct search *st, int i)
{
    return st->b[i] > 0 ? st->b[i] : st->v[i] * st->k;
}

/* The bracket: the highest quality predicted to miss the target (*bad,
 * or -1), and the lowest one above it predicted within (*ok, or -1).  A
 * passing trial below a missing one is noise, not an answer: the
 * distance falls with quality only on the whole. */
static void
bracket(const struct search *st, int *ok, int *bad)
{
    *ok = *bad = -1;
    for (int i = 0; i < st->n; i++)
        if (predicted(st, i) > st->target &&
            (*bad < 0 || st->q[i] > st->q[*bad]))
            *bad = i;
    for (int i = 0; i < st->n; i++)
        if (predicted(st, i) <= st->target &&
            (*bad < 0 || st->q[i] > st->q[*bad]) &&
            (*ok < 0 || st->q[i] < st->q[*ok]))
            *ok = i;
}

/* The next quality to try, or -1 when the bracket is closed. */
static int
next_quality(const struct search *st)
{
    int ok, bad, lo, hi, n;
    double to;

    bracket(st, &ok, &bad);
    lo = bad >= 0 ? st->q[bad] : LOOKQ_Q_MIN - 1;
    hi = ok >= 0 ? st->q[ok] : st->qmax + 1;
    if (ok >= 0 && bad >= 0 && predicted(st, bad) > predicted(st, ok)) {
        /* Between the two, ln(distance) taken as straight. */
        double k = (log(predicted(st, ok)) - log(predicted(st, bad))) /
                   (hi - lo);

        to = lo + (log(st->target) - log(predicted(st, bad))) / k;
        /* A safeguarded secant: the curve bends near Q100 (Blinds.jpg:
         * 1.38 at Q76, 1.20 at Q89, 0.40 at Q100), where the straight
         * line creeps from one end a step at a time. */
        if (hi - lo > 4)
            to = fmin(fmax(to, lo + (hi - lo) / 4.0), hi - (hi - lo) / 4.0);
    } else if (ok >= 0) {
        to = hi + log(st->target / predicted(st, ok)) / SLOPE;
    } else if (bad >= 0) {
        /* Upwards from a miss: at least two steps, so that a flat
         * stretch is not climbed one quality a trial. */
        to = lo + fmax(log(st->target / predicted(st, bad)) / SLOPE, 2);
    } else {
        return -1;
    }
    n = (int)ceil(to - 1e-9);
    n = n <= lo ? lo + 1 : n >= hi ? hi - 1 : n;
    n = n > st->qmax ? st->qmax : n;
    return n <= lo || n >= hi || n < LOOKQ_Q_MIN ? -1 : n;
}

/* One trial at @q: encoded, decoded, measured with the model and kept.
 * 0, or -1 with @res failed. */
static int
search_trial(struct search *st, struct sample *s,
             const struct encode_params *p, int q, struct task_result *res)
{
    double v;

    if (trial(s, p, q, st->sub444, res) < 0)
        return -1;
    v = sample_distance(s, s->dec, 0);
    if (v < 0) {
        task_result_fail(res, ERR_OUT_OF_MEMORY, "cannot measure distance");
        return -1;
    }
    st->q[st->n] = q;
    st->v[st->n] = v + 1e-6;
    st->b[st->n] = 0;
    st->dec[st->n] = s->dec;
    st->n++;
    st->spent++;
    s->dec = malloc(s->stride * s->mh);
    if (!s->dec) {
        task_result_fail(res, ERR_OUT_OF_MEMORY, "cannot allocate the "
                         "sample");
        return -1;
    }
    return 0;
}

/* Check trial @i with butteraugli; the model's ratio follows it.  0, or
 * -1 with @res failed. */
static int
search_check(struct search *st, const struct sample *s, int i,
             struct task_result *res)
{
    double b = sample_distance(s, st->dec[i], 1);

    if (b < 0) {
        task_result_fail(res, ERR_OUT_OF_MEMORY, "cannot measure distance");
        return -1;
    }
    st->checks++;
    st->b[i] = b + 1e-6;
    st->k = st->b[i] / st->v[i];
    return 0;
}

static int
search_seed(double d)
{
    int q = seed_quality > 0 ? (seed_quality > 90 ? 90 : seed_quality) -
                                   SEED_BELOW
                             : SEED_DEFAULT;

    q += (int)lround(log(d) / SLOPE);
    return q < LOOKQ_Q_MIN ? LOOKQ_Q_MIN : q > 100 ? 100 : q;
}

/* 1 when a trial at quality @q is kept. */
static int
tried(const struct search *st, int q)
{
    for (int i = 0; i < st->n; i++)
        if (st->q[i] == q)
            return 1;
    return 0;
}

/* Trials on the model alone from @q until the bracket closes or @upto
 * trials are made, the switch to 4:4:4 included.  0, or -1 with @res
 * failed. */
static int
search_model(struct search *st, struct sample *s,
             const struct encode_params *p, int q, int upto,
             struct task_result *res)
{
    int ok, bad;

    while (q > 0 && st->spent < upto) {
        if (search_trial(st, s, p, q, res) < 0)
            return -1;
        bracket(st, &ok, &bad);
        if (ok < 0 && bad >= 0 && st->q[bad] == 100 && p->subsample_420 &&
            st->chroma_free && !st->sub444) {
            /* Even Q100 misses D at 4:2:0: the error is the halved
             * chroma itself, so the search starts again at 4:4:4. */
            search_release(st);
            st->n = 0;
            st->sub444 = 1;
            q = search_seed(st->d);
            upto = st->spent + 2 > LOOKQ_MAX_ENCODES - 1
                       ? LOOKQ_MAX_ENCODES - 1 : st->spent + 2;
            continue;
        }
        q = next_quality(st);
        if (ok < 0 && bad >= 0 && p->subsample_420 && st->chroma_free &&
            !st->sub444 && q > 0 && q < 100 && !tried(st, 100) &&
            predicted(st, bad) > CHROMA_MISS * st->target)
            q = 100;    /* far off: is it the halved chroma? */
    }
    return 0;
}

/* Qualities from a butteraugli check within which the model, scaled by
 * it, is trusted without another: over 3 qualities the model's ratio to
 * butteraugli moves by some 2% on the wallpapers (docs/BENCHMARKS.md). */
#define NEAR_CHECK 3

/* 1 when trial @i is within NEAR_CHECK qualities of a checked one. */
static int
near_check(const struct search *st, int i)
{
    for (int j = 0; j < st->n; j++)
        if (st->b[j] > 0 && abs(st->q[j] - st->q[i]) <= NEAR_CHECK)
            return 1;
    return 0;
}

/*
 * The search proper over @s: the model brackets the target in a few
 * trials; butteraugli checks the lowest passing one (it costs some five
 * trials) and so scales the model for this image; the model, rescaled,
 * moves the choice in the trials left, and a moved choice is measured
 * as well.  0, or -1 with @res failed.
 */
static int
search_run(struct search *st, struct sample *s, const struct encode_params *p,
           struct task_result *res)
{
    int ok, bad, budget = LOOKQ_MAX_ENCODES - 1;

    if (search_model(st, s, p, search_seed(st->d), MODEL_TRIALS, res) < 0)
        return -1;
    bracket(st, &ok, &bad);
    if (ok < 0 && search_model(st, s, p, next_quality(st), budget, res) < 0)
        return -1;
    bracket(st, &ok, &bad);
    if (ok < 0 && bad < 0)
        return 0;               /* the budget went on 4:2:0 */
    if (search_check(st, s, ok >= 0 ? ok : bad, res) < 0)
        return -1;
    if (search_model(st, s, p, next_quality(st), budget, res) < 0)
        return -1;
    /* The choice, when the rescaled model moved it more than NEAR_CHECK
     * qualities from the check, is measured too: the model's error within
     * one image grows with the distance from where it was scaled.  A
     * miss leaves the lowest pass measured above it, or the model's step
     * up. */
    bracket(st, &ok, &bad);
    if (ok >= 0 && st->b[ok] == 0 && !near_check(st, ok) &&
        search_check(st, s, ok, res) < 0)
        return -1;
    return 0;
}

/* The step above the miss @bad: the lowest quality predicted within the
 * target, at least one more, and its prediction in *v.  ln(distance)
 * falls by SLOPE a quality; when the pass @ok (or -1) is at Q100, as
 * steeply as the straight line from @bad to it where that is steeper.
 * Towards Q100 the curve bends down (Blinds of the look photos: 1.12 at
 * Q91 and 0.20 at Q100 on the sample, 0.86 and 0.18 at Q91 and Q95 on
 * the whole), so the line reads high between the two and the step errs
 * upwards.  Below Q100 the bend can lie just under the pass (the
 * generated photos of test_look.c at 4:4:4), where the line would read
 * low. */
static int
step_above(const struct search *st, int ok, int bad, double *v)
{
    double pb = predicted(st, bad), slope = SLOPE;
    int q;

    if (ok >= 0 && st->q[ok] == 100 && predicted(st, ok) < pb)
        slope = fmin(SLOPE, log(predicted(st, ok) / pb) /
                                (st->q[ok] - st->q[bad]));
    q = st->q[bad] + (int)ceil(log(pb / st->target) / -slope - 1e-9);
    q = q <= st->q[bad] ? st->q[bad] + 1 : q;
    q = q > st->qmax ? st->qmax : q;
    *v = pb * exp(slope * (q - st->q[bad]));
    return q;
}

/* The choice after the search, into @res and lq->params: the lowest
 * pass, unless the budget ran out with it more than OPEN_GAP qualities
 * above the highest miss, where the model's step above the miss is
 * nearer the answer than the pass (a pass at Q100 can be larger than the
 * source). */
#define OPEN_GAP 4

static void
search_done(const struct search *st, struct lookq *lq,
            struct task_result *res)
{
    int ok, bad, q;
    double v, vs = 0;

    bracket(st, &ok, &bad);
    q = bad >= 0 ? step_above(st, ok, bad, &vs) : 0;
    if (ok >= 0 && (bad < 0 || st->q[ok] - st->q[bad] <= OPEN_GAP ||
                    q >= st->q[ok])) {
        q = st->q[ok];
        v = predicted(st, ok);
    } else if (bad < 0) {
        q = 100;                /* no trial at 4:4:4 left: its best */
        v = st->d;
    } else {
        /* Nothing passed in the budget, or the pass is far above the
         * highest miss: the step above that miss, unmeasured. */
        v = vs;
        ok = -1;
    }
    lq->params.quality = q;
    if (st->sub444)
        lq->params.subsample_420 = 0;
    if (res->look_quality > 0)
        return;                 /* the record tells of the first output */
    res->look_quality = q;
    res->look_encodes = st->spent + 1;
    res->look_checked = ok >= 0 && st->b[ok] > 0;
    res->look_distance = (float)v;
}

/* The pixels of @rows into lq->px. */
static int
read_rows(struct lookq *lq, const struct encode_rows *rows)
{
    lq->width = rows->width;
    lq->height = rows->height;
    lq->stride = (size_t)rows->width * 3;
    lq->px = malloc(lq->stride * rows->height);
    lq->px_own = 1;
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
    if (bands == 4 && mem->Type == VIPS_INTERPRETATION_CMYK) {
        /* In place, where the pixels stay as stored (commit.h). */
        task_result_skip(res, ERR_UNSUPPORTED, "left alone: --target-"
                         "distance measures RGB and grey pixels, not CMYK");
        return -1;
    }
    if (mem->BandFmt != VIPS_FORMAT_UCHAR || (bands != 1 && bands != 3)) {
        task_result_fail(res, ERR_INTERNAL, "--target-distance needs 8-bit "
                         "grey or RGB, not %d bands", bands);
        return -1;
    }
    lq->width = mem->Xsize;
    lq->height = mem->Ysize;
    lq->stride = (size_t)lq->width * 3;
    if (bands == 3 && (size_t)VIPS_IMAGE_SIZEOF_LINE(mem) == lq->stride) {
        /* Read where it lies: no copy of a 24 MP image. */
        lq->px = VIPS_IMAGE_ADDR(mem, 0, 0);
        return 0;
    }
    lq->px = malloc(lq->stride * lq->height);
    lq->px_own = 1;
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
    /* Above the source's own quality a re-encode only grows: at it, with
     * the same tables, the blocks quantise again to almost what they
     * were. */
    struct search st = { .d = d, .k = 1, .chroma_free = chroma_free,
                         .qmax = 100 };
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
    else {
        st.target = d * AIM / (s.n > 1 ? SAMPLE_BIAS : 1);
        if (search_run(&st, &s, p, res) == 0) {
            search_done(&st, lq, res);
            rc = 0;
        }
    }
    search_release(&st);
    sample_release(&s);
    return rc;
}

void
lookq_release(struct lookq *lq)
{
    if (lq->px_own)
        free(lq->px);
    lq->px = NULL;
    lq->px_own = 0;
}
