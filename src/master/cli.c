/*
 * cli.c - getopt_long over one option table, then a separate validation
 * step.  The usage text mirrors docs/imgpool.1; keep them in step.
 */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli.h"
#include "msg.h"
#include "plan.h"
#include "util.h"

#define MAX_DIM 100000

enum {
    OPT_FIT = 256,
    OPT_UPSCALE,
    OPT_NAME,
    OPT_BACKGROUND,
    OPT_SUBSAMPLE,
    OPT_INCLUDE,
    OPT_EXCLUDE,
    OPT_REPORT,
    OPT_PROGRESS,
    OPT_TIMEOUT,
    OPT_MAX_PIXELS,
    OPT_MAX_MEMORY,
    OPT_FAIL_ON,
    OPT_ALLOW_UNTRUSTED,
    OPT_FOLLOW_SYMLINKS,
    OPT_STRIP,
    OPT_KEEP_METADATA,
    OPT_NO_FAST,
    OPT_FILES_FROM,
    OPT_SHARD,
    OPT_IN_PLACE,
    OPT_FORCE,
    OPT_MIN_SAVING,
    OPT_DRY_RUN,
    OPT_BACKUP,
    OPT_STRIP_GPS,
    OPT_TO_SRGB,
    OPT_NO_PRESERVE_TIMES,
    OPT_LOG,
    OPT_LOCK,
    OPT_WAIT_LOCK,
    OPT_PRUNE,
    OPT_NO_INCREMENTAL,
    OPT_FSYNC,
};

static const struct option long_options[] = {
    { "allow-untrusted", no_argument, NULL, OPT_ALLOW_UNTRUSTED },
    { "background", required_argument, NULL, OPT_BACKGROUND },
    { "backup", required_argument, NULL, OPT_BACKUP },
    { "dry-run", no_argument, NULL, OPT_DRY_RUN },
    { "exclude", required_argument, NULL, OPT_EXCLUDE },
    { "fail-on", required_argument, NULL, OPT_FAIL_ON },
    { "files-from", required_argument, NULL, OPT_FILES_FROM },
    { "fit", required_argument, NULL, OPT_FIT },
    { "follow-symlinks", no_argument, NULL, OPT_FOLLOW_SYMLINKS },
    { "fsync", no_argument, NULL, OPT_FSYNC },
    { "force", no_argument, NULL, OPT_FORCE },
    { "format", required_argument, NULL, 'f' },
    { "help", no_argument, NULL, 'h' },
    { "in-place", no_argument, NULL, OPT_IN_PLACE },
    { "include", required_argument, NULL, OPT_INCLUDE },
    { "jobs", required_argument, NULL, 'j' },
    { "keep-metadata", no_argument, NULL, OPT_KEEP_METADATA },
    { "lock", required_argument, NULL, OPT_LOCK },
    { "log", required_argument, NULL, OPT_LOG },
    { "max-memory", required_argument, NULL, OPT_MAX_MEMORY },
    { "max-pixels", required_argument, NULL, OPT_MAX_PIXELS },
    { "min-saving", required_argument, NULL, OPT_MIN_SAVING },
    { "name", required_argument, NULL, OPT_NAME },
    { "no-fast-path", no_argument, NULL, OPT_NO_FAST },
    { "no-incremental", no_argument, NULL, OPT_NO_INCREMENTAL },
    { "no-preserve-times", no_argument, NULL, OPT_NO_PRESERVE_TIMES },
    { "output", required_argument, NULL, 'o' },
    { "progress", required_argument, NULL, OPT_PROGRESS },
    { "prune", no_argument, NULL, OPT_PRUNE },
    { "quality", required_argument, NULL, 'q' },
    { "quiet", no_argument, NULL, 'Q' },
    { "null", no_argument, NULL, '0' },
    { "report", required_argument, NULL, OPT_REPORT },
    { "shard", required_argument, NULL, OPT_SHARD },
    { "size", required_argument, NULL, 's' },
    { "strip", no_argument, NULL, OPT_STRIP },
    { "strip-gps", no_argument, NULL, OPT_STRIP_GPS },
    { "subsample", required_argument, NULL, OPT_SUBSAMPLE },
    { "timeout", required_argument, NULL, OPT_TIMEOUT },
    { "to-srgb", no_argument, NULL, OPT_TO_SRGB },
    { "upscale", no_argument, NULL, OPT_UPSCALE },
    { "verbose", no_argument, NULL, 'v' },
    { "version", no_argument, NULL, 'V' },
    { "wait-lock", required_argument, NULL, OPT_WAIT_LOCK },
    { NULL, 0, NULL, 0 },
};

static const char short_options[] = ":o:s:q:f:j:hvV0";

static const char usage_top[] =
    "usage: imgpool thumbnail [OPTIONS] INPUT... -o DIR\n"
    "       imgpool recompress [OPTIONS] INPUT... -o DIR\n"
    "       imgpool recompress --in-place [OPTIONS] INPUT...\n"
    "       imgpool report merge REPORT...\n"
    "       imgpool --help | --version\n"
    "\n"
    "Batch image processing with a pool of worker processes.  Every image\n"
    "under each INPUT (a file or a directory, walked recursively) becomes an\n"
    "8-bit sRGB JPEG (or PNG) under DIR, mirroring the input tree.\n"
    "\n"
    "commands:\n"
    "  thumbnail    fit each image in a box (default 300x300), strip metadata\n"
    "  recompress   re-encode at full size (default), keep EXIF/XMP/IPTC\n"
    "  report merge join the --report files of several runs (the shards of\n"
    "               one job) into one report on stdout\n"
    "\n"
    "Run 'imgpool COMMAND --help' for the options of a command.\n";

static const char usage_opts[] =
    "\n"
    "output:\n"
    "  -o, --output DIR        write results under DIR (required)\n"
    "      --name TEMPLATE     output file name; {stem} {name} {ext} {fmt}\n"
    "                          (default '{stem}.jpg', or '{stem}.png')\n"
    "  -f, --format FMT        jpeg (default) or png\n"
    "  -q, --quality N         JPEG quality 1..100 (default 90)\n"
    "      --subsample MODE    auto|420|444 chroma subsampling; auto: 4:2:0\n"
    "                          for thumbnail, the source's for recompress\n"
    "      --strip             drop metadata (default for thumbnail)\n"
    "      --keep-metadata     keep EXIF, XMP, IPTC (default for recompress)\n"
    "      --fsync             flush each output to disk before it replaces\n"
    "                          anything (always done --in-place)\n"
    "\n"
    "in place (recompress only):\n"
    "      --in-place          replace each JPEG by its recompressed self\n"
    "                          (instead of -o); other formats are left alone\n"
    "      --force             re-encode even when the estimated quality is\n"
    "                          already at or below -q\n"
    "      --min-saving PCT    replace only when at least PCT% smaller\n"
    "                          (default 5)\n"
    "      --dry-run           report what would change, write nothing\n"
    "      --backup DIR        keep each original under DIR first\n"
    "      --strip-gps         drop GPS position from EXIF\n"
    "      --to-srgb           convert wide-gamut originals to sRGB\n"
    "      --no-preserve-times give replaced files the current time\n"
    "\n"
    "geometry:\n"
    "  -s, --size WxH          the box: WxH, W (square), Wx or xH (one side)\n"
    "                          (thumbnail default 300x300; recompress keeps\n"
    "                          the original size unless given)\n"
    "      --fit MODE          inside: keep aspect ratio, fit in the box\n"
    "                          (default); cover: fill the box, centre-crop;\n"
    "                          fill: stretch to exactly WxH\n"
    "      --upscale           enlarge images smaller than the box\n"
    "      --background COLOR  flatten transparency onto COLOR: a name\n"
    "                          (white, black, gray), #rrggbb or R,G,B\n"
    "                          (default white)\n"
    "\n"
    "selection:\n"
    "      --include GLOB      only files whose path below INPUT matches\n"
    "                          (repeatable)\n"
    "      --exclude GLOB      skip matching files and directories\n"
    "                          (repeatable)\n"
    "      --follow-symlinks   follow symbolic links (loop-safe)\n"
    "      --files-from FILE   also read INPUT paths from FILE, one per line\n"
    "                          ('-' for stdin); outputs mirror the listed\n"
    "                          paths\n"
    "  -0, --null              --files-from entries end with NUL, not newline\n"
    "      --shard K/N         process only shard K of N (0 <= K < N): the\n"
    "                          files whose output path hashes to K; N runs\n"
    "                          with the same arguments split one job\n"
    "\n"
    "safety and limits:\n"
    "      --fail-on LEVEL     none|truncated|error|warning: how damaged an\n"
    "                          image may be and still count (thumbnail\n"
    "                          default none: damaged files give an ok record\n"
    "                          with warnings; recompress default error,\n"
    "                          --in-place default warning)\n"
    "      --max-pixels N      refuse images declaring more pixels, before\n"
    "                          decoding (default 268402689 = 16383x16383;\n"
    "                          0: no limit)\n"
    "      --timeout SEC       kill a worker still on one file after SEC\n"
    "                          seconds (default 120; 0: none)\n"
    "      --max-memory MB     memory cap per worker: a file needing more\n"
    "                          fails as out-of-memory (default 2048; 0: none)\n"
    "      --allow-untrusted   allow libvips loaders it marks untrusted\n"
    "                          (BMP, PSD, PPM, ... through ImageMagick)\n"
    "\n"
    "incremental runs and locking:\n"
    "                          a re-run skips files whose output is recorded\n"
    "                          (in DIR/.imgpool/) as made from the same input\n"
    "                          with the same settings (reason up-to-date)\n"
    "      --no-incremental    redo every file (and record them afresh)\n"
    "      --prune             remove outputs imgpool made whose input is gone\n"
    "      --lock FILE         the lock that keeps runs from overlapping\n"
    "                          (default DIR/.imgpool/lock; none in place)\n"
    "      --wait-lock SEC     wait for a running run instead of exiting 75\n"
    "\n"
    "running:\n"
    "  -j, --jobs N            worker processes (default: the CPUs this\n"
    "                          process may run on)\n"
    "      --report FILE       write one JSON object per file, then a\n"
    "                          summary object (JSON Lines)\n"
    "      --progress WHEN     auto (default: only on a terminal), always,\n"
    "                          never\n"
    "      --log FILE          append one line per run (time, counts, exit\n"
    "                          status) to FILE\n"
    "      --quiet             no summary unless something failed (the\n"
    "                          default when stderr is not a terminal)\n"
    "  -v, --verbose           more detail on stderr\n"
    "      --no-fast-path      decode every JPEG and PNG through libvips\n"
    "  -h, --help              this help\n"
    "  -V, --version           print the version\n"
    "\n"
    "exit status: 0 all files ok or skipped, 1 some files failed, 2 usage or\n"
    "setup error, 75 another run holds the lock, 130/143 interrupted by\n"
    "SIGINT/SIGTERM.\n";

void
cli_opts_init(struct cli_opts *o)
{
    memset(o, 0, sizeof(*o));
    settings_init(&o->settings, MODE_THUMBNAIL);
    o->timeout_s = 120;
    /* AddressSanitizer reserves terabytes of shadow memory, which no
     * data limit leaves room for: sanitizer builds run without a cap. */
#if defined(__SANITIZE_ADDRESS__)
    o->max_memory_mb = 0;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
    o->max_memory_mb = 0;
#else
    o->max_memory_mb = 2048;
#endif
#else
    o->max_memory_mb = 2048;
#endif
    o->progress = PROGRESS_AUTO;
}

void
cli_opts_release(struct cli_opts *o)
{
    free(o->inputs);
    free(o->includes);
    free(o->excludes);
    memset(o, 0, sizeof(*o));
}

static enum cli_result
usage_error(struct cli_opts *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static enum cli_result
usage_error(struct cli_opts *o, const char *fmt, ...)
{
    char buf[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    errorf("%s", buf);
    fprintf(stderr, "Try 'imgpool --help' for more information.\n");
    o->exit_code = 2;
    return CLI_EXIT;
}

static int
parse_long(const char *s, long lo, long hi, long *out)
{
    char *end;
    long v;

    errno = 0;
    v = strtol(s, &end, 10);
    if (errno || end == s || *end != '\0' || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

/* Parse a positive dimension at *p, advancing it.  0 when absent. */
static int
parse_dim(const char **p, int *out)
{
    long v = 0;
    int digits = 0;

    while (isdigit((unsigned char)**p)) {
        v = v * 10 + (**p - '0');
        if (v > MAX_DIM)
            return -1;
        (*p)++;
        digits++;
    }
    if (digits && v == 0)
        return -1;
    *out = (int)v;
    return 0;
}

int
cli_parse_size(const char *s, int *w, int *h, const char **why)
{
    const char *p = s;
    int W = 0, H = 0;

    *why = "expected WxH, W, Wx or xH with sides from 1 to 100000";
    if (parse_dim(&p, &W) < 0)
        return -1;
    if (*p == '\0') {
        if (W == 0)
            return -1;
        *w = *h = W; /* "300": a square box */
        return 0;
    }
    if (*p != 'x' && *p != 'X')
        return -1;
    p++;
    if (parse_dim(&p, &H) < 0 || *p != '\0' || (W == 0 && H == 0))
        return -1;
    *w = W;
    *h = H;
    return 0;
}

static int
hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = tolower(c);
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

int
cli_parse_shard(const char *s, int *k, int *n, const char **why)
{
    const char *slash = strchr(s, '/');
    char buf[32];
    long kv, nv;

    *why = "expected K/N with 0 <= K < N <= 100000 (e.g. 0/4)";
    if (!slash || (size_t)(slash - s) >= sizeof(buf))
        return -1;
    memcpy(buf, s, (size_t)(slash - s));
    buf[slash - s] = '\0';
    if (parse_long(buf, 0, 99999, &kv) < 0 ||
        parse_long(slash + 1, 1, 100000, &nv) < 0 || kv >= nv)
        return -1;
    *k = (int)kv;
    *n = (int)nv;
    return 0;
}

int
cli_parse_color(const char *s, unsigned char rgb[3], const char **why)
{
    static const struct {
        const char *name;
        unsigned char rgb[3];
    } names[] = {
        { "white", { 255, 255, 255 } }, { "black", { 0, 0, 0 } },
        { "gray", { 128, 128, 128 } },  { "grey", { 128, 128, 128 } },
        { "red", { 255, 0, 0 } },       { "green", { 0, 128, 0 } },
        { "blue", { 0, 0, 255 } },
    };
    size_t i;
    long v[3];

    *why = "expected a name (white, black, gray), #rrggbb or R,G,B";
    for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (strcasecmp(s, names[i].name) == 0) {
            memcpy(rgb, names[i].rgb, 3);
            return 0;
        }
    if (s[0] == '#') {
        if (strlen(s) != 7)
            return -1;
        for (i = 0; i < 3; i++) {
            int hi = hexval((unsigned char)s[1 + 2 * i]);
            int lo = hexval((unsigned char)s[2 + 2 * i]);
            if (hi < 0 || lo < 0)
                return -1;
            rgb[i] = (unsigned char)(hi * 16 + lo);
        }
        return 0;
    }
    if (strchr(s, ',')) {
        char buf[32], *tok, *save = NULL;
        if (strlen(s) >= sizeof(buf))
            return -1;
        strcpy(buf, s);
        for (i = 0, tok = strtok_r(buf, ",", &save); tok && i < 3;
             i++, tok = strtok_r(NULL, ",", &save))
            if (parse_long(tok, 0, 255, &v[i]) < 0)
                return -1;
        if (i != 3 || tok)
            return -1;
        for (i = 0; i < 3; i++)
            rgb[i] = (unsigned char)v[i];
        return 0;
    }
    return -1;
}

static void
push(const char ***arr, size_t *n, const char *s)
{
    *arr = xrealloc((void *)*arr, (*n + 1) * sizeof(**arr));
    (*arr)[(*n)++] = s;
}

/* Settings given explicitly, so that mode defaults do not override them. */
struct explicit {
    int size, strip, fail_on;
};

static enum cli_result
parse_options(struct cli_opts *o, int argc, char **argv, struct explicit *ex)
{
    struct settings *s = &o->settings;
    const char *why;
    long v;
    int c;
    char *end;
    double d;

    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, short_options, long_options,
                            NULL)) != -1) {
        switch (c) {
        case 'o':
            o->output_dir = optarg;
            break;
        case 's':
            if (cli_parse_size(optarg, &s->width, &s->height, &why) < 0)
                return usage_error(o, "invalid --size '%s': %s", optarg, why);
            ex->size = 1;
            break;
        case 'q':
            if (parse_long(optarg, 1, 100, &v) < 0)
                return usage_error(o, "invalid --quality '%s': expected an "
                                   "integer from 1 to 100", optarg);
            s->quality = (int)v;
            break;
        case 'f':
            if (strcasecmp(optarg, "jpeg") == 0 ||
                strcasecmp(optarg, "jpg") == 0)
                s->format = FORMAT_JPEG;
            else if (strcasecmp(optarg, "png") == 0)
                s->format = FORMAT_PNG;
            else
                return usage_error(o, "invalid --format '%s': expected jpeg "
                                   "or png", optarg);
            break;
        case 'j':
            if (parse_long(optarg, 1, 1024, &v) < 0)
                return usage_error(o, "invalid --jobs '%s': expected an "
                                   "integer from 1 to 1024", optarg);
            o->jobs = (int)v;
            break;
        case OPT_FIT:
            if (strcmp(optarg, "inside") == 0)
                s->fit = FIT_INSIDE;
            else if (strcmp(optarg, "cover") == 0)
                s->fit = FIT_COVER;
            else if (strcmp(optarg, "fill") == 0)
                s->fit = FIT_FILL;
            else
                return usage_error(o, "invalid --fit '%s': expected inside, "
                                   "cover or fill", optarg);
            break;
        case OPT_UPSCALE:
            s->upscale = 1;
            break;
        case OPT_NAME:
            if (plan_template_check(optarg, &why) < 0)
                return usage_error(o, "invalid --name '%s': %s", optarg, why);
            o->name_template = optarg;
            break;
        case OPT_BACKGROUND:
            if (cli_parse_color(optarg, s->background, &why) < 0)
                return usage_error(o, "invalid --background '%s': %s", optarg,
                                   why);
            break;
        case OPT_SUBSAMPLE:
            if (strcmp(optarg, "auto") == 0)
                s->subsample = SUBSAMPLE_AUTO;
            else if (strcmp(optarg, "420") == 0 ||
                     strcmp(optarg, "4:2:0") == 0)
                s->subsample = SUBSAMPLE_420;
            else if (strcmp(optarg, "444") == 0 ||
                     strcmp(optarg, "4:4:4") == 0)
                s->subsample = SUBSAMPLE_444;
            else
                return usage_error(o, "invalid --subsample '%s': expected "
                                   "auto, 420 or 444", optarg);
            break;
        case OPT_INCLUDE:
            push(&o->includes, &o->nincludes, optarg);
            break;
        case OPT_EXCLUDE:
            push(&o->excludes, &o->nexcludes, optarg);
            break;
        case OPT_REPORT:
            o->report_path = optarg;
            break;
        case OPT_LOG:
            o->log_path = optarg;
            break;
        case OPT_LOCK:
            o->lock_path = optarg;
            break;
        case OPT_WAIT_LOCK:
            errno = 0;
            d = strtod(optarg, &end);
            if (errno || end == optarg || *end || d < 0 || d > 86400 * 7)
                return usage_error(o, "invalid --wait-lock '%s': expected "
                                   "seconds from 0 to 604800", optarg);
            o->wait_lock_s = d;
            break;
        case OPT_PRUNE:
            o->prune = 1;
            break;
        case OPT_NO_INCREMENTAL:
            o->no_incremental = 1;
            break;
        case OPT_FSYNC:
            s->fsync = 1;
            break;
        case OPT_PROGRESS:
            if (strcmp(optarg, "auto") == 0)
                o->progress = PROGRESS_AUTO;
            else if (strcmp(optarg, "always") == 0)
                o->progress = PROGRESS_ALWAYS;
            else if (strcmp(optarg, "never") == 0)
                o->progress = PROGRESS_NEVER;
            else
                return usage_error(o, "invalid --progress '%s': expected "
                                   "auto, always or never", optarg);
            break;
        case OPT_TIMEOUT:
            errno = 0;
            d = strtod(optarg, &end);
            if (errno || end == optarg || *end || d < 0 || d > 86400 * 7)
                return usage_error(o, "invalid --timeout '%s': expected "
                                   "seconds from 0 (none) to 604800", optarg);
            o->timeout_s = d;
            break;
        case OPT_MAX_PIXELS:
            if (parse_long(optarg, 0, LONG_MAX, &v) < 0)
                return usage_error(o, "invalid --max-pixels '%s': expected "
                                   "a non-negative integer", optarg);
            s->max_pixels = v;
            break;
        case OPT_MAX_MEMORY:
            if (parse_long(optarg, 0, 1L << 30, &v) < 0)
                return usage_error(o, "invalid --max-memory '%s': expected "
                                   "megabytes (0: no cap)", optarg);
            o->max_memory_mb = v;
            break;
        case OPT_FAIL_ON:
            if (strcmp(optarg, "none") == 0)
                s->fail_on = FAIL_NONE;
            else if (strcmp(optarg, "truncated") == 0)
                s->fail_on = FAIL_TRUNCATED;
            else if (strcmp(optarg, "error") == 0)
                s->fail_on = FAIL_ERROR;
            else if (strcmp(optarg, "warning") == 0)
                s->fail_on = FAIL_WARNING;
            else
                return usage_error(o, "invalid --fail-on '%s': expected "
                                   "none, truncated, error or warning",
                                   optarg);
            ex->fail_on = 1;
            break;
        case OPT_ALLOW_UNTRUSTED:
            s->allow_untrusted = 1;
            break;
        case OPT_FOLLOW_SYMLINKS:
            o->follow_symlinks = 1;
            break;
        case OPT_STRIP:
            s->strip = 1;
            ex->strip = 1;
            break;
        case OPT_KEEP_METADATA:
            s->strip = 0;
            ex->strip = 1;
            break;
        case OPT_FILES_FROM:
            o->files_from = optarg;
            break;
        case '0':
            o->files_from_nul = 1;
            break;
        case OPT_SHARD:
            if (cli_parse_shard(optarg, &o->shard_k, &o->shard_n, &why) < 0)
                return usage_error(o, "invalid --shard '%s': %s", optarg,
                                   why);
            break;
        case OPT_IN_PLACE:
            s->in_place = 1;
            break;
        case OPT_FORCE:
            s->force = 1;
            break;
        case OPT_MIN_SAVING:
            errno = 0;
            d = strtod(optarg, &end);
            if (errno || end == optarg || *end || d < 0 || d >= 100)
                return usage_error(o, "invalid --min-saving '%s': expected a "
                                   "percentage from 0 to 99", optarg);
            s->min_saving = d;
            break;
        case OPT_DRY_RUN:
            s->dry_run = 1;
            break;
        case OPT_BACKUP:
            s->backup_dir = optarg;
            break;
        case OPT_STRIP_GPS:
            s->strip_gps = 1;
            break;
        case OPT_TO_SRGB:
            s->to_srgb = 1;
            break;
        case OPT_NO_PRESERVE_TIMES:
            s->preserve_times = 0;
            break;
        case OPT_NO_FAST:
            s->fast_jpeg = 0;
            break;
        case 'Q':
            o->quiet = 1;
            break;
        case 'v':
            o->verbose = 1;
            break;
        case 'h':
            fputs(usage_top, stdout);
            fputs(usage_opts, stdout);
            o->exit_code = 0;
            return CLI_EXIT;
        case 'V':
            printf("imgpool %s\n", IMGPOOL_VERSION);
            o->exit_code = 0;
            return CLI_EXIT;
        case ':':
            return usage_error(o, "option '%s' needs a value",
                               argv[optind - 1]);
        default:
            if (optopt)
                return usage_error(o, "unknown option '-%c'", optopt);
            return usage_error(o, "unknown option '%s'", argv[optind - 1]);
        }
    }
    return CLI_RUN;
}

static const char usage_report[] =
    "usage: imgpool report merge REPORT...\n"
    "\n"
    "Join JSON Lines reports written with --report (for example one per\n"
    "--shard) into one on stdout: every record unchanged, then one summary\n"
    "recounted from the records.  '-' reads stdin.\n"
    "\n"
    "exit status: 0 no failed record, 1 some records failed, 2 a report\n"
    "could not be read.\n";

static enum cli_result
parse_report(struct cli_opts *o, int argc, char **argv)
{
    int i;

    if (argc < 3 || strcmp(argv[2], "--help") == 0 ||
        strcmp(argv[2], "-h") == 0) {
        fputs(usage_report, argc < 3 ? stderr : stdout);
        o->exit_code = argc < 3 ? 2 : 0;
        return CLI_EXIT;
    }
    if (strcmp(argv[2], "merge") != 0)
        return usage_error(o, "unknown report command '%s' (expected "
                           "merge)", argv[2]);
    for (i = 3; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(usage_report, stdout);
            o->exit_code = 0;
            return CLI_EXIT;
        }
        push(&o->inputs, &o->ninputs, argv[i]);
    }
    if (o->ninputs == 0)
        return usage_error(o, "report merge needs at least one REPORT file");
    o->command = CMD_REPORT_MERGE;
    return CLI_RUN;
}

enum cli_result
cli_parse(struct cli_opts *o, int argc, char **argv)
{
    struct explicit ex = { 0, 0, 0 };
    struct settings *s = &o->settings;
    struct settings defaults;
    enum mode mode;
    enum cli_result r;
    int i;

    if (argc < 2)
        return usage_error(o, "no command given (thumbnail or recompress)");
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        fputs(usage_top, stdout);
        o->exit_code = 0;
        return CLI_EXIT;
    }
    if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0) {
        printf("imgpool %s\n", IMGPOOL_VERSION);
        o->exit_code = 0;
        return CLI_EXIT;
    }
    if (strcmp(argv[1], "report") == 0)
        return parse_report(o, argc, argv);
    if (strcmp(argv[1], "thumbnail") == 0)
        mode = MODE_THUMBNAIL;
    else if (strcmp(argv[1], "recompress") == 0)
        mode = MODE_RECOMPRESS;
    else if (argv[1][0] == '-')
        return usage_error(o, "a command must come first: imgpool "
                           "thumbnail|recompress [OPTIONS] INPUT...");
    else
        return usage_error(o, "unknown command '%s' (expected thumbnail or "
                           "recompress)", argv[1]);

    settings_init(s, mode);
    o->command_name = argv[1];
    /* GNU getopt permutes, so options may follow INPUTs; "--" ends them. */
    r = parse_options(o, argc - 1, argv + 1, &ex);
    if (r != CLI_RUN)
        return r;
    for (i = optind + 1; i < argc; i++)
        push(&o->inputs, &o->ninputs, argv[i]);

    settings_init(&defaults, mode);
    if (!ex.size) {
        s->width = defaults.width;
        s->height = defaults.height;
    }
    if (!ex.strip)
        s->strip = defaults.strip;
    if (!ex.fail_on)
        s->fail_on = defaults.fail_on;

    if (o->ninputs == 0 && !o->files_from)
        return usage_error(o, "no INPUT given: name files or directories to "
                           "process, or use --files-from");
    if (o->files_from_nul && !o->files_from)
        return usage_error(o, "-0 applies to --files-from, which is missing");
    if (s->in_place) {
        if (mode != MODE_RECOMPRESS)
            return usage_error(o, "--in-place works with recompress only");
        if (o->output_dir)
            return usage_error(o, "--in-place and --output exclude each "
                               "other");
        if (ex.size)
            return usage_error(o, "--in-place keeps dimensions: drop "
                               "--size, or write elsewhere with -o");
        if (s->format != FORMAT_JPEG)
            return usage_error(o, "--in-place rewrites JPEG as JPEG: drop "
                               "--format");
        if (o->name_template)
            return usage_error(o, "--in-place keeps names: drop --name");
        if (ex.strip && s->strip)
            return usage_error(o, "--in-place keeps metadata: drop --strip "
                               "(--strip-gps drops the position only)");
        if (s->backup_dir && s->backup_dir[0] == '\0')
            return usage_error(o, "invalid --backup '': empty path");
        /* The original is the only copy: any decoder complaint, even
         * "Corrupt JPEG data", leaves it alone unless asked otherwise. */
        if (!ex.fail_on)
            s->fail_on = FAIL_WARNING;
        if (o->prune)
            return usage_error(o, "--prune works with an output tree, not "
                               "--in-place");
        s->output_dir = NULL;
        return CLI_RUN;
    }
    if (s->force || s->dry_run || s->backup_dir || s->strip_gps ||
        s->to_srgb || !s->preserve_times || s->min_saving != 5.0)
        return usage_error(o, "--force, --min-saving, --dry-run, --backup, "
                           "--strip-gps, --to-srgb and --no-preserve-times "
                           "need --in-place");
    if (!o->output_dir)
        return usage_error(o, "no output directory: add -o DIR (results "
                           "mirror the input tree under DIR), or use "
                           "recompress --in-place");
    if (o->output_dir[0] == '\0')
        return usage_error(o, "invalid --output '': empty path");
    if (s->mode == MODE_RECOMPRESS && s->fit != FIT_INSIDE &&
        s->width == 0 && s->height == 0)
        return usage_error(o, "--fit %s needs a --size", fit_str(s->fit));
    if (s->fit != FIT_INSIDE && (s->width == 0 || s->height == 0))
        return usage_error(o, "--fit %s needs both sides of --size (WxH)",
                           fit_str(s->fit));
    s->output_dir = o->output_dir;
    return CLI_RUN;
}
