/*
 * test_sizes.c - several sizes from one decode: the options (-s repeated,
 * --sizes, limits, names that would collide), the outputs on disk decoded
 * with an independent decoder, the report's outputs array, incremental
 * re-runs and --prune over every output, and the same geometry as one
 * size at a time.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "e2e_fixture.h"
#include "formats_helpers.h"

E2E_TREE

TestSuite(sizes, .init = e2e_setup, .fini = e2e_teardown);


Test(sizes, options)
{
    struct cli_opts o;
    const char *a[] = { "thumbnail", "-s", "150", "-s", "300",
                        "--sizes", "1024x768,64x", "-o", "o", "i", NULL };

    cr_assert_eq(th_cli_parse(&o, a), CLI_RUN);
    cr_assert_eq(o.config.nsizes, 4);
    cr_assert(o.config.out[0].width == 150 &&
              o.config.out[0].height == 150);
    cr_assert(o.config.out[1].width == 300);
    cr_assert(o.config.out[2].width == 1024 &&
              o.config.out[2].height == 768);
    cr_assert(o.config.out[3].width == 64 &&
              o.config.out[3].height == 0);
    for (int k = 1; k < 4; k++) {
        struct settings first = o.config.out[0], other = o.config.out[k];

        first.width = other.width;
        first.height = other.height;
        cr_assert(memcmp(&first, &other, sizeof(first)) == 0,
                  "output %d has the first's settings but for its box", k);
    }
    cli_opts_release(&o);

    const char *b[] = { "thumbnail", "-s", "200x100", "-o", "o", "i", NULL };
    cr_assert_eq(th_cli_parse(&o, b), CLI_RUN);
    cr_assert_eq(o.config.nsizes, 1, "one -s: one size, as before");
    cr_assert_eq(o.config.out[0].width, 200);
    cli_opts_release(&o);

    const char *c[] = { "thumbnail", "-o", "o", "i", NULL };
    cr_assert_eq(th_cli_parse(&o, c), CLI_RUN);
    cr_assert_eq(o.config.nsizes, 1);
    cr_assert_eq(o.config.out[0].width, 300, "the default box");
    cli_opts_release(&o);
}

static void
usage_error(const char *const *args, const char *needle)
{
    struct th_run r;

    th_run(&r, args);
    cr_assert_eq(r.status, 2, "exit %d: %s", r.status, r.err);
    cr_assert(strstr(r.err, needle), "'%s' not in: %s", needle, r.err);
    th_run_release(&r);
}

Test(sizes, refused)
{
    const char *a[] = { "thumbnail", "--sizes", "1,2,3,4,5,6,7,8,9", "-o",
                        out, in, NULL };
    usage_error(a, "at most 8");
    const char *b[] = { "thumbnail", "--sizes", "1,2,3,4,5", "-s", "6",
                        "-s", "7", "-s", "8", "-s", "9", "-o", out, in, NULL };
    usage_error(b, "at most 8");
    const char *c[] = { "thumbnail", "-s", "100", "-s", "100x100", "-o",
                        out, in, NULL };
    usage_error(c, "twice");
    const char *d[] = { "thumbnail", "-s", "100", "-s", "200", "--name",
                        "{stem}.jpg", "-o", out, in, NULL };
    usage_error(d, "{size}");
    const char *e[] = { "thumbnail", "--sizes", "300x200,300x100", "--name",
                        "{stem}-{w}.jpg", "-o", out, in, NULL };
    usage_error(e, "same name");
    const char *f[] = { "thumbnail", "--sizes", "100,0", "-o", out, in,
                        NULL };
    usage_error(f, "--sizes '100,0'");
    const char *g[] = { "thumbnail", "--sizes", "100,,200", "-o", out, in,
                        NULL };
    usage_error(g, "--sizes");
    const char *h[] = { "thumbnail", "--fit", "cover", "-s", "100x50",
                        "-s", "64x", "-o", out, in, NULL };
    usage_error(h, "both sides of every size");
    cr_assert_not(th_exists(out));
}

/* The record of in/@name in @arr, with its outputs checked against the
 * files: @n outputs of the given sizes, each decodable at that size. */
static void
check_outputs(json_t *arr, const char *name, int n, const int (*wh)[2],
              const char *const *paths)
{
    json_t *rec = th_find_record(arr, name), *outs, *o;
    struct th_image img;
    size_t len;

    cr_assert(rec, "no record for %s", name);
    cr_assert_str_eq(th_json_str(rec, "status"), "ok");
    outs = json_object_get(rec, "outputs");
    cr_assert(json_is_array(outs), "%s: no outputs array", name);
    cr_assert_eq((int)json_array_size(outs), n);
    cr_assert_str_eq(th_json_str(rec, "output"), paths[0]);
    for (int k = 0; k < n; k++) {
        o = json_array_get(outs, (size_t)k);
        cr_assert_str_eq(th_json_str(o, "path"), paths[k]);
        cr_assert_eq(th_json_int(o, "width"), wh[k][0], "%s", paths[k]);
        cr_assert_eq(th_json_int(o, "height"), wh[k][1], "%s", paths[k]);
        free(th_read_file(paths[k], &len));
        cr_assert_eq(th_json_int(o, "bytes"), (long long)len);
        fh_decode(paths[k], &img);
        cr_assert(img.w == wh[k][0] && img.h == wh[k][1],
                  "%s decodes to %dx%d", paths[k], img.w, img.h);
        cr_assert_eq(img.channels, 3);
        th_image_release(&img);
    }
    o = json_array_get(outs, 0);
    cr_assert_eq(th_json_int(rec, "out_width"), th_json_int(o, "width"));
    cr_assert_eq(th_json_int(rec, "out_bytes"), th_json_int(o, "bytes"));
}

static void
run_status(const char *const *args, int want)
{
    struct th_run r;

    th_run(&r, args);
    cr_assert_eq(r.status, want, "exit %d: %s", r.status, r.err);
    th_run_release(&r);
}

Test(sizes, three_sizes_up_to_date_and_pruned)
{
    static const int rgb_wh[3][2] = { { 150, 113 }, { 300, 225 },
                                      { 640, 480 } };
    static const int o6_wh[3][2] = { { 120, 80 }, { 120, 80 }, { 120, 80 } };
    char *p[3], *q[3], *src, *dir;
    const char *dirs[3] = { "150", "300", "1024" };
    json_t *arr;

    th_copy_testdata(in, "rgb.jpg", "rgb.jpg");
    th_copy_testdata(in, "orient6.jpg", "sub/orient6.jpg");
    th_copy_testdata(in, "rgba.png", "rgba.png");
    const char *a[] = { "thumbnail", "--quiet", "-s", "150", "-s", "300",
                        "-s", "1024", "--report", rep, "-o", out, in, NULL };
    run_status(a, 0);
    for (int k = 0; k < 3; k++) {
        dir = th_path(out, dirs[k]);
        p[k] = th_path(dir, "rgb.jpg");
        src = th_path(dir, "sub");
        q[k] = th_path(src, "orient6.jpg");
        free(src);
        free(dir);
    }
    arr = th_read_jsonl(rep);
    check_outputs(arr, "/rgb.jpg", 3, rgb_wh, (const char *const *)p);
    check_outputs(arr, "/orient6.jpg", 3, o6_wh, (const char *const *)q);
    cr_assert_eq(th_count_records(arr, "ok", NULL), 3);
    {   /* The summary's bytes_out is every output's bytes. */
        long long sum = 0;
        size_t i, k;
        json_t *rec, *o;
        json_array_foreach(arr, i, rec) {
            json_array_foreach(json_object_get(rec, "outputs"), k, o)
                sum += th_json_int(o, "bytes");
        }
        cr_assert_gt(sum, 0);
        cr_assert_eq(th_json_int(th_summary(arr), "bytes_out"), sum);
    }
    json_decref(arr);

    /* Up to date: every output recorded. */
    run_status(a, 0);
    arr = th_read_jsonl(rep);
    cr_assert_eq(th_count_records(arr, "skipped", "up-to-date"), 3);
    json_decref(arr);

    /* One output gone: that input is redone, with all its outputs. */
    cr_assert_eq(unlink(p[1]), 0);
    run_status(a, 0);
    arr = th_read_jsonl(rep);
    cr_assert_eq(th_count_records(arr, "skipped", "up-to-date"), 2);
    cr_assert_eq(th_count_records(arr, "ok", NULL), 1);
    json_decref(arr);
    cr_assert(th_exists(p[1]));

    /* The input goes away: --prune removes all three outputs. */
    src = th_path(in, "rgb.jpg");
    cr_assert_eq(unlink(src), 0);
    free(src);
    const char *b[] = { "thumbnail", "--quiet", "-s", "150", "-s", "300",
                        "-s", "1024", "--prune", "-o", out, in, NULL };
    run_status(b, 0);
    for (int k = 0; k < 3; k++) {
        cr_assert_not(th_exists(p[k]), "%s pruned", p[k]);
        cr_assert(th_exists(q[k]), "%s kept", q[k]);
        free(p[k]);
        free(q[k]);
    }
}

/* Each output of a several-size run has the size a one-size run gives,
 * for every fit, on both decode paths (direct JPEG, libvips for PNG
 * input), and the same colours in the same places. */
static void
same_as_one_size(const char *fit, const char *input, const char *fmt)
{
    static const char *const boxes[] = { "64", "100x50", "40x90", "200" };
    char list[64] = "", *multi = th_path(tmp, "multi"), name[64];
    struct th_image a, b;

    for (int k = 0; k < 4; k++)
        snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s",
                 k ? "," : "", boxes[k]);
    const char *m[] = { "thumbnail", "--quiet", "--fit", fit, "-f", fmt,
                        "--sizes", list, "--name", "{size}-{stem}.{fmt}",
                        "-o", multi, in, NULL };
    run_status(m, 0);
    for (int k = 0; k < 4; k++) {
        char *one = th_path(tmp, boxes[k]), *pa, *pb;
        const char *s[] = { "thumbnail", "--quiet", "--fit", fit, "-f", fmt,
                            "-s", boxes[k], "-o", one, in, NULL };

        run_status(s, 0);
        snprintf(name, sizeof(name), "%s-%s.%s", boxes[k], input,
                 strcmp(fmt, "jpeg") ? fmt : "jpg");
        pa = th_path(multi, name);
        snprintf(name, sizeof(name), "%s.%s", input,
                 strcmp(fmt, "jpeg") ? fmt : "jpg");
        pb = th_path(one, name);
        fh_decode(pa, &a);
        fh_decode(pb, &b);
        cr_assert(a.w == b.w && a.h == b.h, "%s %s box %s: %dx%d, one size "
                  "%dx%d", input, fit, boxes[k], a.w, a.h, b.w, b.h);
        double ca[3], cb[3];
        th_mean_rgb(&a, a.w / 4, a.h / 4, 1, ca);
        th_mean_rgb(&b, b.w / 4, b.h / 4, 1, cb);
        cr_assert(th_rgb_near(ca, (int)cb[0], (int)cb[1], (int)cb[2], 40),
                  "%s %s box %s: colours differ", input, fit, boxes[k]);
        th_image_release(&a);
        th_image_release(&b);
        free(pa);
        free(pb);
        free(one);
    }
    free(multi);
}

Test(sizes, same_geometry_as_one_size_direct_path)
{
    th_copy_testdata(in, "rgb.jpg", "rgb.jpg");
    same_as_one_size("inside", "rgb", "jpeg");
    th_rmrf(tmp);
    e2e_setup();
    th_copy_testdata(in, "rgb.jpg", "rgb.jpg");
    same_as_one_size("cover", "rgb", "jpeg");
    th_rmrf(tmp);
    e2e_setup();
    th_copy_testdata(in, "rgb.jpg", "rgb.jpg");
    same_as_one_size("fill", "rgb", "jpeg");
}

Test(sizes, same_geometry_as_one_size_libvips_path)
{
    th_copy_testdata(in, "orient6.jpg", "orient6.jpg");
    same_as_one_size("cover", "orient6", "png");
    th_rmrf(tmp);
    e2e_setup();
    th_copy_testdata(in, "rgb.png", "rgb.png");
    same_as_one_size("inside", "rgb", "png");
}

Test(sizes, webp_outputs_named_by_template)
{
    static const int wh[2][2] = { { 150, 113 }, { 64, 48 } };
    char *p[2];
    json_t *arr;

    fh_require(FORMAT_WEBP);
    th_copy_testdata(in, "rgb.jpg", "rgb.jpg");
    const char *a[] = { "thumbnail", "--quiet", "--sizes", "150,64",
                        "--name", "{stem}_{w}x{h}.webp", "--report", rep,
                        "-o", out, in, NULL };
    run_status(a, 0);
    p[0] = th_path(out, "rgb_150x150.webp");
    p[1] = th_path(out, "rgb_64x64.webp");
    arr = th_read_jsonl(rep);
    check_outputs(arr, "/rgb.jpg", 2, wh, (const char *const *)p);
    json_decref(arr);
    free(p[0]);
    free(p[1]);
}

/* Two inputs with one stem under the default names: the second falls back
 * to {name}.jpg in every size's directory, as with one size. */
Test(sizes, default_name_fallback_in_every_size)
{
    const char *names[] = { "100/a.jpg", "100/a.png.jpg", "50/a.jpg",
                            "50/a.png.jpg" };

    th_copy_testdata(in, "rgb.jpg", "a.jpg");
    th_copy_testdata(in, "rgb.png", "a.png");
    const char *a[] = { "thumbnail", "--quiet", "--sizes", "100,50", "-o",
                        out, in, NULL };
    run_status(a, 0);
    for (int i = 0; i < 4; i++) {
        char *p = th_path(out, names[i]);
        struct th_image img;

        fh_decode(p, &img);
        cr_assert_eq(img.w, i < 2 ? 100 : 50, "%s", names[i]);
        th_image_release(&img);
        free(p);
    }
}

/* "{stem}{size}": a.jpg at 150 and a1.jpg at 50 both make a150.jpg.  The
 * second input fails (output-conflict) instead of overwriting the first. */
Test(sizes, outputs_of_other_sizes_never_collide)
{
    struct th_image img;
    json_t *arr;
    char *p;

    th_copy_testdata(in, "rgb.jpg", "a.jpg");
    th_copy_testdata(in, "orient6.jpg", "a1.jpg");
    const char *a[] = { "thumbnail", "--quiet", "--sizes", "150,50",
                        "--name", "{stem}{size}.jpg", "--report", rep, "-o",
                        out, in, NULL };
    run_status(a, 1);
    arr = th_read_jsonl(rep);
    cr_assert_eq(th_count_records(arr, "ok", NULL), 1);
    cr_assert_eq(th_count_records(arr, "failed", NULL), 1);
    json_decref(arr);
    p = th_path(out, "a150.jpg");
    fh_decode(p, &img);
    cr_assert_eq(img.w, 150, "a150.jpg is a.jpg's, not a1.jpg's 50 box");
    th_image_release(&img);
    free(p);
}
