/*
 * keep.h - recompress -o: the source's own bytes as the output when its
 * re-encode gains nothing ("kept-original").  Worker code only.
 *
 * A JPEG already at or below the target quality is not improved by being
 * decoded and encoded again at -q: the new file codes the same blocking
 * again, and is often larger (issue 17: 351,588 -> 415,659 bytes).  When
 * such a source's re-encode, its metadata in, is not smaller than the
 * source, the output gets the source's bytes instead, copied whole: every
 * segment, and the orientation tag as it was with the pixels as stored
 * (they display the same).  The record stays ok, with mode
 * "kept-original" (docs/REPORT.md), as in place's lossless pass says
 * "lossless".  --force writes the re-encode anyway.
 *
 * It applies only where the copy is what the re-encode would have been
 * but for its size: recompress with an output tree (not in place, not
 * the thumbnail cache), one output, JPEG, at the source's own size,
 * metadata kept (not --strip), no --force and no --target-distance (the
 * search picks the quality and the record says it); a JPEG source of 3
 * components (a grey one is re-encoded, as every output is 3-band), with
 * no profile or one that is sRGB in effect (icc.h), whose
 * estimated quality is at or below -q and whose scan mode and chroma
 * subsampling are not what --progressive, --baseline or --subsample
 * would change.  Everything else is written as encoded.
 *
 * Call sequence (img.c, the libvips path of a single output):
 *   struct keep k;
 *   keep_prepare(&k, s, nsizes, in, decoded, out_width, out_height);
 *   ...the re-encode written to the output's temporary file (fd),
 *      its metadata carried in...
 *   if (keep_apply(&k, fd, res) < 0) ...res failed, abort the output...
 *   ...commit...
 */
#ifndef IMGPOOL_KEEP_H
#define IMGPOOL_KEEP_H

#include <stdint.h>

#include "input.h"
#include "settings.h"
#include "task.h"

#define KEEP_MODE "kept-original"

struct _VipsImage;

struct keep {
    int eligible;               /* the source may stand in for the output */
    int quality;                /* its estimated quality */
    const struct input *in;     /* borrowed: the open source */
};

/* Decide whether @in (decoded into @decoded, the image as loaded, for its
 * ICC profile) may stand in for an output of @w x @h under @s: k->eligible
 * 1 or 0.  Nothing here fails. */
void keep_prepare(struct keep *k, const struct settings *s, int nsizes,
                  const struct input *in, struct _VipsImage *decoded, int w,
                  int h);

/* Whether the source @in's header qualifies by its own: a JPEG of 3
 * components (a grey one is re-encoded, as every output is 3-band) whose estimated quality is from 1 to @quality.  The
 * estimate in *@q (-1 when there is none). */
int keep_source_qualifies(const struct input *in, int quality, int *q);

/*
 * When k->eligible and the re-encode in @fd (the output's temporary file,
 * open for reading and writing) is not smaller than the source: the
 * source's bytes replace it (read through input_pread(), so a read error
 * is noted as for any read of the input) and res->mode says
 * KEEP_MODE.  Otherwise @fd is left alone.  0, or -1 with @res failed
 * (ERR_WRITE, ERR_NO_SPACE, ERR_READ).
 */
int keep_apply(const struct keep *k, int fd, struct task_result *res);

#endif
