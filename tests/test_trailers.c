/*
 * test_trailers.c - originals that recompression must leave whole or
 * refuse: motion photos (Google XMP + an MP4 after EOI, a Samsung
 * trailer), other data after EOI, an MPF index past the first 256 KiB,
 * XMP that declares a container; padding after EOI that may go.  Damaged
 * sources (a zero tail, corrupt entropy-coded data) under a strict
 * --fail-on; a size declared after 320 KB of markers; a 20 KB JPEG head
 * followed by a 4 GiB hole on every path.  Each case runs in place and
 * with -o, and checks the record and that the original is byte for byte
 * what it was.  The tail.h helpers on hand-made buffers and files.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "inplace_fixtures.h"
#include "guard.h"
#include "tail.h"

INPLACE_TREE

TestSuite(trailers, .init = setup, .fini = teardown, .timeout = 120);

/* ---- building the files ---- */

/* A 640x480 photo-like JPEG at quality 97 (recompression saves plenty),
 * in a new buffer. */
static unsigned char *
photo(size_t *len, uint32_t seed)
{
    char *p = th_path(tmp, "photo-src.jpg");
    char *data;

    gen_jpeg(p, 640, 480, GEN_RGB420, 97, 0, seed);
    data = th_read_file(p, len);
    unlink(p);
    free(p);
    return (unsigned char *)data;
}

/* A growing file image. */
struct buf {
    unsigned char *p;
    size_t len;
};

static void
buf_add(struct buf *b, const void *data, size_t n)
{
    b->p = realloc(b->p, b->len + n);
    cr_assert(b->p != NULL, "out of memory");
    memcpy(b->p + b->len, data, n);
    b->len += n;
}

/* A marker segment: 0xFF @marker, its length, @n bytes of @data. */
static void
buf_segment(struct buf *b, int marker, const void *data, size_t n)
{
    unsigned char h[4] = {0xFF, (unsigned char)marker,
                          (unsigned char)((n + 2) >> 8),
                          (unsigned char)((n + 2) & 0xFF)};

    cr_assert(n + 2 <= 0xFFFF);
    buf_add(b, h, 4);
    buf_add(b, data, n);
}

/* An APP1 XMP segment holding @props in an rdf:Description. */
static void
buf_xmp(struct buf *b, const char *props)
{
    static const char ns[] = "http://ns.adobe.com/xap/1.0/";
    char *x = xasprintf("%s%c<x:xmpmeta xmlns:x=\"adobe:ns:meta/\"><rdf:RDF "
                        "xmlns:rdf=\"http://www.w3.org/1999/02/22-rdf-syntax"
                        "-ns#\"><rdf:Description rdf:about=\"\" %s/>"
                        "</rdf:RDF></x:xmpmeta>", ns, 0, props);

    buf_segment(b, 0xE1, x, sizeof(ns) + strlen(x + sizeof(ns)));
    free(x);
}

/* The JPEG @j (@n bytes) with @pre segments after its SOI and @post
 * bytes after its EOI. */
static struct buf
wrap(const unsigned char *j, size_t n, const struct buf *pre,
     const struct buf *post)
{
    struct buf b = {NULL, 0};

    buf_add(&b, j, 2);
    if (pre)
        buf_add(&b, pre->p, pre->len);
    buf_add(&b, j + 2, n - 2);
    if (post)
        buf_add(&b, post->p, post->len);
    return b;
}

/* A fake MP4: an ftyp box and an mdat box of @n bytes of pattern. */
static void
buf_mp4(struct buf *b, size_t n)
{
    static const unsigned char ftyp[] = {
        0, 0, 0, 0x18, 'f', 't', 'y', 'p', 'm', 'p', '4', '2',
        0, 0, 0, 0, 'm', 'p', '4', '2', 'i', 's', 'o', 'm',
    };
    unsigned char h[8] = {(unsigned char)((n + 8) >> 24),
                          (unsigned char)((n + 8) >> 16),
                          (unsigned char)((n + 8) >> 8),
                          (unsigned char)(n + 8), 'm', 'd', 'a', 't'};

    buf_add(b, ftyp, sizeof(ftyp));
    buf_add(b, h, 8);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)(i * 131 + 7);
        buf_add(b, &c, 1);
    }
}

static char *
put(const char *rel, const struct buf *b)
{
    char *p = th_path(in, rel);

    th_write_file(p, b->p, b->len);
    return p;
}

/* ---- running ---- */

/* imgpool with the NULL-terminated arguments @extra ("-o" and DIR
 * included where wanted) over @in/@name with a report; its record. */
static json_t *
run_rec(json_t **arr, const char *name, const char *const *extra)
{
    const char *args[24];
    char *file = th_path(in, name);
    struct th_run r;
    size_t n = 0;
    json_t *rec;

    for (; extra[n]; n++)
        args[n] = extra[n];
    args[n++] = "--report";
    args[n++] = rep;
    args[n++] = file;
    args[n] = NULL;
    th_run(&r, args);
    free(file);
    cr_assert(r.status == 0 || r.status == 1, "exit %d: %s", r.status,
              r.err);
    th_run_release(&r);
    *arr = th_read_jsonl(rep);
    rec = record(*arr, name);
    cr_assert_not_null(rec, "no record for %s", name);
    return rec;
}

/* In place and to -o: @name is left as it was with @status and @cls, and
 * -o writes no output for it. */
static void
assert_left_whole(const char *name, const char *status, const char *cls)
{
    char *p = th_path(in, name), *out = th_path(tmp, "out");
    char *o = th_path(out, name);
    const char *ip[] = {"recompress", "--in-place", NULL};
    const char *ipw[] = {"recompress", "--in-place", "--fail-on", "warning",
                         NULL};
    const char *to[] = {"recompress", "-o", out, NULL};
    const char *const *runs[] = {ip, ipw, to};
    struct fsnap f;

    fsnap_take(&f, p);
    for (size_t k = 0; k < 3; k++) {
        json_t *arr, *rec = run_rec(&arr, name, runs[k]);

        cr_assert_str_eq(str_of(rec, "status"), status, "%s, run %zu: %s",
                         name, k, class_of(rec));
        cr_assert_str_eq(class_of(rec), cls, "%s, run %zu", name, k);
        assert_untouched(&f, p);
        json_decref(arr);
    }
    cr_assert_not(th_exists(o), "-o wrote '%s' anyway", o);
    cr_assert_eq(count_tmp_files(in), 0);
    fsnap_release(&f);
    th_rmrf(out);
    free(o);
    free(out);
    free(p);
}

/* In place replaces @name (it is recompressed: ok, smaller). */
static void
assert_replaced(const char *name)
{
    char *p = th_path(in, name);
    const char *ip[] = {"recompress", "--in-place", NULL};
    struct stat before, after;
    json_t *arr, *rec;

    stat_or_die(p, &before);
    rec = run_rec(&arr, name, ip);
    cr_assert_str_eq(str_of(rec, "status"), "ok", "%s: %s", name,
                     class_of(rec));
    stat_or_die(p, &after);
    cr_assert_lt(after.st_size, before.st_size);
    json_decref(arr);
    free(p);
}

/* ---- motion photos and trailers ---- */

Test(trailers, google_motion_photo_is_left_whole_and_thumbnailed)
{
    size_t n;
    unsigned char *j = photo(&n, 1);
    struct buf pre = {NULL, 0}, post = {NULL, 0}, f;
    char *p, *out = th_path(tmp, "thumbs"), *o;
    const char *th[] = {"thumbnail", "-o", out, NULL};
    json_t *arr, *rec;

    buf_xmp(&pre, "xmlns:GCamera=\"http://ns.google.com/photos/1.0/camera/\" "
            "xmlns:Container=\"http://ns.google.com/photos/1.0/container/\" "
            "GCamera:MotionPhoto=\"1\" GCamera:MotionPhotoVersion=\"1\"");
    buf_mp4(&post, 200000);
    f = wrap(j, n, &pre, &post);
    p = put("PXL_20240101_120000000.MP.jpg", &f);
    assert_left_whole("PXL_20240101_120000000.MP.jpg", "skipped",
                      "motion-photo");
    /* A thumbnail replaces nothing: it is made as from any JPEG. */
    rec = run_rec(&arr, "PXL_20240101_120000000.MP.jpg", th);
    cr_assert_str_eq(str_of(rec, "status"), "ok", "%s", class_of(rec));
    o = th_path(out, "PXL_20240101_120000000.MP.jpg");
    th_assert_thumbnail(o, 300);
    json_decref(arr);
    free(o);
    free(out);
    free(p);
    free(f.p);
    free(pre.p);
    free(post.p);
    free(j);
}

Test(trailers, video_after_eoi_without_xmp_is_a_motion_photo)
{
    size_t n;
    unsigned char *j = photo(&n, 2);
    struct buf post = {NULL, 0}, sam = {NULL, 0}, f, g;
    char *p, *q;

    buf_mp4(&post, 50000);
    f = wrap(j, n, NULL, &post);
    p = put("mp4.jpg", &f);
    /* Samsung: a named block, the video, an index ending in SEFT. */
    buf_add(&sam, "\0\0MotionPhoto_Data", 18);
    buf_mp4(&sam, 30000);
    buf_add(&sam, "SEFH\x6b\0\0\0\x01\0\0\0\0\0\0\0SEFT", 20);
    g = wrap(j, n, NULL, &sam);
    q = put("samsung.jpg", &g);
    assert_left_whole("mp4.jpg", "skipped", "motion-photo");
    assert_left_whole("samsung.jpg", "skipped", "motion-photo");
    free(p);
    free(q);
    free(f.p);
    free(g.p);
    free(post.p);
    free(sam.p);
    free(j);
}

/* A motion photo already at or below -q: a lossy in-place run gives such
 * a file the lossless pass instead, and --lossless rewrites every JPEG;
 * neither may drop the video after EOI. */
Test(trailers, lossless_pass_leaves_a_motion_photo_whole)
{
    char *src = th_path(tmp, "q75.jpg"), *out = th_path(tmp, "out");
    char *p, *o;
    size_t n;
    unsigned char *j;
    struct buf post = {NULL, 0}, f;
    const char *ip[] = {"recompress", "--in-place", NULL};
    const char *ipl[] = {"recompress", "--in-place", "--lossless", NULL};
    const char *tol[] = {"recompress", "--lossless", "-o", out, NULL};
    const char *const *runs[] = {ip, ipl, tol};
    struct fsnap snap;

    gen_jpeg(src, 640, 480, GEN_RGB420, 75, 0, 21);
    j = (unsigned char *)th_read_file(src, &n);
    buf_mp4(&post, 60000);
    f = wrap(j, n, NULL, &post);
    p = put("low.jpg", &f);
    fsnap_take(&snap, p);
    for (size_t k = 0; k < 3; k++) {
        json_t *arr, *rec = run_rec(&arr, "low.jpg", runs[k]);

        cr_assert_str_eq(str_of(rec, "status"), "skipped", "run %zu: %s", k,
                         class_of(rec));
        cr_assert_str_eq(class_of(rec), "motion-photo", "run %zu", k);
        assert_untouched(&snap, p);
        json_decref(arr);
    }
    o = th_path(out, "low.jpg");
    cr_assert_not(th_exists(o), "--lossless -o wrote '%s' anyway", o);
    fsnap_release(&snap);
    free(o);
    free(p);
    free(f.p);
    free(post.p);
    free(j);
    free(out);
    free(src);
}

Test(trailers, other_data_after_eoi_is_kept_and_padding_is_not)
{
    size_t n;
    unsigned char *j = photo(&n, 3);
    struct buf junk = {NULL, 0}, pad = {NULL, 0}, late = {NULL, 0};
    struct buf f, g, h;
    unsigned char zeros[3000], ones[100];
    char *p, *q, *r;

    /* A vendor block after 5000 bytes of padding. */
    memset(zeros, 0, sizeof(zeros));
    buf_add(&late, zeros, sizeof(zeros));
    buf_add(&late, zeros, 2000);
    buf_add(&late, "VENDORDATA:1234", 15);
    buf_add(&junk, "x", 1);
    memset(ones, 0xFF, sizeof(ones));
    buf_add(&pad, zeros, sizeof(zeros));
    buf_add(&pad, ones, sizeof(ones));
    f = wrap(j, n, NULL, &junk);
    g = wrap(j, n, NULL, &late);
    h = wrap(j, n, NULL, &pad);
    p = put("one-byte.jpg", &f);
    q = put("late-block.jpg", &g);
    r = put("padded.jpg", &h);
    assert_left_whole("one-byte.jpg", "skipped", "has-trailer");
    assert_left_whole("late-block.jpg", "skipped", "has-trailer");
    /* Only 0x00 and 0xFF after EOI: padding, recompressed as usual. */
    assert_replaced("padded.jpg");
    free(p);
    free(q);
    free(r);
    free(f.p);
    free(g.p);
    free(h.p);
    free(junk.p);
    free(pad.p);
    free(late.p);
    free(j);
}

Test(trailers, xmp_declaring_a_container_is_enough)
{
    size_t n;
    unsigned char *j = photo(&n, 4);
    struct buf a = {NULL, 0}, b = {NULL, 0}, c = {NULL, 0};
    struct buf fa, fb, fc;
    char *pa, *pb, *pc;

    /* Element form, the older MicroVideo name. */
    buf_xmp(&a, "xmlns:GCamera=\"http://ns.google.com/photos/1.0/camera/\">"
            "<GCamera:MicroVideo>1</GCamera:MicroVideo><x:y");
    buf_xmp(&b, "xmlns:Container=\"http://ns.google.com/photos/1.0/"
            "container/\"><Container:Directory><rdf:Seq/>"
            "</Container:Directory><x:y");
    /* MotionPhoto="0": the video was removed; nothing to keep. */
    buf_xmp(&c, "xmlns:GCamera=\"http://ns.google.com/photos/1.0/camera/\" "
            "GCamera:MotionPhoto=\"0\" GCamera:MotionPhotoVersion=\"1\"");
    fa = wrap(j, n, &a, NULL);
    fb = wrap(j, n, &b, NULL);
    fc = wrap(j, n, &c, NULL);
    pa = put("micro.jpg", &fa);
    pb = put("container.jpg", &fb);
    pc = put("was-motion.jpg", &fc);
    assert_left_whole("micro.jpg", "skipped", "motion-photo");
    assert_left_whole("container.jpg", "skipped", "has-trailer");
    assert_replaced("was-motion.jpg");
    free(pa);
    free(pb);
    free(pc);
    free(fa.p);
    free(fb.p);
    free(fc.p);
    free(a.p);
    free(b.p);
    free(c.p);
    free(j);
}

/* An APP2 MPF index declaring @count images (big-endian). */
static void
buf_mpf(struct buf *b, unsigned count)
{
    unsigned char s[4 + 8 + 2 + 24 + 4] = {'M', 'P', 'F', 0, 'M', 'M', 0,
                                           '*', 0, 0, 0, 8, 0, 2};
    unsigned char *e = s + 14;

    memcpy(e, "\xB0\x00\x00\x07\x00\x00\x00\x04" "0100", 12);
    memcpy(e + 12, "\xB0\x01\x00\x04\x00\x00\x00\x01", 8);
    e[20] = (unsigned char)(count >> 24);
    e[21] = (unsigned char)(count >> 16);
    e[22] = (unsigned char)(count >> 8);
    e[23] = (unsigned char)count;
    buf_segment(b, 0xE2, s, sizeof(s));
}

Test(trailers, mpf_index_past_the_first_256k_is_seen)
{
    size_t n, m;
    unsigned char *j = photo(&n, 5), *second = photo(&m, 6);
    unsigned char com[60000];
    struct buf pre = {NULL, 0}, post = {NULL, 0}, f;
    char *p;

    memset(com, 'c', sizeof(com));
    for (int k = 0; k < 5; k++)             /* 300 KB of comments first */
        buf_segment(&pre, 0xFE, com, sizeof(com));
    buf_mpf(&pre, 2);
    buf_add(&post, second, m);
    f = wrap(j, n, &pre, &post);
    p = put("late-mpf.jpg", &f);
    assert_left_whole("late-mpf.jpg", "skipped", "multi-picture");
    free(p);
    free(f.p);
    free(pre.p);
    free(post.p);
    free(second);
    free(j);
}

/* ---- damaged sources under a strict --fail-on ---- */

/* @j with its last @pct percent set to @c. */
static struct buf
tail_set(const unsigned char *j, size_t n, int pct, int c)
{
    struct buf b = {NULL, 0};
    size_t from = n - n * (size_t)pct / 100;

    buf_add(&b, j, n);
    memset(b.p + from, c, n - from);
    return b;
}

Test(trailers, zero_or_constant_tail_fails_strict_recompression)
{
    size_t n;
    unsigned char *j = photo(&n, 7);
    struct buf z20 = tail_set(j, n, 20, 0), z50 = tail_set(j, n, 50, 0);
    struct buf ff = tail_set(j, n, 30, 0xFF);
    char *a = put("zero20.jpg", &z20), *b = put("zero50.jpg", &z50);
    char *c = put("ff30.jpg", &ff);

    assert_left_whole("zero20.jpg", "failed", "truncated");
    assert_left_whole("zero50.jpg", "failed", "truncated");
    assert_left_whole("ff30.jpg", "failed", "truncated");
    free(a);
    free(b);
    free(c);
    free(z20.p);
    free(z50.p);
    free(ff.p);
    free(j);
}

Test(trailers, corrupt_entropy_data_fails_strict_recompression)
{
    size_t n;
    unsigned char *j = photo(&n, 8);
    struct buf b = {NULL, 0};
    char *p;

    buf_add(&b, j, n);
    /* Damage in the middle of the scan, EOI intact. */
    for (size_t k = 0; k < 2000; k += 7)
        b.p[n / 2 + k] ^= 0x5A;
    p = put("corrupt.jpg", &b);
    assert_left_whole("corrupt.jpg", "failed", "corrupt-data");
    free(p);
    free(b.p);
    free(j);
}

/* A lenient thumbnail of a zero-tailed JPEG: both decoders count the rows
 * before the zeros, and agree. */
Test(trailers, zero_tail_thumbnail_rows_agree_on_both_paths)
{
    size_t n;
    unsigned char *j = photo(&n, 9);
    struct buf z = tail_set(j, n, 40, 0);
    char *p = put("zero40.jpg", &z), *out = th_path(tmp, "out");
    const char *fast[] = {"thumbnail", "-o", out, NULL};
    const char *slow[] = {"thumbnail", "--no-fast-path", "-o", out, NULL};
    json_t *arr, *rec;
    long long r1, r2;

    rec = run_rec(&arr, "zero40.jpg", fast);
    cr_assert_str_eq(str_of(rec, "status"), "ok", "%s", class_of(rec));
    r1 = int_of(rec, "decoded_rows");
    json_decref(arr);
    th_rmrf(out);
    rec = run_rec(&arr, "zero40.jpg", slow);
    cr_assert_str_eq(str_of(rec, "status"), "ok", "%s", class_of(rec));
    r2 = int_of(rec, "decoded_rows");
    json_decref(arr);
    /* About 60% of 480 rows hold data; one MCU row (16) of slack. */
    cr_assert(r1 > 200 && r1 < 400, "direct path: %lld rows", r1);
    cr_assert(r2 > 200 && r2 < 400, "libvips path: %lld rows", r2);
    cr_assert(llabs(r1 - r2) <= 16, "rows %lld and %lld", r1, r2);
    free(out);
    free(p);
    free(z.p);
    free(j);
}

/* ---- sizes declared late ---- */

Test(trailers, size_declared_after_320k_of_markers_is_too_large)
{
    size_t n;
    unsigned char *j = photo(&n, 10), com[64000];
    struct buf pre = {NULL, 0}, f;
    char *p;
    size_t k;

    memset(com, ' ', sizeof(com));
    for (k = 0; k < 5; k++)                 /* 320 KB before the SOF */
        buf_segment(&pre, 0xFE, com, sizeof(com));
    f = wrap(j, n, &pre, NULL);
    /* The frame header now declares 20000 x 20000. */
    for (k = 2 + pre.len; k + 9 < f.len; k++)
        if (f.p[k] == 0xFF && f.p[k + 1] == 0xC0)
            break;
    cr_assert(k + 9 < f.len, "no SOF0");
    f.p[k + 5] = 20000 >> 8;
    f.p[k + 6] = 20000 & 0xFF;
    f.p[k + 7] = 20000 >> 8;
    f.p[k + 8] = 20000 & 0xFF;
    p = put("late-sof.jpg", &f);
    assert_left_whole("late-sof.jpg", "failed", "too-large");
    free(p);
    free(f.p);
    free(pre.p);
    free(j);
}

/* A q75 photo behind 320 KB of comments: the open stage still reads its
 * header (jpeghead.h), so in place estimates its quality and leaves it
 * alone, and a thumbnail has its size. */
Test(trailers, late_frame_header_is_read_by_the_open_stage)
{
    char *src = th_path(tmp, "q75.jpg"), *p, *out = th_path(tmp, "out");
    char *o = th_path(out, "late-q75.jpg");
    const char *ip[] = {"recompress", "--in-place", NULL};
    const char *th[] = {"thumbnail", "-o", out, NULL};
    unsigned char com[64000];
    struct buf pre = {NULL, 0}, f;
    unsigned char *j;
    size_t n;
    struct fsnap snap;
    json_t *arr, *rec;

    gen_jpeg(src, 640, 480, GEN_RGB420, 75, 6, 14);
    j = (unsigned char *)th_read_file(src, &n);
    memset(com, ' ', sizeof(com));
    for (int k = 0; k < 5; k++)
        buf_segment(&pre, 0xFE, com, sizeof(com));
    f = wrap(j, n, &pre, NULL);
    p = put("late-q75.jpg", &f);
    fsnap_take(&snap, p);
    rec = run_rec(&arr, "late-q75.jpg", ip);
    cr_assert_str_eq(str_of(rec, "status"), "skipped");
    cr_assert_str_eq(class_of(rec), "already-compressed");
    /* Orientation 6 read from the EXIF block: upright 480 x 640. */
    cr_assert_eq(int_of(rec, "in_width"), 480);
    cr_assert_eq(int_of(rec, "in_height"), 640);
    assert_untouched(&snap, p);
    json_decref(arr);
    rec = run_rec(&arr, "late-q75.jpg", th);
    cr_assert_str_eq(str_of(rec, "status"), "ok", "%s", class_of(rec));
    th_assert_thumbnail(o, 300);
    cr_assert_eq(int_of(rec, "out_width"), 225);
    cr_assert_eq(int_of(rec, "out_height"), 300);
    json_decref(arr);
    fsnap_release(&snap);
    free(f.p);
    free(pre.p);
    free(j);
    free(o);
    free(out);
    free(p);
    free(src);
}

/* ---- the tail.h helpers ---- */

Test(trailers, xmp_container_reader)
{
    static const struct {
        const char *xmp;
        enum tail_xmp want;
    } cases[] = {
        {"GCamera:MotionPhoto=\"1\"", TAIL_XMP_MOTION},
        {"Camera:MotionPhoto = '1'", TAIL_XMP_MOTION},
        {"<GCamera:MotionPhoto>1</GCamera:MotionPhoto>", TAIL_XMP_MOTION},
        {"GCamera:MicroVideo=\"1\" GCamera:MicroVideoOffset=\"99\"",
         TAIL_XMP_MOTION},
        {"GCamera:MotionPhoto=\"0\"", TAIL_XMP_NONE},
        {"GCamera:MotionPhotoVersion=\"1\"", TAIL_XMP_NONE},
        {"<Container:Directory>", TAIL_XMP_CONTAINER},
        {"xmlns:C=\"http://ns.google.com/photos/1.0/container/\"",
         TAIL_XMP_CONTAINER},
        {"dc:title=\"MotionPhoto\"", TAIL_XMP_NONE},
        {"", TAIL_XMP_NONE},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        cr_expect_eq(tail_xmp_container((const unsigned char *)cases[i].xmp,
                                        strlen(cases[i].xmp)),
                     cases[i].want, "'%s'", cases[i].xmp);
}

/* guard_jpeg_walk() over @b written to a file. */
static void
walk_of(const struct buf *b, struct guard_jpeg_walk *w)
{
    char *p = put("w.jpg", b);
    int fd = open(p, O_RDONLY);

    cr_assert(fd >= 0);
    cr_assert_eq(guard_jpeg_walk(fd, (int64_t)b->len, GUARD_MAX_SCANS, w),
                 0);
    close(fd);
    unlink(p);
    free(p);
}

Test(trailers, walk_reports_the_end_marker_mpf_and_xmp)
{
    size_t n;
    unsigned char *j = photo(&n, 13), com[60000];
    struct buf pre = {NULL, 0}, post = {NULL, 0}, f;
    struct guard_jpeg_walk w;

    f = wrap(j, n, NULL, NULL);
    walk_of(&f, &w);
    cr_expect(w.eoi && w.eoi_end == (int64_t)n, "EOI at %lld of %zu",
              (long long)w.eoi_end, n);
    cr_expect_eq(w.mpf_images, 0);
    cr_expect_eq(w.xmp, TAIL_XMP_NONE);
    free(f.p);

    memset(com, 'c', sizeof(com));
    for (int k = 0; k < 5; k++)
        buf_segment(&pre, 0xFE, com, sizeof(com));
    buf_mpf(&pre, 3);
    buf_xmp(&pre, "GCamera:MicroVideo=\"1\"");
    buf_add(&post, "trailer", 7);
    f = wrap(j, n, &pre, &post);
    walk_of(&f, &w);
    cr_expect(w.eoi && w.eoi_end == (int64_t)(n + pre.len), "EOI at %lld",
              (long long)w.eoi_end);
    cr_expect_eq(w.mpf_images, 3, "the index past 300 KB");
    cr_expect_eq(w.xmp, TAIL_XMP_MOTION);
    free(f.p);
    free(pre.p);
    free(post.p);
    free(j);
}

/* tail_data_end() of a file holding @b and then @hole bytes of hole. */
static int64_t
data_end_of(const struct buf *b, off_t hole)
{
    char *p = put("t.bin", b);
    int fd = open(p, O_RDWR);
    int64_t e;
    struct stat st;

    cr_assert(fd >= 0);
    if (hole)
        cr_assert_eq(ftruncate(fd, (off_t)b->len + hole), 0);
    cr_assert_eq(fstat(fd, &st), 0);
    e = tail_data_end(fd, st.st_size);
    close(fd);
    unlink(p);
    free(p);
    return e;
}

Test(trailers, data_end_finds_constant_tails_and_holes)
{
    struct buf b = {NULL, 0};
    unsigned char data[100000];

    for (size_t i = 0; i < sizeof(data); i++)
        data[i] = (unsigned char)(i * 7 + 1);
    data[sizeof(data) - 1] = 0x55;
    buf_add(&b, data, sizeof(data));
    cr_expect_eq(data_end_of(&b, 0), (int64_t)b.len, "no run: all data");
    memset(b.p + 60000, 0, 40000);
    cr_expect_eq(data_end_of(&b, 0), 60000, "zero tail");
    memset(b.p + 60000, 0xAB, 40000);
    cr_expect_eq(data_end_of(&b, 0), 60000, "constant tail");
    memset(b.p + 99800, 0, 200);
    cr_expect_eq(data_end_of(&b, 0), (int64_t)b.len, "200 bytes: data");
    memcpy(b.p, data, sizeof(data));
    b.p[sizeof(data) - 1] = 0x55;
    cr_expect_eq(data_end_of(&b, (off_t)1 << 32), (int64_t)b.len,
                 "a 4 GiB hole after the data");
    memset(b.p + 70000, 0, 30000);
    cr_expect_eq(data_end_of(&b, (off_t)1 << 30), 70000,
                 "zeros, then a hole");
    free(b.p);
}

/* ---- a 20 KB head and a 4 GiB hole, on every path ---- */

/* Old code: the direct decoder read the hole looking for EOI, 12 s per
 * 4 GiB on an idle machine; the timeout fails such a run. */
TestSuite(sparse, .init = setup, .fini = teardown, .timeout = 15);

Test(sparse, head_and_hole_gets_a_record_on_every_path)
{
    size_t n;
    unsigned char *j = photo(&n, 11);
    struct buf head = {NULL, 0};
    char *p, *out = th_path(tmp, "out");
    const char *fast[] = {"thumbnail", "-o", out, NULL};
    const char *slow[] = {"thumbnail", "--no-fast-path", "-o", out, NULL};
    const char *reco[] = {"recompress", "-o", out, NULL};
    const char *ip[] = {"recompress", "--in-place", NULL};
    const char *const *runs[] = {fast, slow, reco, ip};
    const char *status[2] = {NULL, NULL};
    long long rows[2] = {-1, -1};
    struct stat st;

    cr_assert_gt(n, 20000);
    buf_add(&head, j, 20000);
    p = put("sparse.jpg", &head);
    cr_assert_eq(truncate(p, (off_t)1 << 32), 0);
    for (size_t k = 0; k < 4; k++) {
        json_t *arr, *rec = run_rec(&arr, "sparse.jpg", runs[k]);

        if (k < 2) {
            /* Thumbnails: lenient, the decoded_rows rule decides. */
            status[k] = strdup(str_of(rec, "status"));
            rows[k] = int_of(rec, "decoded_rows");
        } else {
            cr_assert_str_eq(str_of(rec, "status"), "failed", "run %zu",
                             k);
            cr_assert_str_eq(class_of(rec), "truncated", "run %zu", k);
        }
        json_decref(arr);
        th_rmrf(out);
    }
    /* The rows of the 20 KB (a small part of the 480), the same on both
     * paths, and so the same status. */
    cr_assert(rows[0] > 0 && rows[0] < 240 && rows[0] == rows[1],
              "decoded rows %lld and %lld", rows[0], rows[1]);
    cr_assert_str_eq(status[0], status[1]);
    free((char *)status[0]);
    free((char *)status[1]);
    stat_or_die(p, &st);
    cr_assert_eq(st.st_size, (off_t)1 << 32, "the original changed");
    cr_assert_lt((long long)st.st_blocks * 512, 1 << 20, "hole filled");
    free(p);
    free(out);
    free(head.p);
    free(j);
}

/* The same with one byte of junk after the hole: the hole is inside the
 * file, not its end.  The walk skips it (SEEK_DATA), and the direct
 * decoder stops 1 MiB after the last row instead of reading it all in
 * search of EOI. */
Test(sparse, hole_inside_the_file_costs_no_more_than_the_image)
{
    size_t n;
    unsigned char *j = photo(&n, 12);
    struct buf head = {NULL, 0};
    char *p, *out = th_path(tmp, "out");
    const char *fast[] = {"thumbnail", "-o", out, NULL};
    const char *slow[] = {"thumbnail", "--no-fast-path", "-o", out, NULL};
    const char *reco[] = {"recompress", "-o", out, NULL};
    const char *ip[] = {"recompress", "--in-place", NULL};
    const char *const *runs[] = {fast, slow, reco, ip};
    int fd;

    buf_add(&head, j, 20000);
    p = put("holed.jpg", &head);
    fd = open(p, O_WRONLY);
    cr_assert(fd >= 0);
    cr_assert_eq(pwrite(fd, "x", 1, ((off_t)1 << 32) - 1), 1);
    close(fd);
    for (size_t k = 0; k < 4; k++) {
        json_t *arr, *rec = run_rec(&arr, "holed.jpg", runs[k]);

        /* Thumbnails: the zeros decode as (grey) data, so lenient ones
         * may pass; recompression refuses the missing end marker. */
        if (k >= 2) {
            cr_assert_str_eq(str_of(rec, "status"), "failed", "run %zu",
                             k);
            cr_assert_str_eq(class_of(rec), "truncated", "run %zu", k);
        } else {
            cr_assert(strcmp(str_of(rec, "status"), "ok") == 0 ||
                      strcmp(class_of(rec), "truncated") == 0,
                      "run %zu: %s", k, class_of(rec));
        }
        json_decref(arr);
        th_rmrf(out);
    }
    free(p);
    free(out);
    free(head.p);
    free(j);
}
