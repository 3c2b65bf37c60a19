/*
 * main.c - argv -> options -> run.
 *
 * The only file that sees both the master (run.h) and the worker
 * (worker.h): it hands the worker's entry points to the run, which forks
 * the workers that call them.
 */
#include "cli.h"
#include "run.h"
#include "worker.h"

int
main(int argc, char **argv)
{
    static const struct run_worker worker = {
        .init = worker_init,
        .work = worker_run,
        .fini = worker_fini,
    };
    struct cli_opts o;
    int code;

    cli_opts_init(&o);
    if (cli_parse(&o, argc, argv) == CLI_EXIT)
        code = o.exit_code;
    else
        code = run_command(&o, &worker);
    cli_opts_release(&o);
    return code;
}
