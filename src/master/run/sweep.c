/*
 * sweep.c - stale temporary files of killed runs; see sweep.h.
 *
 * Which temporaries are stale (names.h says what a name holds):
 *  - "<host>-<pid>-<n>" with this process's host id (same boot, same PID
 *    namespace) and no process of that pid: its writer is gone.
 *  - any imgpool temporary, of any host or of an older release that wrote
 *    "<pid>-<n>", last modified more than SWEEP_MAX_AGE_S ago: a worker
 *    writes and renames its temporary within one task (bounded by
 *    --timeout), so a day-old one has no writer anywhere.  This is the only
 *    rule for names that cannot say their host, and it tolerates clocks of
 *    hosts sharing a file system that disagree by hours.
 * and, whichever rule applies, only a regular file (fstatat without
 * following), owned by this user unless we are root, reached through
 * directory descriptors that never followed a symbolic link below the root
 * the user named, removed with unlinkat() in that descriptor.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "dirwalk.h"
#include "msg.h"
#include "names.h"
#include "sweep.h"
#include "util.h"

/* One name, its stat, and the time now: remove it? */
static int
is_stale(const char *name, const struct stat *sb, time_t now)
{
    struct names_tmp t;
    enum names_tmp_kind kind = names_tmp_parse(name, &t);

    if (kind == NAMES_TMP_NONE || !S_ISREG(sb->st_mode))
        return 0;
    if (sb->st_uid != geteuid() && geteuid() != 0)
        return 0;
    if (now - sb->st_mtim.tv_sec > SWEEP_MAX_AGE_S)
        return 1;
    if (kind != NAMES_TMP_HOST || strcmp(t.host, names_host_id()) != 0)
        return 0;
    /* Ours: stale when no process of that pid lives here. */
    return kill((pid_t)t.pid, 0) < 0 && errno == ESRCH;
}

int
sweep_fd(int fd)
{
    const size_t plen = sizeof(IMGPOOL_TMP_PREFIX) - 1;
    time_t now = time(NULL);
    struct dirent *e;
    struct stat sb;
    DIR *d = fdopendir(fd);
    int removed = 0;

    if (!d) {
        close(fd);
        return 0;
    }
    while ((e = readdir(d)) != NULL) {
        if (strncmp(e->d_name, IMGPOOL_TMP_PREFIX, plen) != 0)
            continue;
        if (fstatat(dirfd(d), e->d_name, &sb, AT_SYMLINK_NOFOLLOW) < 0)
            continue;
        if (!is_stale(e->d_name, &sb, now))
            continue;
        /* unlinkat() removes the name, never what a link points to; a
         * directory swapped in meanwhile fails with EISDIR. */
        if (unlinkat(dirfd(d), e->d_name, 0) == 0)
            removed++;
    }
    closedir(d);
    return removed;
}

int
sweep_dir(const char *dir)
{
    int fd = dirwalk_open(AT_FDCWD, dir, strlen(dir), DIRWALK_FOLLOW, 0);

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

/* The root a path the user named starts from: its first @len bytes,
 * followed (the user named it); "" is the working directory. */
static int
open_user_root(const char *path, size_t len)
{
    if (len == 0)
        return dirwalk_open(AT_FDCWD, ".", 1, DIRWALK_FOLLOW, 0);
    return dirwalk_open(AT_FDCWD, path, len, DIRWALK_FOLLOW, 0);
}

/* The directory a task's temporary goes to: below @rootfd for an output
 * (out_rel), the input's own directory in place (below its INPUT root).
 * -1 when there is none, or it cannot be reached without following a
 * symbolic link below the root: then nothing is swept there. */
static int
open_task_dir(int rootfd, const struct task *t)
{
    size_t root_len;
    int fd, rfd;

    if (t->out_rel)
        return rootfd < 0 ? -1
                          : dirwalk_open(rootfd, t->out_rel,
                                         dir_len(t->out_rel), 0, 0);
    if (!t->out_path || !t->rel || t->rel < t->path ||
        t->rel > t->path + strlen(t->path))
        return -1;
    /* In place: the INPUT root as named, then rel's directories. */
    root_len = (size_t)(t->rel - t->path);
    rfd = open_user_root(t->path, root_len);
    if (rfd < 0)
        return -1;
    fd = dirwalk_open(rfd, t->rel, dir_len(t->rel), 0, 0);
    close(rfd);
    return fd;
}

/* The directory the backup of in-place task @t goes to: below @bakfd,
 * the directories of rel; -1 when there is none. */
static int
open_backup_dir(int bakfd, const struct task *t)
{
    if (bakfd < 0 || t->out_rel || !t->rel)
        return -1;
    return dirwalk_open(bakfd, t->rel, dir_len(t->rel), 0, 0);
}

/* One pass over @l: every directory open_dir() gives, once each. */
static int
sweep_pass(const struct scan_list *l, int fd0, int backup)
{
    const char *prev = NULL;
    size_t prevlen = 0, i;
    int removed = 0, fd;

    for (i = 0; i < l->n; i++) {
        const struct task *t = &l->tasks[i];
        const char *key;
        size_t len;

        if (t->pre_status != TASK_OK || !t->out_path)
            continue;
        key = backup ? t->rel : t->out_rel ? t->out_rel : t->path;
        if (!key)
            continue;
        len = dir_len(key);
        if (prev && len == prevlen && memcmp(prev, key, len) == 0)
            continue;
        prev = key;
        prevlen = len;
        fd = backup ? open_backup_dir(fd0, t) : open_task_dir(fd0, t);
        if (fd >= 0)
            removed += sweep_fd(fd);
    }
    return removed;
}

/*
 * Tasks come in scan order, so the outputs of one directory are adjacent:
 * comparing with the previous directory is enough to visit each one once
 * (almost always; a repeat visit is harmless).
 */
void
sweep_stale_temps(const char *output_dir, const char *backup_dir,
                  const struct scan_list *l)
{
    int removed, rootfd = -1;

    if (output_dir)
        rootfd = open_user_root(output_dir, strlen(output_dir));
    removed = sweep_pass(l, rootfd, 0);
    if (rootfd >= 0)
        close(rootfd);
    if (backup_dir && !output_dir) {
        rootfd = open_user_root(backup_dir, strlen(backup_dir));
        if (rootfd >= 0) {
            removed += sweep_pass(l, rootfd, 1);
            close(rootfd);
        }
    }
    if (removed)
        notef("removed %d stale temporary file%s left by an interrupted run",
              removed, removed == 1 ? "" : "s");
}
