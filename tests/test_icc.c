/*
 * test_icc.c - colour management on the direct decoders: ICC-tagged and
 * CMYK JPEGs and PNGs converted to sRGB with the right colours.
 *
 * Every profile is made here with lcms2 (Adobe RGB (1998) and Display P3
 * primaries, sRGB, a lookup-table CMYK profile, a perceptual-only RGB
 * profile, a linear grey one); no profile file is copied.  Tagged inputs
 * are 512x512 charts of 16 uniform 128 px patches, written by libvips at
 * Q100 without chroma subsampling, thumbnailed to 256 px, and the centre
 * of each output patch (25x25 pixels) is compared with:
 *   - lcms2's transicc (an independent transform: its own process, its
 *     own unoptimised floating-point pipeline), relative colorimetric to
 *     its built-in sRGB: mean error over patches and channels under
 *     TRANSICC_MEAN (2 levels), no patch channel over TRANSICC_MAX (6);
 *     skipped with a message when transicc (liblcms2-utils) is missing;
 *   - the libvips path (--no-fast-path), the reference for RGB profiles:
 *     mean under LIBVIPS_MEAN (1.5 levels), max under LIBVIPS_MAX (8);
 *     untagged CMYK mean under LIBVIPS_CMYK_MEAN (3), max under
 *     LIBVIPS_CMYK_MAX (12), since libvips itself is up to 9 levels off
 *     transicc on saturated CMYK patches; CMYK with an embedded profile
 *     is not compared, libvips 8.14 ignores that profile.
 * The encoder's Q90 4:2:0 adds under a level on uniform patches.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lcms2.h>
#include <vips/vips.h>

#include "helpers.h"
#include "icc.h"
#include "img.h"
#include "settings.h"

#define TRANSICC_MEAN 2.0
#define TRANSICC_MAX 6.0
#define LIBVIPS_MEAN 1.5
#define LIBVIPS_MAX 8.0
#define LIBVIPS_CMYK_MEAN 3.0
#define LIBVIPS_CMYK_MAX 12.0

#define NPATCH 16
#define PATCH 128
#define SIDE (4 * PATCH)

static const unsigned char rgb_patches[NPATCH][3] = {
    {255, 0, 0},     {0, 255, 0},     {0, 0, 255},     {255, 255, 0},
    {0, 255, 255},   {255, 0, 255},   {128, 128, 128}, {200, 100, 50},
    {50, 100, 200},  {30, 180, 90},   {240, 220, 200}, {20, 20, 20},
    {235, 235, 235}, {180, 40, 120},  {100, 60, 30},   {60, 200, 220},
};

static const unsigned char cmyk_patches[NPATCH][4] = {
    {0, 0, 0, 0},       {255, 0, 0, 0},     {0, 255, 0, 0},
    {0, 0, 255, 0},     {0, 0, 0, 255},     {128, 128, 0, 0},
    {0, 128, 128, 0},   {128, 0, 128, 0},   {64, 64, 64, 64},
    {200, 150, 100, 30}, {30, 60, 90, 120}, {255, 255, 255, 255},
    {10, 200, 40, 0},   {180, 20, 200, 10}, {90, 90, 0, 180},
    {0, 30, 60, 10},
};

static char *tmp;
static int chart_dither;        /* write_chart() adds a fine texture */

static void
setup(void)
{
    struct settings s;

    settings_init(&s, MODE_THUMBNAIL);
    cr_assert_eq(img_worker_init(&s), 0);
    tmp = th_mkdtemp();
}

static void
teardown(void)
{
    th_rmrf(tmp);
    free(tmp);
}

TestSuite(icc, .init = setup, .fini = teardown, .timeout = 120);

/* ---- profiles ---------------------------------------------------------- */

/* Adobe RGB (1998) primaries with the gamma @g, for profiles that differ
 * only in their curve. */
static struct th_icc
adobe_gamma(double g)
{
    static const double xy[6] = {0.64, 0.33, 0.21, 0.71, 0.15, 0.06};

    return th_icc_rgb(xy, 1, &g, "gamma variant");
}

static struct th_icc
srgb(void)
{
    return th_icc_save(cmsCreate_sRGBProfile());
}

/* Device values -> Lab through sRGB, for the lookup-table profiles. */
struct lut_cargo {
    cmsHTRANSFORM to_lab;       /* TYPE_RGB_DBL sRGB -> TYPE_Lab_16 */
    int cmyk;
};

static int
lut_sampler(const cmsUInt16Number in[], cmsUInt16Number out[], void *arg)
{
    struct lut_cargo *cargo = arg;
    double rgb[3];
    int k;

    if (cargo->cmyk) {
        /* Each ink darkens its complement, black all: unlike libvips'
         * generic CMYK profile, so using the embedded one shows. */
        double black = 1 - in[3] / 65535.0;

        for (k = 0; k < 3; k++)
            rgb[k] = pow((1 - in[k] / 65535.0) * black, 1.2);
    } else {
        /* A warm cast: a profile whose relative intent is missing. */
        rgb[0] = in[0] / 65535.0;
        rgb[1] = pow(in[1] / 65535.0, 1.1);
        rgb[2] = pow(in[2] / 65535.0, 1.3);
    }
    cmsDoTransform(cargo->to_lab, rgb, out, 1);
    return TRUE;
}

/* A lookup-table profile (CMYK output class with A2B0 and A2B1, or an RGB
 * input class with A2B0 only: perceptual, no relative colorimetric). */
static struct th_icc
lut_profile(int cmyk)
{
    cmsHPROFILE lab = cmsCreateLab4Profile(NULL), s = cmsCreate_sRGBProfile();
    struct lut_cargo cargo = {
        cmsCreateTransform(s, TYPE_RGB_DBL, lab, TYPE_Lab_16,
                           INTENT_RELATIVE_COLORIMETRIC, 0),
        cmyk};
    int in = cmyk ? 4 : 3;
    cmsHPROFILE h = cmsCreateProfilePlaceholder(NULL);
    cmsPipeline *p = cmsPipelineAlloc(NULL, in, 3);
    cmsStage *clut = cmsStageAllocCLut16bit(NULL, cmyk ? 11 : 17, in, 3,
                                            NULL);

    cr_assert(cargo.to_lab && h && p && clut);
    cr_assert(cmsStageSampleCLut16bit(clut, lut_sampler, &cargo, 0));
    /* lutAtoBType: A curves, the table, B curves (identity curves). */
    cmsPipelineInsertStage(p, cmsAT_END, cmsStageAllocToneCurves(NULL, in,
                                                                 NULL));
    cmsPipelineInsertStage(p, cmsAT_END, clut);
    cmsPipelineInsertStage(p, cmsAT_END, cmsStageAllocToneCurves(NULL, 3,
                                                                 NULL));
    cmsSetProfileVersion(h, 4.3);
    cmsSetDeviceClass(h, cmyk ? cmsSigOutputClass : cmsSigInputClass);
    cmsSetColorSpace(h, cmyk ? cmsSigCmykData : cmsSigRgbData);
    cmsSetPCS(h, cmsSigLabData);
    cmsSetHeaderRenderingIntent(h, INTENT_PERCEPTUAL);
    cmsWriteTag(h, cmsSigMediaWhitePointTag, cmsD50_XYZ());
    cr_assert(cmsWriteTag(h, cmsSigAToB0Tag, p));
    if (cmyk)
        cr_assert(cmsWriteTag(h, cmsSigAToB1Tag, p));
    cmsPipelineFree(p);
    cmsDeleteTransform(cargo.to_lab);
    cmsCloseProfile(lab);
    cmsCloseProfile(s);
    return th_icc_save(h);
}

/* ---- charts ------------------------------------------------------------ */

/* A 512x512 chart of @bands-byte patches @patches (16), with @prof
 * embedded unless NULL, written to @name in the temp dir. */
static char *
write_chart(const char *name, const unsigned char *patches, int bands,
            const struct th_icc *prof)
{
    unsigned char *px = malloc((size_t)SIDE * SIDE * bands);
    char *path = th_path(tmp, name), *icc;
    VipsImage *im;
    int x, y, rc;

    for (y = 0; y < SIDE; y++)
        for (x = 0; x < SIDE; x++) {
            unsigned char *d = px + ((size_t)y * SIDE + x) * bands;

            memcpy(d, patches + (size_t)((y / PATCH) * 4 + x / PATCH) * bands,
                   (size_t)bands);
            /* A checkerboard of +-3 keeps each patch's mean and makes the
             * file big enough for in-place recompression to replace. */
            for (int k = 0; chart_dither && k < bands; k++)
                if (d[k] >= 3 && d[k] <= 252)
                    d[k] = (unsigned char)(d[k] + ((x + y) & 1 ? 3 : -3));
        }
    im = vips_image_new_from_memory_copy(px, (size_t)SIDE * SIDE * bands,
                                         SIDE, SIDE, bands,
                                         VIPS_FORMAT_UCHAR);
    free(px);
    cr_assert(im);
    im->Type = bands == 4   ? VIPS_INTERPRETATION_CMYK
               : bands == 1 ? VIPS_INTERPRETATION_B_W
                            : VIPS_INTERPRETATION_sRGB;
    /* Embedded from a file, as `vips copy in out[profile=...]` does. */
    icc = prof ? th_icc_file(tmp, "embed.icc", prof) : NULL;
    if (strstr(name, ".png"))
        rc = vips_pngsave(im, path, "profile", icc, NULL);
    else
        rc = vips_jpegsave(im, path, "Q", 100, "subsample_mode",
                           VIPS_FOREIGN_SUBSAMPLE_OFF, "profile", icc,
                           NULL);
    g_object_unref(im);
    free(icc);
    cr_assert_eq(rc, 0, "cannot write %s: %s", name, vips_error_buffer());
    return path;
}

/* Thumbnail @in to 256 px into "out-@tag" (libvips path with @vips) and
 * read the centre colour of each patch into @got; the record of the file
 * into @colour and @warned. */
static void
thumb_patches(const char *in, const char *tag, int vips,
              double got[NPATCH][3], char colour[64], int *warned)
{
    char *out = th_path(tmp, tag), *report;
    const char *args[] = {"thumbnail", "-s", "256", "-j", "1", "--report",
                          NULL, in, "-o", out,
                          vips ? "--no-fast-path" : NULL, NULL};
    struct th_run r;
    struct th_image img;
    json_t *recs, *rec;
    char *outfile, *slash = strrchr(in, '/'), rname[96];
    int i;

    snprintf(rname, sizeof(rname), "report-%s.jsonl", tag);
    report = th_path(tmp, rname);
    args[6] = report;
    th_run(&r, args);
    cr_assert_eq(r.status, 0, "imgpool failed: %s", r.err);
    th_run_release(&r);
    recs = th_read_jsonl(report);
    rec = th_find_record(recs, slash + 1);
    cr_assert(rec, "no record for %s", in);
    cr_assert_str_eq(th_json_str(rec, "status"), "ok");
    snprintf(colour, 64, "%s",
             th_json_str(rec, "colour") ? th_json_str(rec, "colour") : "");
    *warned = json_object_get(rec, "warnings") != NULL;
    outfile = strdup(th_json_str(rec, "output"));
    json_decref(recs);
    cr_assert_eq(th_decode_jpeg(outfile, &img), 0, "no output %s", outfile);
    cr_assert_eq(img.w, 256);
    cr_assert_eq(img.h, 256);
    for (i = 0; i < NPATCH; i++)
        th_mean_rgb(&img, (i % 4) * 64 + 32, (i / 4) * 64 + 32, 12, got[i]);
    th_image_release(&img);
    free(outfile);
    free(out);
    free(report);
}

static int
have_transicc(void)
{
    return system("transicc -v0 -n </dev/null >/dev/null 2>&1") != 127 &&
           system("command -v transicc >/dev/null 2>&1") == 0;
}

/* transicc's sRGB for @v (@n device values, 0..255) in profile @prof. */
static void
transicc(const char *prof, int intent, const unsigned char *v, int n,
         double out[3])
{
    char cmd[1024], line[256] = "";
    FILE *p;
    int k, len;

    len = snprintf(cmd, sizeof(cmd), "echo '");
    for (k = 0; k < n; k++)
        /* CMYK is given in percent of ink. */
        len += snprintf(cmd + len, sizeof(cmd) - (size_t)len, "%g ",
                        n == 4 ? v[k] * 100.0 / 255.0 : (double)v[k]);
    snprintf(cmd + len, sizeof(cmd) - (size_t)len,
             "' | transicc -i'%s' -o'*sRGB' -t%d -n -s 2>/dev/null", prof,
             intent);
    p = popen(cmd, "r");
    cr_assert(p);
    while (fgets(line, sizeof(line), p))
        ;
    pclose(p);
    cr_assert_eq(sscanf(line, "%lf %lf %lf", &out[0], &out[1], &out[2]), 3,
                 "transicc said '%s' for %s", line, cmd);
}

/* Mean and max absolute difference over patches and channels. */
static void
diff(double a[NPATCH][3], double b[NPATCH][3], double *mean, double *max)
{
    int i, k;

    *mean = *max = 0;
    for (i = 0; i < NPATCH; i++)
        for (k = 0; k < 3; k++) {
            double d = fabs(a[i][k] - b[i][k]);

            *mean += d / (NPATCH * 3);
            if (d > *max)
                *max = d;
        }
}

/* The chart of @patches (@bands) with @prof, thumbnailed on the direct
 * path: its colour record is @want_colour and its patches match transicc
 * with @intent. */
static void
check_against_transicc(const char *name, const unsigned char *patches,
                       int bands, const struct th_icc *embed,
                       const struct th_icc *prof, int intent,
                       const char *want_colour)
{
    double got[NPATCH][3], want[NPATCH][3], mean, max;
    char colour[64], *in, *icc;
    int i, warned;

    if (!have_transicc())
        cr_skip_test("transicc is not installed (package liblcms2-utils)");
    in = write_chart(name, patches, bands, embed);
    icc = th_icc_file(tmp, "profile.icc", prof);
    thumb_patches(in, "out-direct", 0, got, colour, &warned);
    cr_expect_str_eq(colour, want_colour, "%s", name);
    cr_expect_not(warned, "%s: unexpected warning", name);
    for (i = 0; i < NPATCH; i++)
        transicc(icc, intent, patches + (size_t)i * bands, bands, want[i]);
    diff(got, want, &mean, &max);
    cr_log_info("%s against transicc: mean %.2f max %.2f", name, mean, max);
    cr_expect_lt(mean, TRANSICC_MEAN, "%s: mean error %.2f", name, mean);
    cr_expect_lt(max, TRANSICC_MAX, "%s: max error %.2f", name, max);
    free(in);
    free(icc);
}

/* ---- the cache and the sRGB detection ---------------------------------- */

/* Largest channel difference of a real lcms2 relative-colorimetric
 * transform of @prof to sRGB from identity, over a 16^3 chart (not the
 * one icc.c uses). */
static int
real_transform_shift(const struct th_icc *prof)
{
    cmsHPROFILE in = cmsOpenProfileFromMem(prof->data,
                                           (cmsUInt32Number)prof->len);
    cmsHPROFILE s = cmsCreate_sRGBProfile();
    cmsHTRANSFORM x = cmsCreateTransform(in, TYPE_RGB_8, s, TYPE_RGB_8,
                                         INTENT_RELATIVE_COLORIMETRIC,
                                         cmsFLAGS_NOOPTIMIZE);
    static unsigned char chart[4096 * 3], out[4096 * 3];
    int i, worst = 0;

    cr_assert(x);
    for (i = 0; i < 4096; i++) {
        chart[3 * i] = (unsigned char)((i >> 8) * 17);
        chart[3 * i + 1] = (unsigned char)(((i >> 4) & 15) * 17);
        chart[3 * i + 2] = (unsigned char)((i & 15) * 17);
    }
    cmsDoTransform(x, chart, out, 4096);
    for (i = 0; i < 4096 * 3; i++)
        if (abs(out[i] - chart[i]) > worst)
            worst = abs(out[i] - chart[i]);
    cmsDeleteTransform(x);
    cmsCloseProfile(in);
    cmsCloseProfile(s);
    return worst;
}

static void
check_detection(const char *what, const struct th_icc *prof, int srgb_like)
{
    const struct icc_xform *x = icc_lookup(prof->data, prof->len,
                                           ICC_PX_RGB);
    int shift = real_transform_shift(prof);

    cr_log_info("%s: real transform moves the chart by up to %d, outcome %d",
                what, shift, x->outcome);
    if (srgb_like) {
        cr_expect_eq(x->outcome, ICC_IDENTITY, "%s not detected as sRGB",
                     what);
        cr_expect_leq(shift, ICC_IDENTITY_MAX, "%s: detected as sRGB, but "
                      "a real transform moves a colour by %d", what, shift);
    } else {
        cr_expect_eq(x->outcome, ICC_TRANSFORM, "%s taken for sRGB", what);
        cr_expect_gt(shift, 10, "%s: a real transform moves nothing", what);
    }
}

Test(icc, srgb_detection_agrees_with_a_real_transform_on_a_chart)
{
    struct th_icc p = srgb(), a = th_icc_adobe_rgb(), d = th_icc_display_p3();
    VipsBlob *vb = NULL;
    char *file;

    check_detection("lcms2 sRGB", &p, 1);
    check_detection("Adobe RGB", &a, 0);
    check_detection("Display P3", &d, 0);
    /* libvips' own sRGB profile, another IEC61966-2.1 variant. */
    if (vips_profile_load("srgb", &vb, NULL) == 0) {
        struct th_icc v;

        v.data = (void *)vips_blob_get(vb, &v.len);
        check_detection("libvips sRGB", &v, 1);
        vips_area_unref(VIPS_AREA(vb));
    }
    file = strdup("/usr/share/color/icc/sRGB.icc");
    if (th_exists(file)) {
        struct th_icc f;

        f.data = th_read_file(file, &f.len);
        check_detection("icc-profiles-free sRGB.icc", &f, 1);
        free(f.data);
    }
    free(file);
    free(p.data);
    free(a.data);
    free(d.data);
}

Test(icc, fast_tables_agree_with_lcms2)
{
    struct th_icc profs[2] = {th_icc_adobe_rgb(), th_icc_display_p3()};
    cmsHPROFILE s = cmsCreate_sRGBProfile();
    static unsigned char in[65536 * 3], a[65536 * 3], b[65536 * 3];
    int i, p, worst;

    for (i = 0; i < 65536 * 3; i++)
        in[i] = (unsigned char)(rand() & 255);
    for (p = 0; p < 2; p++) {
        const struct icc_xform *x = icc_lookup(profs[p].data, profs[p].len,
                                               ICC_PX_RGB);
        cmsHPROFILE h = cmsOpenProfileFromMem(profs[p].data,
                                              (cmsUInt32Number)profs[p].len);
        cmsHTRANSFORM t = cmsCreateTransform(h, TYPE_RGB_8, s, TYPE_RGB_8,
                                             INTENT_RELATIVE_COLORIMETRIC,
                                             cmsFLAGS_NOOPTIMIZE);

        cr_assert_eq(x->outcome, ICC_TRANSFORM);
        cr_expect(x->fast != NULL, "matrix/TRC profile %d not on tables", p);
        icc_apply(x, in, a, 65536);
        cmsDoTransform(t, in, b, 65536);
        for (worst = 0, i = 0; i < 65536 * 3; i++)
            if (abs(a[i] - b[i]) > worst)
                worst = abs(a[i] - b[i]);
        cr_expect_leq(worst, 1, "profile %d: tables off by %d", p, worst);
        cmsDeleteTransform(t);
        cmsCloseProfile(h);
        free(profs[p].data);
    }
    cmsCloseProfile(s);
}

Test(icc, transforms_are_built_once_per_profile_and_evicted_lru)
{
    struct th_icc a = th_icc_adobe_rgb(), g[ICC_CACHE_SIZE];
    unsigned long n0;
    int i;

    icc_cache_clear();
    n0 = icc_builds();
    icc_lookup(a.data, a.len, ICC_PX_RGB);
    icc_lookup(a.data, a.len, ICC_PX_RGB);
    cr_expect_eq(icc_builds(), n0 + 1, "the second lookup built again");
    icc_lookup(a.data, a.len, ICC_PX_RGBA);
    cr_expect_eq(icc_builds(), n0 + 2, "another layout is another entry");
    /* Fill the cache with other profiles: Adobe RGB (least recent) goes
     * first, the RGBA entry later. */
    for (i = 0; i < ICC_CACHE_SIZE - 1; i++) {
        g[i] = adobe_gamma(1.5 + 0.1 * i);
        icc_lookup(g[i].data, g[i].len, ICC_PX_RGB);
        icc_lookup(a.data, a.len, ICC_PX_RGBA);
    }
    n0 = icc_builds();
    icc_lookup(a.data, a.len, ICC_PX_RGBA);
    cr_expect_eq(icc_builds(), n0, "a recently used entry was evicted");
    icc_lookup(a.data, a.len, ICC_PX_RGB);
    cr_expect_eq(icc_builds(), n0 + 1, "the LRU entry was not evicted");
    for (i = 0; i < ICC_CACHE_SIZE - 1; i++)
        free(g[i].data);
    free(a.data);
}

Test(icc, broken_and_mismatched_profiles_are_unusable)
{
    struct th_icc a = th_icc_adobe_rgb();
    unsigned char junk[400];
    const struct icc_xform *x;

    memset(junk, 0x5a, sizeof(junk));
    x = icc_lookup(junk, sizeof(junk), ICC_PX_RGB);
    cr_expect_eq(x->outcome, ICC_UNUSABLE);
    cr_expect(x->why && strstr(x->why, "unreadable"));
    x = icc_lookup(a.data, a.len, ICC_PX_GREY);
    cr_expect_eq(x->outcome, ICC_UNUSABLE, "an RGB profile on grey pixels");
    x = icc_lookup(a.data, a.len, ICC_PX_CMYK);
    cr_expect_eq(x->outcome, ICC_UNUSABLE, "an RGB profile on CMYK pixels");
    free(a.data);
}

/* ---- whole files against transicc -------------------------------------- */

Test(icc, srgb_tagged_jpeg_is_left_alone)
{
    struct th_icc p = srgb();

    check_against_transicc("srgb.jpg", &rgb_patches[0][0], 3, &p, &p, 1,
                           "srgb-profile");
    free(p.data);
}

Test(icc, adobe_rgb_jpeg_matches_transicc)
{
    struct th_icc p = th_icc_adobe_rgb();

    check_against_transicc("adobe.jpg", &rgb_patches[0][0], 3, &p, &p, 1,
                           "icc:relative");
    free(p.data);
}

Test(icc, display_p3_jpeg_matches_transicc)
{
    struct th_icc p = th_icc_display_p3();

    check_against_transicc("p3.jpg", &rgb_patches[0][0], 3, &p, &p, 1,
                           "icc:relative");
    free(p.data);
}

Test(icc, adobe_rgb_png_matches_transicc)
{
    struct th_icc p = th_icc_adobe_rgb();

    check_against_transicc("adobe.png", &rgb_patches[0][0], 3, &p, &p, 1,
                           "icc:relative");
    free(p.data);
}

Test(icc, cmyk_jpeg_with_profile_matches_transicc)
{
    struct th_icc p = lut_profile(1);

    check_against_transicc("cmyk.jpg", &cmyk_patches[0][0], 4, &p, &p, 1,
                           "cmyk:profile");
    free(p.data);
}

Test(icc, profile_without_relative_intent_falls_back_to_perceptual)
{
    struct th_icc p = lut_profile(0);

    check_against_transicc("perceptual.jpg", &rgb_patches[0][0], 3, &p, &p,
                           0, "icc:perceptual");
    free(p.data);
}

Test(icc, grey_jpeg_with_grey_profile_is_converted)
{
    static const unsigned char grey[NPATCH] = {0,   16,  32,  48,  64,  80,
                                               96,  112, 128, 144, 160, 176,
                                               192, 208, 224, 255};
    struct th_icc p = th_icc_linear_grey();

    check_against_transicc("grey.jpg", grey, 1, &p, &p, 1, "icc:relative");
    free(p.data);
}

/* ---- unusable profiles ------------------------------------------------- */

Test(icc, grey_jpeg_with_an_rgb_profile_is_kept_with_a_warning)
{
    static const unsigned char grey[NPATCH] = {0,   16,  32,  48,  64,  80,
                                               96,  112, 128, 144, 160, 176,
                                               192, 208, 224, 255};
    struct th_icc p = th_icc_adobe_rgb();
    double got[NPATCH][3];
    char colour[64], *in;
    int i, warned;

    in = write_chart("grey-rgbprof.jpg", grey, 1, &p);
    thumb_patches(in, "out-grey", 0, got, colour, &warned);
    cr_expect_str_eq(colour, "none:unusable-profile");
    cr_expect(warned, "no warning for an unusable profile");
    for (i = 0; i < NPATCH; i++)
        cr_expect(th_rgb_near(got[i], grey[i], grey[i], grey[i], 1.5),
                  "patch %d: %.1f, want %d untouched", i, got[i][0],
                  grey[i]);
    free(in);
    free(p.data);
}

/* ---- against the libvips path ------------------------------------------ */

static void
check_against_vips(const char *name, const unsigned char *patches,
                   int bands, const struct th_icc *prof, double max_mean,
                   double max_max)
{
    double direct[NPATCH][3], vips[NPATCH][3], mean, max;
    char colour[64], *in;
    int warned;

    in = write_chart(name, patches, bands, prof);
    thumb_patches(in, "out-direct", 0, direct, colour, &warned);
    cr_expect_neq(colour[0], '\0', "%s: no colour record", name);
    thumb_patches(in, "out-vips", 1, vips, colour, &warned);
    diff(direct, vips, &mean, &max);
    for (int i = 0; i < NPATCH; i++)
        cr_log_info("%s patch %d: direct %.1f %.1f %.1f libvips %.1f %.1f "
                    "%.1f", name, i, direct[i][0], direct[i][1],
                    direct[i][2], vips[i][0], vips[i][1], vips[i][2]);
    cr_log_info("%s direct against libvips: mean %.2f max %.2f", name, mean,
                max);
    cr_expect_lt(mean, max_mean, "%s: mean difference %.2f", name, mean);
    cr_expect_lt(max, max_max, "%s: max difference %.2f", name, max);
    free(in);
}

Test(icc, direct_path_matches_libvips_on_tagged_inputs)
{
    struct th_icc a = th_icc_adobe_rgb(), d = th_icc_display_p3();

    check_against_vips("adobe.jpg", &rgb_patches[0][0], 3, &a,
                       LIBVIPS_MEAN, LIBVIPS_MAX);
    check_against_vips("p3.jpg", &rgb_patches[0][0], 3, &d, LIBVIPS_MEAN,
                       LIBVIPS_MAX);
    check_against_vips("adobe.png", &rgb_patches[0][0], 3, &a,
                       LIBVIPS_MEAN, LIBVIPS_MAX);
    /* Untagged CMYK: both use libvips' generic CMYK profile, but libvips
     * lands up to 9 levels off transicc on saturated patches where the
     * direct path does not (cmyk_jpeg_without_profile_...): looser. */
    check_against_vips("cmyk-generic.jpg", &cmyk_patches[0][0], 4, NULL,
                       LIBVIPS_CMYK_MEAN, LIBVIPS_CMYK_MAX);
    /* Not CMYK with an embedded profile: libvips 8.14 ignores that
     * profile (its result equals the untagged one); transicc is the
     * reference there (cmyk_jpeg_with_profile_matches_transicc). */
    free(a.data);
    free(d.data);
}

Test(icc, cmyk_jpeg_without_profile_uses_the_generic_profile)
{
    VipsBlob *vb = NULL;
    struct th_icc g;

    if (vips_profile_load("cmyk", &vb, NULL) != 0)
        cr_skip_test("libvips has no built-in CMYK profile");
    g.data = (void *)vips_blob_get(vb, &g.len);
    /* The chart carries no profile; transicc gets the generic one. */
    check_against_transicc("cmyk-generic.jpg", &cmyk_patches[0][0], 4,
                           NULL, &g, 1, "cmyk:generic");
    vips_area_unref(VIPS_AREA(vb));
}

/* ---- recompression ------------------------------------------------------ */

Test(icc, recompress_to_srgb_converts_with_the_same_transforms)
{
    struct th_icc p = th_icc_adobe_rgb();
    double got[NPATCH][3], want[NPATCH][3], mean, max;
    char *in, *icc, *report = th_path(tmp, "report-ip.jsonl");
    const char *args[] = {"recompress", "--in-place", "--to-srgb", "--force",
                          "--report", report, NULL, NULL};
    struct th_image img;
    struct th_run r;
    VipsImage *out;
    const void *data;
    size_t len;
    int i;

    if (!have_transicc())
        cr_skip_test("transicc is not installed (package liblcms2-utils)");
    chart_dither = 1;
    in = write_chart("ip.jpg", &rgb_patches[0][0], 3, &p);
    chart_dither = 0;
    icc = th_icc_file(tmp, "profile.icc", &p);
    args[6] = in;
    th_run(&r, args);
    cr_assert_eq(r.status, 0, "imgpool failed: %s", r.err);
    th_run_release(&r);
    cr_assert_eq(th_decode_jpeg(in, &img), 0);
    for (i = 0; i < NPATCH; i++) {
        th_mean_rgb(&img, (i % 4) * PATCH + PATCH / 2,
                    (i / 4) * PATCH + PATCH / 2, 12, got[i]);
        transicc(icc, 1, rgb_patches[i], 3, want[i]);
    }
    th_image_release(&img);
    diff(got, want, &mean, &max);
    cr_log_info("in-place --to-srgb against transicc: mean %.2f max %.2f",
                mean, max);
    cr_expect_lt(mean, TRANSICC_MEAN, "mean error %.2f", mean);
    cr_expect_lt(max, TRANSICC_MAX, "max error %.2f", max);
    /* The profile now says sRGB. */
    out = vips_image_new_from_file(in, NULL);
    cr_assert(out);
    cr_assert_eq(vips_image_get_blob(out, VIPS_META_ICC_NAME, &data, &len),
                 0, "no profile on the converted file");
    cr_expect_eq(icc_lookup(data, len, ICC_PX_RGB)->outcome, ICC_IDENTITY,
                 "the converted file's profile is not sRGB");
    g_object_unref(out);
    free(in);
    free(icc);
    free(report);
    free(p.data);
}

/* ---- the real-file corpus ----------------------------------------------- */

/* Thumbnail corpus file @name on the direct path; its pixels. */
static void
corpus_thumb(const char *name, struct th_image *img, char colour[64])
{
    char *in = th_path(th_corpus_dir(), name), *out = th_path(tmp, "corpus");
    char *report = th_path(tmp, "report-corpus.jsonl");
    const char *args[] = {"thumbnail", "-j", "1", "--report", report, in,
                          "-o", out, NULL};
    struct th_run r;
    json_t *recs, *rec;

    th_run(&r, args);
    cr_assert_eq(r.status, 0, "imgpool failed: %s", r.err);
    th_run_release(&r);
    recs = th_read_jsonl(report);
    rec = th_find_record(recs, name);
    cr_assert(rec && th_json_str(rec, "output"), "no record for %s", name);
    snprintf(colour, 64, "%s",
             th_json_str(rec, "colour") ? th_json_str(rec, "colour") : "");
    cr_assert_eq(th_decode_jpeg(th_json_str(rec, "output"), img), 0);
    json_decref(recs);
    free(in);
    free(out);
    free(report);
}

Test(icc, cmyk_jpeg_without_adobe_marker_is_read_as_inverted)
{
    struct th_image a, b;
    char colour[64];
    double sum = 0;
    size_t i, n;

    if (!th_corpus_dir())
        cr_skip_test("the shared corpus is absent");
    /* The same Pillow CMYK JPEG with and without its APP14 marker. */
    corpus_thumb("derived_cmyk_adobe.jpg", &a, colour);
    cr_expect_str_eq(colour, "cmyk:generic");
    corpus_thumb("derived_cmyk_no_adobe.jpg", &b, colour);
    cr_expect_str_eq(colour, "cmyk:generic");
    cr_assert(a.w == b.w && a.h == b.h);
    n = (size_t)a.w * a.h * 3;
    for (i = 0; i < n; i++)
        sum += abs(a.px[i] - b.px[i]);
    cr_expect_lt(sum / n, 1.0, "mean difference %.2f", sum / n);
    th_image_release(&a);
    th_image_release(&b);
}

/* lcms2's sRGB dressed as an edited copy of ICC's sRGB (the
 * sRGB_IEC61966-2-1_black_scaled.icc length, intent and profile ID, other
 * bytes): libpng then warns "iCCP: Not recognizing known sRGB profile
 * that has been edited", which many ordinary PNGs trigger. */
static struct th_icc
edited_known_srgb(void)
{
    static const unsigned char id[16] = {
        0x29, 0xf8, 0x3d, 0xde, 0xaf, 0xf2, 0x55, 0xae,
        0x78, 0x42, 0xfa, 0xe4, 0xca, 0x83, 0x39, 0x0d};
    struct th_icc b = srgb();
    unsigned char *p;

    cr_assert_leq(b.len, 3048);
    p = calloc(1, 3048);
    memcpy(p, b.data, b.len);
    free(b.data);
    p[0] = 0;
    p[1] = 0;
    p[2] = 3048 >> 8;
    p[3] = 3048 & 0xff;
    memset(p + 64, 0, 4);           /* perceptual */
    memcpy(p + 84, id, sizeof(id));
    b.data = p;
    b.len = 3048;
    return b;
}

/* That libpng message is no fault of the file: no warning on the record,
 * on either path, and --fail-on warning lets the file through. */
Test(icc, libpng_edited_srgb_notice_is_not_a_warning)
{
    struct th_icc p = edited_known_srgb();
    char *png = write_chart("edited.png", &rgb_patches[0][0], 3, &p);
    char *out = th_path(tmp, "strict"), *report = th_path(tmp, "strict.jsonl");
    const char *strict[] = {"thumbnail", "--fail-on", "warning", "--report",
                            report, png, "-o", out, NULL};
    double got[NPATCH][3];
    char colour[64];
    int warned;
    struct th_run r;
    json_t *recs, *rec;

    thumb_patches(png, "fast", 0, got, colour, &warned);
    cr_assert_not(warned, "fast path: a warning for libpng's notice");
    thumb_patches(png, "vips", 1, got, colour, &warned);
    cr_assert_not(warned, "libvips path: a warning for libpng's notice");
    th_run(&r, strict);
    cr_assert_eq(r.status, 0, "--fail-on warning: %s", r.err);
    th_run_release(&r);
    recs = th_read_jsonl(report);
    rec = th_find_record(recs, "edited.png");
    cr_assert_str_eq(th_json_str(rec, "status"), "ok");
    json_decref(recs);
    free(out);
    free(report);
    free(png);
    free(p.data);
}
