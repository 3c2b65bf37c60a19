/*
 * thumbcache.h - the freedesktop.org thumbnail cache, as both processes
 * need it: the flavours (normal 128, large 256, x-large 512, xx-large 1024
 * pixels) and where the cache is.  The worker's side, which names, checks
 * and writes the thumbnails, is worker/fdthumb.h.
 * Call sequence (master, parsing options):
 *   unsigned mask;
 *   if (thumbcache_parse_flavors("normal,large", &mask) < 0) ...usage...
 *   char base[PATH_MAX];
 *   if (thumbcache_base(opt_cache_dir, base, sizeof(base)) < 0) ...errno...
 * Nothing here allocates.  Functions that can fail return -1 with errno.
 */
#ifndef IMGPOOL_THUMBCACHE_H
#define IMGPOOL_THUMBCACHE_H

#include <stddef.h>

enum thumbcache_flavor {
    THUMBCACHE_NORMAL = 0,
    THUMBCACHE_LARGE,
    THUMBCACHE_XLARGE,
    THUMBCACHE_XXLARGE,
    THUMBCACHE__COUNT
};

/* The default set: normal and large, the two every file manager asks
 * for. */
#define THUMBCACHE_DEFAULT_MASK \
    ((1u << THUMBCACHE_NORMAL) | (1u << THUMBCACHE_LARGE))

/* "normal", "large", "x-large", "xx-large": the folder names. */
const char *thumbcache_flavor_name(enum thumbcache_flavor f);

/* The longest side in pixels: 128, 256, 512, 1024. */
int thumbcache_flavor_size(enum thumbcache_flavor f);

/* Parse a comma-separated list of flavour names (or "all") into a bit
 * mask of (1u << flavor).  -1 with errno EINVAL for an unknown name or an
 * empty list. */
int thumbcache_parse_flavors(const char *list, unsigned *mask);

/* The largest flavour in @mask, or -1 for an empty mask. */
int thumbcache_largest(unsigned mask);

/* The cache folder into @buf: @dir when not NULL, else
 * $XDG_CACHE_HOME/thumbnails when that is an absolute path, else
 * $HOME/.cache/thumbnails.  -1 with errno ENOENT when neither variable
 * helps, ENAMETOOLONG when @size is too small. */
int thumbcache_base(const char *dir, char *buf, size_t size);

#endif
