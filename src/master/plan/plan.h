/*
 * plan.h - decide each task's output path.
 *
 * Call sequence (master, after scan_run):
 *   if (plan_template_check(tmpl, &err) < 0) ...usage error...
 *   ...popts.root_dirs, popts.recorded: see plan_keep.h...
 *   plan_outputs(&popts, &list);
 *   plan_shard(&popts, &list, k, n);          // --shard K/N only
 *   n = plan_order(&list, order);              // what to run, in order
 *
 * An output mirrors the input's path relative to its INPUT root under
 * --output; the file name comes from the --name template:
 *   {stem}  input name without its last extension   ("IMG_1.JPG" -> "IMG_1")
 *   {name}  input name with its extension            ("IMG_1.JPG")
 *   {ext}   input extension without the dot          ("JPG")
 *   {fmt}   output format's extension                ("jpg", "png", "webp",
 *                                                     "avif")
 *   {size}  the output's box ("300", "300x200", "300x", "x200")
 *   {w} {h} the box's width and height ("0" for an unbounded side)
 *   {{ }}   literal braces
 * Several sizes (plan_opts.outs with nsizes > 1): each task gets
 * one output per box, the first in out_rel, the others in out_more
 * (task.h).  The template must then name each size differently; without
 * --name each size goes into its own directory: "<output>/<size>/<mirrored
 * path>/{stem}.<ext>".  One size keeps the names above exactly.
 * A template may not contain '/', so an output can never leave the mirrored
 * directory; an expansion that is empty, "." or ".." is refused.
 */
#ifndef IMGPOOL_PLAN_H
#define IMGPOOL_PLAN_H

#include <stddef.h>
#include <stdint.h>
#include "plan_keep.h"
#include "settings.h"
#include "scan.h"

struct plan_opts {
    const char *output_dir;      /* required; normalised by the caller
                                    (dirwalk_normalize(), as the run
                                    configuration has it) */
    const char *name_template;   /* NULL: "{stem}.jpg" / "{stem}.png" */
    enum out_format format;
    int in_place;                /* every output is its input (recompress
                                    --in-place); output_dir unused */
    /* Several INPUTs (plan_root_dirs() in plan_keep.h): per INPUT root,
     * the directory below output_dir its tree goes to, NULL for "into
     * output_dir"; the array is NULL with one INPUT. */
    char *const *root_dirs;
    size_t nroot_dirs;
    /* Output names recorded in the state database, with the task (or
     * other existing input) each belongs to; NULL when none. */
    const struct plan_recorded *recorded;
    /* The outputs to plan for, by their boxes: outs[0 .. nsizes - 1]
     * (borrowed, run_config.out).  NULL or one: one output per task. */
    const struct settings *outs;
    int nsizes;
};

/* 0 if @tmpl is usable; else -1 and *why points to a static reason. */
int plan_template_check(const char *tmpl, const char **why);

/*
 * Expand @tmpl for input file name @name (no directory part) into @buf.
 * Returns the length, or -1 when it does not fit or the result is invalid.
 */
int plan_expand_name(const char *tmpl, const char *name,
                     enum out_format fmt, char *buf, size_t size);

/* plan_expand_name() for the output of box @box ({size} {w} {h}). */
int plan_expand_name_size(const char *tmpl, const char *name,
                          enum out_format fmt,
                          const struct settings_size *box, char *buf,
                          size_t size);

/* 2 when @tmpl names sizes apart by {size} or by both {w} and {h}, 1 with
 * only one of {w} {h}, 0 with none. */
int plan_template_has_size(const char *tmpl);

/* 1 when @tmpl gives boxes @a and @b the same name. */
int plan_size_names_equal(const char *tmpl, const struct settings_size *a,
                          const struct settings_size *b);

/*
 * Several sizes: after the names are settled (plan_outputs() calls it
 * last), give every task still to be processed the out_rel of its other
 * outputs (task.h out_more), named from the same template as its first.
 * A task whose other outputs cannot be named fails (ERR_OUTPUT_PATH); one
 * any of whose outputs an earlier task also writes fails
 * (ERR_OUTPUT_CONFLICT).  0, or -1 when out of memory (errno ENOMEM).
 */
int plan_more_outputs(const struct plan_opts *o, struct scan_list *l);

/*
 * Set out_path of every task still to be processed, and out_rel, its part
 * below the output directory (pointing into out_path: "a/b.jpg"); in place,
 * out_path is a copy of path and out_rel is NULL.  A task whose output
 * would be the input itself, or collides with an earlier task's output, is
 * marked failed (ERR_OUTPUT_PATH / ERR_OUTPUT_CONFLICT); one any of whose
 * outputs is another input file (by device and inode: -o overlapping the
 * INPUTs) fails ERR_OUTPUT_IS_INPUT.  Returns 0, or -1
 * on allocation failure.  Prints nothing; errno is ENOMEM then (EINVAL for
 * a missing output_dir, a caller's bug).
 *
 * Details: pre_msg of a task failed here is a static reason.  Such a task
 * keeps its out_path when one could be built, so the report can name the
 * refused output; only pre_status says whether a task is to be run.  An
 * output that is its own input claims its name before any other task, so
 * no other input's output may replace that input either.
 *
 * Names never move (o->recorded): a task keeps a recorded name that its
 * template can give it (the template's name, or with the default template
 * the fallback "{name}.jpg"), claimed before any unrecorded task; a name
 * recorded for another input that still exists is given to nobody else:
 * a task that would take it gets the fallback name (default template) or
 * fails ERR_OUTPUT_CONFLICT (--name).  Names recorded for inputs that are
 * gone are free.  Remaining contests: the first task in list order wins.
 */
int plan_outputs(const struct plan_opts *o, struct scan_list *l);

/*
 * plan_outputs() one task at a time, while the scan is still adding tasks
 * to @l, for a plan that can be settled in walk order: an output tree
 * (not in place) for one INPUT directory walked without following links,
 * one size, no recorded names (@o->recorded NULL) and no root_dirs.
 *
 *   ps = plan_stream_begin(&popts, &list);   // NULL with EINVAL/ENOMEM
 *   for each task i the scan appends, in order:  plan_stream_add(ps, i);
 *   for each task j in list order, once plan_stream_ready(ps, j, last):
 *       plan_stream_settle(ps, j);            // j's name is final
 *   plan_stream_end(ps);
 *
 * plan_stream_add() builds the path (pass 1: own input, .imgpool) and
 * records the directories the output needs.  plan_stream_ready() says
 * whether the walk, whose last listed task has the relative path
 * @last_rel (NULL once the scan is complete), is past every name task @j
 * could take: only then can no later task need that name as a directory,
 * so settling tasks in list order as they become ready gives the names
 * plan_outputs() gives (the first in list order keeps a contested name).
 * plan_stream_settle() settles task @j's claim (pass 3).  The stream keeps
 * task indices, never pointers, so @l may be reallocated between calls.
 * The int functions return 0, or -1 when out of memory.
 */
struct plan_stream;
struct plan_stream *plan_stream_begin(const struct plan_opts *o,
                                      struct scan_list *l);
int plan_stream_add(struct plan_stream *ps, size_t i);
int plan_stream_ready(struct plan_stream *ps, size_t j, const char *last_rel);
int plan_stream_settle(struct plan_stream *ps, size_t j);
void plan_stream_end(struct plan_stream *ps);

/*
 * --shard K/N, after plan_outputs(): keep only the tasks whose out_rel
 * (the input's rel in place, or for a task without an output) hashes to
 * shard @k of @n, and
 * count the others in l->other_shards.  Splitting by output, after every
 * shard planned the whole list the same way, means two inputs competing
 * for one output name are settled identically everywhere and each output
 * is written by exactly one shard, whatever the --name template.
 */
void plan_shard(const struct plan_opts *o, struct scan_list *l, int k, int n);

/*
 * The tasks still to be processed (pre_status TASK_OK), largest input
 * first so that no giant file starts last, ties in list order: their
 * indices go to @order (room for l->n).  Returns how many.  The others
 * were settled by scan or plan and are reported without a worker.
 */
size_t plan_order(const struct scan_list *l, uint32_t *order);

#endif
