/*
 * plan_bench.c - time plan_outputs() alone over a synthetic task list (no
 * file system walk): N inputs in 1000 directories, one duplicate name.
 *
 *   plan_bench [N]          (default 200000)
 * prints: tasks, best of three planning times, peak RSS.
 * Built by tests/bench/scale.sh like scan_bench.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "plan.h"
#include "scan.h"
#include "util.h"

static void
make_list(struct scan_list *l, size_t n)
{
    static const char root[] = "/nonexistent-imgpool-in/";
    size_t i;

    scan_list_init(l);
    l->tasks = xcalloc(n, sizeof(*l->tasks));
    l->alloc = n;
    for (i = 0; i < n; i++) {
        struct task *t = &l->tasks[l->n++];
        char *path;

        if (asprintf(&path, "%sd%03zu/IMG_%07zu.JPG", root, i % 1000, i) < 0)
            exit(1);
        t->path = path;
        t->rel = path + sizeof(root) - 1;
    }
}

int
main(int argc, char **argv)
{
    size_t n = argc > 1 ? strtoul(argv[1], NULL, 10) : 200000;
    struct plan_opts po;
    struct scan_list l;
    struct rusage ru;
    double best = 1e9;
    int round;

    memset(&po, 0, sizeof(po));
    po.output_dir = "/nonexistent-imgpool-out";
    for (round = 0; round < 3; round++) {
        int64_t t0;
        double took;

        make_list(&l, n);
        t0 = util_now_us();
        if (plan_outputs(&po, &l) < 0)
            return 1;
        took = (double)(util_now_us() - t0) / 1e6;
        if (took < best)
            best = took;
        scan_list_release(&l);
    }
    getrusage(RUSAGE_SELF, &ru);
    printf("tasks %zu plan %.3f s (best of 3) peak_rss %.0f MB\n", n, best,
           (double)ru.ru_maxrss / 1024);
    return 0;
}
