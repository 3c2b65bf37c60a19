/*
 * cli_table.h - the option table behind cli_parse() and every --help.
 *
 * One row per option: its names, the kind of value it takes, where the
 * value goes (offsets into struct cli_opts, which embeds the run's
 * struct run_config: the first output's settings and the commit's),
 * the subcommands that accept it, its section, metavar and help lines.
 * From the rows, cli.c builds the getopt_long array and the short option
 * string, stores each value by its kind and rejects an option given to a
 * subcommand outside its mask; cli_help.c prints each subcommand's --help,
 * defaults included, read back from cli_defaults().  An option is one row
 * here plus the code that reads its field.
 *
 * Call sequence (cli.c does this; tests use the pieces):
 *   cli_defaults(&o, sub);                 every default, once
 *   cli_store(&o, row, arg, why, len);     one value, by the row's kind
 *   cli_help(stdout, sub);                 the help of one subcommand
 *
 * The table is static and read-only; nothing here allocates except
 * cli_store() for list rows, whose arrays cli_opts_release() frees.
 */
#ifndef IMGPOOL_CLI_TABLE_H
#define IMGPOOL_CLI_TABLE_H

#include <stddef.h>
#include <stdio.h>

#include "cli.h"

/* Where an option is accepted: one bit per subcommand (and form). */
enum cli_sub {
    CLI_SUB_THUMBNAIL = 1 << 0,
    CLI_SUB_RECOMPRESS = 1 << 1, /* recompress writing under -o */
    CLI_SUB_IN_PLACE = 1 << 2,   /* recompress --in-place */
    CLI_SUB_MERGE = 1 << 3,      /* report merge */
};
#define CLI_SUB_PROCESS \
    (CLI_SUB_THUMBNAIL | CLI_SUB_RECOMPRESS | CLI_SUB_IN_PLACE)
#define CLI_SUB_ALL (CLI_SUB_PROCESS | CLI_SUB_MERGE)

enum cli_kind {
    CLI_KIND_FLAG,    /* no value: stores .value into the int at off */
    CLI_KIND_INT,     /* integer in [lo, hi]; the target is .size bytes */
    CLI_KIND_DOUBLE,  /* decimal (seconds, percent) in [lo, hi], or in
                         [lo, hi) with .hi_open, into a double */
    CLI_KIND_SIZE,    /* WxH: width int at off, height int at off2 */
    CLI_KIND_ENUM,    /* one of .names into the int-sized enum at off */
    CLI_KIND_STRING,  /* const char * into argv, vetted by .check */
    CLI_KIND_LIST,    /* repeatable: const char ** at off, size_t at off2 */
    CLI_KIND_COLOR,   /* name, #rrggbb or R,G,B into uint8_t[3] at off */
    CLI_KIND_SHARD,   /* K/N: int k at off, int n at off2 */
    CLI_KIND_HELP,    /* prints the subcommand's help, exit 0 */
    CLI_KIND_VERSION, /* prints the version, exit 0 */
};

/* --help groups options under these headings, in this order. */
enum cli_section {
    CLI_SEC_OUTPUT = 0,
    CLI_SEC_IN_PLACE,
    CLI_SEC_GEOMETRY,
    CLI_SEC_SELECTION,
    CLI_SEC_LIMITS,
    CLI_SEC_INCREMENTAL,
    CLI_SEC_RUNNING,
    CLI_SEC_COUNT
};

/* An accepted word of an enum option; aliases parse but are not listed. */
struct cli_name {
    const char *name;
    int value;
    int alias;
};

struct cli_option {
    const char *name;      /* long name, without "--" */
    char letter;           /* short option, or 0 */
    enum cli_kind kind;
    unsigned subs;         /* enum cli_sub bits that accept it */
    enum cli_section section;
    size_t off, off2;      /* targets in struct cli_opts (see kinds) */
    size_t size;           /* INT: sizeof the target (int, long, int64_t) */
    int value;             /* FLAG: what it stores */
    long lo, hi;           /* INT, DOUBLE: the accepted range */
    int hi_open;           /* DOUBLE: hi itself is refused */
    int lo_open;           /* DOUBLE: lo itself is refused */
    const struct cli_name *names; /* ENUM: NULL-terminated */
    int nocase;            /* ENUM: names match case-insensitively */
    int (*check)(const char *s, const char **why); /* STRING, or NULL */
    const char *expect;    /* INT, DOUBLE: why a value is refused */
    const char *metavar;   /* shown after the names; NULL for no value */
    const char *help;      /* lines separated by '\n' */
    int no_default;        /* help shows no computed default */
};

extern const struct cli_option cli_options[];
extern const size_t cli_noptions;

/* The row named @name (long name without "--"), or NULL. */
const struct cli_option *cli_option_find(const char *name);

/* " (did you mean --a, --b or --c?)" for the long options @name (up to
 * '=' or the end) is a prefix of, into @buf (@size bytes); "" when none
 * is. */
void cli_option_candidates(const char *name, char *buf, size_t size);

/*
 * Every default of subcommand @sub (one enum cli_sub bit) into @o:
 * settings_init() for the pixels, commit_settings_init() for the commit,
 * the default box, and the run's own (timeout, memory cap,
 * progress).  The single place defaults are set; touches no list or
 * input array.
 */
void cli_defaults(struct cli_opts *o, unsigned sub);

/*
 * The run configuration of @o once its options are valid (cli_parse()'s
 * last step): -o and --backup-dir normalised (dirwalk_normalize(), into
 * copies @o owns) for the planner, the state and the workers alike, and
 * one output per box, each the first output's settings with its own box.
 */
void cli_make_config(struct cli_opts *o);

/*
 * Convert @arg by @opt's kind and store it in @o.  Returns 0, or -1 with
 * the reason ("expected an integer from 1 to 100") in @why.  List rows
 * grow an array that cli_opts_release() frees.
 */
int cli_store(struct cli_opts *o, const struct cli_option *opt,
              const char *arg, char *why, size_t whylen);

/*
 * The default @opt has in @o (after cli_defaults()) as help shows it:
 * "90", "300x300", "white", "" for a flag that is on by default.  Returns
 * 0, or -1 when there is nothing to show (a flag that is off, no string,
 * a row with no_default).
 */
int cli_format_default(const struct cli_opts *o, const struct cli_option *opt,
                       char *buf, size_t len);

/* "expected a, b or c" for an ENUM row, into @buf. */
void cli_enum_expect(const struct cli_option *opt, char *buf, size_t len);

/*
 * Print the help of @sub to @f: CLI_SUB_THUMBNAIL, CLI_SUB_RECOMPRESS (its
 * in-place options grouped), CLI_SUB_MERGE, or 0 for the commands.
 */
void cli_help(FILE *f, unsigned sub);

/* "thumbnail", "recompress", "report merge", ...: subcommand @sub as
 * the user types it (NULL for none). */
const char *cli_sub_name(unsigned sub);

/* Prints "imgpool: " and the message, then the --help hint of o->sub;
 * sets o->exit_code to 2 and returns CLI_EXIT. */
enum cli_result cli_usage_error(struct cli_opts *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
