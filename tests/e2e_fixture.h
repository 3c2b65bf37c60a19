/*
 * e2e_fixture.h - the temporary tree the end-to-end suites run the binary
 * in: TMP/in (inputs), TMP/out (outputs), TMP/report.jsonl, and the steps
 * they share over it (inputs from testdata/, run and read the report,
 * check an output thumbnail).  Included by
 * test_e2e.c and test_e2e_tree.c, each with its own TestSuite(..., .init =
 * e2e_setup, .fini = e2e_teardown), and a "*_fault" suite with .init =
 * e2e_fault_setup for the tests that need fault injection (CTest runs
 * those apart, tests/CMakeLists.txt).
 */
#ifndef IMGPOOL_E2E_FIXTURE_H
#define IMGPOOL_E2E_FIXTURE_H

#include <criterion/criterion.h>
#include <stdlib.h>

#include "helpers.h"

static char *tmp, *in, *out, *rep;

static inline void
e2e_setup(void)
{
    tmp = th_mkdtemp();
    in = th_path(tmp, "in");
    out = th_path(tmp, "out");
    rep = th_path(tmp, "report.jsonl");
    th_mkdirs(in);
}

static inline void
e2e_teardown(void)
{
    th_rmrf(tmp);
    free(tmp);
    free(in);
    free(out);
    free(rep);
}

/* Setup of the suites whose tests make workers misbehave (IMGPOOL_FAULT):
 * those tests are skipped, saying why, in a build without fault injection.
 * The tree is made first so that e2e_teardown() holds either way. */
static inline void
e2e_fault_setup(void)
{
    e2e_setup();
    th_need_fault_injection();
}

/* out/@rel is a thumbnail whose longer side is @longest. */
static inline void
assert_output_jpeg(const char *rel, int longest)
{
    char *p = th_path(out, rel);

    th_assert_thumbnail(p, longest);
    free(p);
}

/* Run the binary with @args, assert its exit code @want, and read the
 * report @report that @args name (caller json_decref's it). */
static inline json_t *
run_and_read_at(const char *const *args, int want, const char *report)
{
    th_run_expect(args, want);
    return th_read_jsonl(report);
}

/* run_and_read_at() of the suite's report, rep. */
static inline json_t *
run_and_read(const char *const *args, int want)
{
    return run_and_read_at(args, want, rep);
}

/* Copy testdata/@name to in/@as. */
static inline void
add_input(const char *name, const char *as)
{
    char *src = th_testdata(name);
    char *dst = th_path(in, as);

    th_copy_file(src, dst);
    free(src);
    free(dst);
}

/* Six decodable inputs over three directory levels. */
static inline void
add_good_inputs(void)
{
    add_input("rgb.jpg", "rgb.jpg");
    add_input("progressive.jpg", "sub/progressive.jpg");
    add_input("rgba.png", "sub/deeper/rgba.png");
    add_input("cmyk.jpg", "cmyk.jpg");
    add_input("orient6.jpg", "orient6.jpg");
    add_input("gray.png", "gray.png");
}

#endif
