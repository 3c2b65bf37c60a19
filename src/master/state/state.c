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
#include "state_peek.h"
#include "util.h"

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
    size_t len = dirwalk_prefix_len(output_dir);

    *stp = NULL;
    st = xcalloc(1, sizeof(*st));
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
state_open_readonly(struct state **stp, const char *output_dir, int shard_k,
                    int shard_n)
{
    struct state *st = xcalloc(1, sizeof(*st));

    st->out_fd = -1;
    st->readonly = 1;
    st->peek = state_peek_open(output_dir, shard_k, shard_n);
    *stp = st;
    return 0;
}

int
state_up_to_date(struct state *st, const struct task *t,
                 const char *input_abs, uint64_t fingerprint)
{
    int k;

    if (st->readonly)
        return state_peek_up_to_date(st->peek, t, input_abs, fingerprint);

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

    if (st->readonly)
        return 0;
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
    state_peek_close(st->peek);
    if (st->db && batch_commit(st) < 0)
        ret = -1;
    db_close(st);
    state_free(st);
    return ret;
}

int
state_has_names(struct state *st)
{
    sqlite3_stmt *q = NULL;
    int rc, has = 1;

    if (st->broken || !st->db)
        return 0;
    rc = sqlite3_prepare_v2(st->db, "SELECT 1 FROM outputs LIMIT 1", -1, &q,
                            NULL);
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(q);
        has = rc != SQLITE_DONE;    /* a row, or an error: assume rows */
    }
    sqlite3_finalize(q);
    return has;
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

    if (st->readonly)
        return state_peek_names(st->peek, cb, data);
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
