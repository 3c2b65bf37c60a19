/*
 * loaderr.h - which failure class a loader's own error message means.
 *
 * Loaders (libvips' and the libraries under it: libtiff, libheif, libpng,
 * libjpeg, librsvg) report why they refuse a file only as text.  Some of
 * those refusals are not damaged data but a variant no loader handles
 * (ERR_UNSUPPORTED) or a loader's own size limit (ERR_TOO_LARGE); one table
 * in loaderr.c maps message fragments to classes, so the report says which.
 *
 * Call sequence: after a loader failed with @res filled as ERR_DECODE
 * (vipsmsg_fail(), or a direct decoder's message), loaderr_reclassify(res).
 */
#ifndef IMGPOOL_LOADERR_H
#define IMGPOOL_LOADERR_H

#include "task.h"

/* The class the loader message @msg names, or @dflt when the table has
 * no fragment of it.  Fragments match case-sensitively, anywhere. */
enum err_class loaderr_class(const char *msg, enum err_class dflt);

/* When @res failed as ERR_DECODE, its class from its message (other
 * classes, such as out-of-memory, are left alone). */
void loaderr_reclassify(struct task_result *res);

#endif
