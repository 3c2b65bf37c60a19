/*
 * settings.h - the run configuration: what shapes each output image, and
 * how the outputs are committed.
 *
 * struct run_config is made once from the command line (cli.h) and only
 * read after that, by the master and, inherited across fork(), by the
 * workers; it holds no pointers to memory the master later frees.  It is
 * two parts:
 *   out[k]  struct settings, the pixel settings of output k (one per -s
 *           box, equal but for the box).  The only part the state
 *           database hashes (state_fingerprint(), state.h);
 *   commit  struct commit_settings, where and how outputs are written:
 *           never part of what an output is.
 * Stages take parameters of their own made from one output's settings
 * (geom.h struct geom_box, decode.h struct decode_params, colour.h
 * struct colour_params, encode.h struct encode_params); the choices of
 * the pipeline (which decoder, the source kept, the look search) read an
 * output's struct settings; the commits a const struct commit_settings *.
 *
 * Call sequence: settings_init() (or settings_init_in_place()) for the
 * pixel defaults of a mode, commit_settings_init() for the commit ones,
 * then the CLI overwrites what the user gave and fills out[1..].
 */
#ifndef IMGPOOL_SETTINGS_H
#define IMGPOOL_SETTINGS_H

#include <stddef.h>
#include <stdint.h>

enum mode { MODE_THUMBNAIL = 0, MODE_RECOMPRESS };
enum fit { FIT_INSIDE = 0, FIT_COVER, FIT_FILL };
enum out_format { FORMAT_JPEG = 0, FORMAT_PNG, FORMAT_WEBP, FORMAT_AVIF,
                  FORMAT_JXL };

/* The accepted --target-distance range (lookq.h). */
#define SETTINGS_DISTANCE_MIN 0.1
#define SETTINGS_DISTANCE_MAX 10.0

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
/* What an output replaces, as far as its pixels depend on it: a file of
 * an output tree (-o), the input itself (recompress --in-place: JPEG as
 * the original was, its metadata and orientation tag), or a freedesktop
 * cache thumbnail (always flattened PNG). */
enum target { TARGET_TREE = 0, TARGET_IN_PLACE, TARGET_FREEDESKTOP };
/* An sRGB colour. */
typedef uint8_t settings_rgb[3];

/*
 * The fields of struct settings, in the order the fingerprint hashes them:
 * X(type, name, class).  The struct is declared from this list, so a field
 * exists only with a class, and state_id.c refuses at compile time a class
 * it does not know.  The classes (state_id.c hashes each as said there):
 *   U32, BOOL, RGB      hashed as they are;
 *   QUALITY             quality, or a tag and target_distance when that
 *                       is set; BY_QUALITY: hashed by that entry;
 *   PROG                progressive, with lossless, behind a tag, when
 *                       either is set; BY_PROG: hashed by that entry;
 *   BASE                a tag when set (baseline);
 *   EFFORT              a tag when not the default fast encoder;
 *   FORCE               a tag when set for recompress into a tree (force);
 *   ALPHA               a tag when settings_keep_alpha() (background_set);
 *   DENSITY             tag and value when not the default 96;
 *   OFF                 not hashed: state_id.c says why, field by field.
 */
#define SETTINGS_FIELDS(X)                                                  \
    X(enum mode, mode, U32)                                                 \
    X(int, width, U32)        /* the box; 0 means unbounded on that axis */ \
    X(int, height, U32)                                                     \
    X(enum fit, fit, U32)                                                   \
    X(int, upscale, BOOL)                                                   \
    X(int, quality, QUALITY)  /* 1..100 */                                  \
    /* JPEG quality searched per image for this butteraugli 3-norm        \
     * (lookq.h); 0: -q */                                                 \
    X(double, target_distance, BY_QUALITY)                                  \
    X(enum out_format, format, U32)                                         \
    /* AUTO: 4:2:0 for thumbnail, source's for recompress */                \
    X(enum subsample, subsample, U32)                                       \
    X(settings_rgb, background, RGB) /* alpha is flattened onto this */     \
    X(int, strip, BOOL)       /* drop metadata (thumbnail default) */       \
    X(enum fail_on, fail_on, U32)                                           \
    X(int, allow_untrusted, BOOL) /* lift libvips' untrusted-loader block */\
    X(int, progressive, PROG) /* progressive JPEG (--progressive) */        \
    /* lossless WebP or JPEG XL (modular), or JPEG rewritten with its      \
     * coefficients untouched (--lossless, lossless.h) */                   \
    X(int, lossless, BY_PROG)                                               \
    X(int, baseline, BASE)    /* never progressive JPEG (--baseline) */     \
    X(enum effort, effort, EFFORT) /* JPEG encoder (--effort) */          \
    /* re-encode a JPEG already at or below -q: in place instead of its    \
     * lossless pass or leaving it, with -o instead of keeping the source  \
     * where the re-encode is not smaller (kept-original, keep.h) */        \
    X(int, force, FORCE)                                                    \
    /* --background given: PNG, WebP and AVIF outputs are flattened too */  \
    X(int, background_set, ALPHA)                                           \
    X(int, density, DENSITY)  /* SVG: pixels per inch (--density, 96) */    \
    X(enum target, target, OFF)                                             \
    X(int64_t, max_pixels, OFF) /* refuse images declaring more; 0: none */ \
    /* allow the direct paths: libjpeg-turbo for JPEG, libpng for PNG      \
     * (decode.h: DECODER_JPEG, DECODER_PNG) */                             \
    X(int, fast_jpeg, OFF)                                                  \
    X(int, strip_gps, OFF)    /* in place: drop the position only */        \
    X(int, to_srgb, OFF)      /* in place: wide-gamut originals to sRGB */

/* The pixel settings of one output. */
struct settings {
#define SETTINGS_DECLARE_(type, name, class) type name;
    SETTINGS_FIELDS(SETTINGS_DECLARE_)
#undef SETTINGS_DECLARE_
};

/* Where and how outputs are written; never part of what they are. */
struct commit_settings {
    /* Where outputs go, normalised once (dirwalk_normalize()): the -o
     * tree, or with fd_flavors the thumbnail cache folder; NULL with
     * in_place. */
    const char *output_dir;
    /* thumbnail --freedesktop: the flavours to write (a mask of
     * 1u << enum thumbcache_flavor, thumbcache.h); 0 when off. */
    unsigned fd_flavors;
    int fsync;                /* fsync each output before its rename */
    int dry_run;              /* decide and measure, write nothing */

    /* recompress --in-place: the input is replaced (see inplace.h). */
    int in_place;
    double min_saving;        /* percent smaller the result must be */
    const char *backup_dir;   /* keep each original here first (normalised
                                 once), or NULL */
    int preserve_times;       /* keep the original's mtime (default) */
};

/* The whole run's configuration: made once, then read only. */
struct run_config {
    /* Every output, in the order given: out[k] for k < nsizes (>= 1),
     * equal but for the box. */
    int nsizes;
    struct settings out[SETTINGS_MAX_SIZES];
    struct commit_settings commit;
};

const char *mode_str(enum mode m);
const char *fit_str(enum fit f);
const char *fail_on_str(enum fail_on f);

/* "jpeg", "png", "webp", "avif", "jxl": the format's name in messages. */
const char *format_str(enum out_format f);
/* The extension an output of @f gets: "jpg", "png", "webp", "avif",
 * "jxl". */
const char *format_ext(enum out_format f);
/* The format an output name's extension means ("x.WebP" -> FORMAT_WEBP;
 * "jpg", "jpeg", "jpe" -> FORMAT_JPEG).  0 with *f set, or -1 when the
 * name has no extension of an output format. */
int format_from_name(const char *name, enum out_format *f);

/* The label of box @z as in names and messages: "300" for a square box,
 * "300x200", "300x" or "x200", "full" for 0x0.  Returns @buf. */
char *settings_size_label(const struct settings_size *z, char *buf,
                          size_t len);

/* Defaults for @m: thumbnail 300x300 4:2:0 strip lenient, recompress full
 * size, keep metadata, strict.  The one place pixel defaults are set. */
void settings_init(struct settings *s, enum mode m);

/* Defaults for recompress --in-place: those of recompress, with target
 * TARGET_IN_PLACE and fail_on FAIL_WARNING (the original is the only
 * copy). */
void settings_init_in_place(struct settings *s);

/* The commit defaults: no output directory, --min-saving 5, times kept. */
void commit_settings_init(struct commit_settings *c);

/*
 * @c with @nsizes outputs, each @first with box @boxes[k] (nsizes 0 or
 * boxes NULL: one output, @first as it is), and commit settings @commit.
 * The one way a run_config is filled in.
 */
void run_config_make(struct run_config *c, const struct settings *first,
                     const struct settings_size *boxes, int nsizes,
                     const struct commit_settings *commit);

/* 1 when outputs under @s keep an alpha channel: PNG, WebP, AVIF and
 * JPEG XL without --background, written to an output tree; JPEG and the
 * rest are flattened onto s->background. */
int settings_keep_alpha(const struct settings *s);

#endif
