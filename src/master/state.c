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
#include "util.h"

/* Schema version in PRAGMA user_version; a newer one is never read. */
#define STATE_SCHEMA_VERSION 1
/* PRAGMA application_id: "imgp", so a foreign database is not mistaken
 * for ours and written into. */
#define STATE_APP_ID 0x696d6770
#define BATCH_ROWS 1000
#define BATCH_USEC 1000000
#define BUSY_TIMEOUT_MS 5000

struct state {
    sqlite3 *db;
    char *out_dir;        /* output directory without trailing '/'s */
    size_t out_len;
    int out_fd;           /* the output directory, opened once */
    char *path;           /* the database file */
    sqlite3_stmt *get;    /* one row by out_rel */
    sqlite3_stmt *put;    /* insert or replace one row */
    sqlite3_stmt *del;    /* delete one row by out_rel */
    sqlite3_stmt *all;    /* every row, for --prune */
    int in_txn;
    int batch_rows;
    int64_t batch_start_us;
    int broken;           /* unusable and not repairable: act as empty */
};

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

static int64_t
stat_mtime_ns(const struct stat *sb)
{
    return (int64_t)sb->st_mtim.tv_sec * 1000000000 + sb->st_mtim.tv_nsec;
}

static char *
str_concat(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    char *s = xmalloc(la + lb + 1);

    memcpy(s, a, la);
    memcpy(s + la, b, lb + 1);
    return s;
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
static int
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

/* Remove the journal files of a database that no longer exists, so that a
 * stale WAL is never replayed into a new database of the same name. */
static void
remove_sidecars(const char *path)
{
    static const char *const suffix[] = { "-wal", "-journal", "-shm" };
    char *p;

    for (size_t i = 0; i < sizeof(suffix) / sizeof(suffix[0]); i++) {
        p = str_concat(path, suffix[i]);
        unlink(p);
        free(p);
    }
}

/*
 * Move the database and its journals aside as <path>.corrupt-<UTC time>
 * (plus "-N" if that exists), keeping them for inspection.  0 or -1 after
 * errorf().
 */
static int
move_aside(const struct state *st)
{
    static const char *const suffix[] = { "-wal", "-journal" };
    char stamp[32], *aside, *from, *to;
    struct stat sb;
    struct tm tm;
    time_t now = time(NULL);
    size_t len;

    gmtime_r(&now, &tm);
    strftime(stamp, sizeof(stamp), ".corrupt-%Y%m%dT%H%M%SZ", &tm);
    len = strlen(st->path) + strlen(stamp) + 16;
    aside = xmalloc(len);
    snprintf(aside, len, "%s%s", st->path, stamp);
    for (int i = 1; lstat(aside, &sb) == 0; i++)
        snprintf(aside, len, "%s%s-%d", st->path, stamp, i);

    if (rename(st->path, aside) < 0 && errno != ENOENT) {
        errorf("cannot move unreadable state database '%s' aside: %s",
               st->path, strerror(errno));
        free(aside);
        return -1;
    }
    for (size_t i = 0; i < sizeof(suffix) / sizeof(suffix[0]); i++) {
        from = str_concat(st->path, suffix[i]);
        to = str_concat(aside, suffix[i]);
        if (rename(from, to) < 0)
            unlink(from);
        free(from);
        free(to);
    }
    remove_sidecars(st->path);
    free(aside);
    return 0;
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
 * Open st->path, create or check the schema, prepare the statements.
 * On OPEN_UNREADABLE, @why says what is wrong and the handle is closed.
 */
static enum open_result
db_open(struct state *st, char *why, size_t size)
{
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
                SQLITE_OPEN_NOFOLLOW;
    int rc, app_id = 0, version = 0, ntables = 0;
    enum open_result res;
    struct stat sb;

    if (lstat(st->path, &sb) < 0) {
        if (errno != ENOENT) {
            errorf("cannot read state database '%s': %s", st->path,
                   strerror(errno));
            return OPEN_FATAL;
        }
        remove_sidecars(st->path);
    } else if (!S_ISREG(sb.st_mode)) {
        snprintf(why, size, "not a regular file");
        return OPEN_UNREADABLE;
    }

    rc = sqlite3_open_v2(st->path, &st->db, flags, NULL);
    if (rc != SQLITE_OK) {
        res = open_failed(st, rc, "open", why, size);
        goto fail;
    }
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
static void
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

static int
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

static int
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
static int
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
    /* Created if missing, never followed: the database stays in the tree. */
    dfd = dirwalk_open(st->out_fd, IMGPOOL_STATE_DIR,
                       sizeof(IMGPOOL_STATE_DIR) - 1, DIRWALK_CREATE, 0755);
    if (dfd < 0 && (errno == ELOOP || errno == ENOTDIR)) {
        errorf("state directory '%s' is not a directory", dir);
        goto fail;
    }
    if (dfd < 0) {
        errorf("cannot create '%s': %s", dir, strerror(errno));
        goto fail;
    }
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

/* A recorded output whose input is gone. */
struct gone {
    char *rel;
    size_t rel_len;
    int64_t size, mtime_ns;
};

/*
 * Remove @g's output if it is still the regular file imgpool wrote, walking
 * down from the output directory without following symbolic links.  1 when
 * removed (*path set, caller frees), 0 when left alone.
 */
static int
remove_output(const struct state *st, const struct gone *g, char **path)
{
    const char *slash = strrchr(g->rel, '/');
    const char *base = slash ? slash + 1 : g->rel;
    struct stat sb;
    int fd, removed = 0;

    *path = NULL;
    fd = dirwalk_open(st->out_fd, g->rel, (size_t)(base - g->rel), 0, 0);
    if (fd < 0)
        return 0;               /* gone, or a symlink: not ours to touch */
    if (fstatat(fd, base, &sb, AT_SYMLINK_NOFOLLOW) == 0 &&
        S_ISREG(sb.st_mode) && (int64_t)sb.st_size == g->size &&
        stat_mtime_ns(&sb) == g->mtime_ns) {
        *path = xmalloc(st->out_len + 1 + g->rel_len + 1);
        memcpy(*path, st->out_dir, st->out_len);
        (*path)[st->out_len] = '/';
        memcpy(*path + st->out_len + 1, g->rel, g->rel_len + 1);
        if (unlinkat(fd, base, 0) == 0) {
            removed = 1;
        } else if (errno != ENOENT) {
            warnf("cannot remove '%s': %s", *path, strerror(errno));
        }
        if (!removed) {
            free(*path);
            *path = NULL;
        }
    }
    close(fd);
    return removed;
}

/* True when @input lies below (or is) one of the @n prefixes. */
static int
in_scope(const char *input, const char *const *scope, size_t n)
{
    size_t i, len;

    for (i = 0; i < n; i++) {
        len = strlen(scope[i]);
        if (strncmp(input, scope[i], len) == 0 &&
            (input[len] == '\0' || input[len] == '/' ||
             (len > 0 && scope[i][len - 1] == '/')))
            return 1;
    }
    return 0;
}

int
state_prune(struct state *st, const char *const *scope, size_t nscope,
            void (*cb)(void *data, const char *out), void *data)
{
    struct gone *gone = NULL;
    size_t ngone = 0, alloc = 0, i;
    sqlite3_stmt *q = st->all;
    const void *rec_rel;
    const char *input;
    struct stat sb;
    char *removed_path;
    int rc, removed = 0, ret = -1;

    if (st->broken)
        return -1;

    /* Collect first, delete after: no row changes under a running query.
     * Only the rows to remove are kept in memory. */
    for (rc = sqlite3_step(q); rc == SQLITE_ROW; rc = sqlite3_step(q)) {
        input = (const char *)sqlite3_column_text(q, 1);
        if (!input || !in_scope(input, scope, nscope) ||
            lstat(input, &sb) == 0 || (errno != ENOENT && errno != ENOTDIR))
            continue;
        if (ngone == alloc) {
            alloc = alloc ? 2 * alloc : 64;
            gone = xrealloc(gone, alloc * sizeof(*gone));
        }
        rec_rel = sqlite3_column_blob(q, 0);
        gone[ngone].rel_len = (size_t)sqlite3_column_bytes(q, 0);
        gone[ngone].rel = xmalloc(gone[ngone].rel_len + 1);
        if (gone[ngone].rel_len > 0)
            memcpy(gone[ngone].rel, rec_rel, gone[ngone].rel_len);
        gone[ngone].rel[gone[ngone].rel_len] = '\0';
        gone[ngone].size = sqlite3_column_int64(q, 2);
        gone[ngone].mtime_ns = sqlite3_column_int64(q, 3);
        ngone++;
    }
    sqlite3_reset(q);
    if (rc != SQLITE_DONE) {
        db_error(st, "read", rc);
        goto out;
    }

    for (i = 0; i < ngone; i++) {
        if (!rel_is_safe(gone[i].rel, gone[i].rel_len)) {
            warnf("state database '%s' names the output '%s' outside the "
                  "output directory; not removing it", st->path,
                  gone[i].rel);
        } else if (remove_output(st, &gone[i], &removed_path)) {
            removed++;
            if (cb)
                cb(data, removed_path);
            free(removed_path);
        }
        if (batch_begin(st) < 0)
            goto out;
        sqlite3_bind_text(st->del, 1, gone[i].rel, (int)gone[i].rel_len,
                          SQLITE_STATIC);
        rc = sqlite3_step(st->del);
        sqlite3_reset(st->del);
        if (rc != SQLITE_DONE) {
            db_error(st, "write to", rc);
            goto out;
        }
        st->batch_rows++;
        if (batch_maybe_commit(st) < 0)
            goto out;
    }
    if (batch_commit(st) < 0)
        goto out;
    ret = removed;

out:
    for (i = 0; i < ngone; i++)
        free(gone[i].rel);
    free(gone);
    return ret;
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
