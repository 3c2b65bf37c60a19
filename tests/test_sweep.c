/*
 * test_sweep.c - temporary names carry their host, and the stale-temp
 * sweep removes only this host's temporaries whose process is gone (or
 * any that is a day old), never through a symbolic link.
 *
 *   names   the temporary name: format, parse, host id per PID namespace
 *   sweep   the rules on one directory (sweep_dir())
 *   sweep_e2e  the binary: out/a -> victim/ leaves the victim untouched
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "helpers.h"
#include "names.h"
#include "sweep.h"

/* A pid that was just used and is gone. */
static pid_t
dead_pid(void)
{
    pid_t pid = fork();

    cr_assert(pid >= 0);
    if (pid == 0)
        _exit(0);
    waitpid(pid, NULL, 0);
    return pid;
}

/* A file @name in @dir with @text; returns its path (caller frees). */
static char *
put(const char *dir, const char *name, const char *text)
{
    char *p = th_path(dir, name);

    th_write_file(p, text, strlen(text));
    return p;
}

/* The host id as a fresh process in a new PID namespace computes it, or
 * NULL when user namespaces are not available here. */
static char *
host_id_in_new_pidns(void)
{
    int fds[2];
    char buf[NAMES_HOST_LEN + 1] = "";
    pid_t pid;
    int status;
    ssize_t n;

    cr_assert(pipe(fds) == 0);
    pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) {
        pid_t inner;

        close(fds[0]);
        if (unshare(CLONE_NEWUSER | CLONE_NEWPID) < 0 &&
            unshare(CLONE_NEWPID) < 0)
            _exit(3);
        inner = fork();
        if (inner == 0) {
            const char *id = names_host_id();
            _exit(write(fds[1], id, strlen(id)) == NAMES_HOST_LEN ? 0 : 4);
        }
        if (inner < 0 || waitpid(inner, &status, 0) < 0)
            _exit(5);
        _exit(WIFEXITED(status) ? WEXITSTATUS(status) : 6);
    }
    close(fds[1]);
    n = read(fds[0], buf, NAMES_HOST_LEN);
    close(fds[0]);
    waitpid(pid, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) == 3)
        return NULL;
    cr_assert_eq(n, NAMES_HOST_LEN, "no host id from the new namespace");
    buf[NAMES_HOST_LEN] = '\0';
    return strdup(buf);
}

TestSuite(names);

Test(names, tmp_name_carries_host_and_pid_and_parses_back)
{
    char buf[NAMES_TMP_SIZE], expect[NAMES_TMP_SIZE];
    struct names_tmp t;
    const char *id = names_host_id();

    cr_assert_eq(strlen(id), NAMES_HOST_LEN);
    cr_assert_eq(strspn(id, "0123456789abcdef"), NAMES_HOST_LEN, "%s", id);
    cr_assert_str_eq(names_host_id(), id, "the host id is not stable");
    cr_assert_eq(names_tmp(buf, sizeof(buf), 4194303, 4294967295u), 0);
    snprintf(expect, sizeof(expect), ".imgpool-tmp-%s-4194303-4294967295",
             id);
    cr_assert_str_eq(buf, expect);
    cr_assert_eq(names_tmp_parse(buf, &t), NAMES_TMP_HOST);
    cr_assert_str_eq(t.host, id);
    cr_assert_eq(t.pid, 4194303);
    cr_assert_eq(t.n, 4294967295ul);
    errno = 0;
    cr_assert_eq(names_tmp(buf, 20, 1, 0), -1);
    cr_assert_eq(errno, ERANGE);
}

Test(names, legacy_and_foreign_names)
{
    struct names_tmp t;

    cr_assert_eq(names_tmp_parse(".imgpool-tmp-1234-7", &t),
                 NAMES_TMP_LEGACY);
    cr_assert_eq(t.pid, 1234);
    cr_assert_eq(t.n, 7);
    cr_assert_str_eq(t.host, "");
    cr_assert_eq(names_tmp_parse(".imgpool-tmp-0123456789abcdef-9-0", &t),
                 NAMES_TMP_HOST);
    cr_assert_str_eq(t.host, "0123456789abcdef");
    cr_assert_eq(t.pid, 9);
    /* Not ours to touch: every other shape. */
    static const char *const none[] = {
        ".imgpool-tmp-", ".imgpool-tmp-abc", ".imgpool-tmp-12",
        ".imgpool-tmp-12-", ".imgpool-tmp-12-3x", ".imgpool-tmp-0-3",
        ".imgpool-tmp-12-3-4", ".imgpool-tmp-0123456789ABCDEF-9-0",
        ".imgpool-tmp-0123456789abcde-9-0", ".imgpool-tmp-12345.jpg",
        ".imgpool-tmp-99999999999-1", "photo.jpg", "imgpool-tmp-1-2",
    };
    for (size_t i = 0; i < sizeof(none) / sizeof(none[0]); i++)
        cr_assert_eq(names_tmp_parse(none[i], NULL), NAMES_TMP_NONE,
                     "'%s' parsed as %s", none[i],
                     names_tmp_kind_str(names_tmp_parse(none[i], NULL)));
    cr_assert_str_eq(names_tmp_kind_str(NAMES_TMP_LEGACY), "legacy");
}

Test(names, another_pid_namespace_is_another_host)
{
    char *other = host_id_in_new_pidns();

    if (!other) {
        /* stderr, not cr_log_warn: see tests/CMakeLists.txt */
        fprintf(stderr, "SKIPPED (environment): cannot create a PID "
                "namespace here\n");
        cr_skip_test("no PID namespaces (unshare failed)");
    }
    cr_assert_str_neq(other, names_host_id(),
                      "a second PID namespace got this host's id");
    free(other);
}

TestSuite(sweep, .init = th_dir_setup, .fini = th_dir_teardown);

Test(sweep, removes_only_this_hosts_dead_temporaries_and_day_old_ones)
{
    char name[NAMES_TMP_SIZE], target[64];
    pid_t dead = dead_pid();
    time_t now = time(NULL);
    char *ours_dead, *ours_live, *other_dead, *legacy_dead, *legacy_old,
        *other_old, *link, *victim, *dir, *odd, *photo;

    names_tmp(name, sizeof(name), dead, 0);
    ours_dead = put(th_dir, name, "a");
    names_tmp(name, sizeof(name), getpid(), 1);
    ours_live = put(th_dir, name, "b");
    snprintf(name, sizeof(name), ".imgpool-tmp-%s-%d-2",
             strcmp(names_host_id(), "00000000deadbeef") ? "00000000deadbeef"
                                                         : "00000000feedbeef",
             (int)dead);
    other_dead = put(th_dir, name, "c");
    snprintf(name, sizeof(name), ".imgpool-tmp-%d-3", (int)dead);
    legacy_dead = put(th_dir, name, "d");
    snprintf(name, sizeof(name), ".imgpool-tmp-%d-4", (int)getpid());
    legacy_old = put(th_dir, name, "e");
    th_set_mtime(legacy_old, (long long)now - SWEEP_MAX_AGE_S - 3600, 0);
    snprintf(name, sizeof(name), ".imgpool-tmp-00000000cafef00d-%d-5",
             (int)getpid());
    other_old = put(th_dir, name, "f");
    th_set_mtime(other_old, (long long)now - 2 * SWEEP_MAX_AGE_S, 0);
    /* A link and a directory with a stale name of ours: not files. */
    victim = put(th_dir, "victim.txt", "precious");
    names_tmp(name, sizeof(name), dead, 6);
    link = th_path(th_dir, name);
    cr_assert(symlink("victim.txt", link) == 0);
    names_tmp(name, sizeof(name), dead, 7);
    dir = th_path(th_dir, name);
    cr_assert(mkdir(dir, 0755) == 0);
    odd = put(th_dir, ".imgpool-tmp-abc", "g");
    th_set_mtime(odd, (long long)now - 2 * SWEEP_MAX_AGE_S, 0);
    photo = put(th_dir, "photo.jpg", "h");

    cr_assert_eq(sweep_dir(th_dir), 3);
    cr_assert_not(th_exists(ours_dead), "this host's dead temporary kept");
    cr_assert_not(th_exists(legacy_old), "day-old legacy temporary kept");
    cr_assert_not(th_exists(other_old), "day-old foreign temporary kept");
    cr_assert(th_exists(ours_live), "a live process's temporary removed");
    cr_assert(th_exists(other_dead), "another host's temporary removed");
    cr_assert(th_exists(legacy_dead), "a fresh legacy temporary removed");
    cr_assert(readlink(link, target, sizeof(target)) > 0, "link removed");
    cr_assert(th_exists(dir) && th_exists(odd) && th_exists(photo));
    {
        size_t len;
        char *data = th_read_file(victim, &len);
        cr_assert(len == 8 && memcmp(data, "precious", 8) == 0);
        free(data);
    }
    free(ours_dead); free(ours_live); free(other_dead); free(legacy_dead);
    free(legacy_old); free(other_old); free(link); free(victim); free(dir);
    free(odd); free(photo);
}

Test(sweep, root_removes_a_stale_temporary_of_another_user)
{
    char name[NAMES_TMP_SIZE];
    char *p;

    names_tmp(name, sizeof(name), dead_pid(), 0);
    p = put(th_dir, name, "x");
    if (geteuid() != 0) {
        free(p);
        cr_skip_test("not root: cannot plant a file owned by someone else");
    }
    cr_assert(lchown(p, 65534, 65534) == 0);
    cr_assert_eq(sweep_dir(th_dir), 1, "root may remove any stale temp");
    cr_assert_not(th_exists(p));
    free(p);
}

/* ------------------------------------------------------------------------
 * The binary: a symbolic link in the output tree leads to a victim folder
 */

static int
cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* "name type size hash" of every entry of @dir, sorted, one a line: what
 * must not change in a victim folder. */
static char *
dir_digest(const char *dir)
{
    char *names[64], *out = NULL, *line;
    size_t n = 0;
    struct dirent *e;
    DIR *d = opendir(dir);

    cr_assert(d != NULL, "cannot open '%s'", dir);
    while ((e = readdir(d)) != NULL && n < 64)
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            names[n++] = strdup(e->d_name);
    closedir(d);
    qsort(names, n, sizeof(names[0]), cmp_str);
    for (size_t i = 0; i < n; i++) {
        char *p = th_path(dir, names[i]);
        unsigned long long h = 0xcbf29ce484222325ULL;
        struct stat sb;
        size_t sz = 0;

        cr_assert(lstat(p, &sb) == 0);
        if (S_ISREG(sb.st_mode)) {
            char *data = th_read_file(p, &sz);
            for (size_t k = 0; k < sz; k++)
                h = (h ^ (unsigned char)data[k]) * 0x100000001b3ULL;
            free(data);
        }
        cr_assert(asprintf(&line, "%s%s %o %zu %llx %lld\n", out ? out : "",
                           names[i], (unsigned)sb.st_mode, sz, h,
                           (long long)sb.st_mtim.tv_sec) > 0);
        free(out);
        out = line;
        free(p);
        free(names[i]);
    }
    return out ? out : strdup("");
}

/* A victim folder with temporaries the sweep would remove anywhere else. */
static char *
make_victim(const char *victim, pid_t dead)
{
    char name[NAMES_TMP_SIZE];
    char *p;

    th_mkdirs(victim);
    free(put(victim, "passwd", "root:x:0:0"));
    names_tmp(name, sizeof(name), dead, 0);
    free(put(victim, name, "half"));
    snprintf(name, sizeof(name), ".imgpool-tmp-%d-1", (int)dead);
    p = put(victim, name, "old");
    th_set_mtime(p, (long long)time(NULL) - 3 * SWEEP_MAX_AGE_S, 0);
    free(p);
    return dir_digest(victim);
}

static void
copy_input(const char *name, const char *to)
{
    char *src = th_testdata(name);

    th_copy_file(src, to);
    free(src);
}

Test(sweep, output_link_to_victim_folder_is_never_swept)
{
    char *in = th_path(th_dir, "in"), *out = th_path(th_dir, "out");
    char *victim = th_path(th_dir, "victim"), *before, *after, *p, *stale;
    char *link = th_path(out, "a"), name[NAMES_TMP_SIZE];
    const char *args[] = { "thumbnail", in, "-o", out, NULL };
    pid_t dead = dead_pid();
    struct th_run r;

    p = th_path(in, "a/x.jpg");
    copy_input("rgb.jpg", p);
    free(p);
    p = th_path(in, "b/y.jpg");
    copy_input("rgb.jpg", p);
    free(p);
    before = make_victim(victim, dead);
    p = th_path(out, "b");
    th_mkdirs(p);
    names_tmp(name, sizeof(name), dead, 9);
    stale = put(p, name, "stale");
    free(p);
    cr_assert(symlink(victim, link) == 0);

    th_run(&r, args);
    after = dir_digest(victim);
    cr_assert_str_eq(after, before, "the victim folder changed:\n%s\n"
                     "stderr: %s", after, r.err);
    cr_assert_not(th_exists(stale), "the sweep did not run (stderr: %s)",
                  r.err);
    p = th_path(out, "b/y.jpg");
    th_assert_thumbnail(p, 300);
    free(p);
    th_run_release(&r);
    free(before); free(after); free(stale); free(in); free(out);
    free(victim); free(link);
}

Test(sweep, in_place_link_to_victim_folder_is_never_swept)
{
    char *in = th_path(th_dir, "in"), *victim = th_path(th_dir, "victim");
    char *link = th_path(in, "sub"), *before, *after, *p, *stale;
    char name[NAMES_TMP_SIZE];
    const char *args[] = { "recompress", "--in-place", in, NULL };
    pid_t dead = dead_pid();
    struct th_run r;

    p = th_path(in, "real/x.jpg");
    copy_input("rgb.jpg", p);
    free(p);
    p = th_path(in, "real");
    names_tmp(name, sizeof(name), dead, 9);
    stale = put(p, name, "stale");
    free(p);
    before = make_victim(victim, dead);
    free(before);
    p = th_path(victim, "v.jpg");
    copy_input("rgb.jpg", p);
    free(p);
    before = dir_digest(victim);
    cr_assert(symlink(victim, link) == 0);

    th_run(&r, args);
    after = dir_digest(victim);
    cr_assert_str_eq(after, before, "the victim folder changed:\n%s\n"
                     "stderr: %s", after, r.err);
    cr_assert_not(th_exists(stale), "the sweep did not run (stderr: %s)",
                  r.err);
    th_run_release(&r);
    free(before); free(after); free(stale); free(in); free(victim);
    free(link);
}
