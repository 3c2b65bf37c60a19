/*
 * cli_table.c - the options of imgpool, one row each (see cli_table.h).
 *
 * Rows are listed in the order --help shows them within their section.
 * Help lines are at most 50 columns wide (the help column starts at 26);
 * a row's default is not written here but read back from cli_defaults(),
 * so --help cannot disagree with what the parser does.  docs/imgpool.1
 * describes every row (tests/test_cli.c checks that it names each one).
 */
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "cli_table.h"
#include "plan.h"
#include "thumbcache.h"

#define O(m) offsetof(struct cli_opts, m)
#define S(m) offsetof(struct cli_opts, config.out[0].m)
#define C(m) offsetof(struct cli_opts, config.commit.m)
#define SZ(m) sizeof(((struct cli_opts *)0)->m)

#define PROCESS CLI_SUB_PROCESS
#define RECOMPRESS (CLI_SUB_RECOMPRESS | CLI_SUB_IN_PLACE)
#define THUMBNAIL CLI_SUB_THUMBNAIL
#define IN_PLACE CLI_SUB_IN_PLACE

/* An empty path is never meant: refuse it rather than write to ".". */
static int
check_path(const char *s, const char **why)
{
    *why = "empty path";
    return s[0] == '\0' ? -1 : 0;
}

static int
check_flavors(const char *s, const char **why)
{
    unsigned mask;

    if (thumbcache_parse_flavors(s, &mask) < 0) {
        *why = "expected normal, large, x-large, xx-large (comma-separated) "
               "or all";
        return -1;
    }
    return 0;
}

static const struct cli_name format_names[] = {
    { "jpeg", FORMAT_JPEG, 0 },
    { "jpg", FORMAT_JPEG, 1 },
    { "png", FORMAT_PNG, 0 },
    { "webp", FORMAT_WEBP, 0 },
    { "avif", FORMAT_AVIF, 0 },
    { "jxl", FORMAT_JXL, 0 },
    { NULL, 0, 0 },
};

static const struct cli_name subsample_names[] = {
    { "auto", SUBSAMPLE_AUTO, 0 }, { "420", SUBSAMPLE_420, 0 },
    { "4:2:0", SUBSAMPLE_420, 1 }, { "444", SUBSAMPLE_444, 0 },
    { "4:4:4", SUBSAMPLE_444, 1 }, { NULL, 0, 0 },
};

static const struct cli_name effort_names[] = {
    { "best", EFFORT_BEST, 0 }, { "fast", EFFORT_FAST, 0 }, { NULL, 0, 0 },
};

static const struct cli_name fit_names[] = {
    { "inside", FIT_INSIDE, 0 },
    { "cover", FIT_COVER, 0 },
    { "fill", FIT_FILL, 0 },
    { NULL, 0, 0 },
};

static const struct cli_name fail_on_names[] = {
    { "none", FAIL_NONE, 0 },   { "truncated", FAIL_TRUNCATED, 0 },
    { "error", FAIL_ERROR, 0 }, { "warning", FAIL_WARNING, 0 },
    { NULL, 0, 0 },
};

static const struct cli_name progress_names[] = {
    { "auto", PROGRESS_AUTO, 0 },
    { "always", PROGRESS_ALWAYS, 0 },
    { "never", PROGRESS_NEVER, 0 },
    { NULL, 0, 0 },
};

const struct cli_option cli_options[] = {
    /* output */
    { .name = "output", .letter = 'o', .kind = CLI_KIND_STRING,
      .subs = PROCESS, .section = CLI_SEC_OUTPUT, .off = O(output_dir),
      .check = check_path, .metavar = "DIR",
      .help = "write results under DIR (required, except\n"
              "with --freedesktop or recompress\n"
              "--in-place, which refuse it)" },
    { .name = "name", .kind = CLI_KIND_STRING, .subs = PROCESS,
      .section = CLI_SEC_OUTPUT, .off = O(name_template),
      .check = plan_template_check, .metavar = "TEMPLATE",
      .help = "output file name; {stem} {name} {ext} {fmt}\n"
              "{size} {w} {h}; its extension picks the\n"
              "format (default '{stem}.' and the format's)" },
    { .name = "format", .letter = 'f', .kind = CLI_KIND_ENUM,
      .subs = PROCESS, .section = CLI_SEC_OUTPUT, .off = S(format),
      .names = format_names, .nocase = 1, .metavar = "FMT",
      .help = "jpeg, png, webp, avif or jxl (JPEG XL: a\n"
              "JPEG is transcoded losslessly, see the manual)" },
    { .name = "quality", .letter = 'q', .kind = CLI_KIND_INT,
      .subs = PROCESS, .section = CLI_SEC_OUTPUT, .off = S(quality),
      .size = SZ(config.out[0].quality), .lo = 1, .hi = 100,
      .expect = "expected an integer from 1 to 100", .metavar = "N",
      .help = "quality 1..100, one scale for every format,\n"
              "mapped to each encoder's (see the manual)" },
    { .name = "target-distance", .kind = CLI_KIND_DOUBLE,
      .subs = THUMBNAIL | RECOMPRESS, .section = CLI_SEC_OUTPUT,
      .off = S(target_distance), .lo = 0, .lo_open = 1, .hi = 10,
      .no_default = 1,
      .expect = "expected a butteraugli distance from 0.1 to 10",
      .metavar = "D",
      .help = "JPEG: per image, the lowest quality whose\n"
              "butteraugli 3-norm to the source stays within\n"
              "D (1.0: no visible difference); replaces -q" },
    { .name = "progressive", .kind = CLI_KIND_FLAG,
      .subs = CLI_SUB_THUMBNAIL | CLI_SUB_RECOMPRESS,
      .section = CLI_SEC_OUTPUT, .off = S(progressive), .value = 1,
      .help = "progressive JPEG" },
    { .name = "lossless", .kind = CLI_KIND_FLAG,
      .subs = CLI_SUB_THUMBNAIL | RECOMPRESS,
      .section = CLI_SEC_OUTPUT, .off = S(lossless), .value = 1,
      .help = "lossless: WebP lossless (-f webp); JPEG XL\n"
              "modular (-f jxl; a JPEG is transcoded without\n"
              "loss anyway); JPEG to JPEG with the DCT\n"
              "coefficients untouched (recompress; other\n"
              "inputs are skipped); PNG is always lossless" },
    { .name = "baseline", .kind = CLI_KIND_FLAG,
      .subs = CLI_SUB_THUMBNAIL | RECOMPRESS,
      .section = CLI_SEC_OUTPUT, .off = S(baseline), .value = 1,
      .help = "baseline (sequential) JPEG, never progressive" },
    { .name = "effort", .kind = CLI_KIND_ENUM, .subs = PROCESS,
      .section = CLI_SEC_OUTPUT, .off = S(effort),
      .names = effort_names, .metavar = "LEVEL",
      .help = "fast|best JPEG encoder; fast (default): plain\n"
              "libjpeg-turbo; best: perceptual tables,\n"
              "trellis quantisation and a scan script chosen\n"
              "for size (smaller files, slower; docs/ENCODER.md)" },
    { .name = "subsample", .kind = CLI_KIND_ENUM, .subs = PROCESS,
      .section = CLI_SEC_OUTPUT, .off = S(subsample),
      .names = subsample_names, .metavar = "MODE",
      .help = "auto|420|444 chroma subsampling; auto: 4:2:0\n"
              "for thumbnail, the source's for recompress" },
    { .name = "strip", .kind = CLI_KIND_FLAG, .subs = PROCESS,
      .section = CLI_SEC_OUTPUT, .off = S(strip), .value = 1,
      .help = "drop EXIF, XMP, IPTC" },
    { .name = "keep-metadata", .kind = CLI_KIND_FLAG, .subs = PROCESS,
      .section = CLI_SEC_OUTPUT, .off = S(strip), .value = 0,
      .help = "keep EXIF, XMP, IPTC" },
    { .name = "fsync", .kind = CLI_KIND_FLAG, .subs = PROCESS,
      .section = CLI_SEC_OUTPUT, .off = C(fsync), .value = 1,
      .help = "flush each output to disk before it replaces\n"
              "anything (always done --in-place)" },
    { .name = "force", .kind = CLI_KIND_FLAG, .subs = RECOMPRESS,
      .section = CLI_SEC_OUTPUT, .off = S(force), .value = 1,
      .help = "re-encode a JPEG already at or below -q\n"
              "(estimated): in place instead of its lossless\n"
              "pass or leaving it; with -o also when the\n"
              "re-encode is not smaller than the source\n"
              "(else the source is copied: kept-original)" },
    { .name = "freedesktop", .kind = CLI_KIND_FLAG, .subs = THUMBNAIL,
      .section = CLI_SEC_OUTPUT, .off = O(freedesktop), .value = 1,
      .help = "write PNG thumbnails into the freedesktop.org\n"
              "thumbnail cache that file managers read\n"
              "(instead of -o)" },
    { .name = "flavor", .kind = CLI_KIND_STRING, .subs = THUMBNAIL,
      .section = CLI_SEC_OUTPUT, .off = O(flavors), .check = check_flavors,
      .metavar = "LIST", .no_default = 1,
      .help = "with --freedesktop: sizes to write, of normal\n"
              "(128), large (256), x-large (512), xx-large\n"
              "(1024) or all (default normal,large)" },
    { .name = "cache-dir", .kind = CLI_KIND_STRING, .subs = THUMBNAIL,
      .section = CLI_SEC_OUTPUT, .off = O(cache_dir), .check = check_path,
      .metavar = "DIR", .no_default = 1,
      .help = "with --freedesktop: the thumbnail cache\n"
              "(default $XDG_CACHE_HOME/thumbnails)" },

    /* recompress --in-place */
    { .name = "in-place", .kind = CLI_KIND_FLAG, .subs = RECOMPRESS,
      .section = CLI_SEC_IN_PLACE, .off = C(in_place), .value = 1,
      .help = "replace each JPEG by its recompressed self\n"
              "(instead of -o); other formats are left alone" },
    { .name = "min-saving", .kind = CLI_KIND_DOUBLE, .subs = IN_PLACE,
      .section = CLI_SEC_IN_PLACE, .off = C(min_saving), .lo = 0,
      .hi = 100, .hi_open = 1,
      .expect = "expected a percentage from 0 to 99", .metavar = "PCT",
      .help = "replace only when at least PCT% smaller" },
    { .name = "dry-run", .kind = CLI_KIND_FLAG, .subs = PROCESS,
      .section = CLI_SEC_RUNNING, .off = C(dry_run), .value = 1,
      .help = "list each file and what would happen to it\n"
              "on stdout; write nothing, take no lock" },
    { .name = "backup", .kind = CLI_KIND_STRING, .subs = IN_PLACE,
      .section = CLI_SEC_IN_PLACE, .off = C(backup_dir),
      .check = check_path, .metavar = "DIR",
      .help = "keep each original under DIR first" },
    { .name = "strip-gps", .kind = CLI_KIND_FLAG, .subs = IN_PLACE,
      .section = CLI_SEC_IN_PLACE, .off = S(strip_gps), .value = 1,
      .help = "drop GPS position from EXIF" },
    { .name = "to-srgb", .kind = CLI_KIND_FLAG, .subs = IN_PLACE,
      .section = CLI_SEC_IN_PLACE, .off = S(to_srgb), .value = 1,
      .help = "convert wide-gamut originals to sRGB" },
    { .name = "no-preserve-times", .kind = CLI_KIND_FLAG, .subs = IN_PLACE,
      .section = CLI_SEC_IN_PLACE, .off = C(preserve_times), .value = 0,
      .help = "give replaced files the current time" },

    /* geometry */
    { .name = "size", .letter = 's', .kind = CLI_KIND_SIZE, .subs = PROCESS,
      .section = CLI_SEC_GEOMETRY, .off = S(width), .off2 = S(height),
      .metavar = "WxH",
      .help = "the box: WxH, W (square), Wx or xH (one side);\n"
              "repeat for several outputs per input" },
    { .name = "sizes", .kind = CLI_KIND_STRING,
      .subs = CLI_SUB_THUMBNAIL | CLI_SUB_RECOMPRESS,
      .section = CLI_SEC_GEOMETRY, .off = O(sizes_list),
      .check = cli_check_sizes, .metavar = "LIST",
      .help = "several boxes at once: 150,300,1024x768\n"
              "(one decode; up to 8 sizes in all)" },
    { .name = "fit", .kind = CLI_KIND_ENUM, .subs = PROCESS,
      .section = CLI_SEC_GEOMETRY, .off = S(fit), .names = fit_names,
      .metavar = "MODE",
      .help = "inside: keep aspect ratio, fit in the box;\n"
              "cover: fill the box, centre-crop;\n"
              "fill: stretch to exactly WxH" },
    { .name = "upscale", .kind = CLI_KIND_FLAG, .subs = PROCESS,
      .section = CLI_SEC_GEOMETRY, .off = S(upscale), .value = 1,
      .help = "enlarge images smaller than the box" },
    { .name = "density", .kind = CLI_KIND_INT, .subs = PROCESS,
      .section = CLI_SEC_GEOMETRY, .off = S(density),
      .size = SZ(config.out[0].density), .lo = 1, .hi = 9600,
      .expect = "expected an integer from 1 to 9600", .metavar = "N",
      .help = "render SVG at N pixels per inch (default 96,\n"
              "CSS pixels, as browsers do)" },
    { .name = "background", .kind = CLI_KIND_COLOR, .subs = PROCESS,
      .section = CLI_SEC_GEOMETRY, .off = S(background),
      .off2 = S(background_set), .metavar = "COLOR",
      .help = "flatten transparency onto COLOR: a name\n"
              "(white, black, gray), #rrggbb or R,G,B;\n"
              "PNG, WebP and AVIF keep alpha without it" },

    /* selection */
    { .name = "include", .kind = CLI_KIND_LIST, .subs = PROCESS,
      .section = CLI_SEC_SELECTION, .off = O(includes),
      .off2 = O(nincludes), .metavar = "GLOB",
      .help = "only files whose path below INPUT matches\n(repeatable)" },
    { .name = "exclude", .kind = CLI_KIND_LIST, .subs = PROCESS,
      .section = CLI_SEC_SELECTION, .off = O(excludes),
      .off2 = O(nexcludes), .metavar = "GLOB",
      .help = "skip matching files and directories\n(repeatable)" },
    { .name = "follow-symlinks", .kind = CLI_KIND_FLAG, .subs = PROCESS,
      .section = CLI_SEC_SELECTION, .off = O(follow_symlinks), .value = 1,
      .help = "follow symbolic links (loop-safe)" },
    { .name = "files-from", .kind = CLI_KIND_STRING, .subs = PROCESS,
      .section = CLI_SEC_SELECTION, .off = O(files_from),
      .metavar = "FILE",
      .help = "also read INPUT paths from FILE, one per line\n"
              "('-' for stdin); outputs mirror the listed\npaths" },
    { .name = "null", .letter = '0', .kind = CLI_KIND_FLAG,
      .subs = PROCESS, .section = CLI_SEC_SELECTION,
      .off = O(files_from_nul), .value = 1,
      .help = "--files-from entries end with NUL, not newline" },
    { .name = "shard", .kind = CLI_KIND_SHARD, .subs = PROCESS,
      .section = CLI_SEC_SELECTION, .off = O(shard_k), .off2 = O(shard_n),
      .metavar = "K/N",
      .help = "process only shard K of N (0 <= K < N): the\n"
              "files whose output path hashes to K; N runs\n"
              "with the same arguments split one job; auto\n"
              "or auto/N: K (and N) from a Slurm, AWS Batch,\n"
              "Google Batch or Kubernetes array task" },

    /* safety and limits */
    { .name = "fail-on", .kind = CLI_KIND_ENUM, .subs = PROCESS,
      .section = CLI_SEC_LIMITS, .off = S(fail_on), .names = fail_on_names,
      .metavar = "LEVEL",
      .help = "none|truncated|error|warning: how damaged an\n"
              "image may be and still count (none: damaged\n"
              "files give an ok record with warnings)" },
    { .name = "max-pixels", .kind = CLI_KIND_INT, .subs = PROCESS,
      .section = CLI_SEC_LIMITS, .off = S(max_pixels),
      .size = SZ(config.out[0].max_pixels), .lo = 0, .hi = LONG_MAX,
      .expect = "expected a non-negative integer", .metavar = "N",
      .help = "refuse images declaring more pixels, before\n"
              "decoding (0: no limit)" },
    { .name = "timeout", .kind = CLI_KIND_DOUBLE, .subs = PROCESS,
      .section = CLI_SEC_LIMITS, .off = O(timeout_s), .lo = 0,
      .hi = 86400 * 7,
      .expect = "expected seconds from 0 (none) to 604800",
      .metavar = "SEC",
      .help = "kill a worker still on one file after SEC\n"
              "seconds (0: none)" },
    { .name = "max-memory", .kind = CLI_KIND_INT, .subs = PROCESS,
      .section = CLI_SEC_LIMITS, .off = O(max_memory_mb),
      .size = SZ(max_memory_mb), .lo = 0, .hi = 1L << 30,
      .expect = "expected megabytes (0: no cap)", .metavar = "MB",
      .help = "memory cap per worker: a file needing more\n"
              "fails as out-of-memory (0: none)" },
    { .name = "allow-untrusted", .kind = CLI_KIND_FLAG, .subs = PROCESS,
      .section = CLI_SEC_LIMITS, .off = S(allow_untrusted), .value = 1,
      .help = "also read BMP, JPEG 2000, PSD and PNM: by\n"
              "default they fail untrusted-format, as\n"
              "libvips marks their loaders untrusted" },

    /* incremental runs and locking */
    { .name = "no-incremental", .kind = CLI_KIND_FLAG, .subs = PROCESS,
      .section = CLI_SEC_INCREMENTAL, .off = O(no_incremental), .value = 1,
      .help = "redo every file (and record them afresh)" },
    { .name = "prune", .kind = CLI_KIND_FLAG, .subs = PROCESS,
      .section = CLI_SEC_INCREMENTAL, .off = O(prune), .value = 1,
      .help = "remove outputs imgpool made whose input is gone" },
    { .name = "lock", .kind = CLI_KIND_STRING, .subs = PROCESS,
      .section = CLI_SEC_INCREMENTAL, .off = O(lock_path),
      .metavar = "FILE",
      .help = "the lock that keeps runs from overlapping\n"
              "(default DIR/.imgpool/lock; none in place)" },
    { .name = "wait-lock", .kind = CLI_KIND_DOUBLE, .subs = PROCESS,
      .section = CLI_SEC_INCREMENTAL, .off = O(wait_lock_s), .lo = 0,
      .hi = 86400 * 7, .expect = "expected seconds from 0 to 604800",
      .metavar = "SEC",
      .help = "wait up to SEC seconds for a running run\n"
              "instead of exiting 75" },

    /* running */
    { .name = "jobs", .letter = 'j', .kind = CLI_KIND_INT, .subs = PROCESS,
      .section = CLI_SEC_RUNNING, .off = O(jobs), .size = SZ(jobs), .lo = 1,
      .hi = 1024, .expect = "expected an integer from 1 to 1024",
      .metavar = "N", .no_default = 1,
      .help = "worker processes (default: the CPUs this\n"
              "process may run on)" },
    { .name = "report", .kind = CLI_KIND_STRING, .subs = PROCESS,
      .section = CLI_SEC_RUNNING, .off = O(report_path), .metavar = "FILE",
      .help = "write one JSON object per file, then a\n"
              "summary object (JSON Lines)" },
    { .name = "progress", .kind = CLI_KIND_ENUM, .subs = PROCESS,
      .section = CLI_SEC_RUNNING, .off = O(progress),
      .names = progress_names, .metavar = "WHEN",
      .help = "auto (only on a terminal), always, never" },
    { .name = "log", .kind = CLI_KIND_STRING, .subs = PROCESS,
      .section = CLI_SEC_RUNNING, .off = O(log_path), .metavar = "FILE",
      .help = "append one line per run (time, counts, exit\n"
              "status) to FILE" },
    { .name = "quiet", .kind = CLI_KIND_FLAG, .subs = PROCESS,
      .section = CLI_SEC_RUNNING, .off = O(quiet), .value = 1,
      .help = "no summary unless something failed (the\n"
              "default when stderr is not a terminal)" },
    { .name = "verbose", .letter = 'v', .kind = CLI_KIND_FLAG,
      .subs = PROCESS, .section = CLI_SEC_RUNNING, .off = O(verbose),
      .value = 1, .help = "more detail on stderr" },
    { .name = "no-fast-path", .kind = CLI_KIND_FLAG, .subs = PROCESS,
      .section = CLI_SEC_RUNNING, .off = S(fast_jpeg), .value = 0,
      .help = "decode every JPEG and PNG through libvips" },
    { .name = "help", .letter = 'h', .kind = CLI_KIND_HELP,
      .subs = CLI_SUB_ALL, .section = CLI_SEC_RUNNING,
      .help = "this help" },
    { .name = "version", .letter = 'V', .kind = CLI_KIND_VERSION,
      .subs = CLI_SUB_ALL, .section = CLI_SEC_RUNNING,
      .help = "print the version" },
};

const size_t cli_noptions = sizeof(cli_options) / sizeof(cli_options[0]);

const struct cli_option *
cli_option_find(const char *name)
{
    size_t i;

    for (i = 0; i < cli_noptions; i++)
        if (strcmp(cli_options[i].name, name) == 0)
            return &cli_options[i];
    return NULL;
}

/* " (did you mean --a, --b or --c?)" for the long options @name (up to
 * '=' or the end) is a prefix of, into @buf; "" when none is. */
void
cli_option_candidates(const char *name, char *buf, size_t size)
{
    size_t len = strcspn(name, "="), i, n = 0, used = 0, total = 0;

    buf[0] = '\0';
    for (i = 0; i < cli_noptions; i++)
        total += len > 0 && strncmp(cli_options[i].name, name, len) == 0;
    for (i = 0; i < cli_noptions && total > 0; i++) {
        if (strncmp(cli_options[i].name, name, len) != 0)
            continue;
        n++;
        used += (size_t)snprintf(buf + used, used < size ? size - used : 0,
                                 "%s--%s", n == 1 ? " (did you mean "
                                           : n == total ? " or " : ", ",
                                 cli_options[i].name);
        if (used >= size)
            break;
    }
    if (total > 0 && used < size)
        snprintf(buf + used, size - used, "?)");
}
