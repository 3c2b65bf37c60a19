/*
 * inplace_fixtures.c - the fixtures of the `recompress --in-place` suites
 * (inplace_fixtures.h): photo-like JPEGs made with TurboJPEG from
 * synthetic pixels, running imgpool in place, report records, PSNR and
 * EXIF oracles, file snapshots and the tree of one test.
 *
 * Part of the test helper library.  EXIF is read back with libexif, an
 * oracle independent of the libvips that wrote it, when the library is
 * built with it (HAVE_LIBEXIF); without it exif_orientation() answers -1
 * and the callers fall back on the pixels.  Like helpers.c, every
 * unexpected failure ends the test through cr_assert.
 */
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <criterion/criterion.h>
#include <turbojpeg.h>

#include "inplace_fixtures.h"

/* ------------------------------------------------------------------ */
/* Small utilities                                                    */
/* ------------------------------------------------------------------ */

uint64_t
rng_next(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 2685821657736338717ULL;
}

int
is_tmp_name(const char *path)
{
    const char *base = strrchr(path, '/');

    base = base ? base + 1 : path;
    return strncmp(base, TMP_PREFIX, sizeof(TMP_PREFIX) - 1) == 0;
}

void
flist_of_backup(struct flist *l, const char *root)
{
    size_t i;

    flist_of(l, root);
    for (i = 0; i < l->n; i++) {
        if (strcmp(l->rel[i], ".imgpool-backup") != 0)
            continue;
        free(l->rel[i]);
        memmove(l->rel + i, l->rel + i + 1, (l->n - i - 1) * sizeof(*l->rel));
        l->n--;
        return;
    }
    cr_assert_fail("backup folder '%s' has no .imgpool-backup marker", root);
}

size_t
count_tmp_files(const char *root)
{
    struct flist l;
    size_t n = 0;

    flist_of(&l, root);
    for (size_t i = 0; i < l.n; i++)
        n += is_tmp_name(l.rel[i]);
    flist_release(&l);
    return n;
}

/* ------------------------------------------------------------------ */
/* Running imgpool and other tools                                    */
/* ------------------------------------------------------------------ */

int
run_ip(const char *rep, json_t **arr, char **err, ...)
{
    const char *args[40];
    struct th_run r;
    size_t n = 0;
    va_list ap;
    const char *a;

    args[n++] = "recompress";
    args[n++] = "--in-place";
    va_start(ap, err);
    while ((a = va_arg(ap, const char *)) != NULL) {
        cr_assert(n < 36, "too many arguments");
        args[n++] = a;
    }
    va_end(ap);
    if (rep) {
        args[n++] = "--report";
        args[n++] = rep;
    }
    args[n] = NULL;
    th_run(&r, args);
    if (arr)
        *arr = rep ? th_read_jsonl(rep) : NULL;
    if (err) {
        *err = r.err;
        r.err = NULL;
    }
    th_run_release(&r);
    return r.status;
}

int
have_exiftool(void)
{
    const char *argv[] = { "exiftool", "-ver", NULL };

    return run_tool(argv, NULL) == 0;
}

void
assert_record(json_t *arr, const char *suffix, const char *status,
              const char *cls)
{
    json_t *rec = record(arr, suffix);
    const char *c = class_of(rec);

    cr_assert_str_eq(str_of(rec, "status"), status, "'%s' is %s (%s)",
                     suffix, str_of(rec, "status"), c ? c : "-");
    if (cls)
        cr_assert(c && strcmp(c, cls) == 0, "'%s': class %s, expected %s",
                  suffix, c ? c : "(none)", cls);
}

/* ------------------------------------------------------------------ */
/* Photo-like JPEGs                                                   */
/* ------------------------------------------------------------------ */

unsigned char *
synth_rgb(int w, int h, uint32_t seed)
{
    unsigned char *px = malloc((size_t)w * (size_t)h * 3);
    uint64_t s = 0x9E3779B97F4A7C15ULL ^ seed;
    struct { double cx, cy, rx, ry; int c[3]; } blob[7];
    const int nblob = 7;

    cr_assert(px != NULL, "out of memory");
    for (int i = 0; i < nblob; i++) {
        blob[i].cx = (double)(rng_next(&s) % (uint64_t)w);
        blob[i].cy = (double)(rng_next(&s) % (uint64_t)h);
        blob[i].rx = (double)w * (0.08 + (double)(rng_next(&s) % 100) / 400);
        blob[i].ry = (double)h * (0.08 + (double)(rng_next(&s) % 100) / 400);
        for (int c = 0; c < 3; c++)
            blob[i].c[c] = (int)(rng_next(&s) % 256);
    }
    for (int y = 0; y < h; y++) {
        for (int x = 0; x < w; x++) {
            double v[3] = {
                40 + 150.0 * x / w,
                70 + 120.0 * y / h,
                170 - 110.0 * (x + y) / (w + h),
            };
            for (int i = 0; i < nblob; i++) {
                double dx = (x - blob[i].cx) / blob[i].rx;
                double dy = (y - blob[i].cy) / blob[i].ry;
                double d = sqrt(dx * dx + dy * dy);
                double a = (1.0 - d) * 6;   /* soft edge */
                if (a <= 0)
                    continue;
                if (a > 1)
                    a = 1;
                for (int c = 0; c < 3; c++) {
                    double t = blob[i].c[c];
                    if (i == 0)     /* the textured one: fabric, leaves */
                        t += 35 * sin(x * 0.35) * sin(y * 0.29);
                    v[c] = v[c] * (1 - a) + t * a;
                }
            }
            /* Grain, mostly in luma as in a camera. */
            double g = (double)(rng_next(&s) % 13) - 6;
            for (int c = 0; c < 3; c++) {
                double o = v[c] + g + (double)(rng_next(&s) % 5) - 2;
                px[((size_t)y * (size_t)w + (size_t)x) * 3 + (size_t)c] =
                    (unsigned char)(o < 0 ? 0 : o > 255 ? 255 : o);
            }
        }
    }
    return px;
}

/*
 * A minimal EXIF APP1 segment holding IFD0 with the one Orientation entry
 * (little-endian TIFF), as cameras write it, at @p.  Returns its length.
 */
static size_t
exif_orientation_app1(unsigned char *p, int orientation)
{
    static const unsigned char tmpl[] = {
        0xFF, 0xE1, 0x00, 0x22,                 /* APP1, length 34 */
        'E', 'x', 'i', 'f', 0, 0,
        'I', 'I', 0x2A, 0x00, 0x08, 0x00, 0x00, 0x00,   /* TIFF header */
        0x01, 0x00,                             /* one entry */
        0x12, 0x01, 0x03, 0x00,                 /* 0x0112 SHORT */
        0x01, 0x00, 0x00, 0x00,                 /* count 1 */
        0x00, 0x00, 0x00, 0x00,                 /* value, padding */
        0x00, 0x00, 0x00, 0x00,                 /* no next IFD */
    };

    memcpy(p, tmpl, sizeof(tmpl));
    p[28] = (unsigned char)orientation;
    return sizeof(tmpl);
}

void
gen_jpeg(const char *path, int w, int h, enum gen_kind k, int quality,
         int orientation, uint32_t seed)
{
    unsigned char *rgb = synth_rgb(w, h, seed), *px = rgb, *jpeg;
    unsigned long jlen;
    size_t n = (size_t)w * (size_t)h;
    int pf = TJPF_RGB, samp = TJSAMP_420, flags = TJFLAG_ACCURATEDCT;
    switch (k) {
    case GEN_RGB420:
        break;
    case GEN_RGB444:
        samp = TJSAMP_444;
        break;
    case GEN_PROGRESSIVE:
        flags |= TJFLAG_PROGRESSIVE;
        break;
    case GEN_GRAY:
        px = malloc(n);
        cr_assert(px != NULL, "out of memory");
        for (size_t i = 0; i < n; i++)
            px[i] = (unsigned char)((299 * rgb[3 * i] + 587 * rgb[3 * i + 1] +
                                     114 * rgb[3 * i + 2] + 500) / 1000);
        pf = TJPF_GRAY;
        samp = TJSAMP_GRAY;
        break;
    case GEN_CMYK:
        px = malloc(n * 4);
        cr_assert(px != NULL, "out of memory");
        for (size_t i = 0; i < n; i++) {
            px[4 * i] = rgb[3 * i];
            px[4 * i + 1] = rgb[3 * i + 1];
            px[4 * i + 2] = rgb[3 * i + 2];
            px[4 * i + 3] = (unsigned char)(200 + rgb[3 * i] / 8);
        }
        pf = TJPF_CMYK;
        samp = TJSAMP_444;
        break;
    }
    jpeg = th_jpeg_encode(px, w, h, pf, samp, quality, flags, &jlen);
    write_jpeg_oriented(path, jpeg, jlen, orientation);
    free(jpeg);
    if (px != rgb)
        free(px);
    free(rgb);
}

void
write_jpeg_oriented(const char *path, const unsigned char *jpeg,
                    unsigned long jlen, int orientation)
{
    unsigned char *file = malloc(jlen + 64);
    size_t flen = 2;

    cr_assert(file != NULL, "out of memory");
    file[0] = 0xFF;
    file[1] = 0xD8;
    if (orientation)
        flen += exif_orientation_app1(file + 2, orientation);
    memcpy(file + flen, jpeg + 2, jlen - 2);
    flen += jlen - 2;
    th_write_file(path, file, flen);
    free(file);
}

void
gen_in(const char *dir, const char *rel, int w, int h, enum gen_kind k,
       int quality, int orientation, uint32_t seed)
{
    char *p = th_path(dir, rel);

    gen_jpeg(p, w, h, k, quality, orientation, seed);
    free(p);
}

/* ------------------------------------------------------------------ */
/* Oracles: pixels, EXIF                                              */
/* ------------------------------------------------------------------ */

double
psnr_files(const char *a, const char *b)
{
    struct th_image ia, ib;
    double p;

    cr_assert_eq(th_decode_jpeg(a, &ia), 0, "'%s' does not decode", a);
    cr_assert_eq(th_decode_jpeg(b, &ib), 0, "'%s' does not decode", b);
    p = th_psnr(&ia, &ib);
    th_image_release(&ia);
    th_image_release(&ib);
    return p;
}

#ifdef HAVE_LIBEXIF
ExifData *
exif_of(const char *path)
{
    ExifLoader *l = exif_loader_new();
    const unsigned char *buf = NULL;
    unsigned int len = 0;
    ExifData *ed = NULL;

    cr_assert(l != NULL, "out of memory");
    exif_loader_write_file(l, path);
    exif_loader_get_buf(l, &buf, &len);
    if (buf && len) {
        ed = exif_data_new();
        cr_assert(ed != NULL, "out of memory");
        exif_data_unset_option(ed, EXIF_DATA_OPTION_FOLLOW_SPECIFICATION);
        exif_data_load_data(ed, buf, len);
    }
    exif_loader_unref(l);
    return ed;
}

int
exif_orientation(const char *path)
{
    ExifData *ed = exif_of(path);
    ExifEntry *e;
    int o = 0;

    if (!ed)
        return 0;
    e = exif_content_get_entry(ed->ifd[EXIF_IFD_0], EXIF_TAG_ORIENTATION);
    if (e && e->format == EXIF_FORMAT_SHORT && e->components == 1)
        o = exif_get_short(e->data, exif_data_get_byte_order(ed));
    exif_data_unref(ed);
    return o;
}

const char *
exif_ascii(ExifData *ed, ExifIfd ifd, ExifTag tag, char *buf, size_t size)
{
    ExifEntry *e = exif_content_get_entry(ed->ifd[ifd], tag);

    buf[0] = '\0';
    if (e && e->format == EXIF_FORMAT_ASCII && e->size > 0) {
        size_t n = e->size < size ? e->size : size - 1;
        memcpy(buf, e->data, n);
        buf[n] = '\0';
    }
    return buf;
}

double
exif_gps_degrees(ExifData *ed, ExifTag tag)
{
    ExifEntry *e = exif_content_get_entry(ed->ifd[EXIF_IFD_GPS], tag);
    ExifByteOrder o = exif_data_get_byte_order(ed);
    double deg = 0, unit = 1;

    if (!e || e->format != EXIF_FORMAT_RATIONAL || e->components != 3)
        return NAN;
    for (int i = 0; i < 3; i++, unit *= 60) {
        ExifRational r = exif_get_rational(e->data + 8 * i, o);
        if (r.denominator == 0)
            return NAN;
        deg += (double)r.numerator / r.denominator / unit;
    }
    return deg;
}
#else
int
exif_orientation(const char *path)
{
    (void)path;
    return -1;  /* unknown: callers fall back on the decoded pixels */
}
#endif

int
norm_orientation(int o)
{
    return o == 0 ? 1 : o;
}

/* ------------------------------------------------------------------ */
/* The tree of one test, file snapshots                               */
/* ------------------------------------------------------------------ */

void
inplace_tree_make(char **tmp, char **in, char **rep)
{
    umask(022);
    *tmp = th_mkdtemp();
    *in = th_path(*tmp, "in");
    *rep = th_path(*tmp, "report.jsonl");
    th_mkdirs(*in);
}

void
inplace_tree_remove(char **tmp, char **in, char **rep)
{
    th_rmrf(*tmp);
    free(*tmp);
    free(*in);
    free(*rep);
    *tmp = *in = *rep = NULL;
}

void
fsnap_take(struct fsnap *f, const char *path)
{
    f->data = th_read_file(path, &f->len);
    stat_or_die(path, &f->st);
}

void
fsnap_release(struct fsnap *f)
{
    free(f->data);
    f->data = NULL;
}

void
assert_untouched(const struct fsnap *f, const char *path)
{
    struct stat st;
    size_t len;
    char *data = th_read_file(path, &len);

    stat_or_die(path, &st);
    cr_assert(len == f->len && memcmp(data, f->data, len) == 0,
              "'%s' changed (%zu bytes, was %zu)", path, len, f->len);
    cr_assert_eq(st.st_ino, f->st.st_ino, "'%s' was replaced", path);
    cr_assert(st.st_mtim.tv_sec == f->st.st_mtim.tv_sec &&
              st.st_mtim.tv_nsec == f->st.st_mtim.tv_nsec,
              "the mtime of '%s' changed", path);
    cr_assert(st.st_ctim.tv_sec == f->st.st_ctim.tv_sec &&
              st.st_ctim.tv_nsec == f->st.st_ctim.tv_nsec,
              "the ctime of '%s' changed: something wrote its inode", path);
    free(data);
}
