/*
 * fuzz_sniff.c - libFuzzer target for the header parsers in sniff.c.
 *
 * Every entry point that reads untrusted bytes gets the input as is; the
 * input is already an exact-size heap buffer, so AddressSanitizer flags any
 * read past its end.  The few invariants checked here are the ones callers
 * rely on: orientation always 1..8, and a quality only when a table was
 * seen.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "sniff.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct jpeg_info info;
    int w, h, q;

    (void)img_format_str(sniff_format(data, size));
    if (sniff_jpeg_info(data, size, &info) == 0) {
        if (info.orientation < 1 || info.orientation > 8)
            abort();
        if (info.width <= 0 || info.components <= 0)
            abort();
    }
    if (info.orientation < 1 || info.orientation > 8)
        abort();
    q = sniff_jpeg_quality(&info);
    if ((q == -1) != !info.have_qtable || q > 100)
        abort();
    if (sniff_png_size(data, size, &w, &h) == 0 && (w <= 0 || h <= 0))
        abort();
    if (sniff_gif_size(data, size, &w, &h) == 0 && (w <= 0 || h <= 0))
        abort();
    return 0;
}
