/*
 * state_int.h - what state.c and state_prune.c share with state_db.c (the
 * database file, its checks and batches): the state handle and the
 * helpers.  Not for other modules (state.h is the API).
 * Helpers follow state.c's conventions: db_error() reports and, for an
 * unreadable database, moves it aside; batch_*() return 0 or -1 after a
 * warning.
 */
#ifndef IMGPOOL_STATE_INT_H
#define IMGPOOL_STATE_INT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include <sqlite3.h>

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
    /* A read-only handle (state_open_readonly()): the rows read whole,
     * no database open; NULL rows when there were none. */
    int readonly;
    struct state_peek *peek;
};

/* Open st->path (made by the caller) and check it; an unreadable or
 * foreign database is moved aside with a warning and a new one made.
 * 0, or -1 after errorf(). */
int db_open_or_reset(struct state *st);

/* Close the database without committing (an open batch is rolled back). */
void db_close(struct state *st);

int64_t stat_mtime_ns(const struct stat *sb);
int rel_is_safe(const char *rel, size_t len);
void db_error(struct state *st, const char *what, int rc);
int batch_begin(struct state *st);
int batch_commit(struct state *st);
int batch_maybe_commit(struct state *st);

#endif
