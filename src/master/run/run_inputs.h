/*
 * run_inputs.h - the run's checks on what the scan found, between
 * scan_run() and plan_outputs() (run.c calls them in this order):
 *
 *   run_add_named_files(o, &list);   // a named file is never dropped
 *   run_warn_empty_inputs(o, &list); // an INPUT without images is said
 *   plan_mark_duplicates(&list);     // plan_keep.h
 *   run_recorded_names(&rec, &roots, &list, state);
 *
 * Nothing here fails: allocation failures end the program (xmalloc), and
 * what is printed goes through warnf().
 */
#ifndef IMGPOOL_RUN_INPUTS_H
#define IMGPOOL_RUN_INPUTS_H

#include "cli.h"
#include "plan.h"
#include "scan.h"
#include "state.h"

/*
 * A regular file named as an INPUT that the scan did not list (its name
 * has no image extension and its first bytes no known signature: an SVG,
 * a text file) becomes a task to process, so the worker's record says why
 * it cannot be read instead of the file vanishing.  Files dropped by
 * --include/--exclude (matched by base name, as the scan does) and
 * imgpool's own temporaries stay dropped.  Returns how many were added.
 */
size_t run_add_named_files(const struct cli_opts *o, struct scan_list *l);

/* warnf() for every INPUT that yielded no task at all: an empty directory,
 * an unmounted file system, a directory holding no image. */
void run_warn_empty_inputs(const struct cli_opts *o,
                           const struct scan_list *l);

/*
 * Fill @rec from the output names recorded in @st (read-only for a dry
 * run or another shard; NULL: nothing): a row whose input is one of @l's tasks (by
 * absolute path, state_input_abs()) belongs to that task; a row whose
 * input is no task but still exists (lstat) belongs to PLAN_OWNER_OTHER;
 * a row whose input is gone is left out, so its name is free.
 */
void run_recorded_names(struct plan_recorded *rec,
                        const struct state_roots *roots,
                        const struct scan_list *l, struct state *st);

#endif
