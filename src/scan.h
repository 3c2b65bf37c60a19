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
 * Everything else is "ignored": counted, not listed.
 *
 * Directories are walked with fts(3), physically (symlinks are not followed
 * unless opts->follow_symlinks; a symlink named on the command line is
 * followed).  Children are visited in strcmp() order, so the list order is
 * deterministic for a given tree.  --include/--exclude globs are matched with
 * fnmatch(3) (no FNM_PATHNAME: '*' crosses '/') against the path relative to
 * its root; a file given directly as INPUT is matched by its base name.
 */
#ifndef IMGPOOL_SCAN_H
#define IMGPOOL_SCAN_H

#include <stddef.h>
#include "task.h"

struct scan_opts {
    const char *const *roots;    /* INPUT arguments */
    size_t nroots;
    const char *const *includes; /* if any, a file must match one */
    size_t nincludes;
    const char *const *excludes; /* a file matching any is dropped */
    size_t nexcludes;
    int follow_symlinks;
};

struct scan_list {
    struct task *tasks;
    size_t n, alloc;
    size_t ignored;        /* regular files that are not images */
    size_t excluded;       /* dropped by --include/--exclude */
    size_t walk_errors;    /* unreadable directories and the like */
};

void scan_list_init(struct scan_list *l);
void scan_list_release(struct scan_list *l);

/*
 * Walk every root and append tasks to @l.  A root that does not exist or
 * cannot be read is a setup error: returns -1 after printing the reason with
 * errorf().  Problems below a root (an unreadable subdirectory, a symlink
 * loop) are printed with warnf(), counted in walk_errors, and do not stop the
 * walk.  Returns 0 otherwise.
 */
int scan_run(const struct scan_opts *opts, struct scan_list *l);

/* True when @name ends in an extension that imgpool treats as an image. */
int scan_has_image_ext(const char *name);

#endif
