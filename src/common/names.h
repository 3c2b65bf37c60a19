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
 *
 * Temporaries (worker creates, master's sweep parses):
 *   char tmp[NAMES_TMP_SIZE];
 *   if (names_tmp(tmp, sizeof(tmp), getpid(), counter++) < 0) ...ERANGE...
 *   struct names_tmp t;
 *   switch (names_tmp_parse(entry_name, &t)) { ... }
 *
 * Errors: the functions that can fail return -1 (or NULL) with errno set;
 * nothing is printed.
 */
#ifndef IMGPOOL_NAMES_H
#define IMGPOOL_NAMES_H

#include <stddef.h>
#include <sys/types.h>

/*
 * A temporary output: IMGPOOL_TMP_PREFIX "<host>-<pid>-<n>" (names_tmp()),
 * in the directory of the file it will replace.  <host> is
 * names_host_id(): NAMES_HOST_LEN lowercase hex digits naming this boot of
 * this machine and this PID namespace, so that a pid in the name means
 * something only where <host> matches.  Releases before it wrote
 * IMGPOOL_TMP_PREFIX "<pid>-<n>" (NAMES_TMP_LEGACY), which names no host.
 */
#define IMGPOOL_TMP_PREFIX ".imgpool-tmp-"
#define NAMES_HOST_LEN 16
/* Room for any name names_tmp() makes, with its NUL. */
#define NAMES_TMP_SIZE 64

/*
 * The host id: a 64-bit FNV-1a hash, in hex, of
 *   - the kernel's boot id (/proc/sys/kernel/random/boot_id: new at every
 *     boot, different on every machine), or the host name when that cannot
 *     be read, and
 *   - the device and inode of this process's PID namespace
 *     (/proc/self/ns/pid), when it can be read: two containers on one
 *     machine count as two hosts, since a pid of one means nothing in the
 *     other.
 * Computed once per process (a fork keeps it: same boot, same namespace).
 * Cannot fail: the worst case hashes an empty host name.  Returns a static
 * string of NAMES_HOST_LEN characters.
 */
const char *names_host_id(void);

/*
 * Write the temporary name for (@pid, @n) into @buf: IMGPOOL_TMP_PREFIX
 * names_host_id() "-" pid "-" n.  Returns 0, or -1 with errno ERANGE when
 * @size is too small (NAMES_TMP_SIZE always suffices).
 */
int names_tmp(char *buf, size_t size, pid_t pid, unsigned n);

/* What a directory entry's name says about it as a temporary. */
enum names_tmp_kind {
    NAMES_TMP_NONE = 0,   /* not an imgpool temporary */
    NAMES_TMP_HOST,       /* "<host>-<pid>-<n>": host, pid and n are set */
    NAMES_TMP_LEGACY,     /* "<pid>-<n>" of older releases: host unknown
                             (empty), pid and n are set */
};

struct names_tmp {
    char host[NAMES_HOST_LEN + 1];
    long pid;
    unsigned long n;
};

/*
 * Parse @name (a bare name, no '/').  Anything that starts with
 * IMGPOOL_TMP_PREFIX but has another shape is NAMES_TMP_NONE: the sweep
 * never touches it.  @out may be NULL.  Cannot fail.
 */
enum names_tmp_kind names_tmp_parse(const char *name, struct names_tmp *out);

/* "none", "host" or "legacy". */
const char *names_tmp_kind_str(enum names_tmp_kind k);

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

/*
 * The marker of a backup folder: a small regular file of this name in the
 * directory --backup names, written by every in-place run with --backup.
 * Whatever later run meets it (in an input tree, above an INPUT, with or
 * without --backup) knows the files below are backups, never originals:
 * they are skipped (ERR_BACKUP), never recompressed or read as inputs.
 */
#define IMGPOOL_BACKUP_MARKER ".imgpool-backup"

/* Whether the directory open on @dirfd carries the marker (a regular file,
 * not a symbolic link).  Cannot fail: anything unreadable says no. */
int names_is_backup_dir(int dirfd);

/*
 * Put the marker into the directory open on @dirfd unless it is there:
 * created 0644 (less the umask) with openat(O_NOFOLLOW | O_EXCL), so a
 * link planted at the name is never followed.  0, or -1 with errno (an
 * existing marker is 0).
 */
int names_mark_backup_dir(int dirfd);

#endif
