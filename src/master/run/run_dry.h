/*
 * run_dry.h - --dry-run: what a run would do, one line per file on
 * standard output, and the estimate of an output's size.
 *
 * Call sequence (run.c, after planning):
 *   with -o:     run_dry_settle(&settings, &t, i, &res) for every task
 *                still to be processed (no worker runs), then every task
 *                goes through run_dry_line();
 *   in place:    the workers measure (they write nothing with dry_run
 *                set); run_dry_line() for each result as it comes.
 *
 * Line format (docs/imgpool.1, DRY RUN), whatever standard output is:
 *   write PATH -> OUTPUT               thumbnail: would be written
 *   write PATH -> OUTPUT (~N bytes)    recompress -o: with the estimate
 *   replace PATH (N -> M bytes)        recompress --in-place
 *   skip PATH[ -> OUTPUT]: CLASS: MESSAGE
 *   fail PATH[ -> OUTPUT]: CLASS: MESSAGE
 * Control characters in paths and messages are written as \xNN.
 * Nothing here fails; an output error on stdout is the caller's to find
 * (ferror(stdout)).
 */
#ifndef IMGPOOL_RUN_DRY_H
#define IMGPOOL_RUN_DRY_H

#include <stdint.h>
#include <stdio.h>
#include "settings.h"
#include "task.h"

/*
 * Estimated bytes of @t's output under @s, from its header (JPEG, PNG or
 * GIF: the size geom_fit() gives) or, when the header says nothing, the
 * input's bytes: JPEG output 0.3 bytes per output pixel (about 2.4 bits a
 * pixel, a photograph at quality 90), scaled by quality/90; PNG output 2
 * bytes per pixel; a JPEG input that is not made smaller is capped at its
 * own size.  Rough by design: it never decodes.
 */
int64_t run_dry_estimate(const struct settings *s, const struct task *t);

/* Fill @res for task @id that a real run would process: skipped,
 * ERR_DRY_RUN, with in_bytes and out_bytes (the estimate, also for
 * thumbnails, where the line does not show it). */
void run_dry_settle(const struct settings *s, const struct task *t,
                    uint32_t id, struct task_result *res);

/* Print @t's line for result @res of a run configured by @c to @f. */
void run_dry_line(FILE *f, const struct run_config *c, const struct task *t,
                  const struct task_result *res);

#endif
