/*
 * resample.h - separable 8-bit image resizing with a Lanczos-3 filter,
 * streamed one input row at a time.
 *
 * Each axis is described by a struct resample_span: the input has @in
 * samples, the whole input (or its first @extent samples' worth, when the
 * last sample is partly padding) is mapped onto @scaled output samples,
 * and of those the @out samples starting at @offset are kept.  Plain
 * resizing is scaled == out, offset == 0; a centre crop after a resize
 * ("cover") keeps a window of a larger scaled size, without computing
 * what is cut off.
 *
 * When shrinking, the filter is widened by the shrink factor so that every
 * input sample contributes (a proper average, not point sampling).  Edges
 * repeat the border sample.  Weights are precomputed per output sample as
 * 14-bit fixed-point integers that sum exactly to one, so a flat area stays
 * exactly flat.
 *
 * Call sequence:
 *   struct resample r;
 *   if (resample_init(&r, channels, &xspan, &yspan) < 0) ...out of memory...
 *   for each input row, top to bottom:
 *       memcpy(resample_row_buffer(&r), row, xspan.in * channels);
 *       resample_push_row(&r, out, out_stride);
 *   resample_release(&r);
 * Output rows land at out + y * out_stride in order, in groups of up to
 * RESAMPLE_BLOCK once the input rows they depend on have been pushed;
 * after the last input row all @yspan.out rows are there.  Memory held is
 * a few input rows, never the whole input.
 */
#ifndef IMGPOOL_RESAMPLE_H
#define IMGPOOL_RESAMPLE_H

#include <stddef.h>
#include <stdint.h>

/* Fixed-point precision of the weights: they sum to 1 << RESAMPLE_BITS. */
#define RESAMPLE_BITS 14

struct resample_span {
    int in;         /* input samples, >= 1 */
    int scaled;     /* size the whole input is resized to, >= 1 */
    int offset;     /* first kept sample of the scaled axis, >= 0 */
    int out;        /* kept samples, >= 1, offset + out <= scaled */
    double extent;  /* 0, or the input's picture in samples when its last
                       sample covers only part of one: a JPEG decoded with
                       DCT scaling N/8 has ceil(w N / 8) samples for a
                       picture w N / 8 wide, the rest being the padding of
                       its last block.  in - 1 < extent <= in. */
};

/*
 * Precomputed filter for one axis: output sample i is the sum over t <
 * taps of weight[i * wstride + t] * input[start[i] + t], and start[i] +
 * taps never passes the end of the input.  start[] never decreases.  Rows
 * of weights are zero-padded to wstride, a multiple of 8, for SIMD code.
 */
struct resample_axis {
    int in, out;
    int taps, wstride;
    int identity;       /* the first out samples of the input, copied */
    int *start;
    int16_t *weight;
};

/* 0, or -1 when out of memory or @span is inconsistent.  Release with
 * resample_axis_release() in both cases. */
int resample_axis_init(struct resample_axis *ax,
                       const struct resample_span *span);
void resample_axis_release(struct resample_axis *ax);

/* Rows the horizontal pass handles at once (one SIMD vector per sample). */
#define RESAMPLE_BLOCK 16

struct resample {
    struct resample_axis h, v;
    int channels;
    size_t in_row, out_row;     /* bytes in one input / output row */
    unsigned char *ring;        /* v.taps input rows, row r in slot r % taps */
    const unsigned char **rows; /* the ring rows of one output row */
    int blocked;                /* horizontal pass in transposed blocks;
                                   may be cleared right after init to
                                   force the plain row-by-row pass */
    unsigned char *block;       /* rows after the vertical pass */
    unsigned char *tin, *tout;  /* a block transposed, before and after */
    int rows_in;                /* input rows pushed so far */
    int rows_v;                 /* output rows through the vertical pass */
    int rows_out;               /* output rows written so far */
};

/* 0, or -1 (out of memory, bad span).  Release with resample_release()
 * in both cases. */
int resample_init(struct resample *r, int channels,
                  const struct resample_span *x,
                  const struct resample_span *y);

/* Where the next input row (x->in * channels bytes) must be written. */
unsigned char *resample_row_buffer(struct resample *r);

/*
 * Take the row just written into resample_row_buffer() and write the
 * output rows that became ready into @out (row y at out + y * stride; the
 * same @out and @stride on every call).  Returns the number of output rows
 * complete so far.  Rows pushed after the last one needed are ignored.
 */
int resample_push_row(struct resample *r, unsigned char *out, size_t stride);

void resample_release(struct resample *r);

/* Resize a whole interleaved image, @iw x @ih to @ow x @oh.  0 / -1. */
int resample_image(const unsigned char *in, int iw, int ih, int channels,
                   unsigned char *out, int ow, int oh);

#endif
