/*
 * names.c - the paths of imgpool's own files; see names.h.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "names.h"

/* "<dir>/.imgpool[/<name>]"; "/" joins as "/.imgpool". */
static char *
state_path(const char *output_dir, const char *name)
{
    size_t len = strlen(output_dir);
    const char *sep = len > 0 && output_dir[len - 1] == '/' ? "" : "/";
    char *p;
    int n;

    if (name)
        n = asprintf(&p, "%s%s%s/%s", output_dir, sep, IMGPOOL_STATE_DIR,
                     name);
    else
        n = asprintf(&p, "%s%s%s", output_dir, sep, IMGPOOL_STATE_DIR);
    if (n < 0) {
        errno = ENOMEM;
        return NULL;
    }
    return p;
}

char *
names_state_dir(const char *output_dir)
{
    return state_path(output_dir, NULL);
}

char *
names_lock_path(const char *output_dir, int shard_k, int shard_n)
{
    char name[64];

    if (shard_n > 0)
        snprintf(name, sizeof(name), "lock-%d-of-%d", shard_k, shard_n);
    else
        snprintf(name, sizeof(name), "lock");
    return state_path(output_dir, name);
}

char *
names_state_db_path(const char *output_dir, int shard_k, int shard_n)
{
    char name[64];

    if (shard_n > 1)
        snprintf(name, sizeof(name), "state-%d-of-%d.sqlite", shard_k,
                 shard_n);
    else
        snprintf(name, sizeof(name), "state.sqlite");
    return state_path(output_dir, name);
}
