/*
 * commit.h - the commit stage: where the encoded outputs of one task go,
 * and the decisions that belong to putting them there.
 *
 * One interface, struct commit_ops, with three implementations:
 *   commit_file_ops       commit_file.c  new files below the output root
 *                                        (thumbnail, recompress -o)
 *   commit_inplace_ops    inplace.c      the input replaced by its
 *                                        recompressed self (--in-place)
 *   commit_fdthumb_ops    fdthumb.c      the freedesktop.org thumbnail
 *                                        cache (--freedesktop)
 * The pipeline (open -> decode -> colour -> resize -> encode) is img.c's,
 * run once for all three; a commit never decodes or encodes pixels.
 *
 * Call sequence (img_run(), in a worker, the input open):
 *   struct commit cm;
 *   commit_init(&cm, cfg, task, &in, decoder);   // picks the ops
 *   if (cm.ops->begin(&cm, res) == 0)            // checks before pixels
 *       for each output k < cm.plan.noutputs:
 *           cm.ops->open(&cm, k, &out, res);     // a file, or memory
 *           ...encode into out (or cm.ops->encode when not NULL)...
 *           cm.ops->commit(&cm, k, &out, w, h, res);
 *             // or cm.ops->abort(&cm, k, &out) when the encode failed
 *   cm.ops->end(&cm, rc, res);                   // always, once
 *
 * begin() fills cm.plan: how the pipeline is to run for this commit.  It
 * returns 1 when the task is decided without pixels (@res skipped, failed,
 * or done: an up-to-date cache, a JPEG in place that is compressed
 * enough, a lossless rewrite or a transcode), else 0.  Every call that can
 * fail returns 0 or -1 with @res failed or skipped; after -1 nothing of
 * that output is left behind.  end() runs whatever begin() returned and
 * frees what the commit holds (the freedesktop cache marks a failure
 * there).
 */
#ifndef IMGPOOL_COMMIT_H
#define IMGPOOL_COMMIT_H

#include "decode.h"
#include "encode.h"
#include "geom.h"
#include "input.h"
#include "settings.h"
#include "task.h"

/* How the pipeline runs for a commit: set by begin(). */
struct commit_plan {
    enum decoder_kind decoder;  /* the decoder (in place, freedesktop:
                                   libvips) */
    int noutputs;               /* outputs to encode and commit, >= 1 */
    /*
     * In place: the original recompressed as stored: decoded at full
     * size (DECODE_FULL), its colour space, orientation tag and metadata
     * kept (colour_vips_keep), the look search (lookq.h) on those
     * pixels, and none of the extras of a new output (flattening check,
     * metadata completion, extended XMP from the image, the kept
     * original); the input's dimensions are the commit's to record.
     */
    int as_stored;
    /*
     * Freedesktop: decode once into memory within @box (the largest
     * output's), then ops->encode makes each output from those pixels;
     * no size of the run's own.
     */
    int base_in_memory;
    struct geom_box box;
};

struct commit {
    const struct commit_ops *ops;
    const struct run_config *cfg;
    const struct task *t;
    const struct input *in;
    struct commit_plan plan;
    void *state;                /* the implementation's, from begin() */
};

struct _VipsImage;

struct commit_ops {
    int (*begin)(struct commit *cm, struct task_result *res);
    /* The destination of output @k, for encode_out (encode.h): a file
     * the encoder streams into, or memory (out->of NULL). */
    int (*open)(struct commit *cm, int k, struct encode_out *out,
                struct task_result *res);
    /* With plan.base_in_memory: output @k made and encoded from @base
     * (8-bit sRGB in memory) into @out.  NULL otherwise. */
    int (*encode)(struct commit *cm, int k, struct _VipsImage *base,
                  struct encode_out *out, struct task_result *res);
    /* Output @k, encoded into @out (upright @w x @h): the commit's own
     * checks, then in place; the output recorded in @res. */
    int (*commit)(struct commit *cm, int k, struct encode_out *out, int w,
                  int h, struct task_result *res);
    void (*abort)(struct commit *cm, int k, struct encode_out *out);
    /* @rc: 0 when every output was committed, else -1. */
    void (*end)(struct commit *cm, int rc, struct task_result *res);
};

extern const struct commit_ops commit_file_ops;
extern const struct commit_ops commit_inplace_ops;
extern const struct commit_ops commit_fdthumb_ops;

/* The commit @cfg->commit asks for, on task @t and its open input @in;
 * @decoder: the output file's decoder (the other two use libvips). */
void commit_init(struct commit *cm, const struct run_config *cfg,
                 const struct task *t, const struct input *in,
                 enum decoder_kind decoder);

/* An open() for commits that take the encoded bytes in memory and write
 * them themselves (in place, the freedesktop cache): @out set to memory;
 * always 0. */
int commit_open_in_memory(struct commit *cm, int k, struct encode_out *out,
                          struct task_result *res);

/* The pixel settings of output @k. */
const struct settings *commit_settings_of(const struct commit *cm, int k);

/*
 * The encoded bytes in @out edited before the commit: the source's EXIF
 * segment (exifcopy.h) or extended XMP (xmpext.h) put in, in the file
 * (out->of) or in memory.  0, or -1 with @res failed.
 */
struct exifcopy;
struct xmpext;
int commit_put_exif(struct encode_out *out, const struct exifcopy *x,
                    struct task_result *res);
int commit_put_xmp(struct encode_out *out, const struct xmpext *x,
                   struct task_result *res);

#endif
