/*
 * fdthumb.c - thumbnails into the freedesktop.org cache (see fdthumb.h).
 *
 * The freedesktop commit (commit.h, commit_fdthumb_ops).  The pipeline
 * (img.c) decodes the input once, with libvips at the largest stale
 * flavour (shrink-on-load, upright, sRGB), into memory; this commit's
 * encode() resizes those pixels to each stale flavour and writes the PNG
 * with libpng, whose text chunks carry the keys; its commit() writes the
 * file through outfile.h below the cache folder, which the run passes as
 * the output root.
 */
#include <errno.h>
#include <fcntl.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <vips/vips.h>

#include "commit.h"
#include "dirwalk.h"
#include "byteorder.h"
#include "fdthumb.h"
#include "outfile.h"
#include "resize.h"
#include "thumbcache.h"
#include "vipsmsg.h"

#ifndef IMGPOOL_VERSION
#define IMGPOOL_VERSION "0"
#endif

/* Largest thumbnail file read back to check its keys. */
#define FDTHUMB_READ_MAX (4 * 1024 * 1024)

int
fdthumb_key_init(struct fdthumb_key *k, const char *path, int64_t mtime,
                 int64_t size, struct task_result *res)
{
    char *abs = g_canonicalize_filename(path, NULL);
    GChecksum *sum;

    memset(k, 0, sizeof(*k));
    k->uri = g_filename_to_uri(abs, NULL, NULL);
    g_free(abs);
    if (!k->uri) {
        task_result_fail(res, ERR_INTERNAL, "cannot make a file URI");
        return -1;
    }
    sum = g_checksum_new(G_CHECKSUM_MD5);
    g_checksum_update(sum, (const guchar *)k->uri, (gssize)strlen(k->uri));
    snprintf(k->md5, sizeof(k->md5), "%s", g_checksum_get_string(sum));
    g_checksum_free(sum);
    k->mtime = mtime;
    k->size = size;
    return 0;
}

void
fdthumb_key_release(struct fdthumb_key *k)
{
    g_free(k->uri);
    k->uri = NULL;
}

/* Read the file @name below @dirfd (a regular file, not through a link)
 * into a new buffer.  Its length, or -1. */
static ssize_t
read_small(int dirfd, const char *name, unsigned char **bufp)
{
    int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK |
                                 O_CLOEXEC);
    struct stat st;
    unsigned char *buf = NULL;
    ssize_t got = -1;

    if (fd < 0)
        return -1;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0 &&
        st.st_size <= FDTHUMB_READ_MAX) {
        buf = malloc((size_t)st.st_size);
        if (buf)
            got = pread(fd, buf, (size_t)st.st_size, 0);
    }
    close(fd);
    if (got != (ssize_t)st.st_size) {
        free(buf);
        return -1;
    }
    *bufp = buf;
    return got;
}

/* Count the tEXt keys of the PNG in @buf that match @k's (URI, MTime,
 * Size). */
static int
count_matching_keys(const unsigned char *buf, size_t len,
                    const struct fdthumb_key *k)
{
    static const unsigned char sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n',
                                         0x1a, '\n'};
    char num[2][32];
    const char *want[3][2] = {{"Thumb::URI", k->uri},
                              {"Thumb::MTime", num[0]},
                              {"Thumb::Size", num[1]}};
    size_t off = 8;
    int found = 0;

    snprintf(num[0], sizeof(num[0]), "%lld", (long long)k->mtime);
    snprintf(num[1], sizeof(num[1]), "%lld", (long long)k->size);
    if (len < 8 || memcmp(buf, sig, 8) != 0)
        return 0;
    while (len - off >= 12) {
        uint32_t n = bo_get32(buf + off, 0);
        const unsigned char *data = buf + off + 8;

        if (n > len - off - 12)
            break;
        if (memcmp(buf + off + 4, "tEXt", 4) == 0) {
            const unsigned char *nul = memchr(data, 0, n);
            for (int i = 0; nul && i < 3; i++) {
                size_t klen = (size_t)(nul - data), vlen = n - klen - 1;
                if (klen == strlen(want[i][0]) &&
                    memcmp(data, want[i][0], klen) == 0 &&
                    vlen == strlen(want[i][1]) &&
                    memcmp(nul + 1, want[i][1], vlen) == 0)
                    found++;
            }
        }
        if (memcmp(buf + off + 4, "IEND", 4) == 0)
            break;
        off += 12 + (size_t)n;
    }
    return found;
}

int
fdthumb_is_current(int dirfd, const char *name, const struct fdthumb_key *k)
{
    unsigned char *buf;
    ssize_t len = read_small(dirfd, name, &buf);
    int found;

    if (len < 0)
        return 0;
    found = count_matching_keys(buf, (size_t)len, k);
    free(buf);
    return found == 3;
}

/* A growing memory buffer for libpng's output. */
struct membuf {
    unsigned char *data;
    size_t len, cap;
    int failed;
};

static void
membuf_write(png_structp png, png_bytep data, png_size_t n)
{
    struct membuf *m = png_get_io_ptr(png);

    if (m->failed)
        return;
    if (m->len + n > m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 16384;
        unsigned char *p;
        while (cap < m->len + n)
            cap *= 2;
        p = realloc(m->data, cap);
        if (!p) {
            m->failed = 1;
            return;
        }
        m->data = p;
        m->cap = cap;
    }
    memcpy(m->data + m->len, data, n);
    m->len += n;
}

static void
membuf_flush(png_structp png)
{
    (void)png;
}

/* The picture a thumbnail shows: 8-bit RGB rows, or none (a failure
 * marker, written as one transparent pixel). */
struct fdpic {
    const unsigned char *rgb;
    int width, height;
    int src_width, src_height;
    const char *mime;
};

/* Set the keys of @k on @png; @num holds the number strings. */
static void
set_keys(png_structp png, png_infop info, const struct fdthumb_key *k,
         const struct fdpic *p, char num[4][32])
{
    png_text text[7];
    const char *kv[7][2] = {
        {"Thumb::URI", k->uri},
        {"Thumb::MTime", num[0]},
        {"Thumb::Size", num[1]},
        {"Thumb::Mimetype", p->mime},
        {"Thumb::Image::Width", num[2]},
        {"Thumb::Image::Height", num[3]},
        {"Software", "imgpool " IMGPOOL_VERSION},
    };
    int n = 0;

    snprintf(num[0], 32, "%lld", (long long)k->mtime);
    snprintf(num[1], 32, "%lld", (long long)k->size);
    snprintf(num[2], 32, "%d", p->src_width);
    snprintf(num[3], 32, "%d", p->src_height);
    memset(text, 0, sizeof(text));
    for (int i = 0; i < 7; i++) {
        if (!kv[i][1] || (i >= 4 && i <= 5 && !p->rgb))
            continue;
        text[n].compression = PNG_TEXT_COMPRESSION_NONE;
        text[n].key = (png_charp)kv[i][0];
        text[n].text = (png_charp)kv[i][1];
        n++;
    }
    png_set_text(png, info, text, n);
}

/* Encode @p with @k's keys into @m.  0, or -1. */
static int
encode_png(const struct fdthumb_key *k, const struct fdpic *p,
           struct membuf *m)
{
    static const unsigned char clear[4] = {0, 0, 0, 0};
    png_structp png;
    png_infop info;
    char num[4][32];
    int w = p->rgb ? p->width : 1, h = p->rgb ? p->height : 1;

    png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    info = png ? png_create_info_struct(png) : NULL;
    if (!info) {
        png_destroy_write_struct(&png, NULL);
        return -1;
    }
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        return -1;
    }
    png_set_write_fn(png, m, membuf_write, membuf_flush);
    png_set_compression_level(png, 6);
    png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, 8,
                 p->rgb ? PNG_COLOR_TYPE_RGB : PNG_COLOR_TYPE_RGBA,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
                 PNG_FILTER_TYPE_DEFAULT);
    set_keys(png, info, k, p, num);
    png_write_info(png, info);
    for (int y = 0; y < h; y++)
        png_write_row(png, p->rgb ? (png_const_bytep)p->rgb + (size_t)y * 3 * w
                                  : clear);
    png_write_end(png, info);
    png_destroy_write_struct(&png, &info);
    return m->failed ? -1 : 0;
}

/* Encode @p with @k's keys into a new buffer: *@buf (malloc'ed), *@len.
 * 0, or -1 with @res failed. */
static int
encode_marked(const struct fdthumb_key *k, const struct fdpic *p,
              void **buf, size_t *len, struct task_result *res)
{
    struct membuf m = {0};

    if (encode_png(k, p, &m) < 0) {
        free(m.data);
        task_result_fail(res, ERR_OUT_OF_MEMORY, "cannot encode thumbnail");
        return -1;
    }
    *buf = m.data;
    *len = m.len;
    return 0;
}

/* Write the PNG @buf as @rel below the cache root: folders 0700, file
 * 0600, atomically.  0, or -1 with @res failed. */
static int
commit_png(const struct commit_settings *c, const char *rel,
           const void *buf, size_t len, struct task_result *res)
{
    struct outfile of;

    if (outfile_open(&of, c->output_dir, rel, c->fsync, res) < 0)
        return -1;
    if (fchmod(of.fd, 0600) < 0 || outfile_write(&of, buf, len, res) < 0) {
        outfile_abort(&of);
        return -1;
    }
    return outfile_commit(&of, res);
}

static const char *
mime_of(enum img_format f)
{
    switch (f) {
    case IMGF_JPEG: return "image/jpeg";
    case IMGF_PNG: return "image/png";
    case IMGF_GIF: return "image/gif";
    case IMGF_WEBP: return "image/webp";
    case IMGF_TIFF: return "image/tiff";
    case IMGF_HEIF: return "image/heif";
    case IMGF_BMP: return "image/bmp";
    case IMGF_JP2: return "image/jp2";
    case IMGF_PSD: return "image/vnd.adobe.photoshop";
    case IMGF_PNM: return "image/x-portable-anymap";
    case IMGF_JXL: return "image/jxl";
    default: return NULL;
    }
}

/* Open the cache folder and the folders of the flavours in @mask (and of
 * the failure markers), creating them with mode 0700.  The folder's
 * descriptor, or -1 with @res failed. */
static int
open_cache(const struct commit_settings *c, unsigned mask,
           struct task_result *res)
{
    const char *root = c->output_dir;
    int fd = dirwalk_open(AT_FDCWD, root, strlen(root),
                          DIRWALK_CREATE | DIRWALK_FOLLOW, 0700);

    if (fd < 0) {
        task_result_fail(res, ERR_OUTPUT_PATH, "cannot open thumbnail "
                         "cache %s: %s", root, strerror(errno));
        return -1;
    }
    for (int f = 0; f < THUMBCACHE__COUNT; f++) {
        const char *name = thumbcache_flavor_name(f);
        if ((mask & (1u << f)) && mkdirat(fd, name, 0700) < 0 &&
            errno != EEXIST) {
            task_result_fail(res, ERR_OUTPUT_PATH, "cannot create %s/%s: "
                             "%s", root, name, strerror(errno));
            close(fd);
            return -1;
        }
    }
    return fd;
}

/* The flavours of @mask whose thumbnail of @k is not current. */
static unsigned
stale_flavors(int cachefd, unsigned mask, const struct fdthumb_key *k)
{
    unsigned stale = 0;
    char rel[64];

    for (int f = 0; f < THUMBCACHE__COUNT; f++) {
        if (!(mask & (1u << f)))
            continue;
        snprintf(rel, sizeof(rel), "%s/%s.png", thumbcache_flavor_name(f),
                 k->md5);
        if (!fdthumb_is_current(cachefd, rel, k))
            stale |= 1u << f;
    }
    return stale;
}

/* Record the failure of @k's input under fail/imgpool-<version>/, keeping
 * @res's class and message. */
static void
mark_failed(const struct commit_settings *c, int cachefd,
            const struct fdthumb_key *k, const struct fdpic *p,
            struct task_result *res)
{
    struct task_result keep = *res;
    char rel[128];
    size_t len;
    void *buf;

    if (mkdirat(cachefd, "fail", 0700) < 0 && errno != EEXIST)
        return;
    if (mkdirat(cachefd, "fail/imgpool-" IMGPOOL_VERSION, 0700) < 0 &&
        errno != EEXIST)
        return;
    snprintf(rel, sizeof(rel), "fail/imgpool-" IMGPOOL_VERSION "/%s.png",
             k->md5);
    if (encode_marked(k, p, &buf, &len, res) == 0) {
        commit_png(c, rel, buf, len, res);
        free(buf);
    }
    *res = keep;
}

/* --dry-run: what the run would do with @k's thumbnails, the same check
 * of the cache, which is opened but never created. */
static void
dry_run(const struct commit_settings *c, const struct fdthumb_key *k,
        struct task_result *res)
{
    int cachefd = open(c->output_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    unsigned stale = c->fd_flavors;

    if (cachefd >= 0) {
        stale = stale_flavors(cachefd, c->fd_flavors, k);
        close(cachefd);
    }
    if (!stale)
        task_result_skip(res, ERR_UP_TO_DATE, "thumbnails up to date");
    else
        task_result_skip(res, ERR_DRY_RUN, "would write thumbnails");
}

/* What the freedesktop commit holds for one task. */
struct fdstate {
    struct fdthumb_key key;
    struct fdpic pic;
    int cachefd;
    int ran;                    /* the pipeline ran: a failure is marked */
    int nflavors;
    int flavor[THUMBCACHE__COUNT];  /* output k's flavour, largest first */
    int width[THUMBCACHE__COUNT];   /* output k's size, once encoded */
    int height[THUMBCACHE__COUNT];
};

/* The keys, the dry run and the up-to-date check; the box of the
 * largest stale flavour for the pipeline.  1 when decided, else 0. */
static int
fd_begin(struct commit *cm, struct task_result *res)
{
    const struct commit_settings *c = &cm->cfg->commit;
    struct fdstate *st = calloc(1, sizeof(*st));
    struct geom_box *box = &cm->plan.box;
    struct stat sb;
    unsigned stale;

    res->status = TASK_FAILED;
    if (!st) {
        task_result_fail(res, ERR_OUT_OF_MEMORY, "cannot allocate commit");
        return 1;
    }
    cm->state = st;
    st->cachefd = -1;
    st->pic.mime = mime_of(cm->in->fmt);
    if (fstat(cm->in->fd, &sb) < 0) {
        task_result_fail(res, ERR_READ, "cannot stat: %s", strerror(errno));
        return 1;
    }
    if (fdthumb_key_init(&st->key, cm->t->path, (int64_t)sb.st_mtime,
                         (int64_t)sb.st_size, res) < 0)
        return 1;
    if (c->dry_run) {
        dry_run(c, &st->key, res);
        return 1;
    }
    st->cachefd = open_cache(c, c->fd_flavors, res);
    if (st->cachefd < 0)
        return 1;
    stale = stale_flavors(st->cachefd, c->fd_flavors, &st->key);
    if (!stale) {
        task_result_skip(res, ERR_UP_TO_DATE, "thumbnails up to date");
        return 1;
    }
    for (int f = THUMBCACHE__COUNT - 1; f >= 0; f--)
        if (stale & (1u << f))
            st->flavor[st->nflavors++] = f;
    box->width = box->height = thumbcache_flavor_size(st->flavor[0]);
    box->fit = FIT_INSIDE;
    box->upscale = 0;
    cm->plan.decoder = DECODER_VIPS;
    cm->plan.base_in_memory = 1;
    cm->plan.noutputs = st->nflavors;
    st->ran = 1;
    return 0;
}

/* Output @k: @base (decoded, 8-bit sRGB, in memory) resized to fit its
 * flavour's box, as a PNG with the keys.  0, or -1 with @res failed. */
static int
fd_encode(struct commit *cm, int k, VipsImage *base, struct encode_out *out,
          struct task_result *res)
{
    struct fdstate *st = cm->state;
    int size = thumbcache_flavor_size(st->flavor[k]);
    VipsImage *img = NULL;
    size_t len;
    void *rgb;
    int rc;

    /* Decoded: a read that failed on the way gets the failure marker, not
     * a thumbnail of what the loader made of it (input.h). */
    if (k == 0 && input_read_check(res) < 0)
        return -1;
    if (resize_vips_down(base, size, &img) < 0) {
        vipsmsg_fail(res, ERR_DECODE, "cannot resize");
        return -1;
    }
    rgb = vips_image_write_to_memory(img, &len);
    st->width[k] = st->pic.width = img->Xsize;
    st->height[k] = st->pic.height = img->Ysize;
    g_object_unref(img);
    if (!rgb) {
        vipsmsg_fail(res, ERR_OUT_OF_MEMORY, "cannot resize");
        return -1;
    }
    st->pic.rgb = rgb;
    st->pic.src_width = res->in_width;
    st->pic.src_height = res->in_height;
    rc = encode_marked(&st->key, &st->pic, &out->buf, &out->len, res);
    out->buf_glib = 0;
    g_free(rgb);
    st->pic.rgb = NULL;
    return rc;
}

static int
fd_commit(struct commit *cm, int k, struct encode_out *out, int w, int h,
          struct task_result *res)
{
    const struct commit_settings *c = &cm->cfg->commit;
    struct fdstate *st = cm->state;
    char rel[64];

    (void)w;
    (void)h;
    snprintf(rel, sizeof(rel), "%s/%s.png",
             thumbcache_flavor_name(st->flavor[k]), st->key.md5);
    if (commit_png(c, rel, out->buf, out->len, res) < 0)
        return -1;
    res->out_bytes = (res->out_bytes < 0 ? 0 : res->out_bytes) +
                     (int64_t)out->len;
    if (st->flavor[k] == thumbcache_largest(c->fd_flavors)) {
        res->out_width = st->width[k];
        res->out_height = st->height[k];
    }
    return 0;
}

static void
fd_abort(struct commit *cm, int k, struct encode_out *out)
{
    (void)cm;
    (void)k;
    (void)out;                  /* memory only: the caller releases it */
}

/* A pipeline that failed leaves the failure marker. */
static void
fd_end(struct commit *cm, int rc, struct task_result *res)
{
    struct fdstate *st = cm->state;

    if (!st)
        return;
    if (st->ran && rc < 0) {
        input_read_check(res);  /* a decode failed by a read error */
        mark_failed(&cm->cfg->commit, st->cachefd, &st->key, &st->pic, res);
    }
    if (st->cachefd >= 0)
        close(st->cachefd);
    fdthumb_key_release(&st->key);
    free(st);
    cm->state = NULL;
}

const struct commit_ops commit_fdthumb_ops = {
    .begin = fd_begin,
    .open = commit_open_in_memory,  /* the PNG is written by the commit */
    .encode = fd_encode,
    .commit = fd_commit,
    .abort = fd_abort,
    .end = fd_end,
};
