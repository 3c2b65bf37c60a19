/*
 * outfile.h - atomic creation of one output file, under the commit stage
 * (commit.h).
 *
 * Call sequence (in a worker):
 *   struct outfile of;
 *   if (outfile_open(&of, s->output_dir, t->out_rel, s->fsync, res) < 0)
 *       ...res is failed...
 *   ...the encoder writes into of.fd (or outfile_write())...
 *   if (outfile_commit(&of, res) < 0) ...res is failed, nothing left behind...
 *   // or outfile_abort(&of) to give up: the temporary file is removed
 *
 * The output is named by its path RELATIVE to the output root ("a/b.jpg"),
 * never by a joined string: outfile_open() opens the root as the user named
 * it (so "out//", "./out/." and "out" are the same directory) and walks to
 * the output's directory with dirwalk_open() (common/dirwalk.h), one
 * component at a time with O_NOFOLLOW, creating what is missing, so a
 * symlink planted inside the output tree can never redirect a write
 * (ERR_OUTPUT_PATH).  The data goes to names_tmp() ("<host>-<pid>-<n>") in
 * that directory (O_CREAT | O_EXCL | O_NOFOLLOW); commit fsyncs it (when
 * durable) and renames it over the final name, which replaces a file or a
 * symlink of that name but never writes through one.  Every function that
 * can fail returns 0 or -1 with @res failed (ERR_WRITE, ERR_NO_SPACE,
 * ERR_OUTPUT_PATH); after a failure no temporary file is left.
 *
 * The commit point is the rename (in place: the exchange, or the rename
 * that replaces the original).  Everything before it that fails leaves
 * the old state whole and fails the file; once it has happened the new
 * file is in place, so what can still go wrong after it (the directory's
 * fsync, removing the swapped-out original) is a warning on a result that
 * stays ok and the function returns 0: a record never says "failed" for
 * a file that was replaced.
 *
 * These are the primitives the three commits of commit.h build on.
 * In-place recompression commits differently (inplace.h): after a backup
 * (outfile_backup), the temporary file is made in the directory the input
 * was opened from (outfile_open_at, the input's directory descriptor, so
 * no path is resolved again) and replaces the original only while the
 * name still holds the file that was read (outfile_commit_replace).
 */
#ifndef IMGPOOL_OUTFILE_H
#define IMGPOOL_OUTFILE_H

#include <sys/stat.h>

#include "names.h"
#include "task.h"

#define OUTFILE_TMP_PREFIX IMGPOOL_TMP_PREFIX

struct outfile {
    int dirfd;
    int fd;
    const char *name;   /* points into the out_rel given to open */
    char tmp[NAMES_TMP_SIZE];
    int sync_file;      /* fsync the data before the rename */
    int sync_dir;       /* fsync the directory after the rename */
};

/* @out_rel: below @output_dir; @durable: fsync the data before the rename
 * (see --fsync). */
int outfile_open(struct outfile *of, const char *output_dir,
                 const char *out_rel, int durable, struct task_result *res);
int outfile_commit(struct outfile *of, struct task_result *res);

/*
 * For in-place replacement: the temporary file (mode 0600 until the caller
 * sets the original's) is created in the directory open on @dirfd (the
 * input's own, struct input; duplicated, the caller keeps its descriptor),
 * to replace @name there (a pointer kept, not copied).  Commit with
 * outfile_commit_replace(), or outfile_abort().
 */
int outfile_open_at(struct outfile *of, int dirfd, const char *name,
                    struct task_result *res);

/*
 * Replace of->name with the new file, only while the name still refers to
 * the original @orig (fstat of the input taken when it was opened):
 * device, inode, size and mtime (ns) are compared right before the
 * commit.  Where the file system supports it, renameat2(RENAME_EXCHANGE)
 * swaps the two names atomically and what was swapped out is checked
 * again: the original is then removed, anything else (a save that landed
 * in between) is swapped back, so a newer save is never lost.  Elsewhere
 * the check is followed by renameat(), which leaves a window of
 * microseconds.  The data and the directory are fsync'ed.  0 once the
 * new file holds the name (a directory fsync or the removal of the
 * swapped-out original that fails after that is a warning in @res); or -1
 * with @res skipped (ERR_INPUT_CHANGED: the new save is left in place and
 * the temporary file removed) or failed (ERR_WRITE, ERR_NO_SPACE), the
 * original in place.
 */
int outfile_commit_replace(struct outfile *of, const struct stat *orig,
                           struct task_result *res);

/*
 * Keep a copy of the original open on @src_fd (named @src_name in the
 * directory open on @src_dirfd) as
 * @backup_dir/@rel (directories created below @backup_dir without
 * following symlinks): a hard link when both are on one file system, else
 * a copy, fsync'ed, made in an O_TMPFILE file that gets its name only
 * once complete (through a temporary name where the file system or /proc
 * cannot do that), so a failed or killed copy leaves nothing behind.  A backup is never replaced:
 * when the name already holds the same file (same inode or bytes) that is
 * the backup; when it holds another, "@rel.~1~", "@rel.~2~", ... are used.
 * 0, or -1 with @res failed.
 */
int outfile_backup(const char *backup_dir, const char *rel, int src_dirfd,
                   const char *src_name, int src_fd, struct task_result *res);
void outfile_abort(struct outfile *of);

/* Write all of @buf to of->fd.  0, or -1 with @res failed. */
int outfile_write(struct outfile *of, const void *buf, size_t len,
                  struct task_result *res);

#endif
