/*
 * taskopen.c - a task's file from its root; see taskopen.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dirwalk.h"
#include "taskopen.h"

/*
 * Split t->path into the root the user named (its first *rootlen bytes)
 * and the part below it, returned: t->rel when t->path ends with it after
 * a '/', else the base name.
 */
static const char *
split_path(const struct task *t, size_t *rootlen)
{
    size_t n = strlen(t->path), k;
    const char *slash;

    if (t->rel != NULL && t->rel[0] != '\0') {
        k = strlen(t->rel);
        if (k <= n && strcmp(t->path + n - k, t->rel) == 0 &&
            (k == n || t->path[n - k - 1] == '/')) {
            *rootlen = n - k;
            return t->path + n - k;
        }
    }
    slash = strrchr(t->path, '/');
    *rootlen = slash != NULL ? (size_t)(slash + 1 - t->path) : 0;
    return t->path + *rootlen;
}

int
taskopen_parent(const struct task *t, const char **name,
                enum taskopen_step *step)
{
    size_t rootlen, dirlen;
    const char *rel = split_path(t, &rootlen), *slash;
    char root[PATH_MAX];
    int rootfd, fd, err;

    slash = strrchr(rel, '/');
    *name = slash != NULL ? slash + 1 : rel;
    dirlen = slash != NULL ? (size_t)(slash - rel) : 0;
    *step = TASKOPEN_ROOT;
    if (rootlen >= sizeof(root)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    memcpy(root, t->path, rootlen);
    root[rootlen] = '\0';
    /* The root is the user's own name for it: opened as named. */
    rootfd = open(rootlen > 0 ? root : ".", O_RDONLY | O_DIRECTORY |
                  O_CLOEXEC);
    if (rootfd < 0)
        return -1;
    fd = dirwalk_open(rootfd, rel, dirlen,
                      (t->open_follow & TASK_FOLLOW_DIRS) ? DIRWALK_FOLLOW
                                                          : 0, 0);
    err = errno;
    close(rootfd);
    if (fd < 0)
        *step = TASKOPEN_DIRS;
    errno = err;
    return fd;
}

int
taskopen_file_flags(const struct task *t)
{
    int flags = O_CLOEXEC | O_NONBLOCK;

    if (!(t->open_follow & TASK_FOLLOW_FILE))
        flags |= O_NOFOLLOW;
    return flags;
}

int
taskopen_file(const struct task *t, enum taskopen_step *step)
{
    const char *name;
    struct stat st;
    int dirfd = taskopen_parent(t, &name, step), fd, err;

    if (dirfd < 0)
        return -1;
    *step = TASKOPEN_FILE;
    fd = openat(dirfd, name, O_RDONLY | taskopen_file_flags(t));
    err = errno;
    close(dirfd);
    if (fd >= 0 && fstat(fd, &st) == 0 && !S_ISREG(st.st_mode)) {
        close(fd);
        fd = -1;
        err = EINVAL;
    } else if (fd >= 0) {
        err = 0;
    }
    errno = err;
    return fd;
}
