/*
 * taskopen.h - a task's file reached from its root, the way the scan found
 * it: the one way the master and the workers open a file below a root the
 * user named.
 *
 * The root (t->path without t->rel; the directory of t->path when t->rel
 * is NULL) is opened as the user named it; each directory of t->rel then
 * with openat(O_DIRECTORY | O_NOFOLLOW) from the one before (dirwalk.h),
 * and the file with openat(O_NOFOLLOW), each unless t->open_follow allows
 * a link there (task.h).  The path string is never resolved again, so a
 * directory swapped for a symbolic link under a run is not followed.
 *
 * Call sequence:
 *   const char *name;
 *   enum taskopen_step step;
 *   int dirfd = taskopen_parent(t, &name, &step);
 *   if (dirfd < 0) ...errno, and step says which part failed...
 *   int fd = openat(dirfd, name, taskopen_file_flags(t) | O_RDONLY);
 *   ...
 *   close(dirfd);
 * or, for a file read and closed at once, taskopen_file().
 */
#ifndef IMGPOOL_TASKOPEN_H
#define IMGPOOL_TASKOPEN_H

#include "task.h"

/* What failed when a call below returns -1. */
enum taskopen_step {
    TASKOPEN_ROOT,              /* the input root */
    TASKOPEN_DIRS,              /* a directory on the way to the file */
    TASKOPEN_FILE,              /* the file (not regular: EINVAL) */
};

/* The directory that holds @t's file: a new O_CLOEXEC descriptor and, in
 * *@name, the file's name (pointing into t->path).  -1 with errno and
 * *@step. */
int taskopen_parent(const struct task *t, const char **name,
                    enum taskopen_step *step);

/* The openat() flags for the file itself: O_CLOEXEC | O_NONBLOCK (a FIFO
 * never blocks the open), with O_NOFOLLOW unless TASK_FOLLOW_FILE. */
int taskopen_file_flags(const struct task *t);

/* @t's file opened read-only, checked to be a regular file.  A new
 * descriptor, or -1 with errno (EINVAL for a file that is not regular)
 * and *@step. */
int taskopen_file(const struct task *t, enum taskopen_step *step);

#endif
