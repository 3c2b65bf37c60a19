/*
 * test_dryrun.c - --dry-run in every mode (issue 12, item 4): one line per
 * file on stdout whatever stdout is (here a pipe), the same as records
 * with --report, nothing changed in the input or output tree, no lock
 * taken.
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <turbojpeg.h>

#include "helpers.h"

#include "e2e_fixture.h"

E2E_TREE

TestSuite(dryrun, .init = e2e_setup, .fini = e2e_teardown, .timeout = 120);

/* ---- a snapshot of a whole tree: names, types, sizes, mtimes, bytes ---- */

static char *snap;
static size_t snap_len;

static int
snap_one(const char *path, const struct stat *st, int type, struct FTW *f)
{
    char line[8192];
    uint64_t h = 1469598103934665603ull;
    size_t n = 0, i;
    char *data = NULL;
    int len;

    (void)type;
    (void)f;
    if (S_ISREG(st->st_mode)) {
        data = th_read_file(path, &n);
        for (i = 0; i < n; i++)
            h = (h ^ (unsigned char)data[i]) * 1099511628211ull;
        free(data);
    }
    len = snprintf(line, sizeof(line), "%s %o %lld %lld.%09ld %llx\n", path,
                   (unsigned)st->st_mode, (long long)st->st_size,
                   (long long)st->st_mtim.tv_sec, st->st_mtim.tv_nsec,
                   (unsigned long long)h);
    snap = realloc(snap, snap_len + (size_t)len + 1);
    memcpy(snap + snap_len, line, (size_t)len + 1);
    snap_len += (size_t)len;
    return 0;
}

/* Every entry of the input and the output tree (state, lock included). */
static char *
tree_snapshot(void)
{
    snap = NULL;
    snap_len = 0;
    cr_assert_eq(nftw(in, snap_one, 16, FTW_PHYS), 0);
    if (th_exists(out))
        cr_assert_eq(nftw(out, snap_one, 16, FTW_PHYS), 0);
    return snap;
}

static size_t
count_lines(const char *s)
{
    size_t n = 0;

    for (; *s; s++)
        n += *s == '\n';
    return n;
}

/* stdout holds exactly the line @want. */
static void assert_line(const char *outtext, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
assert_line(const char *outtext, const char *fmt, ...)
{
    char *want, *p;
    va_list ap;
    size_t n;

    va_start(ap, fmt);
    cr_assert(vasprintf(&want, fmt, ap) > 0);
    va_end(ap);
    n = strlen(want);
    for (p = strstr(outtext, want); p; p = strstr(p + 1, want))
        if ((p == outtext || p[-1] == '\n') && p[n] == '\n')
            break;
    cr_assert(p != NULL, "no line '%s' in:\n%s", want, outtext);
    free(want);
}

/* A dry run on a tree never written: every file listed, nothing made. */
Test(dryrun, thumbnail_lists_every_file_and_creates_nothing)
{
    const char *args[] = { "thumbnail", in, "-o", out, "--dry-run", NULL };
    char *before, *after;
    struct th_run r;

    add_good_inputs(in);
    before = tree_snapshot();
    th_run(&r, args);
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_assert_eq(count_lines(r.out), 6, "stdout:\n%s", r.out);
    assert_line(r.out, "write %s/rgb.jpg -> %s/rgb.jpg", in, out);
    assert_line(r.out, "write %s/sub/deeper/rgba.png -> %s/sub/deeper/rgba.jpg",
                in, out);
    after = tree_snapshot();
    cr_assert_str_eq(before, after, "the dry run changed the tree");
    cr_assert_not(th_exists(out), "the output directory was created");
    th_run_release(&r);
    free(before);
    free(after);
}

/* After a real run: up-to-date files, a newcomer, a name collision and a
 * duplicate root, each on its line; the tree (state database included)
 * stays byte for byte and mtime for mtime as it was. */
Test(dryrun, skips_are_listed_with_their_reason_and_nothing_changes)
{
    const char *real[] = { "thumbnail", in, "-o", out, NULL };
    const char *dry[] = { "thumbnail", in, in, "-o", out, "--dry-run",
                          "--report", rep, NULL };
    char *before, *after;
    json_t *arr, *rec;
    struct th_run r;

    th_copy_testdata(in, "rgb.jpg", "a.jpg");
    th_copy_testdata(in, "gray.jpg", "b.jpg");
    th_run_expect(real, 0);
    th_copy_testdata(in, "rgb.png", "a.png"); /* wants a.jpg: the fallback */
    th_copy_testdata(in, "cmyk.jpg", "c.jpg");
    before = tree_snapshot();
    th_run(&r, dry);
    cr_assert_eq(r.status, 0, "%s", r.err);
    assert_line(r.out, "skip %s/a.jpg -> %s/a.jpg: up-to-date: output is up "
                "to date", in, out);
    assert_line(r.out, "write %s/a.png -> %s/a.png.jpg", in, out);
    assert_line(r.out, "write %s/c.jpg -> %s/c.jpg", in, out);
    assert_line(r.out, "skip %s/c.jpg: duplicate: the same file as an "
                "earlier input (same device and inode)", in);
    cr_assert_eq(count_lines(r.out), 8, "4 files, each twice:\n%s", r.out);
    th_run_release(&r);

    /* The report says the same. */
    arr = th_read_jsonl(rep);
    cr_assert_eq(th_count_records(arr, "skipped", "dry-run"), 2);
    cr_assert_eq(th_count_records(arr, "skipped", "up-to-date"), 2);
    cr_assert_eq(th_count_records(arr, "skipped", "duplicate"), 4);
    rec = th_find_record(arr, "/a.png");
    cr_assert_str_eq(th_json_str(rec, "reason"), "dry-run");
    json_decref(arr);

    after = tree_snapshot();
    cr_assert_str_eq(before, after, "the dry run changed the tree:\n%s\n---\n%s",
                     before, after);
    free(before);
    free(after);
}

/* recompress -o: the line carries the estimated size. */
Test(dryrun, recompress_lists_an_estimated_size)
{
    const char *args[] = { "recompress", in, "-o", out, "--dry-run", NULL };
    char *p, want[64];
    long long est = 0;
    struct th_run r;

    th_copy_testdata(in, "rgb.jpg", "rgb.jpg");
    th_copy_testdata(in, "rgba.png", "rgba.png");
    th_run(&r, args);
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_assert_eq(count_lines(r.out), 2, "%s", r.out);
    p = strstr(r.out, "/rgb.jpg (~");
    cr_assert(p != NULL, "%s", r.out);
    cr_assert_eq(sscanf(p, "/rgb.jpg (~%lld bytes)", &est), 1);
    /* From the JPEG's own 5767 bytes, scaled by the qualities. */
    snprintf(want, sizeof(want), "%lld", est);
    cr_assert(est > 5767 / 4 && est <= 2 * 5767, "estimate %s", want);
    cr_assert(strstr(r.out, "/rgba.jpg (~"), "%s", r.out);
    cr_assert_not(th_exists(out));
    th_run_release(&r);
}

/* recompress --in-place: each file's would-be size, a skip for the PNG,
 * inputs untouched; stdout is a pipe and still gets the lines. */
Test(dryrun, in_place_lists_files_through_a_pipe)
{
    const char *args[] = { "recompress", "--in-place", in, "--dry-run",
                           NULL };
    char *before, *after, *p;
    long long a = 0, b = 0;
    struct th_run r;

    th_copy_testdata(in, "rgb.jpg", "rgb.jpg");
    th_copy_testdata(in, "rgba.png", "rgba.png");
    before = tree_snapshot();
    th_run(&r, args);
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_assert_eq(count_lines(r.out), 2, "%s", r.out);
    p = strstr(r.out, "/rgb.jpg ");
    cr_assert(p != NULL, "%s", r.out);
    cr_assert(strncmp(r.out, "replace ", 8) == 0 ||
                  strstr(r.out, "\nreplace "), "%s", r.out);
    cr_assert_eq(sscanf(p, "/rgb.jpg (%lld -> %lld bytes)", &a, &b), 2,
                 "%s", r.out);
    cr_assert_eq(a, 5767);
    cr_assert(b > 0);
    cr_assert(strstr(r.out, "skip ") && strstr(r.out, "/rgba.png: not-jpeg: "),
              "%s", r.out);
    after = tree_snapshot();
    cr_assert_str_eq(before, after, "the dry run changed the tree");
    th_run_release(&r);
    free(before);
    free(after);
}

/* A dry run takes no lock: it runs while a real run holds the output
 * tree's lock (a real run then exits 75). */
Test(dryrun, takes_no_lock)
{
    const char *real[] = { "thumbnail", in, "-o", out, NULL };
    const char *dry[] = { "thumbnail", in, "-o", out, "--dry-run", NULL };
    char *lock = th_path(out, ".imgpool/lock");
    struct th_run r;
    int fd;

    th_copy_testdata(in, "rgb.jpg", "rgb.jpg");
    th_run_expect(real, 0);
    th_copy_testdata(in, "gray.jpg", "gray.jpg");
    fd = open(lock, O_RDWR | O_CLOEXEC);
    cr_assert(fd >= 0);
    cr_assert_eq(flock(fd, LOCK_EX | LOCK_NB), 0);
    th_run(&r, real);
    cr_assert_eq(r.status, 75, "the lock is not held: %s", r.err);
    th_run_release(&r);
    th_run(&r, dry);
    cr_assert_eq(r.status, 0, "%s", r.err);
    assert_line(r.out, "write %s/gray.jpg -> %s/gray.jpg", in, out);
    th_run_release(&r);
    close(fd);
    free(lock);
}

/* --report - puts the records on stdout: then they are the listing. */
Test(dryrun, report_on_stdout_is_the_listing)
{
    const char *args[] = { "thumbnail", in, "-o", out, "--dry-run",
                           "--report", "-", NULL };
    struct th_run r;

    th_copy_testdata(in, "rgb.jpg", "rgb.jpg");
    th_run(&r, args);
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_assert(strstr(r.out, "\"summary\":true"), "%s", r.out);
    cr_assert(strstr(r.out, "\"reason\":\"dry-run\""), "%s", r.out);
    cr_assert(strncmp(r.out, "write ", 6) != 0 && !strstr(r.out, "\nwrite "),
              "%s", r.out);
    th_run_release(&r);
}

/* --freedesktop: a dry run asks the cache as the real run does.  Before
 * any run every file would be written and no cache is created; after one,
 * every file is up to date, as the real run then finds. */
Test(dryrun, freedesktop_after_a_real_run_says_up_to_date)
{
    char *cache = th_path(tmp, "cache");
    const char *real[] = { "thumbnail", "--freedesktop", "--cache-dir",
                           cache, in, NULL };
    const char *dry[] = { "thumbnail", "--freedesktop", "--cache-dir",
                          cache, in, "--dry-run", "-v", NULL };
    const char *again[] = { "thumbnail", "--freedesktop", "--cache-dir",
                            cache, in, "--report", rep, NULL };
    struct th_run r;
    json_t *arr;

    add_good_inputs(in);
    th_run(&r, dry);
    cr_assert_eq(r.status, 0, "%s", r.err);
    assert_line(r.out, "write %s/rgb.jpg -> %s (normal, large)", in, cache);
    cr_assert_eq(count_lines(r.out), 6, "%s", r.out);
    cr_assert_not(th_exists(cache), "the dry run made the cache");
    cr_assert(strstr(r.err, "dry run: 6 files would be written"), "%s",
              r.err);
    th_run_release(&r);

    th_run_expect(real, 0);
    th_run(&r, dry);
    cr_assert_eq(r.status, 0, "%s", r.err);
    assert_line(r.out, "skip %s/rgb.jpg -> %s (normal, large): up-to-date: "
                "thumbnails up to date", in, cache);
    assert_line(r.out, "skip %s/sub/deeper/rgba.png -> %s (normal, large): "
                "up-to-date: thumbnails up to date", in, cache);
    cr_assert(!strstr(r.out, "write "), "%s", r.out);
    th_run_release(&r);

    th_run(&r, again);
    cr_assert_eq(r.status, 0, "%s", r.err);
    arr = th_read_jsonl(rep);
    cr_assert_eq(th_count_records(arr, "skipped", "up-to-date"), 6);
    json_decref(arr);
    th_run_release(&r);
    free(cache);
}

/* The closing lines speak of one file and one worker in the singular, and
 * give no MiB/s when nothing was written. */
Test(dryrun, summary_counts_in_the_singular_and_no_rate_for_nothing)
{
    const char *args[] = { "thumbnail", in, "-o", out, "-v", NULL };
    struct th_run r;

    th_copy_testdata(in, "rgb.jpg", "rgb.jpg");
    th_run(&r, args);
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_assert(strstr(r.err, "imgpool: 1 file to process with 1 worker\n"),
              "%s", r.err);
    cr_assert(strstr(r.err, "imgpool: 1 file: 1 ok, 0 skipped, 0 failed"),
              "%s", r.err);
    cr_assert(strstr(r.err, " MiB/s\n"), "%s", r.err);
    th_run_release(&r);
    th_run(&r, args);           /* up to date: nothing written */
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_assert(strstr(r.err, "imgpool: nothing written in "), "%s", r.err);
    cr_assert(!strstr(r.err, "MiB/s"), "a rate of nothing: %s", r.err);
    th_run_release(&r);
}

/* A 1200x900 photograph-like JPEG at quality @q: smooth gradients, edges
 * and grain, as a camera's. */
static void
write_photo(const char *path, int q)
{
    enum { W = 1200, H = 900 };
    unsigned char *px = malloc((size_t)W * H * 3), *jpg;
    unsigned long len;
    unsigned seed = 12345;

    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            unsigned char *d = px + ((size_t)y * W + x) * 3;
            int grain;

            seed = seed * 1103515245u + 12345u;
            grain = (int)((seed >> 16) % 7) - 3;
            d[0] = (unsigned char)((x * 255 / W + grain + 256) % 256);
            d[1] = (unsigned char)(((x / 40 + y / 40) % 2 ? 200 : 60) + grain);
            d[2] = (unsigned char)((y * 255 / H + x / 7 + grain) & 0xff);
        }
    jpg = th_jpeg_encode(px, W, H, TJPF_RGB, TJSAMP_420, q, 0, &len);
    th_write_file(path, jpg, len);
    free(jpg);
    free(px);
}

/* recompress -o: the estimate follows what re-encoding at -q writes, from
 * a JPEG above -q (it shrinks, by the ratio of the qualities), within
 * 35%; one below it would grow and is copied instead (kept-original):
 * the estimate is its own size, as written. */
Test(dryrun, recompress_estimate_is_near_the_real_size)
{
    const char *dry[] = { "recompress", in, "-o", out, "--dry-run",
                          "--report", rep, NULL };
    const char *real[] = { "recompress", in, "-o", out, "--report", rep,
                           NULL };
    static const char *names[] = { "q97.jpg", "q60.jpg" };
    long long est[2], got[2];
    json_t *arr, *rec;
    char *p;

    p = th_path(in, names[0]);
    write_photo(p, 97);
    free(p);
    p = th_path(in, names[1]);
    write_photo(p, 60);
    free(p);
    th_run_expect(dry, 0);
    arr = th_read_jsonl(rep);
    for (int i = 0; i < 2; i++) {
        rec = th_find_record(arr, names[i]);
        cr_assert(rec);
        est[i] = th_json_int(rec, "out_bytes");
    }
    json_decref(arr);
    th_run_expect(real, 0);
    arr = th_read_jsonl(rep);
    for (int i = 0; i < 2; i++) {
        rec = th_find_record(arr, names[i]);
        cr_assert(rec);
        got[i] = th_json_int(rec, "out_bytes");
        cr_log_info("%s: estimated %lld, written %lld", names[i], est[i], got[i]);
        cr_assert(est[i] > got[i] * 0.65 && est[i] < got[i] * 1.35,
                  "%s: estimated %lld, written %lld", names[i], est[i],
                  got[i]);
    }
    rec = th_find_record(arr, names[1]);
    cr_expect_str_eq(th_json_str(rec, "mode"), "kept-original");
    cr_expect_eq(est[1], got[1], "kept: estimated %lld, written %lld",
                 est[1], got[1]);
    json_decref(arr);
}
