/*
 * test_inplace_mpf.c - JPEGs with further MPF images (an Ultra HDR gain
 * map, a camera preview): in place they are left alone, byte for byte,
 * with the class multi-picture; the MPF index reader on hand-made
 * segments of both byte orders and damaged ones.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include <vips/vips.h>

#include "helpers.h"
#include "mpf.h"

static char *dir;

static void
setup(void)
{
    cr_assert_eq(VIPS_INIT("test"), 0);
    dir = th_mkdtemp();
}

static void
teardown(void)
{
    th_rmrf(dir);
    free(dir);
}

TestSuite(mpf, .init = setup, .fini = teardown, .timeout = 60);

static void
put16(unsigned char *p, unsigned v, int le)
{
    p[le ? 0 : 1] = (unsigned char)(v & 0xff);
    p[le ? 1 : 0] = (unsigned char)(v >> 8);
}

static void
put32(unsigned char *p, unsigned long v, int le)
{
    put16(p + (le ? 0 : 2), (unsigned)(v & 0xffff), le);
    put16(p + (le ? 2 : 0), (unsigned)(v >> 16), le);
}

/* An APP2 MPF segment declaring @count images into @seg; its length. */
static size_t
mpf_segment(unsigned char *seg, unsigned long count, int le)
{
    unsigned char *t = seg + 8;
    size_t tlen = 8 + 2 + 2 * 12 + 4;

    memset(seg, 0, 8 + tlen);
    seg[0] = 0xFF;
    seg[1] = 0xE2;
    put16(seg + 2, (unsigned)(2 + 4 + tlen), 0);
    memcpy(seg + 4, "MPF", 4);
    memcpy(t, le ? "II*\0" : "MM\0*", 4);
    put32(t + 4, 8, le);
    put16(t + 8, 2, le);
    put16(t + 10, 0xB000, le);          /* MPFVersion, UNDEFINED[4] */
    put16(t + 12, 7, le);
    put32(t + 14, 4, le);
    memcpy(t + 18, "0100", 4);
    put16(t + 22, 0xB001, le);          /* NumberOfImages, LONG */
    put16(t + 24, 4, le);
    put32(t + 26, 1, le);
    put32(t + 30, count, le);
    return 8 + tlen;
}

/* A @w x @h JPEG at quality @q in a new buffer. */
static unsigned char *
jpeg_buf(int w, int h, int q, size_t *len)
{
    VipsImage *img = NULL;
    void *buf = NULL;

    cr_assert_eq(vips_black(&img, w, h, "bands", 3, NULL), 0);
    cr_assert_eq(vips_jpegsave_buffer(img, &buf, len, "Q", q, NULL), 0);
    g_object_unref(img);
    return buf;
}

/* Primary JPEG + MPF index after SOI + a second JPEG appended. */
static unsigned char *
ultra_hdr_like(size_t *len)
{
    size_t l1, l2, slen;
    unsigned char *a = jpeg_buf(640, 480, 100, &l1);
    unsigned char *b = jpeg_buf(160, 120, 80, &l2);
    unsigned char seg[128];
    unsigned char *out;

    slen = mpf_segment(seg, 2, 0);
    out = malloc(l1 + slen + l2);
    memcpy(out, a, 2);
    memcpy(out + 2, seg, slen);
    memcpy(out + 2 + slen, a + 2, l1 - 2);
    memcpy(out + l1 + slen, b, l2);
    *len = l1 + slen + l2;
    g_free(a);
    g_free(b);
    return out;
}

Test(mpf, index_reader)
{
    unsigned char buf[256] = {0xFF, 0xD8};
    size_t n;

    n = mpf_segment(buf + 2, 2, 0);
    cr_expect_eq(mpf_image_count(buf, n + 2), 2, "big-endian index");
    n = mpf_segment(buf + 2, 3, 1);
    cr_expect_eq(mpf_image_count(buf, n + 2), 3, "little-endian index");
    cr_expect_eq(mpf_image_count(buf, 20), 0, "segment cut off: not seen");
    buf[2 + 8] = 'X';                   /* broken byte order */
    cr_expect_eq(mpf_image_count(buf, n + 2), -1, "unreadable index");
    {
        size_t l;
        unsigned char *plain = jpeg_buf(32, 32, 90, &l);
        cr_expect_eq(mpf_image_count(plain, l), 0, "no MPF segment");
        g_free(plain);
    }
}

Test(mpf, in_place_leaves_multi_picture_files_alone)
{
    char *lib = th_path(dir, "lib");
    char *mp = th_path(lib, "hdr.jpg"), *plain = th_path(lib, "plain.jpg");
    char *rep = th_path(dir, "r.jsonl");
    const char *args[] = {"recompress", "--in-place", "--report", rep, lib,
                          NULL};
    unsigned char *data, *p;
    size_t len, plen, got;
    char *after;
    struct th_run r;
    json_t *arr, *rec;

    th_mkdirs(lib);
    data = ultra_hdr_like(&len);
    th_write_file(mp, data, len);
    p = jpeg_buf(640, 480, 100, &plen);
    th_write_file(plain, p, plen);
    th_run(&r, args);
    cr_expect_eq(r.status, 0, "exit %d: %s", r.status, r.err);
    after = th_read_file(mp, &got);
    cr_expect(got == len && memcmp(after, data, len) == 0,
              "the multi-picture file was changed");
    arr = th_read_jsonl(rep);
    rec = th_find_record(arr, "/hdr.jpg");
    cr_assert(rec);
    cr_expect_str_eq(th_json_str(rec, "status"), "skipped");
    cr_expect_str_eq(th_json_str(rec, "reason"), "multi-picture");
    rec = th_find_record(arr, "/plain.jpg");
    cr_assert(rec);
    cr_expect_str_eq(th_json_str(rec, "status"), "ok",
                     "an ordinary JPEG is still recompressed");
    json_decref(arr);
    th_run_release(&r);
    free(after);
    free(data);
    g_free(p);
    free(rep);
    free(plain);
    free(mp);
    free(lib);
}
