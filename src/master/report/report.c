/*
 * report.c - one record per input file, the report file and the
 * counters; the closing summary is report_summary.c.
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
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "msg.h"
#include "report.h"
#include "report_int.h"
#include "util.h"

#define DEFAULT_MAX_LISTED 10

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

/* "look": what --target-distance chose for the first output (lookq.h):
 * the JPEG quality, the distance at it on butteraugli's 3-norm scale,
 * "butteraugli" when libjxl measured it (else "model": estimated), and the
 * encodes spent. */
static json_t *
json_look(const struct task_result *res)
{
    return json_pack("{s:i, s:f, s:s, s:i}", "quality",
                     (int)res->look_quality, "distance",
                     round(res->look_distance * 1000) / 1000,
                     "measured", res->look_checked ? "butteraugli" : "model",
                     "encodes", (int)res->look_encodes);
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
    if (res->mode[0])
        rc |= json_object_set_new(o, "mode",
                                  json_text(res->mode,
                                            strnlen(res->mode,
                                                    sizeof(res->mode))));
    if (st == TASK_OK && res->look_quality > 0)
        rc |= json_object_set_new(o, "look", json_look(res));
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

/* The standard stream @path names ("-", "/dev/stdout", "/dev/stderr"):
 * the user's own, used as it is; NULL for any other path. */
static FILE *
std_stream(const char *path)
{
    if (strcmp(path, "-") == 0 || strcmp(path, "/dev/stdout") == 0)
        return stdout;
    if (strcmp(path, "/dev/stderr") == 0)
        return stderr;
    return NULL;
}

const char *
report_target(const struct report *r)
{
    if (r->json == stderr || strcmp(r->json_path, "/dev/stderr") == 0)
        return "standard error";
    return std_stream(r->json_path) ? "standard output" : NULL;
}

/* Record that the report file failed; say so once.  EPIPE on a standard
 * stream is its reader leaving: said by report_finish() instead. */
void
report_write_failed(struct report *r, int err)
{
    char *safe;

    if (r->write_error)
        return;
    r->write_error = 1;
    if (err == EPIPE &&
        (report_target(r) || util_user_fd(r->json_path) >= 0)) {
        r->stream_closed = 1;
        return;
    }
    if (err == EINTR && r->json_pipe) {
        /* report_pipe_write(): interrupted while the reader was not
         * reading.  The run's exit status says it was interrupted. */
        r->stream_closed = 1;
        r->stalled = 1;
        return;
    }
    if (report_target(r)) {
        errorf("cannot write report to %s: %s", report_target(r),
               strerror(err));
        return;
    }
    safe = msg_escape(r->json_path);
    errorf("cannot write report '%s': %s", safe ? safe : r->json_path,
           strerror(err));
    free(safe);
}

/* Write @line and a newline, then flush: the file only ever ends in a
 * whole line, whatever kills the run afterwards. */
void
report_write_line(struct report *r, const char *line)
{
    if (!r->json)
        return;
    if (r->write_error) {
        r->lost++;
        return;
    }
    if (r->json_pipe) {
        /* Whatever stdio holds first (dry-run lines on stdout). */
        if (fflush(r->json) == EOF ||
            report_pipe_write(fileno(r->json), line, strlen(line)) < 0 ||
            report_pipe_write(fileno(r->json), "\n", 1) < 0) {
            r->lost++;
            report_write_failed(r, errno);
        }
        return;
    }
    if (fputs(line, r->json) == EOF || putc('\n', r->json) == EOF ||
        fflush(r->json) == EOF) {
        r->lost++;
        report_write_failed(r, errno);
    }
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

/* A pipe, FIFO or socket: written by report_pipe_write(). */
static int
is_pipe(int fd)
{
    struct stat sb;

    return fstat(fd, &sb) == 0 && (S_ISFIFO(sb.st_mode) ||
                                   S_ISSOCK(sb.st_mode));
}

int
report_open(struct report *r, const char *path)
{
    const char *why;
    char *safe;
    int fd;

    if (!path)
        return 0;
    r->json_path = xstrdup(path);
    r->json = std_stream(path);
    if (r->json) {
        r->json_pipe = is_pipe(fileno(r->json));
        return 0;
    }
    /* Not truncated yet: report_start() does, once the run is sure to
     * start, so a run refused by the lock leaves the last report whole.
     * A descriptor named as a path (">(gzip > r.gz)") is used as it is. */
    why = NULL;
    fd = util_user_fd(path);
    if (fd >= 0)
        fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
    else
        fd = util_open_user_file(path, 0, 0644, &why);
    if (fd >= 0) {
        r->json = fdopen(fd, "w");
        if (!r->json)
            close(fd);
    }
    if (!r->json) {
        safe = msg_escape(path);
        errorf("cannot open report '%s': %s", safe ? safe : path,
               why ? why : strerror(errno));
        free(safe);
        free(r->json_path);
        r->json_path = NULL;
        return -1;
    }
    r->truncate = util_user_fd(path) < 0;
    r->json_pipe = is_pipe(fileno(r->json));
    return 0;
}

/* Whether the report goes to a standard stream rather than a file. */
static int
report_is_std(const struct report *r)
{
    return r->json == stdout || r->json == stderr;
}

/* Close the report file (but never a standard stream) and note failures. */
void
report_close(struct report *r)
{
    if (!r->json)
        return;
    if (report_is_std(r)) {
        if (fflush(r->json) == EOF)
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

    if (r->json && r->truncate) {
        r->truncate = 0;
        if (ftruncate(fileno(r->json), 0) < 0 && errno != EINVAL)
            report_write_failed(r, errno);
    }
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
    if (!*list)
        *list = xcalloc(r->opts.max_listed_failures, sizeof(**list));
    p = msg_escape(path ? path : "");
    x = msg_escape(text);
    if (!p || !x) {
        free(p);
        free(x);
        return;
    }
    size = strlen(p) + strlen(x) + (label ? strlen(label) : 0) + 16;
    item = xmalloc(size);
    snprintf(item, size, "'%s'%s%s%s%s", p, label ? ": " : "",
             label ? label : "", *x ? ": " : "", x);
    (*list)[(*n)++] = item;
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
    copy = xstrndup(msg, msglen);
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
    text = xmalloc(2 * len + 1);
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
    eta_plan(&r->eta, tasks, ntasks, order, n, r->workers, r->clock());
}

void
report_plan_workers(struct report *r, unsigned workers)
{
    r->workers = workers;
    if (r->eta.state)
        eta_plan(&r->eta, r->eta.tasks, r->eta.ntasks, r->eta.order,
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

void
report_release(struct report *r)
{
    size_t i;

    if (r->json && !report_is_std(r))
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
