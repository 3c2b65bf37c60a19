/*
 * run_task.c - pack a struct task into a pool request and back, and turn
 * a pool outcome into a task's record.  See run_task.h.
 *
 * The request is a fixed head (numbers, string lengths and offsets) then
 * the path and the output paths, each with its NUL; offsets say where rel,
 * out_rel and out_more start inside them.  Nothing in it is trusted on
 * unpacking more than the master that wrote it, but every offset is
 * checked, so a torn or foreign request is refused instead of read past.
 */
#include <stdint.h>
#include <string.h>

#include "run_task.h"
#include "util.h"

#define NO_OFF UINT32_MAX

struct wire_head {
    int64_t size, mtime_ns;
    uint64_t dev, ino;
    uint32_t nlink;
    int32_t root_index;
    uint32_t open_follow;
    uint32_t path_len;        /* with its NUL */
    uint32_t rel_off;         /* NO_OFF: rel NULL */
    uint32_t out_len;         /* out_path and the out_more list; 0: none */
    uint32_t out_rel_off, more_off;
};

/* Bytes of out_path's allocation that belong to the task: out_path, and
 * the out_more list up to its closing empty string. */
static size_t
out_extent(const struct task *t)
{
    const char *end;

    if (!t->out_path)
        return 0;
    if (!t->out_more)
        return strlen(t->out_path) + 1;
    end = t->out_more;
    while (*end)
        end += strlen(end) + 1;
    return (size_t)(end + 1 - t->out_path);
}

size_t
run_task_pack(const struct task *t, unsigned char **buf, size_t *cap)
{
    struct wire_head h;
    size_t plen = strlen(t->path) + 1, olen = out_extent(t);
    size_t need = sizeof(h) + plen + olen;

    memset(&h, 0, sizeof(h));
    h.size = t->size;
    h.mtime_ns = t->mtime_ns;
    h.dev = t->dev;
    h.ino = t->ino;
    h.nlink = t->nlink;
    h.root_index = t->root_index;
    h.open_follow = t->open_follow;
    h.path_len = (uint32_t)plen;
    h.rel_off = t->rel ? (uint32_t)(t->rel - t->path) : NO_OFF;
    h.out_len = (uint32_t)olen;
    h.out_rel_off = t->out_rel ? (uint32_t)(t->out_rel - t->out_path)
                               : NO_OFF;
    h.more_off = t->out_more ? (uint32_t)(t->out_more - t->out_path)
                             : NO_OFF;
    if (need > *cap) {
        *cap = need * 2;
        *buf = xrealloc(*buf, *cap);
    }
    memcpy(*buf, &h, sizeof(h));
    memcpy(*buf + sizeof(h), t->path, plen);
    if (olen)
        memcpy(*buf + sizeof(h) + plen, t->out_path, olen);
    return need;
}

/* An offset into a string of @len bytes (with its NUL), or NO_OFF. */
static int
off_ok(uint32_t off, uint32_t len)
{
    return off == NO_OFF || off < len;
}

int
run_task_unpack(const void *req, size_t len, struct task *t)
{
    const unsigned char *p = req;
    struct wire_head h;
    char *path, *out;

    if (len < sizeof(h))
        return -1;
    memcpy(&h, p, sizeof(h));
    if (h.path_len == 0 || (size_t)h.path_len + h.out_len != len - sizeof(h) ||
        !off_ok(h.rel_off, h.path_len) || !off_ok(h.out_rel_off, h.out_len) ||
        !off_ok(h.more_off, h.out_len))
        return -1;
    /* The strings are read where they lie: the request is the worker's
     * own buffer until the next task. */
    path = (char *)(p + sizeof(h));
    out = h.out_len ? path + h.path_len : NULL;
    if (path[h.path_len - 1] != '\0' || (out && out[h.out_len - 1] != '\0'))
        return -1;
    /* The out_more list must end with its empty string inside the blob,
     * so task_out_rel() stops there. */
    if (out && h.more_off != NO_OFF && h.more_off != h.out_len - 1 &&
        out[h.out_len - 2] != '\0')
        return -1;
    memset(t, 0, sizeof(*t));
    t->path = path;
    t->rel = h.rel_off != NO_OFF ? path + h.rel_off : NULL;
    t->out_path = out;
    t->out_rel = out && h.out_rel_off != NO_OFF ? out + h.out_rel_off : NULL;
    t->out_more = out && h.more_off != NO_OFF ? out + h.more_off : NULL;
    t->size = h.size;
    t->mtime_ns = h.mtime_ns;
    t->dev = h.dev;
    t->ino = h.ino;
    t->nlink = h.nlink;
    t->root_index = h.root_index;
    t->open_follow = h.open_follow;
    t->pre_status = TASK_OK;
    t->pre_class = ERR_NONE;
    return 0;
}

void
run_task_outcome(const struct pool_done *d, const struct run_task_limits *lim,
                 struct task_result *r)
{
    switch (d->end) {
    case POOL_END_RESULT:
        if (d->result_len == sizeof(*r)) {
            memcpy(r, d->result, sizeof(*r));
            r->id = d->id;
            r->message[sizeof(r->message) - 1] = '\0';
            r->warning[sizeof(r->warning) - 1] = '\0';
            return;
        }
        task_result_set(r, d->id, TASK_FAILED, ERR_INTERNAL,
                        "result of the wrong size from a worker");
        break;
    case POOL_END_ABORTED:
        task_result_set(r, d->id, TASK_FAILED, ERR_INTERRUPTED,
                        "aborted by a second signal");
        break;
    case POOL_END_TIMEOUT:
        task_result_set(r, d->id, TASK_FAILED, ERR_TIMEOUT,
                        "still running after %.0f s; worker killed",
                        lim->timeout_s);
        break;
    case POOL_END_MEMORY:
        task_result_set(r, d->id, TASK_FAILED, ERR_OUT_OF_MEMORY,
                        "%s, under its %ld MB memory cap (--max-memory)",
                        d->why, lim->max_memory_mb);
        break;
    case POOL_END_INTERRUPTED:
        task_result_set(r, d->id, TASK_SKIPPED, ERR_INTERRUPTED,
                        "not started: the run was interrupted");
        return;
    case POOL_END_NO_WORKER:
        task_result_set(r, d->id, TASK_FAILED, ERR_INTERNAL,
                        "no worker could be initialised");
        return;
    case POOL_END_CRASHED:
    default:
        task_result_set(r, d->id, TASK_FAILED, ERR_WORKER_CRASHED, "%s",
                        d->why);
        break;
    }
    r->usec = d->usec;
}
