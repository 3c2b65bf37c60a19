/*
 * test_exifcopy.c - from a JPEG source, `recompress -o` and `recompress
 * --in-place` carry the EXIF segment over byte for byte (exifcopy.h):
 * exiftool's full tag set (-a -u -G1) of the output equals the source's
 * but for the documented changes: Orientation 1 where the pixels were
 * turned upright, no GPS with --strip-gps.  Unknown tags (a maker-note
 * like private block, an out-of-range value), the IFD1 thumbnail, the
 * EXIF enumerations libexif is known to drop, XMP and IPTC included.
 * Over the shared camera and orientation corpora too, when present.
 *
 * Not compared: the File/System/Composite/JFIF groups (facts about the
 * new file), the ICC groups (the output carries the profile of its own
 * pixels, see the manual) and IFD1:ThumbnailOffset, which exiftool
 * reports from the start of the file; the thumbnail bytes are compared
 * instead.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"

TestSuite(exifcopy, .init = th_dir_setup, .fini = th_dir_teardown,
          .timeout = 300);

static int
have_tools(void)
{
    return system("command -v exiftool >/dev/null 2>&1 && "
                  "command -v vips >/dev/null 2>&1") == 0;
}

/* exiftool's tag set of @path, one sorted "[group] name : value" a line,
 * into @out; @upright: Orientation as it must be once the pixels were
 * turned (1); @nogps: the GPS lines dropped. */
static void
tagset(const char *path, const char *out, int upright, int nogps)
{
    th_sh("exiftool -a -u -G1 -s -n '%s' | "
          "grep -v '^\\[\\(File\\|System\\|ExifTool\\|Composite\\|JFIF\\|"
          "ICC[-_a-zA-Z]*\\)\\]' | grep -v '^\\[IFD1\\] *ThumbnailOffset ' | "
          "%s %s sort > '%s'", path,
          upright
              ? "sed 's/^\\(\\[IFD0\\] *Orientation *: \\).*/\\11/' |"
              : "",
          nogps ? "grep -v '^\\[GPS\\]' |" : "", out);
}

/* The tag sets of @src (with the changes asked) and @dst are equal, and
 * so are their IFD1 thumbnails. */
static void
expect_same_tags(const char *src, const char *dst, int upright, int nogps)
{
    char *a = th_path(th_dir, "want.txt"), *b = th_path(th_dir, "got.txt");
    char *ta, *tb, *diff;
    char cmd[4096];
    FILE *p;
    static char buf[16384];
    size_t n;

    tagset(src, a, upright, nogps);
    tagset(dst, b, 0, 0);
    ta = th_read_file(a, NULL);
    tb = th_read_file(b, NULL);
    snprintf(cmd, sizeof(cmd), "diff '%s' '%s' | head -40", a, b);
    p = popen(cmd, "r");
    n = p ? fread(buf, 1, sizeof(buf) - 1, p) : 0;
    buf[n] = '\0';
    if (p)
        pclose(p);
    diff = buf;
    cr_expect(strlen(ta) > 0, "%s: no tags read", src);
    cr_expect_str_eq(ta, tb, "%s -> %s: tag sets differ:\n%s", src, dst,
                     diff);
    th_sh("exiftool -b -ThumbnailImage '%s' > '%s/t1' ; "
          "exiftool -b -ThumbnailImage '%s' > '%s/t2' ; "
          "cmp -s '%s/t1' '%s/t2'",
          src, th_dir, dst, th_dir, th_dir, th_dir);
    free(ta);
    free(tb);
    free(a);
    free(b);
}

/* A 400x300 JPEG with Orientation 6, the tags libexif loses, unknown
 * tags, out-of-range values, GPS, an IFD1 thumbnail, XMP and IPTC. */
static char *
make_source(const char *name)
{
    char *src = th_path(th_dir, name);
    char *q75 = th_testdata("q75.jpg");

    th_sh("cp '%s' '%s'", q75, src);
    th_sh("vips thumbnail '%s' '%s/thumb.jpg' 80", q75, th_dir);
    th_sh("printf '%%s\\n' '%%Image::ExifTool::UserDefined = (' "
          "\"'Image::ExifTool::Exif::Main' => {\" "
          "\"0xc7f0 => { Name => 'PoolPrivate', Writable => 'undef', "
          "WriteGroup => 'ExifIFD' },\" "
          "\"0xc7f1 => { Name => 'PoolOdd', Writable => 'int32u', "
          "WriteGroup => 'IFD0' },\" '},);' '1;' > '%s/cfg'", th_dir);
    th_sh("exiftool -config '%s/cfg' -q -overwrite_original -Make=PENTAX "
          "'-Model=PENTAX K10D' -WhiteBalance=Manual -Contrast=High "
          "-Saturation=Low -Sharpness=Hard -ExposureMode=Auto "
          "-SceneCaptureType=Night -CustomRendered=Custom "
          "-SubjectDistanceRange=Macro -GPSLatitude=48.5 -GPSLatitudeRef=N "
          "-GPSLongitude=2.35 -GPSLongitudeRef=E "
          "'-DateTimeOriginal=2020:01:02 03:04:05' -Orientation#=6 "
          "-ExposureProgram#=99 -MeteringMode#=300 -LightSource#=65000 "
          "'-PoolPrivate=MAKERNOTE-LIKE private block 0123456789' "
          "-PoolOdd=4000000000 '-ThumbnailImage<=%s/thumb.jpg' "
          "'-XMP-dc:Creator=Ann Example' -XMP-xmp:Rating=4 "
          "-IPTC:Keywords=kw1 -IPTC:City=Paris '%s'", th_dir, th_dir, src);
    free(q75);
    return src;
}

Test(exifcopy, recompress_o_keeps_every_tag)
{
    char *src, *out, *got;

    if (!have_tools())
        cr_skip_test("exiftool or vips is not installed");
    src = make_source("a.jpg");
    out = th_path(th_dir, "out");
    got = th_path(out, "a.jpg");
    {
        /* --force: the quality-75 source would be kept as it is
         * (kept-original, test_kept_original.c); this is the re-encode. */
        const char *args[] = {"recompress", "--force", src, "-o", out, NULL};
        th_run_expect(args, 0);
    }
    th_sh("! cmp -s '%s' '%s'", src, got);     /* really re-encoded */
    expect_same_tags(src, got, 1, 0);
    free(src);
    free(out);
    free(got);
}

/* Several sizes: one decode, every output resized from it through the
 * libvips path; each carries the source's EXIF as a single output does. */
Test(exifcopy, several_sizes_keep_every_tag)
{
    static const char *dirs[] = {"100", "200"};
    char *src, *thumbs, *rec, *got;

    if (!have_tools())
        cr_skip_test("exiftool or vips is not installed");
    src = make_source("a.jpg");
    thumbs = th_path(th_dir, "thumbs");
    rec = th_path(th_dir, "rec");
    {
        const char *args[] = {"thumbnail", "-s", "100", "-s", "200",
                              "--keep-metadata", src, "-o", thumbs, NULL};
        th_run_expect(args, 0);
        const char *args2[] = {"recompress", "--sizes", "100,200", src, "-o",
                               rec, NULL};
        th_run_expect(args2, 0);
    }
    for (size_t i = 0; i < 2; i++) {
        char name[32];
        snprintf(name, sizeof(name), "%s/a.jpg", dirs[i]);
        got = th_path(thumbs, name);
        expect_same_tags(src, got, 1, 0);
        free(got);
        got = th_path(rec, name);
        expect_same_tags(src, got, 1, 0);
        free(got);
    }
    free(src);
    free(thumbs);
    free(rec);
}

Test(exifcopy, in_place_keeps_every_tag_and_strips_only_gps)
{
    char *src, *gps, *orig;

    if (!have_tools())
        cr_skip_test("exiftool or vips is not installed");
    orig = make_source("orig.jpg");
    src = th_path(th_dir, "a.jpg");
    gps = th_path(th_dir, "g.jpg");
    th_copy_file(orig, src);
    th_copy_file(orig, gps);
    {
        const char *args[] = {"recompress", "--in-place", "-q", "40", src,
                              NULL};
        th_run_expect(args, 0);
        const char *args2[] = {"recompress", "--in-place", "-q", "40",
                               "--strip-gps", gps, NULL};
        th_run_expect(args2, 0);
    }
    th_sh("! cmp -s '%s' '%s'", orig, src);    /* really recompressed */
    expect_same_tags(orig, src, 0, 0);
    expect_same_tags(orig, gps, 0, 1);
    th_sh("exiftool -s3 -GPSLatitude '%s' | grep -q 48", orig);
    th_sh("! exiftool -s3 -GPSLatitude '%s' | grep -q .", gps);
    free(src);
    free(gps);
    free(orig);
}

/* Every JPEG of the shared corpus folder @sub through recompress -o. */
static void
corpus_run(const char *sub)
{
    char in[1024], line[2048];
    char *out = th_path(th_dir, "out");
    FILE *p;
    int n = 0;

    if (!have_tools())
        cr_skip_test("exiftool or vips is not installed");
    snprintf(in, sizeof(in), "%s/%s", SHARED_CORPUS_DIR, sub);
    if (!th_exists(in))
        cr_skip_test("%s is absent: shared corpus not installed", in);
    {
        /* --force: the re-encode of every file, also of those that
         * would be kept as they are (kept-original). */
        const char *args[] = {"recompress", "--force", in, "-o", out, NULL};
        th_run_expect(args, 0);
    }
    snprintf(line, sizeof(line), "cd '%s' && ls *.jpg", in);
    p = popen(line, "r");
    cr_assert(p);
    while (fgets(line, sizeof(line), p)) {
        char src[4096], dst[4096];
        line[strcspn(line, "\n")] = '\0';
        snprintf(src, sizeof(src), "%s/%s", in, line);
        snprintf(dst, sizeof(dst), "%s/%s", out, line);
        expect_same_tags(src, dst, 1, 0);
        n++;
    }
    pclose(p);
    cr_expect(n > 0, "no JPEG in %s", in);
    free(out);
}

Test(exifcopy, camera_corpus_keeps_every_tag)
{
    corpus_run("cameras");
}

Test(exifcopy, orientation_corpus_keeps_every_tag)
{
    corpus_run("exif-orientation");
}
