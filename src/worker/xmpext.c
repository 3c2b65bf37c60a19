/*
 * xmpext.c - extended XMP in JPEG outputs (see xmpext.h).
 *
 * A large packet is split the simplest way the specification allows: the
 * standard packet holds only xmpNote:HasExtendedXMP with the GUID (the
 * MD5 of the extended part, upper-case hex); the extended part is the
 * whole original x:xmpmeta element, in chunks of XMPEXT_CHUNK bytes, each
 * segment saying the GUID, the full length and its offset.  Readers
 * (exiftool, Adobe's XMP toolkit) join them.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <vips/vips.h>

#include "util.h"
#include "xmpext.h"

#define XMPEXT_STD_MAX 65502
#define XMPEXT_CHUNK 65400
#define XMPEXT_MAX_SEGMENTS 4096    /* markers walked in a source */
#define XMPEXT_MAX_TOTAL (64 << 20)

static const char std_ns[] = "http://ns.adobe.com/xap/1.0/";
static const char ext_ns[] = "http://ns.adobe.com/xmp/extension/";

/* The x:xmpmeta element of @xmp (the packet without its wrapper). */
static const char *
xmp_body(const char *xmp, size_t len, size_t *blen)
{
    const char *b = g_strstr_len(xmp, (gssize)len, "<x:xmpmeta");
    const char *e = b ? g_strstr_len(b, (gssize)(len - (size_t)(b - xmp)),
                                     "</x:xmpmeta>") : NULL;

    if (!b || !e) {
        *blen = len;
        return xmp;
    }
    *blen = (size_t)(e - b) + strlen("</x:xmpmeta>");
    return b;
}

/* Append an APP1 segment (@ns, NUL, @a, @b) to the GString @g. */
static void
put_app1(GString *g, const char *ns, const void *a, size_t alen,
         const void *b, size_t blen)
{
    size_t seglen = 2 + strlen(ns) + 1 + alen + blen;
    unsigned char h[4] = {0xFF, 0xE1, (unsigned char)(seglen >> 8),
                          (unsigned char)(seglen & 0xff)};

    g_string_append_len(g, (const char *)h, 4);
    g_string_append_len(g, ns, (gssize)strlen(ns) + 1);
    g_string_append_len(g, a, (gssize)alen);
    g_string_append_len(g, b, (gssize)blen);
}

/* The standard and extension segments for the packet @xmp. */
static GString *
split(const char *xmp, size_t len)
{
    size_t blen, off;
    const char *body = xmp_body(xmp, len, &blen);
    gchar *guid = g_compute_checksum_for_data(G_CHECKSUM_MD5,
                                              (const guchar *)body, blen);
    GString *g = g_string_new(NULL);
    gchar *std;

    for (char *c = guid; *c; c++)
        *c = g_ascii_toupper(*c);
    std = g_strdup_printf(
        "<?xpacket begin=\"\xEF\xBB\xBF\" id=\"W5M0MpCehiHzreSzNTczkc9d\"?>"
        "<x:xmpmeta xmlns:x=\"adobe:ns:meta/\"><rdf:RDF xmlns:rdf="
        "\"http://www.w3.org/1999/02/22-rdf-syntax-ns#\"><rdf:Description "
        "rdf:about=\"\" xmlns:xmpNote=\"http://ns.adobe.com/xmp/note/\" "
        "xmpNote:HasExtendedXMP=\"%s\"/></rdf:RDF></x:xmpmeta>"
        "<?xpacket end=\"w\"?>", guid);
    put_app1(g, std_ns, std, strlen(std), NULL, 0);
    for (off = 0; off < blen; off += XMPEXT_CHUNK) {
        size_t n = MIN(XMPEXT_CHUNK, blen - off);
        unsigned char hdr[40];
        memcpy(hdr, guid, 32);
        for (int i = 0; i < 4; i++) {
            hdr[32 + i] = (unsigned char)(blen >> (24 - 8 * i));
            hdr[36 + i] = (unsigned char)(off >> (24 - 8 * i));
        }
        put_app1(g, ext_ns, hdr, 40, body + off, n);
    }
    g_free(std);
    g_free(guid);
    return g;
}

void
xmpext_from_image(const struct encode_params *p, VipsImage *img,
                  struct xmpext *x)
{
    const void *xmp;
    size_t n;
    GString *g;

    x->segs = NULL;
    x->len = 0;
    if (p->strip || p->format != FORMAT_JPEG ||
        !vips_image_get_typeof(img, VIPS_META_XMP_NAME) ||
        vips_image_get_blob(img, VIPS_META_XMP_NAME, &xmp, &n) ||
        n <= XMPEXT_STD_MAX)
        return;
    g = split(xmp, n);
    vips_image_remove(img, VIPS_META_XMP_NAME);
    x->len = g->len;
    x->segs = (unsigned char *)g_string_free(g, FALSE);
}

void
xmpext_from_jpeg(const struct encode_params *p, const struct input *in,
                 struct xmpext *x)
{
    GString *g = NULL;
    off_t off = 2;
    unsigned char h[4 + sizeof(ext_ns)];

    x->segs = NULL;
    x->len = 0;
    if (p->strip || p->format != FORMAT_JPEG || in->fmt != IMGF_JPEG)
        return;
    for (int i = 0; i < XMPEXT_MAX_SEGMENTS; i++) {
        size_t seglen;
        int marker, r = input_jpeg_segment(in->fd, &off, &marker, &seglen);

        if (r < 0)
            break;
        if (r == 0)
            continue;
        if (marker == 0xE1 && seglen >= 2 + sizeof(ext_ns) &&
            input_pread_full(in->fd, h, sizeof(h), off) == 0 &&
            memcmp(h + 4, ext_ns, sizeof(ext_ns)) == 0) {
            unsigned char *seg = malloc(2 + seglen);
            if (!g)
                g = g_string_new(NULL);
            if (seg && input_pread_full(in->fd, seg, 2 + seglen, off) == 0 &&
                g->len + 2 + seglen <= XMPEXT_MAX_TOTAL)
                g_string_append_len(g, (const char *)seg,
                                    (gssize)(2 + seglen));
            free(seg);
        }
        off += 2 + (off_t)seglen;
    }
    if (g) {
        x->len = g->len;
        x->segs = (unsigned char *)g_string_free(g, FALSE);
    }
}

/* Where the segments go in the JPEG @b: after SOI and any APP0/APP1
 * segments.  0 when @b is not a JPEG. */
static size_t
insert_point(const unsigned char *b, size_t n)
{
    size_t off = 2;

    if (n < 4 || b[0] != 0xFF || b[1] != 0xD8)
        return 0;
    while (off + 4 <= n && b[off] == 0xFF &&
           (b[off + 1] == 0xE0 || b[off + 1] == 0xE1))
        off += 2 + ((size_t)b[off + 2] << 8 | b[off + 3]);
    return off <= n ? off : 0;
}

int
xmpext_insert_mem(const struct xmpext *x, unsigned char **buf, size_t *len,
                  struct task_result *res)
{
    size_t at;
    unsigned char *out;

    if (!x->len)
        return 0;
    at = insert_point(*buf, *len);
    out = at ? malloc(*len + x->len) : NULL;
    if (!out) {
        task_result_fail(res, at ? ERR_OUT_OF_MEMORY : ERR_INTERNAL,
                         "cannot add the extended XMP");
        return -1;
    }
    memcpy(out, *buf, at);
    memcpy(out + at, x->segs, x->len);
    memcpy(out + at + x->len, *buf + at, *len - at);
    free(*buf);
    *buf = out;
    *len += x->len;
    return 0;
}

int
xmpext_insert_file(const struct xmpext *x, int dirfd, const char *name,
                   struct task_result *res)
{
    int fd;
    struct stat st;
    unsigned char *file = NULL;
    size_t at, rest;
    int rc = -1;

    if (!x->len)
        return 0;
    fd = openat(dirfd, name, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &st) < 0 || st.st_size <= 0 ||
        !(file = malloc((size_t)st.st_size)) ||
        util_pread_full(fd, file, (size_t)st.st_size, 0) < 0 ||
        !(at = insert_point(file, (size_t)st.st_size))) {
        task_result_fail(res, ERR_WRITE, "cannot add the extended XMP");
    } else {
        rest = (size_t)st.st_size - at;
        if (pwrite(fd, x->segs, x->len, (off_t)at) == (ssize_t)x->len &&
            pwrite(fd, file + at, rest, (off_t)(at + x->len)) ==
                (ssize_t)rest)
            rc = 0;
        else
            task_result_fail(res, errno == ENOSPC ? ERR_NO_SPACE : ERR_WRITE,
                             "cannot add the extended XMP: %s",
                             strerror(errno));
    }
    free(file);
    if (fd >= 0)
        close(fd);
    return rc;
}

void
xmpext_release(struct xmpext *x)
{
    g_free(x->segs);
    x->segs = NULL;
    x->len = 0;
}
