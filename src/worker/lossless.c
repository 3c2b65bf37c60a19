/*
 * lossless.c - JPEG to JPEG with the DCT coefficients untouched: optimised
 * Huffman tables, progressive or baseline scans, every APPn and COM
 * segment carried over (lossless.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <jerror.h>

#include "guard.h"
#include "jpegerr.h"
#include "lossless.h"
#include "tail.h"
#include "orient.h"
#include "outfile.h"

/* A growing buffer in memory as libjpeg's destination: libjpeg's own
 * jpeg_mem_dest() leaves its pointer stale when an error ends the work
 * after a reallocation, so the buffer is kept here. */
struct memdest {
    struct jpeg_destination_mgr pub;    /* first: libjpeg sees only this */
    unsigned char *buf;
    size_t cap;
    size_t len;                         /* set by the last flush */
};

static void
memdest_init(j_compress_ptr c)
{
    struct memdest *m = (struct memdest *)c->dest;

    m->pub.next_output_byte = m->buf;
    m->pub.free_in_buffer = m->cap;
}

static boolean
memdest_empty(j_compress_ptr c)
{
    struct memdest *m = (struct memdest *)c->dest;
    size_t cap = m->cap * 2;
    unsigned char *nb = realloc(m->buf, cap);

    if (!nb)
        ERREXIT1(c, JERR_OUT_OF_MEMORY, 10);
    m->pub.next_output_byte = nb + m->cap;
    m->pub.free_in_buffer = cap - m->cap;
    m->buf = nb;
    m->cap = cap;
    return TRUE;
}

static void
memdest_term(j_compress_ptr c)
{
    struct memdest *m = (struct memdest *)c->dest;

    m->len = m->cap - m->pub.free_in_buffer;
}

/* The class and message of a rewrite ended by libjpeg's error exit. */
static void
lossless_failed(const struct jpeg_err *err, int code, struct task_result *res)
{
    if (code == JERR_OUT_OF_MEMORY)
        task_result_fail(res, ERR_OUT_OF_MEMORY, "cannot rewrite "
                         "losslessly: %s", err->msg);
    else if (code == JERR_BAD_PRECISION || code == JERR_NOT_COMPILED ||
             code == JERR_SOF_UNSUPPORTED)
        task_result_fail(res, ERR_UNSUPPORTED, "cannot rewrite losslessly "
                         "(12-bit, lossless or hierarchical JPEG): %s",
                         err->msg);
    else if (err->too_complex)
        task_result_fail(res, ERR_TOO_COMPLEX, "cannot rewrite losslessly: "
                         "%s", err->msg);
    else
        task_result_fail(res, ERR_DECODE, "cannot rewrite losslessly: %s",
                         err->msg);
}

/* Every saved APPn and COM segment of @src into @dst, in order. */
static void
copy_segments(j_decompress_ptr src, j_compress_ptr dst)
{
    jpeg_saved_marker_ptr m;

    for (m = src->marker_list; m; m = m->next)
        jpeg_write_marker(dst, m->marker, m->data, m->data_length);
}

int
lossless_jpeg(const unsigned char *src, size_t len, int progressive,
              enum fail_on fail_on, unsigned char **out, size_t *out_len,
              struct task_result *res)
{
    struct jpeg_decompress_struct d;
    struct jpeg_compress_struct c;
    struct jpeg_err derr, cerr;
    jvirt_barray_ptr *coef;
    struct memdest m;
    int i;

    *out = NULL;
    *out_len = 0;
    memset(&d, 0, sizeof(d));
    memset(&c, 0, sizeof(c));
    memset(&m, 0, sizeof(m));
    m.cap = len / 2 + 65536;
    m.buf = malloc(m.cap);
    if (!m.buf) {
        task_result_fail(res, ERR_OUT_OF_MEMORY, "cannot allocate %zu bytes",
                         m.cap);
        return -1;
    }
    m.pub.init_destination = memdest_init;
    m.pub.empty_output_buffer = memdest_empty;
    m.pub.term_destination = memdest_term;
    d.err = jpeg_err_init(&derr, res, fail_on);
    derr.max_warnings = GUARD_MAX_WARNINGS;
    c.err = jpeg_err_init(&cerr, res, FAIL_NONE);
    if (setjmp(derr.jmp)) {
        lossless_failed(&derr, derr.pub.msg_code, res);
        goto fail;
    }
    if (setjmp(cerr.jmp)) {
        lossless_failed(&cerr, cerr.pub.msg_code, res);
        goto fail;
    }
    jpeg_create_decompress(&d);
    jpeg_create_compress(&c);
    jpeg_mem_src(&d, src, (unsigned long)len);
    jpeg_save_markers(&d, JPEG_COM, 0xffff);
    for (i = 0; i < 16; i++)
        jpeg_save_markers(&d, JPEG_APP0 + i, 0xffff);
    jpeg_read_header(&d, TRUE);
    coef = jpeg_read_coefficients(&d);
    jpeg_copy_critical_parameters(&d, &c);
    /* The original's own JFIF and Adobe segments are copied below. */
    c.write_JFIF_header = FALSE;
    c.write_Adobe_marker = FALSE;
    c.optimize_coding = TRUE;
    if (progressive)
        jpeg_simple_progression(&c);
    c.dest = &m.pub;
    jpeg_write_coefficients(&c, coef);
    copy_segments(&d, &c);
    jpeg_finish_compress(&c);
    jpeg_finish_decompress(&d);
    jpeg_destroy_compress(&c);
    jpeg_destroy_decompress(&d);
    *out = m.buf;
    *out_len = m.len;
    return 0;
fail:
    jpeg_destroy_compress(&c);
    jpeg_destroy_decompress(&d);
    free(m.buf);
    return -1;
}

int
lossless_read_input(const struct input *in, enum fail_on fail_on,
                    unsigned char **buf, struct task_result *res)
{
    struct guard_jpeg_walk w;

    *buf = NULL;
    /* A JPEG with more scans than any encoder writes is refused before
     * libjpeg spends a pass over the image on each (guard.h). */
    if (in->fmt == IMGF_JPEG && guard_jpeg(in, &w, res) < 0)
        return -1;
    /* Under a strict fail_on, image data that stops before its end marker
     * (a zero tail, a file cut short) is no source for a rewrite: libjpeg
     * would take the zeros for data. */
    if (in->fmt == IMGF_JPEG && !w.eoi && fail_on != FAIL_NONE) {
        task_result_fail(res, ERR_TRUNCATED, "image data cut short: the "
                         "file ends before the image's end marker");
        return -1;
    }
    /* The rewrite keeps the primary image and its segments only: what it
     * would drop (MPF images, a motion photo, a trailer; tail.h) keeps
     * the file whole. */
    if (in->fmt == IMGF_JPEG && tail_jpeg_keep_whole(in, res) != 0)
        return -1;
    if (in->size <= 0) {
        task_result_fail(res, ERR_TRUNCATED, "empty file");
        return -1;
    }
    *buf = malloc((size_t)in->size);
    if (!*buf) {
        task_result_fail(res, ERR_OUT_OF_MEMORY, "cannot allocate %lld "
                         "bytes", (long long)in->size);
        return -1;
    }
    if (input_pread_full(in->fd, *buf, (size_t)in->size, 0) < 0) {
        task_result_fail(res, ERR_READ, "cannot read: %s", strerror(errno));
        free(*buf);
        *buf = NULL;
        return -1;
    }
    return 0;
}

void
lossless_write(const struct settings *s, const struct commit_settings *c,
               const struct task *t,
               const struct input *in, struct task_result *res)
{
    unsigned char *src = NULL, *dst = NULL;
    size_t dst_len;
    struct outfile of;
    int w = -1, h = -1;

    res->status = TASK_FAILED;
    if (in->fmt != IMGF_JPEG) {
        task_result_skip(res, ERR_NOT_JPEG, "left alone: --lossless "
                         "rewrites JPEG inputs only, not %s (write PNG or "
                         "lossless WebP with -f png or -f webp)",
                         img_format_str(in->fmt));
        return;
    }
    if (!t->out_rel) {
        task_result_fail(res, ERR_INTERNAL, "no output path planned");
        return;
    }
    if (in->have_ji)
        orient_upright_size(in->ji.orientation, in->ji.width, in->ji.height,
                            &w, &h);
    res->in_width = res->out_width = w;
    res->in_height = res->out_height = h;
    if (lossless_read_input(in, s->fail_on, &src, res) < 0 ||
        lossless_jpeg(src, (size_t)in->size, !s->baseline, s->fail_on, &dst,
                      &dst_len, res) < 0 ||
        input_read_check(res) < 0)
        goto out;
    if (outfile_open(&of, c->output_dir, t->out_rel, c->fsync, res) < 0)
        goto out;
    if (outfile_write(&of, dst, dst_len, res) < 0) {
        outfile_abort(&of);
        goto out;
    }
    if (outfile_commit(&of, res) < 0)
        goto out;
    res->out_bytes = (int64_t)dst_len;
    res->outputs[0].width = w;
    res->outputs[0].height = h;
    res->outputs[0].bytes = res->out_bytes;
    res->noutputs = 1;
    snprintf(res->mode, sizeof(res->mode), "lossless");
    res->status = TASK_OK;
out:
    free(src);
    free(dst);
}
