/*
 * fastjpeg_micro.c - time the direct JPEG path against the libvips path in
 * one process, on the same files, and compare their outputs (PSNR).
 *
 * Not part of the build or of the test suite.  Build by hand after building
 * the libraries in build-fj:
 *
 *   cc -O2 -D_GNU_SOURCE -Isrc/common -Isrc/worker \
 *      tests/bench/fastjpeg_micro.c build-fj/libimgpool_worker.a \
 *      build-fj/libimgpool_common.a \
 *      $(pkg-config --cflags --libs vips libjpeg libturbojpeg libpng \
 *        libxxhash) -lm -o /tmp/fastjpeg_micro
 *   /tmp/fastjpeg_micro OUTDIR FILE...
 *
 * OUTDIR should be on tmpfs (/dev/shm): outputs are fsync'ed, and on a disk
 * that cost would swamp what is being measured.  Each path gets one warm-up
 * pass and IMGPOOL_ROUNDS (default 5) timed passes over all files, the two
 * paths alternating; the best pass of each is reported.  The box is 300x300
 * (the thumbnail default) unless IMGPOOL_BOX=WxH is set; IMGPOOL_ONLY_FAST=1
 * skips the libvips passes (for profiling the fast path alone).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <turbojpeg.h>

#include "img.h"
#include "settings.h"
#include "task.h"
#include "util.h"

/* CPU time of this process in ms: on a shared machine it moves much less
 * than wall time with the load of others. */
static double
cpu_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int
run_pass(const struct settings *s, char **files, int n, const char *outdir,
         const char *tag, double *ms_per_file, double *cpu_per_file)
{
    int64_t t0 = util_now_us();
    double c0 = cpu_ms();
    struct commit_settings cs;
    struct run_config c;
    int failed = 0;

    commit_settings_init(&cs);
    cs.output_dir = outdir;
    run_config_make(&c, s, NULL, 1, &cs);
    for (int i = 0; i < n; i++) {
        struct task t;
        struct task_result res;
        char out[4096];

        snprintf(out, sizeof(out), "%s/%s-%04d.jpg", outdir, tag, i);
        memset(&t, 0, sizeof(t));
        memset(&res, 0, sizeof(res));
        t.path = files[i];
        t.out_path = out;
        img_process(&c, &t, &res);
        if (res.status != TASK_OK) {
            fprintf(stderr, "%s: %s: %s\n", tag, files[i], res.message);
            failed++;
        }
    }
    *ms_per_file = (util_now_us() - t0) / 1000.0 / n;
    *cpu_per_file = (cpu_ms() - c0) / n;
    return failed;
}

static unsigned char *
decode(tjhandle tj, const char *path, int *w, int *h)
{
    FILE *f = fopen(path, "rb");
    unsigned char *buf, *px;
    long len;
    int sub, cs;

    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    len = ftell(f);
    rewind(f);
    buf = malloc((size_t)len);
    if (fread(buf, 1, (size_t)len, f) != (size_t)len) {
        fclose(f);
        free(buf);
        return NULL;
    }
    fclose(f);
    tjDecompressHeader3(tj, buf, (unsigned long)len, w, h, &sub, &cs);
    px = malloc((size_t)*w * *h * 3);
    tjDecompress2(tj, buf, (unsigned long)len, px, *w, 0, *h, TJPF_RGB,
                  TJFLAG_ACCURATEDCT);
    free(buf);
    return px;
}

int
main(int argc, char **argv)
{
    struct settings s;
    double fast_ms, vips_ms, fast_cpu, vips_cpu, sum = 0, worst = 1e9;
    const char *box = getenv("IMGPOOL_BOX");
    int only_fast = getenv("IMGPOOL_ONLY_FAST") != NULL;
    const char *rounds_env = getenv("IMGPOOL_ROUNDS");
    int rounds = rounds_env ? atoi(rounds_env) + 1 : 6;
    tjhandle tj;
    int n = argc - 2, compared = 0;

    if (argc < 3) {
        fprintf(stderr, "usage: fastjpeg_micro OUTDIR FILE...\n");
        return 2;
    }
    settings_init(&s, MODE_THUMBNAIL);
    if (box && sscanf(box, "%dx%d", &s.width, &s.height) != 2)
        return 2;
    if (img_worker_init(&s) < 0)
        return 2;

    /* Alternate the paths and keep each one's best pass: on a shared
     * machine the minimum is the figure least disturbed by others. */
    fast_ms = vips_ms = fast_cpu = vips_cpu = 1e9;
    for (int round = 0; round < rounds; round++) {
        double ms, cpu;

        s.fast_jpeg = 1;
        run_pass(&s, argv + 2, n, argv[1], "fast", &ms, &cpu);
        if (round > 0 && ms < fast_ms)
            fast_ms = ms;
        if (round > 0 && cpu < fast_cpu)
            fast_cpu = cpu;
        if (only_fast)
            continue;
        s.fast_jpeg = 0;
        run_pass(&s, argv + 2, n, argv[1], "vips", &ms, &cpu);
        if (round > 0 && ms < vips_ms)
            vips_ms = ms;
        if (round > 0 && cpu < vips_cpu)
            vips_cpu = cpu;
    }
    printf("%d files, box %dx%d\n", n, s.width, s.height);
    printf("best of %d passes      wall ms/file   cpu ms/file\n",
           rounds - 1);
    printf("fast path              %8.3f      %8.3f\n", fast_ms, fast_cpu);
    if (!only_fast) {
        printf("libvips                %8.3f      %8.3f\n", vips_ms,
               vips_cpu);
        printf("speed-up               %8.2fx     %8.2fx\n",
               vips_ms / fast_ms, vips_cpu / fast_cpu);
    }

    if (only_fast)
        return 0;
    tj = tjInitDecompress();
    for (int i = 0; i < n; i++) {
        char a[4096], b[4096];
        unsigned char *pa, *pb;
        int wa, ha, wb, hb;
        double se = 0, p;

        snprintf(a, sizeof(a), "%s/fast-%04d.jpg", argv[1], i);
        snprintf(b, sizeof(b), "%s/vips-%04d.jpg", argv[1], i);
        pa = decode(tj, a, &wa, &ha);
        pb = decode(tj, b, &wb, &hb);
        if (pa && pb && wa == wb && ha == hb) {
            for (size_t k = 0; k < (size_t)wa * ha * 3; k++) {
                double d = (double)pa[k] - pb[k];
                se += d * d;
            }
            p = se == 0 ? 99 : 10 * log10(255.0 * 255 * wa * ha * 3 / se);
            sum += p;
            compared++;
            if (p < worst)
                worst = p;
        } else {
            fprintf(stderr, "%s: size mismatch or undecodable\n", argv[2 + i]);
        }
        free(pa);
        free(pb);
    }
    tjDestroy(tj);
    if (compared)
        printf("PSNR fast vs libvips: mean %.1f dB, worst %.1f dB over %d\n",
               sum / compared, worst, compared);
    img_worker_fini();
    return 0;
}
