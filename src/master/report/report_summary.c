/*
 * report_summary.c - the end of a run's report: the summary object that
 * closes the --report file, the summary lines on stderr (counts, amounts,
 * the failures and warnings listed), and the one-line --log entry.
 *
 * It reads the counters report.c kept and writes through report.c's file
 * functions (report_int.h); report.c calls nothing here.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "msg.h"
#include "report.h"
#include "report_int.h"
#include "util.h"

static void
human_bytes(int64_t n, char *buf, size_t size)
{
    static const char *const units[] = {"KiB", "MiB", "GiB", "TiB", "PiB"};
    double v = (double)n;
    size_t u = 0;

    if (n < 1024) {
        snprintf(buf, size, "%" PRId64 " B", n);
        return;
    }
    v /= 1024;
    while (v >= 1024 && u + 1 < sizeof(units) / sizeof(units[0])) {
        v /= 1024;
        u++;
    }
    snprintf(buf, size, "%.1f %s", v, units[u]);
}

static void
human_seconds(double secs, char *buf, size_t size)
{
    long s = lround(secs);

    if (secs < 60)
        snprintf(buf, size, "%.1f s", secs);
    else if (s < 3600)
        snprintf(buf, size, "%ldm%02lds", s / 60, s % 60);
    else
        snprintf(buf, size, "%ldh%02ldm%02lds", s / 3600, s / 60 % 60,
                 s % 60);
}

static const char *
signal_name(int sig, char *buf, size_t size)
{
    switch (sig) {
    case SIGINT:
        return "SIGINT";
    case SIGTERM:
        return "SIGTERM";
    case SIGHUP:
        return "SIGHUP";
    case SIGQUIT:
        return "SIGQUIT";
    default:
        snprintf(buf, size, "signal %d", sig);
        return buf;
    }
}

static const char *
plural(size_t n, const char *one, const char *many)
{
    return n == 1 ? one : many;
}

static int
set_count(json_t *o, const char *key, size_t n)
{
    return json_object_set_new(o, key, json_integer((json_int_t)n));
}

static void
write_summary(struct report *r, const struct report_summary *s, double secs)
{
    json_t *o = json_object(), *by = json_object();
    size_t total = r->total > r->done ? r->total : r->done;
    char *line = NULL;
    int rc = 0, i;

    if (!o || !by) {
        json_decref(o);
        json_decref(by);
        report_write_failed(r, ENOMEM);
        return;
    }
    for (i = 0; i < ERR__COUNT; i++) {
        if (i != ERR_NONE && r->by_class[i] > 0)
            rc |= set_count(by, err_class_str((enum err_class)i),
                            r->by_class[i]);
    }
    rc |= json_object_set_new(o, "summary", json_true());
    rc |= set_count(o, "total", total);
    rc |= set_count(o, "ok", r->count[TASK_OK]);
    rc |= set_count(o, "skipped", r->count[TASK_SKIPPED]);
    rc |= set_count(o, "failed", r->count[TASK_FAILED]);
    rc |= set_count(o, "ignored", s->ignored);
    rc |= set_count(o, "excluded", s->excluded);
    if (s->pruned)
        rc |= set_count(o, "pruned", s->pruned);
    rc |= set_count(o, "warnings", r->warned);
    rc |= json_object_set_new(o, "bytes_in", json_integer(r->bytes_in));
    rc |= json_object_set_new(o, "bytes_out", json_integer(r->bytes_out));
    rc |= json_object_set_new(o, "seconds",
                              json_real(round(secs * 1000) / 1000));
    rc |= json_object_set_new(o, "interrupted",
                              s->interrupted ? json_integer(s->interrupted)
                                             : json_null());
    rc |= json_object_set_new(o, "by_class", by);
    if (rc == 0)
        line = json_dumps(o, REPORT_JSON_FLAGS);
    json_decref(o);
    if (line)
        report_write_line(r, line);
    else
        report_write_failed(r, ENOMEM);
    free(line);
}

/* "N files: N ok (N with warnings), N skipped, N failed; N ignored". */
static void
print_counts(const struct report *r, const struct report_summary *s)
{
    size_t total = r->total > r->done ? r->total : r->done;
    char warned[64] = "", tail[128] = "";

    if (r->warned > 0)
        snprintf(warned, sizeof(warned), " (%zu with warnings)", r->warned);
    if (s->ignored > 0 && s->excluded > 0)
        snprintf(tail, sizeof(tail), "; %zu ignored, %zu excluded", s->ignored,
                 s->excluded);
    else if (s->ignored > 0)
        snprintf(tail, sizeof(tail), "; %zu ignored", s->ignored);
    else if (s->excluded > 0)
        snprintf(tail, sizeof(tail), "; %zu excluded", s->excluded);
    errorf("%zu %s: %zu ok%s, %zu skipped, %zu failed%s", total,
           plural(total, "file", "files"), r->count[TASK_OK], warned,
           r->count[TASK_SKIPPED], r->count[TASK_FAILED], tail);
}

/* Bytes in and out, time, and the rates over the files the pool ran. */
static void
print_amounts(const struct report *r, double secs)
{
    char in[32], out[32], took[32], pct[32] = "", moved[128], rates[96] = "";

    human_bytes(r->bytes_in, in, sizeof(in));
    human_bytes(r->bytes_out, out, sizeof(out));
    human_seconds(secs, took, sizeof(took));
    if (r->bytes_in > 0)
        snprintf(pct, sizeof(pct), " (%+.1f%%)",
                 (double)(r->bytes_out - r->bytes_in) * 100 /
                     (double)r->bytes_in);
    if (r->bytes_in == 0 && r->bytes_out == 0)
        snprintf(moved, sizeof(moved), "nothing written");
    else
        snprintf(moved, sizeof(moved), "%s -> %s%s", in, out, pct);
    /* MiB/s only of a run that wrote something: checking files that are
     * up to date or would change moves no bytes worth a rate. */
    if (secs >= 0.001 && r->processed > 0 && r->bytes_out > 0)
        snprintf(rates, sizeof(rates), ", %.1f files/s, %.1f MiB/s",
                 (double)r->processed / secs,
                 (double)r->processed_bytes / (1024.0 * 1024.0) / secs);
    else if (secs >= 0.001 && r->processed > 0)
        snprintf(rates, sizeof(rates), ", %.1f files/s",
                 (double)r->processed / secs);
    errorf("%s in %s%s", moved, took, rates);
    if (r->dry_files > 0 && r->dry_out == 0) {
        /* --freedesktop: the thumbnails' sizes are not estimated */
        errorf("dry run: %zu %s would be written", r->dry_files,
               plural(r->dry_files, "file", "files"));
    } else if (r->dry_files > 0) {
        human_bytes(r->dry_in, in, sizeof(in));
        human_bytes(r->dry_out, out, sizeof(out));
        errorf("dry run: %zu %s would turn %s into about %s (%+.1f%%)",
               r->dry_files, plural(r->dry_files, "file", "files"), in, out,
               r->dry_in > 0 ? (double)(r->dry_out - r->dry_in) * 100 /
                                   (double)r->dry_in : 0.0);
    }
}

/*
 * The kept @items under @label, then how many more of @total there are
 * and where to find them (@one/@many name what is counted).
 */
static void
print_listed(const struct report *r, const char *label, char *const *items,
             size_t nitems, size_t total, const char *one, const char *many)
{
    size_t i, more = total > nitems ? total - nitems : 0;
    char *safe;

    for (i = 0; i < nitems; i++)
        errorf("%s: %s", label, items[i]);
    if (more == 0)
        return;
    if (!r->json_path) {
        errorf("... and %zu more %s, use --report FILE for the full list",
               more, plural(more, one, many));
    } else if (report_target(r)) {
        errorf("... and %zu more %s, see the report on standard output", more,
               plural(more, one, many));
    } else {
        safe = msg_escape(r->json_path);
        errorf("... and %zu more %s, see '%s'", more, plural(more, one, many),
               safe ? safe : r->json_path);
        free(safe);
    }
}

static void
print_summary(const struct report *r, const struct report_summary *s,
              double secs)
{
    char signame[32];

    print_counts(r, s);
    print_amounts(r, secs);
    print_listed(r, "failed", r->failures, r->nfailures,
                 r->count[TASK_FAILED], "failure", "failures");
    print_listed(r, "with warnings", r->warned_files, r->nwarned_files,
                 r->warned, "file with warnings", "files with warnings");
    if (s->pruned)
        errorf("pruned %zu %s whose input is gone", s->pruned,
               plural(s->pruned, "output", "outputs"));
    if (s->interrupted)
        errorf("interrupted by %s",
               signal_name(s->interrupted, signame, sizeof(signame)));
}

int
report_finish(struct report *r, const struct report_summary *s)
{
    static const struct report_summary none;
    double secs = 0;

    if (!s)
        s = &none;
    if (r->start_us)
        secs = (double)(r->clock() - r->start_us) / 1e6;
    report_progress_clear(r);
    report_progress_stop(r);
    if (r->json) {
        write_summary(r, s, secs);
        report_close(r);
    }
    if (r->stalled)
        warnf("the report's reader on %s had stopped reading when the run "
              "was interrupted: %zu of its %zu lines were not written",
              report_target(r) ? report_target(r) : msg_name(r->json_path),
              r->lost, r->done + 1);
    else if (r->stream_closed)
        warnf("the report's reader on %s went away: %zu of its %zu lines "
              "(the records, then the summary) were not written",
              report_target(r) ? report_target(r) : msg_name(r->json_path),
              r->lost, r->done + 1);
    if (!(r->opts.quiet && r->count[TASK_FAILED] == 0 && !s->interrupted))
        print_summary(r, s, secs);
    r->seconds = secs;
    return r->write_error && !r->stream_closed ? -1 : 0;
}

int
report_log_line(const struct report *r, const struct report_summary *s,
                const char *command, int exit_code, char *buf, size_t size)
{
    char stamp[40];
    struct tm tm;
    time_t now = time(NULL);

    localtime_r(&now, &tm);
    strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S%z", &tm);
    return snprintf(buf, size,
                    "%s %s: %zu %s: %zu ok, %zu skipped, %zu failed; "
                    "%zu ignored; %lld -> %lld bytes; %.1f s; exit %d%s",
                    stamp, command, r->done, plural(r->done, "file", "files"),
                    r->count[TASK_OK],
                    r->count[TASK_SKIPPED], r->count[TASK_FAILED], s->ignored,
                    (long long)r->bytes_in, (long long)r->bytes_out,
                    r->seconds, exit_code,
                    s->interrupted ? " (interrupted)" : "");
}

char *
report_log_what(const char *command, int in_place,
                const char *const *inputs, size_t n, const char *out)
{
    size_t cap = 2048, len, i;
    char *buf = xmalloc(cap), *e;

    len = (size_t)snprintf(buf, cap, "%s%s", command,
                           in_place ? " --in-place" : "");
    for (i = 0; i < n && len < cap; i++) {
        e = msg_escape(inputs[i]);
        if (!e || len + strlen(e) + 40 >= cap) {
            len += (size_t)snprintf(buf + len, cap - len, " (and %zu more)",
                                    n - i);
            free(e);
            break;
        }
        len += (size_t)snprintf(buf + len, cap - len, " '%s'", e);
        free(e);
    }
    if (out && len < cap) {
        e = msg_escape(out);
        if (e)
            snprintf(buf + len, cap - len, " -> '%.1000s'", e);
        free(e);
    }
    return buf;
}
