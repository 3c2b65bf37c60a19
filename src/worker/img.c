/*
 * img.c - one file in, one 8-bit sRGB JPEG or PNG out, inside a worker:
 * the stages of img.h run in order.
 *
 * Two shapes of the same order, depending on the decoder:
 *   direct (JPEG, PNG): decode rows -> colour (alpha, CMYK) -> resize,
 *     in one streaming pass into a small buffer of output size, then
 *     colour (ICC profile to sRGB) on those few pixels; then the encoder
 *     reads it upright (orient.h) and in RGB (colour.h) row by row, with
 *     no further copy;
 *   libvips: a lazy image (decode shrinks on load, colour converts), which
 *     the encoder pulls strip by strip straight into the output file.
 * Both end in the same commit.  libvips warnings (damaged but decodable
 * files) are captured through a GLib log handler into the task result
 * instead of being printed.
 */
#include <malloc.h>
#include <stdlib.h>
#include <string.h>

#include <vips/vips.h>

#include "colour.h"
#include "decode.h"
#include "encode.h"
#include "fdthumb.h"
#include "img.h"
#include "inplace.h"
#include "meta.h"
#include "orient.h"
#include "outfile.h"
#include "resize.h"
#include "util.h"
#include "vipsmsg.h"
#include "xmpext.h"
#include "warn.h"

/* The result being filled, for the log handler.  One task at a time per
 * worker process, so one pointer suffices. */
static struct task_result *current;

static void
log_handler(const gchar *domain, GLogLevelFlags level, const gchar *message,
            gpointer data)
{
    (void)domain;
    (void)data;
    if (level & (G_LOG_LEVEL_DEBUG | G_LOG_LEVEL_INFO))
        return;
    if (current)
        warn_append(current, message);
}

int
img_worker_init(const struct settings *s)
{
    if (VIPS_INIT("imgpool"))
        return -1;
    /* A worker decodes file after file with buffers of similar sizes:
     * keep freed memory in the heap instead of returning it to the
     * kernel after each file (fewer page faults per file).  The memory
     * cap (RLIMIT_DATA) still bounds what the heap may hold. */
    mallopt(M_MMAP_THRESHOLD, 32 * 1024 * 1024);
    mallopt(M_TRIM_THRESHOLD, 64 * 1024 * 1024);
    /* Parallelism is across processes; one libvips thread per worker. */
    vips_concurrency_set(1);
    /* Files are never revisited: the operation cache only costs memory. */
    vips_cache_set_max(0);
    vips_cache_set_max_mem(0);
    if (!s->allow_untrusted)
        vips_block_untrusted_set(TRUE);
    g_log_set_default_handler(log_handler, NULL);
    g_log_set_handler("VIPS", G_LOG_LEVEL_MASK | G_LOG_FLAG_FATAL, log_handler,
                      NULL);
    return 0;
}

void
img_worker_fini(void)
{
    vips_shutdown();
}

/* Encode @rows (or else @img) into a new file at t->out_rel, atomically;
 * @xmp, when not NULL, goes into the encoded JPEG before the commit. */
static int
write_output(const struct settings *s, const struct task *t,
             const struct encode_params *p, const struct encode_rows *rows,
             VipsObject *parent, VipsImage *img, const struct xmpext *xmp,
             struct task_result *res)
{
    struct outfile of;
    struct encode_out out;
    int rc;

    if (outfile_open(&of, s->output_dir, t->out_rel, s->fsync, res) < 0)
        return -1;
    encode_out_init(&out, &of);
    rc = rows ? encode_rows(p, rows, &out, res)
              : encode_vips(p, parent, img, &out, res);
    encode_out_release(&out);
    if (rc == 0 && xmp)
        rc = xmpext_insert_file(xmp, of.dirfd, of.tmp, res);
    if (rc < 0) {
        outfile_abort(&of);
        return -1;
    }
    return outfile_commit(&of, res);
}

/* The direct decoders' pixels, upright and in RGB, for encode_rows(). */
struct upright {
    struct orient_view view;
    unsigned char *grey;        /* one upright grey row */
};

static const unsigned char *
upright_row(void *arg, int y, unsigned char *buf)
{
    struct upright *u = arg;
    const unsigned char *row;

    row = orient_view_row(&u->view, y, u->view.bands == 1 ? u->grey : buf);
    return colour_rgb_row(row, u->view.bands, u->view.width, buf);
}

/* decode rows -> colour -> resize into d->px.  0, or -1 with @res failed. */
static int
decode_resized(const struct settings *s, const struct input *in,
               enum decoder_kind kind, struct decoded *d, struct task_result *res)
{
    struct decoder *dec = decode_open(kind, s, in, d, res);
    struct resample_span x, y;
    struct colour c;
    struct resize rz;
    int rc = -1;

    if (!dec)
        return -1;
    res->in_width = d->width;
    res->in_height = d->height;
    resize_plan(s, d->width, d->height, d->orientation, &x, &y);
    decode_scale(dec, &x, &y);
    memset(&rz, 0, sizeof(rz));
    if (colour_begin_decoded(&c, s, d, x.in, res) < 0 ||
        resize_begin(&rz, c.out_bands, &x, &y, &d->px) < 0)
        task_result_fail(res, ERR_OUT_OF_MEMORY, "cannot allocate %dx%d "
                         "image", x.out, y.out);
    else
        rc = decode_rows(dec, &c, &rz, res);
    resize_end(&rz);
    /* ICC to sRGB on the resized pixels only (colour.h). */
    if (rc == 0)
        rc = colour_after_resize(&c, &d->px, res);
    colour_end(&c);
    /* The decoder is done with: its memory goes before the encode. */
    decode_close(dec);
    return rc;
}

static int
run_direct(const struct settings *s, const struct task *t,
           const struct input *in, enum decoder_kind kind, struct decoded *d,
           struct task_result *res)
{
    struct encode_params p;
    struct encode_rows rows;
    struct upright u;
    int rc;

    if (decode_resized(s, in, kind, d, res) < 0)
        return -1;
    orient_view_init(&u.view, &d->px, d->orientation);
    u.grey = malloc((size_t)u.view.width);
    if (!u.grey) {
        task_result_fail(res, ERR_OUT_OF_MEMORY, "cannot allocate encoder");
        return -1;
    }
    rows.width = u.view.width;
    rows.height = u.view.height;
    rows.row = upright_row;
    rows.arg = &u;
    encode_params_init(&p, s, d);
    rc = write_output(s, t, &p, &rows, NULL, NULL, NULL, res);
    free(u.grey);
    if (rc < 0)
        return -1;
    res->out_width = rows.width;
    res->out_height = rows.height;
    return 0;
}

static int
run_vips(const struct settings *s, const struct task *t,
         const struct input *in, struct decoded *d, struct task_result *res)
{
    struct encode_params p;
    struct xmpext xmp;
    VipsImage *img;
    int rc;

    if (decode_vips(s, in, DECODE_FIT, d, res) < 0)
        return -1;
    res->in_width = d->width;
    res->in_height = d->height;
    img = colour_vips_srgb8(s, d->ctx, d->image);
    if (!img) {
        vipsmsg_fail(res, ERR_DECODE, "cannot convert to sRGB");
        return -1;
    }
    if (!s->strip)
        meta_complete(s, in, img, res);
    xmpext_from_image(s, img, &xmp);
    if (!xmp.len)
        xmpext_from_jpeg(s, in, &xmp);
    encode_params_init(&p, s, d);
    rc = write_output(s, t, &p, NULL, d->ctx, img, &xmp, res);
    xmpext_release(&xmp);
    if (rc < 0)
        return -1;
    res->out_width = img->Xsize;
    res->out_height = img->Ysize;
    return 0;
}

void
img_run(const struct settings *s, const struct task *t,
        const struct input *in, enum decoder_kind dec, struct task_result *res)
{
    struct decoded d;
    int rc;

    res->status = TASK_FAILED;
    if (!t->out_rel) {
        task_result_fail(res, ERR_INTERNAL, "no output path planned");
        return;
    }
    decoded_init(&d);
    if (dec == DECODER_VIPS)
        rc = run_vips(s, t, in, &d, res);
    else
        rc = run_direct(s, t, in, dec, &d, res);
    decoded_release(&d);
    if (rc == 0)
        res->status = TASK_OK;
}

void
img_process(const struct settings *s, const struct task *t,
            struct task_result *res)
{
    int64_t t0 = util_now_us();
    struct input in;

    res->status = TASK_FAILED;
    res->in_width = res->in_height = res->out_width = res->out_height = -1;
    res->out_bytes = -1;
    res->decoded_rows = -1;     /* until a decoder can tell */
    current = res;

    if (!s->in_place && !s->fd_flavors && !t->out_rel)
        task_result_fail(res, ERR_INTERNAL, "no output path planned");
    else if (input_open(s, t, &in, res) == 0) {
        if (s->in_place)
            inplace_process(s, t, &in, res);
        else if (s->fd_flavors)
            fdthumb_process(s, t, &in, res);
        else
            img_run(s, t, &in, decode_choose(s, &in), res);
        input_close(&in);
    }
    if (res->status == TASK_OK) {
        res->err_class = ERR_NONE;
        res->message[0] = '\0';
    }
    res->usec = util_now_us() - t0;
    current = NULL;
}
