/*
 * test_fdthumb.c - `thumbnail --freedesktop`'s worker side: names, keys,
 * sizes, modes, up-to-date checks and failure markers of the
 * freedesktop.org thumbnail cache.  The oracles are independent of
 * src/worker/fdthumb.c: names from GLib's own URI and checksum functions,
 * keys read back with libpng, and, when `gio` is installed, GIO's own
 * lookup of a file's thumbnail (what a file manager does).
 */
#include <criterion/criterion.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <vips/vips.h>

#include "fdthumb.h"
#include "helpers.h"
#include "img.h"
#include "settings.h"
#include "sniff.h"
#include "stage_helpers.h"
#include "thumbcache.h"

static char *dir, *cache;

static void
setup(void)
{
    struct settings s;

    settings_init(&s, MODE_THUMBNAIL);
    cr_assert_eq(img_worker_init(&s), 0);
    dir = th_mkdtemp();
    cache = th_path(dir, "cache/thumbnails");
}

static void
teardown(void)
{
    th_rmrf(dir);
    free(cache);
    free(dir);
}

TestSuite(fdthumb, .init = setup, .fini = teardown, .timeout = 60);

/* A @w x @h JPEG at @path: left half red, right half blue. */
static void
make_jpeg(const char *path, int w, int h)
{
    unsigned char *px = malloc((size_t)w * h * 3);
    VipsImage *img;

    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            unsigned char *p = px + ((size_t)y * w + x) * 3;
            p[0] = x < w / 2 ? 220 : 20;
            p[1] = 20;
            p[2] = x < w / 2 ? 20 : 220;
        }
    img = vips_image_new_from_memory(px, (size_t)w * h * 3, w, h, 3,
                                      VIPS_FORMAT_UCHAR);
    cr_assert(img);
    cr_assert_eq(vips_jpegsave(img, path, "Q", 95, NULL), 0);
    g_object_unref(img);
    free(px);
}

/* Where GLib says the thumbnail of @path lives in @flavor. */
static char *
glib_thumb_path(const char *path, const char *flavor)
{
    char *uri = g_filename_to_uri(path, NULL, NULL);
    char *md5 = g_compute_checksum_for_string(G_CHECKSUM_MD5, uri, -1);
    char *name = g_strdup_printf("%s/%s/%s.png", cache, flavor, md5);
    char *ret = strdup(name);

    g_free(name);
    g_free(md5);
    g_free(uri);
    return ret;
}

/* The value of tEXt key @key in the PNG @path, read with libpng, or
 * NULL. */
static char *
png_key(const char *path, const char *key)
{
    FILE *f = fopen(path, "rb");
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, NULL,
                                             NULL, NULL);
    png_infop info = png_create_info_struct(png);
    png_textp text;
    char *val = NULL;
    int n = 0;

    cr_assert(f && png && info);
    if (setjmp(png_jmpbuf(png)) == 0) {
        png_init_io(png, f);
        png_read_info(png, info);
        png_get_text(png, info, &text, &n);
        for (int i = 0; i < n; i++)
            if (strcmp(text[i].key, key) == 0)
                val = strdup(text[i].text);
    }
    png_destroy_read_struct(&png, &info, NULL);
    fclose(f);
    return val;
}

/* Run the pipeline on @path into the cache with flavours @mask; the
 * result in @res. */
static void
run_fd(const char *path, unsigned mask, struct task_result *res)
{
    struct settings s;
    struct commit_settings c;
    struct run_config cfg;
    struct task t;
    struct input in;

    settings_init(&s, MODE_THUMBNAIL);
    s.target = TARGET_FREEDESKTOP;
    commit_settings_init(&c);
    c.output_dir = cache;
    c.fd_flavors = mask;
    run_config_make(&cfg, &s, NULL, 1, &c);
    sh_task(&t, &s, path, NULL);
    sh_result_init(res);
    sh_input(&in, path, sniff_format((const unsigned char *)"\xff\xd8\xff",
                                     3), NULL, 0);
    /* The stages after open, with the freedesktop commit (commit.h). */
    img_run(&cfg, &t, &in, DECODER_VIPS, res);
    close(in.fd);
}

static void
assert_key(const char *png, const char *key, const char *want)
{
    char *got = png_key(png, key);

    cr_assert(got, "%s: no %s", png, key);
    cr_expect_str_eq(got, want, "%s: %s", png, key);
    free(got);
}

Test(fdthumb, names_keys_sizes_and_modes)
{
    char *in = th_path(dir, "a photo #1 é.jpg");
    const char *flv[2] = {"normal", "large"};
    const int longest[2] = {128, 256};
    struct task_result res;
    struct stat st, ds;
    char num[32];

    make_jpeg(in, 800, 600);
    cr_assert_eq(stat(in, &st), 0);
    run_fd(in, THUMBCACHE_DEFAULT_MASK, &res);
    cr_assert_eq(res.status, TASK_OK, "%s", res.message);
    for (int i = 0; i < 2; i++) {
        char *png = glib_thumb_path(in, flv[i]);
        char *uri = g_filename_to_uri(in, NULL, NULL);
        struct th_image img;
        double rgb[3];

        cr_assert_eq(th_decode_png(png, &img), 0, "%s missing", png);
        cr_expect_eq(img.w, longest[i]);
        cr_expect_eq(img.h, longest[i] * 3 / 4);
        th_mean_rgb(&img, img.w / 4, img.h / 2, 3, rgb);
        cr_expect(th_rgb_near(rgb, 220, 20, 20, 12), "left not red");
        th_mean_rgb(&img, img.w * 3 / 4, img.h / 2, 3, rgb);
        cr_expect(th_rgb_near(rgb, 20, 20, 220, 12), "right not blue");
        th_image_release(&img);
        assert_key(png, "Thumb::URI", uri);
        snprintf(num, sizeof(num), "%lld", (long long)st.st_mtime);
        assert_key(png, "Thumb::MTime", num);
        snprintf(num, sizeof(num), "%lld", (long long)st.st_size);
        assert_key(png, "Thumb::Size", num);
        assert_key(png, "Thumb::Mimetype", "image/jpeg");
        assert_key(png, "Thumb::Image::Width", "800");
        cr_assert_eq(stat(png, &ds), 0);
        cr_expect_eq(ds.st_mode & 0777, 0600, "file mode %o", ds.st_mode);
        *strrchr(png, '/') = '\0';
        cr_assert_eq(stat(png, &ds), 0);
        cr_expect_eq(ds.st_mode & 0777, 0700, "folder mode %o", ds.st_mode);
        g_free(uri);
        free(png);
    }
    free(in);
}

Test(fdthumb, current_thumbnails_are_not_remade)
{
    char *in = th_path(dir, "b.jpg");
    char *png;
    struct task_result res;
    struct stat a, b;

    make_jpeg(in, 300, 200);
    run_fd(in, 1u << THUMBCACHE_NORMAL, &res);
    cr_assert_eq(res.status, TASK_OK, "%s", res.message);
    png = glib_thumb_path(in, "normal");
    cr_assert_eq(stat(png, &a), 0);
    run_fd(in, 1u << THUMBCACHE_NORMAL, &res);
    cr_expect_eq(res.status, TASK_SKIPPED);
    cr_expect_eq(res.err_class, ERR_UP_TO_DATE);
    cr_assert_eq(stat(png, &b), 0);
    cr_expect_eq(a.st_ino, b.st_ino, "an up-to-date thumbnail was rewritten");
    /* A newer input makes it stale. */
    th_set_mtime(in, 2000000000LL, 0);
    run_fd(in, 1u << THUMBCACHE_NORMAL, &res);
    cr_expect_eq(res.status, TASK_OK, "%s", res.message);
    cr_assert_eq(stat(png, &b), 0);
    cr_expect_neq(a.st_ino, b.st_ino, "a stale thumbnail was kept");
    assert_key(png, "Thumb::MTime", "2000000000");
    /* A smaller input than the flavour is never enlarged. */
    free(png);
    free(in);
}

Test(fdthumb, small_inputs_are_not_enlarged)
{
    char *in = th_path(dir, "small.jpg");
    char *png;
    struct task_result res;
    struct th_image img;

    make_jpeg(in, 100, 50);
    run_fd(in, 1u << THUMBCACHE_LARGE, &res);
    cr_assert_eq(res.status, TASK_OK, "%s", res.message);
    png = glib_thumb_path(in, "large");
    cr_assert_eq(th_decode_png(png, &img), 0);
    cr_expect_eq(img.w, 100);
    cr_expect_eq(img.h, 50);
    th_image_release(&img);
    free(png);
    free(in);
}

Test(fdthumb, failures_leave_a_marker)
{
    char *in = th_path(dir, "broken.jpg");
    char *uri, *md5, *marker;
    struct task_result res;
    static const unsigned char junk[] = {0xff, 0xd8, 0xff, 0xe0, 0, 16, 'J'};

    th_write_file(in, junk, sizeof(junk));
    run_fd(in, THUMBCACHE_DEFAULT_MASK, &res);
    cr_expect_eq(res.status, TASK_FAILED);
    uri = g_filename_to_uri(in, NULL, NULL);
    md5 = g_compute_checksum_for_string(G_CHECKSUM_MD5, uri, -1);
    marker = g_strdup_printf("%s/fail/imgpool-%s/%s.png", cache,
                             IMGPOOL_VERSION, md5);
    cr_expect(th_exists(marker), "no failure marker %s", marker);
    assert_key(marker, "Thumb::URI", uri);
    free(glib_thumb_path(in, "normal"));
    g_free(marker);
    g_free(md5);
    g_free(uri);
    free(in);
}

/* GIO finds the thumbnail and calls it valid: what a file manager sees. */
Test(fdthumb, gio_finds_and_accepts_the_thumbnail)
{
    char *in = th_path(dir, "c d.jpg");
    char *png, *cmd, out[8192];
    struct task_result res;
    size_t n;
    FILE *p;

    if (system("command -v gio >/dev/null 2>&1") != 0)
        cr_skip_test("gio is not installed (package libglib2.0-bin)");
    make_jpeg(in, 640, 480);
    run_fd(in, THUMBCACHE_DEFAULT_MASK, &res);
    cr_assert_eq(res.status, TASK_OK, "%s", res.message);
    png = glib_thumb_path(in, "large");
    cmd = g_strdup_printf("XDG_CACHE_HOME='%s/cache' gio info -a "
                          "'thumbnail::*' '%s'", dir, in);
    p = popen(cmd, "r");
    cr_assert(p);
    n = fread(out, 1, sizeof(out) - 1, p);
    out[n] = '\0';
    pclose(p);
    cr_expect(strstr(out, png), "gio did not find %s:\n%s", png, out);
    cr_expect(strstr(out, "thumbnail::is-valid: TRUE"),
              "gio does not accept the thumbnail:\n%s", out);
    g_free(cmd);
    free(png);
    free(in);
}

/* The whole run over testdata/: every image that was thumbnailed is where
 * GLib looks for it, in both default flavours, with keys GLib accepts; a
 * second run remakes nothing; usage errors for what does not fit. */
Test(fdthumb, run_over_testdata_matches_glib_names)
{
    char *rep = th_path(dir, "r.jsonl");
    const char *args[] = {"thumbnail", "--freedesktop", "--cache-dir", cache,
                          "--report", rep, TESTDATA_DIR, NULL};
    struct th_run r;
    json_t *arr, *rec;
    size_t i, ok = 0;

    th_run(&r, args);
    cr_assert(r.status == 0 || r.status == 1, "exit %d: %s", r.status, r.err);
    arr = th_read_jsonl(rep);
    json_array_foreach(arr, i, rec) {
        const char *st = th_json_str(rec, "status");
        const char *path = th_json_str(rec, "path");
        if (!st || strcmp(st, "ok") != 0 || !path)
            continue;
        for (int f = 0; f < 2; f++) {
            char *png = glib_thumb_path(path, f ? "large" : "normal");
            char *uri = g_filename_to_uri(path, NULL, NULL);
            cr_expect(th_exists(png), "%s: no %s", path, png);
            if (th_exists(png))
                assert_key(png, "Thumb::URI", uri);
            g_free(uri);
            free(png);
        }
        ok++;
    }
    cr_expect_geq(ok, 15, "only %zu images thumbnailed", ok);
    json_decref(arr);
    th_run_release(&r);

    th_run(&r, args);
    arr = th_read_jsonl(rep);
    cr_expect_eq(th_count_records(arr, "ok", NULL), 0,
                 "a second run remade thumbnails");
    cr_expect_geq(th_count_records(arr, "skipped", "up-to-date"), ok);
    json_decref(arr);
    th_run_release(&r);

    {
        const char *bad1[] = {"thumbnail", "--freedesktop", "-o", dir,
                              TESTDATA_DIR, NULL};
        const char *bad2[] = {"thumbnail", "--flavor", "large", "-o", dir,
                              TESTDATA_DIR, NULL};
        const char *bad3[] = {"thumbnail", "--freedesktop", "--flavor",
                              "huge", TESTDATA_DIR, NULL};
        const char *const *bad[] = {bad1, bad2, bad3};
        for (int k = 0; k < 3; k++) {
            th_run(&r, bad[k]);
            cr_expect_eq(r.status, 2, "case %d: exit %d", k, r.status);
            th_run_release(&r);
        }
    }
    free(rep);
}

/* A dry run says where the thumbnails would go and creates nothing. */
Test(fdthumb, dry_run_lists_and_creates_nothing)
{
    char *in = th_path(dir, "e.jpg");
    const char *args[] = {"thumbnail", "--freedesktop", "--flavor",
                          "large,xx-large", "--cache-dir", cache, "--dry-run",
                          in, NULL};
    struct th_run r;

    make_jpeg(in, 320, 240);
    th_run(&r, args);
    cr_assert_eq(r.status, 0, "exit %d: %s", r.status, r.err);
    cr_expect(strstr(r.out, "write ") && strstr(r.out, "e.jpg -> ") &&
              strstr(r.out, "(large, xx-large)"), "listing: %s", r.out);
    cr_expect_not(th_exists(cache), "a dry run created the cache");
    th_run_release(&r);
    free(in);
}
