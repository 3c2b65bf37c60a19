/*
 * helpers.h - shared test fixtures.
 *
 * Outputs are checked through decoders independent of libvips: TurboJPEG
 * for JPEG and libpng for PNG.  All functions abort the test (cr_assert)
 * on unexpected I/O failure, so callers need not check for it.
 * Strings returned are malloc'ed: the caller frees them.
 */
#ifndef IMGPOOL_TEST_HELPERS_H
#define IMGPOOL_TEST_HELPERS_H

#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <jansson.h>

#include "cli.h"

/* A fresh directory under $TMPDIR (or /tmp); remove with th_rmrf(). */
char *th_mkdtemp(void);
/* rm -rf @path (never follows symlinks). */
void th_rmrf(const char *path);
/* A suite's scratch directory: th_dir_setup() sets th_dir to a fresh
 * th_mkdtemp() directory, th_dir_teardown() removes and frees it.  Meant
 * as a TestSuite's .init and .fini. */
extern char *th_dir;
void th_dir_setup(void);
void th_dir_teardown(void);
/* "dir/name", and mkdir -p of every directory component in between. */
char *th_path(const char *dir, const char *name);
void th_mkdirs(const char *path);
/* Path of a file in testdata/. */
char *th_testdata(const char *name);
void th_write_file(const char *path, const void *data, size_t len);
/*
 * The JPEG TurboJPEG's tjCompress2() makes of the @w x @h pixels @px
 * (pixel format @pf, a TJPF_* value, rows packed), with subsampling @samp
 * (TJSAMP_*), @quality and @flags (TJFLAG_*).  *@len is its size; the
 * caller frees it with free().  Fails the test when TurboJPEG does.
 */
unsigned char *th_jpeg_encode(const unsigned char *px, int w, int h, int pf,
                              int samp, int quality, int flags,
                              unsigned long *len);
void th_copy_file(const char *src, const char *dst);
/* Copy testdata/@name to @dir/@as, making the directories in between. */
void th_copy_testdata(const char *dir, const char *name, const char *as);
/* Whole file, NUL-terminated; *len (if not NULL) excludes the NUL. */
char *th_read_file(const char *path, size_t *len);
int th_exists(const char *path);

/* Run the built imgpool binary with @args (NULL-terminated, without argv[0]).
 * stdin is /dev/null; stdout and stderr are captured. */
struct th_run {
    int status;   /* exit code, or 128 + signal */
    char *out;
    char *err;
};
void th_run(struct th_run *r, const char *const *args);
void th_run_release(struct th_run *r);

/* Decoded image, 8-bit interleaved. */
struct th_image {
    int w, h;
    int channels;       /* channels in px: 3 for JPEG (RGB), PNG as stored
                           after expansion to 8 bits (1..4) */
    unsigned char *px;
    int jpeg_subsamp;   /* TJSAMP_*, -1 for PNG */
    int file_channels;  /* 1 gray, 3 colour, 4 CMYK (JPEG); PNG: channels */
};
/* 0 on success, -1 if the file is not a decodable image of that type. */
int th_decode_jpeg(const char *path, struct th_image *img);
int th_decode_png(const char *path, struct th_image *img);
void th_image_release(struct th_image *img);
/* Mean colour of the @r-pixel-radius square around (x, y). */
void th_mean_rgb(const struct th_image *img, int x, int y, int r,
                 double rgb[3]);
/* True when each channel of @got is within @tol of @want. */
int th_rgb_near(const double got[3], int r, int g, int b, double tol);

/* The quality of imgpool's own table (jpegq.h) the file has, else the
 * libjpeg quality whose scaled standard luminance table matches the file's
 * first DQT table best (own parser, independent of src/sniff.c); -1 on
 * error. */
int th_jpeg_quality(const char *path);

/* Parse a JSON Lines file into a JSON array (one element per line). */
json_t *th_read_jsonl(const char *path);
/* The first element of @arr whose "path" string ends with @suffix. */
json_t *th_find_record(json_t *arr, const char *path_suffix);

/* The summary object, the last element of a report read by
 * th_read_jsonl() (asserts that it is one). */
json_t *th_summary(json_t *arr);
/* A member of @obj as a string (NULL when absent or not a string) or an
 * integer (0 then). */
const char *th_json_str(json_t *obj, const char *key);
long long th_json_int(json_t *obj, const char *key);
/* Records of @arr (the summary excluded) with "status" @status and, unless
 * @reason is NULL, "reason" @reason. */
size_t th_count_records(json_t *arr, const char *status, const char *reason);

/* @path is a colour JPEG of quality 90 whose longer side is @longest (what
 * `imgpool thumbnail` makes). */
void th_assert_thumbnail(const char *path, int longest);

/* Start the built imgpool binary with @args (as th_run(), at most 30) in
 * the background, stdin, stdout and stderr on /dev/null. */
pid_t th_spawn(const char *const *args);
/* th_spawn() as the leader of a new process group (its pid), so that the
 * test can signal imgpool and its workers at once: kill(-pid, sig). */
pid_t th_spawn_group(const char *const *args);
/* Wait for @pid, failing the test after @max_ms; its exit code, or 128 +
 * signal. */
int th_wait_exit(pid_t pid, int max_ms);

/* Wait (at most @max_ms, failing the test then) until @path exists. */
void th_wait_for_file(const char *path, int max_ms);

/*
 * Whether process @pid is asleep (state 'S' in /proc/PID/stat) inside the
 * system call @nr (SYS_read, SYS_write, ... from <sys/syscall.h>) on a
 * descriptor that names @file: what readlink(2) gives for /proc/PID/fd/N,
 * such as a real path or "pipe:[INODE]".  Read from /proc/PID/syscall, so
 * it says where the process is blocked, not merely that it sleeps.  For
 * SYS_poll and SYS_ppoll the descriptors are those of the pollfd array,
 * read from /proc/PID/mem (@pid must be a child of the test).
 */
int th_blocked_in(pid_t pid, long nr, const char *file);
/* Poll th_blocked_in() every 5 ms, failing the test after @max_ms. */
void th_wait_blocked(pid_t pid, long nr, const char *file, int max_ms);

/*
 * The fault-injection handshake of src/worker/fault.h, for the tests that
 * need a worker to misbehave or to stop at a known moment:
 *   th_need_fault_injection();      // skips unless the build has faults
 *   dir = th_fault_arm(tmp, "wait-open", "hang.jpg");
 *   pid = th_spawn(args);           // inherits IMGPOOL_FAULT(_DIR)
 *   th_fault_disarm();
 *   th_fault_reached(dir, 1, pids, 60000);  // a worker is stopped there
 *   ...act...;  th_fault_release(dir);      // it carries on
 * th_fault_arm() makes @parent/fault afresh and sets IMGPOOL_FAULT to
 * "@kind:@glob" and IMGPOOL_FAULT_DIR to that directory (returned; caller
 * frees).  th_fault_reached() waits (failing the test after @max_ms) until
 * @n workers have stopped at the point and stores their pids in @pids.
 */
void th_need_fault_injection(void);
char *th_fault_arm(const char *parent, const char *kind, const char *glob);
void th_fault_disarm(void);
void th_fault_reached(const char *dir, int n, pid_t *pids, int max_ms);
void th_fault_release(const char *dir);

/* A file of @size bytes, each @c. */
void th_fill_file(const char *path, size_t size, int c);
/* Set atime and mtime of @path (not following a symlink). */
void th_set_mtime(const char *path, long long sec, long nsec);

/* Capture what this process writes to fd 2 between begin and end; end
 * returns the text. */
struct th_capture {
    int saved;      /* the real stderr */
    int fd;         /* an unlinked temporary file */
};
void th_capture_begin(struct th_capture *c);
char *th_capture_end(struct th_capture *c);

/* Directory of the shared odd-file corpus, or NULL when it is absent. */
const char *th_corpus_dir(void);

/* Make @path unwritable for this process: immutable (chattr +i) as root,
 * mode 0444 otherwise.  1 when done, 0 when not possible here.
 * th_undo_unwritable() lifts it and sets mode 0644: 0, or -1 when
 * chattr -i failed. */
int th_make_unwritable(const char *path);
int th_undo_unwritable(const char *path);

/* asprintf() that ends the test when out of memory. */
char *th_asprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Run the shell command made from @fmt with system(); ends the test,
 * naming the command, when it does not exit 0. */
void th_sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* lstat() of @path into @st; ends the test when it fails. */
void th_lstat(const char *path, struct stat *st);
/* The monotonic clock in milliseconds, and a sleep that resumes after a
 * signal (for tests that act at chosen moments, not to wait for events). */
double th_now_ms(void);
void th_sleep_ms(double ms);

/* Every regular file below a root, as sorted relative paths; any other
 * file type there fails the test. */
struct th_flist {
    char **rel;
    size_t n, cap;
};
void th_flist_of(struct th_flist *l, const char *root);
void th_flist_release(struct th_flist *l);
/* cp -r @src @dst for a tree of regular files. */
void th_copy_tree(const char *src, const char *dst);

/* Run an external tool (argv[0] looked up on PATH), stdout captured into
 * *out (malloc'ed; @out may be NULL), stdin and stderr /dev/null.  Its exit
 * status, 127 when it could not be started. */
int th_run_tool(const char *const *argv, char **out);
/* 1 when the command @tool is on PATH. */
int th_have_tool(const char *tool);

/* The record of @arr whose path ends with @suffix; fails the test when
 * there is none. */
json_t *th_record(json_t *arr, const char *suffix);
/* The class of a skipped (its reason) or failed (error.class) record. */
const char *th_record_class(json_t *rec);

/* cli_parse() on "imgpool" followed by @args (NULL-terminated). */
enum cli_result th_cli_parse(struct cli_opts *o, const char *const *args);

/* ICC profiles made with lcms2, for the colour suites.  th_icc_save()
 * serialises the profile @h (a cmsHPROFILE; it is closed).  th_icc_rgb()
 * is a matrix/TRC RGB profile: D65 white, primaries @xy (red, green, blue
 * as x, y), on every channel lcms2's parametric curve @curve_type with
 * @curve_params (1: the gamma params[0]; 4: the sRGB shape), and a
 * description tag @desc unless NULL.  th_icc_adobe_rgb() is Adobe RGB
 * (1998) (its primaries, gamma 563/256), th_icc_display_p3() Display P3
 * (its primaries, the sRGB curve), each with a description tag;
 * th_icc_linear_grey() a grey profile, D50 white, gamma 1.  th_icc_file()
 * writes @p to @dir/@name and returns that path (caller frees).  The data
 * is malloc'ed: the caller frees it. */
struct th_icc {
    void *data;
    size_t len;
};
struct th_icc th_icc_save(void *h);
struct th_icc th_icc_rgb(const double xy[6], int curve_type,
                         const double *curve_params, const char *desc);
struct th_icc th_icc_adobe_rgb(void);
struct th_icc th_icc_display_p3(void);
struct th_icc th_icc_linear_grey(void);
char *th_icc_file(const char *dir, const char *name, const struct th_icc *p);

/* th_run() of @args, output discarded, that fails the test unless the
 * exit code is @want (the message gives the code and stderr). */
void th_run_expect(const char *const *args, int want);
/* 1 when the files @a and @b hold the same bytes; either missing fails the
 * test. */
int th_same_bytes(const char *a, const char *b);

/* th_run() of @args, output discarded (stderr is copied to this
 * process's stderr when the exit code is not 0); the exit code. */
int th_run_status(const char *const *args);
/* PSNR in dB over every sample of two decoded images of the same size and
 * channels (the test fails otherwise); 99 when they are equal. */
double th_psnr(const struct th_image *a, const struct th_image *b);
/* How many names in directory @dir start with @prefix ("" counts every
 * entry, "." and ".." too). */
int th_count_prefixed(const char *dir, const char *prefix);

#endif
