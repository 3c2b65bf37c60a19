/*
 * settings.c - defaults and names for the run configuration (settings.h).
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "settings.h"

void
settings_init(struct settings *s, enum mode m)
{
    memset(s, 0, sizeof(*s));
    s->mode = m;
    s->fit = FIT_INSIDE;
    s->quality = 90;
    s->format = FORMAT_JPEG;
    s->subsample = SUBSAMPLE_AUTO;
    s->effort = EFFORT_FAST;
    s->background[0] = s->background[1] = s->background[2] = 255;
    s->max_pixels = 268402689; /* 16383 x 16383 */
    s->density = 96;           /* CSS pixels, as browsers render SVG */
    s->fast_jpeg = 1;
    if (m == MODE_THUMBNAIL) {
        s->width = s->height = 300;
        s->strip = 1;
        s->fail_on = FAIL_NONE;
    } else {
        s->width = s->height = 0; /* keep dimensions */
        s->strip = 0;
        s->fail_on = FAIL_ERROR;
    }
}

void
settings_init_in_place(struct settings *s)
{
    settings_init(s, MODE_RECOMPRESS);
    s->target = TARGET_IN_PLACE;
    /* The original is the only copy: any decoder complaint, even "Corrupt
     * JPEG data", leaves it alone unless asked otherwise. */
    s->fail_on = FAIL_WARNING;
}

const char *
mode_str(enum mode m)
{
    return m == MODE_RECOMPRESS ? "recompress" : "thumbnail";
}

const char *
fit_str(enum fit f)
{
    switch (f) {
    case FIT_INSIDE:
        return "inside";
    case FIT_COVER:
        return "cover";
    case FIT_FILL:
        return "fill";
    }
    return "?";
}

const char *
fail_on_str(enum fail_on f)
{
    switch (f) {
    case FAIL_NONE:
        return "none";
    case FAIL_TRUNCATED:
        return "truncated";
    case FAIL_ERROR:
        return "error";
    case FAIL_WARNING:
        return "warning";
    }
    return "?";
}

const char *
format_str(enum out_format f)
{
    switch (f) {
    case FORMAT_JPEG:
        return "jpeg";
    case FORMAT_PNG:
        return "png";
    case FORMAT_WEBP:
        return "webp";
    case FORMAT_AVIF:
        return "avif";
    case FORMAT_JXL:
        return "jxl";
    }
    return "?";
}

const char *
format_ext(enum out_format f)
{
    return f == FORMAT_JPEG ? "jpg" : format_str(f);
}

int
format_from_name(const char *name, enum out_format *f)
{
    static const struct {
        const char *ext;
        enum out_format f;
    } exts[] = {
        { "jpg", FORMAT_JPEG },  { "jpeg", FORMAT_JPEG },
        { "jpe", FORMAT_JPEG },  { "png", FORMAT_PNG },
        { "webp", FORMAT_WEBP }, { "avif", FORMAT_AVIF },
        { "jxl", FORMAT_JXL },
    };
    const char *dot = strrchr(name, '.');
    size_t i;

    if (!dot || dot == name)
        return -1;
    for (i = 0; i < sizeof(exts) / sizeof(exts[0]); i++)
        if (strcasecmp(dot + 1, exts[i].ext) == 0) {
            *f = exts[i].f;
            return 0;
        }
    return -1;
}

void
commit_settings_init(struct commit_settings *c)
{
    memset(c, 0, sizeof(*c));
    c->min_saving = 5.0;
    c->preserve_times = 1;
}

void
run_config_make(struct run_config *c, const struct settings *first,
                const struct settings_size *boxes, int nsizes,
                const struct commit_settings *commit)
{
    int k;

    memset(c, 0, sizeof(*c));
    if (!boxes || nsizes < 1)
        nsizes = 1;
    c->nsizes = nsizes < SETTINGS_MAX_SIZES ? nsizes : SETTINGS_MAX_SIZES;
    for (k = 0; k < c->nsizes; k++) {
        c->out[k] = *first;
        if (boxes) {
            c->out[k].width = boxes[k].width;
            c->out[k].height = boxes[k].height;
        }
    }
    c->commit = *commit;
}

char *
settings_size_label(const struct settings_size *z, char *buf, size_t len)
{
    if (!z->width && !z->height)
        snprintf(buf, len, "full");
    else if (z->width == z->height)
        snprintf(buf, len, "%d", z->width);
    else if (!z->height)
        snprintf(buf, len, "%dx", z->width);
    else if (!z->width)
        snprintf(buf, len, "x%d", z->height);
    else
        snprintf(buf, len, "%dx%d", z->width, z->height);
    return buf;
}

int
settings_keep_alpha(const struct settings *s)
{
    return s->target == TARGET_TREE && !s->background_set &&
           (s->format == FORMAT_PNG || s->format == FORMAT_WEBP ||
            s->format == FORMAT_AVIF || s->format == FORMAT_JXL);
}
