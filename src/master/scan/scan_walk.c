/*
 * scan_walk.c - the directory walk of the scan, through descriptors only;
 * see scan.h for what is listed and scan_int.h for the shared parts.
 *
 * Each directory below a root is opened from its parent's descriptor with
 * openat(O_DIRECTORY | O_NOFOLLOW, or following links with
 * --follow-symlinks), checked to be the directory fstatat() saw, read
 * whole with fdopendir() on a duplicate and sorted; its entries are looked
 * at with fstatat() relative to it.  One descriptor per level is held
 * while below it (SCAN_MAX_DEPTH levels at most).  The path of the entry
 * at hand is built in one growing buffer, for the list and messages only.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "msg.h"
#include "names.h"
#include "scan.h"
#include "scan_int.h"
#include "util.h"

/* ------------------------------------------------------------------------
 * Walking
 */

/* Make room for @extra more bytes (and a NUL) in the path buffer (out of
 * memory ends the run, util.h). */
static void
path_reserve(struct scan_ctx *c, size_t extra)
{
    size_t need = c->path_len + extra + 1, size;

    if (need <= c->path_size)
        return;
    size = c->path_size != 0 ? c->path_size : 256;
    while (size < need)
        size *= 2;
    c->path = xrealloc(c->path, size);
    c->path_size = size;
}

/* Static text for a directory that cannot be walked (pre_msg outlives
 * strerror()'s buffer). */
static const char *
walk_error_msg(int err)
{
    switch (err) {
    case EACCES:
    case EPERM:
        return "cannot read directory: permission denied";
    case ELOOP:
    case ENOTDIR:
        return "directory replaced by a symbolic link or a file during the "
               "walk; not followed";
    case EMFILE:
    case ENFILE:
        return "cannot open directory: too deep (no file descriptor left)";
    case ENAMETOOLONG:
        return "cannot open directory: name too long";
    case ENOMEM:
        return "cannot read directory: out of memory";
    default:
        return "cannot read directory";
    }
}

/*
 * The entry at c->path cannot be walked (@err): warned, counted and listed
 * as a failed task whose message is @msg (static) or, when NULL, says why
 * a directory could not be walked, so the report shows it.  0, or -1 after
 * errorf().
 */
static int
walk_failed(struct scan_ctx *c, const char *what, int err, const char *msg)
{
    struct stat none;

    warnf("%s '%s': %s", what, msg_name(c->path), strerror(err));
    c->l->walk_errors++;
    memset(&none, 0, sizeof(none));
    return scan_add_task(c, c->path, c->path_len, c->path + c->rel_off, &none,
                    TASK_FAILED, ERR_READ,
                    msg != NULL ? msg : walk_error_msg(err));
}

static int
compar_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The names in the directory open on @fd, sorted by strcmp(): one malloc'ed
 * block of NUL-terminated names (*buf) and an array of pointers into it
 * (*names, *n of them).  @fd stays open.  0, or -1 with errno. */
static int
read_names(int fd, char **buf, char ***names, size_t *n)
{
    size_t len = 0, size = 4096, count = 0, i;
    char *b = xmalloc(size), *p;
    char **v;
    struct dirent *de;
    DIR *d = NULL;
    int dfd = fcntl(fd, F_DUPFD_CLOEXEC, 0), err;

    if (dfd >= 0)
        d = fdopendir(dfd);
    if (d == NULL) {
        err = errno;
        if (dfd >= 0)
            close(dfd);
        free(b);
        errno = err;
        return -1;
    }
    for (;;) {
        size_t k;

        errno = 0;
        de = readdir(d);
        if (de == NULL)
            break;
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        k = strlen(de->d_name) + 1;
        if (len + k > size) {
            while (len + k > size)
                size *= 2;
            p = xrealloc(b, size);
            b = p;
        }
        memcpy(b + len, de->d_name, k);
        len += k;
        count++;
    }
    err = errno;
    closedir(d);
    if (err != 0) {
        free(b);
        errno = err;
        return -1;
    }
    v = xmalloc((count + 1) * sizeof(*v));
    for (i = 0, p = b; i < count; i++, p += strlen(p) + 1)
        v[i] = p;
    qsort(v, count, sizeof(*v), compar_names);
    *buf = b;
    *names = v;
    *n = count;
    return 0;
}

static int walk_children(struct scan_ctx *c, int fd);

/* True when (@st) is a directory being walked: a link back to an
 * ancestor (only possible when following links). */
static int
is_ancestor(const struct scan_ctx *c, const struct stat *st, size_t *which)
{
    size_t i;

    for (i = 0; i < c->depth; i++) {
        if (c->stack[i].dev == (uint64_t)st->st_dev &&
            c->stack[i].ino == (uint64_t)st->st_ino) {
            *which = i;
            return 1;
        }
    }
    return 0;
}

/* Push (@st) on the stack of directories being walked. */
static void
push_dir(struct scan_ctx *c, const struct stat *st)
{
    if (c->depth == c->stack_size) {
        size_t size = c->stack_size != 0 ? c->stack_size * 2 : 64;

        c->stack = xrealloc(c->stack, size * sizeof(*c->stack));
        c->stack_size = size;
    }
    c->stack[c->depth].dev = (uint64_t)st->st_dev;
    c->stack[c->depth].ino = (uint64_t)st->st_ino;
    c->depth++;
}

/* The path of the @k-th directory being walked, for a message: the prefix
 * of c->path up to its @k-th '/' after the root. */
static int
ancestor_len(const struct scan_ctx *c, size_t k)
{
    size_t i = c->rel_off, seen = 0;

    if (k == 0)
        return (int)(c->rel_off > 1 ? c->rel_off - 1 : c->rel_off);
    for (; i < c->path_len; i++) {
        if (c->path[i] == '/' && ++seen == k)
            return (int)i;
    }
    return (int)c->path_len;
}

/*
 * The directory @name in @dirfd (at c->path, @st from fstatat()): skipped
 * when it is the output directory, excluded or an ancestor; otherwise
 * opened from @dirfd and walked.  0, or -1 after errorf().
 */
static int
walk_subdir(struct scan_ctx *c, int dirfd, const char *name,
            const struct stat *st)
{
    int follow = c->opts->follow_symlinks, excluded, fd, rc, was_backup;
    struct stat real;
    size_t k;

    if (c->opts->have_skip_dir &&
        (uint64_t)st->st_dev == c->opts->skip_dev &&
        (uint64_t)st->st_ino == c->opts->skip_ino) {
        notef("not descending into '%s': it is the output directory",
              msg_name(c->path));
        return 0;
    }
    if (scan_dir_excluded(c, c->path + c->rel_off, &excluded) < 0)
        return -1;
    if (excluded)
        return 0;
    if (is_ancestor(c, st, &k)) {
        char *back = xstrndup(c->path, (size_t)ancestor_len(c, k));

        warnf("cannot descend into '%s': directory cycle back to '%s'",
              msg_name(c->path), msg_name(back));
        free(back);
        c->l->walk_errors++;
        return 0;
    }
    if (c->depth >= SCAN_MAX_DEPTH)
        return walk_failed(c, "cannot open directory", EMFILE, NULL);
    fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC |
                (follow ? 0 : O_NOFOLLOW));
    if (fd < 0 && errno == ENOENT)
        return 0;    /* gone since the directory was read */
    if (fd < 0)
        return walk_failed(c, "cannot open directory", errno, NULL);
    /* Still the directory fstatat() saw, not one swapped in since. */
    if (fstat(fd, &real) < 0 || real.st_dev != st->st_dev ||
        real.st_ino != st->st_ino) {
        close(fd);
        return walk_failed(c, "cannot open directory", ENOTDIR, NULL);
    }
    push_dir(c, st);
    was_backup = c->in_backup;
    if (!was_backup && names_is_backup_dir(fd)) {
        notef("'%s' is a backup folder (it holds " IMGPOOL_BACKUP_MARKER
              "): its files are skipped", msg_name(c->path));
        c->in_backup = 1;
    }
    rc = walk_children(c, fd);
    c->in_backup = was_backup;
    c->depth--;
    close(fd);
    return rc;
}

/*
 * A dangling link met while following links: a skipped ERR_READ task when
 * its name says image.  0, or -1 after errorf().
 */
static int
walk_broken_link(struct scan_ctx *c, const char *name, const struct stat *st)
{
    const char *rel = c->path + c->rel_off;

    if (scan_filtered(c->opts, rel)) {
        scan_count(c, &c->l->excluded, rel);
        return 0;
    }
    if (!scan_has_image_ext(name)) {
        scan_count(c, &c->l->ignored, rel);
        return 0;
    }
    return scan_add_task(c, c->path, c->path_len, rel, st, TASK_SKIPPED, ERR_READ,
                    "broken symbolic link");
}

/*
 * One entry @name of the directory open on @dirfd, c->path already naming
 * it.  0, or -1 after errorf().
 */
static int
walk_entry(struct scan_ctx *c, int dirfd, const char *name)
{
    int follow = c->opts->follow_symlinks;
    struct stat st;
    int r;

    /* The backup marker is imgpool's own file, not an ignored one. */
    if (c->in_backup && strcmp(name, IMGPOOL_BACKUP_MARKER) == 0)
        return 0;
    r = fstatat(dirfd, name, &st, follow ? 0 : AT_SYMLINK_NOFOLLOW);
    if (r < 0 && follow && fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW)
        == 0 && S_ISLNK(st.st_mode))
        return walk_broken_link(c, name, &st);    /* to nothing, or itself */
    if (r < 0) {
        if (errno == ENOENT)
            return 0;    /* gone since the directory was read */
        return walk_failed(c, "cannot stat", errno,
                           errno == EACCES ? "cannot stat: permission denied"
                                           : "cannot stat");
    }
    if (S_ISDIR(st.st_mode))
        return walk_subdir(c, dirfd, name, &st);
    return scan_entry(c, dirfd, c->path, c->path_len, c->path + c->rel_off,
                     name, &st, !follow);
}

/*
 * Walk the entries of the directory open on @fd (at c->path) in name
 * order.  0, or -1 after errorf() (a directory below the root that cannot
 * be read is a failed task, not an error).
 */
static int
walk_children(struct scan_ctx *c, int fd)
{
    size_t base = c->path_len, n, i;
    char *buf, **names;
    int rc = 0;

    if (read_names(fd, &buf, &names, &n) < 0) {
        if (errno == ENOMEM || c->depth <= 1) {
            errorf("cannot read '%s': %s", msg_name(c->path),
                   strerror(errno));
            return -1;
        }
        return walk_failed(c, "cannot read directory", errno, NULL);
    }
    for (i = 0; i < n && rc == 0; i++) {
        size_t k = strlen(names[i]);
        int slash = base > 0 && c->path[base - 1] != '/';

        path_reserve(c, k + 1);
        c->path_len = base;
        if (slash)
            c->path[c->path_len++] = '/';
        memcpy(c->path + c->path_len, names[i], k + 1);
        c->path_len += k;
        rc = walk_entry(c, fd, names[i]);
        if (c->opts->on_entry)
            c->opts->on_entry(c->opts->on_entry_data, c->l);
    }
    c->path_len = base;
    c->path[base] = '\0';
    free(names);
    free(buf);
    return rc;
}

/*
 * Walk the directory @root (no trailing slash except for "/"), opened as
 * named.  Returns 0, or -1 on a fatal problem (already reported).
 */
int
scan_walk_dir(struct scan_ctx *c, const char *root)
{
    size_t rootlen = strlen(root);
    struct stat st;
    int fd, rc;

    fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &st) < 0) {
        errorf("cannot read '%s': %s", root, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    c->path_len = 0;
    path_reserve(c, rootlen);
    memcpy(c->path, root, rootlen + 1);
    c->path_len = rootlen;
    c->rel_off = root[rootlen - 1] == '/' ? rootlen : rootlen + 1;
    c->depth = 0;
    push_dir(c, &st);
    c->open_follow = c->opts->follow_symlinks
                     ? TASK_FOLLOW_DIRS | TASK_FOLLOW_FILE : 0;
    c->in_backup = names_is_backup_dir(fd) ||
                   scan_backup_above(c, root, rootlen);
    if (c->in_backup)
        notef("'%s' is a backup folder or lies below one ("
              IMGPOOL_BACKUP_MARKER "): its files are skipped",
              msg_name(root));
    rc = walk_children(c, fd);
    c->in_backup = 0;
    c->depth = 0;
    close(fd);
    return rc < 0 ? -1 : 0;
}
