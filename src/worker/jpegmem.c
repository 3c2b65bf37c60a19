/*
 * jpegmem.c - libjpeg's whole-image coefficient arrays in huge-page
 * anonymous mappings (see jpegmem.h for the contract).
 *
 * libjpeg declares struct jvirt_barray_control but keeps its definition
 * private; every array handed out here is ours and goes back only to our
 * access method, so this file gives the type its own definition.  The
 * arrays are never swapped to a backing store (libjpeg-turbo's
 * jmemnobs.c has none either): each is one mapping of all its rows.
 */
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>

#include <jerror.h>

#include "jpegmem.h"

struct jvirt_barray_control {
    JBLOCKARRAY rows;           /* row pointers once realized, else NULL */
    void *map;                  /* the mapping of all the rows */
    size_t map_len;
    JDIMENSION blocksperrow;
    JDIMENSION numrows;
    struct jvirt_barray_control *next;
};

static struct jpegmem *
mem_of(j_common_ptr cinfo)
{
    return cinfo->client_data;
}

static void
unmap(struct jvirt_barray_control *a)
{
    if (a->map)
        munmap(a->map, a->map_len);
    free(a->rows);
    a->map = NULL;
    a->rows = NULL;
}

static jvirt_barray_ptr
request_barray(j_common_ptr cinfo, int pool_id, boolean pre_zero,
               JDIMENSION blocksperrow, JDIMENSION numrows,
               JDIMENSION maxaccess)
{
    struct jpegmem *m = mem_of(cinfo);
    struct jvirt_barray_control *a;

    (void)pre_zero;             /* a fresh mapping is zero anyway */
    (void)maxaccess;            /* every row is in memory */
    if (pool_id != JPOOL_IMAGE)
        ERREXIT1(cinfo, JERR_BAD_POOL_ID, pool_id);
    a = calloc(1, sizeof(*a));
    if (!a)
        ERREXIT1(cinfo, JERR_OUT_OF_MEMORY, 10);
    a->blocksperrow = blocksperrow;
    a->numrows = numrows;
    a->next = m->arrays;
    m->arrays = a;
    return a;
}

/* Map the rows of @a.  0, or -1 when the memory is not there. */
static int
map_rows(struct jvirt_barray_control *a)
{
    size_t row = (size_t)a->blocksperrow * sizeof(JBLOCK);
    JDIMENSION r;

    if (a->numrows == 0 || row == 0 || (size_t)a->numrows > SIZE_MAX / row)
        return -1;
    a->map_len = row * a->numrows;
    a->rows = malloc((size_t)a->numrows * sizeof(*a->rows));
    if (!a->rows)
        return -1;
    a->map = mmap(NULL, a->map_len, PROT_READ | PROT_WRITE,
                  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (a->map == MAP_FAILED) {
        a->map = NULL;
        return -1;
    }
#ifdef MADV_HUGEPAGE
    /* Only advice: without transparent huge pages, 4 KiB pages. */
    madvise(a->map, a->map_len, MADV_HUGEPAGE);
#endif
    for (r = 0; r < a->numrows; r++)
        a->rows[r] = (JBLOCKROW)((char *)a->map + (size_t)r * row);
    return 0;
}

static void
realize_arrays(j_common_ptr cinfo)
{
    struct jpegmem *m = mem_of(cinfo);
    struct jvirt_barray_control *a;

    m->realize(cinfo);          /* libjpeg's sample arrays, if any */
    for (a = m->arrays; a; a = a->next) {
        if (a->rows)
            continue;
        if (map_rows(a) < 0) {
            unmap(a);
            ERREXIT1(cinfo, JERR_OUT_OF_MEMORY, 10);
        }
    }
}

static JBLOCKARRAY
access_barray(j_common_ptr cinfo, jvirt_barray_ptr a, JDIMENSION start_row,
              JDIMENSION num_rows, boolean writable)
{
    (void)writable;
    if (!a->rows)
        ERREXIT(cinfo, JERR_VIRTUAL_BUG);
    if (start_row > a->numrows || num_rows > a->numrows - start_row)
        ERREXIT(cinfo, JERR_BAD_VIRTUAL_ACCESS);
    return a->rows + start_row;
}

static void
free_pool(j_common_ptr cinfo, int pool_id)
{
    struct jpegmem *m = mem_of(cinfo);

    if (pool_id == JPOOL_IMAGE)
        jpegmem_release(m);
    m->free_pool(cinfo, pool_id);
}

void
jpegmem_install(struct jpegmem *m, j_common_ptr cinfo)
{
    cinfo->client_data = m;
    m->realize = cinfo->mem->realize_virt_arrays;
    m->free_pool = cinfo->mem->free_pool;
    cinfo->mem->request_virt_barray = request_barray;
    cinfo->mem->realize_virt_arrays = realize_arrays;
    cinfo->mem->access_virt_barray = access_barray;
    cinfo->mem->free_pool = free_pool;
}

void
jpegmem_release(struct jpegmem *m)
{
    struct jvirt_barray_control *a, *next;

    for (a = m->arrays; a; a = next) {
        next = a->next;
        unmap(a);
        free(a);
    }
    m->arrays = NULL;
}
