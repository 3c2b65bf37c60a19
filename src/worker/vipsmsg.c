/*
 * vipsmsg.c - turn libvips' error buffer into one task_result message.
 */
#include <stdio.h>
#include <string.h>

#include <vips/vips.h>

#include "vipsmsg.h"

/* Take libvips' error text into @res, trimmed to one readable line. */
void
vipsmsg_fail(struct task_result *res, enum err_class c, const char *what)
{
    char buf[RESULT_MSG_MAX];
    const char *e = vips_error_buffer(), *line, *end;
    size_t n = 0, len, prevlen = 0;
    const char *prev = NULL;

    /* One line per distinct message, joined with "; ": libvips repeats
     * the same error once per tile or thread. */
    buf[0] = '\0';
    for (line = e ? e : ""; *line; line = *end ? end + 1 : end) {
        end = strchr(line, '\n');
        if (!end)
            end = line + strlen(line);
        len = (size_t)(end - line);
        if (len == 0 || (prev && len == prevlen &&
                         memcmp(prev, line, len) == 0))
            continue;
        n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%s%.*s",
                              n ? "; " : "", (int)len, line);
        if (n >= sizeof(buf))
            n = sizeof(buf) - 1;
        prev = line;
        prevlen = len;
    }
    vips_error_clear();
    /* An empty libvips error: the first warning is the best reason. */
    if (n == 0 && res->warning[0]) {
        end = strchr(res->warning, '\n');
        len = end ? (size_t)(end - res->warning) : strlen(res->warning);
        n = (size_t)snprintf(buf, sizeof(buf), "%.*s", (int)len,
                             res->warning);
    }
    if (strstr(buf, "out of memory") || strstr(buf, "Insufficient memory") ||
        strstr(buf, "Cannot allocate memory") ||
        strstr(buf, "Error creating thread"))
        c = ERR_OUT_OF_MEMORY;
    if (strstr(buf, "No space left") || strstr(buf, "Disk quota"))
        c = ERR_NO_SPACE;
    if (strstr(buf, "operation is blocked")) {
        c = ERR_UNTRUSTED;
        if (n + 40 < sizeof(buf))
            snprintf(buf + n, sizeof(buf) - n,
                     " (--allow-untrusted lifts the block)");
    }
    task_result_fail(res, c, "%s%s%s", what, n ? ": " : "", buf);
}

