/*
 * test_jpegmem.c - the huge-page coefficient arrays of the direct JPEG
 * decoder (jpegmem.h): a progressive JPEG decodes to exactly the pixels
 * libjpeg gives with its own memory manager, at full size and with DCT
 * scaling, and the mappings are released when libjpeg frees the image
 * (finish, abort) or by jpegmem_release().
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <turbojpeg.h>

#include <jpeglib.h>

#include "jpegmem.h"

#define W 333
#define H 211

/* A progressive 4:2:0 JPEG of a smooth gradient with some texture. */
static unsigned char *
make_progressive(unsigned long *len)
{
    tjhandle tj = tjInitCompress();
    unsigned char *px = malloc((size_t)W * H * 3), *jpg = NULL;
    int x, y;

    cr_assert_not_null(tj);
    cr_assert_not_null(px);
    for (y = 0; y < H; y++)
        for (x = 0; x < W; x++) {
            unsigned char *p = px + ((size_t)y * W + x) * 3;

            p[0] = (unsigned char)(x * 255 / W);
            p[1] = (unsigned char)(y * 255 / H);
            p[2] = (unsigned char)((x * 7 + y * 13) % 256);
        }
    cr_assert_eq(tjCompress2(tj, px, W, 0, H, TJPF_RGB, &jpg, len, TJSAMP_420,
                             85, TJFLAG_PROGRESSIVE), 0, "%s",
                 tjGetErrorStr2(tj));
    tjDestroy(tj);
    free(px);
    return jpg;
}

/*
 * Decode @jpg at @num/8 into a new buffer (size in @w, @h), with jpegmem
 * when @m is not NULL.  With @m, checks that the arrays are mapped while
 * decoding and gone after jpeg_finish_decompress().
 */
static unsigned char *
decode(const unsigned char *jpg, unsigned long len, unsigned num,
       struct jpegmem *m, int *w, int *h)
{
    struct jpeg_decompress_struct j;
    struct jpeg_error_mgr err;
    unsigned char *out;
    size_t stride;

    j.err = jpeg_std_error(&err);
    jpeg_create_decompress(&j);
    if (m)
        jpegmem_install(m, (j_common_ptr)&j);
    jpeg_mem_src(&j, jpg, len);
    jpeg_read_header(&j, TRUE);
    cr_assert(jpeg_has_multiple_scans(&j), "the test JPEG is progressive");
    j.scale_num = num;
    j.scale_denom = 8;
    j.out_color_space = JCS_RGB;
    jpeg_start_decompress(&j);
    if (m)
        cr_assert_not_null(m->arrays, "libjpeg asked jpegmem for arrays");
    *w = (int)j.output_width;
    *h = (int)j.output_height;
    stride = (size_t)*w * 3;
    out = malloc(stride * (size_t)*h);
    cr_assert_not_null(out);
    while (j.output_scanline < j.output_height) {
        JSAMPROW row = out + stride * j.output_scanline;

        jpeg_read_scanlines(&j, &row, 1);
    }
    jpeg_finish_decompress(&j);
    if (m)
        cr_assert_null(m->arrays, "finishing frees the image's arrays");
    jpeg_destroy_decompress(&j);
    return out;
}

Test(jpegmem, same_pixels_as_libjpeg_at_every_scale)
{
    unsigned long len = 0;
    unsigned char *jpg = make_progressive(&len);
    unsigned num;

    for (num = 1; num <= 8; num++) {
        struct jpegmem m;
        int w0, h0, w1, h1;
        unsigned char *a, *b;

        memset(&m, 0, sizeof(m));
        a = decode(jpg, len, num, NULL, &w0, &h0);
        b = decode(jpg, len, num, &m, &w1, &h1);
        cr_assert_eq(w0, w1);
        cr_assert_eq(h0, h1);
        cr_expect_eq(memcmp(a, b, (size_t)w0 * h0 * 3), 0,
                     "pixels differ at %u/8", num);
        jpegmem_release(&m);
        free(a);
        free(b);
    }
    tjFree(jpg);
}

Test(jpegmem, abort_and_release_unmap_the_arrays)
{
    unsigned long len = 0;
    unsigned char *jpg = make_progressive(&len);
    struct jpeg_decompress_struct j;
    struct jpeg_error_mgr err;
    struct jpegmem m;
    unsigned char row[W * 3];
    JSAMPROW r = row;

    memset(&m, 0, sizeof(m));
    j.err = jpeg_std_error(&err);
    jpeg_create_decompress(&j);
    jpegmem_install(&m, (j_common_ptr)&j);
    jpeg_mem_src(&j, jpg, len);
    jpeg_read_header(&j, TRUE);
    jpeg_start_decompress(&j);
    cr_assert_not_null(m.arrays);
    cr_assert_eq(jpeg_read_scanlines(&j, &r, 1), 1);
    jpeg_abort_decompress(&j);
    cr_expect_null(m.arrays, "jpeg_abort frees the image's arrays");

    /* The same decompressor again, destroyed halfway: release unmaps. */
    jpeg_mem_src(&j, jpg, len);
    jpeg_read_header(&j, TRUE);
    jpeg_start_decompress(&j);
    cr_assert_not_null(m.arrays);
    jpeg_destroy_decompress(&j);
    jpegmem_release(&m);
    cr_expect_null(m.arrays);
    tjFree(jpg);
}
