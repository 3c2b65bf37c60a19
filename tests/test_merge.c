/*
 * test_merge.c - `imgpool report merge`: records pass through unchanged,
 * the summary is recounted, bad input is refused.
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "helpers.h"
#include "merge.h"

TestSuite(merge, .init = th_dir_setup, .fini = th_dir_teardown);

static char *
write_report(const char *name, const char *text)
{
    char *p = th_path(th_dir, name);
    th_write_file(p, text, strlen(text));
    return p;
}

Test(merge, records_kept_summary_recounted)
{
    char *a = write_report("a.jsonl",
        "{\"path\":\"x/1.jpg\",\"status\":\"ok\",\"in_bytes\":100,"
        "\"out_bytes\":10,\"warnings\":[\"w\"]}\n"
        "{\"path\":\"x/2.jpg\",\"status\":\"failed\",\"error\":"
        "{\"class\":\"decode-error\",\"message\":\"m\"}}\n"
        "{\"summary\":true,\"total\":2,\"ignored\":3,\"excluded\":1,"
        "\"seconds\":1.5,\"interrupted\":null}\n");
    char *b = write_report("b.jsonl",
        "{\"path\":\"y/3.png\",\"status\":\"skipped\",\"reason\":"
        "\"interrupted\"}\n"
        "{\"path\":\"y/4.png\",\"status\":\"ok\",\"in_bytes\":50,"
        "\"out_bytes\":5}\n"
        "{\"summary\":true,\"total\":2,\"ignored\":2,\"excluded\":0,"
        "\"seconds\":2.25,\"interrupted\":15}\n");
    char *c = write_report("c.jsonl",   /* a killed run: no summary */
        "{\"path\":\"z/5.jpg\",\"status\":\"ok\",\"in_bytes\":1,"
        "\"out_bytes\":1}\n");
    char *out = th_path(th_dir, "merged.jsonl");
    const char *in[] = { a, b, c };
    struct merge_totals t;
    FILE *f = fopen(out, "w");
    json_t *arr, *sum;

    cr_assert_eq(report_merge(in, 3, f, &t), 0);
    fclose(f);
    cr_assert_eq(t.total, 5);
    cr_assert_eq(t.failed, 1);
    arr = th_read_jsonl(out);
    cr_assert_eq(json_array_size(arr), 6);
    cr_assert_str_eq(json_string_value(json_object_get(
                         json_array_get(arr, 2), "path")), "y/3.png");
    sum = json_array_get(arr, 5);
    cr_assert(json_is_true(json_object_get(sum, "summary")));
    cr_assert_eq(json_integer_value(json_object_get(sum, "total")), 5);
    cr_assert_eq(json_integer_value(json_object_get(sum, "ok")), 3);
    cr_assert_eq(json_integer_value(json_object_get(sum, "skipped")), 1);
    cr_assert_eq(json_integer_value(json_object_get(sum, "failed")), 1);
    cr_assert_eq(json_integer_value(json_object_get(sum, "ignored")), 5);
    cr_assert_eq(json_integer_value(json_object_get(sum, "excluded")), 1);
    cr_assert_eq(json_integer_value(json_object_get(sum, "warnings")), 1);
    cr_assert_eq(json_integer_value(json_object_get(sum, "bytes_in")), 151);
    cr_assert_eq(json_integer_value(json_object_get(sum, "bytes_out")), 16);
    cr_assert_float_eq(json_number_value(json_object_get(sum, "seconds")),
                       2.25, 1e-9);
    cr_assert_eq(json_integer_value(json_object_get(sum, "interrupted")), 15);
    cr_assert_eq(json_integer_value(json_object_get(sum, "runs")), 3);
    cr_assert_eq(json_integer_value(json_object_get(sum, "incomplete")), 1);
    cr_assert_eq(json_integer_value(json_object_get(
                     json_object_get(sum, "by_class"), "decode-error")), 1);
    cr_assert_eq(json_integer_value(json_object_get(
                     json_object_get(sum, "by_class"), "interrupted")), 1);
    json_decref(arr);
    free(a);
    free(b);
    free(c);
    free(out);
}

Test(merge, malformed_line_is_refused)
{
    char *a = write_report("bad.jsonl", "{\"path\":\"x\",\"status\":\"ok\"}\n"
                                        "not json\n");
    const char *in[] = { a };
    FILE *f = fopen("/dev/null", "w");

    cr_assert_eq(report_merge(in, 1, f, NULL), -1);
    fclose(f);
    free(a);
}

Test(merge, missing_file_is_refused)
{
    const char *in[] = { "/nonexistent/report.jsonl" };
    FILE *f = fopen("/dev/null", "w");

    cr_assert_eq(report_merge(in, 1, f, NULL), -1);
    fclose(f);
}

/* report_merge() of @in (@n paths) into a new file; its stderr into *err
 * and the merged lines into *arr (callers free both). */
static int
merge_captured(const char *const *in, size_t n, struct merge_totals *t,
               json_t **arr, char **err)
{
    char *out = th_path(th_dir, "merged.jsonl");
    char *errpath = th_path(th_dir, "err");
    FILE *f = fopen(out, "w");
    int saved, fd, rc;

    cr_assert(f);
    fflush(stderr);
    saved = dup(2);
    fd = open(errpath, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(fd, 2);
    close(fd);
    rc = report_merge(in, n, f, t);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    fclose(f);
    *arr = th_read_jsonl(out);
    *err = th_read_file(errpath, NULL);
    free(out);
    free(errpath);
    return rc;
}

static const char one_run[] =
    "{\"path\":\"x/1.jpg\",\"status\":\"ok\",\"in_bytes\":100,"
    "\"out_bytes\":10}\n"
    "{\"path\":\"x/2.jpg\",\"status\":\"failed\",\"error\":"
    "{\"class\":\"decode-error\",\"message\":\"m\"}}\n"
    "{\"summary\":true,\"total\":2,\"seconds\":8.9,\"interrupted\":null}\n";

/* The same report twice, or a copy of it: merged once, and said so. */
Test(merge, the_same_report_twice_is_merged_once)
{
    char *a = write_report("a.jsonl", one_run);
    char *b = write_report("copy.jsonl", one_run);
    const char *twice[] = { a, a };
    const char *copy[] = { a, b };
    const char *const *cases[] = { twice, copy };
    struct merge_totals t;
    json_t *arr, *sum;
    char *err;

    for (int i = 0; i < 2; i++) {
        cr_assert_eq(merge_captured(cases[i], 2, &t, &arr, &err), 0);
        cr_assert_eq(t.total, 2, "case %d: %zu records counted", i, t.total);
        cr_assert_eq(t.failed, 1);
        cr_assert_eq(json_array_size(arr), 3, "two records and a summary");
        sum = json_array_get(arr, 2);
        cr_assert_eq(json_integer_value(json_object_get(sum, "total")), 2);
        cr_assert_eq(json_integer_value(json_object_get(sum, "runs")), 1);
        cr_assert(strstr(err, i ? "is a copy of" : "is the same file as") &&
                  strstr(err, "merged once"), "case %d: stderr '%s'", i, err);
        json_decref(arr);
        free(err);
    }
    free(a);
    free(b);
}

/* Two different runs that share paths: each record counts (they are two
 * runs), and the overlap is named. */
Test(merge, overlapping_runs_are_named)
{
    char *a = write_report("a.jsonl", one_run);
    char *b = write_report("b.jsonl",
        "{\"path\":\"x/1.jpg\",\"status\":\"skipped\",\"reason\":"
        "\"up-to-date\"}\n"
        "{\"summary\":true,\"total\":1,\"seconds\":0.25}\n");
    const char *in[] = { a, b };
    struct merge_totals t;
    json_t *arr;
    char *err;

    cr_assert_eq(merge_captured(in, 2, &t, &arr, &err), 0);
    cr_assert_eq(t.total, 3);
    cr_assert(strstr(err, "1 record repeats the path of a record in an "
                          "earlier report ('x/1.jpg'"), "stderr '%s'", err);
    json_decref(arr);
    free(err);
    free(a);
    free(b);
}

/* Seconds come out as written, not as the nearest binary fraction's 17
 * digits (8.9000000000000004). */
Test(merge, seconds_print_rounded)
{
    char *a = write_report("a.jsonl", one_run);
    char *out = th_path(th_dir, "merged.jsonl"), *text;
    const char *in[] = { a };
    FILE *f = fopen(out, "w");

    cr_assert_eq(report_merge(in, 1, f, NULL), 0);
    fclose(f);
    text = th_read_file(out, NULL);
    cr_assert(strstr(text, "\"seconds\":8.9,"), "%s", text);
    free(text);
    free(out);
    free(a);
}
