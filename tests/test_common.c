/*
 * test_common.c - the shared helpers of src/common: the hash set, the
 * directory walk, path normalisation and the names of imgpool's own files.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "dirwalk.h"
#include "hashset.h"
#include "helpers.h"
#include "names.h"
#include "util.h"

/* ------------------------------------------------------------------------
 * hashset
 */

/* Keys are the strings of an array; the set holds their indices. */
struct strings {
    char **s;
    size_t n;
    size_t eq_calls;        /* how often the set asked for equality */
    size_t eq_mismatches;   /* ...with hashes that matched but keys not */
};

static int
str_eq(uint32_t value, const void *key, void *ctx)
{
    struct strings *k = ctx;
    int same = strcmp(k->s[value], key) == 0;

    k->eq_calls++;
    if (!same)
        k->eq_mismatches++;
    return same;
}

static uint64_t
str_hash(const char *s)
{
    return hashset_hash(s, strlen(s));
}

static void
strings_make(struct strings *k, size_t n)
{
    k->s = calloc(n, sizeof(*k->s));
    cr_assert(k->s != NULL);
    k->n = n;
    k->eq_calls = k->eq_mismatches = 0;
    for (size_t i = 0; i < n; i++)
        cr_assert(asprintf(&k->s[i], "dir%03zu/IMG_%07zu.jpg", i % 997, i) >
                  0);
}

static void
strings_free(struct strings *k)
{
    for (size_t i = 0; i < k->n; i++)
        free(k->s[i]);
    free(k->s);
}

/* xstrndup(): at most n bytes, always terminated, shorter strings whole. */
Test(util, xstrndup_copies_at_most_n_bytes)
{
    char *a = xstrndup("out/.imgpool", 3);
    char *b = xstrndup("ab", 10);
    char *c = xstrndup("abc", 0);

    cr_assert_str_eq(a, "out");
    cr_assert_eq(strlen(a), 3);
    cr_assert_str_eq(b, "ab");
    cr_assert_str_eq(c, "");
    free(a);
    free(b);
    free(c);
}

Test(hashset, empty_set_finds_nothing)
{
    struct hashset s;
    struct strings k = { 0 };

    hashset_init(&s);
    cr_assert_eq(hashset_find(&s, str_hash("a"), "a", str_eq, &k),
                 HASHSET_NONE);
    cr_assert_eq(k.eq_calls, 0);
    hashset_release(&s);
    hashset_release(&s);        /* twice is harmless */
}

Test(hashset, insert_find_and_duplicates)
{
    struct hashset s;
    struct strings k;
    uint32_t old = 12345;

    strings_make(&k, 3);
    hashset_init(&s);
    cr_assert_eq(hashset_insert(&s, str_hash(k.s[0]), 0, k.s[0], str_eq, &k,
                                &old), 0);
    cr_assert_eq(old, 12345, "untouched when the value was added");
    cr_assert_eq(hashset_insert(&s, str_hash(k.s[1]), 1, k.s[1], str_eq, &k,
                                NULL), 0);
    cr_assert_eq(s.n, 2);
    /* The same key again, under another value: refused, the first kept. */
    cr_assert_eq(hashset_insert(&s, str_hash(k.s[0]), 2, k.s[0], str_eq, &k,
                                &old), 1);
    cr_assert_eq(old, 0);
    cr_assert_eq(s.n, 2);
    cr_assert_eq(hashset_find(&s, str_hash(k.s[0]), k.s[0], str_eq, &k), 0);
    cr_assert_eq(hashset_find(&s, str_hash(k.s[1]), k.s[1], str_eq, &k), 1);
    cr_assert_eq(hashset_find(&s, str_hash(k.s[2]), k.s[2], str_eq, &k),
                 HASHSET_NONE);
    /* A copy of a key is the key: equality is the caller's, not identity. */
    {
        char *copy = strdup(k.s[1]);
        cr_assert_eq(hashset_find(&s, str_hash(copy), copy, str_eq, &k), 1);
        free(copy);
    }
    cr_assert_eq(hashset_insert(&s, 7, HASHSET_NONE, "x", str_eq, &k, NULL),
                 -1, "HASHSET_NONE is not a value");
    cr_assert_eq(errno, EINVAL);
    hashset_release(&s);
    strings_free(&k);
}

Test(hashset, grows_past_a_hundred_thousand_values)
{
    enum { N = 100000 };
    struct hashset s;
    struct strings k;
    size_t i;

    strings_make(&k, N);
    hashset_init(&s);
    for (i = 0; i < N; i++)
        cr_assert_eq(hashset_insert(&s, str_hash(k.s[i]), (uint32_t)i,
                                    k.s[i], str_eq, &k, NULL), 0,
                     "insert %zu", i);
    cr_assert_eq(s.n, N);
    cr_assert_geq(s.mask + 1, 2 * (size_t)N, "at most half full");
    for (i = 0; i < N; i++)
        cr_assert_eq(hashset_find(&s, str_hash(k.s[i]), k.s[i], str_eq, &k),
                     (uint32_t)i, "find %zu", i);
    /* Every value still refuses a duplicate after all the growing. */
    for (i = 0; i < N; i += 997)
        cr_assert_eq(hashset_insert(&s, str_hash(k.s[i]), 0, k.s[i], str_eq,
                                    &k, NULL), 1);
    cr_assert_eq(hashset_find(&s, str_hash("absent"), "absent", str_eq, &k),
                 HASHSET_NONE);
    /* XXH3 over distinct keys: equality is asked (almost) only for the
     * key itself, never for a key whose hash differs. */
    cr_assert_lt(k.eq_mismatches, 4, "%zu mismatched calls",
                 k.eq_mismatches);
    hashset_release(&s);
    strings_free(&k);
}

/* Equality counts calls and never matches: only hash collisions call it. */
static int
never_eq(uint32_t value, const void *key, void *ctx)
{
    size_t *calls = ctx;

    (void)value;
    (void)key;
    (*calls)++;
    return 0;
}

Test(hashset, equality_is_asked_only_on_a_hash_match)
{
    struct hashset s;
    size_t calls = 0;
    uint32_t i;

    hashset_init(&s);
    /* 1000 values under distinct hashes that all land on the same slot
     * chain (multiples of 1 << 20 agree in every low bit). */
    for (i = 0; i < 1000; i++)
        cr_assert_eq(hashset_insert(&s, (uint64_t)(i + 1) << 20, i, NULL,
                                    never_eq, &calls, NULL), 0);
    cr_assert_eq(calls, 0, "distinct hashes never reach equality");
    cr_assert_eq(hashset_find(&s, (uint64_t)5000 << 20, NULL, never_eq,
                              &calls), HASHSET_NONE);
    cr_assert_eq(calls, 0);
    /* The same hash as value 41: asked exactly once, and "no" means absent. */
    cr_assert_eq(hashset_find(&s, (uint64_t)42 << 20, NULL, never_eq,
                              &calls), HASHSET_NONE);
    cr_assert_eq(calls, 1);
    /* Equal hashes with unequal keys are both kept. */
    cr_assert_eq(hashset_insert(&s, (uint64_t)42 << 20, 5000, NULL, never_eq,
                                &calls, NULL), 0);
    cr_assert_eq(s.n, 1001);
    hashset_release(&s);
}

Test(hashset, reserve_then_insert_does_not_move_the_table)
{
    struct hashset s;
    struct strings k;
    struct hashset_slot *slots;
    size_t i;

    strings_make(&k, 1000);
    hashset_init(&s);
    cr_assert_eq(hashset_reserve(&s, 1000), 0);
    slots = s.slots;
    for (i = 0; i < 1000; i++)
        cr_assert_eq(hashset_insert(&s, str_hash(k.s[i]), (uint32_t)i,
                                    k.s[i], str_eq, &k, NULL), 0);
    cr_assert_eq(s.slots, slots, "reserved room was enough");
    cr_assert_eq(hashset_reserve(&s, SIZE_MAX / 2), -1);
    cr_assert_eq(errno, ENOMEM);
    cr_assert_eq(hashset_find(&s, str_hash(k.s[999]), k.s[999], str_eq, &k),
                 999, "a failed reserve keeps the set");
    hashset_release(&s);
    strings_free(&k);
}

Test(hashset, hash2_separates_pairs)
{
    cr_assert_neq(hashset_hash2(1, 2), hashset_hash2(2, 1));
    cr_assert_neq(hashset_hash2(0, 1), hashset_hash2(0, 2));
    cr_assert_eq(hashset_hash2(7, 9), hashset_hash2(7, 9));
    cr_assert_eq(hashset_hash("abc", 3), hashset_hash("abcd", 3));
    cr_assert_neq(hashset_hash("abc", 3), hashset_hash("abd", 3));
}

/* ------------------------------------------------------------------------
 * dirwalk_open
 */

static char *tmp;
static int tmpfd;

static void
walk_setup(void)
{
    tmp = th_mkdtemp();
    tmpfd = open(tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    cr_assert(tmpfd >= 0);
}

static void
walk_teardown(void)
{
    close(tmpfd);
    th_rmrf(tmp);
    free(tmp);
}

TestSuite(dirwalk, .init = walk_setup, .fini = walk_teardown);

static int
is_dir(const char *name)
{
    char *p = th_path(tmp, name);
    struct stat sb;
    int ok = lstat(p, &sb) == 0 && S_ISDIR(sb.st_mode);

    free(p);
    return ok;
}

/* Same directory as @name below tmp? */
static int
fd_is(int fd, const char *name)
{
    char *p = th_path(tmp, name);
    struct stat a, b;
    int same = fstat(fd, &a) == 0 && stat(p, &b) == 0 &&
               a.st_dev == b.st_dev && a.st_ino == b.st_ino;

    free(p);
    return same;
}

Test(dirwalk, creates_nested_directories)
{
    const char *rel = "a/b//./c/";
    int fd = dirwalk_open(tmpfd, rel, strlen(rel), DIRWALK_CREATE, 0750);

    cr_assert(fd >= 0, "%s", strerror(errno));
    cr_assert(is_dir("a") && is_dir("a/b") && is_dir("a/b/c"));
    cr_assert(fd_is(fd, "a/b/c"));
    cr_assert(fcntl(fd, F_GETFD) & FD_CLOEXEC);
    close(fd);
    /* Existing components are opened, not an error. */
    fd = dirwalk_open(tmpfd, "a/b", 3, DIRWALK_CREATE, 0750);
    cr_assert(fd >= 0 && fd_is(fd, "a/b"));
    close(fd);
    /* Only the first @len bytes count. */
    fd = dirwalk_open(tmpfd, "a/b/zzz", 3, DIRWALK_CREATE, 0750);
    cr_assert(fd >= 0 && fd_is(fd, "a/b"));
    close(fd);
    cr_assert_not(is_dir("a/b/zzz"));
}

Test(dirwalk, empty_or_dot_is_the_directory_itself)
{
    int fd = dirwalk_open(tmpfd, "", 0, 0, 0);

    cr_assert(fd >= 0 && fd != tmpfd && fd_is(fd, "."));
    close(fd);
    fd = dirwalk_open(tmpfd, ".", 1, 0, 0);
    cr_assert(fd >= 0 && fd_is(fd, "."));
    close(fd);
}

Test(dirwalk, missing_directory_without_create_is_enoent)
{
    cr_assert_eq(dirwalk_open(tmpfd, "nope/deeper", 11, 0, 0), -1);
    cr_assert_eq(errno, ENOENT);
    cr_assert_not(is_dir("nope"));
}

Test(dirwalk, refuses_a_symlinked_component_with_eloop)
{
    char *target = th_path(tmp, "real/inner");
    char *link = th_path(tmp, "link");
    int fd;

    th_mkdirs(target);
    cr_assert_eq(symlink("real", link), 0);
    fd = dirwalk_open(tmpfd, "link/inner", 10, 0, 0);
    cr_assert_eq(fd, -1);
    cr_assert_eq(errno, ELOOP);
    /* Also when creating: nothing is made through the link. */
    fd = dirwalk_open(tmpfd, "link/new", 8, DIRWALK_CREATE, 0755);
    cr_assert_eq(fd, -1);
    cr_assert_eq(errno, ELOOP);
    cr_assert_not(is_dir("real/new"));
    /* As the last component too. */
    cr_assert_eq(dirwalk_open(tmpfd, "link", 4, 0, 0), -1);
    cr_assert_eq(errno, ELOOP);
    free(target);
    free(link);
}

Test(dirwalk, follow_follows_symlinks_and_dotdot)
{
    char *target = th_path(tmp, "real/inner");
    char *link = th_path(tmp, "link");
    int fd;

    th_mkdirs(target);
    cr_assert_eq(symlink("real", link), 0);
    fd = dirwalk_open(tmpfd, "link/inner", 10, DIRWALK_FOLLOW, 0);
    cr_assert(fd >= 0, "%s", strerror(errno));
    cr_assert(fd_is(fd, "real/inner"));
    close(fd);
    fd = dirwalk_open(tmpfd, "link/inner/../new", 17,
                      DIRWALK_FOLLOW | DIRWALK_CREATE, 0755);
    cr_assert(fd >= 0, "%s", strerror(errno));
    cr_assert(is_dir("real/new"));
    close(fd);
    free(target);
    free(link);
}

Test(dirwalk, refuses_dotdot)
{
    char *sub = th_path(tmp, "a/b");
    int fd;

    th_mkdirs(sub);
    fd = dirwalk_open(tmpfd, "a/../a/b", 8, 0, 0);
    cr_assert_eq(fd, -1);
    cr_assert_eq(errno, EINVAL);
    fd = dirwalk_open(tmpfd, "..", 2, DIRWALK_CREATE, 0755);
    cr_assert_eq(fd, -1);
    cr_assert_eq(errno, EINVAL);
    free(sub);
}

Test(dirwalk, file_component_is_enotdir)
{
    char *f = th_path(tmp, "file");

    th_write_file(f, "x", 1);
    cr_assert_eq(dirwalk_open(tmpfd, "file/x", 6, DIRWALK_CREATE, 0755), -1);
    cr_assert_eq(errno, ENOTDIR);
    free(f);
}

Test(dirwalk, absolute_path_starts_at_the_root)
{
    int fd = dirwalk_open(tmpfd, tmp, strlen(tmp), 0, 0);

    /* th_mkdtemp() may lie below a symlinked $TMPDIR: then ELOOP is right. */
    if (fd < 0) {
        cr_assert_eq(errno, ELOOP);
        return;
    }
    cr_assert(fd_is(fd, "."));
    close(fd);
    fd = dirwalk_open(AT_FDCWD, "/", 1, 0, 0);
    cr_assert(fd >= 0);
    close(fd);
}

Test(dirwalk, overlong_component_is_enametoolong)
{
    char name[300];

    memset(name, 'x', sizeof(name) - 1);
    name[sizeof(name) - 1] = '\0';
    cr_assert_eq(dirwalk_open(tmpfd, name, strlen(name), DIRWALK_CREATE,
                              0755), -1);
    cr_assert_eq(errno, ENAMETOOLONG);
}

/* ------------------------------------------------------------------------
 * dirwalk_normalize
 */

Test(normalize, collapses_slashes_and_dots)
{
    static const struct {
        const char *in, *out;
    } cases[] = {
        { "out", "out" },
        { "out/", "out" },
        { "out//", "out" },
        { "out/.", "out" },
        { "out/./", "out" },
        { "./out", "out" },
        { "./out/.", "out" },
        { ".//out//.//", "out" },
        { "a//b/./c", "a/b/c" },
        { "/", "/" },
        { "//", "/" },
        { "/.", "/" },
        { "/./", "/" },
        { "/tmp//x/", "/tmp/x" },
        { ".", "." },
        { "./", "." },
        { "./.", "." },
        { "..", ".." },
        { "../out/", "../out" },
        { "a/../b", "a/../b" },
        { ".hidden/", ".hidden" },
        { "a/.b/..c", "a/.b/..c" },
        { "", "" },
    };
    char buf[64];
    size_t i, n;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        snprintf(buf, sizeof(buf), "%s", cases[i].in);
        n = dirwalk_normalize(buf);
        cr_assert_str_eq(buf, cases[i].out, "'%s' -> '%s', want '%s'",
                         cases[i].in, buf, cases[i].out);
        cr_assert_eq(n, strlen(cases[i].out), "length of '%s'",
                     cases[i].in);
    }
}

/* ------------------------------------------------------------------------
 * names
 */

Test(names, lock_and_state_paths)
{
    static const struct {
        const char *dir;
        int k, n;
        const char *lock, *db;
    } cases[] = {
        { "out", 0, 0, "out/.imgpool/lock", "out/.imgpool/state.sqlite" },
        { "/", 0, 0, "/.imgpool/lock", "/.imgpool/state.sqlite" },
        /* one shard of one: its own lock, the unsharded database */
        { "o", 0, 1, "o/.imgpool/lock-0-of-1", "o/.imgpool/state.sqlite" },
        { "o", 2, 4, "o/.imgpool/lock-2-of-4",
          "o/.imgpool/state-2-of-4.sqlite" },
    };
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *lock = names_lock_path(cases[i].dir, cases[i].k, cases[i].n);
        char *db = names_state_db_path(cases[i].dir, cases[i].k, cases[i].n);

        cr_assert_str_eq(lock, cases[i].lock);
        cr_assert_str_eq(db, cases[i].db);
        free(lock);
        free(db);
    }
    {
        char *dir = names_state_dir("out");
        cr_assert_str_eq(dir, "out/" IMGPOOL_STATE_DIR);
        free(dir);
    }
}
