/*
 * state_peek.c - read the state database without touching it.  See
 * state_peek.h; the schema is state.c's (table "outputs").
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <sqlite3.h>
#include "hashset.h"
#include "names.h"
#include "state_peek.h"
#include "util.h"

struct peek_row {
    char *out_rel, *input_abs;
    int64_t in_size, in_mtime_ns, out_size, out_mtime_ns;
    uint64_t in_dev, in_ino, fingerprint;
};

struct state_peek {
    char *out_dir;
    struct peek_row *rows;
    size_t n, alloc;
    struct hashset set;    /* out_rel -> index into rows */
};

static int
row_eq(uint32_t value, const void *key, void *ctx)
{
    const struct state_peek *p = ctx;

    return strcmp(p->rows[value].out_rel, key) == 0;
}

/* "file:" URI of @path with immutable=1; every byte that is not plainly
 * safe is %-escaped.  Caller frees. */
static char *
immutable_uri(const char *path)
{
    static const char tail[] = "?immutable=1";
    char *uri = xmalloc(5 + 3 * strlen(path) + sizeof(tail)), *o = uri;
    const unsigned char *s;

    memcpy(o, "file:", 5);
    o += 5;
    for (s = (const unsigned char *)path; *s; s++) {
        if ((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
            (*s >= '0' && *s <= '9') || strchr("/-_.~", *s))
            *o++ = (char)*s;
        else
            o += sprintf(o, "%%%02X", *s);
    }
    memcpy(o, tail, sizeof(tail));
    return uri;
}

static void
add_row(struct state_peek *p, sqlite3_stmt *q)
{
    const char *out = (const char *)sqlite3_column_text(q, 0);
    const char *in = (const char *)sqlite3_column_text(q, 1);
    struct peek_row *r;

    if (!out || !in || p->n >= UINT32_MAX - 1)
        return;
    if (p->n == p->alloc) {
        p->alloc = p->alloc ? 2 * p->alloc : 256;
        p->rows = xrealloc(p->rows, p->alloc * sizeof(*p->rows));
    }
    r = &p->rows[p->n];
    r->out_rel = xstrdup(out);
    r->input_abs = xstrdup(in);
    r->in_size = sqlite3_column_int64(q, 2);
    r->in_mtime_ns = sqlite3_column_int64(q, 3);
    r->in_dev = (uint64_t)sqlite3_column_int64(q, 4);
    r->in_ino = (uint64_t)sqlite3_column_int64(q, 5);
    r->fingerprint = (uint64_t)sqlite3_column_int64(q, 6);
    r->out_size = sqlite3_column_int64(q, 7);
    r->out_mtime_ns = sqlite3_column_int64(q, 8);
    if (hashset_insert(&p->set, hashset_hash(out, strlen(out)),
                       (uint32_t)p->n, out, row_eq, p, NULL) ==
        HASHSET_ADDED) {
        p->n++;
        return;
    }
    free(r->out_rel);
    free(r->input_abs);
}

struct state_peek *
state_peek_open(const char *output_dir, int shard_k, int shard_n)
{
    struct state_peek *p;
    sqlite3 *db = NULL;
    sqlite3_stmt *q = NULL;
    char *path = names_state_db_path(output_dir, shard_k, shard_n), *uri;
    struct stat sb;
    int rc;

    if (!path || lstat(path, &sb) < 0 || !S_ISREG(sb.st_mode)) {
        free(path);
        return NULL;
    }
    uri = immutable_uri(path);
    free(path);
    p = xcalloc(1, sizeof(*p));
    p->out_dir = xstrdup(output_dir);
    hashset_init(&p->set);
    rc = sqlite3_open_v2(uri, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI,
                         NULL);
    free(uri);
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v2(db, "SELECT out_rel, input_abs, in_size,"
                                " in_mtime_ns, in_dev, in_ino, fingerprint,"
                                " out_size, out_mtime_ns FROM outputs",
                                -1, &q, NULL);
    while (rc == SQLITE_OK && sqlite3_step(q) == SQLITE_ROW)
        add_row(p, q);    /* a read error only ends the rows early */
    sqlite3_finalize(q);
    sqlite3_close(db);
    return p;
}

long
state_peek_names(const struct state_peek *p,
                 void (*cb)(void *data, const char *out_rel,
                            const char *input_abs),
                 void *data)
{
    size_t i;

    for (i = 0; p && i < p->n; i++)
        cb(data, p->rows[i].out_rel, p->rows[i].input_abs);
    return p ? (long)p->n : 0;
}

int
state_peek_up_to_date(const struct state_peek *p, const struct task *t,
                      const char *abs, uint64_t fingerprint)
{
    const struct peek_row *r;
    char path[PATH_MAX * 2];
    struct stat sb;
    uint32_t idx;

    if (!p || !t->out_rel)
        return 0;
    idx = hashset_find(&p->set, hashset_hash(t->out_rel, strlen(t->out_rel)),
                       t->out_rel, row_eq, (void *)p);
    if (idx == HASHSET_NONE)
        return 0;
    r = &p->rows[idx];
    if (strcmp(r->input_abs, abs) != 0 || r->in_size != t->size ||
        r->in_mtime_ns != t->mtime_ns || r->in_dev != t->dev ||
        r->in_ino != t->ino || r->fingerprint != fingerprint)
        return 0;
    if (snprintf(path, sizeof(path), "%s/%s", p->out_dir, t->out_rel) >=
        (int)sizeof(path))
        return 0;
    return lstat(path, &sb) == 0 && S_ISREG(sb.st_mode) &&
           (int64_t)sb.st_size == r->out_size &&
           (int64_t)sb.st_mtim.tv_sec * 1000000000 + sb.st_mtim.tv_nsec ==
               r->out_mtime_ns;
}

void
state_peek_close(struct state_peek *p)
{
    size_t i;

    if (!p)
        return;
    for (i = 0; i < p->n; i++) {
        free(p->rows[i].out_rel);
        free(p->rows[i].input_abs);
    }
    free(p->rows);
    hashset_release(&p->set);
    free(p->out_dir);
    free(p);
}
