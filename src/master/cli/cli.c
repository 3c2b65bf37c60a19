/*
 * cli.c - argv into struct cli_opts, driven by the option table
 * (cli_table.c).
 *
 * Four steps, each over the whole command line:
 *   collect   getopt_long (its arrays built from the table) records each
 *             option and its value in order; --help and --version act at
 *             once; unknown options, options the command never takes,
 *             missing and bad values are usage errors where they stand
 *   accept    with --in-place known (it may come last), every option
 *             must be one that recompress, or recompress --in-place, takes
 *   apply     cli_defaults() once, then each value stored by its kind,
 *             in command-line order (the last of repeated options wins)
 *   validate  rules that involve several options (--in-place against -o,
 *             --fit against --size, ...)
 *   config    the run configuration made from what was accepted
 *             (cli_make_config()): read only from then on
 * Usage errors print one line naming the option, a hint to --help, and
 * exit 2.
 */
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "cli_table.h"
#include "thumbcache.h"
#include "msg.h"
#include "plan.h"
#include "util.h"

/* getopt_long returns this plus the row index for options without a
 * short letter. */
#define LONG_ONLY_BASE 256

/* One option as given on the command line. */
struct given {
    const struct cli_option *opt;
    const char *arg; /* NULL for flags */
};

struct parse_state {
    struct given *given; /* in command-line order; owned */
    size_t ngiven, cap;
    int end;             /* argv index of the first operand */
};

void
cli_opts_init(struct cli_opts *o)
{
    memset(o, 0, sizeof(*o));
}

void
cli_opts_release(struct cli_opts *o)
{
    free(o->inputs);
    free(o->includes);
    free(o->excludes);
    free(o->file_dir);
    free(o->file_name);
    free(o->output_dir_own);
    free(o->backup_dir_own);
    memset(o, 0, sizeof(*o));
}

static void
push(const char ***arr, size_t *n, const char *s)
{
    *arr = xrealloc((void *)*arr, (*n + 1) * sizeof(**arr));
    (*arr)[(*n)++] = s;
}

static int
takes_value(const struct cli_option *opt)
{
    return opt->kind != CLI_KIND_FLAG && opt->kind != CLI_KIND_HELP &&
           opt->kind != CLI_KIND_VERSION;
}

/* The getopt_long arrays for every row; caller frees both. */
static void
build_getopt(struct option **longs, char **shorts)
{
    char *p;
    size_t i;

    *longs = xcalloc(cli_noptions + 1, sizeof(**longs));
    *shorts = p = xmalloc(2 * cli_noptions + 2);
    *p++ = ':'; /* a missing value returns ':', not '?' */
    for (i = 0; i < cli_noptions; i++) {
        const struct cli_option *opt = &cli_options[i];
        (*longs)[i].name = opt->name;
        (*longs)[i].has_arg = takes_value(opt) ? required_argument
                                               : no_argument;
        (*longs)[i].flag = NULL;
        (*longs)[i].val = opt->letter ? opt->letter
                                      : LONG_ONLY_BASE + (int)i;
        if (opt->letter) {
            *p++ = opt->letter;
            if (takes_value(opt))
                *p++ = ':';
        }
    }
    *p = '\0';
}

static const struct cli_option *
row_of(int c)
{
    size_t i;

    if (c >= LONG_ONLY_BASE && (size_t)(c - LONG_ONLY_BASE) < cli_noptions)
        return &cli_options[c - LONG_ONLY_BASE];
    for (i = 0; i < cli_noptions; i++)
        if (cli_options[i].letter == c)
            return &cli_options[i];
    return NULL;
}

/* The usage error for @opt, which @o->sub does not accept. */
static enum cli_result
not_accepted(struct cli_opts *o, const struct cli_option *opt)
{
    unsigned process = opt->subs & CLI_SUB_PROCESS;

    if (process == CLI_SUB_IN_PLACE && o->sub == CLI_SUB_RECOMPRESS)
        return cli_usage_error(o, "option '--%s' is only for recompress "
                           "--in-place (in-place options need --in-place)",
                           opt->name);
    if (process == CLI_SUB_IN_PLACE)
        return cli_usage_error(o, "option '--%s' is only for recompress "
                           "--in-place", opt->name);
    if (process && !(process & ~(CLI_SUB_RECOMPRESS | CLI_SUB_IN_PLACE)))
        return cli_usage_error(o, "option '--%s' is only for recompress",
                           opt->name);
    if (process == CLI_SUB_THUMBNAIL)
        return cli_usage_error(o, "option '--%s' is only for thumbnail",
                           opt->name);
    return cli_usage_error(o, "option '--%s' is not for %s", opt->name,
                       cli_sub_name(o->sub));
}

/* getopt_long takes any unambiguous prefix of a long option ("--out" for
 * --output), which silently turns a typo into another option and lets a
 * new option break old scripts.  Only whole names are accepted: 0, or -1
 * with @word being a prefix of @opt's name. */
static int
abbreviated(const struct cli_option *opt, const char *word)
{
    size_t len;

    if (strncmp(word, "--", 2) != 0)
        return 0;           /* a short option, or a cluster of them */
    word += 2;
    len = strcspn(word, "=");
    return strlen(opt->name) != len;
}

/* Act on, or record in @st, what getopt_long returned (@c). */
static enum cli_result
take(struct cli_opts *o, struct parse_state *st, int c, char **argv,
     struct cli_opts *scratch)
{
    const struct cli_option *opt = c == ':' || c == '?' ? NULL : row_of(c);
    /* recompress may still turn out to be recompress --in-place. */
    unsigned maybe = o->sub == CLI_SUB_RECOMPRESS
                         ? CLI_SUB_RECOMPRESS | CLI_SUB_IN_PLACE
                         : o->sub;
    char why[160], hint[256];
    const char *word;

    if (c == ':')
        return cli_usage_error(o, "option '%s' needs a value", argv[optind - 1]);
    /* The word that named the option: the one before its value when the
     * value came as the next word. */
    word = opt && optarg && optind >= 2 && optarg == argv[optind - 1]
               ? argv[optind - 2]
               : argv[optind - 1];
    if (!opt && optopt)
        return cli_usage_error(o, "unknown option '-%c'", optopt);
    if (!opt || abbreviated(opt, word)) {
        cli_option_candidates(word + (strncmp(word, "--", 2) == 0 ? 2 : 0), hint,
                   sizeof(hint));
        return cli_usage_error(o, "unknown option '%.*s'%s",
                           (int)strcspn(word, "="), word, hint);
    }
    if (opt->kind == CLI_KIND_HELP || opt->kind == CLI_KIND_VERSION) {
        if (opt->kind == CLI_KIND_HELP)
            cli_help(stdout, o->sub);
        else
            printf("imgpool %s\n", IMGPOOL_VERSION);
        o->exit_code = 0;
        return CLI_EXIT;
    }
    if (!(opt->subs & maybe))
        return not_accepted(o, opt);
    if (opt->kind != CLI_KIND_LIST &&
        cli_store(scratch, opt, optarg, why, sizeof(why)) < 0)
        return cli_usage_error(o, "invalid --%s '%s': %s", opt->name, optarg,
                           why);
    /* One word may hold several short options ("-v0"). */
    if (st->ngiven == st->cap) {
        st->cap = st->cap ? 2 * st->cap : 16;
        st->given = xrealloc(st->given, st->cap * sizeof(*st->given));
    }
    st->given[st->ngiven].opt = opt;
    st->given[st->ngiven].arg = optarg;
    st->ngiven++;
    return CLI_RUN;
}

/*
 * Step 1: run getopt_long over argv (argv[0] is the subcommand's name) and
 * record every option in @st.  Values are checked here, so that the first
 * bad one on the command line is the one reported; they are stored later,
 * over the defaults.  GNU getopt permutes, so options may follow operands;
 * "--" ends them.
 */
static enum cli_result
collect(struct cli_opts *o, int argc, char **argv, struct parse_state *st)
{
    enum cli_result r = CLI_RUN;
    struct cli_opts scratch;
    struct option *longs;
    char *shorts;
    int c;

    memset(&scratch, 0, sizeof(scratch));
    build_getopt(&longs, &shorts);
    opterr = 0;
    optind = 0; /* full reinitialisation: cli_parse may run again */
    while (r == CLI_RUN) {
        c = getopt_long(argc, argv, shorts, longs, NULL);
        if (c == -1)
            break;
        r = take(o, st, c, argv, &scratch);
    }
    st->end = optind;
    free(longs);
    free(shorts);
    return r;
}

/* Step 2: once --in-place is known, every option must be accepted. */
static enum cli_result
accept_all(struct cli_opts *o, const struct parse_state *st)
{
    size_t i;

    for (i = 0; i < st->ngiven; i++)
        if (!(st->given[i].opt->subs & o->sub))
            return not_accepted(o, st->given[i].opt);
    return CLI_RUN;
}

/* -s and --sizes given: the boxes, in order, replace the default one. */
static enum cli_result
add_given_size(struct cli_opts *o, const struct given *g, int *nsizes_given)
{
    const struct settings *s = &o->config.out[0];
    const char *why;

    if ((*nsizes_given)++ == 0)
        o->nboxes = 0;
    if (g->opt->kind == CLI_KIND_SIZE) {
        if (o->nboxes >= SETTINGS_MAX_SIZES)
            return cli_usage_error(o, "too many sizes: at most %d outputs per "
                               "input", SETTINGS_MAX_SIZES);
        o->boxes[o->nboxes].width = s->width;
        o->boxes[o->nboxes].height = s->height;
        o->nboxes++;
    } else if (cli_add_sizes(o->boxes, &o->nboxes, g->arg, &why) < 0) {
        return cli_usage_error(o, "invalid --sizes '%s': %s (at most %d outputs "
                           "per input)", g->arg, why, SETTINGS_MAX_SIZES);
    }
    return CLI_RUN;
}

/* Step 3: the defaults of @o->sub, then every value given, in order. */
static enum cli_result
apply(struct cli_opts *o, const struct parse_state *st)
{
    const struct cli_option *size = cli_option_find("size");
    const struct cli_option *sizes = cli_option_find("sizes");
    const struct cli_option *format = cli_option_find("format");
    const struct cli_option *quality = cli_option_find("quality"),
                            *target = cli_option_find("target-distance");
    const struct given *g;
    int nsizes_given = 0;
    char why[160];
    size_t i;

    cli_defaults(o, o->sub);
    o->format_given = o->quality_given = o->target_given = 0;
    for (i = 0; i < st->ngiven; i++) {
        g = &st->given[i];
        if (cli_store(o, g->opt, g->arg, why, sizeof(why)) < 0)
            return cli_usage_error(o, "invalid --%s '%s': %s", g->opt->name,
                               g->arg, why);
        if (g->opt == format)
            o->format_given = 1;
        o->quality_given |= g->opt == quality;
        o->target_given |= g->opt == target;
        if ((g->opt == size || g->opt == sizes) &&
            add_given_size(o, g, &nsizes_given) != CLI_RUN)
            return CLI_EXIT;
    }
    /* The first box is the one every single-size code path reads. */
    o->config.out[0].width = o->boxes[0].width;
    o->config.out[0].height = o->boxes[0].height;
    return CLI_RUN;
}

/* --lossless with JPEG output (lossless.h): the coefficients as they are,
 * so nothing that changes pixels or metadata. */
static enum cli_result
validate_lossless_jpeg(struct cli_opts *o)
{
    const struct settings *s = &o->config.out[0];

    if (s->mode != MODE_RECOMPRESS)
        return cli_usage_error(o, "--lossless with jpeg output is for recompress "
                           "(a thumbnail is resized): use -f png or -f webp");
    if (s->width || s->height || o->nboxes > 1)
        return cli_usage_error(o, "--lossless keeps the pixels: drop --size");
    if (s->strip || s->strip_gps || s->to_srgb)
        return cli_usage_error(o, "--lossless keeps every metadata segment and "
                           "the colours: drop --strip, --strip-gps and "
                           "--to-srgb");
    return CLI_RUN;
}

/* --target-distance D (lookq.h): a quality searched per JPEG output. */
static enum cli_result
validate_target(struct cli_opts *o, const struct settings *s)
{
    if (!(s->target_distance >= SETTINGS_DISTANCE_MIN))
        return cli_usage_error(o, "invalid --target-distance '%g': expected a "
                           "distance from 0.1 to 10", s->target_distance);
    if (s->format != FORMAT_JPEG || s->lossless || o->quality_given)
        return cli_usage_error(o, "--target-distance chooses a lossy JPEG "
                           "quality: drop %s", s->format != FORMAT_JPEG
                           ? "--format" : s->lossless ? "--lossless" : "-q");
    return CLI_RUN;
}

/* recompress --in-place: what cannot go with replacing files. */
static enum cli_result
validate_in_place(struct cli_opts *o)
{
    const struct settings *s = &o->config.out[0];

    if (o->output_dir)
        return cli_usage_error(o, "--in-place and --output exclude each other");
    if (s->width || s->height)
        return cli_usage_error(o, "--in-place keeps dimensions: drop --size, "
                           "or write elsewhere with -o");
    /* A .jpg cannot become JPEG XL under its own name: an archive in
     * JPEG XL is written beside the originals with -o. */
    if (s->format == FORMAT_JXL)
        return cli_usage_error(o, "--in-place keeps each file's name and "
                           "format: a JPEG cannot become JPEG XL in place; "
                           "write JPEG XL with -o DIR -f jxl");
    if (s->format != FORMAT_JPEG)
        return cli_usage_error(o, "--in-place rewrites JPEG as JPEG: drop "
                           "--format");
    if (o->name_template)
        return cli_usage_error(o, "--in-place keeps names: drop --name");
    if (s->strip)
        return cli_usage_error(o, "--in-place keeps metadata: drop --strip "
                           "(--strip-gps drops the position only)");
    if (o->prune)
        return cli_usage_error(o, "--prune works with an output tree, not "
                           "--in-place");
    if (s->lossless && validate_lossless_jpeg(o) != CLI_RUN)
        return CLI_EXIT;
    o->config.commit.output_dir = NULL;
    return CLI_RUN;
}

/* thumbnail --freedesktop: the cache instead of an output tree. */
static enum cli_result
validate_freedesktop(struct cli_opts *o)
{
    struct settings *s = &o->config.out[0], def;
    struct commit_settings *c = &o->config.commit;

    settings_init(&def, MODE_THUMBNAIL);
    if (o->output_dir)
        return cli_usage_error(o, "--freedesktop writes into the thumbnail "
                           "cache: drop --output (or --cache-dir DIR)");
    if (o->name_template || s->format != def.format ||
        s->width != def.width || s->height != def.height ||
        o->nboxes > 1 || o->prune)
        return cli_usage_error(o, "--freedesktop names, sizes and formats its "
                           "thumbnails as the cache specification says: "
                           "drop --name, --format, --size and --prune");
    c->fd_flavors = THUMBCACHE_DEFAULT_MASK;
    if (o->flavors && thumbcache_parse_flavors(o->flavors,
                                               &c->fd_flavors) < 0)
        return cli_usage_error(o, "invalid --flavor '%s'", o->flavors);
    if (thumbcache_base(o->cache_dir, o->cache_base,
                        sizeof(o->cache_base)) < 0)
        return cli_usage_error(o, "no thumbnail cache: set HOME or "
                           "XDG_CACHE_HOME, or give --cache-dir DIR");
    s->format = FORMAT_PNG;
    s->target = TARGET_FREEDESKTOP;
    c->output_dir = o->cache_base;
    return CLI_RUN;
}

/* 1 when the name template @t ends in ".{fmt}". */
static int
ends_in_fmt(const char *t)
{
    size_t n = strlen(t);

    return n >= 6 && strcmp(t + n - 6, ".{fmt}") == 0;
}

/* The output format and the outputs: -f against the extension of --name,
 * the options of one format, several sizes and their names. */
static enum cli_result
validate_outputs(struct cli_opts *o)
{
    struct settings *s = &o->config.out[0];
    const struct settings_size *z = o->boxes;
    enum out_format named;
    char a[32], b[32];
    int i, k;

    if (o->name_template && format_from_name(o->name_template, &named) == 0) {
        if (o->format_given && named != s->format)
            return cli_usage_error(o, "--format %s contradicts --name '%s', "
                               "whose extension means %s", format_str(s->format),
                               o->name_template, format_str(named));
        s->format = named;
    } else if (o->name_template && !ends_in_fmt(o->name_template))
        return cli_usage_error(o, "--name '%s' names no output format: end it "
                           "in .jpg, .png, .webp, .avif, .jxl or .{fmt}",
                           o->name_template);
    if (s->lossless && s->format == FORMAT_AVIF)
        return cli_usage_error(o, "--lossless is for JPEG, WebP, JPEG XL and "
                           "PNG output, not %s", format_str(s->format));
    if (s->lossless && s->format == FORMAT_JPEG &&
        validate_lossless_jpeg(o) != CLI_RUN)
        return CLI_EXIT;
    if (s->baseline && s->format != FORMAT_JPEG)
        return cli_usage_error(o, "--baseline is for JPEG output, not %s",
                           format_str(s->format));
    if (s->progressive && s->format != FORMAT_JPEG)
        return cli_usage_error(o, "--progressive is for JPEG output, not %s",
                           format_str(s->format));
    for (i = 1; i < o->nboxes; i++)
        if (s->fit != FIT_INSIDE && (z[i].width == 0 || z[i].height == 0))
            return cli_usage_error(o, "--fit %s needs both sides of every size "
                               "(WxH): %s", fit_str(s->fit),
                               settings_size_label(&z[i], a, sizeof(a)));
    for (i = 0; i < o->nboxes; i++)
        for (k = 0; k < i; k++)
            if (z[i].width == z[k].width && z[i].height == z[k].height)
                return cli_usage_error(o, "size %s is given twice",
                                   settings_size_label(&z[i], a, sizeof(a)));
    if (o->nboxes > 1 && o->name_template &&
        !plan_template_has_size(o->name_template))
        return cli_usage_error(o, "--name '%s' gives every size the same name: "
                           "add {size}, or {w} and {h}", o->name_template);
    if (o->nboxes > 1 && o->name_template &&
        plan_template_has_size(o->name_template) == 1) {
        /* {w} or {h} alone: two boxes may share that side. */
        for (i = 0; i < o->nboxes; i++)
            for (k = 0; k < i; k++)
                if (plan_size_names_equal(o->name_template, &z[i], &z[k]))
                    return cli_usage_error(o, "--name '%s' gives sizes %s and "
                                       "%s the same name: add {size}",
                                       o->name_template,
                                       settings_size_label(&z[k], a,
                                                           sizeof(a)),
                                       settings_size_label(&z[i], b,
                                                           sizeof(b)));
    }
    return CLI_RUN;
}

/*
 * -o naming a file: an output format's extension, and not an existing
 * directory.  With exactly one input, a regular file, that file is
 * written there (its folder as the output directory, its name as a
 * literal template); anything else is a usage error.  0: not a file, or
 * done; -1: usage error given.
 */
static int
output_file(struct cli_opts *o)
{
    enum out_format f;
    struct stat st;
    const char *slash, *base;
    size_t n = 0;

    if (!o->output_dir || format_from_name(o->output_dir, &f) < 0 ||
        (stat(o->output_dir, &st) == 0 && S_ISDIR(st.st_mode)))
        return 0;
    if (o->ninputs != 1 || o->files_from || stat(o->inputs[0], &st) < 0 ||
        !S_ISREG(st.st_mode)) {
        cli_usage_error(o, "-o '%s' names a file, which takes exactly one input "
                    "file; give a directory to -o for several",
                    o->output_dir);
        return -1;
    }
    if (o->name_template) {
        cli_usage_error(o, "-o '%s' names a file: --name does not apply",
                    o->output_dir);
        return -1;
    }
    slash = strrchr(o->output_dir, '/');
    base = slash ? slash + 1 : o->output_dir;
    o->file_dir = slash == o->output_dir ? xstrdup("/")
                  : slash ? xstrndup(o->output_dir,
                                     (size_t)(slash - o->output_dir))
                          : xstrdup(".");
    o->file_name = xmalloc(2 * strlen(base) + 1);
    for (const char *p = base; *p; p++) {       /* braces are literal */
        if (*p == '{' || *p == '}')
            o->file_name[n++] = *p;
        o->file_name[n++] = *p;
    }
    o->file_name[n] = '\0';
    o->output_dir = o->file_dir;
    o->name_template = o->file_name;
    return 0;
}

/* Step 4: the rules that involve several options. */
static enum cli_result
validate(struct cli_opts *o)
{
    const struct settings *s = &o->config.out[0];

    if (o->ninputs == 0 && !o->files_from)
        return cli_usage_error(o, "no INPUT given: name files or directories to "
                           "process, or use --files-from");
    if (o->files_from_nul && !o->files_from)
        return cli_usage_error(o, "-0 applies to --files-from, which is missing");
    if (s->baseline && s->progressive)
        return cli_usage_error(o, "--baseline and --progressive exclude each "
                           "other");
    if (o->config.commit.in_place)
        return validate_in_place(o);
    if (o->freedesktop)
        return validate_freedesktop(o);
    if (o->flavors || o->cache_dir)
        return cli_usage_error(o, "--flavor and --cache-dir go with "
                           "--freedesktop");
    if (output_file(o) < 0 || validate_outputs(o) != CLI_RUN ||
        (o->target_given && validate_target(o, s) != CLI_RUN))
        return CLI_EXIT;
    if (!o->output_dir)
        return cli_usage_error(o, "no output directory: add -o DIR (results "
                           "mirror the input tree under DIR), or use "
                           "recompress --in-place");
    if (s->mode == MODE_RECOMPRESS && s->fit != FIT_INSIDE &&
        s->width == 0 && s->height == 0)
        return cli_usage_error(o, "--fit %s needs a --size", fit_str(s->fit));
    if (s->fit != FIT_INSIDE && (s->width == 0 || s->height == 0))
        return cli_usage_error(o, "--fit %s needs both sides of --size (WxH)",
                           fit_str(s->fit));
    o->config.commit.output_dir = o->output_dir;
    return CLI_RUN;
}

/* Steps 1 to 3 for a subcommand whose arguments start at argv[0] (its
 * name); the operands are appended to o->inputs. */
static enum cli_result
parse_sub(struct cli_opts *o, int argc, char **argv, unsigned sub)
{
    const struct cli_option *in_place = cli_option_find("in-place");
    struct parse_state st = { NULL, 0, 0, 0 };
    enum cli_result r;
    size_t i;
    int k;

    o->sub = sub;
    r = collect(o, argc, argv, &st);
    for (i = 0; r == CLI_RUN && sub == CLI_SUB_RECOMPRESS && i < st.ngiven;
         i++)
        if (st.given[i].opt == in_place)
            o->sub = CLI_SUB_IN_PLACE;
    if (r == CLI_RUN)
        r = accept_all(o, &st);
    if (r == CLI_RUN)
        r = apply(o, &st);
    for (k = st.end; r == CLI_RUN && k < argc; k++)
        push(&o->inputs, &o->ninputs, argv[k]);
    free(st.given);
    return r;
}

static enum cli_result
parse_report(struct cli_opts *o, int argc, char **argv)
{
    enum cli_result r;

    o->sub = CLI_SUB_MERGE;
    if (argc < 3 || strcmp(argv[2], "--help") == 0 ||
        strcmp(argv[2], "-h") == 0) {
        cli_help(argc < 3 ? stderr : stdout, CLI_SUB_MERGE);
        o->exit_code = argc < 3 ? 2 : 0;
        return CLI_EXIT;
    }
    if (strcmp(argv[2], "merge") != 0)
        return cli_usage_error(o, "unknown report command '%s' (expected "
                           "merge)", argv[2]);
    r = parse_sub(o, argc - 2, argv + 2, CLI_SUB_MERGE);
    if (r != CLI_RUN)
        return r;
    if (o->ninputs == 0)
        return cli_usage_error(o, "report merge needs at least one REPORT file");
    o->command = CMD_REPORT_MERGE;
    return CLI_RUN;
}

enum cli_result
cli_parse(struct cli_opts *o, int argc, char **argv)
{
    const char *cmd = argc >= 2 ? argv[1] : "";
    unsigned sub;
    enum cli_result r;

    if (argc < 2)
        return cli_usage_error(o, "no command given (thumbnail or recompress)");
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 ||
        strcmp(cmd, "help") == 0) {
        cli_help(stdout, 0);
        o->exit_code = 0;
        return CLI_EXIT;
    }
    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "-V") == 0) {
        printf("imgpool %s\n", IMGPOOL_VERSION);
        o->exit_code = 0;
        return CLI_EXIT;
    }
    if (strcmp(cmd, "report") == 0)
        return parse_report(o, argc, argv);
    if (strcmp(cmd, "thumbnail") == 0)
        sub = CLI_SUB_THUMBNAIL;
    else if (strcmp(cmd, "recompress") == 0)
        sub = CLI_SUB_RECOMPRESS;
    else if (cmd[0] == '-')
        return cli_usage_error(o, "a command must come first: imgpool "
                           "thumbnail|recompress [OPTIONS] INPUT...");
    else
        return cli_usage_error(o, "unknown command '%s' (expected thumbnail, "
                           "recompress or report)", cmd);

    o->command = CMD_PROCESS;
    o->command_name = cmd;
    r = parse_sub(o, argc - 1, argv + 1, sub);
    if (r == CLI_RUN)
        r = validate(o);
    if (r == CLI_RUN)
        cli_make_config(o);
    return r;
}
