/*
 * tail.c - where a file's real data ends, and what a JPEG holds besides
 * its primary image; see tail.h.
 *
 * Holes are found with lseek(SEEK_DATA/SEEK_HOLE): where the file system
 * does not report holes, every byte counts as data and is read, which is
 * still linear in the file.  The trailing hole is found by bisection on
 * "no data from here to the end" (at most about 64 lseek calls), so a
 * file with many holes costs no more than one with a single one.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "guard.h"
#include "mpf.h"
#include "tail.h"

#define TAIL_CHUNK (64 * 1024)

static unsigned char tail_buf[TAIL_CHUNK];

/* pread that retries EINTR and reads up to @n bytes: the count, or -1. */
static ssize_t
read_at(int fd, void *buf, size_t n, int64_t off)
{
    size_t got = 0;

    while (got < n) {
        ssize_t k = pread(fd, (char *)buf + got, n - got, (off_t)off + got);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0)
            return -1;
        if (k == 0)
            break;
        got += (size_t)k;
    }
    return (ssize_t)got;
}

/* Whether [@x, @size) holds no data (a hole to the end of the file). */
static int
hole_from(int fd, int64_t x)
{
    return lseek(fd, (off_t)x, SEEK_DATA) < 0 && errno == ENXIO;
}

/* The start of the hole that reaches the end of the file, or @size. */
static int64_t
trailing_hole(int fd, int64_t size)
{
    int64_t lo = 0, hi = size - 1;

    if (size <= 0 || !hole_from(fd, size - 1))
        return size;
    /* hole_from() is false below the answer and true from it on. */
    while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2;
        if (hole_from(fd, mid))
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

int64_t
tail_data_end(int fd, int64_t size)
{
    int64_t pos = trailing_hole(fd, size);
    int hole = pos < size, c = hole ? 0 : -1;

    while (pos > 0) {
        /* A small first read: most files end in their EOI marker. */
        size_t max = c < 0 ? 4096 : TAIL_CHUNK, i;
        size_t n = pos < (int64_t)max ? (size_t)pos : max;

        if (read_at(fd, tail_buf, n, pos - (int64_t)n) != (ssize_t)n)
            return size;
        if (c < 0)
            c = tail_buf[n - 1];
        for (i = n; i > 0 && tail_buf[i - 1] == c; i--)
            ;
        pos -= (int64_t)(n - i);
        if (i > 0)
            break;
    }
    /* A short run is data; so is a run of 0xD9, which may end in the
     * end-of-image marker itself. */
    if (!hole && (size - pos < TAIL_MIN_RUN || c == 0xD9))
        return size;
    return pos;
}

/* What the trailer whose first byte that is not padding sits at @at looks
 * like: a video (an MP4 box, a Samsung motion-photo trailer) or anything. */
static enum err_class
classify(int fd, int64_t at, int64_t size)
{
    int64_t from = at >= 8 ? at - 8 : 0;
    ssize_t n = read_at(fd, tail_buf, sizeof(tail_buf), from);
    unsigned char end[4];

    if (n > 0 && (tail_find(tail_buf, (size_t)n, "ftyp", 4) ||
                  tail_find(tail_buf, (size_t)n, "MotionPhoto_Data", 16)))
        return ERR_MOTION_PHOTO;
    if (size >= 4 && read_at(fd, end, 4, size - 4) == 4 &&
        memcmp(end, "SEFT", 4) == 0)
        return ERR_MOTION_PHOTO;
    return ERR_HAS_TRAILER;
}

int
tail_after_image(int fd, int64_t from, int64_t size, enum err_class *cls)
{
    int64_t pos = from;

    *cls = ERR_NONE;
    while (pos < size) {
        off_t data = lseek(fd, (off_t)pos, SEEK_DATA), hole;
        size_t n, i;
        ssize_t got;

        if (data < 0 && errno == ENXIO)
            return 0;           /* a hole to the end: zeros */
        if (data > pos) {
            pos = data;
            continue;
        }
        hole = lseek(fd, (off_t)pos, SEEK_HOLE);
        if (hole <= pos)
            hole = (off_t)size;
        n = hole - pos < TAIL_CHUNK ? (size_t)(hole - pos) : TAIL_CHUNK;
        got = read_at(fd, tail_buf, n, pos);
        if (got < 0)
            return -1;
        if (got == 0)
            return 0;
        for (i = 0; i < (size_t)got; i++)
            if (tail_buf[i] != 0x00 && tail_buf[i] != 0xFF) {
                *cls = classify(fd, pos + (int64_t)i, size);
                return 0;
            }
        pos += got;
    }
    return 0;
}

int
tail_jpeg_keep_whole(const struct input *in, struct task_result *res)
{
    struct guard_jpeg_walk w;
    enum err_class cls;

    if (in->fmt != IMGF_JPEG)
        return 0;
    if (guard_jpeg_walk(in->fd, in->data_end, GUARD_MAX_SCANS, &w) < 0) {
        task_result_fail(res, ERR_READ, "cannot read: %s", strerror(errno));
        return -1;
    }
    if (w.mpf_images != 0 && w.mpf_images != 1) {
        task_result_skip(res, ERR_MULTI_PICTURE, "left alone: the file holds "
                         "further MPF images (an HDR gain map or a preview) "
                         "that re-encoding would drop");
        return 1;
    }
    if (w.xmp == TAIL_XMP_MOTION) {
        task_result_skip(res, ERR_MOTION_PHOTO, "left alone: its XMP "
                         "declares a motion photo, whose video re-encoding "
                         "would drop");
        return 1;
    }
    if (w.xmp == TAIL_XMP_CONTAINER) {
        task_result_skip(res, ERR_HAS_TRAILER, "left alone: its XMP "
                         "declares a container (Container:Directory) of "
                         "items that re-encoding would drop");
        return 1;
    }
    if (!w.eoi)
        return 0;               /* cut short: the decode decides */
    if (tail_after_image(in->fd, w.eoi_end, in->size, &cls) < 0) {
        task_result_fail(res, ERR_READ, "cannot read: %s", strerror(errno));
        return -1;
    }
    if (cls == ERR_MOTION_PHOTO) {
        task_result_skip(res, cls, "left alone: a video follows the image "
                         "(a motion photo) at byte %lld; re-encoding would "
                         "drop it", (long long)w.eoi_end);
        return 1;
    }
    if (cls == ERR_HAS_TRAILER) {
        task_result_skip(res, cls, "left alone: %lld bytes follow the "
                         "image's end marker (not padding); re-encoding "
                         "would drop them",
                         (long long)(in->size - w.eoi_end));
        return 1;
    }
    return 0;
}
