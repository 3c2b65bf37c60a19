/*
 * test_statedir.c - the state directory under attack: a symbolic link, a
 * file of another type or an unwritable file planted as the database, its
 * -wal, -journal or -shm, the lock, or the directory itself.  Each is
 * moved aside (and the run goes on, as with a corrupt database) or refused
 * with a message that names the file and says what to do; nothing is ever
 * read or written through a link (the victim file keeps its bytes).
 *
 *   statedir      state_open() and friends on a temporary tree
 *   statedir_e2e  the binary: exit status and messages
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <criterion/logging.h>

#include "helpers.h"
#include "settings.h"
#include "state.h"

static char *tmp, *out_dir, *sdir, *victim;
static const char victim_text[] = "root:x:0:0:root:/root:/bin/sh\n";

static void
setup(void)
{
    tmp = th_mkdtemp();
    out_dir = th_path(tmp, "out");
    sdir = th_path(out_dir, ".imgpool");
    th_mkdirs(sdir);
    victim = th_path(tmp, "victim");
    th_write_file(victim, victim_text, sizeof(victim_text) - 1);
}

/* Undo chattr +i anywhere below tmp, so that it can be removed. */
static void
teardown(void)
{
    char cmd[4200];

    snprintf(cmd, sizeof(cmd), "chattr -R -i '%s' 2>/dev/null", tmp);
    /* It fails on links and FIFOs, which carry no flags: ignore that. */
    if (geteuid() == 0 && system(cmd) != 0) {
    }
    th_rmrf(tmp);
    free(tmp);
    free(out_dir);
    free(sdir);
    free(victim);
}

TestSuite(statedir, .init = setup, .fini = teardown, .timeout = 60);
TestSuite(statedir_e2e, .init = setup, .fini = teardown, .timeout = 120);

static void
assert_victim_untouched(void)
{
    struct stat sb;
    size_t len;
    char *data = th_read_file(victim, &len);

    cr_assert(len == sizeof(victim_text) - 1 &&
              memcmp(data, victim_text, len) == 0,
              "the file behind the link was written");
    cr_assert(lstat(victim, &sb) == 0 && S_ISREG(sb.st_mode));
    free(data);
}

/* A task whose output out/a.jpg exists, for recording. */
struct rec {
    struct task t;
    char *in;
};

static void
rec_make(struct rec *r)
{
    struct stat sb;

    memset(r, 0, sizeof(*r));
    r->in = th_path(tmp, "a.png");
    th_fill_file(r->in, 10, 'i');
    cr_assert(lstat(r->in, &sb) == 0);
    r->t.path = r->in;
    r->t.rel = strrchr(r->in, '/') + 1;
    r->t.out_path = th_path(out_dir, "a.jpg");
    r->t.out_rel = strrchr(r->t.out_path, '/') + 1;
    r->t.size = sb.st_size;
    r->t.mtime_ns = (int64_t)sb.st_mtim.tv_sec * 1000000000 +
                    sb.st_mtim.tv_nsec;
    r->t.dev = (uint64_t)sb.st_dev;
    r->t.ino = (uint64_t)sb.st_ino;
    th_fill_file(r->t.out_path, 20, 'o');
}

static void
rec_release(struct rec *r)
{
    free(r->in);
    free(r->t.out_path);
}

/* Open, and expect success; stderr into *@err (caller frees). */
static struct state *
open_ok(char **err)
{
    struct th_capture cap;
    struct state *st = NULL;
    int rc;

    th_capture_begin(&cap);
    rc = state_open(&st, out_dir, 0, 0);
    *err = th_capture_end(&cap);
    cr_assert_eq(rc, 0, "state_open failed: %s", *err);
    return st;
}

/* The database works: record, close, reopen, up to date. */
static void
assert_database_works(void)
{
    struct rec r;
    struct state *st;
    char *err;

    rec_make(&r);
    st = open_ok(&err);
    cr_assert_eq(state_record(st, &r.t, r.in, 42), 0);
    cr_assert_eq(state_close(st), 0);
    free(err);
    st = open_ok(&err);
    cr_assert_eq(state_up_to_date(st, &r.t, r.in, 42), 1);
    state_close(st);
    free(err);
    rec_release(&r);
}

static void
plant_link(const char *name)
{
    char *p = th_path(sdir, name);

    cr_assert(symlink(victim, p) == 0, "symlink '%s': %s", p,
              strerror(errno));
    free(p);
}

Test(statedir, planted_journal_links_are_moved_aside)
{
    static const char *const names[] = {
        "state.sqlite-wal", "state.sqlite-journal", "state.sqlite-shm",
    };

    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        struct rec r;
        struct state *st;
        char *err, prefix[64], want[128];

        /* A database with one row, then the planted journal. */
        rec_make(&r);
        st = open_ok(&err);
        cr_assert_eq(state_record(st, &r.t, r.in, 7), 0);
        state_close(st);
        free(err);
        plant_link(names[i]);

        st = open_ok(&err);
        snprintf(want, sizeof(want), ".imgpool/%s' is a symbolic link; "
                 "moved aside as '%s.unusable-", names[i], names[i]);
        cr_assert(strstr(err, want) != NULL, "%s: stderr: %s", names[i],
                  err);
        /* Only the link moved: the database kept its row. */
        cr_assert_eq(state_up_to_date(st, &r.t, r.in, 7), 1, "%s",
                     names[i]);
        cr_assert_eq(state_record(st, &r.t, r.in, 8), 0);
        state_close(st);
        snprintf(prefix, sizeof(prefix), "%s.unusable-", names[i]);
        cr_assert_eq(th_count_prefixed(sdir, prefix), 1, "%s", names[i]);
        assert_victim_untouched();
        free(err);
        rec_release(&r);
    }
    assert_database_works();
}

Test(statedir, planted_database_link_is_moved_aside)
{
    char *err;
    struct state *st;

    plant_link("state.sqlite");
    st = open_ok(&err);
    cr_assert(strstr(err, "state database '") &&
              strstr(err, ".imgpool/state.sqlite' is a symbolic link; "
                          "moving it aside"), "stderr: %s", err);
    state_close(st);
    cr_assert_eq(th_count_prefixed(sdir, "state.sqlite.unusable-"), 1);
    assert_victim_untouched();
    assert_database_works();
    free(err);
}

Test(statedir, database_of_another_type_is_moved_aside)
{
    char *p = th_path(sdir, "state.sqlite"), *err;
    struct state *st;

    cr_assert(mkfifo(p, 0644) == 0);
    st = open_ok(&err);
    cr_assert(strstr(err, "state.sqlite' is not a regular file"),
              "stderr: %s", err);
    state_close(st);
    cr_assert_eq(th_count_prefixed(sdir, "state.sqlite.unusable-"), 1);
    assert_database_works();
    free(err);
    free(p);
}

Test(statedir, hard_linked_wal_is_moved_aside_and_never_truncated)
{
    char *wal = th_path(sdir, "state.sqlite-wal"), *err;
    struct state *st;
    struct stat sb;

    assert_database_works();
    cr_assert(link(victim, wal) == 0, "link: %s", strerror(errno));
    st = open_ok(&err);
    cr_assert(strstr(err, "state.sqlite-wal' is a file with other hard "
                          "links; moved aside"), "stderr: %s", err);
    state_close(st);
    assert_victim_untouched();
    cr_assert(stat(victim, &sb) == 0);
    cr_assert_eq(th_count_prefixed(sdir, "state.sqlite-wal.unusable-"), 1);
    assert_database_works();
    free(err);
    free(wal);
}

Test(statedir, root_refuses_a_state_dir_owned_by_another_user)
{
    struct th_capture cap;
    struct state *st = NULL;
    char *err;
    int rc;

    if (geteuid() != 0)
        cr_skip_test("not root: cannot give the directory to another user");
    cr_assert(chown(sdir, 65534, 65534) == 0);
    th_capture_begin(&cap);
    rc = state_open(&st, out_dir, 0, 0);
    err = th_capture_end(&cap);
    cr_assert_eq(rc, -1, "stderr: %s", err);
    cr_assert(strstr(err, ".imgpool' belongs to uid 65534 and imgpool runs "
                          "as root; remove it"), "stderr: %s", err);
    cr_assert_eq(th_count_prefixed(sdir, "state"), 0,
                 "a file was created in it");
    free(err);
}



Test(statedir, unwritable_database_is_refused_or_moved_aside)
{
    char *db = th_path(sdir, "state.sqlite"), *err;
    struct th_capture cap;
    struct state *st = NULL;
    int rc;

    assert_database_works();
    if (!th_make_unwritable(db))
        cr_skip_test("chattr +i is not supported here");
    th_capture_begin(&cap);
    rc = state_open(&st, out_dir, 0, 0);
    err = th_capture_end(&cap);
    if (geteuid() == 0) {
        /* Immutable: cannot be moved either; refused, with what to do. */
        cr_assert_eq(rc, -1, "stderr: %s", err);
        cr_assert(strstr(err, ".imgpool/state.sqlite' aside") &&
                  strstr(err, "chattr -i") &&
                  strstr(err, "then run again"), "stderr: %s", err);
        cr_assert(th_undo_unwritable(db) == 0);
        assert_database_works();
    } else {
        /* Ours to move: moved aside, the run goes on afresh. */
        cr_assert_eq(rc, 0, "stderr: %s", err);
        cr_assert(strstr(err, "state.sqlite' is not writable"),
                  "stderr: %s", err);
        state_close(st);
        cr_assert_eq(th_count_prefixed(sdir, "state.sqlite.unusable-"), 1);
    }
    free(err);
    free(db);
}

Test(statedir, output_dir_named_through_a_link_opens)
{
    char *link = th_path(tmp, "outlink"), *err;
    struct state *st = NULL;
    struct th_capture cap;
    int rc;

    cr_assert(symlink(out_dir, link) == 0);
    th_capture_begin(&cap);
    rc = state_open(&st, link, 0, 0);
    err = th_capture_end(&cap);
    cr_assert_eq(rc, 0, "a user-named link to the output was refused: %s",
                 err);
    state_close(st);
    cr_assert_eq(th_count_prefixed(sdir, "state.sqlite"), 1);
    free(err);
    free(link);
}

/* ------------------------------------------------------------------------
 * The binary
 */

/* Run "thumbnail in -o out" on one input; the caller releases @r. */
static void
run_thumbnail(struct th_run *r)
{
    char *in = th_path(tmp, "in"), *src = th_testdata("rgb.jpg");
    char *dst = th_path(in, "rgb.jpg");
    const char *args[] = { "thumbnail", in, "-o", out_dir, NULL };

    if (!th_exists(dst))
        th_copy_file(src, dst);
    th_run(r, args);
    free(in);
    free(src);
    free(dst);
}

Test(statedir_e2e, planted_links_are_moved_aside_and_the_run_goes_on)
{
    struct th_run r;
    char *out = th_path(out_dir, "rgb.jpg");

    plant_link("state.sqlite-wal");
    plant_link("state.sqlite-journal");
    plant_link("lock");
    run_thumbnail(&r);
    cr_assert_eq(r.status, 0, "stderr: %s", r.err);
    cr_assert(strstr(r.err, "state.sqlite-wal' is a symbolic link; moved "
                            "aside") &&
              strstr(r.err, "state.sqlite-journal' is a symbolic link; "
                            "moved aside") &&
              strstr(r.err, "lock' is a symbolic link; moved aside"),
              "stderr: %s", r.err);
    th_assert_thumbnail(out, 300);
    assert_victim_untouched();
    th_run_release(&r);
    /* The next run is quiet and skips the file as up to date. */
    run_thumbnail(&r);
    cr_assert_eq(r.status, 0, "stderr: %s", r.err);
    cr_assert(strstr(r.err, "unusable") == NULL, "stderr: %s", r.err);
    th_run_release(&r);
    free(out);
}

Test(statedir_e2e, symlinked_state_dir_exits_2_and_writes_nothing)
{
    struct th_run r;
    char *vdir = th_path(tmp, "vdir");

    th_rmrf(sdir);
    th_mkdirs(vdir);
    cr_assert(symlink(vdir, sdir) == 0);
    run_thumbnail(&r);
    cr_assert_eq(r.status, 2, "stderr: %s", r.err);
    cr_assert(strstr(r.err, ".imgpool' is a symbolic link, which imgpool "
                            "never follows") &&
              strstr(r.err, "run again"), "stderr: %s", r.err);
    cr_assert(rmdir(vdir) == 0, "something was created behind the link");
    th_run_release(&r);
    free(vdir);
}

Test(statedir_e2e, immutable_database_exits_2_with_what_to_do)
{
    struct th_run r;
    char *db = th_path(sdir, "state.sqlite");

    if (geteuid() != 0)
        cr_skip_test("not root: chattr +i needs CAP_LINUX_IMMUTABLE");
    run_thumbnail(&r);
    cr_assert_eq(r.status, 0, "stderr: %s", r.err);
    th_run_release(&r);
    if (!th_make_unwritable(db))
        cr_skip_test("chattr +i is not supported here");
    run_thumbnail(&r);
    cr_assert_eq(r.status, 2, "stderr: %s", r.err);
    cr_assert(strstr(r.err, "state.sqlite' is not writable") &&
              strstr(r.err, "chattr -i"), "stderr: %s", r.err);
    th_run_release(&r);
    cr_assert(th_undo_unwritable(db) == 0);
    run_thumbnail(&r);
    cr_assert_eq(r.status, 0, "stderr: %s", r.err);
    th_run_release(&r);
    free(db);
}
