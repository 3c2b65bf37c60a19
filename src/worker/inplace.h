/*
 * inplace.h - `recompress --in-place`: re-encode a JPEG and replace the
 * original only when that is safe and worth it.
 *
 * One of the three commits (commit.h): commit_inplace_ops, which
 * img_run() picks with c->in_place.  The pipeline (img.c) decodes with
 * libvips at full size, keeps the colour space and encodes into memory;
 * the commit's begin() makes the decisions before pixels (up to the
 * trailers below, and the lossless pass, which needs none), its commit()
 * those after.  The decisions, in order:
 *   - not a JPEG                         -> skipped, not-jpeg
 *   - reached through a symbolic link    -> skipped, symlink (the link
 *     would be replaced, not its target)
 *   - estimated quality <= target        -> the lossless pass instead
 *     (lossless.h, the original's scan mode; not with strip_gps or
 *     to_srgb), through the same steps below, recorded with mode
 *     "lossless"; when it does not save min_saving (and a byte), or
 *     libjpeg cannot rewrite the file, skipped, already-compressed
 *     (unless force; this is what makes a second run change nothing)
 *   - with s->lossless, every JPEG gets that pass (progressive unless
 *     baseline), whatever its quality
 *   - more than the primary image: MPF images, a motion photo, a
 *     trailer after EOI (tail.h)         -> skipped, multi-picture,
 *     motion-photo or has-trailer (the lossless pass too)
 *   - decode fails (strict by default)   -> failed, original untouched;
 *     under a strict fail_on also image data that stops before EOI
 *     (truncated) and data libjpeg only warns is corrupt (corrupt-data,
 *     loaderr.h)
 *   - result not min_saving % smaller    -> skipped, no-gain
 *   - dry_run                            -> skipped, dry-run (out_bytes set)
 *   - the input changed meanwhile        -> skipped, input-changed
 *   - otherwise: backup (hard link, or copy across file systems); the walk
 *     from the root must still lead to the directory the file was opened
 *     in (else skipped, input-changed, or symlink for a link now on the
 *     way); then a temporary file in that directory's descriptor with the
 *     original's mode, owner, group and (unless !preserve_times) times,
 *     fsync, swapped in only while the name still holds the file that was
 *     read (device, inode, size, mtime; renameat2(RENAME_EXCHANGE) and a
 *     swap back where supported, see outfile_commit_replace()), else
 *     skipped, input-changed, the newer file untouched; fsync of the
 *     directory.
 * Pixels keep their orientation and the EXIF tag is kept, so nothing is
 * rotated twice; EXIF, XMP, IPTC and the ICC profile are kept (GPS dropped
 * with strip_gps; to_srgb converts tagged images to sRGB).  CMYK and grey
 * JPEGs stay CMYK and grey.  Dimensions are never changed.
 */
#ifndef IMGPOOL_INPLACE_H
#define IMGPOOL_INPLACE_H

/* The commit itself, commit_inplace_ops, is declared in commit.h; it
 * fills @res (status and class per the list above, dimensions, sizes). */

#endif
