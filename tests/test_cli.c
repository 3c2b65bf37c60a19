/*
 * test_cli.c - option parsing: geometry and colour values, argv vectors
 * into settings, mode defaults, and the errors that must exit 2.
 */
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <string.h>

#include "cli.h"
#include "geom.h"

Test(cli, size_forms)
{
    static const struct {
        const char *s;
        int ok, w, h;
    } cases[] = {
        { "300x200", 1, 300, 200 }, { "300", 1, 300, 300 },
        { "300x", 1, 300, 0 },      { "x200", 1, 0, 200 },
        { "1X1", 1, 1, 1 },         { "100000x100000", 1, 100000, 100000 },
        { "0x10", 0, 0, 0 },        { "x", 0, 0, 0 },
        { "", 0, 0, 0 },            { "-5x5", 0, 0, 0 },
        { "10x10x10", 0, 0, 0 },    { "100001", 0, 0, 0 },
        { "12a", 0, 0, 0 },         { "99999999999999999999", 0, 0, 0 },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int w = -1, h = -1;
        const char *why = NULL;
        int rc = cli_parse_size(cases[i].s, &w, &h, &why);
        cr_assert_eq(rc == 0, cases[i].ok, "'%s'", cases[i].s);
        if (cases[i].ok) {
            cr_assert_eq(w, cases[i].w, "'%s' width", cases[i].s);
            cr_assert_eq(h, cases[i].h, "'%s' height", cases[i].s);
        } else {
            cr_assert(why && *why);
        }
    }
}

Test(cli, colours)
{
    unsigned char c[3];
    const char *why;

    cr_assert_eq(cli_parse_color("white", c, &why), 0);
    cr_assert(c[0] == 255 && c[1] == 255 && c[2] == 255);
    cr_assert_eq(cli_parse_color("#10a0FF", c, &why), 0);
    cr_assert(c[0] == 0x10 && c[1] == 0xa0 && c[2] == 0xff);
    cr_assert_eq(cli_parse_color("1,2,3", c, &why), 0);
    cr_assert(c[0] == 1 && c[1] == 2 && c[2] == 3);
    cr_assert_neq(cli_parse_color("#12", c, &why), 0);
    cr_assert_neq(cli_parse_color("1,2", c, &why), 0);
    cr_assert_neq(cli_parse_color("1,2,3,4", c, &why), 0);
    cr_assert_neq(cli_parse_color("256,0,0", c, &why), 0);
    cr_assert_neq(cli_parse_color("mauve-ish", c, &why), 0);
}

static enum cli_result
parse(struct cli_opts *o, const char **args)
{
    char *argv[64];
    int argc = 0;

    argv[argc++] = "imgpool";
    while (*args)
        argv[argc++] = (char *)*args++;
    argv[argc] = NULL;
    cli_opts_init(o);
    return cli_parse(o, argc, argv);
}

Test(cli, thumbnail_defaults)
{
    struct cli_opts o;
    const char *a[] = { "thumbnail", "pics", "-o", "out", NULL };

    cr_assert_eq(parse(&o, a), CLI_RUN);
    cr_assert_eq(o.settings.mode, MODE_THUMBNAIL);
    cr_assert_eq(o.settings.width, 300);
    cr_assert_eq(o.settings.height, 300);
    cr_assert_eq(o.settings.quality, 90);
    cr_assert_eq(o.settings.fit, FIT_INSIDE);
    cr_assert(o.settings.strip);
    cr_assert_eq(o.settings.fail_on, FAIL_NONE);
    cr_assert_eq(o.settings.max_pixels, 268402689);
    cr_assert_eq(o.ninputs, 1);
    cr_assert_str_eq(o.inputs[0], "pics");
    cr_assert_str_eq(o.output_dir, "out");
    cr_assert_str_eq(o.settings.output_dir, "out");
    cli_opts_release(&o);
}

Test(cli, recompress_defaults_keep_size_and_metadata_strictly)
{
    struct cli_opts o;
    const char *a[] = { "recompress", "-o", "out", "a", "b", NULL };

    cr_assert_eq(parse(&o, a), CLI_RUN);
    cr_assert_eq(o.settings.mode, MODE_RECOMPRESS);
    cr_assert_eq(o.settings.width, 0);
    cr_assert_eq(o.settings.height, 0);
    cr_assert_not(o.settings.strip);
    cr_assert_eq(o.settings.fail_on, FAIL_ERROR);
    cr_assert_eq(o.ninputs, 2);
    cli_opts_release(&o);
}

Test(cli, options_anywhere_and_repeatable)
{
    struct cli_opts o;
    const char *a[] = { "thumbnail", "in1", "-s", "800x600", "--fit",
                        "cover", "-j", "4", "--report", "r.jsonl", "in2",
                        "--include", "*.jpg", "--include", "*.png",
                        "--exclude", "cache", "-q", "75", "--upscale",
                        "-o", "out", "--background", "black", "--fail-on",
                        "error", "--keep-metadata", "-f", "png", "--",
                        "-odd-name", NULL };

    cr_assert_eq(parse(&o, a), CLI_RUN);
    cr_assert_eq(o.settings.width, 800);
    cr_assert_eq(o.settings.height, 600);
    cr_assert_eq(o.settings.fit, FIT_COVER);
    cr_assert_eq(o.jobs, 4);
    cr_assert_str_eq(o.report_path, "r.jsonl");
    cr_assert_eq(o.nincludes, 2);
    cr_assert_eq(o.nexcludes, 1);
    cr_assert_eq(o.settings.quality, 75);
    cr_assert(o.settings.upscale);
    cr_assert_eq(o.settings.background[0], 0);
    cr_assert_eq(o.settings.fail_on, FAIL_ERROR);
    cr_assert_not(o.settings.strip);
    cr_assert_eq(o.settings.format, FORMAT_PNG);
    cr_assert_eq(o.ninputs, 3);
    cr_assert_str_eq(o.inputs[2], "-odd-name");
    cli_opts_release(&o);
}

Test(cli, bad_values_exit_2, .init = cr_redirect_stderr)
{
    static const char *bad[][8] = {
        { "thumbnail", "x", NULL },
        { "thumbnail", "-o", "o", NULL },
        { "thumbnail", "x", "-o", "o", "-j", "0", NULL },
        { "thumbnail", "x", "-o", "o", "--timeout", "-1", NULL },
        { "thumbnail", "x", "-o", "o", "--fit", "cover", "-s", "300x" },
        { "thumbnail", "x", "-o", "o", "--subsample", "411", NULL },
        { "thumbnail", "x", "-o", "o", "--progress", "sometimes", NULL },
        { "thumbnail", "x", "-o", "o", "--name", "{nope}.jpg", NULL },
        { "thumbnail", "x", "-o", NULL },
        { "--fit", NULL },
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct cli_opts o;
        cr_assert_eq(parse(&o, bad[i]), CLI_EXIT, "case %zu", i);
        cr_assert_eq(o.exit_code, 2, "case %zu", i);
        cli_opts_release(&o);
    }
}

Test(geom, fit_arithmetic)
{
    static const struct {
        enum fit fit;
        int W, H, up, iw, ih, ow, oh;
    } cases[] = {
        { FIT_INSIDE, 300, 300, 0, 640, 480, 300, 225 },
        { FIT_INSIDE, 300, 300, 0, 480, 640, 225, 300 },
        { FIT_INSIDE, 300, 300, 0, 200, 100, 200, 100 },
        { FIT_INSIDE, 300, 300, 1, 200, 100, 300, 150 },
        { FIT_INSIDE, 300, 0, 0, 640, 480, 300, 225 },
        { FIT_INSIDE, 0, 100, 0, 640, 480, 133, 100 },
        { FIT_INSIDE, 300, 300, 0, 10000, 1, 300, 1 },
        { FIT_INSIDE, 0, 0, 0, 640, 480, 640, 480 },
        { FIT_COVER, 300, 300, 0, 640, 480, 300, 300 },
        { FIT_COVER, 300, 300, 0, 200, 100, 200, 100 },
        { FIT_COVER, 300, 300, 0, 600, 100, 300, 100 },
        { FIT_COVER, 300, 300, 1, 200, 100, 300, 300 },
        { FIT_FILL, 100, 100, 0, 640, 480, 100, 100 },
        { FIT_FILL, 800, 100, 0, 640, 480, 640, 100 },
        { FIT_FILL, 800, 100, 1, 640, 480, 800, 100 },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct settings s;
        int ow, oh;
        settings_init(&s, MODE_THUMBNAIL);
        s.fit = cases[i].fit;
        s.width = cases[i].W;
        s.height = cases[i].H;
        s.upscale = cases[i].up;
        geom_fit(&s, cases[i].iw, cases[i].ih, &ow, &oh);
        cr_assert_eq(ow, cases[i].ow, "case %zu: width %d", i, ow);
        cr_assert_eq(oh, cases[i].oh, "case %zu: height %d", i, oh);
    }
}

Test(cli, shard_specs)
{
    int k, n;
    const char *why;

    cr_assert_eq(cli_parse_shard("0/4", &k, &n, &why), 0);
    cr_assert(k == 0 && n == 4);
    cr_assert_eq(cli_parse_shard("3/4", &k, &n, &why), 0);
    cr_assert(k == 3 && n == 4);
    cr_assert_eq(cli_parse_shard("0/1", &k, &n, &why), 0);
    cr_assert_neq(cli_parse_shard("4/4", &k, &n, &why), 0);
    cr_assert_neq(cli_parse_shard("-1/4", &k, &n, &why), 0);
    cr_assert_neq(cli_parse_shard("1/0", &k, &n, &why), 0);
    cr_assert_neq(cli_parse_shard("1", &k, &n, &why), 0);
    cr_assert_neq(cli_parse_shard("/4", &k, &n, &why), 0);
    cr_assert_neq(cli_parse_shard("1/4x", &k, &n, &why), 0);
    cr_assert_neq(cli_parse_shard("", &k, &n, &why), 0);
}

Test(cli, files_from_replaces_inputs)
{
    struct cli_opts o;
    const char *a[] = { "thumbnail", "--files-from", "-", "-0", "-o", "out",
                        "--shard", "1/3", NULL };

    cr_assert_eq(parse(&o, a), CLI_RUN);
    cr_assert_str_eq(o.files_from, "-");
    cr_assert(o.files_from_nul);
    cr_assert_eq(o.ninputs, 0);
    cr_assert_eq(o.shard_k, 1);
    cr_assert_eq(o.shard_n, 3);
    cli_opts_release(&o);
}
