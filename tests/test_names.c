/*
 * test_names.c - the built imgpool binary and output names (issue 12,
 * items 1-3): a name once given stays with its input, several INPUT roots
 * each get a directory, the same file reached twice is processed once, and
 * nothing found is never silent.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "helpers.h"

#include "e2e_fixture.h"

E2E_TREE

TestSuite(names, .init = e2e_setup, .fini = e2e_teardown, .timeout = 120);

/* A 1x1 GIF (red), written by hand: the testdata has no GIF. */
static void
write_gif(const char *path)
{
    static const unsigned char gif[] = {
        'G', 'I', 'F', '8', '9', 'a', 1, 0, 1, 0, 0x80, 0, 0,
        0xff, 0, 0, 0, 0, 0,
        0x21, 0xf9, 4, 0, 0, 0, 0, 0,
        0x2c, 0, 0, 0, 0, 1, 0, 1, 0, 0,
        2, 2, 0x44, 1, 0, 0x3b,
    };

    th_write_file(path, gif, sizeof(gif));
}

/* The record for @suffix: its status, reason (NULL for any) and output
 * (a path ending in @out; NULL: no output). */
static void
assert_rec(json_t *arr, const char *suffix, const char *status,
           const char *reason, const char *out_suffix)
{
    json_t *rec = th_find_record(arr, suffix);
    const char *o;

    cr_assert(rec != NULL, "no record for '%s'", suffix);
    cr_assert_str_eq(th_json_str(rec, "status"), status, "'%s'", suffix);
    if (reason)
        cr_assert_str_eq(th_json_str(rec, "reason"), reason, "'%s'", suffix);
    o = th_json_str(rec, "output");
    if (!out_suffix) {
        cr_assert_null(o, "'%s' has output '%s'", suffix, o);
        return;
    }
    cr_assert(o != NULL, "'%s' has no output", suffix);
    cr_assert(strlen(o) >= strlen(out_suffix) &&
                  strcmp(o + strlen(o) - strlen(out_suffix), out_suffix) == 0,
              "'%s' -> '%s', expected '...%s'", suffix, o, out_suffix);
}

/* Issue 12, case 1: q.png gives q.jpg; q.gif and q.jpeg arrive (both
 * before q.png in name order); q.png keeps q.jpg, untouched, and the
 * newcomers get the fallback names. */
Test(names, a_name_stays_with_its_input)
{
    const char *args[] = { "thumbnail", in, "-o", out, "--report", rep,
                           NULL };
    char *q = th_path(in, "q.png"), *gif = th_path(in, "q.gif");
    char *jpeg = th_path(in, "q.jpeg"), *thumb = th_path(out, "q.jpg");
    char *before, *after;
    size_t n1, n2;
    struct stat st1, st2;
    json_t *arr;

    th_copy_file(TESTDATA_DIR "/rgba.png", q);
    arr = run_and_read(args, 0, rep);
    assert_rec(arr, "/q.png", "ok", NULL, "/out/q.jpg");
    json_decref(arr);
    before = th_read_file(thumb, &n1);
    cr_assert_eq(stat(thumb, &st1), 0);

    write_gif(gif);
    th_copy_file(TESTDATA_DIR "/rgb.jpg", jpeg);
    arr = run_and_read(args, 0, rep);
    assert_rec(arr, "/q.png", "skipped", "up-to-date", "/out/q.jpg");
    assert_rec(arr, "/q.gif", "ok", NULL, "/out/q.gif.jpg");
    assert_rec(arr, "/q.jpeg", "ok", NULL, "/out/q.jpeg.jpg");
    json_decref(arr);
    after = th_read_file(thumb, &n2);
    cr_assert_eq(stat(thumb, &st2), 0);
    cr_assert(n1 == n2 && memcmp(before, after, n1) == 0,
              "q.png's thumbnail was replaced");
    cr_assert_eq(st1.st_ino, st2.st_ino, "q.jpg was rewritten");
    cr_assert_not(th_exists(th_path(out, "q.png.jpg")), "q.png moved");

    /* And again: nothing moves, nothing is redone. */
    arr = run_and_read(args, 0, rep);
    cr_assert_eq(th_count_records(arr, "skipped", "up-to-date"), 3);
    assert_rec(arr, "/q.gif", "skipped", "up-to-date", "/out/q.gif.jpg");
    json_decref(arr);
    free(before);
    free(after);
    free(q);
    free(gif);
    free(jpeg);
    free(thumb);
}

/* A name recorded for an input that exists but is not part of this run
 * (excluded here) is not taken either. */
Test(names, an_excluded_inputs_name_is_not_taken)
{
    const char *first[] = { "thumbnail", in, "-o", out, NULL };
    const char *second[] = { "thumbnail", in, "-o", out, "--report", rep,
                             "--exclude", "q.png", NULL };
    char *q = th_path(in, "q.png"), *gif = th_path(in, "q.gif");
    char *thumb = th_path(out, "q.jpg"), *before, *after;
    size_t n1, n2;
    json_t *arr;

    struct th_run r;

    th_copy_file(TESTDATA_DIR "/rgba.png", q);
    th_run(&r, first);
    cr_assert_eq(r.status, 0, "%s", r.err);
    th_run_release(&r);
    before = th_read_file(thumb, &n1);
    write_gif(gif);
    arr = run_and_read(second, 0, rep);
    assert_rec(arr, "/q.gif", "ok", NULL, "/out/q.gif.jpg");
    json_decref(arr);
    after = th_read_file(thumb, &n2);
    cr_assert(n1 == n2 && memcmp(before, after, n1) == 0);
    free(before);
    free(after);
    free(q);
    free(gif);
    free(thumb);
}

/* Issue 12, case 2: coll/2023 coll/2024 other/2023 -> out/2023/,
 * out/2024/, out/2023-2/; nothing flattened into out/. */
Test(names, several_roots_get_a_directory_each)
{
    char *c23 = th_path(tmp, "coll/2023"), *c24 = th_path(tmp, "coll/2024");
    char *o23 = th_path(tmp, "other/2023");
    const char *args[] = { "thumbnail", c23, c24, o23, "-o", out,
                           "--report", rep, NULL };
    char *p;
    json_t *arr;

    th_mkdirs(c23);
    th_mkdirs(c24);
    th_mkdirs(o23);
    p = th_path(c23, "IMG_0001.jpg");
    th_copy_file(TESTDATA_DIR "/rgb.jpg", p);
    free(p);
    p = th_path(c24, "IMG_0001.jpg");
    th_copy_file(TESTDATA_DIR "/gray.jpg", p);
    free(p);
    p = th_path(o23, "sub/IMG_0001.jpg");
    th_mkdirs(th_path(o23, "sub"));
    th_copy_file(TESTDATA_DIR "/cmyk.jpg", p);
    free(p);

    arr = run_and_read(args, 0, rep);
    assert_rec(arr, "coll/2023/IMG_0001.jpg", "ok", NULL,
               "/out/2023/IMG_0001.jpg");
    assert_rec(arr, "coll/2024/IMG_0001.jpg", "ok", NULL,
               "/out/2024/IMG_0001.jpg");
    assert_rec(arr, "other/2023/sub/IMG_0001.jpg", "ok", NULL,
               "/out/2023-2/sub/IMG_0001.jpg");
    json_decref(arr);
    p = th_path(out, "2023/IMG_0001.jpg");
    th_assert_thumbnail(p, 300);
    free(p);
    cr_assert_not(th_exists(th_path(out, "IMG_0001.jpg")));
    cr_assert_not(th_exists(th_path(out, "IMG_0001.jpg.jpg")));

    /* The same again: every name is where it was, nothing redone. */
    arr = run_and_read(args, 0, rep);
    cr_assert_eq(th_count_records(arr, "skipped", "up-to-date"), 3);
    json_decref(arr);
    free(c23);
    free(c24);
    free(o23);
}

/* Issue 12, case 2: the same file reached twice is processed once and
 * reported once more as a duplicate: a root named twice, nested roots.  A
 * hard link is a name of its own and gets its own output. */
Test(names, the_same_file_twice_is_processed_once)
{
    char *sub = th_path(in, "sub"), *a = th_path(in, "a.jpg");
    char *b = th_path(sub, "b.jpg"), *link_ = th_path(in, "z-link.jpg");
    const char *twice[] = { "thumbnail", in, in, "-o", out, "--report", rep,
                            NULL };
    const char *nested[] = { "thumbnail", in, sub, "-o", out,
                             "--report", rep, "--no-incremental", NULL };
    json_t *arr;

    th_mkdirs(sub);
    th_copy_file(TESTDATA_DIR "/rgb.jpg", a);
    th_copy_file(TESTDATA_DIR "/gray.jpg", b);
    cr_assert_eq(link(a, link_), 0);

    arr = run_and_read(twice, 0, rep);
    /* One root really: into out/ as with a single INPUT. */
    cr_assert_eq(th_count_records(arr, "ok", NULL), 3,
                 "a.jpg, sub/b.jpg, z-link.jpg");
    cr_assert_eq(th_count_records(arr, "skipped", "duplicate"), 3,
                 "the second root's three files");
    cr_assert_eq(th_json_int(th_summary(arr), "total"), 6);
    cr_assert(th_exists(th_path(out, "a.jpg")));
    cr_assert(th_exists(th_path(out, "sub/b.jpg")));
    cr_assert(th_exists(th_path(out, "z-link.jpg")), "a hard link has its "
              "own output");
    json_decref(arr);

    arr = run_and_read(nested, 0, rep);
    cr_assert_eq(th_count_records(arr, "ok", NULL), 3);
    cr_assert_eq(th_count_records(arr, "skipped", "duplicate"), 1,
                 "sub/b.jpg via the second root");
    json_decref(arr);
    free(sub);
    free(a);
    free(b);
    free(link_);
}

/* Issue 12, case 3: an INPUT that yields no image says so on stderr, also
 * unattended (stderr is not a terminal here); exit 0. */
Test(names, an_input_without_images_is_not_silent)
{
    char *empty = th_path(tmp, "empty"), *notes = th_path(tmp, "txt");
    char *f = th_path(notes, "notes.txt"), *want;
    const char *args[] = { "thumbnail", in, empty, notes, "-o", out, NULL };
    struct th_run r;

    th_mkdirs(empty);
    th_mkdirs(notes);
    th_write_file(f, "hello\n", 6);
    th_copy_testdata(in, "rgb.jpg", "rgb.jpg");
    th_run(&r, args);
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_assert(asprintf(&want, "no image found in '%s'", empty) > 0);
    cr_assert(strstr(r.err, want), "stderr: %s", r.err);
    free(want);
    cr_assert(asprintf(&want, "no image found in '%s'", notes) > 0);
    cr_assert(strstr(r.err, want), "stderr: %s", r.err);
    free(want);
    cr_assert(asprintf(&want, "no image found in '%s'", in) > 0);
    cr_assert_null(strstr(r.err, want), "an INPUT with an image warned");
    th_run_release(&r);
    free(want);
    free(empty);
    free(notes);
    free(f);
}

/* Issue 12, case 3: an explicitly named file no loader reads gets a
 * record instead of vanishing. */
Test(names, a_named_unreadable_file_gets_a_record)
{
    char *svg = th_path(in, "p.svg");
    const char *args[] = { "thumbnail", svg, "-o", out, "--report", rep,
                           NULL };
    json_t *arr, *rec;

    th_write_file(svg, "<svg xmlns='http://www.w3.org/2000/svg'/>\n", 42);
    arr = run_and_read(args, 1, rep);
    rec = th_find_record(arr, "/p.svg");
    cr_assert(rec != NULL, "the named file has no record");
    cr_assert_str_eq(th_json_str(rec, "status"), "failed");
    cr_assert_eq(th_json_int(th_summary(arr), "total"), 1);
    cr_assert_eq(th_json_int(th_summary(arr), "ignored"), 0);
    json_decref(arr);
    free(svg);
}
