/*
 * test_commit.c - the commit stage on its own (outfile.h): an output named
 * by its path below the output root, however the root is spelt; nothing
 * but the final file left behind, on success or failure; no write through
 * a symbolic link anywhere below the root.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "helpers.h"
#include "names.h"
#include "outfile.h"
#include "stage_helpers.h"

static char *dir;
static char *cwd;

static void
setup(void)
{
    dir = th_mkdtemp();
    cwd = getcwd(NULL, 0);
    cr_assert_eq(chdir(dir), 0);
    cr_assert_eq(mkdir("out", 0777), 0);
}

static void
teardown(void)
{
    cr_assert_eq(chdir(cwd), 0);
    th_rmrf(dir);
    free(dir);
    free(cwd);
}

TestSuite(commit, .init = setup, .fini = teardown, .timeout = 30);

/* Entries of @path whose names start with the temporary prefix. */
static int
temps_in(const char *path)
{
    DIR *d = opendir(path);
    struct dirent *e;
    int n = 0;

    if (!d)
        return 0;
    for (e = readdir(d); e; e = readdir(d))
        if (strncmp(e->d_name, IMGPOOL_TMP_PREFIX,
                    strlen(IMGPOOL_TMP_PREFIX)) == 0)
            n++;
    closedir(d);
    return n;
}

/* Commit "hello" as @rel below @root.  0, or -1 with @res failed. */
static int
commit_hello(const char *root, const char *rel, struct task_result *res)
{
    struct outfile of;

    sh_result_init(res);
    if (outfile_open(&of, root, rel, 1, res) < 0)
        return -1;
    if (outfile_write(&of, "hello", 5, res) < 0) {
        outfile_abort(&of);
        return -1;
    }
    return outfile_commit(&of, res);
}

static void
expect_hello(const char *path)
{
    size_t len;
    char *data = th_read_file(path, &len);

    cr_expect_eq(len, 5, "'%s'", path);
    cr_expect_eq(memcmp(data, "hello", 5), 0);
    free(data);
}

Test(commit, root_spelt_any_way)
{
    static const char *roots[] = { "out", "out//", "./out/.", "out/./" };
    struct task_result res;
    char rel[32];

    for (size_t i = 0; i < sizeof(roots) / sizeof(roots[0]); i++) {
        snprintf(rel, sizeof(rel), "a/b/f%zu.jpg", i);
        cr_assert_eq(commit_hello(roots[i], rel, &res), 0, "root '%s': %s",
                     roots[i], res.message);
        cr_expect_eq(res.out_bytes, 5);
        snprintf(rel, sizeof(rel), "out/a/b/f%zu.jpg", i);
        expect_hello(rel);
    }
    cr_expect_eq(temps_in("out/a/b"), 0);
    /* An absolute root too. */
    {
        char *abs = th_path(dir, "out");

        cr_assert_eq(commit_hello(abs, "top.jpg", &res), 0, "%s",
                     res.message);
        expect_hello("out/top.jpg");
        free(abs);
    }
}

Test(commit, abort_leaves_nothing)
{
    struct task_result res;
    struct outfile of;

    sh_result_init(&res);
    cr_assert_eq(outfile_open(&of, "out", "x/y.jpg", 0, &res), 0);
    cr_assert_eq(outfile_write(&of, "partial", 7, &res), 0);
    cr_expect_eq(temps_in("out/x"), 1, "the data goes to a temporary file");
    outfile_abort(&of);
    cr_expect_eq(temps_in("out/x"), 0);
    cr_expect_not(th_exists("out/x/y.jpg"));
}

Test(commit, failed_rename_leaves_nothing)
{
    struct task_result res;

    /* The final name is a non-empty directory: rename(2) must fail. */
    cr_assert_eq(mkdir("out/d", 0777), 0);
    cr_assert_eq(mkdir("out/d/taken.jpg", 0777), 0);
    cr_assert_eq(mkdir("out/d/taken.jpg/inside", 0777), 0);
    cr_expect_eq(commit_hello("out", "d/taken.jpg", &res), -1);
    cr_expect_eq(res.err_class, ERR_WRITE, "%s", res.message);
    cr_expect_eq(temps_in("out/d"), 0);
}

Test(commit, symlinked_directory_component_refused)
{
    struct task_result res;

    cr_assert_eq(mkdir("elsewhere", 0777), 0);
    cr_assert_eq(symlink("../elsewhere", "out/a"), 0);
    cr_expect_eq(commit_hello("out", "a/b.jpg", &res), -1);
    cr_expect_eq(res.err_class, ERR_OUTPUT_PATH, "%s", res.message);
    cr_expect_not(th_exists("elsewhere/b.jpg"));
    cr_expect_eq(temps_in("elsewhere"), 0);

    /* Deeper down too, and a file where a directory should be. */
    cr_assert_eq(mkdir("out/ok", 0777), 0);
    cr_assert_eq(symlink("../../elsewhere", "out/ok/link"), 0);
    cr_expect_eq(commit_hello("out", "ok/link/c/d.jpg", &res), -1);
    cr_expect_eq(res.err_class, ERR_OUTPUT_PATH);
    cr_expect_not(th_exists("elsewhere/c"));
    th_write_file("out/file", "x", 1);
    cr_expect_eq(commit_hello("out", "file/e.jpg", &res), -1);
    cr_expect_eq(res.err_class, ERR_OUTPUT_PATH);
}

Test(commit, final_symlink_replaced_not_written_through)
{
    struct task_result res;

    th_write_file("victim", "keep", 4);
    cr_assert_eq(symlink("../victim", "out/f.jpg"), 0);
    cr_assert_eq(commit_hello("out", "f.jpg", &res), 0, "%s", res.message);
    expect_hello("out/f.jpg");
    {
        size_t len;
        char *data = th_read_file("victim", &len);

        cr_expect_eq(len, 4);
        cr_expect_eq(memcmp(data, "keep", 4), 0);
        free(data);
    }
}

Test(commit, invalid_relative_paths_refused)
{
    static const char *bad[] = { "../x.jpg", "a/../../x.jpg", "/tmp/x.jpg",
                                 "a/", "", "a/..", "." };
    struct task_result res;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        cr_expect_eq(commit_hello("out", bad[i], &res), -1, "'%s'", bad[i]);
        cr_expect_eq(res.err_class, ERR_OUTPUT_PATH, "'%s': %s", bad[i],
                     res.message);
    }
    cr_expect_not(th_exists("x.jpg"));
}

Test(commit, missing_root_is_a_write_error)
{
    struct task_result res;

    cr_expect_eq(commit_hello("nope", "a.jpg", &res), -1);
    cr_expect_eq(res.err_class, ERR_WRITE, "%s", res.message);
    cr_expect_not(th_exists("nope"), "the root is never created");
}
