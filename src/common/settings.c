/*
 * settings.c - defaults and names for the output-shaping settings.
 */
#include <string.h>

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
    s->background[0] = s->background[1] = s->background[2] = 255;
    s->max_pixels = 268402689; /* 16383 x 16383 */
    s->fast_jpeg = 1;
    s->min_saving = 5.0;
    s->preserve_times = 1;
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
    s->in_place = 1;
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
