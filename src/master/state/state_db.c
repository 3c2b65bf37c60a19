/*
 * state_db.c - the state database's file (state.c): opening it, checking
 * it is ours and of a version we read, moving an unreadable one aside and
 * starting afresh, the error path, and the batches rows are committed in.
 * The journal and locking choices are explained in state.c.
 *
 * state.c and state_prune.c call these through state_int.h; nothing here
 * calls back into them.
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
void
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

    return xstrndup(st->path, name > st->path ? (size_t)(name - st->path - 1)
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

/* The four statements of the handle (get, put, del, all); an SQLite
 * result code. */
static int
prepare_statements(struct state *st)
{
    int rc;

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
    return rc;
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
    rc = prepare_statements(st);
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
int
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
