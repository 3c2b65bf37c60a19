/*
 * lock.h - one run at a time per output tree.
 *
 *   struct run_lock lk;
 *   char holder[128];
 *   switch (lock_acquire(&lk, path, wait_s, holder, sizeof(holder))) {
 *   case LOCK_OK: break;
 *   case LOCK_BUSY: ...one line naming @holder, exit 75 (EX_TEMPFAIL)...
 *   case LOCK_ERROR: ...errorf() with strerror(errno), exit 2...
 *   }
 *   ...the run...
 *   lock_release(&lk);
 *
 * flock(2) on @path (default <output_dir>/.imgpool/lock; the caller picks
 * it), created if needed.  The lock dies with the process, so a killed run
 * never leaves a stale lock.  The file holds the holder's pid and start
 * time for the message an overlapping run prints.
 *
 * Planted files: in an output tree's state directory (a directory named
 * IMGPOOL_STATE_DIR, names.h) a symbolic link, a file of another type or a
 * hard-linked file in place of the lock is moved aside with warnf() (no run can hold a lock on
 * it) and a fresh lock file is made; ".imgpool" itself a link is refused.
 * Elsewhere (--lock FILE) a link is refused.  A lock file this user cannot
 * write is locked read-only (warnf()).
 *
 * Errors: LOCK_ERROR leaves the reason in errno for the caller's message;
 * for a planted file lock_acquire() has printed one errorf() line before,
 * naming it and saying what to do.  The outcome is an enum (three ways, not
 * ok/failed), named by lock_result_str().
 */
#ifndef IMGPOOL_LOCK_H
#define IMGPOOL_LOCK_H

#include <stddef.h>

struct run_lock {
    int fd;
};

enum lock_result {
    LOCK_OK = 0,
    LOCK_BUSY,      /* held by another run (after waiting @wait_s) */
    LOCK_ERROR,     /* cannot create or lock the file (errno set) */
};

/*
 * @wait_s: 0 fails at once when busy; > 0 retries every 100 ms until that
 * many seconds have passed (util_now_us()).  The directory holding @path
 * is created (one level, mode 0755, with dirwalk_open()) if missing; its
 * parent must exist (ENOENT); a state directory's last component is never
 * followed (ELOOP).  @path itself must not be a symbolic link (ELOOP) and
 * must be a regular file with no other hard link (EINVAL: the holder's
 * line would truncate the other name), unless it lies in a state directory:
 * then it is moved aside and replaced (see above).  On LOCK_OK,
 * lk->fd holds the lock; otherwise lk->fd is -1.  On LOCK_BUSY, @holder (if
 * not NULL) receives "pid N since TIME" (TIME in ISO 8601, local time with
 * offset), "pid N", or "an unknown process" when the file says nothing.
 * Workers forked later inherit the descriptor; that is harmless.
 */
enum lock_result lock_acquire(struct run_lock *lk, const char *path,
                              double wait_s, char *holder, size_t size);
/* "ok", "busy" or "error". */
const char *lock_result_str(enum lock_result r);

/* Unlock and close; the file stays (unlinking a flock file races).  Safe
 * to call twice, or after a failed lock_acquire(). */
void lock_release(struct run_lock *lk);

#endif
