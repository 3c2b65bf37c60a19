/*
 * heifxmp.h - every XMP packet of a HEIF/AVIF file, as one packet for a
 * JPEG output.  Worker code only.
 *
 * libvips 8.14's heifload reads the metadata of the primary image only,
 * and takes a "mime" block for XMP only when it starts with "<x:xmpmeta"
 * (a packet with an "<?xpacket" wrapper becomes a field no saver writes).
 * A phone's HEIC may hold XMP elsewhere too: on the HDR gain map (an
 * auxiliary image of the primary) or on another top-level image.  Here
 * the container is read with libheif and the XMP blocks (content type
 * application/rdf+xml) of the primary image, its auxiliary images and
 * thumbnails, then of the other top-level images and theirs, are
 * gathered, identical packets
 * once; several are joined into one: the rdf:RDF contents of the later
 * packets (their rdf:Description elements, each declaring its own
 * namespaces) go into the first packet's rdf:RDF, which RDF allows, so
 * no property of any block is lost or rewritten.
 *
 * Call sequence (meta.c, a HEIF source, metadata kept):
 *   char *xmp; size_t n;
 *   switch (heifxmp_gather(buf, len, have, have_len, &xmp, &n)) ...
 */
#ifndef IMGPOOL_HEIFXMP_H
#define IMGPOOL_HEIFXMP_H

#include <stddef.h>

/* Packets gathered at most, and the most bytes of one. */
#define HEIFXMP_MAX_PACKETS 16
#define HEIFXMP_MAX_BYTES (16 << 20)

/*
 * The XMP of the HEIF file in @buf (@len bytes) with @have (@have_len
 * bytes, the packet the loader found already, or NULL) first: 1 with a
 * new packet in *@out (malloc()ed, *@out_len bytes) when it differs from
 * @have; 0 when there is nothing to add; -1 when the container cannot be
 * read.  A packet without an rdf:RDF element to join is left out
 * (counted in *@dropped when not NULL).
 */
int heifxmp_gather(const void *buf, size_t len, const void *have,
                   size_t have_len, char **out, size_t *out_len,
                   int *dropped);

/* Join the rdf:RDF content of @b into @a's: a new malloc()ed packet
 * (*@len bytes), or NULL when either has no rdf:RDF element or memory
 * runs out.  Pure. */
char *heifxmp_join(const char *a, size_t alen, const char *b, size_t blen,
                   size_t *len);

#endif
