/*
 * helpers.c - shared test fixtures: files, the built binary, decoders.
 *
 * Tests check what imgpool wrote with decoders that do not go through
 * libvips: TurboJPEG for JPEG, libpng for PNG, and a JPEG marker walker of
 * our own for the quantisation tables and the Adobe APP14 marker.  A bug in
 * how imgpool drives libvips then cannot hide behind the same bug in the
 * oracle.  Unexpected I/O failures end the test through cr_assert, so the
 * callers stay short; "not an image" is an answer (-1), not a failure.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE     /* close_range() */
#endif

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <lcms2.h>
#include <png.h>
#include <turbojpeg.h>

#include "helpers.h"
#include "jpegq.h"

/* ------------------------------------------------------------------ */
/* Files and directories                                              */
/* ------------------------------------------------------------------ */

static char *
xstrdup(const char *s)
{
    char *p = strdup(s);

    cr_assert(p != NULL, "out of memory");
    return p;
}

static void *
xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);

    cr_assert(p != NULL, "out of memory allocating %zu bytes", n);
    return p;
}

static char *
join(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    char *p = xmalloc(la + 1 + lb + 1);

    memcpy(p, a, la);
    p[la] = '/';
    memcpy(p + la + 1, b, lb + 1);
    return p;
}

char *
th_mkdtemp(void)
{
    const char *base = getenv("TMPDIR");
    char *tmpl;

    if (base == NULL || base[0] == '\0')
        base = "/tmp";
    tmpl = join(base, "imgpool-test-XXXXXX");
    cr_assert(mkdtemp(tmpl) != NULL, "cannot create a directory in '%s': %s",
              base, strerror(errno));
    return tmpl;
}

/*
 * Remove @path and everything below it.  Directories are made accessible
 * before they are read, since tests create unreadable ones on purpose;
 * symlinks are removed, never followed.
 */
static void
rmrf(const char *path)
{
    struct stat st;
    DIR *d;
    struct dirent *e;

    if (lstat(path, &st) != 0) {
        cr_assert(errno == ENOENT, "cannot stat '%s': %s", path,
                  strerror(errno));
        return;
    }
    if (!S_ISDIR(st.st_mode)) {
        cr_assert(unlink(path) == 0 || errno == ENOENT,
                  "cannot remove '%s': %s", path, strerror(errno));
        return;
    }
    (void)chmod(path, 0700);
    d = opendir(path);
    cr_assert(d != NULL, "cannot open directory '%s': %s", path,
              strerror(errno));
    for (;;) {
        errno = 0;
        e = readdir(d);
        if (e == NULL)
            break;
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char *child = join(path, e->d_name);
        rmrf(child);
        free(child);
    }
    cr_assert(errno == 0, "cannot read directory '%s': %s", path,
              strerror(errno));
    closedir(d);
    cr_assert(rmdir(path) == 0, "cannot remove directory '%s': %s", path,
              strerror(errno));
}

void
th_rmrf(const char *path)
{
    if (path != NULL)
        rmrf(path);
}

char *th_dir;

void
th_dir_setup(void)
{
    th_dir = th_mkdtemp();
}

void
th_dir_teardown(void)
{
    th_rmrf(th_dir);
    free(th_dir);
    th_dir = NULL;
}

void
th_mkdirs(const char *path)
{
    char *p = xstrdup(path);
    size_t len = strlen(p);

    /* Create each prefix that ends just before a '/', then the whole. */
    for (size_t i = 1; i <= len; i++) {
        if (p[i] != '/' && p[i] != '\0')
            continue;
        char saved = p[i];
        p[i] = '\0';
        if (mkdir(p, 0755) != 0) {
            struct stat st;
            cr_assert(errno == EEXIST && stat(p, &st) == 0 &&
                      S_ISDIR(st.st_mode),
                      "cannot create directory '%s': %s", p,
                      strerror(errno));
        }
        p[i] = saved;
    }
    free(p);
}

char *
th_path(const char *dir, const char *name)
{
    char *full = join(dir, name);
    char *slash = strrchr(full, '/');

    /* The parent of the result: @dir itself at least. */
    *slash = '\0';
    th_mkdirs(full);
    *slash = '/';
    return full;
}

char *
th_testdata(const char *name)
{
    return join(TESTDATA_DIR, name);
}

void
th_write_file(const char *path, const void *data, size_t len)
{
    const unsigned char *p = data;
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

    cr_assert(fd >= 0, "cannot create '%s': %s", path, strerror(errno));
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        cr_assert(n > 0, "cannot write '%s': %s", path, strerror(errno));
        p += n;
        len -= (size_t)n;
    }
    cr_assert(close(fd) == 0, "cannot write '%s': %s", path,
              strerror(errno));
}

/* Read all of @fd into a NUL-terminated buffer; @what names it in errors. */
static char *
read_fd(int fd, const char *what, size_t *lenp)
{
    size_t cap = 4096, len = 0;
    char *buf = xmalloc(cap);

    for (;;) {
        if (cap - len < 2) {
            cap *= 2;
            buf = realloc(buf, cap);
            cr_assert(buf != NULL, "out of memory reading '%s'", what);
        }
        ssize_t n = read(fd, buf + len, cap - len - 1);
        if (n < 0 && errno == EINTR)
            continue;
        cr_assert(n >= 0, "cannot read '%s': %s", what, strerror(errno));
        if (n == 0)
            break;
        len += (size_t)n;
    }
    buf[len] = '\0';
    if (lenp != NULL)
        *lenp = len;
    return buf;
}

char *
th_read_file(const char *path, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    char *buf;

    cr_assert(fd >= 0, "cannot open '%s': %s", path, strerror(errno));
    buf = read_fd(fd, path, len);
    close(fd);
    return buf;
}

unsigned char *
th_jpeg_encode(const unsigned char *px, int w, int h, int pf, int samp,
               int quality, int flags, unsigned long *len)
{
    tjhandle tj = tjInitCompress();
    unsigned char *jpeg = NULL, *copy;

    cr_assert(tj != NULL, "tjInitCompress: %s", tjGetErrorStr2(NULL));
    *len = 0;
    cr_assert(tjCompress2(tj, px, w, 0, h, pf, &jpeg, len, samp, quality,
                          flags) == 0,
              "tjCompress2: %s", tjGetErrorStr2(tj));
    /* A plain heap copy, so that callers free it like any other buffer. */
    copy = malloc(*len);
    cr_assert(copy != NULL, "out of memory");
    memcpy(copy, jpeg, *len);
    tjFree(jpeg);
    tjDestroy(tj);
    return copy;
}

void
th_copy_file(const char *src, const char *dst)
{
    size_t len;
    char *data = th_read_file(src, &len);

    th_write_file(dst, data, len);
    free(data);
}

void
th_copy_testdata(const char *dir, const char *name, const char *as)
{
    char *src = th_testdata(name);
    char *dst = th_path(dir, as);

    th_copy_file(src, dst);
    free(src);
    free(dst);
}

int
th_exists(const char *path)
{
    struct stat st;

    return lstat(path, &st) == 0;
}

/* ------------------------------------------------------------------ */
/* Running the binary                                                 */
/* ------------------------------------------------------------------ */

/*
 * An unlinked temporary file: the child writes to it, the parent rewinds
 * and reads it.  Files rather than pipes, so a chatty child can never
 * block on a pipe nobody drains while we wait for it to exit.
 */
static int
anon_tmpfile(void)
{
    const char *base = getenv("TMPDIR");
    char *tmpl;
    int fd;

    if (base == NULL || base[0] == '\0')
        base = "/tmp";
    tmpl = join(base, "imgpool-out-XXXXXX");
    fd = mkstemp(tmpl);
    cr_assert(fd >= 0, "cannot create a file in '%s': %s", base,
              strerror(errno));
    /* Only the dup2()'ed copies may reach the child after exec. */
    (void)fcntl(fd, F_SETFD, FD_CLOEXEC);
    unlink(tmpl);
    free(tmpl);
    return fd;
}

static char *
slurp_tmpfile(int fd, const char *what)
{
    char *s;

    cr_assert(lseek(fd, 0, SEEK_SET) == 0, "cannot rewind %s: %s", what,
              strerror(errno));
    s = read_fd(fd, what, NULL);
    close(fd);
    return s;
}

/* The binary's argv: IMGPOOL_BIN, then @args (built before fork: the
 * child only calls async-signal-safe functions).  Caller frees. */
static char **
bin_argv(const char *const *args)
{
    size_t n = 0;
    char **argv;

    while (args != NULL && args[n] != NULL)
        n++;
    argv = xmalloc((n + 2) * sizeof(*argv));
    argv[0] = (char *)IMGPOOL_BIN;
    for (size_t i = 0; i < n; i++)
        argv[i + 1] = (char *)args[i];
    argv[n + 1] = NULL;
    return argv;
}

/* Start the binary with @argv (freed here), stdin on /dev/null, stdout and
 * stderr on @out_fd and @err_fd; with @new_group, as the leader of a new
 * process group. */
static pid_t
bin_start(char **argv, int out_fd, int err_fd, int new_group)
{
    pid_t pid;

    fflush(NULL);
    pid = fork();
    cr_assert(pid >= 0, "cannot fork: %s", strerror(errno));
    if (pid == 0) {
        if (new_group)
            setpgid(0, 0);
        int in_fd = open("/dev/null", O_RDONLY);
        if (in_fd < 0 || dup2(in_fd, 0) < 0 || dup2(out_fd, 1) < 0 ||
            dup2(err_fd, 2) < 0)
            _exit(127);
        /* Nothing of the test runner's (its pipes) leaks into imgpool. */
        if (close_range(3, ~0U, 0) != 0)
            for (int fd = 3; fd < 1024; fd++)
                close(fd);
        execv(IMGPOOL_BIN, argv);
        static const char msg[] = "th_run: cannot exec " IMGPOOL_BIN "\n";
        if (write(2, msg, sizeof(msg) - 1) < 0)
            _exit(127);
        _exit(127);
    }
    /* Both sides set it, so the group exists before the caller may signal
     * it. */
    if (new_group)
        setpgid(pid, pid);
    free(argv);
    return pid;
}

void
th_run(struct th_run *r, const char *const *args)
{
    int out_fd = anon_tmpfile(), err_fd = anon_tmpfile(), st;
    pid_t pid = bin_start(bin_argv(args), out_fd, err_fd, 0);

    while (waitpid(pid, &st, 0) < 0)
        cr_assert(errno == EINTR, "waitpid: %s", strerror(errno));
    /* as a shell reports it: exit code, or 128 + signal */
    r->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    r->out = slurp_tmpfile(out_fd, "captured stdout");
    r->err = slurp_tmpfile(err_fd, "captured stderr");
}

void
th_run_release(struct th_run *r)
{
    free(r->out);
    free(r->err);
    r->out = r->err = NULL;
}

/* ------------------------------------------------------------------ */
/* JPEG: marker walk, decode, quality                                 */
/* ------------------------------------------------------------------ */

/* What the walk over the header segments found. */
struct jpeg_info {
    int adobe;              /* an APP14 "Adobe" segment is present */
    int have_qt;            /* qt holds a table */
    int qt_id;              /* its Tq */
    unsigned qt[64];        /* in zigzag order, as stored */
};

/*
 * Walk the segments from SOI up to the first SOS (or EOI).  Records the
 * Adobe marker and the first quantisation table, preferring table 0 (the
 * luminance table in every common encoder).  -1 if the data is not a JPEG
 * header or a segment runs past the end.
 */
static int
jpeg_walk(const unsigned char *p, size_t len, struct jpeg_info *ji)
{
    size_t i = 2;

    memset(ji, 0, sizeof(*ji));
    if (len < 4 || p[0] != 0xFF || p[1] != 0xD8)
        return -1;
    while (i + 4 <= len) {
        if (p[i] != 0xFF)
            return -1;
        unsigned m = p[i + 1];
        if (m == 0xFF) {        /* fill byte */
            i++;
            continue;
        }
        if (m == 0xD9 || m == 0xDA)
            return 0;
        if (m == 0x01 || (m >= 0xD0 && m <= 0xD7)) {   /* no length */
            i += 2;
            continue;
        }
        size_t seglen = (size_t)p[i + 2] << 8 | p[i + 3];
        if (seglen < 2 || i + 2 + seglen > len)
            return -1;
        const unsigned char *s = p + i + 4;
        size_t slen = seglen - 2;

        if (m == 0xEE && slen >= 5 && memcmp(s, "Adobe", 5) == 0)
            ji->adobe = 1;
        if (m == 0xDB) {
            /* One DQT segment may hold several tables. */
            size_t k = 0;
            while (k < slen) {
                int pq = s[k] >> 4, tq = s[k] & 15;
                size_t tsize = pq ? 128 : 64;
                if (k + 1 + tsize > slen)
                    return -1;
                if (!ji->have_qt || (tq == 0 && ji->qt_id != 0)) {
                    for (int z = 0; z < 64; z++)
                        ji->qt[z] = pq ? (unsigned)s[k + 1 + 2 * z] << 8 |
                                             s[k + 2 + 2 * z]
                                       : s[k + 1 + z];
                    ji->have_qt = 1;
                    ji->qt_id = tq;
                }
                k += 1 + tsize;
            }
        }
        i += 2 + seglen;
    }
    return -1;
}

int
th_decode_jpeg(const char *path, struct th_image *img)
{
    size_t len;
    unsigned char *buf = (unsigned char *)th_read_file(path, &len);
    tjhandle tj = tjInitDecompress();
    int w, h, subsamp, cs, ret = -1;
    unsigned char *raw = NULL;
    struct jpeg_info ji;

    memset(img, 0, sizeof(*img));
    cr_assert(tj != NULL, "tjInitDecompress: %s", tjGetErrorStr2(NULL));
    if (jpeg_walk(buf, len, &ji) != 0)
        goto out;
    if (tjDecompressHeader3(tj, buf, (unsigned long)len, &w, &h, &subsamp,
                            &cs) != 0)
        goto out;

    /*
     * Warnings (a truncated scan, corrupt data) count as failure: the
     * outputs under test must be clean, and TurboJPEG reports them as -1.
     */
    if (cs == TJCS_CMYK || cs == TJCS_YCCK) {
        raw = xmalloc((size_t)w * (size_t)h * 4);
        if (tjDecompress2(tj, buf, (unsigned long)len, raw, w, 0, h,
                          TJPF_CMYK, TJFLAG_ACCURATEDCT) != 0)
            goto out;
        img->px = xmalloc((size_t)w * (size_t)h * 3);
        /*
         * Naive CMYK -> RGB, R = (255 - C)(255 - K) / 255.  Files with an
         * Adobe marker store the inks inverted (255 = no ink, the
         * Photoshop convention), where the same formula reads c * k / 255.
         */
        for (size_t i = 0; i < (size_t)w * (size_t)h; i++) {
            unsigned k = raw[4 * i + 3];
            if (!ji.adobe)
                k = 255 - k;
            for (int c = 0; c < 3; c++) {
                unsigned v = raw[4 * i + (size_t)c];
                if (!ji.adobe)
                    v = 255 - v;
                img->px[3 * i + (size_t)c] =
                    (unsigned char)((v * k + 127) / 255);
            }
        }
        img->file_channels = 4;
    } else {
        img->px = xmalloc((size_t)w * (size_t)h * 3);
        if (tjDecompress2(tj, buf, (unsigned long)len, img->px, w, 0, h,
                          TJPF_RGB, TJFLAG_ACCURATEDCT) != 0)
            goto out;
        img->file_channels = cs == TJCS_GRAY ? 1 : 3;
    }
    img->w = w;
    img->h = h;
    img->channels = 3;
    img->jpeg_subsamp = subsamp;
    ret = 0;
out:
    if (ret != 0)
        th_image_release(img);
    free(raw);
    tjDestroy(tj);
    free(buf);
    return ret;
}

/* The IJG (Annex K) luminance table, natural (row-major) order. */
static const unsigned std_luma[64] = {
    16, 11, 10, 16, 24, 40, 51, 61,
    12, 12, 14, 19, 26, 58, 60, 55,
    14, 13, 16, 24, 40, 57, 69, 56,
    14, 17, 22, 29, 51, 87, 80, 62,
    18, 22, 37, 56, 68, 109, 103, 77,
    24, 35, 55, 64, 81, 104, 113, 92,
    49, 64, 78, 87, 103, 121, 120, 101,
    72, 92, 95, 98, 112, 100, 103, 99,
};

/* Natural-order index of the k-th coefficient in zigzag order. */
static const unsigned char zigzag[64] = {
    0, 1, 8, 16, 9, 2, 3, 10,
    17, 24, 32, 25, 18, 11, 4, 5,
    12, 19, 26, 33, 40, 48, 41, 34,
    27, 20, 13, 6, 7, 14, 21, 28,
    35, 42, 49, 56, 57, 50, 43, 36,
    29, 22, 15, 23, 30, 37, 44, 51,
    58, 59, 52, 45, 38, 31, 39, 46,
    53, 60, 61, 54, 47, 55, 62, 63,
};

/* libjpeg's jpeg_quality_scaling() plus the baseline clamp to 1..255. */
static unsigned
scaled_entry(unsigned base, int quality)
{
    long scale = quality < 50 ? 5000 / quality : 200 - 2 * quality;
    long v = ((long)base * scale + 50) / 100;

    if (v < 1)
        v = 1;
    if (v > 255)
        v = 255;
    return (unsigned)v;
}

int
th_jpeg_quality(const char *path)
{
    size_t len;
    unsigned char *buf = (unsigned char *)th_read_file(path, &len);
    struct jpeg_info ji;
    long best_err = LONG_MAX;
    int best = -1;

    if (jpeg_walk(buf, len, &ji) != 0 || !ji.have_qt) {
        free(buf);
        return -1;
    }
    free(buf);
    /* imgpool's own tables (jpegq.h, --effort best): their quality. */
    {
        int nat[64];

        for (int z = 0; z < 64; z++)
            nat[zigzag[z]] = (int)ji.qt[z];
        best = jpegq_match_luma(nat);
        if (best > 0)
            return best;
    }
    /* Ties go to the higher quality: the first found wins, scanning down. */
    for (int q = 100; q >= 1; q--) {
        long err = 0;
        for (int z = 0; z < 64; z++) {
            long want = (long)scaled_entry(std_luma[zigzag[z]], q);
            long d = (long)ji.qt[z] - want;
            err += d < 0 ? -d : d;
        }
        if (err < best_err) {
            best_err = err;
            best = q;
        }
    }
    return best;
}

/* ------------------------------------------------------------------ */
/* PNG                                                                */
/* ------------------------------------------------------------------ */

/*
 * Everything the libpng error path must see lives here, outside the frame
 * that calls setjmp, so nothing is clobbered by the longjmp.
 */
struct pngdec {
    FILE *f;
    png_structp png;
    png_infop info;
    png_bytep *rows;
    struct th_image *img;
};

/* libpng would print these; the return value says enough. */
static void
pngdec_warning(png_structp png, png_const_charp msg)
{
    (void)png;
    (void)msg;
}

static void
pngdec_error(png_structp png, png_const_charp msg)
{
    (void)msg;
    png_longjmp(png, 1);
}

static int
pngdec_run(struct pngdec *pr)
{
    if (setjmp(png_jmpbuf(pr->png)))
        return -1;

    png_init_io(pr->png, pr->f);
    png_read_info(pr->png, pr->info);
    /* Palette -> RGB, gray < 8 bits -> 8 bits, tRNS -> alpha; 16 -> 8. */
    png_set_expand(pr->png);
    png_set_strip_16(pr->png);
    png_set_interlace_handling(pr->png);
    png_read_update_info(pr->png, pr->info);

    png_uint_32 w = png_get_image_width(pr->png, pr->info);
    png_uint_32 h = png_get_image_height(pr->png, pr->info);
    int channels = png_get_channels(pr->png, pr->info);
    size_t rowbytes = png_get_rowbytes(pr->png, pr->info);

    if (w == 0 || h == 0 || w > 1 << 20 || h > 1 << 20 ||
        rowbytes != (size_t)w * (size_t)channels)
        return -1;
    pr->img->px = xmalloc(rowbytes * h);
    pr->rows = xmalloc(h * sizeof(*pr->rows));
    for (png_uint_32 y = 0; y < h; y++)
        pr->rows[y] = pr->img->px + (size_t)y * rowbytes;
    png_read_image(pr->png, pr->rows);
    png_read_end(pr->png, NULL);

    pr->img->w = (int)w;
    pr->img->h = (int)h;
    pr->img->channels = channels;
    pr->img->file_channels = channels;
    pr->img->jpeg_subsamp = -1;
    return 0;
}

int
th_decode_png(const char *path, struct th_image *img)
{
    struct pngdec pr;
    unsigned char sig[8];
    int ret = -1;

    memset(img, 0, sizeof(*img));
    memset(&pr, 0, sizeof(pr));
    pr.img = img;
    pr.f = fopen(path, "rb");
    cr_assert(pr.f != NULL, "cannot open '%s': %s", path, strerror(errno));
    if (fread(sig, 1, sizeof(sig), pr.f) != sizeof(sig) ||
        png_sig_cmp(sig, 0, sizeof(sig)) != 0)
        goto out;
    rewind(pr.f);

    pr.png = png_create_read_struct(PNG_LIBPNG_VER_STRING, NULL,
                                    pngdec_error, pngdec_warning);
    cr_assert(pr.png != NULL, "png_create_read_struct failed");
    pr.info = png_create_info_struct(pr.png);
    cr_assert(pr.info != NULL, "png_create_info_struct failed");
    ret = pngdec_run(&pr);
out:
    if (pr.png != NULL)
        png_destroy_read_struct(&pr.png, &pr.info, NULL);
    free(pr.rows);
    fclose(pr.f);
    if (ret != 0)
        th_image_release(img);
    return ret;
}

void
th_image_release(struct th_image *img)
{
    free(img->px);
    memset(img, 0, sizeof(*img));
}

void
th_mean_rgb(const struct th_image *img, int x, int y, int r, double rgb[3])
{
    double sum[3] = { 0, 0, 0 };
    long n = 0;

    for (int yy = y - r; yy <= y + r; yy++) {
        if (yy < 0 || yy >= img->h)
            continue;
        for (int xx = x - r; xx <= x + r; xx++) {
            if (xx < 0 || xx >= img->w)
                continue;
            const unsigned char *p =
                img->px + ((size_t)yy * (size_t)img->w + (size_t)xx) *
                              (size_t)img->channels;
            for (int c = 0; c < 3; c++)
                /* Gray (and gray + alpha) counts for all three. */
                sum[c] += img->channels >= 3 ? p[c] : p[0];
            n++;
        }
    }
    cr_assert(n > 0, "th_mean_rgb: (%d, %d) r=%d is outside %dx%d", x, y, r,
              img->w, img->h);
    for (int c = 0; c < 3; c++)
        rgb[c] = sum[c] / (double)n;
}

int
th_rgb_near(const double got[3], int r, int g, int b, double tol)
{
    const int want[3] = { r, g, b };

    for (int c = 0; c < 3; c++) {
        double d = got[c] - want[c];
        if (d < -tol || d > tol)
            return 0;
    }
    return 1;
}

/* ------------------------------------------------------------------ */
/* Reports and the corpus                                             */
/* ------------------------------------------------------------------ */

json_t *
th_read_jsonl(const char *path)
{
    char *text = th_read_file(path, NULL);
    json_t *arr = json_array();
    char *line = text;
    int lineno = 0;

    cr_assert(arr != NULL, "out of memory");
    while (*line != '\0') {
        char *nl = strchr(line, '\n');
        char *next = nl ? nl + 1 : line + strlen(line);
        json_error_t jerr;
        json_t *v;

        if (nl != NULL)
            *nl = '\0';
        lineno++;
        if (line[strspn(line, " \t\r")] != '\0') {
            v = json_loads(line, 0, &jerr);
            cr_assert(v != NULL, "%s:%d: invalid JSON: %s", path, lineno,
                      jerr.text);
            json_array_append_new(arr, v);
        }
        line = next;
    }
    free(text);
    return arr;
}

json_t *
th_find_record(json_t *arr, const char *path_suffix)
{
    size_t i, slen = strlen(path_suffix);
    json_t *rec;

    json_array_foreach(arr, i, rec) {
        const char *p = json_string_value(json_object_get(rec, "path"));
        size_t plen;

        if (p == NULL)
            continue;
        plen = strlen(p);
        if (plen >= slen && strcmp(p + plen - slen, path_suffix) == 0)
            return rec;
    }
    return NULL;
}

const char *
th_corpus_dir(void)
{
    struct stat st;

    if (stat(SHARED_CORPUS_DIR "/odd", &st) == 0 && S_ISDIR(st.st_mode))
        return SHARED_CORPUS_DIR "/odd";
    return NULL;
}

json_t *
th_summary(json_t *arr)
{
    json_t *last = json_array_get(arr, json_array_size(arr) - 1);

    cr_assert(json_is_true(json_object_get(last, "summary")),
              "last report line is not the summary");
    return last;
}

const char *
th_json_str(json_t *obj, const char *key)
{
    return json_string_value(json_object_get(obj, key));
}

long long
th_json_int(json_t *obj, const char *key)
{
    return json_integer_value(json_object_get(obj, key));
}

size_t
th_count_records(json_t *arr, const char *status, const char *reason)
{
    size_t i, n = 0;

    for (i = 0; i + 1 < json_array_size(arr); i++) {
        json_t *rec = json_array_get(arr, i);
        const char *st = th_json_str(rec, "status");
        const char *r = th_json_str(rec, "reason");

        if (st && strcmp(st, status) == 0 &&
            (!reason || (r && strcmp(r, reason) == 0)))
            n++;
    }
    return n;
}

void
th_assert_thumbnail(const char *path, int longest)
{
    struct th_image img;

    cr_assert_eq(th_decode_jpeg(path, &img), 0, "no valid JPEG at %s", path);
    cr_assert_eq(img.file_channels, 3);
    cr_assert_eq(img.w > img.h ? img.w : img.h, longest, "%s is %dx%d", path,
                 img.w, img.h);
    cr_assert_eq(th_jpeg_quality(path), 90);
    th_image_release(&img);
}

/* th_spawn(), in a new process group when @new_group. */
static pid_t
spawn_quiet(const char *const *args, int new_group)
{
    int fd = open("/dev/null", O_WRONLY);
    pid_t pid;

    cr_assert(fd >= 0);
    pid = bin_start(bin_argv(args), fd, fd, new_group);
    close(fd);
    return pid;
}

pid_t
th_spawn(const char *const *args)
{
    return spawn_quiet(args, 0);
}

pid_t
th_spawn_group(const char *const *args)
{
    return spawn_quiet(args, 1);
}

int
th_wait_exit(pid_t pid, int max_ms)
{
    int st, waited = 0;

    while (waitpid(pid, &st, WNOHANG) == 0) {
        cr_assert_lt(waited, max_ms, "imgpool did not exit in time");
        usleep(10000);
        waited += 10;
    }
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

void
th_wait_for_file(const char *path, int max_ms)
{
    for (int waited = 0; access(path, F_OK) != 0; waited += 5) {
        cr_assert_lt(waited, max_ms, "'%s' never appeared", path);
        usleep(5000);
    }
}

/* The state letter of @pid from /proc/PID/stat, or 0. */
static char
proc_state(pid_t pid)
{
    char path[64], buf[512], *paren;
    ssize_t n;
    int fd;

    snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    /* "PID (COMM) S ...": COMM may hold spaces and parentheses. */
    paren = strrchr(buf, ')');
    return paren && paren[1] == ' ' ? paren[2] : 0;
}

/* Whether descriptor @fd of @pid names @file. */
static int
fd_names(pid_t pid, unsigned long fd, const char *file)
{
    char path[64], link[PATH_MAX];
    ssize_t n;

    snprintf(path, sizeof(path), "/proc/%ld/fd/%lu", (long)pid, fd);
    n = readlink(path, link, sizeof(link) - 1);
    if (n < 0)
        return 0;
    link[n] = '\0';
    return strcmp(link, file) == 0;
}

/* Whether one of the @nfds pollfds at @addr in @pid names @file. */
static int
pollfds_name(pid_t pid, unsigned long addr, unsigned long nfds,
             const char *file)
{
    struct pollfd fds[16];
    char path[64];
    ssize_t n;
    int mfd;

    if (nfds == 0 || nfds > 16)
        return 0;
    snprintf(path, sizeof(path), "/proc/%ld/mem", (long)pid);
    mfd = open(path, O_RDONLY | O_CLOEXEC);
    cr_assert(mfd >= 0, "cannot open '%s': %s", path, strerror(errno));
    n = pread(mfd, fds, nfds * sizeof(*fds), (off_t)addr);
    close(mfd);
    for (unsigned long i = 0; n == (ssize_t)(nfds * sizeof(*fds)) &&
                              i < nfds; i++)
        if (fds[i].fd >= 0 && fd_names(pid, (unsigned long)fds[i].fd, file))
            return 1;
    return 0;
}

int
th_blocked_in(pid_t pid, long nr, const char *file)
{
    char path[64], buf[256];
    long got;
    unsigned long arg0, arg1;
    ssize_t n;
    int sfd, named;

    snprintf(path, sizeof(path), "/proc/%ld/syscall", (long)pid);
    sfd = open(path, O_RDONLY | O_CLOEXEC);
    cr_assert(sfd >= 0, "cannot open '%s': %s", path, strerror(errno));
    n = read(sfd, buf, sizeof(buf) - 1);
    close(sfd);
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    /* "running", or "NR ARG0 ARG1 ... SP PC" while in a system call. */
    if (sscanf(buf, "%ld %lx %lx", &got, &arg0, &arg1) != 3 || got != nr)
        return 0;
    if (nr == SYS_poll || nr == SYS_ppoll)
        named = pollfds_name(pid, arg0, arg1, file);
    else
        named = fd_names(pid, arg0, file);
    return named && proc_state(pid) == 'S';
}

void
th_wait_blocked(pid_t pid, long nr, const char *file, int max_ms)
{
    for (int waited = 0; !th_blocked_in(pid, nr, file); waited += 5) {
        cr_assert_lt(waited, max_ms, "process %ld never blocked in system "
                     "call %ld on '%s'", (long)pid, nr, file);
        usleep(5000);
    }
}

void
th_need_fault_injection(void)
{
#ifndef IMGPOOL_FAULT_INJECTION
    cr_skip_test("built without fault injection (IMGPOOL_FAULT_INJECTION "
                 "is off in Release builds)");
#endif
}

char *
th_fault_arm(const char *parent, const char *kind, const char *glob)
{
    char *dir = join(parent, "fault");
    char *fault = xmalloc(strlen(kind) + strlen(glob) + 2);

    sprintf(fault, "%s:%s", kind, glob);
    th_rmrf(dir);
    th_mkdirs(dir);
    setenv("IMGPOOL_FAULT", fault, 1);
    setenv("IMGPOOL_FAULT_DIR", dir, 1);
    free(fault);
    return dir;
}

void
th_fault_disarm(void)
{
    unsetenv("IMGPOOL_FAULT");
    unsetenv("IMGPOOL_FAULT_DIR");
}

/* Complete "PID\n" lines of @text into @pids (at most @max); how many. */
static int
parse_pids(const char *text, pid_t *pids, int max)
{
    const char *p = text;
    char *end;
    int n = 0;

    while (n < max) {
        long v = strtol(p, &end, 10);
        if (end == p || *end != '\n')
            break;
        pids[n++] = (pid_t)v;
        p = end + 1;
    }
    return n;
}

void
th_fault_reached(const char *dir, int n, pid_t *pids, int max_ms)
{
    char *reached = join(dir, "reached");
    int waited = 0, got = 0;

    for (;;) {
        if (access(reached, F_OK) == 0) {
            char *text = th_read_file(reached, NULL);
            got = parse_pids(text, pids, n);
            free(text);
            if (got == n)
                break;
        }
        cr_assert_lt(waited, max_ms, "%d of %d workers reached the fault "
                     "point in %s", got, n, dir);
        usleep(5000);
        waited += 5;
    }
    free(reached);
}

void
th_fault_release(const char *dir)
{
    char *go = join(dir, "go");

    th_write_file(go, "", 0);
    free(go);
}

void
th_fill_file(const char *path, size_t size, int c)
{
    char *buf = malloc(size ? size : 1);

    cr_assert(buf != NULL);
    memset(buf, c, size);
    th_write_file(path, buf, size);
    free(buf);
}

void
th_set_mtime(const char *path, long long sec, long nsec)
{
    struct timespec ts[2] = { { (time_t)sec, nsec }, { (time_t)sec, nsec } };

    cr_assert(utimensat(AT_FDCWD, path, ts, AT_SYMLINK_NOFOLLOW) == 0,
              "utimensat '%s': %s", path, strerror(errno));
}

void
th_capture_begin(struct th_capture *c)
{
    c->fd = anon_tmpfile();
    fflush(stderr);
    c->saved = dup(2);
    cr_assert(c->saved >= 0);
    cr_assert(dup2(c->fd, 2) == 2);
}

char *
th_capture_end(struct th_capture *c)
{
    fflush(stderr);
    dup2(c->saved, 2);
    close(c->saved);
    return slurp_tmpfile(c->fd, "captured stderr");
}

int
th_make_unwritable(const char *path)
{
    char cmd[4200];

    if (geteuid() != 0)
        return chmod(path, 0444) == 0;
    snprintf(cmd, sizeof(cmd), "chattr +i '%s' 2>/dev/null", path);
    return system(cmd) == 0;
}

int
th_undo_unwritable(const char *path)
{
    char cmd[4200];
    int rc = 0;

    snprintf(cmd, sizeof(cmd), "chattr -i '%s' 2>/dev/null", path);
    if (geteuid() == 0 && system(cmd) != 0)
        rc = -1;
    chmod(path, 0644);
    return rc;
}

enum cli_result
th_cli_parse(struct cli_opts *o, const char *const *args)
{
    char *argv[64];
    int argc = 0;

    argv[argc++] = "imgpool";
    while (*args && argc < 63)
        argv[argc++] = (char *)*args++;
    argv[argc] = NULL;
    cli_opts_init(o);
    return cli_parse(o, argc, argv);
}

/* ------------------------------------------------------------------ */
/* Small utilities shared by the suites                               */
/* ------------------------------------------------------------------ */

/* vasprintf() that ends the test when out of memory. */
static char *vformat(const char *fmt, va_list ap)
    __attribute__((format(printf, 1, 0)));

static char *
vformat(const char *fmt, va_list ap)
{
    char *s;

    cr_assert(vasprintf(&s, fmt, ap) >= 0, "out of memory");
    return s;
}

char *
th_asprintf(const char *fmt, ...)
{
    va_list ap;
    char *s;

    va_start(ap, fmt);
    s = vformat(fmt, ap);
    va_end(ap);
    return s;
}

void
th_sh(const char *fmt, ...)
{
    va_list ap;
    char *cmd;

    va_start(ap, fmt);
    cmd = vformat(fmt, ap);
    va_end(ap);
    cr_assert_eq(system(cmd), 0, "failed: %s", cmd);
    free(cmd);
}

void
th_lstat(const char *path, struct stat *st)
{
    cr_assert(lstat(path, st) == 0, "cannot stat '%s': %s", path,
              strerror(errno));
}

double
th_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

void
th_sleep_ms(double ms)
{
    struct timespec ts;

    ts.tv_sec = (time_t)(ms / 1000);
    ts.tv_nsec = (long)((ms - (double)ts.tv_sec * 1000) * 1e6);
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

static void
flist_add(struct th_flist *l, const char *rel)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 64;
        l->rel = realloc(l->rel, l->cap * sizeof(*l->rel));
        cr_assert(l->rel != NULL, "out of memory");
    }
    l->rel[l->n++] = xstrdup(rel);
}

static void
flist_walk(struct th_flist *l, const char *root, const char *rel)
{
    char *dir = rel[0] ? join(root, rel) : xstrdup(root);
    DIR *d = opendir(dir);
    struct dirent *e;

    cr_assert(d != NULL, "cannot open '%s': %s", dir, strerror(errno));
    while ((e = readdir(d)) != NULL) {
        struct stat st;
        char *child, *full;

        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        child = rel[0] ? join(rel, e->d_name) : xstrdup(e->d_name);
        full = join(root, child);
        th_lstat(full, &st);
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

void
th_flist_of(struct th_flist *l, const char *root)
{
    memset(l, 0, sizeof(*l));
    flist_walk(l, root, "");
    if (l->n > 1)
        qsort(l->rel, l->n, sizeof(*l->rel), cmp_str);
}

void
th_flist_release(struct th_flist *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->rel[i]);
    free(l->rel);
    memset(l, 0, sizeof(*l));
}

void
th_copy_tree(const char *src, const char *dst)
{
    struct th_flist l;

    th_flist_of(&l, src);
    th_mkdirs(dst);
    for (size_t i = 0; i < l.n; i++) {
        char *s = join(src, l.rel[i]);
        char *d = th_path(dst, l.rel[i]);
        th_copy_file(s, d);
        free(s);
        free(d);
    }
    th_flist_release(&l);
}

/* Read all of @fd into a malloc'ed, NUL-terminated buffer. */
static char *
read_all_fd(int fd)
{
    size_t len = 0, cap = 4096;
    char *buf = xmalloc(cap);

    for (;;) {
        ssize_t k;
        if (cap - len < 2) {
            cap *= 2;
            buf = realloc(buf, cap);
            cr_assert(buf != NULL, "out of memory");
        }
        k = read(fd, buf + len, cap - len - 1);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            break;
        len += (size_t)k;
    }
    buf[len] = '\0';
    return buf;
}

int
th_run_tool(const char *const *argv, char **out)
{
    int p[2], st;
    pid_t pid;
    char *buf;

    cr_assert(pipe(p) == 0, "cannot set up %s", argv[0]);
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
    buf = read_all_fd(p[0]);
    close(p[0]);
    while (waitpid(pid, &st, 0) < 0)
        cr_assert(errno == EINTR, "waitpid: %s", strerror(errno));
    if (out)
        *out = buf;
    else
        free(buf);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

int
th_have_tool(const char *tool)
{
    char cmd[256];

    snprintf(cmd, sizeof(cmd), "command -v '%s' >/dev/null 2>&1", tool);
    return system(cmd) == 0;
}

json_t *
th_record(json_t *arr, const char *suffix)
{
    json_t *rec = th_find_record(arr, suffix);

    cr_assert(rec != NULL, "no record for '%s'", suffix);
    return rec;
}

const char *
th_record_class(json_t *rec)
{
    const char *status = th_json_str(rec, "status");

    if (status && strcmp(status, "failed") == 0)
        return th_json_str(json_object_get(rec, "error"), "class");
    return th_json_str(rec, "reason");
}

/* ------------------------------------------------------------------ */
/* ICC profiles (lcms2)                                               */
/* ------------------------------------------------------------------ */

struct th_icc
th_icc_save(void *h)
{
    struct th_icc p = {NULL, 0};
    cmsUInt32Number n = 0;

    cr_assert(h, "cannot make a profile");
    cr_assert(cmsSaveProfileToMem(h, NULL, &n) && n > 0);
    p.data = xmalloc(n);
    cr_assert(cmsSaveProfileToMem(h, p.data, &n));
    p.len = n;
    cmsCloseProfile(h);
    return p;
}

struct th_icc
th_icc_rgb(const double xy[6], int curve_type, const double *curve_params,
           const char *desc)
{
    cmsCIExyY white;
    cmsCIExyYTRIPLE prim = {
        {xy[0], xy[1], 1}, {xy[2], xy[3], 1}, {xy[4], xy[5], 1}};
    cmsToneCurve *c = cmsBuildParametricToneCurve(NULL, curve_type,
                                                  curve_params);
    cmsToneCurve *curves[3] = {c, c, c};
    cmsHPROFILE h;

    cr_assert(c, "no parametric curve of type %d", curve_type);
    cmsWhitePointFromTemp(&white, 6504);
    h = cmsCreateRGBProfile(&white, &prim, curves);
    cmsFreeToneCurve(c);
    if (h && desc) {
        cmsMLU *mlu = cmsMLUalloc(NULL, 1);

        cmsMLUsetASCII(mlu, "en", "US", desc);
        cmsWriteTag(h, cmsSigProfileDescriptionTag, mlu);
        cmsMLUfree(mlu);
    }
    return th_icc_save(h);
}

struct th_icc
th_icc_adobe_rgb(void)
{
    static const double xy[6] = {0.64, 0.33, 0.21, 0.71, 0.15, 0.06};
    static const double gamma = 563.0 / 256.0;

    return th_icc_rgb(xy, 1, &gamma, "Adobe RGB (1998) primaries");
}

struct th_icc
th_icc_display_p3(void)
{
    static const double xy[6] = {0.680, 0.320, 0.265, 0.690, 0.150, 0.060};
    static const double srgb[5] = {2.4, 1 / 1.055, 0.055 / 1.055, 1 / 12.92,
                                   0.04045};

    return th_icc_rgb(xy, 4, srgb, "Display P3 primaries");
}

struct th_icc
th_icc_linear_grey(void)
{
    cmsToneCurve *c = cmsBuildGamma(NULL, 1.0);
    cmsHPROFILE h = cmsCreateGrayProfile(cmsD50_xyY(), c);

    cmsFreeToneCurve(c);
    return th_icc_save(h);
}

char *
th_icc_file(const char *dir, const char *name, const struct th_icc *p)
{
    char *path = th_path(dir, name);

    th_write_file(path, p->data, p->len);
    return path;
}

/* ------------------------------------------------------------------ */
/* Runs and files checked in one call                                 */
/* ------------------------------------------------------------------ */

void
th_run_expect(const char *const *args, int want)
{
    struct th_run r;

    th_run(&r, args);
    cr_assert_eq(r.status, want, "imgpool exited %d, not %d: %s", r.status,
                 want, r.err);
    th_run_release(&r);
}

int
th_same_bytes(const char *a, const char *b)
{
    size_t la, lb;
    char *da = th_read_file(a, &la), *db = th_read_file(b, &lb);
    int same = la == lb && memcmp(da, db, la) == 0;

    free(da);
    free(db);
    return same;
}

int
th_run_status(const char *const *args)
{
    struct th_run r;
    int st;

    th_run(&r, args);
    st = r.status;
    if (st != 0)
        fprintf(stderr, "imgpool: %s\n", r.err);
    th_run_release(&r);
    return st;
}

double
th_psnr(const struct th_image *a, const struct th_image *b)
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

int
th_count_prefixed(const char *dir, const char *prefix)
{
    struct dirent *e;
    DIR *d = opendir(dir);
    int n = 0;

    cr_assert(d != NULL, "cannot open '%s': %s", dir, strerror(errno));
    while ((e = readdir(d)) != NULL)
        n += strncmp(e->d_name, prefix, strlen(prefix)) == 0;
    closedir(d);
    return n;
}
