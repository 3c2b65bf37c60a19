/*
 * outfile.c - the commit stage: temp file, fsync, rename; see outfile.h.
 * The commit point of each function is marked "Committed": before it a
 * failure leaves everything as it was and fails the file, after it only
 * warnings are added.
 */
#include <errno.h>
#include <stdlib.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dirwalk.h"
#include "outfile.h"
#include "warn.h"

static unsigned tmp_counter;

static void
fail_errno(struct task_result *res, enum err_class c, const char *what,
           int err)
{
    if (err == ENOSPC || err == EDQUOT)
        c = ERR_NO_SPACE;
    task_result_fail(res, c, "%s: %s", what, strerror(err));
}

/* After the commit point: the file is in place, @res stays ok. */
static void
warn_errno(struct task_result *res, const char *what, int err)
{
    char msg[256];

    snprintf(msg, sizeof(msg), "%s: %s", what, strerror(err));
    warn_append(res, msg);
}

/*
 * Open the directory that is to hold @rel (a relative path whose last
 * component is the file name) below the directory @root, creating what is
 * missing.  @root is named by the user and opened as named; every component
 * below it is walked with dirwalk_open(), never following a symlink.
 * Returns the directory's descriptor with *name pointing into @rel, or -1
 * with @res failed.
 */
static int
open_dir(const char *root, const char *rel, struct task_result *res,
         const char **name)
{
    const char *slash = strrchr(rel, '/');
    size_t dirlen = slash ? (size_t)(slash - rel) : 0;
    int rootfd, fd, err;

    *name = slash ? slash + 1 : rel;
    if (rel[0] == '/' || **name == '\0' || strlen(*name) > NAME_MAX ||
        strcmp(*name, ".") == 0 || strcmp(*name, "..") == 0) {
        task_result_fail(res, ERR_OUTPUT_PATH, "invalid output file name");
        return -1;
    }
    rootfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (rootfd < 0) {
        fail_errno(res, ERR_WRITE, "cannot open output directory", errno);
        return -1;
    }
    fd = dirwalk_open(rootfd, rel, dirlen, DIRWALK_CREATE, 0777);
    err = errno;
    close(rootfd);
    if (fd >= 0)
        return fd;
    if (err == ELOOP || err == ENOTDIR)
        task_result_fail(res, ERR_OUTPUT_PATH, "an output directory "
                         "component is a symbolic link or not a directory");
    else if (err == EINVAL || err == ENAMETOOLONG)
        task_result_fail(res, ERR_OUTPUT_PATH,
                         "invalid output directory component");
    else
        fail_errno(res, ERR_WRITE, "cannot create output directory", err);
    return -1;
}

static int
open_tmp(struct outfile *of, mode_t mode, struct task_result *res)
{
    if (names_tmp(of->tmp, sizeof(of->tmp), getpid(), tmp_counter++) < 0) {
        fail_errno(res, ERR_WRITE, "cannot name temporary output", errno);
        close(of->dirfd);
        of->dirfd = -1;
        return -1;
    }
    of->fd = openat(of->dirfd, of->tmp,
                    O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                    mode);
    if (of->fd < 0) {
        fail_errno(res, ERR_WRITE, "cannot create temporary output", errno);
        close(of->dirfd);
        of->dirfd = -1;
        return -1;
    }
    return 0;
}

int
outfile_open(struct outfile *of, const char *output_dir, const char *out_rel,
             int durable, struct task_result *res)
{
    of->fd = -1;
    of->sync_file = durable;
    of->sync_dir = 0;
    of->dirfd = open_dir(output_dir, out_rel, res, &of->name);
    if (of->dirfd < 0)
        return -1;
    return open_tmp(of, 0666, res);
}

int
outfile_open_at(struct outfile *of, int dirfd, const char *name,
                struct task_result *res)
{
    of->fd = -1;
    of->sync_file = 1;
    of->sync_dir = 1;
    of->name = name;
    of->dirfd = fcntl(dirfd, F_DUPFD_CLOEXEC, 0);
    if (of->dirfd < 0) {
        fail_errno(res, ERR_WRITE, "cannot open the directory", errno);
        return -1;
    }
    /* Private until the caller gives it the original's mode: nobody may
     * open a photo through its replacement that could not open it. */
    return open_tmp(of, 0600, res);
}

/* True when @name in @dirfd already holds the original open on @src_fd:
 * the same inode, or the same bytes. */
static int
same_file(int dirfd, const char *name, int src_fd, const struct stat *orig)
{
    char a[65536], b[65536];
    struct stat st;
    off_t off = 0;
    ssize_t n;
    int fd, same = 0;

    if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
        !S_ISREG(st.st_mode))
        return 0;
    if (st.st_dev == orig->st_dev && st.st_ino == orig->st_ino)
        return 1;
    if (st.st_size != orig->st_size)
        return 0;
    fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return 0;
    for (;;) {
        n = pread(fd, a, sizeof(a), off);
        if (n <= 0) {
            same = n == 0;
            break;
        }
        if (pread(src_fd, b, (size_t)n, off) != n || memcmp(a, b, (size_t)n))
            break;
        off += n;
    }
    close(fd);
    return same;
}

/*
 * Link @from (relative to @fromdir; @flags for linkat) as @name in @dirfd.
 * When @name already holds something else, try "@name.~1~", "@name.~2~"
 * and so on: a backup is never replaced, and never stands in for a
 * different original.  0 when the original is backed up, or -1.
 */
static int
link_keeping(int fromdir, const char *from, int flags, int dirfd,
             const char *name, int src_fd, const struct stat *orig)
{
    char alt[NAME_MAX + 1];
    const char *target = name;
    int n;

    for (n = 0; n < 1000; n++) {
        if (n) {
            if (snprintf(alt, sizeof(alt), "%s.~%d~", name, n) >=
                (int)sizeof(alt)) {
                errno = ENAMETOOLONG;
                return -1;
            }
            target = alt;
        }
        if (linkat(fromdir, from, dirfd, target, flags) == 0)
            return 0;
        if (errno != EEXIST)
            return -1;
        if (same_file(dirfd, target, src_fd, orig))
            return 0;
    }
    errno = EEXIST;
    return -1;
}

/*
 * The copy of the original open on @src_fd (stat @orig) in of->fd, made
 * complete and durable, linked as of->name (link_keeping()).  With
 * @anon, of->fd is an O_TMPFILE file with no name until the link; else
 * it is of->tmp.  0, or -1 with errno set (of left for outfile_abort()).
 */
static int
copy_backup(struct outfile *of, int anon, int src_fd, const struct stat *orig,
            struct task_result *res)
{
    char buf[65536], fdpath[64];
    ssize_t got;
    off_t off = 0;

    for (;;) {
        got = pread(src_fd, buf, sizeof(buf), off);
        if (got == 0)
            break;
        if (got < 0) {
            if (errno == EINTR)
                continue;
            fail_errno(res, ERR_READ, "cannot read the original", errno);
            return -1;
        }
        if (outfile_write(of, buf, (size_t)got, res) < 0)
            return -1;
        off += got;
    }
    snprintf(fdpath, sizeof(fdpath), "/proc/self/fd/%d", of->fd);
    if (fchmod(of->fd, orig->st_mode & 07777) < 0 || fsync(of->fd) < 0 ||
        (anon ? link_keeping(AT_FDCWD, fdpath, AT_SYMLINK_FOLLOW, of->dirfd,
                             of->name, src_fd, orig)
              : link_keeping(of->dirfd, of->tmp, 0, of->dirfd, of->name,
                             src_fd, orig)) < 0 ||
        fsync(of->dirfd) < 0) {
        int err = errno;

        fail_errno(res, ERR_WRITE, "cannot write the backup", err);
        errno = err;
        return -1;
    }
    return 0;
}

int
outfile_backup(const char *backup_dir, const char *rel, int src_dirfd,
               const char *src_name, int src_fd, struct task_result *res)
{
    struct outfile of;
    struct stat orig;
    char fdpath[64];
    int rc;

    if (fstat(src_fd, &orig) < 0) {
        fail_errno(res, ERR_READ, "cannot stat the original", errno);
        return -1;
    }
    of.fd = -1;
    of.sync_file = 1;
    of.sync_dir = 1;
    of.dirfd = open_dir(backup_dir, rel, res, &of.name);
    if (of.dirfd < 0)
        return -1;
    /* Link the open file itself (not whatever the name holds by now);
     * by name where /proc is not mounted. */
    snprintf(fdpath, sizeof(fdpath), "/proc/self/fd/%d", src_fd);
    rc = link_keeping(AT_FDCWD, fdpath, AT_SYMLINK_FOLLOW, of.dirfd, of.name,
                      src_fd, &orig);
    if (rc < 0 && errno == ENOENT)
        rc = link_keeping(src_dirfd, src_name, 0, of.dirfd, of.name, src_fd,
                          &orig);
    if (rc == 0) {
        rc = fsync(of.dirfd);
        close(of.dirfd);
        if (rc < 0) {
            fail_errno(res, ERR_WRITE, "cannot sync the backup", errno);
            return -1;
        }
        return 0;
    }
    if (errno != EXDEV && errno != EPERM && errno != EMLINK) {
        fail_errno(res, ERR_WRITE, "cannot back up the original", errno);
        close(of.dirfd);
        return -1;
    }
    /* Another file system: copy, into a file that has no name until it
     * is complete (O_TMPFILE), so that neither a kill nor a failure
     * leaves a temporary file in the backup folder; through a temporary
     * name where the file system or /proc cannot do that. */
    of.fd = openat(of.dirfd, ".", O_TMPFILE | O_WRONLY | O_CLOEXEC, 0600);
    if (of.fd >= 0) {
        struct task_result keep = *res;

        of.tmp[0] = '\0';
        rc = copy_backup(&of, 1, src_fd, &orig, res);
        if (rc == 0 || errno != ENOENT) {   /* ENOENT: no /proc */
            outfile_abort(&of);     /* closes; there is no name to remove */
            return rc;
        }
        close(of.fd);
        of.fd = -1;
        *res = keep;
    }
    if (open_tmp(&of, 0600, res) < 0)
        return -1;
    rc = copy_backup(&of, 0, src_fd, &orig, res);
    outfile_abort(&of); /* removes the temporary name only */
    return rc;
}

int
outfile_write(struct outfile *of, const void *buf, size_t len,
              struct task_result *res)
{
    const char *p = buf;
    while (len > 0) {
        ssize_t n = write(of->fd, p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            fail_errno(res, ERR_WRITE, "cannot write output", errno);
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

void
outfile_abort(struct outfile *of)
{
    if (of->fd >= 0)
        close(of->fd);
    of->fd = -1;
    if (of->dirfd >= 0) {
        if (of->tmp[0])
            unlinkat(of->dirfd, of->tmp, 0);
        close(of->dirfd);
    }
    of->dirfd = -1;
}

/* The data is all written: fsync it when @sync, fstat it into *@st, close
 * it.  0, or -1 with @res failed and the temporary removed. */
static int
finish_data(struct outfile *of, int sync, struct stat *st,
            struct task_result *res)
{
    int rc;

    if ((sync && fsync(of->fd) < 0) || fstat(of->fd, st) < 0) {
        fail_errno(res, ERR_WRITE, "cannot write output", errno);
        outfile_abort(of);
        return -1;
    }
    rc = close(of->fd);
    of->fd = -1;
    if (rc < 0) {
        fail_errno(res, ERR_WRITE, "cannot write output", errno);
        outfile_abort(of);
        return -1;
    }
    return 0;
}

int
outfile_commit(struct outfile *of, struct task_result *res)
{
    struct stat st;

    if (finish_data(of, of->sync_file, &st, res) < 0)
        return -1;
    if (renameat(of->dirfd, of->tmp, of->dirfd, of->name) < 0) {
        fail_errno(res, ERR_WRITE, "cannot rename output into place", errno);
        outfile_abort(of);
        return -1;
    }
    /* Committed (outfile.h): from here on, failures are warnings. */
    res->out_bytes = st.st_size;
    if (of->sync_dir && fsync(of->dirfd) < 0)
        warn_errno(res, "the new file is in place, but its directory "
                   "could not be synced", errno);
    close(of->dirfd);
    of->dirfd = -1;
    return 0;
}

/* True when @a and @b describe the same file in the same state: device,
 * inode, size and modification time (ns). */
static int
same_state(const struct stat *a, const struct stat *b)
{
    return a->st_dev == b->st_dev && a->st_ino == b->st_ino &&
           a->st_size == b->st_size &&
           a->st_mtim.tv_sec == b->st_mtim.tv_sec &&
           a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

/* True when @name in of->dirfd is still the original @orig. */
static int
name_is(const struct outfile *of, const char *name, const struct stat *orig)
{
    struct stat st;

    return fstatat(of->dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
           same_state(&st, orig);
}

/* Give up because the name no longer holds the original: @res skipped
 * (ERR_INPUT_CHANGED), the temporary file removed. */
static int
changed(struct outfile *of, struct task_result *res)
{
    task_result_skip(res, ERR_INPUT_CHANGED, "the file was replaced or "
                     "changed while it was being recompressed; left alone");
    outfile_abort(of);
    return -1;
}

/*
 * The exchange went through but what came out was not the original (a
 * save landed between the check and the exchange): put it back, and
 * remove what is under the temporary name only if it is our new file
 * (@mine).  Returns -1 with @res skipped.
 */
static int
swap_back(struct outfile *of, const struct stat *mine, struct task_result *res)
{
    struct stat st;

    if (renameat2(of->dirfd, of->tmp, of->dirfd, of->name,
                  RENAME_EXCHANGE) < 0) {
        fail_errno(res, ERR_WRITE, "the file changed during the commit and "
                   "cannot be put back", errno);
        /* The newer file stays under the temporary name: never removed. */
        close(of->dirfd);
        of->dirfd = -1;
        return -1;
    }
    if (fstatat(of->dirfd, of->tmp, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
        st.st_dev == mine->st_dev && st.st_ino == mine->st_ino)
        return changed(of, res);
    /* A second save replaced our file under the name while the first was
     * swapped out: the swap back brought the first back and left the
     * second, the newest, under the temporary name.  Exchange once more
     * so the name holds the newest; the older save, which its writer
     * replaced itself, stays under the temporary name (never removed
     * here: the stale sweep takes it). */
    if (renameat2(of->dirfd, of->tmp, of->dirfd, of->name,
                  RENAME_EXCHANGE) < 0)
        fail_errno(res, ERR_WRITE, "the file changed during the commit and "
                   "cannot be put back", errno);
    else
        task_result_skip(res, ERR_INPUT_CHANGED, "the file was replaced "
                         "several times while it was being recompressed; "
                         "the newest version is kept");
    close(of->dirfd);
    of->dirfd = -1;
    return -1;
}

/*
 * Replace of->name with the temporary file, without RENAME_EXCHANGE: check
 * that the name holds @orig, then rename over it.  The window between the
 * check and the rename (microseconds) remains: a save landing exactly
 * there is replaced.  Filesystems without RENAME_EXCHANGE leave no better
 * way with rename(2) alone.  0, or -1 with @res skipped or failed.
 */
static int
replace_checked(struct outfile *of, const struct stat *orig,
                struct task_result *res)
{
    if (!name_is(of, of->name, orig))
        return changed(of, res);
    if (renameat(of->dirfd, of->tmp, of->dirfd, of->name) < 0) {
        fail_errno(res, ERR_WRITE, "cannot rename output into place", errno);
        outfile_abort(of);
        return -1;
    }
    return 0;
}

/*
 * Swap the temporary file and of->name atomically, then make sure what
 * was swapped out is @orig: if it is, remove it; if not, swap back.  0,
 * 1 when RENAME_EXCHANGE is not supported here (nothing changed), or -1
 * with @res skipped or failed.
 */
static int
replace_exchange(struct outfile *of, const struct stat *orig,
                 const struct stat *mine, struct task_result *res)
{
    if (!name_is(of, of->name, orig))
        return changed(of, res);
    if (renameat2(of->dirfd, of->tmp, of->dirfd, of->name,
                  RENAME_EXCHANGE) < 0) {
        if (errno == EINVAL || errno == ENOSYS || errno == ENOTSUP)
            return 1;
        if (errno == ENOENT)    /* removed or renamed meanwhile */
            return changed(of, res);
        fail_errno(res, ERR_WRITE, "cannot rename output into place", errno);
        outfile_abort(of);
        return -1;
    }
    if (!name_is(of, of->tmp, orig))
        return swap_back(of, mine, res);
    /* Committed: the name holds the new file.  What is left is to remove
     * the original from beside it; failing that is a warning (the stale
     * sweep of a later run removes the temporary name). */
    if (unlinkat(of->dirfd, of->tmp, 0) < 0)
        warn_errno(res, "the new file is in place, but the replaced "
                   "original could not be removed from its temporary name",
                   errno);
    return 0;
}

int
outfile_commit_replace(struct outfile *of, const struct stat *orig,
                       struct task_result *res)
{
    struct stat mine;
    int rc;

    if (finish_data(of, 1, &mine, res) < 0)
        return -1;
    rc = replace_exchange(of, orig, &mine, res);
    if (rc == 1)
        rc = replace_checked(of, orig, res);
    if (rc < 0)
        return -1;
    /* Committed (outfile.h): from here on, failures are warnings. */
    res->out_bytes = mine.st_size;
    if (fsync(of->dirfd) < 0)
        warn_errno(res, "the new file is in place, but its directory "
                   "could not be synced", errno);
    close(of->dirfd);
    of->dirfd = -1;
    return 0;
}
