/*
 * report_text.c - the text work behind the report: checking and repairing
 * UTF-8, base64 for the exact bytes of a path that is not UTF-8, and the
 * escaping that keeps file names from driving the terminal.  Everything
 * else in the JSON goes through jansson.  See report_int.h.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report_int.h"
#include "util.h"

/*
 * Length of the well-formed UTF-8 sequence at @s (@n bytes available), or 0
 * when the byte at @s does not start one.  RFC 3629: overlong forms,
 * surrogates (U+D800..U+DFFF) and code points above U+10FFFF are refused.
 */
static size_t
utf8_seq_len(const unsigned char *s, size_t n)
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
 * Copy of the @n bytes at @s as valid UTF-8: every byte that does not belong
 * to a well-formed sequence becomes U+FFFD.  *changed says whether any did.
 * Caller frees.
 */
char *
report_utf8_repair(const char *s, size_t n, int *changed)
{
    const unsigned char *u = (const unsigned char *)s;
    char *out = xmalloc(3 * n + 1);
    size_t i = 0, o = 0, len;

    *changed = 0;
    while (i < n) {
        len = utf8_seq_len(u + i, n - i);
        if (len == 0) {
            memcpy(out + o, "\xef\xbf\xbd", 3);
            o += 3;
            i++;
            *changed = 1;
            continue;
        }
        memcpy(out + o, s + i, len);
        o += len;
        i += len;
    }
    out[o] = '\0';
    return out;
}

/* RFC 4648 base64 with padding of @n bytes.  Caller frees; NULL on ENOMEM. */
char *
report_base64(const unsigned char *in, size_t n)
{
    static const char digits[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char *out = xmalloc((n + 2) / 3 * 4 + 1);
    size_t i, o = 0;
    uint32_t v;

    for (i = 0; i + 3 <= n; i += 3) {
        v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        out[o++] = digits[v >> 18 & 63];
        out[o++] = digits[v >> 12 & 63];
        out[o++] = digits[v >> 6 & 63];
        out[o++] = digits[v & 63];
    }
    if (n - i == 1) {
        v = (uint32_t)in[i] << 16;
        out[o++] = digits[v >> 18 & 63];
        out[o++] = digits[v >> 12 & 63];
        out[o++] = '=';
        out[o++] = '=';
    } else if (n - i == 2) {
        v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
        out[o++] = digits[v >> 18 & 63];
        out[o++] = digits[v >> 12 & 63];
        out[o++] = digits[v >> 6 & 63];
        out[o++] = '=';
    }
    out[o] = '\0';
    return out;
}

/*
 * Copy of @s fit to print on a terminal: control characters (C0, DEL and
 * the UTF-8 encoded C1 range) and bytes that are not UTF-8 become C-style
 * escapes ("\n", "\x1b"), and a backslash is doubled so that the escapes
 * stay unambiguous.  Caller frees.
 */
char *
report_term_escape(const char *s)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t n = strlen(s), i = 0, o = 0, len, k;
    char *out = xmalloc(4 * n + 1);

    while (i < n) {
        len = utf8_seq_len(u + i, n - i);
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
