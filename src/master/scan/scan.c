/*
 * scan.c - walk the INPUT roots and list the files worth a worker's time.
 *
 * A root that is a directory is opened once, as the user named it; below
 * it every directory is opened from its parent's descriptor with
 * openat(O_DIRECTORY | O_NOFOLLOW) and read with fdopendir(), and every
 * entry is looked at with fstatat(AT_SYMLINK_NOFOLLOW).  No path string is
 * ever resolved again, so a directory swapped for a symlink during the walk
 * cannot lead it elsewhere and depth is not limited by PATH_MAX (paths are
 * built as we go, for the list and for messages only).  Children are
 * visited in strcmp() order of their names so the same tree always gives
 * the same list.  A symlink found inside a tree is reported, not followed,
 * unless the user asked for --follow-symlinks: then entries are looked at
 * with fstatat() following links, directories are opened without
 * O_NOFOLLOW, the (dev, ino) of the directories being walked turn a link
 * back to one of them into a warned walk error instead of a loop, and a
 * hashset (hashset.h) over the listed tasks' (dev, ino) keeps a file
 * reached by two routes from being listed twice.  A root that is not a
 * directory is handled on its own, which keeps --files-from with many
 * names cheap.
 *
 * A directory that cannot be opened or read (permissions, a symlink
 * swapped in, too many nested directories to hold open) is warned about,
 * counted in walk_errors and listed as a failed task with its path, so it
 * shows in the report instead of vanishing.
 *
 * Each file is classified by its extension first and by its first bytes
 * only when the extension says nothing (sniff.h).  Special files are never
 * opened: a FIFO named like an image becomes a skipped task instead of a
 * worker blocked forever in open().
 *
 * The list has to stay small for trees of a million files: one malloc per
 * path (rel points into it) and the task array itself, nothing else (plus
 * 16-byte hashset slots, at most half full, with --follow-symlinks).
 */
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>
#include <xxhash.h>

#include "hashset.h"
#include "msg.h"
#include "names.h"
#include "scan.h"
#include "scan_int.h"
#include "sniff.h"
#include "util.h"

void
scan_list_init(struct scan_list *l)
{
    memset(l, 0, sizeof(*l));
}

void
scan_list_release(struct scan_list *l)
{
    size_t i;

    for (i = 0; i < l->n; i++) {
        free(l->tasks[i].path);
        free(l->tasks[i].out_path);
    }
    free(l->tasks);
    scan_list_init(l);
}

/* A root that is not a directory: its rel is its base name. */
static int
scan_root_file(struct scan_ctx *c, const char *root, const struct stat *st)
{
    const char *base = strrchr(root, '/');
    int rc;

    base = base != NULL ? base + 1 : root;
    /* Named by the user: followed if a link, as the scan's stat() did. */
    c->open_follow = TASK_FOLLOW_DIRS | TASK_FOLLOW_FILE;
    c->in_backup = scan_backup_above(c, root, (size_t)(base - root));
    rc = scan_entry(c, AT_FDCWD, root, strlen(root), base, base, st, 0);
    c->in_backup = 0;
    return rc < 0 ? -1 : 0;
}

/* @root without trailing slashes ("/" stays "/"), a copy. */
static char *
normalise_root(const char *root)
{
    size_t n = strlen(root);
    char *s;

    while (n > 1 && root[n - 1] == '/')
        n--;
    s = xmalloc(n + 1);
    memcpy(s, root, n);
    s[n] = '\0';
    return s;
}

/* One --files-from entry.  0, or -1 on a fatal problem (reported). */
static int
scan_listed(struct scan_ctx *c, char *entry, size_t len)
{
    const char *rel = entry, *base;
    struct stat st;
    char *norm;
    int rc;

    while (*rel == '/' || (rel[0] == '.' && rel[1] == '/')) {
        rel += rel[0] == '/' ? 1 : 2;
    }
    if (c->opts->follow_symlinks ? stat(entry, &st) : lstat(entry, &st)) {
        int err = errno;
        memset(&st, 0, sizeof(st));
        if (scan_add_task(c, entry, len, *rel ? rel : entry, &st, TASK_FAILED,
                     ERR_READ, err == ENOENT ? "listed file does not exist"
                                             : "listed file cannot be read")
            < 0)
            return -1;
        return 0;
    }
    if (S_ISDIR(st.st_mode)) {
        norm = normalise_root(entry);
        rc = scan_walk_dir(c, norm);
        free(norm);
        return rc;
    }
    if (*rel == '\0')
        rel = entry;
    /* The entry is named in full by the user: its directories are
     * followed; the file itself only with --follow-symlinks, as above. */
    c->open_follow = TASK_FOLLOW_DIRS |
                     (c->opts->follow_symlinks ? TASK_FOLLOW_FILE : 0);
    base = strrchr(entry, '/') ? strrchr(entry, '/') + 1 : entry;
    c->in_backup = scan_backup_above(c, entry, (size_t)(base - entry));
    rc = scan_entry(c, AT_FDCWD, entry, len, rel, base, &st,
                    !c->opts->follow_symlinks);
    c->in_backup = 0;
    return rc < 0 ? -1 : 0;
}

static int
scan_files_from(struct scan_ctx *c)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int delim = c->opts->files_from_nul ? '\0' : '\n', rc = 0;

    c->root_index = (int)c->opts->nroots;
    while (rc == 0) {
        n = getdelim(&line, &cap, delim, c->opts->files_from);
        if (n <= 0)
            break;
        if (line[n - 1] == delim)
            line[--n] = '\0';
        if (n == 0)
            continue;
        if (memchr(line, '\0', (size_t)n)) {
            warnf("--files-from entry with a NUL byte ignored (use -0 for "
                  "NUL-separated lists)");
            c->l->walk_errors++;
            continue;
        }
        rc = scan_listed(c, line, (size_t)n);
    }
    if (rc == 0 && ferror(c->opts->files_from)) {
        errorf("cannot read the --files-from list: %s", strerror(errno));
        rc = -1;
    }
    free(line);
    return rc;
}

int
scan_check_roots(const char *const *roots, size_t n)
{
    struct stat st;
    size_t i;
    int ret = 0;

    for (i = 0; i < n; i++) {
        if (stat(roots[i], &st) < 0) {
            errorf("cannot read '%s': %s", roots[i], strerror(errno));
            ret = -1;
        }
    }
    return ret;
}

int
scan_run(const struct scan_opts *opts, struct scan_list *l)
{
    struct scan_ctx c;
    struct stat st;
    size_t i;
    int ret = 0;

    /* Every root first: a typo in the last one should not cost a walk. */
    if (scan_check_roots(opts->roots, opts->nroots) < 0)
        return -1;

    memset(&c, 0, sizeof(c));
    hashset_init(&c.seen);
    c.opts = opts;
    c.l = l;
    for (i = 0; i < opts->nroots && ret == 0; i++) {
        const char *root = opts->roots[i];
        char *norm;

        c.root_index = (int)i;
        if (stat(root, &st) < 0) {
            errorf("cannot read '%s': %s", root, strerror(errno));
            ret = -1;
            break;
        }
        if (!S_ISDIR(st.st_mode)) {
            ret = scan_root_file(&c, root, &st);
            continue;
        }
        norm = normalise_root(root);
        ret = scan_walk_dir(&c, norm);
        free(norm);
    }

    if (ret == 0 && opts->files_from)
        ret = scan_files_from(&c);

    /* Give back the slack of the last doubling. */
    if (l->n > 0 && l->n < l->alloc) {
        struct task *p = realloc(l->tasks, l->n * sizeof(*p));

        if (p != NULL) {
            l->tasks = p;
            l->alloc = l->n;
        }
    }
    hashset_release(&c.seen);
    free(c.dirbuf);
    free(c.above_dir);
    free(c.path);
    free(c.stack);
    return ret;
}
