/*
 * state.h - what produced each output, kept in an SQLite database inside
 * the output tree, so a re-run can skip work that is already done and
 * --prune can remove outputs whose input is gone.
 *
 * Call sequence (master only; never in a worker):
 *   struct state *st;
 *   struct state_roots roots;
 *   uint64_t fp = state_fingerprint(cfg->out, cfg->nsizes);
 *   if (state_open(&st, output_dir, shard_k, shard_n) < 0) ...setup error...
 *   state_roots_init(&roots, inputs, ninputs);
 *   state_skip_up_to_date(st, &roots, tasks, n, fp);  // marks skips
 *   for each ok result:  state_record_task(st, &roots, &task, fp)
 *   state_prune_roots(st, &roots, cb, data)   // optional, --prune
 *   state_close(st);                          // commits
 *   state_roots_release(&roots);
 * (state_up_to_date / state_record / state_prune are the same steps with
 * the absolute input path given by the caller.)
 *
 * A dry run, and a shard reading what the other shards recorded, use the
 * same handle read-only: state_open_readonly() in place of state_open().
 *
 * state.c keeps the database; state_id.c computes the identities it
 * compares (input paths, settings fingerprint).
 *
 * One row per output, keyed by the output path relative to the output
 * directory, holding: the input's absolute path, size, mtime in ns, device
 * and inode; the settings fingerprint; the output's size and mtime as
 * written.  A task is up to date only when every one of those still
 * matches (input unchanged, same settings, output still the file imgpool
 * wrote); anything else - a missing row, a missing or replaced output, a
 * changed input - means redo.  A database that cannot be read (truncated,
 * garbage, from a newer schema, not imgpool's) is moved aside as
 * state.sqlite.corrupt-<UTC time> and started afresh; a deleted one is
 * simply recreated.  Either costs one full re-run, never a wrong skip.
 *
 * Writes are batched in transactions (1000 rows or one second, whichever
 * comes first) so that 100,000 records cost well under a second; a crash
 * loses at most the uncommitted batch, which only means those files are
 * redone.
 *
 * File: <output_dir>/.imgpool/state.sqlite, or state-K-of-N.sqlite for
 * --shard K/N with N > 1 (names_state_db_path() in names.h), so concurrent
 * shards never contend for one database.  The database is held in SQLite's
 * exclusive locking mode for the whole run: a second process opening the
 * same file waits up to five seconds, then state_open() fails (it never
 * treats "busy" as corrupt).
 *
 * Workers inherit the open database across fork() and must never touch it;
 * they leave with _exit(), so nothing of it is closed or flushed twice.
 */
#ifndef IMGPOOL_STATE_H
#define IMGPOOL_STATE_H

#include <stddef.h>
#include <stdint.h>
#include "task.h"

struct state;
struct settings;

/*
 * The absolute identity of each INPUT root, resolved once per run: the
 * realpath of each root (NULL when it has none) and whether it is a
 * directory, and the working directory for inputs without a root.
 * Owned by the caller (state_roots_release()).
 */
struct state_roots {
    char **abs;
    char *is_dir;
    size_t n;
    char *cwd;
};

/*
 * Open or create the state database of @output_dir (which must exist; its
 * ".imgpool" directory is created, mode 0755).  @shard_n 0 or 1 means no
 * sharding, else @shard_k is 0 .. @shard_n - 1.  Returns 0 and sets *st,
 * or -1 after errorf() (output dir unwritable, database in use by another
 * process, ".imgpool" a symbolic link or not a directory, a planted or
 * unwritable state file that cannot be moved aside: the message names it
 * and says what to do).  An unreadable database is not an error: it is
 * reported with warnf() and replaced; so is a symbolic link, a file of
 * another type or an unwritable file in place of the database or its
 * journals (moved aside, state_dir.h).  Nothing in the state directory is
 * ever followed.
 */
int state_open(struct state **st, const char *output_dir, int shard_k,
               int shard_n);

/*
 * The same handle in read-only mode, for --dry-run and for the names
 * other shards recorded: the database is read whole at once in SQLite's
 * immutable mode (no lock, no journal, nothing created or changed; a WAL
 * left by a crashed run is not read) and closed, so a real run starting
 * meanwhile is never blocked.  A missing or unreadable database reads as
 * empty.  state_up_to_date() and state_recorded_names() answer from the
 * rows read (up to date: the first output's row); state_record() and
 * state_prune() do nothing and return 0; state_close() frees.  Always 0.
 */
int state_open_readonly(struct state **st, const char *output_dir,
                        int shard_k, int shard_n);

/*
 * @input_abs is the absolute input path stored for @t: the realpath of its
 * INPUT root joined with t->rel (for a file named directly, its own
 * realpath), as state_input_abs() computes it.  The output is
 * @t->out_rel, below the output directory given to state_open(); a task
 * without one, or whose out_rel is absolute or has an empty, "." or ".."
 * component, is never up to date and never recorded.
 *
 * Returns 1 when the output of @t is recorded with the same input path,
 * size, mtime, device, inode and @fingerprint, and is still on disk as
 * written (lstat: a regular file of the recorded size and mtime).  Returns
 * 0 otherwise, including on any database error (redoing is always safe).
 */
int state_up_to_date(struct state *st, const struct task *t,
                     const char *input_abs, uint64_t fingerprint);

/*
 * Record a finished output (its result was TASK_OK): the input identity
 * from @t (the scan's stat, taken before the file was processed, so an
 * input changed meanwhile is redone next time), @fingerprint, and the
 * output's size and mtime from an lstat of t->out_rel now.  Returns 0, or
 * -1 after warnf() when the output is not a regular file any more or the
 * database write failed; either only means the file is redone next run.
 */
int state_record(struct state *st, const struct task *t,
                 const char *input_abs, uint64_t fingerprint);

/*
 * --prune: among the rows whose input path lies below one of the @nscope
 * absolute paths in @scope (this run's INPUT roots: another run's inputs
 * into the same tree are not this run's business), remove every recorded
 * output whose input no longer exists
 * (lstat fails with ENOENT or ENOTDIR), but only if the output on disk is
 * still the file imgpool wrote (a regular file, same size and mtime, found
 * without following any symbolic link below the output directory); drop
 * the row either way.  A row whose output path is absolute or has a ".."
 * component (a tampered database) never removes anything.  Calls @cb (if
 * not NULL) with the output's path for each output removed.  Returns the
 * number removed, or -1 after warnf().
 *
 * Caution: an input tree that is missing because its file system is not
 * mounted looks exactly like a deleted one.
 */
int state_prune(struct state *st, const char *const *scope, size_t nscope,
                void (*cb)(void *data, const char *out), void *data);

/* Resolve @n INPUT roots into @r (realpath and stat once each).  Cannot
 * fail: a root that cannot be resolved gets NULL. */
void state_roots_init(struct state_roots *r, const char *const *inputs,
                      size_t n);
void state_roots_release(struct state_roots *r);

/* The absolute input path of @t for the database, written into @buf (or
 * the root's own realpath); NULL when it is unknown or does not fit. */
const char *state_input_abs(const struct state_roots *r, const struct task *t,
                            char *buf, size_t size);

/* Incremental runs: mark every task still to be processed whose output is
 * up to date (state_up_to_date()) as skipped, ERR_UP_TO_DATE.  Returns how
 * many were marked. */
size_t state_skip_up_to_date(struct state *st, const struct state_roots *r,
                             struct task *tasks, size_t n,
                             uint64_t fingerprint);

/* state_record() with the input path from @r.  0, or -1 after warnf(). */
int state_record_task(struct state *st, const struct state_roots *r,
                      const struct task *t, uint64_t fingerprint);

/* state_prune() scoped to the roots in @r that resolved (none: returns 0
 * without looking). */
int state_prune_roots(struct state *st, const struct state_roots *r,
                      void (*cb)(void *data, const char *out), void *data);

/*
 * Every recorded output name with the input that made it: calls @cb once
 * per row with the output's path below the output directory and the
 * input's absolute path (both valid during the call only).  The planner
 * uses them so that an output name stays with its input (plan.h).
 * Returns the number of rows, or -1 after warnf() (treat as none).
 */
long state_recorded_names(struct state *st,
                          void (*cb)(void *data, const char *out_rel,
                                     const char *input_abs),
                          void *data);

/* 0 when the database records no output at all (a new output tree),
 * 1 otherwise (also when it cannot tell). */
int state_has_names(struct state *st);

/* Commit and close; @st may be NULL.  0, or -1 if the final commit failed
 * (after warnf()). */
int state_close(struct state *st);

/*
 * Fingerprint of the pixel settings of a run's @nsizes outputs @out (what
 * shapes the output bytes; never the commit settings), and of the
 * pipeline's version (STATE_PIPELINE_VERSION in state_id.c: bump it
 * whenever a code change alters output bytes, to invalidate every recorded
 * output).
 */
uint64_t state_fingerprint(const struct settings *out, int nsizes);

/* The rest of this folder's interface: the run lock. */
#include "lock.h"

#endif
