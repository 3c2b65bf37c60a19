/*
 * inplace.c - replace a JPEG by its recompressed self, or leave it alone.
 *
 * The original is the only copy of someone's photo, so every step that can
 * fail comes before the one step that changes anything, the rename: the
 * new JPEG is encoded in memory, checked (a JPEG, same dimensions, small
 * enough), the input is checked to be unchanged since it was opened, the
 * backup is made, and only then is a temporary file written beside the
 * original, given its owner, mode and times, fsync'ed and renamed over it.
 * See inplace.h for the decisions and their classes.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <vips/vips.h>

#include "inplace.h"
#include "outfile.h"
#include "vipsmsg.h"

static void *
drop_gps(VipsImage *im, const char *name, GValue *value, void *data)
{
    (void)value;
    (void)data;
    if (strncmp(name, "exif-ifd3-", 10) == 0)
        vips_image_remove(im, name);
    return NULL;
}

static VipsFailOn
fail_on(enum fail_on f)
{
    return f == FAIL_NONE ? VIPS_FAIL_ON_NONE
         : f == FAIL_TRUNCATED ? VIPS_FAIL_ON_TRUNCATED
         : f == FAIL_WARNING ? VIPS_FAIL_ON_WARNING
                             : VIPS_FAIL_ON_ERROR;
}

/*
 * Decode and re-encode into memory.  Returns 0 with *buf (g_free) and *len,
 * or -1 with @res failed.
 */
static int
encode(const struct settings *s, int fd, const struct jpeg_info *ji,
       void **buf, size_t *len, struct task_result *res)
{
    VipsSource *source = vips_source_new_from_descriptor(fd);
    VipsObject *ctx = VIPS_OBJECT(vips_image_new());
    VipsImage **t = (VipsImage **)vips_object_local_array(ctx, 4);
    VipsImage *x;
    int rc = -1;
    int keep_420 = ji && ji->components == 3 &&
                   ji->h_samp[0] * ji->v_samp[0] > 1;

    if (!source) {
        vipsmsg_fail(res, ERR_READ, "cannot read");
        goto out;
    }
    t[0] = vips_image_new_from_source(source, "", "access",
                                      VIPS_ACCESS_SEQUENTIAL, "fail_on",
                                      fail_on(s->fail_on), NULL);
    if (!t[0]) {
        vipsmsg_fail(res, ERR_DECODE, "cannot decode");
        goto out;
    }
    x = t[0];
    if (s->to_srgb && vips_image_get_typeof(x, VIPS_META_ICC_NAME) &&
        x->Type != VIPS_INTERPRETATION_CMYK) {
        if (vips_icc_transform(x, &t[1], "srgb", "embedded", TRUE, NULL)) {
            vipsmsg_fail(res, ERR_DECODE, "cannot convert to sRGB");
            goto out;
        }
        x = t[1];
    }
    /* A private copy whose metadata may be edited. */
    if (vips_copy(x, &t[2], NULL)) {
        vipsmsg_fail(res, ERR_DECODE, "cannot copy");
        goto out;
    }
    x = t[2];
    if (s->strip_gps)
        vips_image_map(x, drop_gps, NULL);
    /* Decoding happens here, lazily: a damaged original fails now. */
    if (vips_jpegsave_buffer(x, buf, len, "Q", s->quality,
                             "optimize_coding", TRUE,
                             "interlace", ji && ji->progressive,
                             "subsample_mode",
                             s->subsample == SUBSAMPLE_420 ? VIPS_FOREIGN_SUBSAMPLE_ON
                             : s->subsample == SUBSAMPLE_444 ? VIPS_FOREIGN_SUBSAMPLE_OFF
                             : keep_420 ? VIPS_FOREIGN_SUBSAMPLE_ON
                                        : VIPS_FOREIGN_SUBSAMPLE_OFF,
                             "strip", FALSE, NULL)) {
        vipsmsg_fail(res, ERR_DECODE, "cannot decode or encode");
        goto out;
    }
    rc = 0;
out:
    if (source)
        g_object_unref(source);
    g_object_unref(ctx);
    return rc;
}

/* Give the temporary file the original's owner, mode and times. */
static int
copy_attributes(const struct settings *s, int fd, const struct stat *st,
                struct task_result *res)
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
    if (s->preserve_times) {
        struct timespec ts[2] = { st->st_atim, st->st_mtim };
        if (futimens(fd, ts) < 0) {
            task_result_fail(res, ERR_WRITE, "cannot set times: %s",
                             strerror(errno));
            return -1;
        }
    }
    return 0;
}

void
inplace_process(const struct settings *s, const struct task *t, int fd,
                enum img_format fmt, const struct jpeg_info *ji,
                struct task_result *res)
{
    struct stat before, after;
    struct jpeg_info out_info;
    struct outfile of;
    void *buf = NULL;
    size_t len = 0;
    int q;

    if (fmt != IMGF_JPEG) {
        task_result_skip(res, ERR_NOT_JPEG, "left alone: in-place recompression only "
             "rewrites JPEG files (%s)", img_format_str(fmt));
        return;
    }
    if (fstat(fd, &before) < 0) {
        task_result_fail(res, ERR_READ, "cannot stat: %s", strerror(errno));
        return;
    }
    if (ji) {
        /* Upright, as every record reports dimensions. */
        int swap = ji->orientation >= 5;
        res->in_width = swap ? ji->height : ji->width;
        res->in_height = swap ? ji->width : ji->height;
    }
    q = ji ? sniff_jpeg_quality(ji) : -1;
    if (!s->force && q > 0 && q <= s->quality) {
        task_result_skip(res, ERR_ALREADY_COMPRESSED, "estimated quality %d is at or "
             "below the target %d (--force re-encodes anyway)", q,
             s->quality);
        return;
    }
    if (encode(s, fd, ji, &buf, &len, res) < 0)
        return;

    /* The new file must be a JPEG of the same size before it may count. */
    if (sniff_jpeg_info(buf, len, &out_info) < 0 ||
        (ji && (out_info.width != ji->width ||
                out_info.height != ji->height))) {
        task_result_fail(res, ERR_INTERNAL, "re-encoded image does not "
                         "match the original's dimensions; left alone");
        goto out;
    }
    /* Pixels and tag are kept, so the upright size is the input's. */
    res->out_width = res->in_width > 0 ? res->in_width : out_info.width;
    res->out_height = res->in_height > 0 ? res->in_height : out_info.height;
    res->out_bytes = (int64_t)len;
    if ((double)len > (double)before.st_size * (1.0 - s->min_saving / 100)) {
        task_result_skip(res, ERR_NO_GAIN, "re-encoded size %zu is not %g%% smaller "
             "than %lld (--min-saving)", len, s->min_saving,
             (long long)before.st_size);
        goto out;
    }
    if (s->dry_run) {
        task_result_skip(res, ERR_DRY_RUN, "would save %lld bytes (%.1f%%)",
             (long long)before.st_size - (long long)len,
             100.0 * (1.0 - (double)len / (double)before.st_size));
        goto out;
    }
    if (fstat(fd, &after) < 0 || after.st_size != before.st_size ||
        after.st_mtim.tv_sec != before.st_mtim.tv_sec ||
        after.st_mtim.tv_nsec != before.st_mtim.tv_nsec) {
        task_result_skip(res, ERR_INPUT_CHANGED, "the file changed while it was being "
             "recompressed; left alone");
        goto out;
    }
    if (s->backup_dir &&
        outfile_backup(s->backup_dir, t->rel, t->path, fd, res) < 0)
        goto out;
    if (outfile_open_beside(&of, t->path, res) < 0)
        goto out;
    if (outfile_write(&of, buf, len, res) < 0 ||
        copy_attributes(s, of.fd, &before, res) < 0) {
        outfile_abort(&of);
        goto out;
    }
    if (outfile_commit(&of, res) < 0)
        goto out;
    res->status = TASK_OK;
out:
    g_free(buf);
}
