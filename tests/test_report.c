/*
 * test_report.c - the JSON Lines records, the summary and the progress line.
 *
 * Records are parsed back with jansson and checked key by key, so the tests
 * pin the schema in docs/REPORT.md rather than a byte layout.  stderr is
 * captured by pointing fd 2 at a file (or at a pseudo-terminal for the
 * progress bar) and restoring it afterwards.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE     /* posix_openpt(), ptsname() */
#endif

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <jansson.h>

#include "fakeclock.h"
#include "helpers.h"
#include "msg.h"
#include "report.h"
#include "report_int.h"
#include "util.h"

/* ---- fixtures ---- */

static struct task
mktask(const char *path, const char *out)
{
    struct task t;

    memset(&t, 0, sizeof(t));
    t.path = (char *)path;
    t.rel = path;
    t.out_path = (char *)out;
    return t;
}

static struct task_result
mkok(int64_t in, int64_t out)
{
    struct task_result r;

    task_result_set(&r, 0, TASK_OK, ERR_NONE, NULL);
    r.in_bytes = in;
    r.out_bytes = out;
    r.in_width = 4000;
    r.in_height = 3000;
    r.out_width = 300;
    r.out_height = 225;
    r.usec = 12345;
    return r;
}

static json_t *
record(const struct task *t, const struct task_result *res)
{
    char *line = report_record_json(t, res);
    json_error_t jerr;
    json_t *v;

    cr_assert(line != NULL, "no record");
    cr_assert(strchr(line, '\n') == NULL, "record spans lines: %s", line);
    v = json_loads(line, 0, &jerr);
    cr_assert(v != NULL, "invalid JSON '%s': %s", line, jerr.text);
    free(line);
    return v;
}

static const char *
jstr(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);

    cr_assert(json_is_string(v), "'%s' is not a string", key);
    return json_string_value(v);
}

static json_int_t
jint(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);

    cr_assert(json_is_integer(v), "'%s' is not an integer", key);
    return json_integer_value(v);
}

static void
assert_null(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);

    cr_assert(v != NULL, "'%s' missing", key);
    cr_assert(json_is_null(v), "'%s' is not null", key);
}

static void
assert_absent(json_t *o, const char *key)
{
    cr_assert(json_object_get(o, key) == NULL, "'%s' should be absent", key);
}

/* Decoder independent of the one under test; -1 on malformed input. */
static int
b64_decode(const char *s, unsigned char *out, size_t size, size_t *len)
{
    static const char digits[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t n = strlen(s), i, o = 0;
    unsigned v = 0;
    int bits = 0;
    const char *d;

    if (n % 4 != 0)
        return -1;
    for (i = 0; i < n; i++) {
        if (s[i] == '=') {
            if (i < n - 2 || (i == n - 2 && s[n - 1] != '='))
                return -1;
            break;
        }
        d = strchr(digits, s[i]);
        if (!d || !*d)
            return -1;
        v = v << 6 | (unsigned)(d - digits);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (o >= size)
                return -1;
            out[o++] = (unsigned char)(v >> bits);
            v &= (1u << bits) - 1;
        }
    }
    *len = o;
    return 0;
}

/* Point fd 2 at a file, run, and give back what was written. */
struct capture {
    int saved;
    char *path;
};

static void
capture_begin(struct capture *c, const char *dir)
{
    int fd;

    c->path = th_path(dir, "stderr.txt");
    fflush(stderr);
    c->saved = dup(STDERR_FILENO);
    cr_assert(c->saved >= 0);
    fd = open(c->path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    cr_assert(fd >= 0);
    cr_assert(dup2(fd, STDERR_FILENO) == STDERR_FILENO);
    close(fd);
}

static char *
capture_end(struct capture *c)
{
    char *text;

    fflush(stderr);
    dup2(c->saved, STDERR_FILENO);
    close(c->saved);
    text = th_read_file(c->path, NULL);
    free(c->path);
    return text;
}

static size_t
count_lines(const char *s, const char *needle)
{
    size_t n = 0;
    const char *p = strstr(s, needle);

    while (p) {
        n++;
        p = strstr(p + strlen(needle), needle);
    }
    return n;
}

/* ---- records ---- */

Test(report, record_ok_has_every_key)
{
    struct task t = mktask("in/a.jpg", "out/a.jpg");
    struct task_result r = mkok(1000, 200);
    json_t *o = record(&t, &r);

    cr_assert_str_eq(jstr(o, "path"), "in/a.jpg");
    cr_assert_str_eq(jstr(o, "status"), "ok");
    cr_assert_str_eq(jstr(o, "output"), "out/a.jpg");
    cr_assert_eq(jint(o, "in_bytes"), 1000);
    cr_assert_eq(jint(o, "out_bytes"), 200);
    cr_assert_eq(jint(o, "in_width"), 4000);
    cr_assert_eq(jint(o, "in_height"), 3000);
    cr_assert_eq(jint(o, "out_width"), 300);
    cr_assert_eq(jint(o, "out_height"), 225);
    cr_assert(json_is_number(json_object_get(o, "ms")));
    cr_assert_float_eq(json_number_value(json_object_get(o, "ms")), 12.3,
                       1e-9);
    assert_absent(o, "error");
    assert_absent(o, "reason");
    assert_absent(o, "warnings");
    assert_absent(o, "path_b64");
    assert_absent(o, "output_b64");
    cr_assert_eq(json_object_size(o), 11);
    json_decref(o);
}

Test(report, record_key_order_is_stable)
{
    struct task t = mktask("a.jpg", "o/a.jpg");
    struct task_result r = mkok(1, 1);
    char *line = report_record_json(&t, &r);
    const char *head = "{\"path\":\"a.jpg\",\"status\":\"ok\","
                       "\"output\":\"o/a.jpg\",\"in_bytes\":1,";

    cr_assert(strncmp(line, head, strlen(head)) == 0, "%s", line);
    cr_assert(strstr(line, "\"ms\":12.3}") != NULL, "%s", line);
    free(line);
}

Test(report, record_failed_has_error_and_nulls)
{
    struct task t = mktask("in/bad.jpg", NULL);
    struct task_result r;
    json_t *o, *err;

    task_result_set(&r, 3, TASK_FAILED, ERR_DECODE, "premature end of %s",
                    "JPEG file");
    r.in_bytes = 77;
    o = record(&t, &r);
    cr_assert_str_eq(jstr(o, "status"), "failed");
    assert_null(o, "output");
    err = json_object_get(o, "error");
    cr_assert(json_is_object(err));
    cr_assert_eq(json_object_size(err), 2);
    cr_assert_str_eq(jstr(err, "class"), "decode-error");
    cr_assert_str_eq(jstr(err, "message"), "premature end of JPEG file");
    cr_assert_eq(jint(o, "in_bytes"), 77);
    assert_null(o, "out_bytes");
    assert_null(o, "in_width");
    assert_null(o, "in_height");
    assert_null(o, "out_width");
    assert_null(o, "out_height");
    cr_assert_float_eq(json_number_value(json_object_get(o, "ms")), 0, 1e-9);
    assert_absent(o, "reason");
    json_decref(o);
}

Test(report, record_failed_uses_planner_message)
{
    struct task t = mktask("in/a.png", "out/a.jpg");
    struct task_result r;
    json_t *o;

    t.pre_msg = "output name collides with another input's output";
    task_result_set(&r, 0, TASK_FAILED, ERR_OUTPUT_CONFLICT, NULL);
    o = record(&t, &r);
    cr_assert_str_eq(jstr(json_object_get(o, "error"), "class"),
                     "output-conflict");
    cr_assert_str_eq(jstr(json_object_get(o, "error"), "message"),
                     t.pre_msg);
    cr_assert_str_eq(jstr(o, "output"), "out/a.jpg");
    json_decref(o);
}

Test(report, record_skipped_reason)
{
    struct task t = mktask("in/fifo.jpg", NULL);
    struct task_result r;
    json_t *o;

    task_result_set(&r, 0, TASK_SKIPPED, ERR_NOT_REGULAR, NULL);
    o = record(&t, &r);
    cr_assert_str_eq(jstr(o, "status"), "skipped");
    cr_assert_str_eq(jstr(o, "reason"), "not-a-regular-file");
    assert_absent(o, "error");
    json_decref(o);

    task_result_set(&r, 0, TASK_SKIPPED, ERR_NONE, NULL);
    o = record(&t, &r);
    assert_absent(o, "reason");
    assert_absent(o, "error");
    json_decref(o);
}

Test(report, record_warnings_split_on_newlines)
{
    struct task t = mktask("w.jpg", "o/w.jpg");
    struct task_result r = mkok(10, 5);
    json_t *o, *w;

    r.nwarnings = 3;
    strcpy(r.warning, "corrupt JPEG data: 12 extraneous bytes\n\n"
                      "premature end\n");
    o = record(&t, &r);
    w = json_object_get(o, "warnings");
    cr_assert(json_is_array(w));
    cr_assert_eq(json_array_size(w), 2);
    cr_assert_str_eq(json_string_value(json_array_get(w, 0)),
                     "corrupt JPEG data: 12 extraneous bytes");
    cr_assert_str_eq(json_string_value(json_array_get(w, 1)),
                     "premature end");
    json_decref(o);

    /* Text without a count is not reported. */
    r.nwarnings = 0;
    o = record(&t, &r);
    assert_absent(o, "warnings");
    json_decref(o);
}

Test(report, record_message_escaping_round_trips)
{
    struct task t = mktask("q\"uote\\d\t.jpg", NULL);
    struct task_result r;
    json_t *o;
    const char *msg = "line1\nline2 \"quoted\" \x1b[31m \\ end";

    task_result_set(&r, 0, TASK_FAILED, ERR_READ, "%s", msg);
    o = record(&t, &r);
    cr_assert_str_eq(jstr(o, "path"), "q\"uote\\d\t.jpg");
    assert_absent(o, "path_b64");
    cr_assert_str_eq(jstr(json_object_get(o, "error"), "message"), msg);
    json_decref(o);

    /* A message that is not UTF-8 still yields valid JSON. */
    task_result_set(&r, 0, TASK_FAILED, ERR_READ, "bad \xff byte");
    o = record(&t, &r);
    cr_assert_str_eq(jstr(json_object_get(o, "error"), "message"),
                     "bad \xef\xbf\xbd byte");
    json_decref(o);
}

Test(report, record_message_without_nul_is_bounded)
{
    struct task t = mktask("a.jpg", NULL);
    struct task_result r;
    json_t *o;

    task_result_set(&r, 0, TASK_FAILED, ERR_INTERNAL, NULL);
    memset(r.message, 'x', sizeof(r.message));
    memset(r.warning, 'y', sizeof(r.warning));
    r.nwarnings = 1;
    o = record(&t, &r);
    cr_assert_eq(strlen(jstr(json_object_get(o, "error"), "message")),
                 RESULT_MSG_MAX);
    cr_assert_eq(strlen(json_string_value(
                     json_array_get(json_object_get(o, "warnings"), 0))),
                 RESULT_MSG_MAX);
    json_decref(o);
}

Test(report, record_ms_rounding)
{
    static const struct {
        int64_t usec;
        double ms;
    } cases[] = {
        {0, 0}, {49, 0}, {50, 0.1}, {999, 1.0}, {12345, 12.3},
        {1234567, 1234.6}, {86400000000LL, 86400000.0},
    };
    struct task t = mktask("a.jpg", NULL);
    struct task_result r = mkok(1, 1);
    size_t i;
    json_t *o;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        r.usec = cases[i].usec;
        o = record(&t, &r);
        cr_assert_float_eq(json_number_value(json_object_get(o, "ms")),
                           cases[i].ms, 1e-9, "usec %lld",
                           (long long)cases[i].usec);
        json_decref(o);
    }
    r.usec = -1;
    o = record(&t, &r);
    assert_null(o, "ms");
    json_decref(o);
}

/* ---- paths that are not UTF-8 ---- */

Test(report, invalid_utf8_path_gets_exact_bytes_in_base64)
{
    static const struct {
        const char *path;
        const char *shown;   /* "path" after replacement */
    } cases[] = {
        {"in/\xff.jpg", "in/\xef\xbf\xbd.jpg"},
        {"\x80", "\xef\xbf\xbd"},
        {"over\xc0\xaf.jpg", "over\xef\xbf\xbd\xef\xbf\xbd.jpg"},
        {"o3\xe0\x80\xaf", "o3\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"},
        {"sur\xed\xa0\x80", "sur\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"},
        {"big\xf4\x90\x80\x80",
         "big\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"},
        {"cut\xe2\x82", "cut\xef\xbf\xbd\xef\xbf\xbd"},
        {"latin1-caf\xe9.jpg", "latin1-caf\xef\xbf\xbd.jpg"},
        {"f5\xf5\x80\x80\x80",
         "f5\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"},
    };
    unsigned char bytes[64];
    size_t i, n;
    struct task t;
    struct task_result r = mkok(1, 1);
    json_t *o;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        t = mktask(cases[i].path, NULL);
        o = record(&t, &r);
        cr_assert_str_eq(jstr(o, "path"), cases[i].shown, "case %zu", i);
        cr_assert_eq(b64_decode(jstr(o, "path_b64"), bytes, sizeof(bytes),
                                &n),
                     0, "case %zu: bad base64", i);
        cr_assert_eq(n, strlen(cases[i].path), "case %zu", i);
        cr_assert_arr_eq(bytes, cases[i].path, n, "case %zu", i);
        json_decref(o);
    }
}

Test(report, valid_utf8_path_has_no_base64)
{
    static const char *const paths[] = {
        "caf\xc3\xa9.jpg",                 /* é */
        "\xe2\x82\xac.png",                /* € */
        "\xf0\x9f\x98\x80.jpg",            /* U+1F600 */
        "\xf4\x8f\xbf\xbf",                /* U+10FFFF */
        "\xed\x9f\xbf",                    /* U+D7FF, below surrogates */
        "\xee\x80\x80",                    /* U+E000, above them */
    };
    struct task_result r = mkok(1, 1);
    struct task t;
    size_t i;
    json_t *o;

    for (i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
        t = mktask(paths[i], paths[i]);
        o = record(&t, &r);
        cr_assert_str_eq(jstr(o, "path"), paths[i], "case %zu", i);
        cr_assert_str_eq(jstr(o, "output"), paths[i], "case %zu", i);
        assert_absent(o, "path_b64");
        assert_absent(o, "output_b64");
        json_decref(o);
    }
}

Test(report, base64_padding_and_output_b64)
{
    /* RFC 4648 test vectors, each made invalid UTF-8 by a leading 0xff. */
    static const struct {
        const char *s;
        const char *b64;
    } cases[] = {
        {"\xff", "/w=="},
        {"\xff" "f", "/2Y="},
        {"\xff" "fo", "/2Zv"},
        {"\xff" "foo", "/2Zvbw=="},
        {"\xff" "foob", "/2Zvb2I="},
        {"\xff" "fooba", "/2Zvb2Jh"},
    };
    struct task_result r = mkok(1, 1);
    struct task t;
    size_t i;
    json_t *o;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        t = mktask("ok.jpg", cases[i].s);
        o = record(&t, &r);
        assert_absent(o, "path_b64");
        cr_assert_str_eq(jstr(o, "output_b64"), cases[i].b64, "case %zu", i);
        json_decref(o);
    }
}

/* ---- the report file and the summary ---- */

/* A run of four records: ok with warnings, ok, skipped, failed. */
static void
run_four(struct report *rep)
{
    struct task t1 = mktask("in/a.jpg", "out/a.jpg");
    struct task t2 = mktask("in/b.jpg", "out/b.jpg");
    struct task t3 = mktask("in/c.jpg", NULL);
    struct task t4 = mktask("in/d.jpg", "out/d.jpg");
    struct task_result r1 = mkok(3 * 1024 * 1024, 1024 * 1024);
    struct task_result r2 = mkok(1024 * 1024, 1024 * 1024);
    struct task_result r3, r4;

    r1.nwarnings = 1;
    strcpy(r1.warning, "extraneous bytes");
    task_result_set(&r3, 2, TASK_SKIPPED, ERR_NOT_REGULAR, NULL);
    t3.pre_status = TASK_SKIPPED;   /* settled by the scan */
    task_result_set(&r4, 3, TASK_FAILED, ERR_DECODE, "bad huffman code");
    report_start(rep, 4);
    /* Completion order, not task order. */
    report_add(rep, &t4, &r4);
    report_add(rep, &t2, &r2);
    report_add(rep, &t1, &r1);
    report_add(rep, &t3, &r3);
}

Test(report, file_has_records_in_completion_order_and_summary)
{
    char *dir = th_mkdtemp(), *path = th_path(dir, "run.jsonl"), *err;
    struct report_opts ro = {.progress = PROGRESS_NEVER};
    struct report_summary sum = {.ignored = 2, .excluded = 1};
    struct report rep;
    struct capture cap;
    json_t *arr, *s, *by;
    char *text;

    report_init(&rep, &ro);
    cr_assert_eq(report_open(&rep, path), 0);
    capture_begin(&cap, dir);
    run_four(&rep);
    cr_assert_eq(report_finish(&rep, &sum), 0);
    err = capture_end(&cap);
    report_release(&rep);

    text = th_read_file(path, NULL);
    cr_assert_eq(count_lines(text, "\n"), 5);
    cr_assert(text[strlen(text) - 1] == '\n');
    free(text);

    arr = th_read_jsonl(path);
    cr_assert_eq(json_array_size(arr), 5);
    cr_assert_str_eq(jstr(json_array_get(arr, 0), "path"), "in/d.jpg");
    cr_assert_str_eq(jstr(json_array_get(arr, 1), "path"), "in/b.jpg");
    cr_assert_str_eq(jstr(json_array_get(arr, 2), "path"), "in/a.jpg");
    cr_assert_str_eq(jstr(json_array_get(arr, 3), "path"), "in/c.jpg");
    cr_assert_eq(json_array_size(json_object_get(json_array_get(arr, 2),
                                                 "warnings")),
                 1);

    s = json_array_get(arr, 4);
    cr_assert(json_is_true(json_object_get(s, "summary")));
    assert_absent(s, "path");
    cr_assert_eq(jint(s, "total"), 4);
    cr_assert_eq(jint(s, "ok"), 2);
    cr_assert_eq(jint(s, "skipped"), 1);
    cr_assert_eq(jint(s, "failed"), 1);
    cr_assert_eq(jint(s, "ignored"), 2);
    cr_assert_eq(jint(s, "excluded"), 1);
    cr_assert_eq(jint(s, "warnings"), 1);
    cr_assert_eq(jint(s, "bytes_in"), 4 * 1024 * 1024);
    cr_assert_eq(jint(s, "bytes_out"), 2 * 1024 * 1024);
    cr_assert(json_is_number(json_object_get(s, "seconds")));
    cr_assert(json_number_value(json_object_get(s, "seconds")) >= 0);
    assert_null(s, "interrupted");
    by = json_object_get(s, "by_class");
    cr_assert(json_is_object(by));
    cr_assert_eq(json_object_size(by), 2);
    cr_assert_eq(jint(by, "decode-error"), 1);
    cr_assert_eq(jint(by, "not-a-regular-file"), 1);
    cr_assert_eq(json_object_size(s), 13);

    cr_assert(strstr(err, "imgpool: 4 files: 2 ok (1 with warnings), "
                          "1 skipped, 1 failed; 2 ignored, 1 excluded\n"),
              "%s", err);
    cr_assert(strstr(err, "imgpool: 4.0 MiB -> 2.0 MiB (-50.0%) in "), "%s",
              err);
    cr_assert(strstr(err, "imgpool: failed: 'in/d.jpg': decode-error: "
                          "bad huffman code\n"),
              "%s", err);
    cr_assert(strstr(err, "more") == NULL, "%s", err);
    json_decref(arr);
    free(err);
    free(path);
    th_rmrf(dir);
    free(dir);
}

Test(report, report_to_standard_output)
{
    char *dir = th_mkdtemp(), *path = th_path(dir, "out.jsonl");
    struct report_opts ro = {.progress = PROGRESS_NEVER, .quiet = 1};
    struct report rep;
    struct task t = mktask("a.jpg", "o/a.jpg");
    struct task_result r = mkok(5, 4);
    json_t *arr;
    int saved;

    fflush(stdout);
    saved = dup(STDOUT_FILENO);
    cr_assert(freopen(path, "w", stdout) != NULL);
    report_init(&rep, &ro);
    cr_assert_eq(report_open(&rep, "-"), 0);
    report_start(&rep, 1);
    report_add(&rep, &t, &r);
    cr_assert_eq(report_finish(&rep, NULL), 0);
    report_release(&rep);
    fflush(stdout);
    dup2(saved, STDOUT_FILENO);
    close(saved);

    arr = th_read_jsonl(path);
    cr_assert_eq(json_array_size(arr), 2);
    cr_assert_str_eq(jstr(json_array_get(arr, 0), "path"), "a.jpg");
    json_decref(arr);
    free(path);
    th_rmrf(dir);
    free(dir);
}

Test(report, quiet_success_prints_nothing)
{
    char *dir = th_mkdtemp(), *err;
    struct report_opts ro = {.progress = PROGRESS_AUTO, .quiet = 1};
    struct report rep;
    struct task t = mktask("a.jpg", "o/a.jpg");
    struct task_result r = mkok(5, 4);
    struct report_summary sum = {.ignored = 3};
    struct capture cap;

    report_init(&rep, &ro);
    capture_begin(&cap, dir);
    report_start(&rep, 1);
    report_add(&rep, &t, &r);
    cr_assert_eq(report_finish(&rep, &sum), 0);
    err = capture_end(&cap);
    report_release(&rep);
    cr_assert_str_eq(err, "");
    free(err);
    th_rmrf(dir);
    free(dir);
}

Test(report, quiet_still_reports_failures_and_interruption)
{
    char *dir = th_mkdtemp(), *err;
    struct report_opts ro = {.progress = PROGRESS_NEVER, .quiet = 1};
    struct report rep;
    struct task t = mktask("a.jpg", NULL);
    struct task_result r = mkok(5, 4);
    struct report_summary sum = {.interrupted = SIGTERM};
    struct capture cap;

    report_init(&rep, &ro);
    capture_begin(&cap, dir);
    report_start(&rep, 3);
    report_add(&rep, &t, &r);
    report_finish(&rep, &sum);
    err = capture_end(&cap);
    report_release(&rep);
    cr_assert(strstr(err, "imgpool: 3 files: 1 ok, 0 skipped, 0 failed\n"),
              "%s", err);
    cr_assert(strstr(err, "imgpool: interrupted by SIGTERM\n"), "%s", err);
    free(err);

    report_init(&rep, &ro);
    task_result_set(&r, 0, TASK_FAILED, ERR_TIMEOUT, "killed after 30 s");
    capture_begin(&cap, dir);
    report_start(&rep, 1);
    report_add(&rep, &t, &r);
    report_finish(&rep, NULL);
    err = capture_end(&cap);
    report_release(&rep);
    cr_assert(strstr(err, "imgpool: 1 file: 0 ok, 0 skipped, 1 failed\n"),
              "%s", err);
    cr_assert(strstr(err, "imgpool: failed: 'a.jpg': timeout: "
                          "killed after 30 s\n"),
              "%s", err);
    free(err);
    th_rmrf(dir);
    free(dir);
}

Test(report, interrupted_is_in_the_summary_object)
{
    char *dir = th_mkdtemp(), *path = th_path(dir, "r.jsonl"), *err;
    struct report_opts ro = {.progress = PROGRESS_NEVER};
    struct report_summary sum = {.interrupted = SIGINT};
    struct report rep;
    struct capture cap;
    json_t *arr;

    report_init(&rep, &ro);
    cr_assert_eq(report_open(&rep, path), 0);
    capture_begin(&cap, dir);
    report_start(&rep, 0);
    report_finish(&rep, &sum);
    err = capture_end(&cap);
    report_release(&rep);
    arr = th_read_jsonl(path);
    cr_assert_eq(json_array_size(arr), 1);
    cr_assert_eq(jint(json_array_get(arr, 0), "interrupted"), SIGINT);
    cr_assert_eq(jint(json_array_get(arr, 0), "total"), 0);
    cr_assert(strstr(err, "interrupted by SIGINT"), "%s", err);
    json_decref(arr);
    free(err);
    free(path);
    th_rmrf(dir);
    free(dir);
}

/* Five failures, three listed. */
static char *
run_failures(const char *dir, const char *report_path)
{
    struct report_opts ro = {.progress = PROGRESS_NEVER,
                             .max_listed_failures = 3};
    struct report rep;
    struct capture cap;
    struct task_result r;
    struct task t;
    char name[32];
    int i;

    report_init(&rep, &ro);
    if (report_path)
        cr_assert_eq(report_open(&rep, report_path), 0);
    capture_begin(&cap, dir);
    report_start(&rep, 5);
    for (i = 0; i < 5; i++) {
        snprintf(name, sizeof(name), "f%d.jpg", i);
        t = mktask(name, NULL);
        task_result_set(&r, (uint32_t)i, TASK_FAILED, ERR_DECODE, "broken");
        report_add(&rep, &t, &r);
    }
    report_finish(&rep, NULL);
    report_release(&rep);
    return capture_end(&cap);
}

Test(report, failure_list_is_capped)
{
    char *dir = th_mkdtemp(), *path = th_path(dir, "run.jsonl"), *err;
    char *want;

    err = run_failures(dir, path);
    cr_assert_eq(count_lines(err, "imgpool: failed: "), 3, "%s", err);
    cr_assert(strstr(err, "'f2.jpg'") && !strstr(err, "'f3.jpg'"), "%s",
              err);
    cr_assert(asprintf(&want, "imgpool: ... and 2 more failures, see '%s'\n",
                       path) > 0);
    cr_assert(strstr(err, want), "%s", err);
    free(want);
    free(err);

    err = run_failures(dir, NULL);
    cr_assert_eq(count_lines(err, "imgpool: failed: "), 3, "%s", err);
    cr_assert(strstr(err, "imgpool: ... and 2 more failures, use --report "
                          "FILE for the full list\n"),
              "%s", err);
    free(err);
    free(path);
    th_rmrf(dir);
    free(dir);
}

Test(report, default_lists_ten_failures)
{
    char *dir = th_mkdtemp(), *err;
    struct report_opts ro = {.progress = PROGRESS_NEVER};
    struct report rep;
    struct capture cap;
    struct task_result r;
    struct task t = mktask("x.jpg", NULL);
    int i;

    report_init(&rep, &ro);
    capture_begin(&cap, dir);
    report_start(&rep, 11);
    for (i = 0; i < 11; i++) {
        task_result_set(&r, (uint32_t)i, TASK_FAILED, ERR_READ, NULL);
        report_add(&rep, &t, &r);
    }
    report_finish(&rep, NULL);
    report_release(&rep);
    err = capture_end(&cap);
    cr_assert_eq(count_lines(err, "imgpool: failed: 'x.jpg': read-error\n"),
                 10, "%s", err);
    cr_assert(strstr(err, "and 1 more failure, use --report"), "%s", err);
    free(err);
    th_rmrf(dir);
    free(dir);
}

Test(report, summary_escapes_control_characters)
{
    char *dir = th_mkdtemp(), *err;
    struct report_opts ro = {.progress = PROGRESS_NEVER};
    struct report rep;
    struct capture cap;
    struct task_result r;
    struct task t = mktask("evil\n\x1b[2Jname\\\x7f\xff\xc2\x9b.jpg", NULL);

    task_result_set(&r, 0, TASK_FAILED, ERR_DECODE, "bad\rmsg\tend");
    report_init(&rep, &ro);
    capture_begin(&cap, dir);
    report_start(&rep, 1);
    report_add(&rep, &t, &r);
    report_finish(&rep, NULL);
    report_release(&rep);
    err = capture_end(&cap);
    cr_assert(strstr(err, "imgpool: failed: "
                          "'evil\\n\\x1b[2Jname\\\\\\x7f\\xff\\xc2\\x9b.jpg'"
                          ": decode-error: bad\\rmsg\\tend\n"),
              "%s", err);
    cr_assert(strchr(err, '\x1b') == NULL);
    cr_assert(strchr(err, '\r') == NULL);
    free(err);
    th_rmrf(dir);
    free(dir);
}

Test(report, human_units_and_growth)
{
    char *dir = th_mkdtemp(), *err;
    struct report_opts ro = {.progress = PROGRESS_NEVER};
    struct report rep;
    struct capture cap;
    struct task t = mktask("a.png", "o/a.png");
    struct task_result r = mkok(1000, 1536);

    report_init(&rep, &ro);
    capture_begin(&cap, dir);
    report_start(&rep, 1);
    report_add(&rep, &t, &r);
    report_finish(&rep, NULL);
    report_release(&rep);
    err = capture_end(&cap);
    cr_assert(strstr(err, "imgpool: 1000 B -> 1.5 KiB (+53.6%) in "), "%s",
              err);
    free(err);
    th_rmrf(dir);
    free(dir);
}

Test(report, write_error_is_reported_once)
{
    char *dir = th_mkdtemp(), *err;
    struct report_opts ro = {.progress = PROGRESS_NEVER, .quiet = 1};
    struct report rep;
    struct capture cap;
    struct task t = mktask("a.jpg", "o/a.jpg");
    struct task_result r = mkok(1, 1);

    report_init(&rep, &ro);
    cr_assert_eq(report_open(&rep, "/dev/full"), 0);
    capture_begin(&cap, dir);
    report_start(&rep, 3);
    report_add(&rep, &t, &r);
    report_add(&rep, &t, &r);
    cr_assert(rep.write_error);
    report_add(&rep, &t, &r);
    cr_assert_eq(report_finish(&rep, NULL), -1);
    report_release(&rep);
    err = capture_end(&cap);
    cr_assert_eq(count_lines(err, "imgpool: cannot write report "
                                  "'/dev/full': "),
                 1, "%s", err);
    cr_assert_eq(count_lines(err, "\n"), 1, "%s", err);
    free(err);
    th_rmrf(dir);
    free(dir);
}

Test(report, open_failure_is_an_error)
{
    char *dir = th_mkdtemp(), *err, *path;
    struct report_opts ro = {0};
    struct report rep;
    struct capture cap;

    cr_assert(asprintf(&path, "%s/no/such/r.jsonl", dir) > 0);
    report_init(&rep, &ro);
    capture_begin(&cap, dir);
    cr_assert_eq(report_open(&rep, path), -1);
    err = capture_end(&cap);
    report_release(&rep);
    cr_assert(strstr(err, "imgpool: cannot open report '"), "%s", err);
    cr_assert(strstr(err, "': No such file or directory\n"), "%s", err);
    free(err);
    free(path);
    th_rmrf(dir);
    free(dir);
}

Test(report, killed_run_leaves_whole_lines, .timeout = 10)
{
    char *dir = th_mkdtemp(), *path = th_path(dir, "k.jsonl"), *text;
    struct report_opts ro = {.progress = PROGRESS_NEVER};
    struct task t = mktask("a.jpg", "o/a.jpg");
    struct task_result r = mkok(1, 1);
    struct report rep;
    json_t *arr;
    int st, i;
    pid_t pid;

    pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) {
        report_init(&rep, &ro);
        if (report_open(&rep, path) < 0)
            _exit(2);
        report_start(&rep, 10);
        for (i = 0; i < 3; i++)
            report_add(&rep, &t, &r);
        raise(SIGKILL);
        _exit(3);
    }
    cr_assert(waitpid(pid, &st, 0) == pid);
    cr_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
    text = th_read_file(path, NULL);
    cr_assert(strlen(text) > 0 && text[strlen(text) - 1] == '\n');
    free(text);
    arr = th_read_jsonl(path);
    cr_assert_eq(json_array_size(arr), 3);
    json_decref(arr);
    free(path);
    th_rmrf(dir);
    free(dir);
}

/* ---- progress ---- */

Test(report, progress_auto_is_silent_without_a_terminal)
{
    char *dir = th_mkdtemp(), *err;
    struct report_opts ro = {.progress = PROGRESS_AUTO};
    struct report rep;
    struct capture cap;
    struct task t = mktask("a.jpg", "o/a.jpg");
    struct task_result r = mkok(1, 1);

    report_init(&rep, &ro);
    capture_begin(&cap, dir);
    report_start(&rep, 1);
    cr_assert_eq(rep.show_progress, 0);
    report_add(&rep, &t, &r);
    report_release(&rep);
    err = capture_end(&cap);
    cr_assert_str_eq(err, "");
    free(err);
    th_rmrf(dir);
    free(dir);
}

Test(report, progress_always_without_terminal_prints_plain_lines,
     .timeout = 20)
{
    char *dir = th_mkdtemp(), *err;
    struct report_opts ro = {.progress = PROGRESS_ALWAYS, .quiet = 1};
    struct report rep;
    struct capture cap;
    struct task t = mktask("a.jpg", "o/a.jpg");
    struct task_result r = mkok(1, 1), f;
    int i;

    task_result_set(&f, 0, TASK_FAILED, ERR_DECODE, "x");
    th_clock_freeze();
    report_init(&rep, &ro);
    capture_begin(&cap, dir);
    report_start(&rep, 40);
    for (i = 0; i < 20; i++)
        report_add(&rep, &t, i == 0 ? &f : &r);   /* within a second */
    th_clock_advance_us(1100 * 1000);
    report_add(&rep, &t, &r);
    report_release(&rep);
    err = capture_end(&cap);
    cr_assert(strchr(err, '\r') == NULL, "%s", err);
    cr_assert_eq(count_lines(err, "\n"), 1, "%s", err);
    cr_assert(strncmp(err, "imgpool: [21/40] 52% ", 21) == 0, "%s", err);
    cr_assert(strstr(err, " files/s "), "%s", err);
    cr_assert(strstr(err, " MiB/s ETA "), "%s", err);
    cr_assert(strstr(err, ", 1 failed\n"), "%s", err);
    free(err);
    th_rmrf(dir);
    free(dir);
}

/* Read what is available on @fd within @ms milliseconds. */
static size_t
drain(int fd, char *buf, size_t size, int ms)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    size_t len = 0;
    ssize_t n;

    while (len + 1 < size && poll(&p, 1, ms) > 0) {
        n = read(fd, buf + len, size - len - 1);
        if (n <= 0)
            break;
        len += (size_t)n;
    }
    buf[len] = '\0';
    return len;
}

/* A pseudo-terminal on fd 2, @cols wide; returns the master side. */
static int
pty_stderr(int *saved, unsigned short cols)
{
    struct winsize ws = {.ws_row = 24, .ws_col = cols};
    struct termios tio;
    int m, s;

    m = posix_openpt(O_RDWR | O_NOCTTY);
    cr_assert(m >= 0, "no pseudo-terminal: %s", strerror(errno));
    cr_assert(grantpt(m) == 0 && unlockpt(m) == 0);
    s = open(ptsname(m), O_RDWR | O_NOCTTY);
    cr_assert(s >= 0);
    cr_assert(tcgetattr(s, &tio) == 0);
    cfmakeraw(&tio);
    cr_assert(tcsetattr(s, TCSANOW, &tio) == 0);
    cr_assert(ioctl(s, TIOCSWINSZ, &ws) == 0);
    fflush(stderr);
    *saved = dup(STDERR_FILENO);
    cr_assert(dup2(s, STDERR_FILENO) == STDERR_FILENO);
    close(s);
    return m;
}

/* Every "\r"-started segment of @s fits in @cols - 1 columns. */
static void
assert_segments_fit(const char *s, size_t cols)
{
    const char *p = strchr(s, '\r'), *next;
    size_t n;

    while (p) {
        p++;
        next = strpbrk(p, "\r\033");
        n = next ? (size_t)(next - p) : strlen(p);
        cr_assert(n <= cols - 1, "segment of %zu columns in '%s'", n, s);
        p = strchr(p, '\r');
    }
}

Test(report, progress_on_terminal_is_truncated_and_cleared, .timeout = 20)
{
    struct report_opts ro = {.progress = PROGRESS_AUTO};
    struct report rep;
    struct task t = mktask("a.jpg", "o/a.jpg");
    struct task_result r = mkok(1, 1);
    char buf[8192];
    int m, saved;

    m = pty_stderr(&saved, 20);
    th_clock_freeze();
    report_init(&rep, &ro);
    report_start(&rep, 1000);
    cr_assert(rep.show_progress && rep.progress_tty);
    report_add(&rep, &t, &r);
    th_clock_advance_us(150 * 1000);
    report_add(&rep, &t, &r);    /* redraws: 100 ms have passed */
    report_add(&rep, &t, &r);    /* does not */
    report_finish(&rep, NULL);
    report_release(&rep);
    fflush(stderr);
    dup2(saved, STDERR_FILENO);
    close(saved);
    drain(m, buf, sizeof(buf), 200);
    close(m);

    cr_assert(strncmp(buf, "\r[0/1000] 0% 0.0 fil", 20) == 0, "%s", buf);
    cr_assert(strstr(buf, "\r[2/1000] 0% "), "%s", buf);
    cr_assert(strstr(buf, "\r[1/1000]") == NULL, "%s", buf);
    cr_assert(strstr(buf, "\r[3/1000]") == NULL, "%s", buf);
    assert_segments_fit(buf, 20);
    cr_assert(strstr(buf, "\033[K\r\033[Kimgpool: 1000 files: 3 ok"), "%s",
              buf);
}

Test(report, progress_width_falls_back_to_columns, .timeout = 20)
{
    struct report_opts ro = {.progress = PROGRESS_ALWAYS};
    struct report rep;
    char buf[4096];
    int m, saved;

    setenv("COLUMNS", "12", 1);
    m = pty_stderr(&saved, 0);   /* a terminal that does not know */
    report_init(&rep, &ro);
    report_start(&rep, 5);
    report_release(&rep);
    fflush(stderr);
    dup2(saved, STDERR_FILENO);
    close(saved);
    drain(m, buf, sizeof(buf), 200);
    close(m);
    cr_assert_str_eq(buf, "\r[0/5] 0% 0.\033[K");
}

/* ---- summary: files with warnings, rates ---- */

Test(report, warned_files_are_counted_apart_and_named)
{
    char *dir = th_mkdtemp(), *err;
    struct report_opts ro = {.progress = PROGRESS_NEVER,
                             .max_listed_failures = 2};
    struct report rep;
    struct capture cap;
    struct task t[5];
    struct task_result r[5];
    static const char *const names[] = {"w1.jpg", "w2.jpg", "w3.jpg",
                                        "f1.jpg", "f2.jpg"};
    int i;

    for (i = 0; i < 5; i++) {
        t[i] = mktask(names[i], "o/x.jpg");
        if (i < 3) {
            r[i] = mkok(100, 10);
            r[i].nwarnings = 2;
            snprintf(r[i].warning, sizeof(r[i].warning),
                     "premature end of data\nicc profile ignored\n");
        } else {
            task_result_set(&r[i], (uint32_t)i, TASK_FAILED, ERR_DECODE,
                            "bad huffman code");
        }
    }
    report_init(&rep, &ro);
    capture_begin(&cap, dir);
    report_start(&rep, 5);
    for (i = 0; i < 5; i++)
        report_add(&rep, &t[i], &r[i]);
    report_finish(&rep, NULL);
    err = capture_end(&cap);
    report_release(&rep);

    /* Three ok files carry warnings: they are ok, not failed. */
    cr_assert(strstr(err, "imgpool: 5 files: 3 ok (3 with warnings), "
                          "0 skipped, 2 failed\n"), "%s", err);
    cr_assert(strstr(err, "failed (") == NULL, "%s", err);
    /* Named like failures, capped alike. */
    cr_assert(strstr(err, "imgpool: with warnings: 'w1.jpg': premature end "
                          "of data; icc profile ignored\n"), "%s", err);
    cr_assert(strstr(err, "imgpool: with warnings: 'w2.jpg': "), "%s", err);
    cr_assert(strstr(err, "'w3.jpg'") == NULL, "%s", err);
    cr_assert(strstr(err, "imgpool: ... and 1 more file with warnings, use "
                          "--report FILE for the full list\n"), "%s", err);
    cr_assert_eq(count_lines(err, "imgpool: failed: "), 2, "%s", err);
    free(err);
    th_rmrf(dir);
    free(dir);
}

/* @nskip tasks the scan settled as up to date, then @nrun the pool ran
 * (1 MiB each), over two seconds of run time. */
static char *
rates_run(const char *dir, size_t nskip, size_t nrun)
{
    struct report_opts ro = {.progress = PROGRESS_NEVER};
    struct report rep;
    struct capture cap;
    struct task t = mktask("in/a.jpg", "out/a.jpg");
    struct task_result r;
    size_t i;

    report_init(&rep, &ro);
    capture_begin(&cap, dir);
    report_start(&rep, nskip + nrun);
    rep.start_us -= 2000000;
    t.pre_status = TASK_SKIPPED;
    task_result_set(&r, 0, TASK_SKIPPED, ERR_UP_TO_DATE, NULL);
    r.in_bytes = 1 << 20;
    for (i = 0; i < nskip; i++)
        report_add(&rep, &t, &r);
    t.pre_status = TASK_OK;
    t.size = 1 << 20;
    r = mkok(1 << 20, 1 << 18);
    for (i = 0; i < nrun; i++)
        report_add(&rep, &t, &r);
    task_result_set(&r, 0, TASK_SKIPPED, ERR_INTERRUPTED, NULL);
    for (i = 0; nrun > 0 && i < 500; i++)
        report_add(&rep, &t, &r);
    report_finish(&rep, NULL);
    report_release(&rep);
    return capture_end(&cap);
}

Test(report, rates_count_processed_files_only)
{
    char *dir = th_mkdtemp(), *err;
    const char *p;
    double files, mib;

    /* A no-op re-run: 20000 files up to date, nothing processed. */
    err = rates_run(dir, 20000, 0);
    cr_assert(strstr(err, "imgpool: 20000 files: 0 ok, 20000 skipped, "
                          "0 failed\n"), "%s", err);
    cr_assert(strstr(err, "imgpool: nothing written in 2."), "%s", err);
    cr_assert(strstr(err, "files/s") == NULL, "%s", err);
    free(err);

    /* 4 files of 1 MiB processed in 2 s among 1000 up to date (and 500
     * a signal left undone, which count as processed no more). */
    err = rates_run(dir, 1000, 4);
    p = strstr(err, " s, ");
    cr_assert(p && sscanf(p, " s, %lf files/s, %lf MiB/s", &files, &mib) == 2,
              "%s", err);
    cr_assert(files > 1.85 && files <= 2.0, "%s", err);   /* 4 in 2 s */
    cr_assert(mib > 1.85 && mib <= 2.0, "%s", err);       /* 4 MiB */
    free(err);
    th_rmrf(dir);
    free(dir);
}

/* ---- ETA ---- */

/* The report's clock in these tests: set by hand, never the wall. */
static int64_t fake_now;

static int64_t
fake_clock(void)
{
    return fake_now;
}

Test(report, eta_follows_the_worker_times_of_the_files_left)
{
    /* One worker, 0.2 s per file plus 0.1 s per MiB, largest first (as
     * plan_order() gives them), behind 50 files already up to date. */
    static const int mib[] = {40, 20, 10, 10, 5, 5, 5, 5, 2, 2, 1, 1, 1, 1};
    enum { N = sizeof(mib) / sizeof(mib[0]) };
    struct report_opts ro = {.progress = PROGRESS_NEVER};
    struct report rep;
    struct task tasks[N], up = mktask("old.jpg", "o/old.jpg");
    struct task_result r;
    uint32_t order[N];
    int64_t total = 0, done = 0, cost;
    double eta, truth, by_bytes;
    int i;

    for (i = 0; i < N; i++) {
        tasks[i] = mktask("in/x.jpg", "o/x.jpg");
        tasks[i].size = (int64_t)mib[i] << 20;
        order[i] = (uint32_t)i;
        total += 200000 + mib[i] * 100000;
    }
    report_init(&rep, &ro);
    fake_now = 1000000;
    rep.clock = fake_clock;
    report_start(&rep, N + 50);
    up.pre_status = TASK_SKIPPED;
    task_result_set(&r, 0, TASK_SKIPPED, ERR_UP_TO_DATE, NULL);
    for (i = 0; i < 50; i++)
        report_add(&rep, &up, &r);
    report_plan_work(&rep, tasks, order, N);
    report_plan_workers(&rep, 1);
    cr_assert_lt(report_eta(&rep, rep.start_us + 500000), 0,
                 "no ETA before the first file is done");
    for (i = 0; i < N - 1; i++) {
        cost = 200000 + mib[i] * 100000;
        r = mkok(tasks[i].size, 1000);
        r.usec = cost;
        done += cost;
        fake_now = rep.start_us + done;
        report_add(&rep, &tasks[i], &r);
        /* Halfway through the next file. */
        fake_now += (200000 + mib[i + 1] * 100000) / 2;
        eta = report_eta(&rep, fake_now);
        truth = (double)(total - (fake_now - rep.start_us)) / 1e6;
        if (i >= 2)     /* three sizes 4:1 apart: the line is known */
            cr_assert(fabs(eta - truth) < 0.01 * truth + 0.01,
                      "after %d files: ETA %.2f s, %.2f s left", i + 1, eta,
                      truth);
        if (i == 4) {
            /* What bytes left over bytes per second said: too little. */
            by_bytes = (double)rep.work_bytes / rep.processed_bytes *
                           (double)(fake_now - rep.start_us) / 1e6 -
                       (double)(fake_now - rep.start_us) / 1e6;
            cr_assert_lt(by_bytes, 0.8 * truth, "%.2f %.2f", by_bytes,
                         truth);
        }
    }
    report_release(&rep);
}

Test(report, eta_is_shown_on_the_progress_line, .timeout = 10)
{
    char *dir = th_mkdtemp(), *err;
    struct report_opts ro = {.progress = PROGRESS_ALWAYS, .quiet = 1};
    struct report rep;
    struct capture cap;
    struct task t[3];
    struct task_result r;
    uint32_t order[3] = {0, 1, 2};
    int i;

    for (i = 0; i < 3; i++) {
        t[i] = mktask("in/x.jpg", "o/x.jpg");
        t[i].size = (int64_t)(i == 0 ? 60 : 30) << 20;
    }
    report_init(&rep, &ro);
    fake_now = 1000000;
    rep.clock = fake_clock;
    capture_begin(&cap, dir);
    report_start(&rep, 3);
    report_plan_work(&rep, t, order, 3);
    report_plan_workers(&rep, 1);
    r = mkok(t[0].size, 1000);
    r.usec = 120 * 1000000LL;
    fake_now = rep.start_us + r.usec;
    report_add(&rep, &t[0], &r);
    /* 60 MiB in 120 s: 60 MiB left is two minutes more. */
    report_progress_draw(&rep, fake_now);
    report_release(&rep);
    err = capture_end(&cap);
    cr_assert(strstr(err, "imgpool: [1/3] 33% 0.0 files/s 0.5 MiB/s "
                          "ETA 02:00\n"), "%s", err);
    free(err);
    th_rmrf(dir);
    free(dir);
}

/* ---- messages and the progress line ---- */

/*
 * What a terminal shows after receiving @s: '\r' goes to column 0, '\n' to
 * the start of the next line, "\033[K" erases to the end of the line.
 * Returns the number of lines; each is NUL-terminated in @screen.
 */
#define SCREEN_ROWS 64
#define SCREEN_COLS 256
static int
screen_render(const char *s, char screen[SCREEN_ROWS][SCREEN_COLS])
{
    int row = 0, col = 0, maxrow = 0;

    memset(screen, 0, SCREEN_ROWS * SCREEN_COLS);
    while (*s && row < SCREEN_ROWS) {
        if (*s == '\r') {
            col = 0;
        } else if (*s == '\n') {
            row++;
            col = 0;
        } else if (strncmp(s, "\033[K", 3) == 0) {
            memset(screen[row] + col, 0, (size_t)(SCREEN_COLS - col));
            s += 2;
        } else if (col < SCREEN_COLS - 1) {
            screen[row][col++] = *s;
        }
        if (row > maxrow && row < SCREEN_ROWS)
            maxrow = row;
        s++;
    }
    return maxrow + 1;
}

Test(report, messages_never_run_into_the_progress_line, .timeout = 20)
{
    struct report_opts ro = {.progress = PROGRESS_AUTO};
    struct report rep;
    struct task t = mktask("a.jpg", "o/a.jpg");
    struct task_result r = mkok(1, 1);
    char buf[16384];
    static char screen[SCREEN_ROWS][SCREEN_COLS];
    int m, saved, rows, i;
    enum msg_level level = msg_get_level();

    m = pty_stderr(&saved, 200);
    msg_set_level(MSG_VERBOSE);
    th_clock_freeze();
    report_init(&rep, &ro);
    report_start(&rep, 3);                  /* draws the line at once */
    notef("3 files to process with 2 workers");
    report_add(&rep, &t, &r);
    th_clock_advance_us(120 * 1000);
    report_add(&rep, &t, &r);               /* redraws */
    warnf("a worker could not start (%s)", "test");
    report_add(&rep, &t, &r);
    report_finish(&rep, NULL);
    errorf("after the run");
    report_release(&rep);
    msg_set_level(level);
    fflush(stderr);
    dup2(saved, STDERR_FILENO);
    close(saved);
    drain(m, buf, sizeof(buf), 200);
    close(m);

    cr_assert(strncmp(buf, "\r[0/3] 0% ", 10) == 0, "%s", buf);
    /* Each message is put on a cleared line, and the line comes back. */
    cr_assert(strstr(buf, "\r\033[Kimgpool: 3 files to process with 2 "
                          "workers\n\r[0/3] 0% "), "%s", buf);
    cr_assert(strstr(buf, "\r\033[Kimgpool: warning: a worker could not "
                          "start (test)\n\r[2/3] "), "%s", buf);
    rows = screen_render(buf, screen);
    cr_assert_str_eq(screen[0], "imgpool: 3 files to process with 2 workers");
    cr_assert_str_eq(screen[1], "imgpool: warning: a worker could not "
                                "start (test)");
    cr_assert(strncmp(screen[2], "imgpool: 3 files: 3 ok,", 23) == 0, "%s",
              screen[2]);
    for (i = 0; i < rows; i++) {
        /* No progress text left on screen, none mixed with a message. */
        cr_assert(strchr(screen[i], '[') == NULL, "line %d: '%s'", i,
                  screen[i]);
        cr_assert(screen[i][0] == '\0' ||
                      strncmp(screen[i], "imgpool: ", 9) == 0,
                  "line %d: '%s'", i, screen[i]);
    }
    cr_assert(strstr(buf, "imgpool: after the run\n"), "%s", buf);
}

Test(report, stderr_is_given_back, .timeout = 20)
{
    struct report_opts ro = {.progress = PROGRESS_AUTO};
    struct report rep;
    FILE *before;
    char buf[4096];
    int m, saved;

    m = pty_stderr(&saved, 80);
    before = stderr;
    report_init(&rep, &ro);
    report_start(&rep, 3);
    cr_assert(stderr != before, "no stream in front of stderr");
    report_release(&rep);                   /* without report_finish() */
    cr_assert(stderr == before);
    fflush(stderr);
    dup2(saved, STDERR_FILENO);
    close(saved);
    drain(m, buf, sizeof(buf), 100);
    close(m);
}
