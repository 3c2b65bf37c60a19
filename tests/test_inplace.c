/*
 * test_inplace.c - `imgpool recompress --in-place`, run as a user would.
 *
 * The originals are someone's only copy of their photos, so these tests
 * look at the files, not at imgpool's word for what it did: bytes compared
 * with the pristine copies, pixels decoded with TurboJPEG (helpers.c),
 * EXIF read back with libexif and XMP, IPTC and ICC with exiftool, mode,
 * owner and times from stat(2).
 *
 * This file: a second run changes nothing; quality is kept; the decision
 * table (not-jpeg, truncated, already-compressed, --force, --dry-run,
 * --min-saving, --backup, CMYK and grey, usage errors).  Beside it:
 * test_inplace_crash.c (SIGKILL at random moments, a full disk) and
 * test_inplace_meta.c (metadata and file attributes, backups of same-named
 * files, temporary file permissions).
 *
 * The fixtures are made here: the small files of testdata/ plus
 * photo-like JPEGs encoded with TurboJPEG from synthetic pixels (gradients,
 * soft-edged blobs, a texture and grain), at Q95 so that imgpool re-encodes
 * them, with an EXIF Orientation block spliced in where a test wants one.
 */

#include <stdlib.h>
#include <string.h>

#include "inplace_fixtures.h"

INPLACE_TREE

TestSuite(inplace, .init = setup, .fini = teardown, .timeout = 120);

/* ---- idempotence ---- */

Test(inplace, second_run_changes_no_byte_and_no_time)
{
    struct flist l;
    struct fsnap *snap;
    json_t *arr, *rec;
    size_t i;
    char *err;
    int code;

    gen_in(in, "big/a.jpg", 1200, 800, GEN_RGB420, 95, 6, 1);
    gen_in(in, "big/b.jpg", 900, 600, GEN_RGB444, 95, 0, 2);
    gen_in(in, "big/c.jpg", 800, 600, GEN_PROGRESSIVE, 95, 3, 3);
    gen_in(in, "big/d.jpg", 640, 480, GEN_GRAY, 95, 0, 4);
    gen_in(in, "big/e.jpg", 640, 480, GEN_CMYK, 95, 0, 5);
    gen_in(in, "q93.jpg", 800, 600, GEN_RGB420, 93, 0, 6);
    th_copy_testdata(in, "rgb.jpg", "small/rgb.jpg");
    th_copy_testdata(in, "progressive.jpg", "small/progressive.jpg");
    th_copy_testdata(in, "q75.jpg", "small/q75.jpg");
    th_copy_testdata(in, "p3_icc.jpg", "small/p3_icc.jpg");
    th_copy_testdata(in, "orient6.jpg", "small/orient6.jpg");
    th_copy_testdata(in, "cmyk.jpg", "small/cmyk.jpg");
    th_copy_testdata(in, "gray.jpg", "small/gray.jpg");
    th_copy_testdata(in, "rgb.png", "small/rgb.png");

    code = run_ip(rep, &arr, &err, in, "-j", "2", NULL);
    cr_assert_eq(code, 0, "first run: exit %d: %s", code, err);
    cr_assert_geq(int_of(summary_of(arr), "ok"), 7,
                  "the first run should replace the Q93-95 files");
    json_decref(arr);
    free(err);

    flist_of(&l, in);
    snap = calloc(l.n, sizeof(*snap));
    cr_assert(snap != NULL, "out of memory");
    for (i = 0; i < l.n; i++) {
        char *p = th_path(in, l.rel[i]);
        fsnap_take(&snap[i], p);
        free(p);
    }

    code = run_ip(rep, &arr, &err, in, "-j", "2", NULL);
    cr_assert_eq(code, 0, "second run: exit %d: %s", code, err);
    cr_assert_eq(int_of(summary_of(arr), "ok"), 0,
                 "the second run replaced files");
    cr_assert_eq(int_of(summary_of(arr), "failed"), 0);
    for (i = 0; i + 1 < json_array_size(arr); i++) {
        const char *c;
        rec = json_array_get(arr, i);
        c = class_of(rec);
        cr_assert_str_eq(str_of(rec, "status"), "skipped");
        cr_assert(strcmp(c, "already-compressed") == 0 ||
                  strcmp(c, "no-gain") == 0 || strcmp(c, "not-jpeg") == 0,
                  "'%s' skipped as %s", str_of(rec, "path"), c);
    }
    /* Every file re-encoded by the first run now reads as Q90. */
    assert_record(arr, "big/a.jpg", "skipped", "already-compressed");
    assert_record(arr, "q93.jpg", "skipped", "already-compressed");
    assert_record(arr, "small/rgb.png", "skipped", "not-jpeg");
    json_decref(arr);
    free(err);

    for (i = 0; i < l.n; i++) {
        char *p = th_path(in, l.rel[i]);
        assert_untouched(&snap[i], p);
        fsnap_release(&snap[i]);
        free(p);
    }
    cr_assert_eq(count_tmp_files(in), 0);
    free(snap);
    flist_release(&l);
}

/* ---- quality ---- */

/*
 * Re-encoding a Q95 original at the default Q90 must not visibly hurt it.
 * Measured with libjpeg-turbo 2.1.5 and libvips 8.14 (Debian 12): PSNR of
 * the decoded recompressed file against the decoded original, over all RGB
 * samples (TurboJPEG, accurate DCT):
 *
 *   photo-like 1200x800, 4:2:0 baseline   37.69 dB  325341 -> 217861 bytes
 *   photo-like 1200x800, 4:4:4 baseline   37.57 dB  375353 -> 255006 bytes
 *   photo-like 1200x800, progressive      37.71 dB  295898 -> 211235 bytes
 *   photo-like 1200x800, grey             37.79 dB  308253 -> 210750 bytes
 *   testdata/rgb.jpg (flat quadrants)     43.01 dB
 *   testdata/srgb_icc.jpg (one colour)    identical pixels
 *
 * The synthetic photos carry per-pixel grain, the hardest content for
 * JPEG, so they sit at the low end of what real photos give (38-42 dB).
 * The thresholds sit about 1 dB under the measurements.  Grain makes PSNR
 * a blunt instrument here: the 4:2:0 photo re-encoded at Q85 measures
 * 36.97 dB and at Q80 36.44 dB, so PSNR_PHOTO_MIN catches Q80 and below
 * and any gross damage (shifted, flipped or wrongly converted pixels);
 * the finer steps are checked exactly: the output's quantisation tables
 * are libjpeg's Q90 ones, and its chroma subsampling is the original's
 * (4:4:4 re-encoded as 4:2:0 would still measure 37.36 dB).
 */
/* PSNR_PHOTO_MIN and PSNR_FLAT_MIN: inplace_fixtures.h. */

Test(inplace, quality_psnr_of_q95_to_q90_stays_above_threshold)
{
    static const struct {
        const char *name;
        enum gen_kind kind;
        int w, h;
    } gen[] = {
        { "photo420.jpg", GEN_RGB420, 1200, 800 },
        { "photo444.jpg", GEN_RGB444, 1200, 800 },
        { "photoprog.jpg", GEN_PROGRESSIVE, 1200, 800 },
        { "photogray.jpg", GEN_GRAY, 1200, 800 },
    };
    const size_t ngen = sizeof(gen) / sizeof(gen[0]);
    char *orig = th_path(tmp, "orig");
    json_t *arr;
    char *err;
    int code;

    for (size_t i = 0; i < ngen; i++) {
        char *p = th_path(in, gen[i].name);
        gen_jpeg(p, gen[i].w, gen[i].h, gen[i].kind, 95, 0,
                 (uint32_t)(100 + i));
        free(p);
    }
    th_copy_testdata(in, "rgb.jpg", "rgb.jpg");
    th_copy_testdata(in, "srgb_icc.jpg", "srgb_icc.jpg");
    copy_tree(in, orig);

    code = run_ip(rep, &arr, &err, in, "-j", "2", NULL);
    cr_assert_eq(code, 0, "exit %d: %s", code, err);
    for (size_t i = 0; i < ngen; i++) {
        char *a = th_path(orig, gen[i].name), *b = th_path(in, gen[i].name);
        struct th_image ia, ib;
        double p;

        assert_record(arr, gen[i].name, "ok", NULL);
        cr_assert_eq(th_jpeg_quality(b), 90);
        cr_assert_eq(th_decode_jpeg(a, &ia), 0);
        cr_assert_eq(th_decode_jpeg(b, &ib), 0);
        cr_assert_eq(ib.jpeg_subsamp, ia.jpeg_subsamp, "%s: subsampling "
                     "%d became %d", gen[i].name, ia.jpeg_subsamp,
                     ib.jpeg_subsamp);
        p = th_psnr(&ia, &ib);
        th_image_release(&ia);
        th_image_release(&ib);
        cr_log_info("PSNR %s Q95 -> Q90: %.2f dB (%lld -> %lld bytes)",
                    gen[i].name, p, int_of(record(arr, gen[i].name),
                                           "in_bytes"),
                    int_of(record(arr, gen[i].name), "out_bytes"));
        cr_assert_geq(p, PSNR_PHOTO_MIN, "%s: PSNR %.2f dB", gen[i].name, p);
        free(a);
        free(b);
    }
    {
        const char *flat[] = { "rgb.jpg", "srgb_icc.jpg" };
        for (size_t i = 0; i < 2; i++) {
            char *a = th_path(orig, flat[i]), *b = th_path(in, flat[i]);
            double p;
            assert_record(arr, flat[i], "ok", NULL);
            p = psnr_files(a, b);
            cr_log_info("PSNR %s Q95 -> Q90: %.2f dB", flat[i], p);
            cr_assert_geq(p, PSNR_FLAT_MIN, "%s: PSNR %.2f dB", flat[i], p);
            free(a);
            free(b);
        }
    }
    json_decref(arr);
    free(err);
    th_rmrf(orig);
    free(orig);
}

/* ------------------------------------------------------------------ */
/* The decision table                                                 */
/* ------------------------------------------------------------------ */

/* Copy testdata/@name into in/ and snapshot it. */
static char *
add_snap(const char *name, struct fsnap *f)
{
    char *p;

    th_copy_testdata(in, name, name);
    p = th_path(in, name);
    fsnap_take(f, p);
    return p;
}

Test(inplace, png_is_left_alone_as_not_jpeg)
{
    struct fsnap f;
    char *p = add_snap("rgb.png", &f), *err;
    json_t *arr;
    int code;

    code = run_ip(rep, &arr, &err, in, NULL);
    cr_assert_eq(code, 0, "exit %d: %s", code, err);
    assert_record(arr, "rgb.png", "skipped", "not-jpeg");
    assert_untouched(&f, p);
    fsnap_release(&f);
    json_decref(arr);
    free(err);
    free(p);
}

Test(inplace, truncated_jpeg_fails_as_truncated_and_is_untouched)
{
    struct fsnap f;
    char *p = add_snap("truncated.jpg", &f), *err;
    json_t *arr;
    int code;

    code = run_ip(rep, &arr, &err, in, NULL);
    cr_assert_eq(code, 1, "exit %d: %s", code, err);
    assert_record(arr, "truncated.jpg", "failed", "truncated");
    assert_untouched(&f, p);
    cr_assert_eq(count_tmp_files(in), 0);
    fsnap_release(&f);
    json_decref(arr);
    free(err);
    free(p);
}

Test(inplace, q75_source_is_skipped_already_compressed)
{
    struct fsnap f;
    char *p = add_snap("q75.jpg", &f), *err;
    json_t *arr;
    int code;

    /* Its lossless pass (test_lossless.c) saves less than 90%. */
    code = run_ip(rep, &arr, &err, "--min-saving", "90", in, NULL);
    cr_assert_eq(code, 0, "exit %d: %s", code, err);
    assert_record(arr, "q75.jpg", "skipped", "already-compressed");
    cr_assert(json_is_null(json_object_get(record(arr, "q75.jpg"),
                                           "out_bytes")));
    assert_untouched(&f, p);
    fsnap_release(&f);
    json_decref(arr);
    free(err);
    free(p);
}

Test(inplace, force_reencodes_a_source_at_or_below_the_target)
{
    struct fsnap f;
    char *p = add_snap("q75.jpg", &f), *err;
    struct th_image img;
    double rgb[3];
    struct stat st;
    json_t *arr, *rec;
    int code;

    code = run_ip(rep, &arr, &err, "--force", in, NULL);
    cr_assert_eq(code, 0, "exit %d: %s", code, err);
    rec = record(arr, "q75.jpg");
    assert_record(arr, "q75.jpg", "ok", NULL);
    stat_or_die(p, &st);
    cr_assert_eq(int_of(rec, "out_bytes"), (long long)st.st_size);
    cr_assert_lt(st.st_size, (off_t)f.len);
    cr_assert_eq(th_jpeg_quality(p), 90);
    cr_assert_eq(th_decode_jpeg(p, &img), 0);
    cr_assert(img.w == 400 && img.h == 300);
    th_mean_rgb(&img, 100, 75, 4, rgb);
    cr_assert(th_rgb_near(rgb, 255, 0, 0, 8), "red patch %.0f,%.0f,%.0f",
              rgb[0], rgb[1], rgb[2]);
    th_image_release(&img);
    fsnap_release(&f);
    json_decref(arr);
    free(err);
    free(p);
}

Test(inplace, min_saving_keeps_originals_that_would_not_shrink_enough)
{
    char *p = th_path(in, "a.jpg"), *err;
    struct fsnap f;
    json_t *arr, *rec;
    int code;

    gen_jpeg(p, 800, 600, GEN_RGB420, 95, 0, 50);
    fsnap_take(&f, p);
    code = run_ip(rep, &arr, &err, "--min-saving", "90", in, NULL);
    cr_assert_eq(code, 0, "exit %d: %s", code, err);
    rec = record(arr, "a.jpg");
    assert_record(arr, "a.jpg", "skipped", "no-gain");
    cr_assert_gt(int_of(rec, "out_bytes"), 0);
    cr_assert_gt(int_of(rec, "out_bytes"), (long long)f.len / 10);
    assert_untouched(&f, p);
    cr_assert_eq(count_tmp_files(in), 0);
    fsnap_release(&f);
    json_decref(arr);
    free(err);
    free(p);
}

Test(inplace, dry_run_touches_nothing_and_reports_the_would_be_size)
{
    char *p = th_path(in, "sub/a.jpg"), *err;
    long long would;
    struct fsnap f;
    struct flist l;
    json_t *arr, *rec;
    int code;

    gen_jpeg(p, 1000, 700, GEN_RGB420, 95, 3, 51);
    fsnap_take(&f, p);
    code = run_ip(rep, &arr, &err, "--dry-run", in, NULL);
    cr_assert_eq(code, 0, "exit %d: %s", code, err);
    rec = record(arr, "sub/a.jpg");
    assert_record(arr, "sub/a.jpg", "skipped", "dry-run");
    would = int_of(rec, "out_bytes");
    assert_untouched(&f, p);
    flist_of(&l, in);
    cr_assert_eq(l.n, 1, "the dry run left %zu files", l.n);
    flist_release(&l);
    json_decref(arr);
    free(err);

    /* out_bytes is what the real run then writes. */
    {
        struct stat st;
        cr_assert_gt(would, 0);
        cr_assert_lt(would, (long long)f.len);
        code = run_ip(rep, &arr, &err, in, NULL);
        cr_assert_eq(code, 0);
        stat_or_die(p, &st);
        cr_assert_eq((long long)st.st_size, would,
                     "the dry run said %lld bytes, the run wrote %lld", would,
                     (long long)st.st_size);
        json_decref(arr);
        free(err);
    }
    fsnap_release(&f);
    free(p);
}

Test(inplace, backup_holds_byte_identical_originals_of_replaced_files_only)
{
    char *bk = th_path(tmp, "backup"), *err;
    static const char *replaced[] = { "a.jpg", "sub/deep/b.jpg",
                                      "sub/c.jpg" };
    struct fsnap orig[3];
    struct flist l;
    json_t *arr;
    int code;

    for (int i = 0; i < 3; i++) {
        char *p = th_path(in, replaced[i]);
        gen_jpeg(p, 700 + 50 * i, 500, i == 2 ? GEN_GRAY : GEN_RGB420, 95, 0,
                 (uint32_t)(60 + i));
        fsnap_take(&orig[i], p);
        free(p);
    }
    th_copy_testdata(in, "q75.jpg", "sub/q75.jpg");
    th_copy_testdata(in, "progressive.jpg", "progressive.jpg");  /* no-gain */
    th_copy_testdata(in, "rgb.png", "sub/deep/rgb.png");
    th_copy_testdata(in, "truncated.jpg", "truncated.jpg");

    code = run_ip(rep, &arr, &err, "--backup", bk, in, NULL);
    cr_assert_eq(code, 1, "exit %d (truncated.jpg fails): %s", code, err);
    for (int i = 0; i < 3; i++)
        assert_record(arr, replaced[i], "ok", NULL);
    assert_record(arr, "truncated.jpg", "failed", "truncated");
    assert_record(arr, "sub/q75.jpg", "ok", NULL);
    json_decref(arr);
    free(err);

    /* sub/q75.jpg, at or below -q, got the lossless pass: replaced too. */
    flist_of_backup(&l, bk);
    cr_assert_eq(l.n, 4, "the backup holds %zu files, not the 4 replaced",
                 l.n);
    for (int i = 0; i < 3; i++) {
        char *b = th_path(bk, replaced[i]);
        size_t len;
        char *data;
        cr_assert(th_exists(b), "no backup of '%s'", replaced[i]);
        data = th_read_file(b, &len);
        cr_assert(len == orig[i].len && memcmp(data, orig[i].data, len) == 0,
                  "the backup of '%s' is not its original", replaced[i]);
        free(data);
        fsnap_release(&orig[i]);
        free(b);
    }
    flist_release(&l);

    /* A second run replaces nothing and so backs up nothing more. */
    code = run_ip(rep, &arr, &err, "--backup", bk, in, NULL);
    cr_assert_eq(code, 1);
    cr_assert_eq(int_of(summary_of(arr), "ok"), 0);
    flist_of_backup(&l, bk);
    cr_assert_eq(l.n, 4);
    flist_release(&l);
    json_decref(arr);
    free(err);
    free(bk);
}

Test(inplace, backup_inside_the_input_is_not_scanned)
{
    char *bk = th_path(in, "bk"), *p = th_path(in, "a.jpg"), *err;
    char *bka = th_path(bk, "a.jpg");
    json_t *arr;
    int code;

    gen_jpeg(p, 700, 500, GEN_RGB420, 95, 0, 64);
    code = run_ip(rep, &arr, &err, "--backup", bk, in, NULL);
    cr_assert_eq(code, 0, "exit %d: %s", code, err);
    json_decref(arr);
    free(err);
    cr_assert(th_exists(bka), "no backup of a.jpg");
    /* The backup (Q95) would be re-encoded if it were taken as input. */
    code = run_ip(rep, &arr, &err, "--backup", bk, in, NULL);
    cr_assert_eq(code, 0);
    cr_assert_eq(int_of(summary_of(arr), "total"), 1);
    cr_assert_eq(th_jpeg_quality(bka), 95);
    json_decref(arr);
    free(err);
    free(bk);
    free(bka);
    free(p);
}

/* Decode @path and compare it with the decoded @ref (same size). */
static double
psnr_against(const struct th_image *ref, const char *path, int channels)
{
    struct th_image img;
    double p;

    cr_assert_eq(th_decode_jpeg(path, &img), 0, "'%s' does not decode",
                 path);
    cr_assert_eq(img.file_channels, channels, "'%s' has %d components, "
                 "not %d", path, img.file_channels, channels);
    p = th_psnr(ref, &img);
    th_image_release(&img);
    return p;
}

Test(inplace, cmyk_and_grey_stay_cmyk_and_grey)
{
    static const struct { const char *name; int channels; } f[] = {
        { "/cmyk.jpg", 4 }, { "/gray.jpg", 1 }, { "/big_cmyk.jpg", 4 },
        { "/big_gray.jpg", 1 },
    };
    struct th_image ref[4];
    json_t *arr;
    char *err;
    int code;

    th_copy_testdata(in, "cmyk.jpg", "cmyk.jpg");
    th_copy_testdata(in, "gray.jpg", "gray.jpg");
    /*
     * TurboJPEG stores CMYK as YCCK, libvips writes plain CMYK, which
     * compresses worse: a Q95 YCCK original grows by half at Q90 and is
     * rightly skipped as no-gain.  From Q98 the re-encode is 22% smaller.
     */
    gen_in(in, "big_cmyk.jpg", 900, 600, GEN_CMYK, 98, 0, 70);
    gen_in(in, "big_gray.jpg", 900, 600, GEN_GRAY, 95, 0, 71);
    for (int i = 0; i < 4; i++) {
        char *p = th_path(in, f[i].name);
        cr_assert_eq(th_decode_jpeg(p, &ref[i]), 0);
        cr_assert_eq(ref[i].file_channels, f[i].channels, "fixture %s",
                     f[i].name);
        free(p);
    }

    code = run_ip(rep, &arr, &err, "--force", in, NULL);
    cr_assert_eq(code, 0, "exit %d: %s", code, err);
    for (int i = 0; i < 4; i++) {
        char *p = th_path(in, f[i].name);
        double q;
        assert_record(arr, f[i].name, "ok", NULL);
        cr_assert_eq(th_jpeg_quality(p), 90, "%s not re-encoded", f[i].name);
        q = psnr_against(&ref[i], p, f[i].channels);
        /* An inversion or a lost K channel would be far below. */
        cr_assert_geq(q, 30.0, "%s: PSNR %.2f dB", f[i].name, q);
        cr_log_info("%s: %d components kept, PSNR %.2f dB", f[i].name,
                    f[i].channels, q);
        th_image_release(&ref[i]);
        free(p);
    }
    json_decref(arr);
    free(err);
}

Test(inplace, usage_errors_exit_2_and_touch_nothing)
{
    static const struct {
        const char *args[8];
        const char *expect;
    } cases[] = {
        { { "recompress", "--in-place", "-o", "OUT", "IN", NULL },
          "--in-place" },
        { { "thumbnail", "--in-place", "IN", NULL }, "--in-place" },
        { { "recompress", "--in-place", "-s", "100", "IN", NULL },
          "--in-place" },
        { { "recompress", "--in-place", "--format", "png", "IN", NULL },
          "--in-place" },
        { { "recompress", "--in-place", "--min-saving", "x", "IN", NULL },
          "--min-saving" },
    };
    char *out = th_path(tmp, "out"), *p = th_path(in, "a.jpg");
    struct fsnap f;

    gen_jpeg(p, 640, 480, GEN_RGB420, 95, 0, 80);
    fsnap_take(&f, p);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *args[8];
        struct th_run r;
        for (size_t k = 0; k < 8; k++) {
            const char *a = cases[i].args[k];
            args[k] = a && strcmp(a, "IN") == 0    ? in
                      : a && strcmp(a, "OUT") == 0 ? out
                                                   : a;
        }
        th_run(&r, args);
        cr_assert_eq(r.status, 2, "case %zu: exit %d", i, r.status);
        cr_assert(strstr(r.err, cases[i].expect), "case %zu: stderr '%s'", i,
                  r.err);
        th_run_release(&r);
    }
    assert_untouched(&f, p);
    cr_assert_not(th_exists(out), "an output directory was created");
    fsnap_release(&f);
    free(out);
    free(p);
}
