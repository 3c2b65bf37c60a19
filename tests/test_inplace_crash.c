/*
 * test_inplace_crash.c - `imgpool recompress --in-place` interrupted: the
 * originals are someone's only copy of their photos (see test_inplace.c).
 *
 *   inplace_crash  SIGKILL of the whole process group at random moments:
 *                  every file is its original or exactly what an
 *                  uninterrupted run writes (with its backup already in
 *                  place), and the next run finishes the job and leaves
 *                  no temporary file; a lossy run, --lossless and
 *                  --target-distance 1.0
 *   inplace_disk   a full file system (a small tmpfs; needs root): every
 *                  original survives, the records say no-space
 */

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "inplace_fixtures.h"

/* ------------------------------------------------------------------ */
/* Suite inplace_crash: SIGKILL at random moments                     */
/* ------------------------------------------------------------------ */

/* One file of the crash tree: the original and what a full run makes. */
struct cfile {
    char *rel;
    char *orig;             /* bytes of the original */
    size_t orig_len;
    char *final;            /* bytes after an uninterrupted run */
    size_t final_len;
    int replaced;           /* final differs from orig */
    int orientation;        /* EXIF, -1 when libexif is not available */
    struct th_image img;    /* the original, decoded (JPEGs only) */
};

/* Options added to every run of the sigkill test (NULL-terminated; the
 * look-target variant sets them). */
static const char *crash_opt[3];

/* The fixed mtime given to every file before a run. */
#define CRASH_MTIME 1500000000
#define CRASH_MTIME_NS 123456789L

/*
 * ~30 JPEGs of every kind imgpool meets: the small testdata files (some
 * replaced, some skipped) and photo-like ones of 0.5 to 1.9 megapixels
 * at Q95, in nested directories, with all eight EXIF orientations.
 */
static void
make_crash_tree(const char *dir)
{
    static const char *small[] = {
        "rgb.jpg", "progressive.jpg", "q75.jpg", "gray.jpg", "cmyk.jpg",
        "p3_icc.jpg", "srgb_icc.jpg", "orient1.jpg", "orient2.jpg",
        "orient3.jpg", "orient4.jpg", "orient5.jpg", "orient6.jpg",
        "orient7.jpg", "orient8.jpg",
    };
    static const enum gen_kind kinds[] = {
        GEN_RGB420, GEN_RGB420, GEN_PROGRESSIVE, GEN_RGB444, GEN_RGB420,
        GEN_GRAY, GEN_CMYK,
    };
    const size_t nsmall = sizeof(small) / sizeof(small[0]);

    for (size_t i = 0; i < nsmall; i++) {
        char as[64];
        snprintf(as, sizeof(as), "%s/%s", i % 2 ? "small/odd" : "small",
                 small[i]);
        th_copy_testdata(dir, small[i], as);
    }
    for (int i = 0; i < 15; i++) {
        char rel[64], *p;
        int w = 800 + (i * 53) % 800, h = 600 + (i * 37) % 600;
        snprintf(rel, sizeof(rel), "%s/photo%02d.jpg",
                 i < 5 ? "big" : i < 10 ? "big/2023" : "big/2023/trip", i);
        p = th_path(dir, rel);
        gen_jpeg(p, w, h, kinds[i % 7], 95, i % 9, (uint32_t)(1000 + i));
        free(p);
    }
}

static void
set_all_mtimes(const char *root)
{
    struct flist l;

    flist_of(&l, root);
    for (size_t i = 0; i < l.n; i++) {
        char *p = xasprintf("%s/%s", root, l.rel[i]);
        set_mtime(p, CRASH_MTIME, CRASH_MTIME_NS);
        free(p);
    }
    flist_release(&l);
}

/*
 * SIGKILL every process of group @pgid and reap them.  This process is a
 * child subreaper, so the workers orphaned by their master's death are
 * reaped here rather than by an init that may not reap: a zombie keeps its
 * pid alive, and a live pid keeps its temporary files from being cleaned.
 */
static void
kill_group(pid_t pgid)
{
    double deadline = now_ms() + 20000;
    int st;

    kill(-pgid, SIGKILL);
    for (;;) {
        while (waitpid(-1, &st, WNOHANG) > 0)
            ;
        if (kill(-pgid, 0) < 0 && errno == ESRCH)
            break;
        cr_assert_lt(now_ms(), deadline, "group %d does not die",
                     (int)pgid);
        kill(-pgid, SIGKILL);
        sleep_ms(1);
    }
}

/* Reap zombies left by finished runs (orphans reparented to us). */
static void
reap_orphans(void)
{
    int st;

    while (waitpid(-1, &st, WNOHANG) > 0)
        ;
}

/*
 * Check the tree @root against @files after a run that was killed
 * (@killed) or ran to the end.  Returns how many replaced files carry
 * their new content; *norig counts the files that the full run replaces
 * but that are still original here.
 */
static size_t
check_crash_tree(const char *root, const char *bk, const struct cfile *files,
                 size_t n, int killed, size_t *norig, int iter)
{
    struct flist l;
    size_t nnew = 0, k = 0;

    *norig = 0;
    flist_of(&l, root);
    for (size_t i = 0; i < l.n; i++) {
        char *p = xasprintf("%s/%s", root, l.rel[i]);
        const struct cfile *f;
        struct th_image img;
        struct stat st;
        size_t len;
        char *data;

        if (is_tmp_name(l.rel[i])) {
            cr_assert(killed, "iteration %d: '%s' left behind by a run "
                      "that finished", iter, l.rel[i]);
            free(p);
            continue;
        }
        while (k < n && strcmp(files[k].rel, l.rel[i]) < 0)
            k++;
        cr_assert(k < n && strcmp(files[k].rel, l.rel[i]) == 0,
                  "iteration %d: unexpected file '%s'", iter, l.rel[i]);
        f = &files[k];
        data = th_read_file(p, &len);
        stat_or_die(p, &st);
        cr_assert(st.st_mtim.tv_sec == CRASH_MTIME &&
                  st.st_mtim.tv_nsec == CRASH_MTIME_NS,
                  "iteration %d: '%s' lost its mtime", iter, l.rel[i]);
        if (len == f->orig_len && memcmp(data, f->orig, len) == 0) {
            *norig += f->replaced;
            free(data);
            free(p);
            k++;
            continue;
        }
        /* Not the original: then a whole, valid, equivalent JPEG. */
        cr_assert_eq(th_decode_jpeg(p, &img), 0, "iteration %d: '%s' is "
                     "neither the original nor a clean JPEG (%zu bytes)",
                     iter, l.rel[i], len);
        cr_assert(img.w == f->img.w && img.h == f->img.h,
                  "iteration %d: '%s' is %dx%d, was %dx%d", iter, l.rel[i],
                  img.w, img.h, f->img.w, f->img.h);
        cr_assert_eq(img.file_channels, f->img.file_channels,
                     "iteration %d: '%s' changed colour space", iter,
                     l.rel[i]);
        cr_assert_geq(th_psnr(&img, &f->img), 30.0, "iteration %d: '%s' does "
                      "not look like its original", iter, l.rel[i]);
        if (f->orientation >= 0)
            cr_assert_eq(norm_orientation(exif_orientation(p)),
                         norm_orientation(f->orientation),
                         "iteration %d: '%s' changed its EXIF orientation",
                         iter, l.rel[i]);
        /* libjpeg is deterministic: exactly what a full run writes. */
        cr_assert(f->replaced && len == f->final_len &&
                  memcmp(data, f->final, len) == 0,
                  "iteration %d: '%s' differs from the uninterrupted run's "
                  "result", iter, l.rel[i]);
        /* The backup is made before the rename, never after. */
        if (bk) {
            char *b = xasprintf("%s/%s", bk, l.rel[i]);
            cr_assert(th_exists(b), "iteration %d: '%s' was replaced "
                      "without a backup", iter, l.rel[i]);
            free(b);
        }
        th_image_release(&img);
        nnew++;
        free(data);
        free(p);
        k++;
    }
    flist_release(&l);
    /* Every file is still there (none lost to a rename gone wrong). */
    {
        size_t seen = 0;
        flist_of(&l, root);
        for (size_t i = 0; i < l.n; i++)
            seen += !is_tmp_name(l.rel[i]);
        flist_release(&l);
        cr_assert_eq(seen, n, "iteration %d: %zu of %zu files left", iter,
                     seen, n);
    }
    return nnew;
}

/*
 * Every file under the backup directory @bk is the byte-identical original
 * of the file of that path; with @all, every replaced file has one.
 */
static void
check_crash_backup(const char *bk, const struct cfile *files, size_t n,
                   int all, int iter)
{
    struct flist l;
    size_t k = 0, nrepl = 0;

    for (size_t i = 0; i < n; i++)
        nrepl += files[i].replaced;
    if (!th_exists(bk)) {
        cr_assert(!all, "iteration %d: no backup directory", iter);
        return;
    }
    flist_of_backup(&l, bk);
    for (size_t i = 0; i < l.n; i++) {
        char *b = xasprintf("%s/%s", bk, l.rel[i]);
        size_t len;
        char *data;

        cr_assert(!is_tmp_name(l.rel[i]), "iteration %d: '%s' in the "
                  "backup", iter, l.rel[i]);
        while (k < n && strcmp(files[k].rel, l.rel[i]) < 0)
            k++;
        cr_assert(k < n && strcmp(files[k].rel, l.rel[i]) == 0,
                  "iteration %d: unexpected backup '%s'", iter, l.rel[i]);
        data = th_read_file(b, &len);
        cr_assert(len == files[k].orig_len &&
                  memcmp(data, files[k].orig, len) == 0,
                  "iteration %d: the backup of '%s' is not its original",
                  iter, l.rel[i]);
        cr_assert(files[k].replaced, "iteration %d: '%s' is backed up but "
                  "never replaced", iter, l.rel[i]);
        free(data);
        free(b);
    }
    if (all)
        cr_assert_eq(l.n, nrepl, "iteration %d: %zu backups for %zu "
                     "replaced files", iter, l.n, nrepl);
    flist_release(&l);
}

static char *crash_root;

static void
crash_setup(void)
{
    umask(022);
    crash_root = th_mkdtemp();
}

/* Also after a failed assertion: the trees are tens of megabytes. */
static void
crash_teardown(void)
{
    th_rmrf(crash_root);
    free(crash_root);
}

TestSuite(inplace_crash, .init = crash_setup, .fini = crash_teardown,
          .timeout = 300);

/*
 * The reference: one uninterrupted run of a copy of @pristine in @calib,
 * timed (*run_ms).  Returns the files with their original and final bytes
 * (*n of them, *nrepl replaced).
 */
static struct cfile *
crash_reference(const char *pristine, const char *calib, const char *rpt,
                size_t *n, size_t *nrepl, double *run_ms)
{
    struct cfile *files;
    struct flist l;
    json_t *arr;
    char *err;
    double t0;
    int code;

    copy_tree(pristine, calib);
    set_all_mtimes(calib);
    t0 = now_ms();
    code = run_ip(rpt, &arr, &err, calib, "-j", "2", crash_opt[0],
                  crash_opt[1], NULL);
    *run_ms = now_ms() - t0;
    cr_assert_eq(code, 0, "reference run: exit %d: %s", code, err);
    json_decref(arr);
    free(err);
    reap_orphans();

    flist_of(&l, pristine);
    *n = l.n;
    *nrepl = 0;
    cr_assert_geq(*n, 30);
    files = calloc(*n, sizeof(*files));
    cr_assert(files != NULL, "out of memory");
    for (size_t i = 0; i < *n; i++) {
        struct cfile *f = &files[i];
        char *o = xasprintf("%s/%s", pristine, l.rel[i]);
        char *c = xasprintf("%s/%s", calib, l.rel[i]);
        f->rel = strdup(l.rel[i]);
        f->orig = th_read_file(o, &f->orig_len);
        f->final = th_read_file(c, &f->final_len);
        f->replaced = f->orig_len != f->final_len ||
                      memcmp(f->orig, f->final, f->orig_len) != 0;
        *nrepl += f->replaced;
        f->orientation = exif_orientation(o);
        cr_assert_eq(th_decode_jpeg(o, &f->img), 0, "'%s'", o);
        free(o);
        free(c);
    }
    flist_release(&l);
    return files;
}

/*
 * After the kill of iteration @it: the next run (with backups in @bk when
 * set) replaces exactly the @norig files still original, and the tree ends
 * as an uninterrupted run leaves it, with no temporary file.
 */
static void
crash_rerun(const char *work, const char *bk, const char *rpt,
            const struct cfile *files, size_t n, size_t norig, int it)
{
    json_t *arr;
    char *err;
    int code;

    code = bk ? run_ip(rpt, &arr, &err, work, "-j", "2", "--backup", bk,
                       crash_opt[0], crash_opt[1], NULL)
              : run_ip(rpt, &arr, &err, work, "-j", "2", crash_opt[0],
                       crash_opt[1], NULL);
    cr_assert_eq(code, 0, "iteration %d: rerun exit %d: %s", it, code, err);
    cr_assert_eq(int_of(summary_of(arr), "failed"), 0);
    cr_assert_eq(int_of(summary_of(arr), "ok"), (long long)norig,
                 "iteration %d: the rerun should replace exactly the "
                 "%zu files still original", it, norig);
    json_decref(arr);
    free(err);
    reap_orphans();
    check_crash_tree(work, bk, files, n, 0, &norig, it);
    if (bk)
        check_crash_backup(bk, files, n, 1, it);
    cr_assert_eq(norig, 0, "iteration %d: %zu files not replaced", it,
                 norig);
    for (size_t i = 0; i < n; i++) {
        char *p = xasprintf("%s/%s", work, files[i].rel);
        size_t len;
        char *data = th_read_file(p, &len);
        cr_assert(len == files[i].final_len &&
                  memcmp(data, files[i].final, len) == 0,
                  "iteration %d: '%s' differs from the uninterrupted "
                  "run's result", it, files[i].rel);
        free(data);
        free(p);
    }
    cr_assert_eq(count_tmp_files(work), 0);
}

/*
 * @iterations kills at moments spread over a run (with crash_opt), each
 * followed by the run that ends the job; at least @min_replaced files are
 * replaced by an uninterrupted run.
 */
static void
crash_kills(int iterations, size_t min_replaced)
{
    const char *root = crash_root;
    char *pristine = th_path(root, "pristine");
    char *calib = th_path(root, "calib");
    char *work = th_path(root, "work");
    char *rpt = th_path(root, "report.jsonl");
    char *bk = th_path(root, "backup");
    struct cfile *files;
    uint64_t seed = 20240601;
    double run_ms;
    size_t n, nrepl, partial = 0, untouched_runs = 0, finished = 0;
    size_t total_new = 0, total_tmp = 0;

    cr_assert(prctl(PR_SET_CHILD_SUBREAPER, 1) == 0, "PR_SET_CHILD_SUBREAPER:"
              " %s", strerror(errno));
    make_crash_tree(pristine);
    set_all_mtimes(pristine);
    files = crash_reference(pristine, calib, rpt, &n, &nrepl, &run_ms);
    cr_assert_geq(nrepl, min_replaced, "only %zu of %zu files are replaced "
                  "by a full run", nrepl, n);
    cr_log_info("crash tree: %zu files, %zu replaced by a full run of "
                "%.0f ms", n, nrepl, run_ms);

    for (int it = 0; it < iterations; it++) {
        /* Every other run also keeps backups (hard links, same fs). */
        const char *use_bk = it % 2 ? bk : NULL;
        const char *args[10] = { "recompress", "--in-place", work, "-j",
                                 "2" };
        int na = 5;
        double delay = (double)(rng_next(&seed) % 1000) / 1000 * run_ms;
        size_t nnew, norig, ntmp;
        pid_t pid;
        int st;

        for (int k = 0; crash_opt[k]; k++)
            args[na++] = crash_opt[k];
        if (use_bk) {
            args[na++] = "--backup";
            args[na++] = use_bk;
        }
        th_rmrf(work);
        th_rmrf(bk);
        copy_tree(pristine, work);
        set_all_mtimes(work);

        pid = th_spawn_group(args);
        sleep_ms(delay);
        if (waitpid(pid, &st, WNOHANG) == pid) {
            /* It won the race: a finished run is checked all the same. */
            cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0,
                      "iteration %d: imgpool ended with status 0x%x", it,
                      st);
            finished++;
        }
        kill_group(pid);

        ntmp = count_tmp_files(work);
        nnew = check_crash_tree(work, use_bk, files, n, 1, &norig, it);
        if (use_bk)
            check_crash_backup(bk, files, n, 0, it);
        total_new += nnew;
        total_tmp += ntmp;
        if (nnew > 0 && norig > 0)
            partial++;
        if (nnew == 0)
            untouched_runs++;

        /* The next run completes the job and cleans up. */
        crash_rerun(work, use_bk, rpt, files, n, norig, it);
        cr_log_info("iteration %2d: killed at %5.0f ms: %2zu replaced, "
                    "%2zu still original, %zu temporary files%s", it, delay,
                    nnew, nrepl - nnew, ntmp, use_bk ? ", --backup" : "");
    }
    cr_log_info("%d kills: %zu in mid-run, %zu before any replacement, "
                "%zu after the end; %zu replacements, %zu temporary files "
                "left by the kills", iterations, partial, untouched_runs,
                finished, total_new, total_tmp);
    /* Some kills must land while files were being replaced, or this test
     * proved nothing; delays spread over a whole run make that certain
     * in practice (typically over half of them). */
    cr_assert_geq(partial, 1, "no kill landed in mid-run");

    for (size_t i = 0; i < n; i++) {
        free(files[i].rel);
        free(files[i].orig);
        free(files[i].final);
        th_image_release(&files[i].img);
    }
    free(files);
    free(pristine);
    free(calib);
    free(work);
    free(rpt);
    free(bk);
}

Test(inplace_crash, sigkill_leaves_each_file_whole_and_the_next_run_ends_it)
{
    crash_kills(20, 15);
}

/* The same with --lossless: the coefficients copied, the same commit. */
Test(inplace_crash, sigkill_during_lossless_runs_leaves_each_file_whole)
{
    crash_opt[0] = "--lossless";
    crash_kills(12, 12);
}

/* The same with --target-distance: the search, the mark and the same
 * commit (fewer kills: each run is longer). */
Test(inplace_crash, sigkill_during_look_target_runs_leaves_each_file_whole)
{
    crash_opt[0] = "--target-distance";
    crash_opt[1] = "1.0";
    crash_kills(8, 12);
}
/* ------------------------------------------------------------------ */
/* Suite inplace_disk: a file system with no room for the new files   */
/* ------------------------------------------------------------------ */

static char *disk_root, *disk_mnt;
static int disk_mounted;

static void
disk_setup(void)
{
    umask(022);
    disk_root = th_mkdtemp();
    disk_mnt = th_path(disk_root, "mnt");
    th_mkdirs(disk_mnt);
    disk_mounted = 0;
}

static void
disk_teardown(void)
{
    if (disk_mounted && umount2(disk_mnt, MNT_DETACH) != 0)
        cr_log_warn("cannot unmount '%s': %s", disk_mnt, strerror(errno));
    disk_mounted = 0;
    th_rmrf(disk_root);
    free(disk_root);
    free(disk_mnt);
}

TestSuite(inplace_disk, .init = disk_setup, .fini = disk_teardown,
          .timeout = 120);

/* Fill the file system of @path with a file, then free @keep bytes. */
static void
fill_fs(const char *path, off_t keep)
{
    static char block[65536];
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    off_t size = 0;

    cr_assert(fd >= 0, "cannot create '%s': %s", path, strerror(errno));
    memset(block, 0x5A, sizeof(block));
    for (;;) {
        ssize_t k = write(fd, block, sizeof(block));
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0) {
            cr_assert(k == 0 || errno == ENOSPC, "filling '%s': %s", path,
                      strerror(errno));
            break;
        }
        size += k;
    }
    cr_assert_gt(size, keep, "the file system was already full");
    cr_assert(ftruncate(fd, size - keep) == 0, "ftruncate: %s",
              strerror(errno));
    cr_assert(close(fd) == 0);
}

Test(inplace_disk, full_disk_leaves_every_original_and_reports_no_space)
{
    static const char *names[] = { "a.jpg", "sub/b.jpg", "sub/c.jpg",
                                   "d.jpg" };
    char *drep = th_path(disk_root, "report.jsonl");
    struct fsnap snap[4];
    json_t *arr;
    char *err;
    int code;

    if (geteuid() != 0)
        cr_skip_test("needs root to mount a tmpfs: running as uid %d",
                     (int)geteuid());
    if (mount("tmpfs", disk_mnt, "tmpfs", MS_NOSUID | MS_NODEV,
              "size=2048k,mode=0755") != 0)
        cr_skip_test("needs root to mount a tmpfs: mount: %s",
                     strerror(errno));
    disk_mounted = 1;

    /* Four originals of 100-200 KB, re-encodes of 70-140 KB. */
    for (int i = 0; i < 4; i++) {
        char *p = th_path(disk_mnt, names[i]);
        gen_jpeg(p, 480 + 40 * i, 360, i == 2 ? GEN_PROGRESSIVE : GEN_RGB420,
                 95, i == 1 ? 6 : 0, (uint32_t)(300 + i));
        fsnap_take(&snap[i], p);
        free(p);
    }
    /* The originals fit; beside them stay 16 KB, no room for any copy. */
    {
        char *filler = th_path(disk_mnt, "filler.bin");
        fill_fs(filler, 16384);
        free(filler);
    }

    code = run_ip(drep, &arr, &err, disk_mnt, "-j", "2", NULL);
    cr_assert_eq(code, 1, "exit %d: %s", code, err);
    for (int i = 0; i < 4; i++) {
        char *p = th_path(disk_mnt, names[i]);
        json_t *rec = record(arr, names[i]);
        cr_assert_str_eq(str_of(rec, "status"), "failed");
        cr_assert_str_eq(class_of(rec), "no-space", "'%s': %s: %s",
                         names[i], class_of(rec),
                         str_of(json_object_get(rec, "error"), "message"));
        assert_untouched(&snap[i], p);
        fsnap_release(&snap[i]);
        free(p);
    }
    cr_assert_eq(int_of(summary_of(arr), "failed"), 4);
    cr_assert(strstr(err, "no-space"), "stderr: %s", err);
    /* Nothing half-written was left to fill the disk further. */
    cr_assert_eq(count_tmp_files(disk_mnt), 0);
    json_decref(arr);
    free(err);
    free(drep);
}
