/*
 * warn.c - counted, deduplicated warnings in a task result; see warn.h.
 */
#include <stdio.h>
#include <string.h>

#include "warn.h"

void
warn_append(struct task_result *res, const char *text)
{
    char *w = res->warning, *line;
    size_t used, len = strlen(text);

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
