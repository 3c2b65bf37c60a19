/*
 * test_jxl.c - `-f jxl` end to end: a JPEG transcoded to JPEG XL gives
 * back its exact bytes (through imgpool's own `recompress -f jpeg` and
 * through djxl), for testdata/ and every JPEG of ../shared/corpus/ that
 * libjxl (cjxl) accepts; refused JPEGs get not-transcodable; a failed
 * check writes nothing (fault injection); .jxl inputs decode to the right
 * size and colours; PNG to JPEG XL, lossy and lossless, decodes (djxl)
 * to the right size and colours; --in-place -f jxl is a usage error.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "e2e_fixture.h"

E2E_TREE

TestSuite(jxl, .init = e2e_setup, .fini = e2e_teardown, .timeout = 300);
TestSuite(jxl_fault, .init = e2e_fault_setup, .fini = e2e_teardown,
          .timeout = 120);

static void
need(const char *tool)
{
    if (!th_have_tool(tool))
        cr_skip_test("%s is not installed (Debian: libjxl-tools)", tool);
}

/* @path starts with a JPEG XL signature (container or codestream). */
static void
assert_jxl_file(const char *path)
{
    size_t len;
    char *d = th_read_file(path, &len);

    cr_assert(d, "no file %s", path);
    cr_assert(len > 12 && (memcmp(d, "\xff\x0a", 2) == 0 ||
                           memcmp(d, "\0\0\0\x0cJXL \r\n\x87\n", 12) == 0),
              "%s is not JPEG XL", path);
    free(d);
}

/* djxl @jxl to @png, decoded into @img. */
static void
djxl_png(const char *jxl, const char *png, struct th_image *img)
{
    const char *argv[] = {"djxl", jxl, png, NULL};

    cr_assert_eq(th_run_tool(argv, NULL), 0, "djxl %s failed", jxl);
    cr_assert_eq(th_decode_png(png, img), 0, "djxl wrote no PNG");
}

/* The four-quadrant pattern (testdata/README.md) in @img, within @tol. */
static void
assert_quadrants(const struct th_image *img, double tol)
{
    static const int want[4][3] = {
        {255, 0, 0}, {0, 255, 0}, {0, 0, 255}, {255, 255, 255}};
    double rgb[3];

    cr_assert(img->channels >= 3, "%d channels", img->channels);
    for (int q = 0; q < 4; q++) {
        int x = (q % 2 ? 3 : 1) * img->w / 4, y = (q / 2 ? 3 : 1) * img->h / 4;

        th_mean_rgb(img, x, y, 2, rgb);
        cr_assert(th_rgb_near(rgb, want[q][0], want[q][1], want[q][2], tol),
                  "quadrant %d is %.0f,%.0f,%.0f", q, rgb[0], rgb[1], rgb[2]);
    }
}

/* @img is a @w x @h image of the four quadrants, within @tol; it is
 * released. */
static void
assert_quadrant_image(struct th_image *img, int w, int h, double tol)
{
    cr_assert_eq(img->w, w);
    cr_assert_eq(img->h, h);
    assert_quadrants(img, tol);
    th_image_release(img);
}

/* djxl of @jxl (through tmp/@png) is a @w x @h image of the four
 * quadrants, within 8. */
static void
djxl_quadrants(const char *jxl, const char *png, int w, int h)
{
    char *d = th_path(tmp, png);
    struct th_image img;

    djxl_png(jxl, d, &img);
    assert_quadrant_image(&img, w, h, 8);
    free(d);
}

/* The JPEG @path is a @w x @h image of the four quadrants, within 12. */
static void
jpeg_quadrants(const char *path, int w, int h)
{
    struct th_image img;

    cr_assert_eq(th_decode_jpeg(path, &img), 0, "%s does not decode", path);
    assert_quadrant_image(&img, w, h, 12);
}

/* Round trip of every ok record of @arr (outputs in @jxl_dir, named
 * {stem}.jxl, inputs in in/): recompress -f jpeg of the JPEG XL tree gives
 * each input's bytes, and so does djxl.  How many were checked. */
static int
check_round_trips(json_t *arr, const char *jxl_dir)
{
    char *back = th_path(tmp, "back"), *rep2 = th_path(tmp, "back.jsonl");
    const char *args[] = {"recompress", "-f", "jpeg", "-q", "50", jxl_dir,
                          "-o", back, "--report", rep2, NULL};
    json_t *arr2 = run_and_read(args, 0, rep2), *rec;
    size_t i;
    int n = 0;

    json_array_foreach(arr, i, rec) {
        const char *path = th_json_str(rec, "path");
        const char *st = th_json_str(rec, "status");
        const char *base;
        char *stem, *jxl, *jpg, *dj;

        if (!path || !st || strcmp(st, "ok") != 0)
            continue;
        cr_assert_str_eq(th_json_str(rec, "mode"), "transcode", "%s", path);
        base = strrchr(path, '/') + 1;
        stem = th_asprintf("%.*s", (int)(strrchr(base, '.') - base), base);
        jxl = th_asprintf("%s/%s.jxl", jxl_dir, stem);
        jpg = th_asprintf("%s/%s.jpg", back, stem);
        dj = th_asprintf("%s/%s.djxl.jpg", tmp, stem);
        assert_jxl_file(jxl);
        cr_assert(th_same_bytes(jpg, path),
                  "%s: the JPEG back from %s differs", path, jxl);
        cr_assert_str_eq(th_json_str(th_record(arr2, jxl + strlen(jxl_dir)),
                                     "mode"), "reconstruct");
        {
            const char *argv[] = {"djxl", jxl, dj, NULL};
            cr_assert_eq(th_run_tool(argv, NULL), 0, "djxl %s", jxl);
            cr_assert(th_same_bytes(dj, path), "%s: djxl's JPEG differs",
                      path);
        }
        free(stem);
        free(jxl);
        free(jpg);
        free(dj);
        n++;
    }
    json_decref(arr2);
    free(back);
    free(rep2);
    return n;
}

Test(jxl, testdata_jpegs_round_trip_byte_for_byte)
{
    const char *names[] = {"rgb.jpg", "progressive.jpg", "q75.jpg",
                           "gray.jpg", "cmyk.jpg", "srgb_icc.jpg",
                           "p3_icc.jpg", "orient1.jpg", "orient6.jpg",
                           "orient8.jpg", NULL};
    const char *args[] = {"recompress", "-f", "jxl", in, "-o", out,
                          "--report", rep, NULL};
    json_t *arr, *cmyk;

    need("djxl");
    for (int i = 0; names[i]; i++)
        th_copy_testdata(in, names[i], names[i]);
    /* arithmetic coding, which libjxl cannot keep */
    {
        char *src = th_testdata("rgb.jpg"), *dst = th_path(in, "arith.jpg");
        char *cmd = th_asprintf("jpegtran -arithmetic '%s' > '%s'", src, dst);
        cr_assert_eq(system(cmd), 0);
        free(cmd);
        free(src);
        free(dst);
    }
    arr = run_and_read(args, 1, rep);
    cr_assert_eq(check_round_trips(arr, out), 9);
    cmyk = th_record(arr, "/cmyk.jpg");
    cr_assert_str_eq(th_record_class(cmyk), "not-transcodable");
    cr_assert(strstr(th_json_str(json_object_get(cmyk, "error"), "message"),
                     "CMYK"));
    cr_assert_str_eq(th_record_class(th_record(arr, "/arith.jpg")),
                     "not-transcodable");
    cr_assert(strstr(th_json_str(json_object_get(th_record(arr, "/arith.jpg"),
                                                 "error"), "message"),
                     "arithmetic"));
    cr_assert(!th_exists(th_path(out, "cmyk.jxl")));
    json_decref(arr);
}

/* The JPEG files below @dir (recursively), copied flat into in/ as
 * NNN.jpg; how many. */
static int
collect_jpegs(const char *dir, int n)
{
    DIR *d = opendir(dir);
    struct dirent *e;

    if (!d)
        return n;
    while ((e = readdir(d))) {
        char *p;
        size_t len;
        char *data;

        if (e->d_name[0] == '.')
            continue;
        p = th_path(dir, e->d_name);
        if (e->d_type == DT_DIR) {
            n = collect_jpegs(p, n);
        } else if ((data = th_read_file(p, &len))) {
            if (len > 3 && memcmp(data, "\xff\xd8\xff", 3) == 0) {
                char *dst = th_asprintf("%s/%03d.jpg", in, n++);
                th_write_file(dst, data, len);
                free(dst);
            }
            free(data);
        }
        free(p);
    }
    closedir(d);
    return n;
}

/* 1 when libjxl keeps the JPEG @path: cjxl transcodes it and djxl
 * rebuilds the same bytes from cjxl's file. */
static int
libjxl_keeps(const char *path)
{
    char *jx = th_asprintf("%s/cjxl.jxl", tmp), *jp = th_asprintf("%s/djxl.jpg",
                                                                  tmp);
    const char *enc[] = {"cjxl", "--lossless_jpeg=1", path, jx, NULL};
    const char *dec[] = {"djxl", jx, jp, NULL};
    int keeps;

    remove(jp);
    keeps = th_run_tool(enc, NULL) == 0 && th_run_tool(dec, NULL) == 0 &&
            th_same_bytes(jp, path);
    free(jx);
    free(jp);
    return keeps;
}

/* Every JPEG of the shared corpus: each ok record round trips byte for
 * byte; what libjxl keeps (libjxl_keeps()) imgpool transcodes, unless it
 * skips or refuses the file for a reason of its own (--max-pixels, the
 * data a recompression would drop); what imgpool refuses as
 * not-transcodable or fails as verify-failed, libjxl does not keep. */
Test(jxl, corpus_jpegs_round_trip_or_are_refused_like_libjxl)
{
    const char *args[] = {"recompress", "-f", "jxl", "--fail-on", "none",
                          in, "-o", out, "--report", rep, NULL};
    json_t *arr, *rec;
    size_t i;
    int n, ok, refused = 0, records = 0;

    if (!th_exists(SHARED_CORPUS_DIR))
        cr_skip_test("%s is absent: shared corpus not installed",
                     SHARED_CORPUS_DIR);
    need("djxl");
    need("cjxl");
    n = collect_jpegs(SHARED_CORPUS_DIR, 0);
    cr_assert(n > 10, "only %d JPEGs in the corpus", n);
    {
        struct th_run r;
        th_run(&r, args);
        cr_assert(r.status == 0 || r.status == 1, "exit %d: %s", r.status,
                  r.err);
        th_run_release(&r);
    }
    arr = th_read_jsonl(rep);
    json_array_foreach(arr, i, rec) {
        const char *path = th_json_str(rec, "path");
        const char *st = th_json_str(rec, "status");
        const char *cls;

        if (!path || !st)
            continue;
        records++;
        if (strcmp(st, "ok") == 0)
            continue;
        cls = th_record_class(rec);
        if (strcmp(cls, "not-transcodable") == 0 ||
            strcmp(cls, "verify-failed") == 0) {
            cr_expect(!libjxl_keeps(path), "%s: %s, but libjxl keeps it",
                      path, cls);
            refused++;
        } else if (strcmp(st, "failed") == 0 &&
                   strcmp(cls, "too-large") != 0) {
            cr_expect(!libjxl_keeps(path), "%s: libjxl keeps it, imgpool "
                      "failed: %s", path, cls);
        }
    }
    ok = check_round_trips(arr, out);
    cr_assert(ok > 0 && records == n, "%d ok of %d (%d records)", ok, n,
              records);
    cr_log_info("corpus: %d JPEGs, %d round trips, %d refused", n, ok,
                refused);
    json_decref(arr);
}

/* A failed check (the rebuilt JPEG differs: injected) fails the file with
 * verify-failed and leaves nothing in the output folder; the other file
 * of the run is written. */
Test(jxl_fault, verify_failed_writes_nothing)
{
    const char *args[] = {"recompress", "-f", "jxl", in, "-o", out,
                          "--report", rep, NULL};
    struct th_flist l;
    json_t *arr, *rec;
    char *dir;

    th_copy_testdata(in, "rgb.jpg", "rgb.jpg");
    th_copy_testdata(in, "q75.jpg", "q75.jpg");
    dir = th_fault_arm(tmp, "jxl-verify", "rgb.jpg");
    arr = run_and_read(args, 1, rep);
    th_fault_disarm();
    rec = th_record(arr, "/rgb.jpg");
    cr_assert_str_eq(th_json_str(rec, "status"), "failed");
    cr_assert_str_eq(th_record_class(rec), "verify-failed");
    cr_assert_str_eq(th_json_str(th_record(arr, "/q75.jpg"), "status"), "ok");
    th_flist_of(&l, out);
    for (size_t i = 0; i < l.n; i++)
        cr_assert(strcmp(l.rel[i], "q75.jxl") == 0 ||
                  strncmp(l.rel[i], ".imgpool/", 9) == 0,
                  "unexpected file in the output: %s", l.rel[i]);
    cr_assert(th_exists(th_path(out, "q75.jxl")));
    th_flist_release(&l);
    json_decref(arr);
    free(dir);
}

/* .jxl inputs decode: a codestream with pixels only (cjxl of a PNG) and
 * a transcoded JPEG (a container), to JPEG thumbnails of the right size
 * and colours; the pixels-only one recompressed to JPEG is re-encoded
 * (no stored JPEG), at its size. */
Test(jxl, jxl_inputs_decode)
{
    char *png = th_testdata("rgb.png"), *jpg = th_testdata("rgb.jpg");
    char *a = th_path(in, "a.jxl"), *b = th_path(in, "b.jxl");
    const char *args[] = {"thumbnail", "-s", "100", in, "-o", out,
                          "--report", rep, NULL};
    json_t *arr;

    need("cjxl");
    {
        const char *c1[] = {"cjxl", "-d", "0.5", png, a, NULL};
        const char *c2[] = {"cjxl", "--lossless_jpeg=1", jpg, b, NULL};
        cr_assert_eq(th_run_tool(c1, NULL), 0);
        cr_assert_eq(th_run_tool(c2, NULL), 0);
    }
    arr = run_and_read(args, 0, rep);
    cr_assert_eq(th_count_records(arr, "ok", NULL), 2);
    json_decref(arr);
    for (int k = 0; k < 2; k++) {
        char *o = th_path(out, k ? "b.jpg" : "a.jpg");
        jpeg_quadrants(o, 100, 75);
        free(o);
    }
    {
        char *o2 = th_path(tmp, "o2"), *r2 = th_path(tmp, "r2.jsonl");
        const char *rc[] = {"recompress", a, "-o", o2, "--report", r2, NULL};
        json_t *arr2 = run_and_read(rc, 0, r2);
        char *o = th_path(o2, "a.jpg");

        cr_assert_null(json_object_get(th_record(arr2, "/a.jxl"), "mode"));
        jpeg_quadrants(o, 160, 120);
        json_decref(arr2);
        free(o);
        free(o2);
        free(r2);
    }
    free(png);
    free(jpg);
    free(a);
    free(b);
}

/* -f jxl of a PNG: lossy at the default -q (close colours), and with
 * --lossless every pixel as it was; a JPEG thumbnail with -f jxl is the
 * thumbnail's size.  Decoded by djxl. */
Test(jxl, png_and_thumbnail_to_jxl_decode_with_djxl)
{
    const char *lossy[] = {"recompress", "-f", "jxl", in, "-o", out,
                           "--report", rep, NULL};
    char *o2 = th_path(tmp, "o2"), *o3 = th_path(tmp, "o3");
    const char *lossless[] = {"recompress", "--lossless", "--name",
                              "{stem}.jxl", in, "-o", o2, NULL};
    const char *thumb[] = {"thumbnail", "-f", "jxl", in, "-o", o3, NULL};
    struct th_image img, orig;
    char *p, *d, *src = th_testdata("rgb.png");
    json_t *arr;

    need("djxl");
    th_copy_testdata(in, "rgb.png", "rgb.png");
    th_copy_testdata(in, "rgb.jpg", "photo.jpg");
    arr = run_and_read(lossy, 0, rep);
    cr_assert_null(json_object_get(th_record(arr, "/rgb.png"), "mode"));
    json_decref(arr);
    p = th_path(out, "rgb.jxl");
    assert_jxl_file(p);
    djxl_quadrants(p, "lossy.png", 160, 120);
    free(p);

    json_decref(run_and_read(lossless, 0, rep));
    p = th_path(o2, "rgb.jxl");
    d = th_path(tmp, "lossless.png");
    djxl_png(p, d, &img);
    cr_assert_eq(th_decode_png(src, &orig), 0);
    cr_assert_eq(img.w, orig.w);
    cr_assert_eq(img.h, orig.h);
    for (int y = 0; y < img.h; y++)
        for (int x = 0; x < img.w; x++)
            for (int c = 0; c < 3; c++)
                cr_assert_eq(img.px[(y * img.w + x) * img.channels + c],
                             orig.px[(y * orig.w + x) * orig.channels + c],
                             "pixel %d,%d differs", x, y);
    th_image_release(&img);
    th_image_release(&orig);
    free(p);
    free(d);

    json_decref(run_and_read(thumb, 0, rep));
    p = th_path(o3, "photo.jxl");
    djxl_quadrants(p, "thumb.png", 300, 225);
    free(p);
    free(src);
    free(o2);
    free(o3);
}

/* A .jpg cannot become JPEG XL under its own name: --in-place -f jxl (and
 * --in-place with a .jxl --name) is a usage error, the file untouched. */
Test(jxl, in_place_jxl_is_a_usage_error)
{
    char *f = th_path(in, "rgb.jpg"), *src = th_testdata("rgb.jpg");
    const char *a1[] = {"recompress", "--in-place", "-f", "jxl", in, NULL};
    struct th_run r;

    th_copy_testdata(in, "rgb.jpg", "rgb.jpg");
    th_run(&r, a1);
    cr_assert_eq(r.status, 2, "exit %d", r.status);
    cr_assert(strstr(r.err, "JPEG XL in place"), "%s", r.err);
    th_run_release(&r);
    cr_assert(th_same_bytes(f, src));
    free(f);
    free(src);
}
