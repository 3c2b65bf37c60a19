/*
 * input.c - the open stage; see input.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "input.h"
#include "jpeghead.h"
#include "tail.h"
#include "taskopen.h"

static unsigned char head_buf[INPUT_HEAD_BYTES];

/* Fill @res for a walk from the root that failed with @err. */
static void
walk_fail(struct task_result *res, int err, const char *what)
{
    if (err == ELOOP)
        task_result_skip(res, ERR_SYMLINK, "%s is a symbolic link (changed "
                         "since the scan?); not followed (see "
                         "--follow-symlinks)", what);
    else if (err == ENOTDIR)
        task_result_fail(res, ERR_READ, "%s is no longer a directory",
                         what);
    else
        task_result_fail(res, ERR_READ, "cannot open %s: %s", what,
                         strerror(err));
}

/*
 * Open the directory that holds the file, from the root (taskopen.h):
 * in->dirfd and in->name.  0, or -1 with @res failed or skipped.
 */
static int
open_parent(const struct task *t, struct input *in, struct task_result *res)
{
    enum taskopen_step step;

    in->dirfd = taskopen_parent(t, &in->name, &step);
    if (in->dirfd >= 0)
        return 0;
    walk_fail(res, errno, step == TASKOPEN_ROOT
                              ? "the input root"
                              : "a directory on the way to the file");
    return -1;
}

static int
open_file(const struct task *t, struct input *in, struct task_result *res)
{
    int flags = O_RDONLY | taskopen_file_flags(t);
    struct stat st;

    if (open_parent(t, in, res) < 0)
        return -1;
    in->fd = openat(in->dirfd, in->name, flags);
    if (in->fd < 0) {
        if (errno == ELOOP && (flags & O_NOFOLLOW))
            task_result_skip(res, ERR_SYMLINK, "symbolic link not "
                             "followed (use --follow-symlinks)");
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
    input_read_watch(in->fd, st.st_size);
    /* Regular files ignore O_NONBLOCK; clear it for libvips' sake. */
    fcntl(in->fd, F_SETFL, fcntl(in->fd, F_GETFL) & ~O_NONBLOCK);
    return 0;
}

static int
read_head(struct input *in, struct task_result *res)
{
    size_t got = 0;

    while (got < sizeof(head_buf)) {
        ssize_t n = input_pread(in->fd, head_buf + got,
                                sizeof(head_buf) - got, (int64_t)got);
        if (n < 0) {
            input_read_check(res);
            return -1;
        }
        if (n == 0)
            break;
        got += (size_t)n;
    }
    if (got == 0 && in->size == 0) {
        task_result_fail(res, ERR_NOT_AN_IMAGE, "empty file");
        return -1;
    }
    if (input_read_check(res) < 0)
        return -1;
    in->head = head_buf;
    in->head_len = got;
    return 0;
}

int
input_too_large(int64_t max_pixels, int w, int h, struct task_result *res)
{
    if (max_pixels > 0 && (int64_t)w * h > max_pixels) {
        task_result_fail(res, ERR_TOO_LARGE, "image declares %dx%d = %lld "
                         "pixels, over the limit of %lld (--max-pixels)",
                         w, h, (long long)w * h, (long long)max_pixels);
        return 1;
    }
    return 0;
}

/* The declared size against max_pixels, for formats whose header we read. */
static int
check_declared_size(int64_t max_pixels, struct input *in,
                    struct task_result *res)
{
    int w, h;

    /* A frame header past the head: walked to (jpeghead.h). */
    if (in->fmt == IMGF_JPEG &&
        (sniff_jpeg_info(in->head, in->head_len, &in->ji) == 0 ||
         (in->head_len == INPUT_HEAD_BYTES &&
          jpeghead_read(in->fd, in->size, &in->ji) == 0))) {
        in->have_ji = 1;
        return input_too_large(max_pixels, in->ji.width, in->ji.height,
                               res) ? -1 : 0;
    }
    if (in->fmt == IMGF_PNG) {
        if (sniff_png_size(in->head, in->head_len, &w, &h) < 0) {
            task_result_fail(res, ERR_DECODE, "PNG header is malformed");
            return -1;
        }
        return input_too_large(max_pixels, w, h, res) ? -1 : 0;
    }
    if (in->fmt == IMGF_GIF &&
        sniff_gif_size(in->head, in->head_len, &w, &h) == 0)
        return input_too_large(max_pixels, w, h, res) ? -1 : 0;
    return 0;
}

int
input_open(int64_t max_pixels, const struct task *t, struct input *in,
           struct task_result *res)
{
    memset(in, 0, sizeof(*in));
    in->fd = -1;
    in->dirfd = -1;
    input_read_reset();
    if (open_file(t, in, res) < 0 || read_head(in, res) < 0)
        goto fail;
    in->fmt = sniff_format(in->head, in->head_len);
    if (in->fmt == IMGF_UNKNOWN) {
        task_result_fail(res, ERR_NOT_AN_IMAGE, "not an image: no known "
                         "image signature in the first bytes");
        goto fail;
    }
    if (check_declared_size(max_pixels, in, res) < 0)
        goto fail;
    in->data_end = in->fmt == IMGF_JPEG ? tail_data_end(in->fd, in->size)
                                        : in->size;
    return 0;
fail:
    input_close(in);
    return -1;
}

void
input_close(struct input *in)
{
    if (in->fd >= 0)
        input_read_unwatch(in->fd);
    if (in->fd >= 0)
        close(in->fd);
    in->fd = -1;
    if (in->dirfd >= 0)
        close(in->dirfd);
    in->dirfd = -1;
}

int
input_recheck(const struct task *t, const struct input *in,
              struct task_result *res)
{
    struct input again;
    struct stat now, then;
    int same;

    memset(&again, 0, sizeof(again));
    again.dirfd = -1;
    if (open_parent(t, &again, res) < 0) {
        if (res->err_class != ERR_SYMLINK)
            goto moved;
        return -1;
    }
    same = fstat(again.dirfd, &now) == 0 && fstat(in->dirfd, &then) == 0 &&
           now.st_dev == then.st_dev && now.st_ino == then.st_ino;
    close(again.dirfd);
    if (same)
        return 0;
moved:
    task_result_skip(res, ERR_INPUT_CHANGED, "the file's directory was "
                     "moved or replaced while it was being processed; left "
                     "alone");
    return -1;
}
