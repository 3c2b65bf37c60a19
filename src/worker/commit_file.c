/*
 * commit_file.c - the output-file commit (commit.h): each output a new
 * file below the output root at the task's planned name, written through
 * a temporary file and renamed into place (outfile.h).
 *
 * Its decisions before pixels: a recompression that would drop data
 * beyond the image is skipped (tail.h); a JPEG transcoded to JPEG XL and
 * back (transcode.h) and the lossless JPEG rewrite (lossless.h) need no
 * pixels and are done here.  Before the rename, a read of the input that
 * failed on the way fails the file (input.h).
 */
#include <stdlib.h>

#include "commit.h"
#include "lossless.h"
#include "outfile.h"
#include "tail.h"
#include "transcode.h"

static int
file_begin(struct commit *cm, struct task_result *res)
{
    const struct settings *s = &cm->cfg->out[0];

    if (!cm->t->out_rel) {
        task_result_fail(res, ERR_INTERNAL, "no output path planned");
        return 1;
    }
    /* A recompression would drop data beyond the image. */
    if (s->mode == MODE_RECOMPRESS && tail_jpeg_keep_whole(cm->in, res) != 0)
        return 1;
    /* JPEG to JPEG XL and back without pixels (transcode.h). */
    if (transcode_run(cm->cfg, cm->t, cm->in, res))
        return 1;
    if (s->lossless && s->format == FORMAT_JPEG) {
        lossless_write(s, &cm->cfg->commit, cm->t, cm->in, res);
        return 1;
    }
    cm->state = malloc(sizeof(struct outfile));
    if (!cm->state) {
        task_result_fail(res, ERR_OUT_OF_MEMORY, "cannot allocate output");
        return 1;
    }
    cm->plan.noutputs = cm->cfg->nsizes;
    return 0;
}

static int
file_open(struct commit *cm, int k, struct encode_out *out,
          struct task_result *res)
{
    const struct commit_settings *c = &cm->cfg->commit;
    const char *rel = task_out_rel(cm->t, k);
    struct outfile *of = cm->state;

    if (!rel) {
        task_result_fail(res, ERR_INTERNAL, "no output path planned");
        return -1;
    }
    if (outfile_open(of, c->output_dir, rel, c->fsync, res) < 0)
        return -1;
    encode_out_init(out, of);
    return 0;
}

/* What output @k became, and the task's out_* for the first one. */
static void
output_done(struct task_result *res, int k, int w, int h)
{
    if (k == 0) {
        res->out_width = w;
        res->out_height = h;
    }
    if (k < RESULT_MAX_OUTPUTS) {
        res->outputs[k].width = w;
        res->outputs[k].height = h;
        res->outputs[k].bytes = res->out_bytes;
        res->noutputs = (uint32_t)k + 1;
    }
}

static int
file_commit(struct commit *cm, int k, struct encode_out *out, int w, int h,
            struct task_result *res)
{
    (void)cm;
    /* Every pixel is decoded by now: a read that failed on the way fails
     * the file before the output is put in place (input.h). */
    if (input_read_check(res) < 0) {
        outfile_abort(out->of);
        return -1;
    }
    if (outfile_commit(out->of, res) < 0)
        return -1;
    output_done(res, k, w, h);
    return 0;
}

static void
file_abort(struct commit *cm, int k, struct encode_out *out)
{
    (void)cm;
    (void)k;
    outfile_abort(out->of);
}

static void
file_end(struct commit *cm, int rc, struct task_result *res)
{
    (void)rc;
    (void)res;
    free(cm->state);
    cm->state = NULL;
}

const struct commit_ops commit_file_ops = {
    .begin = file_begin,
    .open = file_open,
    .encode = NULL,
    .commit = file_commit,
    .abort = file_abort,
    .end = file_end,
};
