/*
 * state_dir.h - the state directory (<output>/.imgpool) and the files of
 * one state database in it, checked before SQLite opens them.
 *
 * Call sequence (state.c, whenever it opens a database):
 *   int dfd = state_dir_open(out_fd, "out/.imgpool");        // or -1
 *   if (state_dir_check_files(dfd, "out/.imgpool", "state.sqlite") < 0) ...
 *   char *p = state_dir_sqlite_path(out_fd, "out", "state.sqlite");
 *   sqlite3_open_v2(p, ..., SQLITE_OPEN_NOFOLLOW, ...);
 *   ...
 *   state_dir_move_aside(dfd, "out/.imgpool", "state.sqlite", "corrupt");
 *   close(dfd); free(p);
 *
 * Nothing here follows a symbolic link below the output directory: the
 * state directory is opened with O_NOFOLLOW | O_DIRECTORY from the output
 * directory's descriptor, files are examined with fstatat(
 * AT_SYMLINK_NOFOLLOW) and moved with renameat() in its descriptor (which
 * moves a link itself), and the path given to SQLite has no symbolic link
 * in it at all, so that SQLITE_OPEN_NOFOLLOW (which refuses a path with
 * any link in it) holds and SQLite's own O_NOFOLLOW covers the last
 * component of the database and its journals, should a link be planted
 * after the check.
 *
 * Errors: master convention: -1 or NULL after errorf(), whose message names
 * the file and says what to do; warnf() for what was moved aside.
 */
#ifndef IMGPOOL_STATE_DIR_H
#define IMGPOOL_STATE_DIR_H

/*
 * Open the state directory below @out_fd, creating it (mode 0755) when
 * missing.  @shown is its path as the user would type it, for messages.
 * Refused (errorf(), -1) when it is a symbolic link, not a directory,
 * owned by another user than root while this process runs as root (that
 * user could swap its files under a root run), or cannot be created or
 * opened.  Returns a new descriptor the caller
 * closes.
 */
int state_dir_open(int out_fd, const char *shown);

/*
 * Check the database @name in @dfd and its journals @name-wal,
 * @name-journal and @name-shm: each that exists must be a regular file
 * this process can open for writing, with no other hard link (another
 * name of it could lie outside the tree).  One that is a symbolic link, of
 * another type, hard-linked or not writable is moved aside (state_dir_move_aside(),
 * tag "unusable") with a warning; the caller then starts that database
 * afresh, as with a corrupt one.  Returns 0, or -1 after errorf() when a
 * file cannot be moved aside either (an immutable file, a read-only file
 * system): the message names the file and what to do.
 */
int state_dir_check_files(int dfd, const char *shown, const char *name);

/*
 * Move @name (and @name-wal, @name-journal, whichever exist) in @dfd
 * aside as "@name.@tag-<UTC time>[-N]" (journals keep their suffix after
 * that), never following a link; @name-shm is removed.  @name missing is
 * not an error.  Returns 0, or -1 after errorf() naming the file.
 */
int state_dir_move_aside(int dfd, const char *shown, const char *name,
                         const char *tag);

/*
 * Move the one file @file in @dfd aside as "@file.unusable-<UTC time>"
 * (renameat(): a link moves itself), with a warning that says @why ("a
 * symbolic link", ...).  Also for the run lock when it is planted in the
 * state directory.  Returns 0, or -1 after errorf() naming the file and
 * what to do.
 */
int state_dir_move_unusable(int dfd, const char *shown, const char *file,
                            const char *why);

/* Remove @name's journals (-wal, -journal, -shm) from @dfd, so that a
 * stale WAL is never replayed into a new database of that name.  Cannot
 * fail (what is not there is fine). */
void state_dir_remove_journals(int dfd, const char *name);

/*
 * The path to give SQLite for @name in the state directory of the output
 * directory open on @out_fd, named @out_dir by the user: its real path
 * (no symbolic link in it, checked to be the directory on @out_fd) plus
 * "/.imgpool/" @name.  Returns a string the caller frees, or NULL after
 * errorf().
 */
char *state_dir_sqlite_path(int out_fd, const char *out_dir, const char *name);

#endif
