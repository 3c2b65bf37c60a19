/*
 * plan_keep.h - what the planner is told before it names outputs: the
 * output names recorded in the state database (so that a name stays with
 * its input), the directory of each INPUT root below --output when there
 * are several, and which tasks are the same file reached twice.
 *
 * Call sequence (master, between scan_run() and plan_outputs()):
 *   plan_mark_duplicates(&list);               // same dev+ino: skipped
 *   dirs = plan_root_dirs(inputs, ninputs);    // NULL: one root
 *   plan_recorded_init(&rec);
 *   for each row of the state database:
 *       plan_recorded_add(&rec, out_rel, owner);
 *   popts.root_dirs = dirs; popts.recorded = &rec;
 *   plan_outputs(&popts, &list);
 *   plan_recorded_release(&rec);
 *   plan_root_dirs_free(dirs, ninputs);
 *
 * Ownership: struct plan_recorded copies the names it is given; the array
 * from plan_root_dirs() and its strings belong to the caller.
 * Errors: allocation failures end the program (xmalloc); nothing else
 * fails.
 */
#ifndef IMGPOOL_PLAN_KEEP_H
#define IMGPOOL_PLAN_KEEP_H

#include <stddef.h>
#include <stdint.h>
#include "hashset.h"
#include "scan.h"

/* Owners of a recorded output name besides a task index. */
#define PLAN_OWNER_NONE UINT32_MAX          /* not recorded for anyone */
#define PLAN_OWNER_OTHER (UINT32_MAX - 1)   /* an input that still exists
                                               but is not in this run */

/* Output names (below the output directory) and who they belong to. */
struct plan_recorded {
    struct hashset set;   /* name -> index into names/owner */
    char **names;
    uint32_t *owner;      /* task index, or PLAN_OWNER_OTHER */
    size_t n, alloc;
};

void plan_recorded_init(struct plan_recorded *r);
/* Record that @out_rel belongs to @owner (a task index or
 * PLAN_OWNER_OTHER); a name added twice keeps its first owner. */
void plan_recorded_add(struct plan_recorded *r, const char *out_rel,
                       uint32_t owner);
/* The owner of @out_rel, or PLAN_OWNER_NONE; @r may be NULL. */
uint32_t plan_recorded_owner(const struct plan_recorded *r,
                             const char *out_rel);
void plan_recorded_release(struct plan_recorded *r);

/*
 * With more than one distinct INPUT (distinct by device and inode; the
 * same directory named twice counts once), each directory root's tree goes
 * below a directory of its own, named after the root: the base name of
 * the root as spelled ("coll/2023/" -> "2023"), or of its real path when
 * that is ".", ".." or "/" ("/" itself: "root").  Names are settled in
 * argument order: the first "2023" keeps it, the next gets "2023-2", then
 * "2023-3", skipping any name already taken.  A root naming the same
 * directory as an earlier one gets the earlier one's name.  A file given
 * as INPUT maps into the output directory itself (as cp does).
 * Returns an array of @n entries (NULL entry: into the output directory),
 * or NULL when there is only one distinct INPUT.
 */
char **plan_root_dirs(const char *const *inputs, size_t n);
void plan_root_dirs_free(char **dirs, size_t n);

/*
 * The same file reached twice (an INPUT given twice, nested INPUTs: the
 * same device and inode by the same path, or a file with one name reached
 * by two) is processed once, under the first path met: every later task
 * for it that is still to be processed becomes skipped, ERR_DUPLICATE.
 * Hard links (a file with several names, each met under its own name) are
 * duplicates only @in_place, where one rewrite serves every name; with an
 * output tree each name gets its output.  With an output tree, a name
 * that can be planned wins over an earlier one that cannot (a
 * --files-from entry "../x" listed before "/abs/x" or "link/x": the file
 * is planned under the first name without a ".." component).  Returns how
 * many were marked.
 */
size_t plan_mark_duplicates(struct scan_list *l, int in_place);

/*
 * The same, one task at a time in list order (a list still growing):
 * plan_dups_check() marks task @i of @l when an earlier checked task is
 * the same file, and returns 1 then, 0 otherwise.  The set refers to the
 * tasks by index, so @l may be reallocated between calls.  Allocation
 * failures only cost the check (hashset.h).
 */
struct plan_dups {
    struct hashset seen;
};
void plan_dups_init(struct plan_dups *d);
int plan_dups_check(struct plan_dups *d, struct scan_list *l, size_t i,
                    int in_place);
void plan_dups_release(struct plan_dups *d);

#endif
