/*
 * test_meta.c - recompression to JPEG keeps the metadata of every source
 * format libvips reads: EXIF and IPTC from TIFF (EXIF built from its IFDs,
 * IPTC wrapped as JPEG readers expect), XMP from HEIF, EXIF and XMP from
 * PNG and WebP; unusual values (a GPS block, a date in 2099) survive;
 * what cannot be kept is named in a warning.
 * Sources are written with exiftool and read back with exiftool, an
 * oracle independent of libvips and libexif; the TIFF builder is also
 * checked alone on hand-made files of both byte orders.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"
#include "meta.h"

TestSuite(meta, .init = th_dir_setup, .fini = th_dir_teardown, .timeout = 120);

static int
have_tools(void)
{
    return system("command -v exiftool >/dev/null 2>&1 && "
                  "command -v vips >/dev/null 2>&1") == 0;
}

/* exiftool's value of @tag in @path (first line), or "" . */
static char *
exif_value(const char *path, const char *tag)
{
    char cmd[2048];
    static char buf[256 * 1024];
    FILE *p;

    snprintf(cmd, sizeof(cmd), "exiftool -s3 -%s '%s'", tag, path);
    p = popen(cmd, "r");
    cr_assert(p);
    buf[0] = '\0';
    if (!fgets(buf, sizeof(buf), p))
        buf[0] = '\0';
    pclose(p);
    buf[strcspn(buf, "\n")] = '\0';
    return strdup(buf);
}

static void
expect_tag(const char *path, const char *tag, const char *want)
{
    char *got = exif_value(path, tag);

    cr_expect_str_eq(got, want, "%s: %s", path, tag);
    free(got);
}

/* A 320x240 source of format @ext with EXIF, GPS and XMP. */
static char *
make_source(const char *in, const char *name)
{
    char *src = th_path(in, name);
    char *raw = th_path(th_dir, "raw.v");

    if (!th_exists(raw))
        th_sh("vips black '%s' 320 240 --bands 3", raw);
    if (strstr(name, ".heic"))
        th_sh("vips heifsave '%s' '%s' --compression hevc", raw, src);
    else
        th_sh("vips copy '%s' '%s'", raw, src);
    th_sh("exiftool -q -overwrite_original -Make=TestMake -Model=TestModel "
          "'-DateTimeOriginal=2099:12:31 23:59:59' -GPSLatitude=48.85 "
          "-GPSLatitudeRef=N -GPSLongitude=2.35 -GPSLongitudeRef=E "
          "-XMP-dc:Title=hello '%s'", src);
    free(raw);
    return src;
}

Test(meta, every_source_format_keeps_exif_gps_and_xmp)
{
    static const char *names[] = {"t.tif", "p.png", "w.webp", "h.heic",
                                  "j.jpg"};
    char *in = th_path(th_dir, "in"), *out = th_path(th_dir, "out");
    const char *args[] = {"recompress", in, "-o", out, NULL};
    struct th_run r;

    if (!have_tools())
        cr_skip_test("exiftool or vips missing (libimage-exiftool-perl, "
                     "libvips-tools)");
    th_mkdirs(in);
    for (size_t i = 0; i < 5; i++) {
        char *src = make_source(in, names[i]);
        /* IPTC where the format has a place for it: TIFF hands libvips
         * the bare records, JPEG a Photoshop resource block. */
        if (strstr(names[i], ".tif") || strstr(names[i], ".jpg"))
            th_sh("exiftool -q -overwrite_original -IPTC:Keywords=kw1 "
                  "-IPTC:City=Paris '%s'", src);
        free(src);
    }
    th_run(&r, args);
    cr_assert_eq(r.status, 0, "exit %d: %s", r.status, r.err);
    for (size_t i = 0; i < 5; i++) {
        char stem[16], *o;
        snprintf(stem, sizeof(stem), "%.1s.jpg", names[i]);
        o = th_path(out, stem);
        expect_tag(o, "Make", "TestMake");
        expect_tag(o, "Model", "TestModel");
        expect_tag(o, "DateTimeOriginal", "2099:12:31 23:59:59");
        expect_tag(o, "GPSLatitudeRef", "North");
        expect_tag(o, "XMP-dc:Title", "hello");
        if (names[i][0] == 't' || names[i][0] == 'j')
            expect_tag(o, "IPTC:City", "Paris");
        free(o);
    }
    th_run_release(&r);
    free(in);
    free(out);
}

Test(meta, large_xmp_is_extended_and_png_text_is_a_warning)
{
    char *in = th_path(th_dir, "in"), *out = th_path(th_dir, "out");
    char *rep = th_path(th_dir, "r.jsonl"), *png, *xmp, *big;
    const char *args[] = {"recompress", "--report", rep, in, "-o", out,
                          NULL};
    struct th_run r;
    json_t *arr, *rec;
    FILE *f;

    if (!have_tools())
        cr_skip_test("exiftool or vips missing");
    th_mkdirs(in);
    png = make_source(in, "c.png");
    th_sh("exiftool -q -overwrite_original -PNG:Comment=note '%s'", png);
    /* An XMP packet of about 100 KB. */
    big = make_source(in, "x.png");
    xmp = th_path(th_dir, "big.xmp");
    f = fopen(xmp, "w");
    cr_assert(f);
    fprintf(f, "<?xpacket begin='' id='W5M0MpCehiHzreSzNTczkc9d'?>\n"
            "<x:xmpmeta xmlns:x='adobe:ns:meta/'><rdf:RDF xmlns:rdf="
            "'http://www.w3.org/1999/02/22-rdf-syntax-ns#'>"
            "<rdf:Description rdf:about='' xmlns:dc="
            "'http://purl.org/dc/elements/1.1/'><dc:description>");
    for (int i = 0; i < 10000; i++)
        fprintf(f, "0123456789");
    fprintf(f, "</dc:description></rdf:Description></rdf:RDF></x:xmpmeta>"
            "<?xpacket end='w'?>");
    fclose(f);
    th_sh("exiftool -q -overwrite_original '-xmp<=%s' '%s'", xmp, big);
    th_run(&r, args);
    cr_assert_eq(r.status, 0, "exit %d: %s", r.status, r.err);
    arr = th_read_jsonl(rep);
    rec = th_find_record(arr, "/c.png");
    cr_assert(rec);
    cr_expect(strstr(json_dumps(rec, 0), "PNG text chunk"),
              "no warning for the PNG comment: %s", json_dumps(rec, 0));
    rec = th_find_record(arr, "/x.png");
    cr_assert(rec);
    cr_expect_str_eq(th_json_str(rec, "status"), "ok");
    {
        char *o = th_path(out, "x.jpg");
        char *desc = exif_value(o, "XMP-dc:Description");
        char *guid = exif_value(o, "HasExtendedXMP");
        cr_expect_eq(strlen(desc), 100000, "the large XMP was not kept "
                     "whole (%zu bytes)", strlen(desc));
        cr_expect_eq(strlen(guid), 32, "no extended XMP GUID");
        free(guid);
        free(desc);
        free(o);
    }
    json_decref(arr);
    th_run_release(&r);
    free(png);
    free(big);
    free(xmp);
    free(rep);
    free(in);
    free(out);
}

/* meta_read_fn over a memory buffer. */
struct membuf {
    const unsigned char *p;
    size_t n;
};

static int
mem_read(void *arg, size_t off, void *buf, size_t n)
{
    const struct membuf *m = arg;

    if (off > m->n || n > m->n - off)
        return -1;
    memcpy(buf, m->p + off, n);
    return 0;
}

/* exiftool's reading of the EXIF payload @exif (as a .exif file). */
static char *
payload_tag(const unsigned char *exif, size_t len, const char *tag)
{
    char *p = th_path(th_dir, "x.exif");

    th_write_file(p, exif + 6, len - 6);
    char *v = exif_value(p, tag);
    free(p);
    return v;
}

/* Append @v as 16/32 bits in byte order @le. */
static void
w16(unsigned char *p, unsigned v, int le)
{
    p[le ? 0 : 1] = (unsigned char)(v & 0xff);
    p[le ? 1 : 0] = (unsigned char)(v >> 8);
}

static void
w32(unsigned char *p, unsigned long v, int le)
{
    w16(p + (le ? 0 : 2), (unsigned)(v & 0xffff), le);
    w16(p + (le ? 2 : 0), (unsigned)(v >> 16), le);
}

static void
entry(unsigned char *p, unsigned tag, unsigned type, unsigned long count,
      unsigned long value, int le)
{
    w16(p, tag, le);
    w16(p + 2, type, le);
    w32(p + 4, count, le);
    if (type == 3 && count == 1)
        w16(p + 8, (unsigned)value, le);
    else
        w32(p + 8, value, le);
}

/* A hand-made TIFF of byte order @le: IFD0 (size, Make "M1", Artist
 * "A B", pointers), an EXIF IFD (DateTimeOriginal at an offset), a GPS
 * IFD (GPSAltitude 123/1); the pixel data is not needed.  Its length. */
static size_t
hand_tiff(unsigned char *b, int le)
{
    memset(b, 0, 512);
    memcpy(b, le ? "II*\0" : "MM\0*", 4);
    w32(b + 4, 8, le);
    w16(b + 8, 6, le);                          /* IFD0 at 8: 6 entries */
    entry(b + 10, 256, 3, 1, 16, le);
    entry(b + 22, 257, 3, 1, 16, le);
    entry(b + 34, 271, 2, 3, 0, le);
    memcpy(b + 42, "M1", 3);
    entry(b + 46, 315, 2, 4, 0, le);
    memcpy(b + 54, "A B", 4);
    entry(b + 58, 34665, 4, 1, 200, le);
    entry(b + 70, 34853, 4, 1, 300, le);
    w32(b + 82, 0, le);
    w16(b + 200, 1, le);                        /* EXIF IFD at 200 */
    entry(b + 202, 36867, 2, 20, 400, le);
    w32(b + 214, 0, le);
    memcpy(b + 400, "2099:01:02 03:04:05", 20);
    w16(b + 300, 1, le);                        /* GPS IFD at 300 */
    entry(b + 302, 6, 5, 1, 440, le);
    w32(b + 314, 0, le);
    w32(b + 440, 123, le);
    w32(b + 444, 1, le);
    return 448;
}

Test(meta, tiff_builder_both_byte_orders)
{
    static const char *orders[] = {"MM", "II"};

    if (!have_tools())
        cr_skip_test("exiftool missing");
    for (int le = 0; le < 2; le++) {
        unsigned char data[512], *exif;
        size_t len = hand_tiff(data, le), elen;
        struct membuf m = {data, len};
        char *v;

        exif = meta_tiff_exif(mem_read, &m, len, &elen);
        cr_assert(exif, "%s: no EXIF built", orders[le]);
        cr_expect(memcmp(exif, "Exif\0\0", 6) == 0);
        cr_expect(memcmp(exif + 6, orders[le], 2) == 0, "byte order kept");
        v = payload_tag(exif, elen, "Make");
        cr_expect_str_eq(v, "M1", "%s", orders[le]);
        free(v);
        v = payload_tag(exif, elen, "Artist");
        cr_expect_str_eq(v, "A B", "%s", orders[le]);
        free(v);
        v = payload_tag(exif, elen, "DateTimeOriginal");
        cr_expect_str_eq(v, "2099:01:02 03:04:05", "%s", orders[le]);
        free(v);
        v = payload_tag(exif, elen, "GPSAltitude");
        cr_expect_str_eq(v, "123 m", "%s", orders[le]);
        free(v);
        v = payload_tag(exif, elen, "ImageWidth");
        cr_expect_str_eq(v, "", "pixel-layout tags are not copied");
        free(v);
        free(exif);
    }
    /* Not a TIFF, and a TIFF whose IFD points past the end. */
    {
        static const unsigned char bad[] = "II*\0\xff\xff\0\0";
        struct membuf m = {bad, 8};
        size_t elen;
        cr_expect_null(meta_tiff_exif(mem_read, &m, 8, &elen));
        m.p = (const unsigned char *)"GIF89a..";
        cr_expect_null(meta_tiff_exif(mem_read, &m, 8, &elen));
    }
}

/* A JPEG whose XMP continues in extension segments keeps all of it, with
 * -o and in place (libvips alone reads only the standard packet). */
Test(meta, extended_xmp_survives_recompress_and_in_place)
{
    char *in = th_path(th_dir, "in"), *mid = th_path(th_dir, "mid");
    char *lib = th_path(th_dir, "lib"), *out = th_path(th_dir, "out");
    char *tif, *xmp, *jpg, *rep = th_path(th_dir, "r.jsonl");
    const char *mk[] = {"recompress", "-q", "100", in, "-o", mid, NULL};
    const char *cp[] = {"recompress", mid, "-o", out, NULL};
    const char *ip[] = {"recompress", "--in-place", "--report", rep, lib,
                        NULL};
    struct th_run r;
    json_t *arr, *rec;
    FILE *f;

    if (!have_tools())
        cr_skip_test("exiftool or vips missing");
    th_mkdirs(in);
    th_mkdirs(lib);
    tif = th_path(in, "n.tif");
    th_sh("vips gaussnoise '%s' 600 400 --sigma 40", tif);
    xmp = th_path(th_dir, "big.xmp");
    f = fopen(xmp, "w");
    cr_assert(f);
    fprintf(f, "<x:xmpmeta xmlns:x='adobe:ns:meta/'><rdf:RDF xmlns:rdf="
            "'http://www.w3.org/1999/02/22-rdf-syntax-ns#'>"
            "<rdf:Description rdf:about='' xmlns:dc="
            "'http://purl.org/dc/elements/1.1/'><dc:description>");
    for (int i = 0; i < 15000; i++)
        fprintf(f, "abcdefghij");
    fprintf(f, "</dc:description></rdf:Description></rdf:RDF>"
            "</x:xmpmeta>");
    fclose(f);
    th_sh("exiftool -q -overwrite_original '-xmp<=%s' '%s'", xmp, tif);
    th_run(&r, mk);
    cr_assert_eq(r.status, 0, "%s", r.err);
    th_run_release(&r);
    jpg = th_path(mid, "n.jpg");
    {
        char *d = exif_value(jpg, "XMP-dc:Description");
        cr_assert_eq(strlen(d), 150000, "setup: extended XMP not written");
        free(d);
    }
    th_run(&r, cp);
    cr_assert_eq(r.status, 0, "%s", r.err);
    th_run_release(&r);
    {
        char *o = th_path(out, "n.jpg");
        char *d = exif_value(o, "XMP-dc:Description");
        cr_expect_eq(strlen(d), 150000, "-o lost the extended XMP");
        free(d);
        free(o);
    }
    th_sh("cp '%s' '%s/'", jpg, lib);
    th_run(&r, ip);
    cr_assert_eq(r.status, 0, "%s", r.err);
    arr = th_read_jsonl(rep);
    rec = th_find_record(arr, "/n.jpg");
    cr_assert(rec);
    cr_expect_str_eq(th_json_str(rec, "status"), "ok", "in place did not "
                     "recompress the Q100 file");
    json_decref(arr);
    th_run_release(&r);
    {
        char *o = th_path(lib, "n.jpg");
        char *d = exif_value(o, "XMP-dc:Description");
        cr_expect_eq(strlen(d), 150000, "in place lost the extended XMP");
        free(d);
        free(o);
    }
    free(jpg);
    free(xmp);
    free(tif);
    free(rep);
    free(in);
    free(mid);
    free(lib);
    free(out);
}
