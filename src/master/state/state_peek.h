/*
 * state_peek.h - the rows behind a read-only state handle
 * (state_open_readonly(), state.h), for --dry-run (what is up to date,
 * which output names are recorded) and for the names the other shards of
 * a --shard job recorded, without creating, locking or changing anything.
 * Only state.c uses it; the rest of master uses the handle.
 *
 * Call sequence (state.c):
 *   struct state_peek *p = state_peek_open(output_dir, shard_k, shard_n);
 *   state_peek_names(p, cb, data);                  // recorded names
 *   state_peek_up_to_date(p, task, input_abs, fingerprint);
 *   state_peek_close(p);
 *
 * The database is opened in SQLite's immutable mode (no lock, no journal
 * or WAL file created, a WAL left by a crashed run is not read), read
 * whole into memory and closed at once, so a real run starting meanwhile
 * is never blocked.  A missing or unreadable database reads as empty: a
 * real run would start afresh, so nothing is up to date.  Every function
 * accepts a NULL @p (as empty).  Nothing fails: problems only make the
 * peek emptier (an empty peek predicts redoing, never a wrong skip).
 */
#ifndef IMGPOOL_STATE_PEEK_H
#define IMGPOOL_STATE_PEEK_H

#include <stddef.h>
#include <stdint.h>
#include "task.h"

struct state_peek;

/* The rows of @output_dir's database; NULL when there are none. */
struct state_peek *state_peek_open(const char *output_dir, int shard_k,
                                   int shard_n);

/* Calls @cb once per row, as state_recorded_names() does; returns the
 * number of rows. */
long state_peek_names(const struct state_peek *p,
                      void (*cb)(void *data, const char *out_rel,
                                 const char *input_abs),
                      void *data);

/* state_up_to_date() against the rows read, for @t's first output: the
 * same rule (input path, size, mtime, device, inode and fingerprint match,
 * and the output on disk is still the file recorded).  1 or 0. */
int state_peek_up_to_date(const struct state_peek *p, const struct task *t,
                          const char *abs, uint64_t fingerprint);

void state_peek_close(struct state_peek *p);

#endif
