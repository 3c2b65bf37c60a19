/*
 * cli_value.c - option values: the parsers of the value forms (size,
 * colour, shard, bounded numbers, enum names), storing a value by its row's
 * kind, every option's default (cli_defaults()) and showing a default
 * back the way it is written.
 *
 * cli_parse_size, cli_parse_color and cli_parse_shard are public for the
 * tests and the fuzz target; the rest serves cli.c and cli_help.c through
 * cli_table.h.
 */
#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli_table.h"
#include "dirwalk.h"
#include "util.h"

/* AddressSanitizer reserves terabytes of shadow memory, which no data
 * limit leaves room for: sanitizer builds run without a cap. */
#if defined(__SANITIZE_ADDRESS__)
#define DEFAULT_MAX_MEMORY_MB 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define DEFAULT_MAX_MEMORY_MB 0
#endif
#endif
#ifndef DEFAULT_MAX_MEMORY_MB
#define DEFAULT_MAX_MEMORY_MB 2048
#endif

#define MAX_DIM 100000

void
cli_defaults(struct cli_opts *o, unsigned sub)
{
    struct settings *s = &o->config.out[0];

    if (sub & CLI_SUB_IN_PLACE)
        settings_init_in_place(s);
    else
        settings_init(s, (sub & CLI_SUB_RECOMPRESS) ? MODE_RECOMPRESS
                                                    : MODE_THUMBNAIL);
    commit_settings_init(&o->config.commit);
    o->config.commit.in_place = (sub & CLI_SUB_IN_PLACE) != 0;
    o->config.nsizes = 1;
    o->boxes[0].width = s->width;
    o->boxes[0].height = s->height;
    o->nboxes = 1;
    o->timeout_s = 120;
    o->max_memory_mb = DEFAULT_MAX_MEMORY_MB;
    o->progress = PROGRESS_AUTO;
}

/* @*dir (borrowed) spelled one way for the whole run ("out//", "out/."
 * and "./out" become "out"), as a copy into @*own that @*dir then names. */
static void
normalise_dir(const char **dir, char **own)
{
    if (!*dir)
        return;
    *own = xstrdup(*dir);
    dirwalk_normalize(*own);
    *dir = *own;
}

void
cli_make_config(struct cli_opts *o)
{
    struct commit_settings c = o->config.commit;
    struct settings first = o->config.out[0];

    normalise_dir(&o->output_dir, &o->output_dir_own);
    if (c.output_dir && !c.fd_flavors)
        c.output_dir = o->output_dir;
    normalise_dir(&c.backup_dir, &o->backup_dir_own);
    run_config_make(&o->config, &first, o->boxes, o->nboxes, &c);
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

/* Append box @item (@n bytes of a --sizes list) to @boxes, *@nb of
 * them so far.  0, or -1. */
static int
add_size(struct settings_size *boxes, int *nb, const char *item, size_t n,
         const char **why)
{
    char buf[32];
    int w, h;

    if (n == 0 || n >= sizeof(buf)) {
        *why = "expected boxes separated by commas: 150,300,1024x768";
        return -1;
    }
    memcpy(buf, item, n);
    buf[n] = '\0';
    if (cli_parse_size(buf, &w, &h, why) < 0)
        return -1;
    if (*nb >= SETTINGS_MAX_SIZES) {
        *why = "at most 8 sizes";
        return -1;
    }
    boxes[*nb].width = w;
    boxes[*nb].height = h;
    (*nb)++;
    return 0;
}

int
cli_add_sizes(struct settings_size *boxes, int *n, const char *list,
              const char **why)
{
    const char *p = list, *comma;

    for (;;) {
        comma = strchr(p, ',');
        if (add_size(boxes, n, p, comma ? (size_t)(comma - p) : strlen(p),
                     why) < 0)
            return -1;
        if (!comma)
            return 0;
        p = comma + 1;
    }
}

int
cli_check_sizes(const char *list, const char **why)
{
    struct settings_size boxes[SETTINGS_MAX_SIZES];
    int n = 0;

    return cli_add_sizes(boxes, &n, list, why);
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

    int r = cli_shard_auto(s, k, n, why);

    if (r <= 0)
        return r;
    *why = "expected K/N with 0 <= K < N <= 100000 (e.g. 0/4), auto or "
           "auto/N";
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

/* Colour names; the first of equal colours is the one help shows. */
static const struct {
    const char *name;
    unsigned char rgb[3];
} color_names[] = {
    { "white", { 255, 255, 255 } }, { "black", { 0, 0, 0 } },
    { "gray", { 128, 128, 128 } },  { "grey", { 128, 128, 128 } },
    { "red", { 255, 0, 0 } },       { "green", { 0, 128, 0 } },
    { "blue", { 0, 0, 255 } },
};
#define NCOLOR_NAMES (sizeof(color_names) / sizeof(color_names[0]))

int
cli_parse_color(const char *s, unsigned char rgb[3], const char **why)
{
    size_t i;
    long v[3];

    *why = "expected a name (white, black, gray), #rrggbb or R,G,B";
    for (i = 0; i < NCOLOR_NAMES; i++)
        if (strcasecmp(s, color_names[i].name) == 0) {
            memcpy(rgb, color_names[i].rgb, 3);
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


/* Enum targets are written through int: make sure that is their size. */
_Static_assert(sizeof(enum fit) == sizeof(int) &&
                   sizeof(enum fail_on) == sizeof(int) &&
                   sizeof(enum progress_mode) == sizeof(int),
               "enum option targets must be int-sized");

static void
put_int(struct cli_opts *o, size_t off, size_t size, long v)
{
    char *p = (char *)o + off;

    if (size == sizeof(int32_t)) {
        int32_t x = (int32_t)v;
        memcpy(p, &x, sizeof(x));
    } else {
        int64_t x = v;
        memcpy(p, &x, sizeof(x));
    }
}

static long
get_int(const struct cli_opts *o, size_t off, size_t size)
{
    const char *p = (const char *)o + off;

    if (size == sizeof(int32_t)) {
        int32_t x;
        memcpy(&x, p, sizeof(x));
        return x;
    }
    int64_t x;
    memcpy(&x, p, sizeof(x));
    return (long)x;
}

void
cli_enum_expect(const struct cli_option *opt, char *buf, size_t len)
{
    const struct cli_name *n;
    size_t count = 0, i = 0, used;

    for (n = opt->names; n->name; n++)
        count += !n->alias;
    used = (size_t)snprintf(buf, len, "expected");
    for (n = opt->names; n->name && used < len; n++) {
        if (n->alias)
            continue;
        i++;
        used += (size_t)snprintf(buf + used, len - used, "%s%s",
                                 i == 1 ? " " : i == count ? " or " : ", ",
                                 n->name);
    }
}

static int
store_enum(struct cli_opts *o, const struct cli_option *opt, const char *arg,
           char *why, size_t whylen)
{
    const struct cli_name *n;

    for (n = opt->names; n->name; n++)
        if ((opt->nocase ? strcasecmp(arg, n->name)
                         : strcmp(arg, n->name)) == 0) {
            put_int(o, opt->off, sizeof(int), n->value);
            return 0;
        }
    cli_enum_expect(opt, why, whylen);
    return -1;
}

static int
store_double(struct cli_opts *o, const struct cli_option *opt,
             const char *arg)
{
    char *end;
    double d;

    errno = 0;
    d = strtod(arg, &end);
    /* Written so that NaN fails every comparison and is refused. */
    if (errno || end == arg || *end != '\0' ||
        !(opt->lo_open ? d > (double)opt->lo : d >= (double)opt->lo) ||
        !(opt->hi_open ? d < (double)opt->hi : d <= (double)opt->hi))
        return -1;
    memcpy((char *)o + opt->off, &d, sizeof(d));
    return 0;
}

static void
push(struct cli_opts *o, const struct cli_option *opt, const char *arg)
{
    const char **arr;
    size_t n;

    memcpy(&arr, (char *)o + opt->off, sizeof(arr));
    memcpy(&n, (char *)o + opt->off2, sizeof(n));
    arr = xrealloc((void *)arr, (n + 1) * sizeof(*arr));
    arr[n++] = arg;
    memcpy((char *)o + opt->off, &arr, sizeof(arr));
    memcpy((char *)o + opt->off2, &n, sizeof(n));
}

/* Store a value whose parser fills two ints (size, shard). */
static int
store_pair(struct cli_opts *o, const struct cli_option *opt, const char *arg,
           const char **why)
{
    int a, b;

    if (opt->kind == CLI_KIND_SIZE ? cli_parse_size(arg, &a, &b, why)
                                   : cli_parse_shard(arg, &a, &b, why))
        return -1;
    put_int(o, opt->off, sizeof(int), a);
    put_int(o, opt->off2, sizeof(int), b);
    return 0;
}

int
cli_store(struct cli_opts *o, const struct cli_option *opt, const char *arg,
          char *why, size_t whylen)
{
    const char *reason = NULL;
    unsigned char rgb[3];
    long v;

    switch (opt->kind) {
    case CLI_KIND_FLAG:
        put_int(o, opt->off, sizeof(int), opt->value);
        return 0;
    case CLI_KIND_INT:
        if (parse_long(arg, opt->lo, opt->hi, &v) < 0)
            break;
        put_int(o, opt->off, opt->size, v);
        return 0;
    case CLI_KIND_DOUBLE:
        if (store_double(o, opt, arg) < 0)
            break;
        return 0;
    case CLI_KIND_ENUM:
        return store_enum(o, opt, arg, why, whylen);
    case CLI_KIND_STRING:
        if (opt->check && opt->check(arg, &reason) < 0)
            break;
        memcpy((char *)o + opt->off, &arg, sizeof(arg));
        return 0;
    case CLI_KIND_LIST:
        push(o, opt, arg);
        return 0;
    case CLI_KIND_COLOR:
        if (cli_parse_color(arg, rgb, &reason) < 0)
            break;
        memcpy((char *)o + opt->off, rgb, sizeof(rgb));
        if (opt->off2)          /* given: say so */
            put_int(o, opt->off2, sizeof(int), 1);
        return 0;
    case CLI_KIND_SIZE:
    case CLI_KIND_SHARD:
        if (store_pair(o, opt, arg, &reason) < 0)
            break;
        return 0;
    case CLI_KIND_HELP:
    case CLI_KIND_VERSION:
        return 0;
    }
    snprintf(why, whylen, "%s", reason ? reason : opt->expect);
    return -1;
}

static void
format_color(const unsigned char rgb[3], char *buf, size_t len)
{
    size_t i;

    for (i = 0; i < NCOLOR_NAMES; i++)
        if (memcmp(rgb, color_names[i].rgb, 3) == 0) {
            snprintf(buf, len, "%s", color_names[i].name);
            return;
        }
    snprintf(buf, len, "#%02x%02x%02x", rgb[0], rgb[1], rgb[2]);
}

static int
format_pair(const struct cli_opts *o, const struct cli_option *opt,
            char *buf, size_t len)
{
    long a = get_int(o, opt->off, sizeof(int));
    long b = get_int(o, opt->off2, sizeof(int));

    if (opt->kind == CLI_KIND_SHARD && b == 0)
        return -1;
    if (opt->kind == CLI_KIND_SHARD)
        snprintf(buf, len, "%ld/%ld", a, b);
    else if (a == 0 && b == 0)
        snprintf(buf, len, "none: the original size");
    else if (b == 0)
        snprintf(buf, len, "%ldx", a);
    else if (a == 0)
        snprintf(buf, len, "x%ld", b);
    else
        snprintf(buf, len, "%ldx%ld", a, b);
    return 0;
}

int
cli_format_default(const struct cli_opts *o, const struct cli_option *opt,
                   char *buf, size_t len)
{
    const char *p = (const char *)o + opt->off;
    const struct cli_name *n;
    const char *str;
    double d;

    if (opt->no_default)
        return -1;
    switch (opt->kind) {
    case CLI_KIND_FLAG:
        buf[0] = '\0';
        return get_int(o, opt->off, sizeof(int)) == opt->value ? 0 : -1;
    case CLI_KIND_INT:
        snprintf(buf, len, "%ld", get_int(o, opt->off, opt->size));
        return 0;
    case CLI_KIND_DOUBLE:
        memcpy(&d, p, sizeof(d));
        snprintf(buf, len, "%g", d);
        return 0;
    case CLI_KIND_ENUM:
        for (n = opt->names; n->name; n++)
            if (!n->alias && n->value == get_int(o, opt->off, sizeof(int))) {
                snprintf(buf, len, "%s", n->name);
                return 0;
            }
        return -1;
    case CLI_KIND_STRING:
        memcpy(&str, p, sizeof(str));
        if (!str)
            return -1;
        snprintf(buf, len, "%s", str);
        return 0;
    case CLI_KIND_COLOR:
        format_color((const unsigned char *)p, buf, len);
        return 0;
    case CLI_KIND_SIZE:
    case CLI_KIND_SHARD:
        return format_pair(o, opt, buf, len);
    case CLI_KIND_LIST:
    case CLI_KIND_HELP:
    case CLI_KIND_VERSION:
        break;
    }
    return -1;
}
