/*
 * faultshim.c - an LD_PRELOAD library for tests: makes chosen system
 * calls fail with a chosen errno, as a failing disk or a full file system
 * would, under conditions read from the environment once at load time.
 * It lives in tests/ only; nothing in src/ knows about it.
 *
 *   FAULTSHIM_OPS      comma-separated calls to fail: read (read, readv,
 *                      __read_chk), pread (pread and its fortified and
 *                      64-bit names), write
 *                      (write, pwrite, writev), fsync (fsync, fdatasync),
 *                      rename (rename, renameat, renameat2), link (link,
 *                      linkat), unlink (unlink, unlinkat), open (open,
 *                      openat; only calls that could create or write,
 *                      with "open" alone; "open-any" for every open);
 *                      none set: the shim does nothing
 *   FAULTSHIM_ERRNO    EIO (default), ENOSPC, EDQUOT, EROFS or a number
 *   FAULTSHIM_GLOB     fnmatch(3) pattern (no FNM_PATHNAME) the file's
 *                      full path must match: the descriptor's path (from
 *                      /proc/self/fd) for calls on a descriptor, the
 *                      directory's path joined with the name for calls on
 *                      a name (for rename and link, either name)
 *   FAULTSHIM_OFFSET   reads only: fail reads at or past this byte offset
 *                      of the file; one that starts before it returns
 *                      the bytes up to it (a bad sector's behaviour)
 *   FAULTSHIM_SHORT    reads only: "1" returns 0 (the end of the file)
 *                      instead of an error: a short read
 *   FAULTSHIM_NTH      fail only the Nth matching call of each process
 *                      (1 is the first); 0 or unset: every matching call
 *   FAULTSHIM_PERMILLE with FAULTSHIM_SEED: fail each matching call with
 *                      this probability (per mille), from a generator
 *                      seeded with the seed in every process, so a run
 *                      with one worker repeats itself
 *   FAULTSHIM_CHILDREN "1": only in processes forked after the shim was
 *                      loaded (imgpool's workers), never in the process
 *                      that was started (the master)
 *   FAULTSHIM_XDEV     "DIR": a link or rename between a path below DIR and
 *                      one outside it fails with EXDEV, as if DIR were
 *                      another file system (a /proc/self/fd/N source is
 *                      the file it names); besides the faults above, in
 *                      every process, never counted
 *   FAULTSHIM_LOG      append one line per injected fault to this file
 *                      ("pid op path"), so a test knows a fault happened
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

enum fs_op {
    OP_READ = 1 << 0,
    OP_WRITE = 1 << 1,
    OP_FSYNC = 1 << 2,
    OP_RENAME = 1 << 3,
    OP_LINK = 1 << 4,
    OP_UNLINK = 1 << 5,
    OP_OPEN = 1 << 6,
    OP_OPEN_ANY = 1 << 7,
    OP_PREAD = 1 << 8,
};

static unsigned fs_ops;
static int fs_errno = EIO;
static const char *fs_glob;
static long long fs_offset = -1;
static int fs_short;
static long fs_nth;
static long fs_permille;
static unsigned long long fs_seed;
static int fs_children;
static const char *fs_log;
static const char *fs_xdev;
static pid_t fs_start_pid;

/* Per process: matching calls seen, and the generator (reset in a new
 * process so every forked worker draws the same sequence). */
static pid_t fs_pid;
static long fs_count;
static unsigned long long fs_rng;

static int (*real_open)(const char *, int, ...);
static int (*real_openat)(int, const char *, int, ...);
static ssize_t (*real_read)(int, void *, size_t);
static ssize_t (*real_pread)(int, void *, size_t, off_t);
static ssize_t (*real_readv)(int, const struct iovec *, int);
static ssize_t (*real_write)(int, const void *, size_t);
static ssize_t (*real_pwrite)(int, const void *, size_t, off_t);
static ssize_t (*real_writev)(int, const struct iovec *, int);
static int (*real_fsync)(int);
static int (*real_fdatasync)(int);
static int (*real_rename)(const char *, const char *);
static int (*real_renameat)(int, const char *, int, const char *);
static int (*real_renameat2)(int, const char *, int, const char *,
                             unsigned);
static int (*real_link)(const char *, const char *);
static int (*real_linkat)(int, const char *, int, const char *, int);
static int (*real_unlink)(const char *);
static int (*real_unlinkat)(int, const char *, int);

static void *
next_sym(const char *name)
{
    return dlsym(RTLD_NEXT, name);
}

static void
load_symbols(void)
{
    real_open = next_sym("open");
    real_openat = next_sym("openat");
    real_read = next_sym("read");
    real_pread = next_sym("pread");
    real_readv = next_sym("readv");
    real_write = next_sym("write");
    real_pwrite = next_sym("pwrite");
    real_writev = next_sym("writev");
    real_fsync = next_sym("fsync");
    real_fdatasync = next_sym("fdatasync");
    real_rename = next_sym("rename");
    real_renameat = next_sym("renameat");
    real_renameat2 = next_sym("renameat2");
    real_link = next_sym("link");
    real_linkat = next_sym("linkat");
    real_unlink = next_sym("unlink");
    real_unlinkat = next_sym("unlinkat");
}

static void
ensure_symbols(void)
{
    if (!real_read)
        load_symbols();
}

static void
parse_ops(const char *s)
{
    static const struct { const char *name; unsigned bit; } names[] = {
        {"read", OP_READ}, {"pread", OP_PREAD}, {"write", OP_WRITE}, {"fsync", OP_FSYNC},
        {"rename", OP_RENAME}, {"link", OP_LINK}, {"unlink", OP_UNLINK},
        {"open", OP_OPEN}, {"open-any", OP_OPEN_ANY},
    };

    while (s && *s) {
        size_t n = strcspn(s, ",");
        for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
            if (strlen(names[i].name) == n &&
                strncmp(s, names[i].name, n) == 0)
                fs_ops |= names[i].bit;
        s += n;
        if (*s == ',')
            s++;
    }
}

static int
parse_errno(const char *s)
{
    if (!s || !*s || strcmp(s, "EIO") == 0)
        return EIO;
    if (strcmp(s, "ENOSPC") == 0)
        return ENOSPC;
    if (strcmp(s, "EDQUOT") == 0)
        return EDQUOT;
    if (strcmp(s, "EROFS") == 0)
        return EROFS;
    return atoi(s) > 0 ? atoi(s) : EIO;
}

static long long
env_ll(const char *name, long long dflt)
{
    const char *v = getenv(name);

    return v && *v ? strtoll(v, NULL, 10) : dflt;
}

__attribute__((constructor)) static void
fs_init(void)
{
    load_symbols();
    parse_ops(getenv("FAULTSHIM_OPS"));
    fs_errno = parse_errno(getenv("FAULTSHIM_ERRNO"));
    fs_glob = getenv("FAULTSHIM_GLOB");
    fs_offset = env_ll("FAULTSHIM_OFFSET", -1);
    fs_short = env_ll("FAULTSHIM_SHORT", 0) != 0;
    fs_nth = (long)env_ll("FAULTSHIM_NTH", 0);
    fs_permille = (long)env_ll("FAULTSHIM_PERMILLE", 0);
    fs_seed = (unsigned long long)env_ll("FAULTSHIM_SEED", 1);
    fs_children = env_ll("FAULTSHIM_CHILDREN", 0) != 0;
    fs_log = getenv("FAULTSHIM_LOG");
    fs_xdev = getenv("FAULTSHIM_XDEV");
    fs_start_pid = getpid();
}

/* The full path of descriptor @fd (or the working directory for
 * AT_FDCWD) into @buf; "" when unknown. */
static void
fd_path(int fd, char *buf, size_t size)
{
    char link[64];
    ssize_t n;

    buf[0] = '\0';
    if (fd == AT_FDCWD) {
        if (!getcwd(buf, size))
            buf[0] = '\0';
        return;
    }
    snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
    n = readlink(link, buf, size - 1);
    buf[n > 0 ? n : 0] = '\0';
}

/* @name relative to @dirfd, spelled in full, into @buf. */
static void
at_path(int dirfd, const char *name, char *buf, size_t size)
{
    char dir[PATH_MAX];

    if (!name) {
        buf[0] = '\0';
        return;
    }
    if (name[0] == '/') {
        snprintf(buf, size, "%s", name);
        return;
    }
    fd_path(dirfd, dir, sizeof(dir));
    if (snprintf(buf, size, "%s/%s", dir, name) >= (int)size)
        buf[0] = '\0';
}

static int
path_matches(const char *path)
{
    return !fs_glob || !*fs_glob || fnmatch(fs_glob, path, 0) == 0;
}

static void
log_fault(const char *op, const char *path)
{
    char line[2 * PATH_MAX + 64];
    int fd, n;

    if (!fs_log)
        return;
    n = snprintf(line, sizeof(line), "%d %s %s\n", (int)getpid(), op, path);
    fd = real_open(fs_log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        return;
    if (real_write(fd, line, (size_t)(n < (int)sizeof(line) ? n
                                      : (int)sizeof(line) - 1)) < 0)
        n = 0;
    close(fd);
}

/*
 * Whether this call (operation @op on @path, already known to match every
 * other condition) fails: counts it, draws the random number.
 */
static int
should_fail(unsigned op, const char *opname, const char *path)
{
    int hit;

    if (!(fs_ops & op) || (fs_children && getpid() == fs_start_pid) ||
        !path_matches(path))
        return 0;
    if (fs_pid != getpid()) {
        fs_pid = getpid();
        fs_count = 0;
        fs_rng = fs_seed * 0x9E3779B97F4A7C15ULL + 1;
    }
    fs_count++;
    if (fs_nth > 0)
        hit = fs_count == fs_nth;
    else if (fs_permille > 0) {
        fs_rng ^= fs_rng >> 12;
        fs_rng ^= fs_rng << 25;
        fs_rng ^= fs_rng >> 27;
        hit = (long)((fs_rng * 2685821657736338717ULL) >> 33) % 1000 <
              fs_permille;
    } else
        hit = 1;
    if (hit)
        log_fault(opname, path);
    return hit;
}

static int
fd_fails(int fd, unsigned op, const char *opname)
{
    char path[PATH_MAX];

    ensure_symbols();
    if (!(fs_ops & op) || (fs_children && getpid() == fs_start_pid))
        return 0;
    fd_path(fd, path, sizeof(path));
    if (path[0] != '/')     /* sockets, pipes: never the disk */
        return 0;
    return should_fail(op, opname, path);
}

/*
 * A read of *@len bytes at @off (-1: the descriptor's offset) by @op
 * (OP_READ or OP_PREAD): 1 to fail it (errno set; a short read when
 * FAULTSHIM_SHORT).  With FAULTSHIM_OFFSET, a read that starts before the
 * offset and reaches past it is cut at the offset (*@len lowered), as a
 * disk returns what it has before a bad sector; the next read fails.
 */
static int
read_fails(int fd, size_t *len, off_t off, unsigned op)
{
    int err = errno;

    ensure_symbols();
    if (!(fs_ops & op) || (fs_children && getpid() == fs_start_pid))
        return 0;
    if (fs_offset >= 0) {
        if (off < 0)
            off = lseek(fd, 0, SEEK_CUR);
        errno = err;
        if (off < 0 || (long long)off + (long long)*len <= fs_offset)
            return 0;
    }
    if (!fd_fails(fd, op, fs_short ? "short-read" : "read"))
        return 0;
    if (fs_offset >= 0 && off < fs_offset) {
        *len = (size_t)(fs_offset - off);
        return 0;
    }
    errno = fs_errno;
    return 1;
}

#define FAIL_READ(fd, len, off, op)                                     \
    do {                                                                \
        if (read_fails(fd, &(len), off, op))                            \
            return fs_short ? 0 : -1;                                   \
    } while (0)

ssize_t
read(int fd, void *buf, size_t len)
{
    FAIL_READ(fd, len, -1, OP_READ);
    return real_read(fd, buf, len);
}

ssize_t
__read_chk(int fd, void *buf, size_t len, size_t buflen)
{
    (void)buflen;
    return read(fd, buf, len);
}

ssize_t
pread(int fd, void *buf, size_t len, off_t off)
{
    FAIL_READ(fd, len, off, OP_PREAD);
    return real_pread(fd, buf, len, off);
}

ssize_t pread64(int fd, void *buf, size_t len, off_t off)
    __attribute__((alias("pread")));

ssize_t
__pread_chk(int fd, void *buf, size_t len, off_t off, size_t buflen)
{
    (void)buflen;
    return pread(fd, buf, len, off);
}

ssize_t __pread64_chk(int fd, void *buf, size_t len, off_t off,
                      size_t buflen) __attribute__((alias("__pread_chk")));

ssize_t
readv(int fd, const struct iovec *iov, int n)
{
    size_t len = 0;

    for (int i = 0; i < n; i++)
        len += iov[i].iov_len;
    FAIL_READ(fd, len, -1, OP_READ);
    return real_readv(fd, iov, n);
}

ssize_t
write(int fd, const void *buf, size_t len)
{
    if (fd_fails(fd, OP_WRITE, "write")) {
        errno = fs_errno;
        return -1;
    }
    return real_write(fd, buf, len);
}

ssize_t
pwrite(int fd, const void *buf, size_t len, off_t off)
{
    if (fd_fails(fd, OP_WRITE, "write")) {
        errno = fs_errno;
        return -1;
    }
    return real_pwrite(fd, buf, len, off);
}

ssize_t pwrite64(int fd, const void *buf, size_t len, off_t off)
    __attribute__((alias("pwrite")));

ssize_t
writev(int fd, const struct iovec *iov, int n)
{
    if (fd_fails(fd, OP_WRITE, "write")) {
        errno = fs_errno;
        return -1;
    }
    return real_writev(fd, iov, n);
}

int
fsync(int fd)
{
    if (fd_fails(fd, OP_FSYNC, "fsync")) {
        errno = fs_errno;
        return -1;
    }
    return real_fsync(fd);
}

int
fdatasync(int fd)
{
    if (fd_fails(fd, OP_FSYNC, "fsync")) {
        errno = fs_errno;
        return -1;
    }
    return real_fdatasync(fd);
}

/* A name call (@op on @name below @dirfd, and @name2 below @dirfd2 when
 * not NULL): 1 to fail it with errno set. */
static int
names_fail(unsigned op, const char *opname, int dirfd, const char *name,
           int dirfd2, const char *name2)
{
    char a[2 * PATH_MAX], b[2 * PATH_MAX];

    ensure_symbols();
    if (!(fs_ops & op) || (fs_children && getpid() == fs_start_pid))
        return 0;
    at_path(dirfd, name, a, sizeof(a));
    at_path(dirfd2, name2, b, sizeof(b));
    if (!path_matches(a) && !(name2 && path_matches(b)))
        return 0;
    if (!should_fail(op, opname, path_matches(a) ? a : b))
        return 0;
    errno = fs_errno;
    return 1;
}

/* @path below FAULTSHIM_XDEV (a /proc/self/fd/N name resolved first). */
static int
below_xdev(const char *path)
{
    char real[PATH_MAX];
    size_t n = strlen(fs_xdev);
    ssize_t k;

    if (strncmp(path, "/proc/self/fd/", 14) == 0) {
        k = readlink(path, real, sizeof(real) - 1);
        real[k > 0 ? k : 0] = '\0';
        path = real;
    }
    return strncmp(path, fs_xdev, n) == 0 && (path[n] == '/' || !path[n]);
}

/* A link or rename from @a to @b across the FAULTSHIM_XDEV boundary:
 * 1 with errno EXDEV. */
static int
crosses_xdev(int da, const char *a, int db, const char *b)
{
    char pa[2 * PATH_MAX], pb[2 * PATH_MAX];

    ensure_symbols();
    if (!fs_xdev || !*fs_xdev)
        return 0;
    at_path(da, a, pa, sizeof(pa));
    at_path(db, b, pb, sizeof(pb));
    if (below_xdev(pa) == below_xdev(pb))
        return 0;
    errno = EXDEV;
    return 1;
}

/* "open" fails only opens that create or write (a photo read is "read");
 * "open-any" every open. */
static int
open_fails(int dirfd, const char *name, int flags)
{
    int err = errno;

    ensure_symbols();
    if (fs_ops & OP_OPEN_ANY)
        return names_fail(OP_OPEN_ANY, "open", dirfd, name, AT_FDCWD, NULL);
    if (!(flags & (O_CREAT | O_WRONLY | O_RDWR)))
        return 0;
    errno = err;
    return names_fail(OP_OPEN, "open", dirfd, name, AT_FDCWD, NULL);
}

static mode_t
open_mode(int flags, va_list ap)
{
    /* O_TMPFILE holds O_DIRECTORY's bit: compare it whole. */
    return (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE
           ? (mode_t)va_arg(ap, int) : 0;
}

int
open(const char *path, int flags, ...)
{
    va_list ap;
    mode_t mode;

    va_start(ap, flags);
    mode = open_mode(flags, ap);
    va_end(ap);
    if (open_fails(AT_FDCWD, path, flags))
        return -1;
    return real_open(path, flags, mode);
}

int open64(const char *path, int flags, ...) __attribute__((alias("open")));

int
__open_2(const char *path, int flags)
{
    return open(path, flags);
}

int __open64_2(const char *path, int flags)
    __attribute__((alias("__open_2")));

int
openat(int dirfd, const char *path, int flags, ...)
{
    va_list ap;
    mode_t mode;

    va_start(ap, flags);
    mode = open_mode(flags, ap);
    va_end(ap);
    if (open_fails(dirfd, path, flags))
        return -1;
    return real_openat(dirfd, path, flags, mode);
}

int openat64(int dirfd, const char *path, int flags, ...)
    __attribute__((alias("openat")));

int
__openat_2(int dirfd, const char *path, int flags)
{
    return openat(dirfd, path, flags);
}

int __openat64_2(int dirfd, const char *path, int flags)
    __attribute__((alias("__openat_2")));

int
rename(const char *a, const char *b)
{
    if (crosses_xdev(AT_FDCWD, a, AT_FDCWD, b) ||
        names_fail(OP_RENAME, "rename", AT_FDCWD, a, AT_FDCWD, b))
        return -1;
    return real_rename(a, b);
}

int
renameat(int da, const char *a, int db, const char *b)
{
    if (crosses_xdev(da, a, db, b) ||
        names_fail(OP_RENAME, "rename", da, a, db, b))
        return -1;
    return real_renameat(da, a, db, b);
}

int
renameat2(int da, const char *a, int db, const char *b, unsigned flags)
{
    if (crosses_xdev(da, a, db, b) ||
        names_fail(OP_RENAME, "rename", da, a, db, b))
        return -1;
    return real_renameat2(da, a, db, b, flags);
}

int
link(const char *a, const char *b)
{
    if (crosses_xdev(AT_FDCWD, a, AT_FDCWD, b) ||
        names_fail(OP_LINK, "link", AT_FDCWD, a, AT_FDCWD, b))
        return -1;
    return real_link(a, b);
}

int
linkat(int da, const char *a, int db, const char *b, int flags)
{
    if (crosses_xdev(da, a, db, b) ||
        names_fail(OP_LINK, "link", da, a, db, b))
        return -1;
    return real_linkat(da, a, db, b, flags);
}

int
unlink(const char *path)
{
    if (names_fail(OP_UNLINK, "unlink", AT_FDCWD, path, AT_FDCWD, NULL))
        return -1;
    return real_unlink(path);
}

int
unlinkat(int dirfd, const char *path, int flags)
{
    if (names_fail(OP_UNLINK, "unlink", dirfd, path, AT_FDCWD, NULL))
        return -1;
    return real_unlinkat(dirfd, path, flags);
}
