/*
 * guard.c - scan caps, pixel-data checks and the decoded-rows threshold;
 * see guard.h.
 *
 * The walks read the file through a small buffered reader with pread()
 * from offset 0 (the descriptor's position is left alone), each byte at
 * most once, so their cost is linear in the file and small next to any
 * decode: a memchr() over the entropy-coded data looking for 0xFF.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "guard.h"
#include "mpf.h"
#include "sniff.h"
#include "tail.h"
#include "warn.h"

#define GUARD_CHUNK (64 * 1024)

/* A forward-only reader; one per walk, one walk at a time per worker. */
struct rd {
    int fd;
    off_t end;                  /* nothing is read from here on */
    off_t pos;                  /* file offset of buf[have] */
    size_t have, at;            /* bytes in buf, bytes consumed */
    int err;                    /* errno of a failed read, else 0 */
    int pending;                /* a marker byte already read, or -1 */
};

static unsigned char rd_buf[GUARD_CHUNK];

/* One marker segment's payload, for the APP1/APP2 ones read whole. */
static unsigned char seg_buf[2 + 4 + 65535];

static void
rd_init(struct rd *r, int fd, int64_t end)
{
    r->fd = fd;
    r->end = (off_t)end;
    r->pos = 0;
    r->have = r->at = 0;
    r->err = 0;
    r->pending = -1;
}

/* Refill an empty buffer: 1 when bytes are available, 0 at the end of the
 * file or on a read error (r->err). */
static int
rd_fill(struct rd *r)
{
    ssize_t n;

    if (r->at < r->have)
        return 1;
    if (r->pos >= r->end)
        return 0;
    n = input_pread(r->fd, rd_buf, r->end - r->pos < (off_t)sizeof(rd_buf)
                                       ? (size_t)(r->end - r->pos)
                                       : sizeof(rd_buf), r->pos);
    if (n < 0)
        r->err = errno;
    if (n <= 0)
        return 0;
    r->pos += n;
    r->have = (size_t)n;
    r->at = 0;
    return 1;
}

/* The next byte, or -1 at the end (or on an error). */
static int
rd_byte(struct rd *r)
{
    if (!rd_fill(r))
        return -1;
    return rd_buf[r->at++];
}

/* Skip @n bytes without reading what is not buffered. */
static void
rd_skip(struct rd *r, size_t n)
{
    size_t k = r->have - r->at;

    if (n <= k) {
        r->at += n;
        return;
    }
    r->pos += (off_t)(n - k);
    r->at = r->have = 0;
}

/* Copy the next @n bytes into @buf: how many there were. */
static size_t
rd_read(struct rd *r, unsigned char *buf, size_t n)
{
    size_t got = 0;

    while (got < n && rd_fill(r)) {
        size_t k = r->have - r->at < n - got ? r->have - r->at : n - got;
        memcpy(buf + got, rd_buf + r->at, k);
        r->at += k;
        got += k;
    }
    return got;
}

/* With nothing buffered, move past a hole at the read position: it holds
 * zeros, so no 0xFF.  *@skipped (when not NULL) grows by its size. */
static void
rd_skip_hole(struct rd *r, int64_t *skipped)
{
    off_t data;

    if (r->at < r->have || r->pos >= r->end)
        return;
    data = lseek(r->fd, r->pos, SEEK_DATA);
    if (data < 0 && errno == ENXIO)
        data = r->end;          /* a hole to the end of the file */
    if (data <= r->pos)
        return;
    if (data > r->end)
        data = r->end;
    if (skipped)
        *skipped += (int64_t)(data - r->pos);
    r->pos = data;
}

/* Consume bytes up to and including the next 0xFF: 0, or -1 at the end.
 * *@skipped (when not NULL) grows by the bytes before it. */
static int
rd_past_ff(struct rd *r, int64_t *skipped)
{
    for (;;) {
        const unsigned char *p, *ff;

        rd_skip_hole(r, skipped);
        if (!rd_fill(r))
            return -1;
        p = rd_buf + r->at;
        ff = memchr(p, 0xFF, r->have - r->at);
        if (!ff) {
            if (skipped)
                *skipped += (int64_t)(r->have - r->at);
            r->at = r->have;
            continue;
        }
        if (skipped)
            *skipped += ff - p;
        r->at += (size_t)(ff - p) + 1;
        return 0;
    }
}

/*
 * The next marker code outside entropy-coded data, as libjpeg finds it:
 * bytes up to a 0xFF are skipped, fill bytes 0xFF are skipped, and FF 00
 * is not a marker.  -1 at the end of the file.
 */
static int
next_marker(struct rd *r)
{
    int c;

    if (r->pending >= 0) {
        c = r->pending;
        r->pending = -1;
        return c;
    }
    for (;;) {
        if (rd_past_ff(r, NULL) < 0)
            return -1;
        do {
            c = rd_byte(r);
        } while (c == 0xFF);
        if (c != 0)
            return c;           /* a marker, or -1 */
    }
}

/*
 * Entropy-coded data from the reader's position up to the next marker
 * (which is left in r->pending): FF 00 is a stuffed data byte, RSTn
 * markers belong to the data.  Returns the bytes of data seen.
 */
static int64_t
entropy_data(struct rd *r)
{
    int64_t n = 0;
    int c;

    for (;;) {
        if (rd_past_ff(r, &n) < 0)
            return n;
        do {
            c = rd_byte(r);
        } while (c == 0xFF);
        if (c < 0)
            return n;
        if (c == 0 || (c >= 0xD0 && c <= 0xD7)) {
            n += 2;
            continue;
        }
        r->pending = c;
        return n;
    }
}

/* A marker segment's length field; -1 at the end of the file. */
static int
segment_length(struct rd *r)
{
    int hi = rd_byte(r), lo;

    if (hi < 0)
        return -1;
    lo = rd_byte(r);
    if (lo < 0)
        return -1;
    return hi << 8 | lo;
}

/*
 * An APP1 or APP2 segment of @len bytes (length field included) before the
 * first scan: its start is read, and the rest too for XMP (which may
 * declare a container) and an MPF index; any other (EXIF, ICC profile) is
 * skipped (guard_jpeg_walk).
 */
static void
app_segment(struct rd *r, int m, int len, struct guard_jpeg_walk *w)
{
    static const char xmp_ns[] = "http://ns.adobe.com/xap/1.0/";
    static const char ext_ns[] = "http://ns.adobe.com/xmp/extension/";
    unsigned char *p = seg_buf + 6;     /* after SOI, marker and length */
    size_t want = (size_t)len - 2, n;
    int xmp, mpf, x;

    n = rd_read(r, p, want < sizeof(ext_ns) ? want : sizeof(ext_ns));
    xmp = m == 0xE1 && ((n >= sizeof(xmp_ns) &&
                         memcmp(p, xmp_ns, sizeof(xmp_ns)) == 0) ||
                        (n >= sizeof(ext_ns) &&
                         memcmp(p, ext_ns, sizeof(ext_ns)) == 0));
    mpf = m == 0xE2 && n >= 4 && memcmp(p, "MPF\0", 4) == 0;
    if (!xmp && !mpf) {
        rd_skip(r, want - n);
        return;
    }
    n += rd_read(r, p + n, want - n);
    if (xmp) {
        x = (int)tail_xmp_container(p, n);
        if (x > w->xmp)
            w->xmp = x;
    } else if (w->mpf_images == 0) {
        /* mpf_image_count() reads from the start of a file: give it one
         * holding this segment alone. */
        seg_buf[0] = 0xFF;
        seg_buf[1] = 0xD8;
        seg_buf[2] = 0xFF;
        seg_buf[3] = 0xE2;
        seg_buf[4] = (unsigned char)(len >> 8);
        seg_buf[5] = (unsigned char)(len & 0xFF);
        w->mpf_images = mpf_image_count(seg_buf, n + 6);
    }
}

int
guard_jpeg_walk(int fd, int64_t end, int max_scans,
                struct guard_jpeg_walk *w)
{
    struct rd r;
    int m, len;

    memset(w, 0, sizeof(*w));
    rd_init(&r, fd, end);
    if (rd_byte(&r) != 0xFF || rd_byte(&r) != 0xD8)
        goto out;
    for (;;) {
        m = next_marker(&r);
        if (m < 0)
            break;
        if (m == 0xD9) {
            w->eoi = 1;
            w->eoi_end = (int64_t)(r.pos - (off_t)(r.have - r.at));
            break;
        }
        /* Markers without a length: TEM, RSTn, SOI. */
        if (m == 0x01 || (m >= 0xD0 && m <= 0xD8))
            continue;
        len = segment_length(&r);
        if (len < 2)
            break;              /* the end, or a length libjpeg refuses */
        if ((m == 0xE1 || m == 0xE2) && w->scans == 0)
            app_segment(&r, m, len, w);
        else
            rd_skip(&r, (size_t)len - 2);
        if (m != 0xDA)
            continue;
        w->scans++;
        if (w->scans > max_scans)
            break;
        if (w->scans == 1)
            w->first_scan_bytes = entropy_data(&r);
        else
            entropy_data(&r);
    }
out:
    if (r.err) {
        errno = r.err;
        return -1;
    }
    return 0;
}

int
guard_jpeg(const struct input *in, struct guard_jpeg_walk *walk,
           struct task_result *res)
{
    struct guard_jpeg_walk w;

    if (guard_jpeg_walk(in->fd, in->data_end, GUARD_MAX_SCANS, &w) < 0) {
        task_result_fail(res, ERR_READ, "cannot read: %s", strerror(errno));
        return -1;
    }
    if (w.scans > GUARD_MAX_SCANS) {
        task_result_fail(res, ERR_TOO_COMPLEX, "JPEG has more than %d "
                         "scans (the limit of scans per image)",
                         GUARD_MAX_SCANS);
        return -1;
    }
    if (w.scans > 0 && w.first_scan_bytes == 0) {
        res->decoded_rows = 0;
        task_result_fail(res, ERR_TRUNCATED, "no image data: %s",
                         w.eoi ? "the first scan is empty"
                               : "the file ends right after the start of "
                                 "its first scan");
        return -1;
    }
    if (walk)
        *walk = w;
    return 0;
}

/* Chunks walked at most: past that a file is taken as complete. */
#define GUARD_PNG_MAX_CHUNKS 100000

/* Walk a PNG's chunk headers from IHDR on: *@data says whether IDAT data
 * is present (its first byte in the file), *@iend whether the walk reached
 * IEND (the file is complete).  0, or -1 on a read error (errno). */
static int
png_walk(int fd, int *data, int *iend)
{
    unsigned char h[8];
    off_t pos = 8;
    ssize_t n;
    int k;

    *data = *iend = 0;
    for (k = 0; k < GUARD_PNG_MAX_CHUNKS; k++) {
        uint32_t len;

        n = input_pread(fd, h, sizeof(h), pos);
        if (n < 0)
            return -1;
        if (n < (ssize_t)sizeof(h))
            return 0;
        len = (uint32_t)h[0] << 24 | (uint32_t)h[1] << 16 |
              (uint32_t)h[2] << 8 | h[3];
        if (memcmp(h + 4, "IEND", 4) == 0) {
            *iend = 1;
            return 0;
        }
        if (len > 0x7fffffffu)
            return 0;
        if (memcmp(h + 4, "IDAT", 4) == 0 && len > 0 && !*data) {
            n = input_pread(fd, h, 1, pos + 8);
            if (n < 0)
                return -1;
            *data = n == 1;
        }
        pos += 12 + (off_t)len;
    }
    *iend = 1;
    return 0;
}

int
guard_png(const struct input *in, int walk, int *complete,
          struct task_result *res)
{
    int data, iend;

    if (sniff_png_ihdr_crc(in->head, in->head_len) < 0 && errno == EBADMSG) {
        res->decoded_rows = 0;
        task_result_fail(res, ERR_CORRUPT_HEADER, "PNG IHDR chunk fails "
                         "its CRC: the header is damaged, its dimensions "
                         "cannot be trusted");
        return -1;
    }
    if (!walk)
        return 0;
    if (png_walk(in->fd, &data, &iend) < 0) {
        task_result_fail(res, ERR_READ, "cannot read: %s", strerror(errno));
        return -1;
    }
    if (!data) {
        res->decoded_rows = 0;
        task_result_fail(res, ERR_TRUNCATED, "no image data: the file has "
                         "no IDAT data");
        return -1;
    }
    if (complete)
        *complete = iend;
    return 0;
}

int
guard_rows_enough(int rows, int height, int mcu_rows)
{
    int64_t need = ((int64_t)height * GUARD_MIN_PERCENT + 99) / 100;

    if (need < mcu_rows)
        need = mcu_rows;
    if (need > height)
        need = height;
    if (need < 1)
        need = 1;
    return rows >= need;
}

int
guard_rows(int rows, int height, int mcu_rows, struct task_result *res)
{
    char text[128];

    res->decoded_rows = rows;
    if (!guard_rows_enough(rows, height, mcu_rows)) {
        if (height <= 0)
            task_result_fail(res, ERR_TRUNCATED, "no image data: the file "
                             "ends before the image starts");
        else if (rows == 0)
            task_result_fail(res, ERR_TRUNCATED, "no image data: not one "
                             "row of the %d could be decoded", height);
        else
            task_result_fail(res, ERR_TRUNCATED, "too little image data: "
                             "%d of %d rows decoded, below the %d%% needed",
                             rows, height, GUARD_MIN_PERCENT);
        return -1;
    }
    if (rows < height) {
        snprintf(text, sizeof(text), "image incomplete: %d of %d rows "
                 "decoded (%.1f%%), the rest filled", rows, height,
                 100.0 * rows / height);
        warn_append(res, text);
    }
    return 0;
}
