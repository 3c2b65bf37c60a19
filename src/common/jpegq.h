/*
 * jpegq.h - imgpool's own JPEG quantisation tables, shaped by the eye's
 * contrast sensitivity (derivation in jpegq.c and docs/ENCODER.md), and
 * scaled by quality 1..100 the way libjpeg scales its tables.
 *
 * Pure arithmetic, no image library: the worker's encoder (jenc.h) writes
 * these tables and the sniffer (sniff_jpeg_quality()) recognises them in a
 * file's header, so a file imgpool wrote is estimated at the quality it was
 * written with.
 */
#ifndef IMGPOOL_JPEGQ_H
#define IMGPOOL_JPEGQ_H

/* Which table: luma, or chroma for 4:4:4 or for 4:2:0 sampling (the
 * 4:4:4 and 4:2:0 chroma tables are the same today: jpegq.c). */
enum jpegq_kind { JPEGQ_LUMA = 0, JPEGQ_CHROMA_444, JPEGQ_CHROMA_420 };

/* The table of @kind at @quality (clamped to 1..100), natural (row-major)
 * order, entries 1..255 (baseline). */
void jpegq_table(enum jpegq_kind kind, int quality, unsigned short out[64]);

/* The quality whose luma table equals @luma (natural order) entry for
 * entry, the highest such; -1 when none does or @luma is flat (one value
 * throughout, as every encoder's table is at quality 1 or 100). */
int jpegq_match_luma(const int luma[64]);

#endif
