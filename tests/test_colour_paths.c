/*
 * test_colour_paths.c - one colour stage for every decoder: the same file
 * gives the same colours and the same record `colour` through the direct
 * decoders and through libvips (--no-fast-path), and both match lcms2.
 *
 * Profiles are made with lcms2: Display P3 and Adobe RGB (1998)
 * (matrix/TRC, from helpers.h), a perceptual-only lookup-table profile
 * (A2B0 and B2A0, no relative colorimetric tables: libvips' own relative
 * transform refuses it) and an XYB-like one shaped as jpegli's XYB profile
 * is: an RGB input profile with only A2B0, non-trivial A curves and a 3D
 * table that undoes the XYB encoding (opsin mixing, cube roots, scaled
 * X/Y/B-Y channels) into the PCS.  Charts of 16 uniform 64 px patches
 * carry them as JPEG (Q100, no subsampling; YCbCr, and RGB-coded as
 * jpegli's XYB JPEGs are), 8- and 16-bit PNG, TIFF and lossless WebP;
 * `thumbnail -s 128` and `recompress -o` run on both paths, and the
 * centre of every output patch is compared:
 *   - between the paths: every channel within PATHS_MAX (2) levels;
 *   - with cmsDoTransform() in this process on the chart's device values
 *     (relative colorimetric where the profile has it, else perceptual):
 *     every channel within LCMS_MAX (2) levels.
 * The encoder's Q100 adds under a level on uniform patches.  Then every
 * ICC-tagged file of testdata/ and ../shared/corpus/ (when present) goes
 * through both paths: the same status and `colour`, the mean colour of
 * the whole output within MEAN_MAX (2) levels per channel, and the means
 * of a 4x4 grid of cells within BLOCK_MAX (3): the two paths resample
 * with different code (the direct decoders' Lanczos after DCT scaling,
 * libvips' shrink-on-load and vips_resize), which alone moves a cell of
 * a hard-edged chart behind a steep perceptual table by up to 3 levels
 * at 128 px (1 level at 400 px).
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jpeglib.h>
#include <lcms2.h>
#include <vips/vips.h>

#include "helpers.h"

#define PATHS_MAX 2.0
#define LCMS_MAX 2.0
#define MEAN_MAX 2.0
#define BLOCK_MAX 3.0

#define NPATCH 16
#define PATCH 64
#define SIDE (4 * PATCH)

/* Device values of the chart (in the profile's space, not sRGB). */
static const unsigned char chart[NPATCH][3] = {
    {230, 30, 30},   {30, 200, 40},   {40, 50, 220},   {240, 230, 40},
    {40, 220, 230},  {220, 40, 210},  {128, 128, 128}, {200, 100, 50},
    {50, 100, 200},  {30, 180, 90},   {240, 220, 200}, {25, 25, 25},
    {235, 235, 235}, {180, 40, 120},  {100, 60, 30},   {60, 200, 220},
};

static char *tmp;

static void
setup(void)
{
    if (VIPS_INIT("test_colour_paths"))
        cr_assert_fail("cannot start libvips");
    tmp = th_mkdtemp();
}

static void
teardown(void)
{
    th_rmrf(tmp);
    free(tmp);
}

TestSuite(colour_paths, .init = setup, .fini = teardown, .timeout = 300);

/* ---- profiles ---------------------------------------------------------- */

/* What the tables of a lookup-table profile compute. */
enum lut_kind { LUT_WARM, LUT_WARM_INVERSE, LUT_XYB };

struct lut_cargo {
    cmsHTRANSFORM xf;   /* linear or gamma sRGB (double) <-> Lab16 */
    enum lut_kind kind;
    cmsToneCurve *const *undo;  /* the A curves inverted, or NULL */
};

/* The XYB encoding undone: scaled X, Y, B-Y (0..1) to linear sRGB. */
static void
xyb_to_linear(const double v[3], double rgb[3])
{
    static const double inv[9] = {
        /* the inverse of the opsin mixing matrix below */
        11.031566901960783, -9.866943921568629, -0.16462299647058826,
        -3.254147380392157, 4.418770392156863, -0.16462299647058826,
        -3.6588512862745097, 2.7129230470588235, 1.9459282392156863};
    const double bias = 0.0037930732552754493, cb = cbrt(bias);
    double x = v[0] / 22.995788804 - 0.015386134;
    double y = v[1] / 1.183000077;
    double b = v[2] / 1.502141333 - 0.27770459 + y;
    double lms[3] = {y + x, y - x, b};
    int k;

    for (k = 0; k < 3; k++) {
        double c = lms[k] + cb;

        lms[k] = c * c * c - bias;
    }
    for (k = 0; k < 3; k++) {
        double s = inv[3 * k] * lms[0] + inv[3 * k + 1] * lms[1] +
                   inv[3 * k + 2] * lms[2];

        rgb[k] = s < 0 ? 0 : s > 1 ? 1 : s;
    }
}

static int
lut_sampler(const cmsUInt16Number in[], cmsUInt16Number out[], void *arg)
{
    struct lut_cargo *c = arg;
    double v[3], rgb[3];
    int k;

    for (k = 0; k < 3; k++)
        v[k] = c->undo ? cmsEvalToneCurveFloat(c->undo[k],
                                               (cmsFloat32Number)(in[k] /
                                                                  65535.0))
                       : in[k] / 65535.0;
    switch (c->kind) {
    case LUT_WARM:
        /* A warm cast, device -> Lab (through gamma sRGB). */
        rgb[0] = v[0];
        rgb[1] = pow(v[1], 1.15);
        rgb[2] = pow(v[2], 1.35);
        cmsDoTransform(c->xf, rgb, out, 1);
        return TRUE;
    case LUT_WARM_INVERSE: {
        /* Lab -> device: sRGB from Lab, then the cast undone. */
        double lab[3];

        cmsLabEncoded2Float((cmsCIELab *)lab, in);
        cmsDoTransform(c->xf, lab, rgb, 1);
        out[0] = (cmsUInt16Number)lrint(fmin(fmax(rgb[0], 0), 1) * 65535);
        out[1] = (cmsUInt16Number)lrint(
            pow(fmin(fmax(rgb[1], 0), 1), 1 / 1.15) * 65535);
        out[2] = (cmsUInt16Number)lrint(
            pow(fmin(fmax(rgb[2], 0), 1), 1 / 1.35) * 65535);
        return TRUE;
    }
    case LUT_XYB:
        xyb_to_linear(v, rgb);
        cmsDoTransform(c->xf, rgb, out, 1);
        return TRUE;
    }
    return FALSE;
}

/* A 3 -> 3 table sampled from @kind, with @a (or identity) curves before
 * it and identity curves after it: a lutAtoBType/lutBtoAType pipeline. */
static cmsPipeline *
lut_pipeline(enum lut_kind kind, int grid, cmsToneCurve *const *a,
             cmsToneCurve *const *undo)
{
    cmsHPROFILE lab = cmsCreateLab4Profile(NULL), s;
    cmsPipeline *p = cmsPipelineAlloc(NULL, 3, 3);
    cmsStage *clut = cmsStageAllocCLut16bit(NULL, (cmsUInt32Number)grid, 3,
                                            3, NULL);
    struct lut_cargo c = {NULL, kind, undo};

    if (kind == LUT_XYB) {
        cmsCIExyY d65;
        cmsCIExyYTRIPLE prim = {{0.64, 0.33, 1}, {0.30, 0.60, 1},
                                {0.15, 0.06, 1}};
        cmsToneCurve *lin = cmsBuildGamma(NULL, 1.0);
        cmsToneCurve *l3[3] = {lin, lin, lin};

        cmsWhitePointFromTemp(&d65, 6504);
        s = cmsCreateRGBProfile(&d65, &prim, l3);
        cmsFreeToneCurve(lin);
    } else {
        s = cmsCreate_sRGBProfile();
    }
    c.xf = kind == LUT_WARM_INVERSE
               ? cmsCreateTransform(lab, TYPE_Lab_DBL, s, TYPE_RGB_DBL,
                                    INTENT_RELATIVE_COLORIMETRIC, 0)
               : cmsCreateTransform(s, TYPE_RGB_DBL, lab, TYPE_Lab_16,
                                    INTENT_RELATIVE_COLORIMETRIC, 0);
    cr_assert(c.xf && p && clut);
    cr_assert(cmsStageSampleCLut16bit(clut, lut_sampler, &c, 0));
    cmsPipelineInsertStage(p, cmsAT_END, cmsStageAllocToneCurves(NULL, 3, a));
    cmsPipelineInsertStage(p, cmsAT_END, clut);
    cmsPipelineInsertStage(p, cmsAT_END,
                           cmsStageAllocToneCurves(NULL, 3, NULL));
    cmsDeleteTransform(c.xf);
    cmsCloseProfile(lab);
    cmsCloseProfile(s);
    return p;
}

/* An RGB input profile, PCS Lab, version 4, with the tables given. */
static struct th_icc
lut_profile(cmsPipeline *a2b0, cmsPipeline *b2a0)
{
    cmsHPROFILE h = cmsCreateProfilePlaceholder(NULL);

    cmsSetProfileVersion(h, 4.3);
    cmsSetDeviceClass(h, cmsSigInputClass);
    cmsSetColorSpace(h, cmsSigRgbData);
    cmsSetPCS(h, cmsSigLabData);
    cmsSetHeaderRenderingIntent(h, INTENT_PERCEPTUAL);
    cmsWriteTag(h, cmsSigMediaWhitePointTag, cmsD50_XYZ());
    cr_assert(cmsWriteTag(h, cmsSigAToB0Tag, a2b0));
    if (b2a0)
        cr_assert(cmsWriteTag(h, cmsSigBToA0Tag, b2a0));
    cmsPipelineFree(a2b0);
    if (b2a0)
        cmsPipelineFree(b2a0);
    return th_icc_save(h);
}

static struct th_icc
perceptual_only(void)
{
    return lut_profile(lut_pipeline(LUT_WARM, 17, NULL, NULL),
                       lut_pipeline(LUT_WARM_INVERSE, 17, NULL, NULL));
}

/* XYB-like: A curves (a gamma per channel, so the table is not reached
 * linearly), then the XYB table (sampled through the curves' inverse, so
 * the profile maps device values by xyb_to_linear()); A2B0 only. */
static struct th_icc
xyb_like(void)
{
    cmsToneCurve *a[3] = {cmsBuildGamma(NULL, 1.0), cmsBuildGamma(NULL, 0.8),
                          cmsBuildGamma(NULL, 1.25)};
    cmsToneCurve *undo[3];
    cmsPipeline *p;
    int k;

    for (k = 0; k < 3; k++)
        undo[k] = cmsReverseToneCurve(a[k]);
    p = lut_pipeline(LUT_XYB, 33, a, undo);
    for (k = 0; k < 3; k++) {
        cmsFreeToneCurve(a[k]);
        cmsFreeToneCurve(undo[k]);
    }
    return lut_profile(p, NULL);
}

/* ---- charts and runs --------------------------------------------------- */

/* @px (@w x @h RGB) as an RGB-coded JPEG with @prof, as jpegli writes
 * its XYB JPEGs: components named 'R', 'G', 'B', no YCbCr transform, no
 * JFIF or Adobe marker; Q100, no subsampling. */
static void
write_rgb_jpeg(const char *path, const unsigned char *px, int w, int h,
               const struct th_icc *prof)
{
    struct jpeg_compress_struct c;
    struct jpeg_error_mgr err;
    FILE *f = fopen(path, "wb");
    int y;

    cr_assert(f);
    c.err = jpeg_std_error(&err);
    jpeg_create_compress(&c);
    jpeg_stdio_dest(&c, f);
    c.image_width = (JDIMENSION)w;
    c.image_height = (JDIMENSION)h;
    c.input_components = 3;
    c.in_color_space = JCS_RGB;
    jpeg_set_defaults(&c);
    jpeg_set_colorspace(&c, JCS_RGB);
    c.write_JFIF_header = FALSE;
    c.write_Adobe_marker = FALSE;
    jpeg_set_quality(&c, 100, TRUE);
    jpeg_start_compress(&c, TRUE);
    jpeg_write_icc_profile(&c, prof->data, (unsigned int)prof->len);
    for (y = 0; y < h; y++) {
        JSAMPROW row = (JSAMPROW)(px + (size_t)y * w * 3);

        jpeg_write_scanlines(&c, &row, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    fclose(f);
}

/* The chart with @prof embedded, as @name (.jpg, .png, .tif, .webp);
 * 16-bit samples when @deep. */
static char *
write_chart(const char *dir, const char *name, const struct th_icc *prof,
            int deep)
{
    unsigned char *px = malloc((size_t)SIDE * SIDE * 3);
    char *path = th_path(dir, name);
    char *icc = th_icc_file(tmp, "embed.icc", prof);
    VipsImage *im, *x;
    int i, rc;

    for (i = 0; i < SIDE * SIDE; i++) {
        int y = i / SIDE, xx = i % SIDE;

        memcpy(px + 3 * (size_t)i, chart[(y / PATCH) * 4 + xx / PATCH], 3);
    }
    if (strstr(name, "-rgb.jpg")) {
        write_rgb_jpeg(path, px, SIDE, SIDE, prof);
        free(px);
        free(icc);
        return path;
    }
    im = vips_image_new_from_memory_copy(px, (size_t)SIDE * SIDE * 3, SIDE,
                                         SIDE, 3, VIPS_FORMAT_UCHAR);
    free(px);
    cr_assert(im);
    x = im;
    if (deep) {
        cr_assert_eq(vips_cast(im, &x, VIPS_FORMAT_USHORT, "shift", TRUE,
                               NULL), 0);
        x->Type = VIPS_INTERPRETATION_RGB16;
    }
    if (strstr(name, ".png"))
        rc = vips_pngsave(x, path, "profile", icc, NULL);
    else if (strstr(name, ".tif"))
        rc = vips_tiffsave(x, path, "profile", icc, NULL);
    else if (strstr(name, ".webp"))
        rc = vips_webpsave(x, path, "lossless", TRUE, "profile", icc, NULL);
    else
        rc = vips_jpegsave(x, path, "Q", 100, "subsample_mode",
                           VIPS_FOREIGN_SUBSAMPLE_OFF, "profile", icc, NULL);
    cr_assert_eq(rc, 0, "cannot write %s: %s", name, vips_error_buffer());
    if (x != im)
        g_object_unref(x);
    g_object_unref(im);
    free(icc);
    return path;
}

/* Run imgpool @cmd (thumbnail -s 128, or recompress) on @in into @out;
 * --no-fast-path with @vips.  The parsed report. */
static json_t *
run(const char *cmd, const char *in, const char *out, int vips)
{
    char *report = th_asprintf("%s.jsonl", out);
    int thumb = strcmp(cmd, "thumbnail") == 0;
    const char *args[16];
    struct th_run r;
    json_t *recs;
    int n = 0;

    args[n++] = cmd;
    if (thumb) {
        args[n++] = "-s";
        args[n++] = "128";
    }
    args[n++] = "-q";
    args[n++] = "100";
    args[n++] = "-j";
    args[n++] = "2";
    args[n++] = "--report";
    args[n++] = report;
    if (vips)
        args[n++] = "--no-fast-path";
    args[n++] = in;
    args[n++] = "-o";
    args[n++] = out;
    args[n] = NULL;
    th_run(&r, args);
    cr_assert(r.status == 0 || r.status == 1, "imgpool %s: exit %d: %s", cmd,
              r.status, r.err);
    th_run_release(&r);
    recs = th_read_jsonl(report);
    free(report);
    return recs;
}

/* The one record of a run on a single file: its colour into @colour and
 * the centre colour of each patch of its output into @got. */
static void
patches_of(json_t *recs, const char *name, int side, double got[NPATCH][3],
           char colour[64])
{
    json_t *rec = th_record(recs, name);
    const char *c = th_json_str(rec, "colour");
    struct th_image img;
    int i, p = side / 4;

    cr_assert_str_eq(th_json_str(rec, "status"), "ok", "%s: %s", name,
                     json_dumps(rec, 0));
    snprintf(colour, 64, "%s", c ? c : "");
    cr_assert_eq(th_decode_jpeg(th_json_str(rec, "output"), &img), 0);
    cr_assert_eq(img.w, side, "%s: width %d", name, img.w);
    cr_assert_eq(img.h, side);
    for (i = 0; i < NPATCH; i++)
        th_mean_rgb(&img, (i % 4) * p + p / 2, (i / 4) * p + p / 2, p / 5,
                    got[i]);
    th_image_release(&img);
}

/* lcms2's sRGB for the chart in @prof: relative colorimetric where the
 * profile has it, else perceptual; the intent's word into @word. */
static void
lcms_chart(const struct th_icc *prof, const unsigned char dev[NPATCH][3],
           double want[NPATCH][3], const char **word)
{
    cmsHPROFILE in = cmsOpenProfileFromMem(prof->data,
                                           (cmsUInt32Number)prof->len);
    cmsHPROFILE s = cmsCreate_sRGBProfile();
    int intent = cmsIsIntentSupported(in, INTENT_RELATIVE_COLORIMETRIC,
                                      LCMS_USED_AS_INPUT)
                     ? INTENT_RELATIVE_COLORIMETRIC
                     : INTENT_PERCEPTUAL;
    cmsHTRANSFORM x = cmsCreateTransform(in, TYPE_RGB_8, s, TYPE_RGB_DBL,
                                         (cmsUInt32Number)intent, 0);
    int i, k;

    cr_assert(x);
    for (i = 0; i < NPATCH; i++) {
        double v[3];

        cmsDoTransform(x, dev[i], v, 1);
        for (k = 0; k < 3; k++)
            want[i][k] = fmin(fmax(v[k], 0), 1) * 255;
    }
    *word = intent == INTENT_PERCEPTUAL ? "icc:perceptual" : "icc:relative";
    cmsDeleteTransform(x);
    cmsCloseProfile(in);
    cmsCloseProfile(s);
}

static double
worst(double a[NPATCH][3], double b[NPATCH][3], int *at)
{
    double m = 0;
    int i, k;

    for (i = 0; i < NPATCH; i++)
        for (k = 0; k < 3; k++)
            if (fabs(a[i][k] - b[i][k]) > m) {
                m = fabs(a[i][k] - b[i][k]);
                *at = i;
            }
    return m;
}

/* The device values of each patch centre of chart file @path: the JPEG
 * decoded (lossy even at Q100 on saturated colours), the other formats
 * are lossless. */
static void
device_values(const char *path, unsigned char dev[NPATCH][3])
{
    struct th_image img;
    double m[3];
    int i, k;

    memcpy(dev, chart, sizeof(chart));
    if (!strstr(path, ".jpg"))
        return;
    cr_assert_eq(th_decode_jpeg(path, &img), 0);
    for (i = 0; i < NPATCH; i++) {
        th_mean_rgb(&img, (i % 4) * PATCH + PATCH / 2,
                    (i / 4) * PATCH + PATCH / 2, PATCH / 5, m);
        for (k = 0; k < 3; k++)
            dev[i][k] = (unsigned char)lrint(m[k]);
    }
    th_image_release(&img);
}

/* The chart in @prof as every format, through @cmd on both paths. */
static void
check_profile(const char *tag, const struct th_icc *prof, const char *cmd)
{
    static const char *const names[] = {"c.jpg", "c-rgb.jpg", "c.png",
                                        "c16.png", "c.tif", "c.webp"};
    int thumb = strcmp(cmd, "thumbnail") == 0, side = thumb ? 128 : SIDE;
    double want[NPATCH][3], direct[NPATCH][3], vips[NPATCH][3], d;
    char *dir = th_path(tmp, tag), *in, *od, *ov;
    char cd[64], cv[64];
    const char *word;
    json_t *rd, *rv;
    size_t i;
    int at = 0;

    unsigned char dev[6][NPATCH][3];

    th_mkdirs(dir);
    in = th_path(dir, "in");
    th_mkdirs(in);
    for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        char *path = write_chart(in, names[i], prof,
                                 strstr(names[i], "16") != NULL);

        device_values(path, dev[i]);
        free(path);
    }
    od = th_path(dir, "direct");
    ov = th_path(dir, "vips");
    rd = run(cmd, in, od, 0);
    rv = run(cmd, in, ov, 1);
    for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        lcms_chart(prof, dev[i], want, &word);
        patches_of(rd, names[i], side, direct, cd);
        patches_of(rv, names[i], side, vips, cv);
        cr_expect_str_eq(cd, word, "%s %s %s: direct colour", tag, cmd,
                         names[i]);
        cr_expect_str_eq(cv, word, "%s %s %s: libvips colour", tag, cmd,
                         names[i]);
        d = worst(direct, vips, &at);
        cr_log_info("%s %s %s: paths differ by %.1f", tag, cmd, names[i], d);
        cr_expect_leq(d, PATHS_MAX, "%s %s %s: paths differ by %.1f at "
                      "patch %d", tag, cmd, names[i], d, at);
        d = worst(vips, want, &at);
        cr_expect_leq(d, LCMS_MAX, "%s %s %s: libvips path %.1f from lcms2 "
                      "at patch %d (%.0f %.0f %.0f, want %.0f %.0f %.0f)",
                      tag, cmd, names[i], d, at, vips[at][0], vips[at][1],
                      vips[at][2], want[at][0], want[at][1], want[at][2]);
        d = worst(direct, want, &at);
        cr_expect_leq(d, LCMS_MAX, "%s %s %s: direct path %.1f from lcms2 "
                      "at patch %d", tag, cmd, names[i], d, at);
    }
    json_decref(rd);
    json_decref(rv);
    free(in);
    free(od);
    free(ov);
    free(dir);
}

Test(colour_paths, display_p3_agrees_on_both_paths_and_with_lcms2)
{
    struct th_icc p = th_icc_display_p3();

    check_profile("p3", &p, "thumbnail");
    free(p.data);
}

Test(colour_paths, adobe_rgb_agrees_on_both_paths_and_with_lcms2)
{
    struct th_icc p = th_icc_adobe_rgb();

    check_profile("adobe", &p, "thumbnail");
    free(p.data);
}

Test(colour_paths, perceptual_only_profile_agrees_and_is_converted)
{
    struct th_icc p = perceptual_only();

    check_profile("perc", &p, "thumbnail");
    check_profile("perc-rc", &p, "recompress");
    free(p.data);
}

Test(colour_paths, xyb_like_profile_agrees_and_is_converted)
{
    struct th_icc p = xyb_like();

    check_profile("xyb", &p, "thumbnail");
    check_profile("xyb-rc", &p, "recompress");
    free(p.data);
}

/* ---- every tagged file of testdata/ and the shared corpus -------------- */

static void
quiet(const gchar *domain, GLogLevelFlags level, const gchar *msg,
      gpointer data)
{
    (void)domain;
    (void)level;
    (void)msg;
    (void)data;
}

/* Whether libvips sees an ICC profile (or CMYK) in @path. */
static int
tagged(const char *path)
{
    VipsImage *h = vips_image_new_from_file(path, "access",
                                            VIPS_ACCESS_SEQUENTIAL, NULL);
    int t;

    if (!h) {
        vips_error_clear();
        return 0;
    }
    t = vips_image_get_typeof(h, VIPS_META_ICC_NAME) != 0 ||
        h->Type == VIPS_INTERPRETATION_CMYK;
    g_object_unref(h);
    return t;
}

/* Tagged files below @root copied flat into @in; how many. */
static int
collect(const char *root, const char *in, int n)
{
    struct th_flist l;
    size_t i;

    th_flist_of(&l, root);
    for (i = 0; i < l.n; i++) {
        char *src = th_path(root, l.rel[i]), *base = strrchr(src, '/') + 1;
        char *dst;

        if (tagged(src)) {
            char *name = th_asprintf("%03d_%s", n++, base);

            dst = th_path(in, name);
            th_copy_file(src, dst);
            free(dst);
            free(name);
        }
        free(src);
    }
    th_flist_release(&l);
    return n;
}

/* The mean colour of cell (@i, @j) of a 4x4 grid over @img. */
static void
cell_mean(const struct th_image *img, int i, int j, double m[3])
{
    int x0 = img->w * i / 4, x1 = img->w * (i + 1) / 4;
    int y0 = img->h * j / 4, y1 = img->h * (j + 1) / 4, x, y, k;
    double n = (double)(x1 - x0) * (y1 - y0);

    m[0] = m[1] = m[2] = 0;
    for (y = y0; y < y1; y++)
        for (x = x0; x < x1; x++) {
            const unsigned char *p =
                img->px + ((size_t)y * img->w + x) * img->channels;

            for (k = 0; k < 3; k++)
                m[k] += p[img->channels >= 3 ? k : 0] / n;
        }
}

/* The largest difference of the mean colours of a 4x4 grid of cells
 * (colour, not the resamplers' detail: each path has its own), and in
 * *@whole of the means of the whole images. */
static double
block_diff(const struct th_image *a, const struct th_image *b,
           double *whole)
{
    double m = 0, ga[3], gb[3], sum[3] = {0, 0, 0};
    int i, j, k;

    for (j = 0; j < 4; j++)
        for (i = 0; i < 4; i++) {
            cell_mean(a, i, j, ga);
            cell_mean(b, i, j, gb);
            for (k = 0; k < 3; k++) {
                m = fmax(m, fabs(ga[k] - gb[k]));
                sum[k] += (ga[k] - gb[k]) / 16;
            }
        }
    *whole = fmax(fabs(sum[0]), fmax(fabs(sum[1]), fabs(sum[2])));
    return m;
}

Test(colour_paths, every_tagged_file_agrees_between_paths)
{
    char *in = th_path(tmp, "tagged"), *od = th_path(tmp, "t-direct"),
         *ov = th_path(tmp, "t-vips");
    struct stat st;
    json_t *rd, *rv, *rec;
    size_t i;
    int n;

    th_mkdirs(in);
    g_log_set_handler("VIPS", G_LOG_LEVEL_WARNING, quiet, NULL);
    n = collect(TESTDATA_DIR, in, 0);
    if (stat(SHARED_CORPUS_DIR, &st) == 0)
        n = collect(SHARED_CORPUS_DIR, in, n);
    else
        /* stderr, not cr_log_warn: a logged warning makes Criterion
         * exit 1 with every test passed (tests/CMakeLists.txt). */
        fprintf(stderr, "../shared/corpus is absent: testdata/ only\n");
    cr_assert_gt(n, 2, "too few tagged files: %d", n);
    rd = run("thumbnail", in, od, 0);
    rv = run("thumbnail", in, ov, 1);
    json_array_foreach(rv, i, rec) {
        const char *path = th_json_str(rec, "path"), *cv, *cd;
        struct th_image a, b;
        json_t *other;
        double d, whole;

        if (!path)
            continue;           /* the summary */
        other = th_record(rd, strrchr(path, '/') + 1);
        cr_expect_str_eq(th_json_str(rec, "status"),
                         th_json_str(other, "status"), "%s", path);
        if (strcmp(th_json_str(rec, "status"), "ok") ||
            strcmp(th_json_str(other, "status"), "ok"))
            continue;
        cv = th_json_str(rec, "colour");
        cd = th_json_str(other, "colour");
        cr_expect_str_eq(cv ? cv : "", cd ? cd : "", "%s: colour", path);
        cr_assert_eq(th_decode_jpeg(th_json_str(rec, "output"), &a), 0);
        cr_assert_eq(th_decode_jpeg(th_json_str(other, "output"), &b), 0);
        cr_expect(a.w == b.w && a.h == b.h, "%s: %dx%d and %dx%d", path,
                  a.w, a.h, b.w, b.h);
        if (a.w == b.w && a.h == b.h && a.w >= 16 && a.h >= 16) {
            d = block_diff(&a, &b, &whole);
            cr_log_info("%s: %s, paths differ by %.2f (cells), %.2f "
                        "(whole)", path, cv ? cv : "", d, whole);
            cr_expect_leq(whole, MEAN_MAX, "%s: mean colours differ by "
                          "%.2f", path, whole);
            cr_expect_leq(d, BLOCK_MAX, "%s: cells differ by %.2f", path,
                          d);
        }
        th_image_release(&a);
        th_image_release(&b);
    }
    json_decref(rd);
    json_decref(rv);
    free(in);
    free(od);
    free(ov);
}
