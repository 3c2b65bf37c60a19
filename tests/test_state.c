/*
 * test_state.c - the state database: what makes an output up to date,
 * what makes it stale, what happens to an unreadable or missing database,
 * and what --prune may and may not remove.
 *
 * Every test works on real files in a fresh temporary directory (in/ for
 * inputs, out/ for outputs), because up-to-dateness rests on what lstat(2)
 * says about both.  Tasks are built by hand from lstat, as the scanner
 * would; tampered rows are written with the SQLite API directly.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE     /* asprintf() */
#endif

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <sqlite3.h>

#include "helpers.h"
#include "util.h"
#include "settings.h"
#include "state.h"

/* ------------------------------------------------------------------------
 * Fixture: a temporary tree and tasks over it
 */

static char *tmp;     /* this test's directory */
static char *in_dir;  /* tmp/in, as realpath */
static char *out_dir; /* tmp/out */

static void
setup(void)
{
    char *p;

    tmp = th_mkdtemp();
    p = th_path(tmp, "in");
    th_mkdirs(p);
    in_dir = realpath(p, NULL);
    cr_assert(in_dir != NULL);
    free(p);
    out_dir = th_path(tmp, "out");
    th_mkdirs(out_dir);
}

static void
teardown(void)
{
    th_rmrf(tmp);
    free(tmp);
    free(in_dir);
    free(out_dir);
}

TestSuite(state, .init = setup, .fini = teardown, .timeout = 120);

/* A task as the scanner and planner would leave it. */
struct ftask {
    struct task t;
    char *input_abs;
};

/* Refresh the task's input identity from lstat, as a new scan would. */
static void
rescan(struct ftask *f)
{
    struct stat sb;

    cr_assert(lstat(f->t.path, &sb) == 0, "lstat '%s': %s", f->t.path,
              strerror(errno));
    f->t.size = sb.st_size;
    f->t.mtime_ns = (int64_t)sb.st_mtim.tv_sec * 1000000000 +
                    sb.st_mtim.tv_nsec;
    f->t.dev = (uint64_t)sb.st_dev;
    f->t.ino = (uint64_t)sb.st_ino;
}

/* Create input in/@rel of @size bytes and a task for it whose output is
 * out/@rel.jpg (not yet written). */
static void
ftask_make(struct ftask *f, const char *rel, size_t size)
{
    memset(f, 0, sizeof(*f));
    f->t.path = th_path(in_dir, rel);
    f->t.rel = f->t.path + strlen(in_dir) + 1;
    cr_assert(asprintf(&f->t.out_path, "%s/%s.jpg", out_dir, rel) > 0);
    f->t.out_rel = f->t.out_path + strlen(out_dir) + 1;
    f->input_abs = strdup(f->t.path);
    th_fill_file(f->t.path, size, 'i');
    rescan(f);
}

static void
ftask_release(struct ftask *f)
{
    free(f->t.path);
    free(f->t.out_path);
    free(f->input_abs);
}

/* Write the task's output with @size bytes (what a worker would do). */
static void
write_output(const struct ftask *f, size_t size)
{
    char *p = strdup(f->t.out_path);
    char *slash = strrchr(p, '/');

    *slash = '\0';
    th_mkdirs(p);
    free(p);
    th_fill_file(f->t.out_path, size, 'o');
}

static uint64_t
default_fp(void)
{
    struct settings s;

    settings_init(&s, MODE_THUMBNAIL);
    return state_fingerprint(&s, 1);
}

static struct state *
open_state(void)
{
    struct state *st = NULL;

    cr_assert(state_open(&st, out_dir, 0, 0) == 0);
    cr_assert(st != NULL);
    return st;
}

static char *
db_path(const char *name)
{
    char *p;

    cr_assert(asprintf(&p, "%s/.imgpool/%s", out_dir, name) > 0);
    return p;
}

/* True when .imgpool holds a file whose name starts with @prefix. */
static int
state_dir_has(const char *prefix)
{
    char *dir = db_path("");
    DIR *d = opendir(dir);
    struct dirent *e;
    int found = 0;

    cr_assert(d != NULL, "opendir '%s': %s", dir, strerror(errno));
    for (e = readdir(d); e; e = readdir(d)) {
        if (strncmp(e->d_name, prefix, strlen(prefix)) == 0)
            found = 1;
    }
    closedir(d);
    free(dir);
    return found;
}

/* Run @sql on the database file directly (the state must be closed). */
static void
db_exec(const char *path, const char *sql)
{
    sqlite3 *db;
    char *err = NULL;

    cr_assert(sqlite3_open(path, &db) == SQLITE_OK);
    cr_assert(sqlite3_exec(db, sql, NULL, NULL, &err) == SQLITE_OK,
              "%s: %s", sql, err ? err : "?");
    sqlite3_close(db);
}

static int
db_count(const char *path)
{
    sqlite3 *db;
    sqlite3_stmt *q;
    int n;

    cr_assert(sqlite3_open(path, &db) == SQLITE_OK);
    cr_assert(sqlite3_prepare_v2(db, "SELECT count(*) FROM outputs", -1, &q,
                                 NULL) == SQLITE_OK);
    cr_assert(sqlite3_step(q) == SQLITE_ROW);
    n = sqlite3_column_int(q, 0);
    sqlite3_finalize(q);
    sqlite3_close(db);
    return n;
}

/* ------------------------------------------------------------------------
 * Up to date, and every way of not being
 */

Test(state, round_trip)
{
    uint64_t fp = default_fp();
    struct state *st = open_state();
    struct ftask a;
    struct stat sb;
    char *db = db_path("state.sqlite");

    ftask_make(&a, "a.jpg", 1000);
    cr_assert(stat(db, &sb) == 0 && S_ISREG(sb.st_mode));
    cr_assert_eq(state_up_to_date(st, &a.t, a.input_abs, fp), 0,
                 "nothing recorded yet");
    write_output(&a, 321);
    cr_assert_eq(state_record(st, &a.t, a.input_abs, fp), 0);
    cr_assert_eq(state_up_to_date(st, &a.t, a.input_abs, fp), 1,
                 "recorded in this run (uncommitted batch)");
    cr_assert_eq(state_close(st), 0);

    st = open_state();
    cr_assert_eq(state_up_to_date(st, &a.t, a.input_abs, fp), 1,
                 "recorded in the previous run");
    /* WAL in exclusive mode: no shared-memory file, fine on NFS. */
    cr_assert(state_dir_has("state.sqlite-wal"));
    cr_assert_not(state_dir_has("state.sqlite-shm"));
    cr_assert_eq(state_close(st), 0);
    cr_assert_not(state_dir_has("state.sqlite-wal"),
                  "WAL checkpointed and removed on close");
    cr_assert_eq(db_count(db), 1);
    ftask_release(&a);
    free(db);
}

static void
count_name(void *data, const char *out_rel, const char *input_abs)
{
    (void)out_rel;
    (void)input_abs;
    ++*(long *)data;
}

/* One handle, read-only mode: the rows of the last run answer
 * state_up_to_date() and state_recorded_names(); recording and pruning do
 * nothing, the database file stays byte for byte what it was, and where
 * there is no database nothing is created. */
Test(state, readonly_handle_reads_and_writes_nothing)
{
    uint64_t fp = default_fp();
    struct state *st = open_state();
    struct ftask a, b;
    char *db = db_path("state.sqlite"), *before, *after, *none;
    const char *scope[1];
    size_t nbefore, nafter;
    long names = 0;

    ftask_make(&a, "a.jpg", 1000);
    ftask_make(&b, "b.jpg", 1000);
    write_output(&a, 321);
    write_output(&b, 123);
    cr_assert_eq(state_record(st, &a.t, a.input_abs, fp), 0);
    cr_assert_eq(state_close(st), 0);
    before = th_read_file(db, &nbefore);

    cr_assert_eq(state_open_readonly(&st, out_dir, 0, 0), 0);
    cr_assert(st != NULL);
    cr_assert_eq(state_up_to_date(st, &a.t, a.input_abs, fp), 1);
    cr_assert_eq(state_up_to_date(st, &a.t, a.input_abs, fp + 1), 0,
                 "another fingerprint");
    cr_assert_eq(state_up_to_date(st, &b.t, b.input_abs, fp), 0);
    cr_assert_eq(state_recorded_names(st, count_name, &names), 1);
    cr_assert_eq(names, 1);
    cr_assert_eq(state_record(st, &b.t, b.input_abs, fp), 0);
    cr_assert_eq(state_up_to_date(st, &b.t, b.input_abs, fp), 0,
                 "a read-only handle records nothing");
    cr_assert_eq(unlink(a.t.path), 0);
    scope[0] = in_dir;
    cr_assert_eq(state_prune(st, scope, 1, NULL, NULL), 0);
    cr_assert(access(a.t.out_path, F_OK) == 0, "nothing pruned");
    cr_assert_eq(state_close(st), 0);
    after = th_read_file(db, &nafter);
    cr_assert(nbefore == nafter && memcmp(before, after, nbefore) == 0,
              "the database file is unchanged");
    cr_assert_not(state_dir_has("state.sqlite-wal"));

    cr_assert(asprintf(&none, "%s/none", tmp) > 0);
    cr_assert_eq(state_open_readonly(&st, none, 0, 0), 0);
    cr_assert_eq(state_up_to_date(st, &a.t, a.input_abs, fp), 0);
    names = 0;
    cr_assert_eq(state_recorded_names(st, count_name, &names), 0);
    cr_assert_eq(state_close(st), 0);
    cr_assert(access(none, F_OK) != 0 && errno == ENOENT,
              "nothing created");
    free(none);
    free(before);
    free(after);
    free(db);
    ftask_release(&a);
    ftask_release(&b);
}

Test(state, changed_input_is_stale)
{
    uint64_t fp = default_fp();
    struct state *st = open_state();
    struct ftask a, b, c, d;
    char *tmpf;

    ftask_make(&a, "size.jpg", 100);
    ftask_make(&b, "mtime.jpg", 100);
    ftask_make(&c, "inode.jpg", 100);
    ftask_make(&d, "path.jpg", 100);
    th_set_mtime(b.t.path, 1600000000, 0);
    th_set_mtime(c.t.path, 1600000000, 123456789);
    rescan(&b);
    rescan(&c);
    write_output(&a, 50);
    write_output(&b, 50);
    write_output(&c, 50);
    write_output(&d, 50);
    cr_assert_eq(state_record(st, &a.t, a.input_abs, fp), 0);
    cr_assert_eq(state_record(st, &b.t, b.input_abs, fp), 0);
    cr_assert_eq(state_record(st, &c.t, c.input_abs, fp), 0);
    cr_assert_eq(state_record(st, &d.t, d.input_abs, fp), 0);
    state_close(st);

    /* Size: grown, same mtime. */
    th_fill_file(a.t.path, 101, 'i');
    th_set_mtime(a.t.path, a.t.mtime_ns / 1000000000,
              a.t.mtime_ns % 1000000000);
    rescan(&a);
    /* Mtime: one nanosecond later, same size. */
    th_set_mtime(b.t.path, 1600000000, 1);
    rescan(&b);
    /* Inode: the same bytes and mtime, renamed over the input. */
    cr_assert(asprintf(&tmpf, "%s.new", c.t.path) > 0);
    th_fill_file(tmpf, 100, 'i');
    th_set_mtime(tmpf, 1600000000, 123456789);
    cr_assert(rename(tmpf, c.t.path) == 0);
    rescan(&c);

    st = open_state();
    cr_assert_eq(state_up_to_date(st, &a.t, a.input_abs, fp), 0, "size");
    cr_assert_eq(state_up_to_date(st, &b.t, b.input_abs, fp), 0, "mtime");
    cr_assert_eq(state_up_to_date(st, &c.t, c.input_abs, fp), 0, "inode");
    /* Another input path producing the same output name. */
    cr_assert_eq(state_up_to_date(st, &d.t, a.input_abs, fp), 0, "path");
    cr_assert_eq(state_up_to_date(st, &d.t, d.input_abs, fp), 1,
                 "the unchanged one");
    state_close(st);
    free(tmpf);
    ftask_release(&a);
    ftask_release(&b);
    ftask_release(&c);
    ftask_release(&d);
}

Test(state, changed_fingerprint_is_stale)
{
    struct settings s;
    struct state *st = open_state();
    struct ftask a;
    uint64_t fp, fp2;

    settings_init(&s, MODE_THUMBNAIL);
    fp = state_fingerprint(&s, 1);
    s.width = 640;              /* --size */
    fp2 = state_fingerprint(&s, 1);
    cr_assert_neq(fp, fp2);
    ftask_make(&a, "a.jpg", 100);
    write_output(&a, 50);
    cr_assert_eq(state_record(st, &a.t, a.input_abs, fp), 0);
    cr_assert_eq(state_up_to_date(st, &a.t, a.input_abs, fp2), 0);
    cr_assert_eq(state_up_to_date(st, &a.t, a.input_abs, fp), 1);
    /* Redone with the new settings: up to date for those only. */
    cr_assert_eq(state_record(st, &a.t, a.input_abs, fp2), 0);
    cr_assert_eq(state_up_to_date(st, &a.t, a.input_abs, fp2), 1);
    cr_assert_eq(state_up_to_date(st, &a.t, a.input_abs, fp), 0);
    state_close(st);
    ftask_release(&a);
}

Test(state, changed_output_is_stale)
{
    uint64_t fp = default_fp();
    struct state *st = open_state();
    struct ftask gone, size, mtime, link, dir;

    ftask_make(&gone, "gone.jpg", 10);
    ftask_make(&size, "size.jpg", 10);
    ftask_make(&mtime, "mtime.jpg", 10);
    ftask_make(&link, "link.jpg", 10);
    ftask_make(&dir, "dir.jpg", 10);
    write_output(&gone, 100);
    write_output(&size, 100);
    write_output(&mtime, 100);
    write_output(&link, 100);
    write_output(&dir, 100);
    th_set_mtime(mtime.t.out_path, 1600000000, 500);
    cr_assert_eq(state_record(st, &gone.t, gone.input_abs, fp), 0);
    cr_assert_eq(state_record(st, &size.t, size.input_abs, fp), 0);
    cr_assert_eq(state_record(st, &mtime.t, mtime.input_abs, fp), 0);
    cr_assert_eq(state_record(st, &link.t, link.input_abs, fp), 0);
    cr_assert_eq(state_record(st, &dir.t, dir.input_abs, fp), 0);
    state_close(st);

    cr_assert(unlink(gone.t.out_path) == 0);
    write_output(&size, 101);
    th_set_mtime(mtime.t.out_path, 1600000000, 501);   /* same size */
    {
        /* Replaced by a symlink to a file with the same size and mtime. */
        char *twin;
        cr_assert(asprintf(&twin, "%s/twin", tmp) > 0);
        cr_assert(rename(link.t.out_path, twin) == 0);
        cr_assert(symlink(twin, link.t.out_path) == 0);
        free(twin);
    }
    cr_assert(unlink(dir.t.out_path) == 0);
    cr_assert(mkdir(dir.t.out_path, 0755) == 0);

    st = open_state();
    cr_assert_eq(state_up_to_date(st, &gone.t, gone.input_abs, fp), 0);
    cr_assert_eq(state_up_to_date(st, &size.t, size.input_abs, fp), 0);
    cr_assert_eq(state_up_to_date(st, &mtime.t, mtime.input_abs, fp), 0);
    cr_assert_eq(state_up_to_date(st, &link.t, link.input_abs, fp), 0);
    cr_assert_eq(state_up_to_date(st, &dir.t, dir.input_abs, fp), 0);
    state_close(st);
    ftask_release(&gone);
    ftask_release(&size);
    ftask_release(&mtime);
    ftask_release(&link);
    ftask_release(&dir);
}

Test(state, record_needs_the_output)
{
    uint64_t fp = default_fp();
    struct state *st = open_state();
    struct ftask a, outside;
    struct th_capture cap;
    char *err;

    ftask_make(&a, "a.jpg", 10);
    ftask_make(&outside, "b.jpg", 10);
    free(outside.t.out_path);
    cr_assert(asprintf(&outside.t.out_path, "%s/b.jpg", tmp) > 0);
    outside.t.out_rel = "../b.jpg";
    write_output(&outside, 10);
    th_capture_begin(&cap);
    cr_assert_eq(state_record(st, &a.t, a.input_abs, fp), -1,
                 "no output on disk");
    cr_assert_eq(state_record(st, &outside.t, outside.input_abs, fp), -1,
                 "output outside the output directory");
    err = th_capture_end(&cap);
    cr_assert(strstr(err, "cannot record") != NULL, "stderr: %s", err);
    cr_assert_eq(state_up_to_date(st, &outside.t, outside.input_abs, fp), 0);
    state_close(st);
    free(err);
    ftask_release(&a);
    ftask_release(&outside);
}

/* ------------------------------------------------------------------------
 * Lost or unreadable databases
 */

/* Record @f (output written already) in a fresh database and close. */
static void
record_one(struct ftask *f, uint64_t fp)
{
    struct state *st = open_state();

    cr_assert_eq(state_record(st, &f->t, f->input_abs, fp), 0);
    cr_assert_eq(state_close(st), 0);
}

Test(state, garbage_database_starts_afresh)
{
    uint64_t fp = default_fp();
    char garbage[8192], *db = db_path("state.sqlite"), *err;
    struct th_capture cap;
    struct state *st;
    struct ftask a;

    ftask_make(&a, "a.jpg", 10);
    write_output(&a, 20);
    record_one(&a, fp);
    for (size_t i = 0; i < sizeof(garbage); i++)
        garbage[i] = (char)("not a database "[i % 15]);
    th_write_file(db, garbage, sizeof(garbage));

    th_capture_begin(&cap);
    st = open_state();
    err = th_capture_end(&cap);
    cr_assert(strstr(err, "warning: state database '") != NULL &&
              strstr(err, "' is unreadable (") != NULL &&
              strstr(err, "); starting afresh") != NULL, "stderr: %s", err);
    cr_assert(state_dir_has("state.sqlite.corrupt-"));
    cr_assert_eq(state_up_to_date(st, &a.t, a.input_abs, fp), 0);
    /* The new database works. */
    cr_assert_eq(state_record(st, &a.t, a.input_abs, fp), 0);
    state_close(st);
    st = open_state();
    cr_assert_eq(state_up_to_date(st, &a.t, a.input_abs, fp), 1);
    state_close(st);
    free(err);
    free(db);
    ftask_release(&a);
}

Test(state, truncated_database_starts_afresh)
{
    uint64_t fp = default_fp();
    char *db = db_path("state.sqlite"), *err;
    struct ftask f[300];
    struct th_capture cap;
    struct state *st;
    char rel[32];
    int n = (int)(sizeof(f) / sizeof(f[0])), fresh = 0;

    /* Long paths, so the table spans many pages. */
    st = open_state();
    for (int i = 0; i < n; i++) {
        snprintf(rel, sizeof(rel), "%03d-%s.jpg", i, "padpadpadpadpad");
        ftask_make(&f[i], rel, 10);
        write_output(&f[i], 20);
        cr_assert_eq(state_record(st, &f[i].t, f[i].input_abs, fp), 0);
    }
    cr_assert_eq(state_close(st), 0);
    cr_assert(truncate(db, 4096 * 2) == 0);

    th_capture_begin(&cap);
    st = open_state();
    for (int i = 0; i < n; i++)
        fresh += state_up_to_date(st, &f[i].t, f[i].input_abs, fp);
    err = th_capture_end(&cap);
    /* Rows on the surviving pages may still be found; the point is that
     * the damage is noticed, the file replaced and nothing crashes. */
    cr_log_info("truncated database: %d of %d rows still found", fresh, n);
    cr_assert(strstr(err, "is unreadable") != NULL, "stderr: %s", err);
    cr_assert(state_dir_has("state.sqlite.corrupt-"));
    cr_assert_eq(state_record(st, &f[0].t, f[0].input_abs, fp), 0);
    cr_assert_eq(state_close(st), 0);
    st = open_state();
    cr_assert_eq(state_up_to_date(st, &f[0].t, f[0].input_abs, fp), 1);
    state_close(st);
    for (int i = 0; i < n; i++)
        ftask_release(&f[i]);
    free(err);
    free(db);
}

Test(state, newer_or_foreign_database_starts_afresh)
{
    uint64_t fp = default_fp();
    char *db = db_path("state.sqlite"), *err;
    struct th_capture cap;
    struct state *st;
    struct ftask a;

    ftask_make(&a, "a.jpg", 10);
    write_output(&a, 20);
    record_one(&a, fp);
    db_exec(db, "PRAGMA user_version = 99");
    th_capture_begin(&cap);
    st = open_state();
    err = th_capture_end(&cap);
    cr_assert(strstr(err, "schema version 99") != NULL, "stderr: %s", err);
    cr_assert_eq(state_up_to_date(st, &a.t, a.input_abs, fp), 0);
    state_close(st);
    free(err);

    /* Someone else's database under our name. */
    cr_assert(unlink(db) == 0);
    db_exec(db, "CREATE TABLE outputs (x); INSERT INTO outputs VALUES (1)");
    th_capture_begin(&cap);
    st = open_state();
    err = th_capture_end(&cap);
    cr_assert(strstr(err, "not an imgpool state database") != NULL,
              "stderr: %s", err);
    state_close(st);
    free(err);

    /* Ours by id and version, but with the wrong columns. */
    cr_assert(unlink(db) == 0);
    db_exec(db, "CREATE TABLE outputs (x); PRAGMA user_version = 1;"
                "PRAGMA application_id = 1768777584");
    th_capture_begin(&cap);
    st = open_state();
    err = th_capture_end(&cap);
    cr_assert(strstr(err, "is unreadable") != NULL, "stderr: %s", err);
    state_close(st);
    free(err);
    free(db);
    ftask_release(&a);
}

Test(state, deleted_database_means_redo)
{
    uint64_t fp = default_fp();
    char *db = db_path("state.sqlite"), *err;
    struct th_capture cap;
    struct state *st;
    struct ftask a;

    ftask_make(&a, "a.jpg", 10);
    write_output(&a, 20);
    record_one(&a, fp);
    cr_assert(unlink(db) == 0);
    th_capture_begin(&cap);
    st = open_state();
    err = th_capture_end(&cap);
    cr_assert_str_empty(err, "a missing database is not worth a warning");
    cr_assert_eq(state_up_to_date(st, &a.t, a.input_abs, fp), 0);
    state_close(st);
    cr_assert_not(state_dir_has("state.sqlite.corrupt-"));
    free(err);
    free(db);
    ftask_release(&a);
}

Test(state, busy_database_is_not_moved_aside, .timeout = 60)
{
    struct state *st = open_state();
    struct th_capture cap;
    int status;
    char *err;
    pid_t pid;

    th_capture_begin(&cap);
    pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) {
        struct state *st2 = NULL;

        _exit(state_open(&st2, out_dir, 0, 0) == -1 ? 0 : 1);
    }
    cr_assert(waitpid(pid, &status, 0) == pid);
    err = th_capture_end(&cap);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
              "a second opener must fail while the first holds the file");
    cr_assert(strstr(err, "is in use by another process") != NULL,
              "stderr: %s", err);
    cr_assert_not(state_dir_has("state.sqlite.corrupt-"));
    state_close(st);
    free(err);
}

Test(state, shards_use_their_own_file)
{
    uint64_t fp = default_fp();
    struct state *st = NULL, *s2 = NULL;
    struct ftask a;

    ftask_make(&a, "a.jpg", 10);
    write_output(&a, 20);
    cr_assert(state_open(&st, out_dir, 2, 4) == 0);
    cr_assert(state_dir_has("state-2-of-4.sqlite"));
    cr_assert_not(state_dir_has("state.sqlite"));
    cr_assert_eq(state_record(st, &a.t, a.input_abs, fp), 0);
    /* Another shard can be open at the same time. */
    cr_assert(state_open(&s2, out_dir, 3, 4) == 0);
    cr_assert_eq(state_up_to_date(s2, &a.t, a.input_abs, fp), 0);
    state_close(s2);
    state_close(st);

    st = open_state();
    cr_assert_eq(state_up_to_date(st, &a.t, a.input_abs, fp), 0);
    state_close(st);
    cr_assert(state_open(&st, out_dir, 2, 4) == 0);
    cr_assert_eq(state_up_to_date(st, &a.t, a.input_abs, fp), 1);
    state_close(st);
    ftask_release(&a);
}

Test(state, symlinked_state_dir_is_refused)
{
    struct state *st = NULL;
    struct th_capture cap;
    char *dir, *err;
    int rc;

    /* .imgpool as a symlink must not lead the database elsewhere. */
    cr_assert(asprintf(&dir, "%s/.imgpool", out_dir) > 0);
    cr_assert(symlink(tmp, dir) == 0);
    th_capture_begin(&cap);
    rc = state_open(&st, out_dir, 0, 0);
    err = th_capture_end(&cap);
    cr_assert_eq(rc, -1);
    cr_assert(strstr(err, "is a symbolic link") != NULL &&
              strstr(err, "remove the link") != NULL, "stderr: %s", err);
    free(err);
    free(dir);
    /* Nothing was created where the link points. */
    cr_assert(asprintf(&dir, "%s/state.sqlite", tmp) > 0);
    cr_assert_not(th_exists(dir));
    free(dir);
}

/* ------------------------------------------------------------------------
 * --prune
 */

struct removed {
    int n;
    char names[8][4096];
};

static void
on_removed(void *data, const char *out)
{
    struct removed *r = data;

    if (r->n < 8)
        snprintf(r->names[r->n], sizeof(r->names[0]), "%s", out);
    r->n++;
}

Test(state, prune_removes_only_its_own_outputs)
{
    uint64_t fp = default_fp();
    struct state *st = open_state();
    struct ftask keep, gone, replaced, linked, dirlink;
    struct removed rem = { 0 };
    char *db = db_path("state.sqlite"), *outside_dir, *outside_file;
    char *dirlink_parent;
    struct stat sb;

    ftask_make(&keep, "keep.jpg", 10);
    ftask_make(&gone, "sub/gone.jpg", 10);
    ftask_make(&replaced, "replaced.jpg", 10);
    ftask_make(&linked, "linked.jpg", 10);
    ftask_make(&dirlink, "d/x.jpg", 10);
    write_output(&keep, 20);
    write_output(&gone, 20);
    write_output(&replaced, 20);
    write_output(&linked, 20);
    write_output(&dirlink, 20);
    cr_assert_eq(state_record(st, &keep.t, keep.input_abs, fp), 0);
    cr_assert_eq(state_record(st, &gone.t, gone.input_abs, fp), 0);
    cr_assert_eq(state_record(st, &replaced.t, replaced.input_abs, fp), 0);
    cr_assert_eq(state_record(st, &linked.t, linked.input_abs, fp), 0);
    cr_assert_eq(state_record(st, &dirlink.t, dirlink.input_abs, fp), 0);
    cr_assert_eq(state_close(st), 0);

    /* Every input but keep's disappears; gone's whole directory too. */
    cr_assert(unlink(gone.t.path) == 0);
    cr_assert(unlink(replaced.t.path) == 0);
    cr_assert(unlink(linked.t.path) == 0);
    cr_assert(unlink(dirlink.t.path) == 0);
    /* The user's own file now stands where imgpool wrote one. */
    write_output(&replaced, 21);
    /* A symlink to a file that looks exactly like the output. */
    cr_assert(asprintf(&outside_file, "%s/linked-target.jpg", tmp) > 0);
    cr_assert(rename(linked.t.out_path, outside_file) == 0);
    cr_assert(symlink(outside_file, linked.t.out_path) == 0);
    /* A directory of the output path replaced by a symlink to a directory
     * outside the tree holding a file that looks exactly like the output. */
    cr_assert(asprintf(&outside_dir, "%s/elsewhere", tmp) > 0);
    dirlink_parent = strdup(dirlink.t.out_path);
    *strrchr(dirlink_parent, '/') = '\0';
    cr_assert(rename(dirlink_parent, outside_dir) == 0);
    cr_assert(symlink(outside_dir, dirlink_parent) == 0);

    st = open_state();
    cr_assert_eq(state_prune(st, (const char *const[]){ "/nonexistent-root" },
                             1, on_removed, &rem), 0,
                 "rows of other roots must not be pruned");
    cr_assert_eq(state_prune(st, (const char *const[]){ tmp }, 1, on_removed,
                             &rem), 1);
    cr_assert_eq(rem.n, 1);
    cr_assert_str_eq(rem.names[0], gone.t.out_path);
    cr_assert_not(th_exists(gone.t.out_path));
    cr_assert(th_exists(keep.t.out_path));
    cr_assert(lstat(replaced.t.out_path, &sb) == 0 && sb.st_size == 21,
              "a file imgpool did not write is never removed");
    cr_assert(lstat(linked.t.out_path, &sb) == 0 && S_ISLNK(sb.st_mode));
    cr_assert(th_exists(outside_file));
    {
        char *x;
        cr_assert(asprintf(&x, "%s/x.jpg.jpg", outside_dir) > 0);
        cr_assert(th_exists(x), "nothing removed through a symlink");
        free(x);
    }
    cr_assert_eq(state_up_to_date(st, &keep.t, keep.input_abs, fp), 1);
    cr_assert_eq(state_prune(st, (const char *const[]){ tmp }, 1, on_removed,
                             &rem), 0, "rows were dropped");
    cr_assert_eq(state_close(st), 0);
    cr_assert_eq(db_count(db), 1, "only keep's row is left");

    free(outside_file);
    free(outside_dir);
    free(dirlink_parent);
    free(db);
    ftask_release(&keep);
    ftask_release(&gone);
    ftask_release(&replaced);
    ftask_release(&linked);
    ftask_release(&dirlink);
}

Test(state, prune_refuses_tampered_paths)
{
    struct state *st = open_state();
    char *db = db_path("state.sqlite"), *victim, *sql, *err;
    struct removed rem = { 0 };
    struct th_capture cap;
    struct stat sb;
    int64_t mtime;

    /* A file outside the output tree, and rows that name it with the
     * right size and mtime but a path that climbs out or is absolute. */
    cr_assert(asprintf(&victim, "%s/victim.jpg", tmp) > 0);
    th_fill_file(victim, 77, 'v');
    cr_assert(lstat(victim, &sb) == 0);
    mtime = (int64_t)sb.st_mtim.tv_sec * 1000000000 + sb.st_mtim.tv_nsec;
    state_close(st);
    cr_assert(asprintf(&sql,
                       "INSERT INTO outputs VALUES ('../victim.jpg', "
                       "'/nonexistent/a', 1, 1, 1, 1, 1, 77, %lld);"
                       "INSERT INTO outputs VALUES ('%s', "
                       "'/nonexistent/b', 1, 1, 1, 1, 1, 77, %lld);"
                       "INSERT INTO outputs VALUES ('x/../../victim.jpg', "
                       "'/nonexistent/c', 1, 1, 1, 1, 1, 77, %lld);",
                       (long long)mtime, victim, (long long)mtime,
                       (long long)mtime) > 0);
    db_exec(db, sql);

    st = open_state();
    th_capture_begin(&cap);
    cr_assert_eq(state_prune(st, (const char *const[]){ "/nonexistent" }, 1,
                             on_removed, &rem), 0);
    err = th_capture_end(&cap);
    cr_assert_eq(rem.n, 0);
    cr_assert(lstat(victim, &sb) == 0 && sb.st_size == 77,
              "the victim survives");
    cr_assert(strstr(err, "outside the output directory") != NULL,
              "stderr: %s", err);
    state_close(st);
    cr_assert_eq(db_count(db), 0, "the rows are dropped all the same");
    free(err);
    free(sql);
    free(victim);
    free(db);
}

/* ------------------------------------------------------------------------
 * Scale
 */

/* Seconds on the one monotonic clock (util.h). */
static double
now_s(void)
{
    return (double)util_now_us() / 1e6;
}

Test(state, hundred_thousand_records, .timeout = 600)
{
    enum { N = 100000, PER_DIR = 1000 };
    uint64_t fp = default_fp();
    struct task *t = calloc(N, sizeof(*t));
    char **abs = calloc(N, sizeof(*abs));
    char *input, *dir;
    struct state *st;
    struct stat sb;
    double t0, t1, t2, t3, t4;
    int up = 0;

    /* One real input shared by all tasks; real (empty) outputs, because
     * both record and lookup stat them. */
    cr_assert(t && abs);
    input = th_path(in_dir, "one.jpg");
    th_fill_file(input, 10, 'i');
    cr_assert(lstat(input, &sb) == 0);
    t0 = now_s();
    for (int i = 0; i < N; i++) {
        if (i % PER_DIR == 0) {
            cr_assert(asprintf(&dir, "%s/d%03d", out_dir, i / PER_DIR) > 0);
            cr_assert(mkdir(dir, 0755) == 0);
            free(dir);
        }
        cr_assert(asprintf(&t[i].out_path, "%s/d%03d/img-%06d.jpg", out_dir,
                           i / PER_DIR, i) > 0);
        t[i].out_rel = t[i].out_path + strlen(out_dir) + 1;
        cr_assert(asprintf(&abs[i], "%s/d%03d/img-%06d.jpg", in_dir,
                           i / PER_DIR, i) > 0);
        t[i].path = abs[i];
        t[i].size = sb.st_size;
        t[i].mtime_ns = (int64_t)sb.st_mtim.tv_sec * 1000000000 +
                        sb.st_mtim.tv_nsec;
        t[i].dev = (uint64_t)sb.st_dev;
        t[i].ino = (uint64_t)sb.st_ino + (uint64_t)i;
        th_write_file(t[i].out_path, "", 0);
    }
    t1 = now_s();

    st = open_state();
    for (int i = 0; i < N; i++)
        cr_assert_eq(state_record(st, &t[i], abs[i], fp), 0);
    cr_assert_eq(state_close(st), 0);
    t2 = now_s();

    st = open_state();
    t3 = now_s();
    for (int i = 0; i < N; i++)
        up += state_up_to_date(st, &t[i], abs[i], fp);
    t4 = now_s();
    state_close(st);
    cr_assert_eq(up, N);

    cr_log_info("100k: %.2f s to create outputs, %.3f s to record (incl. "
                "open and close), %.3f s to reopen, %.3f s to look up",
                t1 - t0, t2 - t1, t3 - t2, t4 - t3);
    for (int i = 0; i < N; i++) {
        free(t[i].out_path);
        free(abs[i]);
    }
    free(t);
    free(abs);
    free(input);
}
