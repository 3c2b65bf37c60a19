/*
 * jenc.c - imgpool's JPEG coefficient encoder; see jenc.h.
 *
 * Two passes over the blocks of each component: the first quantises by
 * plain rounding and counts the Huffman symbols that gives (the rate
 * model, one per table class: luma, chroma), the second quantises each
 * block by trellis search under that model (jenc_trellis.c) into
 * libjpeg's coefficient arrays.  The arrays are then written by
 * libjpeg-turbo (jenc_scan.c), which does the entropy coding.
 */
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>

#include <jerror.h>

#include "jenc_int.h"
#include "jpegq.h"

/*
 * The trade-off of the trellis: a bit is worth JENC_LAMBDA squared steps
 * of error.  Errors are in units of the perceptual table's step, so one
 * constant serves every quality; set with butteraugli and ssimulacra on
 * photographs (docs/ENCODER.md).
 */
#define JENC_LAMBDA 0.07f

static void
job_free(struct jenc_job *j)
{
    if (j->have_w)
        jpeg_destroy_compress(&j->w);
    if (j->have_holder)
        jpeg_destroy_compress(&j->holder);
    free(j->buf);
    free(j->best);
    free(j);
}

/* Allocate the coefficient arrays, one per plane, in j->holder. */
static void
arrays_alloc(struct jenc_job *j, const struct jenc_plane *pl)
{
    j_common_ptr cc = (j_common_ptr)&j->holder;

    jpeg_create_compress(&j->holder);
    j->have_holder = 1;
    /* libjpeg reads an MCU row at a time: two block rows of 4:2:0 luma. */
    int v = j->ncomp == 3 && j->p->subsample_420 ? 2 : 1;

    for (int ci = 0; ci < j->ncomp; ci++)
        j->arrays[ci] = (*cc->mem->request_virt_barray)(
            cc, JPOOL_IMAGE, TRUE, (JDIMENSION)pl[ci].bw,
            (JDIMENSION)pl[ci].bh, (JDIMENSION)(ci ? 1 : v));
    (*cc->mem->realize_virt_arrays)(cc);
}

/* The blocks libjpeg codes of @pl: the component's own size. */
static void
coded_blocks(const struct jenc_plane *pl, int *bw, int *bh)
{
    *bw = (pl->w + 7) / 8;
    *bh = (pl->h + 7) / 8;
}

/*
 * Pass one keeps the coefficients for pass two when the image has at
 * most JENC_KEEP_BLOCKS blocks (16 MiB of them); a larger one is
 * transformed twice, and its symbol counts come from every
 * JENC_SAMPLE_ROWS-th block row only (the statistics of a few hundred
 * thousand blocks do not change with more).
 */
#define JENC_KEEP_BLOCKS 65536
#define JENC_SAMPLE_ROWS 4

/* Pass one over @pl: symbol counts into @st, the coefficients into @keep
 * (bw x bh blocks of 64) unless it is NULL. */
static void
gather(const struct jenc_plane *pl, const unsigned short *q,
       struct jenc_stats *st, float *keep)
{
    float c[64], iq[64];
    int bw, bh, pred = 0;
    int step = keep ? 1 : JENC_SAMPLE_ROWS;

    jenc_inv_steps(q, iq);
    coded_blocks(pl, &bw, &bh);
    if (bh < 4 * step)
        step = 1;
    for (int by = 0; by < bh; by += step) {
        for (int bx = 0; bx < bw; bx++) {
            float *o = keep ? keep + ((size_t)by * bw + bx) * 64 : c;

            jenc_fdct(pl, bx, by, o);
            jenc_stats_block(o, iq, &pred, st);
        }
    }
}

/* Pass two over @pl: trellis-quantised blocks into @arr, from @keep
 * (pass one's coefficients) or transformed again when it is NULL.  @dc
 * and @scratch hold a block row's DC and its search. */
static void
quantise(struct jenc_job *j, const struct jenc_plane *pl,
         jvirt_barray_ptr arr, const unsigned short *q,
         const struct jenc_rate *r, const float *keep, float *dc,
         int *scratch)
{
    j_common_ptr cc = (j_common_ptr)&j->holder;
    float c[64], iq[64];
    int bw, bh, pred = 0;

    jenc_inv_steps(q, iq);
    coded_blocks(pl, &bw, &bh);
    for (int by = 0; by < bh; by++) {
        JBLOCKARRAY rows = (*cc->mem->access_virt_barray)(
            cc, arr, (JDIMENSION)by, 1, TRUE);
        JBLOCKROW row = rows[0];

        for (int bx = 0; bx < bw; bx++) {
            const float *b = c;

            if (keep)
                b = keep + ((size_t)by * bw + bx) * 64;
            else
                jenc_fdct(pl, bx, by, c);
            jenc_trellis_ac(b, iq, r, JENC_LAMBDA, row[bx]);
            dc[bx] = b[0];
        }
        jenc_trellis_dc(dc, bw, q[0], r, JENC_LAMBDA, &pred, row[0],
                        scratch);
    }
}

/* The luma of @pl matched to the 4:2:0 chroma as quantised in
 * j->arrays (4:4:4 keeps its luma: there the match only chases the
 * chroma's quantisation error, and did not pay on the tests' edges).
 * 0, or -1 when out of memory. */
static int
luma_match(struct jenc_job *j, struct jenc_plane *pl)
{
    struct jenc_plane dec[2];
    int rc = -1;

    memset(dec, 0, sizeof(dec));
    if (jenc_plane_decode((j_common_ptr)&j->holder, &pl[1], j->arrays[1],
                          j->qt[1], &dec[0]) == 0 &&
        jenc_plane_decode((j_common_ptr)&j->holder, &pl[2], j->arrays[2],
                          j->qt[1], &dec[1]) == 0)
        rc = jenc_luma_match(&pl[0], &dec[0], &dec[1]);
    free(dec[0].px);
    free(dec[1].px);
    return rc;
}

/* Both passes over every plane (the luma changed by luma_match()).  0,
 * or -1 when out of memory. */
static int
quantise_all(struct jenc_job *j, struct jenc_plane *pl)
{
    struct jenc_stats st[2];
    struct jenc_rate r[2];
    float *dc = malloc((size_t)pl[0].bw * sizeof(float));
    int *scratch = malloc((size_t)pl[0].bw * 4 * sizeof(int));
    float *keep = NULL, *at[3] = { NULL, NULL, NULL };
    size_t blocks = 0;
    int ci, bw, bh, rc = 0;

    for (ci = 0; ci < j->ncomp; ci++) {
        coded_blocks(&pl[ci], &bw, &bh);
        blocks += (size_t)bw * (size_t)bh;
    }
    if (blocks <= JENC_KEEP_BLOCKS)
        keep = malloc(blocks * 64 * sizeof(float));
    if (!dc || !scratch || (blocks <= JENC_KEEP_BLOCKS && !keep)) {
        free(dc);
        free(scratch);
        free(keep);
        return -1;
    }
    for (ci = 0, blocks = 0; keep && ci < j->ncomp; ci++) {
        at[ci] = keep + blocks * 64;
        coded_blocks(&pl[ci], &bw, &bh);
        blocks += (size_t)bw * (size_t)bh;
    }
    memset(st, 0, sizeof(st));
    /* The chroma first: the luma is matched to it as decoded
     * (jenc_luma.c). */
    for (ci = 1; ci < j->ncomp; ci++)
        gather(&pl[ci], j->qt[1], &st[1], at[ci]);
    jenc_rate_from_stats(&st[1], &r[1]);
    for (ci = 1; ci < j->ncomp; ci++)
        quantise(j, &pl[ci], j->arrays[ci], j->qt[1], &r[1], at[ci], dc,
                 scratch);
    if (j->ncomp == 3 && j->p->subsample_420 && luma_match(j, pl) < 0)
        rc = -1;
    else {
        gather(&pl[0], j->qt[0], &st[0], at[0]);
        jenc_rate_from_stats(&st[0], &r[0]);
        j->est_bytes = jenc_stats_bytes(&st[0]) + jenc_stats_bytes(&st[1]);
        j->flat_share = jenc_stats_flat(st, 2);
        quantise(j, &pl[0], j->arrays[0], j->qt[0], &r[0], at[0], dc,
                 scratch);
    }
    free(dc);
    free(scratch);
    free(keep);
    return rc;
}

/* Everything that may longjmp.  0, or -1 when out of memory. */
static int
run(struct jenc_job *j, struct jenc_plane *pl)
{
    arrays_alloc(j, pl);
    if (quantise_all(j, pl) < 0)
        return -1;
    jenc_scan_write(j, j->p->scan);
    return 0;
}

/* run() with its jump target.  0, or -1 with @res failed. */
static int
run_guarded(struct jenc_job *j, struct jenc_plane *pl,
            struct task_result *res)
{
    if (setjmp(j->err.jmp) != 0) {
        task_result_fail(res, j->err.pub.msg_code == JERR_OUT_OF_MEMORY
                                  ? ERR_OUT_OF_MEMORY : ERR_WRITE,
                         "cannot encode output: %s", j->err.msg);
        return -1;
    }
    if (run(j, pl) < 0) {
        task_result_fail(res, ERR_OUT_OF_MEMORY, "cannot allocate encoder");
        return -1;
    }
    return 0;
}

int
jenc_encode(const struct jenc_params *p, const struct encode_rows *src,
            unsigned char **out, unsigned long *len, struct task_result *res)
{
    struct jenc_plane pl[3];
    struct jenc_job *j;
    int grey, rc = -1;

    *out = NULL;
    *len = 0;
    if (src->width < 1 || src->height < 1 || src->width > JPEG_MAX_DIMENSION
        || src->height > JPEG_MAX_DIMENSION) {
        task_result_fail(res, ERR_WRITE, "cannot encode output: %dx%d is "
                         "too large for JPEG", src->width, src->height);
        return -1;
    }
    j = calloc(1, sizeof(*j));
    if (!j || jenc_planes_read(src, p->subsample_420, p->allow_grey, pl,
                                 &grey) < 0) {
        task_result_fail(res, ERR_OUT_OF_MEMORY, "cannot allocate encoder");
        free(j);
        return -1;
    }
    j->p = p;
    j->ncomp = grey ? 1 : 3;
    j->width = src->width;
    j->height = src->height;
    jpegq_table(JPEGQ_LUMA, p->quality, j->qt[0]);
    jpegq_table(p->subsample_420 ? JPEGQ_CHROMA_420 : JPEGQ_CHROMA_444,
                p->quality, j->qt[1]);
    j->holder.err = jpeg_err_init(&j->err, res, FAIL_NONE);
    j->w.err = &j->err.pub;
    if (run_guarded(j, pl, res) == 0) {
        *out = j->best;
        *len = j->best_len;
        j->best = NULL;
        rc = 0;
    }
    jenc_planes_free(pl);
    job_free(j);
    return rc;
}
