/*
 * dirwalk.c - component-by-component directory walk; see dirwalk.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dirwalk.h"

int
dirwalk_open(int dirfd, const char *rel, size_t len, int flags, mode_t mode)
{
    int oflags = O_RDONLY | O_DIRECTORY | O_CLOEXEC;
    const char *p = rel, *end = rel + len;
    char comp[NAME_MAX + 1];
    int fd, next;

    if (!(flags & DIRWALK_FOLLOW))
        oflags |= O_NOFOLLOW;
    if (len > 0 && rel[0] == '/') {
        dirfd = AT_FDCWD;
        p = rel + 1;
    }
    fd = openat(dirfd, p == rel ? "." : "/", oflags);
    if (fd < 0)
        return -1;
    while (p < end) {
        const char *slash = memchr(p, '/', (size_t)(end - p));
        size_t n = (size_t)((slash ? slash : end) - p);

        if (n == 0 || (n == 1 && p[0] == '.')) {
            p += n + 1;
            continue;
        }
        if (n == 2 && p[0] == '.' && p[1] == '.' &&
            !(flags & DIRWALK_FOLLOW)) {
            close(fd);
            errno = EINVAL;
            return -1;
        }
        if (n > NAME_MAX) {
            close(fd);
            errno = ENAMETOOLONG;
            return -1;
        }
        memcpy(comp, p, n);
        comp[n] = '\0';
        next = openat(fd, comp, oflags);
        if (next < 0 && errno == ENOENT && (flags & DIRWALK_CREATE)) {
            if (mkdirat(fd, comp, mode) < 0 && errno != EEXIST) {
                int err = errno;
                close(fd);
                errno = err;
                return -1;
            }
            next = openat(fd, comp, oflags);
        }
        if (next < 0) {
            int err = errno;
            struct stat sb;

            /* O_NOFOLLOW | O_DIRECTORY on a symlink gives ELOOP or ENOTDIR
             * depending on the kernel: say which it is. */
            if (err == ENOTDIR && !(flags & DIRWALK_FOLLOW) &&
                fstatat(fd, comp, &sb, AT_SYMLINK_NOFOLLOW) == 0 &&
                S_ISLNK(sb.st_mode))
                err = ELOOP;
            close(fd);
            errno = err;
            return -1;
        }
        close(fd);
        fd = next;
        p += n + 1;
    }
    return fd;
}

size_t
dirwalk_normalize(char *path)
{
    const char *r = path;
    char *w = path;
    int absolute = path[0] == '/';

    if (path[0] == '\0')
        return 0;
    if (absolute)
        *w++ = *r++;
    while (*r) {
        const char *slash = strchr(r, '/');
        size_t n = slash ? (size_t)(slash - r) : strlen(r);

        if (n > 0 && !(n == 1 && r[0] == '.')) {
            if (w > path + absolute)
                *w++ = '/';
            memmove(w, r, n);
            w += n;
        }
        r += n;
        if (*r == '/')
            r++;
    }
    if (w == path)
        *w++ = '.';
    *w = '\0';
    return (size_t)(w - path);
}

size_t
dirwalk_prefix_len(const char *dir)
{
    return strcmp(dir, "/") == 0 ? 0 : strlen(dir);
}
