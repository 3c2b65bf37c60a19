/*
 * e2e_fixture.c - the temporary tree the end-to-end suites run the binary
 * in, and the steps they share over it (e2e_fixture.h): making and
 * removing the tree, inputs from testdata/, running the binary and
 * reading its report, checking an output thumbnail.
 *
 * Part of the test helper library; the tree's paths belong to the test
 * file (E2E_TREE), so every step here takes the one it works on.
 */
#include <stddef.h>
#include <stdlib.h>

#include <criterion/criterion.h>

#include "e2e_fixture.h"

void
e2e_tree_make(char **tmp, char **in, char **out, char **rep)
{
    *tmp = th_mkdtemp();
    *in = th_path(*tmp, "in");
    *out = th_path(*tmp, "out");
    *rep = th_path(*tmp, "report.jsonl");
    th_mkdirs(*in);
}

void
e2e_tree_remove(char **tmp, char **in, char **out, char **rep)
{
    th_rmrf(*tmp);
    free(*tmp);
    free(*in);
    free(*out);
    free(*rep);
    *tmp = *in = *out = *rep = NULL;
}

void
assert_output_jpeg(const char *out, const char *rel, int longest)
{
    char *p = th_path(out, rel);

    th_assert_thumbnail(p, longest);
    free(p);
}

json_t *
run_and_read(const char *const *args, int want, const char *report)
{
    th_run_expect(args, want);
    return th_read_jsonl(report);
}

void
add_good_inputs(const char *in)
{
    static const char *const inputs[][2] = {
        {"rgb.jpg", "rgb.jpg"},
        {"progressive.jpg", "sub/progressive.jpg"},
        {"rgba.png", "sub/deeper/rgba.png"},
        {"cmyk.jpg", "cmyk.jpg"},
        {"orient6.jpg", "orient6.jpg"},
        {"gray.png", "gray.png"},
    };

    for (size_t i = 0; i < sizeof(inputs) / sizeof(inputs[0]); i++)
        th_copy_testdata(in, inputs[i][0], inputs[i][1]);
}
