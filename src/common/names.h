/*
 * names.h - the names imgpool gives to the files it keeps beside the user's.
 *
 * One place for every name a run creates that is not an output: the master
 * sweeps temporaries by this prefix, the worker creates them, the state and
 * lock modules build their files under IMGPOOL_STATE_DIR through the
 * functions below.  Changing one of these changes what older runs left
 * behind is recognised as: don't.
 *
 * Call sequence (master):
 *   char *lock = names_lock_path(output_dir, shard_k, shard_n);
 *   char *db = names_state_db_path(output_dir, shard_k, shard_n);
 *   ...
 *   free(db); free(lock);
 */
#ifndef IMGPOOL_NAMES_H
#define IMGPOOL_NAMES_H

/* A temporary output: IMGPOOL_TMP_PREFIX "<pid>-<n>", in the directory of
 * the file it will replace. */
#define IMGPOOL_TMP_PREFIX ".imgpool-tmp-"

/* Below the output directory: the state database and the lock. */
#define IMGPOOL_STATE_DIR ".imgpool"

/*
 * The run lock of an output tree: "<output_dir>/.imgpool/lock", or
 * "lock-K-of-N" for --shard K/N (any N, so the shards of one job each hold
 * their own lock and run side by side).  Returns a string the caller
 * frees, or NULL with errno ENOMEM.
 */
char *names_lock_path(const char *output_dir, int shard_k, int shard_n);

/*
 * The state database: "<output_dir>/.imgpool/state.sqlite", or
 * "state-K-of-N.sqlite" for --shard K/N with N > 1 (one shard is the whole
 * job: it shares the database of an unsharded run).  Returns a string the
 * caller frees, or NULL with errno ENOMEM.
 */
char *names_state_db_path(const char *output_dir, int shard_k, int shard_n);

/* The state directory itself, "<output_dir>/.imgpool"; as above. */
char *names_state_dir(const char *output_dir);

#endif
