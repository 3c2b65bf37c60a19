/*
 * icc.c - the per-worker cache of lcms2 transforms to sRGB; see icc.h.
 *
 * lcms2 runs in a context of its own, so its error messages (a broken
 * profile) are dropped here instead of reaching whatever handler libvips
 * installed for its own use of the same library; every failure ends as
 * ICC_UNUSABLE with a reason the colour stage turns into a warning.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <lcms2.h>
#define XXH_INLINE_ALL
#include <xxhash.h>

#include "icc.h"

/* Grey with extra bytes per pixel: grey PNG rows expanded by libpng. */
#define ICC_GREY_X2_8 (COLORSPACE_SH(PT_GRAY) | CHANNELS_SH(1) | \
                       EXTRA_SH(2) | BYTES_SH(1))
#define ICC_GREY_X3_8 (COLORSPACE_SH(PT_GRAY) | CHANNELS_SH(1) | \
                       EXTRA_SH(3) | BYTES_SH(1))

struct icc_entry {
    XXH128_hash_t hash;
    size_t len;
    enum icc_pixels px;
    unsigned long stamp;        /* 0: the slot is free */
    struct icc_xform x;
};

static struct {
    cmsContext ctx;
    cmsHPROFILE srgb;
    unsigned long clock;
    unsigned long builds;
    struct icc_entry e[ICC_CACHE_SIZE];
} cache;

static void
quiet(cmsContext ctx, cmsUInt32Number code, const char *text)
{
    (void)ctx;
    (void)code;
    (void)text;
}

static int
setup(void)
{
    if (!cache.ctx) {
        cache.ctx = cmsCreateContext(NULL, NULL);
        if (!cache.ctx)
            return -1;
        cmsSetLogErrorHandlerTHR(cache.ctx, quiet);
    }
    if (!cache.srgb)
        cache.srgb = cmsCreate_sRGBProfileTHR(cache.ctx);
    return cache.srgb ? 0 : -1;
}

int
icc_pixels_grey(enum icc_pixels px)
{
    return px == ICC_PX_GREY || px == ICC_PX_GREY_RGB ||
           px == ICC_PX_GREY_RGBA;
}

int
icc_pixels_cmyk(enum icc_pixels px)
{
    return px == ICC_PX_CMYK || px == ICC_PX_CMYK_INVERTED;
}

const char *
icc_intent_str(int intent)
{
    return intent == INTENT_PERCEPTUAL ? "perceptual" : "relative";
}

/* lcms2 input and output formats for @px; bytes per pixel in and out. */
static void
formats(enum icc_pixels px, cmsUInt32Number *in, cmsUInt32Number *out,
        int *in_bytes, int *out_bytes)
{
    static const struct {
        cmsUInt32Number in, out;
        int in_bytes, out_bytes;
    } f[ICC_PX__COUNT] = {
        [ICC_PX_RGB] = {TYPE_RGB_8, TYPE_RGB_8, 3, 3},
        [ICC_PX_RGBA] = {TYPE_RGBA_8, TYPE_RGBA_8, 4, 4},
        [ICC_PX_GREY] = {TYPE_GRAY_8, TYPE_RGB_8, 1, 3},
        [ICC_PX_GREY_RGB] = {ICC_GREY_X2_8, TYPE_RGB_8, 3, 3},
        [ICC_PX_GREY_RGBA] = {ICC_GREY_X3_8, TYPE_RGBA_8, 4, 4},
        [ICC_PX_CMYK] = {TYPE_CMYK_8, TYPE_RGB_8, 4, 3},
        [ICC_PX_CMYK_INVERTED] = {TYPE_CMYK_8_REV, TYPE_RGB_8, 4, 3},
    };

    *in = f[px].in;
    *out = f[px].out;
    *in_bytes = f[px].in_bytes;
    *out_bytes = f[px].out_bytes;
}

int
icc_chart_rgb(unsigned char *rgb)
{
    int r, g, b, n = 0;

    for (r = 0; r < ICC_CHART_LEVELS; r++)
        for (g = 0; g < ICC_CHART_LEVELS; g++)
            for (b = 0; b < ICC_CHART_LEVELS; b++, n++) {
                rgb[3 * n] = (unsigned char)(r * 255 / (ICC_CHART_LEVELS - 1));
                rgb[3 * n + 1] =
                    (unsigned char)(g * 255 / (ICC_CHART_LEVELS - 1));
                rgb[3 * n + 2] =
                    (unsigned char)(b * 255 / (ICC_CHART_LEVELS - 1));
            }
    return n;
}

#define CHART_N (ICC_CHART_LEVELS * ICC_CHART_LEVELS * ICC_CHART_LEVELS)

/*
 * Whether transform @x leaves a colour chart as it is (within
 * ICC_IDENTITY_MAX levels): the chart for RGB, all 256 levels for grey,
 * in the layout of @px.
 */
static int
moves_nothing(const struct icc_xform *x, enum icc_pixels px)
{
    static unsigned char rgb[CHART_N * 3];
    static unsigned char in[CHART_N * 4], out[CHART_N * 4];
    int n, i, k, grey = icc_pixels_grey(px);

    if (grey) {
        n = 256;
        for (i = 0; i < n; i++) {
            rgb[3 * i] = rgb[3 * i + 1] = rgb[3 * i + 2] = (unsigned char)i;
            memset(in + (size_t)i * x->in_bytes, i, (size_t)x->in_bytes);
        }
    } else {
        n = icc_chart_rgb(rgb);
        for (i = 0; i < n; i++) {
            memcpy(in + (size_t)i * x->in_bytes, rgb + 3 * i, 3);
            if (x->in_bytes == 4)
                in[(size_t)i * 4 + 3] = 255;
        }
    }
    icc_apply(x, in, out, (size_t)n);
    for (i = 0; i < n; i++)
        for (k = 0; k < 3; k++)
            if (abs(out[(size_t)i * x->out_bytes + k] - rgb[3 * i + k]) >
                ICC_IDENTITY_MAX)
                return 0;
    return 1;
}

/* Whether the profile's colour space fits pixels @px. */
static int
space_fits(cmsHPROFILE h, enum icc_pixels px)
{
    cmsColorSpaceSignature cs = cmsGetColorSpace(h);

    if (icc_pixels_cmyk(px))
        return cs == cmsSigCmykData;
    if (icc_pixels_grey(px))
        return cs == cmsSigGrayData;
    return cs == cmsSigRgbData;
}

/* Fill @x for profile @h read as @px. */
static void
build(struct icc_xform *x, cmsHPROFILE h, enum icc_pixels px)
{
    static const int intents[] = {INTENT_RELATIVE_COLORIMETRIC,
                                  INTENT_PERCEPTUAL};
    cmsProfileClassSignature cls = cmsGetDeviceClass(h);
    cmsUInt32Number fin, fout, flags = 0;
    size_t i;

    formats(px, &fin, &fout, &x->in_bytes, &x->out_bytes);
    x->outcome = ICC_UNUSABLE;
    if (cls == cmsSigLinkClass || cls == cmsSigAbstractClass ||
        cls == cmsSigNamedColorClass) {
        x->why = "embedded profile is not a colour space profile";
        return;
    }
    if (!space_fits(h, px)) {
        x->why = "embedded profile does not match the image's colour space";
        return;
    }
    /* A 4-channel lookup table needs more grid points than lcms2's default
     * to stay within a level of the profile. */
    if (icc_pixels_cmyk(px))
        flags |= cmsFLAGS_HIGHRESPRECALC;
    x->why = "embedded profile supports neither relative colorimetric nor "
             "perceptual intent";
    for (i = 0; i < sizeof(intents) / sizeof(intents[0]); i++) {
        if (!cmsIsIntentSupported(h, (cmsUInt32Number)intents[i],
                                  LCMS_USED_AS_INPUT))
            continue;
        x->handle = cmsCreateTransformTHR(cache.ctx, h, fin, cache.srgb, fout,
                                          (cmsUInt32Number)intents[i], flags);
        if (x->handle) {
            x->intent = intents[i];
            x->outcome = ICC_TRANSFORM;
            x->why = NULL;
            break;
        }
    }
    cache.builds++;
    if (x->outcome == ICC_TRANSFORM && !icc_pixels_cmyk(px) &&
        x->intent == INTENT_RELATIVE_COLORIMETRIC && moves_nothing(x, px)) {
        cmsDeleteTransform(x->handle);
        x->handle = NULL;
        x->outcome = ICC_IDENTITY;
    }
}

static void
entry_free(struct icc_entry *e)
{
    if (e->x.handle)
        cmsDeleteTransform(e->x.handle);
    memset(e, 0, sizeof(*e));
}

/* The slot for a new entry: a free one, else the least recently used. */
static struct icc_entry *
victim(void)
{
    struct icc_entry *v = &cache.e[0];
    int i;

    for (i = 0; i < ICC_CACHE_SIZE; i++) {
        if (cache.e[i].stamp == 0)
            return &cache.e[i];
        if (cache.e[i].stamp < v->stamp)
            v = &cache.e[i];
    }
    entry_free(v);
    return v;
}

const struct icc_xform *
icc_lookup(const void *profile, size_t len, enum icc_pixels px)
{
    static struct icc_xform failed;
    XXH128_hash_t hash = XXH3_128bits(profile, len);
    struct icc_entry *e;
    cmsHPROFILE h;
    int i;

    for (i = 0; i < ICC_CACHE_SIZE; i++) {
        e = &cache.e[i];
        if (e->stamp && e->px == px && e->len == len &&
            XXH128_isEqual(e->hash, hash)) {
            e->stamp = ++cache.clock;
            return &e->x;
        }
    }
    memset(&failed, 0, sizeof(failed));
    failed.outcome = ICC_UNUSABLE;
    failed.why = "cannot set up colour management";
    if (setup() < 0)
        return &failed;
    e = victim();
    e->hash = hash;
    e->len = len;
    e->px = px;
    e->stamp = ++cache.clock;
    h = len >= 128 && len <= UINT32_MAX
            ? cmsOpenProfileFromMemTHR(cache.ctx, profile,
                                       (cmsUInt32Number)len)
            : NULL;
    if (!h) {
        formats(px, &(cmsUInt32Number){0}, &(cmsUInt32Number){0},
                &e->x.in_bytes, &e->x.out_bytes);
        e->x.outcome = ICC_UNUSABLE;
        e->x.why = "embedded profile is unreadable";
        cache.builds++;
        return &e->x;
    }
    build(&e->x, h, px);
    cmsCloseProfile(h);
    return &e->x;
}

void
icc_apply(const struct icc_xform *x, const void *in, void *out, size_t n)
{
    const unsigned char *src = in;
    unsigned char *dst = out;
    unsigned char alpha[1024];
    size_t i, k;

    if (x->out_bytes != 4) {
        cmsDoTransform(x->handle, in, out, (cmsUInt32Number)n);
        return;
    }
    /* Alpha as it was, whatever lcms2 does with extra channels. */
    for (i = 0; i < n; i += k) {
        k = n - i < sizeof(alpha) ? n - i : sizeof(alpha);
        for (size_t j = 0; j < k; j++)
            alpha[j] = src[(i + j) * 4 + 3];
        cmsDoTransform(x->handle, src + i * 4, dst + i * 4,
                       (cmsUInt32Number)k);
        for (size_t j = 0; j < k; j++)
            dst[(i + j) * 4 + 3] = alpha[j];
    }
}

unsigned long
icc_builds(void)
{
    return cache.builds;
}

void
icc_cache_clear(void)
{
    int i;

    for (i = 0; i < ICC_CACHE_SIZE; i++)
        entry_free(&cache.e[i]);
    if (cache.srgb)
        cmsCloseProfile(cache.srgb);
    cache.srgb = NULL;
    if (cache.ctx)
        cmsDeleteContext(cache.ctx);
    cache.ctx = NULL;
}
