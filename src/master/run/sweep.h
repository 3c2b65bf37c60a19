/*
 * sweep.h - remove the temporary files a killed run left behind.
 *
 * Call sequence (master, after planning, before the pool starts):
 *   sweep_stale_temps(output_dir, backup_dir, &list);  // NULLs: none
 *
 * A worker writes each output to a temporary beside its final name
 * (names_tmp() in names.h: IMGPOOL_TMP_PREFIX "<host>-<pid>-<n>") and
 * renames it into place; a run killed before the rename leaves that file.
 * A temporary is removed when it is a regular file owned by this user (any
 * owner when we are root) and either
 *   - its host id is this host's (names_host_id(): this boot, this PID
 *     namespace) and no process of its pid is running, or
 *   - it was last modified more than SWEEP_MAX_AGE_S ago (the only rule
 *     for other hosts' names and for the "<pid>-<n>" names of older
 *     releases, which do not say their host).
 * Directories are reached through descriptors, component by component
 * without following symbolic links below the directory the user named
 * (dirwalk_open()); a directory behind a link is not swept.  Entries are
 * checked with fstatat(AT_SYMLINK_NOFOLLOW) and removed with unlinkat() in
 * that descriptor, so nothing outside the tree is ever removed.
 *
 * Errors: none are reported; what cannot be opened is not swept.
 */
#ifndef IMGPOOL_SWEEP_H
#define IMGPOOL_SWEEP_H

#include "scan.h"

/* A temporary older than this is stale wherever it was written. */
#define SWEEP_MAX_AGE_S (24 * 60 * 60)

/* Remove stale temporaries in the directory open on @fd, which is closed.
 * Returns how many were removed. */
int sweep_fd(int fd);

/* Remove stale temporaries in directory @dir (a path the user named:
 * followed).  Returns how many were removed; a directory that does not
 * exist counts as 0. */
int sweep_dir(const char *dir);

/* Sweep every directory an output of @l goes to, once each, and say on
 * stderr how many files were removed (nothing when none).  Outputs are
 * found as @output_dir plus each task's out_rel; in place (@output_dir
 * NULL, no out_rel) the inputs' directories, below their INPUT roots,
 * and with @backup_dir (--backup, else NULL) the directory each backup
 * goes to, @backup_dir plus the directories of the task's rel: a worker
 * killed while copying an original to another file system leaves its
 * temporary there. */
void sweep_stale_temps(const char *output_dir, const char *backup_dir,
                       const struct scan_list *l);

#endif
