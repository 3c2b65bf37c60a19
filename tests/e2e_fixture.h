/*
 * e2e_fixture.h - the temporary tree the end-to-end suites run the binary
 * in: TMP/in (inputs), TMP/out (outputs), TMP/report.jsonl, and the steps
 * they share over it (inputs from testdata/, run and read the report,
 * check an output thumbnail).  Compiled into the test helper library
 * (e2e_fixture.c).
 *
 * Call sequence of a suite:
 *   #include "e2e_fixture.h"
 *   E2E_TREE                      // this file's tmp, in, out, rep;
 *                                 // e2e_setup(), e2e_teardown(), ...
 *   TestSuite(e2e, .init = e2e_setup, .fini = e2e_teardown);
 *   TestSuite(e2e_fault, .init = e2e_fault_setup, .fini = e2e_teardown);
 *   Test(e2e, x) {
 *       th_copy_testdata(in, "rgb.jpg", "rgb.jpg");
 *       arr = run_and_read(args, 0, rep);   // args name in, out and rep
 *       assert_output_jpeg(out, "rgb.jpg", 300);
 *       json_decref(arr);
 *   }
 * The "*_fault" suites hold the tests that need fault injection (CTest
 * runs those apart, tests/CMakeLists.txt).  Every step ends the test
 * (cr_assert) when it fails.
 */
#ifndef IMGPOOL_E2E_FIXTURE_H
#define IMGPOOL_E2E_FIXTURE_H

#include <criterion/criterion.h>

#include "helpers.h"

/*
 * *@tmp a fresh directory, *@in its "in" (made), *@out its "out" and
 * *@rep its "report.jsonl" (neither made).  e2e_tree_remove() removes the
 * tree, frees the four paths and sets them to NULL.
 */
void e2e_tree_make(char **tmp, char **in, char **out, char **rep);
void e2e_tree_remove(char **tmp, char **in, char **out, char **rep);

/*
 * Named once at file scope, gives the test file its own tmp, in, out and
 * rep, and e2e_setup() and e2e_teardown() that make and remove that tree
 * with the two functions above: a suite's .init and .fini, which take no
 * argument.  e2e_fault_setup() is the .init of the suites whose tests
 * make workers misbehave (IMGPOOL_FAULT): those tests are skipped, saying
 * why, in a build without fault injection.  The tree is made first so
 * that e2e_teardown() holds either way.  (A file without such a suite
 * leaves it unused.)
 */
#define E2E_TREE                                                        \
    static char *tmp, *in, *out, *rep;                                  \
    static void e2e_setup(void) { e2e_tree_make(&tmp, &in, &out, &rep); } \
    static void e2e_teardown(void)                                      \
    {                                                                   \
        e2e_tree_remove(&tmp, &in, &out, &rep);                         \
    }                                                                   \
    static __attribute__((unused)) void e2e_fault_setup(void)           \
    {                                                                   \
        e2e_setup();                                                    \
        th_need_fault_injection();                                      \
    }

/* @out/@rel is a thumbnail whose longer side is @longest
 * (th_assert_thumbnail()). */
void assert_output_jpeg(const char *out, const char *rel, int longest);

/* Run the binary with @args, assert its exit code @want, and read the
 * report @report that @args name (caller json_decref's it). */
json_t *run_and_read(const char *const *args, int want, const char *report);

/* Six decodable inputs over three directory levels below @in. */
void add_good_inputs(const char *in);

#endif
