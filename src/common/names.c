/*
 * names.c - the paths of imgpool's own files; see names.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dirwalk.h"
#include "names.h"

#define FNV_OFFSET 0xcbf29ce484222325ULL
#define FNV_PRIME 0x100000001b3ULL

static uint64_t
fnv1a(uint64_t h, const void *data, size_t len)
{
    const unsigned char *p = data;

    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= FNV_PRIME;
    }
    return h;
}

/* The boot id's text (without its newline) into @buf, or the host name
 * when /proc does not have it; "" when neither is available. */
static void
boot_identity(char *buf, size_t size)
{
    FILE *f = fopen("/proc/sys/kernel/random/boot_id", "re");
    size_t n = 0;

    buf[0] = '\0';
    if (f) {
        n = fread(buf, 1, size - 1, f);
        fclose(f);
        buf[n] = '\0';
        buf[strcspn(buf, "\n")] = '\0';
    }
    if (buf[0])
        return;
    if (gethostname(buf, size - 1) < 0)
        buf[0] = '\0';
    buf[size - 1] = '\0';
}

const char *
names_host_id(void)
{
    static char id[NAMES_HOST_LEN + 1];
    char who[256];
    struct stat sb;
    uint64_t h = FNV_OFFSET;

    if (id[0])
        return id;
    boot_identity(who, sizeof(who));
    h = fnv1a(h, who, strlen(who));
    if (stat("/proc/self/ns/pid", &sb) == 0) {
        uint64_t ns[2] = { (uint64_t)sb.st_dev, (uint64_t)sb.st_ino };
        h = fnv1a(h, ns, sizeof(ns));
    }
    snprintf(id, sizeof(id), "%016llx", (unsigned long long)h);
    return id;
}

int
names_tmp(char *buf, size_t size, pid_t pid, unsigned n)
{
    int len = snprintf(buf, size, IMGPOOL_TMP_PREFIX "%s-%ld-%u",
                       names_host_id(), (long)pid, n);

    if (len < 0 || (size_t)len >= size) {
        errno = ERANGE;
        return -1;
    }
    return 0;
}

/* A run of decimal digits at *@p (at most 19), as a number; advances *@p.
 * -1 when there is none. */
static int
parse_number(const char **p, unsigned long long *v)
{
    const char *s = *p;
    unsigned long long x = 0;
    size_t n = 0;

    while (s[n] >= '0' && s[n] <= '9' && n < 19) {
        x = x * 10 + (unsigned)(s[n] - '0');
        n++;
    }
    if (n == 0 || (s[n] >= '0' && s[n] <= '9'))
        return -1;
    *v = x;
    *p = s + n;
    return 0;
}

enum names_tmp_kind
names_tmp_parse(const char *name, struct names_tmp *out)
{
    const size_t plen = sizeof(IMGPOOL_TMP_PREFIX) - 1;
    const char *p, *host = NULL;
    unsigned long long pid, n;
    size_t hl;

    /* The prefix first: a shorter name must not be read past its end. */
    if (strncmp(name, IMGPOOL_TMP_PREFIX, plen) != 0)
        return NAMES_TMP_NONE;
    p = name + plen;
    hl = strspn(p, "0123456789abcdef");
    /* "<16 hex>-": the host; a legacy pid never has 16 digits. */
    if (hl == NAMES_HOST_LEN && p[hl] == '-') {
        host = p;
        p += hl + 1;
    }
    if (parse_number(&p, &pid) < 0 || *p != '-' || pid == 0 ||
        pid > 0x7fffffffULL)
        return NAMES_TMP_NONE;
    p++;
    if (parse_number(&p, &n) < 0 || *p != '\0' || n > 0xffffffffULL)
        return NAMES_TMP_NONE;
    if (out) {
        memset(out, 0, sizeof(*out));
        if (host)
            memcpy(out->host, host, NAMES_HOST_LEN);
        out->pid = (long)pid;
        out->n = (unsigned long)n;
    }
    return host ? NAMES_TMP_HOST : NAMES_TMP_LEGACY;
}

const char *
names_tmp_kind_str(enum names_tmp_kind k)
{
    switch (k) {
    case NAMES_TMP_NONE:
        return "none";
    case NAMES_TMP_HOST:
        return "host";
    case NAMES_TMP_LEGACY:
        return "legacy";
    }
    return "unknown";
}

/* "<dir>/.imgpool[/<name>]"; "/" joins as "/.imgpool". */
static char *
state_path(const char *output_dir, const char *name)
{
    int len = (int)dirwalk_prefix_len(output_dir);
    char *p;
    int n;

    if (name)
        n = asprintf(&p, "%.*s/%s/%s", len, output_dir, IMGPOOL_STATE_DIR,
                     name);
    else
        n = asprintf(&p, "%.*s/%s", len, output_dir, IMGPOOL_STATE_DIR);
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

int
names_is_backup_dir(int dirfd)
{
    struct stat sb;

    return fstatat(dirfd, IMGPOOL_BACKUP_MARKER, &sb, AT_SYMLINK_NOFOLLOW) ==
               0 &&
           S_ISREG(sb.st_mode);
}

int
names_mark_backup_dir(int dirfd)
{
    static const char text[] =
        "imgpool backup folder: the originals that recompress --in-place "
        "replaced.\nimgpool never reads the files below this folder as "
        "inputs; keep this file.\n";
    ssize_t n;
    int fd, err;

    if (names_is_backup_dir(dirfd))
        return 0;
    fd = openat(dirfd, IMGPOOL_BACKUP_MARKER,
                O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0)
        return errno == EEXIST && names_is_backup_dir(dirfd) ? 0 : -1;
    n = write(fd, text, sizeof(text) - 1);
    err = errno;
    if (n == (ssize_t)sizeof(text) - 1 && fsync(fd) == 0) {
        close(fd);
        return 0;
    }
    err = n < 0 ? err : errno ? errno : EIO;
    close(fd);
    errno = err;
    return -1;
}
