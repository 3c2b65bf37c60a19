/*
 * test_inplace_meta.c - `imgpool recompress --in-place` keeps what a photo
 * carries besides its pixels: EXIF, XMP, IPTC and ICC (GPS dropped on
 * request), mode, owner and times, the orientation tag; and its backups
 * never stand in for a different original (see test_inplace.c).
 *
 * The last tests of the file ("Known problems") fail against the code as
 * it is: each names what a user loses and passes once that is fixed.
 */

#include <errno.h>
#include <math.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/wait.h>
#include <time.h>
#include <turbojpeg.h>
#include <unistd.h>

#include "inplace_fixtures.h"

INPLACE_TREE

TestSuite(inplace, .init = setup, .fini = teardown, .timeout = 120);

/* ------------------------------------------------------------------ */
/* Metadata and file attributes                                       */
/* ------------------------------------------------------------------ */

/* Run exiftool with @args (NULL-terminated, after "exiftool"). */
static char *
exiftool(const char *first, ...)
{
    const char *argv[32];
    size_t n = 0;
    va_list ap;
    const char *a;
    char *out;
    int code;

    argv[n++] = "exiftool";
    argv[n++] = first;
    va_start(ap, first);
    while ((a = va_arg(ap, const char *)) != NULL) {
        cr_assert(n < 30);
        argv[n++] = a;
    }
    va_end(ap);
    argv[n] = NULL;
    code = run_tool(argv, &out);
    cr_assert_eq(code, 0, "exiftool %s ... failed (%d): %s", first, code,
                 out);
    return out;
}

/*
 * Tag @path the way a phone and a photo manager would: the Display P3 ICC
 * profile of testdata/p3_icc.jpg, EXIF date, make, model, GPS position and
 * Orientation 6, XMP dc:creator, IPTC keywords.
 */
static void
tag_photo(const char *path)
{
    char *icc = th_testdata("p3_icc.jpg");

    free(exiftool("-q", "-overwrite_original", "-tagsFromFile", icc,
                  "-ICC_Profile", path, NULL));
    free(exiftool("-q", "-overwrite_original", "-n",
                  "-EXIF:DateTimeOriginal=2021:06:15 10:20:30",
                  "-EXIF:Make=Acme", "-EXIF:Model=Acme X100",
                  "-GPSLatitude=48.8584", "-GPSLatitudeRef=N",
                  "-GPSLongitude=2.2945", "-GPSLongitudeRef=E",
                  "-EXIF:Orientation=6", "-XMP-dc:Creator=Jane Doe",
                  "-IPTC:Keywords=alpha", "-IPTC:Keywords=beta", path,
                  NULL));
    free(icc);
}

/* XMP, IPTC and ICC as exiftool reads them; GPS is present or not. */
static void
assert_tags(const char *path, int want_gps)
{
    /* -a: the Composite GPSLatitude would hide the EXIF one. */
    char *out = exiftool("-a", "-s", "-s", "-EXIF:DateTimeOriginal",
                         "-EXIF:Make", "-EXIF:Model", "-EXIF:Orientation#",
                         "-XMP-dc:Creator", "-IPTC:Keywords",
                         "-ICC_Profile:ProfileDescription", "-GPS:all",
                         path, NULL);

    cr_assert(strstr(out, "DateTimeOriginal: 2021:06:15 10:20:30") &&
              strstr(out, "Make: Acme\n") && strstr(out, "Model: Acme X100") &&
              strstr(out, "Orientation: 6\n"), "'%s': EXIF lost:\n%s", path,
              out);
    cr_assert(strstr(out, "Creator: Jane Doe"), "'%s': XMP lost:\n%s", path,
              out);
    cr_assert(strstr(out, "Keywords: alpha, beta"), "'%s': IPTC lost:\n%s",
              path, out);
    cr_assert(strstr(out, "ProfileDescription: sP3C"),
              "'%s': ICC profile lost:\n%s", path, out);
    if (want_gps)
        cr_assert(strstr(out, "GPSLatitude: ") &&
                  strstr(out, "GPSLongitude: "), "'%s': GPS lost:\n%s",
                  path, out);
    else
        cr_assert(!strstr(out, "GPS"), "'%s': GPS kept:\n%s", path, out);
    free(out);

#ifdef HAVE_LIBEXIF
    {
        ExifData *ed = exif_of(path);
        char buf[64];
        double lat, lon;

        cr_assert(ed != NULL, "'%s' lost its EXIF block", path);
        cr_assert_str_eq(exif_ascii(ed, EXIF_IFD_EXIF,
                                    EXIF_TAG_DATE_TIME_ORIGINAL, buf,
                                    sizeof(buf)), "2021:06:15 10:20:30");
        cr_assert_str_eq(exif_ascii(ed, EXIF_IFD_0, EXIF_TAG_MAKE, buf,
                                    sizeof(buf)), "Acme");
        cr_assert_str_eq(exif_ascii(ed, EXIF_IFD_0, EXIF_TAG_MODEL, buf,
                                    sizeof(buf)), "Acme X100");
        lat = exif_gps_degrees(ed, EXIF_TAG_GPS_LATITUDE);
        lon = exif_gps_degrees(ed, EXIF_TAG_GPS_LONGITUDE);
        if (want_gps) {
            cr_assert(fabs(lat - 48.8584) < 1e-4, "latitude %f", lat);
            cr_assert(fabs(lon - 2.2945) < 1e-4, "longitude %f", lon);
            cr_assert_str_eq(exif_ascii(ed, EXIF_IFD_GPS,
                                        EXIF_TAG_GPS_LATITUDE_REF, buf,
                                        sizeof(buf)), "N");
        } else {
            cr_assert(isnan(lat) && isnan(lon), "GPS kept: %f %f", lat,
                      lon);
            cr_assert_eq(ed->ifd[EXIF_IFD_GPS]->count, 0,
                         "%u GPS tags kept", ed->ifd[EXIF_IFD_GPS]->count);
        }
        exif_data_unref(ed);
        cr_assert_eq(exif_orientation(path), 6);
    }
#endif
}

Test(inplace, metadata_exif_xmp_iptc_icc_survive_and_strip_gps_drops_gps)
{
    char *keep = th_path(in, "keep.jpg"), *nogps = th_path(in, "nogps.jpg");
    char *orig = th_path(tmp, "orig.jpg");
    struct th_image a, b;
    json_t *arr;
    char *err;
    int code;

    if (!have_exiftool())
        cr_skip_test("exiftool is not installed (Debian: "
                     "libimage-exiftool-perl)");
#ifndef HAVE_LIBEXIF
    cr_log_warn("built without libexif: EXIF read back by exiftool only");
#endif
    gen_jpeg(keep, 900, 600, GEN_RGB420, 95, 0, 40);
    tag_photo(keep);
    assert_tags(keep, 1);       /* the fixture itself */
    th_copy_file(keep, nogps);
    th_copy_file(keep, orig);

    code = run_ip(rep, &arr, &err, keep, NULL);
    cr_assert_eq(code, 0, "exit %d: %s", code, err);
    assert_record(arr, "keep.jpg", "ok", NULL);
    json_decref(arr);
    free(err);
    code = run_ip(rep, &arr, &err, "--strip-gps", nogps, NULL);
    cr_assert_eq(code, 0, "exit %d: %s", code, err);
    assert_record(arr, "nogps.jpg", "ok", NULL);
    json_decref(arr);
    free(err);

    cr_assert_eq(th_jpeg_quality(keep), 90, "not re-encoded");
    assert_tags(keep, 1);
    assert_tags(nogps, 0);

    /* Orientation 6 is kept as a tag: the pixels were not turned. */
    cr_assert_eq(th_decode_jpeg(orig, &a), 0);
    cr_assert_eq(th_decode_jpeg(keep, &b), 0);
    cr_assert(b.w == 900 && b.h == 600, "stored %dx%d: rotated", b.w, b.h);
    cr_assert_geq(th_psnr(&a, &b), PSNR_PHOTO_MIN);
    th_image_release(&a);
    th_image_release(&b);
    free(keep);
    free(nogps);
    free(orig);
}

Test(inplace, mode_owner_and_mtime_of_the_original_are_kept)
{
    char *p = th_path(in, "private.jpg");
    struct stat before, after;
    json_t *arr;
    char *err;
    int code;

    gen_jpeg(p, 800, 600, GEN_RGB420, 95, 0, 41);
    cr_assert(chmod(p, 0640) == 0);
    set_mtime(p, 1234567890, 987654321);
    if (geteuid() == 0)
        cr_assert(chown(p, 4321, 8765) == 0, "chown: %s", strerror(errno));
    stat_or_die(p, &before);

    code = run_ip(rep, &arr, &err, in, NULL);
    cr_assert_eq(code, 0, "exit %d: %s", code, err);
    assert_record(arr, "private.jpg", "ok", NULL);
    stat_or_die(p, &after);
    cr_assert_neq(after.st_ino, before.st_ino, "not replaced");
    cr_assert_eq(after.st_mode & 07777, 0640, "mode %o",
                 (unsigned)(after.st_mode & 07777));
    cr_assert(after.st_mtim.tv_sec == 1234567890 &&
              after.st_mtim.tv_nsec == 987654321,
              "mtime %lld.%09ld", (long long)after.st_mtim.tv_sec,
              after.st_mtim.tv_nsec);
    cr_assert_eq(after.st_uid, before.st_uid);
    cr_assert_eq(after.st_gid, before.st_gid);
    if (geteuid() != 0)
        cr_log_info("not root: owner and group checked for our own only");
    json_decref(arr);
    free(err);
    free(p);
}

Test(inplace, no_preserve_times_gives_the_replaced_file_a_new_mtime)
{
    char *p = th_path(in, "a.jpg"), *q = th_path(in, "q75.jpg");
    struct stat after, q_after;
    struct timespec start;
    json_t *arr;
    char *err;
    int code;

    gen_jpeg(p, 800, 600, GEN_RGB420, 95, 0, 42);
    cr_assert(chmod(p, 0640) == 0);
    set_mtime(p, 1234567890, 0);
    th_copy_testdata(in, "q75.jpg", "q75.jpg");
    /* Optimised losslessly first, so that the run below leaves it alone
     * (its lossless pass finds nothing more to gain). */
    cr_assert_eq(run_ip(NULL, NULL, NULL, "--lossless", "--min-saving", "0",
                        q, NULL), 0);
    set_mtime(q, 1234567890, 0);
    clock_gettime(CLOCK_REALTIME, &start);

    code = run_ip(rep, &arr, &err, "--no-preserve-times", in, NULL);
    cr_assert_eq(code, 0, "exit %d: %s", code, err);
    assert_record(arr, "/a.jpg", "ok", NULL);
    assert_record(arr, "/q75.jpg", "skipped", "already-compressed");
    stat_or_die(p, &after);
    cr_assert_geq(after.st_mtim.tv_sec, start.tv_sec - 1,
                  "mtime %lld is older than the run",
                  (long long)after.st_mtim.tv_sec);
    cr_assert_eq(after.st_mode & 07777, 0640, "the mode is still kept");
    /* A file left alone keeps its time whatever the option. */
    stat_or_die(q, &q_after);
    cr_assert_eq(q_after.st_mtim.tv_sec, 1234567890);
    json_decref(arr);
    free(err);
    free(p);
    free(q);
}

Test(inplace, orientation_tag_and_stored_pixels_are_kept)
{
    char *p = th_path(in, "orient6.jpg");
    struct th_image img;
    double rgb[3];
    json_t *arr;
    char *err;
    int code, o;

    th_copy_testdata(in, "orient6.jpg", "orient6.jpg");
    /* Q90 already: --force so that it is re-encoded at all. */
    code = run_ip(rep, &arr, &err, "--force", "--min-saving", "0", in,
                  NULL);
    cr_assert_eq(code, 0, "exit %d: %s", code, err);
    assert_record(arr, "orient6.jpg", "ok", NULL);
    cr_assert_eq(th_decode_jpeg(p, &img), 0);
    cr_assert(img.w == 80 && img.h == 120, "stored %dx%d", img.w, img.h);
    /* Red stays in the stored bottom-left corner (testdata/README.md). */
    th_mean_rgb(&img, 20, 90, 4, rgb);
    cr_assert(th_rgb_near(rgb, 255, 0, 0, 12), "(20,90) is %.0f,%.0f,%.0f",
              rgb[0], rgb[1], rgb[2]);
    th_mean_rgb(&img, 60, 30, 4, rgb);
    cr_assert(th_rgb_near(rgb, 255, 255, 255, 12));
    th_image_release(&img);
    o = exif_orientation(p);
    if (o >= 0)                 /* -1: built without libexif */
        cr_assert_eq(o, 6, "orientation tag %d", o);
    json_decref(arr);
    free(err);
    free(p);
}

/* A flat 600x400 picture of one colour with light grain, Q95 4:4:4. */
static void
gen_solid(const char *path, int r, int g, int b)
{
    const int w = 600, h = 400;
    unsigned char *px = malloc((size_t)w * h * 3), *jpeg = NULL;
    unsigned long jlen = 0;
    uint64_t s = 77;
    tjhandle tj = tjInitCompress();

    cr_assert(px && tj, "out of memory");
    for (size_t i = 0; i < (size_t)w * h; i++) {
        int n = (int)(rng_next(&s) % 7) - 3;
        px[3 * i] = (unsigned char)(r + n);
        px[3 * i + 1] = (unsigned char)(g + n);
        px[3 * i + 2] = (unsigned char)(b + n);
    }
    cr_assert(tjCompress2(tj, px, w, 0, h, TJPF_RGB, &jpeg, &jlen,
                          TJSAMP_444, 95, 0) == 0, "%s", tjGetErrorStr2(tj));
    th_write_file(path, jpeg, jlen);
    tjFree(jpeg);
    tjDestroy(tj);
    free(px);
}

Test(inplace, to_srgb_converts_wide_gamut_pixels_and_profile)
{
    char *p = th_path(in, "p3.jpg"), *icc = th_testdata("p3_icc.jpg");
    struct th_image img;
    double rgb[3];
    json_t *arr;
    char *err, *out;
    int code;

    if (!have_exiftool())
        cr_skip_test("exiftool is not installed (Debian: "
                     "libimage-exiftool-perl)");
    /* The P3 values of sRGB (0,160,80), as in testdata/p3_icc.jpg. */
    gen_solid(p, 71, 158, 89);
    free(exiftool("-q", "-overwrite_original", "-tagsFromFile", icc,
                  "-ICC_Profile", p, NULL));
    code = run_ip(rep, &arr, &err, "--to-srgb", in, NULL);
    cr_assert_eq(code, 0, "exit %d: %s", code, err);
    assert_record(arr, "p3.jpg", "ok", NULL);
    cr_assert_eq(th_decode_jpeg(p, &img), 0);
    th_mean_rgb(&img, 300, 200, 20, rgb);
    cr_assert(rgb[0] < 25 && rgb[1] > 145 && rgb[1] < 175,
              "not converted to sRGB: %.0f,%.0f,%.0f", rgb[0], rgb[1],
              rgb[2]);
    th_image_release(&img);
    /* sRGB pixels under a P3 profile would be shown wrong everywhere. */
    out = exiftool("-s", "-s", "-ICC_Profile:ProfileDescription", p, NULL);
    cr_assert(!strstr(out, "sP3C"), "P3 profile kept on sRGB pixels: %s",
              out);
    free(out);
    json_decref(arr);
    free(err);
    free(p);
    free(icc);
}

/* ------------------------------------------------------------------ */
/* Known problems: these tests fail until imgpool is fixed            */
/* ------------------------------------------------------------------ */

/*
 * Two inputs can hold files of the same relative path (two card dumps,
 * two years of "IMG_0001.JPG").  Both are replaced, so both originals must
 * be in the backup; the first backup must not stand in for the second
 * original.
 */
Test(inplace, backup_keeps_both_originals_of_inputs_with_the_same_rel_path)
{
    char *d1 = th_path(in, "d1"), *d2 = th_path(in, "d2");
    char *p1 = th_path(d1, "x.jpg"), *p2 = th_path(d2, "x.jpg");
    char *bk = th_path(tmp, "backup"), *err;
    struct fsnap o1, o2;
    struct flist l;
    json_t *arr;
    int code, found1 = 0, found2 = 0;

    gen_jpeg(p1, 700, 500, GEN_RGB420, 95, 0, 90);
    gen_jpeg(p2, 640, 480, GEN_RGB420, 95, 0, 91);
    fsnap_take(&o1, p1);
    fsnap_take(&o2, p2);
    code = run_ip(rep, &arr, &err, "--backup", bk, d1, d2, NULL);
    cr_assert(code == 0 || code == 1, "exit %d: %s", code, err);

    flist_of_backup(&l, bk);
    for (size_t i = 0; i < l.n; i++) {
        char *b = xasprintf("%s/%s", bk, l.rel[i]);
        size_t len;
        char *data = th_read_file(b, &len);
        found1 |= len == o1.len && memcmp(data, o1.data, len) == 0;
        found2 |= len == o2.len && memcmp(data, o2.data, len) == 0;
        free(data);
        free(b);
    }
    flist_release(&l);
    /* A replaced file has its original in the backup; refusing to
     * replace it (failed, untouched) would be a correct fix too. */
    {
        const struct { const char *rel; struct fsnap *o; const char *p;
                       int found; } c[2] = {
            { "d1/x.jpg", &o1, p1, found1 }, { "d2/x.jpg", &o2, p2, found2 },
        };
        for (int i = 0; i < 2; i++) {
            const char *status = str_of(record(arr, c[i].rel), "status");
            if (strcmp(status, "ok") == 0)
                cr_assert(c[i].found, "%s was replaced, but its original "
                          "is nowhere in the backup (the other input's "
                          "x.jpg holds the name)", c[i].rel);
            else
                assert_untouched(c[i].o, c[i].p);
        }
    }
    json_decref(arr);
    free(err);
    fsnap_release(&o1);
    fsnap_release(&o2);
    free(d1);
    free(d2);
    free(p1);
    free(p2);
    free(bk);
}

/*
 * The same path, later: a backup from an earlier run holds an older
 * original, and a new file now has that name (cameras reuse names, photos
 * get re-imported).  Keeping the old backup is right, but then the new
 * original has no backup, and replacing it loses it.
 */
Test(inplace, backup_never_stands_in_for_a_different_original)
{
    char *p = th_path(in, "IMG_0001.jpg"), *bk = th_path(tmp, "backup");
    char *b = th_path(bk, "IMG_0001.jpg"), *err;
    struct fsnap first, second;
    struct flist l;
    json_t *arr;
    int code, found = 0;

    gen_jpeg(p, 700, 500, GEN_RGB420, 95, 0, 92);
    fsnap_take(&first, p);
    code = run_ip(rep, &arr, &err, "--backup", bk, in, NULL);
    cr_assert_eq(code, 0, "exit %d: %s", code, err);
    assert_record(arr, "IMG_0001.jpg", "ok", NULL);
    json_decref(arr);
    free(err);

    /* A different photo arrives under the same name. */
    cr_assert(unlink(p) == 0);
    gen_jpeg(p, 800, 600, GEN_RGB420, 95, 0, 93);
    fsnap_take(&second, p);
    code = run_ip(rep, &arr, &err, "--backup", bk, in, NULL);
    cr_assert(code == 0 || code == 1, "exit %d: %s", code, err);

    /* The first original is still backed up... */
    {
        size_t len;
        char *data = th_read_file(b, &len);
        cr_assert(len == first.len && memcmp(data, first.data, len) == 0,
                  "the older backup was overwritten");
        free(data);
    }
    /* ...and the second is either untouched or backed up too. */
    flist_of(&l, bk);
    for (size_t i = 0; i < l.n; i++) {
        char *q = xasprintf("%s/%s", bk, l.rel[i]);
        size_t len;
        char *data = th_read_file(q, &len);
        found |= len == second.len && memcmp(data, second.data, len) == 0;
        free(data);
        free(q);
    }
    flist_release(&l);
    if (strcmp(str_of(record(arr, "IMG_0001.jpg"), "status"), "ok") == 0)
        cr_assert(found, "IMG_0001.jpg was replaced, but its original is "
                  "not in the backup: the older backup of that name stood "
                  "in for it, and the photo is lost");
    else
        assert_untouched(&second, p);
    json_decref(arr);
    free(err);
    fsnap_release(&first);
    fsnap_release(&second);
    free(p);
    free(bk);
    free(b);
}

/*
 * docs/REPORT.md: in_width and in_height are "input dimensions in pixels,
 * upright (after the EXIF orientation is applied)", as `thumbnail` and
 * `recompress -o` report them.  orient6.jpg is stored 80x120 and shown
 * 120x80.
 */
Test(inplace, report_input_dimensions_are_upright_as_documented)
{
    json_t *arr, *rec;
    char *err;
    int code;

    th_copy_testdata(in, "orient6.jpg", "orient6.jpg");
    code = run_ip(rep, &arr, &err, in, NULL);
    cr_assert_eq(code, 0, "exit %d: %s", code, err);
    rec = record(arr, "orient6.jpg");
    cr_assert(int_of(rec, "in_width") == 120 && int_of(rec, "in_height") == 80,
              "in-place reports %lldx%lld for an upright 120x80 image",
              int_of(rec, "in_width"), int_of(rec, "in_height"));
    json_decref(arr);
    free(err);
}

/*
 * A private photo (mode 0600) must never be readable by others, not even
 * while its replacement is being written: another user who opens the
 * temporary file in that window keeps the descriptor after any later
 * chmod.  Watch the directory with inotify and stat each temporary file as
 * soon as it appears.
 */
Test(inplace, temporary_file_is_never_more_open_than_the_original)
{
    const char *args[] = { "recompress", "--in-place", in, "-j", "1",
                           NULL };
    int ifd, st = 0, seen = 0, widest = 0, done = 0;
    char *p = th_path(in, "private0.jpg"), widest_name[256] = "";
    char evbuf[4096] __attribute__((aligned(8)));
    struct stat after;
    pid_t pid;

    /* Three files: three windows to look into, each a few ms long. */
    for (int i = 0; i < 3; i++) {
        char *q = xasprintf("%s/private%d.jpg", in, i);
        gen_jpeg(q, 2400, 1600, GEN_RGB444, 95, 0, (uint32_t)(43 + i));
        cr_assert(chmod(q, 0600) == 0);
        free(q);
    }
    ifd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
    cr_assert(ifd >= 0, "inotify_init1: %s", strerror(errno));
    cr_assert(inotify_add_watch(ifd, in, IN_CREATE) >= 0,
              "inotify_add_watch: %s", strerror(errno));

    pid = th_spawn_group(args);
    while (!done) {
        struct pollfd pfd = { ifd, POLLIN, 0 };
        ssize_t len;

        if (waitpid(pid, &st, WNOHANG) == pid)
            done = 1;   /* one last look at the queue below */
        (void)poll(&pfd, 1, done ? 0 : 20);
        while ((len = read(ifd, evbuf, sizeof(evbuf))) > 0) {
            for (char *e = evbuf; e < evbuf + len;) {
                struct inotify_event *ev = (struct inotify_event *)e;
                struct stat ts;
                char *tp;

                e += sizeof(*ev) + ev->len;
                if (!ev->len || !is_tmp_name(ev->name))
                    continue;
                tp = xasprintf("%s/%s", in, ev->name);
                if (lstat(tp, &ts) == 0) {
                    seen++;
                    if ((int)(ts.st_mode & 0777) > widest) {
                        widest = (int)(ts.st_mode & 0777);
                        snprintf(widest_name, sizeof(widest_name), "%s",
                                 ev->name);
                    }
                }
                free(tp);
            }
        }
    }
    close(ifd);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status 0x%x", st);
    stat_or_die(p, &after);
    cr_assert_eq(th_jpeg_quality(p), 90, "not replaced");
    cr_assert_eq(after.st_mode & 07777, 0600);
    if (seen == 0)
        cr_log_warn("the temporary file was gone before it could be seen");
    cr_assert_eq(widest & 077, 0, "temporary file '%s' had mode %03o while "
                 "the original is 600: others could open the photo while "
                 "it was being written", widest_name, widest);
    free(p);
}
