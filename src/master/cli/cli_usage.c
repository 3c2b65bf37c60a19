/*
 * cli_usage.c - how a usage error is told (cli_table.h): one line naming
 * what is wrong, a hint to the subcommand's --help, exit code 2.
 */
#include <stdarg.h>
#include <stdio.h>

#include "cli_table.h"
#include "msg.h"

const char *
cli_sub_name(unsigned sub)
{
    switch (sub) {
    case CLI_SUB_THUMBNAIL:
        return "thumbnail";
    case CLI_SUB_RECOMPRESS:
        return "recompress";
    case CLI_SUB_IN_PLACE:
        return "recompress --in-place";
    case CLI_SUB_MERGE:
        return "report merge";
    }
    return NULL;
}

enum cli_result
cli_usage_error(struct cli_opts *o, const char *fmt, ...)
{
    char buf[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    errorf("%s", buf);
    fprintf(stderr, "Try 'imgpool %s%s--help' for more information.\n",
            o->sub == CLI_SUB_IN_PLACE ? "recompress"
            : o->sub                   ? cli_sub_name(o->sub)
                                       : "",
            o->sub ? " " : "");
    o->exit_code = 2;
    return CLI_EXIT;
}
