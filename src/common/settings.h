/*
 * settings.h - everything that shapes an output image.
 *
 * The CLI fills one struct settings; the planner uses it for output names,
 * the pipeline for the pixels.  Workers receive it by inheritance across
 * fork(), so it must hold no pointers to memory the master later frees.
 *
 * Call sequence: settings_init() (or settings_init_in_place()) for the
 * defaults of a mode, then the CLI overwrites what the user gave.
 */
#ifndef IMGPOOL_SETTINGS_H
#define IMGPOOL_SETTINGS_H

#include <stddef.h>
#include <stdint.h>

enum mode { MODE_THUMBNAIL = 0, MODE_RECOMPRESS };
enum fit { FIT_INSIDE = 0, FIT_COVER, FIT_FILL };
enum out_format { FORMAT_JPEG = 0, FORMAT_PNG, FORMAT_WEBP, FORMAT_AVIF };

/* Outputs one input may have (-s given several times, --sizes). */
#define SETTINGS_MAX_SIZES 8

/* One output box: 0 on a side means unbounded on that axis. */
struct settings_size {
    int width, height;
};
enum subsample { SUBSAMPLE_AUTO = 0, SUBSAMPLE_420, SUBSAMPLE_444 };
/* JPEG encoder: BEST, imgpool's own (jenc.h); FAST, plain libjpeg-turbo. */
enum effort { EFFORT_BEST = 0, EFFORT_FAST };
/* Mirrors VipsFailOn without including vips.h in the master. */
enum fail_on { FAIL_NONE = 0, FAIL_TRUNCATED, FAIL_ERROR, FAIL_WARNING };

struct settings {
    enum mode mode;
    int width, height;        /* the box; 0 means unbounded on that axis */
    enum fit fit;
    int upscale;
    int quality;              /* 1..100 */
    enum out_format format;
    int progressive;          /* progressive JPEG (--progressive) */
    int lossless;             /* lossless WebP, or JPEG rewritten with
                                 its coefficients untouched (--lossless,
                                 lossless.h) */
    int baseline;             /* never progressive JPEG (--baseline) */
    enum effort effort;       /* JPEG encoder (--effort) */
    enum subsample subsample; /* AUTO: 4:2:0 for thumbnail, source's for recompress */
    uint8_t background[3];    /* alpha is flattened onto this sRGB colour */
    int density;              /* SVG: pixels per inch (--density, 96) */
    int background_set;       /* --background given: PNG, WebP and AVIF
                                 outputs are flattened too */
    int strip;                /* drop metadata (thumbnail default) */
    enum fail_on fail_on;
    int64_t max_pixels;       /* refuse images declaring more; 0 = no limit */
    int allow_untrusted;      /* lift libvips' untrusted-loader block */
    int fast_jpeg;            /* allow the direct paths: libjpeg-turbo for
                                 JPEG, libpng for PNG (decode.h:
                                 DECODER_JPEG, DECODER_PNG) */
    int fsync;                /* fsync each output before its rename */
    /* Every output box, in the order given; sizes[0] is the box above
     * (width, height), the first output's.  nsizes >= 1. */
    int nsizes;
    struct settings_size sizes[SETTINGS_MAX_SIZES];
    /* Where outputs go.  Borrowed from argv; not part of what shapes the
     * pixels, but workers need it to open the output tree safely. */
    const char *output_dir;   /* NULL with in_place */
    /* thumbnail --freedesktop: the flavours to write (a mask of
     * 1u << enum thumbcache_flavor, thumbcache.h); 0 when off.  Then
     * output_dir is the thumbnail cache folder. */
    unsigned fd_flavors;

    /* recompress --in-place: the input is replaced (see inplace.h). */
    int in_place;
    int force;                /* re-encode even at or below the quality */
    double min_saving;        /* percent smaller the result must be */
    int dry_run;              /* decide and measure, write nothing */
    const char *backup_dir;   /* keep each original here first, or NULL */
    int strip_gps;
    int to_srgb;              /* convert wide-gamut originals to sRGB */
    int preserve_times;       /* keep the original's mtime (default) */
};

const char *mode_str(enum mode m);
const char *fit_str(enum fit f);
const char *fail_on_str(enum fail_on f);

/* "jpeg", "png", "webp", "avif": the format's name in messages. */
const char *format_str(enum out_format f);
/* The extension an output of @f gets: "jpg", "png", "webp", "avif". */
const char *format_ext(enum out_format f);
/* The format an output name's extension means ("x.WebP" -> FORMAT_WEBP;
 * "jpg", "jpeg", "jpe" -> FORMAT_JPEG).  0 with *f set, or -1 when the
 * name has no extension of an output format. */
int format_from_name(const char *name, enum out_format *f);

/* @s with the box of output @k (0 .. s->nsizes - 1) as its box, into
 * @out: what the geometry code needs for that output. */
void settings_for_size(const struct settings *s, int k, struct settings *out);
/* The label of box @z as in names and messages: "300" for a square box,
 * "300x200", "300x" or "x200", "full" for 0x0.  Returns @buf. */
char *settings_size_label(const struct settings_size *z, char *buf,
                          size_t len);

/* Defaults for @m: thumbnail 300x300 4:2:0 strip lenient, recompress full
 * size, keep metadata, strict.  The one place pixel defaults are set. */
void settings_init(struct settings *s, enum mode m);

/* Defaults for recompress --in-place: those of recompress, with in_place
 * set and fail_on FAIL_WARNING (the original is the only copy). */
void settings_init_in_place(struct settings *s);

/* 1 when outputs under @s keep an alpha channel: PNG, WebP and AVIF
 * without --background (not in place, not freedesktop thumbnails); JPEG
 * and the rest are flattened onto s->background. */
int settings_keep_alpha(const struct settings *s);

#endif
