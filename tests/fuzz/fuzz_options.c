/*
 * fuzz_options.c - libFuzzer target for the parsers of untrusted text
 * given on the command line or in templates: --size, --background,
 * --shard, --name templates and their expansion.
 *
 * The input is split at the first NUL: the part before is the option value
 * or template, the part after is a file name to expand it for.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "plan.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1), *name;
    unsigned char rgb[3];
    const char *why;
    char out[256];
    int w, h, k, n, len;

    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    name = text + strlen(text);
    name = name < text + size ? name + 1 : name;

    if (cli_parse_size(text, &w, &h, &why) == 0 &&
        (w < 0 || h < 0 || w > 100000 || h > 100000 || (w == 0 && h == 0)))
        abort();
    (void)cli_parse_color(text, rgb, &why);
    if (cli_parse_shard(text, &k, &n, &why) == 0 &&
        (k < 0 || n < 1 || k >= n))
        abort();
    if (plan_template_check(text, &why) == 0 && !strchr(name, '/')) {
        len = plan_expand_name(text, name, FORMAT_JPEG, out, sizeof(out));
        if (len >= 0 && ((size_t)len >= sizeof(out) || strchr(out, '/') ||
                         strcmp(out, "..") == 0 || strcmp(out, ".") == 0 ||
                         len != (int)strlen(out) || len == 0))
            abort();
    }
    free(text);
    return 0;
}
