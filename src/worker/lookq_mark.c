/*
 * lookq_mark.c - the mark of a JPEG rewritten in place for a look target
 * (lookq.h): found in the segments before the first scan, so that a
 * second run leaves the file, and added to the encoded bytes before the
 * commit.
 */
#include "lookq.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Segments walked to find the mark before giving up (a JPEG has a few
 * dozen before its first scan). */
#define MARK_MAX_SEGMENTS 4096

/* Bytes @at..@at+@n of @in: from the head when there, else read.  0, or
 * -1 when the file is shorter or a read fails. */
static int
bytes_at(const struct input *in, int64_t at, unsigned char *buf, size_t n)
{
    if (in->head && at >= 0 && (uint64_t)at + n <= in->head_len) {
        memcpy(buf, in->head + at, n);
        return 0;
    }
    return input_pread_full(in->fd, buf, n, at);
}

int
lookq_marked(const struct settings *s, const struct input *in,
             struct task_result *res)
{
    static const size_t mlen = sizeof(LOOKQ_MARK) - 1;
    unsigned char seg[4], text[sizeof(LOOKQ_MARK) - 1 + 32];
    int64_t off = 2;

    if (s->force)
        return 0;
    /* The segments before the first scan, by their lengths. */
    for (int i = 0; i < MARK_MAX_SEGMENTS; i++) {
        size_t len, n;

        if (bytes_at(in, off, seg, 4) < 0 || seg[0] != 0xFF ||
            seg[1] == 0xDA || seg[1] == 0xD9)
            return 0;
        len = (size_t)seg[2] << 8 | seg[3];
        if (len < 2)
            return 0;
        n = len - 2 < sizeof(text) - 1 ? len - 2 : sizeof(text) - 1;
        if (seg[1] == 0xFE && n >= mlen && bytes_at(in, off + 4, text, n) == 0
            && memcmp(text, LOOKQ_MARK, mlen) == 0) {
            text[n] = '\0';
            task_result_skip(res, ERR_ALREADY_COMPRESSED, "already "
                             "recompressed to a look target (%s; --force "
                             "re-encodes anyway)", (char *)text + 8);
            return 1;
        }
        off += 2 + (int64_t)len;
    }
    return 0;
}

int
lookq_mark(struct encode_out *out, double d, struct task_result *res)
{
    const unsigned char *b = out->buf;
    unsigned char *nb;
    char text[64];
    size_t at = 2, n, tl;

    tl = (size_t)snprintf(text, sizeof(text), LOOKQ_MARK "%.3f quality %d",
                          d, res->look_quality);
    if (out->len < 4 || b[0] != 0xFF || b[1] != 0xD8) {
        task_result_fail(res, ERR_INTERNAL, "cannot mark the output: not a "
                         "JPEG");
        return -1;
    }
    /* After a leading JFIF APP0, where readers expect that. */
    if (b[2] == 0xFF && b[3] == 0xE0 && out->len >= 6)
        at = 4 + ((size_t)b[4] << 8 | b[5]);
    if (at > out->len) {
        task_result_fail(res, ERR_INTERNAL, "cannot mark the output: a "
                         "broken APP0");
        return -1;
    }
    n = out->len + 4 + tl;
    nb = malloc(n);
    if (!nb) {
        task_result_fail(res, ERR_OUT_OF_MEMORY, "cannot mark the output");
        return -1;
    }
    memcpy(nb, b, at);
    nb[at] = 0xFF;
    nb[at + 1] = 0xFE;
    nb[at + 2] = (unsigned char)((tl + 2) >> 8);
    nb[at + 3] = (unsigned char)((tl + 2) & 0xFF);
    memcpy(nb + at + 4, text, tl);
    memcpy(nb + at + 4 + tl, b + at, out->len - at);
    encode_out_release(out);
    out->buf = nb;
    out->len = n;
    out->buf_glib = 0;
    return 0;
}
