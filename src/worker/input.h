/*
 * input.h - the open stage: one input file, opened safely and identified.
 *
 * Call sequence (in a worker, once per task):
 *   struct input in;
 *   if (input_open(s, t, &in, res) < 0) ...res is failed; nothing to close...
 *   ...decode from in.fd (pread, or a libvips source)...
 *   input_recheck(t, &in, res);  // in place, before replacing the file
 *   input_close(&in);
 *
 * input_open() reaches the file from its root, never by resolving t->path:
 * the root (t->path without t->rel; the directory of t->path when t->rel
 * is NULL) is opened as the user named it, each directory of t->rel with
 * openat(O_DIRECTORY | O_NOFOLLOW) from the one before (dirwalk.h), and
 * the file with openat(O_NOFOLLOW | O_NONBLOCK) in the last one.  A
 * symlink on the way (a directory swapped for one since the scan) is
 * refused: skipped, ERR_SYMLINK; it is followed only where t->open_follow
 * allows (--follow-symlinks: the scan already walked the links, loop-safe;
 * a path named by the user).  Regular files only: a FIFO or device is
 * never read.  The parent directory stays open (in.dirfd, with the file's
 * name in.name) so that in-place replacement works in the very directory
 * the file was read from (inplace.h).  input_open() then reads the
 * first INPUT_HEAD_BYTES, sniffs the format from them (the bytes decide,
 * not the name), parses a JPEG's header (walking to a frame header past
 * the head: jpeghead.h), and refuses an image whose
 * declared size is over s->max_pixels before any pixel is decoded, and
 * finds where a JPEG's real data ends (in.data_end).  The
 * detail of a failure is in @res (class and message); res->in_bytes is set
 * once the file is open.  in.head points into a buffer of the worker
 * process that the next input_open() reuses.
 */
#ifndef IMGPOOL_INPUT_H
#define IMGPOOL_INPUT_H

#include <stddef.h>
#include <stdint.h>

#include "settings.h"
#include "sniff.h"
#include "task.h"

/* Bytes read up front: enough for the markers before a JPEG's SOF in
 * nearly all files (EXIF with a thumbnail, an ICC profile). */
#define INPUT_HEAD_BYTES (256 * 1024)

struct input {
    int fd;                     /* read-only; -1 when closed */
    int dirfd;                  /* the directory it was opened in; -1 */
    const char *name;           /* its name there (points into t->path) */
    int64_t size;               /* bytes, from fstat */
    int64_t data_end;           /* a JPEG's real data ends here, before a
                                   zero tail or a final hole (tail.h);
                                   size for other formats */
    const unsigned char *head;  /* the first head_len bytes, or NULL */
    size_t head_len;
    enum img_format fmt;
    int have_ji;                /* ji holds a parsed JPEG header */
    struct jpeg_info ji;
};

int input_open(const struct settings *s, const struct task *t,
               struct input *in, struct task_result *res);
void input_close(struct input *in);

/*
 * Walk from the root to the file's directory again (as input_open() did)
 * and check that it still leads to in->dirfd: a directory on the way
 * moved or replaced since the open is noticed before anything is
 * written.  0; or -1 with @res skipped (ERR_INPUT_CHANGED, or ERR_SYMLINK
 * for a symbolic link now on the way).
 */
int input_recheck(const struct task *t, const struct input *in,
                  struct task_result *res);

/* 1 with @res failed (ERR_TOO_LARGE) when @w x @h is over s->max_pixels,
 * else 0. */
int input_too_large(const struct settings *s, int w, int h,
                    struct task_result *res);

#endif
