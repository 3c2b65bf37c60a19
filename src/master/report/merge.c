/*
 * merge.c - join JSON Lines reports (see merge.h).  jansson parses each
 * line; records are copied byte for byte, so merging never alters them.
 */
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "merge.h"
#include "msg.h"
#include "task.h"

struct acc {
    struct merge_totals t;
    size_t warnings, ignored, excluded, pruned, runs, incomplete;
    json_int_t bytes_in, bytes_out;
    double seconds;
    json_int_t interrupted;
    json_t *by_class;
};

static json_int_t
int_field(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    return json_is_integer(v) ? json_integer_value(v) : 0;
}

static void
count_class(struct acc *a, const char *cls)
{
    json_t *v;

    if (!cls || strcmp(cls, "none") == 0)
        return;
    v = json_object_get(a->by_class, cls);
    json_object_set_new(a->by_class, cls,
                        json_integer((v ? json_integer_value(v) : 0) + 1));
}

static void
add_record(struct acc *a, json_t *rec)
{
    const char *st = json_string_value(json_object_get(rec, "status"));
    json_t *err = json_object_get(rec, "error");

    a->t.total++;
    if (st && strcmp(st, "ok") == 0) {
        a->t.ok++;
        if (json_array_size(json_object_get(rec, "warnings")) > 0)
            a->warnings++;
        a->bytes_in += int_field(rec, "in_bytes");
        a->bytes_out += int_field(rec, "out_bytes");
    } else if (st && strcmp(st, "skipped") == 0) {
        a->t.skipped++;
    } else {
        a->t.failed++;
    }
    if (err)
        count_class(a, json_string_value(json_object_get(err, "class")));
    else
        count_class(a, json_string_value(json_object_get(rec, "reason")));
}

static void
add_summary(struct acc *a, json_t *sum)
{
    json_t *secs = json_object_get(sum, "seconds");

    a->ignored += (size_t)int_field(sum, "ignored");
    a->excluded += (size_t)int_field(sum, "excluded");
    a->pruned += (size_t)int_field(sum, "pruned");
    if (json_is_number(secs) && json_number_value(secs) > a->seconds)
        a->seconds = json_number_value(secs);
    if (!a->interrupted)
        a->interrupted = int_field(sum, "interrupted");
}

static int
merge_file(struct acc *a, const char *path, FILE *out)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "re");
    char *line = NULL;
    size_t cap = 0, lineno = 0;
    ssize_t n;
    int have_summary = 0, rc = 0;

    if (!f) {
        errorf("cannot open report '%s': %s", path, strerror(errno));
        return -1;
    }
    while ((n = getline(&line, &cap, f)) > 0) {
        json_error_t jerr;
        json_t *o;

        lineno++;
        if (n == 1 && line[0] == '\n')
            continue;
        o = json_loadb(line, (size_t)n, JSON_ALLOW_NUL, &jerr);
        if (!json_is_object(o)) {
            errorf("'%s' line %zu is not a report line: %s", path, lineno,
                   o ? "not an object" : jerr.text);
            json_decref(o);
            rc = -1;
            break;
        }
        if (json_is_true(json_object_get(o, "summary"))) {
            add_summary(a, o);
            have_summary = 1;
        } else {
            add_record(a, o);
            fwrite(line, 1, (size_t)n, out);
            if (line[n - 1] != '\n')
                fputc('\n', out);
        }
        json_decref(o);
    }
    if (rc == 0 && ferror(f)) {
        errorf("cannot read report '%s': %s", path, strerror(errno));
        rc = -1;
    }
    free(line);
    if (f != stdin)
        fclose(f);
    a->runs++;
    if (!have_summary)
        a->incomplete++;
    return rc;
}

int
report_merge(const char *const *paths, size_t n, FILE *out,
             struct merge_totals *totals)
{
    struct acc a;
    json_t *sum;
    char *line;
    size_t i;
    int rc = 0;

    memset(&a, 0, sizeof(a));
    a.by_class = json_object();
    for (i = 0; i < n && rc == 0; i++)
        rc = merge_file(&a, paths[i], out);
    if (rc == 0) {
        sum = json_pack("{s:b, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I,"
                        " s:f, s:o, s:O, s:I, s:I}",
                        "summary", 1, "total", (json_int_t)a.t.total,
                        "ok", (json_int_t)a.t.ok,
                        "skipped", (json_int_t)a.t.skipped,
                        "failed", (json_int_t)a.t.failed,
                        "ignored", (json_int_t)a.ignored,
                        "excluded", (json_int_t)a.excluded,
                        "warnings", (json_int_t)a.warnings,
                        "bytes_in", a.bytes_in, "bytes_out", a.bytes_out,
                        "seconds", round(a.seconds * 1000) / 1000,
                        "interrupted", a.interrupted
                            ? json_integer(a.interrupted) : json_null(),
                        "by_class", a.by_class,
                        "runs", (json_int_t)a.runs,
                        "incomplete", (json_int_t)a.incomplete);
        if (sum && a.pruned)
            json_object_set_new(sum, "pruned",
                                json_integer((json_int_t)a.pruned));
        line = sum ? json_dumps(sum, JSON_COMPACT) : NULL;
        if (line) {
            fprintf(out, "%s\n", line);
            free(line);
        } else {
            errorf("cannot build the merged summary: out of memory");
            rc = -1;
        }
        json_decref(sum);
    }
    if (fflush(out) != 0 || ferror(out)) {
        errorf("cannot write the merged report: %s", strerror(errno));
        rc = -1;
    }
    if (totals)
        *totals = a.t;
    json_decref(a.by_class);
    if (a.incomplete)
        warnf("%zu of %zu reports have no summary line (an interrupted or "
              "killed run?)", a.incomplete, a.runs);
    return rc;
}
