/*
 * sweep.h - remove the temporary files a killed run left behind.
 *
 * Call sequence (master, after planning, before the pool starts):
 *   sweep_stale_temps(output_dir, &list);     // NULL in place
 *
 * A worker writes each output to IMGPOOL_TMP_PREFIX "<pid>-<n>" beside its
 * final name (names.h) and renames it into place; a run killed before the
 * rename leaves that file.  Only names of that shape whose pid is no longer
 * running on this host are removed.
 */
#ifndef IMGPOOL_SWEEP_H
#define IMGPOOL_SWEEP_H

#include "scan.h"

/* Remove stale temporaries in directory @dir.  Returns how many were
 * removed; a directory that does not exist counts as 0. */
int sweep_dir(const char *dir);

/* Sweep every directory an output of @l goes to, once each, and say on
 * stderr how many files were removed (nothing when none).  Outputs are
 * found as @output_dir plus each task's out_rel, walked without following
 * symbolic links; in place (@output_dir NULL, no out_rel) the inputs'
 * directories are swept. */
void sweep_stale_temps(const char *output_dir, const struct scan_list *l);

#endif
