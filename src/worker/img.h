/*
 * img.h - one file through the worker's stages (the only entry the worker
 * process needs; see worker.h).
 *
 * Call sequence, inside a worker process only:
 *   img_worker_init(&cfg->out[0]);     // VIPS_INIT, concurrency, cache off
 *   img_process(cfg, task, res);       // once per file
 *   img_worker_fini();
 *
 * img_process() runs the stages in order, each behind its own header:
 *   open    input.h    the input, safely, sniffed, size-checked
 *   decode  decode.h   direct JPEG | direct PNG | libvips
 *   colour  colour.h   to 8-bit sRGB: grey, alpha, ICC, CMYK
 *   resize  resize.h   to the geom.h size
 *   encode  encode.h   JPEG or PNG: quality, subsampling, metadata
 *   commit  commit.h   one interface, three implementations: new files
 *                      below c->commit.output_dir at t->out_rel
 *                      (commit_file.c), the input in place (inplace.c),
 *                      the freedesktop cache (fdthumb.c)
 * The commit begins before decoding (its checks, and what the pipeline is
 * to do for it) and takes each encoded output; the stages are the same
 * for all three.  It never prints; the outcome, dimensions, sizes,
 * warnings and time land in @res.
 */
#ifndef IMGPOOL_IMG_H
#define IMGPOOL_IMG_H

#include "decode.h"
#include "input.h"
#include "settings.h"
#include "task.h"

int img_worker_init(const struct settings *s);
void img_process(const struct run_config *c, const struct task *t,
                 struct task_result *res);
void img_worker_fini(void);

/*
 * The stages after open, on @in (opened by input_open(), or by hand in
 * tests: fd, fmt, and ji for JPEG), with the commit c->commit asks for
 * and, for new files, decoder @dec whether or not decode_choose() would
 * pick it (in place and the freedesktop cache always use libvips).  Fills
 * @res like img_process() but for the time.  @in stays open.
 */
void img_run(const struct run_config *c, const struct task *t,
             const struct input *in, enum decoder_kind dec,
             struct task_result *res);

#endif
