/*
 * test_lossless.c - `recompress --lossless` for JPEG (lossless.h): inputs
 * made here with libjpeg (baseline and progressive, 4:2:0, 4:2:2, 4:4:4,
 * grey, CMYK, YCCK, restart intervals, APPn and COM segments) come out
 * with the same DCT coefficients and the same decoded components, every
 * APPn/COM segment byte for byte in order, progressive unless --baseline;
 * through -o and --in-place, and as the lossless pass of a lossy in-place
 * run whose second run changes nothing.
 */
#include <criterion/criterion.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>

#include <jpeglib.h>

#include "helpers.h"

#define W 203
#define H 137

struct shape {
    const char *name;
    int comps;                  /* 1, 3 or 4 */
    J_COLOR_SPACE jcs;          /* what the file holds */
    int h0, v0;                 /* the first component's sampling */
    int progressive;
    int restart;                /* restart interval in MCUs, or 0 */
};

static const struct shape shapes[] = {
    { "b420", 3, JCS_YCbCr, 2, 2, 0, 0 },
    { "b422", 3, JCS_YCbCr, 2, 1, 0, 0 },
    { "b444", 3, JCS_YCbCr, 1, 1, 0, 0 },
    { "p420", 3, JCS_YCbCr, 2, 2, 1, 0 },
    { "p422", 3, JCS_YCbCr, 2, 1, 1, 0 },
    { "p444", 3, JCS_YCbCr, 1, 1, 1, 0 },
    { "grey", 1, JCS_GRAYSCALE, 1, 1, 0, 0 },
    { "pgrey", 1, JCS_GRAYSCALE, 1, 1, 1, 0 },
    { "cmyk", 4, JCS_CMYK, 1, 1, 0, 0 },
    { "ycck", 4, JCS_YCCK, 2, 2, 1, 0 },
    { "rst420", 3, JCS_YCbCr, 2, 2, 0, 3 },
    { "rstp444", 3, JCS_YCbCr, 1, 1, 1, 5 },
};

/* The metadata segments every input gets, besides libjpeg's own JFIF or
 * Adobe one. */
static void
write_segments(j_compress_ptr c)
{
    static const char exif[] = "Exif\0\0MM\0*\0\0\0\x08\0\0";
    unsigned char big[6000];
    size_t i;

    jpeg_write_marker(c, JPEG_APP0 + 1, (const JOCTET *)exif, sizeof(exif));
    for (i = 0; i < sizeof(big); i++)
        big[i] = (unsigned char)(i * 31 + 7);
    memcpy(big, "ICC_PROFILE\0\1\1", 14);
    jpeg_write_marker(c, JPEG_APP0 + 2, big, sizeof(big));
    jpeg_write_marker(c, JPEG_COM, (const JOCTET *)"a comment", 9);
    jpeg_write_marker(c, JPEG_APP0 + 13, (const JOCTET *)"Photoshop 3.0\0x",
                      16);
    jpeg_write_marker(c, JPEG_COM, (const JOCTET *)"", 0);
    jpeg_write_marker(c, JPEG_APP0 + 15, big + 100, 300);
}

/* A photo-like image of @sh at quality @q into @path (not Huffman-
 * optimised, as cameras write them). */
static void
make_jpeg(const char *path, const struct shape *sh, int q)
{
    struct jpeg_compress_struct c;
    struct jpeg_error_mgr err;
    unsigned char *row = malloc((size_t)W * 4);
    uint64_t seed = 88172645463325252ULL;
    FILE *f = fopen(path, "wb");
    int x, y, k;

    cr_assert(f && row);
    c.err = jpeg_std_error(&err);
    jpeg_create_compress(&c);
    jpeg_stdio_dest(&c, f);
    c.image_width = W;
    c.image_height = H;
    c.input_components = sh->comps;
    c.in_color_space = sh->comps == 1 ? JCS_GRAYSCALE
                       : sh->comps == 3 ? JCS_RGB : JCS_CMYK;
    jpeg_set_defaults(&c);
    jpeg_set_colorspace(&c, sh->jcs);
    jpeg_set_quality(&c, q, TRUE);
    c.comp_info[0].h_samp_factor = sh->h0;
    c.comp_info[0].v_samp_factor = sh->v0;
    for (k = 1; k < c.num_components; k++)
        c.comp_info[k].h_samp_factor = c.comp_info[k].v_samp_factor = 1;
    if (sh->comps == 4 && sh->jcs == JCS_YCCK)
        c.comp_info[3].h_samp_factor = sh->h0,
        c.comp_info[3].v_samp_factor = sh->v0;
    c.restart_interval = (unsigned)sh->restart;
    c.optimize_coding = FALSE;
    if (sh->progressive)
        jpeg_simple_progression(&c);
    jpeg_start_compress(&c, TRUE);
    write_segments(&c);
    for (y = 0; y < H; y++) {
        JSAMPROW rp = row;
        for (x = 0; x < W; x++)
            for (k = 0; k < sh->comps; k++) {
                seed ^= seed >> 12;
                seed ^= seed << 25;
                seed ^= seed >> 27;
                row[x * sh->comps + k] = (unsigned char)
                    ((x * (k + 2) + y * (3 - k % 2)) / 2 + 96 +
                     (int)((seed * 2685821657736338717ULL) >> 60));
            }
        jpeg_write_scanlines(&c, &rp, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    fclose(f);
    free(row);
}

/* ---- oracles ---- */

struct segs {
    size_t n;
    unsigned char *seg[64];     /* marker byte, then the segment's payload */
    size_t len[64];
    int sof;                    /* the frame marker, 0xc0..0xcf */
};

/* Every APPn and COM segment of the JPEG in @b (before the frame and
 * between scans), and the frame marker. */
static void
list_segments(const unsigned char *b, size_t n, struct segs *s)
{
    size_t i = 2;

    memset(s, 0, sizeof(*s));
    cr_assert(n > 4 && b[0] == 0xff && b[1] == 0xd8, "not a JPEG");
    while (i + 2 <= n) {
        int m;
        size_t len;

        cr_assert_eq(b[i], 0xff, "no marker at %zu", i);
        m = b[i + 1];
        if (m == 0xff) {
            i++;
            continue;
        }
        if (m == 0xd9)
            return;
        cr_assert(i + 4 <= n, "segment past the end");
        len = (size_t)b[i + 2] << 8 | b[i + 3];
        cr_assert(i + 2 + len <= n, "segment past the end");
        if ((m >= 0xe0 && m <= 0xef) || m == 0xfe) {
            cr_assert(s->n < 64);
            s->seg[s->n] = malloc(len - 1);
            s->seg[s->n][0] = (unsigned char)m;
            memcpy(s->seg[s->n] + 1, b + i + 4, len - 2);
            s->len[s->n++] = len - 1;
        }
        if (m >= 0xc0 && m <= 0xcf && m != 0xc4 && m != 0xc8 && m != 0xcc)
            s->sof = m;
        i += 2 + len;
        if (m == 0xda) {        /* entropy-coded data up to a marker */
            while (i + 1 < n && !(b[i] == 0xff && b[i + 1] != 0 &&
                                  !(b[i + 1] >= 0xd0 && b[i + 1] <= 0xd7)))
                i++;
        }
    }
    cr_assert_fail("no end-of-image marker");
}

static void
segs_release(struct segs *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->seg[i]);
}

static void
assert_same_segments(const unsigned char *a, size_t an, const unsigned char *b,
                     size_t bn, int want_sof)
{
    struct segs sa, sb;

    list_segments(a, an, &sa);
    list_segments(b, bn, &sb);
    cr_assert_eq(sa.n, sb.n, "%zu metadata segments, %zu kept", sa.n, sb.n);
    cr_assert_geq(sa.n, 7, "the input has its segments");
    for (size_t i = 0; i < sa.n; i++) {
        cr_assert_eq(sa.len[i], sb.len[i], "segment %zu: length", i);
        cr_assert_eq(memcmp(sa.seg[i], sb.seg[i], sa.len[i]), 0,
                     "segment %zu (0x%02x): bytes differ", i, sa.seg[i][0]);
    }
    /* want_sof 0: sequential (SOF0 or, with large tables, SOF1) */
    cr_assert(sb.sof == want_sof ||
              (want_sof == 0 && (sb.sof == 0xc0 || sb.sof == 0xc1)),
              "frame 0x%02x, expected 0x%02x", sb.sof, want_sof);
    segs_release(&sa);
    segs_release(&sb);
}

struct dec {
    struct jpeg_decompress_struct d;
    struct jpeg_error_mgr err;
};

/* The DCT coefficients of @a and @b, component by component, block by
 * block, and their quantisation tables, are the same. */
static void
assert_same_coefficients(const unsigned char *a, size_t an,
                         const unsigned char *b, size_t bn)
{
    struct dec x, y;
    jvirt_barray_ptr *ca, *cb;
    int k;

    x.d.err = jpeg_std_error(&x.err);
    y.d.err = jpeg_std_error(&y.err);
    jpeg_create_decompress(&x.d);
    jpeg_create_decompress(&y.d);
    jpeg_mem_src(&x.d, a, an);
    jpeg_mem_src(&y.d, b, bn);
    jpeg_read_header(&x.d, TRUE);
    jpeg_read_header(&y.d, TRUE);
    ca = jpeg_read_coefficients(&x.d);
    cb = jpeg_read_coefficients(&y.d);
    cr_assert_eq(x.d.num_components, y.d.num_components);
    cr_assert_eq(x.d.jpeg_color_space, y.d.jpeg_color_space);
    for (k = 0; k < x.d.num_components; k++) {
        jpeg_component_info *p = &x.d.comp_info[k], *q = &y.d.comp_info[k];
        cr_assert_eq(p->h_samp_factor, q->h_samp_factor);
        cr_assert_eq(p->v_samp_factor, q->v_samp_factor);
        cr_assert_eq(p->component_id, q->component_id);
        cr_assert_eq(memcmp(p->quant_table->quantval,
                            q->quant_table->quantval,
                            sizeof(p->quant_table->quantval)), 0,
                     "component %d: quantisation table", k);
        for (JDIMENSION r = 0; r < p->height_in_blocks; r++) {
            JBLOCKARRAY ra = x.d.mem->access_virt_barray(
                (j_common_ptr)&x.d, ca[k], r, 1, FALSE);
            JBLOCKARRAY rb = y.d.mem->access_virt_barray(
                (j_common_ptr)&y.d, cb[k], r, 1, FALSE);
            cr_assert_eq(memcmp(ra[0], rb[0], p->width_in_blocks *
                                sizeof(JBLOCK)), 0,
                         "component %d, block row %u: coefficients differ",
                         k, r);
        }
    }
    jpeg_finish_decompress(&x.d);
    jpeg_finish_decompress(&y.d);
    jpeg_destroy_decompress(&x.d);
    jpeg_destroy_decompress(&y.d);
}

/* Every decoded component of @a and @b (in the file's own colour space,
 * upsampled: no colour conversion to blur a difference) is the same. */
static void
assert_same_pixels(const unsigned char *a, size_t an, const unsigned char *b,
                   size_t bn)
{
    struct dec x, y;
    unsigned char *ra, *rb;

    x.d.err = jpeg_std_error(&x.err);
    y.d.err = jpeg_std_error(&y.err);
    jpeg_create_decompress(&x.d);
    jpeg_create_decompress(&y.d);
    jpeg_mem_src(&x.d, a, an);
    jpeg_mem_src(&y.d, b, bn);
    jpeg_read_header(&x.d, TRUE);
    jpeg_read_header(&y.d, TRUE);
    x.d.out_color_space = x.d.jpeg_color_space;
    y.d.out_color_space = y.d.jpeg_color_space;
    jpeg_start_decompress(&x.d);
    jpeg_start_decompress(&y.d);
    cr_assert_eq(x.d.output_width, W);
    cr_assert_eq(y.d.output_width, W);
    cr_assert_eq(y.d.output_height, H);
    cr_assert_eq(x.d.output_components, y.d.output_components);
    ra = malloc((size_t)W * 4);
    rb = malloc((size_t)W * 4);
    while (x.d.output_scanline < x.d.output_height) {
        JSAMPROW pa = ra, pb = rb;
        JDIMENSION line = x.d.output_scanline;
        jpeg_read_scanlines(&x.d, &pa, 1);
        jpeg_read_scanlines(&y.d, &pb, 1);
        cr_assert_eq(memcmp(ra, rb, (size_t)W * x.d.output_components), 0,
                     "row %u differs", line);
    }
    jpeg_finish_decompress(&x.d);
    jpeg_finish_decompress(&y.d);
    jpeg_destroy_decompress(&x.d);
    jpeg_destroy_decompress(&y.d);
    free(ra);
    free(rb);
}

static void
assert_lossless(const char *in, const char *out, int want_sof)
{
    size_t an, bn;
    unsigned char *a = (unsigned char *)th_read_file(in, &an);
    unsigned char *b = (unsigned char *)th_read_file(out, &bn);

    cr_assert(a && b, "cannot read '%s' or '%s'", in, out);
    assert_same_segments(a, an, b, bn, want_sof);
    assert_same_coefficients(a, an, b, bn);
    assert_same_pixels(a, an, b, bn);
    free(a);
    free(b);
}

/* ---- -o ---- */

static void
check_shapes_o(int baseline)
{
    char *tmp = th_mkdtemp(), *src = th_path(tmp, "src"),
         *dst = th_path(tmp, "out"), *rep = th_path(tmp, "r.jsonl");
    size_t i;
    json_t *arr;

    th_mkdirs(src);
    for (i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++) {
        char name[64], *p;
        snprintf(name, sizeof(name), "%s.jpg", shapes[i].name);
        p = th_path(src, name);
        make_jpeg(p, &shapes[i], 90);
        free(p);
    }
    {
        const char *args[] = { "recompress", "--lossless", "-o", dst,
                               "--report", rep, src,
                               baseline ? "--baseline" : NULL, NULL };
        th_run_expect(args, 0);
    }
    arr = th_read_jsonl(rep);
    for (i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++) {
        char name[64], *a, *b;
        json_t *rec;
        struct stat st;

        snprintf(name, sizeof(name), "%s.jpg", shapes[i].name);
        a = th_path(src, name);
        b = th_path(dst, name);
        rec = th_find_record(arr, name);
        cr_assert_not_null(rec, "no record for %s", name);
        cr_assert_str_eq(th_json_str(rec, "status"), "ok", "%s", name);
        cr_assert_str_eq(th_json_str(rec, "mode"), "lossless", "%s", name);
        cr_assert_eq(stat(b, &st), 0, "no output for %s", name);
        cr_assert_eq(th_json_int(rec, "out_bytes"), st.st_size);
        assert_lossless(a, b, baseline ? 0 : 0xc2);
        free(a);
        free(b);
    }
    json_decref(arr);
    th_rmrf(tmp);
    free(tmp);
    free(src);
    free(dst);
    free(rep);
}

Test(lossless, every_shape_progressive)
{
    check_shapes_o(0);
}

Test(lossless, every_shape_baseline)
{
    check_shapes_o(1);
}

/* Other inputs to JPEG are skipped, named; PNG output is accepted. */
Test(lossless, png_input_skipped)
{
    char *tmp = th_mkdtemp(), *dst = th_path(tmp, "out"),
         *rep = th_path(tmp, "r.jsonl"), *png = th_testdata("rgb.png");
    const char *args[] = { "recompress", "--lossless", "-o", dst, "--report",
                           rep, png, NULL };
    json_t *arr, *rec;
    struct th_run r;

    th_run(&r, args);
    th_run_release(&r);
    arr = th_read_jsonl(rep);
    rec = th_find_record(arr, "rgb.png");
    cr_assert_not_null(rec);
    cr_assert_str_eq(th_json_str(rec, "status"), "skipped");
    cr_assert_str_eq(th_json_str(rec, "reason"), "not-jpeg");
    json_decref(arr);
    th_rmrf(tmp);
    free(tmp);
    free(dst);
    free(rep);
    free(png);
}

Test(lossless, usage_errors)
{
    static const char *const cases[][8] = {
        { "thumbnail", "--lossless", "-o", "OUT", "IN", NULL },
        { "recompress", "--lossless", "-s", "100", "-o", "OUT", "IN", NULL },
        { "recompress", "--lossless", "--strip", "-o", "OUT", "IN", NULL },
        { "recompress", "--lossless", "-f", "avif", "-o", "OUT", "IN", NULL },
        { "recompress", "--baseline", "--progressive", "-o", "OUT", "IN",
          NULL },
        { "recompress", "--baseline", "-f", "png", "-o", "OUT", "IN", NULL },
        { "recompress", "--in-place", "--lossless", "--strip-gps", "IN",
          NULL },
    };
    char *tmp = th_mkdtemp(), *out = th_path(tmp, "out"),
         *in = th_testdata("rgb.jpg");

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *args[8];
        struct th_run r;
        for (size_t k = 0; k < 8; k++) {
            const char *a = cases[i][k];
            args[k] = a && strcmp(a, "IN") == 0    ? in
                      : a && strcmp(a, "OUT") == 0 ? out
                                                   : a;
        }
        th_run(&r, args);
        cr_assert_eq(r.status, 2, "case %zu: exit %d", i, r.status);
        th_run_release(&r);
    }
    cr_assert_not(th_exists(out));
    th_rmrf(tmp);
    free(tmp);
    free(out);
    free(in);
}

/* ---- --in-place ---- */

struct tree {
    char *tmp, *dir, *keep, *rep, *bak;
};

/* The sequential shapes (a progressive file has optimised tables
 * already) at quality @q in t->dir, copies in t->keep. */
static void
tree_make(struct tree *t, int q)
{
    static const int pick[] = { 0, 2, 6, 8, 10 };

    t->tmp = th_mkdtemp();
    t->dir = th_path(t->tmp, "photos");
    t->keep = th_path(t->tmp, "keep");
    t->rep = th_path(t->tmp, "r.jsonl");
    t->bak = th_path(t->tmp, "bak");
    th_mkdirs(t->dir);
    th_mkdirs(t->keep);
    for (size_t i = 0; i < sizeof(pick) / sizeof(pick[0]); i++) {
        char name[64], *a, *b;
        snprintf(name, sizeof(name), "%s.jpg", shapes[pick[i]].name);
        a = th_path(t->dir, name);
        b = th_path(t->keep, name);
        make_jpeg(a, &shapes[pick[i]], q);
        th_copy_file(a, b);
        th_set_mtime(a, 1500000000, 123456789);
        free(a);
        free(b);
    }
}

static void
tree_release(struct tree *t)
{
    th_rmrf(t->tmp);
    free(t->tmp);
    free(t->dir);
    free(t->keep);
    free(t->rep);
    free(t->bak);
}

/* Every file of @t: lossless (@changed) or byte for byte the kept copy,
 * with its mtime either way; each record has @status, @reason. */
static void
tree_check(const struct tree *t, json_t *arr, int changed, const char *status,
           const char *reason, int want_sof)
{
    static const int pick[] = { 0, 2, 6, 8, 10 };

    for (size_t i = 0; i < sizeof(pick) / sizeof(pick[0]); i++) {
        char name[64], *a, *b;
        size_t an, bn;
        char *x, *y;
        struct stat st;
        json_t *rec;

        snprintf(name, sizeof(name), "%s.jpg", shapes[pick[i]].name);
        a = th_path(t->keep, name);
        b = th_path(t->dir, name);
        rec = th_find_record(arr, name);
        cr_assert_not_null(rec, "no record for %s", name);
        cr_assert_str_eq(th_json_str(rec, "status"), status, "%s: %s", name,
                         json_dumps(rec, 0));
        if (reason)
            cr_assert_str_eq(th_json_str(rec, "reason"), reason, "%s: %s",
                             name, json_dumps(rec, 0));
        x = th_read_file(a, &an);
        y = th_read_file(b, &bn);
        if (changed) {
            cr_assert_str_eq(th_json_str(rec, "mode"), "lossless");
            cr_assert_lt(bn, an, "%s: %zu bytes, not smaller", name, bn);
            assert_lossless(a, b, want_sof);
        } else {
            if (strcmp(status, "skipped") == 0 && reason &&
                strcmp(reason, "already-compressed") == 0)
                cr_assert_null(json_object_get(rec, "mode"), "%s: a mode",
                               name);
            cr_assert(an == bn && memcmp(x, y, an) == 0, "%s changed", name);
        }
        cr_assert_eq(stat(b, &st), 0);
        cr_assert_eq(st.st_mtim.tv_sec, 1500000000, "%s: mtime", name);
        cr_assert_eq(st.st_mtim.tv_nsec, 123456789, "%s: mtime ns", name);
        free(x);
        free(y);
        free(a);
        free(b);
    }
}

static json_t *
run_tree(const struct tree *t, const char *a1, const char *a2, const char *a3,
         const char *a4, const char *a5)
{
    const char *args[] = { "recompress", "--in-place", "--report", t->rep,
                           t->dir, a1, a2, a3, a4, a5, NULL };
    th_run_expect(args, 0);
    return th_read_jsonl(t->rep);
}

/* --in-place --lossless: replaced, with a backup of the original bytes,
 * the mtime kept; a second run changes no byte. */
Test(lossless, in_place)
{
    struct tree t;
    json_t *arr;
    char *a, *b, *x, *y;
    size_t an, bn;

    tree_make(&t, 92);
    arr = run_tree(&t, "--lossless", "--min-saving", "1", NULL, NULL);
    tree_check(&t, arr, 1, "ok", NULL, 0xc2);
    json_decref(arr);
    /* the replaced files, kept as they are now */
    th_rmrf(t.keep);
    th_mkdirs(t.keep);
    a = th_path(t.dir, "b420.jpg");
    b = th_path(t.keep, "b420.jpg");
    th_copy_file(a, b);
    arr = run_tree(&t, "--lossless", "--min-saving", "0", NULL, NULL);
    x = th_read_file(a, &an);
    y = th_read_file(b, &bn);
    cr_assert(an == bn && memcmp(x, y, an) == 0, "the second run changed it");
    cr_assert_str_eq(th_json_str(th_find_record(arr, "b420.jpg"), "reason"),
                     "no-gain");
    json_decref(arr);
    free(x);
    free(y);
    free(a);
    free(b);
    tree_release(&t);
}

/* A backup holds the original bytes. */
Test(lossless, in_place_backup)
{
    struct tree t;
    json_t *arr;
    char *a, *b, *x, *y;
    size_t an, bn;

    tree_make(&t, 92);
    {
        const char *args[] = { "recompress", "--in-place", "--lossless",
                               "--min-saving", "1", "--backup", t.bak,
                               "--report", t.rep, t.dir, NULL };
        th_run_expect(args, 0);
    }
    arr = th_read_jsonl(t.rep);
    tree_check(&t, arr, 1, "ok", NULL, 0xc2);
    json_decref(arr);
    a = th_path(t.keep, "b444.jpg");
    b = th_path(t.bak, "b444.jpg");
    x = th_read_file(a, &an);
    y = th_read_file(b, &bn);
    cr_assert(y && an == bn && memcmp(x, y, an) == 0, "backup differs");
    free(x);
    free(y);
    free(a);
    free(b);
    tree_release(&t);
}

/* A lossy run: originals at or below -q get the lossless pass instead of
 * the already-compressed skip; the second run changes nothing. */
Test(lossless, lossy_run_already_compressed)
{
    struct tree t;
    json_t *arr;

    tree_make(&t, 70);
    arr = run_tree(&t, "-q", "85", "--min-saving", "1", NULL);
    /* sequential originals stay sequential, as a re-encode keeps them */
    tree_check(&t, arr, 1, "ok", NULL, 0);
    json_decref(arr);
    th_rmrf(t.keep);
    th_mkdirs(t.keep);
    {
        static const char *const names[] = { "b420.jpg", "b444.jpg",
                                             "grey.jpg", "cmyk.jpg",
                                             "rst420.jpg" };
        for (size_t i = 0; i < 5; i++) {
            char *a = th_path(t.dir, names[i]), *b = th_path(t.keep, names[i]);
            th_copy_file(a, b);
            free(a);
            free(b);
        }
    }
    arr = run_tree(&t, "-q", "85", "--min-saving", "0", NULL);
    tree_check(&t, arr, 0, "skipped", "already-compressed", 0);
    json_decref(arr);
    tree_release(&t);
}

/* ... and when the lossless pass does not save --min-saving, the skip is
 * the already-compressed one, the file untouched; --dry-run writes
 * nothing. */
Test(lossless, lossy_run_not_enough)
{
    struct tree t;
    json_t *arr;

    tree_make(&t, 70);
    arr = run_tree(&t, "-q", "85", "--min-saving", "60", NULL);
    tree_check(&t, arr, 0, "skipped", "already-compressed", 0);
    json_decref(arr);
    arr = run_tree(&t, "-q", "85", "--min-saving", "1", "--dry-run");
    tree_check(&t, arr, 0, "skipped", "dry-run", 0);
    json_decref(arr);
    tree_release(&t);
}

/* The camera JPEGs of ../shared/corpus/cameras (EXIF with maker notes and
 * thumbnails, odd segment orders): the same coefficients and segments. */
Test(lossless, camera_corpus)
{
    char *tmp, *dst, *a, *b;
    const char *dir = SHARED_CORPUS_DIR "/cameras";
    struct dirent *e;
    int n = 0;
    DIR *d = opendir(dir);

    if (!d) {
        cr_skip_test("no %s", dir);
        return;
    }
    tmp = th_mkdtemp();
    dst = th_path(tmp, "out");
    {
        const char *args[] = { "recompress", "--lossless", "-o", dst, dir,
                               NULL };
        th_run_expect(args, 0);
    }
    while ((e = readdir(d)) != NULL) {
        size_t an, bn, len = strlen(e->d_name);
        unsigned char *x, *y;
        struct segs sa, sb;

        if (len < 5 || strcmp(e->d_name + len - 4, ".jpg") != 0)
            continue;
        a = th_path(dir, e->d_name);
        b = th_path(dst, e->d_name);
        x = (unsigned char *)th_read_file(a, &an);
        y = (unsigned char *)th_read_file(b, &bn);
        cr_assert(x && y, "no output for %s", e->d_name);
        list_segments(x, an, &sa);
        list_segments(y, bn, &sb);
        cr_assert_eq(sa.n, sb.n, "%s: segments", e->d_name);
        for (size_t i = 0; i < sa.n; i++)
            cr_assert(sa.len[i] == sb.len[i] &&
                      memcmp(sa.seg[i], sb.seg[i], sa.len[i]) == 0,
                      "%s: segment %zu differs", e->d_name, i);
        cr_assert_eq(sb.sof, 0xc2, "%s: not progressive", e->d_name);
        segs_release(&sa);
        segs_release(&sb);
        assert_same_coefficients(x, an, y, bn);
        free(x);
        free(y);
        free(a);
        free(b);
        n++;
    }
    closedir(d);
    cr_assert_gt(n, 0, "no JPEG in %s", dir);
    th_rmrf(tmp);
    free(tmp);
    free(dst);
}
