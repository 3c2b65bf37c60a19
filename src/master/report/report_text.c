/*
 * report_text.c - the text work behind the report: checking and repairing
 * UTF-8 and base64 for the exact bytes of a path that is not UTF-8
 * (names on the terminal are escaped by msg_escape()).  Everything else in
 * the JSON goes through jansson.  See report_int.h.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "msg.h"
#include "report_int.h"
#include "util.h"

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
        len = msg_utf8_len(u + i, n - i);
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
