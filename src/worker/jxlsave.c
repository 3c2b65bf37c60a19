/*
 * jxlsave.c - JPEG XL from pixels through libvips' jxlsave (jxlsave.h).
 */
#include <vips/vips.h>

#include "jxl.h"
#include "jxlsave.h"

int
jxlsave_image(VipsImage *img, int quality, int lossless, VipsTarget *target,
              void **buf, size_t *len)
{
    double d = jxl_distance(quality);

    if (target)
        return vips_jxlsave_target(img, target, "distance", d, "lossless",
                                   lossless, "effort", JXL_EFFORT, NULL);
    return vips_jxlsave_buffer(img, buf, len, "distance", d, "lossless",
                               lossless, "effort", JXL_EFFORT, NULL);
}
