/*
 * test_merge.c - `imgpool report merge`: records pass through unchanged,
 * the summary is recounted, bad input is refused.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"
#include "merge.h"

static char *dir;

static void
setup(void)
{
    dir = th_mkdtemp();
}

static void
teardown(void)
{
    th_rmrf(dir);
    free(dir);
}

TestSuite(merge, .init = setup, .fini = teardown);

static char *
write_report(const char *name, const char *text)
{
    char *p = th_path(dir, name);
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
    char *out = th_path(dir, "merged.jsonl");
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
