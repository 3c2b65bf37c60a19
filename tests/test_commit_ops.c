/*
 * test_commit_ops.c - the commit interface (src/worker/commit.h): img_run()
 * picks the commit the run configuration asks for and runs the one
 * pipeline with it, whatever decoder the caller names for a new file.
 * In place is checked on the file itself: bytes, size, dimensions
 * (decoded with TurboJPEG, not libvips), mode and mtime, and that nothing
 * else was left in its directory.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <vips/vips.h>

#include "helpers.h"
#include "img.h"
#include "input.h"
#include "settings.h"
#include "stage_helpers.h"

static void
setup(void)
{
    struct settings s;

    settings_init(&s, MODE_THUMBNAIL);
    cr_assert_eq(img_worker_init(&s), 0);
    th_dir_setup();
}

TestSuite(commit_ops, .init = setup, .fini = th_dir_teardown, .timeout = 60);

/* A @w x @h JPEG at quality 95 at @path: smooth gradients and a grid,
 * something a lower quality makes smaller. */
static void
make_jpeg(const char *path, int w, int h)
{
    unsigned char *px = malloc((size_t)w * h * 3);
    VipsImage *img;

    cr_assert(px);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            unsigned char *p = px + ((size_t)y * w + x) * 3;
            p[0] = (unsigned char)(x * 255 / w);
            p[1] = (unsigned char)(y * 255 / h);
            p[2] = (x / 8 + y / 8) % 2 ? 200 : 40;
        }
    img = vips_image_new_from_memory(px, (size_t)w * h * 3, w, h, 3,
                                      VIPS_FORMAT_UCHAR);
    cr_assert(img);
    cr_assert_eq(vips_jpegsave(img, path, "Q", 95, NULL), 0);
    g_object_unref(img);
    free(px);
}

/* The entries of th_dir. */
static int
count_entries(void)
{
    DIR *d = opendir(th_dir);
    struct dirent *e;
    int n = 0;

    cr_assert(d);
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            n++;
    closedir(d);
    return n;
}

/* img_run() of @path in place, quality 60 and no minimum saving, with
 * @dry_run; @dec is the decoder a caller names (in place uses libvips
 * whatever it is). */
static void
run_in_place(const char *path, int dry_run, enum decoder_kind dec,
             struct task_result *res)
{
    struct settings s;
    struct commit_settings cs;
    struct run_config c;
    struct input in;
    struct task t;

    settings_init_in_place(&s);
    s.quality = 60;
    commit_settings_init(&cs);
    cs.in_place = 1;
    cs.min_saving = 0;
    cs.dry_run = dry_run;
    run_config_make(&c, &s, NULL, 1, &cs);
    sh_task(&t, &s, path, NULL);
    sh_result_init(res);
    cr_assert_eq(input_open(s.max_pixels, &t, &in, res), 0, "%s",
                 res->message);
    img_run(&c, &t, &in, dec, res);
    input_close(&in);
}

Test(commit_ops, in_place_replaces_the_jpeg_whatever_decoder_is_named)
{
    char *path = th_path(th_dir, "photo.jpg");
    struct task_result res;
    struct th_image img;
    struct stat before, after;

    make_jpeg(path, 320, 200);
    cr_assert_eq(chmod(path, 0640), 0);
    th_set_mtime(path, 1500000000, 0);
    th_lstat(path, &before);
    run_in_place(path, 0, DECODER_JPEG, &res);
    cr_assert_eq(res.status, TASK_OK, "%s", res.message);
    th_lstat(path, &after);
    cr_assert_lt(after.st_size, before.st_size, "not recompressed");
    cr_assert_eq(res.out_bytes, after.st_size);
    cr_assert_eq(after.st_mode & 07777, 0640);
    cr_assert_eq(after.st_mtim.tv_sec, 1500000000);
    cr_assert_neq(after.st_ino, before.st_ino, "not a new file");
    cr_assert_eq(th_decode_jpeg(path, &img), 0);
    cr_assert_eq(img.w, 320);
    cr_assert_eq(img.h, 200);
    th_image_release(&img);
    cr_assert_eq(res.out_width, 320);
    cr_assert_eq(res.out_height, 200);
    cr_assert_eq(count_entries(), 1, "something left beside the file");
    free(path);
}

Test(commit_ops, in_place_dry_run_measures_and_leaves_the_file_alone)
{
    char *path = th_path(th_dir, "photo.jpg");
    char *copy = th_path(th_dir, "copy.jpg");
    struct task_result res;
    char *cmd;

    make_jpeg(path, 320, 200);
    th_copy_file(path, copy);
    run_in_place(path, 1, DECODER_VIPS, &res);
    cr_assert_eq(res.status, TASK_SKIPPED);
    cr_assert_eq(res.err_class, ERR_DRY_RUN, "%s", res.message);
    cr_assert_gt(res.out_bytes, 0, "the re-encode was not measured");
    cmd = th_asprintf("cmp -s '%s' '%s'", path, copy);
    cr_assert_eq(system(cmd), 0, "the file was changed");
    cr_assert_eq(count_entries(), 2);
    free(cmd);
    free(copy);
    free(path);
}

Test(commit_ops, in_place_leaves_a_png_alone_before_decoding)
{
    char *path = th_path(th_dir, "rgb.png");
    char *src = th_testdata("rgb.png");
    struct task_result res;
    struct stat before, after;

    th_copy_file(src, path);
    th_lstat(path, &before);
    run_in_place(path, 0, DECODER_PNG, &res);
    cr_assert_eq(res.status, TASK_SKIPPED);
    cr_assert_eq(res.err_class, ERR_NOT_JPEG, "%s", res.message);
    th_lstat(path, &after);
    cr_assert_eq(after.st_ino, before.st_ino);
    cr_assert_eq(after.st_size, before.st_size);
    cr_assert_eq(count_entries(), 1);
    free(src);
    free(path);
}
