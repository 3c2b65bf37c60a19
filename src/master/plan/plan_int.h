/*
 * plan_int.h - what plan.c takes from plan_name.c: default templates and
 * the building of one output path.  Internal to the planner.
 *
 * Call sequence: plan.c builds each task's first output with
 * plan_build_out_path(..., sizes, 0, ...), settles claims and conflicts, then
 * plan_more_outputs() (plan.h) adds the others.
 */
#ifndef IMGPOOL_PLAN_INT_H
#define IMGPOOL_PLAN_INT_H

#include <stddef.h>
#include "settings.h"

/* "{stem}.jpg", "{stem}.png", "{stem}.webp", "{stem}.avif". */
const char *plan_default_template(enum out_format fmt);
/* The default's second choice when two inputs share a stem: "{name}.jpg"
 * and so on. */
const char *plan_fallback_template(enum out_format fmt);

/*
 * Build "@outdir/<directories of @rel>/<name>" for output @k (its box
 * names it: {size} {w} {h}, its box outs[k]'s, or 0x0 without @outs;
 * with several sizes (@nsizes > 1) under a default template,
 * "@outdir/<size>/<directories of @rel>/<name>") into a new string.  Empty
 * and "." components of @rel are dropped, so no "//" appears; a ".."
 * component or a leading '/' is refused.  Returns the string (caller
 * frees), or NULL with *why set, or NULL with *why NULL when out of memory.
 */
char *plan_build_out_path(const char *outdir, size_t outlen, const char *rel,
                          const char *tmpl, enum out_format fmt,
                          const struct settings *outs, int nsizes, int k,
                          const char **why);

#endif
