/*
 * state.c - the record of what produced each output, in SQLite.
 *
 * One database per output tree (per shard), <output>/.imgpool/state.sqlite,
 * with one table keyed by the output's path below the output directory.
 * A skip needs every recorded fact to match what is on disk now, so any
 * doubt - a lost row, a changed input, a replaced output, an unreadable
 * database - turns into redoing the file, never into a wrong skip.
 *
 * Journal: WAL in exclusive locking mode, synchronous=NORMAL.
 *  - Crash safety: in WAL mode with synchronous=NORMAL a power loss can
 *    drop the last commits but cannot corrupt the database; a lost commit
 *    only means those files are redone.  Commits do not fsync, so
 *    committing a batch every 1000 rows or every second costs next to
 *    nothing.  (A rollback journal at NORMAL syncs at every commit and,
 *    per SQLite's documentation, is the mode that can corrupt on power
 *    loss with older file systems.)
 *  - One writer: the run lock (lock.c) admits one run per output tree and
 *    each shard has its own file, so no reader ever needs to run beside the
 *    writer; exclusive mode takes the file lock once instead of per
 *    transaction, and a second process that opens the file anyway waits
 *    for busy_timeout and then gets a clear error.
 *  - NFS: ordinary WAL keeps its index in a memory-mapped -shm file, which
 *    does not work on network file systems.  With locking_mode=EXCLUSIVE
 *    set before the first WAL access SQLite keeps that index in private
 *    memory and never creates -shm, so the output tree may live on NFS.
 *
 * Paths are stored as the bytes the file system gave (bound as TEXT with
 * an explicit length; SQLite does not validate UTF-8 and compares keys
 * with memcmp), so any file name round-trips.  Unsigned 64-bit values
 * (device, inode, fingerprint) are stored as the int64 with the same bits.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>
#include "dirwalk.h"
#include "msg.h"
#include "names.h"
#include "state.h"
#include "state_dir.h"
#include "state_int.h"
#include "util.h"

/* Schema version in PRAGMA user_version; a newer one is never read. */
#define STATE_SCHEMA_VERSION 1
/* PRAGMA application_id: "imgp", so a foreign database is not mistaken
 * for ours and written into. */
#define STATE_APP_ID 0x696d6770
#define BATCH_ROWS 1000
#define BATCH_USEC 1000000
#define BUSY_TIMEOUT_MS 5000


enum open_result {
    OPEN_OK = 0,
    OPEN_FATAL,           /* errorf() printed; give up */
    OPEN_UNREADABLE,      /* move it aside and start afresh */
};

static const char schema_sql[] =
    "CREATE TABLE outputs ("
    " out_rel TEXT PRIMARY KEY NOT NULL,"
    " input_abs TEXT NOT NULL,"
    " in_size INTEGER NOT NULL,"
    " in_mtime_ns INTEGER NOT NULL,"
    " in_dev INTEGER NOT NULL,"
    " in_ino INTEGER NOT NULL,"
    " fingerprint INTEGER NOT NULL,"
    " out_size INTEGER NOT NULL,"
    " out_mtime_ns INTEGER NOT NULL"
    ") WITHOUT ROWID;";

/* ------------------------------------------------------------------------
 * Small helpers
 */

int64_t
stat_mtime_ns(const struct stat *sb)
{
    return (int64_t)sb->st_mtim.tv_sec * 1000000000 + sb->st_mtim.tv_nsec;
}

/* An SQLite result that says the file is not a usable database. */
static int
rc_unreadable(int rc)
{
    rc &= 0xff;
    return rc == SQLITE_CORRUPT || rc == SQLITE_NOTADB ||
           rc == SQLITE_FORMAT;
}

/*
 * True when @rel (@len bytes) is a path a row may name for removal: not
 * empty, relative, every component a plain name (no "", "." or ".."), no
 * NUL inside.  A database edited by someone else must not reach outside
 * the output tree.
 */
int
rel_is_safe(const char *rel, size_t len)
{
    const char *p = rel, *end = rel + len, *slash;
    size_t n;

    if (len == 0 || len >= PATH_MAX || memchr(rel, '\0', len) || *rel == '/')
        return 0;
    while (p < end) {
        slash = memchr(p, '/', (size_t)(end - p));
        n = slash ? (size_t)(slash - p) : (size_t)(end - p);
        if (n == 0 || n > NAME_MAX || (n == 1 && p[0] == '.') ||
            (n == 2 && p[0] == '.' && p[1] == '.'))
            return 0;
        p += n + 1;
        if (slash && p == end)
            return 0;           /* trailing '/' */
    }
    return 1;
}

/* Output @k of @t below the output directory (task_out_rel()), or NULL
 * when it has none that a row may name. */
static const char *
task_rel(const struct task *t, int k)
{
    const char *rel = task_out_rel(t, k);

    if (!rel || !rel_is_safe(rel, strlen(rel)))
        return NULL;
    return rel;
}

/* ------------------------------------------------------------------------
 * Opening, validating, starting afresh
 */

static void
finalize_all(struct state *st)
{
    sqlite3_finalize(st->get);
    sqlite3_finalize(st->put);
    sqlite3_finalize(st->del);
    sqlite3_finalize(st->all);
    st->get = st->put = st->del = st->all = NULL;
}

/* Close without committing (an open batch is rolled back). */
static void
db_close(struct state *st)
{
    finalize_all(st);
    if (st->db)
        sqlite3_close(st->db);
    st->db = NULL;
    st->in_txn = 0;
    st->batch_rows = 0;
}

/* The database's file name inside the state directory. */
static const char *
db_name(const struct state *st)
{
    const char *slash = strrchr(st->path, '/');

    return slash ? slash + 1 : st->path;
}

/* The state directory as the user sees it ("out/.imgpool"), for messages;
 * the caller frees it. */
static char *
shown_dir(const struct state *st)
{
    const char *name = db_name(st);

    return strndup(st->path, name > st->path ? (size_t)(name - st->path - 1)
                                             : 0);
}

/*
 * Move the database and its journals aside as <path>.corrupt-<UTC time>
 * (plus "-N" if that exists), keeping them for inspection; renameat() in
 * the state directory, which never follows a link.  0 or -1 after
 * errorf().
 */
static int
move_aside(const struct state *st)
{
    char *shown = shown_dir(st);
    int dfd, rc = -1;

    if (!shown) {
        errorf("cannot move the state database aside: out of memory");
        return -1;
    }
    dfd = state_dir_open(st->out_fd, shown);
    if (dfd >= 0) {
        rc = state_dir_move_aside(dfd, shown, db_name(st), "corrupt");
        close(dfd);
    }
    free(shown);
    return rc;
}

/* The integer in the first column of @sql's first row; SQLITE_OK or an
 * SQLite error code. */
static int
query_int(sqlite3 *db, const char *sql, int *value)
{
    sqlite3_stmt *stmt;
    int rc = sqlite3_prepare_v2(db, sql, -1, &stmt, NULL);

    if (rc != SQLITE_OK)
        return rc;
    rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW) {
        *value = sqlite3_column_int(stmt, 0);
        rc = SQLITE_OK;
    }
    sqlite3_finalize(stmt);
    return rc;
}

/*
 * Classify a failure while opening: unreadable (move aside), or fatal
 * (errorf() now).  @why receives the reason for the warning.
 */
static enum open_result
open_failed(struct state *st, int rc, const char *what, char *why,
            size_t size)
{
    const char *detail = st->db ? sqlite3_errmsg(st->db) : sqlite3_errstr(rc);

    if (rc_unreadable(rc)) {
        snprintf(why, size, "%s", detail);
        return OPEN_UNREADABLE;
    }
    if ((rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED)
        errorf("state database '%s' is in use by another process",
               st->path);
    else
        errorf("cannot %s state database '%s': %s", what, st->path, detail);
    return OPEN_FATAL;
}

/* Create the schema in an empty database. */
static int
create_schema(sqlite3 *db)
{
    char sql[256];
    int rc;

    rc = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
    if (rc != SQLITE_OK)
        return rc;
    snprintf(sql, sizeof(sql),
             "PRAGMA application_id = %d; PRAGMA user_version = %d;",
             STATE_APP_ID, STATE_SCHEMA_VERSION);
    rc = sqlite3_exec(db, schema_sql, NULL, NULL, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
    else
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    return rc;
}

/*
 * Check the state directory's files for this database (state_dir.h: a
 * planted link, another type or an unwritable file is moved aside), then
 * open it in SQLite by a path without any symbolic link, which
 * SQLITE_OPEN_NOFOLLOW insists on; SQLite opens the database and its
 * journals with O_NOFOLLOW besides.  OPEN_OK with st->db set; else
 * OPEN_FATAL after errorf(), or OPEN_UNREADABLE with @why set (the caller
 * closes st->db either way).
 */
static enum open_result
db_open_file(struct state *st, char *why, size_t size)
{
    const int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
                      SQLITE_OPEN_NOFOLLOW;
    enum open_result res = OPEN_FATAL;
    char *shown = shown_dir(st), *path = NULL;
    struct stat sb;
    int dfd = -1, rc;

    if (!shown) {
        errorf("cannot open the state database: out of memory");
        return OPEN_FATAL;
    }
    dfd = state_dir_open(st->out_fd, shown);
    if (dfd < 0 || state_dir_check_files(dfd, shown, db_name(st)) < 0)
        goto out;
    if (fstatat(dfd, db_name(st), &sb, AT_SYMLINK_NOFOLLOW) < 0)
        state_dir_remove_journals(dfd, db_name(st));
    path = state_dir_sqlite_path(st->out_fd, st->out_len ? st->out_dir : "",
                                 db_name(st));
    if (!path)
        goto out;
    rc = sqlite3_open_v2(path, &st->db, flags, NULL);
    res = rc == SQLITE_OK ? OPEN_OK : open_failed(st, rc, "open", why, size);
out:
    if (dfd >= 0)
        close(dfd);
    free(path);
    free(shown);
    return res;
}

/*
 * Open st->path, create or check the schema, prepare the statements.
 * On OPEN_UNREADABLE, @why says what is wrong and the handle is closed.
 */
static enum open_result
db_open(struct state *st, char *why, size_t size)
{
    int rc, app_id = 0, version = 0, ntables = 0;
    enum open_result res;

    res = db_open_file(st, why, size);
    if (res != OPEN_OK)
        goto fail;
    sqlite3_extended_result_codes(st->db, 1);
    sqlite3_busy_timeout(st->db, BUSY_TIMEOUT_MS);

    /* Exclusive mode first: it must precede the first WAL access for
     * SQLite to keep the WAL index in private memory (no -shm).  The
     * table takes about 140 bytes a row; a 32 MiB page cache (allocated
     * as used) keeps a few hundred thousand rows in memory. */
    rc = sqlite3_exec(st->db,
                      "PRAGMA locking_mode = EXCLUSIVE;"
                      "PRAGMA journal_mode = WAL;"
                      "PRAGMA synchronous = NORMAL;"
                      "PRAGMA cache_size = -32768;",
                      NULL, NULL, NULL);
    if (rc == SQLITE_OK)
        rc = query_int(st->db, "PRAGMA application_id", &app_id);
    if (rc == SQLITE_OK)
        rc = query_int(st->db, "PRAGMA user_version", &version);
    if (rc == SQLITE_OK)
        rc = query_int(st->db, "SELECT count(*) FROM sqlite_schema",
                       &ntables);
    if (rc != SQLITE_OK) {
        res = open_failed(st, rc, "read", why, size);
        goto fail;
    }

    if (app_id == 0 && version == 0 && ntables == 0) {
        rc = create_schema(st->db);
        if (rc != SQLITE_OK) {
            res = open_failed(st, rc, "initialise", why, size);
            goto fail;
        }
    } else if (app_id != STATE_APP_ID) {
        snprintf(why, size, "not an imgpool state database");
        res = OPEN_UNREADABLE;
        goto fail;
    } else if (version != STATE_SCHEMA_VERSION) {
        snprintf(why, size, "schema version %d, expected %d", version,
                 STATE_SCHEMA_VERSION);
        res = OPEN_UNREADABLE;
        goto fail;
    }

    /* Preparing checks the columns; a mismatch is an unreadable file. */
    rc = sqlite3_prepare_v3(st->db,
                            "SELECT input_abs, in_size, in_mtime_ns, in_dev,"
                            " in_ino, fingerprint, out_size, out_mtime_ns"
                            " FROM outputs WHERE out_rel = ?1",
                            -1, SQLITE_PREPARE_PERSISTENT, &st->get, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v3(st->db,
                                "INSERT OR REPLACE INTO outputs (out_rel,"
                                " input_abs, in_size, in_mtime_ns, in_dev,"
                                " in_ino, fingerprint, out_size, out_mtime_ns)"
                                " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                                -1, SQLITE_PREPARE_PERSISTENT, &st->put, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v3(st->db,
                                "DELETE FROM outputs WHERE out_rel = ?1",
                                -1, SQLITE_PREPARE_PERSISTENT, &st->del, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v3(st->db,
                                "SELECT out_rel, input_abs, out_size,"
                                " out_mtime_ns FROM outputs",
                                -1, SQLITE_PREPARE_PERSISTENT, &st->all, NULL);
    if (rc != SQLITE_OK) {
        if ((rc & 0xff) == SQLITE_ERROR) {
            snprintf(why, size, "%s", sqlite3_errmsg(st->db));
            res = OPEN_UNREADABLE;
        } else {
            res = open_failed(st, rc, "read", why, size);
        }
        goto fail;
    }

    /* Touch the table's root page, so that a truncated file is caught now
     * rather than at the first lookup. */
    rc = query_int(st->db, "SELECT count(*) FROM (SELECT 1 FROM outputs"
                   " LIMIT 1)", &ntables);
    if (rc != SQLITE_OK) {
        res = open_failed(st, rc, "read", why, size);
        goto fail;
    }
    return OPEN_OK;

fail:
    db_close(st);
    return res;
}

/*
 * db_open(), and on an unreadable database: warn, move it aside, create a
 * new one.  0, or -1 after errorf().
 */
static int
db_open_or_reset(struct state *st)
{
    char why[512];
    enum open_result res = db_open(st, why, sizeof(why));

    if (res == OPEN_UNREADABLE) {
        warnf("state database '%s' is unreadable (%s); starting afresh",
              st->path, why);
        if (move_aside(st) < 0)
            return -1;
        res = db_open(st, why, sizeof(why));
        if (res == OPEN_UNREADABLE) {
            errorf("cannot create state database '%s': %s", st->path, why);
            return -1;
        }
    }
    return res == OPEN_OK ? 0 : -1;
}

/*
 * React to an SQLite error during the run.  An unreadable database (a
 * corrupt page found only now) is replaced at once: what this run recorded
 * so far is lost, which only costs redoing those files next time.  Any
 * other error is reported; the batch it hit may be lost.
 */
void
db_error(struct state *st, const char *what, int rc)
{
    char why[512];

    if (!rc_unreadable(rc)) {
        warnf("cannot %s state database '%s': %s", what, st->path,
              sqlite3_errmsg(st->db));
        return;
    }
    snprintf(why, sizeof(why), "%s", sqlite3_errmsg(st->db));
    warnf("state database '%s' is unreadable (%s); starting afresh",
          st->path, why);
    db_close(st);
    if (move_aside(st) < 0 || db_open(st, why, sizeof(why)) != OPEN_OK) {
        warnf("state database '%s' is disabled for this run", st->path);
        db_close(st);
        st->broken = 1;
    }
}

/* ------------------------------------------------------------------------
 * Batches
 */

int
batch_begin(struct state *st)
{
    int rc;

    if (st->in_txn)
        return 0;
    rc = sqlite3_exec(st->db, "BEGIN", NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        db_error(st, "begin a transaction in", rc);
        return -1;
    }
    st->in_txn = 1;
    st->batch_rows = 0;
    st->batch_start_us = util_now_us();
    return 0;
}

int
batch_commit(struct state *st)
{
    int rc;

    if (!st->in_txn)
        return 0;
    st->in_txn = 0;
    rc = sqlite3_exec(st->db, "COMMIT", NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        db_error(st, "commit to", rc);
        if (st->db && !sqlite3_get_autocommit(st->db))
            sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
        return -1;
    }
    return 0;
}

/* Commit when the batch is full or a second old. */
int
batch_maybe_commit(struct state *st)
{
    if (st->batch_rows >= BATCH_ROWS ||
        util_now_us() - st->batch_start_us >= BATCH_USEC)
        return batch_commit(st);
    return 0;
}

/* ------------------------------------------------------------------------
 * Public API
 */

/* Free what state_open() built so far. */
static void
state_free(struct state *st)
{
    if (st->out_fd >= 0)
        close(st->out_fd);
    free(st->path);
    free(st->out_dir);
    free(st);
}

int
state_open(struct state **stp, const char *output_dir, int shard_k,
           int shard_n)
{
    struct state *st;
    char *dir;
    int dfd;
    size_t len = strlen(output_dir);

    *stp = NULL;
    st = xcalloc(1, sizeof(*st));
    while (len > 0 && output_dir[len - 1] == '/')
        len--;
    st->out_dir = xmalloc(len + 1);
    memcpy(st->out_dir, output_dir, len);
    st->out_dir[len] = '\0';
    st->out_len = len;
    /* out_dir is "" for "/". */
    st->out_fd = dirwalk_open(AT_FDCWD, len ? st->out_dir : "/",
                              len ? len : 1, DIRWALK_FOLLOW, 0);
    dir = names_state_dir(len ? st->out_dir : "/");
    st->path = names_state_db_path(len ? st->out_dir : "/", shard_k,
                                   shard_n);
    if (!dir || !st->path) {
        errorf("cannot open the state database: out of memory");
        goto fail;
    }
    if (st->out_fd < 0) {
        errorf("cannot open output directory '%s': %s", output_dir,
               strerror(errno));
        goto fail;
    }
    /* Created if missing, never followed: the database stays in the tree;
     * a link or a file in its place is refused with what to do. */
    dfd = state_dir_open(st->out_fd, dir);
    if (dfd < 0)
        goto fail;
    close(dfd);
    free(dir);
    dir = NULL;

    if (db_open_or_reset(st) < 0)
        goto fail;
    *stp = st;
    return 0;

fail:
    free(dir);
    state_free(st);
    return -1;
}

/* state_up_to_date() for one output, @rel (NULL: none). */
static int
output_up_to_date(struct state *st, const struct task *t, const char *rel,
                  const char *input_abs, uint64_t fingerprint)
{
    sqlite3_stmt *q = st->get;
    const void *rec_in;
    size_t in_len;
    struct stat sb;
    int rc, match;

    if (st->broken || !rel || !input_abs)
        return 0;
    in_len = strlen(input_abs);
    sqlite3_bind_text(q, 1, rel, -1, SQLITE_STATIC);
    rc = sqlite3_step(q);
    if (rc != SQLITE_ROW) {
        sqlite3_reset(q);
        if (rc != SQLITE_DONE)
            db_error(st, "read", rc);
        return 0;
    }
    /* blob before bytes, as SQLite recommends; TEXT is not converted. */
    rec_in = sqlite3_column_blob(q, 0);
    match = (size_t)sqlite3_column_bytes(q, 0) == in_len && rec_in &&
            memcmp(rec_in, input_abs, in_len) == 0 &&
            sqlite3_column_int64(q, 1) == t->size &&
            sqlite3_column_int64(q, 2) == t->mtime_ns &&
            (uint64_t)sqlite3_column_int64(q, 3) == t->dev &&
            (uint64_t)sqlite3_column_int64(q, 4) == t->ino &&
            (uint64_t)sqlite3_column_int64(q, 5) == fingerprint;
    if (match) {
        /* The output must still be the very file imgpool wrote. */
        match = fstatat(st->out_fd, rel, &sb, AT_SYMLINK_NOFOLLOW) == 0 &&
                S_ISREG(sb.st_mode) &&
                (int64_t)sb.st_size == sqlite3_column_int64(q, 6) &&
                stat_mtime_ns(&sb) == sqlite3_column_int64(q, 7);
    }
    sqlite3_reset(q);
    return match;
}

/* state_record() for one output, @rel (NULL: none). */
static int
record_output(struct state *st, const struct task *t, const char *rel,
              const char *input_abs, uint64_t fingerprint)
{
    sqlite3_stmt *q = st->put;
    /* The first output by its full path, as the report names it. */
    const char *shown = rel && rel != t->out_rel ? rel
                        : t->out_path ? t->out_path : rel;
    struct stat sb;
    int rc;

    if (st->broken)
        return -1;
    if (!rel || !input_abs) {
        warnf("cannot record '%s' in the state database: not below the "
              "output directory", t->out_path ? t->out_path : t->path);
        return -1;
    }
    if (fstatat(st->out_fd, rel, &sb, AT_SYMLINK_NOFOLLOW) < 0) {
        warnf("cannot record '%s' in the state database: %s", shown,
              strerror(errno));
        return -1;
    }
    if (!S_ISREG(sb.st_mode)) {
        warnf("cannot record '%s' in the state database: not a regular "
              "file", shown);
        return -1;
    }
    if (batch_begin(st) < 0)
        return -1;
    sqlite3_bind_text(q, 1, rel, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 2, input_abs, -1, SQLITE_STATIC);
    sqlite3_bind_int64(q, 3, t->size);
    sqlite3_bind_int64(q, 4, t->mtime_ns);
    sqlite3_bind_int64(q, 5, (int64_t)t->dev);
    sqlite3_bind_int64(q, 6, (int64_t)t->ino);
    sqlite3_bind_int64(q, 7, (int64_t)fingerprint);
    sqlite3_bind_int64(q, 8, (int64_t)sb.st_size);
    sqlite3_bind_int64(q, 9, stat_mtime_ns(&sb));
    rc = sqlite3_step(q);
    sqlite3_reset(q);
    sqlite3_clear_bindings(q);
    if (rc != SQLITE_DONE) {
        db_error(st, "write to", rc);
        return -1;
    }
    st->batch_rows++;
    return batch_maybe_commit(st);
}

int
state_up_to_date(struct state *st, const struct task *t,
                 const char *input_abs, uint64_t fingerprint)
{
    int k;

    /* Several sizes: up to date only when every output is. */
    for (k = 0; task_out_rel(t, k); k++)
        if (!output_up_to_date(st, t, task_rel(t, k), input_abs,
                               fingerprint))
            return 0;
    return k > 0;
}

int
state_record(struct state *st, const struct task *t, const char *input_abs,
             uint64_t fingerprint)
{
    int k, rc = 0;

    for (k = 0; task_out_rel(t, k); k++)
        if (record_output(st, t, task_rel(t, k), input_abs,
                          fingerprint) < 0)
            rc = -1;
    if (k == 0)
        return record_output(st, t, NULL, input_abs, fingerprint);
    return rc;
}

int
state_close(struct state *st)
{
    int ret = 0;

    if (!st)
        return 0;
    if (st->db && batch_commit(st) < 0)
        ret = -1;
    db_close(st);
    state_free(st);
    return ret;
}

long
state_recorded_names(struct state *st,
                     void (*cb)(void *data, const char *out_rel,
                                const char *input_abs),
                     void *data)
{
    sqlite3_stmt *q = NULL;
    long n = 0;
    int rc;

    if (st->broken || !st->db)
        return 0;
    rc = sqlite3_prepare_v2(st->db, "SELECT out_rel, input_abs FROM outputs",
                            -1, &q, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(q);
    for (; rc == SQLITE_ROW; rc = sqlite3_step(q)) {
        const char *out = (const char *)sqlite3_column_text(q, 0);
        const char *in = (const char *)sqlite3_column_text(q, 1);

        if (out && in) {
            cb(data, out, in);
            n++;
        }
    }
    sqlite3_finalize(q);
    if (rc != SQLITE_DONE) {
        warnf("cannot read the output names in state database '%s': %s",
              st->path, sqlite3_errmsg(st->db));
        return -1;
    }
    return n;
}
