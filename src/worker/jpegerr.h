/*
 * jpegerr.h - the one libjpeg error manager, for the direct decoder and the
 * JPEG encoder.
 *
 * Call sequence:
 *   struct jpeg_err err;
 *   cinfo.err = jpeg_err_init(&err, res, fail_on);
 *   if (setjmp(err.jmp)) { ...err.msg says what ended the work... }
 *   ...libjpeg calls...
 *
 * Fatal errors longjmp to err.jmp with the message in err.msg.  Warnings
 * (damaged data libjpeg worked around) are appended to @res's warnings;
 * whether one also ends the work depends on @fail_on: FAIL_WARNING on any,
 * FAIL_TRUNCATED and FAIL_ERROR on a premature end of data, FAIL_NONE
 * never (what the encoder passes: fail_on is about damaged input).  A
 * decoder may set max_warnings after init: the warning past it ends the
 * work with too_complex set (guard.h); 0, the default, means no cap.
 */
#ifndef IMGPOOL_JPEGERR_H
#define IMGPOOL_JPEGERR_H

#include <setjmp.h>
#include <stdio.h>
#include <jpeglib.h>

#include "settings.h"
#include "task.h"

struct jpeg_err {
    struct jpeg_error_mgr pub;      /* first: libjpeg sees only this */
    jmp_buf jmp;
    struct task_result *res;        /* borrowed */
    enum fail_on fail_on;
    char msg[JMSG_LENGTH_MAX];      /* the message that ended the work */
    long max_warnings;              /* 0: no cap */
    int too_complex;                /* the work ended at a cap */
};

/* Set @e up for @res and @fail_on; returns the manager for cinfo.err. */
struct jpeg_error_mgr *jpeg_err_init(struct jpeg_err *e,
                                     struct task_result *res,
                                     enum fail_on fail_on);

#endif
