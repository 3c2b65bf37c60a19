/*
 * report.h - collect one record per input file; write the JSON Lines report,
 * the live progress line and the closing summary.
 *
 * Call sequence (master only):
 *   struct report rep;
 *   report_init(&rep, &ropts);                  // allocates nothing
 *   if (report_open(&rep, path_or_NULL) < 0)    // opens --report FILE
 *       ...setup error...
 *   report_start(&rep, ntasks);                 // clock and progress start
 *   report_add(&rep, &task, &result);           // once per task, any order
 *   report_finish(&rep, &summary_info);         // summary line(s), close
 *   report_release(&rep);
 *
 * The JSON is produced by jansson; docs/REPORT.md is the schema.  Paths that
 * are not valid UTF-8 are written with each invalid byte replaced by U+FFFD in
 * "path"/"output", plus "path_b64"/"output_b64" holding the exact bytes in
 * base64, so nothing is lost.
 */
#ifndef IMGPOOL_REPORT_H
#define IMGPOOL_REPORT_H

#include <stdint.h>
#include <stdio.h>
#include <stddef.h>
#include "task.h"

enum progress_mode { PROGRESS_AUTO = 0, PROGRESS_ALWAYS, PROGRESS_NEVER };

struct report_opts {
    enum progress_mode progress;
    int quiet;                /* no summary when everything went well */
    size_t max_listed_failures; /* failures named in the summary; 0 means
                                   the default, 10 */
};

struct report {
    struct report_opts opts;
    FILE *json;               /* NULL when no --report */
    char *json_path;
    int show_progress;
    int progress_tty;         /* stderr is a terminal: redraw with '\r' */
    int progress_drawn;       /* a '\r' progress line is on screen */
    size_t total, done;
    size_t count[3];          /* by enum task_status */
    size_t by_class[ERR__COUNT];
    size_t warned;            /* ok records that carry warnings */
    int64_t bytes_in, bytes_out;  /* over ok records */
    size_t dry_files;             /* --dry-run: files that would change */
    double seconds;               /* run time, set by report_finish() */
    int64_t dry_in, dry_out;
    int64_t start_us, last_draw_us;
    /* failures kept for the summary, at most max_listed_failures, as
     * "'path': class: message" already escaped for the terminal */
    char **failures;
    size_t nfailures;
    int write_error;          /* the JSON file could not be written */
};

/* Extra facts for the summary and the closing JSON object. */
struct report_summary {
    size_t ignored;           /* non-image files seen by the scanner */
    size_t excluded;
    int interrupted;          /* signal number, 0 if none */
    size_t pruned;            /* outputs removed by --prune */
};

void report_init(struct report *r, const struct report_opts *o);
/* Open @path for the JSON Lines report (truncating); "-" is standard
 * output.  -1 with errorf(). */
int report_open(struct report *r, const char *path);
void report_start(struct report *r, size_t total);
void report_add(struct report *r, const struct task *t,
                const struct task_result *res);
/* Writes the summary object and stderr summary; -1 if the report file
 * could not be written completely (already reported with errorf()). */
int report_finish(struct report *r, const struct report_summary *s);
void report_release(struct report *r);

/*
 * One line for --log, after report_finish(): local time, @command, counts,
 * bytes, seconds and @exit_code.  Returns snprintf()'s result.
 */
int report_log_line(const struct report *r, const struct report_summary *s,
                    const char *command, int exit_code, char *buf,
                    size_t size);

/*
 * Encode one record as a single JSON line (no trailing newline).
 * Caller frees the returned string with free().  Exposed for tests.
 */
char *report_record_json(const struct task *t, const struct task_result *res);

#endif
