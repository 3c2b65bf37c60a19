/*
 * scan.h - turn INPUT roots into a deterministic list of candidate files.
 *
 * Call sequence:
 *   struct scan_list list;
 *   scan_list_init(&list);
 *   scan_run(&opts, &list);          // may be called once per run
 *   ... list.tasks[0 .. list.n) ...
 *   scan_list_release(&list);
 *
 * What becomes a task:
 *  - a regular file whose name has an image extension (.jpg .jpeg .jpe .png
 *    .gif .webp .tif .tiff .heic .heif .avif .bmp ... case-insensitive);
 *  - a regular file with any other name whose first bytes are an image
 *    signature (content sniffing; see sniff.h);
 *  - a non-regular file (FIFO, device, socket) whose name has an image
 *    extension: it becomes a task with pre_status TASK_SKIPPED,
 *    ERR_NOT_REGULAR, and is never opened.
 *  - in a physical walk, a symlink below a root whose name has an image
 *    extension or that leads to a directory: a skipped ERR_SYMLINK task
 *    ("symbolic link not followed"); with follow_symlinks, a dangling one:
 *    skipped, ERR_READ;
 *  - a directory below a root that cannot be opened or read (permissions,
 *    replaced by a symlink during the walk, too deep to hold open) or an
 *    entry that cannot be stat'ed: a failed ERR_READ task with its path
 *    (also warned and counted in walk_errors), never a silent gap.
 * Everything else is "ignored": counted, not listed.  Hidden files and
 * directories are walked like any others, except files named
 * ".imgpool-tmp-*" (our own temporary outputs), which are ignored.
 *
 * Directories are walked through descriptors (scan_walk.c): the root is
 * opened once as named (a symlink named on the command line is followed),
 * every directory below it with openat(O_DIRECTORY | O_NOFOLLOW) from its
 * parent, entries looked at with fstatat(AT_SYMLINK_NOFOLLOW); no path is
 * resolved twice and depth is not limited by PATH_MAX.  Symlinks below a
 * root are followed only with opts->follow_symlinks.  Children are visited
 * in strcmp() order of their names, so the list order is deterministic for
 * a given tree; roots keep their order.  With follow_symlinks, a link back
 * to a directory being walked is a warned walk error, and a file reached
 * by several routes (same dev and inode) is listed once, under the first
 * path met.  Each task's open_follow (task.h) tells the worker which links
 * it may follow on its own walk from the root to the file.
 *
 * --include/--exclude globs are matched with fnmatch(3), flags 0 (no
 * FNM_PATHNAME: '*' crosses '/'; no FNM_PERIOD) against the path relative
 * to its root, "sub/a.jpg"; a file given directly as INPUT is matched by
 * its base name.  A file is dropped when any exclude matches it, or when
 * includes were given and none matches.  An exclude also prunes a
 * directory whose relative path P matches it as "P" or as "P/": "cache",
 * "cache/" and "cache/" followed by '*' all skip everything below the
 * top-level cache, "*cache" every directory ending in "cache" at any depth.
 * Includes never prune.  Pruned directories are not descended into and
 * their contents are not counted.
 */
#ifndef IMGPOOL_SCAN_H
#define IMGPOOL_SCAN_H

#include <stddef.h>
#include <stdio.h>
#include <stdint.h>
#include "task.h"

struct scan_list;

struct scan_opts {
    const char *const *roots;    /* INPUT arguments */
    size_t nroots;
    const char *const *includes; /* if any, a file must match one */
    size_t nincludes;
    const char *const *excludes; /* a file matching any is dropped */
    size_t nexcludes;
    int follow_symlinks;
    /* --files-from: a stream of paths, one per line ('\n') or NUL-
     * terminated (@files_from_nul).  Each entry is handled like an INPUT
     * argument, except that a file's path below its "root" is the entry
     * itself with any leading '/' and "./" removed, so outputs mirror the
     * listed paths.  A listed path that cannot be read gets a failed task
     * (ERR_READ) rather than ending the scan. */
    FILE *files_from;
    int files_from_nul;
    /* --shard K/N: the scan still lists every task (the planner must see
     * them all to settle name collisions the same way in every shard);
     * only the ignored and excluded counts are split, by path, so that
     * the shards' summaries add up.  plan_shard() splits the tasks. */
    int shard_k, shard_n;          /* shard_n == 0: no sharding */
    /* A directory never to descend into (the output tree when it lies
     * inside an input), by identity; have_skip_dir says it is set. */
    int have_skip_dir;
    uint64_t skip_dev, skip_ino;
    /* Called after each entry of a directory the walk has looked at
     * (the list may have grown), NULL for none: lazy dispatch plans and
     * dispatches from here while the walk goes on.  It may read the list
     * but not change what the scan has listed. */
    void (*on_entry)(void *data, struct scan_list *l);
    void *on_entry_data;
};

struct scan_list {
    struct task *tasks;
    size_t n, alloc;
    size_t ignored;        /* non-directory entries that are not images */
    size_t excluded;       /* dropped by --include/--exclude */
    size_t walk_errors;    /* unreadable directories and the like */
    size_t other_shards;   /* tasks left to other shards (plan_shard) */
};

void scan_list_init(struct scan_list *l);
/* Frees every task's path and out_path (so out_path must be malloc'ed or
 * NULL, never an alias), then the array; @l is left as after init. */
void scan_list_release(struct scan_list *l);

/*
 * Walk every root and append tasks to @l.  A root that does not exist or
 * cannot be read is a setup error: returns -1 after printing the reason with
 * errorf().  Problems below a root (an unreadable subdirectory, a symlink
 * loop) are printed with warnf(), counted in walk_errors, and do not stop the
 * walk; an unreadable subdirectory is also listed as a failed task (a loop
 * is not: its contents are listed under the ancestor).  Returns 0
 * otherwise.
 */
int scan_run(const struct scan_opts *opts, struct scan_list *l);

/*
 * Whether every one of the @n INPUT roots can be reached (stat(2)): 0, or
 * -1 after an errorf() per root that cannot ("cannot read 'x': ...").
 * scan_run() checks this first; the run calls it before it creates
 * anything, so a typo leaves no output directory behind.
 */
int scan_check_roots(const char *const *roots, size_t n);

/* The shard (0 .. n-1) of a path: XXH3-64 of its bytes modulo @n, the
 * same on every machine and in every order. */
int scan_shard_of(const char *path, int n);

/* True when @name ends in an extension that imgpool treats as an image. */
int scan_has_image_ext(const char *name);

#endif
