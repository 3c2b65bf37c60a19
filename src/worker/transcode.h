/*
 * transcode.h - the JPEG XL files that carry a JPEG whole: `recompress -f
 * jxl` of a JPEG (transcoded losslessly, checked, committed) and
 * `recompress -f jpeg` of such a JPEG XL file (the original JPEG rebuilt
 * byte for byte).  Everything else with JPEG XL (thumbnails, other
 * inputs, JPEG XL files without a stored JPEG) is the pixel pipeline's:
 * libvips' jxlload and jxlsave (encode.h).
 *
 * When the transcode applies: recompress, one output at the source's size
 * (no --size), no --strip: the JPEG is the output's content, metadata
 * and all.  The JPEG is read whole (lossless_read_input(): the scan
 * guard, a strict --fail-on refuses data cut short, what a rewrite would
 * drop is skipped), refused early when its header names a process libjxl
 * cannot keep (jxl_jpeg_refusal(): ERR_NOT_TRANSCODABLE), transcoded
 * (jxl_from_jpeg()), and before anything is committed the JPEG is rebuilt
 * from the new bytes (jxl_to_jpeg()) and compared byte for byte with the
 * input: a difference fails the file, ERR_VERIFY_FAILED, and no output is
 * written.  The record's mode is "transcode".
 *
 * The way back applies under the same conditions with JPEG output: a JPEG
 * XL input with JPEG reconstruction data gives exactly the JPEG it was
 * made from, whatever -q says (mode "reconstruct"); one without goes
 * through the pixel pipeline like any image.
 *
 * Call sequence (worker only): transcode_run() first in img_run(); when it
 * returns 0, run the usual stages.
 */
#ifndef IMGPOOL_TRANSCODE_H
#define IMGPOOL_TRANSCODE_H

#include "input.h"
#include "settings.h"
#include "task.h"

/*
 * 1 when @in became t->out_rel below c->commit.output_dir here, or failed or was
 * skipped (@res filled like img_run(): status, dimensions, out_bytes,
 * mode); 0 when this is not a transcode (nothing done: the pixel stages
 * make the output, the input's descriptor untouched).
 */
int transcode_run(const struct run_config *c, const struct task *t,
                  const struct input *in, struct task_result *res);

#endif
