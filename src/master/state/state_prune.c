/*
 * state_prune.c - --prune: remove the recorded outputs whose inputs are
 * gone (see state.h), split from state.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dirwalk.h"
#include "msg.h"
#include "state.h"
#include "state_int.h"
#include "util.h"

/* A recorded output whose input is gone. */
struct gone {
    char *rel;
    size_t rel_len;
    int64_t size, mtime_ns;
};

/*
 * Remove @g's output if it is still the regular file imgpool wrote, walking
 * down from the output directory without following symbolic links.  1 when
 * removed (*path set, caller frees), 0 when left alone.
 */
static int
remove_output(const struct state *st, const struct gone *g, char **path)
{
    const char *slash = strrchr(g->rel, '/');
    const char *base = slash ? slash + 1 : g->rel;
    struct stat sb;
    int fd, removed = 0;

    *path = NULL;
    fd = dirwalk_open(st->out_fd, g->rel, (size_t)(base - g->rel), 0, 0);
    if (fd < 0)
        return 0;               /* gone, or a symlink: not ours to touch */
    if (fstatat(fd, base, &sb, AT_SYMLINK_NOFOLLOW) == 0 &&
        S_ISREG(sb.st_mode) && (int64_t)sb.st_size == g->size &&
        stat_mtime_ns(&sb) == g->mtime_ns) {
        *path = xmalloc(st->out_len + 1 + g->rel_len + 1);
        memcpy(*path, st->out_dir, st->out_len);
        (*path)[st->out_len] = '/';
        memcpy(*path + st->out_len + 1, g->rel, g->rel_len + 1);
        if (unlinkat(fd, base, 0) == 0) {
            removed = 1;
        } else if (errno != ENOENT) {
            warnf("cannot remove '%s': %s", *path, strerror(errno));
        }
        if (!removed) {
            free(*path);
            *path = NULL;
        }
    }
    close(fd);
    return removed;
}

/* True when @input lies below (or is) one of the @n prefixes. */
static int
in_scope(const char *input, const char *const *scope, size_t n)
{
    size_t i, len;

    for (i = 0; i < n; i++) {
        len = strlen(scope[i]);
        if (strncmp(input, scope[i], len) == 0 &&
            (input[len] == '\0' || input[len] == '/' ||
             (len > 0 && scope[i][len - 1] == '/')))
            return 1;
    }
    return 0;
}

int
state_prune(struct state *st, const char *const *scope, size_t nscope,
            void (*cb)(void *data, const char *out), void *data)
{
    struct gone *gone = NULL;
    size_t ngone = 0, alloc = 0, i;
    sqlite3_stmt *q = st->all;
    const void *rec_rel;
    const char *input;
    struct stat sb;
    char *removed_path;
    int rc, removed = 0, ret = -1;

    if (st->readonly)
        return 0;
    if (st->broken)
        return -1;

    /* Collect first, delete after: no row changes under a running query.
     * Only the rows to remove are kept in memory. */
    for (rc = sqlite3_step(q); rc == SQLITE_ROW; rc = sqlite3_step(q)) {
        input = (const char *)sqlite3_column_text(q, 1);
        if (!input || !in_scope(input, scope, nscope) ||
            lstat(input, &sb) == 0 || (errno != ENOENT && errno != ENOTDIR))
            continue;
        if (ngone == alloc) {
            alloc = alloc ? 2 * alloc : 64;
            gone = xrealloc(gone, alloc * sizeof(*gone));
        }
        rec_rel = sqlite3_column_blob(q, 0);
        gone[ngone].rel_len = (size_t)sqlite3_column_bytes(q, 0);
        gone[ngone].rel = xmalloc(gone[ngone].rel_len + 1);
        if (gone[ngone].rel_len > 0)
            memcpy(gone[ngone].rel, rec_rel, gone[ngone].rel_len);
        gone[ngone].rel[gone[ngone].rel_len] = '\0';
        gone[ngone].size = sqlite3_column_int64(q, 2);
        gone[ngone].mtime_ns = sqlite3_column_int64(q, 3);
        ngone++;
    }
    sqlite3_reset(q);
    if (rc != SQLITE_DONE) {
        db_error(st, "read", rc);
        goto out;
    }

    for (i = 0; i < ngone; i++) {
        if (!rel_is_safe(gone[i].rel, gone[i].rel_len)) {
            warnf("state database '%s' names the output '%s' outside the "
                  "output directory; not removing it", st->path,
                  gone[i].rel);
        } else if (remove_output(st, &gone[i], &removed_path)) {
            removed++;
            if (cb)
                cb(data, removed_path);
            free(removed_path);
        }
        if (batch_begin(st) < 0)
            goto out;
        sqlite3_bind_text(st->del, 1, gone[i].rel, (int)gone[i].rel_len,
                          SQLITE_STATIC);
        rc = sqlite3_step(st->del);
        sqlite3_reset(st->del);
        if (rc != SQLITE_DONE) {
            db_error(st, "write to", rc);
            goto out;
        }
        st->batch_rows++;
        if (batch_maybe_commit(st) < 0)
            goto out;
    }
    if (batch_commit(st) < 0)
        goto out;
    ret = removed;

out:
    for (i = 0; i < ngone; i++)
        free(gone[i].rel);
    free(gone);
    return ret;
}

