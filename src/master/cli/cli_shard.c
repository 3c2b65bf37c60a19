/*
 * cli_shard.c - `--shard auto` and `--shard auto/N`: the shard index (and
 * count) from the environment a batch scheduler gives each task of an
 * array job.  See cli.h.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define SHARD_MAX 100000

/*
 * One scheduler's variables; count may be NULL.  Slurm's count is the size
 * of this submission, not of the job (a re-run of shard 5 is
 * --array=5, a one-task array): it is trusted only for an array that is
 * exactly 0..COUNT-1, and never beside auto/N.
 */
static const struct scheme {
    const char *index, *count;
    int submission_count;
} schemes[] = {
    { "SLURM_ARRAY_TASK_ID", "SLURM_ARRAY_TASK_COUNT", 1 },
    { "AWS_BATCH_JOB_ARRAY_INDEX", "AWS_BATCH_JOB_ARRAY_SIZE", 0 },
    { "BATCH_TASK_INDEX", "BATCH_TASK_COUNT", 0 },
    { "JOB_COMPLETION_INDEX", NULL, 0 },
};
#define NSCHEMES (sizeof(schemes) / sizeof(schemes[0]))

/* The message of the last failure; *why points here. */
static char why_buf[320];

static int fail(const char **why, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int
fail(const char **why, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(why_buf, sizeof(why_buf), fmt, ap);
    va_end(ap);
    *why = why_buf;
    return -1;
}

/* $@var as a number in [lo, hi]: 1, 0 when unset, -1 when not such a
 * number. */
static int
env_long(const char *var, long lo, long hi, long *out)
{
    const char *s = var ? getenv(var) : NULL;
    char *end;
    long v;

    if (!s)
        return 0;
    errno = 0;
    v = strtol(s, &end, 10);
    if (errno || end == s || *end != '\0' || v < lo || v > hi)
        return -1;
    *out = v;
    return 1;
}

/* What @sc's variables say: 0 none set, 1 the index (and *n, 0 when no
 * count applies), -1 after fail().  @given: the N of auto/N, or 0. */
static int
scheme_read(const struct scheme *sc, long given, long *k, long *n,
            const char **why)
{
    long id = 0, min = 0, max = 0, step = 1;
    int r = env_long(sc->index, 0, 1L << 30, &id);

    *n = 0;
    if (r == 0)
        return 0;
    if (r < 0)
        return fail(why, "%s='%s' is not a task index", sc->index,
                    getenv(sc->index));
    *k = id;
    if (!sc->count || (given && sc->submission_count))
        return 1;
    if (env_long(sc->count, 1, SHARD_MAX, n) < 0)
        return fail(why, "%s='%s' is not a task count (1 to 100000)",
                    sc->count, getenv(sc->count));
    if (!sc->submission_count || *n == 0)
        return 1;
    /* Slurm: only an array 0-(COUNT-1) says what N is. */
    if (env_long("SLURM_ARRAY_TASK_MIN", 0, 1L << 30, &min) < 0 ||
        env_long("SLURM_ARRAY_TASK_MAX", 0, 1L << 30, &max) < 0 ||
        env_long("SLURM_ARRAY_TASK_STEP", 1, 1L << 30, &step) < 0 ||
        min != 0 || step != 1 ||
        (getenv("SLURM_ARRAY_TASK_MAX") && max != *n - 1))
        return fail(why, "this Slurm array is not 0-%ld, so "
                    "SLURM_ARRAY_TASK_COUNT is not the job's shard count "
                    "(a re-run of some shards?): use --shard auto/N",
                    *n - 1);
    return 1;
}

int
cli_shard_auto(const char *spec, int *k, int *n, const char **why)
{
    long given = 0, sk = -1, sn = 0, ck = 0, cn = 0;
    const struct scheme *from = NULL;
    const char *count_var = NULL;
    char *end;
    size_t i;
    int r;

    if (strncmp(spec, "auto", 4) != 0 || (spec[4] && spec[4] != '/'))
        return 1;
    if (spec[4] == '/') {
        errno = 0;
        given = strtol(spec + 5, &end, 10);
        if (errno || end == spec + 5 || *end || given < 1 ||
            given > SHARD_MAX)
            return fail(why, "expected auto or auto/N with 1 <= N <= "
                        "100000");
    }
    for (i = 0; i < NSCHEMES; i++) {
        r = scheme_read(&schemes[i], given, &ck, &cn, why);
        if (r < 0)
            return -1;
        if (r == 0)
            continue;
        if (cn && !sn)
            count_var = schemes[i].count;
        if (!from) {
            from = &schemes[i];
            sk = ck;
            sn = cn;
        } else if (ck != sk || (cn && sn && cn != sn)) {
            return fail(why, "the environment disagrees: %s and %s give "
                        "other shards; say which with --shard K/N",
                        from->index, schemes[i].index);
        } else if (!sn) {
            sn = cn;
        }
    }
    if (!from)
        return fail(why, "no task index in the environment (Slurm "
                    "SLURM_ARRAY_TASK_ID, AWS Batch "
                    "AWS_BATCH_JOB_ARRAY_INDEX, Google Batch "
                    "BATCH_TASK_INDEX, Kubernetes JOB_COMPLETION_INDEX); "
                    "give --shard K/N");
    if (given && sn && given != sn)
        return fail(why, "auto/%ld disagrees with %s=%ld", given,
                    count_var, sn);
    if (!given && !sn)
        return fail(why, "%s gives the index but no count: use --shard "
                    "auto/N (N: the job's shard count)", from->index);
    if (!given)
        given = sn;
    if (sk >= given)
        return fail(why, "the task index %ld (%s) is not below the count "
                    "%ld", sk, from->index, given);
    *k = (int)sk;
    *n = (int)given;
    return 0;
}
