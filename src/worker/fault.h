/*
 * fault.h - test-only stop points inside the pipeline (fault injection).
 *
 * Call sequence: worker_init() reads IMGPOOL_FAULT once (worker.h); stages
 * then call worker_fault_point(t, "STAGE") at the moments a test may need
 * to act on the file system while a file is in flight.  With
 * IMGPOOL_FAULT="wait-STAGE:GLOB" and IMGPOOL_FAULT_DIR=DIR, a worker that
 * reaches STAGE on a file whose name matches GLOB appends its pid and a
 * newline to DIR/reached (created if need be) and waits (up to 60 s) until
 * DIR/go exists, then carries on.  Stages:
 *   "open"    before the input is opened (after the scan vetted it);
 *   "commit"  in place, after the encode and the backup, before the
 *             temporary file is made and swapped in.
 * Without IMGPOOL_FAULT this costs one string comparison.  Cannot fail.
 *
 * worker_fault_armed(t, KIND) is 1 when IMGPOOL_FAULT="KIND:GLOB" names
 * @t's file, for faults a stage injects itself:
 *   "jxl-verify"  -f jxl: the JPEG rebuilt from the new JPEG XL file has
 *                 one byte changed before it is compared with the input
 *                 (transcode.h), as a libjxl bug would change it.
 *
 * Compiled in only when the build defines IMGPOOL_FAULT_INJECTION (the
 * CMake option of that name: test builds, never Release or the .deb);
 * otherwise worker_fault_point() is an empty inline function and the
 * binary holds no trace of IMGPOOL_FAULT.
 */
#ifndef IMGPOOL_FAULT_H
#define IMGPOOL_FAULT_H

#include "task.h"

/* worker_fault_read(): IMGPOOL_FAULT="KIND:GLOB", once per worker
 * (worker_init()); worker_fault_inject(): crash, abort, exit, hang or leak
 * as KIND says when @t's file name matches GLOB (worker_run()). */
#ifdef IMGPOOL_FAULT_INJECTION
void worker_fault_read(void);
void worker_fault_inject(const struct task *t);
void worker_fault_point(const struct task *t, const char *stage);
int worker_fault_armed(const struct task *t, const char *kind);
#else
static inline int
worker_fault_armed(const struct task *t, const char *kind)
{
    (void)t;
    (void)kind;
    return 0;
}

static inline void
worker_fault_read(void)
{
}

static inline void
worker_fault_inject(const struct task *t)
{
    (void)t;
}

static inline void
worker_fault_point(const struct task *t, const char *stage)
{
    (void)t;
    (void)stage;
}
#endif

#endif
