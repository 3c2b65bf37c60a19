/*
 * scan_entry.c - what the scan makes of one entry: classified by its
 * extension or its first bytes, filtered by --include/--exclude and the
 * shard, counted, and appended to the list as a task (scan_int.h).
 *
 * The walk (scan_walk.c) and the roots and --files-from (scan.c) call it;
 * it calls neither, so the three files form no circle.  Special files are
 * never opened: a FIFO named like an image becomes a skipped task instead
 * of a worker blocked forever in open().
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

/* Prefix of the temporary files our own atomic writes leave behind. */
#define SCAN_TMP_PREFIX IMGPOOL_TMP_PREFIX

static const char *const image_exts[] = {
    "jpg", "jpeg", "jpe", "jfif", "jif",
    "png", "gif", "webp", "svg",
    "tif", "tiff",
    "heic", "heif", "hif", "avif",
    "bmp", "dib",
    "jp2", "j2k", "j2c", "jpf", "jpx", "jxl",
    "psd", "psb",
    "pbm", "pgm", "ppm", "pnm", "pam", "pfm",
    "exr", "hdr", "qoi", "ico",
};

int
scan_shard_of(const char *rel, int n)
{
    return (int)(XXH3_64bits(rel, strlen(rel)) % (uint64_t)n);
}

/* ------------------------------------------------------------------------
 * Files reached twice (follow_symlinks): a hashset over the task list.
 */

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
int
scan_filtered(const struct scan_opts *o, const char *rel)
{
    if (matches_any(o->excludes, o->nexcludes, rel))
        return 1;
    return o->nincludes > 0 && !matches_any(o->includes, o->nincludes, rel);
}

/*
 * Does an exclude pattern name the directory at @rel, as "rel" or as
 * "rel/"?  ('*' matches the empty string, so a pattern written for
 * everything below the directory prunes it as well as one naming it.)
 * The answer goes to *excluded.  Always 0 (out of memory ends the run).
 */
int
scan_dir_excluded(struct scan_ctx *c, const char *rel, int *excluded)
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
        char *p = xrealloc(c->dirbuf, size);

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

const char SCAN_MSG_BACKUP[] =
    "below a backup folder (" IMGPOOL_BACKUP_MARKER "): a backup is never "
    "an input";

int
scan_backup_above(struct scan_ctx *c, const char *dir, size_t len)
{
    char *real, *copy;
    int fd, marked = 0;
    size_t n;

    copy = xstrndup(len ? dir : ".", len ? len : 1);
    if (c->above_dir && strcmp(c->above_dir, copy) == 0) {
        free(copy);
        return c->above_marked;
    }
    free(c->above_dir);
    c->above_dir = copy;
    real = realpath(copy, NULL);
    /* From the directory up to "/", one open each, never following. */
    for (n = real ? strlen(real) : 0; real;) {
        real[n] = '\0';
        fd = open(n ? real : "/", O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
                                      O_CLOEXEC);
        if (fd >= 0) {
            marked = names_is_backup_dir(fd);
            close(fd);
        }
        if (marked || n <= 1)
            break;
        while (n > 0 && real[n - 1] != '/')
            n--;
        if (n > 1)
            n--;
    }
    free(real);
    c->above_marked = marked;
    return marked;
}

/*
 * Append a task for @path (@pathlen bytes), whose part below the root
 * starts at @rel.  Copies the path.  0, or -1 after errorf() (a list too
 * long to hold).
 */
int
scan_add_task(struct scan_ctx *c, const char *path, size_t pathlen,
         const char *rel, const struct stat *st, enum task_status pre,
         enum err_class cls, const char *msg)
{
    struct scan_list *l = c->l;
    struct task *t;
    char *copy;

    if (l->n == l->alloc) {
        size_t alloc = l->alloc != 0 ? l->alloc * 2 : 1024;
        struct task *p;

        if (alloc > SIZE_MAX / sizeof(*p)) {
            errorf("cannot list '%.*s': %s", (int)pathlen, path,
                   strerror(ENOMEM));
            return -1;
        }
        p = xrealloc(l->tasks, alloc * sizeof(*p));
        l->tasks = p;
        l->alloc = alloc;
    }
    copy = xmalloc(pathlen + 1);
    memcpy(copy, path, pathlen);
    copy[pathlen] = '\0';
    if (c->in_backup && pre == TASK_OK) {
        pre = TASK_SKIPPED;
        cls = ERR_BACKUP;
        msg = SCAN_MSG_BACKUP;
    }

    t = &l->tasks[l->n++];
    memset(t, 0, sizeof(*t));
    t->path = copy;
    t->rel = copy + (rel - path);
    t->out_path = NULL;
    t->size = (int64_t)st->st_size;
    t->mtime_ns = mtime_ns(st);
    t->dev = (uint64_t)st->st_dev;
    t->ino = (uint64_t)st->st_ino;
    t->nlink = (uint32_t)st->st_nlink;
    t->root_index = c->root_index;
    t->open_follow = c->open_follow;
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
 * Read the first bytes of the regular file @name in @dirfd (@path in
 * messages) to see whether it is an image; *is_image says (0 for anything
 * else, including a file that stopped being a regular file).  @nofollow
 * refuses a symlink swapped in since the walk saw the name.  *st is
 * refreshed from the open descriptor.  Returns 0, or -1 when the file
 * cannot be read (reported with warnf()).
 */
static int
sniff_file(int dirfd, const char *name, const char *path, int nofollow,
           struct stat *st, int *is_image)
{
    unsigned char buf[SNIFF_BYTES];
    size_t got = 0;
    int flags = O_RDONLY | O_NONBLOCK | O_CLOEXEC;
    int fd, ret = 0;

    *is_image = 0;
    if (nofollow)
        flags |= O_NOFOLLOW;
    fd = openat(dirfd, name, flags);
    if (fd < 0) {
        if (errno == ELOOP || errno == ENOENT)
            return 0;    /* changed under us: no longer a regular file */
        warnf("cannot open '%s': %s", msg_name(path), strerror(errno));
        return -1;
    }
    if (fstat(fd, st) < 0) {
        warnf("cannot stat '%s': %s", msg_name(path), strerror(errno));
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
            warnf("cannot read '%s': %s", msg_name(path), strerror(errno));
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
void
scan_count(struct scan_ctx *c, size_t *counter, const char *rel)
{
    if (c->opts->shard_n == 0 ||
        scan_shard_of(rel, c->opts->shard_n) == c->opts->shard_k)
        (*counter)++;
}

/* A symbolic link met below a root in a physical walk: a skipped
 * ERR_SYMLINK task when its name says image or it leads to a directory
 * (a subtree the walk leaves out), ignored otherwise.  0, or -1 when out
 * of memory. */
static int
scan_symlink(struct scan_ctx *c, int dirfd, const char *path, size_t pathlen,
             const char *rel, const char *name, const struct stat *st)
{
    struct stat target;

    if (scan_has_image_ext(name))
        return scan_add_task(c, path, pathlen, rel, st, TASK_SKIPPED, ERR_SYMLINK,
                        "symbolic link not followed (use --follow-symlinks)");
    /* fstatat() only looks at the target: nothing is opened or read. */
    if (fstatat(dirfd, name, &target, 0) == 0 && S_ISDIR(target.st_mode))
        return scan_add_task(c, path, pathlen, rel, st, TASK_SKIPPED, ERR_SYMLINK,
                        "symbolic link to a directory not followed (use "
                        "--follow-symlinks)");
    scan_count(c, &c->l->ignored, rel);
    return 0;
}

/*
 * Decide what the non-directory entry @name in @dirfd (@path, @pathlen
 * bytes, in full) is and record it.  @st is from fstatat() without
 * following for an entry met during a physical walk, following otherwise;
 * @nofollow says which.  Returns 0, or -1 after errorf().
 */
int
scan_entry(struct scan_ctx *c, int dirfd, const char *path, size_t pathlen,
          const char *rel, const char *name, const struct stat *st,
          int nofollow)
{
    struct scan_list *l = c->l;
    struct stat fst;
    int image_ext, is_image, dup;

    if (strncmp(name, SCAN_TMP_PREFIX, sizeof(SCAN_TMP_PREFIX) - 1) == 0) {
        scan_count(c, &l->ignored, rel);
        return 0;
    }
    if (scan_filtered(c->opts, rel)) {
        scan_count(c, &l->excluded, rel);
        return 0;
    }
    image_ext = scan_has_image_ext(name);

    if (S_ISLNK(st->st_mode))
        return scan_symlink(c, dirfd, path, pathlen, rel, name, st);
    if (!S_ISREG(st->st_mode)) {
        if (!image_ext) {
            scan_count(c, &l->ignored, rel);
            return 0;
        }
        return scan_add_task(c, path, pathlen, rel, st, TASK_SKIPPED,
                        ERR_NOT_REGULAR, not_regular_msg(st->st_mode));
    }

    fst = *st;
    if (!image_ext) {
        if (st->st_size == 0) {
            scan_count(c, &l->ignored, rel);
            return 0;
        }
        /* AT_FDCWD: a path the user named, opened as such. */
        if (sniff_file(dirfd, dirfd == AT_FDCWD ? path : name, path,
                       nofollow, &fst, &is_image) < 0) {
            l->walk_errors++;
            return 0;
        }
        if (!is_image) {
            scan_count(c, &l->ignored, rel);
            return 0;
        }
    }
    if (c->opts->follow_symlinks) {
        if (seen_add(c, (uint64_t)fst.st_dev, (uint64_t)fst.st_ino, &dup) < 0) {
            errorf("cannot list '%s': %s", path, strerror(errno));
            return -1;
        }
        if (dup)        /* the same file, reached again through a link */
            return scan_add_task(c, path, pathlen, rel, &fst, TASK_SKIPPED,
                            ERR_DUPLICATE, "the same file as another input "
                            "(reached again through a link)");
    }
    return scan_add_task(c, path, pathlen, rel, &fst, TASK_OK, ERR_NONE, NULL);
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

