/*
 * jpegerr.c - libjpeg errors and warnings into a task result; see jpegerr.h.
 */
#include <string.h>

#include <jerror.h>

#include "jpegerr.h"
#include "warn.h"

static void
jpeg_err_exit(j_common_ptr cinfo)
{
    struct jpeg_err *err = (struct jpeg_err *)cinfo->err;

    cinfo->err->format_message(cinfo, err->msg);
    longjmp(err->jmp, 1);
}

/* Trace messages (msg_level >= 0) are ignored; warnings are -1. */
static void
jpeg_err_emit(j_common_ptr cinfo, int msg_level)
{
    struct jpeg_err *err = (struct jpeg_err *)cinfo->err;
    char text[JMSG_LENGTH_MAX];

    if (msg_level >= 0)
        return;
    cinfo->err->num_warnings++;
    if (err->max_warnings > 0 &&
        cinfo->err->num_warnings > err->max_warnings) {
        err->too_complex = 1;
        snprintf(err->msg, sizeof(err->msg), "more than %ld warnings (the "
                 "limit of warnings per image)", err->max_warnings);
        longjmp(err->jmp, 1);
    }
    cinfo->err->format_message(cinfo, text);
    warn_append(err->res, text);
    if (err->fail_on == FAIL_WARNING ||
        (err->fail_on >= FAIL_TRUNCATED &&
         cinfo->err->msg_code == JWRN_JPEG_EOF)) {
        memcpy(err->msg, text, sizeof(err->msg));
        longjmp(err->jmp, 1);
    }
}

struct jpeg_error_mgr *
jpeg_err_init(struct jpeg_err *e, struct task_result *res,
              enum fail_on fail_on)
{
    jpeg_std_error(&e->pub);
    e->pub.error_exit = jpeg_err_exit;
    e->pub.emit_message = jpeg_err_emit;
    e->res = res;
    e->fail_on = fail_on;
    e->max_warnings = 0;
    e->too_complex = 0;
    return &e->pub;
}
