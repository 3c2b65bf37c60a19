/*
 * scan_bench.c - time and memory of the master's own work on a big tree:
 * the walk (scan_run) and the planning of every output path
 * (plan_outputs), without any image work.
 *
 *   scan_bench ROOT OUTDIR
 * prints: entries, tasks, seconds for each phase, peak RSS.
 * Built by tests/bench/scale.sh against the imgpool_core library.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "plan.h"
#include "scan.h"
#include "util.h"

/* Seconds on the one monotonic clock (util.h). */
static double
now(void)
{
    return (double)util_now_us() / 1e6;
}

int
main(int argc, char **argv)
{
    struct scan_opts so;
    struct plan_opts po;
    struct scan_list l;
    struct rusage ru;
    const char *roots[1];
    double t0, t1, t2;

    if (argc != 3) {
        fprintf(stderr, "usage: scan_bench ROOT OUTDIR\n");
        return 2;
    }
    roots[0] = argv[1];
    memset(&so, 0, sizeof(so));
    so.roots = roots;
    so.nroots = 1;
    memset(&po, 0, sizeof(po));
    po.output_dir = argv[2];
    scan_list_init(&l);
    t0 = now();
    if (scan_run(&so, &l) < 0)
        return 1;
    t1 = now();
    if (plan_outputs(&po, &l) < 0)
        return 1;
    t2 = now();
    getrusage(RUSAGE_SELF, &ru);
    printf("tasks %zu ignored %zu scan %.2f s plan %.2f s peak_rss %.0f MB\n",
           l.n, l.ignored, t1 - t0, t2 - t1, (double)ru.ru_maxrss / 1024);
    scan_list_release(&l);
    return 0;
}
