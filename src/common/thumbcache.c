/*
 * thumbcache.c - flavours and location of the freedesktop.org thumbnail
 * cache (see thumbcache.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "thumbcache.h"

static const struct {
    const char *name;
    int size;
} flavors[THUMBCACHE__COUNT] = {
    [THUMBCACHE_NORMAL] = {"normal", 128},
    [THUMBCACHE_LARGE] = {"large", 256},
    [THUMBCACHE_XLARGE] = {"x-large", 512},
    [THUMBCACHE_XXLARGE] = {"xx-large", 1024},
};

const char *
thumbcache_flavor_name(enum thumbcache_flavor f)
{
    return (unsigned)f < THUMBCACHE__COUNT ? flavors[f].name : "unknown";
}

int
thumbcache_flavor_size(enum thumbcache_flavor f)
{
    return (unsigned)f < THUMBCACHE__COUNT ? flavors[f].size : 0;
}

/* The flavour named by the @n bytes at @s, or -1. */
static int
flavor_lookup(const char *s, size_t n)
{
    for (int f = 0; f < THUMBCACHE__COUNT; f++)
        if (strlen(flavors[f].name) == n && memcmp(flavors[f].name, s, n) == 0)
            return f;
    return -1;
}

int
thumbcache_parse_flavors(const char *list, unsigned *mask)
{
    unsigned m = 0;
    const char *p = list;

    if (strcmp(list, "all") == 0) {
        *mask = (1u << THUMBCACHE__COUNT) - 1;
        return 0;
    }
    for (;;) {
        size_t n = strcspn(p, ",");
        int f = flavor_lookup(p, n);

        if (f < 0) {
            errno = EINVAL;
            return -1;
        }
        m |= 1u << f;
        if (!p[n])
            break;
        p += n + 1;
    }
    *mask = m;
    return 0;
}

int
thumbcache_largest(unsigned mask)
{
    for (int f = THUMBCACHE__COUNT - 1; f >= 0; f--)
        if (mask & (1u << f))
            return f;
    return -1;
}

int
thumbcache_base(const char *dir, char *buf, size_t size)
{
    const char *xdg = getenv("XDG_CACHE_HOME");
    const char *home = getenv("HOME");
    int n;

    if (dir)
        n = snprintf(buf, size, "%s", dir);
    else if (xdg && xdg[0] == '/')
        n = snprintf(buf, size, "%s/thumbnails", xdg);
    else if (home && home[0])
        n = snprintf(buf, size, "%s/.cache/thumbnails", home);
    else {
        errno = ENOENT;
        return -1;
    }
    if (n < 0 || (size_t)n >= size) {
        errno = ENAMETOOLONG;
        return -1;
    }
    return 0;
}
