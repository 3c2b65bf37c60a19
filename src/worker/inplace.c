/*
 * inplace.c - replace a JPEG by its recompressed self, or leave it alone.
 *
 * The in-place commit (commit.h, commit_inplace_ops): the pipeline of
 * img.c decodes with libvips at full size and encodes the JPEG into
 * memory (plan.as_stored); this file decides and commits.  The original is
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

#include "commit.h"
#include "decode.h"
#include "encode.h"
#include "fault.h"
#include "inplace.h"
#include "lookq.h"
#include "lossless.h"
#include "orient.h"
#include "mpf.h"
#include "outfile.h"
#include "tail.h"

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

/* What the in-place commit holds for one task. */
struct inplace {
    struct stat before;         /* the original, as opened */
};

/*
 * The lossless pass (lossless.h) and its commit, without pixels: with
 * @skip, for a lossy run's original that was already compressed (the
 * skip stands when the pass finds nothing to do).
 */
static void
lossless_pass(struct commit *cm, const struct task_result *skip,
              struct task_result *res)
{
    const struct settings *s = &cm->cfg->out[0];
    const struct commit_settings *c = &cm->cfg->commit;
    struct inplace *ip = cm->state;
    struct encode_out enc;

    encode_out_init(&enc, NULL);
    if (rewrite_lossless(s, cm->in, &ip->before, &enc, res) == 0 &&
        !leave_alone_late(c, cm->in, &ip->before, &enc, res) &&
        commit_inplace(c, cm->t, cm->in, &ip->before, &enc, res) == 0)
        res->status = TASK_OK;
    if (skip)
        lossless_restore(skip, res);
    encode_out_release(&enc);
}

static int
inplace_begin(struct commit *cm, struct task_result *res)
{
    const struct settings *s = &cm->cfg->out[0];
    struct task_result *skip;
    struct inplace *ip = malloc(sizeof(*ip));

    if (!ip) {
        task_result_fail(res, ERR_OUT_OF_MEMORY, "cannot allocate commit");
        return 1;
    }
    cm->state = ip;
    if (leave_alone_early(s, cm->in, &ip->before, res)) {
        if (!lossless_instead(s, res))
            return 1;
        skip = malloc(sizeof(*skip));
        if (!skip)
            return 1;           /* the skip stands */
        memcpy(skip, res, sizeof(*skip));
        lossless_pass(cm, skip, res);
        free(skip);
        return 1;
    }
    if (s->lossless) {
        lossless_pass(cm, NULL, res);
        return 1;
    }
    cm->plan.decoder = DECODER_VIPS;
    cm->plan.as_stored = 1;
    cm->plan.noutputs = 1;
    return 0;
}

static int
inplace_commit(struct commit *cm, int k, struct encode_out *out, int w,
               int h, struct task_result *res)
{
    struct inplace *ip = cm->state;

    (void)k;
    (void)w;
    (void)h;
    /* A look target's file says so, for the next run (lookq_marked()). */
    if (cm->cfg->out[0].target_distance > 0 &&
        lookq_mark(out, cm->cfg->out[0].target_distance, res) < 0)
        return -1;
    if (leave_alone_late(&cm->cfg->commit, cm->in, &ip->before, out, res))
        return -1;
    return commit_inplace(&cm->cfg->commit, cm->t, cm->in, &ip->before, out,
                          res);
}

static void
inplace_abort(struct commit *cm, int k, struct encode_out *out)
{
    (void)cm;
    (void)k;
    (void)out;                  /* memory only: the caller releases it */
}

static void
inplace_end(struct commit *cm, int rc, struct task_result *res)
{
    (void)rc;
    (void)res;
    free(cm->state);
    cm->state = NULL;
}

const struct commit_ops commit_inplace_ops = {
    .begin = inplace_begin,
    .open = commit_open_in_memory,  /* nothing written before the checks */
    .encode = NULL,
    .commit = inplace_commit,
    .abort = inplace_abort,
    .end = inplace_end,
};
