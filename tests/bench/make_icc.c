/*
 * make_icc.c - write the ICC profiles the tagged benchmark corpora carry.
 *
 *   cc -O2 -o make_icc make_icc.c -llcms2
 *   make_icc srgb|adobergb|p3 OUT.icc
 *
 * srgb      lcms2's built-in sRGB (v4), for when no real-world sRGB
 *           IEC61966-2.1 profile is at hand (corpus.sh prefers one taken
 *           from the wallpapers).
 * adobergb  Adobe RGB (1998) by its published numbers: D65 white,
 *           primaries (0.64, 0.33) (0.21, 0.71) (0.15, 0.06), gamma
 *           563/256; a version 2 profile, as cameras embed.
 * p3        Display P3: D65 white, DCI-P3 primaries (0.680, 0.320)
 *           (0.265, 0.690) (0.150, 0.060), the sRGB tone curve as a
 *           parametric curve; a version 4 profile, as phones embed.
 *
 * The profiles are made here rather than copied, so nothing in the
 * repository is someone else's profile file.  Exit status 0 on success,
 * 1 on failure (with a message on stderr), 2 on a usage error.
 */
#include <lcms2.h>
#include <stdio.h>
#include <string.h>

static int
set_text(cmsHPROFILE h, cmsTagSignature sig, const char *text)
{
    cmsMLU *mlu = cmsMLUalloc(NULL, 1);
    int ok;

    if (mlu == NULL)
        return -1;
    ok = cmsMLUsetASCII(mlu, "en", "US", text) && cmsWriteTag(h, sig, mlu);
    cmsMLUfree(mlu);
    return ok ? 0 : -1;
}

static cmsHPROFILE
make_rgb(const cmsCIExyYTRIPLE *prim, cmsToneCurve *curve, double version,
         const char *desc)
{
    cmsCIExyY d65 = {0.3127, 0.3290, 1.0};
    cmsToneCurve *curves[3] = {curve, curve, curve};
    cmsHPROFILE h;

    if (curve == NULL)
        return NULL;
    h = cmsCreateRGBProfile(&d65, prim, curves);
    cmsFreeToneCurve(curve);
    if (h == NULL)
        return NULL;
    cmsSetProfileVersion(h, version);
    if (set_text(h, cmsSigProfileDescriptionTag, desc) != 0 ||
        set_text(h, cmsSigCopyrightTag, "No copyright, use freely") != 0) {
        cmsCloseProfile(h);
        return NULL;
    }
    return h;
}

int
main(int argc, char **argv)
{
    static const cmsCIExyYTRIPLE adobe = {
        {0.64, 0.33, 1.0}, {0.21, 0.71, 1.0}, {0.15, 0.06, 1.0}};
    static const cmsCIExyYTRIPLE p3 = {
        {0.680, 0.320, 1.0}, {0.265, 0.690, 1.0}, {0.150, 0.060, 1.0}};
    /* Y = ((X + 0.055) / 1.055)^2.4 for X >= 0.04045, else X / 12.92 */
    const double srgb_curve[5] = {2.4, 1.0 / 1.055, 0.055 / 1.055,
                                  1.0 / 12.92, 0.04045};
    cmsHPROFILE h;

    if (argc != 3) {
        fprintf(stderr, "usage: make_icc srgb|adobergb|p3 OUT.icc\n");
        return 2;
    }
    if (strcmp(argv[1], "srgb") == 0) {
        h = cmsCreate_sRGBProfile();
    } else if (strcmp(argv[1], "adobergb") == 0) {
        h = make_rgb(&adobe, cmsBuildGamma(NULL, 563.0 / 256.0), 2.1,
                     "Adobe RGB (1998) compatible");
    } else if (strcmp(argv[1], "p3") == 0) {
        h = make_rgb(&p3, cmsBuildParametricToneCurve(NULL, 4, srgb_curve),
                     4.3, "Display P3");
    } else {
        fprintf(stderr, "make_icc: unknown profile '%s'\n", argv[1]);
        return 2;
    }
    if (h == NULL || !cmsSaveProfileToFile(h, argv[2])) {
        fprintf(stderr, "make_icc: cannot make %s profile %s\n", argv[1],
                argv[2]);
        if (h != NULL)
            cmsCloseProfile(h);
        return 1;
    }
    cmsCloseProfile(h);
    return 0;
}
