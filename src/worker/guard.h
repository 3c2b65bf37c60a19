/*
 * guard.h - bounds on the work a hostile file can cause, and the rule that
 * says when a damaged file still counts as an image.  Worker code only.
 *
 * Scans.  A progressive JPEG may repeat a scan over and over; each costs a
 * pass over every block of the image, so a 1.7 MB file of 16000x16000
 * pixels with 2,000 scans keeps a decoder busy for a minute.  No encoder
 * writes more than a few dozen scans (libjpeg's progression has 6 to 10),
 * so a file with more than GUARD_MAX_SCANS fails as ERR_TOO_COMPLEX before
 * decoding starts: guard_jpeg() counts the SOS markers in one bounded
 * linear walk over the bytes (libvips 8.14 has no scan limit of its own;
 * the direct decoder also stops libjpeg at the cap, decode_jpeg.c).
 * Warnings: the direct JPEG decoder fails as ERR_TOO_COMPLEX after
 * GUARD_MAX_WARNINGS (damaged data that makes libjpeg warn without end).
 *
 * Decoded rows.  A lenient decode (--fail-on none) of a cut or damaged
 * file fills what is missing with grey or the background.  Such an output
 * counts as "ok" (with a warning giving the decoded fraction) only when
 * a real part of the image was decoded: at least GUARD_MIN_PERCENT percent
 * of the rows, and at least one full row of JPEG blocks (one MCU row).
 * Below that the file fails as ERR_TRUNCATED (guard_rows()).  Where a
 * decoder cannot tell how many rows it decoded (libvips), the file's
 * structure decides instead: a JPEG whose first scan has no entropy-coded
 * data, or a PNG with no IDAT data, has no pixels (guard_jpeg(),
 * guard_png()).  A PNG whose IHDR chunk fails its CRC fails as
 * ERR_CORRUPT_HEADER on every path: its dimensions cannot be trusted.
 *
 * Call sequence (decoders): guard_jpeg() or guard_png() on the opened
 * input before decoding; guard_rows() after a decode that stopped early
 * (on the libvips path, after decode_jpeg_count_rows() for a JPEG that
 * the walk found cut short, in a lenient decode).
 * Every function returns 0, or -1 with @res failed (class and message).
 */
#ifndef IMGPOOL_GUARD_H
#define IMGPOOL_GUARD_H

#include <stdint.h>

#include "input.h"
#include "task.h"

#define GUARD_MAX_SCANS 100
#define GUARD_MAX_WARNINGS 1000
#define GUARD_MIN_PERCENT 10

/* What one walk over a JPEG's markers found. */
struct guard_jpeg_walk {
    int scans;                  /* SOS markers, counted up to the cap + 1 */
    int eoi;                    /* the EOI marker was reached */
    int64_t eoi_end;            /* the offset just past it, when reached */
    int64_t first_scan_bytes;   /* entropy-coded bytes of the first scan */
    long mpf_images;            /* NumberOfImages of the first MPF index
                                   before the first scan (mpf.h): 0 none */
    int xmp;                    /* enum tail_xmp of the XMP segments before
                                   the first scan, the strongest found */
};

/*
 * Walk the markers of the JPEG on @fd (pread from offset 0) up to EOI,
 * offset @end (the real data's end: tail.h), or scan @max_scans + 1,
 * whichever comes first.  Reads each byte at most once, and none of a
 * hole in the entropy-coded data (it holds no marker).  0, or -1 with
 * errno set when a read failed.
 */
int guard_jpeg_walk(int fd, int64_t end, int max_scans,
                    struct guard_jpeg_walk *w);

/* The JPEG @in against the scan cap and for pixel data: 0 (with what
 * the walk found in @w, when not NULL), or -1 with @res failed
 * (ERR_TOO_COMPLEX, ERR_TRUNCATED or ERR_READ). */
int guard_jpeg(const struct input *in, struct guard_jpeg_walk *w,
               struct task_result *res);

/*
 * For a JPEG cut short on a path that cannot count rows (libvips): decode
 * @in with libjpeg at 1/8 scale, pixels discarded, and say how many of its
 * *@height source rows hold data (*@rows) and the rows of one MCU row
 * (*@mcu_rows).  Bounded like the direct decoder (scan and warning caps).
 * 0, or -1 when libjpeg cannot read the file (the caller's loader will
 * say why).  In decode_jpeg.c, next to the direct decoder it shares its
 * source manager and row counting with.
 */
int decode_jpeg_count_rows(const struct input *in, int *rows, int *height,
                           int *mcu_rows);

/* The IHDR CRC of the PNG @in (ERR_CORRUPT_HEADER) and, with @walk, its
 * chunk headers up to IEND: ERR_TRUNCATED when no IDAT data is there;
 * *@complete (when not NULL) says whether IEND was reached.  0, or -1
 * with @res failed. */
int guard_png(const struct input *in, int walk, int *complete,
              struct task_result *res);

/* decode_jpeg_count_rows() for a PNG, with libpng (decode_png.c). */
int decode_png_count_rows(const struct input *in, int *rows, int *height);

/*
 * After a decode that got @rows of @height source rows (@mcu_rows: the
 * rows of one JPEG MCU row, 1 for PNG): res->decoded_rows = @rows; when
 * @rows is below the threshold, -1 with @res failed ERR_TRUNCATED;
 * otherwise 0, with a warning naming the decoded fraction when @rows <
 * @height.
 */
int guard_rows(int rows, int height, int mcu_rows, struct task_result *res);

/* Whether @rows of @height meets the threshold (1) or not (0). */
int guard_rows_enough(int rows, int height, int mcu_rows);

#endif
