/*
 * fuzz_options.c - libFuzzer target for the parsers of untrusted text
 * given on the command line or in templates: --size, --background,
 * --shard, --name templates and their expansion.
 *
 * The input is split at the first NUL: the part before is the option value
 * or template, the part after is a file name to expand it for.
 *
 * The whole input, split at every NUL, is also a command line for
 * cli_parse() (after "imgpool"): whatever it accepts must lie within the
 * ranges the option table promises.  Usage errors go to stderr; run with
 * -close_fd_mask=3 to keep the output readable.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "plan.h"

#define MAX_ARGS 64

/* Run cli_parse() over @text's NUL-separated words; abort on a result
 * outside the documented ranges. */
static void
fuzz_command_line(char *text, size_t size)
{
    char *argv[MAX_ARGS + 2];
    struct cli_opts o;
    const struct settings *s = &o.config.out[0];
    size_t i = 0;
    int argc = 0;

    argv[argc++] = "imgpool";
    while (i <= size && argc <= MAX_ARGS) {
        argv[argc++] = text + i;
        i += strlen(text + i) + 1;
    }
    argv[argc] = NULL;
    cli_opts_init(&o);
    if (cli_parse(&o, argc, argv) == CLI_RUN && o.command == CMD_PROCESS) {
        if (s->quality < 1 || s->quality > 100 || s->width < 0 ||
            s->height < 0 || s->width > 100000 || s->height > 100000 ||
            o.jobs < 0 || o.jobs > 1024 || !(o.timeout_s >= 0) ||
            o.timeout_s > 604800 || s->max_pixels < 0 ||
            (o.shard_n && (o.shard_k < 0 || o.shard_k >= o.shard_n)) ||
            (o.ninputs == 0 && !o.files_from) ||
            (o.config.commit.in_place
                 ? o.config.commit.output_dir != NULL
                 : !o.config.commit.output_dir ||
                       !o.config.commit.output_dir[0]))
            abort();
    }
    cli_opts_release(&o);
}

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
    fuzz_command_line(text, size);
    free(text);
    return 0;
}
