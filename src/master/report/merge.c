/*
 * merge.c - join JSON Lines reports (see merge.h).  jansson parses each
 * line; records are copied byte for byte, so merging never alters them.
 */
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <xxhash.h>

#include "hashset.h"
#include "merge.h"
#include "msg.h"
#include "report_int.h"
#include "task.h"
#include "util.h"

/* Seconds are written to the millisecond, with no binary tail. */
#define MERGE_JSON_FLAGS (JSON_COMPACT | JSON_REAL_PRECISION(15))

/* A report already merged: its file, and its bytes' size and hash. */
struct seen_report {
    const char *path;
    dev_t dev;
    ino_t ino;
    off_t size;
    uint64_t hash;
};

struct acc {
    struct merge_totals t;
    size_t warnings, ignored, excluded, pruned, runs, incomplete;
    json_int_t bytes_in, bytes_out;
    double seconds;
    json_int_t interrupted;
    json_t *by_class;
    struct seen_report *seen;
    size_t nseen, skipped_reports;
    struct hashset paths;     /* hash of each record's path -> report */
    uint32_t report;          /* the index of the report being read */
    size_t overlaps;          /* records whose path an earlier report had */
    const char *overlap_path; /* the first of them, escaped */
    char *overlap_buf;
};

/* Paths are told apart by their 64-bit hash alone: a collision would only
 * add one to a count in a warning. */
static int
same_hash(uint32_t value, const void *key, void *ctx)
{
    (void)value;
    (void)key;
    (void)ctx;
    return 1;
}

/* Note @rec's path; count it when an earlier report had it. */
static void
note_path(struct acc *a, json_t *rec)
{
    json_t *v = json_object_get(rec, "path_b64");
    const char *p;
    uint32_t first;

    if (!json_is_string(v))
        v = json_object_get(rec, "path");
    if (!json_is_string(v))
        return;
    p = json_string_value(v);
    if (hashset_insert(&a->paths, hashset_hash(p, strlen(p)), a->report, p,
                       same_hash, NULL, &first) == HASHSET_PRESENT &&
        first != a->report) {
        if (a->overlaps++ == 0)
            a->overlap_path = a->overlap_buf = msg_escape(p);
    }
}

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

    note_path(a, rec);
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

/*
 * Whether the report open as @f is one merged already: the same file, or a
 * copy (the same size and bytes).  1 after a warning, 0 (@f rewound), or
 * -1 after errorf().  Standard input is not checked.
 */
static int
already_merged(struct acc *a, const char *path, FILE *f)
{
    struct seen_report r = {.path = path}, *s;
    char buf[65536];
    size_t n, i;
    struct stat st;
    XXH3_state_t *h;

    if (f == stdin || fstat(fileno(f), &st) < 0 || !S_ISREG(st.st_mode))
        return 0;
    r.dev = st.st_dev;
    r.ino = st.st_ino;
    r.size = st.st_size;
    /* The bytes' hash, read once before the merge reads them again. */
    h = XXH3_createState();
    if (!h || XXH3_64bits_reset(h) == XXH_ERROR) {
        XXH3_freeState(h);
        errorf("cannot read report '%s': %s", path, strerror(ENOMEM));
        return -1;
    }
    while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
        XXH3_64bits_update(h, buf, n);
    r.hash = XXH3_64bits_digest(h);
    XXH3_freeState(h);
    rewind(f);
    for (i = 0; i < a->nseen; i++) {
        s = &a->seen[i];
        if ((s->dev == r.dev && s->ino == r.ino) ||
            (s->size == r.size && s->hash == r.hash)) {
            warnf("report '%s' is %s '%s': merged once", path,
                  s->dev == r.dev && s->ino == r.ino ? "the same file as"
                                                     : "a copy of",
                  s->path);
            a->skipped_reports++;
            return 1;
        }
    }
    a->seen = xrealloc(a->seen, (a->nseen + 1) * sizeof(*a->seen));
    a->seen[a->nseen++] = r;
    return 0;
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
    rc = already_merged(a, path, f);
    if (rc != 0) {
        if (f != stdin)
            fclose(f);
        return rc < 0 ? -1 : 0;
    }
    a->report = (uint32_t)a->runs;
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
    hashset_init(&a.paths);
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
        line = sum ? json_dumps(sum, MERGE_JSON_FLAGS) : NULL;
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
    if (a.overlaps)
        warnf("%zu %s the path of a record in an earlier report ('%s'; "
              "overlapping shards, or runs at different times?): each is "
              "counted", a.overlaps,
              a.overlaps == 1 ? "record repeats" : "records repeat",
              a.overlap_path);
    hashset_release(&a.paths);
    free(a.seen);
    free(a.overlap_buf);
    return rc;
}
