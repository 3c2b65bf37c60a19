/*
 * sweep.c - stale temporary files of killed runs; see sweep.h.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dirwalk.h"
#include "msg.h"
#include "names.h"
#include "sweep.h"
#include "util.h"

/* sweep_dir() on an open directory, which is closed. */
static int
sweep_fd(int fd)
{
    const size_t plen = sizeof(IMGPOOL_TMP_PREFIX) - 1;
    struct dirent *e;
    DIR *d = fdopendir(fd);
    int removed = 0;

    if (!d) {
        close(fd);
        return 0;
    }
    while ((e = readdir(d)) != NULL) {
        char *end;
        long pid;

        if (strncmp(e->d_name, IMGPOOL_TMP_PREFIX, plen) != 0)
            continue;
        pid = strtol(e->d_name + plen, &end, 10);
        if (end == e->d_name + plen || *end != '-' || pid <= 0)
            continue;
        if (kill((pid_t)pid, 0) == 0 || errno != ESRCH)
            continue; /* that process lives: maybe a concurrent run */
        if (unlinkat(dirfd(d), e->d_name, 0) == 0)
            removed++;
    }
    closedir(d);
    return removed;
}

int
sweep_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

    return fd < 0 ? 0 : sweep_fd(fd);
}

/* Length of the directory part of @rel ("a/b" of "a/b/c.jpg", 0 for a bare
 * name). */
static size_t
dir_len(const char *rel)
{
    const char *slash = strrchr(rel, '/');

    return slash ? (size_t)(slash - rel) : 0;
}

/* The directory a task's temporary goes to: below @rootfd for an output
 * (out_rel), the input's own directory in place.  -1 when there is none
 * (or it cannot be opened: then there is nothing to sweep either). */
static int
open_task_dir(int rootfd, const struct task *t)
{
    const char *rel, *base;
    char *dir;
    int fd;

    if (t->out_rel)
        return rootfd < 0 ? -1
                          : dirwalk_open(rootfd, t->out_rel,
                                         dir_len(t->out_rel), 0, 0);
    if (!t->out_path)
        return -1;
    /* In place: the input's directory, path up to rel's last component. */
    rel = t->rel ? t->rel : t->path;
    base = strrchr(rel, '/');
    base = base ? base + 1 : rel;
    if (base == t->path)
        return open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    dir = strndup(t->path, (size_t)(base - t->path));
    if (!dir)
        return -1;
    fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    free(dir);
    return fd;
}

/*
 * Remove temporary files that a killed run left in the directories this
 * run will write to.  Tasks come in scan order, so the outputs of one
 * directory are adjacent: comparing with the previous directory is enough
 * to visit each one once (almost always; a repeat visit is harmless).
 */
void
sweep_stale_temps(const char *output_dir, const struct scan_list *l)
{
    const char *prev = NULL;
    size_t prevlen = 0, i;
    int removed = 0, rootfd = -1, fd;

    if (output_dir)
        rootfd = open(output_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    for (i = 0; i < l->n; i++) {
        const struct task *t = &l->tasks[i];
        const char *key;
        size_t len;

        if (t->pre_status != TASK_OK || !t->out_path)
            continue;
        key = t->out_rel ? t->out_rel : t->path;
        len = dir_len(key);
        if (prev && len == prevlen && memcmp(prev, key, len) == 0)
            continue;
        prev = key;
        prevlen = len;
        fd = open_task_dir(rootfd, t);
        if (fd >= 0)
            removed += sweep_fd(fd);
    }
    if (rootfd >= 0)
        close(rootfd);
    if (removed)
        notef("removed %d stale temporary file%s left by an interrupted run",
              removed, removed == 1 ? "" : "s");
}
