/*
 * fdthumb.h - thumbnails into the freedesktop.org thumbnail cache, the
 * worker's side of `thumbnail --freedesktop` (flavours and the cache
 * location are common/thumbcache.h).
 *
 * For one input, named by its absolute path: the key is the file URI
 * (GLib's g_filename_to_uri(), as file managers compute it), the name the
 * MD5 of that URI in hex plus ".png", one file per flavour in
 * <cache>/<flavour>/.  Each thumbnail is an 8-bit PNG no larger than the
 * flavour's box (never enlarged) carrying the tEXt keys Thumb::URI,
 * Thumb::MTime (the input's mtime in whole seconds), Thumb::Size,
 * Thumb::Mimetype, Thumb::Image::Width, Thumb::Image::Height and
 * Software; written through a temporary file and renamed into place,
 * mode 0600 in folders of mode 0700.  A thumbnail whose Thumb::URI,
 * Thumb::MTime and Thumb::Size match the input is current and not
 * remade.  An input that cannot be thumbnailed leaves a failure marker in
 * <cache>/fail/imgpool-<version>/ (an empty PNG with the same keys).
 *
 * The cache is one of the three commits (commit.h, commit_fdthumb_ops):
 * its begin() makes the key, answers a dry run and skips an input whose
 * flavours are all current; the pipeline (img.c) decodes once with
 * libvips into memory, within the box of the largest stale flavour
 * (shrink-on-load, upright, sRGB); its encode() resizes those pixels to
 * each stale flavour and writes the PNG with the keys (libpng); its
 * commit() puts the file in place (outfile.h); its end() leaves the
 * failure marker when the pipeline failed.  res ends TASK_OK (thumbnails
 * written), TASK_SKIPPED with ERR_UP_TO_DATE (every flavour current) or
 * ERR_DRY_RUN, or TASK_FAILED with class and message.
 */
#ifndef IMGPOOL_FDTHUMB_H
#define IMGPOOL_FDTHUMB_H

#include <stdint.h>

#include "input.h"
#include "settings.h"
#include "task.h"

/* What names one input in the cache.  Owned: fdthumb_key_release(). */
struct fdthumb_key {
    char *uri;          /* file:///... */
    char md5[33];       /* hex MD5 of uri */
    int64_t mtime;      /* seconds */
    int64_t size;       /* bytes */
};

/* The key of the input at @path (made absolute against the current
 * directory when relative; not resolved: the name the user browses).
 * 0, or -1 with @res failed. */
int fdthumb_key_init(struct fdthumb_key *k, const char *path, int64_t mtime,
                     int64_t size, struct task_result *res);
void fdthumb_key_release(struct fdthumb_key *k);

/* 1 when the thumbnail at @name below the directory @dirfd exists and
 * carries @k's URI, MTime and Size; else 0. */
int fdthumb_is_current(int dirfd, const char *name,
                       const struct fdthumb_key *k);

/* The freedesktop cache commit, commit_fdthumb_ops, is declared in
 * commit.h. */

#endif
