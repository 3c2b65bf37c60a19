/*
 * test_heif_meta.c - every EXIF and XMP block of a HEIC, AVIF, PNG, WebP
 * or TIFF source reaches the JPEG `recompress` writes (meta.h,
 * heifxmp.h): exiftool's EXIF and XMP tag sets (-a -G1 -s) of the source
 * are all in the output with the same values.  The documented changes:
 * a TIFF's own structure tags (strips, bits per sample, ...) describe the
 * TIFF's pixels and are not carried; libvips' JPEG writer adds what its
 * EXIF always holds (the size, resolution, orientation 1, version tags)
 * where the source had none.
 *
 * HEIC files with XMP on another image than the primary one (its
 * thumbnail, a second top-level image, as a phone's HDR gain map carries
 * it) are made with heifgen.c; cases whose encoder is missing here skip.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "heifxmp.h"
#include "helpers.h"

TestSuite(heif_meta, .init = th_dir_setup, .fini = th_dir_teardown,
          .timeout = 180);

/* The output of @cmd (at most 16 KB). */
static char *
capture(const char *cmd)
{
    static char buf[16384];
    FILE *p = popen(cmd, "r");
    size_t n = p ? fread(buf, 1, sizeof(buf) - 1, p) : 0;

    buf[n] = '\0';
    if (p)
        pclose(p);
    return buf;
}

static void
need_tools(void)
{
    if (!th_have_tool("exiftool") || !th_have_tool("vips"))
        cr_skip_test("exiftool or vips is not installed");
}

/* What libvips' JPEG writer adds to an EXIF block that lacks it. */
#define ADDED_BY_WRITER \
    "ExifImageWidth|ExifImageHeight|Orientation|ResolutionUnit|" \
    "XResolution|YResolution|ColorSpace|ExifVersion|FlashpixVersion|" \
    "ComponentsConfiguration|YCbCrPositioning"
/* A TIFF's structure, which describes its own pixels. */
#define TIFF_STRUCTURE \
    "BitsPerSample|Compression|ImageWidth|ImageHeight|" \
    "PhotometricInterpretation|PlanarConfiguration|RowsPerStrip|" \
    "SampleFormat|SamplesPerPixel|StripByteCounts|StripOffsets"

/* The EXIF and XMP tags of @src are all in @dst, unchanged, and @dst has
 * no others but those libvips' writer adds. */
static void
expect_tags_kept(const char *src, const char *dst)
{
    char cmd[4096];
    const char *lost, *added;

    snprintf(cmd, sizeof(cmd),
             "cd '%s' && exiftool -a -G1 -s -XMP:all -EXIF:all '%s' | "
             "grep -Ev '^\\[IFD0\\] +(" TIFF_STRUCTURE ") ' | sort > A && "
             "exiftool -a -G1 -s -XMP:all -EXIF:all '%s' | sort > B",
             th_dir, src, dst);
    th_sh("%s", cmd);
    snprintf(cmd, sizeof(cmd), "cd '%s' && wc -l < A", th_dir);
    cr_expect_gt(atoi(capture(cmd)), 10, "%s: too few tags read", src);
    snprintf(cmd, sizeof(cmd), "cd '%s' && comm -23 A B", th_dir);
    lost = capture(cmd);
    cr_expect_str_eq(lost, "", "%s -> %s: lost or changed:\n%s", src, dst,
                     lost);
    snprintf(cmd, sizeof(cmd),
             "cd '%s' && comm -13 A B | grep -Ev '^\\[(IFD0|ExifIFD)\\] +("
             ADDED_BY_WRITER ") ' | grep -v '^\\[XMP-x\\] +XMPToolkit '",
             th_dir);
    added = capture(cmd);
    cr_expect_str_eq(added, "", "%s -> %s: tags added:\n%s", src, dst,
                     added);
}

/* exiftool's rich EXIF and XMP on @path. */
static void
tag(const char *path)
{
    th_sh("exiftool -q -overwrite_original -Make=TestMake -Model=TestModel "
          "'-DateTimeOriginal=2099:12:31 23:59:59' -ExposureTime=0.01 "
          "-FNumber=2.8 -ISO=200 -WhiteBalance=Manual -SceneCaptureType=Night "
          "-LensModel=Lens -GPSLatitude=48.85 -GPSLatitudeRef=N "
          "-GPSLongitude=2.35 -GPSLongitudeRef=E -GPSAltitude=35 "
          "-XMP-dc:Title=hello -XMP-dc:Creator=Ann -XMP-xmp:Rating=4 "
          "-XMP-photoshop:City=Paris '%s'", path);
}

static void
recompress(const char *in, const char *out)
{
    const char *args[] = {"recompress", in, "-o", out, NULL};

    th_run_expect(args, 0);
}

Test(heif_meta, every_source_format_keeps_its_exif_and_xmp_tags)
{
    static const char *names[] = {"t.tif", "p.png", "w.webp", "h.heic",
                                  "a.avif"};
    char *in = th_path(th_dir, "in"), *out = th_path(th_dir, "out");
    int made = 0;

    need_tools();
    th_mkdirs(in);
    th_sh("cd '%s' && vips gaussnoise n.v 160 120 --sigma 30 --mean 128 && "
          "vips bandjoin 'n.v n.v n.v' r.v && vips cast r.v raw.v uchar",
          th_dir);
    for (size_t i = 0; i < 5; i++) {
        char cmd[2048];
        const char *heif = strstr(names[i], ".heic") ? "hevc"
                           : strstr(names[i], ".avif") ? "av1" : NULL;
        if (heif)
            snprintf(cmd, sizeof(cmd), "vips heifsave '%s/raw.v' '%s/%s' "
                     "--compression %s 2>/dev/null", th_dir, in, names[i],
                     heif);
        else
            snprintf(cmd, sizeof(cmd), "vips copy '%s/raw.v' '%s/%s'",
                     th_dir, in, names[i]);
        if (system(cmd) != 0) {
            cr_log_warn("no %s encoder here: %s not tested", heif, names[i]);
            continue;
        }
        made++;
        {
            char *p = th_path(in, names[i]);
            tag(p);
            free(p);
        }
    }
    recompress(in, out);
    for (size_t i = 0; i < 5; i++) {
        char stem[16], *src = th_path(in, names[i]), *dst;
        if (!th_exists(src)) {
            free(src);
            continue;
        }
        snprintf(stem, sizeof(stem), "%.1s.jpg", names[i]);
        dst = th_path(out, stem);
        expect_tags_kept(src, dst);
        free(src);
        free(dst);
    }
    cr_expect_geq(made, 3);
    free(in);
    free(out);
}

/* An XMP packet with dc:title @title and the extra properties @props
 * (inside the rdf:Description), wrapped in <?xpacket?> when @wrap. */
static void
write_xmp(const char *path, const char *ns, const char *props, int wrap)
{
    FILE *f = fopen(path, "w");

    cr_assert(f);
    fprintf(f, "%s<x:xmpmeta xmlns:x='adobe:ns:meta/'>"
            "<rdf:RDF xmlns:rdf='http://www.w3.org/1999/02/22-rdf-syntax-"
            "ns#'><rdf:Description rdf:about='' %s>%s</rdf:Description>"
            "</rdf:RDF></x:xmpmeta>%s",
            wrap ? "<?xpacket begin='' id='W5M0MpCehiHzreSzNTczkc9d'?>" : "",
            ns, props, wrap ? "<?xpacket end='w'?>" : "");
    fclose(f);
}

#ifdef HEIFGEN_BIN
/* Make @name with heifgen: primary XMP @prim (a file, or "-"), the other
 * image's @other, on a thumbnail or a second image (@where). */
static char *
heifgen(const char *name, const char *prim, const char *other,
        const char *where)
{
    char *path = th_path(th_path(th_dir, "in"), name);
    char cmd[4096];
    int rc;

    th_mkdirs(th_path(th_dir, "in"));
    snprintf(cmd, sizeof(cmd), "'%s' '%s' '%s' '%s' %s", HEIFGEN_BIN, path,
             prim, other, where);
    rc = system(cmd);
    if (WIFEXITED(rc) && WEXITSTATUS(rc) == 77)
        cr_skip_test("libheif has no HEVC encoder here");
    cr_assert_eq(rc, 0, "failed: %s", cmd);
    return path;
}
#endif

/* The XMP of every image of a HEIC, joined: the primary's (with or
 * without an xpacket wrapper, or none), a thumbnail's, a second
 * image's. */
Test(heif_meta, xmp_of_every_image_reaches_the_jpeg)
{
#ifndef HEIFGEN_BIN
    cr_skip_test("heifgen was not built (libheif development files)");
#else
    char *dir = th_dir, *out = th_path(th_dir, "out");
    char *pa = th_path(dir, "p.xmp"), *pw = th_path(dir, "pw.xmp");
    char *gain = th_path(dir, "gain.xmp");
    static const struct {
        const char *name, *prim, *where;
    } cases[] = {
        {"thumb.heic", "p", "thumb"},     {"image.heic", "p", "image"},
        {"wrapped.heic", "pw", "thumb"},  {"only.heic", "-", "image"},
    };

    need_tools();
    write_xmp(pa, "xmlns:dc='http://purl.org/dc/elements/1.1/'",
              "<dc:title><rdf:Alt><rdf:li xml:lang='x-default'>main"
              "</rdf:li></rdf:Alt></dc:title>", 0);
    write_xmp(pw, "xmlns:dc='http://purl.org/dc/elements/1.1/'",
              "<dc:title><rdf:Alt><rdf:li xml:lang='x-default'>main"
              "</rdf:li></rdf:Alt></dc:title>", 1);
    write_xmp(gain, "xmlns:photoshop='http://ns.adobe.com/photoshop/1.0/' "
              "xmlns:xmp='http://ns.adobe.com/xap/1.0/'",
              "<photoshop:City>Oslo</photoshop:City>"
              "<xmp:Rating>3</xmp:Rating>", 0);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *prim = strcmp(cases[i].prim, "p") == 0    ? pa
                           : strcmp(cases[i].prim, "pw") == 0 ? pw
                                                              : "-";
        free(heifgen(cases[i].name, prim, gain, cases[i].where));
    }
    recompress(th_path(dir, "in"), out);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char cmd[4096], stem[64];
        const char *got;
        snprintf(stem, sizeof(stem), "%.*s.jpg",
                 (int)(strchr(cases[i].name, '.') - cases[i].name),
                 cases[i].name);
        snprintf(cmd, sizeof(cmd), "exiftool -s3 -XMP-photoshop:City "
                 "-XMP-xmp:Rating -XMP-dc:Title '%s/%s' | tr '\\n' ' '", out,
                 stem);
        got = capture(cmd);
        cr_expect_str_eq(got, cases[i].prim[0] == '-' ? "Oslo 3 "
                                                      : "Oslo 3 main ",
                         "%s: XMP %s", cases[i].name, got);
    }
    free(out);
    free(pa);
    free(pw);
    free(gain);
#endif
}

/* The join itself: the second packet's descriptions inside the first's
 * rdf:RDF, the first's wrapper and order kept; a packet without rdf:RDF
 * cannot be joined. */
Test(heif_meta, join_puts_descriptions_into_one_rdf)
{
    static const char a[] = "<?xpacket begin=''?><x:xmpmeta><rdf:RDF "
                            "xmlns:rdf='r'><rdf:Description A/></rdf:RDF>"
                            "</x:xmpmeta><?xpacket end='w'?>";
    static const char b[] = "<x:xmpmeta><rdf:RDF xmlns:rdf='r'>"
                            "<rdf:Description B1/><rdf:Description B2/>"
                            "</rdf:RDF></x:xmpmeta>";
    static const char want[] = "<?xpacket begin=''?><x:xmpmeta><rdf:RDF "
                               "xmlns:rdf='r'><rdf:Description A/>"
                               "<rdf:Description B1/><rdf:Description B2/>"
                               "</rdf:RDF></x:xmpmeta><?xpacket end='w'?>";
    size_t len = 0;
    char *j = heifxmp_join(a, strlen(a), b, strlen(b), &len);

    cr_assert(j);
    cr_expect_eq(len, strlen(want));
    cr_expect(len == strlen(want) && memcmp(j, want, len) == 0, "%.*s",
              (int)len, j);
    free(j);
    cr_expect_null(heifxmp_join(a, strlen(a), "<x:xmpmeta/>", 12, &len));
    cr_expect_null(heifxmp_join("<x/>", 4, b, strlen(b), &len));
}
