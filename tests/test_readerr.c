/*
 * test_readerr.c - read errors are errors on every path (issue 21): an
 * EIO or a short read (the data ends before the file's size) while a
 * worker reads an input fails the file as read-error, writes no output,
 * records nothing as up to date (a re-run without the fault makes the
 * output), gives the freedesktop cache its failure marker and no
 * thumbnail, and leaves an in-place original untouched.  The faults come
 * from the LD_PRELOAD library faultshim.c, in the workers only, at an
 * offset past the first 256 KB the open stage reads, so they hit the
 * decoders themselves: libvips (-f webp, --no-fast-path, --keep-metadata,
 * --freedesktop, in place), the direct JPEG and the direct PNG decoder.
 */
#include <dirent.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "inplace_fixtures.h"
#include "faultshim.h"

INPLACE_TREE

TestSuite(inplace, .init = setup, .fini = teardown, .timeout = 120);

/* A noisy RGB PNG of @w x @h (hardly compressible: about 3 bytes a
 * pixel), non-interlaced and untagged, as the direct decoder takes. */
static void
gen_png(const char *path, int w, int h, uint32_t seed)
{
    unsigned char *px = synth_rgb(w, h, seed);
    uint64_t s = seed | 1;
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL,
                                              NULL, NULL);
    png_infop info = png_create_info_struct(png);
    FILE *f = fopen(path, "wb");

    cr_assert(f && png && info, "cannot write '%s'", path);
    for (size_t i = 0; i < (size_t)w * (size_t)h * 3; i++)
        px[i] = (unsigned char)(px[i] ^ (rng_next(&s) & 0x3f));
    if (setjmp(png_jmpbuf(png)))
        cr_assert_fail("libpng failed on '%s'", path);
    png_init_io(png, f);
    png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, 8,
                 PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    for (int y = 0; y < h; y++)
        png_write_row(png, px + (size_t)y * (size_t)w * 3);
    png_write_end(png, info);
    png_destroy_write_struct(&png, &info);
    fclose(f);
    free(px);
}

/* The input, made for the path under test: "in/<name>", at least 600 KB.
 * Returns the offset at which the fault starts: past the head the open
 * stage reads, before the end. */
static long long
make_input(const char *name)
{
    char *p = th_path(in, name);
    struct stat st;

    if (strstr(name, ".png"))
        gen_png(p, 640, 480, 7);
    else
        gen_jpeg(p, 1600, 1200, GEN_RGB420, 97, 1, 7);
    stat_or_die(p, &st);
    free(p);
    cr_assert_gt(st.st_size, 600 * 1024, "input too small: %lld bytes",
                 (long long)st.st_size);
    return st.st_size / 2 > 300 * 1024 ? st.st_size / 2 : 300 * 1024;
}

/* Arm the fault: every read of the input (read(2), pread(2)) at or past
 * @offset fails with EIO, or, with @short_read, finds the end of the
 * data there. */
static void
arm_read_fault(const char *name, long long offset, int short_read,
               const char *log)
{
    char glob[64];

    snprintf(glob, sizeof(glob), "*/in/%s", name);
    faultshim_arm("read,pread", "EIO", glob);
    faultshim_set_ll("FAULTSHIM_OFFSET", offset);
    faultshim_set("FAULTSHIM_SHORT", short_read ? "1" : NULL);
    faultshim_set("FAULTSHIM_LOG", log);
}

/* The command run_thumb() runs: "thumbnail" unless a test says
 * otherwise. */
static const char *command = "thumbnail";

/* Run "imgpool thumbnail @opts in -o out --report rep" (@opts: up to 4,
 * NULL-terminated).  The exit status; *arr the report. */
static int
run_thumb(const char *const *opts, json_t **arr)
{
    const char *args[16];
    char *out = th_path(tmp, "out");
    struct th_run r;
    int n = 0, st;

    args[n++] = command;
    for (int i = 0; opts[i]; i++)
        args[n++] = opts[i];
    args[n++] = in;
    if (!strstr(opts[0] ? opts[0] : "", "freedesktop")) {
        args[n++] = "-o";
        args[n++] = out;
    }
    args[n++] = "--report";
    args[n++] = rep;
    args[n] = NULL;
    th_run(&r, args);
    st = r.status;
    th_run_release(&r);
    free(out);
    *arr = th_read_jsonl(rep);
    return st;
}

static void
assert_read_error(json_t *arr, const char *name)
{
    json_t *rec = record(arr, name);
    json_t *err = json_object_get(rec, "error");

    cr_assert(rec != NULL, "no record for '%s'", name);
    cr_assert_str_eq(str_of(rec, "status"), "failed", "'%s': status %s, "
                     "want failed", name, str_of(rec, "status"));
    cr_assert_str_eq(str_of(err, "class"), "read-error", "'%s': class %s "
                     "(%s), want read-error", name, str_of(err, "class"),
                     str_of(err, "message"));
}

/* The fault was met: the shim logged at least one injected failure. */
static void
assert_fault_hit(const char *log)
{
    cr_assert(th_exists(log), "the fault was never injected (no '%s')",
              log);
}

/*
 * Thumbnail @name with @opts under a read fault: read-error, exit 1, no
 * output @out_name; then without the fault: ok and the output (nothing
 * was recorded as up to date).
 */
static void
check_thumbnail(const char *name, const char *out_name,
                const char *const *opts, int short_read)
{
    char *log = th_path(tmp, "faults.log");
    char *dir = th_path(tmp, "out");
    char *out = th_path(dir, out_name);
    long long off;
    json_t *arr;
    int st;

    faultshim_require();
    off = make_input(name);
    arm_read_fault(name, off, short_read, log);
    st = run_thumb(opts, &arr);
    faultshim_clear();
    assert_fault_hit(log);
    assert_read_error(arr, name);
    cr_assert_eq(st, 1, "exit %d, want 1", st);
    cr_assert(!th_exists(out), "'%s' was written from a failed read", out);
    cr_assert_eq(count_tmp_files(dir), 0, "a temporary file was left");
    json_decref(arr);

    st = run_thumb(opts, &arr);
    cr_assert_eq(st, 0, "clean re-run: exit %d", st);
    assert_record(arr, name, "ok", NULL);
    cr_assert(th_exists(out), "the clean re-run did not make '%s'", out);
    json_decref(arr);
    free(log);
    free(dir);
    free(out);
}

static const char *const opt_webp[] = {"-f", "webp", NULL};
static const char *const opt_nofast[] = {"--no-fast-path", NULL};
static const char *const opt_meta[] = {"--keep-metadata", NULL};
static const char *const opt_none[] = {NULL};

Test(inplace, read_eio_libvips_webp)
{
    check_thumbnail("a.jpg", "a.webp", opt_webp, 0);
}

Test(inplace, read_short_libvips_webp)
{
    check_thumbnail("a.jpg", "a.webp", opt_webp, 1);
}

Test(inplace, read_eio_libvips_no_fast_path)
{
    check_thumbnail("a.jpg", "a.jpg", opt_nofast, 0);
}

Test(inplace, read_short_libvips_no_fast_path)
{
    check_thumbnail("a.jpg", "a.jpg", opt_nofast, 1);
}

Test(inplace, read_short_libvips_png)
{
    check_thumbnail("p.png", "p.jpg", opt_nofast, 1);
}

Test(inplace, read_eio_libvips_keep_metadata)
{
    check_thumbnail("a.jpg", "a.jpg", opt_meta, 0);
}

Test(inplace, read_short_libvips_keep_metadata)
{
    check_thumbnail("a.jpg", "a.jpg", opt_meta, 1);
}

Test(inplace, read_eio_direct_jpeg)
{
    check_thumbnail("a.jpg", "a.jpg", opt_none, 0);
}

Test(inplace, read_short_direct_jpeg)
{
    check_thumbnail("a.jpg", "a.jpg", opt_none, 1);
}

Test(inplace, read_eio_direct_png)
{
    check_thumbnail("p.png", "p.jpg", opt_none, 0);
}

Test(inplace, read_short_direct_png)
{
    check_thumbnail("p.png", "p.jpg", opt_none, 1);
}

/* recompress -o: libvips at full size, strict by default. */
Test(inplace, read_eio_recompress_to_dir)
{
    command = "recompress";
    check_thumbnail("a.jpg", "a.jpg", opt_none, 0);
}

Test(inplace, read_short_recompress_to_dir)
{
    command = "recompress";
    check_thumbnail("a.jpg", "a.jpg", opt_none, 1);
}

/* Files in @dir (not recursive), "." and ".." left out. */
static int
count_files(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int n = 0;

    if (!d)
        return 0;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n;
}

/* Regular files anywhere below @dir. */
static size_t
count_tree(const char *dir)
{
    struct flist l;
    size_t n;

    flist_of(&l, dir);
    n = l.n;
    flist_release(&l);
    return n;
}

/* The freedesktop cache: the failure marker, no thumbnail; a clean
 * re-run makes the thumbnails. */
static void
check_freedesktop(int short_read)
{
    char *log = th_path(tmp, "faults.log");
    char *cache = th_path(tmp, "cache");
    char *normal = th_path(cache, "normal");
    char *large = th_path(cache, "large");
    char *fail = th_path(cache, "fail");
    const char *opts[] = {"--freedesktop", "--cache-dir", cache, NULL};
    long long off;
    json_t *arr;
    int st;

    faultshim_require();
    off = make_input("a.jpg");
    arm_read_fault("a.jpg", off, short_read, log);
    st = run_thumb(opts, &arr);
    faultshim_clear();
    assert_fault_hit(log);
    assert_read_error(arr, "a.jpg");
    cr_assert_eq(st, 1, "exit %d, want 1", st);
    cr_assert_eq(count_files(normal) + count_files(large), 0,
                 "a thumbnail was cached from a failed read");
    cr_assert_eq(count_tree(fail), 1, "no failure marker below '%s'",
                 fail);
    json_decref(arr);

    st = run_thumb(opts, &arr);
    cr_assert_eq(st, 0, "clean re-run: exit %d", st);
    assert_record(arr, "a.jpg", "ok", NULL);
    cr_assert_eq(count_files(normal), 1, "no thumbnail after a clean run");
    cr_assert_eq(count_files(large), 1, "no thumbnail after a clean run");
    json_decref(arr);
    free(log);
    free(cache);
    free(normal);
    free(large);
    free(fail);
}

Test(inplace, read_eio_freedesktop)
{
    check_freedesktop(0);
}

Test(inplace, read_short_freedesktop)
{
    check_freedesktop(1);
}

/* In place: the original untouched, nothing left beside it; a clean
 * re-run replaces it. */
static void
check_inplace(int short_read)
{
    char *log = th_path(tmp, "faults.log");
    char *p = th_path(in, "a.jpg");
    char *copy = th_path(tmp, "original.jpg");
    struct fsnap before;
    long long off;
    json_t *arr;
    int st;

    faultshim_require();
    off = make_input("a.jpg");
    fsnap_take(&before, p);
    th_copy_file(p, copy);
    arm_read_fault("a.jpg", off, short_read, log);
    st = run_ip(rep, &arr, NULL, in, NULL);
    faultshim_clear();
    assert_fault_hit(log);
    assert_read_error(arr, "a.jpg");
    cr_assert_eq(st, 1, "exit %d, want 1", st);
    assert_untouched(&before, p);
    cr_assert_eq(count_tmp_files(in), 0, "a temporary file was left");
    json_decref(arr);

    st = run_ip(rep, &arr, NULL, in, NULL);
    cr_assert_eq(st, 0, "clean re-run: exit %d", st);
    assert_record(arr, "a.jpg", "ok", NULL);
    cr_assert_gt(psnr_files(p, copy), 35.0, "the replacement is not the "
                 "original's picture");
    json_decref(arr);
    fsnap_release(&before);
    free(copy);
    free(log);
    free(p);
}

Test(inplace, read_eio_in_place)
{
    check_inplace(0);
}

Test(inplace, read_short_in_place)
{
    check_inplace(1);
}

/*
 * The case of the issue: read(2) alone fails with EIO past the offset
 * (pread(2) works), on the libvips path.  Either the failure reaches the
 * record (read-error, no output) or no reader met it and the output is
 * the picture a clean run makes; never an "ok" thumbnail of grey.
 */
static void
check_read_syscall(const char *const *opts)
{
    char *log = th_path(tmp, "faults.log");
    char *dir = th_path(tmp, "out");
    char *out = th_path(dir, "a.jpg");
    char *clean = th_path(tmp, "clean.jpg");
    const char *cls;
    long long off;
    json_t *arr;
    int st;

    faultshim_require();
    off = make_input("a.jpg");
    st = run_thumb(opts, &arr);
    cr_assert_eq(st, 0, "clean run: exit %d", st);
    th_copy_file(out, clean);
    json_decref(arr);
    th_rmrf(dir);

    arm_read_fault("a.jpg", off, 0, log);
    faultshim_set("FAULTSHIM_OPS", "read");
    st = run_thumb(opts, &arr);
    faultshim_clear();
    cls = class_of(record(arr, "a.jpg"));
    if (strcmp(str_of(record(arr, "a.jpg"), "status"), "ok") != 0) {
        cr_assert_str_eq(cls ? cls : "-", "read-error");
        cr_assert(!th_exists(out), "'%s' written from a failed read", out);
    } else {
        cr_assert_gt(psnr_files(out, clean), 40.0, "an ok record for a "
                     "picture that is not the file's (the read error was "
                     "taken for a truncated file)");
    }
    json_decref(arr);
    free(log);
    free(dir);
    free(out);
    free(clean);
}

Test(inplace, read_syscall_eio_libvips_no_fast_path)
{
    check_read_syscall(opt_nofast);
}

Test(inplace, read_syscall_eio_libvips_keep_metadata)
{
    check_read_syscall(opt_meta);
}
