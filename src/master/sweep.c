/*
 * sweep.c - stale temporary files of killed runs; see sweep.h.
 */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "msg.h"
#include "names.h"
#include "sweep.h"
#include "util.h"

int
sweep_dir(const char *dir)
{
    const size_t plen = sizeof(IMGPOOL_TMP_PREFIX) - 1;
    struct dirent *e;
    DIR *d = opendir(dir);
    int removed = 0;

    if (!d)
        return 0;
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

/*
 * Remove temporary files that a killed run left in the directories this
 * run will write to.  Tasks come in scan order, so the outputs of one
 * directory are adjacent: comparing with the previous directory is enough
 * to visit each one once (almost always; a repeat visit is harmless).
 */
void
sweep_stale_temps(const struct scan_list *l)
{
    const char *prev = NULL;
    size_t prevlen = 0, i;
    int removed = 0;

    for (i = 0; i < l->n; i++) {
        const struct task *t = &l->tasks[i];
        const char *slash;
        size_t len;
        char *dir;

        if (t->pre_status != TASK_OK || !t->out_path)
            continue;
        slash = strrchr(t->out_path, '/');
        len = slash ? (size_t)(slash - t->out_path) : 0;
        if (prev && len == prevlen && memcmp(prev, t->out_path, len) == 0)
            continue;
        prev = t->out_path;
        prevlen = len;
        dir = len ? strndup(t->out_path, len) : xstrdup(".");
        if (!dir)
            continue;
        removed += sweep_dir(dir);
        free(dir);
    }
    if (removed)
        notef("removed %d stale temporary file%s left by an interrupted run",
              removed, removed == 1 ? "" : "s");
}
