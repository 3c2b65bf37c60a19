/*
 * report_int.h - what the report's own files share: report.c (records,
 * the report file, counters), report_summary.c (the closing summary and
 * the --log line), report_text.c (UTF-8, base64, terminal escaping) and
 * report_progress.c (the live progress line).  Not for other modules: they
 * use report.h.
 *
 * The text helpers return a new string the caller frees; they never fail
 * (out of memory ends the run, util.h).  The progress functions write to
 * r->term (stderr when not set) and update r->last_draw_us and
 * r->progress_drawn; report_start() decides whether they are called at all
 * (r->show_progress), and on a terminal puts our stream in front of stderr
 * with report_progress_wrap(); report_finish() and report_release() take
 * it away with report_progress_stop().
 */
#ifndef IMGPOOL_REPORT_INT_H
#define IMGPOOL_REPORT_INT_H

#include <stddef.h>
#include <stdint.h>

struct report;

/*
 * Compact, and enough significant digits that a number rounded to one or
 * three decimals prints as written ("12.3", not "12.300000000000001").
 */
#define REPORT_JSON_FLAGS (JSON_COMPACT | JSON_REAL_PRECISION(15))

/* "standard output" when the report goes there ("-"), else NULL. */
const char *report_target(const struct report *r);

/* Record that the report file failed with @err; errorf() once. */
void report_write_failed(struct report *r, int err);

/* Write @line and a newline to the report file, then flush; a failure is
 * reported once (report_write_failed()) and later lines are dropped. */
void report_write_line(struct report *r, const char *line);

/* Close the report file (never standard output); failures as above. */
void report_close(struct report *r);

/*
 * Copy of the @n bytes at @s as valid UTF-8 (RFC 3629): every byte that
 * does not belong to a well-formed sequence becomes U+FFFD.  *changed says
 * whether any did.
 */
char *report_utf8_repair(const char *s, size_t n, int *changed);

/* RFC 4648 base64, with padding, of the @n bytes at @in. */
char *report_base64(const unsigned char *in, size_t n);


/* Draw the progress line now; @now is util_now_us(). */
void report_progress_draw(struct report *r, int64_t now);

/* Redraw when the last drawing is old enough (throttled). */
void report_progress_tick(struct report *r);

/* Erase a line left on a terminal, before the summary is printed. */
void report_progress_clear(struct report *r);

/*
 * Seconds left at @now (util_now_us()): the input bytes not yet done over
 * the bytes done per second when report_plan_work() gave the work, else
 * the files left over the files done per second; only records of tasks
 * the pool ran count.  -1 while nothing has been processed.
 */
double report_eta(const struct report *r, int64_t now);

/*
 * Make stderr a stream that erases the progress line before each message
 * and redraws it after (the real stderr kept in r->term).  Nothing
 * changes if the stream cannot be made.
 */
void report_progress_wrap(struct report *r);

/* Give stderr back and close our stream; harmless when not wrapped. */
void report_progress_stop(struct report *r);

#endif
