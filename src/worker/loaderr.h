/*
 * loaderr.h - which failure class a loader's own error message means.
 *
 * Loaders (libvips' and the libraries under it: libtiff, libheif, libpng,
 * libjpeg, librsvg) report why they refuse a file only as text.  Some of
 * those refusals are not damaged data but a variant no loader handles
 * (ERR_UNSUPPORTED) or a loader's own size limit (ERR_TOO_LARGE); one table
 * in loaderr.c maps message fragments to classes, so the report says which.
 *
 * A recompression, whose output stands in for the original, is stricter:
 * damaged data named by libjpeg (a premature end, corrupt entropy-coded
 * data) fails it as ERR_TRUNCATED or ERR_CORRUPT_DATA, also when libjpeg
 * only warns and the decode under fail_on=error went on past it
 * (loaderr_fail_damaged()).
 *
 * Call sequence: after a loader failed with @res filled as ERR_DECODE
 * (vipsmsg_fail(), or a direct decoder's message), loaderr_reclassify(res);
 * after a recompression's decode, before its commit,
 * loaderr_fail_damaged(s, res).
 */
#ifndef IMGPOOL_LOADERR_H
#define IMGPOOL_LOADERR_H

#include "settings.h"
#include "task.h"

/* The class the loader message @msg names, or @dflt when the table has
 * no fragment of it.  Fragments match case-sensitively, anywhere. */
enum err_class loaderr_class(const char *msg, enum err_class dflt);

/* When @res failed as ERR_DECODE, its class from its message (other
 * classes, such as out-of-memory, are left alone). */
void loaderr_reclassify(struct task_result *res);

/* After a recompression's decode and encode that returned @rc: when it
 * failed (-1), a decode-error naming damage gets the damage's class, and
 * -1.  When it succeeded, @fail_on is strict (other than none) and a
 * line of the warnings in @res, or of @more (NULL, or libvips' error
 * buffer, where its JPEG loader keeps libjpeg's first warning until the
 * loader is freed), names damaged data (truncation only, under
 * fail_on=truncated): -1 with @res failed ERR_TRUNCATED or
 * ERR_CORRUPT_DATA, naming it.  Else 0. */
int loaderr_fail_damaged(enum fail_on fail_on, struct task_result *res,
                         const char *more, int rc);

#endif
