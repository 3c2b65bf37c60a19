/*
 * merge.h - `imgpool report merge`: join the reports of several runs (the
 * shards of one job) into one report.
 *
 * Every record line of every input is copied unchanged, in input order;
 * then one summary object follows, recounted from the records themselves
 * (total, ok, skipped, failed, warnings, bytes, by_class) plus what only
 * the per-run summaries know (ignored and excluded are summed, seconds is
 * the longest run, interrupted the first signal seen).  It adds "runs" (how
 * many reports were merged) and "incomplete" (how many had no summary line:
 * a run that was killed).
 *
 * A report given twice, or a copy of one (same size and bytes), is merged
 * once, with a warning.  Records of different reports that share a path
 * (overlapping shards, or runs at different times) are all kept and
 * counted, and a warning says how many and names the first.
 */
#ifndef IMGPOOL_MERGE_H
#define IMGPOOL_MERGE_H

#include <stddef.h>
#include <stdio.h>

struct merge_totals {
    size_t total, ok, skipped, failed;
};

/* Merge @paths ("-" for stdin) to @out.  0, or -1 after errorf() (an
 * unreadable file or a line that is not a JSON object). */
int report_merge(const char *const *paths, size_t n, FILE *out,
                 struct merge_totals *totals);

#endif
