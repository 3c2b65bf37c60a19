/*
 * test_single_output.c - one input file with -o PATH.ext (an output
 * format's extension, not an existing directory) writes that very file,
 * as vipsthumbnail's -o does; several inputs with such a -o are a usage
 * error; an existing directory named like a file is still a directory.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "formats_helpers.h"
#include "helpers.h"

TestSuite(single_output, .init = th_dir_setup, .fini = th_dir_teardown,
          .timeout = 60);

Test(single_output, one_file_to_a_file_name)
{
    char *src = th_path(th_dir, "photo.jpg");
    char *dst = th_path(th_dir, "small.jpg");
    char *webp = th_path(th_dir, "sub/t.webp");
    char *rgb = th_testdata("rgb.jpg");
    struct stat st;
    struct th_image img;

    th_copy_file(rgb, src);
    const char *a[] = {"thumbnail", src, "-o", dst, NULL};
    th_run_expect(a, 0);
    cr_assert_eq(stat(dst, &st), 0);
    cr_assert(S_ISREG(st.st_mode), "'%s' is not a regular file", dst);
    cr_assert_eq(th_decode_jpeg(dst, &img), 0);
    cr_expect(img.w <= 300 && img.h <= 300 && (img.w == 300 ||
                                               img.h == 300));
    th_image_release(&img);
    fh_require(FORMAT_WEBP);
    const char *b[] = {"thumbnail", src, "-o", webp, NULL};
    th_run_expect(b, 0);
    fh_decode(webp, &img);              /* WebP, as the extension says */
    cr_expect(img.w == 300 || img.h == 300);
    th_image_release(&img);
    free(src);
    free(dst);
    free(webp);
    free(rgb);
}

Test(single_output, several_inputs_with_a_file_name_exit_2)
{
    char *src = th_path(th_dir, "photo.jpg");
    char *src2 = th_path(th_dir, "b.jpg");
    char *dst = th_path(th_dir, "small.jpg");
    char *rgb = th_testdata("rgb.jpg");

    th_copy_file(rgb, src);
    th_copy_file(rgb, src2);
    const char *a[] = {"thumbnail", src, src2, "-o", dst, NULL};
    cr_expect_eq(th_run_status(a), 2);
    const char *b[] = {"thumbnail", th_dir, "-o", dst, NULL};
    cr_expect_eq(th_run_status(b), 2);  /* a folder of inputs */
    cr_expect(!th_exists(dst), "'%s' was created", dst);
    free(src);
    free(src2);
    free(dst);
    free(rgb);
}

Test(single_output, existing_directory_stays_an_output_directory)
{
    char *src = th_path(th_dir, "photo.jpg");
    char *out = th_path(th_dir, "d.jpg");
    char *got = th_path(th_dir, "d.jpg/photo.jpg");
    char *rgb = th_testdata("rgb.jpg");

    th_copy_file(rgb, src);
    th_mkdirs(out);
    const char *a[] = {"thumbnail", src, "-o", out, NULL};
    th_run_expect(a, 0);
    cr_expect(th_exists(got), "no '%s'", got);
    free(src);
    free(out);
    free(got);
    free(rgb);
}
