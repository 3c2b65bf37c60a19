/*
 * test_names_matrix.c - where every output goes with several INPUT roots
 * and several sizes together: 2 roots x 3 sizes, with the default names
 * (DIR/<root>/<size>/<path>) and with --name (DIR/<root>/<dirs>/<template
 * name>), every expected file on disk at its size, nothing else written,
 * 0 failed, and a re-run that changes nothing; and the names of one root
 * or one size, which stay as they were.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "e2e_fixture.h"
#include "formats_helpers.h"

E2E_TREE

TestSuite(names_matrix, .init = e2e_setup, .fini = e2e_teardown);

/* The inputs: two roots, in/a and in/b, files at several depths, all
 * copies of testdata/rgb.jpg (640x480). */
static const char *const inputs[] = { "a/x.jpg", "a/sub/y.jpg", "b/x.jpg",
                                      "b/deep/er/z.jpg" };
#define NINPUTS (sizeof(inputs) / sizeof(inputs[0]))

/* The sizes, their labels and what a 640x480 input becomes. */
static const char *const labels[] = { "100", "200x150", "320" };
static const int dims[][2] = { { 100, 75 }, { 200, 150 }, { 320, 240 } };
#define NSIZES 3

static void
make_inputs(void)
{
    char *dir;

    for (size_t i = 0; i < NINPUTS; i++) {
        dir = th_path(in, inputs[i]);
        *strrchr(dir, '/') = '\0';
        th_mkdirs(dir);
        free(dir);
        th_copy_testdata(in, "rgb.jpg", inputs[i]);
    }
}

/* The output of input @i at size @k, relative to out/: the root's name,
 * then the size directory (default names) or the template's name. */
static char *
expected_rel(size_t i, int k, int templated)
{
    const char *rel = inputs[i], *slash = strchr(rel, '/');
    const char *base = strrchr(rel, '/') + 1;
    int rootlen = (int)(slash - rel);
    int dirlen = (int)(base - slash - 1);
    const char *dot = strrchr(base, '.');

    if (!templated)
        return th_asprintf("%.*s/%s/%s", rootlen, rel, labels[k], slash + 1);
    return th_asprintf("%.*s/%.*s%.*s-%s.jpg", rootlen, rel, dirlen,
                       slash + 1, (int)(dot - base), base, labels[k]);
}

/* How many files there are below out/, the state (.imgpool/) excluded. */
static size_t
count_outputs(void)
{
    struct th_flist l;
    size_t n = 0;

    th_flist_of(&l, out);
    for (size_t j = 0; j < l.n; j++)
        if (strncmp(l.rel[j], ".imgpool/", 9) != 0)
            n++;
    th_flist_release(&l);
    return n;
}

/* Every output of the matrix is where it should be, decodes at its size,
 * is listed in its record's outputs, and nothing else is below out/. */
static void
check_matrix(int templated)
{
    struct th_image img;
    json_t *arr = th_read_jsonl(rep), *rec, *outs;
    size_t want = 0, got;
    char *rel, *path, *name;

    cr_assert_eq(th_count_records(arr, "failed", NULL), 0);
    cr_assert_eq(th_count_records(arr, "ok", NULL), NINPUTS);
    for (size_t i = 0; i < NINPUTS; i++) {
        name = th_asprintf("in/%s", inputs[i]);
        rec = th_find_record(arr, name);
        cr_assert(rec, "no record for %s", name);
        outs = json_object_get(rec, "outputs");
        cr_assert_eq(json_array_size(outs), NSIZES, "%s", name);
        for (int k = 0; k < NSIZES; k++) {
            rel = expected_rel(i, k, templated);
            path = th_path(out, rel);
            cr_assert(th_exists(path), "%s: no '%s'", name, rel);
            cr_assert_str_eq(th_json_str(json_array_get(outs, (size_t)k),
                                         "path"),
                             path);
            fh_decode(path, &img);
            cr_assert(img.w == dims[k][0] && img.h == dims[k][1],
                      "%s decodes to %dx%d", rel, img.w, img.h);
            th_image_release(&img);
            want++;
            free(path);
            free(rel);
        }
        free(name);
    }
    json_decref(arr);
    got = count_outputs();
    cr_assert_eq(got, want, "%zu files below out/, %zu expected", got, want);
}

/* A second run: every input up to date, no output touched. */
static void
check_rerun(const char *const *args, int templated)
{
    struct stat before[NINPUTS][NSIZES], after;
    json_t *arr;
    char *rel, *path;

    for (size_t i = 0; i < NINPUTS; i++)
        for (int k = 0; k < NSIZES; k++) {
            rel = expected_rel(i, k, templated);
            path = th_path(out, rel);
            th_lstat(path, &before[i][k]);
            free(path);
            free(rel);
        }
    th_run_expect(args, 0);
    arr = th_read_jsonl(rep);
    cr_assert_eq(th_count_records(arr, "skipped", "up-to-date"), NINPUTS);
    json_decref(arr);
    for (size_t i = 0; i < NINPUTS; i++)
        for (int k = 0; k < NSIZES; k++) {
            rel = expected_rel(i, k, templated);
            path = th_path(out, rel);
            th_lstat(path, &after);
            cr_assert(after.st_ino == before[i][k].st_ino &&
                          after.st_mtim.tv_nsec ==
                              before[i][k].st_mtim.tv_nsec &&
                          after.st_mtim.tv_sec == before[i][k].st_mtim.tv_sec,
                      "'%s' rewritten by the re-run", rel);
            free(path);
            free(rel);
        }
}

Test(names_matrix, two_roots_three_sizes_default_names)
{
    char *a = th_path(in, "a"), *b = th_path(in, "b");
    const char *args[] = { "thumbnail", "-s", "100", "-s", "200x150",
                           "-s", "320", "--report", rep, a, b, "-o", out,
                           NULL };

    make_inputs();
    th_run_expect(args, 0);
    check_matrix(0);
    check_rerun(args, 0);
    free(a);
    free(b);
}

Test(names_matrix, two_roots_three_sizes_with_name)
{
    char *a = th_path(in, "a"), *b = th_path(in, "b");
    const char *args[] = { "thumbnail", "--sizes", "100,200x150,320",
                           "--name", "{stem}-{size}.jpg", "--report", rep,
                           a, b, "-o", out, NULL };

    make_inputs();
    th_run_expect(args, 0);
    check_matrix(1);
    check_rerun(args, 1);
    free(a);
    free(b);
}

/* Exactly @n files below out/ (the state excluded), each of @rels there
 * and decoding to the given size. */
static void
check_exact(const char *const *rels, const int (*wh)[2], size_t n)
{
    struct th_image img;
    size_t got;
    char *path;

    for (size_t j = 0; j < n; j++) {
        path = th_path(out, rels[j]);
        cr_assert(th_exists(path), "no '%s'", rels[j]);
        fh_decode(path, &img);
        cr_assert(img.w == wh[j][0] && img.h == wh[j][1],
                  "%s decodes to %dx%d", rels[j], img.w, img.h);
        th_image_release(&img);
        free(path);
    }
    got = count_outputs();
    cr_assert_eq(got, n, "%zu files below out/, %zu expected", got, n);
}

/* One root, several sizes: out/<size>/<path>, no root directory. */
Test(names_matrix, one_root_several_sizes_keeps_its_names)
{
    static const char *const rels[] = { "100/x.jpg", "100/sub/y.jpg",
                                        "320/x.jpg", "320/sub/y.jpg" };
    static const int wh[][2] = { { 100, 75 }, { 100, 75 }, { 320, 240 },
                                 { 320, 240 } };
    char *a = th_path(in, "a");
    const char *args[] = { "thumbnail", "-s", "100", "-s", "320", a, "-o",
                           out, NULL };

    make_inputs();
    th_run_expect(args, 0);
    check_exact(rels, wh, 4);
    free(a);
}

/* One root, several sizes, --name: the template's names side by side. */
Test(names_matrix, one_root_several_sizes_with_name_keeps_its_names)
{
    static const char *const rels[] = { "x-100.jpg", "sub/y-100.jpg",
                                        "x-320.jpg", "sub/y-320.jpg" };
    static const int wh[][2] = { { 100, 75 }, { 100, 75 }, { 320, 240 },
                                 { 320, 240 } };
    char *a = th_path(in, "a");
    const char *args[] = { "thumbnail", "-s", "100", "-s", "320", "--name",
                           "{stem}-{size}.jpg", a, "-o", out, NULL };

    make_inputs();
    th_run_expect(args, 0);
    check_exact(rels, wh, 4);
    free(a);
}

/* Several roots, one size: out/<root>/<path>, no size directory. */
Test(names_matrix, two_roots_one_size_keep_their_names)
{
    static const char *const rels[] = { "a/x.jpg", "a/sub/y.jpg", "b/x.jpg",
                                        "b/deep/er/z.jpg" };
    static const int wh[][2] = { { 100, 75 }, { 100, 75 }, { 100, 75 },
                                 { 100, 75 } };
    char *a = th_path(in, "a"), *b = th_path(in, "b");
    const char *args[] = { "thumbnail", "-s", "100", a, b, "-o", out, NULL };

    make_inputs();
    th_run_expect(args, 0);
    check_exact(rels, wh, 4);
    free(a);
    free(b);
}

/* One root, one size: the mirrored tree. */
Test(names_matrix, one_root_one_size_keeps_its_names)
{
    static const char *const rels[] = { "x.jpg", "sub/y.jpg" };
    static const int wh[][2] = { { 100, 75 }, { 100, 75 } };
    char *a = th_path(in, "a");
    const char *args[] = { "thumbnail", "-s", "100", a, "-o", out, NULL };

    make_inputs();
    th_run_expect(args, 0);
    check_exact(rels, wh, 2);
    free(a);
}
