/*
 * inplace_fixtures.h - the fixtures shared by the `recompress --in-place`
 * suites (test_inplace.c, test_inplace_crash.c, test_inplace_meta.c and
 * the fault, race, read-error and trailer suites): the photo-like JPEGs
 * they make, running imgpool in place, reading report records, PSNR and
 * EXIF oracles, file snapshots, and the tree of one test.  Compiled into
 * the test helper library (inplace_fixtures.c).
 *
 * Call sequence of a suite:
 *   #include "inplace_fixtures.h"
 *   INPLACE_TREE                  // this file's tmp, in, rep; setup(),
 *                                 // teardown()
 *   TestSuite(inplace, .init = setup, .fini = teardown, .timeout = 120);
 *   Test(inplace, x) {
 *       gen_in(in, "a.jpg", 640, 480, GEN_RGB420, 95, 1, 7);
 *       fsnap_take(&snap, path);
 *       status = run_ip(rep, &arr, NULL, in, NULL);
 *       assert_record(arr, "a.jpg", "ok", NULL);
 *       json_decref(arr);
 *   }
 * Every function ends the test (cr_assert) when the fixture itself fails;
 * strings and buffers returned are malloc'ed and the caller frees them.
 */
#ifndef IMGPOOL_INPLACE_FIXTURES_H
#define IMGPOOL_INPLACE_FIXTURES_H

#include <criterion/criterion.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#ifdef HAVE_LIBEXIF
#include <libexif/exif-data.h>
#include <libexif/exif-loader.h>
#endif

#include "helpers.h"

#define TMP_PREFIX ".imgpool-tmp-"

/* Thresholds of the quality test (see test_inplace.c for how they were
 * measured); the metadata tests reuse the photo one. */
#define PSNR_PHOTO_MIN 36.5
#define PSNR_FLAT_MIN 42.0

/*
 * The short names these suites use for the shared helpers (helpers.h).
 */
#define now_ms() th_now_ms()
#define sleep_ms(ms) th_sleep_ms(ms)
#define xasprintf(...) th_asprintf(__VA_ARGS__)
#define stat_or_die(path, st) th_lstat(path, st)
#define set_mtime(path, sec, nsec) th_set_mtime(path, sec, nsec)
#define flist th_flist
#define flist_of(l, root) th_flist_of(l, root)
#define flist_release(l) th_flist_release(l)
#define copy_tree(src, dst) th_copy_tree(src, dst)
#define run_tool(argv, out) th_run_tool(argv, out)
#define str_of(obj, key) th_json_str(obj, key)
#define int_of(obj, key) th_json_int(obj, key)
#define record(arr, suffix) th_record(arr, suffix)
#define class_of(rec) th_record_class(rec)
#define summary_of(arr) th_summary(arr)

/* ---- small utilities ---- */

/* xorshift64*: deterministic, so every run of the suite is the same.
 * Advances the state @s and returns the next number. */
uint64_t rng_next(uint64_t *s);
/* 1 when the base name of @path is one of imgpool's temporary files
 * (TMP_PREFIX). */
int is_tmp_name(const char *path);
/* The files of backup folder @root (flist_of()) without its marker, which
 * every in-place run with --backup writes there (names.h); no marker
 * fails the test. */
void flist_of_backup(struct flist *l, const char *root);
/* How many temporary files (is_tmp_name()) the tree @root holds. */
size_t count_tmp_files(const char *root);

/* ---- running imgpool and other tools ---- */

/*
 * Run imgpool with "recompress --in-place" and the NULL-terminated
 * arguments that follow (at most 34); with @rep, also "--report @rep" and
 * *@arr gets the parsed report (caller json_decref's it; NULL without
 * @rep).  With @err, *@err gets its stderr (caller frees).  Returns the
 * exit status.
 */
int run_ip(const char *rep, json_t **arr, char **err, ...)
    __attribute__((sentinel));
/* 1 when `exiftool -ver` runs and exits 0. */
int have_exiftool(void);

/* ---- report records ---- */

/* The record of @arr whose path ends with @suffix has "status" @status
 * and, unless @cls is NULL, the class @cls (th_record_class()). */
void assert_record(json_t *arr, const char *suffix, const char *status,
                   const char *cls);

/* ---- photo-like JPEGs ---- */

enum gen_kind {
    GEN_RGB420,         /* baseline, 4:2:0, like most cameras */
    GEN_RGB444,         /* baseline, 4:4:4 */
    GEN_PROGRESSIVE,    /* progressive, 4:2:0 */
    GEN_GRAY,           /* one component */
    GEN_CMYK,           /* four components (TurboJPEG writes YCCK) */
};

/*
 * Synthetic "photo" of @w x @h, 8-bit RGB: a smooth gradient, soft-edged
 * blobs of colour, one textured blob and grain, the same for the same
 * @seed.  Caller frees.
 */
unsigned char *synth_rgb(int w, int h, uint32_t seed);
/*
 * Write a @w x @h JPEG of synth_rgb(@seed), of kind @k at @quality, to
 * @path, with an EXIF Orientation of @orientation (0: no EXIF at all).
 */
void gen_jpeg(const char *path, int w, int h, enum gen_kind k, int quality,
              int orientation, uint32_t seed);
/* JPEG @jpeg (@jlen bytes, from SOI) written to @path with an EXIF APP1
 * holding only Orientation @orientation right after SOI (0: as it is). */
void write_jpeg_oriented(const char *path, const unsigned char *jpeg,
                         unsigned long jlen, int orientation);
/* gen_jpeg() of @dir/@rel, creating the directories in between. */
void gen_in(const char *dir, const char *rel, int w, int h, enum gen_kind k,
            int quality, int orientation, uint32_t seed);

/* ---- oracles: pixels, EXIF ---- */

/* th_psnr() of the JPEGs @a and @b, decoded with TurboJPEG; either not
 * decoding fails the test. */
double psnr_files(const char *a, const char *b);

#ifdef HAVE_LIBEXIF
/*
 * The EXIF block of @path, parsed by libexif as stored: its "follow the
 * specification" option is off, so it adds no default tags of its own.
 * NULL when the file has none; the caller exif_data_unref's it.
 */
ExifData *exif_of(const char *path);
/* An ASCII tag of @ifd, copied into @buf of @size bytes ("" when absent);
 * returns @buf. */
const char *exif_ascii(ExifData *ed, ExifIfd ifd, ExifTag tag, char *buf,
                       size_t size);
/* GPS latitude or longitude in degrees; NAN when the tag is absent. */
double exif_gps_degrees(ExifData *ed, ExifTag tag);
#endif
/* The Orientation tag of IFD0, 0 when there is no EXIF or no tag; -1 in a
 * build without libexif (callers fall back on the decoded pixels). */
int exif_orientation(const char *path);
/* 0 (no tag) and 1 (normal) mean the same to every viewer: 1 for 0, @o
 * otherwise. */
int norm_orientation(int o);

/* ---- the tree of one test ---- */

/*
 * After umask(022): *@tmp a fresh directory, *@in its "in" (made) and
 * *@rep its "report.jsonl" (not made).  inplace_tree_remove() removes the
 * tree, frees the three paths and sets them to NULL.
 */
void inplace_tree_make(char **tmp, char **in, char **rep);
void inplace_tree_remove(char **tmp, char **in, char **rep);

/*
 * Named once at file scope, gives the test file its own tmp, in and rep,
 * and setup() and teardown() that make and remove that tree with the two
 * functions above: a suite's .init and .fini, which take no argument.
 */
#define INPLACE_TREE                                                    \
    static char *tmp, *in, *rep;                                        \
    static void setup(void) { inplace_tree_make(&tmp, &in, &rep); }     \
    static void teardown(void) { inplace_tree_remove(&tmp, &in, &rep); }

/* What a file looked like: enough to tell whether anything touched it.
 * fsnap_take() reads @path's bytes and lstat(); fsnap_release() frees
 * them. */
struct fsnap {
    char *data;
    size_t len;
    struct stat st;
};
void fsnap_take(struct fsnap *f, const char *path);
void fsnap_release(struct fsnap *f);
/* @path has the bytes, inode, mtime and ctime of @f: nothing touched it
 * (the test fails otherwise). */
void assert_untouched(const struct fsnap *f, const char *path);

#endif
