/*
 * test_hostile.c - files made to hurt or to mislead, run through the built
 * binary on every decode path: the direct decoders (the default for
 * thumbnails), libvips (--no-fast-path, and recompress -o, which keeps
 * metadata and so always goes there).
 *
 *   - bounded work: a progressive JPEG with one scan repeated 2,000 times
 *     (16000x16000 grey, about 1 MB) fails in under 5 s as too-complex;
 *     the scan cap's boundary; the warning cap;
 *   - honest lenient decoding: files without pixel data are failed
 *     (truncated), a damaged PNG IHDR is corrupt-header, a file cut halfway
 *     is ok with a warning and decoded_rows about half;
 *   - loader error classes: unsupported-format and too-large from the
 *     loaders' own refusals;
 *   - SVG input: rendered at the right size with the right colours, an
 *     absurd declared size refused, no other file read.
 *
 * Every input is generated here: the JPEGs bit by bit (so that a 256
 * megapixel image fits in a megabyte), the TIFF byte by byte, the AVIF
 * with libvips and a patched header.
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <turbojpeg.h>
#include <vips/vips.h>

#include "helpers.h"

static char *tmp, *in, *out, *report;

static void
setup(void)
{
    tmp = th_mkdtemp();
    in = th_path(tmp, "in");
    out = th_path(tmp, "out");
    report = th_path(tmp, "report.jsonl");
    th_mkdirs(in);
}

static void
teardown(void)
{
    th_rmrf(tmp);
    free(tmp);
    free(in);
    free(out);
    free(report);
}

TestSuite(hostile, .init = setup, .fini = teardown, .timeout = 120);

/* ------------------------------------------------------------------ */
/* A JPEG bit writer                                                   */
/* ------------------------------------------------------------------ */

struct jw {
    unsigned char *buf;
    size_t len, cap;
    unsigned acc;
    int nbits;
};

static void
jw_byte(struct jw *w, unsigned char c)
{
    if (w->len == w->cap) {
        w->cap = w->cap ? 2 * w->cap : 1 << 16;
        w->buf = realloc(w->buf, w->cap);
        cr_assert_not_null(w->buf);
    }
    w->buf[w->len++] = c;
}

static void
jw_bytes(struct jw *w, const unsigned char *p, size_t n)
{
    while (n--)
        jw_byte(w, *p++);
}

/* @n bits of @v, most significant first, with 0xFF byte stuffing. */
static void
jw_bits(struct jw *w, unsigned v, int n)
{
    while (n-- > 0) {
        w->acc = w->acc << 1 | ((v >> n) & 1);
        if (++w->nbits == 8) {
            jw_byte(w, (unsigned char)w->acc);
            if (w->acc == 0xFF)
                jw_byte(w, 0);
            w->acc = 0;
            w->nbits = 0;
        }
    }
}

/* End entropy-coded data: pad the last byte with one bits. */
static void
jw_flush(struct jw *w)
{
    while (w->nbits)
        jw_bits(w, 1, 1);
}

static void
jw_sos(struct jw *w, int ss, int se, int ah, int al)
{
    unsigned char sos[] = {0xFF, 0xDA, 0, 8, 1, 1, 0x00, (unsigned char)ss,
                           (unsigned char)se, (unsigned char)(ah << 4 | al)};

    jw_bytes(w, sos, sizeof(sos));
}

/* An AC first scan over @blocks blocks with no coefficients: end-of-band
 * runs only (symbol r<<4, code r in 4 bits, r extra bits). */
static void
jw_eob_scan(struct jw *w, long blocks)
{
    while (blocks > 0) {
        long run = blocks > 32767 ? 32767 : blocks;
        int r = 0;

        while ((1L << (r + 1)) <= run)
            r++;
        jw_bits(w, (unsigned)r, 4);
        jw_bits(w, (unsigned)(run - (1L << r)), r);
        blocks -= run;
    }
    jw_flush(w);
}

/*
 * A progressive grey JPEG of @width x @height (multiples of 8), flat mid
 * grey: one DC scan, then @ac_scans identical AC scans 1..63 with
 * successive approximation low bit @al.  With @al 0 the repeats are
 * silently accepted by libjpeg; with @al > 0 each repeat draws 63
 * "bogus progression" warnings.  Returns the bytes (caller frees).
 */
static unsigned char *
make_scans_jpeg(int width, int height, int ac_scans, int al, size_t *len)
{
    static const unsigned char soi[] = {0xFF, 0xD8};
    unsigned char sof[] = {0xFF, 0xC2, 0, 11, 8, 0, 0, 0, 0, 1, 1, 0x11, 0};
    /* DC table: symbol 0 (no difference) as the one code "0". */
    static const unsigned char dht_dc[] = {
        0xFF, 0xC4, 0, 20, 0x00, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 0x00};
    /* AC table: EOBn (n << 4) for n = 0..14, code n in 4 bits. */
    unsigned char dht_ac[5 + 16 + 15] = {0xFF, 0xC4, 0, 2 + 1 + 16 + 15,
                                         0x10};
    long blocks = (long)(width / 8) * (height / 8);
    struct jw w;
    long b;
    int i;

    memset(&w, 0, sizeof(w));
    sof[5] = (unsigned char)(height >> 8);
    sof[6] = (unsigned char)height;
    sof[7] = (unsigned char)(width >> 8);
    sof[8] = (unsigned char)width;
    dht_ac[5 + 3] = 15;
    for (i = 0; i < 15; i++)
        dht_ac[5 + 16 + i] = (unsigned char)(i << 4);
    jw_bytes(&w, soi, sizeof(soi));
    jw_byte(&w, 0xFF);
    jw_byte(&w, 0xDB);
    jw_byte(&w, 0);
    jw_byte(&w, 67);
    jw_byte(&w, 0);
    for (i = 0; i < 64; i++)
        jw_byte(&w, 1);
    jw_bytes(&w, sof, sizeof(sof));
    jw_bytes(&w, dht_dc, sizeof(dht_dc));
    jw_bytes(&w, dht_ac, sizeof(dht_ac));
    jw_sos(&w, 0, 0, 0, 0);
    for (b = 0; b < blocks; b++)
        jw_bits(&w, 0, 1);
    jw_flush(&w);
    for (i = 0; i < ac_scans; i++) {
        jw_sos(&w, 1, 63, 0, al);
        jw_eob_scan(&w, blocks);
    }
    jw_byte(&w, 0xFF);
    jw_byte(&w, 0xD9);
    *len = w.len;
    return w.buf;
}

/* ------------------------------------------------------------------ */
/* Running the binary                                                  */
/* ------------------------------------------------------------------ */

static double
now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* imgpool @mode @file -o out --report report [@extra...]; the record of
 * @file (caller decrefs @arr); the wall time in *secs when not NULL. */
static json_t *
run_one(const char *mode, const char *file, const char *extra1,
        const char *extra2, json_t **arr, double *secs)
{
    const char *args[] = {mode, file, "-o", out, "--report", report,
                          extra1, extra2, NULL};
    struct th_run r;
    double t0 = now_s();
    json_t *rec;
    const char *base = strrchr(file, '/') ? strrchr(file, '/') + 1 : file;

    th_rmrf(out);
    th_run(&r, args);
    if (secs)
        *secs = now_s() - t0;
    cr_assert(r.status == 0 || r.status == 1, "exit %d: %s", r.status,
              r.err);
    th_run_release(&r);
    *arr = th_read_jsonl(report);
    rec = th_find_record(*arr, base);
    cr_assert_not_null(rec, "no record for %s", base);
    return rec;
}

static const char *
rec_class(json_t *rec)
{
    json_t *err = json_object_get(rec, "error");

    return err ? th_json_str(err, "class") : NULL;
}

static const char *
rec_message(json_t *rec)
{
    json_t *err = json_object_get(rec, "error");

    return err ? th_json_str(err, "message") : NULL;
}

/* @file under @mode (+ @extra) fails with @cls. */
static void
assert_fails(const char *mode, const char *file, const char *extra,
             const char *cls)
{
    json_t *arr, *rec = run_one(mode, file, extra, NULL, &arr, NULL);

    cr_assert_str_eq(th_json_str(rec, "status"), "failed",
                     "%s %s %s: not failed", mode, file, extra ? extra : "");
    cr_assert_str_eq(rec_class(rec), cls, "%s %s %s: %s", mode, file,
                     extra ? extra : "", rec_message(rec));
    json_decref(arr);
}

static char *
write_input(const char *name, const void *data, size_t len)
{
    char *p = th_path(in, name);

    th_write_file(p, data, len);
    return p;
}

/* ------------------------------------------------------------------ */
/* Bounded work                                                        */
/* ------------------------------------------------------------------ */

/* The file: 16000x16000 grey, one AC scan repeated 2,000 times. */
static char *
many_scans_file(void)
{
    size_t len;
    unsigned char *j = make_scans_jpeg(16000, 16000, 2000, 0, &len);
    char *p = write_input("scans.jpg", j, len);

    cr_assert_lt(len, 2 * 1024 * 1024, "the file should be small: %zu",
                 len);
    free(j);
    return p;
}

static void
assert_many_scans_fail_fast(const char *mode, const char *extra)
{
    char *p = many_scans_file();
    json_t *arr, *rec;
    double secs;

    rec = run_one(mode, p, extra, NULL, &arr, &secs);
    cr_assert_str_eq(th_json_str(rec, "status"), "failed");
    cr_assert_str_eq(rec_class(rec), "too-complex", "%s", rec_message(rec));
    cr_assert(strstr(rec_message(rec), "100 scans"), "%s", rec_message(rec));
    /* Logged, not asserted: the record's class shows the refusal. */
    cr_log_info("refused in %.1f s", secs);
    json_decref(arr);
    free(p);
}

Test(hostile, many_scans_fail_fast_on_the_direct_path)
{
    assert_many_scans_fail_fast("thumbnail", NULL);
}

Test(hostile, many_scans_fail_fast_on_the_libvips_path)
{
    assert_many_scans_fail_fast("thumbnail", "--no-fast-path");
}

Test(hostile, many_scans_fail_fast_in_recompress)
{
    assert_many_scans_fail_fast("recompress", NULL);
}

Test(hostile, many_scans_fail_fast_with_lossless)
{
    assert_many_scans_fail_fast("recompress", "--lossless");
}

/* 100 scans are fine, 101 are not: on both paths. */
Test(hostile, scan_cap_boundary)
{
    const char *paths[] = {NULL, "--no-fast-path"};
    size_t len, i;
    unsigned char *j;
    char *p;
    json_t *arr, *rec;

    for (i = 0; i < 2; i++) {
        j = make_scans_jpeg(64, 64, 99, 0, &len);   /* DC + 99 = 100 */
        p = write_input("s100.jpg", j, len);
        free(j);
        rec = run_one("thumbnail", p, paths[i], NULL, &arr, NULL);
        cr_assert_str_eq(th_json_str(rec, "status"), "ok", "%s",
                         rec_message(rec));
        cr_assert_eq(th_json_int(rec, "out_width"), 64);
        json_decref(arr);
        free(p);

        j = make_scans_jpeg(64, 64, 100, 0, &len);  /* 101 scans */
        p = write_input("s101.jpg", j, len);
        free(j);
        assert_fails("thumbnail", p, paths[i], "too-complex");
        free(p);
    }
}

/* Each repeat of an AC scan with the wrong successive approximation bit
 * draws 63 warnings: 20 repeats go past the cap of 1000. */
Test(hostile, warning_cap_on_the_direct_path)
{
    size_t len;
    unsigned char *j = make_scans_jpeg(64, 64, 21, 1, &len);
    char *p = write_input("warn.jpg", j, len);
    json_t *arr, *rec;

    free(j);
    rec = run_one("thumbnail", p, NULL, NULL, &arr, NULL);
    cr_assert_str_eq(rec_class(rec), "too-complex", "%s", rec_message(rec));
    cr_assert(strstr(rec_message(rec), "1000 warnings"), "%s",
              rec_message(rec));
    json_decref(arr);
    /* A few repeats stay under the cap: ok, with the warnings. */
    j = make_scans_jpeg(64, 64, 3, 1, &len);
    free(p);
    p = write_input("warn3.jpg", j, len);
    free(j);
    rec = run_one("thumbnail", p, NULL, NULL, &arr, NULL);
    cr_assert_str_eq(th_json_str(rec, "status"), "ok", "%s",
                     rec_message(rec));
    cr_assert_not_null(json_object_get(rec, "warnings"));
    json_decref(arr);
    free(p);
}

/* ------------------------------------------------------------------ */
/* Honest lenient decoding                                             */
/* ------------------------------------------------------------------ */

/* Offset just past the first SOS segment of @j (its header, no data). */
static size_t
after_sos(const unsigned char *j, size_t len)
{
    size_t i;

    for (i = 2; i + 4 <= len; i++)
        if (j[i] == 0xFF && j[i + 1] == 0xDA)
            return i + 2 + ((size_t)j[i + 2] << 8 | j[i + 3]);
    cr_assert_fail("no SOS");
    return 0;
}

/* The file: a 5120x2880 baseline JPEG cut right after its SOS
 * (with @extra bytes of its scan data). */
static char *
cut_after_sos_file(size_t extra)
{
    tjhandle tj = tjInitCompress();
    unsigned char *px = malloc((size_t)5120 * 2880), *j = NULL;
    unsigned long jlen = 0;
    char *p;

    cr_assert(tj && px);
    memset(px, 90, (size_t)5120 * 2880);
    cr_assert_eq(tjCompress2(tj, px, 5120, 0, 2880, TJPF_GRAY, &j, &jlen,
                             TJSAMP_GRAY, 90, 0), 0);
    p = write_input("cutsos.jpg", j, after_sos(j, jlen) + extra);
    cr_assert_lt(after_sos(j, jlen), 1024);
    tjFree(j);
    tjDestroy(tj);
    free(px);
    return p;
}

Test(hostile, jpeg_cut_after_sos_is_truncated_on_every_path)
{
    char *p = cut_after_sos_file(0);

    assert_fails("thumbnail", p, NULL, "truncated");
    assert_fails("thumbnail", p, "--no-fast-path", "truncated");
    assert_fails("recompress", p, NULL, "truncated");
    assert_fails("recompress", p, "--fail-on=none", "truncated");
    free(p);
}

/* 40 bytes of scan data: not one row of 5120 pixels' blocks. */
Test(hostile, jpeg_with_a_few_bytes_of_data_is_truncated_when_lenient)
{
    char *p = cut_after_sos_file(40);

    assert_fails("thumbnail", p, NULL, "truncated");
    assert_fails("thumbnail", p, "--no-fast-path", "truncated");
    assert_fails("recompress", p, "--fail-on=none", "truncated");
    free(p);
}

/* testdata/rgb.jpg (640x480) cut at half its bytes. */
static char *
half_jpeg_file(void)
{
    size_t len;
    char *src = th_testdata("rgb.jpg");
    char *data = th_read_file(src, &len);
    char *p = write_input("half.jpg", data, len / 2);

    free(src);
    free(data);
    return p;
}

Test(hostile, jpeg_cut_halfway_is_ok_with_the_decoded_fraction)
{
    char *p = half_jpeg_file();
    json_t *arr, *rec, *w;
    long long rows;
    struct th_image img;
    char *o;
    double top[3], bottom[3];

    rec = run_one("thumbnail", p, NULL, NULL, &arr, NULL);
    cr_assert_str_eq(th_json_str(rec, "status"), "ok", "%s",
                     rec_message(rec));
    rows = th_json_int(rec, "decoded_rows");
    cr_assert(rows >= 480 * 3 / 10 && rows <= 480 * 7 / 10,
              "decoded_rows %lld of 480", rows);
    w = json_object_get(rec, "warnings");
    cr_assert_not_null(w);
    cr_assert(strstr(json_dumps(w, 0), "of 480 rows decoded"),
              "no fraction in the warnings");
    /* The top is the real picture (red), the bottom the grey fill. */
    o = th_path(out, "half.jpg");
    cr_assert_eq(th_decode_jpeg(o, &img), 0);
    th_mean_rgb(&img, img.w / 4, img.h / 8, 3, top);
    th_mean_rgb(&img, img.w / 4, img.h - 4, 3, bottom);
    cr_assert(th_rgb_near(top, 255, 0, 0, 12), "top %.0f %.0f %.0f",
              top[0], top[1], top[2]);
    cr_assert(!th_rgb_near(bottom, 0, 0, 255, 60), "bottom is blue");
    th_image_release(&img);
    free(o);
    json_decref(arr);

    /* libvips: ok, the rows counted by libjpeg before the load. */
    rec = run_one("thumbnail", p, "--no-fast-path", NULL, &arr, NULL);
    cr_assert_str_eq(th_json_str(rec, "status"), "ok");
    cr_assert_eq(th_json_int(rec, "decoded_rows"), rows);
    json_decref(arr);
    /* A complete file on the libvips path: rows unknown. */
    free(p);
    p = th_testdata("rgb.jpg");
    rec = run_one("thumbnail", p, "--no-fast-path", NULL, &arr, NULL);
    cr_assert_str_eq(th_json_str(rec, "status"), "ok");
    cr_assert(json_is_null(json_object_get(rec, "decoded_rows")));
    json_decref(arr);
    free(p);
    p = half_jpeg_file();
    /* Strict recompress: failed, truncated (the image's end marker is
     * missing: the structure walk decides before any decode). */
    assert_fails("recompress", p, NULL, "truncated");
    free(p);
}

Test(hostile, complete_file_reports_every_row)
{
    char *p = th_testdata("rgb.jpg");
    json_t *arr, *rec;

    rec = run_one("thumbnail", p, NULL, NULL, &arr, NULL);
    cr_assert_str_eq(th_json_str(rec, "status"), "ok");
    cr_assert_eq(th_json_int(rec, "decoded_rows"), 480);
    cr_assert_null(json_object_get(rec, "warnings"));
    json_decref(arr);
    free(p);
    p = th_testdata("rgb.png");
    rec = run_one("thumbnail", p, NULL, NULL, &arr, NULL);
    cr_assert_str_eq(th_json_str(rec, "status"), "ok");
    cr_assert_eq(th_json_int(rec, "decoded_rows"), 120);
    json_decref(arr);
    free(p);
}

/* testdata/rgb.png with @edit applied: cut at IDAT, or an IHDR bit flip. */
static char *
damaged_png(const char *name, int cut_at_idat)
{
    size_t len, i;
    char *src = th_testdata("rgb.png");
    unsigned char *d = (unsigned char *)th_read_file(src, &len);
    char *p;

    free(src);
    if (cut_at_idat) {
        for (i = 8; i + 4 <= len; i++)
            if (memcmp(d + i, "IDAT", 4) == 0)
                break;
        cr_assert_lt(i + 4, len);
        len = i + 4;        /* the chunk's length and type, no data */
    } else {
        /* Height 120 -> 120 + 512: the CRC no longer matches. */
        d[8 + 8 + 6] ^= 0x02;
    }
    p = write_input(name, d, len);
    free(d);
    return p;
}

Test(hostile, png_cut_at_idat_is_truncated_on_every_path)
{
    char *p = damaged_png("idat.png", 1);

    assert_fails("thumbnail", p, NULL, "truncated");
    assert_fails("thumbnail", p, "--no-fast-path", "truncated");
    assert_fails("recompress", p, NULL, "truncated");
    free(p);
}

Test(hostile, png_ihdr_bit_flip_is_corrupt_header_on_every_path)
{
    char *p = damaged_png("ihdr.png", 0);

    assert_fails("thumbnail", p, NULL, "corrupt-header");
    assert_fails("thumbnail", p, "--no-fast-path", "corrupt-header");
    assert_fails("recompress", p, NULL, "corrupt-header");
    free(p);
}

/* A PNG cut a few rows in: below the 10% threshold, truncated; a PNG cut
 * well past it: ok, decoded_rows as far as the data went. */
Test(hostile, png_rows_threshold)
{
    char *src = th_testdata("gray.png");
    size_t len;
    unsigned char *d = (unsigned char *)th_read_file(src, &len);
    char *p;
    json_t *arr, *rec;
    long long rows;

    free(src);
    p = write_input("g90.png", d, len - 12 - 4 - 20);
    rec = run_one("thumbnail", p, NULL, NULL, &arr, NULL);
    if (strcmp(th_json_str(rec, "status"), "ok") == 0) {
        rows = th_json_int(rec, "decoded_rows");
        cr_assert(rows >= 10 && rows <= 100, "decoded_rows %lld", rows);
    } else {
        cr_assert_str_eq(rec_class(rec), "truncated", "%s",
                         rec_message(rec));
    }
    json_decref(arr);
    free(p);
    free(d);
}

/* CRC-32 of PNG chunks, bit by bit. */
static uint32_t
crc32_of(const unsigned char *p, size_t n)
{
    uint32_t c = 0xffffffffu;

    while (n--) {
        c ^= *p++;
        for (int k = 0; k < 8; k++)
            c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
    }
    return c ^ 0xffffffffu;
}

static void
be32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

static void
png_chunk(struct jw *w, const char *type, const unsigned char *d, size_t n)
{
    unsigned char h[8];
    unsigned char *start;

    be32(h, (uint32_t)n);
    memcpy(h + 4, type, 4);
    jw_bytes(w, h, 8);
    jw_bytes(w, d, n);
    start = w->buf + w->len - n - 4;
    be32(h, crc32_of(start, n + 4));
    jw_bytes(w, h, 4);
}

/*
 * A 64x64 grey PNG, rows 0..31 at 200 and 32..63 at 40, whose zlib stream
 * is one stored (uncompressed) block spread over one IDAT chunk per row, so
 * that libpng can decode row by row as the data comes.  *@row_end[k] is the
 * file length up to the end of row k's chunk.
 */
static unsigned char *
rows_png(size_t *len, size_t row_end[64])
{
    static const unsigned char sig[8] = {137, 'P', 'N', 'G', 13, 10, 26, 10};
    unsigned char ihdr[13] = {0, 0, 0, 64, 0, 0, 0, 64, 8, 0, 0, 0, 0};
    unsigned char raw[64 * 65], chunk[80];
    uint32_t a = 1, b = 0;
    size_t n = sizeof(raw), i;
    struct jw w;
    int y;

    memset(&w, 0, sizeof(w));
    for (y = 0; y < 64; y++) {
        raw[y * 65] = 0;    /* filter: none */
        memset(raw + y * 65 + 1, y < 32 ? 200 : 40, 64);
    }
    for (i = 0; i < n; i++) {
        a = (a + raw[i]) % 65521;
        b = (b + a) % 65521;
    }
    jw_bytes(&w, sig, 8);
    png_chunk(&w, "IHDR", ihdr, sizeof(ihdr));
    for (y = 0; y < 64; y++) {
        size_t k = 0;

        if (y == 0) {       /* zlib header, stored final block header */
            chunk[k++] = 0x78;
            chunk[k++] = 0x01;
            chunk[k++] = 0x01;
            chunk[k++] = (unsigned char)(n & 0xff);
            chunk[k++] = (unsigned char)(n >> 8);
            chunk[k++] = (unsigned char)(~n & 0xff);
            chunk[k++] = (unsigned char)((~n >> 8) & 0xff);
        }
        memcpy(chunk + k, raw + y * 65, 65);
        k += 65;
        if (y == 63) {
            be32(chunk + k, b << 16 | a);
            k += 4;
        }
        png_chunk(&w, "IDAT", chunk, k);
        row_end[y] = w.len;
    }
    png_chunk(&w, "IEND", NULL, 0);
    *len = w.len;
    return w.buf;
}

/* Cut after row 39 (40 of 64 rows, above the threshold): ok with
 * decoded_rows 40 on both paths; cut after row 3 (4 rows, below 10%):
 * truncated on both paths. */
Test(hostile, png_cut_inside_its_data_counts_rows_on_both_paths)
{
    const char *paths[] = {NULL, "--no-fast-path"};
    size_t len, row_end[64], i;
    unsigned char *png = rows_png(&len, row_end);
    char *whole = write_input("whole.png", png, len);
    char *p40 = write_input("p40.png", png, row_end[39]);
    char *p4 = write_input("p4.png", png, row_end[3]);
    json_t *arr, *rec;

    for (i = 0; i < 2; i++) {
        rec = run_one("thumbnail", whole, paths[i], NULL, &arr, NULL);
        cr_assert_str_eq(th_json_str(rec, "status"), "ok", "%s",
                         rec_message(rec));
        json_decref(arr);
        rec = run_one("thumbnail", p40, paths[i], NULL, &arr, NULL);
        cr_assert_str_eq(th_json_str(rec, "status"), "ok", "%s",
                         rec_message(rec));
        cr_assert_eq(th_json_int(rec, "decoded_rows"), 40, "path %zu", i);
        json_decref(arr);
        assert_fails("thumbnail", p4, paths[i], "truncated");
    }
    free(png);
    free(whole);
    free(p40);
    free(p4);
}

/* ------------------------------------------------------------------ */
/* Loader error classes                                                */
/* ------------------------------------------------------------------ */

static void
le16(unsigned char *p, unsigned v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
}

static void
le32(unsigned char *p, uint32_t v)
{
    le16(p, v & 0xffff);
    le16(p + 2, v >> 16);
}

/* A 16x16 uncompressed YCbCr TIFF with 2x2 chroma subsampling, which
 * libvips' TIFF loader does not read. */
static char *
ycbcr_tiff(void)
{
    /* tag, type (3 SHORT, 4 LONG), count, value */
    static const unsigned tags[][4] = {
        {256, 3, 1, 16}, {257, 3, 1, 16}, {258, 3, 3, 0}, {259, 3, 1, 1},
        {262, 3, 1, 6}, {273, 4, 1, 8}, {277, 3, 1, 3}, {278, 3, 1, 16},
        {279, 4, 1, 384}, {284, 3, 1, 1}, {530, 3, 2, 0},
    };
    size_t n = sizeof(tags) / sizeof(tags[0]);
    size_t ifd = 8 + 384, extra = ifd + 2 + 12 * n + 4;
    unsigned char f[8 + 384 + 2 + 12 * 11 + 4 + 6];
    size_t i;
    char *p;

    memset(f, 0, sizeof(f));
    memcpy(f, "II*\0", 4);
    le32(f + 4, (uint32_t)ifd);
    for (i = 0; i < 384; i += 6) {      /* 4 Y, Cb, Cr per 2x2 block */
        memset(f + 8 + i, 128, 4);
        f[8 + i + 4] = 100;
        f[8 + i + 5] = 150;
    }
    le16(f + ifd, (unsigned)n);
    for (i = 0; i < n; i++) {
        unsigned char *e = f + ifd + 2 + 12 * i;

        le16(e, tags[i][0]);
        le16(e + 2, tags[i][1]);
        le32(e + 4, tags[i][2]);
        if (tags[i][0] == 258) {
            le32(e + 8, (uint32_t)extra);
        } else if (tags[i][0] == 530) {
            le16(e + 8, 2);
            le16(e + 10, 2);
        } else if (tags[i][1] == 3) {
            le16(e + 8, tags[i][3]);
        } else {
            le32(e + 8, tags[i][3]);
        }
    }
    for (i = 0; i < 3; i++)
        le16(f + extra + 2 * i, 8);
    p = write_input("ycbcr.tif", f, sizeof(f));
    return p;
}

Test(hostile, subsampled_ycbcr_tiff_is_unsupported)
{
    char *p = ycbcr_tiff();

    assert_fails("thumbnail", p, NULL, "unsupported-format");
    assert_fails("recompress", p, NULL, "unsupported-format");
    free(p);
}

/* An AVIF whose header declares 16400x100: under --max-pixels, over
 * libheif's own limit of 16384 a side. */
Test(hostile, avif_over_libheif_limit_is_too_large)
{
    VipsImage *im;
    void *buf = NULL;
    size_t len = 0, i;
    unsigned char *b;
    char *p;

    cr_assert_eq(VIPS_INIT("test_hostile"), 0);
    cr_assert_eq(vips_black(&im, 16, 16, "bands", 3, NULL), 0);
    if (vips_heifsave_buffer(im, &buf, &len, "compression",
                             VIPS_FOREIGN_HEIF_COMPRESSION_AV1, NULL)) {
        g_object_unref(im);
        cr_skip_test("libvips here cannot write AVIF: %s",
                     vips_error_buffer());
    }
    g_object_unref(im);
    b = buf;
    for (i = 0; i + 16 <= len; i++)
        if (memcmp(b + i, "ispe", 4) == 0)
            break;
    cr_assert_lt(i + 16, len, "no ispe box");
    /* ispe: version and flags, then width and height, big-endian. */
    b[i + 8] = 0;
    b[i + 9] = 0;
    b[i + 10] = 16400 >> 8;
    b[i + 11] = 16400 & 0xff;
    b[i + 12] = b[i + 13] = b[i + 14] = 0;
    b[i + 15] = 100;
    p = write_input("wide.avif", b, len);
    g_free(buf);
    assert_fails("thumbnail", p, NULL, "too-large");
    free(p);
}

/* libjpeg's own dimension limit, 65500, on a header under --max-pixels;
 * libpng's user limit (a million columns). */
Test(hostile, jpeg_and_png_dimension_limits_are_too_large)
{
    char *src = th_testdata("gray.jpg");
    size_t len, i;
    unsigned char *d = (unsigned char *)th_read_file(src, &len);
    char *p;

    free(src);
    for (i = 2; i + 9 < len; i++)
        if (d[i] == 0xFF && d[i + 1] == 0xC0)
            break;
    cr_assert_lt(i + 9, len);
    d[i + 5] = 0;
    d[i + 6] = 1;           /* height 1 */
    d[i + 7] = 0xFF;
    d[i + 8] = 0xFF;        /* width 65535 */
    p = write_input("wide.jpg", d, len);
    assert_fails("thumbnail", p, NULL, "too-large");
    assert_fails("thumbnail", p, "--no-fast-path", "too-large");
    free(p);
    free(d);
}

/* An image format no loader reads, named on the command line: a failed
 * record, never silence. */
Test(hostile, named_file_without_a_loader_gets_a_record)
{
    static const unsigned char ff[] = "farbfeld\0\0\0\x02\0\0\0\x02";
    char *p = write_input("x.ff.png", ff, sizeof(ff) - 1);

    assert_fails("thumbnail", p, NULL, "unsupported-format");
    free(p);
}

/* ------------------------------------------------------------------ */
/* SVG                                                                 */
/* ------------------------------------------------------------------ */

static const char svg_doc[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    "<!-- left red, right blue -->\n"
    "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"800\" "
    "height=\"400\">\n"
    "  <rect x=\"0\" y=\"0\" width=\"400\" height=\"400\" fill=\"#ff0000\"/>\n"
    "  <rect x=\"400\" y=\"0\" width=\"400\" height=\"400\" "
    "fill=\"#0000ff\"/>\n"
    "</svg>\n";

static void
assert_svg_thumbnail(const char *name)
{
    char *p = write_input(name, svg_doc, sizeof(svg_doc) - 1);
    json_t *arr, *rec;
    struct th_image img;
    double left[3], right[3];
    char *o;

    rec = run_one("thumbnail", p, NULL, NULL, &arr, NULL);
    cr_assert_str_eq(th_json_str(rec, "status"), "ok", "%s",
                     rec_message(rec));
    cr_assert_eq(th_json_int(rec, "in_width"), 800);
    cr_assert_eq(th_json_int(rec, "in_height"), 400);
    o = th_path(out, th_json_str(rec, "output") + strlen(out) + 1);
    cr_assert_eq(th_decode_jpeg(o, &img), 0);
    cr_assert_eq(img.w, 300);
    cr_assert_eq(img.h, 150);
    th_mean_rgb(&img, 75, 75, 5, left);
    th_mean_rgb(&img, 225, 75, 5, right);
    cr_assert(th_rgb_near(left, 255, 0, 0, 6), "left %.0f %.0f %.0f",
              left[0], left[1], left[2]);
    cr_assert(th_rgb_near(right, 0, 0, 255, 6), "right %.0f %.0f %.0f",
              right[0], right[1], right[2]);
    th_image_release(&img);
    json_decref(arr);
    free(o);
    free(p);
}

Test(hostile, svg_renders_at_the_right_size_and_colours)
{
    assert_svg_thumbnail("pic.svg");
}

/* Recognised by content, whatever the name. */
Test(hostile, svg_without_extension_is_sniffed)
{
    assert_svg_thumbnail("drawing");
}

Test(hostile, svg_declaring_too_many_pixels_is_refused)
{
    static const char doc[] = "<svg xmlns=\"http://www.w3.org/2000/svg\" "
                              "width=\"100000\" height=\"100000\">"
                              "<rect width=\"10\" height=\"10\"/></svg>";
    char *p = write_input("huge.svg", doc, sizeof(doc) - 1);
    json_t *arr, *rec;
    double secs;

    rec = run_one("thumbnail", p, NULL, NULL, &arr, &secs);
    cr_assert_str_eq(rec_class(rec), "too-large", "%s", rec_message(rec));
    cr_assert(strstr(rec_message(rec), "--max-pixels"));
    cr_log_info("refused in %.1f s", secs);
    json_decref(arr);
    free(p);
}

/* An SVG that points at another file shows nothing of it: loaded from
 * memory, the document has no location to resolve a reference from.  (A
 * file load would resolve "red.png" beside the document and show red.) */
Test(hostile, svg_reads_no_other_file)
{
    static const unsigned char red_png[] = {
        0x89, 'P', 'N', 'G', 13, 10, 26, 10, 0, 0, 0, 13, 'I', 'H', 'D', 'R',
        0, 0, 0, 1, 0, 0, 0, 1, 8, 2, 0, 0, 0, 0x90, 0x77, 0x53, 0xde,
        0, 0, 0, 12, 'I', 'D', 'A', 'T', 0x78, 0xda, 0x63, 0xf8, 0xcf, 0xc0,
        0, 0, 0x03, 0x01, 0x01, 0x00, 0xf7, 0x03, 0x41, 0x43,
        0, 0, 0, 0, 'I', 'E', 'N', 'D', 0xae, 0x42, 0x60, 0x82};
    char *red = th_path(in, "red.png"), *doc, *p;
    json_t *arr, *rec;
    struct th_image img;
    double c[3];
    char *o;

    th_write_file(red, red_png, sizeof(red_png));
    cr_assert(asprintf(&doc, "<svg xmlns=\"http://www.w3.org/2000/svg\" "
                       "xmlns:xlink=\"http://www.w3.org/1999/xlink\" "
                       "width=\"100\" height=\"100\"><rect width=\"100\" "
                       "height=\"100\" fill=\"#0000ff\"/>"
                       "<image width=\"100\" height=\"100\" "
                       "xlink:href=\"file://%s\"/>"
                       "<image width=\"100\" height=\"100\" "
                       "xlink:href=\"%s\"/>"
                       "<image width=\"100\" height=\"100\" "
                       "preserveAspectRatio=\"none\" "
                       "xlink:href=\"red.png\"/></svg>", red, red) > 0);
    p = write_input("ext.svg", doc, strlen(doc));
    rec = run_one("thumbnail", p, NULL, NULL, &arr, NULL);
    cr_assert_str_eq(th_json_str(rec, "status"), "ok", "%s",
                     rec_message(rec));
    o = th_path(out, "ext.jpg");
    cr_assert_eq(th_decode_jpeg(o, &img), 0);
    th_mean_rgb(&img, 50, 50, 5, c);
    cr_assert(th_rgb_near(c, 0, 0, 255, 6), "%.0f %.0f %.0f: the other "
              "file was read", c[0], c[1], c[2]);
    th_image_release(&img);
    json_decref(arr);
    free(o);
    free(p);
    free(doc);
    free(red);
}
