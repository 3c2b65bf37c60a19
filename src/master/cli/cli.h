/*
 * cli.h - command-line parsing into struct cli_opts, then validation.
 *
 * Call sequence:
 *   struct cli_opts o;
 *   cli_opts_init(&o);
 *   switch (cli_parse(&o, argc, argv)) {
 *   case CLI_RUN:   ...run o.config over o.inputs...
 *   case CLI_EXIT:  return o.exit_code;   // --help, --version, usage error
 *   }
 *   cli_opts_release(&o);
 *
 * Every option is one row of the table in cli_table.c (see cli_table.h):
 * its kind, target field, the subcommands that accept it and its help.
 * cli_parse() prints usage errors itself ("imgpool: invalid --size '0x0':
 * ..." or "imgpool: option '--backup' is only for recompress --in-place",
 * then a hint to the subcommand's --help) and sets exit_code 2; --help and
 * --version print to stdout and set exit_code 0.  Strings in cli_opts
 * point into argv unless noted; cli_opts_release() frees the arrays.
 */
#ifndef IMGPOOL_CLI_H
#define IMGPOOL_CLI_H

#include <stddef.h>
#include "report.h"
#include "settings.h"

enum cli_result { CLI_RUN = 0, CLI_EXIT };

enum cli_command {
    CMD_PROCESS = 0,      /* thumbnail / recompress */
    CMD_REPORT_MERGE,     /* report merge FILE... (inputs are the files) */
};

struct cli_opts {
    enum cli_command command;
    /* The run configuration (settings.h), made by cli_parse() and only
     * read after it: the options land in out[0] and commit as they are
     * parsed; once they are checked, out[1..] are made from out[0] and
     * the boxes, and the directories normalised. */
    struct run_config config;
    /* The boxes given (-s, --sizes), in order, or the default one:
     * parse-time input of config.nsizes and config.out[k]'s box. */
    struct settings_size boxes[SETTINGS_MAX_SIZES];
    int nboxes;
    const char **inputs;        /* owned array; the strings are argv's */
    size_t ninputs;
    const char *output_dir;     /* -o; normalised once (dirwalk_normalize())
                                   by cli_parse(), as config.commit's */
    const char *name_template;
    char *file_dir, *file_name; /* owned: -o FILE split (output_dir and
                                   name_template point at them) */
    char *output_dir_own, *backup_dir_own;   /* owned: the normalised
                                                directories */
    const char *sizes_list;     /* --sizes LIST, folded into boxes */
    int format_given;           /* -f was on the command line */
    int quality_given;          /* -q was on the command line */
    int target_given;           /* --target-distance was */
    const char **includes, **excludes;   /* owned arrays */
    size_t nincludes, nexcludes;
    const char *report_path;
    const char *log_path;       /* --log: one line per run appended */
    const char *lock_path;      /* --lock FILE; NULL: the default */
    double wait_lock_s;         /* --wait-lock SEC */
    int prune;                  /* --prune */
    int no_incremental;         /* --no-incremental: redo everything */
    const char *command_name;   /* "thumbnail" or "recompress" */
    int jobs;                   /* 0: pool_default_workers() */
    double timeout_s;
    long max_memory_mb;
    int follow_symlinks;
    int freedesktop;            /* thumbnail --freedesktop */
    const char *cache_dir;      /* --cache-dir: the thumbnail cache */
    const char *flavors;        /* --flavor LIST, or NULL: the default */
    char cache_base[4096];      /* the cache folder in use (--freedesktop) */
    const char *files_from;     /* path, or "-" for stdin */
    int files_from_nul;         /* -0: NUL-separated list */
    int shard_k, shard_n;       /* --shard K/N; shard_n 0: none */
    int quiet, verbose;
    enum progress_mode progress;
    int exit_code;              /* valid when cli_parse() says CLI_EXIT */
    unsigned sub;               /* enum cli_sub (cli_table.h) parsed, or 0 */
};

/* Zero @o; cli_parse() sets the defaults of the command it finds. */
void cli_opts_init(struct cli_opts *o);
void cli_opts_release(struct cli_opts *o);
enum cli_result cli_parse(struct cli_opts *o, int argc, char **argv);

/*
 * Parsers for option values, exposed for tests and fuzzing.  Each returns
 * 0, or -1 with *why set to a static explanation.
 */
int cli_parse_size(const char *s, int *w, int *h, const char **why);
int cli_parse_color(const char *s, unsigned char rgb[3], const char **why);
/* --sizes: a comma-separated list of cli_parse_size() boxes, at most
 * SETTINGS_MAX_SIZES of them. */
int cli_check_sizes(const char *s, const char **why);
/* Append the boxes of --sizes @list to @boxes (after the *@n there, of at
 * most SETTINGS_MAX_SIZES), as cli_check_sizes() accepts them.  0, or -1
 * with *why set (too many). */
int cli_add_sizes(struct settings_size *boxes, int *n, const char *list,
                  const char **why);
/* "K/N" with 0 <= K < N <= 100000, or "auto", "auto/N" (below). */
int cli_parse_shard(const char *s, int *k, int *n, const char **why);
/*
 * --shard auto: K and N from the environment of an array job's task
 * (Slurm SLURM_ARRAY_TASK_ID and SLURM_ARRAY_TASK_COUNT, for an array
 * 0-(N-1) only; AWS Batch AWS_BATCH_JOB_ARRAY_INDEX and
 * AWS_BATCH_JOB_ARRAY_SIZE; Google Batch BATCH_TASK_INDEX and
 * BATCH_TASK_COUNT); --shard auto/N: the index from any of them or
 * Kubernetes' JOB_COMPLETION_INDEX, the count N (which a count in the
 * environment, Slurm's aside, must not contradict).  1 when @spec is
 * neither form, 0 with *k, *n set, or -1 with *why saying what is
 * missing or which variables disagree.
 */
int cli_shard_auto(const char *spec, int *k, int *n, const char **why);

#endif
