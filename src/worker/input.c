/*
 * input.c - the open stage; see input.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "input.h"

static unsigned char head_buf[INPUT_HEAD_BYTES];

static int
open_file(const struct task *t, struct input *in, struct task_result *res)
{
    struct stat st;

    in->fd = open(t->path, O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC);
    if (in->fd < 0) {
        if (errno == ELOOP)
            task_result_fail(res, ERR_NOT_REGULAR,
                             "symbolic link not followed");
        else
            task_result_fail(res, ERR_READ, "cannot open: %s",
                             strerror(errno));
        return -1;
    }
    if (fstat(in->fd, &st) < 0) {
        task_result_fail(res, ERR_READ, "cannot stat: %s", strerror(errno));
        return -1;
    }
    if (!S_ISREG(st.st_mode)) {
        task_result_fail(res, ERR_NOT_REGULAR, "not a regular file");
        return -1;
    }
    in->size = st.st_size;
    res->in_bytes = st.st_size;
    /* Regular files ignore O_NONBLOCK; clear it for libvips' sake. */
    fcntl(in->fd, F_SETFL, fcntl(in->fd, F_GETFL) & ~O_NONBLOCK);
    return 0;
}

static int
read_head(struct input *in, struct task_result *res)
{
    size_t got = 0;

    while (got < sizeof(head_buf)) {
        ssize_t n = pread(in->fd, head_buf + got, sizeof(head_buf) - got,
                          (off_t)got);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            task_result_fail(res, ERR_READ, "cannot read: %s",
                             strerror(errno));
            return -1;
        }
        if (n == 0)
            break;
        got += (size_t)n;
    }
    if (got == 0) {
        task_result_fail(res, ERR_NOT_AN_IMAGE, "empty file");
        return -1;
    }
    in->head = head_buf;
    in->head_len = got;
    return 0;
}

int
input_too_large(const struct settings *s, int w, int h,
                struct task_result *res)
{
    if (s->max_pixels > 0 && (int64_t)w * h > s->max_pixels) {
        task_result_fail(res, ERR_TOO_LARGE, "image declares %dx%d = %lld "
                         "pixels, over the limit of %lld (--max-pixels)",
                         w, h, (long long)w * h, (long long)s->max_pixels);
        return 1;
    }
    return 0;
}

/* The declared size against max_pixels, for formats whose header we read. */
static int
check_declared_size(const struct settings *s, struct input *in,
                    struct task_result *res)
{
    int w, h;

    if (in->fmt == IMGF_JPEG &&
        sniff_jpeg_info(in->head, in->head_len, &in->ji) == 0) {
        in->have_ji = 1;
        return input_too_large(s, in->ji.width, in->ji.height, res) ? -1 : 0;
    }
    if (in->fmt == IMGF_PNG) {
        if (sniff_png_size(in->head, in->head_len, &w, &h) < 0) {
            task_result_fail(res, ERR_DECODE, "PNG header is malformed");
            return -1;
        }
        return input_too_large(s, w, h, res) ? -1 : 0;
    }
    if (in->fmt == IMGF_GIF &&
        sniff_gif_size(in->head, in->head_len, &w, &h) == 0)
        return input_too_large(s, w, h, res) ? -1 : 0;
    return 0;
}

int
input_open(const struct settings *s, const struct task *t, struct input *in,
           struct task_result *res)
{
    memset(in, 0, sizeof(*in));
    in->fd = -1;
    if (open_file(t, in, res) < 0 || read_head(in, res) < 0)
        goto fail;
    in->fmt = sniff_format(in->head, in->head_len);
    if (in->fmt == IMGF_UNKNOWN) {
        task_result_fail(res, ERR_NOT_AN_IMAGE, "not an image: no known "
                         "image signature in the first bytes");
        goto fail;
    }
    if (check_declared_size(s, in, res) < 0)
        goto fail;
    return 0;
fail:
    input_close(in);
    return -1;
}

void
input_close(struct input *in)
{
    if (in->fd >= 0)
        close(in->fd);
    in->fd = -1;
}
