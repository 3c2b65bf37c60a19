/*
 * img.c - one file in, one 8-bit sRGB JPEG or PNG out, inside a worker.
 *
 * This is the only module that includes vips.h.  The steps:
 *   1. open the input ourselves (O_NOFOLLOW, O_NONBLOCK, regular files only)
 *      so that errors carry errno and a FIFO or device is never read;
 *   2. sniff the first bytes: the format decides, not the name;
 *   3. read the declared dimensions from the header and refuse images over
 *      max_pixels before any pixel is decoded;
 *   4. decode from the descriptor (vips_thumbnail_source: shrink-on-load,
 *      EXIF autorotate, ICC import and export to sRGB, CMYK included);
 *   5. flatten alpha, convert to 3-band 8-bit sRGB;
 *   6. save into a temporary file created next to the target (O_EXCL,
 *      O_NOFOLLOW, relative to a directory descriptor reached without
 *      following symlinks), fsync, rename over the target.
 *
 * libvips warnings (damaged but decodable files) are captured through a GLib
 * log handler into the task result instead of being printed.
 */
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <vips/vips.h>

#include "fastjpeg.h"
#include "fastpng.h"
#include "geom.h"
#include "img.h"
#include "inplace.h"
#include "outfile.h"
#include "sniff.h"
#include "util.h"
#include "vipsmsg.h"

/* Bytes read up front: enough for the markers before a JPEG's SOF in
 * nearly all files (EXIF with a thumbnail, an ICC profile). */
#define HEAD_BYTES (256 * 1024)

/* The result being filled, for the log handler.  One task at a time per
 * worker process, so one pointer suffices. */
static struct task_result *current;

/*
 * Keep @text in the result's warnings: counted every time, stored once
 * (decoders repeat themselves per row or tile), and only whole, so the
 * buffer never ends in half a message.
 */
static void
append_warning(const char *text)
{
    char *w, *line;
    size_t used, len = strlen(text);

    if (!current)
        return;
    current->nwarnings++;
    w = current->warning;
    for (line = w; *line; ) {
        char *end = strchr(line, '\n');
        size_t n = end ? (size_t)(end - line) : strlen(line);
        if (n == len && memcmp(line, text, len) == 0)
            return;
        line += n + (end ? 1 : 0);
    }
    used = strlen(w);
    if (used + (used ? 1 : 0) + len + 1 > sizeof(current->warning))
        return;
    snprintf(w + used, sizeof(current->warning) - used, "%s%s",
             used ? "\n" : "", text);
}

static void
log_handler(const gchar *domain, GLogLevelFlags level, const gchar *message,
            gpointer data)
{
    (void)domain;
    (void)data;
    if (level & (G_LOG_LEVEL_DEBUG | G_LOG_LEVEL_INFO))
        return;
    append_warning(message);
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

static void
fail_errno(struct task_result *res, enum err_class c, const char *what,
           int err)
{
    task_result_fail(res, c, "%s: %s", what, strerror(err));
}

/* Open the input; 0 and *fd, or -1 with @res failed. */
static int
open_input(const struct task *t, struct task_result *res, int *fd)
{
    struct stat st;

    *fd = open(t->path, O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC);
    if (*fd < 0) {
        if (errno == ELOOP)
            task_result_fail(res, ERR_NOT_REGULAR, "symbolic link not followed");
        else
            fail_errno(res, ERR_READ, "cannot open", errno);
        return -1;
    }
    if (fstat(*fd, &st) < 0) {
        fail_errno(res, ERR_READ, "cannot stat", errno);
        close(*fd);
        return -1;
    }
    if (!S_ISREG(st.st_mode)) {
        task_result_fail(res, ERR_NOT_REGULAR, "not a regular file");
        close(*fd);
        return -1;
    }
    res->in_bytes = st.st_size;
    /* Regular files ignore O_NONBLOCK; clear it for libvips' sake. */
    fcntl(*fd, F_SETFL, fcntl(*fd, F_GETFL) & ~O_NONBLOCK);
    return 0;
}

static ssize_t
read_head(int fd, unsigned char *buf, size_t size)
{
    size_t got = 0;
    while (got < size) {
        ssize_t n = pread(fd, buf + got, size - got, (off_t)got);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        if (n == 0)
            break;
        got += (size_t)n;
    }
    return (ssize_t)got;
}

static int
save_image(const struct settings *s, VipsImage *img, VipsTarget *target,
           int source_subsample_420)
{
    if (s->format == FORMAT_PNG)
        return vips_pngsave_target(img, target, "compression", 6,
                                   "strip", s->strip, NULL);

    VipsForeignSubsample sub;
    switch (s->subsample) {
    case SUBSAMPLE_420:
        sub = VIPS_FOREIGN_SUBSAMPLE_ON;
        break;
    case SUBSAMPLE_444:
        sub = VIPS_FOREIGN_SUBSAMPLE_OFF;
        break;
    default:
        if (s->mode == MODE_THUMBNAIL || source_subsample_420)
            sub = VIPS_FOREIGN_SUBSAMPLE_ON;
        else
            sub = VIPS_FOREIGN_SUBSAMPLE_OFF;
        break;
    }
    return vips_jpegsave_target(img, target, "Q", s->quality,
                                "optimize_coding", TRUE,
                                "subsample_mode", sub,
                                "strip", s->strip, NULL);
}

/* Encode @img into a new file at @t->out_path (see outfile.h). */
static int
write_output(const struct settings *s, const struct task *t, VipsImage *img,
             int source_subsample_420, struct task_result *res)
{
    struct outfile of;
    VipsTarget *target;
    int rc;

    if (outfile_open(&of, s->output_dir, t->out_path, s->fsync,
                     res) < 0)
        return -1;
    target = vips_target_new_to_descriptor(of.fd);
    if (!target) {
        vipsmsg_fail(res, ERR_WRITE, "cannot write output");
        outfile_abort(&of);
        return -1;
    }
    rc = save_image(s, img, target, source_subsample_420);
    if (rc == 0)
        rc = vips_target_end(target);
    g_object_unref(target);
    if (rc != 0) {
        /* Pixels are decoded lazily, during the save: a damaged input
         * surfaces here too, and is a decode error, not a write error. */
        vipsmsg_fail(res, ERR_DECODE, "cannot decode or encode");
        outfile_abort(&of);
        return -1;
    }
    return outfile_commit(&of, res);
}

/*
 * Bring @in to 3-band 8-bit sRGB with alpha flattened, hanging
 * intermediates off @parent.  Returns the final image (borrowed), or NULL.
 */
static VipsImage *
to_srgb8(const struct settings *s, VipsObject *parent, VipsImage *in)
{
    VipsImage **t = (VipsImage **)vips_object_local_array(parent, 5);
    VipsImage *x = in;

    if (x->Type != VIPS_INTERPRETATION_sRGB ||
        x->BandFmt != VIPS_FORMAT_UCHAR) {
        if (vips_colourspace(x, &t[0], VIPS_INTERPRETATION_sRGB, NULL))
            return NULL;
        x = t[0];
    }
    if (vips_image_hasalpha(x)) {
        /* After vips_colourspace() to sRGB the image is 8-bit, so alpha
         * and the background are both on a 0..255 scale. */
        VipsArrayDouble *bg;
        double bgv[3];
        int rc;
        for (int i = 0; i < 3; i++)
            bgv[i] = s->background[i];
        bg = vips_array_double_new(bgv, 3);
        rc = vips_flatten(x, &t[1], "background", bg, NULL);
        vips_area_unref(VIPS_AREA(bg));
        if (rc)
            return NULL;
        x = t[1];
    }
    if (x->Bands > 3) {
        if (vips_extract_band(x, &t[2], 0, "n", 3, NULL))
            return NULL;
        x = t[2];
    }
    if (x->BandFmt != VIPS_FORMAT_UCHAR) {
        if (vips_cast_uchar(x, &t[3], NULL))
            return NULL;
        x = t[3];
    }
    return x;
}

static int
too_large(const struct settings *s, int w, int h, struct task_result *res)
{
    if (s->max_pixels > 0 && (int64_t)w * h > s->max_pixels) {
        task_result_fail(res, ERR_TOO_LARGE, "image declares %dx%d = %lld pixels, over "
             "the limit of %lld (--max-pixels)", w, h,
             (long long)w * h, (long long)s->max_pixels);
        return 1;
    }
    return 0;
}

/* Formats libvips reads with loaders that stay allowed for untrusted
 * input: when none accepts such a file, the file is at fault. */
static int
has_trusted_loader(enum img_format fmt)
{
    return fmt == IMGF_JPEG || fmt == IMGF_PNG || fmt == IMGF_GIF ||
           fmt == IMGF_WEBP || fmt == IMGF_TIFF || fmt == IMGF_HEIF;
}

/* Read all @size bytes of @fd into a new buffer.  0, or -1. */
static int
read_whole(int fd, int64_t size, void **bufp, size_t *lenp)
{
    size_t got = 0;
    char *buf;

    if (size <= 0 || size > (int64_t)1 << 30)
        return -1;
    buf = malloc((size_t)size);
    if (!buf)
        return -1;
    while (got < (size_t)size) {
        ssize_t n = pread(fd, buf + got, (size_t)size - got, (off_t)got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    if (got == 0) {
        free(buf);
        return -1;
    }
    *bufp = buf;
    *lenp = got;
    return 0;
}

/* vips_thumbnail from the source, or from memory when @buf is set. */
static int
thumbnail(VipsSource *source, void *buf, size_t buflen, VipsImage **out,
          int w, int h, VipsSize size, VipsInteresting crop,
          const char *export, const char *load_opts)
{
    if (buf)
        return vips_thumbnail_buffer(buf, buflen, out, w, "height", h,
                                     "size", size, "crop", crop,
                                     "export_profile", export,
                                     "option_string", load_opts, NULL);
    return vips_thumbnail_source(source, out, w, "height", h, "size", size,
                                 "crop", crop, "export_profile", export,
                                 "option_string", load_opts, NULL);
}

/* The general path: libvips does everything. */
static void
process_vips(const struct settings *s, const struct task *t, int fd,
             enum img_format fmt, const struct jpeg_info *ji,
             struct task_result *res)
{
    VipsObject *ctx = VIPS_OBJECT(vips_image_new());
    VipsImage **im = (VipsImage **)vips_object_local_array(ctx, 4);
    VipsSource *source = vips_source_new_from_descriptor(fd);
    const char *loader;
    void *buf = NULL;   /* whole file, for loaders without source support */
    size_t buflen = 0;
    VipsImage *out;
    int iw, ih, ow, oh, tagged;
    char load_opts[32];
    VipsSize size;
    VipsInteresting crop;
    const char *export;
    int rc;

    if (!source) {
        vipsmsg_fail(res, ERR_READ, "cannot read");
        goto out;
    }
    loader = vips_foreign_find_load_source(source);
    if (!loader && s->allow_untrusted &&
        read_whole(fd, res->in_bytes, &buf, &buflen) == 0) {
        /* ImageMagick-backed loaders (BMP, PSD, ...) exist in libvips 8.14
         * only for files and memory; memory keeps the file name out of it
         * (ImageMagick, like libvips, reads options from names). */
        loader = vips_foreign_find_load_buffer(buf, buflen);
    }
    if (!loader) {
        vips_error_clear();
        if (has_trusted_loader(fmt))
            task_result_fail(res, ERR_DECODE, "not a readable %s file: "
                             "no loader accepts its header",
                             img_format_str(fmt));
        else if (fmt == IMGF_OTHER_IMAGE || fmt == IMGF_UNKNOWN ||
                 s->allow_untrusted)
            task_result_fail(res, ERR_UNSUPPORTED, "%s images are not "
                             "supported by this build of libvips",
                             img_format_str(fmt));
        else
            task_result_fail(res, ERR_UNTRUSTED, "%s images need a libvips "
                             "loader that is blocked as untrusted; "
                             "--allow-untrusted lifts the block",
                             img_format_str(fmt));
        goto out;
    }

    /* Upright dimensions, from our own parse (JPEG) or a header-only load. */
    if (fmt == IMGF_JPEG && ji && !buf) {
        iw = ji->width;
        ih = ji->height;
        tagged = ji->has_icc || ji->components == 4;
        if (ji->orientation >= 5) {
            iw = ji->height;
            ih = ji->width;
        }
    } else {
        im[0] = buf ? vips_image_new_from_buffer(buf, buflen, "", "access",
                                                 VIPS_ACCESS_SEQUENTIAL, NULL)
                    : vips_image_new_from_source(source, "", "access",
                                                 VIPS_ACCESS_SEQUENTIAL,
                                                 NULL);
        if (!im[0]) {
            vipsmsg_fail(res, ERR_DECODE, "cannot read image header");
            goto out;
        }
        iw = im[0]->Xsize;
        ih = im[0]->Ysize;
        tagged = vips_image_get_typeof(im[0], VIPS_META_ICC_NAME) != 0 ||
                 im[0]->Type == VIPS_INTERPRETATION_CMYK;
        if (too_large(s, iw, ih, res))
            goto out;
        if (vips_image_get_orientation_swap(im[0])) {
            iw = im[0]->Ysize;
            ih = im[0]->Xsize;
        }
        VIPS_UNREF(im[0]);
        if (!buf && vips_source_rewind(source)) {
            vipsmsg_fail(res, ERR_READ, "cannot rewind input");
            goto out;
        }
    }
    res->in_width = iw;
    res->in_height = ih;
    geom_fit(s, iw, ih, &ow, &oh);

    /*
     * Colour: an image with an embedded profile (or CMYK) is transformed to
     * sRGB; an untagged one is sRGB by convention and is left alone, since
     * an sRGB -> sRGB round trip through lcms shifts saturated colours.
     * fail_on goes through option_string: libvips 8.14's thumbnail_source
     * does not pass its own fail_on argument on to the loader.
     */
    snprintf(load_opts, sizeof(load_opts), "fail_on=%s",
             fail_on_str(s->fail_on));
    size = s->fit == FIT_COVER ? VIPS_SIZE_BOTH : VIPS_SIZE_FORCE;
    crop = s->fit == FIT_COVER ? VIPS_INTERESTING_CENTRE
                               : VIPS_INTERESTING_NONE;
    export = tagged ? "srgb" : NULL;
    rc = thumbnail(source, buf, buflen, &im[1], ow, oh, size, crop, export,
                   load_opts);
    if (rc && export && strstr(vips_error_buffer(), "VipsIcc") &&
        (buf || vips_source_rewind(source) == 0)) {
        /* An embedded profile lcms cannot read: treat the image as the
         * untagged sRGB it most likely is, and say so. */
        vips_error_clear();
        append_warning("embedded ICC profile is unreadable; treated as "
                       "sRGB");
        rc = thumbnail(source, buf, buflen, &im[1], ow, oh, size, crop, NULL,
                       load_opts);
    }
    if (rc) {
        vipsmsg_fail(res, ERR_DECODE, "cannot decode");
        goto out;
    }
    out = to_srgb8(s, ctx, im[1]);
    if (!out) {
        vipsmsg_fail(res, ERR_DECODE, "cannot convert to sRGB");
        goto out;
    }
    /* Metadata is copied; the orientation is now baked into the pixels. */
    if (!s->strip) {
        if (vips_copy(out, &im[2], NULL)) {
            vipsmsg_fail(res, ERR_DECODE, "cannot copy image");
            goto out;
        }
        out = im[2];
        vips_image_remove(out, VIPS_META_ORIENTATION);
    }
    if (write_output(s, t, out, ji && ji->components == 3 &&
                     ji->h_samp[0] * ji->v_samp[0] > 1 &&
                     ji->h_samp[1] == 1 && ji->v_samp[1] == 1, res) < 0)
        goto out;
    res->out_width = out->Xsize;
    res->out_height = out->Ysize;
    res->status = TASK_OK;
out:
    if (source)
        g_object_unref(source);
    g_object_unref(ctx);
    free(buf);
}

void
img_process(const struct settings *s, const struct task *t,
            struct task_result *res)
{
    static unsigned char head[HEAD_BYTES];
    struct jpeg_info ji;
    int have_ji = 0;
    int64_t t0 = util_now_us();
    enum img_format fmt;
    ssize_t n;
    int fd, w, h;

    res->status = TASK_FAILED;
    res->in_width = res->in_height = res->out_width = res->out_height = -1;
    res->out_bytes = -1;
    current = res;

    if (!t->out_path) {
        task_result_fail(res, ERR_INTERNAL, "no output path planned");
        goto done;
    }
    if (open_input(t, res, &fd) < 0)
        goto done;
    n = read_head(fd, head, sizeof(head));
    if (n < 0) {
        fail_errno(res, ERR_READ, "cannot read", errno);
        close(fd);
        goto done;
    }
    if (n == 0) {
        task_result_fail(res, ERR_NOT_AN_IMAGE, "empty file");
        close(fd);
        goto done;
    }
    fmt = sniff_format(head, (size_t)n);
    if (fmt == IMGF_UNKNOWN) {
        task_result_fail(res, ERR_NOT_AN_IMAGE, "not an image: no known image signature "
             "in the first bytes");
        close(fd);
        goto done;
    }
    if (fmt == IMGF_JPEG && sniff_jpeg_info(head, (size_t)n, &ji) == 0) {
        have_ji = 1;
        if (too_large(s, ji.width, ji.height, res)) {
            close(fd);
            goto done;
        }
    } else if (fmt == IMGF_PNG) {
        if (sniff_png_size(head, (size_t)n, &w, &h) < 0) {
            task_result_fail(res, ERR_DECODE, "PNG header is malformed");
            close(fd);
            goto done;
        }
        if (too_large(s, w, h, res)) {
            close(fd);
            goto done;
        }
    } else if (fmt == IMGF_GIF &&
               sniff_gif_size(head, (size_t)n, &w, &h) == 0 &&
               too_large(s, w, h, res)) {
        close(fd);
        goto done;
    }

    if (s->in_place) {
        inplace_process(s, t, fd, fmt, have_ji ? &ji : NULL, res);
        close(fd);
        goto done;
    }
    if (have_ji && s->fast_jpeg && fastjpeg_eligible(s, &ji)) {
        fastjpeg_process(s, t, fd, &ji, res);
        close(fd);
        goto done;
    }
    if (fmt == IMGF_PNG && s->fast_jpeg &&
        fastpng_eligible(s, head, (size_t)n)) {
        fastpng_process(s, t, fd, res);
        close(fd);
        goto done;
    }
    process_vips(s, t, fd, fmt, have_ji ? &ji : NULL, res);
    close(fd);
done:
    if (res->status == TASK_OK) {
        res->err_class = ERR_NONE;
        res->message[0] = '\0';
    }
    res->usec = util_now_us() - t0;
    current = NULL;
}
