/*
 * stage_helpers.h - fixtures for the tests of the worker's stages (open,
 * decode, colour, resize, encode, commit: src/worker/), compiled into the
 * test helper library (stage_helpers.c).
 *
 * Call sequence:
 *   sh_thumb_settings(&s, dir);         // or settings_init(); sh_outdir = dir
 *   sh_task(&t, &s, input, out);        // @out below sh_outdir, or NULL
 *   sh_result_init(&res);
 *   sh_process(&s, &t, &res);           // the whole of img_process()
 * or, for one decoder on a file opened by hand, sh_run_decoder(); for the
 * libvips decoder and the resize after it, sh_input() then
 * sh_decode_vips().  Functions abort the test (cr_assert) on unexpected
 * failures of the fixture itself.
 */
#ifndef IMGPOOL_STAGE_HELPERS_H
#define IMGPOOL_STAGE_HELPERS_H

#include <sys/types.h>

#include "decode.h"
#include "img.h"
#include "input.h"
#include "resize.h"
#include "settings.h"
#include "sniff.h"
#include "task.h"

/* Where the stage tests' outputs go: the commit settings' output
 * directory of every run configuration these fixtures make, set by each
 * test (or sh_thumb_settings()) before it runs a stage.  Not owned. */
extern const char *sh_outdir;

/* img_process() of @t under a one-output run configuration: pixel
 * settings @s, outputs below sh_outdir, the commit defaults otherwise. */
void sh_process(const struct settings *s, const struct task *t,
                struct task_result *res);

/* A task for @in whose output is @out (a path below sh_outdir; NULL for
 * none).  @s is not read.  The task borrows both paths. */
void sh_task(struct task *t, const struct settings *s, const char *in,
             const char *out);

/* A result with no dimensions and no size yet (-1), as the worker starts
 * one. */
void sh_result_init(struct task_result *res);

/*
 * Open @path as the open stage would leave it, but by hand: format @fmt,
 * JPEG header @ji (or none), the descriptor left at offset @pos (the
 * decoders must not depend on the file position).  input_close() closes
 * it.
 */
void sh_input(struct input *in, const char *path, enum img_format fmt,
              const struct jpeg_info *ji, off_t pos);

/* The stages after open, with decoder @dec, on @path into @out. */
void sh_run_decoder(const struct settings *s, const char *path,
                    enum img_format fmt, const struct jpeg_info *ji,
                    const char *out, enum decoder_kind dec,
                    struct task_result *res);

/*
 * The libvips decoder on @in into @d, then the resize stage as img.c runs
 * them: 0 with d->image at the output geometry of @s (resize_vips_stored()
 * finishing what shrink-on-load left), or as stored with DECODE_FULL; -1
 * with @res failed.
 */
int sh_decode_vips(const struct settings *s, const struct input *in,
                   enum decode_size size, struct decoded *d,
                   struct task_result *res);

/* Thumbnail defaults in @s, outputs below @outdir (sh_outdir). */
void sh_thumb_settings(struct settings *s, const char *outdir);

#endif
