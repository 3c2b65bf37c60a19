/*
 * test_cli.c - option parsing: geometry and colour values, argv vectors
 * into settings, mode defaults, and the errors that must exit 2.
 */
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "cli_table.h"
#include "geom.h"
#include "helpers.h"

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


Test(cli, thumbnail_defaults)
{
    struct cli_opts o;
    const char *a[] = { "thumbnail", "pics", "-o", "out", NULL };

    cr_assert_eq(th_cli_parse(&o, a), CLI_RUN);
    cr_assert_eq(o.config.out[0].mode, MODE_THUMBNAIL);
    cr_assert_eq(o.config.out[0].width, 300);
    cr_assert_eq(o.config.out[0].height, 300);
    cr_assert_eq(o.config.out[0].quality, 90);
    cr_assert_eq(o.config.out[0].fit, FIT_INSIDE);
    cr_assert(o.config.out[0].strip);
    cr_assert_eq(o.config.out[0].fail_on, FAIL_NONE);
    cr_assert_eq(o.config.out[0].max_pixels, 268402689);
    cr_assert_eq(o.ninputs, 1);
    cr_assert_str_eq(o.inputs[0], "pics");
    cr_assert_str_eq(o.output_dir, "out");
    cr_assert_str_eq(o.config.commit.output_dir, "out");
    cli_opts_release(&o);
}

Test(cli, recompress_defaults_keep_size_and_metadata_strictly)
{
    struct cli_opts o;
    const char *a[] = { "recompress", "-o", "out", "a", "b", NULL };

    cr_assert_eq(th_cli_parse(&o, a), CLI_RUN);
    cr_assert_eq(o.config.out[0].mode, MODE_RECOMPRESS);
    cr_assert_eq(o.config.out[0].width, 0);
    cr_assert_eq(o.config.out[0].height, 0);
    cr_assert_not(o.config.out[0].strip);
    cr_assert_eq(o.config.out[0].fail_on, FAIL_ERROR);
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

    cr_assert_eq(th_cli_parse(&o, a), CLI_RUN);
    cr_assert_eq(o.config.out[0].width, 800);
    cr_assert_eq(o.config.out[0].height, 600);
    cr_assert_eq(o.config.out[0].fit, FIT_COVER);
    cr_assert_eq(o.jobs, 4);
    cr_assert_str_eq(o.report_path, "r.jsonl");
    cr_assert_eq(o.nincludes, 2);
    cr_assert_eq(o.nexcludes, 1);
    cr_assert_eq(o.config.out[0].quality, 75);
    cr_assert(o.config.out[0].upscale);
    cr_assert_eq(o.config.out[0].background[0], 0);
    cr_assert_eq(o.config.out[0].fail_on, FAIL_ERROR);
    cr_assert_not(o.config.out[0].strip);
    cr_assert_eq(o.config.out[0].format, FORMAT_PNG);
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
        cr_assert_eq(th_cli_parse(&o, bad[i]), CLI_EXIT, "case %zu", i);
        cr_assert_eq(o.exit_code, 2, "case %zu", i);
        cli_opts_release(&o);
    }
}

/* --name must end in an output format's extension (or .{fmt}): JPEG
 * bytes in a .gif, or files with no extension, are refused up front, and
 * the message names the formats. */
Test(cli, name_without_output_extension_exits_2)
{
    static const char *bad[] = { "{stem}.gif", "{stem}", "{name}",
                                 "{stem}.{ext}", "{stem}.tiff" };
    static const char *good[] = { "{stem}.jpg", "{stem}.PNG", "{stem}.webp",
                                  "x-{stem}.avif", "{stem}.{fmt}",
                                  "{stem}.jpeg" };
    char *err;
    struct th_capture cap;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        const char *args[] = { "recompress", "x", "-o", "o", "--name",
                               bad[i], NULL };
        struct cli_opts o;
        th_capture_begin(&cap);
        cr_assert_eq(th_cli_parse(&o, args), CLI_EXIT, "%s", bad[i]);
        err = th_capture_end(&cap);
        cr_expect_eq(o.exit_code, 2, "%s", bad[i]);
        cr_expect(strstr(err, ".jpg, .png, .webp, .avif") != NULL,
                  "%s: message names no formats: %s", bad[i], err);
        free(err);
        cli_opts_release(&o);
    }
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        const char *args[] = { "thumbnail", "x", "-o", "o", "--name",
                               good[i], NULL };
        struct cli_opts o;
        cr_expect_eq(th_cli_parse(&o, args), CLI_RUN, "%s", good[i]);
        cli_opts_release(&o);
    }
}

Test(geom, fit_arithmetic)
{
    struct geom_box box;
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
        box = geom_box_of(&s);
        geom_fit(&box, cases[i].iw, cases[i].ih, &ow, &oh);
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

    cr_assert_eq(th_cli_parse(&o, a), CLI_RUN);
    cr_assert_str_eq(o.files_from, "-");
    cr_assert(o.files_from_nul);
    cr_assert_eq(o.ninputs, 0);
    cr_assert_eq(o.shard_k, 1);
    cr_assert_eq(o.shard_n, 3);
    cli_opts_release(&o);
}

/* ---- the option table ---------------------------------------------- */

/* Run cli_parse on @args with file descriptor @fd (1 or 2) captured into
 * *text (caller frees). */
static enum cli_result
parse_captured(struct cli_opts *o, const char *const *args, int fd,
               char **text)
{
    FILE *tmp = tmpfile();
    enum cli_result r;
    size_t len = 0;
    long size;
    int saved;

    cr_assert(tmp);
    fflush(stdout);
    fflush(stderr);
    saved = dup(fd);
    dup2(fileno(tmp), fd);
    r = th_cli_parse(o, args);
    fflush(stdout);
    fflush(stderr);
    dup2(saved, fd);
    close(saved);
    fseek(tmp, 0, SEEK_END);
    size = ftell(tmp);
    rewind(tmp);
    *text = calloc(1, (size_t)size + 1);
    len = fread(*text, 1, (size_t)size, tmp);
    (*text)[len] = '\0';
    fclose(tmp);
    return r;
}

/* The long names --help lists as options: lines "  -x, --name ..." and
 * "      --name ...", not mentions in help text. */
static int
help_lists(const char *help, const char *name)
{
    const char *line = help;
    size_t n = strlen(name);

    while (line && *line) {
        const char *p = NULL;
        if (strncmp(line, "  -", 3) == 0 && strncmp(line + 4, ", --", 4) == 0)
            p = line + 8;
        else if (strncmp(line, "      --", 8) == 0)
            p = line + 8;
        if (p && strncmp(p, name, n) == 0 && (p[n] == ' ' || p[n] == '\n'))
            return 1;
        line = strchr(line, '\n');
        line = line ? line + 1 : NULL;
    }
    return 0;
}

Test(cli, table_is_consistent)
{
    for (size_t i = 0; i < cli_noptions; i++) {
        const struct cli_option *a = &cli_options[i];
        int value = a->kind != CLI_KIND_FLAG && a->kind != CLI_KIND_HELP &&
                    a->kind != CLI_KIND_VERSION;

        cr_assert(a->name && a->name[0], "row %zu has no name", i);
        cr_assert(a->help && a->help[0], "--%s has no help", a->name);
        cr_assert(a->subs, "--%s: no subcommand takes it", a->name);
        cr_assert_eq(!!a->metavar, value, "--%s: metavar iff a value",
                     a->name);
        cr_assert_eq(cli_option_find(a->name), a);
        for (const char *l = a->help; l;) {
            const char *nl = strchr(l, '\n');
            size_t len = nl ? (size_t)(nl - l) : strlen(l);
            cr_assert_leq(len, 52, "--%s: help line too wide", a->name);
            l = nl ? nl + 1 : NULL;
        }
        if (a->kind == CLI_KIND_INT) {
            cr_assert(a->size == 4 || a->size == 8, "--%s", a->name);
            cr_assert(a->expect && a->lo <= a->hi, "--%s", a->name);
        }
        if (a->kind == CLI_KIND_DOUBLE)
            cr_assert(a->expect && a->lo < a->hi, "--%s", a->name);
        if (a->kind == CLI_KIND_ENUM)
            cr_assert(a->names && a->names[0].name && !a->names[0].alias,
                      "--%s", a->name);
        for (size_t j = i + 1; j < cli_noptions; j++) {
            const struct cli_option *b = &cli_options[j];
            cr_assert_str_neq(a->name, b->name, "--%s twice", a->name);
            cr_assert(!a->letter || a->letter != b->letter,
                      "-%c for --%s and --%s", a->letter, a->name, b->name);
        }
    }
}

/* The paragraph of docs/imgpool.1 (with "\-" unescaped) that describes
 * option @name ("--size"): from the line after a .TP that names it to the
 * next .TP, .SS or .SH.  NULL when there is none. */
static const char *
man_paragraph(const char *text, const char *name, const char **end)
{
    const char *line = text, *prev = "";
    size_t n = strlen(name);

    while (*line) {
        const char *nl = strchr(line, '\n');
        const char *eol = nl ? nl : line + strlen(line);
        if (strncmp(prev, ".TP\n", 4) == 0) {
            for (const char *p = line; (p = strstr(p, name)) && p < eol;
                 p += n) {
                if (isalnum((unsigned char)p[n]) || p[n] == '-')
                    continue;
                const char *e = eol;
                while (*e && strncmp(e, "\n.TP", 4) != 0 &&
                       strncmp(e, "\n.SS", 4) != 0 &&
                       strncmp(e, "\n.SH", 4) != 0)
                    e++;
                *end = e;
                return line;
            }
        }
        if (!nl)
            break;
        prev = line;
        line = nl + 1;
    }
    return NULL;
}

Test(cli, man_page_describes_every_option_and_default)
{
    FILE *f = fopen(TESTDATA_DIR "/../docs/imgpool.1", "r");
    char *man = NULL, *text;
    size_t cap = 0;
    ssize_t n;
    struct cli_opts d[2];
    const unsigned subs[2] = { CLI_SUB_THUMBNAIL, CLI_SUB_IN_PLACE };

    cr_assert(f);
    n = getdelim(&man, &cap, '\0', f);
    fclose(f);
    cr_assert_gt(n, 0);
    /* Unescape "\-" so that options read as they are typed. */
    text = calloc(1, (size_t)n + 1);
    for (ssize_t i = 0, k = 0; i < n; i++)
        if (!(man[i] == '\\' && man[i + 1] == '-'))
            text[k++] = man[i];
    for (int m = 0; m < 2; m++) {
        memset(&d[m], 0, sizeof(d[m]));
        cli_defaults(&d[m], subs[m]);
    }
    for (size_t i = 0; i < cli_noptions; i++) {
        const struct cli_option *opt = &cli_options[i];
        const char *para, *end;
        char name[64], dflt[64];

        snprintf(name, sizeof(name), "--%s", opt->name);
        para = man_paragraph(text, name, &end);
        cr_assert(para, "docs/imgpool.1 does not describe %s", name);
        for (int m = 0; m < 2; m++) {
            /* In-place defaults: only for the rows only in place has. */
            if (!(opt->subs & subs[m]) || opt->kind == CLI_KIND_FLAG ||
                (m == 1 && opt->subs != CLI_SUB_IN_PLACE) ||
                cli_format_default(&d[m], opt, dflt, sizeof(dflt)) < 0)
                continue;
#if defined(__SANITIZE_ADDRESS__)
            if (strcmp(opt->name, "max-memory") == 0)
                continue; /* no cap in sanitizer builds */
#endif
            const char *hit = strstr(para, dflt);
            cr_assert(hit && hit < end,
                      "docs/imgpool.1: the %s paragraph lacks its default "
                      "'%s'", name, dflt);
        }
    }
    free(text);
    free(man);
}

Test(cli, each_subcommand_help_lists_its_own_options)
{
    static const struct {
        const char *args[4];
        unsigned mask; /* the rows this --help must list */
    } cases[] = {
        { { "thumbnail", "--help", NULL }, CLI_SUB_THUMBNAIL },
        { { "recompress", "-h", NULL },
          CLI_SUB_RECOMPRESS | CLI_SUB_IN_PLACE },
        { { "recompress", "--in-place", "--help", NULL },
          CLI_SUB_RECOMPRESS | CLI_SUB_IN_PLACE },
        { { "report", "merge", "--help", NULL }, CLI_SUB_MERGE },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct cli_opts o;
        char *out;
        cr_assert_eq(parse_captured(&o, cases[i].args, 1, &out), CLI_EXIT);
        cr_assert_eq(o.exit_code, 0);
        cr_assert(strstr(out, "exit status"), "case %zu", i);
        for (size_t k = 0; k < cli_noptions; k++) {
            const struct cli_option *opt = &cli_options[k];
            cr_assert_eq(help_lists(out, opt->name),
                         !!(opt->subs & cases[i].mask),
                         "case %zu: --%s listed wrongly:\n%s", i, opt->name,
                         out);
        }
        cli_opts_release(&o);
        free(out);
    }
}

Test(cli, help_groups_in_place_options_and_shows_mode_defaults)
{
    struct cli_opts o;
    const char *th[] = { "thumbnail", "--help", NULL };
    const char *re[] = { "recompress", "--help", NULL };
    const char *top[] = { "--help", NULL };
    char *out, *sec;

    parse_captured(&o, th, 1, &out);
    cr_assert(strstr(out, "(default 300x300)"), "%s", out);
    cr_assert(strstr(out, "--strip             drop EXIF, XMP, IPTC "
                          "(default)"), "%s", out);
    cr_assert(strstr(out, "(default none)"));
    cr_assert_null(strstr(out, "\nin place"));
    free(out);
    cli_opts_release(&o);

    parse_captured(&o, re, 1, &out);
    sec = strstr(out, "\nin place (recompress --in-place only):\n");
    cr_assert(sec, "%s", out);
    /* Every in-place option sits in that section, before the next one. */
    for (size_t k = 0; k < cli_noptions; k++) {
        char name[64];
        if (cli_options[k].section != CLI_SEC_IN_PLACE)
            continue;
        snprintf(name, sizeof(name), "\n      --%s ", cli_options[k].name);
        char *p = strstr(out, name);
        cr_assert(p > sec && p < strstr(sec, "\ngeometry:"), "%s", name);
    }
    cr_assert(strstr(out, "(default error; warning with --in-place)"), "%s",
              out);
    cr_assert(strstr(out, "--keep-metadata     keep EXIF, XMP, IPTC "
                          "(default)"));
    free(out);
    cli_opts_release(&o);

    /* imgpool --help: the commands, no options. */
    parse_captured(&o, top, 1, &out);
    cr_assert(strstr(out, "thumbnail") && strstr(out, "report merge"));
    cr_assert_not(help_lists(out, "output") || help_lists(out, "size"));
    free(out);
    cli_opts_release(&o);
}

Test(cli, option_on_the_wrong_subcommand_is_named_alone)
{
    static const struct {
        const char *args[8];
        const char *msg;
    } cases[] = {
        { { "thumbnail", "x", "-o", "o", "--backup", "b", NULL },
          "imgpool: option '--backup' is only for recompress --in-place\n" },
        { { "thumbnail", "x", "-o", "o", "--backup", "", NULL },
          "imgpool: option '--backup' is only for recompress --in-place\n" },
        { { "thumbnail", "x", "-o", "o", "--in-place", NULL },
          "imgpool: option '--in-place' is only for recompress\n" },
        { { "recompress", "x", "-o", "o", "--min-saving", "5", NULL },
          "imgpool: option '--min-saving' is only for recompress --in-place "
          "(in-place options need --in-place)\n" },
        { { "report", "merge", "a.jsonl", "--jobs", "2", NULL },
          "imgpool: option '--jobs' is not for report merge\n" },
        { { "report", "merge", "--to-srgb", "a.jsonl", NULL },
          "imgpool: option '--to-srgb' is only for recompress --in-place\n" },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct cli_opts o;
        char *err, *nl;
        cr_assert_eq(parse_captured(&o, cases[i].args, 2, &err), CLI_EXIT);
        cr_assert_eq(o.exit_code, 2, "case %zu", i);
        nl = strchr(err, '\n');
        cr_assert(nl);
        cr_assert(strncmp(err, cases[i].msg, (size_t)(nl - err + 1)) == 0 &&
                      strlen(cases[i].msg) == (size_t)(nl - err + 1),
                  "case %zu: '%s'", i, err);
        cr_assert(strstr(nl, "--help"), "case %zu: no hint: '%s'", i, err);
        cli_opts_release(&o);
        free(err);
    }
}

/* Give option @opt the value @val on the subcommand that accepts it.
 * Returns the first line of stderr (caller frees), or NULL when parsed. */
static char *
try_value(const struct cli_option *opt, const char *val, struct cli_opts *o)
{
    char name[64];
    const char *a[10];
    int n = 0;
    char *err, *nl;

    snprintf(name, sizeof(name), "--%s", opt->name);
    if (opt->subs & CLI_SUB_THUMBNAIL) {
        a[n++] = "thumbnail";
        a[n++] = "-o";
        a[n++] = "o";
    } else {
        a[n++] = "recompress";
        a[n++] = "--in-place";
    }
    a[n++] = "x";
    a[n++] = name;
    a[n++] = val;
    a[n] = NULL;
    if (parse_captured(o, a, 2, &err) == CLI_RUN) {
        free(err);
        return NULL;
    }
    cr_assert_eq(o->exit_code, 2, "%s '%s'", name, val);
    nl = strchr(err, '\n');
    if (nl)
        *nl = '\0';
    return err;
}

static void
expect_refused(const struct cli_option *opt, const char *val,
               const char *why)
{
    struct cli_opts o;
    char want[256];
    char *err = try_value(opt, val, &o);

    snprintf(want, sizeof(want), "imgpool: invalid --%s '%s': %s", opt->name,
             val, why);
    cr_assert(err, "--%s '%s' accepted", opt->name, val);
    cr_assert_str_eq(err, want);
    free(err);
    cli_opts_release(&o);
}

static void
expect_accepted(const struct cli_option *opt, const char *val)
{
    struct cli_opts o;
    char *err = try_value(opt, val, &o);

    cr_assert_null(err, "--%s '%s' refused: %s", opt->name, val, err);
    cli_opts_release(&o);
}

Test(cli, every_kind_refuses_values_out_of_range)
{
    char v[64], why[160];

    for (size_t i = 0; i < cli_noptions; i++) {
        const struct cli_option *opt = &cli_options[i];
        switch (opt->kind) {
        case CLI_KIND_INT:
            snprintf(v, sizeof(v), "%ld", opt->lo);
            expect_accepted(opt, v);
            snprintf(v, sizeof(v), "%ld", opt->hi);
            expect_accepted(opt, v);
            snprintf(v, sizeof(v), "%lld", (long long)opt->lo - 1);
            expect_refused(opt, v, opt->expect);
            snprintf(v, sizeof(v), "%llu",
                     (unsigned long long)opt->hi + 1);
            expect_refused(opt, v, opt->expect);
            expect_refused(opt, "12x", opt->expect);
            break;
        case CLI_KIND_DOUBLE:
            snprintf(v, sizeof(v), "%ld", opt->lo);
            if (opt->lo_open)
                expect_refused(opt, v, opt->expect);
            else
                expect_accepted(opt, v);
            snprintf(v, sizeof(v), "%ld.5", opt->hi - 1);
            expect_accepted(opt, v);
            snprintf(v, sizeof(v), "%ld", opt->lo - 1);
            expect_refused(opt, v, opt->expect);
            snprintf(v, sizeof(v), "%ld", opt->hi + !opt->hi_open);
            expect_refused(opt, v, opt->expect);
            expect_refused(opt, "nan", opt->expect);
            expect_refused(opt, "", opt->expect);
            break;
        case CLI_KIND_ENUM:
            for (const struct cli_name *n = opt->names; n->name; n++)
                expect_accepted(opt, n->name);
            cli_enum_expect(opt, why, sizeof(why));
            expect_refused(opt, "bogus", why);
            break;
        case CLI_KIND_SIZE:
            expect_refused(opt, "0x0", "expected WxH, W, Wx or xH with "
                           "sides from 1 to 100000");
            break;
        case CLI_KIND_COLOR:
            expect_refused(opt, "#1234567", "expected a name (white, black, "
                           "gray), #rrggbb or R,G,B");
            break;
        case CLI_KIND_SHARD:
            expect_refused(opt, "2/2", "expected K/N with 0 <= K < N <= "
                           "100000 (e.g. 0/4), auto or auto/N");
            break;
        case CLI_KIND_STRING: {
            const char *reason = NULL;
            if (opt->check && opt->check("", &reason) < 0)
                expect_refused(opt, "", reason);
            break;
        }
        default:
            break;
        }
    }
}

#if defined(__SANITIZE_ADDRESS__)
#define WANT_MAX_MEMORY 0
#else
#define WANT_MAX_MEMORY 2048
#endif

Test(cli, defaults_per_mode)
{
    static const struct {
        const char *args[6];
        int width, strip, in_place;
        enum fail_on fail_on;
    } cases[] = {
        { { "thumbnail", "x", "-o", "o", NULL }, 300, 1, 0, FAIL_NONE },
        { { "recompress", "x", "-o", "o", NULL }, 0, 0, 0, FAIL_ERROR },
        { { "recompress", "x", "--in-place", NULL }, 0, 0, 1, FAIL_WARNING },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct cli_opts o;
        const struct settings *s = &o.config.out[0];
        const struct commit_settings *c = &o.config.commit;
        cr_assert_eq(th_cli_parse(&o, cases[i].args), CLI_RUN, "case %zu", i);
        cr_assert_eq(s->width, cases[i].width, "case %zu", i);
        cr_assert_eq(s->height, cases[i].width, "case %zu", i);
        cr_assert_eq(s->strip, cases[i].strip, "case %zu", i);
        cr_assert_eq(c->in_place, cases[i].in_place, "case %zu", i);
        cr_assert_eq(s->fail_on, cases[i].fail_on, "case %zu", i);
        cr_assert_eq(s->quality, 90);
        cr_assert_eq(s->format, FORMAT_JPEG);
        cr_assert_eq(s->subsample, SUBSAMPLE_AUTO);
        cr_assert(s->background[0] == 255 && s->background[2] == 255);
        cr_assert_eq(c->min_saving, 5.0);
        cr_assert(c->preserve_times && s->fast_jpeg);
        cr_assert_eq(o.timeout_s, 120.0);
        cr_assert_eq(o.max_memory_mb, WANT_MAX_MEMORY);
        cr_assert_eq(o.progress, PROGRESS_AUTO);
        cr_assert_eq(o.jobs, 0);
        cr_assert_eq(o.wait_lock_s, 0.0);
        if (cases[i].in_place)
            cr_assert_null(c->output_dir);
        else
            cr_assert_str_eq(c->output_dir, "o");
        cli_opts_release(&o);
    }
}

Test(cli, given_values_beat_defaults_wherever_in_place_comes)
{
    struct cli_opts o;
    const char *a[] = { "recompress", "--fail-on", "none", "x",
                        "--min-saving", "12.5", "--no-preserve-times",
                        "--backup", "bk", "-q", "80", "--in-place", NULL };
    const char *b[] = { "thumbnail", "x", "-o", "o", "--keep-metadata",
                        "-q", "50", "--strip", "-q", "60", "--timeout",
                        "0", "--max-memory", "0", "--progress", "never",
                        NULL };

    cr_assert_eq(th_cli_parse(&o, a), CLI_RUN);
    cr_assert(o.config.commit.in_place);
    cr_assert_eq(o.config.out[0].fail_on, FAIL_NONE);
    cr_assert_eq(o.config.commit.min_saving, 12.5);
    cr_assert_not(o.config.commit.preserve_times);
    cr_assert_str_eq(o.config.commit.backup_dir, "bk");
    cr_assert_eq(o.config.out[0].quality, 80);
    cli_opts_release(&o);

    cr_assert_eq(th_cli_parse(&o, b), CLI_RUN);
    cr_assert(o.config.out[0].strip, "the last of --strip/--keep-metadata wins");
    cr_assert_eq(o.config.out[0].quality, 60);
    cr_assert_eq(o.timeout_s, 0.0);
    cr_assert_eq(o.max_memory_mb, 0);
    cr_assert_eq(o.progress, PROGRESS_NEVER);
    cli_opts_release(&o);
}

Test(cli, report_merge_takes_files_and_help_only)
{
    struct cli_opts o;
    const char *a[] = { "report", "merge", "a.jsonl", "-", "b.jsonl", NULL };
    const char *b[] = { "report", "merge", "--", "-odd", NULL };

    cr_assert_eq(th_cli_parse(&o, a), CLI_RUN);
    cr_assert_eq(o.command, CMD_REPORT_MERGE);
    cr_assert_eq(o.ninputs, 3);
    cr_assert_str_eq(o.inputs[1], "-");
    cli_opts_release(&o);
    cr_assert_eq(th_cli_parse(&o, b), CLI_RUN);
    cr_assert_eq(o.ninputs, 1);
    cr_assert_str_eq(o.inputs[0], "-odd");
    cli_opts_release(&o);
}

Test(cli, clustered_short_options_count_one_by_one)
{
    struct cli_opts o;
    /* 40 options in one word: more than there are words. */
    const char *a[] = { "thumbnail", "-v0v0v0v0v0v0v0v0v0v0v0v0v0v0v0v0v0v0v0v0",
                        "--files-from", "list", "-o", "o", "-q75", NULL };

    cr_assert_eq(th_cli_parse(&o, a), CLI_RUN);
    cr_assert(o.verbose && o.files_from_nul);
    cr_assert_eq(o.config.out[0].quality, 75);
    cli_opts_release(&o);
}

/* getopt_long would take "--out" for --output and "--qual" for
 * --quality: only whole names are options, and a prefix is answered with
 * the options it could mean. */
Test(cli, abbreviated_long_options_are_refused_with_candidates)
{
    static const struct {
        const char *args[8];
        const char *msg;
    } cases[] = {
        { { "thumbnail", "x", "--out", "o", NULL },
          "imgpool: unknown option '--out' (did you mean --output?)\n" },
        { { "thumbnail", "x", "-o", "o", "--qual", "80", NULL },
          "imgpool: unknown option '--qual' (did you mean --quality?)\n" },
        { { "thumbnail", "x", "-o", "o", "--qual=80", NULL },
          "imgpool: unknown option '--qual' (did you mean --quality?)\n" },
        { { "thumbnail", "x", "-o", "o", "--pro", NULL },
          "imgpool: unknown option '--pro' (did you mean --progressive or "
          "--progress?)\n" },
        { { "recompress", "x", "--in-pl", NULL },
          "imgpool: unknown option '--in-pl' (did you mean --in-place?)\n" },
        { { "thumbnail", "x", "-o", "o", "--bogus", NULL },
          "imgpool: unknown option '--bogus'\n" },
        { { "thumbnial", "x", NULL },
          "imgpool: unknown command 'thumbnial' (expected thumbnail, "
          "recompress or report)\n" },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct cli_opts o;
        char *err, *nl;

        cr_assert_eq(parse_captured(&o, cases[i].args, 2, &err), CLI_EXIT,
                     "case %zu", i);
        cr_assert_eq(o.exit_code, 2, "case %zu", i);
        nl = strchr(err, '\n');
        cr_assert(nl, "case %zu: '%s'", i, err);
        nl[1] = '\0';
        cr_assert_str_eq(err, cases[i].msg, "case %zu", i);
        free(err);
        cli_opts_release(&o);
    }
    /* The whole names still work, with = or a separate value. */
    {
        struct cli_opts o;
        const char *a[] = { "thumbnail", "x", "--output", "o",
                            "--quality=80", "--progress", "never", NULL };

        cr_assert_eq(th_cli_parse(&o, a), CLI_RUN);
        cr_assert_eq(o.config.out[0].quality, 80);
        cli_opts_release(&o);
    }
}

/* Every variable --shard auto reads, unset. */
static void
clear_shard_env(void)
{
    static const char *vars[] = {
        "SLURM_ARRAY_TASK_ID", "SLURM_ARRAY_TASK_COUNT",
        "SLURM_ARRAY_TASK_MIN", "SLURM_ARRAY_TASK_MAX",
        "SLURM_ARRAY_TASK_STEP",
        "AWS_BATCH_JOB_ARRAY_INDEX", "AWS_BATCH_JOB_ARRAY_SIZE",
        "BATCH_TASK_INDEX", "BATCH_TASK_COUNT", "JOB_COMPLETION_INDEX",
    };
    for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++)
        unsetenv(vars[i]);
}

/* --shard auto[/N]: from each scheduler's variables; clear errors when
 * there are none, when only an index is given, and when they disagree. */
Test(cli, shard_auto_from_the_schedulers_environment)
{
    static const struct {
        const char *env[8];     /* NAME=VALUE pairs as one string each */
        const char *spec;
        int k, n;               /* n 0: an error containing @msg */
        const char *msg;
    } cases[] = {
        { {"SLURM_ARRAY_TASK_ID=2", "SLURM_ARRAY_TASK_COUNT=4"}, "auto",
          2, 4, NULL },
        { {"SLURM_ARRAY_TASK_ID=3", "SLURM_ARRAY_TASK_MIN=0",
           "SLURM_ARRAY_TASK_MAX=3", "SLURM_ARRAY_TASK_COUNT=4"}, "auto",
          3, 4, NULL },
        /* sbatch --array=5 re-runs shard 5 of 16: a one-task array */
        { {"SLURM_ARRAY_TASK_ID=5", "SLURM_ARRAY_TASK_MIN=5",
           "SLURM_ARRAY_TASK_MAX=5", "SLURM_ARRAY_TASK_COUNT=1"}, "auto",
          0, 0, "use --shard auto/N" },
        { {"SLURM_ARRAY_TASK_ID=5", "SLURM_ARRAY_TASK_MIN=5",
           "SLURM_ARRAY_TASK_MAX=5", "SLURM_ARRAY_TASK_COUNT=1"}, "auto/16",
          5, 16, NULL },
        { {"SLURM_ARRAY_TASK_ID=2", "SLURM_ARRAY_TASK_MIN=1",
           "SLURM_ARRAY_TASK_MAX=4", "SLURM_ARRAY_TASK_COUNT=4"}, "auto",
          0, 0, "this Slurm array is not 0-3" },
        { {"AWS_BATCH_JOB_ARRAY_INDEX=1", "AWS_BATCH_JOB_ARRAY_SIZE=3"},
          "auto", 1, 3, NULL },
        { {"AWS_BATCH_JOB_ARRAY_INDEX=1"}, "auto/3", 1, 3, NULL },
        { {"BATCH_TASK_INDEX=0", "BATCH_TASK_COUNT=5"}, "auto", 0, 5, NULL },
        { {"JOB_COMPLETION_INDEX=3"}, "auto/8", 3, 8, NULL },
        { {"JOB_COMPLETION_INDEX=3"}, "auto", 0, 0,
          "JOB_COMPLETION_INDEX gives the index but no count: use --shard "
          "auto/N" },
        { {"JOB_COMPLETION_INDEX=3"}, "auto/3", 0, 0, "is not below" },
        { {NULL}, "auto", 0, 0, "no task index in the environment" },
        { {NULL}, "auto/4", 0, 0, "no task index in the environment" },
        { {"SLURM_ARRAY_TASK_ID=1", "SLURM_ARRAY_TASK_COUNT=4",
           "JOB_COMPLETION_INDEX=2"}, "auto/4", 0, 0,
          "the environment disagrees: SLURM_ARRAY_TASK_ID and "
          "JOB_COMPLETION_INDEX" },
        { {"AWS_BATCH_JOB_ARRAY_INDEX=1", "AWS_BATCH_JOB_ARRAY_SIZE=4"},
          "auto/5", 0, 0, "auto/5 disagrees with AWS_BATCH_JOB_ARRAY_SIZE=4" },
        { {"BATCH_TASK_INDEX=x", "BATCH_TASK_COUNT=2"}, "auto", 0, 0,
          "BATCH_TASK_INDEX='x' is not a task index" },
        { {"BATCH_TASK_INDEX=0", "BATCH_TASK_COUNT=2"}, "auto/0", 0, 0,
          "expected auto or auto/N" },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *why = "";
        int k = -1, n = -1, rc;

        clear_shard_env();
        for (int e = 0; cases[i].env[e]; e++)
            cr_assert_eq(putenv((char *)cases[i].env[e]), 0);
        rc = cli_parse_shard(cases[i].spec, &k, &n, &why);
        if (cases[i].n) {
            cr_assert_eq(rc, 0, "case %zu: %s", i, why);
            cr_assert(k == cases[i].k && n == cases[i].n,
                      "case %zu: %d/%d", i, k, n);
        } else {
            cr_assert_neq(rc, 0, "case %zu: accepted as %d/%d", i, k, n);
            cr_assert(strstr(why, cases[i].msg), "case %zu: '%s'", i, why);
        }
    }
    clear_shard_env();
    /* Through the command line, the error names the option. */
    {
        struct cli_opts o;
        const char *a[] = { "thumbnail", "x", "-o", "o", "--shard", "auto",
                            NULL };
        char *err;

        cr_assert_eq(parse_captured(&o, a, 2, &err), CLI_EXIT);
        cr_assert(strstr(err, "invalid --shard 'auto': no task index"),
                  "%s", err);
        free(err);
        cli_opts_release(&o);
    }
}
