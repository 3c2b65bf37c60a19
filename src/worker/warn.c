/*
 * warn.c - counted, deduplicated warnings in a task result; see warn.h.
 */
#include <stdio.h>
#include <string.h>

#include "warn.h"

/* libpng's notice on an sRGB profile it knows by its ID but whose bytes
 * differ: many editors rewrite the profile's header; the pixels are fine
 * and the profile is still used. */
int
warn_benign(const char *text)
{
    return strstr(text, "iCCP: Not recognizing known sRGB profile that has "
                        "been edited") != NULL;
}

void
warn_append(struct task_result *res, const char *text)
{
    char *w = res->warning, *line;
    size_t used, len = strlen(text);

    if (warn_benign(text))
        return;
    res->nwarnings++;
    for (line = w; *line; ) {
        char *end = strchr(line, '\n');
        size_t n = end ? (size_t)(end - line) : strlen(line);

        if (n == len && memcmp(line, text, len) == 0)
            return;
        line += n + (end ? 1 : 0);
    }
    used = strlen(w);
    if (used + (used ? 1 : 0) + len + 1 > sizeof(res->warning))
        return;
    snprintf(w + used, sizeof(res->warning) - used, "%s%s",
             used ? "\n" : "", text);
}
