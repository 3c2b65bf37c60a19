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
 *   report_plan_work(&rep, tasks, order, n);    // optional: the pool's work
 *   report_add(&rep, &task, &result);           // once per task, any order
 *   report_finish(&rep, &summary_info);         // summary line(s), close
 *   report_release(&rep);
 *
 * Rates (files/s, MiB/s) count only the records of tasks the pool ran
 * (task.pre_status TASK_OK), never the ones scan or plan settled (skipped,
 * up to date).  The ETA comes from eta.h's model (per-format fits of each
 * file's worker time against its bytes, over the files still to do, spread
 * over report_plan_workers() workers); before report_plan_work() or when
 * no time was measured it falls back on file counts.
 *
 * While a progress line is redrawn in place on a terminal (between
 * report_start() and report_finish() or report_release()), stderr is a
 * stream of the report's own: every message written to it (errorf(),
 * warnf(), notef()) first erases the progress line, then the line is
 * redrawn under the message, so the two never run together.  Processes
 * forked meanwhile write through it unchanged.
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
#include <sys/types.h>
#include "eta.h"
#include "merge.h"   /* report merge: part of this interface */
#include "task.h"

enum progress_mode { PROGRESS_AUTO = 0, PROGRESS_ALWAYS, PROGRESS_NEVER };

struct report_opts {
    enum progress_mode progress;
    int quiet;                /* no summary when everything went well */
    size_t max_listed_failures; /* failures named in the summary; 0 means
                                   the default, 10 (files with warnings
                                   are capped alike) */
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
    size_t processed;         /* records of tasks the pool ran */
    int64_t processed_bytes;  /* their input bytes */
    size_t work_files;        /* report_plan_work(): tasks for the pool */
    int64_t work_bytes;       /* their input bytes; 0 when not known */
    int64_t bytes_in, bytes_out;  /* over ok records */
    size_t dry_files;             /* --dry-run: files that would change */
    double seconds;               /* run time, set by report_finish() */
    int64_t dry_in, dry_out;
    int64_t start_us, last_draw_us;
    /* failures kept for the summary, at most max_listed_failures, as
     * "'path': class: message" already escaped for the terminal */
    char **failures;
    size_t nfailures;
    /* ok files with warnings, kept alike: "'path': first; second" */
    char **warned_files;
    size_t nwarned_files;
    int write_error;          /* the JSON file could not be written */
    int truncate;             /* report_start() empties the file first */
    int json_pipe;            /* a pipe, FIFO or socket: written so that
                                 a stalled reader cannot hold off a
                                 termination signal (report_pipe.c) */
    int stream_closed;        /* EPIPE on a standard stream: the reader
                                 left (report_finish() says, not fails) */
    int stalled;              /* a signal came while the pipe was full */
    size_t lost;              /* JSON lines not written after an error */
    FILE *term;               /* the real stderr, for the progress line */
    FILE *wrap;               /* our stderr while the line is on screen */
    pid_t wrap_pid;           /* the process that installed it */
    struct eta eta;           /* the ETA model, from report_plan_work() */
    unsigned workers;         /* report_plan_workers(); 0: one */
    int64_t (*clock)(void);   /* microseconds: util_now_us, or a test's */
};

/* Extra facts for the summary and the closing JSON object. */
struct report_summary {
    size_t ignored;           /* non-image files seen by the scanner */
    size_t excluded;
    int interrupted;          /* signal number, 0 if none */
    size_t pruned;            /* outputs removed by --prune */
};

void report_init(struct report *r, const struct report_opts *o);
/*
 * Open @path for the JSON Lines report; "-" and "/dev/stdout" are standard
 * output, "/dev/stderr" standard error (the user's own streams, used as
 * they are).  Any other path is opened like the lock
 * (util_open_user_file(): never a symbolic link, a FIFO or a file with
 * other hard links; created 0644 less the umask) and emptied only by
 * report_start().  -1 with errorf() naming the path and why.
 */
int report_open(struct report *r, const char *path);
void report_start(struct report *r, size_t total);
/*
 * The work the pool is given: the @n tasks of @tasks whose indices are in
 * @order.  Their input bytes drive the ETA.  Call after report_start().
 */
void report_plan_work(struct report *r, const struct task *tasks,
                      const uint32_t *order, size_t n);
/* How many workers the pool runs, for the ETA; call before or after
 * report_plan_work(), before the first report_add(). */
void report_plan_workers(struct report *r, unsigned workers);
void report_add(struct report *r, const struct task *t,
                const struct task_result *res);
/* Writes the summary object and stderr summary; -1 if the report file
 * could not be written completely (already reported with errorf()).  A
 * standard stream whose reader went away (EPIPE: "| head -1") is not a
 * failure of the run: the records lost are counted on stderr and 0 is
 * returned. */
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
 * Write @len bytes of @buf to the pipe, FIFO or socket @fd, waiting for
 * room with poll() and checking for a termination signal (sig.h) while
 * the pipe stays full (the master's handlers restart write(2), so a
 * plain write into a pipe nobody reads would never return).  0, or -1
 * with errno (EINTR: a signal came while the reader was not reading).
 * Used for the report and for the dry run's lines (run.c).
 */
int report_pipe_write(int fd, const char *buf, size_t len);

/*
 * The run's @command for report_log_line(): "thumbnail 'IN'... -> 'OUT'"
 * (" --in-place" after the command when @in_place; no arrow when @out is
 * NULL), each path escaped as on the terminal, inputs past about 2 KB
 * counted instead.  Caller frees.
 */
char *report_log_what(const char *command, int in_place,
                      const char *const *inputs, size_t n, const char *out);

/*
 * Encode one record as a single JSON line (no trailing newline).
 * Caller frees the returned string with free().  Exposed for tests.
 */
char *report_record_json(const struct task *t, const struct task_result *res);

#endif
