/*
 * jenc_int.h - the pieces of jenc.h's encoder, shared by its files only:
 * sample planes and the forward DCT (jenc_dct.c), the rate model and the
 * trellis quantiser (jenc_trellis.c), the scan search (jenc_scan.c).
 */
#ifndef IMGPOOL_JENC_INT_H
#define IMGPOOL_JENC_INT_H

#include <stdio.h>

#include <jpeglib.h>

#include "encode.h"
#include "jenc.h"
#include "jpegerr.h"

/* One component's samples, padded by edge replication to whole blocks
 * (bw x bh blocks; bw and bh already rounded up to the sampling factor,
 * as libjpeg's coefficient arrays want them). */
struct jenc_plane {
    int w, h;               /* the component's own size in samples */
    int bw, bh;             /* blocks */
    int stride;             /* bw * 8 */
    unsigned char *px;      /* stride x bh * 8 */
    /* Luma of a 4:2:0 colour image only (else NULL): the square of each
     * pixel's light, w x h (jenc_luma.c). */
    unsigned short *lum;
};

/*
 * Read @src whole into YCbCr planes @pl[0..2] (JFIF conversion; chroma
 * averaged over 2x2 with @sub420).  *@grey is set when @allow_grey and
 * every pixel has R = G = B (then only pl[0] is kept and pl[1], pl[2]
 * are empty).
 * 0, or -1 when out of memory.  jenc_planes_free() releases them.
 */
int jenc_planes_read(const struct encode_rows *src, int sub420,
                     int allow_grey, struct jenc_plane pl[3], int *grey);
void jenc_planes_free(struct jenc_plane pl[3]);

/* Replicate the last column and row of @p's samples out to its blocks. */
void jenc_plane_pad(struct jenc_plane *p);

/* The samples a decoder gets from the quantised blocks @arr (of @cc's
 * pool, steps @qt) of plane @pl, into a new plane @out of @pl's size
 * (free its px).  0, or -1 when out of memory. */
int jenc_plane_decode(j_common_ptr cc, const struct jenc_plane *pl,
                      jvirt_barray_ptr arr, const unsigned short *qt,
                      struct jenc_plane *out);

/* Move each sample of @luma (by a few steps at most) so that its pixel,
 * decoded with the 4:2:0 chroma @cb, @cr (as jenc_plane_decode() gives
 * them, upsampled as a decoder does), has the light @luma->lum holds;
 * the padding is replicated again.  0, or -1 when out of memory. */
int jenc_luma_match(struct jenc_plane *luma, const struct jenc_plane *cb,
                    const struct jenc_plane *cr);

/* The forward DCT of block (@bx, @by) of @pl, level-shifted, in JPEG's
 * scale (orthonormal: a squared error here is the same squared error in
 * samples), natural order. */
void jenc_fdct(const struct jenc_plane *pl, int bx, int by, float out[64]);

/* Its inverse: the samples of the coefficients @in (natural order, JPEG's
 * scale), level-shifted back, rounded and clamped to 0..255, into @out
 * (@stride bytes a row). */
void jenc_idct(const float in[64], unsigned char *out, int stride);

/* Symbol counts of one Huffman table class (luma, or chroma), and the
 * cost in bits the trellis charges for each symbol. */
struct jenc_stats {
    unsigned long dc[12];
    unsigned long ac[256];
    unsigned long flat;         /* blocks whose every AC level is zero */
};
struct jenc_rate {
    float dc[12];
    float ac[256];
};

/* The reciprocals of the steps @q (natural order, as @iq), as the
 * functions below take them (a multiplication per coefficient, not a
 * division). */
void jenc_inv_steps(const unsigned short q[64], float iq[64]);

/* Count the symbols of @c (natural order) quantised by plain rounding
 * with the steps whose reciprocals are @iq (jenc_inv_steps()); *@pred
 * is the previous block's DC, updated. */
void jenc_stats_block(const float c[64], const float iq[64], int *pred,
                      struct jenc_stats *st);

/* The bytes the symbols counted in @st and their magnitude bits take at
 * their entropy: what a baseline file of plainly rounded coefficients
 * would be with ideal codes (trellis quantisation writes less). */
double jenc_stats_bytes(const struct jenc_stats *st);

/* The share of the blocks counted in @st[0..@n-1] that have no AC. */
double jenc_stats_flat(const struct jenc_stats *st, int n);

/* Costs from counts: -log2 of each symbol's share, bounded to 1..16
 * bits; a symbol never seen costs what a rare one does. */
void jenc_rate_from_stats(const struct jenc_stats *st, struct jenc_rate *r);

/*
 * Rate-distortion quantisation of the AC coefficients of @c (natural
 * order) with the steps whose reciprocals are @iq (jenc_inv_steps())
 * into @out[1..63] (natural order): minimises
 * D + @lambda * R, D the squared error in units of each step, R the bits
 * of the Huffman symbols and their magnitude bits under @r.
 */
void jenc_trellis_ac(const float c[64], const float iq[64],
                     const struct jenc_rate *r, float lambda, JCOEF *out);

/*
 * The DC values of @n blocks in coding order (@dc: their unquantised
 * coefficients, step @q0): each either of the two steps around it, chosen
 * along the row for the least D + @lambda * R of the differences coded;
 * *@pred (the DC before the row) is updated to the row's last value.
 * Written to @out[i * 64].  @scratch holds 4 * @n ints.
 */
void jenc_trellis_dc(const float *dc, int n, int q0,
                     const struct jenc_rate *r, float lambda, int *pred,
                     JCOEF *out, int *scratch);

/* One encode's state, freed by jenc.c on every path (libjpeg errors
 * longjmp to err.jmp, from any of the files). */
struct jenc_job {
    struct jpeg_err err;
    const struct jenc_params *p;
    int ncomp;                      /* 1 or 3 */
    int width, height;
    unsigned short qt[2][64];       /* natural order: luma, chroma */
    /* The coefficients live in @holder's memory pool: every candidate
     * file is written from them by a compressor @w of its own. */
    struct jpeg_compress_struct holder;
    int have_holder;
    jvirt_barray_ptr arrays[3];
    struct jpeg_compress_struct w;
    int have_w;
    struct jpeg_destination_mgr dest;   /* into buf, grown by realloc */
    unsigned char *buf;             /* the candidate being written */
    unsigned long buf_len;          /* its bytes, once written */
    size_t buf_cap;
    unsigned char *best;            /* the smallest so far */
    unsigned long best_len;
    double est_bytes;               /* the entropy of pass one's symbols */
    double flat_share;              /* of pass one's blocks, those
                                       without AC */
};

/* encode_jenc.c's row source over a libvips image in memory. */
struct _VipsImage;
struct jenc_mem_rows {
    const struct _VipsImage *img;
    struct encode_rows src;     /* reading from this */
};

/* Write the coefficients of @j as the file @scan asks (jenc.h) into
 * j->best: one script, or the smaller of two candidates (jenc_scan.c).
 * libjpeg errors longjmp. */
void jenc_scan_write(struct jenc_job *j, enum jenc_scan scan);

#endif
