/*
 * inplace.c - replace a JPEG by its recompressed self, or leave it alone.
 *
 * The same stages as every output (decode with libvips at full size,
 * colour, encode: see img.h), with a commit of its own.  The original is
 * the only copy of someone's photo, so every step that can fail comes
 * before the one step that changes anything, the rename: the new JPEG is
 * encoded in memory, checked (a JPEG, same dimensions, small enough), the
 * input is checked to be unchanged since it was opened, the backup is
 * made, and only then is a temporary file written beside the original
 * (in the directory descriptor it was opened from), given its owner, mode
 * and times, fsync'ed and swapped in while the name still holds the file
 * that was read (outfile_commit_replace).  See
 * inplace.h for the decisions and their classes.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <vips/vips.h>

#include "colour.h"
#include "decode.h"
#include "encode.h"
#include "exifcopy.h"
#include "fault.h"
#include "inplace.h"
#include "loaderr.h"
#include "lookq.h"
#include "lossless.h"
#include "xmpext.h"
#include "orient.h"
#include "mpf.h"
#include "outfile.h"
#include "tail.h"
#include "vipsmsg.h"

/*
 * Decode, colour and encode into @out (memory).  0, or -1 with @res
 * failed.
 */
static int
recompress(const struct settings *s, const struct input *in,
           struct encode_out *out, struct task_result *res)
{
    struct encode_params p;
    struct decoded d;
    VipsImage *img;
    int rc = -1;

    decoded_init(&d);
    if (decode_vips(s, in, DECODE_FULL, &d, res) < 0)
        goto out;
    img = colour_vips_keep_res(s, d.ctx, d.image, res);
    if (!img) {
        vipsmsg_fail(res, ERR_DECODE, "cannot convert to sRGB");
        goto out;
    }
    encode_params_init(&p, s, &d);
    /* Decoding happens here, lazily: a damaged original fails now, also
     * on damage libjpeg only warns about (loaderr.h). */
    rc = s->target_distance > 0
             ? lookq_encode_in_place(s, in, &p, d.ctx, img, out, res)
             : encode_vips(&p, d.ctx, img, out, res);
    rc = loaderr_fail_damaged(s, res, vips_error_buffer(), rc);
out:
    decoded_release(&d);
    return rc;
}

/* Give the temporary file the original's owner, mode and times. */
static int
copy_attributes(const struct commit_settings *c, int fd,
                const struct stat *st, struct task_result *res)
{
    if (fchown(fd, st->st_uid, st->st_gid) < 0 && errno != EPERM) {
        task_result_fail(res, ERR_WRITE, "cannot set owner: %s",
                         strerror(errno));
        return -1;
    }
    /* After fchown, which may clear set-id bits. */
    if (fchmod(fd, st->st_mode & 07777) < 0) {
        task_result_fail(res, ERR_WRITE, "cannot set mode: %s",
                         strerror(errno));
        return -1;
    }
    if (c->preserve_times) {
        struct timespec ts[2] = { st->st_atim, st->st_mtim };
        if (futimens(fd, ts) < 0) {
            task_result_fail(res, ERR_WRITE, "cannot set times: %s",
                             strerror(errno));
            return -1;
        }
    }
    return 0;
}

/*
 * The commit of in-place recompression: the backup, then the new bytes in
 * the directory the original was opened from (in->dirfd: no path is
 * resolved again, so a directory swapped for a symlink since cannot send
 * the write elsewhere), with its attributes, swapped in only while the
 * name still holds the original (outfile_commit_replace).  0, or -1 with
 * @res failed or skipped (input-changed).
 */
static int
commit_inplace(const struct commit_settings *c, const struct task *t,
               const struct input *in, const struct stat *before,
               const struct encode_out *enc, struct task_result *res)
{
    struct outfile of;

    /* The new bytes came from a complete, error-free read, or nothing
     * is touched (input.h). */
    if (input_read_check(res) < 0)
        return -1;
    if (c->backup_dir &&
        outfile_backup(c->backup_dir, t->rel ? t->rel : in->name, in->dirfd,
                       in->name, in->fd, res) < 0)
        return -1;
    worker_fault_point(t, "commit");
    if (input_recheck(t, in, res) < 0 ||
        outfile_open_at(&of, in->dirfd, in->name, res) < 0)
        return -1;
    if (outfile_write(&of, enc->buf, enc->len, res) < 0 ||
        copy_attributes(c, of.fd, before, res) < 0) {
        outfile_abort(&of);
        return -1;
    }
    return outfile_commit_replace(&of, before, res);
}

/* The reasons to leave the original alone before decoding it: 1 with
 * @res skipped or failed, else 0. */
static int
leave_alone_early(const struct settings *s, const struct input *in,
                  struct stat *before, struct task_result *res)
{
    struct stat lst;
    int q;

    if (in->fmt != IMGF_JPEG) {
        task_result_skip(res, ERR_NOT_JPEG, "left alone: in-place "
                         "recompression only rewrites JPEG files (%s)",
                         img_format_str(in->fmt));
        return 1;
    }
    /* An MPF index in the first bytes: said before any other reason, at
     * no cost (the walk of tail.h finds one anywhere). */
    if (mpf_image_count(in->head, in->head_len) != 0 &&
        mpf_image_count(in->head, in->head_len) != 1) {
        task_result_skip(res, ERR_MULTI_PICTURE, "left alone: the file holds "
                         "further MPF images (an HDR gain map or a preview) "
                         "that re-encoding would drop");
        return 1;
    }
    if (fstat(in->fd, before) < 0) {
        task_result_fail(res, ERR_READ, "cannot stat: %s", strerror(errno));
        return 1;
    }
    /* Reached through a link (an INPUT named as one, or --follow-
     * symlinks): the commit would replace the link, not the file. */
    if (fstatat(in->dirfd, in->name, &lst, AT_SYMLINK_NOFOLLOW) == 0 &&
        S_ISLNK(lst.st_mode)) {
        task_result_skip(res, ERR_SYMLINK, "left alone: a symbolic link "
                         "is not replaced in place (name its target)");
        return 1;
    }
    if (in->have_ji)    /* upright, as every record reports dimensions */
        orient_upright_size(in->ji.orientation, in->ji.width, in->ji.height,
                            &res->in_width, &res->in_height);
    q = in->have_ji ? sniff_jpeg_quality(&in->ji) : -1;
    if (s->target_distance > 0 && !s->lossless) {
        if (lookq_marked(s, in, res))
            return 1;
    } else if (!s->force && !s->lossless && q > 0 && q <= s->quality) {
        task_result_skip(res, ERR_ALREADY_COMPRESSED, "estimated quality %d "
                         "is at or below the target %d (--force re-encodes "
                         "anyway)", q, s->quality);
        return 1;
    }
    /* Anything beyond the primary image (tail.h) would be lost.  After
     * the quality check, which needs no more than the header: a second
     * run over a library reads no file whole. */
    if (tail_jpeg_keep_whole(in, res) != 0)
        return 1;
    return 0;
}

/* The reasons to leave it alone once the new bytes are known: 1 with
 * @res skipped or failed, else 0. */
static int
leave_alone_late(const struct commit_settings *c, const struct input *in,
                 const struct stat *before, const struct encode_out *enc,
                 struct task_result *res)
{
    const struct jpeg_info *ji = in->have_ji ? &in->ji : NULL;
    struct jpeg_info out_info;
    struct stat after;
    size_t len = enc->len;

    /* The new file must be a JPEG of the same size before it may count. */
    if (sniff_jpeg_info(enc->buf, len, &out_info) < 0 ||
        (ji && (out_info.width != ji->width ||
                out_info.height != ji->height))) {
        task_result_fail(res, ERR_INTERNAL, "re-encoded image does not "
                         "match the original's dimensions; left alone");
        return 1;
    }
    /* Pixels and tag are kept, so the upright size is the input's. */
    res->out_width = res->in_width > 0 ? res->in_width : out_info.width;
    res->out_height = res->in_height > 0 ? res->in_height : out_info.height;
    res->out_bytes = (int64_t)len;
    if ((double)len > (double)before->st_size * (1.0 - c->min_saving / 100)) {
        task_result_skip(res, ERR_NO_GAIN, "re-encoded size %zu is not %g%% "
                         "smaller than %lld (--min-saving)", len,
                         c->min_saving, (long long)before->st_size);
        return 1;
    }
    if (c->dry_run) {
        task_result_skip(res, ERR_DRY_RUN, "would save %lld bytes (%.1f%%)",
                         (long long)before->st_size - (long long)len,
                         100.0 * (1.0 - (double)len /
                                  (double)before->st_size));
        return 1;
    }
    if (fstat(in->fd, &after) < 0 || after.st_size != before->st_size ||
        after.st_mtim.tv_sec != before->st_mtim.tv_sec ||
        after.st_mtim.tv_nsec != before->st_mtim.tv_nsec) {
        task_result_skip(res, ERR_INPUT_CHANGED, "the file changed while it "
                         "was being recompressed; left alone");
        return 1;
    }
    return 0;
}

/*
 * Edit the encoded bytes in @enc through @edit (a copy of them in
 * malloc'ed memory, which the editor may grow; xmpext_insert_mem() and
 * exifcopy_apply_mem() are such editors).  On success the copy replaces
 * the encoder's bytes.  0, or -1 with @res failed (@what names the
 * metadata when memory runs out).
 */
static int
edit_encoded(struct encode_out *enc, const char *what,
             int (*edit)(const void *x, unsigned char **buf, size_t *len,
                         struct task_result *res),
             const void *x, struct task_result *res)
{
    unsigned char *buf = malloc(enc->len);
    size_t len = enc->len;

    if (!buf) {
        task_result_fail(res, ERR_OUT_OF_MEMORY, "cannot keep the %s", what);
        return -1;
    }
    memcpy(buf, enc->buf, len);
    if (edit(x, &buf, &len, res) < 0) {
        free(buf);
        return -1;
    }
    encode_out_release(enc);
    enc->buf = buf;
    enc->len = len;
    enc->buf_glib = 0;
    return 0;
}

static int
xmpext_edit(const void *x, unsigned char **buf, size_t *len,
            struct task_result *res)
{
    return xmpext_insert_mem(x, buf, len, res);
}

static int
exifcopy_edit(const void *x, unsigned char **buf, size_t *len,
              struct task_result *res)
{
    return exifcopy_apply_mem(x, buf, len, res);
}

/* The original's extended XMP segments into the new bytes (xmpext.h).
 * 0, or -1 with @res failed. */
static int
carry_extended_xmp(const struct settings *s, const struct input *in,
                   struct encode_out *enc, struct task_result *res)
{
    struct xmpext x;
    int rc;

    xmpext_from_jpeg(s, in, &x);
    if (!x.len)
        return 0;
    rc = edit_encoded(enc, "extended XMP", xmpext_edit, &x, res);
    xmpext_release(&x);
    return rc;
}

/*
 * The lossless rewrite (lossless.h) of the original into @enc (memory),
 * every metadata segment in it already: progressive unless --baseline
 * with --lossless; as a lossy run's pass, in the original's scan mode, as
 * a re-encode keeps it (so that a file this run re-encoded, optimised
 * already, has nothing to gain from it in the next run).  It must save at
 * least a byte
 * (a second run over its own output finds nothing to gain, whatever
 * --min-saving says).  0, or -1 with @res failed or skipped (no-gain).
 */
static int
rewrite_lossless(const struct settings *s, const struct input *in,
                 const struct stat *before, struct encode_out *enc,
                 struct task_result *res)
{
    unsigned char *src, *dst;
    size_t len;
    int rc, progressive;

    if (lossless_read_input(in, s->fail_on, &src, res) < 0)
        return -1;
    progressive = !s->baseline &&
                  (s->lossless || (in->have_ji && in->ji.progressive));
    rc = lossless_jpeg(src, (size_t)in->size, progressive, s->fail_on, &dst,
                       &len, res);
    free(src);
    if (rc < 0)
        return -1;
    enc->buf = dst;
    enc->len = len;
    enc->buf_glib = 0;
    snprintf(res->mode, sizeof(res->mode), "lossless");
    if ((int64_t)len >= (int64_t)before->st_size) {
        task_result_skip(res, ERR_NO_GAIN, "rewritten losslessly, %zu bytes "
                         "are not smaller than %lld", len,
                         (long long)before->st_size);
        return -1;
    }
    return 0;
}

/* A lossy run's original skipped as already compressed: the lossless
 * pass may still shrink it.  1 when it should be tried. */
static int
lossless_instead(const struct settings *s, const struct task_result *res)
{
    return !s->lossless && !s->strip_gps && !s->to_srgb &&
           res->status == TASK_SKIPPED &&
           res->err_class == ERR_ALREADY_COMPRESSED;
}

/* The lossless pass of a lossy run ended without a commit: the reasons
 * it found nothing to do (no gain, a file libjpeg cannot rewrite or warns
 * about) leave the original's already-compressed skip as it was. */
static void
lossless_restore(const struct task_result *skip, struct task_result *res)
{
    if (res->status == TASK_OK || (res->status == TASK_SKIPPED &&
                                   res->err_class != ERR_NO_GAIN))
        return;
    if (res->status == TASK_FAILED && res->err_class != ERR_DECODE &&
        res->err_class != ERR_UNSUPPORTED &&
        res->err_class != ERR_TOO_COMPLEX &&
        res->err_class != ERR_TRUNCATED)
        return;
    res->status = skip->status;
    res->err_class = skip->err_class;
    memcpy(res->message, skip->message, sizeof(res->message));
    res->out_bytes = skip->out_bytes;
    res->mode[0] = '\0';
}

/* The original's EXIF segment, byte for byte, in place of the one the
 * encoder rebuilt (exifcopy.h).  0, or -1 with @res failed. */
static int
carry_exif(const struct settings *s, const struct input *in,
           struct encode_out *enc, struct task_result *res)
{
    struct encode_params p;
    struct decoded d;
    struct exifcopy x;
    int rc;

    decoded_init(&d);
    encode_params_init(&p, s, &d);
    decoded_release(&d);
    exifcopy_from_jpeg(s, in, &p, &x);
    if (!x.len)
        return 0;
    rc = edit_encoded(enc, "EXIF", exifcopy_edit, &x, res);
    exifcopy_release(&x);
    return rc;
}

void
inplace_process(const struct settings *s, const struct commit_settings *c,
                const struct task *t, const struct input *in,
                struct task_result *res)
{
    struct task_result *skip = NULL;
    struct encode_out enc;
    struct stat before;
    int rc;

    if (leave_alone_early(s, in, &before, res)) {
        if (!lossless_instead(s, res))
            return;
        skip = malloc(sizeof(*skip));
        if (!skip)
            return;         /* the skip stands */
        memcpy(skip, res, sizeof(*skip));
    }
    encode_out_init(&enc, NULL);
    if (s->lossless || skip)
        rc = rewrite_lossless(s, in, &before, &enc, res);
    else
        rc = recompress(s, in, &enc, res) < 0 ||
                     carry_exif(s, in, &enc, res) < 0
                 ? -1
                 : carry_extended_xmp(s, in, &enc, res);
    if (rc == 0 && !s->lossless && !skip && s->target_distance > 0)
        rc = lookq_mark(&enc, s->target_distance, res);
    if (rc == 0 && !leave_alone_late(c, in, &before, &enc, res) &&
        commit_inplace(c, t, in, &before, &enc, res) == 0)
        res->status = TASK_OK;
    if (skip) {
        lossless_restore(skip, res);
        free(skip);
    }
    encode_out_release(&enc);
}
