/*
 * test_inplace.c - `imgpool recompress --in-place`, run as a user would.
 *
 * The originals are someone's only copy of their photos, so these tests
 * look at the files, not at imgpool's word for what it did: bytes compared
 * with the pristine copies, pixels decoded with TurboJPEG (helpers.c),
 * EXIF read back with libexif and XMP, IPTC and ICC with exiftool, mode,
 * owner and times from stat(2).
 *
 *   inplace_crash  SIGKILL of the whole process group at random moments:
 *                  every file is its original or exactly what an
 *                  uninterrupted run writes (with its backup already in
 *                  place), and the next run finishes the job and leaves
 *                  no temporary file
 *   inplace_disk   a full file system (a small tmpfs; needs root): every
 *                  original survives, the records say no-space
 *   inplace        a second run changes nothing; metadata, attributes and
 *                  quality are kept; the decision table (not-jpeg,
 *                  decode-error, already-compressed, --force, --dry-run,
 *                  --min-saving, --backup, CMYK and grey, usage errors)
 *
 * The last tests of the file ("Known problems") fail against the code as
 * it is: each names what a user loses and passes once that is fixed.
 *
 * The fixtures are made here: the small files of testdata/ plus
 * photo-like JPEGs encoded with TurboJPEG from synthetic pixels (gradients,
 * soft-edged blobs, a texture and grain), at Q95 so that imgpool re-encodes
 * them, with an EXIF Orientation block spliced in where a test wants one.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <turbojpeg.h>
#include <unistd.h>

#ifdef HAVE_LIBEXIF
#include <libexif/exif-data.h>
#include <libexif/exif-loader.h>
#endif

#include "helpers.h"

#define TMP_PREFIX ".imgpool-tmp-"

/* ------------------------------------------------------------------ */
/* Small utilities                                                    */
/* ------------------------------------------------------------------ */

/* xorshift64*: deterministic, so every run of the suite is the same. */
static uint64_t
rng_next(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 2685821657736338717ULL;
}

static double
now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void
sleep_ms(double ms)
{
    struct timespec ts;

    ts.tv_sec = (time_t)(ms / 1000);
    ts.tv_nsec = (long)((ms - (double)ts.tv_sec * 1000) * 1e6);
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

static char *
xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static char *
xasprintf(const char *fmt, ...)
{
    va_list ap;
    char *s;
    int n;

    va_start(ap, fmt);
    n = vasprintf(&s, fmt, ap);
    va_end(ap);
    cr_assert(n >= 0, "out of memory");
    return s;
}

static int
is_tmp_name(const char *path)
{
    const char *base = strrchr(path, '/');

    base = base ? base + 1 : path;
    return strncmp(base, TMP_PREFIX, sizeof(TMP_PREFIX) - 1) == 0;
}

static void
stat_or_die(const char *path, struct stat *st)
{
    cr_assert(lstat(path, st) == 0, "cannot stat '%s': %s", path,
              strerror(errno));
}

static void
set_mtime(const char *path, time_t sec, long nsec)
{
    struct timespec ts[2] = { { sec, nsec }, { sec, nsec } };

    cr_assert(utimensat(AT_FDCWD, path, ts, AT_SYMLINK_NOFOLLOW) == 0,
              "cannot set the times of '%s': %s", path, strerror(errno));
}

/* ---- file lists ---- */

struct flist {
    char **rel;     /* sorted paths below the root */
    size_t n, cap;
};

static void
flist_add(struct flist *l, const char *rel)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 64;
        l->rel = realloc(l->rel, l->cap * sizeof(*l->rel));
        cr_assert(l->rel != NULL, "out of memory");
    }
    l->rel[l->n] = strdup(rel);
    cr_assert(l->rel[l->n] != NULL, "out of memory");
    l->n++;
}

static void
flist_walk(struct flist *l, const char *root, const char *rel)
{
    char *dir = rel[0] ? xasprintf("%s/%s", root, rel) : strdup(root);
    DIR *d = opendir(dir);
    struct dirent *e;

    cr_assert(d != NULL, "cannot open '%s': %s", dir, strerror(errno));
    while ((e = readdir(d)) != NULL) {
        struct stat st;
        char *child, *full;

        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        child = rel[0] ? xasprintf("%s/%s", rel, e->d_name)
                       : strdup(e->d_name);
        full = xasprintf("%s/%s", root, child);
        stat_or_die(full, &st);
        if (S_ISDIR(st.st_mode))
            flist_walk(l, root, child);
        else {
            cr_assert(S_ISREG(st.st_mode), "'%s' is not a regular file",
                      full);
            flist_add(l, child);
        }
        free(child);
        free(full);
    }
    closedir(d);
    free(dir);
}

static int
cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every regular file below @root (relative, sorted). */
static void
flist_of(struct flist *l, const char *root)
{
    memset(l, 0, sizeof(*l));
    flist_walk(l, root, "");
    if (l->n > 1)
        qsort(l->rel, l->n, sizeof(*l->rel), cmp_str);
}

static void
flist_release(struct flist *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->rel[i]);
    free(l->rel);
    memset(l, 0, sizeof(*l));
}

static size_t
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

/* cp -r @src @dst for a tree of regular files. */
static void
copy_tree(const char *src, const char *dst)
{
    struct flist l;

    flist_of(&l, src);
    th_mkdirs(dst);
    for (size_t i = 0; i < l.n; i++) {
        char *s = xasprintf("%s/%s", src, l.rel[i]);
        char *d = th_path(dst, l.rel[i]);
        th_copy_file(s, d);
        free(s);
        free(d);
    }
    flist_release(&l);
}

/* ---- running imgpool and other tools ---- */

/*
 * Run imgpool with "recompress --in-place" and the NULL-terminated
 * arguments that follow; with @rep, also "--report @rep" and *arr gets the
 * parsed report (caller json_decref's it).  Returns the exit status.
 */
static int
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

/*
 * Run an external tool, stdout captured into *out (malloc'ed, may be
 * NULL), stderr discarded.  Returns its exit status, 127 if it could not
 * be started.
 */
static int
run_tool(const char *const *argv, char **out)
{
    int p[2], st;
    pid_t pid;
    size_t len = 0, cap = 4096;
    char *buf = malloc(cap);

    cr_assert(buf != NULL && pipe(p) == 0, "cannot set up %s", argv[0]);
    fflush(NULL);
    pid = fork();
    cr_assert(pid >= 0, "cannot fork: %s", strerror(errno));
    if (pid == 0) {
        int nul = open("/dev/null", O_RDWR);
        if (nul < 0 || dup2(nul, 0) < 0 || dup2(p[1], 1) < 0 ||
            dup2(nul, 2) < 0)
            _exit(127);
        close(p[0]);
        execvp(argv[0], (char *const *)argv);
        _exit(127);
    }
    close(p[1]);
    for (;;) {
        ssize_t k;
        if (cap - len < 2) {
            cap *= 2;
            buf = realloc(buf, cap);
            cr_assert(buf != NULL, "out of memory");
        }
        k = read(p[0], buf + len, cap - len - 1);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            break;
        len += (size_t)k;
    }
    buf[len] = '\0';
    close(p[0]);
    while (waitpid(pid, &st, 0) < 0)
        cr_assert(errno == EINTR, "waitpid: %s", strerror(errno));
    if (out)
        *out = buf;
    else
        free(buf);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static int
have_exiftool(void)
{
    const char *argv[] = { "exiftool", "-ver", NULL };

    return run_tool(argv, NULL) == 0;
}

/* ---- report records ---- */

static const char *
str_of(json_t *obj, const char *key)
{
    return json_string_value(json_object_get(obj, key));
}

static long long
int_of(json_t *obj, const char *key)
{
    return json_integer_value(json_object_get(obj, key));
}

static json_t *
record(json_t *arr, const char *suffix)
{
    json_t *rec = th_find_record(arr, suffix);

    cr_assert(rec != NULL, "no record for '%s'", suffix);
    return rec;
}

/* The class of a skipped (reason) or failed (error.class) record. */
static const char *
class_of(json_t *rec)
{
    const char *status = str_of(rec, "status");

    if (status && strcmp(status, "failed") == 0)
        return str_of(json_object_get(rec, "error"), "class");
    return str_of(rec, "reason");
}

static void
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

static json_t *
summary_of(json_t *arr)
{
    json_t *last = json_array_get(arr, json_array_size(arr) - 1);

    cr_assert(json_is_true(json_object_get(last, "summary")),
              "the report has no summary line");
    return last;
}

/* ------------------------------------------------------------------ */
/* Fixtures: photo-like JPEGs                                         */
/* ------------------------------------------------------------------ */

enum gen_kind {
    GEN_RGB420,         /* baseline, 4:2:0, like most cameras */
    GEN_RGB444,         /* baseline, 4:4:4 */
    GEN_PROGRESSIVE,    /* progressive, 4:2:0 */
    GEN_GRAY,           /* one component */
    GEN_CMYK,           /* four components (TurboJPEG writes YCCK) */
};

/*
 * Synthetic "photo" of @w x @h, 8-bit RGB: a smooth gradient, soft-edged
 * blobs of colour, one textured blob and grain.  Caller frees.
 */
static unsigned char *
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
 * (little-endian TIFF), as cameras write it.  Returns its length.
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

/*
 * Write a @w x @h JPEG of kind @k at @quality to @path, with an EXIF
 * Orientation of @orientation (0: no EXIF at all).
 */
static void
gen_jpeg(const char *path, int w, int h, enum gen_kind k, int quality,
         int orientation, uint32_t seed)
{
    unsigned char *rgb = synth_rgb(w, h, seed), *px = rgb, *jpeg = NULL;
    unsigned char *file;
    unsigned long jlen = 0;
    size_t n = (size_t)w * (size_t)h, flen = 0;
    int pf = TJPF_RGB, samp = TJSAMP_420, flags = TJFLAG_ACCURATEDCT;
    tjhandle tj = tjInitCompress();

    cr_assert(tj != NULL, "tjInitCompress: %s", tjGetErrorStr2(NULL));
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
    cr_assert(tjCompress2(tj, px, w, 0, h, pf, &jpeg, &jlen, samp, quality,
                          flags) == 0,
              "tjCompress2: %s", tjGetErrorStr2(tj));
    file = malloc(jlen + 64);
    cr_assert(file != NULL, "out of memory");
    file[0] = 0xFF;
    file[1] = 0xD8;
    flen = 2;
    if (orientation)
        flen += exif_orientation_app1(file + 2, orientation);
    memcpy(file + flen, jpeg + 2, jlen - 2);
    flen += jlen - 2;
    th_write_file(path, file, flen);

    free(file);
    tjFree(jpeg);
    tjDestroy(tj);
    if (px != rgb)
        free(px);
    free(rgb);
}

/* gen_jpeg() of @dir/@rel, creating the directories in between. */
static void
gen_in(const char *dir, const char *rel, int w, int h, enum gen_kind k,
       int quality, int orientation, uint32_t seed)
{
    char *p = th_path(dir, rel);

    gen_jpeg(p, w, h, k, quality, orientation, seed);
    free(p);
}

/* Copy testdata/@name to @dir/@as. */
static void
add_testdata(const char *dir, const char *name, const char *as)
{
    char *src = th_testdata(name);
    char *dst = th_path(dir, as);

    th_copy_file(src, dst);
    free(src);
    free(dst);
}

/* ------------------------------------------------------------------ */
/* Oracles: pixels, EXIF                                              */
/* ------------------------------------------------------------------ */

/* PSNR in dB over all samples of two decoded images of the same size. */
static double
psnr(const struct th_image *a, const struct th_image *b)
{
    size_t n = (size_t)a->w * (size_t)a->h * (size_t)a->channels;
    double se = 0;

    cr_assert(a->w == b->w && a->h == b->h && a->channels == b->channels,
              "PSNR of %dx%dx%d against %dx%dx%d", a->w, a->h, a->channels,
              b->w, b->h, b->channels);
    for (size_t i = 0; i < n; i++) {
        double d = (double)a->px[i] - (double)b->px[i];
        se += d * d;
    }
    if (se == 0)
        return 99.0;
    return 10 * log10(255.0 * 255.0 / (se / (double)n));
}

static double
psnr_files(const char *a, const char *b)
{
    struct th_image ia, ib;
    double p;

    cr_assert_eq(th_decode_jpeg(a, &ia), 0, "'%s' does not decode", a);
    cr_assert_eq(th_decode_jpeg(b, &ib), 0, "'%s' does not decode", b);
    p = psnr(&ia, &ib);
    th_image_release(&ia);
    th_image_release(&ib);
    return p;
}

#ifdef HAVE_LIBEXIF
/*
 * The EXIF block of @path, parsed by libexif as stored: its "follow the
 * specification" option is off, so it adds no default tags of its own.
 * NULL when the file has none.
 */
static ExifData *
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

/* The Orientation tag of IFD0, 0 when there is no EXIF or no tag. */
static int
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

/* An ASCII tag of @ifd, copied into @buf ("" when absent). */
static const char *
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

/* GPS latitude or longitude in degrees; NAN when the tag is absent. */
static double
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
static int
exif_orientation(const char *path)
{
    (void)path;
    return -1;  /* unknown: callers fall back on the decoded pixels */
}
#endif

/* 0 (no tag) and 1 (normal) mean the same to every viewer. */
static int
norm_orientation(int o)
{
    return o == 0 ? 1 : o;
}

/* ------------------------------------------------------------------ */
/* Suite inplace: one directory per test                              */
/* ------------------------------------------------------------------ */

static char *tmp, *in, *rep;

static void
setup(void)
{
    umask(022);
    tmp = th_mkdtemp();
    in = th_path(tmp, "in");
    rep = th_path(tmp, "report.jsonl");
    th_mkdirs(in);
}

static void
teardown(void)
{
    th_rmrf(tmp);
    free(tmp);
    free(in);
    free(rep);
}

TestSuite(inplace, .init = setup, .fini = teardown, .timeout = 120);

/* What a file looked like: enough to tell whether anything touched it. */
struct fsnap {
    char *data;
    size_t len;
    struct stat st;
};

static void
fsnap_take(struct fsnap *f, const char *path)
{
    f->data = th_read_file(path, &f->len);
    stat_or_die(path, &f->st);
}

static void
fsnap_release(struct fsnap *f)
{
    free(f->data);
    f->data = NULL;
}

/* @path has the bytes, inode, mtime and ctime of @f: nothing touched it. */
static void
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
    add_testdata(in, "rgb.jpg", "small/rgb.jpg");
    add_testdata(in, "progressive.jpg", "small/progressive.jpg");
    add_testdata(in, "q75.jpg", "small/q75.jpg");
    add_testdata(in, "p3_icc.jpg", "small/p3_icc.jpg");
    add_testdata(in, "orient6.jpg", "small/orient6.jpg");
    add_testdata(in, "cmyk.jpg", "small/cmyk.jpg");
    add_testdata(in, "gray.jpg", "small/gray.jpg");
    add_testdata(in, "rgb.png", "small/rgb.png");

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
#define PSNR_PHOTO_MIN 36.5
#define PSNR_FLAT_MIN 42.0

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
    add_testdata(in, "rgb.jpg", "rgb.jpg");
    add_testdata(in, "srgb_icc.jpg", "srgb_icc.jpg");
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
        p = psnr(&ia, &ib);
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
/* Suite inplace_crash: SIGKILL at random moments                     */
/* ------------------------------------------------------------------ */

/* One file of the crash tree: the original and what a full run makes. */
struct cfile {
    char *rel;
    char *orig;             /* bytes of the original */
    size_t orig_len;
    char *final;            /* bytes after an uninterrupted run */
    size_t final_len;
    int replaced;           /* final differs from orig */
    int orientation;        /* EXIF, -1 when libexif is not available */
    struct th_image img;    /* the original, decoded (JPEGs only) */
};

/* The fixed mtime given to every file before a run. */
#define CRASH_MTIME 1500000000
#define CRASH_MTIME_NS 123456789L

/*
 * ~30 JPEGs of every kind imgpool meets: the small testdata files (some
 * replaced, some skipped) and photo-like ones of 0.5 to 1.9 megapixels
 * at Q95, in nested directories, with all eight EXIF orientations.
 */
static void
make_crash_tree(const char *dir)
{
    static const char *small[] = {
        "rgb.jpg", "progressive.jpg", "q75.jpg", "gray.jpg", "cmyk.jpg",
        "p3_icc.jpg", "srgb_icc.jpg", "orient1.jpg", "orient2.jpg",
        "orient3.jpg", "orient4.jpg", "orient5.jpg", "orient6.jpg",
        "orient7.jpg", "orient8.jpg",
    };
    static const enum gen_kind kinds[] = {
        GEN_RGB420, GEN_RGB420, GEN_PROGRESSIVE, GEN_RGB444, GEN_RGB420,
        GEN_GRAY, GEN_CMYK,
    };
    const size_t nsmall = sizeof(small) / sizeof(small[0]);

    for (size_t i = 0; i < nsmall; i++) {
        char as[64];
        snprintf(as, sizeof(as), "%s/%s", i % 2 ? "small/odd" : "small",
                 small[i]);
        add_testdata(dir, small[i], as);
    }
    for (int i = 0; i < 15; i++) {
        char rel[64], *p;
        int w = 800 + (i * 53) % 800, h = 600 + (i * 37) % 600;
        snprintf(rel, sizeof(rel), "%s/photo%02d.jpg",
                 i < 5 ? "big" : i < 10 ? "big/2023" : "big/2023/trip", i);
        p = th_path(dir, rel);
        gen_jpeg(p, w, h, kinds[i % 7], 95, i % 9, (uint32_t)(1000 + i));
        free(p);
    }
}

static void
set_all_mtimes(const char *root)
{
    struct flist l;

    flist_of(&l, root);
    for (size_t i = 0; i < l.n; i++) {
        char *p = xasprintf("%s/%s", root, l.rel[i]);
        set_mtime(p, CRASH_MTIME, CRASH_MTIME_NS);
        free(p);
    }
    flist_release(&l);
}

/* Start imgpool (argv without argv[0]) as the leader of a new group. */
static pid_t
spawn_group(const char *const *args)
{
    const char *argv[32];
    pid_t pid;
    int i;

    argv[0] = IMGPOOL_BIN;
    for (i = 0; args[i] && i < 30; i++)
        argv[i + 1] = args[i];
    argv[i + 1] = NULL;
    fflush(NULL);
    pid = fork();
    cr_assert_geq(pid, 0, "cannot fork: %s", strerror(errno));
    if (pid == 0) {
        int fd = open("/dev/null", O_RDWR);
        setpgid(0, 0);
        if (fd < 0 || dup2(fd, 0) < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
            _exit(127);
        execv(IMGPOOL_BIN, (char *const *)argv);
        _exit(127);
    }
    /* Both sides set it, so the group exists before we may signal it. */
    setpgid(pid, pid);
    return pid;
}

/*
 * SIGKILL every process of group @pgid and reap them.  This process is a
 * child subreaper, so the workers orphaned by their master's death are
 * reaped here rather than by an init that may not reap: a zombie keeps its
 * pid alive, and a live pid keeps its temporary files from being cleaned.
 */
static void
kill_group(pid_t pgid)
{
    double deadline = now_ms() + 20000;
    int st;

    kill(-pgid, SIGKILL);
    for (;;) {
        while (waitpid(-1, &st, WNOHANG) > 0)
            ;
        if (kill(-pgid, 0) < 0 && errno == ESRCH)
            break;
        cr_assert_lt(now_ms(), deadline, "group %d does not die",
                     (int)pgid);
        kill(-pgid, SIGKILL);
        sleep_ms(1);
    }
}

/* Reap zombies left by finished runs (orphans reparented to us). */
static void
reap_orphans(void)
{
    int st;

    while (waitpid(-1, &st, WNOHANG) > 0)
        ;
}

/*
 * Check the tree @root against @files after a run that was killed
 * (@killed) or ran to the end.  Returns how many replaced files carry
 * their new content; *norig counts the files that the full run replaces
 * but that are still original here.
 */
static size_t
check_crash_tree(const char *root, const char *bk, const struct cfile *files,
                 size_t n, int killed, size_t *norig, int iter)
{
    struct flist l;
    size_t nnew = 0, k = 0;

    *norig = 0;
    flist_of(&l, root);
    for (size_t i = 0; i < l.n; i++) {
        char *p = xasprintf("%s/%s", root, l.rel[i]);
        const struct cfile *f;
        struct th_image img;
        struct stat st;
        size_t len;
        char *data;

        if (is_tmp_name(l.rel[i])) {
            cr_assert(killed, "iteration %d: '%s' left behind by a run "
                      "that finished", iter, l.rel[i]);
            free(p);
            continue;
        }
        while (k < n && strcmp(files[k].rel, l.rel[i]) < 0)
            k++;
        cr_assert(k < n && strcmp(files[k].rel, l.rel[i]) == 0,
                  "iteration %d: unexpected file '%s'", iter, l.rel[i]);
        f = &files[k];
        data = th_read_file(p, &len);
        stat_or_die(p, &st);
        cr_assert(st.st_mtim.tv_sec == CRASH_MTIME &&
                  st.st_mtim.tv_nsec == CRASH_MTIME_NS,
                  "iteration %d: '%s' lost its mtime", iter, l.rel[i]);
        if (len == f->orig_len && memcmp(data, f->orig, len) == 0) {
            *norig += f->replaced;
            free(data);
            free(p);
            k++;
            continue;
        }
        /* Not the original: then a whole, valid, equivalent JPEG. */
        cr_assert_eq(th_decode_jpeg(p, &img), 0, "iteration %d: '%s' is "
                     "neither the original nor a clean JPEG (%zu bytes)",
                     iter, l.rel[i], len);
        cr_assert(img.w == f->img.w && img.h == f->img.h,
                  "iteration %d: '%s' is %dx%d, was %dx%d", iter, l.rel[i],
                  img.w, img.h, f->img.w, f->img.h);
        cr_assert_eq(img.file_channels, f->img.file_channels,
                     "iteration %d: '%s' changed colour space", iter,
                     l.rel[i]);
        cr_assert_geq(psnr(&img, &f->img), 30.0, "iteration %d: '%s' does "
                      "not look like its original", iter, l.rel[i]);
        if (f->orientation >= 0)
            cr_assert_eq(norm_orientation(exif_orientation(p)),
                         norm_orientation(f->orientation),
                         "iteration %d: '%s' changed its EXIF orientation",
                         iter, l.rel[i]);
        /* libjpeg is deterministic: exactly what a full run writes. */
        cr_assert(f->replaced && len == f->final_len &&
                  memcmp(data, f->final, len) == 0,
                  "iteration %d: '%s' differs from the uninterrupted run's "
                  "result", iter, l.rel[i]);
        /* The backup is made before the rename, never after. */
        if (bk) {
            char *b = xasprintf("%s/%s", bk, l.rel[i]);
            cr_assert(th_exists(b), "iteration %d: '%s' was replaced "
                      "without a backup", iter, l.rel[i]);
            free(b);
        }
        th_image_release(&img);
        nnew++;
        free(data);
        free(p);
        k++;
    }
    flist_release(&l);
    /* Every file is still there (none lost to a rename gone wrong). */
    {
        size_t seen = 0;
        flist_of(&l, root);
        for (size_t i = 0; i < l.n; i++)
            seen += !is_tmp_name(l.rel[i]);
        flist_release(&l);
        cr_assert_eq(seen, n, "iteration %d: %zu of %zu files left", iter,
                     seen, n);
    }
    return nnew;
}

/*
 * Every file under the backup directory @bk is the byte-identical original
 * of the file of that path; with @all, every replaced file has one.
 */
static void
check_crash_backup(const char *bk, const struct cfile *files, size_t n,
                   int all, int iter)
{
    struct flist l;
    size_t k = 0, nrepl = 0;

    for (size_t i = 0; i < n; i++)
        nrepl += files[i].replaced;
    if (!th_exists(bk)) {
        cr_assert(!all, "iteration %d: no backup directory", iter);
        return;
    }
    flist_of(&l, bk);
    for (size_t i = 0; i < l.n; i++) {
        char *b = xasprintf("%s/%s", bk, l.rel[i]);
        size_t len;
        char *data;

        cr_assert(!is_tmp_name(l.rel[i]), "iteration %d: '%s' in the "
                  "backup", iter, l.rel[i]);
        while (k < n && strcmp(files[k].rel, l.rel[i]) < 0)
            k++;
        cr_assert(k < n && strcmp(files[k].rel, l.rel[i]) == 0,
                  "iteration %d: unexpected backup '%s'", iter, l.rel[i]);
        data = th_read_file(b, &len);
        cr_assert(len == files[k].orig_len &&
                  memcmp(data, files[k].orig, len) == 0,
                  "iteration %d: the backup of '%s' is not its original",
                  iter, l.rel[i]);
        cr_assert(files[k].replaced, "iteration %d: '%s' is backed up but "
                  "never replaced", iter, l.rel[i]);
        free(data);
        free(b);
    }
    if (all)
        cr_assert_eq(l.n, nrepl, "iteration %d: %zu backups for %zu "
                     "replaced files", iter, l.n, nrepl);
    flist_release(&l);
}

static char *crash_root;

static void
crash_setup(void)
{
    umask(022);
    crash_root = th_mkdtemp();
}

/* Also after a failed assertion: the trees are tens of megabytes. */
static void
crash_teardown(void)
{
    th_rmrf(crash_root);
    free(crash_root);
}

TestSuite(inplace_crash, .init = crash_setup, .fini = crash_teardown,
          .timeout = 300);

Test(inplace_crash, sigkill_leaves_each_file_whole_and_the_next_run_ends_it)
{
    enum { ITERATIONS = 20 };
    const char *root = crash_root;
    char *pristine = th_path(root, "pristine");
    char *calib = th_path(root, "calib");
    char *work = th_path(root, "work");
    char *rpt = th_path(root, "report.jsonl");
    char *bk = th_path(root, "backup");
    struct cfile *files;
    struct flist l;
    uint64_t seed = 20240601;
    double t0, run_ms;
    size_t n, nrepl = 0, partial = 0, untouched_runs = 0, finished = 0;
    size_t total_new = 0, total_tmp = 0;
    json_t *arr;
    char *err;
    int code;

    cr_assert(prctl(PR_SET_CHILD_SUBREAPER, 1) == 0, "PR_SET_CHILD_SUBREAPER:"
              " %s", strerror(errno));
    make_crash_tree(pristine);
    set_all_mtimes(pristine);

    /* The reference: one uninterrupted run, timed. */
    copy_tree(pristine, calib);
    set_all_mtimes(calib);
    t0 = now_ms();
    code = run_ip(rpt, &arr, &err, calib, "-j", "2", NULL);
    run_ms = now_ms() - t0;
    cr_assert_eq(code, 0, "reference run: exit %d: %s", code, err);
    json_decref(arr);
    free(err);
    reap_orphans();

    flist_of(&l, pristine);
    n = l.n;
    cr_assert_geq(n, 30);
    files = calloc(n, sizeof(*files));
    cr_assert(files != NULL, "out of memory");
    for (size_t i = 0; i < n; i++) {
        struct cfile *f = &files[i];
        char *o = xasprintf("%s/%s", pristine, l.rel[i]);
        char *c = xasprintf("%s/%s", calib, l.rel[i]);
        f->rel = strdup(l.rel[i]);
        f->orig = th_read_file(o, &f->orig_len);
        f->final = th_read_file(c, &f->final_len);
        f->replaced = f->orig_len != f->final_len ||
                      memcmp(f->orig, f->final, f->orig_len) != 0;
        nrepl += f->replaced;
        f->orientation = exif_orientation(o);
        cr_assert_eq(th_decode_jpeg(o, &f->img), 0, "'%s'", o);
        free(o);
        free(c);
    }
    flist_release(&l);
    cr_assert_geq(nrepl, 15, "only %zu of %zu files are replaced by a full "
                  "run", nrepl, n);
    cr_log_info("crash tree: %zu files, %zu replaced by a full run of "
                "%.0f ms", n, nrepl, run_ms);

    for (int it = 0; it < ITERATIONS; it++) {
        /* Every other run also keeps backups (hard links, same fs). */
        const char *use_bk = it % 2 ? bk : NULL;
        const char *args[] = { "recompress", "--in-place", work, "-j", "2",
                               use_bk ? "--backup" : NULL, use_bk, NULL };
        double delay = (double)(rng_next(&seed) % 1000) / 1000 * run_ms;
        size_t nnew, norig, ntmp;
        pid_t pid;
        int st;

        th_rmrf(work);
        th_rmrf(bk);
        copy_tree(pristine, work);
        set_all_mtimes(work);

        pid = spawn_group(args);
        sleep_ms(delay);
        if (waitpid(pid, &st, WNOHANG) == pid) {
            /* It won the race: a finished run is checked all the same. */
            cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0,
                      "iteration %d: imgpool ended with status 0x%x", it,
                      st);
            finished++;
        }
        kill_group(pid);

        ntmp = count_tmp_files(work);
        nnew = check_crash_tree(work, use_bk, files, n, 1, &norig, it);
        if (use_bk)
            check_crash_backup(bk, files, n, 0, it);
        total_new += nnew;
        total_tmp += ntmp;
        if (nnew > 0 && norig > 0)
            partial++;
        if (nnew == 0)
            untouched_runs++;

        /* The next run completes the job and cleans up. */
        code = use_bk ? run_ip(rpt, &arr, &err, work, "-j", "2", "--backup",
                               bk, NULL)
                      : run_ip(rpt, &arr, &err, work, "-j", "2", NULL);
        cr_assert_eq(code, 0, "iteration %d: rerun exit %d: %s", it, code,
                     err);
        cr_assert_eq(int_of(summary_of(arr), "failed"), 0);
        cr_assert_eq(int_of(summary_of(arr), "ok"), (long long)norig,
                     "iteration %d: the rerun should replace exactly the "
                     "%zu files still original", it, norig);
        json_decref(arr);
        free(err);
        reap_orphans();
        check_crash_tree(work, use_bk, files, n, 0, &norig, it);
        if (use_bk)
            check_crash_backup(bk, files, n, 1, it);
        cr_assert_eq(norig, 0, "iteration %d: %zu files not replaced", it,
                     norig);
        for (size_t i = 0; i < n; i++) {
            char *p = xasprintf("%s/%s", work, files[i].rel);
            size_t len;
            char *data = th_read_file(p, &len);
            cr_assert(len == files[i].final_len &&
                      memcmp(data, files[i].final, len) == 0,
                      "iteration %d: '%s' differs from the uninterrupted "
                      "run's result", it, files[i].rel);
            free(data);
            free(p);
        }
        cr_assert_eq(count_tmp_files(work), 0);
        cr_log_info("iteration %2d: killed at %5.0f ms: %2zu replaced, "
                    "%2zu still original, %zu temporary files%s", it, delay,
                    nnew, nrepl - nnew, ntmp, use_bk ? ", --backup" : "");
    }
    cr_log_info("%d kills: %zu in mid-run, %zu before any replacement, "
                "%zu after the end; %zu replacements, %zu temporary files "
                "left by the kills", ITERATIONS, partial, untouched_runs,
                finished, total_new, total_tmp);
    /* Some kills must land while files were being replaced, or this test
     * proved nothing; delays spread over a whole run make that certain
     * in practice (typically over half of them). */
    cr_assert_geq(partial, 1, "no kill landed in mid-run");

    for (size_t i = 0; i < n; i++) {
        free(files[i].rel);
        free(files[i].orig);
        free(files[i].final);
        th_image_release(&files[i].img);
    }
    free(files);
    free(pristine);
    free(calib);
    free(work);
    free(rpt);
    free(bk);
}

/* ------------------------------------------------------------------ */
/* Suite inplace_disk: a file system with no room for the new files   */
/* ------------------------------------------------------------------ */

static char *disk_root, *disk_mnt;
static int disk_mounted;

static void
disk_setup(void)
{
    umask(022);
    disk_root = th_mkdtemp();
    disk_mnt = th_path(disk_root, "mnt");
    th_mkdirs(disk_mnt);
    disk_mounted = 0;
}

static void
disk_teardown(void)
{
    if (disk_mounted && umount2(disk_mnt, MNT_DETACH) != 0)
        cr_log_warn("cannot unmount '%s': %s", disk_mnt, strerror(errno));
    disk_mounted = 0;
    th_rmrf(disk_root);
    free(disk_root);
    free(disk_mnt);
}

TestSuite(inplace_disk, .init = disk_setup, .fini = disk_teardown,
          .timeout = 120);

/* Fill the file system of @path with a file, then free @keep bytes. */
static void
fill_fs(const char *path, off_t keep)
{
    static char block[65536];
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    off_t size = 0;

    cr_assert(fd >= 0, "cannot create '%s': %s", path, strerror(errno));
    memset(block, 0x5A, sizeof(block));
    for (;;) {
        ssize_t k = write(fd, block, sizeof(block));
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0) {
            cr_assert(k == 0 || errno == ENOSPC, "filling '%s': %s", path,
                      strerror(errno));
            break;
        }
        size += k;
    }
    cr_assert_gt(size, keep, "the file system was already full");
    cr_assert(ftruncate(fd, size - keep) == 0, "ftruncate: %s",
              strerror(errno));
    cr_assert(close(fd) == 0);
}

Test(inplace_disk, full_disk_leaves_every_original_and_reports_no_space)
{
    static const char *names[] = { "a.jpg", "sub/b.jpg", "sub/c.jpg",
                                   "d.jpg" };
    char *drep = th_path(disk_root, "report.jsonl");
    struct fsnap snap[4];
    json_t *arr;
    char *err;
    int code;

    if (geteuid() != 0)
        cr_skip_test("needs root to mount a tmpfs: running as uid %d",
                     (int)geteuid());
    if (mount("tmpfs", disk_mnt, "tmpfs", MS_NOSUID | MS_NODEV,
              "size=2048k,mode=0755") != 0)
        cr_skip_test("needs root to mount a tmpfs: mount: %s",
                     strerror(errno));
    disk_mounted = 1;

    /* Four originals of 100-200 KB, re-encodes of 70-140 KB. */
    for (int i = 0; i < 4; i++) {
        char *p = th_path(disk_mnt, names[i]);
        gen_jpeg(p, 480 + 40 * i, 360, i == 2 ? GEN_PROGRESSIVE : GEN_RGB420,
                 95, i == 1 ? 6 : 0, (uint32_t)(300 + i));
        fsnap_take(&snap[i], p);
        free(p);
    }
    /* The originals fit; beside them stay 16 KB, no room for any copy. */
    {
        char *filler = th_path(disk_mnt, "filler.bin");
        fill_fs(filler, 16384);
        free(filler);
    }

    code = run_ip(drep, &arr, &err, disk_mnt, "-j", "2", NULL);
    cr_assert_eq(code, 1, "exit %d: %s", code, err);
    for (int i = 0; i < 4; i++) {
        char *p = th_path(disk_mnt, names[i]);
        json_t *rec = record(arr, names[i]);
        cr_assert_str_eq(str_of(rec, "status"), "failed");
        cr_assert_str_eq(class_of(rec), "no-space", "'%s': %s: %s",
                         names[i], class_of(rec),
                         str_of(json_object_get(rec, "error"), "message"));
        assert_untouched(&snap[i], p);
        fsnap_release(&snap[i]);
        free(p);
    }
    cr_assert_eq(int_of(summary_of(arr), "failed"), 4);
    cr_assert(strstr(err, "no-space"), "stderr: %s", err);
    /* Nothing half-written was left to fill the disk further. */
    cr_assert_eq(count_tmp_files(disk_mnt), 0);
    json_decref(arr);
    free(err);
    free(drep);
}

/* ------------------------------------------------------------------ */
/* Metadata and file attributes                                       */
/* ------------------------------------------------------------------ */

/* Run exiftool with @args (NULL-terminated, after "exiftool"). */
static char *
exiftool(const char *first, ...)
{
    const char *argv[32];
    size_t n = 0;
    va_list ap;
    const char *a;
    char *out;
    int code;

    argv[n++] = "exiftool";
    argv[n++] = first;
    va_start(ap, first);
    while ((a = va_arg(ap, const char *)) != NULL) {
        cr_assert(n < 30);
        argv[n++] = a;
    }
    va_end(ap);
    argv[n] = NULL;
    code = run_tool(argv, &out);
    cr_assert_eq(code, 0, "exiftool %s ... failed (%d): %s", first, code,
                 out);
    return out;
}

/*
 * Tag @path the way a phone and a photo manager would: the Display P3 ICC
 * profile of testdata/p3_icc.jpg, EXIF date, make, model, GPS position and
 * Orientation 6, XMP dc:creator, IPTC keywords.
 */
static void
tag_photo(const char *path)
{
    char *icc = th_testdata("p3_icc.jpg");

    free(exiftool("-q", "-overwrite_original", "-tagsFromFile", icc,
                  "-ICC_Profile", path, NULL));
    free(exiftool("-q", "-overwrite_original", "-n",
                  "-EXIF:DateTimeOriginal=2021:06:15 10:20:30",
                  "-EXIF:Make=Acme", "-EXIF:Model=Acme X100",
                  "-GPSLatitude=48.8584", "-GPSLatitudeRef=N",
                  "-GPSLongitude=2.2945", "-GPSLongitudeRef=E",
                  "-EXIF:Orientation=6", "-XMP-dc:Creator=Jane Doe",
                  "-IPTC:Keywords=alpha", "-IPTC:Keywords=beta", path,
                  NULL));
    free(icc);
}

/* XMP, IPTC and ICC as exiftool reads them; GPS is present or not. */
static void
assert_tags(const char *path, int want_gps)
{
    /* -a: the Composite GPSLatitude would hide the EXIF one. */
    char *out = exiftool("-a", "-s", "-s", "-EXIF:DateTimeOriginal",
                         "-EXIF:Make", "-EXIF:Model", "-EXIF:Orientation#",
                         "-XMP-dc:Creator", "-IPTC:Keywords",
                         "-ICC_Profile:ProfileDescription", "-GPS:all",
                         path, NULL);

    cr_assert(strstr(out, "DateTimeOriginal: 2021:06:15 10:20:30") &&
              strstr(out, "Make: Acme\n") && strstr(out, "Model: Acme X100") &&
              strstr(out, "Orientation: 6\n"), "'%s': EXIF lost:\n%s", path,
              out);
    cr_assert(strstr(out, "Creator: Jane Doe"), "'%s': XMP lost:\n%s", path,
              out);
    cr_assert(strstr(out, "Keywords: alpha, beta"), "'%s': IPTC lost:\n%s",
              path, out);
    cr_assert(strstr(out, "ProfileDescription: sP3C"),
              "'%s': ICC profile lost:\n%s", path, out);
    if (want_gps)
        cr_assert(strstr(out, "GPSLatitude: ") &&
                  strstr(out, "GPSLongitude: "), "'%s': GPS lost:\n%s",
                  path, out);
    else
        cr_assert(!strstr(out, "GPS"), "'%s': GPS kept:\n%s", path, out);
    free(out);

#ifdef HAVE_LIBEXIF
    {
        ExifData *ed = exif_of(path);
        char buf[64];
        double lat, lon;

        cr_assert(ed != NULL, "'%s' lost its EXIF block", path);
        cr_assert_str_eq(exif_ascii(ed, EXIF_IFD_EXIF,
                                    EXIF_TAG_DATE_TIME_ORIGINAL, buf,
                                    sizeof(buf)), "2021:06:15 10:20:30");
        cr_assert_str_eq(exif_ascii(ed, EXIF_IFD_0, EXIF_TAG_MAKE, buf,
                                    sizeof(buf)), "Acme");
        cr_assert_str_eq(exif_ascii(ed, EXIF_IFD_0, EXIF_TAG_MODEL, buf,
                                    sizeof(buf)), "Acme X100");
        lat = exif_gps_degrees(ed, EXIF_TAG_GPS_LATITUDE);
        lon = exif_gps_degrees(ed, EXIF_TAG_GPS_LONGITUDE);
        if (want_gps) {
            cr_assert(fabs(lat - 48.8584) < 1e-4, "latitude %f", lat);
            cr_assert(fabs(lon - 2.2945) < 1e-4, "longitude %f", lon);
            cr_assert_str_eq(exif_ascii(ed, EXIF_IFD_GPS,
                                        EXIF_TAG_GPS_LATITUDE_REF, buf,
                                        sizeof(buf)), "N");
        } else {
            cr_assert(isnan(lat) && isnan(lon), "GPS kept: %f %f", lat,
                      lon);
            cr_assert_eq(ed->ifd[EXIF_IFD_GPS]->count, 0,
                         "%u GPS tags kept", ed->ifd[EXIF_IFD_GPS]->count);
        }
        exif_data_unref(ed);
        cr_assert_eq(exif_orientation(path), 6);
    }
#endif
}

Test(inplace, metadata_exif_xmp_iptc_icc_survive_and_strip_gps_drops_gps)
{
    char *keep = th_path(in, "keep.jpg"), *nogps = th_path(in, "nogps.jpg");
    char *orig = th_path(tmp, "orig.jpg");
    struct th_image a, b;
    json_t *arr;
    char *err;
    int code;

    if (!have_exiftool())
        cr_skip_test("exiftool is not installed (Debian: "
                     "libimage-exiftool-perl)");
#ifndef HAVE_LIBEXIF
    cr_log_warn("built without libexif: EXIF read back by exiftool only");
#endif
    gen_jpeg(keep, 900, 600, GEN_RGB420, 95, 0, 40);
    tag_photo(keep);
    assert_tags(keep, 1);       /* the fixture itself */
    th_copy_file(keep, nogps);
    th_copy_file(keep, orig);

    code = run_ip(rep, &arr, &err, keep, NULL);
    cr_assert_eq(code, 0, "exit %d: %s", code, err);
    assert_record(arr, "keep.jpg", "ok", NULL);
    json_decref(arr);
    free(err);
    code = run_ip(rep, &arr, &err, "--strip-gps", nogps, NULL);
    cr_assert_eq(code, 0, "exit %d: %s", code, err);
    assert_record(arr, "nogps.jpg", "ok", NULL);
    json_decref(arr);
    free(err);

    cr_assert_eq(th_jpeg_quality(keep), 90, "not re-encoded");
    assert_tags(keep, 1);
    assert_tags(nogps, 0);

    /* Orientation 6 is kept as a tag: the pixels were not turned. */
    cr_assert_eq(th_decode_jpeg(orig, &a), 0);
    cr_assert_eq(th_decode_jpeg(keep, &b), 0);
    cr_assert(b.w == 900 && b.h == 600, "stored %dx%d: rotated", b.w, b.h);
    cr_assert_geq(psnr(&a, &b), PSNR_PHOTO_MIN);
    th_image_release(&a);
    th_image_release(&b);
    free(keep);
    free(nogps);
    free(orig);
}

Test(inplace, mode_owner_and_mtime_of_the_original_are_kept)
{
    char *p = th_path(in, "private.jpg");
    struct stat before, after;
    json_t *arr;
    char *err;
    int code;

    gen_jpeg(p, 800, 600, GEN_RGB420, 95, 0, 41);
    cr_assert(chmod(p, 0640) == 0);
    set_mtime(p, 1234567890, 987654321);
    if (geteuid() == 0)
        cr_assert(chown(p, 4321, 8765) == 0, "chown: %s", strerror(errno));
    stat_or_die(p, &before);

    code = run_ip(rep, &arr, &err, in, NULL);
    cr_assert_eq(code, 0, "exit %d: %s", code, err);
    assert_record(arr, "private.jpg", "ok", NULL);
    stat_or_die(p, &after);
    cr_assert_neq(after.st_ino, before.st_ino, "not replaced");
    cr_assert_eq(after.st_mode & 07777, 0640, "mode %o",
                 (unsigned)(after.st_mode & 07777));
    cr_assert(after.st_mtim.tv_sec == 1234567890 &&
              after.st_mtim.tv_nsec == 987654321,
              "mtime %lld.%09ld", (long long)after.st_mtim.tv_sec,
              after.st_mtim.tv_nsec);
    cr_assert_eq(after.st_uid, before.st_uid);
    cr_assert_eq(after.st_gid, before.st_gid);
    if (geteuid() != 0)
        cr_log_info("not root: owner and group checked for our own only");
    json_decref(arr);
    free(err);
    free(p);
}

Test(inplace, no_preserve_times_gives_the_replaced_file_a_new_mtime)
{
    char *p = th_path(in, "a.jpg"), *q = th_path(in, "q75.jpg");
    struct stat after, q_after;
    struct timespec start;
    json_t *arr;
    char *err;
    int code;

    gen_jpeg(p, 800, 600, GEN_RGB420, 95, 0, 42);
    cr_assert(chmod(p, 0640) == 0);
    set_mtime(p, 1234567890, 0);
    add_testdata(in, "q75.jpg", "q75.jpg");
    set_mtime(q, 1234567890, 0);
    clock_gettime(CLOCK_REALTIME, &start);

    code = run_ip(rep, &arr, &err, "--no-preserve-times", in, NULL);
    cr_assert_eq(code, 0, "exit %d: %s", code, err);
    assert_record(arr, "/a.jpg", "ok", NULL);
    assert_record(arr, "/q75.jpg", "skipped", "already-compressed");
    stat_or_die(p, &after);
    cr_assert_geq(after.st_mtim.tv_sec, start.tv_sec - 1,
                  "mtime %lld is older than the run",
                  (long long)after.st_mtim.tv_sec);
    cr_assert_eq(after.st_mode & 07777, 0640, "the mode is still kept");
    /* A file left alone keeps its time whatever the option. */
    stat_or_die(q, &q_after);
    cr_assert_eq(q_after.st_mtim.tv_sec, 1234567890);
    json_decref(arr);
    free(err);
    free(p);
    free(q);
}

Test(inplace, orientation_tag_and_stored_pixels_are_kept)
{
    char *p = th_path(in, "orient6.jpg");
    struct th_image img;
    double rgb[3];
    json_t *arr;
    char *err;
    int code, o;

    add_testdata(in, "orient6.jpg", "orient6.jpg");
    /* Q90 already: --force so that it is re-encoded at all. */
    code = run_ip(rep, &arr, &err, "--force", "--min-saving", "0", in,
                  NULL);
    cr_assert_eq(code, 0, "exit %d: %s", code, err);
    assert_record(arr, "orient6.jpg", "ok", NULL);
    cr_assert_eq(th_decode_jpeg(p, &img), 0);
    cr_assert(img.w == 80 && img.h == 120, "stored %dx%d", img.w, img.h);
    /* Red stays in the stored bottom-left corner (testdata/README.md). */
    th_mean_rgb(&img, 20, 90, 4, rgb);
    cr_assert(th_rgb_near(rgb, 255, 0, 0, 12), "(20,90) is %.0f,%.0f,%.0f",
              rgb[0], rgb[1], rgb[2]);
    th_mean_rgb(&img, 60, 30, 4, rgb);
    cr_assert(th_rgb_near(rgb, 255, 255, 255, 12));
    th_image_release(&img);
    o = exif_orientation(p);
    if (o >= 0)                 /* -1: built without libexif */
        cr_assert_eq(o, 6, "orientation tag %d", o);
    json_decref(arr);
    free(err);
    free(p);
}

/* A flat 600x400 picture of one colour with light grain, Q95 4:4:4. */
static void
gen_solid(const char *path, int r, int g, int b)
{
    const int w = 600, h = 400;
    unsigned char *px = malloc((size_t)w * h * 3), *jpeg = NULL;
    unsigned long jlen = 0;
    uint64_t s = 77;
    tjhandle tj = tjInitCompress();

    cr_assert(px && tj, "out of memory");
    for (size_t i = 0; i < (size_t)w * h; i++) {
        int n = (int)(rng_next(&s) % 7) - 3;
        px[3 * i] = (unsigned char)(r + n);
        px[3 * i + 1] = (unsigned char)(g + n);
        px[3 * i + 2] = (unsigned char)(b + n);
    }
    cr_assert(tjCompress2(tj, px, w, 0, h, TJPF_RGB, &jpeg, &jlen,
                          TJSAMP_444, 95, 0) == 0, "%s", tjGetErrorStr2(tj));
    th_write_file(path, jpeg, jlen);
    tjFree(jpeg);
    tjDestroy(tj);
    free(px);
}

Test(inplace, to_srgb_converts_wide_gamut_pixels_and_profile)
{
    char *p = th_path(in, "p3.jpg"), *icc = th_testdata("p3_icc.jpg");
    struct th_image img;
    double rgb[3];
    json_t *arr;
    char *err, *out;
    int code;

    if (!have_exiftool())
        cr_skip_test("exiftool is not installed (Debian: "
                     "libimage-exiftool-perl)");
    /* The P3 values of sRGB (0,160,80), as in testdata/p3_icc.jpg. */
    gen_solid(p, 71, 158, 89);
    free(exiftool("-q", "-overwrite_original", "-tagsFromFile", icc,
                  "-ICC_Profile", p, NULL));
    code = run_ip(rep, &arr, &err, "--to-srgb", in, NULL);
    cr_assert_eq(code, 0, "exit %d: %s", code, err);
    assert_record(arr, "p3.jpg", "ok", NULL);
    cr_assert_eq(th_decode_jpeg(p, &img), 0);
    th_mean_rgb(&img, 300, 200, 20, rgb);
    cr_assert(rgb[0] < 25 && rgb[1] > 145 && rgb[1] < 175,
              "not converted to sRGB: %.0f,%.0f,%.0f", rgb[0], rgb[1],
              rgb[2]);
    th_image_release(&img);
    /* sRGB pixels under a P3 profile would be shown wrong everywhere. */
    out = exiftool("-s", "-s", "-ICC_Profile:ProfileDescription", p, NULL);
    cr_assert(!strstr(out, "sP3C"), "P3 profile kept on sRGB pixels: %s",
              out);
    free(out);
    json_decref(arr);
    free(err);
    free(p);
    free(icc);
}

/* ------------------------------------------------------------------ */
/* The decision table                                                 */
/* ------------------------------------------------------------------ */

/* Copy testdata/@name into in/ and snapshot it. */
static char *
add_snap(const char *name, struct fsnap *f)
{
    char *p;

    add_testdata(in, name, name);
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

Test(inplace, truncated_jpeg_fails_with_decode_error_and_is_untouched)
{
    struct fsnap f;
    char *p = add_snap("truncated.jpg", &f), *err;
    json_t *arr;
    int code;

    code = run_ip(rep, &arr, &err, in, NULL);
    cr_assert_eq(code, 1, "exit %d: %s", code, err);
    assert_record(arr, "truncated.jpg", "failed", "decode-error");
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

    code = run_ip(rep, &arr, &err, in, NULL);
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
    add_testdata(in, "q75.jpg", "sub/q75.jpg");
    add_testdata(in, "progressive.jpg", "progressive.jpg");  /* no-gain */
    add_testdata(in, "rgb.png", "sub/deep/rgb.png");
    add_testdata(in, "truncated.jpg", "truncated.jpg");

    code = run_ip(rep, &arr, &err, "--backup", bk, in, NULL);
    cr_assert_eq(code, 1, "exit %d (truncated.jpg fails): %s", code, err);
    for (int i = 0; i < 3; i++)
        assert_record(arr, replaced[i], "ok", NULL);
    assert_record(arr, "truncated.jpg", "failed", "decode-error");
    json_decref(arr);
    free(err);

    flist_of(&l, bk);
    cr_assert_eq(l.n, 3, "the backup holds %zu files, not the 3 replaced",
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
    flist_of(&l, bk);
    cr_assert_eq(l.n, 3);
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
    p = psnr(ref, &img);
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

    add_testdata(in, "cmyk.jpg", "cmyk.jpg");
    add_testdata(in, "gray.jpg", "gray.jpg");
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
        { { "recompress", "--dry-run", "-o", "OUT", "IN", NULL },
          "need --in-place" },
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

/* ------------------------------------------------------------------ */
/* Known problems: these tests fail until imgpool is fixed            */
/* ------------------------------------------------------------------ */

/*
 * Two inputs can hold files of the same relative path (two card dumps,
 * two years of "IMG_0001.JPG").  Both are replaced, so both originals must
 * be in the backup; the first backup must not stand in for the second
 * original.
 */
Test(inplace, backup_keeps_both_originals_of_inputs_with_the_same_rel_path)
{
    char *d1 = th_path(in, "d1"), *d2 = th_path(in, "d2");
    char *p1 = th_path(d1, "x.jpg"), *p2 = th_path(d2, "x.jpg");
    char *bk = th_path(tmp, "backup"), *err;
    struct fsnap o1, o2;
    struct flist l;
    json_t *arr;
    int code, found1 = 0, found2 = 0;

    gen_jpeg(p1, 700, 500, GEN_RGB420, 95, 0, 90);
    gen_jpeg(p2, 640, 480, GEN_RGB420, 95, 0, 91);
    fsnap_take(&o1, p1);
    fsnap_take(&o2, p2);
    code = run_ip(rep, &arr, &err, "--backup", bk, d1, d2, NULL);
    cr_assert(code == 0 || code == 1, "exit %d: %s", code, err);

    flist_of(&l, bk);
    for (size_t i = 0; i < l.n; i++) {
        char *b = xasprintf("%s/%s", bk, l.rel[i]);
        size_t len;
        char *data = th_read_file(b, &len);
        found1 |= len == o1.len && memcmp(data, o1.data, len) == 0;
        found2 |= len == o2.len && memcmp(data, o2.data, len) == 0;
        free(data);
        free(b);
    }
    flist_release(&l);
    /* A replaced file has its original in the backup; refusing to
     * replace it (failed, untouched) would be a correct fix too. */
    {
        const struct { const char *rel; struct fsnap *o; const char *p;
                       int found; } c[2] = {
            { "d1/x.jpg", &o1, p1, found1 }, { "d2/x.jpg", &o2, p2, found2 },
        };
        for (int i = 0; i < 2; i++) {
            const char *status = str_of(record(arr, c[i].rel), "status");
            if (strcmp(status, "ok") == 0)
                cr_assert(c[i].found, "%s was replaced, but its original "
                          "is nowhere in the backup (the other input's "
                          "x.jpg holds the name)", c[i].rel);
            else
                assert_untouched(c[i].o, c[i].p);
        }
    }
    json_decref(arr);
    free(err);
    fsnap_release(&o1);
    fsnap_release(&o2);
    free(d1);
    free(d2);
    free(p1);
    free(p2);
    free(bk);
}

/*
 * The same path, later: a backup from an earlier run holds an older
 * original, and a new file now has that name (cameras reuse names, photos
 * get re-imported).  Keeping the old backup is right, but then the new
 * original has no backup, and replacing it loses it.
 */
Test(inplace, backup_never_stands_in_for_a_different_original)
{
    char *p = th_path(in, "IMG_0001.jpg"), *bk = th_path(tmp, "backup");
    char *b = th_path(bk, "IMG_0001.jpg"), *err;
    struct fsnap first, second;
    struct flist l;
    json_t *arr;
    int code, found = 0;

    gen_jpeg(p, 700, 500, GEN_RGB420, 95, 0, 92);
    fsnap_take(&first, p);
    code = run_ip(rep, &arr, &err, "--backup", bk, in, NULL);
    cr_assert_eq(code, 0, "exit %d: %s", code, err);
    assert_record(arr, "IMG_0001.jpg", "ok", NULL);
    json_decref(arr);
    free(err);

    /* A different photo arrives under the same name. */
    cr_assert(unlink(p) == 0);
    gen_jpeg(p, 800, 600, GEN_RGB420, 95, 0, 93);
    fsnap_take(&second, p);
    code = run_ip(rep, &arr, &err, "--backup", bk, in, NULL);
    cr_assert(code == 0 || code == 1, "exit %d: %s", code, err);

    /* The first original is still backed up... */
    {
        size_t len;
        char *data = th_read_file(b, &len);
        cr_assert(len == first.len && memcmp(data, first.data, len) == 0,
                  "the older backup was overwritten");
        free(data);
    }
    /* ...and the second is either untouched or backed up too. */
    flist_of(&l, bk);
    for (size_t i = 0; i < l.n; i++) {
        char *q = xasprintf("%s/%s", bk, l.rel[i]);
        size_t len;
        char *data = th_read_file(q, &len);
        found |= len == second.len && memcmp(data, second.data, len) == 0;
        free(data);
        free(q);
    }
    flist_release(&l);
    if (strcmp(str_of(record(arr, "IMG_0001.jpg"), "status"), "ok") == 0)
        cr_assert(found, "IMG_0001.jpg was replaced, but its original is "
                  "not in the backup: the older backup of that name stood "
                  "in for it, and the photo is lost");
    else
        assert_untouched(&second, p);
    json_decref(arr);
    free(err);
    fsnap_release(&first);
    fsnap_release(&second);
    free(p);
    free(bk);
    free(b);
}

/*
 * docs/REPORT.md: in_width and in_height are "input dimensions in pixels,
 * upright (after the EXIF orientation is applied)", as `thumbnail` and
 * `recompress -o` report them.  orient6.jpg is stored 80x120 and shown
 * 120x80.
 */
Test(inplace, report_input_dimensions_are_upright_as_documented)
{
    json_t *arr, *rec;
    char *err;
    int code;

    add_testdata(in, "orient6.jpg", "orient6.jpg");
    code = run_ip(rep, &arr, &err, in, NULL);
    cr_assert_eq(code, 0, "exit %d: %s", code, err);
    rec = record(arr, "orient6.jpg");
    cr_assert(int_of(rec, "in_width") == 120 && int_of(rec, "in_height") == 80,
              "in-place reports %lldx%lld for an upright 120x80 image",
              int_of(rec, "in_width"), int_of(rec, "in_height"));
    json_decref(arr);
    free(err);
}

/*
 * A private photo (mode 0600) must never be readable by others, not even
 * while its replacement is being written: another user who opens the
 * temporary file in that window keeps the descriptor after any later
 * chmod.  Watch the directory with inotify and stat each temporary file as
 * soon as it appears.
 */
Test(inplace, temporary_file_is_never_more_open_than_the_original)
{
    const char *args[] = { "recompress", "--in-place", in, "-j", "1",
                           NULL };
    int ifd, st = 0, seen = 0, widest = 0, done = 0;
    char *p = th_path(in, "private0.jpg"), widest_name[256] = "";
    char evbuf[4096] __attribute__((aligned(8)));
    struct stat after;
    pid_t pid;

    /* Three files: three windows to look into, each a few ms long. */
    for (int i = 0; i < 3; i++) {
        char *q = xasprintf("%s/private%d.jpg", in, i);
        gen_jpeg(q, 2400, 1600, GEN_RGB444, 95, 0, (uint32_t)(43 + i));
        cr_assert(chmod(q, 0600) == 0);
        free(q);
    }
    ifd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
    cr_assert(ifd >= 0, "inotify_init1: %s", strerror(errno));
    cr_assert(inotify_add_watch(ifd, in, IN_CREATE) >= 0,
              "inotify_add_watch: %s", strerror(errno));

    pid = spawn_group(args);
    while (!done) {
        struct pollfd pfd = { ifd, POLLIN, 0 };
        ssize_t len;

        if (waitpid(pid, &st, WNOHANG) == pid)
            done = 1;   /* one last look at the queue below */
        (void)poll(&pfd, 1, done ? 0 : 20);
        while ((len = read(ifd, evbuf, sizeof(evbuf))) > 0) {
            for (char *e = evbuf; e < evbuf + len;) {
                struct inotify_event *ev = (struct inotify_event *)e;
                struct stat ts;
                char *tp;

                e += sizeof(*ev) + ev->len;
                if (!ev->len || !is_tmp_name(ev->name))
                    continue;
                tp = xasprintf("%s/%s", in, ev->name);
                if (lstat(tp, &ts) == 0) {
                    seen++;
                    if ((int)(ts.st_mode & 0777) > widest) {
                        widest = (int)(ts.st_mode & 0777);
                        snprintf(widest_name, sizeof(widest_name), "%s",
                                 ev->name);
                    }
                }
                free(tp);
            }
        }
    }
    close(ifd);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status 0x%x", st);
    stat_or_die(p, &after);
    cr_assert_eq(th_jpeg_quality(p), 90, "not replaced");
    cr_assert_eq(after.st_mode & 07777, 0600);
    if (seen == 0)
        cr_log_warn("the temporary file was gone before it could be seen");
    cr_assert_eq(widest & 077, 0, "temporary file '%s' had mode %03o while "
                 "the original is 600: others could open the photo while "
                 "it was being written", widest_name, widest);
    free(p);
}
