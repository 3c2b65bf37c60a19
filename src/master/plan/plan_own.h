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

/*
 * Every input file, by identity (device and inode, never by spelling), and
 * every directory that holds one: what no output may replace.
 *
 * Call sequence:
 *   struct input_set s;
 *   if (input_set_build(&s, tasks, n, &m) < 0) ...out of memory...
 *   switch (input_at(&s, out_path, &task, &m)) { ... }
 *   input_set_release(&s);
 */
struct id_set {
    struct hashset set;   /* (dev, ino) -> index into v */
    uint64_t (*v)[2];
    size_t n, alloc;
};

struct input_set {
    struct id_set files;  /* each task's (dev, ino) */
    struct id_set dirs;   /* each task's directory's (dev, ino) */
};

/* The @n tasks of @tasks, whatever their pre_status (a file settled
 * without a worker is still an original).  0, or -1 with errno ENOMEM
 * (the set is then empty but may be released). */
int input_set_build(struct input_set *s, const struct task *tasks, size_t n,
                    struct dir_map *dirs);
void input_set_release(struct input_set *s);

enum input_hit {
    INPUT_NONE = 0,       /* @path is no input file */
    INPUT_SELF,           /* @path is @t's own input */
    INPUT_OTHER,          /* @path is another task's input */
};

/*
 * What writing @path would replace.  Only an output whose directory holds
 * inputs costs an lstat(2) of the entry; the directories' identities come
 * from @dirs (one stat(2) per spelling).  An entry that is a symbolic link
 * is never an input here: a rename replaces the link, not its target.
 */
enum input_hit input_at(const struct input_set *s, const char *path,
                        const struct task *t, struct dir_map *dirs);

/*
 * Every output of every task still to run (each size), "@output_dir
 * (@outlen bytes)/out_rel", looked up against the set of the @ntasks
 * inputs by identity: one that is another input fails ERR_OUTPUT_IS_INPUT
 * ("recompress photos/sub -o photos" maps photos/sub/sub/x.jpg onto the
 * input photos/sub/x.jpg), one that is its own input ERR_OUTPUT_PATH,
 * before any worker starts.  0, or -1 when out of memory.
 */
int plan_own_check(const char *output_dir, size_t outlen, struct task *tasks,
                   size_t ntasks, struct dir_map *dirs);

#endif
