/*
 * state_dir.c - the state directory and its files, never followed; see
 * state_dir.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "dirwalk.h"
#include "msg.h"
#include "names.h"
#include "state_dir.h"
#include "util.h"

/* The journals SQLite may keep beside a database. */
static const char *const journal_suffix[] = { "-wal", "-journal", "-shm" };
#define NJOURNALS (sizeof(journal_suffix) / sizeof(journal_suffix[0]))

/* What a person can do about a file that cannot be moved, by errno. */
static const char *
remedy(int err)
{
    switch (err) {
    case EPERM:
        return "it may be immutable or append-only (lsattr; chattr -i -a)";
    case EROFS:
        return "the file system is read-only";
    case EACCES:
        return "the state directory is not writable by this user";
    default:
        return "check its type, owner and permissions";
    }
}

int
state_dir_open(int out_fd, const char *shown)
{
    int fd = dirwalk_open(out_fd, IMGPOOL_STATE_DIR,
                          sizeof(IMGPOOL_STATE_DIR) - 1, DIRWALK_CREATE,
                          0755);
    struct stat sb;

    if (fd >= 0 && geteuid() == 0 && fstat(fd, &sb) == 0 && sb.st_uid != 0) {
        /* Root must not work in a directory another user controls. */
        errorf("state directory '%s' belongs to uid %ld and imgpool runs "
               "as root; remove it (a new one is made) or run as that user",
               shown, (long)sb.st_uid);
        close(fd);
        return -1;
    }
    if (fd >= 0)
        return fd;
    if (errno == ELOOP)
        errorf("state directory '%s' is a symbolic link, which imgpool "
               "never follows; remove the link (or replace it with a "
               "directory) and run again", shown);
    else if (errno == ENOTDIR)
        errorf("state directory '%s' is not a directory; remove or rename "
               "it and run again", shown);
    else
        errorf("cannot create state directory '%s': %s", shown,
               strerror(errno));
    return -1;
}

/* "@name.@tag-<UTC time>" into @buf, with "-N" when that exists. */
static void
aside_name(int dfd, const char *name, const char *tag, char *buf,
           size_t size)
{
    char stamp[32];
    struct stat sb;
    struct tm tm;
    time_t now = time(NULL);

    gmtime_r(&now, &tm);
    strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);
    snprintf(buf, size, "%s.%s-%s", name, tag, stamp);
    for (int i = 1; fstatat(dfd, buf, &sb, AT_SYMLINK_NOFOLLOW) == 0; i++)
        snprintf(buf, size, "%s.%s-%s-%d", name, tag, stamp, i);
}

int
state_dir_move_aside(int dfd, const char *shown, const char *name,
                     const char *tag)
{
    char aside[NAME_MAX + 1], from[NAME_MAX + 1], to[NAME_MAX + 1];

    aside_name(dfd, name, tag, aside, sizeof(aside));
    if (renameat(dfd, name, dfd, aside) < 0 && errno != ENOENT) {
        int err = errno;
        errorf("cannot move state file '%s/%s' aside: %s; %s, or remove it, "
               "then run again", shown, name, strerror(err), remedy(err));
        return -1;
    }
    for (size_t i = 0; i + 1 < NJOURNALS; i++) {
        snprintf(from, sizeof(from), "%s%s", name, journal_suffix[i]);
        snprintf(to, sizeof(to), "%s%s", aside, journal_suffix[i]);
        if (renameat(dfd, from, dfd, to) < 0)
            unlinkat(dfd, from, 0);
    }
    state_dir_remove_journals(dfd, name);
    return 0;
}

void
state_dir_remove_journals(int dfd, const char *name)
{
    char p[NAME_MAX + 1];

    for (size_t i = 0; i < NJOURNALS; i++) {
        snprintf(p, sizeof(p), "%s%s", name, journal_suffix[i]);
        unlinkat(dfd, p, 0);
    }
}

/* Why @file in @dfd cannot be used as it is, or NULL when it can (or does
 * not exist).  Opens nothing but a regular file, without following. */
static const char *
unusable(int dfd, const char *file)
{
    struct stat sb;
    int fd;

    if (fstatat(dfd, file, &sb, AT_SYMLINK_NOFOLLOW) < 0)
        return NULL;
    if (S_ISLNK(sb.st_mode))
        return "a symbolic link";
    if (!S_ISREG(sb.st_mode))
        return "not a regular file";
    /* Another name of the same file may lie outside the tree: SQLite would
     * rewrite (a WAL: truncate) whatever it is. */
    if (sb.st_nlink > 1)
        return "a file with other hard links";
    fd = openat(dfd, file, O_RDWR | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY |
                               O_CLOEXEC);
    if (fd < 0)
        return errno == ELOOP ? "a symbolic link" : "not writable";
    close(fd);
    return NULL;
}

int
state_dir_move_unusable(int dfd, const char *shown, const char *file,
                        const char *why)
{
    char aside[NAME_MAX + 1];

    aside_name(dfd, file, "unusable", aside, sizeof(aside));
    if (renameat(dfd, file, dfd, aside) < 0 && errno != ENOENT) {
        int err = errno;
        errorf("state file '%s/%s' is %s and cannot be moved aside (%s): "
               "%s; fix or remove it, then run again", shown, file, why,
               strerror(err), remedy(err));
        return -1;
    }
    warnf("state file '%s/%s' is %s; moved aside as '%s' (never followed)",
          shown, file, why, aside);
    return 0;
}

int
state_dir_check_files(int dfd, const char *shown, const char *name)
{
    char file[NAME_MAX + 1];
    const char *why = unusable(dfd, name);

    if (why) {
        /* The database itself: it goes with its journals, and the run
         * starts afresh as with a corrupt one. */
        warnf("state database '%s/%s' is %s; moving it aside", shown, name,
              why);
        if (state_dir_move_aside(dfd, shown, name, "unusable") < 0)
            return -1;
    }
    for (size_t i = 0; i < NJOURNALS; i++) {
        snprintf(file, sizeof(file), "%s%s", name, journal_suffix[i]);
        why = unusable(dfd, file);
        if (why && state_dir_move_unusable(dfd, shown, file, why) < 0)
            return -1;
    }
    return 0;
}

char *
state_dir_sqlite_path(int out_fd, const char *out_dir, const char *name)
{
    struct stat a, b;
    char *real = realpath(out_dir[0] ? out_dir : "/", NULL), *p;

    if (!real) {
        errorf("cannot resolve output directory '%s': %s", out_dir,
               strerror(errno));
        return NULL;
    }
    if (stat(real, &a) < 0 || fstat(out_fd, &b) < 0 ||
        a.st_dev != b.st_dev || a.st_ino != b.st_ino) {
        errorf("output directory '%s' was replaced while the state "
               "database was being opened; run again", out_dir);
        free(real);
        return NULL;
    }
    p = xasprintf("%s/%s/%s", strcmp(real, "/") ? real : "",
                  IMGPOOL_STATE_DIR, name);
    free(real);
    return p;
}
