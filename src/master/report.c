/*
 * report.c - one record per input file, the counters and the closing
 * summary.
 *
 * The master calls report_add() once per finished task, in completion order.
 * Each call appends one JSON object to the --report file and flushes it, so
 * a run killed halfway leaves a file of whole lines that any JSON Lines
 * reader accepts.  The counters kept here feed the progress line on stderr
 * (report_progress.c) and the summary that report_finish() prints.  All JSON
 * goes through jansson; the only encoding done by hand (report_text.c) is
 * the UTF-8 check that decides whether a path needs its exact bytes in
 * base64 beside it, and the escaping that keeps file names from driving the
 * terminal.  docs/REPORT.md is the schema.
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

#define DEFAULT_MAX_LISTED 10

/*
 * Compact, and enough significant digits that a number rounded to one or
 * three decimals prints as written ("12.3", not "12.300000000000001").
 */
#define REPORT_JSON_FLAGS (JSON_COMPACT | JSON_REAL_PRECISION(15))

/* ---- one record ---- */

/* Status and class of @res, with out-of-range values made safe to index. */
static enum task_status
res_status(const struct task_result *res)
{
    return res->status <= TASK_FAILED ? (enum task_status)res->status
                                      : TASK_FAILED;
}

static enum err_class
res_class(const struct task_result *res)
{
    return res->err_class < ERR__COUNT ? (enum err_class)res->err_class
                                       : ERR_INTERNAL;
}

/* The error text of @res, falling back on the planner's static message. */
static const char *
res_message(const struct task *t, const struct task_result *res,
            size_t *len)
{
    *len = strnlen(res->message, sizeof(res->message));
    if (*len == 0 && t->pre_msg) {
        *len = strlen(t->pre_msg);
        return t->pre_msg;
    }
    return res->message;
}

/* A JSON string of the @n bytes at @s, invalid UTF-8 replaced. */
static json_t *
json_text(const char *s, size_t n)
{
    json_t *j;
    int changed;
    char *fixed = report_utf8_repair(s, n, &changed);

    if (!fixed)
        return NULL;
    j = json_string(fixed);
    free(fixed);
    return j;
}

/*
 * Set @key to path @s (or null), and @b64key to its exact bytes when @s is
 * not valid UTF-8.  0, or -1 on allocation failure.
 */
static int
set_path(json_t *o, const char *key, const char *b64key, const char *s)
{
    size_t n;
    int changed, rc;
    char *fixed, *b64;

    if (!s)
        return json_object_set_new(o, key, json_null());
    n = strlen(s);
    fixed = report_utf8_repair(s, n, &changed);
    if (!fixed)
        return -1;
    rc = json_object_set_new(o, key, json_string(fixed));
    free(fixed);
    if (rc < 0 || !changed)
        return rc;
    b64 = report_base64((const unsigned char *)s, n);
    if (!b64)
        return -1;
    rc = json_object_set_new(o, b64key, json_string(b64));
    free(b64);
    return rc;
}

static json_t *
json_count_or_null(int64_t v)
{
    return v < 0 ? json_null() : json_integer((json_int_t)v);
}

/* The warning lines of @res as a JSON array, empty lines dropped. */
static json_t *
json_warnings(const struct task_result *res)
{
    const char *s = res->warning;
    const char *end = s + strnlen(s, sizeof(res->warning));
    const char *nl;
    json_t *arr = json_array();

    if (!arr)
        return NULL;
    while (s < end) {
        nl = memchr(s, '\n', (size_t)(end - s));
        if (!nl)
            nl = end;
        if (nl > s && json_array_append_new(arr, json_text(s, (size_t)(nl - s)))
                          < 0) {
            json_decref(arr);
            return NULL;
        }
        s = nl + 1;
    }
    return arr;
}

/* "outputs": [{"path", "width", "height", "bytes"}, ...], one per output
 * written, in task_out_rel() order; the path as "output" spells it. */
static json_t *
json_outputs(const struct task *t, const struct task_result *res)
{
    json_t *a = json_array(), *e;
    size_t outlen = t->out_path && t->out_rel
                        ? (size_t)(t->out_rel - t->out_path) : 0;
    const char *rel;
    char *path;
    uint32_t k;
    int rc = 0;

    for (k = 0; a && k < res->noutputs && k < RESULT_MAX_OUTPUTS; k++) {
        rel = task_out_rel(t, (int)k);
        e = json_object();
        if (!rel || !e) {
            json_decref(e);
            continue;
        }
        path = xmalloc(outlen + strlen(rel) + 1);
        memcpy(path, t->out_path, outlen);
        strcpy(path + outlen, rel);
        rc |= set_path(e, "path", "path_b64", k == 0 ? t->out_path : path);
        free(path);
        rc |= json_object_set_new(e, "width",
                                  json_count_or_null(res->outputs[k].width));
        rc |= json_object_set_new(e, "height",
                                  json_count_or_null(res->outputs[k].height));
        rc |= json_object_set_new(e, "bytes",
                                  json_count_or_null(res->outputs[k].bytes));
        rc |= json_array_append_new(a, e);
    }
    if (rc) {
        json_decref(a);
        return NULL;
    }
    return a;
}

char *
report_record_json(const struct task *t, const struct task_result *res)
{
    enum task_status st = res_status(res);
    enum err_class cls = res_class(res);
    json_t *o = json_object(), *err;
    const char *msg;
    size_t msglen;
    char *line = NULL;
    int rc = 0;

    if (!o)
        return NULL;
    rc |= set_path(o, "path", "path_b64", t->path);
    rc |= json_object_set_new(o, "status", json_string(task_status_str(st)));
    rc |= set_path(o, "output", "output_b64", t->out_path);
    if (st == TASK_FAILED) {
        msg = res_message(t, res, &msglen);
        err = json_object();
        if (err) {
            rc |= json_object_set_new(err, "class",
                                      json_string(err_class_str(cls)));
            rc |= json_object_set_new(err, "message", json_text(msg, msglen));
        }
        rc |= json_object_set_new(o, "error", err);
    } else if (st == TASK_SKIPPED && cls != ERR_NONE) {
        rc |= json_object_set_new(o, "reason",
                                  json_string(err_class_str(cls)));
        msg = res_message(t, res, &msglen);
        if (msglen > 0)
            rc |= json_object_set_new(o, "detail", json_text(msg, msglen));
    }
    if (res->nwarnings > 0)
        rc |= json_object_set_new(o, "warnings", json_warnings(res));
    /* The colour conversion applied, when there was one to state. */
    if (res->colour[0])
        rc |= json_object_set_new(o, "colour",
                                  json_text(res->colour,
                                            strnlen(res->colour,
                                                    sizeof(res->colour))));
    if (st == TASK_OK && res->noutputs > 0)
        rc |= json_object_set_new(o, "outputs", json_outputs(t, res));
    rc |= json_object_set_new(o, "in_bytes", json_count_or_null(res->in_bytes));
    rc |= json_object_set_new(o, "out_bytes",
                              json_count_or_null(res->out_bytes));
    rc |= json_object_set_new(o, "in_width", json_count_or_null(res->in_width));
    rc |= json_object_set_new(o, "in_height",
                              json_count_or_null(res->in_height));
    rc |= json_object_set_new(o, "out_width",
                              json_count_or_null(res->out_width));
    rc |= json_object_set_new(o, "out_height",
                              json_count_or_null(res->out_height));
    rc |= json_object_set_new(o, "decoded_rows",
                              json_count_or_null(res->decoded_rows));
    /* Milliseconds rounded to a tenth: finer is noise at this scale. */
    rc |= json_object_set_new(o, "ms",
                              res->usec < 0
                                  ? json_null()
                                  : json_real(round(res->usec / 100.0) / 10));
    if (rc == 0)
        line = json_dumps(o, REPORT_JSON_FLAGS);
    json_decref(o);
    return line;
}

/* ---- the report file ---- */

static const char *
report_target(const struct report *r)
{
    return strcmp(r->json_path, "-") == 0 ? "standard output" : NULL;
}

/* Record that the report file failed; say so once. */
static void
report_write_failed(struct report *r, int err)
{
    char *safe;

    if (r->write_error)
        return;
    r->write_error = 1;
    if (report_target(r)) {
        errorf("cannot write report to standard output: %s", strerror(err));
        return;
    }
    safe = report_term_escape(r->json_path);
    errorf("cannot write report '%s': %s", safe ? safe : r->json_path,
           strerror(err));
    free(safe);
}

/* Write @line and a newline, then flush: the file only ever ends in a
 * whole line, whatever kills the run afterwards. */
static void
report_write_line(struct report *r, const char *line)
{
    if (!r->json || r->write_error)
        return;
    if (fputs(line, r->json) == EOF || putc('\n', r->json) == EOF ||
        fflush(r->json) == EOF)
        report_write_failed(r, errno);
}

void
report_init(struct report *r, const struct report_opts *o)
{
    memset(r, 0, sizeof(*r));
    r->clock = util_now_us;
    eta_init(&r->eta);
    if (o)
        r->opts = *o;
    if (r->opts.max_listed_failures == 0)
        r->opts.max_listed_failures = DEFAULT_MAX_LISTED;
}

int
report_open(struct report *r, const char *path)
{
    char *safe;

    if (!path)
        return 0;
    r->json_path = strdup(path);
    if (!r->json_path) {
        errorf("cannot open report: %s", strerror(errno));
        return -1;
    }
    if (strcmp(path, "-") == 0) {
        r->json = stdout;
        return 0;
    }
    r->json = fopen(path, "w");
    if (!r->json) {
        safe = report_term_escape(path);
        errorf("cannot open report '%s': %s", safe ? safe : path,
               strerror(errno));
        free(safe);
        free(r->json_path);
        r->json_path = NULL;
        return -1;
    }
    return 0;
}

/* Close the report file (but never standard output) and note failures. */
static void
report_close(struct report *r)
{
    if (!r->json)
        return;
    if (r->json == stdout) {
        if (fflush(stdout) == EOF)
            report_write_failed(r, errno);
    } else if (fclose(r->json) == EOF) {
        report_write_failed(r, errno);
    }
    r->json = NULL;
}

void
report_start(struct report *r, size_t total)
{
    int tty = isatty(STDERR_FILENO);

    r->total = total;
    r->start_us = r->clock();
    r->last_draw_us = r->start_us;
    switch (r->opts.progress) {
    case PROGRESS_ALWAYS:
        r->show_progress = 1;
        break;
    case PROGRESS_AUTO:
        r->show_progress = tty && !r->opts.quiet;
        break;
    default:
        r->show_progress = 0;
        break;
    }
    r->progress_tty = r->show_progress && tty;
    /* A terminal shows the bar at once, and messages are printed above it
     * from now on; a log gets its first line after a second, so short runs
     * add nothing to it. */
    if (r->progress_tty) {
        report_progress_wrap(r);
        report_progress_draw(r, r->start_us);
    }
}

/* ---- counting ---- */

/*
 * Append "'path': @label: @text" (or without ": @label" when @label is
 * NULL, without ": @text" when @text is empty) to @list, escaped for the
 * terminal, unless it holds the listed limit already.
 */
static void
report_keep(struct report *r, char ***list, size_t *n, const char *path,
            const char *label, const char *text)
{
    char *p = NULL, *x = NULL, *item = NULL;
    size_t size;

    if (*n >= r->opts.max_listed_failures)
        return;
    if (!*list) {
        *list = calloc(r->opts.max_listed_failures, sizeof(**list));
        if (!*list)
            return;
    }
    p = report_term_escape(path ? path : "");
    x = report_term_escape(text);
    if (!p || !x)
        goto out;
    size = strlen(p) + strlen(x) + (label ? strlen(label) : 0) + 16;
    item = malloc(size);
    if (!item)
        goto out;
    snprintf(item, size, "'%s'%s%s%s%s", p, label ? ": " : "",
             label ? label : "", *x ? ": " : "", x);
    (*list)[(*n)++] = item;
out:
    free(p);
    free(x);
}

/* Keep "'path': class: message" for the summary, up to the listed limit. */
static void
report_keep_failure(struct report *r, const struct task *t,
                    const struct task_result *res)
{
    const char *msg;
    char *copy;
    size_t msglen;

    if (r->nfailures >= r->opts.max_listed_failures)
        return;
    msg = res_message(t, res, &msglen);
    copy = strndup(msg, msglen);
    if (!copy)
        return;
    report_keep(r, &r->failures, &r->nfailures, t->path,
                err_class_str(res_class(res)), copy);
    free(copy);
}

/* Keep "'path': first warning; second" for the summary, likewise. */
static void
report_keep_warned(struct report *r, const struct task *t,
                   const struct task_result *res)
{
    size_t len = strnlen(res->warning, sizeof(res->warning)), i, o = 0;
    char *text;

    if (r->nwarned_files >= r->opts.max_listed_failures)
        return;
    text = malloc(2 * len + 1);
    if (!text)
        return;
    for (i = 0; i < len; i++) {
        if (res->warning[i] != '\n') {
            text[o++] = res->warning[i];
        } else if (o > 0 && i + 1 < len && res->warning[i + 1] != '\n') {
            text[o++] = ';';
            text[o++] = ' ';
        }
    }
    text[o] = '\0';
    report_keep(r, &r->warned_files, &r->nwarned_files, t->path, NULL, text);
    free(text);
}

void
report_plan_work(struct report *r, const struct task *tasks,
                 const uint32_t *order, size_t n)
{
    size_t i;

    size_t ntasks = 0;

    r->work_files = n;
    r->work_bytes = 0;
    for (i = 0; i < n; i++) {
        if (tasks[order[i]].size > 0)
            r->work_bytes += tasks[order[i]].size;
        if (order[i] >= ntasks)
            ntasks = order[i] + 1;
    }
    /* Out of memory: no model, and the ETA falls back on file counts. */
    (void)eta_plan(&r->eta, tasks, ntasks, order, n, r->workers,
                   r->clock());
}

void
report_plan_workers(struct report *r, unsigned workers)
{
    r->workers = workers;
    if (r->eta.state)
        (void)eta_plan(&r->eta, r->eta.tasks, r->eta.ntasks, r->eta.order,
                       r->eta.norder, workers, r->clock());
}

void
report_add(struct report *r, const struct task *t,
           const struct task_result *res)
{
    enum task_status st = res_status(res);
    enum err_class cls = res_class(res);
    char *line;

    r->done++;
    r->count[st]++;
    if (cls != ERR_NONE)
        r->by_class[cls]++;
    if (st == TASK_SKIPPED && res->err_class == ERR_DRY_RUN) {
        r->dry_files++;
        r->dry_in += res->in_bytes > 0 ? res->in_bytes : 0;
        r->dry_out += res->out_bytes > 0 ? res->out_bytes : 0;
    }
    /* Processed: given to the pool, and not left undone by a signal. */
    if (t->pre_status == TASK_OK &&
        !(st == TASK_SKIPPED && cls == ERR_INTERRUPTED)) {
        r->processed++;
        r->processed_bytes += t->size > 0         ? t->size
                              : res->in_bytes > 0 ? res->in_bytes
                                                  : 0;
        eta_done(&r->eta, t, res->usec, r->clock());
    }
    if (st == TASK_OK) {
        if (res->nwarnings > 0) {
            r->warned++;
            report_keep_warned(r, t, res);
        }
        if (res->in_bytes > 0)
            r->bytes_in += res->in_bytes;
        if (res->noutputs > 1) {        /* every output's bytes */
            for (uint32_t k = 0; k < res->noutputs &&
                                 k < RESULT_MAX_OUTPUTS; k++)
                if (res->outputs[k].bytes > 0)
                    r->bytes_out += res->outputs[k].bytes;
        } else if (res->out_bytes > 0)
            r->bytes_out += res->out_bytes;
    }
    if (st == TASK_FAILED)
        report_keep_failure(r, t, res);

    if (r->json && !r->write_error) {
        line = report_record_json(t, res);
        if (line)
            report_write_line(r, line);
        else
            report_write_failed(r, ENOMEM);
        free(line);
    }
    if (r->show_progress)
        report_progress_tick(r);
}

/* ---- the end ---- */

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
        safe = report_term_escape(r->json_path);
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
    if (!(r->opts.quiet && r->count[TASK_FAILED] == 0 && !s->interrupted))
        print_summary(r, s, secs);
    r->seconds = secs;
    return r->write_error ? -1 : 0;
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
        e = report_term_escape(inputs[i]);
        if (len + strlen(e) + 40 >= cap) {
            len += (size_t)snprintf(buf + len, cap - len, " (and %zu more)",
                                    n - i);
            free(e);
            break;
        }
        len += (size_t)snprintf(buf + len, cap - len, " '%s'", e);
        free(e);
    }
    if (out && len < cap) {
        e = report_term_escape(out);
        snprintf(buf + len, cap - len, " -> '%.1000s'", e);
        free(e);
    }
    return buf;
}

void
report_release(struct report *r)
{
    size_t i;

    if (r->json && r->json != stdout)
        fclose(r->json);
    r->json = NULL;
    free(r->json_path);
    r->json_path = NULL;
    report_progress_stop(r);
    eta_release(&r->eta);
    for (i = 0; i < r->nfailures; i++)
        free(r->failures[i]);
    free(r->failures);
    r->failures = NULL;
    r->nfailures = 0;
    for (i = 0; i < r->nwarned_files; i++)
        free(r->warned_files[i]);
    free(r->warned_files);
    r->warned_files = NULL;
    r->nwarned_files = 0;
}
