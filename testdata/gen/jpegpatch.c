/*
 * jpegpatch.c - byte-level JPEG edits for scripts/gen-testdata.
 *
 * The generator draws every picture with the vips command line.  Two files
 * need bytes that vips cannot be asked for from there: an EXIF block that
 * holds nothing but a chosen Orientation tag, and a JPEG header followed by
 * noise.  This program does just those two things, with no library beyond
 * libc, so the generator stays runnable on a bare Debian system.
 *
 *   jpegpatch orient IN OUT N       copy IN to OUT with an APP1 EXIF block
 *                                   (IFD0: Orientation = N) after SOI
 *   jpegpatch garbage OUT LEN SEED  SOI + JFIF APP0, then LEN noise bytes
 *                                   from a seeded xorshift32 generator
 *
 * IN must not already carry EXIF (the generator saves with --strip).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void
die(const char *what, const char *subject)
{
    fprintf(stderr, "jpegpatch: %s '%s'\n", what, subject);
    exit(1);
}

static unsigned char *
read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    unsigned char *buf = NULL;
    size_t cap = 0, n = 0;

    if (f == NULL)
        die("cannot open", path);
    for (;;) {
        if (n == cap) {
            cap = cap ? cap * 2 : 65536;
            buf = realloc(buf, cap);
            if (buf == NULL)
                die("out of memory reading", path);
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        if (got == 0)
            break;
        n += got;
    }
    if (ferror(f))
        die("cannot read", path);
    fclose(f);
    *len = n;
    return buf;
}

static void
write_all(FILE *f, const char *path, const void *data, size_t len)
{
    if (fwrite(data, 1, len, f) != len)
        die("cannot write", path);
}

static void
close_out(FILE *f, const char *path)
{
    if (fclose(f) != 0)
        die("cannot write", path);
}

/*
 * The smallest EXIF block that readers accept: "Exif\0\0", a little-endian
 * TIFF header and IFD0 with the single entry 0x0112 Orientation (SHORT, 1).
 */
static int
cmd_orient(const char *in, const char *out, const char *nstr)
{
    long n = strtol(nstr, NULL, 10);
    size_t len;
    unsigned char *src;
    FILE *f;

    if (n < 1 || n > 8)
        die("orientation must be 1..8, not", nstr);
    src = read_all(in, &len);
    if (len < 4 || src[0] != 0xFF || src[1] != 0xD8)
        die("not a JPEG file", in);
    if (src[2] == 0xFF && src[3] == 0xE1)
        die("already has an APP1 segment", in);

    static const unsigned char tmpl[] = {
        0xFF, 0xE1, 0x00, 0x22,                  /* APP1, length 34 */
        'E', 'x', 'i', 'f', 0x00, 0x00,
        'I', 'I', 0x2A, 0x00, 0x08, 0x00, 0x00, 0x00, /* TIFF, IFD0 at 8 */
        0x01, 0x00,                              /* one entry */
        0x12, 0x01, 0x03, 0x00,                  /* Orientation, SHORT */
        0x01, 0x00, 0x00, 0x00,                  /* count 1 */
        0x00, 0x00, 0x00, 0x00,                  /* value, patched below */
        0x00, 0x00, 0x00, 0x00,                  /* no IFD1 */
    };
    unsigned char app1[sizeof(tmpl)];
    memcpy(app1, tmpl, sizeof(tmpl));
    app1[28] = (unsigned char)n;

    f = fopen(out, "wb");
    if (f == NULL)
        die("cannot create", out);
    write_all(f, out, src, 2);
    write_all(f, out, app1, sizeof(app1));
    write_all(f, out, src + 2, len - 2);
    close_out(f, out);
    free(src);
    return 0;
}

static int
cmd_garbage(const char *out, const char *lenstr, const char *seedstr)
{
    static const unsigned char head[] = {
        0xFF, 0xD8,                              /* SOI */
        0xFF, 0xE0, 0x00, 0x10,                  /* APP0, length 16 */
        'J', 'F', 'I', 'F', 0x00, 0x01, 0x01,    /* JFIF 1.01 */
        0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00 /* 1:1 aspect, no thumb */
    };
    long len = strtol(lenstr, NULL, 10);
    uint32_t x = (uint32_t)strtoul(seedstr, NULL, 10);
    FILE *f;

    if (len < 0 || len > 1L << 20)
        die("bad length", lenstr);
    if (x == 0)
        x = 1;  /* xorshift never leaves 0 */
    f = fopen(out, "wb");
    if (f == NULL)
        die("cannot create", out);
    write_all(f, out, head, sizeof(head));
    for (long i = 0; i < len; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        unsigned char b = (unsigned char)(x >> 24);
        write_all(f, out, &b, 1);
    }
    close_out(f, out);
    return 0;
}

int
main(int argc, char **argv)
{
    if (argc == 5 && strcmp(argv[1], "orient") == 0)
        return cmd_orient(argv[2], argv[3], argv[4]);
    if (argc == 5 && strcmp(argv[1], "garbage") == 0)
        return cmd_garbage(argv[2], argv[3], argv[4]);
    fprintf(stderr, "usage: jpegpatch orient IN OUT N\n"
                    "       jpegpatch garbage OUT LEN SEED\n");
    return 2;
}
