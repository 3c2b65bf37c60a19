/*
 * cli_help.c - the --help of each subcommand, printed from the option
 * table: a usage line shaped like docs/imgpool.1's SYNOPSIS, a paragraph,
 * then every row the subcommand accepts under its section heading, each
 * with its default read back from cli_defaults().  Keep the paragraphs in
 * step with the man page.
 */
#include <string.h>

#include "cli_table.h"

#define HELP_COL 26   /* where help text starts */
#define HELP_WIDTH 78 /* the last column used */

static const struct {
    const char *title;
    const char *intro; /* printed in the help column, or NULL */
} sections[CLI_SEC_COUNT] = {
    [CLI_SEC_OUTPUT] = { "output", NULL },
    [CLI_SEC_IN_PLACE] = { "in place (recompress --in-place only)", NULL },
    [CLI_SEC_GEOMETRY] = { "geometry", NULL },
    [CLI_SEC_SELECTION] = { "selection", NULL },
    [CLI_SEC_LIMITS] = { "safety and limits", NULL },
    [CLI_SEC_INCREMENTAL] = { "incremental runs and locking",
                              "a re-run skips files whose output is recorded\n"
                              "(in DIR/.imgpool/) as made from the same input\n"
                              "with the same settings (reason up-to-date)" },
    [CLI_SEC_RUNNING] = { "running", NULL },
};

static const char usage_top[] =
    "usage: imgpool thumbnail [OPTIONS] INPUT... -o DIR\n"
    "       imgpool recompress [OPTIONS] INPUT... -o DIR\n"
    "       imgpool recompress --in-place [OPTIONS] INPUT...\n"
    "       imgpool report merge REPORT...\n"
    "       imgpool --help | --version\n"
    "\n"
    "Batch image processing with a pool of worker processes.  Every image\n"
    "under each INPUT (a file or a directory, walked recursively) becomes an\n"
    "8-bit sRGB JPEG (or PNG, WebP, AVIF or JPEG XL with -f) under DIR,\n"
    "mirroring the input tree; recompress --in-place rewrites JPEGs where\n"
    "they lie.\n"
    "\n"
    "inputs: JPEG, PNG, GIF, WebP, TIFF, HEIC/AVIF, JPEG XL and SVG; BMP,\n"
    "JPEG 2000, PSD and PNM with --allow-untrusted (by default they fail\n"
    "untrusted-format: libvips marks their loaders untrusted).\n"
    "\n"
    "commands:\n"
    "  thumbnail    fit each image in a box (default 300x300), strip metadata\n"
    "  recompress   re-encode at full size (default), keep EXIF/XMP/IPTC\n"
    "  report merge join the --report files of several runs (the shards of\n"
    "               one job) into one report on stdout\n"
    "\n"
    "Run 'imgpool COMMAND --help' for the options of a command.\n";

static const char usage_thumbnail[] =
    "usage: imgpool thumbnail [OPTIONS] INPUT... -o DIR\n"
    "\n"
    "Fit every image under each INPUT (a file or a directory, walked\n"
    "recursively) in a box and write it as an 8-bit sRGB JPEG (or PNG, WebP,\n"
    "AVIF or JPEG XL with -f) under DIR, mirroring the input tree; metadata\n"
    "is dropped.  With --freedesktop, into the freedesktop.org thumbnail cache\n"
    "instead of DIR.  BMP, JPEG 2000, PSD and PNM inputs need\n"
    "--allow-untrusted.\n";

static const char usage_recompress[] =
    "usage: imgpool recompress [OPTIONS] INPUT... -o DIR\n"
    "       imgpool recompress --in-place [OPTIONS] INPUT...\n"
    "\n"
    "Re-encode every image under each INPUT (a file or a directory, walked\n"
    "recursively) at full size unless --size is given, keeping EXIF, XMP and\n"
    "IPTC: as an 8-bit sRGB JPEG (or PNG, WebP, AVIF or JPEG XL with -f)\n"
    "under DIR, mirroring the input tree (-f jxl transcodes a JPEG without\n"
    "loss, and -f jpeg gives such a file's JPEG back byte for byte), or\n"
    "with --in-place over each JPEG itself,\n"
    "which stays a JPEG of its own colour space (CMYK, grey, wide gamut;\n"
    "sRGB only with --to-srgb).  BMP, JPEG 2000, PSD and PNM inputs need\n"
    "--allow-untrusted.\n";

static const char exit_process[] =
    "\n"
    "exit status: 0 all files ok or skipped, 1 some files failed, 2 usage or\n"
    "setup error, 75 another run holds the lock, 130/143 interrupted by\n"
    "SIGINT/SIGTERM.\n";

static const char usage_merge[] =
    "usage: imgpool report merge REPORT...\n"
    "\n"
    "Join JSON Lines reports written with --report (for example one per\n"
    "--shard) into one on stdout: every record unchanged, then one summary\n"
    "recounted from the records.  '-' reads stdin.\n";

static const char exit_merge[] =
    "\n"
    "exit status: 0 no failed record, 1 some records failed, 2 a report\n"
    "could not be read.\n";

/* Print @text's lines in the help column; the first continues the line
 * @col characters in.  Returns the length of the last line. */
static size_t
print_lines(FILE *f, const char *text, size_t col)
{
    const char *nl;
    size_t len;

    for (;;) {
        if (col < HELP_COL)
            fprintf(f, "%*s", (int)(HELP_COL - col), "");
        nl = strchr(text, '\n');
        len = nl ? (size_t)(nl - text) : strlen(text);
        fprintf(f, "%.*s", (int)len, text);
        if (!nl)
            return len;
        fputc('\n', f);
        text = nl + 1;
        col = 0;
    }
}

/* "(default X)" for @opt in help of @base (THUMBNAIL or RECOMPRESS), with
 * the in-place default as well where it differs.  "" when none. */
static void
default_text(const struct cli_option *opt, unsigned base, char *buf,
             size_t len)
{
    struct cli_opts d, ip;
    char a[64], b[64];
    const struct cli_opts *src = &d;

    memset(&d, 0, sizeof(d));
    memset(&ip, 0, sizeof(ip));
    cli_defaults(&d, base);
    cli_defaults(&ip, CLI_SUB_IN_PLACE);
    buf[0] = '\0';
    if (!(opt->subs & base))
        src = &ip;
    if (cli_format_default(src, opt, a, sizeof(a)) < 0)
        return;
    if (opt->kind == CLI_KIND_FLAG) {
        snprintf(buf, len, "(default)");
        return;
    }
    if (src == &d && (opt->subs & CLI_SUB_IN_PLACE) &&
        (base & CLI_SUB_RECOMPRESS) &&
        cli_format_default(&ip, opt, b, sizeof(b)) == 0 && strcmp(a, b) != 0)
        snprintf(buf, len, "(default %s; %s with --in-place)", a, b);
    else
        snprintf(buf, len, "(default %s)", a);
}

static void
print_option(FILE *f, const struct cli_option *opt, unsigned base)
{
    char lead[64], dflt[160];
    size_t col, last;

    col = (size_t)snprintf(lead, sizeof(lead), "  %c%c%c --%s%s%s",
                           opt->letter ? '-' : ' ',
                           opt->letter ? opt->letter : ' ',
                           opt->letter ? ',' : ' ', opt->name,
                           opt->metavar ? " " : "",
                           opt->metavar ? opt->metavar : "");
    fputs(lead, f);
    if (col >= HELP_COL) {
        fputc('\n', f);
        col = 0;
    }
    last = print_lines(f, opt->help, col);
    default_text(opt, base, dflt, sizeof(dflt));
    if (dflt[0] && HELP_COL + last + 1 + strlen(dflt) <= HELP_WIDTH)
        fprintf(f, " %s", dflt);
    else if (dflt[0])
        fprintf(f, "\n%*s%s", HELP_COL, "", dflt);
    fputc('\n', f);
}

/* The rows @mask accepts, under their section headings. */
static void
print_options(FILE *f, unsigned mask, unsigned base)
{
    size_t sec, i;
    int shown;

    for (sec = 0; sec < CLI_SEC_COUNT; sec++) {
        shown = 0;
        for (i = 0; i < cli_noptions; i++) {
            if (cli_options[i].section != sec ||
                !(cli_options[i].subs & mask))
                continue;
            if (!shown) {
                fprintf(f, "\n%s:\n", sections[sec].title);
                if (sections[sec].intro) {
                    print_lines(f, sections[sec].intro, 0);
                    fputc('\n', f);
                }
                shown = 1;
            }
            print_option(f, &cli_options[i], base);
        }
    }
}

void
cli_help(FILE *f, unsigned sub)
{
    size_t i;

    switch (sub) {
    case CLI_SUB_THUMBNAIL:
        fputs(usage_thumbnail, f);
        print_options(f, CLI_SUB_THUMBNAIL, CLI_SUB_THUMBNAIL);
        fputs(exit_process, f);
        break;
    case CLI_SUB_RECOMPRESS:
    case CLI_SUB_IN_PLACE:
        fputs(usage_recompress, f);
        print_options(f, CLI_SUB_RECOMPRESS | CLI_SUB_IN_PLACE,
                      CLI_SUB_RECOMPRESS);
        fputs(exit_process, f);
        break;
    case CLI_SUB_MERGE:
        fputs(usage_merge, f);
        fputs("\noptions:\n", f);
        for (i = 0; i < cli_noptions; i++)
            if (cli_options[i].subs & CLI_SUB_MERGE)
                print_option(f, &cli_options[i], CLI_SUB_MERGE);
        fputs(exit_merge, f);
        break;
    default:
        fputs(usage_top, f);
        break;
    }
}
