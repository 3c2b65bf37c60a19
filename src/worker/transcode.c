/*
 * transcode.c - JPEG to JPEG XL without loss, checked by rebuilding the
 * JPEG before the commit, and the stored JPEG back out of a JPEG XL file
 * (transcode.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fault.h"
#include "jxl.h"
#include "lossless.h"
#include "orient.h"
#include "outfile.h"
#include "transcode.h"

/* 1 when @s asks for one output with the source's pixels and metadata:
 * recompress, no --size, nothing stripped or converted. */
static int
keeps_source(const struct run_config *c)
{
    const struct settings *s = &c->out[0];

    return s->mode == MODE_RECOMPRESS && c->nsizes == 1 && !s->width &&
           !s->height && !s->strip && !s->strip_gps && !s->to_srgb;
}

/* @len bytes of @data into t->out_rel below c->output_dir, and the
 * record's numbers for it.  0, or -1 with @res failed. */
static int
commit_bytes(const struct commit_settings *c, const struct task *t,
             const unsigned char *data, size_t len, int w, int h,
             const char *mode, struct task_result *res)
{
    struct outfile of;

    if (outfile_open(&of, c->output_dir, t->out_rel, c->fsync, res) < 0)
        return -1;
    if (outfile_write(&of, data, len, res) < 0) {
        outfile_abort(&of);
        return -1;
    }
    if (outfile_commit(&of, res) < 0)
        return -1;
    res->in_width = res->out_width = w;
    res->in_height = res->out_height = h;
    res->out_bytes = (int64_t)len;
    res->outputs[0].width = w;
    res->outputs[0].height = h;
    res->outputs[0].bytes = res->out_bytes;
    res->noutputs = 1;
    snprintf(res->mode, sizeof(res->mode), "%s", mode);
    res->status = TASK_OK;
    return 0;
}

/* The first offset where @a and @b differ (the shorter length when one
 * is a prefix of the other), or -1 when they are equal. */
static long long
first_difference(const unsigned char *a, size_t alen, const unsigned char *b,
                 size_t blen)
{
    size_t n = alen < blen ? alen : blen, i;

    for (i = 0; i < n; i++)
        if (a[i] != b[i])
            return (long long)i;
    return alen == blen ? -1 : (long long)n;
}

/* Rebuild the JPEG from @jxl and compare it with the input @jpg.  0 when
 * they are the same bytes, or -1 with @res failed (ERR_VERIFY_FAILED). */
static int
verify(const struct task *t, const unsigned char *jxl, size_t jxl_len,
       const unsigned char *jpg, size_t jpg_len, struct task_result *res)
{
    unsigned char *back = NULL;
    size_t back_len = 0;
    long long at;
    int rc = jxl_to_jpeg(jxl, jxl_len, 0, &back, &back_len, res);

    if (rc < 0) {
        char why[sizeof(res->message)];

        snprintf(why, sizeof(why), "%s", res->message);
        /* libjxl cannot rebuild a JPEG from its own output (it happens:
         * an ICC profile split oddly over APP2 segments). */
        task_result_fail(res, ERR_VERIFY_FAILED, "the JPEG cannot be "
                         "rebuilt from the JPEG XL output (%s): nothing "
                         "written", why);
        return -1;
    }
    if (rc == 1) {
        task_result_fail(res, ERR_VERIFY_FAILED, "the JPEG XL output holds "
                         "no JPEG reconstruction data");
        return -1;
    }
    if (back_len > 0 && worker_fault_armed(t, "jxl-verify"))
        back[back_len / 2] ^= 0x01;
    at = first_difference(back, back_len, jpg, jpg_len);
    free(back);
    if (at >= 0) {
        task_result_fail(res, ERR_VERIFY_FAILED, "the JPEG rebuilt from the "
                         "JPEG XL output differs from the input at byte %lld "
                         "(%zu bytes rebuilt, %zu read): nothing written",
                         at, back_len, jpg_len);
        return -1;
    }
    return 0;
}

/* recompress -f jxl of a JPEG: transcode, verify, commit. */
static void
to_jxl(const struct run_config *c, const struct task *t,
       const struct input *in, struct task_result *res)
{
    const struct settings *s = &c->out[0];
    const char *why = in->have_ji ? jxl_jpeg_refusal(&in->ji) : NULL;
    unsigned char *src = NULL, *dst = NULL;
    size_t dst_len = 0;
    int w = -1, h = -1;

    if (in->have_ji)
        orient_upright_size(in->ji.orientation, in->ji.width, in->ji.height,
                            &w, &h);
    res->in_width = w;
    res->in_height = h;
    if (why) {
        task_result_fail(res, ERR_NOT_TRANSCODABLE, "cannot transcode to "
                         "JPEG XL losslessly: %s (write a lossy JPEG XL "
                         "from a PNG or TIFF copy instead)", why);
        return;
    }
    if (lossless_read_input(in, s->fail_on, &src, res) < 0 ||
        jxl_from_jpeg(src, (size_t)in->size, &dst, &dst_len, res) < 0 ||
        verify(t, dst, dst_len, src, (size_t)in->size, res) < 0 ||
        input_read_check(res) < 0)
        goto out;
    commit_bytes(&c->commit, t, dst, dst_len, w, h, "transcode", res);
out:
    free(src);
    free(dst);
}

/* recompress -f jpeg of a JPEG XL file: its stored JPEG, when it has one.
 * 1 handled, 0 no JPEG stored (nothing done). */
static int
from_jxl(const struct run_config *c, const struct task *t,
         const struct input *in, struct task_result *res)
{
    const struct settings *s = &c->out[0];
    unsigned char *src = NULL, *jpg = NULL;
    size_t jpg_len = 0;
    struct jpeg_info ji;
    int rc, w = -1, h = -1;

    if (lossless_read_input(in, s->fail_on, &src, res) < 0)
        return 1;
    rc = jxl_to_jpeg(src, (size_t)in->size, s->max_pixels, &jpg, &jpg_len,
                     res);
    free(src);
    if (rc == 1)
        return 0;
    if (rc == 0 && input_read_check(res) == 0) {
        if (sniff_jpeg_info(jpg, jpg_len, &ji) == 0)
            orient_upright_size(ji.orientation, ji.width, ji.height, &w, &h);
        commit_bytes(&c->commit, t, jpg, jpg_len, w, h, "reconstruct",
                     res);
    }
    free(jpg);
    return 1;
}

int
transcode_run(const struct run_config *c, const struct task *t,
              const struct input *in, struct task_result *res)
{
    const struct settings *s = &c->out[0];

    if (!keeps_source(c) || !t->out_rel)
        return 0;
    if (s->format == FORMAT_JXL && in->fmt == IMGF_JPEG) {
        res->status = TASK_FAILED;
        to_jxl(c, t, in, res);
        return 1;
    }
    if (s->format == FORMAT_JPEG && in->fmt == IMGF_JXL) {
        res->status = TASK_FAILED;
        return from_jxl(c, t, in, res);
    }
    return 0;
}
