/*
 * input.h - the open stage: one input file, opened safely and identified.
 *
 * Call sequence (in a worker, once per task):
 *   struct input in;
 *   if (input_open(s->max_pixels, t, &in, res) < 0)
 *       ...res is failed; nothing to close...
 *   ...decode from in.fd (pread, or a libvips source)...
 *   input_recheck(t, &in, res);  // in place, before replacing the file
 *   input_close(&in);
 *
 * input_open() reaches the file from its root, never by resolving t->path:
 * the root (t->path without t->rel; the directory of t->path when t->rel
 * is NULL) is opened as the user named it, each directory of t->rel with
 * openat(O_DIRECTORY | O_NOFOLLOW) from the one before (taskopen.h), and
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
 * declared size is over @max_pixels before any pixel is decoded, and
 * finds where a JPEG's real data ends (in.data_end).  The
 * detail of a failure is in @res (class and message); res->in_bytes is set
 * once the file is open.  in.head points into a buffer of the worker
 * process that the next input_open() reuses.
 */
#ifndef IMGPOOL_INPUT_H
#define IMGPOOL_INPUT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

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

int input_open(int64_t max_pixels, const struct task *t,
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

/*
 * Read errors are sticky.  Every read of the open input's bytes, by every
 * decoder and check (the libvips decoder through a source whose reads come
 * here too, decode_vips.c), goes through input_pread(): a read that fails
 * (EIO, ...) or meets the end of the data before the size fstat gave
 * (a short read) is remembered until the next input_open(), whatever the
 * reader then does (a decoder may take a failed read for the end of a
 * truncated file and carry on with grey).  input_read_check() turns a
 * remembered error into the file's result; the commit stages call it
 * after the last pixel is decoded and before anything is put in place
 * (an output renamed, an original replaced, a thumbnail cached), and
 * img_process() once more at the end, so a decode failure caused by a
 * read error is reported as one.
 */

/* pread(2) on @fd (retried on EINTR), noting a failure or a short read
 * when @fd is the open input's descriptor.  What pread returned. */
/* The open stage's bookkeeping of input_read.c: forget what the last
 * input met; watch the reads of @fd (of @size bytes); stop watching @fd
 * (what it met stays for input_read_check()). */
void input_read_reset(void);
void input_read_watch(int fd, int64_t size);
void input_read_unwatch(int fd);

ssize_t input_pread(int fd, void *buf, size_t n, int64_t off);

/* All @n bytes at @off through input_pread(): 0, or -1 with errno set
 * (EIO for data that ended early). */
int input_pread_full(int fd, void *buf, size_t n, int64_t off);

/*
 * One step of a walk over a JPEG's marker segments from *@off (2 after
 * SOI): 1 with the segment's @marker and @seglen (its length field, at
 * least 2; the next one starts at *@off + 2 + @seglen); 0 for a fill byte
 * (*@off moved past it); -1 at the image data (SOS), EOI, a marker without
 * a length, anything that is not a marker, or a read that failed.
 * Callers bound the number of steps.
 */
int input_jpeg_segment(int fd, off_t *off, int *marker, size_t *seglen);

/* 0 when no read of the open input failed; else -1 with @res failed
 * (ERR_READ, a message naming the offset and the error), whatever it
 * said before. */
int input_read_check(struct task_result *res);

/* 1 with @res failed (ERR_TOO_LARGE) when @w x @h is over @max_pixels
 * (--max-pixels; 0: no limit), else 0. */
int input_too_large(int64_t max_pixels, int w, int h,
                    struct task_result *res);

#endif
