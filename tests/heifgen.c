/*
 * heifgen.c - makes the HEIC files test_heif_meta.c needs and no tool here
 * writes: XMP on an image other than the primary, as a phone puts it on
 * the HDR gain map.
 *
 *   heifgen OUT.heic PRIMARY.xmp|- OTHER.xmp thumb|image
 *
 * A 64x48 primary image with PRIMARY.xmp ("-": none), and OTHER.xmp on
 * its thumbnail (thumb) or on a second top-level image (image).  Exit 0;
 * 77 when libheif has no HEVC encoder here; 1 on any other failure.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libheif/heif.h>

static char *
slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    long n;

    if (!f)
        return NULL;
    if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) > 0 &&
        fseek(f, 0, SEEK_SET) == 0 && (buf = malloc((size_t)n)) &&
        fread(buf, 1, (size_t)n, f) == (size_t)n)
        *len = (size_t)n;
    else {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    return buf;
}

static struct heif_image *
picture(int w, int h, int shade)
{
    struct heif_image *img = NULL;
    uint8_t *p;
    int stride;

    if (heif_image_create(w, h, heif_colorspace_RGB,
                          heif_chroma_interleaved_RGB, &img).code)
        return NULL;
    if (heif_image_add_plane(img, heif_channel_interleaved, w, h, 8).code)
        return NULL;
    p = heif_image_get_plane(img, heif_channel_interleaved, &stride);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w * 3; x++)
            p[y * stride + x] = (uint8_t)(shade + x + y);
    return img;
}

static int
add_xmp(struct heif_context *ctx, struct heif_image_handle *h,
        const char *path)
{
    size_t len = 0;
    char *xmp = slurp(path, &len);
    int rc;

    if (!xmp)
        return -1;
    rc = heif_context_add_XMP_metadata(ctx, h, xmp, (int)len).code ? -1 : 0;
    free(xmp);
    return rc;
}

int
main(int argc, char **argv)
{
    struct heif_context *ctx = heif_context_alloc();
    struct heif_encoder *enc = NULL;
    struct heif_image_handle *prim = NULL, *other = NULL;
    struct heif_image *a, *b;

    if (argc != 5)
        return 1;
    if (heif_context_get_encoder_for_format(ctx, heif_compression_HEVC,
                                            &enc).code)
        return 77;
    a = picture(64, 48, 20);
    b = picture(32, 24, 90);
    if (!a || !b ||
        heif_context_encode_image(ctx, a, enc, NULL, &prim).code)
        return 1;
    if (strcmp(argv[4], "thumb") == 0) {
        if (heif_context_encode_thumbnail(ctx, a, prim, enc, NULL, 32,
                                          &other).code || !other)
            return 1;
    } else if (heif_context_encode_image(ctx, b, enc, NULL, &other).code ||
               heif_context_set_primary_image(ctx, prim).code) {
        return 1;
    }
    if ((strcmp(argv[2], "-") != 0 && add_xmp(ctx, prim, argv[2]) < 0) ||
        add_xmp(ctx, other, argv[3]) < 0)
        return 1;
    if (heif_context_write_to_file(ctx, argv[1]).code)
        return 1;
    heif_image_handle_release(prim);
    heif_image_handle_release(other);
    heif_image_release(a);
    heif_image_release(b);
    heif_encoder_release(enc);
    heif_context_free(ctx);
    return 0;
}
