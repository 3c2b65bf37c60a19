/*
 * scan.c - walk the INPUT roots and list the files worth a worker's time.
 *
 * A root that is a directory is walked with fts(3), children in strcmp()
 * order of their names so the same tree always gives the same list.  The
 * walk is physical: a symlink found inside a tree is reported, not followed,
 * unless the user asked for --follow-symlinks, in which case fts runs in
 * logical mode (its cycle check turns a loop into one FTS_DC entry) and a
 * hashset (hashset.h) over the listed tasks' (dev, ino) keeps a file
 * reached by two routes from being listed twice.  A root that is not a directory is handled on its own,
 * without fts, which keeps --files-from with many names cheap.
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
#include <fts.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>
#include <xxhash.h>

#include "hashset.h"
#include "msg.h"
#include "scan.h"
#include "sniff.h"

/* Prefix of the temporary files our own atomic writes leave behind. */
#define SCAN_TMP_PREFIX ".imgpool-tmp-"

static const char *const image_exts[] = {
    "jpg", "jpeg", "jpe", "jfif", "jif",
    "png", "gif", "webp",
    "tif", "tiff",
    "heic", "heif", "hif", "avif",
    "bmp", "dib",
    "jp2", "j2k", "j2c", "jpf", "jpx", "jxl",
    "psd", "psb",
    "pbm", "pgm", "ppm", "pnm", "pam", "pfm",
    "exr", "hdr", "qoi", "ico",
};

struct scan_ctx {
    const struct scan_opts *opts;
    struct scan_list *l;
    int root_index;
    size_t rel_off;          /* offset of rel within an fts path */
    /* With follow_symlinks: the tasks already listed, by (dev, ino).  The
     * values are indices into l->tasks, whose dev and ino are the keys, so
     * the set costs its slots and nothing else. */
    struct hashset seen;
    char *dirbuf;            /* scratch for "rel/" when pruning */
    size_t dirbuf_size;
};

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

int
scan_has_image_ext(const char *name)
{
    const char *base = strrchr(name, '/');
    const char *dot;
    char ext[8];
    size_t n, i;

    base = base != NULL ? base + 1 : name;
    dot = strrchr(base, '.');
    /* ".jpg" alone is a hidden file without an extension. */
    if (dot == NULL || dot == base)
        return 0;
    n = strlen(dot + 1);
    if (n == 0 || n >= sizeof(ext))
        return 0;
    for (i = 0; i < n; i++) {
        char ch = dot[1 + i];
        ext[i] = ch >= 'A' && ch <= 'Z' ? (char)(ch - 'A' + 'a') : ch;
    }
    ext[n] = '\0';
    for (i = 0; i < sizeof(image_exts) / sizeof(image_exts[0]); i++) {
        if (strcmp(ext, image_exts[i]) == 0)
            return 1;
    }
    return 0;
}

/* ------------------------------------------------------------------------
 * Files reached twice (follow_symlinks): a hashset over the task list.
 */

struct scan_devino {
    uint64_t dev, ino;
};

static int
seen_eq(uint32_t value, const void *key, void *ctx)
{
    const struct task *t = &((const struct scan_list *)ctx)->tasks[value];
    const struct scan_devino *k = key;

    return t->dev == k->dev && t->ino == k->ino;
}

/*
 * Note that the task about to be appended to the list (index l->n) is the
 * file (@dev, @ino).  *dup is set to 1 when an earlier task already is that
 * file (the set is then unchanged), to 0 otherwise.  0, or -1 when out of
 * memory (errno ENOMEM).
 */
static int
seen_add(struct scan_ctx *c, uint64_t dev, uint64_t ino, int *dup)
{
    struct scan_devino key = { dev, ino };
    int r;

    if (c->l->n >= HASHSET_NONE) {
        errno = ENOMEM;
        return -1;
    }
    r = hashset_insert(&c->seen, hashset_hash2(dev, ino), (uint32_t)c->l->n,
                       &key, seen_eq, c->l, NULL);
    if (r < 0)
        return -1;
    *dup = r == HASHSET_PRESENT;
    return 0;
}

/* ------------------------------------------------------------------------
 * Filters
 */

static int
matches_any(const char *const *pats, size_t n, const char *s)
{
    size_t i;

    for (i = 0; i < n; i++) {
        if (fnmatch(pats[i], s, 0) == 0)
            return 1;
    }
    return 0;
}

/* True when --include/--exclude drop the file at @rel. */
static int
file_filtered(const struct scan_opts *o, const char *rel)
{
    if (matches_any(o->excludes, o->nexcludes, rel))
        return 1;
    return o->nincludes > 0 && !matches_any(o->includes, o->nincludes, rel);
}

/*
 * Does an exclude pattern name the directory at @rel, as "rel" or as
 * "rel/"?  ('*' matches the empty string, so a pattern written for
 * everything below the directory prunes it as well as one naming it.)
 * The answer goes to *excluded.  0, or -1 when out of memory.
 */
static int
dir_excluded(struct scan_ctx *c, const char *rel, int *excluded)
{
    const struct scan_opts *o = c->opts;
    size_t n = strlen(rel);

    *excluded = 0;
    if (o->nexcludes == 0)
        return 0;
    if (matches_any(o->excludes, o->nexcludes, rel)) {
        *excluded = 1;
        return 0;
    }
    if (n + 2 > c->dirbuf_size) {
        size_t size = n + 64;
        char *p = realloc(c->dirbuf, size);

        if (p == NULL)
            return -1;
        c->dirbuf = p;
        c->dirbuf_size = size;
    }
    memcpy(c->dirbuf, rel, n);
    c->dirbuf[n] = '/';
    c->dirbuf[n + 1] = '\0';
    *excluded = matches_any(o->excludes, o->nexcludes, c->dirbuf);
    return 0;
}

/* ------------------------------------------------------------------------
 * Building tasks
 */

static int64_t
mtime_ns(const struct stat *st)
{
    return (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
}

/*
 * Append a task for @path (@pathlen bytes), whose part below the root
 * starts at @rel.  Copies the path.  0, or -1 when out of memory.
 */
static int
add_task(struct scan_ctx *c, const char *path, size_t pathlen,
         const char *rel, const struct stat *st, enum task_status pre,
         enum err_class cls, const char *msg)
{
    struct scan_list *l = c->l;
    struct task *t;
    char *copy;

    if (l->n == l->alloc) {
        size_t alloc = l->alloc != 0 ? l->alloc * 2 : 1024;
        struct task *p;

        if (alloc > SIZE_MAX / sizeof(*p))
            return -1;
        p = realloc(l->tasks, alloc * sizeof(*p));
        if (p == NULL)
            return -1;
        l->tasks = p;
        l->alloc = alloc;
    }
    copy = malloc(pathlen + 1);
    if (copy == NULL)
        return -1;
    memcpy(copy, path, pathlen);
    copy[pathlen] = '\0';

    t = &l->tasks[l->n++];
    memset(t, 0, sizeof(*t));
    t->path = copy;
    t->rel = copy + (rel - path);
    t->out_path = NULL;
    t->size = (int64_t)st->st_size;
    t->mtime_ns = mtime_ns(st);
    t->dev = (uint64_t)st->st_dev;
    t->ino = (uint64_t)st->st_ino;
    t->root_index = c->root_index;
    t->pre_status = pre;
    t->pre_class = cls;
    t->pre_msg = msg;
    return 0;
}

static const char *
not_regular_msg(mode_t mode)
{
    if (S_ISFIFO(mode))
        return "not a regular file (fifo)";
    if (S_ISCHR(mode))
        return "not a regular file (character device)";
    if (S_ISBLK(mode))
        return "not a regular file (block device)";
    if (S_ISSOCK(mode))
        return "not a regular file (socket)";
    return "not a regular file";
}

/*
 * Read the first bytes of the regular file at @path to see whether it is
 * an image; *is_image says (0 for anything else, including a file that
 * stopped being a regular file).  @nofollow refuses a symlink swapped in
 * since the walk saw the name.  *st is refreshed from the open descriptor.
 * Returns 0, or -1 when the file cannot be read (reported with warnf()).
 */
static int
sniff_file(const char *path, int nofollow, struct stat *st, int *is_image)
{
    unsigned char buf[SNIFF_BYTES];
    size_t got = 0;
    int flags = O_RDONLY | O_NONBLOCK | O_CLOEXEC;
    int fd, ret = 0;

    *is_image = 0;
    if (nofollow)
        flags |= O_NOFOLLOW;
    fd = open(path, flags);
    if (fd < 0) {
        if (errno == ELOOP || errno == ENOENT)
            return 0;    /* changed under us: no longer a regular file */
        warnf("cannot open '%s': %s", path, strerror(errno));
        return -1;
    }
    if (fstat(fd, st) < 0) {
        warnf("cannot stat '%s': %s", path, strerror(errno));
        ret = -1;
        goto out;
    }
    if (!S_ISREG(st->st_mode))
        goto out;
    while (got < sizeof(buf)) {
        ssize_t r = read(fd, buf + got, sizeof(buf) - got);

        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            warnf("cannot read '%s': %s", path, strerror(errno));
            ret = -1;
            goto out;
        }
        if (r == 0)
            break;
        got += (size_t)r;
    }
    *is_image = sniff_format(buf, got) != IMGF_UNKNOWN;
out:
    close(fd);
    return ret;
}

/*
 * Count a non-task entry (ignored or excluded).  With --shard every shard
 * sees every entry, so each entry is counted by exactly one shard, chosen
 * by its path, and the shards' counts add up to a single run's.  Tasks
 * themselves are split later, by output path (plan_shard()).
 */
static void
count_entry(struct scan_ctx *c, size_t *counter, const char *rel)
{
    if (c->opts->shard_n == 0 ||
        scan_shard_of(rel, c->opts->shard_n) == c->opts->shard_k)
        (*counter)++;
}

/*
 * Decide what the non-directory entry at @path is and record it.  @st is
 * from lstat() for an entry met during a physical walk, from stat()
 * otherwise; @nofollow says which.  Returns 0, or -1 when out of memory.
 */
static int
scan_file(struct scan_ctx *c, const char *path, size_t pathlen,
          const char *rel, const char *name, const struct stat *st,
          int nofollow)
{
    struct scan_list *l = c->l;
    struct stat fst;
    int image_ext, is_image, dup;

    if (strncmp(name, SCAN_TMP_PREFIX, sizeof(SCAN_TMP_PREFIX) - 1) == 0) {
        count_entry(c, &l->ignored, rel);
        return 0;
    }
    if (file_filtered(c->opts, rel)) {
        count_entry(c, &l->excluded, rel);
        return 0;
    }
    image_ext = scan_has_image_ext(name);

    if (S_ISLNK(st->st_mode)) {
        if (!image_ext) {
            count_entry(c, &l->ignored, rel);
            return 0;
        }
        return add_task(c, path, pathlen, rel, st, TASK_SKIPPED,
                        ERR_NOT_REGULAR,
                        "symbolic link not followed (use --follow-symlinks)");
    }
    if (!S_ISREG(st->st_mode)) {
        if (!image_ext) {
            count_entry(c, &l->ignored, rel);
            return 0;
        }
        return add_task(c, path, pathlen, rel, st, TASK_SKIPPED,
                        ERR_NOT_REGULAR, not_regular_msg(st->st_mode));
    }

    fst = *st;
    if (!image_ext) {
        if (st->st_size == 0) {
            count_entry(c, &l->ignored, rel);
            return 0;
        }
        if (sniff_file(path, nofollow, &fst, &is_image) < 0) {
            l->walk_errors++;
            return 0;
        }
        if (!is_image) {
            count_entry(c, &l->ignored, rel);
            return 0;
        }
    }
    if (c->opts->follow_symlinks) {
        if (seen_add(c, (uint64_t)fst.st_dev, (uint64_t)fst.st_ino, &dup) < 0)
            return -1;
        if (dup)        /* the same file, reached again through a link */
            return add_task(c, path, pathlen, rel, &fst, TASK_SKIPPED,
                            ERR_DUPLICATE, "the same file as another input "
                            "(reached again through a link)");
    }
    return add_task(c, path, pathlen, rel, &fst, TASK_OK, ERR_NONE, NULL);
}

/* ------------------------------------------------------------------------
 * Walking
 */

static int
compar_names(const FTSENT **a, const FTSENT **b)
{
    return strcmp((*a)->fts_name, (*b)->fts_name);
}

/* Report a problem with an fts entry below the root; a root is fatal. */
static int
walk_problem(struct scan_ctx *c, const FTSENT *e, const char *what)
{
    const char *reason = strerror(e->fts_errno);

    if (e->fts_level == FTS_ROOTLEVEL) {
        errorf("cannot read '%s': %s", e->fts_path, reason);
        return -1;
    }
    warnf("%s '%s': %s", what, e->fts_path, reason);
    c->l->walk_errors++;
    return 0;
}

/*
 * A non-directory entry below the root.  fts was opened with FTS_NOSTAT
 * (its per-entry struct stat more than doubles its memory on a directory
 * of a million files), so the one stat() of the file is ours: lstat() in
 * a physical walk, stat() in a logical one.  Returns 0, or -1 when out of
 * memory.
 */
static int
walk_file(struct scan_ctx *c, FTS *fts, FTSENT *e, const char *rel)
{
    int follow = c->opts->follow_symlinks;
    struct stat st;
    int r;

    r = follow ? stat(e->fts_path, &st) : lstat(e->fts_path, &st);
    if (r < 0 && follow && lstat(e->fts_path, &st) == 0 &&
        S_ISLNK(st.st_mode)) {
        /* A link to nothing, or to itself. */
        if (file_filtered(c->opts, rel)) {
            count_entry(c, &c->l->excluded, rel);
            return 0;
        }
        if (!scan_has_image_ext(e->fts_name)) {
            count_entry(c, &c->l->ignored, rel);
            return 0;
        }
        return add_task(c, e->fts_path, e->fts_pathlen, rel, &st,
                        TASK_SKIPPED, ERR_READ, "broken symbolic link");
    }
    if (r < 0) {
        if (errno == ENOENT)
            return 0;    /* gone since fts read the directory */
        warnf("cannot stat '%s': %s", e->fts_path, strerror(errno));
        c->l->walk_errors++;
        return 0;
    }
    if (S_ISDIR(st.st_mode)) {
        /* fts skips the stat when the parent's link count says there are
         * no more subdirectories; on a filesystem that miscounts, make it
         * look again, and it will descend. */
        if (e->fts_info == FTS_NSOK)
            fts_set(fts, e, FTS_AGAIN);
        return 0;
    }
    return scan_file(c, e->fts_path, e->fts_pathlen, rel, e->fts_name, &st,
                     !follow);
}

/*
 * A directory about to be entered: skip it when it is the output directory
 * or an exclude names it.  0, or -1 when out of memory.
 */
static int
walk_enter_dir(struct scan_ctx *c, FTS *fts, FTSENT *e, const char *rel)
{
    struct stat st;
    int excluded;

    if (e->fts_level == FTS_ROOTLEVEL)
        return 0;
    /* FTS_NOSTAT leaves fts_statp unset: one stat per directory. */
    if (c->opts->have_skip_dir && stat(e->fts_path, &st) == 0 &&
        (uint64_t)st.st_dev == c->opts->skip_dev &&
        (uint64_t)st.st_ino == c->opts->skip_ino) {
        notef("not descending into '%s': it is the output directory",
              e->fts_path);
        fts_set(fts, e, FTS_SKIP);
        return 0;
    }
    if (dir_excluded(c, rel, &excluded) < 0)
        return -1;
    if (excluded)
        fts_set(fts, e, FTS_SKIP);
    return 0;
}

/*
 * Walk the directory @root (no trailing slash except for "/").  Returns 0,
 * or -1 on a fatal problem (already reported).
 */
static int
walk_dir(struct scan_ctx *c, const char *root)
{
    char *argv[2];
    int flags = FTS_NOCHDIR | FTS_COMFOLLOW | FTS_NOSTAT;
    size_t rootlen = strlen(root);
    FTS *fts;
    int ret = 0;

    flags |= c->opts->follow_symlinks ? FTS_LOGICAL : FTS_PHYSICAL;
    c->rel_off = root[rootlen - 1] == '/' ? rootlen : rootlen + 1;
    argv[0] = (char *)root;
    argv[1] = NULL;
    fts = fts_open(argv, flags, compar_names);
    if (fts == NULL) {
        errorf("cannot read '%s': %s", root, strerror(errno));
        return -1;
    }

    for (;;) {
        FTSENT *e;
        const char *rel;

        errno = 0;
        e = fts_read(fts);
        if (e == NULL) {
            if (errno != 0) {
                errorf("cannot walk '%s': %s", root, strerror(errno));
                ret = -1;
            }
            break;
        }
        rel = e->fts_level > FTS_ROOTLEVEL ? e->fts_path + c->rel_off : "";

        switch (e->fts_info) {
        case FTS_D:
            if (walk_enter_dir(c, fts, e, rel) < 0)
                goto oom;
            break;
        case FTS_DP:
        case FTS_DOT:
            break;
        case FTS_DC:
            warnf("cannot descend into '%s': directory cycle back to '%.*s'",
                  e->fts_path, (int)e->fts_cycle->fts_pathlen,
                  e->fts_cycle->fts_path);
            c->l->walk_errors++;
            break;
        case FTS_DNR:
            if (walk_problem(c, e, "cannot read directory") < 0)
                ret = -1;
            break;
        case FTS_NS:
            if (walk_problem(c, e, "cannot stat") < 0)
                ret = -1;
            break;
        case FTS_ERR:
            if (walk_problem(c, e, "cannot read") < 0)
                ret = -1;
            break;
        default:    /* FTS_NSOK, FTS_F, FTS_SL, FTS_SLNONE, FTS_DEFAULT */
            if (walk_file(c, fts, e, rel) < 0)
                goto oom;
            break;
        }
        if (ret < 0)
            break;
    }
    fts_close(fts);
    return ret;

oom:
    errorf("cannot list '%s': %s", root, strerror(ENOMEM));
    fts_close(fts);
    return -1;
}

/* A root that is not a directory: its rel is its base name. */
static int
scan_root_file(struct scan_ctx *c, const char *root, const struct stat *st)
{
    const char *base = strrchr(root, '/');

    base = base != NULL ? base + 1 : root;
    if (scan_file(c, root, strlen(root), base, base, st, 0) < 0) {
        errorf("cannot list '%s': %s", root, strerror(ENOMEM));
        return -1;
    }
    return 0;
}

/* @root without trailing slashes ("/" stays "/"); NULL when out of memory. */
static char *
normalise_root(const char *root)
{
    size_t n = strlen(root);
    char *s;

    while (n > 1 && root[n - 1] == '/')
        n--;
    s = malloc(n + 1);
    if (s == NULL)
        return NULL;
    memcpy(s, root, n);
    s[n] = '\0';
    return s;
}

int
scan_shard_of(const char *rel, int n)
{
    return (int)(XXH3_64bits(rel, strlen(rel)) % (uint64_t)n);
}

/* One --files-from entry.  0, or -1 on a fatal problem (reported). */
static int
scan_listed(struct scan_ctx *c, char *entry, size_t len)
{
    const char *rel = entry;
    struct stat st;
    char *norm;
    int rc;

    while (*rel == '/' || (rel[0] == '.' && rel[1] == '/')) {
        rel += rel[0] == '/' ? 1 : 2;
    }
    if (c->opts->follow_symlinks ? stat(entry, &st) : lstat(entry, &st)) {
        int err = errno;
        memset(&st, 0, sizeof(st));
        if (add_task(c, entry, len, *rel ? rel : entry, &st, TASK_FAILED,
                     ERR_READ, err == ENOENT ? "listed file does not exist"
                                             : "listed file cannot be read")
            < 0)
            goto oom;
        return 0;
    }
    if (S_ISDIR(st.st_mode)) {
        norm = normalise_root(entry);
        if (norm == NULL)
            goto oom;
        rc = walk_dir(c, norm);
        free(norm);
        return rc;
    }
    if (*rel == '\0')
        rel = entry;
    if (scan_file(c, entry, len, rel,
                  strrchr(entry, '/') ? strrchr(entry, '/') + 1 : entry, &st,
                  !c->opts->follow_symlinks) < 0)
        goto oom;
    return 0;
oom:
    errorf("cannot list '%s': %s", entry, strerror(ENOMEM));
    return -1;
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
scan_run(const struct scan_opts *opts, struct scan_list *l)
{
    struct scan_ctx c;
    struct stat st;
    size_t i;
    int ret = 0;

    /* Every root first: a typo in the last one should not cost a walk. */
    for (i = 0; i < opts->nroots; i++) {
        const char *root = opts->roots[i];

        if (stat(root, &st) < 0) {
            errorf("cannot read '%s': %s", root, strerror(errno));
            ret = -1;
        }
    }
    if (ret < 0)
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
        if (norm == NULL) {
            errorf("cannot list '%s': %s", root, strerror(ENOMEM));
            ret = -1;
            break;
        }
        ret = walk_dir(&c, norm);
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
    return ret;
}
