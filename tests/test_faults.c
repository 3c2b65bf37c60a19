/*
 * test_faults.c - records tell the truth after a commit (issue 21): once
 * `recompress --in-place` has put the new file under the original's name,
 * a failure of what follows (the directory's fsync, removing the
 * swapped-out original) is a warning on an "ok" record, never "failed
 * write-error"; before that point a failure leaves the original whole and
 * fails the file.  Faults come from the LD_PRELOAD library faultshim.c,
 * in the workers only.
 */
#include <stdlib.h>
#include <string.h>

#include "inplace_fixtures.h"
#include "faultshim.h"

INPLACE_TREE

TestSuite(inplace, .init = setup, .fini = teardown, .timeout = 120);

/* "in/a.jpg" (quality 97: worth recompressing) and a copy of it in
 * "orig.jpg". */
static void
make_photo(char **path, char **copy)
{
    *path = th_path(in, "a.jpg");
    *copy = th_path(tmp, "orig.jpg");
    gen_jpeg(*path, 800, 600, GEN_RGB420, 97, 1, 3);
    th_copy_file(*path, *copy);
}

/* The record of a.jpg is ok, with a warning containing @text, and the
 * file is now its recompression. */
static void
assert_replaced_with_warning(json_t *arr, const char *path,
                             const char *copy, const char *text)
{
    json_t *rec = record(arr, "a.jpg");
    json_t *w = json_object_get(rec, "warnings");
    int found = 0;
    size_t i;
    json_t *v;

    assert_record(arr, "a.jpg", "ok", NULL);
    json_array_foreach(w, i, v)
        found |= json_is_string(v) && strstr(json_string_value(v), text);
    cr_assert(found, "no warning saying '%s' on the ok record", text);
    cr_assert_gt(psnr_files(path, copy), 35.0, "not the original's picture");
    {
        struct stat now, was;

        stat_or_die(path, &now);
        stat_or_die(copy, &was);
        cr_assert_lt(now.st_size, was.st_size, "'%s' was not recompressed",
                     path);
    }
}

Test(inplace, commit_then_dir_fsync_fails_is_a_warning)
{
    char *path, *copy, *log = th_path(tmp, "faults.log");
    struct stat a, b;
    json_t *arr;
    int st;

    faultshim_require();
    make_photo(&path, &copy);
    stat_or_die(path, &a);
    /* Only the directory itself: its path is ".../in". */
    faultshim_arm("fsync", "EIO", "*/in");
    faultshim_set("FAULTSHIM_LOG", log);
    st = run_ip(rep, &arr, NULL, in, NULL);
    faultshim_clear();
    cr_assert(th_exists(log), "the fault was never injected");
    cr_assert_eq(st, 0, "exit %d: the file was replaced, so 0", st);
    assert_replaced_with_warning(arr, path, copy, "could not be synced");
    stat_or_die(path, &b);
    cr_assert_neq(a.st_ino, b.st_ino, "the original was not replaced");
    cr_assert_eq(count_tmp_files(in), 0, "a temporary file was left");
    json_decref(arr);
    free(path);
    free(copy);
    free(log);
}

Test(inplace, commit_then_unlink_of_original_fails_is_a_warning)
{
    char *path, *copy, *log = th_path(tmp, "faults.log");
    json_t *arr;
    int st;

    faultshim_require();
    make_photo(&path, &copy);
    faultshim_arm("unlink", "EIO", "*/in/.imgpool-tmp-*");
    faultshim_set("FAULTSHIM_LOG", log);
    st = run_ip(rep, &arr, NULL, in, NULL);
    faultshim_clear();
    cr_assert(th_exists(log), "the fault was never injected");
    cr_assert_eq(st, 0, "exit %d: the file was replaced, so 0", st);
    assert_replaced_with_warning(arr, path, copy, "could not be removed");
    json_decref(arr);
    /* The swapped-out original stays under its temporary name until the
     * next run's sweep, and that run changes nothing else. */
    cr_assert_eq(count_tmp_files(in), 1, "the original's temporary name "
                 "is not there");
    st = run_ip(rep, &arr, NULL, in, NULL);
    cr_assert_eq(st, 0, "re-run: exit %d", st);
    assert_record(arr, "a.jpg", "skipped", NULL);
    cr_assert_eq(count_tmp_files(in), 0, "the sweep left a temporary file");
    json_decref(arr);
    free(path);
    free(copy);
    free(log);
}

/* Before the commit point: the rename itself fails, the original stays
 * and the record says failed. */
Test(inplace, rename_fails_before_commit_is_a_failure)
{
    char *path, *copy, *log = th_path(tmp, "faults.log");
    struct fsnap before;
    json_t *arr;
    int st;

    faultshim_require();
    make_photo(&path, &copy);
    fsnap_take(&before, path);
    faultshim_arm("rename", "EIO", "*/in/*");
    faultshim_set("FAULTSHIM_LOG", log);
    st = run_ip(rep, &arr, NULL, in, NULL);
    faultshim_clear();
    cr_assert(th_exists(log), "the fault was never injected");
    cr_assert_eq(st, 1, "exit %d, want 1", st);
    assert_record(arr, "a.jpg", "failed", "write-error");
    assert_untouched(&before, path);
    cr_assert_eq(count_tmp_files(in), 0, "a temporary file was left");
    json_decref(arr);
    fsnap_release(&before);
    free(path);
    free(copy);
    free(log);
}

/*
 * A backup folder on another file system: the backup is a copy.  A copy
 * that fails (the disk fills up, and removing a temporary fails too)
 * fails the file before anything is replaced and leaves nothing in the
 * backup folder: the copy has no name until it is complete (O_TMPFILE).
 */
Test(inplace, failed_backup_copy_leaves_no_temporary)
{
    char *path, *copy, *log = th_path(tmp, "faults.log");
    char *bak = th_path(tmp, "bak"), *glob = xasprintf("%s/*", bak);
    struct fsnap before;
    json_t *arr;
    int st;

    faultshim_require();
    make_photo(&path, &copy);
    fsnap_take(&before, path);
    th_mkdirs(bak);
    faultshim_arm("write,unlink", "ENOSPC", glob);
    faultshim_set("FAULTSHIM_XDEV", bak);
    faultshim_set("FAULTSHIM_LOG", log);
    st = run_ip(rep, &arr, NULL, "--backup", bak, in, NULL);
    faultshim_clear();
    cr_assert(th_exists(log), "the fault was never injected");
    cr_assert_eq(st, 1, "exit %d, want 1", st);
    assert_record(arr, "a.jpg", "failed", "no-space");
    assert_untouched(&before, path);
    cr_assert_eq(count_tmp_files(bak), 0, "a temporary file was left in "
                 "the backup folder");
    cr_assert_eq(count_tmp_files(in), 0, "a temporary file was left");
    json_decref(arr);

    /* Without faults (still "another file system"): the copy is whole. */
    faultshim_arm("none", "EIO", glob);
    faultshim_set("FAULTSHIM_XDEV", bak);
    st = run_ip(rep, &arr, NULL, "--backup", bak, in, NULL);
    faultshim_clear();
    cr_assert_eq(st, 0, "clean re-run: exit %d", st);
    assert_record(arr, "a.jpg", "ok", NULL);
    {
        char *b = th_path(bak, "a.jpg");
        size_t n;
        char *data = th_read_file(b, &n);
        struct stat sb, so;

        stat_or_die(b, &sb);
        stat_or_die(copy, &so);
        cr_assert(n == before.len && memcmp(data, before.data, n) == 0,
                  "the copied backup is not the original");
        cr_assert_neq(sb.st_ino, before.st.st_ino, "the backup is a link, "
                      "not a copy: FAULTSHIM_XDEV had no effect");
        free(data);
        free(b);
    }
    cr_assert_eq(count_tmp_files(bak), 0, "a temporary file was left in "
                 "the backup folder");
    json_decref(arr);
    fsnap_release(&before);
    free(path);
    free(copy);
    free(log);
    free(bak);
    free(glob);
}
