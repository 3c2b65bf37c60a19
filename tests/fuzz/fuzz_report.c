/*
 * fuzz_report.c - libFuzzer target for the JSON encoding of records with
 * arbitrary path, output and message bytes: the line must always parse
 * back, and path_b64 must restore the exact bytes whenever it is present.
 */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "report.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t
b64_decode(const char *s, unsigned char *out)
{
    static const char tbl[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t n = 0;
    unsigned v = 0;
    int bits = 0;

    for (; *s && *s != '='; s++) {
        const char *p = strchr(tbl, *s);
        if (!p)
            abort();
        v = (v << 6) | (unsigned)(p - tbl);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[n++] = (unsigned char)(v >> bits);
        }
    }
    return n;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct task t;
    struct task_result r;
    char *path, *line;
    const char *b64;
    json_t *o;
    size_t cut = size / 2;

    path = malloc(size + 1);
    if (!path)
        return 0;
    memcpy(path, data, size);
    path[size] = '\0';
    if (strlen(path) != size) { /* paths have no NUL inside */
        free(path);
        return 0;
    }
    memset(&t, 0, sizeof(t));
    t.path = path;
    t.out_path = path + cut;
    memset(&r, 0, sizeof(r));
    r.status = TASK_FAILED;
    r.err_class = ERR_DECODE;
    memcpy(r.message, data, size < sizeof(r.message) - 1
                                ? size : sizeof(r.message) - 1);
    memcpy(r.warning, data, size < sizeof(r.warning) - 1
                                ? size : sizeof(r.warning) - 1);
    r.nwarnings = 1;
    line = report_record_json(&t, &r);
    if (!line)
        abort();
    o = json_loads(line, 0, NULL);
    if (!json_is_object(o))
        abort();
    b64 = json_string_value(json_object_get(o, "path_b64"));
    if (b64) {
        unsigned char *back = malloc(size + 3);
        if (!back || b64_decode(b64, back) != size ||
            memcmp(back, data, size) != 0)
            abort();
        free(back);
    } else if (strcmp(json_string_value(json_object_get(o, "path")), path)) {
        abort();
    }
    json_decref(o);
    free(line);
    free(path);
    return 0;
}
