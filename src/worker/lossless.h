/*
 * lossless.h - a JPEG rewritten without decoding its pixels: `recompress
 * --lossless` with JPEG input and output, and the lossless pass of an
 * in-place run (inplace.h).
 *
 * The DCT coefficients are read and written untouched (libjpeg's
 * jpeg_read_coefficients / jpeg_copy_critical_parameters /
 * jpeg_write_coefficients), so every decoder gives exactly the pixels of
 * the original.  What changes: Huffman tables optimised for the image,
 * progressive scans unless baseline is asked for, restart markers dropped,
 * the tables and frame header written where libjpeg writes them.  Every
 * APPn and COM segment of the original (before the frame or between
 * scans) is written back byte for byte, in the original's order, right
 * after SOI; libjpeg adds no JFIF or Adobe segment of its own.  Bytes
 * after the end-of-image marker are not kept.
 *
 * Call sequence (worker only): lossless_jpeg() on the whole input in
 * memory; lossless_write() for an output below c->output_dir.
 */
#ifndef IMGPOOL_LOSSLESS_H
#define IMGPOOL_LOSSLESS_H

#include <stddef.h>

#include "input.h"
#include "settings.h"
#include "task.h"

/*
 * Rewrite the JPEG in @src (@len bytes) losslessly; @progressive picks
 * progressive scans, else one baseline (sequential, optimised) scan.
 * 0 with *out (malloc'ed, the caller frees) and *out_len set; or -1 with
 * @res failed: ERR_UNSUPPORTED naming what libjpeg cannot rewrite (12-bit,
 * lossless JPEG), ERR_DECODE for damaged data (a libjpeg warning too,
 * unless @fail_on is FAIL_NONE or FAIL_TRUNCATED), ERR_OUT_OF_MEMORY.
 */
int lossless_jpeg(const unsigned char *src, size_t len, int progressive,
                  enum fail_on fail_on, unsigned char **out, size_t *out_len,
                  struct task_result *res);

/*
 * The whole open input (in->size bytes through input_pread_full()) into
 * *buf (malloc'ed, the caller frees), a JPEG first checked by guard_jpeg()
 * (the scan cap, pixel data), for data cut short before its end marker
 * under a strict @fail_on (ERR_TRUNCATED) and for what a rewrite would
 * drop (tail_jpeg_keep_whole(): skipped multi-picture, motion-photo or
 * has-trailer).  0, or -1 with @res failed or skipped.
 */
int lossless_read_input(const struct input *in, enum fail_on fail_on,
                        unsigned char **buf, struct task_result *res);

/*
 * recompress -o with --lossless and JPEG output: @in rewritten by
 * lossless_jpeg() into t->out_rel below c->output_dir (the usual
 * outfile.h commit).  A non-JPEG input is skipped, ERR_NOT_JPEG.  Fills
 * @res like img_run() (status, dimensions, out_bytes, mode "lossless").
 */
void lossless_write(const struct settings *s,
                    const struct commit_settings *c, const struct task *t,
                    const struct input *in, struct task_result *res);

#endif
