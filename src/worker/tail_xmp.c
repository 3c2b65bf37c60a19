/*
 * tail_xmp.c - byte searches in a JPEG's XMP and trailer: whether the XMP
 * declares a motion photo or a container (tail.h).  Calls nothing else of
 * the worker, so the structure walk (guard.c) and the tail checks
 * (tail.c) both use it without calling each other.
 */
#include <string.h>

#include "tail.h"

const unsigned char *
tail_find(const unsigned char *p, size_t n, const char *s, size_t k)
{
    size_t i;

    for (i = 0; k <= n && i <= n - k; i++)
        if (p[i] == (unsigned char)s[0] && memcmp(p + i, s, k) == 0)
            return p + i;
    return NULL;
}

/* Whether property @name appears in @p with a value that is not "0":
 * name="v", name='v' (attribute) or name>v< (element). */
static int
property_set(const unsigned char *p, size_t n, const char *name)
{
    size_t k = strlen(name);
    const unsigned char *at = p, *end = p + n;

    while ((at = tail_find(at, (size_t)(end - at), name, k)) != NULL) {
        const unsigned char *v = at + k;

        at += k;
        while (v < end && (*v == ' ' || *v == '\t' || *v == '\n' ||
                           *v == '\r'))
            v++;
        if (v < end && *v == '=') {
            v++;
            while (v < end && (*v == ' ' || *v == '\t'))
                v++;
            if (v < end && (*v == '"' || *v == '\''))
                v++;
        } else if (v < end && *v == '>') {
            v++;
        } else {
            continue;           /* a longer name: MotionPhotoVersion */
        }
        if (v < end && *v != '0' && *v != '"' && *v != '\'' && *v != '<')
            return 1;
    }
    return 0;
}

enum tail_xmp
tail_xmp_container(const unsigned char *p, size_t n)
{
    static const char dir[] = "Container:Directory";
    static const char ns[] = "http://ns.google.com/photos/1.0/container/";

    if (property_set(p, n, "MotionPhoto") || property_set(p, n, "MicroVideo"))
        return TAIL_XMP_MOTION;
    if (tail_find(p, n, dir, sizeof(dir) - 1) || tail_find(p, n, ns, sizeof(ns) - 1))
        return TAIL_XMP_CONTAINER;
    return TAIL_XMP_NONE;
}
