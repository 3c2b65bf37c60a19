/*
 * test_kept_original.c - `recompress -o` copies a JPEG source at or below
 * -q as the output when its re-encode is not smaller (keep.h): the
 * output is byte for byte the source and the record says mode
 * "kept-original"; --force writes the re-encode; a source above -q, a
 * PNG source, another output format, resized outputs (several sizes,
 * thumbnails) and a CMYK source are re-encoded as before.
 *
 * The photos are made here with the vips command: noise blurred into
 * photo-like detail, saved at a chosen quality, so that a quality-70 file
 * re-encoded at 90 grows, as the 351,588 -> 415,659 bytes did.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"

TestSuite(kept, .init = th_dir_setup, .fini = th_dir_teardown,
          .timeout = 120);

static void
need_vips(void)
{
    if (!th_have_tool("vips"))
        cr_skip_test("the vips command is not installed");
}

/* A 640x480 photo-like JPEG at quality @q as @name in th_dir, with the
 * extra vips jpegsave options @opts. */
static char *
make_photo(const char *name, int q, const char *opts)
{
    char *path = th_path(th_dir, name);

    th_sh("cd '%s' && { [ -f blur.v ] || { vips gaussnoise noise.v 640 480 "
          "--sigma 40 --mean 128 && vips gaussblur noise.v blur.v 1.5 && "
          "vips bandjoin 'blur.v blur.v blur.v' rgb0.v && "
          "vips linear rgb0.v rgb.v '1 0.8 0.6' '0 20 40' --uchar; }; } && "
          "vips jpegsave rgb.v '%s' --Q %d %s", th_dir, path, q, opts);
    return path;
}

/* The usual case (skipped without vips): a photo th_dir/a.jpg at quality
 * @q, returned, and its output directory th_dir/@dir in *out and the
 * output a.jpg there in *dst. */
static char *
photo_case(int q, const char *dir, char **out, char **dst)
{
    char *src;

    need_vips();
    src = make_photo("a.jpg", q, "");
    *out = th_path(th_dir, dir);
    *dst = th_path(*out, "a.jpg");
    return src;
}

/* The NULL-terminated argument list of imgpool made of the strings given. */
#define ARGS(...) ((const char *const[]){__VA_ARGS__, NULL})

/* Run imgpool with @args (exit 0 expected) and return the report's
 * records (the caller frees with json_decref). */
static json_t *
run_report(const char *const *args)
{
    const char *full[32];
    char *report = th_path(th_dir, "report.jsonl");
    json_t *arr;
    int n = 0;

    while (args[n]) {
        full[n] = args[n];
        n++;
    }
    full[n++] = "--report";
    full[n++] = report;
    full[n] = NULL;
    th_run_expect(full, 0);
    arr = th_read_jsonl(report);
    free(report);
    return arr;
}

static long long
file_size(const char *path)
{
    struct stat st;

    th_lstat(path, &st);
    return (long long)st.st_size;
}

/* @path decodes (TurboJPEG) to @w x @h. */
static void
expect_jpeg(const char *path, int w, int h)
{
    struct th_image img;

    cr_assert_eq(th_decode_jpeg(path, &img), 0, "%s does not decode", path);
    cr_expect_eq(img.w, w, "%s: width %d, not %d", path, img.w, w);
    cr_expect_eq(img.h, h, "%s: height %d, not %d", path, img.h, h);
    th_image_release(&img);
}

/* The record of @name in @arr is ok and a re-encode (no mode); returned. */
static json_t *
expect_reencoded(json_t *arr, const char *name)
{
    json_t *rec = th_record(arr, name);

    cr_expect_str_eq(th_json_str(rec, "status"), "ok", "%s", name);
    cr_expect_null(th_json_str(rec, "mode"), "%s: mode %s on a re-encode",
                   name, th_json_str(rec, "mode"));
    return rec;
}

/* `recompress` of th_dir/@name (a JPEG at or below the default -q) into
 * th_dir/@dir re-encodes it, to a 3-band JPEG, where a copy would keep
 * what @kind (a CMYK, grey, ... source) stores. */
static void
expect_reencoded_3band(const char *name, const char *dir, const char *kind)
{
    char *src = th_path(th_dir, name), *out = th_path(th_dir, dir);
    char *dst = th_path(out, name);
    struct th_image img;
    json_t *arr = run_report(ARGS("recompress", src, "-o", out));

    expect_reencoded(arr, name);
    cr_assert_eq(th_decode_jpeg(dst, &img), 0);
    cr_expect_eq(img.file_channels, 3, "a %s source: the output has %d "
                 "components, not 3", kind, img.file_channels);
    th_image_release(&img);
    json_decref(arr);
    free(out);
    free(dst);
    free(src);
}

Test(kept, q70_source_at_q90_is_copied_byte_for_byte)
{
    char *src, *out, *dst, *forced;
    json_t *arr, *rec;

    need_vips();
    src = make_photo("a.jpg", 70, "");
    if (th_have_tool("exiftool"))
        th_sh("exiftool -q -overwrite_original -Make=Pool '-Model=Q70 camera' "
              "'-DateTimeOriginal=2021:02:03 04:05:06' '-XMP-dc:Creator=Ann' "
              "'%s'", src);
    out = th_path(th_dir, "out");
    dst = th_path(out, "a.jpg");
    arr = run_report(ARGS("recompress", "-q", "90", src, "-o", out));
    cr_expect(th_same_bytes(src, dst), "the kept output is not the source");
    rec = th_record(arr, "a.jpg");
    cr_expect_str_eq(th_json_str(rec, "status"), "ok");
    cr_expect_str_eq(th_json_str(rec, "mode"), "kept-original");
    cr_expect_eq(th_json_int(rec, "out_bytes"), file_size(src));
    cr_expect_eq(th_json_int(rec, "in_bytes"), file_size(src));
    cr_expect_eq(th_json_int(rec, "out_width"), 640);
    cr_expect_eq(th_json_int(rec, "out_height"), 480);
    json_decref(arr);

    /* The premise: the re-encode really is not smaller. */
    forced = th_path(th_dir, "forced");
    arr = run_report(ARGS("recompress", "--force", "-q", "90", src, "-o",
                          forced));
    rec = th_record(arr, "a.jpg");
    cr_expect_geq(th_json_int(rec, "out_bytes"), file_size(src),
                  "the re-encode (%lld bytes) is smaller than the source "
                  "(%lld): the case does not test the keep",
                  th_json_int(rec, "out_bytes"), file_size(src));
    json_decref(arr);
    free(forced);
    free(src);
    free(out);
    free(dst);
}

Test(kept, force_writes_the_reencode)
{
    char *src, *out, *dst;
    json_t *arr, *rec;

    src = photo_case(70, "out", &out, &dst);
    arr = run_report(ARGS("recompress", "--force", "-q", "90", src, "-o",
                          out));
    cr_expect(!th_same_bytes(src, dst), "--force copied the source");
    expect_jpeg(dst, 640, 480);
    cr_expect_eq(th_jpeg_quality(dst), 90);
    rec = expect_reencoded(arr, "a.jpg");
    cr_expect_eq(th_json_int(rec, "out_bytes"), file_size(dst));
    json_decref(arr);
    free(src);
    free(out);
    free(dst);
}

Test(kept, q98_source_is_reencoded_smaller)
{
    char *src, *out, *dst;
    json_t *arr;

    src = photo_case(98, "out", &out, &dst);
    arr = run_report(ARGS("recompress", "-q", "90", src, "-o", out));
    cr_expect(!th_same_bytes(src, dst));
    cr_expect_lt(file_size(dst), file_size(src));
    expect_jpeg(dst, 640, 480);
    cr_expect_eq(th_jpeg_quality(dst), 90);
    expect_reencoded(arr, "a.jpg");
    json_decref(arr);
    free(src);
    free(out);
    free(dst);
}

Test(kept, png_source_is_never_kept)
{
    char *src = th_path(th_dir, "flat.png"), *out, *dst;
    json_t *arr;

    need_vips();
    /* One flat colour: a tiny PNG, a larger JPEG. */
    th_sh("vips black '%s/b.v' 640 480 --bands 3 && vips linear '%s/b.v' "
          "'%s/f.v' 1 '200 100 50' --uchar && vips pngsave '%s/f.v' '%s'",
          th_dir, th_dir, th_dir, th_dir, src);
    out = th_path(th_dir, "out");
    dst = th_path(out, "flat.jpg");
    arr = run_report(ARGS("recompress", "-q", "90", src, "-o", out));
    expect_jpeg(dst, 640, 480);
    cr_expect_geq(file_size(dst), file_size(src), "the case needs a JPEG "
                  "bigger than the PNG");
    expect_reencoded(arr, "flat.png");
    json_decref(arr);
    free(src);
    free(out);
    free(dst);
}

/* Outputs that are not the source's pixels at its size in JPEG. */
Test(kept, other_formats_and_resized_outputs_are_reencoded)
{
    char *src, *out;
    json_t *arr, *rec;
    struct th_image img;
    char *p;

    need_vips();
    src = make_photo("a.jpg", 70, "");
    out = th_path(th_dir, "png");
    arr = run_report(ARGS("recompress", "-f", "png", src, "-o", out));
    expect_reencoded(arr, "a.jpg");
    p = th_path(out, "a.png");
    cr_expect_eq(th_decode_png(p, &img), 0, "no PNG output");
    th_image_release(&img);
    free(p);
    json_decref(arr);
    free(out);

    out = th_path(th_dir, "sizes");
    arr = run_report(ARGS("recompress", "-s", "320", "-s", "200", src, "-o",
                          out));
    rec = expect_reencoded(arr, "a.jpg");
    cr_expect_eq(json_array_size(json_object_get(rec, "outputs")), 2);
    for (size_t i = 0; i < 2; i++) {
        json_t *o = json_array_get(json_object_get(rec, "outputs"), i);
        const char *path = th_json_str(o, "path");
        cr_assert(path);
        cr_expect(!th_same_bytes(src, path), "%s is the source", path);
        expect_jpeg(path, i == 0 ? 320 : 200, i == 0 ? 240 : 150);
    }
    json_decref(arr);
    free(out);

    out = th_path(th_dir, "thumbs");
    arr = run_report(ARGS("thumbnail", "-s", "100", "-s", "200",
                          "--keep-metadata", src, "-o", out));
    expect_reencoded(arr, "a.jpg");
    json_decref(arr);
    free(out);

    /* One box the photo fits in: the output is the source's size, and
     * kept. */
    out = th_path(th_dir, "fits");
    arr = run_report(ARGS("recompress", "-s", "2000", src, "-o", out));
    rec = th_record(arr, "a.jpg");
    cr_expect_str_eq(th_json_str(rec, "mode"), "kept-original");
    p = th_path(out, "a.jpg");
    cr_expect(th_same_bytes(src, p));
    free(p);
    json_decref(arr);
    free(out);
    free(src);
}

Test(kept, explicit_encoder_choices_and_cmyk_are_reencoded)
{
    char *src, *out, *dst;
    json_t *arr;

    src = photo_case(70, "prog", &out, &dst);
    /* A baseline source asked to become progressive. */
    arr = run_report(ARGS("recompress", "--progressive", src, "-o", out));
    expect_reencoded(arr, "a.jpg");
    cr_expect(!th_same_bytes(src, dst));
    json_decref(arr);
    free(out);
    free(dst);
    free(src);

    th_sh("vips icc_export '%s/rgb.v' '%s/cmyk.v' --output-profile cmyk && "
          "vips jpegsave '%s/cmyk.v' '%s/cmyk.jpg' --Q 70", th_dir, th_dir,
          th_dir, th_dir);
    expect_reencoded_3band("cmyk.jpg", "cmyk", "CMYK");
}

/* A grey source at or below -q is re-encoded rather than kept: every
 * output is a 3-band sRGB JPEG, as with the other recompressions. */
Test(kept, grey_source_is_reencoded_to_three_bands)
{
    need_vips();
    free(make_photo("a.jpg", 70, ""));
    th_sh("vips colourspace '%s/rgb.v' '%s/grey.v' b-w && "
          "vips jpegsave '%s/grey.v' '%s/grey.jpg' --Q 70", th_dir, th_dir,
          th_dir, th_dir);
    expect_reencoded_3band("grey.jpg", "grey", "grey");
}

/* The kept output is recorded like any other (a re-run finds it up to
 * date), and --force is part of the settings: its run redoes the file. */
Test(kept, rerun_is_up_to_date_and_force_redoes)
{
    char *src, *out, *dst;
    json_t *arr, *rec;

    src = photo_case(70, "out", &out, &dst);
    json_decref(run_report(ARGS("recompress", src, "-o", out)));
    arr = run_report(ARGS("recompress", src, "-o", out));
    rec = th_record(arr, "a.jpg");
    cr_expect_str_eq(th_json_str(rec, "status"), "skipped");
    cr_expect_str_eq(th_record_class(rec), "up-to-date");
    json_decref(arr);
    cr_expect(th_same_bytes(src, dst));
    arr = run_report(ARGS("recompress", "--force", src, "-o", out));
    rec = th_record(arr, "a.jpg");
    cr_expect_str_eq(th_json_str(rec, "status"), "ok");
    cr_expect(!th_same_bytes(src, dst), "--force did not re-encode");
    json_decref(arr);
    free(src);
    free(out);
    free(dst);
}

/* A kept copy keeps the stored pixels with their orientation tag; the
 * record still gives the upright size. */
Test(kept, orientation_tag_stays_with_the_stored_pixels)
{
    char *src, *out, *dst;
    json_t *arr, *rec;

    need_vips();
    if (!th_have_tool("exiftool"))
        cr_skip_test("exiftool is not installed");
    src = make_photo("a.jpg", 70, "");
    th_sh("exiftool -q -overwrite_original -Orientation#=6 '%s'", src);
    out = th_path(th_dir, "out");
    dst = th_path(out, "a.jpg");
    arr = run_report(ARGS("recompress", src, "-o", out));
    rec = th_record(arr, "a.jpg");
    cr_expect_str_eq(th_json_str(rec, "mode"), "kept-original");
    cr_expect_eq(th_json_int(rec, "out_width"), 480);
    cr_expect_eq(th_json_int(rec, "out_height"), 640);
    cr_expect(th_same_bytes(src, dst));
    json_decref(arr);
    free(src);
    free(out);
    free(dst);
}
