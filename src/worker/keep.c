/*
 * keep.c - recompress -o: a JPEG source at or below -q copied as the
 * output when its re-encode is not smaller; see keep.h.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <vips/vips.h>

#include "decode.h"
#include "icc.h"
#include "keep.h"
#include "orient.h"

/* Bytes copied at a time. */
#define KEEP_CHUNK (1024 * 1024)

int
keep_source_qualifies(const struct input *in, int quality, int *q)
{
    *q = -1;
    if (in->fmt != IMGF_JPEG || !in->have_ji)
        return 0;
    *q = sniff_jpeg_quality(&in->ji);
    /* A grey JPEG is re-encoded: every output is 3-band sRGB. */
    if (in->ji.components != 3)
        return 0;
    return *q >= 1 && *q <= quality;
}

/* Whether what the user asked of the encoder (scan mode, subsampling)
 * is what the source @ji has already. */
static int
encoder_agrees(const struct settings *s, const struct jpeg_info *ji)
{
    int subsampled = ji->h_samp[0] * ji->v_samp[0] > 1;

    if (s->progressive && !ji->progressive)
        return 0;
    if (s->baseline && ji->progressive)
        return 0;
    if (ji->components == 1)
        return 1;
    if (s->subsample == SUBSAMPLE_420 && !decode_jpeg_is_420(ji))
        return 0;
    if (s->subsample == SUBSAMPLE_444 && subsampled)
        return 0;
    return 1;
}

/* Whether the source's colours are the output's: no profile, or one that
 * is sRGB in effect (the output carries sRGB pixels). */
static int
colours_agree(const struct jpeg_info *ji, VipsImage *decoded)
{
    const void *icc = NULL;
    size_t len = 0;

    if (decoded && vips_image_get_typeof(decoded, VIPS_META_ICC_NAME) &&
        vips_image_get_blob(decoded, VIPS_META_ICC_NAME, &icc, &len) < 0)
        return 0;
    if (!icc || len == 0)
        return !ji->has_icc;
    return icc_lookup(icc, len, ji->components == 1 ? ICC_PX_GREY
                                                    : ICC_PX_RGB)->outcome ==
           ICC_IDENTITY;
}

void
keep_prepare(struct keep *k, const struct settings *s, int nsizes,
             const struct input *in, VipsImage *decoded, int w, int h)
{
    int uw, uh;

    memset(k, 0, sizeof(*k));
    k->in = in;
    if (s->mode != MODE_RECOMPRESS || s->target != TARGET_TREE ||
        s->force || s->strip || s->lossless || nsizes != 1 ||
        s->target_distance > 0 ||
        s->format != FORMAT_JPEG)
        return;
    if (!keep_source_qualifies(in, s->quality, &k->quality))
        return;
    orient_upright_size(in->ji.orientation, in->ji.width, in->ji.height, &uw,
                        &uh);
    if (w != uw || h != uh)
        return;         /* resized: not the source's pixels */
    if (!encoder_agrees(s, &in->ji) || !colours_agree(&in->ji, decoded))
        return;
    k->eligible = 1;
}

/* The source's bytes in place of @fd's.  0, or -1 with @res failed. */
static int
copy_source(const struct input *in, int fd, struct task_result *res)
{
    unsigned char *buf = malloc(KEEP_CHUNK);
    int64_t off = 0;

    if (!buf) {
        task_result_fail(res, ERR_OUT_OF_MEMORY, "cannot copy the source");
        return -1;
    }
    while (off < in->size) {
        size_t n = in->size - off < KEEP_CHUNK ? (size_t)(in->size - off)
                                               : KEEP_CHUNK;
        if (input_pread_full(in->fd, buf, n, off) < 0) {
            task_result_fail(res, ERR_READ, "cannot read the source to "
                             "keep it: %s", strerror(errno));
            free(buf);
            return -1;
        }
        if (pwrite(fd, buf, n, off) != (ssize_t)n) {
            int e = errno;
            task_result_fail(res, e == ENOSPC ? ERR_NO_SPACE : ERR_WRITE,
                             "cannot copy the source: %s",
                             strerror(e ? e : EIO));
            free(buf);
            return -1;
        }
        off += (int64_t)n;
    }
    free(buf);
    if (ftruncate(fd, (off_t)in->size) < 0) {
        task_result_fail(res, ERR_WRITE, "cannot copy the source: %s",
                         strerror(errno));
        return -1;
    }
    return 0;
}

int
keep_apply(const struct keep *k, int fd, struct task_result *res)
{
    struct stat st;

    if (!k || !k->eligible)
        return 0;
    if (fstat(fd, &st) < 0) {
        task_result_fail(res, ERR_WRITE, "cannot measure the re-encode: %s",
                         strerror(errno));
        return -1;
    }
    if ((int64_t)st.st_size < k->in->size)
        return 0;       /* smaller: the re-encode is the output */
    if (copy_source(k->in, fd, res) < 0)
        return -1;
    snprintf(res->mode, sizeof(res->mode), "%s", KEEP_MODE);
    return 0;
}
