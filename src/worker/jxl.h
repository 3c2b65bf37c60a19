/*
 * jxl.h - JPEG XL through libjxl directly: a JPEG transcoded losslessly
 * (its DCT coefficients kept, the JPEG reconstruction data stored beside
 * them), the original JPEG rebuilt from such a file, and the mapping of
 * the common -q scale onto libjxl's distance.
 *
 * A transcoded file holds the JPEG's coefficients as a JPEG XL image and
 * a "jbrd" box (everything else of the JPEG: markers, Huffman tables,
 * segment order, padding), and its EXIF and XMP segments as "Exif" and
 * "xml " boxes: jxl_to_jpeg() gives back the original byte for byte.
 *
 * Call sequence (worker only): jxl_jpeg_refusal() on the parsed header
 * first; jxl_from_jpeg() on the whole JPEG in memory; jxl_to_jpeg() on
 * the result (the check before a commit) or on a .jxl input.  Every call
 * is single-threaded (parallelism is across worker processes) and keeps
 * no state between calls.  Nothing here writes a file.
 */
#ifndef IMGPOOL_JXL_H
#define IMGPOOL_JXL_H

#include <stddef.h>
#include <stdint.h>

#include "sniff.h"
#include "task.h"

/* libjxl's encoder effort (1 fastest .. 9): 7 is its default and cjxl's,
 * so a transcode is the size cjxl makes. */
#define JXL_EFFORT 7

/*
 * The butteraugli distance libjxl encodes at for -q @q (1..100): 0.1 +
 * (100 - q) * 0.09 from q 30 up (so -q 90 is 1.0, libjxl's "visually
 * lossless" default, and -q 100 is 0.1), and 6.4 + 2.5^((30 - q) / 5) /
 * 6.25 below, at most 25, the largest distance libjxl accepts (-q 1 to
 * 4; -q 30 is 6.4).  The same curve cjxl uses for its --quality.
 */
double jxl_distance(int q);

/*
 * Why libjxl cannot transcode the JPEG @ji describes without loss, or NULL
 * when it can be tried: arithmetic coding, 12-bit samples, the lossless
 * or hierarchical processes, CMYK (libjxl keeps 1 or 3 components).  libjxl may still refuse others (see
 * jxl_from_jpeg()).  The text names the reason, for a message.
 */
const char *jxl_jpeg_refusal(const struct jpeg_info *ji);

/*
 * Transcode the JPEG @jpg (@len bytes) into a JPEG XL file (container
 * with the reconstruction data, effort JXL_EFFORT).  0 with *out
 * (malloc'ed, the caller frees) and *out_len set; or -1 with @res failed:
 * ERR_NOT_TRANSCODABLE when libjxl refuses the JPEG (its reason in the
 * message), ERR_OUT_OF_MEMORY.
 */
int jxl_from_jpeg(const unsigned char *jpg, size_t len, unsigned char **out,
                  size_t *out_len, struct task_result *res);

/*
 * The JPEG stored in the JPEG XL file @jxl (@len bytes).  0 with *out
 * (malloc'ed, the caller frees) and *out_len set; 1 when the file holds
 * no JPEG reconstruction data (its pixels are all there is; nothing set);
 * -1 with @res failed: ERR_TOO_LARGE when the header declares more than
 * @max_pixels (0: no limit), ERR_DECODE for data libjxl cannot read or
 * that ends early, ERR_OUT_OF_MEMORY.
 */
int jxl_to_jpeg(const unsigned char *jxl, size_t len, int64_t max_pixels,
                unsigned char **out, size_t *out_len,
                struct task_result *res);

#endif
