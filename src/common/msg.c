/*
 * msg.c - diagnostics on stderr with the program prefix.
 *
 * The level is process state set once by main() from --quiet/--verbose;
 * it is the only mutable global outside main.c, kept here so that every
 * module reports through the same door.
 */
#include <stdarg.h>
#include <stdio.h>

#include "msg.h"

static enum msg_level level = MSG_NORMAL;

void
msg_set_level(enum msg_level lvl)
{
    level = lvl;
}

enum msg_level
msg_get_level(void)
{
    return level;
}

static void vmsg(const char *kind, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

static void
vmsg(const char *kind, const char *fmt, va_list ap)
{
    /* One buffer, one write: lines from concurrent writers stay whole. */
    char buf[4096];
    int n = snprintf(buf, sizeof(buf), "imgpool: %s", kind);
    if (n < 0)
        return;
    vsnprintf(buf + n, sizeof(buf) - (size_t)n, fmt, ap);
    fprintf(stderr, "%s\n", buf);
}

void
errorf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vmsg("", fmt, ap);
    va_end(ap);
}

void
warnf(const char *fmt, ...)
{
    va_list ap;
    if (level < MSG_NORMAL)
        return;
    va_start(ap, fmt);
    vmsg("warning: ", fmt, ap);
    va_end(ap);
}

void
notef(const char *fmt, ...)
{
    va_list ap;
    if (level < MSG_VERBOSE)
        return;
    va_start(ap, fmt);
    vmsg("", fmt, ap);
    va_end(ap);
}
