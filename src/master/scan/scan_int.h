/*
 * scan_int.h - what scan.c (roots, --files-from), scan_walk.c (the
 * directory walk through descriptors) and scan_entry.c (classifying,
 * filtering, listing one entry) share; nothing outside the scan includes
 * it.
 *
 * Call sequence: scan_run() (scan.c) fills a struct scan_ctx and calls
 * scan_walk_dir() for each directory root; the walk calls scan_entry() for
 * every non-directory entry, scan_add_task() for failed entries, and
 * scan_filtered()/scan_dir_excluded()/scan_count() for the filters.  Calls
 * go one way: scan.c -> scan_walk.c -> scan_entry.c (and scan.c ->
 * scan_entry.c).
 * Memory: the context owns path, stack and dirbuf (freed by scan_run()).
 * Every int function returns 0, or -1 after errorf() (the master's
 * convention: -1 means already reported); out of memory ends the run.
 */
#ifndef IMGPOOL_SCAN_INT_H
#define IMGPOOL_SCAN_INT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "hashset.h"
#include "scan.h"
#include "task.h"

/* Directories walked below a root at most: deeper ones are failed tasks
 * (each level holds a descriptor and a stack frame). */
#define SCAN_MAX_DEPTH 4096

struct scan_devino {
    uint64_t dev, ino;
};

struct scan_ctx {
    const struct scan_opts *opts;
    struct scan_list *l;
    int root_index;
    unsigned open_follow;    /* TASK_FOLLOW_* for the tasks being added */
    /* The path of the entry at hand, built as the walk goes: the root,
     * '/', then rel (which starts at rel_off). */
    char *path;
    size_t path_len, path_size;
    size_t rel_off;
    /* The directories being walked, root first (loop check). */
    struct scan_devino *stack;
    size_t depth, stack_size;
    /* With follow_symlinks: the tasks already listed, by (dev, ino).  The
     * values are indices into l->tasks, whose dev and ino are the keys, so
     * the set costs its slots and nothing else. */
    struct hashset seen;
    char *dirbuf;            /* scratch for "rel/" when pruning */
    size_t dirbuf_size;
    /* Below a backup folder (names.h IMGPOOL_BACKUP_MARKER): every task
     * added is skipped, ERR_BACKUP.  Set by the walk and for named files
     * (scan_backup_above()). */
    int in_backup;
    /* The directory scan_backup_above() looked at last, and its answer. */
    char *above_dir;
    int above_marked;
};

/* Message of a task skipped as a backup. */
extern const char SCAN_MSG_BACKUP[];

/*
 * Whether the directory @dir (a path the user named, followed) or any of
 * its ancestors carries the backup marker.  The last directory asked
 * about is remembered in @c, so the entries of one --files-from directory
 * cost one look.  Cannot fail: what cannot be resolved says no.
 */
int scan_backup_above(struct scan_ctx *c, const char *dir, size_t len);

/* Append a task for @path (@pathlen bytes) whose part below the root
 * starts at @rel; copies the path. */
int scan_add_task(struct scan_ctx *c, const char *path, size_t pathlen,
                  const char *rel, const struct stat *st,
                  enum task_status pre, enum err_class cls, const char *msg);

/* Classify and record the non-directory entry @name in @dirfd (AT_FDCWD:
 * @path is a name the user gave); @st from fstatat(), not following links
 * when @nofollow. */
int scan_entry(struct scan_ctx *c, int dirfd, const char *path,
               size_t pathlen, const char *rel, const char *name,
               const struct stat *st, int nofollow);

/* True when --include/--exclude drop the file at @rel. */
int scan_filtered(const struct scan_opts *o, const char *rel);

/* Whether an exclude names the directory at @rel: *excluded. */
int scan_dir_excluded(struct scan_ctx *c, const char *rel, int *excluded);

/* Count a non-task entry in *@counter (once over all shards). */
void scan_count(struct scan_ctx *c, size_t *counter, const char *rel);

/* Walk the directory @root (no trailing slash except "/"), opened as
 * named.  0, or -1 on a fatal problem, already printed with errorf(). */
int scan_walk_dir(struct scan_ctx *c, const char *root);

#endif
