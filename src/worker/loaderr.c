/*
 * loaderr.c - loader error messages to failure classes; see loaderr.h.
 *
 * Each row is a fragment of a message as the library prints it (checked
 * against the versions in Debian 12: libvips 8.14, libtiff 4.5, libheif
 * 1.15, libpng 1.6, libjpeg-turbo 2.1, librsvg 2.54) and the class it
 * means.  The first matching row wins.
 */
#include <stdio.h>
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

/* Damaged data, as libjpeg words its warnings (jerror.h): the classes of
 * a recompression's failure (loaderr_fail_damaged()). */
static const struct loaderr_row damage_table[] = {
    {"Premature end of JPEG file", ERR_TRUNCATED},
    {"Corrupt JPEG data", ERR_CORRUPT_DATA},
    {"Inconsistent progression sequence", ERR_CORRUPT_DATA},
};

/* The damage class @msg names, or ERR_NONE. */
static enum err_class
damage_class(const char *msg)
{
    size_t i;

    for (i = 0; i < sizeof(damage_table) / sizeof(damage_table[0]); i++)
        if (strstr(msg, damage_table[i].fragment))
            return damage_table[i].cls;
    return ERR_NONE;
}

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

/* The first line of @text that names damage @fail_on fails on, into @line
 * (@size bytes): its class, or ERR_NONE. */
static enum err_class
damage_in(enum fail_on fail_on, const char *text, char *line, size_t size)
{
    while (text && *text) {
        size_t n = strcspn(text, "\n");
        enum err_class c;

        snprintf(line, size, "%.*s", (int)n, text);
        text += n + (text[n] == '\n');
        c = damage_class(line);
        if (c == ERR_TRUNCATED ||
            (c == ERR_CORRUPT_DATA && fail_on != FAIL_TRUNCATED))
            return c;
    }
    return ERR_NONE;
}

int
loaderr_fail_damaged(enum fail_on fail_on, struct task_result *res,
                     const char *more, int rc)
{
    char line[RESULT_MSG_MAX];
    enum err_class c;

    if (rc < 0) {
        if (res->err_class == ERR_DECODE &&
            (c = damage_class(res->message)) != ERR_NONE)
            res->err_class = c;
        return -1;
    }
    if (fail_on == FAIL_NONE)
        return 0;
    c = damage_in(fail_on, res->warning, line, sizeof(line));
    if (c == ERR_NONE)
        c = damage_in(fail_on, more, line, sizeof(line));
    if (c == ERR_NONE)
        return 0;
    task_result_fail(res, c, "damaged image data (strict --fail-on %s): %s",
                     fail_on_str(fail_on), line);
    return -1;
}
