/*
 * commit.c - what the three commits share (commit.h): the choice of one
 * for a run, and the edits of the encoded bytes (the source's EXIF and
 * extended XMP put in) on a file or in memory alike.
 */
#include <stdlib.h>
#include <string.h>

#include "commit.h"
#include "exifcopy.h"
#include "xmpext.h"

void
commit_init(struct commit *cm, const struct run_config *cfg,
            const struct task *t, const struct input *in,
            enum decoder_kind decoder)
{
    memset(cm, 0, sizeof(*cm));
    cm->ops = cfg->commit.in_place    ? &commit_inplace_ops
            : cfg->commit.fd_flavors ? &commit_fdthumb_ops
                                      : &commit_file_ops;
    cm->cfg = cfg;
    cm->t = t;
    cm->in = in;
    cm->plan.decoder = decoder;
    cm->plan.noutputs = 1;
}

int
commit_open_in_memory(struct commit *cm, int k, struct encode_out *out,
                      struct task_result *res)
{
    (void)cm;
    (void)k;
    (void)res;
    encode_out_init(out, NULL);
    return 0;
}

const struct settings *
commit_settings_of(const struct commit *cm, int k)
{
    return &cm->cfg->out[k < cm->cfg->nsizes ? k : 0];
}

/*
 * Edit the encoded bytes in memory in @out through @edit (a copy of them
 * in malloc'ed memory, which the editor may grow).  On success the copy
 * replaces the encoder's bytes.  0, or -1 with @res failed (@what names
 * the metadata when memory runs out).
 */
static int
edit_encoded(struct encode_out *out, const char *what,
             int (*edit)(const void *x, unsigned char **buf, size_t *len,
                         struct task_result *res),
             const void *x, struct task_result *res)
{
    unsigned char *buf = malloc(out->len);
    size_t len = out->len;

    if (!buf) {
        task_result_fail(res, ERR_OUT_OF_MEMORY, "cannot keep the %s", what);
        return -1;
    }
    memcpy(buf, out->buf, len);
    if (edit(x, &buf, &len, res) < 0) {
        free(buf);
        return -1;
    }
    encode_out_release(out);
    out->buf = buf;
    out->len = len;
    out->buf_glib = 0;
    return 0;
}

static int
exif_edit(const void *x, unsigned char **buf, size_t *len,
          struct task_result *res)
{
    return exifcopy_apply_mem(x, buf, len, res);
}

static int
xmp_edit(const void *x, unsigned char **buf, size_t *len,
         struct task_result *res)
{
    return xmpext_insert_mem(x, buf, len, res);
}

int
commit_put_exif(struct encode_out *out, const struct exifcopy *x,
                struct task_result *res)
{
    if (out->of)
        return exifcopy_apply_file(x, out->of->dirfd, out->of->tmp, res);
    return x->len ? edit_encoded(out, "EXIF", exif_edit, x, res) : 0;
}

int
commit_put_xmp(struct encode_out *out, const struct xmpext *x,
               struct task_result *res)
{
    if (out->of)
        return xmpext_insert_file(x, out->of->dirfd, out->of->tmp, res);
    return x->len ? edit_encoded(out, "extended XMP", xmp_edit, x, res) : 0;
}
