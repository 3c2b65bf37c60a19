/*
 * icc.c - the per-worker cache of lcms2 transforms to sRGB; see icc.h.
 *
 * lcms2 runs in a context of its own, so its error messages (a broken
 * profile) are dropped here instead of reaching whatever handler libvips
 * installed for its own use of the same library; every failure ends as
 * ICC_UNUSABLE with a reason the colour stage turns into a warning.
 */
#include <math.h>
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

/*
 * The fast path for the common profiles: an RGB matrix/TRC profile to
 * sRGB is three curves, a 3x3 matrix and sRGB's inverse curve.  lcms2's
 * own 8-bit transform does the same in fixed point several times slower
 * (a thumbnail's worth of pixels took longer than decoding it), so these
 * profiles get tables of their own: the curves per input level, the
 * matrix from the profile's colorants to sRGB's, and sRGB's inverse
 * curve at 16-bit resolution.  Grey profiles become a 256-entry table
 * computed by lcms2 itself.  Either is used only when it agrees with the
 * lcms2 transform within a level on the colour chart (fast_agrees).
 */
#define FAST_OUT_BITS 14
#define FAST_LIN_BITS 15        /* linear 1.0 in the curves' tables */
#define FAST_M_BITS 14          /* 1.0 in the matrix */
struct icc_fast {
    int32_t lin[3][256];        /* input level -> linear, per channel */
    int32_t m[9];               /* linear input -> linear sRGB */
    unsigned char grey[256][3]; /* grey kinds: level -> sRGB */
    int is_grey;
};

/* Linear [0,1] in 2^-FAST_OUT_BITS steps -> sRGB 8-bit (a step is a
 * fifth of a level where sRGB is steepest, near black). */
static unsigned char srgb_out[1 << FAST_OUT_BITS];

struct icc_entry {
    XXH128_hash_t hash;
    size_t len;
    enum icc_pixels px;
    unsigned long stamp;        /* 0: the slot is free */
    struct icc_xform x;
};

static struct {
    int have_srgb_out;
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

static void
fill_srgb_out(void)
{
    int i;

    if (cache.have_srgb_out)
        return;
    for (i = 0; i < (1 << FAST_OUT_BITS); i++) {
        double v = (double)i / ((1 << FAST_OUT_BITS) - 1);

        v = v <= 0.0031308 ? 12.92 * v : 1.055 * pow(v, 1 / 2.4) - 0.055;
        srgb_out[i] = (unsigned char)lrint(v * 255);
    }
    cache.have_srgb_out = 1;
}

/* The colorants of matrix/TRC profile @h as the columns of @m. */
static int
colorants(cmsHPROFILE h, double m[9])
{
    static const cmsTagSignature tags[3] = {
        cmsSigRedColorantTag, cmsSigGreenColorantTag, cmsSigBlueColorantTag};
    int k;

    for (k = 0; k < 3; k++) {
        const cmsCIEXYZ *c = cmsReadTag(h, tags[k]);

        if (!c)
            return -1;
        m[k] = c->X;
        m[3 + k] = c->Y;
        m[6 + k] = c->Z;
    }
    return 0;
}

/* @a inverted into @inv.  -1 when singular. */
static int
invert3(const double a[9], double inv[9])
{
    double det = a[0] * (a[4] * a[8] - a[5] * a[7]) -
                 a[1] * (a[3] * a[8] - a[5] * a[6]) +
                 a[2] * (a[3] * a[7] - a[4] * a[6]);

    if (fabs(det) < 1e-9)
        return -1;
    inv[0] = (a[4] * a[8] - a[5] * a[7]) / det;
    inv[1] = (a[2] * a[7] - a[1] * a[8]) / det;
    inv[2] = (a[1] * a[5] - a[2] * a[4]) / det;
    inv[3] = (a[5] * a[6] - a[3] * a[8]) / det;
    inv[4] = (a[0] * a[8] - a[2] * a[6]) / det;
    inv[5] = (a[2] * a[3] - a[0] * a[5]) / det;
    inv[6] = (a[3] * a[7] - a[4] * a[6]) / det;
    inv[7] = (a[1] * a[6] - a[0] * a[7]) / det;
    inv[8] = (a[0] * a[4] - a[1] * a[3]) / det;
    return 0;
}

/* Curves and matrix of RGB matrix/TRC profile @h into @f.  0, or -1. */
static int
fast_matrix(struct icc_fast *f, cmsHPROFILE h)
{
    static const cmsTagSignature trc[3] = {
        cmsSigRedTRCTag, cmsSigGreenTRCTag, cmsSigBlueTRCTag};
    double a[9], srgb[9], inv[9];
    int i, j, k;

    if (colorants(h, a) < 0 || colorants(cache.srgb, srgb) < 0 ||
        invert3(srgb, inv) < 0)
        return -1;
    for (i = 0; i < 3; i++) {
        double row = 0;

        for (j = 0; j < 3; j++) {
            double v = 0;

            for (k = 0; k < 3; k++)
                v += inv[3 * i + k] * a[3 * k + j];
            /* Sums of three products must stay within 32 bits. */
            row += fabs(v);
            f->m[3 * i + j] = (int32_t)lrint(v * (1 << FAST_M_BITS));
        }
        if (row >= 3.9)
            return -1;
    }
    for (k = 0; k < 3; k++) {
        const cmsToneCurve *c = cmsReadTag(h, trc[k]);

        if (!c)
            return -1;
        for (i = 0; i < 256; i++) {
            double v = cmsEvalToneCurveFloat(c, (cmsFloat32Number)i / 255.0f);

            v = v < 0 ? 0 : v > 1 ? 1 : v;
            f->lin[k][i] = (int32_t)lrint(v * (1 << FAST_LIN_BITS));
        }
    }
    return 0;
}

/* Grey: lcms2's own answer for each of the 256 levels. */
static void
fast_grey(struct icc_fast *f, const struct icc_xform *x)
{
    unsigned char in[256 * 4], out[256 * 4];
    int i;

    for (i = 0; i < 256; i++)
        memset(in + (size_t)i * x->in_bytes, i, (size_t)x->in_bytes);
    cmsDoTransform(x->handle, in, out, 256);
    for (i = 0; i < 256; i++)
        memcpy(f->grey[i], out + (size_t)i * x->out_bytes, 3);
    f->is_grey = 1;
}

/* A matrix row's sum (linear, FAST_LIN_BITS + FAST_M_BITS) to sRGB. */
static inline unsigned char
to_srgb(int32_t v)
{
    v >>= FAST_LIN_BITS + FAST_M_BITS - FAST_OUT_BITS;
    v = v < 0 ? 0 : v;
    v = v > (1 << FAST_OUT_BITS) - 1 ? (1 << FAST_OUT_BITS) - 1 : v;
    return srgb_out[v];
}

/* One RGB pixel; @in_bytes, @out_bytes constant where it is inlined. */
static inline void
fast_pixel(const struct icc_fast *f, const unsigned char *in,
           unsigned char *out)
{
    const int32_t *m = f->m;
    int32_t r = f->lin[0][in[0]], g = f->lin[1][in[1]],
            b = f->lin[2][in[2]];

    out[0] = to_srgb(m[0] * r + m[1] * g + m[2] * b);
    out[1] = to_srgb(m[3] * r + m[4] * g + m[5] * b);
    out[2] = to_srgb(m[6] * r + m[7] * g + m[8] * b);
}

static void
fast_apply(const struct icc_xform *x, const unsigned char *in,
           unsigned char *out, size_t n)
{
    const struct icc_fast *f = x->fast;
    size_t i;

    if (f->is_grey) {
        for (i = 0; i < n; i++, in += x->in_bytes, out += x->out_bytes)
            memcpy(out, f->grey[in[0]], 3);
    } else if (x->in_bytes == 3) {
        for (i = 0; i < n; i++, in += 3, out += 3)
            fast_pixel(f, in, out);
    } else {
        for (i = 0; i < n; i++, in += 4, out += 4)
            fast_pixel(f, in, out);
    }
}

/* Tables for @x (a relative colorimetric lcms2 transform of profile @h),
 * kept when they agree with it within a level on the colour chart. */
static void
fast_build(struct icc_xform *x, cmsHPROFILE h)
{
    static unsigned char in[CHART_N * 4], a[CHART_N * 4], b[CHART_N * 4];
    static unsigned char rgb[CHART_N * 3];
    struct icc_fast *f;
    int n, i, k;

    if (icc_pixels_cmyk(x->px))
        return;
    f = calloc(1, sizeof(*f));
    if (!f)
        return;
    fill_srgb_out();
    if (icc_pixels_grey(x->px)) {
        fast_grey(f, x);
        x->fast = f;
        return;
    }
    if (cmsIsCLUT(h, (cmsUInt32Number)x->intent, LCMS_USED_AS_INPUT) ||
        !cmsIsMatrixShaper(h) || fast_matrix(f, h) < 0) {
        free(f);
        return;
    }
    n = icc_chart_rgb(rgb);
    for (i = 0; i < n; i++) {
        memcpy(in + (size_t)i * x->in_bytes, rgb + 3 * i, 3);
        if (x->in_bytes == 4)
            in[(size_t)i * 4 + 3] = 255;
    }
    cmsDoTransform(x->handle, in, a, (cmsUInt32Number)n);
    x->fast = f;
    fast_apply(x, in, b, (size_t)n);
    for (i = 0; i < n; i++)
        for (k = 0; k < 3; k++)
            if (abs(a[(size_t)i * x->out_bytes + k] -
                    b[(size_t)i * x->out_bytes + k]) > 1) {
                x->fast = NULL;
                free(f);
                return;
            }
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
    x->px = px;
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
     * to stay within a level of the profile.  RGB and grey are first
     * tried unoptimised, which is quick to set up, exact for the checks
     * below, and all that is needed when the tables take over; lcms2's
     * optimised transform (slow to set up) only when they do not. */
    flags = icc_pixels_cmyk(px) ? cmsFLAGS_HIGHRESPRECALC
                                : cmsFLAGS_NOOPTIMIZE;
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
    if (x->outcome != ICC_TRANSFORM)
        return;
    if (!icc_pixels_cmyk(px) && x->intent == INTENT_RELATIVE_COLORIMETRIC &&
        moves_nothing(x, px)) {
        cmsDeleteTransform(x->handle);
        x->handle = NULL;
        x->outcome = ICC_IDENTITY;
        return;
    }
    if (icc_pixels_cmyk(px))
        return;
    fast_build(x, h);
    cmsDeleteTransform(x->handle);
    x->handle = NULL;
    if (!x->fast)
        x->handle = cmsCreateTransformTHR(cache.ctx, h, fin, cache.srgb, fout,
                                          (cmsUInt32Number)x->intent, 0);
    if (!x->fast && !x->handle) {
        x->outcome = ICC_UNUSABLE;
        x->why = "cannot set up a colour transform for the embedded profile";
    }
}

static void
entry_free(struct icc_entry *e)
{
    if (e->x.handle)
        cmsDeleteTransform(e->x.handle);
    free(e->x.fast);
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

    if (x->fast) {
        fast_apply(x, in, out, n);      /* leaves a 4th byte alone */
        return;
    }
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
