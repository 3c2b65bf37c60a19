/*
 * img.h - the per-worker image pipeline (the only module that uses libvips).
 *
 * Call sequence, inside a worker process only:
 *   img_worker_init(&settings);        // VIPS_INIT, concurrency, cache off
 *   img_process(&settings, task, res); // once per file
 *   img_worker_fini();
 *
 * img_process() opens the input itself (O_NOFOLLOW, regular files only),
 * sniffs it, checks the declared size against max_pixels, decodes from the
 * descriptor (never by file name), converts to 8-bit 3-band sRGB (EXIF
 * autorotate, ICC/CMYK import, 16-bit, grey, alpha flattened on the
 * background), resizes per fit, and writes the output through a temporary
 * file in the destination directory that is fsync'ed and renamed over
 * task->out_path.  It never prints; errors land in @res.
 */
#ifndef IMGPOOL_IMG_H
#define IMGPOOL_IMG_H

#include "settings.h"
#include "task.h"

int img_worker_init(const struct settings *s);
void img_process(const struct settings *s, const struct task *t,
                 struct task_result *res);
void img_worker_fini(void);

#endif
