/*
 * jenc_scan.c - the scan script of jenc.h's output, chosen for size.  A
 * progressive file's gain comes from each band having Huffman tables of
 * its own, from EOB runs across blocks and, with successive
 * approximation, from coding the low bit of luma apart from the rest.
 * Which split is smallest depends on the image (docs/ENCODER.md): a
 * thumbnail is written with one script (spectral selection only, or
 * successive approximation when dense), a photo with two (successive
 * approximation) and the smaller kept, with optimised Huffman tables;
 * baseline is written instead, or tried as well, when pass one's
 * statistics say it may be smaller.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <jerror.h>

#include "jenc_int.h"

#define SCAN_MAX 8

struct script {
    int n;
    jpeg_scan_info s[SCAN_MAX];
};

/* One scan: components @c0.. (@nc of them), band @ss..@se, bits @ah/@al. */
static void
add(struct script *sc, int nc, int c0, int ss, int se, int ah, int al)
{
    jpeg_scan_info *s = &sc->s[sc->n++];

    memset(s, 0, sizeof(*s));
    s->comps_in_scan = nc;
    for (int i = 0; i < nc; i++)
        s->component_index[i] = c0 + i;
    s->Ss = ss;
    s->Se = se;
    s->Ah = ah;
    s->Al = al;
}

/*
 * The progressive script for @ncomp components into @sc: the DC of all
 * components; successive approximation on luma, its high bits in two
 * bands split after zigzag position @y; the chroma in one band, or two
 * split after @c (0: one); luma's low bit last.
 */
static void
script(int ncomp, int y, int c, struct script *sc)
{
    int ci;

    sc->n = 0;
    add(sc, ncomp, 0, 0, 0, 0, 0);
    add(sc, 1, 0, 1, y, 0, 1);
    for (ci = 1; ci < ncomp; ci++) {
        add(sc, 1, ci, 1, c ? c : 63, 0, 0);
        if (c)
            add(sc, 1, ci, c + 1, 63, 0, 0);
    }
    add(sc, 1, 0, y + 1, 63, 0, 1);
    add(sc, 1, 0, 1, 63, 1, 0);
}

/*
 * The thumbnail script: spectral selection only, no successive
 * approximation: the DC of all components, luma's AC in two bands split
 * after zigzag position @y, each chroma whole.  Five scans, none of them
 * a refinement, so less encode time than script()'s (libjpeg-turbo
 * codes every scan twice, and a refinement scan is its slowest).  It is
 * smaller than script() on light thumbnails, larger on dense ones and
 * by 0.8% on photos (docs/ENCODER.md).
 */
static void
script_spectral(int ncomp, int y, struct script *sc)
{
    sc->n = 0;
    add(sc, ncomp, 0, 0, 0, 0, 0);
    add(sc, 1, 0, 1, y, 0, 0);
    for (int ci = 1; ci < ncomp; ci++)
        add(sc, 1, ci, 1, 63, 0, 0);
    add(sc, 1, 0, y + 1, 63, 0, 0);
}

/* A destination growing j->buf: j always owns what it points to, on the
 * error paths too (libjpeg's memory destination keeps the grown buffer
 * to itself until the end). */
static struct jenc_job *
dest_job(j_compress_ptr c)
{
    return (struct jenc_job *)((char *)c->dest -
                               offsetof(struct jenc_job, dest));
}

static void
dest_init(j_compress_ptr c)
{
    struct jenc_job *j = dest_job(c);

    j->buf_cap = 65536;
    j->buf = malloc(j->buf_cap);
    if (!j->buf)
        ERREXIT1(c, JERR_OUT_OF_MEMORY, 0);
    c->dest->next_output_byte = j->buf;
    c->dest->free_in_buffer = j->buf_cap;
}

static boolean
dest_empty(j_compress_ptr c)
{
    struct jenc_job *j = dest_job(c);
    unsigned char *b = realloc(j->buf, j->buf_cap * 2);

    if (!b)
        ERREXIT1(c, JERR_OUT_OF_MEMORY, 0);
    c->dest->next_output_byte = b + j->buf_cap;
    c->dest->free_in_buffer = j->buf_cap;
    j->buf = b;
    j->buf_cap *= 2;
    return TRUE;
}

static void
dest_term(j_compress_ptr c)
{
    struct jenc_job *j = dest_job(c);

    j->buf_len = (unsigned long)(j->buf_cap - c->dest->free_in_buffer);
}

/* Set up j->w for the coefficients of @j. */
static void
writer_setup(struct jenc_job *j)
{
    j_compress_ptr c = &j->w;
    unsigned int t[64];
    int i, sub = j->p->subsample_420 ? 2 : 1;

    jpeg_create_compress(c);
    j->have_w = 1;
    free(j->buf);
    j->buf = NULL;
    j->buf_len = 0;
    j->dest.init_destination = dest_init;
    j->dest.empty_output_buffer = dest_empty;
    j->dest.term_destination = dest_term;
    c->dest = &j->dest;
    c->image_width = (JDIMENSION)j->width;
    c->image_height = (JDIMENSION)j->height;
    c->input_components = j->ncomp;
    c->in_color_space = j->ncomp == 1 ? JCS_GRAYSCALE : JCS_YCbCr;
    jpeg_set_defaults(c);
    c->optimize_coding = TRUE;
    for (int k = 0; k < (j->ncomp == 1 ? 1 : 2); k++) {
        for (i = 0; i < 64; i++)
            t[i] = j->qt[k][i];
        jpeg_add_quant_table(c, k, t, 100, TRUE);
    }
    c->comp_info[0].h_samp_factor = c->comp_info[0].v_samp_factor =
        j->ncomp == 1 ? 1 : sub;
    for (i = 1; i < j->ncomp; i++) {
        c->comp_info[i].h_samp_factor = c->comp_info[i].v_samp_factor = 1;
        c->comp_info[i].quant_tbl_no = 1;
    }
    /* Given segments are the whole header (libvips' own choice of JFIF
     * or not, which it leaves out next to EXIF). */
    if (j->p->nmarkers > 0)
        c->write_JFIF_header = FALSE;
}

/* Write one candidate (@sc, else baseline) and keep it when it is the
 * smallest yet. */
static void
write_one(struct jenc_job *j, const struct script *sc)
{
    j_compress_ptr c = &j->w;

    writer_setup(j);
    if (sc) {
        c->scan_info = sc->s;
        c->num_scans = sc->n;
    }
    jpeg_write_coefficients(c, j->arrays);
    for (int i = 0; i < j->p->nmarkers; i++)
        jpeg_write_marker(c, j->p->markers[i].code, j->p->markers[i].data,
                          j->p->markers[i].len);
    jpeg_finish_compress(c);
    jpeg_destroy_compress(c);
    j->have_w = 0;
    if (!j->best || j->buf_len < j->best_len) {
        free(j->best);
        j->best = j->buf;
        j->best_len = j->buf_len;
    } else {
        free(j->buf);
    }
    j->buf = NULL;
}

/* Luma blocks up to which an image is small (a thumbnail). */
#define SCAN_SMALL_BLOCKS 8192

/*
 * The luma and chroma splits, chosen on 60 thumbnails of the bench's
 * small JPEGs (300 px) and the 16 photographs of tests/bench/encoder.sh
 * (2-18 MP), all -q 90 (docs/ENCODER.md): a thumbnail is written with
 * script_spectral() split at 12 (of splits at 2 to 27, the smallest), or
 * when dense (below) with script() at luma 12, chroma whole; a photo
 * with that and with luma and chroma at 2, the smaller kept (which one
 * wins depends on the photo: from 4% smaller to 1.2% larger).
 */
#define SCAN_THUMB_SPLIT 12
/*
 * Which of the two a thumbnail gets, by pass one's estimate of its bits
 * a pixel: on the bench's 2,000 thumbnails (imgpool's own resize, 300
 * px) the spectral script was 2% smaller below 0.5 bits a pixel, the
 * same up to 1, and up to 0.5% larger from 1.5 (denser coefficients:
 * the low bit coded apart pays, as on photos).  Any mark from 0.8 to 1.6
 * gave the least bytes.
 */
#define SCAN_SPECTRAL_BPP 1.0
static const int splits[][2] = { { 12, 0 }, { 2, 2 } };

/*
 * Baseline or progressive, from pass one's statistics (jenc_job): a
 * progressive file's Huffman tables for each scan cost a few hundred
 * bytes more, its gain grows with the size, and with the blocks without
 * AC (coded as runs of end-of-blocks across blocks).  On the 60
 * thumbnails (at most 11% of their blocks flat) baseline was smaller
 * below 11,800 estimated bytes and progressive above 12,300.  Below
 * SCAN_BASELINE_BYTES an image with up to SCAN_FLAT_SHARE of its blocks
 * flat is written baseline, one with more is written both ways and the
 * smaller kept; above it, progressive.  A grey image has a third of the
 * tables.  Photos are far above it.
 */
#define SCAN_BASELINE_BYTES 12000.0
#define SCAN_FLAT_SHARE 0.3

void
jenc_scan_write(struct jenc_job *j, enum jenc_scan scan)
{
    long blocks = (long)((j->width + 7) / 8) * ((j->height + 7) / 8);
    int small = blocks <= SCAN_SMALL_BLOCKS;
    double mark = j->ncomp == 3 ? SCAN_BASELINE_BYTES
                                : SCAN_BASELINE_BYTES / 3;
    int under = scan == JENC_SCAN_AUTO && j->est_bytes < mark;
    struct script sc;

    if (scan == JENC_SCAN_BASELINE || under)
        write_one(j, NULL);
    if (scan == JENC_SCAN_BASELINE ||
        (under && j->flat_share <= SCAN_FLAT_SHARE))
        return;
    if (small && 8.0 * j->est_bytes <
                     SCAN_SPECTRAL_BPP * (double)j->width * j->height) {
        script_spectral(j->ncomp, SCAN_THUMB_SPLIT, &sc);
        write_one(j, &sc);
        return;
    }
    for (int i = 0; i < (small ? 1 : 2); i++) {
        script(j->ncomp, splits[i][0], splits[i][1], &sc);
        write_one(j, &sc);
    }
}
