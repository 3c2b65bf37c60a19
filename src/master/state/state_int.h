/*
 * state_int.h - what state.c shares with state_prune.c: the state handle
 * and the helpers both use.  Not for other modules (state.h is the API).
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
};

int64_t stat_mtime_ns(const struct stat *sb);
int rel_is_safe(const char *rel, size_t len);
void db_error(struct state *st, const char *what, int rc);
int batch_begin(struct state *st);
int batch_commit(struct state *st);
int batch_maybe_commit(struct state *st);

#endif
