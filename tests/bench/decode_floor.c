/*
 * decode_floor.c - the least work any thumbnailer must do: decode.
 *
 *   decode_floor [-j N] [-s WxH] FILE...
 *
 * Forks N worker processes that share the file list through a counter in
 * shared memory (each takes the next file when it is free, so one large file
 * does not leave a core idle) and only decode:
 *
 *   JPEG  TurboJPEG, at the smallest DCT scaling factor whose result still
 *         covers the thumbnail that fits inside the WxH box (a 640x480 input
 *         and a 300x300 box need 300x225, so 1/2 = 320x240 is used)
 *   PNG   libpng, the whole image (palette and low bit depths expanded, as
 *         any consumer needs; 16-bit kept)
 *
 * Nothing is resized or encoded, so a real tool cannot beat this on the same
 * files and process count.  Other formats are counted as skipped.  Prints one
 * line "decoded D skipped S failed F" to stderr; exits 1 if any file failed.
 *
 * Build: cc -O2 -o decode_floor decode_floor.c -lturbojpeg -lpng
 */
#include <errno.h>
#include <fcntl.h>
#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <turbojpeg.h>
#include <unistd.h>

struct shared {
    long next;    /* index of the next file to take */
    long decoded;
    long skipped;
    long failed;
};

struct buf {
    unsigned char *data;
    size_t len, cap;
};

static int box_w = 300, box_h = 300;

static void
usage(void)
{
    fprintf(stderr, "usage: decode_floor [-j N] [-s WxH] FILE...\n");
    exit(2);
}

/* Read all of @path into @b, growing it as needed.  0 or -1. */
static int
buf_read_file(struct buf *b, const char *path)
{
    int fd = open(path, O_RDONLY);
    struct stat st;

    if (fd < 0)
        return -1;
    if (fstat(fd, &st) < 0 || st.st_size <= 0) {
        close(fd);
        return -1;
    }
    if ((size_t)st.st_size > b->cap) {
        free(b->data);
        b->cap = (size_t)st.st_size;
        b->data = malloc(b->cap);
        if (!b->data) {
            b->cap = 0;
            close(fd);
            return -1;
        }
    }
    b->len = 0;
    while (b->len < (size_t)st.st_size) {
        ssize_t n = read(fd, b->data + b->len, (size_t)st.st_size - b->len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            close(fd);
            return -1;
        }
        b->len += (size_t)n;
    }
    close(fd);
    return 0;
}

/* Size of the thumbnail of a @w x @h image inside the box, never upscaled. */
static void
fit_inside(int w, int h, int *tw, int *th)
{
    double s;

    if (w <= box_w && h <= box_h) {
        *tw = w;
        *th = h;
        return;
    }
    s = (double)box_w / w;
    if ((double)box_h / h < s)
        s = (double)box_h / h;
    *tw = (int)(w * s + 0.5);
    *th = (int)(h * s + 0.5);
    if (*tw < 1)
        *tw = 1;
    if (*th < 1)
        *th = 1;
}

static int
decode_jpeg(tjhandle tj, const struct buf *in, struct buf *pix)
{
    int w, h, subsamp, cs, tw, th, nsf, i, pf;
    int sw, sh;
    tjscalingfactor *sf, best = { 1, 1 };
    size_t need;

    if (tjDecompressHeader3(tj, in->data, in->len, &w, &h, &subsamp, &cs) < 0)
        return -1;
    fit_inside(w, h, &tw, &th);
    sf = tjGetScalingFactors(&nsf);
    if (!sf)
        return -1;
    for (i = 0; i < nsf; i++) {
        /* Only reductions; keep the smallest one that still covers tw x th. */
        if (sf[i].num > sf[i].denom)
            continue;
        if (TJSCALED(w, sf[i]) < tw || TJSCALED(h, sf[i]) < th)
            continue;
        if ((double)sf[i].num / sf[i].denom < (double)best.num / best.denom)
            best = sf[i];
    }
    sw = TJSCALED(w, best);
    sh = TJSCALED(h, best);
    pf = (cs == TJCS_CMYK || cs == TJCS_YCCK) ? TJPF_CMYK : TJPF_RGB;
    need = (size_t)sw * sh * tjPixelSize[pf];
    if (need > pix->cap) {
        free(pix->data);
        pix->data = malloc(need);
        pix->cap = pix->data ? need : 0;
        if (!pix->data)
            return -1;
    }
    return tjDecompress2(tj, in->data, in->len, pix->data, sw, 0, sh, pf, 0);
}

struct png_src {
    const struct buf *in;
    size_t pos;
};

static void
png_read_mem(png_structp png, png_bytep out, png_size_t n)
{
    struct png_src *src = png_get_io_ptr(png);

    if (n > src->in->len - src->pos)
        png_error(png, "truncated");
    memcpy(out, src->in->data + src->pos, n);
    src->pos += n;
}

/* Warnings such as "iCCP: known incorrect sRGB profile" are not failures. */
static void
png_quiet(png_structp png, png_const_charp msg)
{
    (void)png;
    (void)msg;
}

static int
decode_png(const struct buf *in, struct buf *pix)
{
    png_structp png;
    png_infop info;
    png_bytep *volatile rows = NULL;
    struct png_src src = { in, 0 };
    png_uint_32 h, y;
    size_t stride, need;
    volatile int ret = -1;

    png = png_create_read_struct(PNG_LIBPNG_VER_STRING, NULL, NULL,
                                 png_quiet);
    if (!png)
        return -1;
    info = png_create_info_struct(png);
    if (!info) {
        png_destroy_read_struct(&png, NULL, NULL);
        return -1;
    }
    if (setjmp(png_jmpbuf(png)))
        goto out;
    png_set_read_fn(png, &src, png_read_mem);
    png_read_info(png, info);
    png_set_expand(png);
    png_set_interlace_handling(png);
    png_read_update_info(png, info);
    h = png_get_image_height(png, info);
    stride = png_get_rowbytes(png, info);
    need = stride * h;
    if (need > pix->cap) {
        free(pix->data);
        pix->data = malloc(need);
        pix->cap = pix->data ? need : 0;
        if (!pix->data)
            goto out;
    }
    rows = malloc(h * sizeof(*rows));
    if (!rows)
        goto out;
    for (y = 0; y < h; y++)
        rows[y] = pix->data + y * stride;
    png_read_image(png, rows);
    png_read_end(png, NULL);
    ret = 0;
out:
    free(rows);
    png_destroy_read_struct(&png, &info, NULL);
    return ret;
}

static void
worker(struct shared *sh, char **files, long nfiles)
{
    tjhandle tj = tjInitDecompress();
    struct buf in = { 0 }, pix = { 0 };
    long i;
    int r;

    if (!tj)
        _exit(2);
    while ((i = __atomic_fetch_add(&sh->next, 1, __ATOMIC_RELAXED)) < nfiles) {
        if (buf_read_file(&in, files[i]) < 0) {
            r = -1;
        } else if (in.len >= 3 && in.data[0] == 0xff && in.data[1] == 0xd8) {
            r = decode_jpeg(tj, &in, &pix);
        } else if (in.len >= 8 && !png_sig_cmp(in.data, 0, 8)) {
            r = decode_png(&in, &pix);
        } else {
            __atomic_fetch_add(&sh->skipped, 1, __ATOMIC_RELAXED);
            continue;
        }
        if (r < 0) {
            fprintf(stderr, "decode_floor: cannot decode '%s'\n", files[i]);
            __atomic_fetch_add(&sh->failed, 1, __ATOMIC_RELAXED);
        } else {
            __atomic_fetch_add(&sh->decoded, 1, __ATOMIC_RELAXED);
        }
    }
    tjDestroy(tj);
    _exit(0);
}

int
main(int argc, char **argv)
{
    struct shared *sh;
    int opt, jobs = 2, i, status, bad = 0;

    while ((opt = getopt(argc, argv, "j:s:")) != -1) {
        switch (opt) {
        case 'j':
            jobs = atoi(optarg);
            break;
        case 's':
            if (sscanf(optarg, "%dx%d", &box_w, &box_h) != 2)
                usage();
            break;
        default:
            usage();
        }
    }
    argc -= optind;
    argv += optind;
    if (jobs < 1 || box_w < 1 || box_h < 1 || argc < 1)
        usage();

    sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
              MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (sh == MAP_FAILED) {
        perror("decode_floor: mmap");
        return 2;
    }
    memset(sh, 0, sizeof(*sh));
    fflush(NULL);
    for (i = 0; i < jobs; i++) {
        pid_t pid = fork();

        if (pid < 0) {
            perror("decode_floor: fork");
            return 2;
        }
        if (pid == 0)
            worker(sh, argv, argc);
    }
    while (wait(&status) > 0)
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
            bad = 1;
    fprintf(stderr, "decoded %ld skipped %ld failed %ld\n", sh->decoded,
            sh->skipped, sh->failed);
    return (bad || sh->failed) ? 1 : 0;
}
