/*
 * look_calib.c - the data behind distance.c's constants: for each JPEG
 * given and each quality from 40 to 98, the sample --target-distance
 * measures (lookq.h's tile grid) encoded at that quality with
 * libjpeg-turbo, decoded, and measured with the fast model (its raw
 * pooled value) and with libjxl's butteraugli (3-norm pooling).
 *
 *   look_calib FILE.jpg...    prints "file q model butteraugli" lines
 *
 * Build (from the checkout):
 *   cc -O2 -Isrc/worker -o look_calib tests/bench/look_calib.c \
 *      src/worker/distance.c -lturbojpeg -ljxl -lm -lpthread
 * Fit: log(butteraugli) = log(A) + B log(model) over the lines with
 * butteraugli between 0.3 and 3 (docs/BENCHMARKS.md has the result).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <turbojpeg.h>

#include "distance.h"

#define TILE 128
#define TILES 12
#define WHOLE (512 * 512)
#define MARGIN 12

static unsigned char *
load(const char *path, int *w, int *h)
{
    FILE *f = fopen(path, "rb");
    unsigned char *buf, *px = NULL;
    long len;
    int ss, cs;
    tjhandle tj = tjInitDecompress();

    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    len = ftell(f);
    rewind(f);
    buf = malloc(len);
    if (fread(buf, 1, len, f) == (size_t)len &&
        tjDecompressHeader3(tj, buf, len, w, h, &ss, &cs) == 0) {
        px = malloc((size_t)*w * *h * 3);
        if (tjDecompress2(tj, buf, len, px, *w, 0, *h, TJPF_RGB, 0) < 0) {
            free(px);
            px = NULL;
        }
    }
    fclose(f);
    free(buf);
    tjDestroy(tj);
    return px;
}

static int
grid_at(int i, int g, int len)
{
    return (g > 1 ? (len - TILE) * i / (g - 1) : (len - TILE) / 2) & ~15;
}

int
main(int argc, char **argv)
{
    for (int a = 1; a < argc; a++) {
        int w, h, gx, gy, mw, mh, n, tw;
        unsigned char *px = load(argv[a], &w, &h), *m, *dec, *jpg = NULL;
        tjhandle c = tjInitCompress(), d = tjInitDecompress();

        if (!px)
            continue;
        if ((long)w * h <= WHOLE || w < 2 * TILE || h < 2 * TILE) {
            gx = gy = 1;
            mw = tw = w;
            mh = h;
            m = px;
        } else {
            gx = (int)lround(sqrt((double)TILES * w / h));
            gx = gx < 1 ? 1 : gx > w / TILE ? w / TILE : gx;
            gy = TILES / gx;
            gy = gy < 1 ? 1 : gy > h / TILE ? h / TILE : gy;
            mw = gx * TILE;
            mh = gy * TILE;
            tw = TILE;
            m = malloc((size_t)mw * mh * 3);
            for (int ty = 0; ty < gy; ty++)
                for (int tx = 0; tx < gx; tx++)
                    for (int y = 0; y < TILE; y++)
                        memcpy(m + ((size_t)(ty * TILE + y) * mw + tx * TILE)
                                       * 3,
                               px + ((size_t)(grid_at(ty, gy, h) + y) * w +
                                     grid_at(tx, gx, w)) * 3,
                               TILE * 3);
        }
        n = gx * gy;
        dec = malloc((size_t)mw * mh * 3);
        for (int q = 40; q <= 98; q += 4) {
            unsigned long len = 0;
            struct distance_pool pf, pb;
            size_t st = (size_t)mw * 3;
            int th = n > 1 ? TILE : mh, mg = n > 1 ? MARGIN : 0;

            tjFree(jpg);
            jpg = NULL;
            tjCompress2(c, m, mw, 0, mh, TJPF_RGB, &jpg, &len, TJSAMP_420,
                        q, 0);
            tjDecompress2(d, jpg, len, dec, mw, 0, mh, TJPF_RGB, 0);
            distance_pool_init(&pf);
            distance_pool_init(&pb);
            for (int i = 0; i < n; i++) {
                size_t off = st * (i / gx * th) + (size_t)(i % gx) * tw * 3;

                distance_fast_add(&pf, m + off, dec + off, tw, th, st, mg);
                if (!getenv("LOOK_CALIB_FAST"))
                    distance_butteraugli_add(&pb, m + off, dec + off, tw, th, st,
                                         mg);
            }
            printf("%s %d %.6f %.4f\n", argv[a], q, distance_pool_value(&pf),
                   distance_pool_value(&pb));
        }
        tjFree(jpg);
        if (m != px)
            free(m);
        free(px);
        free(dec);
        tjDestroy(c);
        tjDestroy(d);
    }
    return 0;
}
