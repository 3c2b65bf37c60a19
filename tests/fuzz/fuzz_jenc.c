/*
 * fuzz_jenc.c - libFuzzer target for the JPEG coefficient encoder
 * (src/worker/jenc.h): the first bytes pick a size (1..2048 a side, at
 * most 1 MP), a quality, the subsampling, the scan mode and whether grey
 * may be written as one component; the rest are the pixels, repeated as
 * needed.  Every input must give a JPEG that TurboJPEG decodes back to
 * the same size without an error or a warning.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <turbojpeg.h>

#include "jenc.h"
#include "task.h"

struct pixels_in {
    const unsigned char *rgb;
    int w;
};

static const unsigned char *
row(void *arg, int y, unsigned char *buf)
{
    const struct pixels_in *in = arg;

    (void)buf;
    return in->rgb + (size_t)y * in->w * 3;
}

/* The encoded file decodes to @w x @h; aborts otherwise. */
static void
check(const unsigned char *jpeg, unsigned long len, int w, int h)
{
    tjhandle tj = tjInitDecompress();
    unsigned char *out = malloc((size_t)w * h * 3);
    int jw, jh, sub, cs;

    if (!tj || !out ||
        tjDecompressHeader3(tj, jpeg, len, &jw, &jh, &sub, &cs) != 0 ||
        jw != w || jh != h ||
        tjDecompress2(tj, jpeg, len, out, w, 0, h, TJPF_RGB, 0) != 0)
        abort();
    free(out);
    tjDestroy(tj);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct jenc_params p;
    struct encode_rows rows;
    struct pixels_in in;
    struct task_result res;
    unsigned char *jpeg = NULL, *rgb;
    unsigned long len = 0;
    int w, h;

    if (size < 6)
        return 0;
    w = 1 + ((data[0] | data[1] << 8) % 2048);
    h = 1 + ((data[2] | data[3] << 8) % 2048);
    if ((long)w * h > 1L << 20)
        h = (int)((1L << 20) / w);
    memset(&p, 0, sizeof(p));
    p.quality = 1 + data[4] % 100;
    p.subsample_420 = data[5] & 1;
    p.scan = (enum jenc_scan)((data[5] >> 1) % 3);
    p.allow_grey = (data[5] >> 3) & 1;
    data += 6;
    size -= 6;
    rgb = malloc((size_t)w * h * 3);
    if (!rgb)
        return 0;
    for (size_t i = 0; i < (size_t)w * h * 3; i++)
        rgb[i] = size ? data[i % size] : 0;
    in.rgb = rgb;
    in.w = w;
    rows.width = w;
    rows.height = h;
    rows.row = row;
    rows.arg = &in;
    memset(&res, 0, sizeof(res));
    if (jenc_encode(&p, &rows, &jpeg, &len, &res) != 0)
        abort();        /* every size here is a valid JPEG size */
    check(jpeg, len, w, h);
    free(jpeg);
    free(rgb);
    return 0;
}
