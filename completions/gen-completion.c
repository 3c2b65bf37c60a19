/*
 * gen-completion.c - write the bash completion of imgpool to stdout, from
 * the option table (src/master/cli_table.c), so that it always offers the
 * options each subcommand takes.  Run at build time; the result is
 * installed as /usr/share/bash-completion/completions/imgpool.
 *
 * What it completes: the subcommand (thumbnail, recompress, report merge),
 * the options of that subcommand (recompress includes the --in-place
 * ones), the words of an option that takes one of a fixed set (--format
 * jpeg|png), directories after a DIR option, files after a FILE option,
 * and file names everywhere else.
 */
#include <stdio.h>
#include <string.h>

#include "cli_table.h"

/* Every option @mask accepts, short and long, space-separated. */
static void
print_options(unsigned mask)
{
    size_t i;

    for (i = 0; i < cli_noptions; i++) {
        if (!(cli_options[i].subs & mask))
            continue;
        if (cli_options[i].letter)
            printf(" -%c", cli_options[i].letter);
        printf(" --%s", cli_options[i].name);
    }
}

/* The case pattern matching @opt's names: "--format|-f". */
static void
print_pattern(const struct cli_option *opt)
{
    printf("        --%s", opt->name);
    if (opt->letter)
        printf("|-%c", opt->letter);
    printf(")\n");
}

/* One case branch per option taking a value: its words, or directories,
 * or files, or nothing (a number, a size: the user types it). */
static void
print_values(void)
{
    const struct cli_name *n;
    size_t i;

    for (i = 0; i < cli_noptions; i++) {
        const struct cli_option *opt = &cli_options[i];

        if (!opt->metavar)
            continue;
        print_pattern(opt);
        if (opt->kind == CLI_KIND_ENUM && opt->names) {
            printf("            _imgpool_words \"");
            for (n = opt->names; n->name; n++)
                if (!n->alias)
                    printf("%s%s", n == opt->names ? "" : " ", n->name);
            printf("\"\n");
        } else if (strcmp(opt->metavar, "DIR") == 0) {
            printf("            _imgpool_files -d\n");
        } else if (strcmp(opt->metavar, "FILE") == 0) {
            printf("            _imgpool_files -f\n");
        }
        printf("            return 0 ;;\n");
    }
}

int
main(void)
{
    printf("# bash completion for imgpool, generated from its option table "
           "by gen-completion.\n\n");
    printf("_imgpool_opts_thumbnail=\"");
    print_options(CLI_SUB_THUMBNAIL);
    printf(" \"\n_imgpool_opts_recompress=\"");
    print_options(CLI_SUB_RECOMPRESS | CLI_SUB_IN_PLACE);
    printf(" \"\n_imgpool_opts_merge=\"");
    print_options(CLI_SUB_MERGE);
    printf(" \"\n\n");
    printf(
        "_imgpool_words()\n"
        "{\n"
        "    COMPREPLY=($(compgen -W \"$1\" -- \"$cur\"))\n"
        "}\n\n"
        "_imgpool_files()\n"
        "{\n"
        "    local IFS=$'\\n'\n"
        "    COMPREPLY=($(compgen \"$1\" -- \"$cur\"))\n"
        "    compopt -o filenames 2>/dev/null\n"
        "}\n\n"
        "_imgpool()\n"
        "{\n"
        "    local cur=${COMP_WORDS[COMP_CWORD]} prev= cmd= i w\n"
        "    COMPREPLY=()\n"
        "    (( COMP_CWORD > 0 )) && prev=${COMP_WORDS[COMP_CWORD-1]}\n"
        "    for (( i = 1; i < COMP_CWORD; i++ )); do\n"
        "        w=${COMP_WORDS[i]}\n"
        "        case $w in\n"
        "        thumbnail|recompress) cmd=$w; break ;;\n"
        "        report) cmd=report ;;\n"
        "        merge) [[ $cmd == report ]] && { cmd=merge; break; } ;;\n"
        "        esac\n"
        "    done\n"
        "    case $cmd in\n"
        "    '')\n"
        "        _imgpool_words \"thumbnail recompress report --help "
        "--version\"\n"
        "        return 0 ;;\n"
        "    report)\n"
        "        _imgpool_words \"merge\"\n"
        "        return 0 ;;\n"
        "    esac\n"
        "    case $prev in\n");
    print_values();
    printf(
        "    esac\n"
        "    if [[ $cur == -* ]]; then\n"
        "        case $cmd in\n"
        "        thumbnail) _imgpool_words \"$_imgpool_opts_thumbnail\" ;;\n"
        "        recompress) _imgpool_words \"$_imgpool_opts_recompress\" ;;\n"
        "        merge) _imgpool_words \"$_imgpool_opts_merge\" ;;\n"
        "        esac\n"
        "        return 0\n"
        "    fi\n"
        "    _imgpool_files -f\n"
        "}\n\n"
        "complete -F _imgpool imgpool\n");
    return 0;
}
