/*
 * svgsize.c - an SVG root element's width and height in CSS pixels (see
 * svgsize.h): the first "<svg" start tag after the prolog, its width and
 * height attributes as number and unit (px or none 1, in 96, cm 96/2.54,
 * mm 96/25.4, pt 96/72, pc 16).  No XML parser: only that one tag is
 * read, bounded to the first SVGSIZE_SCAN bytes.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "svgsize.h"

#define SVGSIZE_SCAN 65536

/* CSS pixels of one @unit (@n bytes), or 0 for an unknown or relative
 * unit. */
static double
unit_px(const char *unit, size_t n)
{
    static const struct { const char *u; double px; } units[] = {
        {"", 1}, {"px", 1}, {"in", 96}, {"cm", 96 / 2.54},
        {"mm", 96 / 25.4}, {"pt", 96.0 / 72}, {"pc", 16},
    };

    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
        if (strlen(units[i].u) == n && strncmp(units[i].u, unit, n) == 0)
            return units[i].px;
    return 0;
}

/* The value of attribute @name in the tag [@tag, @end), in CSS pixels.
 * 0, or -1. */
static int
attr_px(const char *tag, const char *end, const char *name, double *out)
{
    size_t nl = strlen(name);

    for (const char *p = tag; p + nl + 2 < end; p++) {
        char q, buf[64], *num_end;
        const char *v, *ve;
        double x, f;
        size_t ul;

        if (!isspace((unsigned char)p[0]) || strncmp(p + 1, name, nl) != 0)
            continue;
        v = p + 1 + nl;
        while (v < end && isspace((unsigned char)*v))
            v++;
        if (v >= end || *v != '=')
            continue;
        v++;
        while (v < end && isspace((unsigned char)*v))
            v++;
        if (v >= end || (*v != '"' && *v != '\''))
            return -1;
        q = *v++;
        ve = memchr(v, q, (size_t)(end - v));
        if (!ve || (size_t)(ve - v) >= sizeof(buf))
            return -1;
        memcpy(buf, v, (size_t)(ve - v));
        buf[ve - v] = '\0';
        x = strtod(buf, &num_end);
        if (num_end == buf || !(x > 0))
            return -1;
        while (isspace((unsigned char)*num_end))
            num_end++;
        ul = strlen(num_end);
        while (ul && isspace((unsigned char)num_end[ul - 1]))
            ul--;
        f = unit_px(num_end, ul);
        if (f == 0)
            return -1;
        *out = x * f;
        return 0;
    }
    return -1;
}

int
svgsize_css(const char *doc, size_t len, double *w, double *h)
{
    size_t n = len < SVGSIZE_SCAN ? len : SVGSIZE_SCAN;
    const char *end = doc + n, *tag = doc, *close;

    /* the first "<svg" start tag outside comments: the root element */
    for (;;) {
        tag = memchr(tag, '<', (size_t)(end - tag));
        if (!tag || end - tag < 5)
            return -1;
        if (end - tag >= 4 && memcmp(tag, "<!--", 4) == 0) {
            tag = memmem(tag + 4, (size_t)(end - tag - 4), "-->", 3);
            if (!tag)
                return -1;
            continue;
        }
        if (memcmp(tag, "<svg", 4) == 0 && isspace((unsigned char)tag[4]))
            break;
        tag++;
    }
    close = memchr(tag, '>', (size_t)(end - tag));
    if (!close)
        return -1;
    if (attr_px(tag + 3, close, "width", w) < 0 ||
        attr_px(tag + 3, close, "height", h) < 0)
        return -1;
    return 0;
}
