/*
 * test_look.c - --target-distance D (lookq.h): on photo-like JPEGs made
 * here (smooth colour fields, fine grain, sharp-edged shapes; small ones
 * measured whole, larger ones through the tile sample) and the colour
 * photos of testdata/, the outputs are within D by butteraugli_main's
 * 3-norm on at least 90% of the files and never above 1.25 D (skipped
 * when libjxl-devtools' butteraugli_main is absent); the "look" record
 * agrees with the file written (its quantisation tables are those of the
 * chosen quality); a larger D gives smaller files; thumbnails search too;
 * the usage errors exit 2.  (testdata's 64x64 srgb_icc.jpg is left out,
 * too small a picture for butteraugli's scale, and the orient*.jpg,
 * whose outputs are turned upright.)
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <turbojpeg.h>

#include "helpers.h"

#define NGEN 8

/* A photo-like RGB image: seeded colour waves, grain whose strength
 * varies over the image, a few flat shapes with hard edges. */
static unsigned char *
gen_photo(int w, int h, unsigned seed)
{
    unsigned char *px = malloc((size_t)w * h * 3);
    double ph[9], grain;
    unsigned r = seed;

    cr_assert_not_null(px);
    for (int i = 0; i < 9; i++)
        ph[i] = (rand_r(&r) % 628) / 100.0;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            unsigned char *p = px + ((size_t)y * w + x) * 3;
            int shape = ((x / 97 + y / 61 + (int)seed) % 7) == 0;

            grain = 4 + 20 * (0.5 + 0.5 * sin(x * 0.01 + ph[8]));
            for (int c = 0; c < 3; c++) {
                double v = 128 + 60 * sin(x * 0.006 * (c + 1) + ph[c]) +
                           40 * sin(y * 0.009 + ph[c + 3] + x * 0.002) +
                           grain * ((rand_r(&r) % 1000) / 500.0 - 1);

                if (shape)
                    v = c == (int)(seed % 3) ? 220 : 40;
                p[c] = (unsigned char)(v < 0 ? 0 : v > 255 ? 255 : v);
            }
        }
    return px;
}

static void
write_jpeg(const char *path, const unsigned char *px, int w, int h, int q)
{
    tjhandle tj = tjInitCompress();
    unsigned char *jpg = NULL;
    unsigned long len = 0;

    cr_assert_eq(tjCompress2(tj, px, w, 0, h, TJPF_RGB, &jpg, &len,
                             TJSAMP_420, q, 0), 0);
    th_write_file(path, jpg, len);
    tjFree(jpg);
    tjDestroy(tj);
}

/* The corpus in th_dir/in: NGEN generated photos and testdata's. */
static char *
make_corpus(void)
{
    static const char *const td[] = { "rgb.jpg", "q75.jpg",
                                      "progressive.jpg" };
    char *in = th_path(th_dir, "in");

    th_mkdirs(in);
    for (int i = 0; i < NGEN; i++) {
        int w = i % 2 ? 1100 : 480, h = i % 2 ? 760 : 360;
        unsigned char *px = gen_photo(w, h, 17 + i);
        char *p = th_asprintf("%s/gen%d.jpg", in, i);

        write_jpeg(p, px, w, h, 88 + i);
        free(px);
        free(p);
    }
    for (size_t i = 0; i < sizeof(td) / sizeof(td[0]); i++) {
        char *src = th_testdata(td[i]), *dst = th_path(in, td[i]);

        th_copy_file(src, dst);
        free(src);
        free(dst);
    }
    return in;
}

/* butteraugli_main's 3-norm of @b against @a, or -1. */
static double
butteraugli_3norm(const char *a, const char *b)
{
    char *cmd = th_asprintf("butteraugli_main '%s' '%s' 2>/dev/null", a, b);
    FILE *f = popen(cmd, "r");
    char line[256];
    double v = -1;

    cr_assert_not_null(f);
    while (fgets(line, sizeof(line), f))
        if (sscanf(line, "3-norm: %lf", &v) == 1)
            break;
    pclose(f);
    free(cmd);
    return v;
}

static void
need_butteraugli(void)
{
    if (system("command -v butteraugli_main >/dev/null 2>&1") != 0)
        cr_skip_test("butteraugli_main (libjxl-devtools) is not installed");
}

/* Run imgpool with @args, which must exit 0; the report @rep it wrote. */
static json_t *
run_ok(const char *const *args, const char *rep)
{
    struct th_run r;

    th_run(&r, args);
    cr_assert_eq(r.status, 0, "exit %d: %s", r.status, r.err);
    th_run_release(&r);
    return th_read_jsonl(rep);
}

/* Run recompress --target-distance @d over @in into th_dir/@out. */
static json_t *
run_look(const char *in, const char *out, const char *d)
{
    char *o = th_path(th_dir, out), *rep = th_asprintf("%s.jsonl", o);
    const char *args[] = { "recompress", "--target-distance", d,
                           "--no-incremental", "-j", "2", "-o", o,
                           "--report", rep, in, NULL };
    json_t *recs;

    recs = run_ok(args, rep);
    free(o);
    free(rep);
    return recs;
}

/* The "look" of @rec checked against the file @path it describes. */
static int
check_look(json_t *rec, const char *path)
{
    json_t *look = json_object_get(rec, "look");
    int q;

    cr_assert_not_null(look, "no \"look\" in the record of '%s'", path);
    q = (int)json_integer_value(json_object_get(look, "quality"));
    cr_assert(q >= 20 && q <= 100, "quality %d", q);
    cr_assert_eq(th_jpeg_quality(path), q, "'%s' was written at %d, the "
                 "record says %d", path, th_jpeg_quality(path), q);
    cr_assert_gt(json_real_value(json_object_get(look, "distance")), 0);
    cr_assert_leq(json_integer_value(json_object_get(look, "encodes")), 6);
    cr_assert_geq(json_integer_value(json_object_get(look, "encodes")), 2);
    cr_assert_not_null(json_string_value(json_object_get(look, "measured")));
    return q;
}

TestSuite(look, .init = th_dir_setup, .fini = th_dir_teardown,
          .timeout = 300);

Test(look, outputs_within_target_by_butteraugli)
{
    static const double d = 1.0;
    char *in, *out = NULL;
    json_t *recs, *rec;
    size_t i;
    int n = 0, within = 0;
    double worst = 0;

    need_butteraugli();
    in = make_corpus();
    recs = run_look(in, "out", "1.0");
    json_array_foreach(recs, i, rec) {
        const char *path = th_json_str(rec, "path");
        const char *name;
        char *src;
        double v;

        if (!path || !th_json_str(rec, "status"))
            continue;
        cr_assert_str_eq(th_json_str(rec, "status"), "ok", "'%s': %s", path,
                         json_dumps(rec, 0));
        name = strrchr(path, '/') + 1;
        out = th_asprintf("%s/out/%s", th_dir, name);
        src = th_path(in, name);
        check_look(rec, out);
        v = butteraugli_3norm(src, out);
        cr_assert_geq(v, 0, "butteraugli_main failed on '%s'", out);
        n++;
        within += v <= d;
        worst = v > worst ? v : worst;
        cr_log_info("%s: %.3f", name, v);
        free(src);
        free(out);
    }
    cr_assert_eq(n, NGEN + 3);
    cr_assert_geq(within * 10, n * 9, "only %d of %d within %.2f", within, n,
                  d);
    cr_assert_leq(worst, 1.25 * d, "worst %.3f over 1.25 D", worst);
    json_decref(recs);
    free(in);
}

/* A looser target, smaller files; the record follows each. */
Test(look, larger_distance_smaller_files)
{
    char *in = make_corpus(), *a, *b;
    json_t *ra = run_look(in, "tight", "0.7"), *rb = run_look(in, "loose",
                                                              "2.5");
    long long ta = 0, tb = 0;
    size_t i;
    json_t *rec;

    json_array_foreach(ra, i, rec)
        if (th_json_str(rec, "path"))
            ta += th_json_int(rec, "out_bytes");
    json_array_foreach(rb, i, rec)
        if (th_json_str(rec, "path"))
            tb += th_json_int(rec, "out_bytes");
    cr_assert_lt(tb, ta, "D 2.5: %lld bytes, D 0.7: %lld", tb, ta);
    a = th_asprintf("%s/tight/gen1.jpg", th_dir);
    b = th_asprintf("%s/loose/gen1.jpg", th_dir);
    cr_assert_gt(check_look(th_find_record(ra, "gen1.jpg"), a),
                 check_look(th_find_record(rb, "gen1.jpg"), b));
    json_decref(ra);
    json_decref(rb);
    free(a);
    free(b);
    free(in);
}

Test(look, thumbnail_searches_each_output)
{
    char *in = make_corpus(), *o = th_path(th_dir, "th");
    char *rep = th_path(th_dir, "th.jsonl"), *path;
    const char *args[] = { "thumbnail", "--target-distance", "1.5", "-s",
                           "200", "--no-incremental", "-o", o, "--report",
                           rep, in, NULL };
    struct th_image img;
    json_t *recs;

    recs = run_ok(args, rep);
    path = th_asprintf("%s/gen1.jpg", o);
    check_look(th_find_record(recs, "gen1.jpg"), path);
    cr_assert_eq(th_decode_jpeg(path, &img), 0);
    cr_assert_eq(img.w, 200, "width %d", img.w);
    th_image_release(&img);
    json_decref(recs);
    free(path);
    free(o);
    free(rep);
    free(in);
}

/* Without --target-distance the record has no "look". */
Test(look, no_look_without_target)
{
    char *in = make_corpus(), *o = th_path(th_dir, "q");
    char *rep = th_path(th_dir, "q.jsonl");
    const char *args[] = { "recompress", "-q", "80", "--no-incremental",
                           "-o", o, "--report", rep, in, NULL };
    json_t *recs;

    recs = run_ok(args, rep);
    cr_assert_null(json_object_get(th_find_record(recs, "gen0.jpg"),
                                   "look"));
    json_decref(recs);
    free(o);
    free(rep);
    free(in);
}

struct bad_args {
    const char *a[6];
    const char *says;           /* in the message */
};

Test(look, usage_errors_exit_2)
{
    static const struct bad_args bad[] = {
        { { "0" }, "target-distance" },
        { { "-1" }, "target-distance" },
        { { "0.05" }, "target-distance" },
        { { "11" }, "target-distance" },
        { { "1e9" }, "target-distance" },
        { { "nan" }, "target-distance" },
        { { "abc" }, "target-distance" },
        { { "1", "-f", "png" }, "drop --format" },
        { { "1", "-f", "webp" }, "drop --format" },
        { { "1", "--lossless" }, "drop --lossless" },
        { { "1", "-q", "80" }, "drop -q" },
    };
    char *o = th_path(th_dir, "o"), *in = th_testdata("rgb.jpg");

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        const char *args[12] = { "recompress", "--target-distance" };
        struct th_run r;
        int n = 2;

        for (int k = 0; k < 6 && bad[i].a[k]; k++)
            args[n++] = bad[i].a[k];
        args[n++] = "-o";
        args[n++] = o;
        args[n++] = in;
        th_run(&r, args);
        cr_assert_eq(r.status, 2, "case %zu: exit %d", i, r.status);
        cr_assert_not_null(strstr(r.err, bad[i].says), "case %zu: %s", i,
                           r.err);
        th_run_release(&r);
        cr_assert_not(th_exists(o), "case %zu wrote output", i);
    }
    free(o);
    free(in);
}
