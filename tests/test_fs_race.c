/*
 * test_fs_race.c - the built imgpool binary against an input tree that
 * someone changes while it runs: a directory swapped for a symlink during
 * an in-place encode (as root: a file owned by nobody must never replace
 * a root-owned one elsewhere), the same swap in a loop during a -o run (no
 * output from a private folder), an editor saving over a file while it is
 * recompressed in place (the save survives), a file deeper than PATH_MAX,
 * and symlinks below a root with and without --follow-symlinks.
 *
 * The exact moments come from the worker's stop points (src/worker/
 * fault.h): IMGPOOL_FAULT="wait-STAGE:GLOB" with IMGPOOL_FAULT_DIR makes
 * the worker create DIR/reached and wait for DIR/go (th_fault_arm() and
 * the rest in helpers.h).  The tests that use them are in the suite
 * fsrace_fault, skipped in a build without fault injection.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <turbojpeg.h>
#include <unistd.h>

#include "inplace_fixtures.h"
#include "outfile.h"

INPLACE_TREE

/* Setup of the tests that stop a worker at a fault point. */
static void
fault_setup(void)
{
    setup();
    th_need_fault_injection();
}

TestSuite(fsrace, .init = setup, .fini = teardown, .timeout = 300);
TestSuite(fsrace_fault, .init = fault_setup, .fini = teardown,
          .timeout = 300);

/* ---- small helpers ---- */

/* A @w x @h JPEG of one colour, at @quality, to @path. */
static void
solid_jpeg(const char *path, int w, int h, int r, int g, int b, int quality)
{
    unsigned char *px = malloc((size_t)w * (size_t)h * 3), *jpeg;
    unsigned long len;

    cr_assert(px != NULL);
    for (size_t i = 0; i < (size_t)w * (size_t)h; i++) {
        px[3 * i] = (unsigned char)r;
        px[3 * i + 1] = (unsigned char)g;
        px[3 * i + 2] = (unsigned char)b;
    }
    jpeg = th_jpeg_encode(px, w, h, TJPF_RGB, TJSAMP_444, quality, 0, &len);
    th_write_file(path, jpeg, len);
    free(jpeg);
    free(px);
}

/* Number of entries in directory @path. */
static int
count_entries(const char *path)
{
    DIR *d = opendir(path);
    struct dirent *e;
    int n = 0;

    cr_assert_not_null(d, "opendir %s: %s", path, strerror(errno));
    for (e = readdir(d); e != NULL; e = readdir(d))
        n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    closedir(d);
    return n;
}

/* ---- case 1: a directory swapped for a symlink during an in-place
 * encode must not make root replace a file elsewhere ---- */

/* The victim folder: two root-owned files, one named like the input. */
struct victim {
    char *dir, *passwd, *other;
    struct fsnap snap_passwd, snap_other;
};

static void
victim_make(struct victim *v, const char *photo)
{
    v->dir = th_path(tmp, "victim");
    v->passwd = th_path(v->dir, "passwd");
    v->other = th_path(v->dir, "shadow");
    th_mkdirs(v->dir);
    th_copy_file(photo, v->passwd);    /* the same bytes as the input */
    th_write_file(v->other, "root:*:19000:0:99999:7:::\n", 26);
    cr_assert_eq(chown(v->passwd, 0, 0), 0);
    cr_assert_eq(chmod(v->passwd, 0644), 0);
    fsnap_take(&v->snap_passwd, v->passwd);
    fsnap_take(&v->snap_other, v->other);
}

static void
victim_check(struct victim *v)
{
    struct stat st;

    assert_untouched(&v->snap_passwd, v->passwd);
    assert_untouched(&v->snap_other, v->other);
    stat_or_die(v->passwd, &st);
    cr_assert(st.st_uid == 0 && st.st_gid == 0 &&
              (st.st_mode & 07777) == 0644,
              "victim/passwd changed owner or mode");
    cr_assert_eq(count_entries(v->dir), 2, "a file appeared in the victim "
                 "folder");
    fsnap_release(&v->snap_passwd);
    fsnap_release(&v->snap_other);
    free(v->dir);
    free(v->passwd);
    free(v->other);
}

/* Run in place over in/ with the stop point @stage ("wait-open",
 * "wait-commit") on "passwd"; at the stop, in/sub is renamed away and replaced by a symlink to the victim
 * folder.  Returns the parsed report. */
static json_t *
swap_during(const char *stage, const char *victim_dir)
{
    char *fault = th_fault_arm(tmp, stage, "passwd");
    char *reached = th_path(fault, "reached");
    char *sub = th_path(in, "sub"), *moved = th_path(in, "sub.moved");
    const char *args[] = { "recompress", "--in-place", in, "--report", rep,
                           "-j", "1", NULL };
    pid_t pid = th_spawn(args);
    int code;

    th_fault_disarm();
    th_wait_for_file(reached, 60000);
    cr_assert_eq(rename(sub, moved), 0);
    cr_assert_eq(symlink(victim_dir, sub), 0);
    th_fault_release(fault);
    code = th_wait_exit(pid, 120000);
    cr_assert(code == 0 || code == 1, "exit %d", code);
    free(fault);
    free(reached);
    free(sub);
    free(moved);
    return th_read_jsonl(rep);
}

static void
case1_at(const char *stage)
{
    char *photo = th_path(in, "sub/passwd");
    char *moved = th_path(in, "sub.moved/passwd");
    struct victim v;
    struct fsnap orig;
    json_t *arr, *r;

    if (geteuid() != 0)
        cr_skip_test("needs root: the attack is root replacing a file it "
                     "does not own");
    gen_jpeg(photo, 800, 600, GEN_RGB420, 98, 0, 7);
    cr_assert_eq(chown(photo, 65534, 65534), 0);
    cr_assert_eq(chmod(photo, 0666), 0);
    victim_make(&v, photo);
    fsnap_take(&orig, photo);

    arr = swap_during(stage, v.dir);
    r = record(arr, "sub/passwd");
    cr_assert_str_neq(str_of(r, "status"), "ok",
                      "the record says ok after the swap (%s)", stage);
    cr_assert_str_eq(str_of(r, "status"), "skipped");
    cr_assert(strcmp(class_of(r), "symlink") == 0 ||
              strcmp(class_of(r), "input-changed") == 0,
              "class %s", class_of(r));
    victim_check(&v);
    /* The real file, now in sub.moved, was not replaced either. */
    assert_untouched(&orig, moved);
    {
        char *dir = th_path(in, "sub.moved");

        cr_assert_eq(count_entries(dir), 1, "a temporary file was left");
        cr_assert_eq(count_entries(in), 2);    /* sub.moved, sub */
        free(dir);
    }
    fsnap_release(&orig);
    json_decref(arr);
    free(photo);
    free(moved);
}

Test(fsrace_fault, case1_dir_swapped_for_symlink_during_encode)
{
    case1_at("wait-commit");
}

Test(fsrace_fault, case1_dir_swapped_for_symlink_before_open)
{
    case1_at("wait-open");
}

/* ---- case 2: a subdirectory swapped back and forth with a symlink to a
 * private folder during a -o run: nothing is read from the private folder
 * ---- */

enum { NFILES = 150 };

/* in/sub/fNNN.jpg green, priv/fNNN.jpg red (the same names). */
static char *
make_public_and_private(void)
{
    char *priv = th_path(tmp, "priv");
    char name[64], *p;

    for (int i = 0; i < NFILES; i++) {
        snprintf(name, sizeof(name), "sub/f%03d.jpg", i);
        p = th_path(in, name);
        solid_jpeg(p, 48, 32, 20, 200, 30, 95);
        free(p);
        snprintf(name, sizeof(name), "f%03d.jpg", i);
        p = th_path(priv, name);
        solid_jpeg(p, 48, 32, 220, 10, 10, 95);
        free(p);
    }
    cr_assert_eq(chmod(priv, 0700), 0);
    return priv;
}

/* Every output under out/sub (or out/.sub.real, the name the swapper
 * gives the real directory meanwhile, which the scan may meet) decodes to
 * green, never to the private red; returns how many there are. */
static int
assert_no_private_output(const char *out)
{
    char name[64], *p;
    int n = 0;

    for (int i = 0; i < 2 * NFILES; i++) {
        struct th_image img;
        double rgb[3];

        snprintf(name, sizeof(name), "%s/f%03d.jpg",
                 i < NFILES ? "sub" : ".sub.real", i % NFILES);
        p = th_path(out, name);
        if (th_exists(p)) {
            cr_assert_eq(th_decode_jpeg(p, &img), 0, "%s", p);
            th_mean_rgb(&img, img.w / 2, img.h / 2, 2, rgb);
            cr_assert(!th_rgb_near(rgb, 220, 10, 10, 60),
                      "%s was made from a private file", p);
            cr_assert(th_rgb_near(rgb, 20, 200, 30, 30), "%s: %.0f,%.0f,"
                      "%.0f", p, rgb[0], rgb[1], rgb[2]);
            th_image_release(&img);
            n++;
        }
        free(p);
    }
    return n;
}

/* A child that swaps in/sub and a symlink to @priv until killed. */
static pid_t
start_swapper(const char *priv)
{
    char *sub = th_path(in, "sub"), *real = th_path(in, ".sub.real");
    pid_t pid;

    fflush(NULL);
    pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        for (unsigned k = 0;; k++) {
            if (rename(sub, real) != 0 || symlink(priv, sub) != 0)
                _exit(1);
            usleep(200 + (k % 7) * 150);
            if (unlink(sub) != 0 || rename(real, sub) != 0)
                _exit(1);
            usleep(200 + (k % 5) * 150);
        }
    }
    free(sub);
    free(real);
    return pid;
}

static void
stop_swapper(pid_t pid)
{
    char *sub = th_path(in, "sub"), *real = th_path(in, ".sub.real");
    struct stat st;
    int status;

    kill(pid, SIGKILL);
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFSIGNALED(status), "the swapper gave up: status %d", status);
    /* Leave the tree as it was. */
    if (lstat(sub, &st) == 0 && S_ISLNK(st.st_mode))
        cr_assert_eq(unlink(sub), 0);
    if (lstat(real, &st) == 0)
        cr_assert_eq(rename(real, sub), 0);
    free(sub);
    free(real);
}

Test(fsrace, case2_swapped_subdir_never_reads_private_files)
{
    char *priv = make_public_and_private();
    char *out = th_path(tmp, "out");
    const char *args[] = { "thumbnail", in, "-o", out, "--report", rep,
                           "-s", "16", "-j", "2", NULL };
    int total_ok = 0;

    for (int round = 0; round < 3; round++) {
        struct th_run r;
        pid_t swapper = start_swapper(priv);
        json_t *arr;

        th_rmrf(out);
        th_run(&r, args);
        stop_swapper(swapper);
        cr_assert(r.status == 0 || r.status == 1, "exit %d: %s", r.status,
                  r.err);
        th_run_release(&r);
        arr = th_read_jsonl(rep);
        total_ok += (int)th_count_records(arr, "ok", NULL);
        {
            int nok = (int)th_count_records(arr, "ok", NULL);
            int nout = assert_no_private_output(out);

            cr_assert_eq(nok, nout, "%d ok records, %d outputs", nok, nout);
        }
        json_decref(arr);
    }
    cr_assert_gt(total_ok, 0, "nothing was processed at all");
    free(priv);
    free(out);
}

/* The same swap at a known moment: after the scan, before the open. */
Test(fsrace_fault, case2_swap_between_scan_and_open)
{
    char *priv = make_public_and_private();
    char *out = th_path(tmp, "out");
    char *fault = th_fault_arm(tmp, "wait-open", "f007.jpg");
    char *reached = th_path(fault, "reached");
    char *sub = th_path(in, "sub"), *real = th_path(in, ".sub.real");
    const char *args[] = { "thumbnail", in, "-o", out, "--report", rep,
                           "-s", "16", "-j", "1", NULL };
    pid_t pid = th_spawn(args);
    json_t *arr, *r;

    th_fault_disarm();
    th_wait_for_file(reached, 60000);
    cr_assert_eq(rename(sub, real), 0);
    cr_assert_eq(symlink(priv, sub), 0);
    th_fault_release(fault);
    cr_assert_eq(th_wait_exit(pid, 120000), 0);
    arr = th_read_jsonl(rep);
    r = record(arr, "sub/f007.jpg");
    cr_assert_str_eq(str_of(r, "status"), "skipped");
    cr_assert_str_eq(class_of(r), "symlink");
    /* Every later file of sub is refused the same way. */
    cr_assert_eq(th_count_records(arr, "skipped", "symlink"),
                 NFILES - 7);
    cr_assert_eq(assert_no_private_output(out), 7);
    json_decref(arr);
    free(priv);
    free(out);
    free(fault);
    free(reached);
    free(sub);
    free(real);
}

/* ---- case 5: an editor saves (temp file, rename over the name) while
 * the file is recompressed in place: the save always survives ---- */

#define EDITOR_W 320
#define EDITOR_H 200

/* The editor's new version, magenta, and its bytes. */
static char *
editor_version(size_t *len)
{
    char *p = th_path(tmp, "editor.jpg"), *data;

    solid_jpeg(p, EDITOR_W, EDITOR_H, 230, 20, 220, 97);
    data = th_read_file(p, len);
    free(p);
    return data;
}

/* Save @data as in/photo.jpg the way editors do. */
static void
editor_save(const char *data, size_t len)
{
    /* The save file is made outside the input tree: beside the photo it
     * is itself a JPEG the scan can find and the rename then take away,
     * a second record (failed, exit 1) that is not what this checks. */
    char *swp = th_path(tmp, ".photo.jpg.swp"), *photo = th_path(in,
                                                                "photo.jpg");

    th_write_file(swp, data, len);
    if (rename(swp, photo) != 0)
        _exit(1);
    free(swp);
    free(photo);
}

/*
 * After a run raced by an editor's save: the file is the editor's bytes,
 * or (record ok) a recompression of the editor's version; never the
 * original's picture.  The exit code matches the record.  Returns 1 when
 * imgpool reported input-changed.
 */
static int
check_editor_survived(json_t *arr, int code, const char *data, size_t len)
{
    char *photo = th_path(in, "photo.jpg");
    json_t *r = record(arr, "photo.jpg");
    const char *status = str_of(r, "status");
    size_t got_len;
    char *got = th_read_file(photo, &got_len);
    int changed = strcmp(status, "skipped") == 0 &&
                  strcmp(class_of(r), "input-changed") == 0;

    cr_assert_eq(code, strcmp(status, "failed") == 0 ? 1 : 0,
                 "exit %d for a %s record", code, status);
    if (got_len != len || memcmp(got, data, len) != 0) {
        struct th_image img;
        double rgb[3];

        cr_assert_str_eq(status, "ok", "the file is neither the editor's "
                         "save nor made from it (%s, %s)", status,
                         class_of(r));
        cr_assert_eq(th_decode_jpeg(photo, &img), 0);
        cr_assert(img.w == EDITOR_W && img.h == EDITOR_H,
                  "the editor's save was replaced by the old photo "
                  "(%dx%d)", img.w, img.h);
        th_mean_rgb(&img, img.w / 2, img.h / 2, 4, rgb);
        cr_assert(th_rgb_near(rgb, 230, 20, 220, 20));
        th_image_release(&img);
        cr_assert(!changed);
    }
    cr_assert_eq(count_tmp_files(in), 0, "a temporary file was left");
    free(got);
    free(photo);
    return changed;
}

/* An editor saves photo.jpg while the in-place run @args (its INPUT and
 * --report set here) is stopped at the commit: the save survives and the
 * record says input-changed. */
static void
editor_save_during_commit(const char *const *opts)
{
    char *photo = th_path(in, "photo.jpg");
    char *fault = th_fault_arm(tmp, "wait-commit", "photo.jpg");
    char *reached = th_path(fault, "reached");
    const char *args[16];
    size_t len, n = 0;
    char *data = editor_version(&len);
    pid_t pid;
    json_t *arr;

    args[n++] = "recompress";
    args[n++] = "--in-place";
    for (; *opts; opts++)
        args[n++] = *opts;
    args[n++] = in;
    args[n++] = "--report";
    args[n++] = rep;
    args[n] = NULL;
    gen_jpeg(photo, 1200, 800, GEN_RGB420, 98, 0, 3);
    pid = th_spawn(args);
    th_fault_disarm();
    th_wait_for_file(reached, 60000);
    editor_save(data, len);
    th_fault_release(fault);
    arr = th_read_jsonl((th_wait_exit(pid, 120000), rep));
    cr_assert_eq(check_editor_survived(arr, 0, data, len), 1,
                 "not reported as input-changed");
    json_decref(arr);
    free(data);
    free(photo);
    free(fault);
    free(reached);
}

Test(fsrace_fault, case5_editor_save_during_commit_survives)
{
    const char *opts[] = { NULL };

    editor_save_during_commit(opts);
}

/* The same with --lossless: its commit is the same commit. */
Test(fsrace_fault, case5_editor_save_during_lossless_commit_survives)
{
    const char *opts[] = { "--lossless", "--min-saving", "0", NULL };

    editor_save_during_commit(opts);
}

/* The same with --target-distance: the look search ends in that commit
 * too. */
Test(fsrace_fault, case5_editor_save_during_look_commit_survives)
{
    const char *opts[] = { "--target-distance", "1.0", NULL };

    editor_save_during_commit(opts);
}

Test(fsrace, case5_editor_save_at_many_moments_survives)
{
    char *photo = th_path(in, "photo.jpg");
    char *pristine = th_path(tmp, "pristine.jpg");
    const char *args[] = { "recompress", "--in-place", in, "--report", rep,
                           NULL };
    size_t len;
    char *data = editor_version(&len);
    double t0, run_ms;
    int changed = 0;

    gen_jpeg(pristine, 1600, 1200, GEN_RGB420, 98, 0, 5);
    /* How long one run takes here, to spread the saves over it. */
    th_copy_file(pristine, photo);
    t0 = now_ms();
    cr_assert_eq(th_wait_exit(th_spawn(args), 120000), 0);
    run_ms = now_ms() - t0;

    for (int i = 0; i < 20; i++) {
        double delay = run_ms * (0.15 + 0.06 * i);
        json_t *arr;
        pid_t pid, editor;
        int code, st;

        th_copy_file(pristine, photo);
        pid = th_spawn(args);
        fflush(NULL);
        editor = fork();
        cr_assert_geq(editor, 0);
        if (editor == 0) {
            sleep_ms(delay);
            editor_save(data, len);
            _exit(0);
        }
        code = th_wait_exit(pid, 120000);
        cr_assert_eq(waitpid(editor, &st, 0), editor);
        cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
        arr = th_read_jsonl(rep);
        changed += check_editor_survived(arr, code, data, len);
        json_decref(arr);
    }
    cr_log_info("input-changed in %d of 20 races (run %.0f ms)", changed,
                run_ms);
    free(data);
    free(photo);
    free(pristine);
}

/* ---- case 7: a file deeper than PATH_MAX is processed ---- */

#define DEEP_LEVELS 40
#define DEEP_NAME 200

/* The @i-th directory name of the deep tree: DEEP_NAME bytes. */
static void
deep_name(char *buf, int i)
{
    memset(buf, 'a' + i % 26, DEEP_NAME);
    snprintf(buf, 8, "d%02d", i);
    buf[strlen(buf)] = '_';
    buf[DEEP_NAME] = '\0';
}

/* Open (creating with @create) the bottom directory of the deep tree below
 * @root; -1 when a level is missing. */
static int
deep_open(const char *root, int create)
{
    char name[DEEP_NAME + 1];
    int fd = open(root, O_RDONLY | O_DIRECTORY), next;

    cr_assert_geq(fd, 0, "%s: %s", root, strerror(errno));
    for (int i = 0; i < DEEP_LEVELS; i++) {
        deep_name(name, i);
        if (create)
            cr_assert(mkdirat(fd, name, 0755) == 0 || errno == EEXIST);
        next = openat(fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
        close(fd);
        if (next < 0)
            return -1;
        fd = next;
    }
    return fd;
}

/* Copy @name in the directory @dirfd to @path (a short one). */
static void
copy_out(int dirfd, const char *name, const char *path)
{
    char buf[65536];
    int fd = openat(dirfd, name, O_RDONLY), out;
    ssize_t n;

    cr_assert_geq(fd, 0, "%s: %s", name, strerror(errno));
    out = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    cr_assert_geq(out, 0);
    for (n = read(fd, buf, sizeof(buf)); n > 0;
         n = read(fd, buf, sizeof(buf)))
        cr_assert_eq(write(out, buf, (size_t)n), n);
    close(fd);
    close(out);
}

/* rm -rf of the deep tree below @root, through descriptors. */
static void
deep_remove(const char *root)
{
    char name[DEEP_NAME + 1];

    for (int depth = DEEP_LEVELS; depth > 0; depth--) {
        int fd = open(root, O_RDONLY | O_DIRECTORY), next;
        DIR *d;
        struct dirent *e;

        cr_assert_geq(fd, 0);
        for (int i = 0; i < depth - 1 && fd >= 0; i++) {
            deep_name(name, i);
            next = openat(fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
            close(fd);
            fd = next;
        }
        if (fd < 0)
            continue;
        deep_name(name, depth - 1);
        next = openat(fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
        if (next >= 0) {
            d = fdopendir(next);
            cr_assert_not_null(d);
            for (e = readdir(d); e != NULL; e = readdir(d))
                if (strcmp(e->d_name, ".") != 0 &&
                    strcmp(e->d_name, "..") != 0)
                    unlinkat(dirfd(d), e->d_name, 0);
            closedir(d);
        }
        unlinkat(fd, name, AT_REMOVEDIR);
        close(fd);
    }
}

Test(fsrace, case7_file_deeper_than_path_max)
{
    char *out = th_path(tmp, "out");
    char *copy = th_path(tmp, "copy.jpg"), *src = th_path(tmp, "src.jpg");
    const char *thumb[] = { "thumbnail", in, "-o", out, "--report", rep,
                            "-s", "64", NULL };
    const char *inplace[] = { "recompress", "--in-place", in, "--report",
                              rep, NULL };
    struct th_image img;
    json_t *arr, *rec;
    size_t before_len, after_len;
    char *before, *after;
    int fd;

    gen_jpeg(src, 400, 300, GEN_RGB420, 98, 0, 11);
    fd = deep_open(in, 1);
    cr_assert_geq(fd, 0);
    {
        char *data = th_read_file(src, &before_len);
        int f = openat(fd, "deep.jpg", O_WRONLY | O_CREAT | O_EXCL, 0644);

        cr_assert_geq(f, 0);
        cr_assert_eq(write(f, data, before_len), (ssize_t)before_len);
        close(f);
        free(data);
    }
    close(fd);
    cr_assert_gt(DEEP_LEVELS * (DEEP_NAME + 1), PATH_MAX);

    /* -o: the thumbnail is made, as deep below out. */
    th_run_expect(thumb, 0);
    arr = th_read_jsonl(rep);
    rec = record(arr, "/deep.jpg");
    cr_assert_str_eq(str_of(rec, "status"), "ok");
    cr_assert_eq(th_json_int(th_summary(arr), "total"), 1);
    json_decref(arr);
    fd = deep_open(out, 0);
    cr_assert_geq(fd, 0, "no output tree");
    copy_out(fd, "deep.jpg", copy);
    close(fd);
    cr_assert_eq(th_decode_jpeg(copy, &img), 0);
    cr_assert(img.w == 64 && img.h == 48, "%dx%d", img.w, img.h);
    th_image_release(&img);

    /* In place: replaced by its recompressed self. */
    th_run_expect(inplace, 0);
    arr = th_read_jsonl(rep);
    cr_assert_str_eq(str_of(record(arr, "/deep.jpg"), "status"), "ok");
    json_decref(arr);
    fd = deep_open(in, 0);
    copy_out(fd, "deep.jpg", copy);
    close(fd);
    before = th_read_file(src, &before_len);
    after = th_read_file(copy, &after_len);
    cr_assert_lt(after_len, before_len, "not recompressed");
    cr_assert_eq(th_decode_jpeg(copy, &img), 0);
    cr_assert(img.w == 400 && img.h == 300);
    th_image_release(&img);

    deep_remove(in);
    deep_remove(out);
    free(before);
    free(after);
    free(out);
    free(copy);
    free(src);
}

/* ---- symlinks below a root ---- */

Test(fsrace, symlink_below_root_refused_unless_following)
{
    char *out = th_path(tmp, "out");
    char *real = th_path(in, "real/a.jpg"), *link = th_path(in, "link.jpg");
    char *outside = th_path(tmp, "elsewhere/b.jpg");
    char *dirlink = th_path(in, "dirlink");
    char *elsewhere = th_path(tmp, "elsewhere");
    const char *plain[] = { "thumbnail", in, "-o", out, "--report", rep,
                            "-s", "32", NULL };
    const char *follow[] = { "thumbnail", in, "-o", out, "--report", rep,
                             "-s", "32", "--follow-symlinks", NULL };
    json_t *arr;

    solid_jpeg(real, 64, 64, 10, 10, 200, 95);
    solid_jpeg(outside, 64, 64, 200, 200, 10, 95);
    cr_assert_eq(symlink("real/a.jpg", link), 0);
    cr_assert_eq(symlink(elsewhere, dirlink), 0);

    th_run_expect(plain, 0);
    arr = th_read_jsonl(rep);
    assert_record(arr, "in/real/a.jpg", "ok", NULL);
    assert_record(arr, "in/link.jpg", "skipped", "symlink");
    assert_record(arr, "in/dirlink", "skipped", "symlink");
    cr_assert_eq(th_json_int(th_summary(arr), "total"), 3);
    json_decref(arr);
    cr_assert(!th_exists(out) || count_entries(out) >= 1);
    {
        char *o = th_path(out, "dirlink");

        cr_assert(!th_exists(o), "went through the directory link");
        free(o);
    }

    /* --follow-symlinks: the link to the file is processed (it sorts
     * first) and the file itself is its duplicate; the directory link is
     * walked, to outside the root. */
    th_rmrf(out);
    th_run_expect(follow, 0);
    arr = th_read_jsonl(rep);
    assert_record(arr, "in/link.jpg", "ok", NULL);
    assert_record(arr, "in/real/a.jpg", "skipped", "duplicate");
    assert_record(arr, "in/dirlink/b.jpg", "ok", NULL);
    json_decref(arr);
    {
        char *o = th_path(out, "dirlink/b.jpg");
        struct th_image img;
        double rgb[3];

        cr_assert_eq(th_decode_jpeg(o, &img), 0);
        th_mean_rgb(&img, 16, 16, 4, rgb);
        cr_assert(th_rgb_near(rgb, 200, 200, 10, 25));
        th_image_release(&img);
        free(o);
    }
    free(out);
    free(real);
    free(link);
    free(outside);
    free(dirlink);
    free(elsewhere);
}

/* ---- outfile_commit_replace(): the commit's own decisions ---- */

/* A fresh task_result. */
static void
res_init(struct task_result *res)
{
    memset(res, 0, sizeof(*res));
    res->status = TASK_FAILED;
}

/* in/x.jpg holds "original"; *orig is its stat, *dirfd the open in/. */
static void
replace_setup(int *dirfd, struct stat *orig)
{
    char *x = th_path(in, "x.jpg");

    th_write_file(x, "original", 8);
    stat_or_die(x, orig);
    *dirfd = open(in, O_RDONLY | O_DIRECTORY);
    cr_assert_geq(*dirfd, 0);
    free(x);
}

/* Open the replacement of x.jpg in @dirfd and write "new" into it. */
static void
replace_open(struct outfile *of, int dirfd)
{
    struct task_result res;

    res_init(&res);
    cr_assert_eq(outfile_open_at(of, dirfd, "x.jpg", &res), 0, "%s",
                 res.message);
    cr_assert_eq(outfile_write(of, "new", 3, &res), 0);
}

static void
assert_x_is(const char *want)
{
    char *x = th_path(in, "x.jpg");
    size_t len;
    char *data = th_read_file(x, &len);

    cr_assert(len == strlen(want) && memcmp(data, want, len) == 0,
              "x.jpg holds '%.*s', expected '%s'", (int)len, data, want);
    cr_assert_eq(count_tmp_files(in), 0, "a temporary file was left");
    free(data);
    free(x);
}

Test(fsrace, commit_replace_replaces_the_unchanged_original)
{
    struct outfile of;
    struct task_result res;
    struct stat orig;
    int dirfd;

    replace_setup(&dirfd, &orig);
    replace_open(&of, dirfd);
    res_init(&res);
    cr_assert_eq(outfile_commit_replace(&of, &orig, &res), 0, "%s",
                 res.message);
    cr_assert_eq(res.out_bytes, 3);
    assert_x_is("new");
    close(dirfd);
}

Test(fsrace, commit_replace_keeps_a_newer_save)
{
    char *x = th_path(in, "x.jpg"), *swp = th_path(in, "x.swp");
    struct outfile of;
    struct task_result res;
    struct stat orig;
    int dirfd;

    replace_setup(&dirfd, &orig);
    replace_open(&of, dirfd);
    th_write_file(swp, "edited", 6);
    cr_assert_eq(rename(swp, x), 0);
    res_init(&res);
    cr_assert_eq(outfile_commit_replace(&of, &orig, &res), -1);
    cr_assert_eq(res.status, TASK_SKIPPED);
    cr_assert_eq(res.err_class, ERR_INPUT_CHANGED);
    assert_x_is("edited");
    close(dirfd);
    free(x);
    free(swp);
}

Test(fsrace, commit_replace_notices_a_rewrite_in_place)
{
    char *x = th_path(in, "x.jpg");
    struct outfile of;
    struct task_result res;
    struct stat orig;
    int dirfd;

    replace_setup(&dirfd, &orig);
    replace_open(&of, dirfd);
    /* The same inode and size, rewritten: only the mtime tells. */
    th_write_file(x, "ORIGINAL", 8);
    th_set_mtime(x, orig.st_mtim.tv_sec + 5, orig.st_mtim.tv_nsec);
    res_init(&res);
    cr_assert_eq(outfile_commit_replace(&of, &orig, &res), -1);
    cr_assert_eq(res.err_class, ERR_INPUT_CHANGED);
    assert_x_is("ORIGINAL");
    close(dirfd);
    free(x);
}

Test(fsrace, commit_replace_does_not_recreate_a_removed_file)
{
    char *x = th_path(in, "x.jpg");
    struct outfile of;
    struct task_result res;
    struct stat orig;
    int dirfd;

    replace_setup(&dirfd, &orig);
    replace_open(&of, dirfd);
    cr_assert_eq(unlink(x), 0);
    res_init(&res);
    cr_assert_eq(outfile_commit_replace(&of, &orig, &res), -1);
    cr_assert_eq(res.err_class, ERR_INPUT_CHANGED);
    cr_assert(!th_exists(x), "the removed file came back");
    cr_assert_eq(count_entries(in), 0);
    close(dirfd);
    free(x);
}

/* In place, an INPUT that is a symlink is followed for reading but never
 * replaced: neither the link nor its target changes. */
Test(fsrace, inplace_symlink_input_left_alone)
{
    char *target = th_path(tmp, "target.jpg"), *link = th_path(in, "l.jpg");
    struct fsnap snap;
    json_t *arr;

    gen_jpeg(target, 400, 300, GEN_RGB420, 98, 0, 2);
    fsnap_take(&snap, target);
    cr_assert_eq(symlink(target, link), 0);
    cr_assert_eq(run_ip(rep, &arr, NULL, link, NULL), 0);
    assert_record(arr, "l.jpg", "skipped", "symlink");
    assert_untouched(&snap, target);
    {
        struct stat st;

        cr_assert_eq(lstat(link, &st), 0);
        cr_assert(S_ISLNK(st.st_mode), "the link was replaced");
    }
    json_decref(arr);
    fsnap_release(&snap);
    free(target);
    free(link);
}
