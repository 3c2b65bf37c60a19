/*
 * fuzz_tail.c - libFuzzer target for the structure walk over a JPEG
 * (guard.c: markers, APP1/APP2 segments read whole, the MPF index) and
 * the tail helpers (tail.c: the real data's end, what follows EOI, the
 * XMP container reader), over the input as a file in memory.
 *
 * Invariants callers rely on: the walk's end marker lies inside the file,
 * the data end is within [0, size], and a trailer class is one of the
 * two the tail can give.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "guard.h"
#include "tail.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct guard_jpeg_walk w;
    enum err_class cls;
    int64_t end;
    int fd;

    (void)tail_xmp_container(data, size);
    fd = memfd_create("fuzz", 0);
    if (fd < 0 || write(fd, data, size) != (ssize_t)size)
        abort();
    end = tail_data_end(fd, (int64_t)size);
    if (end < 0 || end > (int64_t)size)
        abort();
    if (guard_jpeg_walk(fd, end, GUARD_MAX_SCANS, &w) == 0 && w.eoi) {
        if (w.eoi_end < 4 || w.eoi_end > end)
            abort();
        if (tail_after_image(fd, w.eoi_end, (int64_t)size, &cls) < 0 ||
            (cls != ERR_NONE && cls != ERR_MOTION_PHOTO &&
             cls != ERR_HAS_TRAILER))
            abort();
    }
    close(fd);
    return 0;
}
