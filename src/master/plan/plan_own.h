/*
 * plan_own.h - would an output replace its own input?  Part of the
 * planner (plan.c), which calls it once per planned output.
 *
 * Call sequence:
 *   struct dir_map m;
 *   dir_map_init(&m);
 *   if (is_own_input(&task, &m)) ...refuse the output...
 *   dir_map_release(&m);
 *
 * Directory identities are looked up with stat(2) once per distinct
 * spelling and cached in the map, which owns its copies of the paths.
 * Nothing here fails: a directory that cannot be looked up (or memory that
 * runs out) only costs the check, which then says "not its own input".
 */
#ifndef IMGPOOL_PLAN_OWN_H
#define IMGPOOL_PLAN_OWN_H

#include <stddef.h>
#include <sys/types.h>
#include "hashset.h"
#include "task.h"

struct dir_info {
    char *path;
    size_t len;
    int ok;               /* stat() succeeded and found a directory */
    dev_t dev;
    ino_t ino;
};

struct dir_map {
    struct hashset set;   /* spelling -> index into v */
    struct dir_info *v;
    size_t n, alloc;
};

void dir_map_init(struct dir_map *m);
void dir_map_release(struct dir_map *m);

/*
 * Would writing @t->out_path replace @t's input?  True when the two strings
 * are equal, or when both live in the same directory (however spelled) and
 * either the names are equal or the output's entry is the input's file (a
 * case-insensitive file system, another name for the same entry).
 */
int is_own_input(const struct task *t, struct dir_map *dirs);

#endif
