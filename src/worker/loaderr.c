/*
 * loaderr.c - loader error messages to failure classes; see loaderr.h.
 *
 * Each row is a fragment of a message as the library prints it (checked
 * against the versions in Debian 12: libvips 8.14, libtiff 4.5, libheif
 * 1.15, libpng 1.6, libjpeg-turbo 2.1, librsvg 2.54) and the class it
 * means.  The first matching row wins.
 */
#include <string.h>

#include "loaderr.h"

struct loaderr_row {
    const char *fragment;
    enum err_class cls;
};

static const struct loaderr_row loaderr_table[] = {
    /* A loader's own size limits. */
    {"Security limit exceeded", ERR_TOO_LARGE},            /* libheif */
    {"exceeds the maximum image size", ERR_TOO_LARGE},     /* libheif */
    {"exceeds user limit", ERR_TOO_LARGE},                 /* libpng */
    {"too large for this architecture", ERR_TOO_LARGE},    /* libpng */
    {"Maximum supported image dimension", ERR_TOO_LARGE},  /* libjpeg */
    /* Variants of a known format that no loader here handles.  Only
     * fragments that never describe damaged data: libjpeg's "Unsupported
     * marker type" is corruption, not a variant. */
    {"subsampled images not supported", ERR_UNSUPPORTED},  /* tiff2vips */
    {"Unsupported JPEG process", ERR_UNSUPPORTED},         /* libjpeg */
    {"Unsupported JPEG data precision", ERR_UNSUPPORTED},  /* libjpeg */
    {"Unsupported feature", ERR_UNSUPPORTED},              /* libheif */
    {"No decoding plugin", ERR_UNSUPPORTED},               /* libheif */
};

enum err_class
loaderr_class(const char *msg, enum err_class dflt)
{
    size_t i;

    if (!msg)
        return dflt;
    for (i = 0; i < sizeof(loaderr_table) / sizeof(loaderr_table[0]); i++)
        if (strstr(msg, loaderr_table[i].fragment))
            return loaderr_table[i].cls;
    return dflt;
}

void
loaderr_reclassify(struct task_result *res)
{
    if (res->status == TASK_FAILED && res->err_class == ERR_DECODE)
        res->err_class = loaderr_class(res->message, ERR_DECODE);
}
