/*
 * task.c - names for task outcomes, shared by report and CLI.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "task.h"

const char *
task_status_str(enum task_status st)
{
    switch (st) {
    case TASK_OK:
        return "ok";
    case TASK_SKIPPED:
        return "skipped";
    case TASK_FAILED:
        return "failed";
    }
    return "unknown";
}

static const char *const class_names[ERR__COUNT] = {
    [ERR_NONE] = "none",
    [ERR_NOT_AN_IMAGE] = "not-an-image",
    [ERR_NOT_REGULAR] = "not-a-regular-file",
    [ERR_UNSUPPORTED] = "unsupported-format",
    [ERR_UNTRUSTED] = "untrusted-format",
    [ERR_DECODE] = "decode-error",
    [ERR_TOO_LARGE] = "too-large",
    [ERR_READ] = "read-error",
    [ERR_WRITE] = "write-error",
    [ERR_NO_SPACE] = "no-space",
    [ERR_OUTPUT_PATH] = "output-path",
    [ERR_OUTPUT_CONFLICT] = "output-conflict",
    [ERR_WORKER_CRASHED] = "worker-crashed",
    [ERR_TIMEOUT] = "timeout",
    [ERR_OUT_OF_MEMORY] = "out-of-memory",
    [ERR_INTERRUPTED] = "interrupted",
    [ERR_INTERNAL] = "internal-error",
    [ERR_NOT_JPEG] = "not-jpeg",
    [ERR_ALREADY_COMPRESSED] = "already-compressed",
    [ERR_NO_GAIN] = "no-gain",
    [ERR_UP_TO_DATE] = "up-to-date",
    [ERR_INPUT_CHANGED] = "input-changed",
    [ERR_DRY_RUN] = "dry-run",
    [ERR_DUPLICATE] = "duplicate",
    [ERR_TRUNCATED] = "truncated",
    [ERR_CORRUPT_HEADER] = "corrupt-header",
    [ERR_TOO_COMPLEX] = "too-complex",
    [ERR_SYMLINK] = "symlink",
    [ERR_MULTI_PICTURE] = "multi-picture",
    [ERR_HAS_TRAILER] = "has-trailer",
    [ERR_MOTION_PHOTO] = "motion-photo",
    [ERR_CORRUPT_DATA] = "corrupt-data",
    [ERR_OUTPUT_IS_INPUT] = "output-is-input",
    [ERR_BACKUP] = "backup",
    [ERR_NOT_TRANSCODABLE] = "not-transcodable",
    [ERR_VERIFY_FAILED] = "verify-failed",
};

const char *
err_class_str(enum err_class c)
{
    if ((unsigned)c >= ERR__COUNT || !class_names[c])
        return "unknown";
    return class_names[c];
}

void
task_result_set(struct task_result *r, uint32_t id, enum task_status st,
                enum err_class c, const char *fmt, ...)
{
    va_list ap;

    memset(r, 0, sizeof(*r));
    r->id = id;
    r->status = st;
    r->err_class = c;
    r->in_width = r->in_height = r->out_width = r->out_height = -1;
    r->out_bytes = -1;
    if (fmt) {
        va_start(ap, fmt);
        vsnprintf(r->message, sizeof(r->message), fmt, ap);
        va_end(ap);
    }
}

static void result_vset(struct task_result *r, enum task_status st,
                        enum err_class c, const char *fmt, va_list ap)
    __attribute__((format(printf, 4, 0)));

static void
result_vset(struct task_result *r, enum task_status st, enum err_class c,
            const char *fmt, va_list ap)
{
    r->status = st;
    r->err_class = c;
    vsnprintf(r->message, sizeof(r->message), fmt, ap);
}

void
task_result_fail(struct task_result *r, enum err_class c, const char *fmt,
                 ...)
{
    va_list ap;

    va_start(ap, fmt);
    result_vset(r, TASK_FAILED, c, fmt, ap);
    va_end(ap);
}

void
task_result_skip(struct task_result *r, enum err_class c, const char *fmt,
                 ...)
{
    va_list ap;

    va_start(ap, fmt);
    result_vset(r, TASK_SKIPPED, c, fmt, ap);
    va_end(ap);
}
