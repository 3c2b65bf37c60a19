/*
 * outfile.h - the commit stage: atomic creation of one output file.
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
 * (ERR_OUTPUT_PATH).  The data goes to OUTFILE_TMP_PREFIX "<pid>-<n>" in
 * that directory (O_CREAT | O_EXCL | O_NOFOLLOW); commit fsyncs it (when
 * durable) and renames it over the final name, which replaces a file or a
 * symlink of that name but never writes through one.  Every function that
 * can fail returns 0 or -1 with @res failed (ERR_WRITE, ERR_NO_SPACE,
 * ERR_OUTPUT_PATH); after a failure no temporary file is left.
 *
 * In-place recompression commits differently (inplace.h): beside the
 * original (outfile_open_beside) after a backup (outfile_backup).
 */
#ifndef IMGPOOL_OUTFILE_H
#define IMGPOOL_OUTFILE_H

#include "names.h"
#include "task.h"

#define OUTFILE_TMP_PREFIX IMGPOOL_TMP_PREFIX

struct outfile {
    int dirfd;
    int fd;
    const char *name;   /* points into the out_rel given to open */
    char tmp[64];
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
 * sets the original's) goes beside @path itself
 * (its directory is opened as named: the input was reached by the scan, so
 * its directories are not symlinks unless --follow-symlinks said so), and
 * the commit also fsyncs the directory, so the rename survives a power cut.
 */
int outfile_open_beside(struct outfile *of, const char *path,
                        struct task_result *res);

/*
 * Keep a copy of the original open on @src_fd (path @src) as
 * @backup_dir/@rel (directories created below @backup_dir without
 * following symlinks): a hard link when both are on one file system, else
 * a copy through a temporary file, fsync'ed.  A backup is never replaced:
 * when the name already holds the same file (same inode or bytes) that is
 * the backup; when it holds another, "@rel.~1~", "@rel.~2~", ... are used.
 * 0, or -1 with @res failed.
 */
int outfile_backup(const char *backup_dir, const char *rel, const char *src,
                   int src_fd, struct task_result *res);
void outfile_abort(struct outfile *of);

/* Write all of @buf to of->fd.  0, or -1 with @res failed. */
int outfile_write(struct outfile *of, const void *buf, size_t len,
                  struct task_result *res);

#endif
