/*
 * dirwalk.h - open a directory below a directory descriptor one component
 * at a time, optionally creating what is missing: the one mkdir-walk.
 *
 * Call sequence:
 *   int fd = dirwalk_open(rootfd, "a/b/c", DIRWALK_CREATE, 0777);
 *   if (fd < 0) ...errno says why...
 *   ...openat(fd, name, ...)...
 *   close(fd);
 *
 * Each component is opened with openat(O_DIRECTORY | O_NOFOLLOW) from the
 * one before, so a symbolic link planted anywhere on the way can never
 * redirect the walk (unless DIRWALK_FOLLOW, for paths the user named).
 *
 * dirwalk_normalize() is the lexical side: it spells a directory the user
 * named the one way the rest of the run expects ("out//", "./out/." and
 * "out" all become "out"), without looking at the file system.
 */
#ifndef IMGPOOL_DIRWALK_H
#define IMGPOOL_DIRWALK_H

#include <stddef.h>
#include <sys/types.h>

enum dirwalk_flags {
    DIRWALK_CREATE = 1 << 0,  /* mkdirat() missing components */
    DIRWALK_FOLLOW = 1 << 1,  /* follow symbolic links and ".." (paths the
                                 user named, never paths from the tree) */
};

/*
 * Open directory @rel (its first @len bytes; empty or "." means @dirfd
 * itself) below @dirfd, which may be AT_FDCWD; an absolute @rel starts at
 * "/".  Empty and "." components are skipped.  Returns a new O_CLOEXEC
 * descriptor the caller closes, or -1 with errno: ELOOP for a symbolic link
 * on the way (without DIRWALK_FOLLOW), ENOTDIR for a component that is not a
 * directory, EINVAL for a ".." component (without DIRWALK_FOLLOW),
 * ENAMETOOLONG for a component over NAME_MAX, or what mkdirat/openat said.
 */
int dirwalk_open(int dirfd, const char *rel, size_t len, int flags,
                 mode_t mode);

/*
 * Normalise the directory path @path in place, lexically: "//" becomes "/",
 * "." components and trailing '/'s go, so "out//", "out/.", "./out/." and
 * "./out" all read "out".  "/" stays "/", a path of only "." components
 * becomes ".", "" stays "".  ".." components are kept (what they mean
 * depends on symbolic links).  Cannot fail; returns the new length.
 */
size_t dirwalk_normalize(char *path);

/*
 * The bytes of directory @dir, as dirwalk_normalize() spells it, that come
 * before "/name" when a name below it is built: all of them, or none for
 * the root "/" (the only normalised spelling that ends in '/').  Callers
 * never strip slashes themselves: the run configuration normalised them
 * once (cli.h).
 */
size_t dirwalk_prefix_len(const char *dir);

#endif
