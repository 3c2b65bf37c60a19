/*
 * test_e2e_tree.c - the built imgpool binary over one output tree run after
 * run: incremental re-runs, --prune, the run lock, and the spellings of the
 * output directory ("out//", "./out/.") that must all mean "out".
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "helpers.h"

#include "e2e_fixture.h"

E2E_TREE

TestSuite(tree, .init = e2e_setup, .fini = e2e_teardown, .timeout = 120);
TestSuite(tree_fault, .init = e2e_fault_setup, .fini = e2e_teardown,
          .timeout = 120);

Test(tree, second_run_skips_unchanged_files_and_redoes_changed_ones)
{
    const char *args[] = { "thumbnail", in, "-o", out, "--report", rep,
                           NULL };
    const char *resized[] = { "thumbnail", in, "-o", out, "--report", rep,
                              "-s", "100", NULL };
    char *db = th_path(out, ".imgpool/state.sqlite");
    char *touched = th_path(in, "rgb.jpg");
    struct timespec ts[2];
    struct stat st;
    json_t *arr;
    struct th_run r;

    add_good_inputs(in);
    arr = run_and_read(args, 0, rep);
    cr_assert_eq(th_count_records(arr, "ok", NULL), 6);
    json_decref(arr);

    arr = run_and_read(args, 0, rep);
    cr_assert_eq(th_count_records(arr, "skipped", "up-to-date"), 6,
                 "unchanged files were redone");
    json_decref(arr);

    /* a modification time other than the recorded one, however coarse
     * the file system's clock */
    cr_assert_eq(stat(touched, &st), 0);
    ts[0].tv_sec = ts[1].tv_sec = st.st_mtim.tv_sec + 10;
    ts[0].tv_nsec = ts[1].tv_nsec = 0;
    cr_assert_eq(utimensat(AT_FDCWD, touched, ts, 0), 0);
    arr = run_and_read(args, 0, rep);
    cr_assert_eq(th_count_records(arr, "ok", NULL), 1,
                 "changed input not redone");
    cr_assert_str_eq(th_json_str(th_find_record(arr, "/rgb.jpg"), "status"),
                     "ok");
    json_decref(arr);

    arr = run_and_read(resized, 0, rep);
    cr_assert_eq(th_count_records(arr, "ok", NULL), 6,
                 "new settings not redone");
    json_decref(arr);
    assert_output_jpeg(out, "rgb.jpg", 100);

    /* a corrupt state file costs a full re-run, never a wrong skip */
    th_write_file(db, "garbage, not a database", 23);
    th_run(&r, resized);
    cr_assert_eq(r.status, 0);
    th_run_release(&r);
    arr = th_read_jsonl(rep);
    cr_assert_eq(th_count_records(arr, "ok", NULL), 6);
    json_decref(arr);
    free(db);
    free(touched);
}

Test(tree, prune_removes_only_outputs_of_deleted_inputs)
{
    const char *args[] = { "thumbnail", in, "-o", out, "--report", rep,
                           "--prune", NULL };
    char *gone = th_path(in, "cmyk.jpg");
    char *mine = th_path(out, "mine.jpg");
    json_t *arr, *sum;

    add_good_inputs(in);
    arr = run_and_read(args, 0, rep);
    json_decref(arr);
    th_write_file(mine, "user's own file", 15);
    cr_assert_eq(unlink(gone), 0);
    arr = run_and_read(args, 0, rep);
    sum = th_summary(arr);
    cr_assert_eq(th_json_int(sum, "pruned"), 1);
    json_decref(arr);
    cr_assert_not(th_exists(th_path(out, "cmyk.jpg")), "stale output kept");
    cr_assert(th_exists(mine), "a file imgpool did not make was removed");
    assert_output_jpeg(out, "rgb.jpg", 300);
    free(gone);
    free(mine);
}

Test(tree_fault, overlapping_run_exits_75_or_waits)
{
    const char *hang[] = { "thumbnail", in, "-o", out, "--timeout", "3",
                           NULL };
    const char *second[] = { "thumbnail", in, "-o", out, NULL };
    const char *waiting[] = { "thumbnail", in, "-o", out, "--wait-lock", "60",
                              NULL };
    struct th_run r;
    pid_t pid, worker;
    char *fault;
    int st;

    th_copy_testdata(in, "rgb.jpg", "hang.jpg");
    /* The first run's worker stops on hang.jpg and is never let go: the
     * run holds the lock until its --timeout ends the file. */
    fault = th_fault_arm(tmp, "wait-open", "hang.jpg");
    pid = th_spawn(hang);
    th_fault_disarm();
    th_fault_reached(fault, 1, &worker, 60000);
    free(fault);
    th_run(&r, second);
    cr_assert_eq(r.status, 75, "exit %d: %s", r.status, r.err);
    cr_assert(strstr(r.err, "another run holds"), "%s", r.err);
    cr_assert_eq(strchr(r.err, '\n'), r.err + strlen(r.err) - 1,
                 "one line expected: %s", r.err);
    th_run_release(&r);

    th_run(&r, waiting);
    /* hang.jpg timed out in the first run, so it is redone (and, without
     * the fault, succeeds) */
    cr_assert_eq(r.status, 0, "waited run: exit %d: %s", r.status, r.err);
    th_run_release(&r);
    /* it got the lock only once the first run had ended */
    cr_assert_eq(waitpid(pid, &st, WNOHANG), pid,
                 "the waiting run went ahead while the first one ran");
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 1,
              "first run: status 0x%x", st);
}

/*
 * Output roots are normalised once: "-o out//", "-o ./out/." and "-o out/."
 * write the outputs "-o out" writes, report them as "out/...", and share
 * the state of "-o out" (a later "-o out" run finds everything up to
 * date).  Run from the temporary directory with relative paths, as a user
 * types them.
 */
static void
output_spelling_test(const char *spelling)
{
    const char *args[] = { "thumbnail", "in", "-o", spelling, "--report",
                           "report.jsonl", NULL };
    const char *plain[] = { "thumbnail", "in", "-o", "out", "--report",
                            "report.jsonl", NULL };
    struct th_run r;
    json_t *arr, *rec;

    cr_assert_eq(chdir(tmp), 0);
    add_good_inputs(in);
    th_run(&r, args);
    cr_assert_eq(r.status, 0, "-o %s: exit %d: %s", spelling, r.status,
                 r.err);
    th_run_release(&r);
    assert_output_jpeg(out, "rgb.jpg", 300);
    assert_output_jpeg(out, "sub/progressive.jpg", 300);
    assert_output_jpeg(out, "sub/deeper/rgba.jpg", 100);
    cr_assert(th_exists(out), "out/ itself");

    arr = th_read_jsonl(rep);
    cr_assert_eq(th_json_int(th_summary(arr), "ok"), 6);
    rec = th_find_record(arr, "/progressive.jpg");
    cr_assert(rec);
    cr_assert_str_eq(th_json_str(rec, "output"), "out/sub/progressive.jpg",
                     "-o %s", spelling);
    rec = th_find_record(arr, "/rgb.jpg");
    cr_assert_str_eq(th_json_str(rec, "output"), "out/rgb.jpg");
    json_decref(arr);

    arr = run_and_read(plain, 0, rep);
    cr_assert_eq(th_count_records(arr, "skipped", "up-to-date"), 6,
                 "-o out after -o %s redid files", spelling);
    json_decref(arr);
}

Test(tree, output_dir_with_double_slash_works_like_plain)
{
    output_spelling_test("out//");
}

Test(tree, output_dir_dot_slash_dot_works_like_plain)
{
    output_spelling_test("./out/.");
}

Test(tree, output_dir_slash_dot_works_like_plain)
{
    output_spelling_test("out/.");
}

/*
 * The trailing slashes of -o are dropped once, when the run configuration
 * is made, for every consumer (planner, state, workers): "-o out///"
 * plans, writes and records the names "-o out" does, for thumbnail and
 * recompress, and each spelling finds the other's outputs up to date.
 */
static void
trailing_slashes_test(const char *cmd)
{
    const char *slashed[] = { cmd, "in", "-o", "out///", "--report",
                              "report.jsonl", NULL };
    const char *plain[] = { cmd, "in", "-o", "out", "--report",
                            "report.jsonl", NULL };
    const char *names[] = { "/rgb.jpg", "/sub/progressive.jpg",
                            "/sub/deeper/rgba.png", "/cmyk.jpg",
                            "/orient6.jpg", "/gray.png" };
    char *first[6];
    json_t *arr;
    size_t i;

    cr_assert_eq(chdir(tmp), 0);
    add_good_inputs(in);
    arr = run_and_read(slashed, 0, rep);
    cr_assert_eq(th_count_records(arr, "ok", NULL), 6, "%s", cmd);
    for (i = 0; i < 6; i++) {
        const char *o = th_json_str(th_find_record(arr, names[i]), "output");

        cr_assert(o && strncmp(o, "out/", 4) == 0 && o[4] != '/',
                  "%s: output '%s'", cmd, o ? o : "(none)");
        cr_assert(th_exists(o), "%s: '%s' not written", cmd, o);
        first[i] = strdup(o);
    }
    json_decref(arr);

    arr = run_and_read(plain, 0, rep);
    cr_assert_eq(th_count_records(arr, "skipped", "up-to-date"), 6,
                 "%s -o out after -o out/// redid files", cmd);
    json_decref(arr);
    arr = run_and_read(slashed, 0, rep);
    cr_assert_eq(th_count_records(arr, "skipped", "up-to-date"), 6,
                 "%s -o out/// after -o out redid files", cmd);
    json_decref(arr);

    th_rmrf(out);
    arr = run_and_read(plain, 0, rep);
    for (i = 0; i < 6; i++) {
        const char *o = th_json_str(th_find_record(arr, names[i]), "output");

        cr_assert(o, "%s: no output for %s", cmd, names[i]);
        cr_assert_str_eq(o, first[i], "%s: -o out names it otherwise", cmd);
        free(first[i]);
    }
    json_decref(arr);
}

Test(tree, trailing_slashes_of_output_thumbnail)
{
    trailing_slashes_test("thumbnail");
}

Test(tree, trailing_slashes_of_output_recompress)
{
    trailing_slashes_test("recompress");
}

/* A name belongs to its input only while that input exists: once q.png
 * is gone, a newcomer of the same stem gets q.jpg (issue 12). */
Test(tree, a_gone_inputs_name_is_free_again)
{
    const char *args[] = { "thumbnail", in, "-o", out, "--report", rep,
                           NULL };
    char *q = th_path(in, "q.png"), *j = th_path(in, "q.jpeg");
    json_t *arr;
    const char *o;

    th_copy_testdata(in, "rgba.png", "q.png");
    json_decref(run_and_read(args, 0, rep));
    cr_assert_eq(unlink(q), 0);
    th_copy_testdata(in, "rgb.jpg", "q.jpeg");
    arr = run_and_read(args, 0, rep);
    o = th_json_str(th_find_record(arr, "/q.jpeg"), "output");
    cr_assert(o && strlen(o) > 10 &&
                  strcmp(o + strlen(o) - 10, "/out/q.jpg") == 0,
              "q.jpeg -> %s", o ? o : "(none)");
    json_decref(arr);
    assert_output_jpeg(out, "q.jpg", 300);
    free(q);
    free(j);
}
