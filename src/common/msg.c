/*
 * msg.c - diagnostics on stderr with the program prefix.
 *
 * The level is process state set once by main() from --quiet/--verbose;
 * it is the only mutable global outside main.c, kept here so that every
 * module reports through the same door.  The one escaping of names for
 * the terminal lives here too (msg_escape()), so that every listing
 * spells a name the same single way.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/*
 * Length of the well-formed UTF-8 sequence at @s (@n bytes available), or 0
 * when the byte at @s does not start one.  RFC 3629: overlong forms,
 * surrogates (U+D800..U+DFFF) and code points above U+10FFFF are refused.
 */
size_t
msg_utf8_len(const unsigned char *s, size_t n)
{
    unsigned char lo = 0x80, hi = 0xbf;
    size_t len, i;

    if (s[0] < 0x80)
        return 1;
    if (s[0] >= 0xc2 && s[0] <= 0xdf) {
        len = 2;
    } else if (s[0] >= 0xe0 && s[0] <= 0xef) {
        len = 3;
        if (s[0] == 0xe0)
            lo = 0xa0;          /* below: overlong */
        else if (s[0] == 0xed)
            hi = 0x9f;          /* above: surrogates */
    } else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
        len = 4;
        if (s[0] == 0xf0)
            lo = 0x90;          /* below: overlong */
        else if (s[0] == 0xf4)
            hi = 0x8f;          /* above: beyond U+10FFFF */
    } else {
        return 0;               /* continuation byte, C0, C1, F5..FF */
    }
    if (n < len || s[1] < lo || s[1] > hi)
        return 0;
    for (i = 2; i < len; i++) {
        if (s[i] < 0x80 || s[i] > 0xbf)
            return 0;
    }
    return len;
}

/*
 * Copy of @s fit to print on a terminal: control characters (C0, DEL and
 * the UTF-8 encoded C1 range) and bytes that are not UTF-8 become C-style
 * escapes ("\n", "\x1b"), and a backslash is doubled so that the escapes
 * stay unambiguous.  Caller frees; NULL on allocation failure.
 */
char *
msg_escape(const char *s)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t n = strlen(s), i = 0, o = 0, len, k;
    char *out = malloc(4 * n + 1);

    if (!out)
        return NULL;
    while (i < n) {
        len = msg_utf8_len(u + i, n - i);
        if (len == 1 && u[i] >= 0x20 && u[i] != 0x7f && u[i] != '\\') {
            out[o++] = s[i++];
            continue;
        }
        if (len > 1 && !(u[i] == 0xc2 && u[i + 1] < 0xa0)) {
            memcpy(out + o, s + i, len);
            o += len;
            i += len;
            continue;
        }
        if (len == 0)
            len = 1;
        for (k = 0; k < len; k++, i++) {
            /* C-style short escapes where there is one, \xNN otherwise. */
            char c = u[i] == '\\' ? '\\' : u[i] == '\n' ? 'n'
                   : u[i] == '\r' ? 'r' : u[i] == '\t' ? 't' : 0;

            if (c) {
                out[o++] = '\\';
                out[o++] = c;
            } else {
                o += (size_t)sprintf(out + o, "\\x%02x", u[i]);
            }
        }
    }
    out[o] = '\0';
    return out;
}

const char *
msg_name(const char *s)
{
    static char bufs[MSG_NAME_SLOTS][MSG_NAME_MAX];
    static unsigned next;
    char *e = msg_escape(s ? s : ""), *b = bufs[next++ % MSG_NAME_SLOTS];
    size_t n;

    if (!e)
        return "(out of memory)";
    n = strlen(e);
    if (n >= MSG_NAME_MAX) {
        /* Cut between escapes and characters, never inside one. */
        size_t i = 0, len;

        for (;;) {
            if (e[i] == '\\')
                len = e[i + 1] == 'x' ? 4 : 2;
            else
                len = msg_utf8_len((const unsigned char *)e + i, n - i);
            if (len == 0)
                len = 1;
            if (i + len > MSG_NAME_MAX - 4)
                break;
            i += len;
        }
        memcpy(b, e, i);
        memcpy(b + i, "...", 4);
    } else {
        memcpy(b, e, n + 1);
    }
    free(e);
    return b;
}
