/*
 * exifcopy.c - the source's EXIF segment into a JPEG output, byte for byte
 * but for the patches exifcopy.h lists.
 *
 * The source is read up to its first SOS; the first APP1 starting
 * "Exif\0\0" is the one taken.  In the output, the encoder's own EXIF
 * segment (the first such APP1 before SOS) is replaced; every other
 * segment is kept where it is.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "byteorder.h"
#include "exifcopy.h"
#include "util.h"

#define EXIFCOPY_MAX_SEGMENTS 4096  /* markers walked in a source */
#define EXIFCOPY_MAX_ENTRIES 1024   /* entries of one IFD */
#define TAG_ORIENTATION 0x0112
#define TAG_GPS_IFD 0x8825

static const unsigned char exif_id[6] = {'E', 'x', 'i', 'f', 0, 0};

/* Bytes of one value of TIFF type @type, or 0 for an unknown type. */
static size_t
type_size(unsigned type)
{
    static const unsigned char sizes[] = {0, 1, 1, 2, 4, 8, 1, 1, 2, 4, 8,
                                          4, 8, 4};
    return type < sizeof(sizes) ? sizes[type] : 0;
}

/* The entry count of the IFD at @off of @tiff, or -1 when the IFD does
 * not fit. */
static long
ifd_count(const unsigned char *tiff, size_t n, uint32_t off, int le)
{
    unsigned c;

    if (off < 8 || off > n || n - off < 2)
        return -1;
    c = bo_get16(tiff + off, le);
    if (c > EXIFCOPY_MAX_ENTRIES || (n - off - 2) / 12 < c)
        return -1;
    return (long)c;
}

/* Empty the GPS IFD at @off in place (see exifcopy.h). */
static void
empty_gps(unsigned char *tiff, size_t n, uint32_t off, int le)
{
    long c = ifd_count(tiff, n, off, le);

    if (c < 0)
        return;
    for (long i = 0; i < c; i++) {
        unsigned char *e = tiff + off + 2 + 12 * i;
        size_t ts = type_size(bo_get16(e + 2, le));
        uint32_t cnt = bo_get32(e + 4, le);
        if (ts && cnt <= n / ts && ts * cnt > 4) {
            uint32_t at = bo_get32(e + 8, le);
            if (at <= n && ts * cnt <= n - at)
                memset(tiff + at, 0, ts * cnt);
        }
        memset(e, 0, 12);
    }
    bo_put16(tiff + off, 0, le);
}

void
exifcopy_patch(unsigned char *tiff, size_t n, int upright, int drop_gps)
{
    int le;
    uint32_t off;
    long c;

    if (n < 8)
        return;
    if (memcmp(tiff, "II*\0", 4) == 0)
        le = 1;
    else if (memcmp(tiff, "MM\0*", 4) == 0)
        le = 0;
    else
        return;
    off = bo_get32(tiff + 4, le);
    c = ifd_count(tiff, n, off, le);
    for (long i = 0; i < c; i++) {
        unsigned char *e = tiff + off + 2 + 12 * i;
        unsigned tag = bo_get16(e, le);
        if (tag == TAG_ORIENTATION && upright && bo_get16(e + 2, le) == 3 &&
            bo_get32(e + 4, le) == 1)
            bo_put16(e + 8, 1, le);
        else if (tag == TAG_GPS_IFD && drop_gps)
            empty_gps(tiff, n, bo_get32(e + 8, le), le);
    }
}

void
exifcopy_from_jpeg(const struct input *in, const struct encode_params *p,
                   struct exifcopy *x)
{
    off_t off = 2;
    unsigned char h[10];

    x->seg = NULL;
    x->len = 0;
    if (p->strip || p->format != FORMAT_JPEG || in->fmt != IMGF_JPEG)
        return;
    for (int i = 0; i < EXIFCOPY_MAX_SEGMENTS; i++) {
        size_t seglen;
        int marker, r = input_jpeg_segment(in->fd, &off, &marker, &seglen);

        if (r < 0)
            return;
        if (r == 0)
            continue;
        if (marker == 0xE1 && seglen >= 2 + 6 + 8 &&
            input_pread_full(in->fd, h, sizeof(h), off) == 0 &&
            memcmp(h + 4, exif_id, 6) == 0) {
            unsigned char *seg = malloc(2 + seglen);
            if (!seg || input_pread_full(in->fd, seg, 2 + seglen, off) < 0) {
                free(seg);
                return;
            }
            exifcopy_patch(seg + 10, seglen - 8, p->drop_orientation,
                           p->drop_gps);
            x->seg = seg;
            x->len = 2 + seglen;
            return;
        }
        off += 2 + (off_t)seglen;
    }
}

/* In the JPEG @b: where the encoder's EXIF segment starts (*@at) and its
 * length (*@old), or where one goes (after SOI and APP0) with *@old 0.
 * 0, or -1 when @b is not a JPEG. */
static int
find_exif(const unsigned char *b, size_t n, size_t *at, size_t *old)
{
    size_t off = 2, ins = 0;

    if (n < 4 || b[0] != 0xFF || b[1] != 0xD8)
        return -1;
    *old = 0;
    while (off + 4 <= n && b[off] == 0xFF && b[off + 1] != 0xDA) {
        size_t seglen = (size_t)b[off + 2] << 8 | b[off + 3];
        if (seglen < 2 || off + 2 + seglen > n)
            break;
        if (b[off + 1] == 0xE1 && seglen >= 8 &&
            memcmp(b + off + 4, exif_id, 6) == 0) {
            *at = off;
            *old = 2 + seglen;
            return 0;
        }
        if (b[off + 1] == 0xE0 && off == 2)     /* JFIF first */
            ins = off + 2 + seglen;
        off += 2 + seglen;
    }
    *at = ins ? ins : 2;
    return 0;
}

int
exifcopy_apply_mem(const struct exifcopy *x, unsigned char **buf,
                   size_t *len, struct task_result *res)
{
    size_t at, old, n;
    unsigned char *out;

    if (!x->len)
        return 0;
    if (find_exif(*buf, *len, &at, &old) < 0) {
        task_result_fail(res, ERR_INTERNAL, "cannot keep the EXIF: the "
                         "output is not a JPEG");
        return -1;
    }
    n = *len - old + x->len;
    out = malloc(n);
    if (!out) {
        task_result_fail(res, ERR_OUT_OF_MEMORY, "cannot keep the EXIF");
        return -1;
    }
    memcpy(out, *buf, at);
    memcpy(out + at, x->seg, x->len);
    memcpy(out + at + x->len, *buf + at + old, *len - at - old);
    free(*buf);
    *buf = out;
    *len = n;
    return 0;
}

int
exifcopy_apply_file(const struct exifcopy *x, int dirfd, const char *name,
                    struct task_result *res)
{
    int fd;
    struct stat st;
    unsigned char *file = NULL;
    size_t len;
    int rc = -1;

    if (!x->len)
        return 0;
    fd = openat(dirfd, name, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &st) < 0 || st.st_size <= 0 ||
        !(file = malloc((size_t)st.st_size)) ||
        util_pread_full(fd, file, (size_t)st.st_size, 0) < 0) {
        task_result_fail(res, ERR_WRITE, "cannot keep the EXIF");
        goto out;
    }
    len = (size_t)st.st_size;
    if (exifcopy_apply_mem(x, &file, &len, res) < 0)
        goto out;
    if (pwrite(fd, file, len, 0) == (ssize_t)len &&
        ftruncate(fd, (off_t)len) == 0)
        rc = 0;
    else
        task_result_fail(res, errno == ENOSPC ? ERR_NO_SPACE : ERR_WRITE,
                         "cannot keep the EXIF: %s", strerror(errno));
out:
    free(file);
    if (fd >= 0)
        close(fd);
    return rc;
}

void
exifcopy_release(struct exifcopy *x)
{
    free(x->seg);
    x->seg = NULL;
    x->len = 0;
}
