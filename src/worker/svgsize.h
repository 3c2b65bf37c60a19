/*
 * svgsize.h - the size an SVG document declares, in CSS pixels (96 per
 * inch), as browsers give it.  libvips 8.14's svgload counts one point
 * (and one user unit) as one pixel at its default 72 dpi and scales
 * everything by its dpi, so neither 72 nor 96 gives a browser's size for
 * both a document in px and one in pt: the root element's width and
 * height are read here, with their units.
 * Call sequence (libvips path, SVG):
 *   double w, h;
 *   if (svgsize_css(doc, len, &w, &h) == 0) ...w, h in CSS pixels...
 *   else ...libvips' own size (user units) stands...
 */
#ifndef IMGPOOL_SVGSIZE_H
#define IMGPOOL_SVGSIZE_H

#include <stddef.h>

/* 0 with *@w, *@h set, or -1 when the document's root <svg> element has
 * no width or height, a relative one (%, em, ex), or none readable in
 * its first 64 KiB. */
int svgsize_css(const char *doc, size_t len, double *w, double *h);

#endif
