/*
 * jpegmem.h - where libjpeg keeps a multi-scan JPEG's coefficients: in
 * anonymous memory mapped for that image, with transparent huge pages
 * asked for.  Worker code only (the direct JPEG decoder).
 *
 * A progressive JPEG is decoded into a whole-image array of DCT blocks
 * (2 bytes a coefficient: 54 MB for a 5640x3172 4:2:0 photo) before any
 * row comes out.  libjpeg takes that array from malloc() and zeroes it
 * row by row; on this kind of virtual machine the first touch of each
 * 4 KiB page is the expensive part (a quarter of the decode of such a
 * file).  Fresh anonymous mappings are already zero, and with
 * MADV_HUGEPAGE the kernel faults them in 2 MiB at a time.  The blocks
 * and what libjpeg does with them are unchanged: same coefficients, same
 * pixels.  Where the kernel has no transparent huge pages the advice is
 * ignored and only the zeroing is saved.
 *
 * Call sequence: jpegmem_install(&m, cinfo) right after
 * jpeg_create_decompress() (it sets cinfo->client_data and replaces the
 * memory manager's virtual block-array methods); libjpeg then requests,
 * realizes and accesses the arrays through them; jpegmem_release(&m)
 * after jpeg_destroy_decompress() (or jpeg_abort) unmaps what is left.
 * The arrays of one image are also unmapped when libjpeg frees its image
 * pool (jpeg_finish_decompress, jpeg_abort).
 * Ownership: @m (caller's storage, zeroed before install) owns the
 * mappings.  Failures inside libjpeg's calls go through its error_exit
 * (JERR_OUT_OF_MEMORY, JERR_BAD_VIRTUAL_ACCESS), as libjpeg's own do.
 */
#ifndef IMGPOOL_JPEGMEM_H
#define IMGPOOL_JPEGMEM_H

#include <stddef.h>
#include <stdio.h>

#include <jpeglib.h>

struct jpegmem {
    struct jvirt_barray_control *arrays;    /* requested, newest first */
    /* libjpeg's own methods, called for everything else */
    void (*realize)(j_common_ptr cinfo);
    void (*free_pool)(j_common_ptr cinfo, int pool_id);
};

/* Route @cinfo's virtual block arrays through @m (see above). */
void jpegmem_install(struct jpegmem *m, j_common_ptr cinfo);

/* Unmap every array of @m; @m can be installed again afterwards. */
void jpegmem_release(struct jpegmem *m);

#endif
