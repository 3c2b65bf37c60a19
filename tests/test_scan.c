/*
 * test_scan.c - scan_run() on small trees built in a fresh temporary
 * directory per test: ordering, classification by extension and content,
 * special files, symlinks, filters, unreadable parts and odd roots.
 *
 * The helpers are local (prefix ts_) so these tests depend on nothing but
 * the scanner, libc and Criterion.
 */
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "msg.h"
#include "plan.h"
#include "scan.h"

static char *tmp;    /* this test's directory */

static const unsigned char png_bytes[] = {
    0x89, 'P', 'N', 'G', 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0x0d,
    'I', 'H', 'D', 'R', 0, 0, 0, 1, 0, 0, 0, 1, 8, 2, 0, 0, 0,
};
static const unsigned char jpeg_bytes[] = {
    0xff, 0xd8, 0xff, 0xe0, 0, 0x10, 'J', 'F', 'I', 'F', 0,
};

/* ------------------------------------------------------------------------
 * Helpers
 */

/* "tmp/rel", malloc'ed. */
static char *
ts_path(const char *rel)
{
    size_t n = strlen(tmp) + 1 + strlen(rel) + 1;
    char *p = malloc(n);

    cr_assert_not_null(p);
    snprintf(p, n, "%s/%s", tmp, rel);
    return p;
}

/* mkdir -p of every directory in @rel (the last component too when it
 * ends in '/'), below tmp. */
static void
ts_mkdirs(const char *rel)
{
    char *p = ts_path(rel);
    char *s;

    for (s = p + strlen(tmp) + 1; *s != '\0'; s++) {
        if (*s != '/')
            continue;
        *s = '\0';
        cr_assert(mkdir(p, 0755) == 0 || errno == EEXIST, "mkdir %s: %s", p,
                  strerror(errno));
        *s = '/';
    }
    free(p);
}

static void
ts_write(const char *rel, const void *data, size_t len)
{
    char *p;
    FILE *f;

    ts_mkdirs(rel);
    p = ts_path(rel);
    f = fopen(p, "wb");
    cr_assert_not_null(f, "fopen %s: %s", p, strerror(errno));
    cr_assert_eq(fwrite(data, 1, len, f), len);
    cr_assert_eq(fclose(f), 0);
    free(p);
}

static void
ts_text(const char *rel, const char *text)
{
    ts_write(rel, text, strlen(text));
}

static void
ts_png(const char *rel)
{
    ts_write(rel, png_bytes, sizeof(png_bytes));
}

static void
ts_symlink(const char *target, const char *rel)
{
    char *p;

    ts_mkdirs(rel);
    p = ts_path(rel);
    cr_assert_eq(symlink(target, p), 0, "symlink %s: %s", p, strerror(errno));
    free(p);
}

/* rm -rf that also gets through directories someone chmod'ed to 000. */
static void
ts_rmrf(const char *path)
{
    struct stat st;
    DIR *d;
    struct dirent *de;

    if (lstat(path, &st) < 0)
        return;
    if (!S_ISDIR(st.st_mode)) {
        unlink(path);
        return;
    }
    chmod(path, 0700);
    d = opendir(path);
    if (d != NULL) {
        for (;;) {
            char *child;
            size_t n;

            de = readdir(d);
            if (de == NULL)
                break;
            if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
                continue;
            n = strlen(path) + strlen(de->d_name) + 2;
            child = malloc(n);
            if (child == NULL)
                break;
            snprintf(child, n, "%s/%s", path, de->d_name);
            ts_rmrf(child);
            free(child);
        }
        closedir(d);
    }
    rmdir(path);
}

static void
setup(void)
{
    char templ[] = "/tmp/imgpool-scan-XXXXXX";
    const char *env = getenv("TMPDIR");
    char *t;

    if (env != NULL && env[0] != '\0') {
        size_t n = strlen(env) + sizeof("/imgpool-scan-XXXXXX");
        t = malloc(n);
        cr_assert_not_null(t);
        snprintf(t, n, "%s/imgpool-scan-XXXXXX", env);
    } else {
        t = strdup(templ);
        cr_assert_not_null(t);
    }
    cr_assert_not_null(mkdtemp(t), "mkdtemp: %s", strerror(errno));
    tmp = t;
    msg_set_level(MSG_NORMAL);
}

static void
teardown(void)
{
    if (tmp != NULL)
        ts_rmrf(tmp);
    free(tmp);
    tmp = NULL;
}

TestSuite(scan, .init = setup, .fini = teardown, .timeout = 30);

/* scan_run over the given roots (relative to tmp unless absolute). */
struct ts_scan {
    const char *roots[4];
    const char *includes[4];
    const char *excludes[4];
    int follow;
};

static int
ts_run(const struct ts_scan *s, struct scan_list *l)
{
    struct scan_opts o;
    char *roots[4];
    size_t n = 0, i;
    int r;

    memset(&o, 0, sizeof(o));
    for (n = 0; n < 4 && s->roots[n] != NULL; n++)
        roots[n] = s->roots[n][0] == '/' ? strdup(s->roots[n])
                                         : ts_path(s->roots[n]);
    if (n == 0) {
        roots[0] = strdup(tmp);
        n = 1;
    }
    o.roots = (const char *const *)roots;
    o.nroots = n;
    o.includes = s->includes;
    while (o.nincludes < 4 && s->includes[o.nincludes] != NULL)
        o.nincludes++;
    o.excludes = s->excludes;
    while (o.nexcludes < 4 && s->excludes[o.nexcludes] != NULL)
        o.nexcludes++;
    o.follow_symlinks = s->follow;
    scan_list_init(l);
    r = scan_run(&o, l);
    for (i = 0; i < n; i++)
        free(roots[i]);
    return r;
}

/* Every task's rel, joined with ' '. */
static char *
ts_rels(const struct scan_list *l)
{
    size_t i, n = 1;
    char *s;

    for (i = 0; i < l->n; i++)
        n += strlen(l->tasks[i].rel) + 1;
    s = malloc(n);
    cr_assert_not_null(s);
    s[0] = '\0';
    for (i = 0; i < l->n; i++) {
        if (i > 0)
            strcat(s, " ");
        strcat(s, l->tasks[i].rel);
    }
    return s;
}

static void
assert_rels(const struct scan_list *l, const char *want)
{
    char *got = ts_rels(l);

    cr_assert_str_eq(got, want);
    free(got);
}

static const struct task *
find(const struct scan_list *l, const char *rel)
{
    size_t i;

    for (i = 0; i < l->n; i++) {
        if (strcmp(l->tasks[i].rel, rel) == 0)
            return &l->tasks[i];
    }
    return NULL;
}

/* ------------------------------------------------------------------------
 * Tests
 */

Test(scan, image_extensions)
{
    cr_assert(scan_has_image_ext("a.jpg"));
    cr_assert(scan_has_image_ext("A.JPG"));
    cr_assert(scan_has_image_ext("b.JpEg"));
    cr_assert(scan_has_image_ext("dir.d/c.heic"));
    cr_assert(scan_has_image_ext("x.tar.png"));
    cr_assert(scan_has_image_ext("d.avif"));
    cr_assert_not(scan_has_image_ext("a.txt"));
    cr_assert_not(scan_has_image_ext("jpg"));
    cr_assert_not(scan_has_image_ext(".jpg"));
    cr_assert_not(scan_has_image_ext("a."));
    cr_assert_not(scan_has_image_ext("a.jpg.bak"));
    cr_assert_not(scan_has_image_ext("a.jpg/b"));
    cr_assert_not(scan_has_image_ext(""));
}

Test(scan, deterministic_order_and_fields)
{
    struct ts_scan s = {{NULL}};
    struct scan_list l, l2;
    struct stat st;
    const struct task *t;
    char *p;
    size_t i;

    ts_png("b.jpg");
    ts_png("a.jpg");
    ts_png("A.jpg");
    ts_png("c/e.png");
    ts_png("c/d.jpg");
    ts_png("c.png");
    ts_png("c/sub/z.gif");

    cr_assert_eq(ts_run(&s, &l), 0);
    assert_rels(&l, "A.jpg a.jpg b.jpg c/d.jpg c/e.png c/sub/z.gif c.png");
    cr_assert_eq(ts_run(&s, &l2), 0);
    cr_assert_eq(l2.n, l.n);
    for (i = 0; i < l.n; i++)
        cr_assert_str_eq(l.tasks[i].path, l2.tasks[i].path);
    scan_list_release(&l2);

    t = find(&l, "c/d.jpg");
    cr_assert_not_null(t);
    p = ts_path("c/d.jpg");
    cr_assert_str_eq(t->path, p);
    cr_assert_eq(t->rel, t->path + strlen(tmp) + 1);
    cr_assert_eq(stat(p, &st), 0);
    cr_assert_eq(t->size, (int64_t)sizeof(png_bytes));
    cr_assert_eq(t->dev, (uint64_t)st.st_dev);
    cr_assert_eq(t->ino, (uint64_t)st.st_ino);
    cr_assert_eq(t->mtime_ns, (int64_t)st.st_mtim.tv_sec * 1000000000 +
                                  st.st_mtim.tv_nsec);
    cr_assert_eq(t->root_index, 0);
    cr_assert_eq(t->pre_status, TASK_OK);
    cr_assert_eq(t->pre_class, ERR_NONE);
    cr_assert_null(t->pre_msg);
    cr_assert_null(t->out_path);
    cr_assert_eq(l.ignored, 0);
    cr_assert_eq(l.excluded, 0);
    cr_assert_eq(l.walk_errors, 0);
    free(p);
    scan_list_release(&l);
    cr_assert_eq(l.n, 0);
    cr_assert_null(l.tasks);
}

Test(scan, classify_by_extension_and_content)
{
    struct ts_scan s = {{NULL}};
    struct scan_list l;

    ts_text("notes.txt", "not an image\n");
    ts_text("fake.JPG", "text, but the extension decides\n");
    ts_png("photo");                           /* no extension */
    ts_write("download.bin", jpeg_bytes, sizeof(jpeg_bytes));
    ts_png("README");
    ts_text("README.md", "# readme\n");
    ts_text("empty", "");
    ts_text("BMX", "BMX bikes, a list\n");

    cr_assert_eq(ts_run(&s, &l), 0);
    assert_rels(&l, "README download.bin fake.JPG photo");
    cr_assert_eq(l.ignored, 4);
    cr_assert_eq(l.walk_errors, 0);
    scan_list_release(&l);
}

Test(scan, hidden_files_included_temp_files_not)
{
    struct ts_scan s = {{NULL}};
    struct scan_list l;

    ts_png(".hidden.jpg");
    ts_png(".cache/x.png");
    ts_png(".imgpool-tmp-12345.jpg");
    ts_png("sub/.imgpool-tmp-abc");

    cr_assert_eq(ts_run(&s, &l), 0);
    assert_rels(&l, ".cache/x.png .hidden.jpg");
    cr_assert_eq(l.ignored, 2);
    scan_list_release(&l);
}

Test(scan, fifo_is_skipped_never_opened, .timeout = 10)
{
    struct ts_scan s = {{NULL}};
    struct scan_list l;
    const struct task *t;
    char *p = ts_path("x.jpg");
    char *q = ts_path("pipe");

    cr_assert_eq(mkfifo(p, 0644), 0);
    cr_assert_eq(mkfifo(q, 0644), 0);
    ts_png("y.jpg");

    /* Opening either FIFO for reading would block: no writer. */
    cr_assert_eq(ts_run(&s, &l), 0);
    assert_rels(&l, "x.jpg y.jpg");
    t = find(&l, "x.jpg");
    cr_assert_eq(t->pre_status, TASK_SKIPPED);
    cr_assert_eq(t->pre_class, ERR_NOT_REGULAR);
    cr_assert_str_eq(t->pre_msg, "not a regular file (fifo)");
    cr_assert_eq(find(&l, "y.jpg")->pre_status, TASK_OK);
    cr_assert_eq(l.ignored, 1);    /* "pipe" */
    scan_list_release(&l);
    free(p);
    free(q);
}

Test(scan, fifo_given_as_root, .timeout = 10)
{
    struct ts_scan s = {{"in.png"}};
    struct scan_list l;
    char *p = ts_path("in.png");

    cr_assert_eq(mkfifo(p, 0644), 0);
    cr_assert_eq(ts_run(&s, &l), 0);
    cr_assert_eq(l.n, 1);
    cr_assert_eq(l.tasks[0].pre_class, ERR_NOT_REGULAR);
    cr_assert_str_eq(l.tasks[0].rel, "in.png");
    scan_list_release(&l);
    free(p);
}

Test(scan, socket_is_skipped)
{
    struct ts_scan s = {{NULL}};
    struct scan_list l;
    struct sockaddr_un sa;
    char *p = ts_path("s.png");
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);

    cr_assert_geq(fd, 0);
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    if (strlen(p) >= sizeof(sa.sun_path))
        cr_skip_test("temporary path too long for a socket");
    strcpy(sa.sun_path, p);
    cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);

    cr_assert_eq(ts_run(&s, &l), 0);
    cr_assert_eq(l.n, 1);
    cr_assert_str_eq(l.tasks[0].pre_msg, "not a regular file (socket)");
    scan_list_release(&l);
    close(fd);
    free(p);
}

Test(scan, symlinks_not_followed_by_default)
{
    struct ts_scan s = {{NULL}};
    struct scan_list l;
    const struct task *t;

    ts_png("real/a.jpg");
    ts_png("real/noext");
    ts_symlink("real/a.jpg", "link.jpg");
    ts_symlink("real/noext", "link2");
    ts_symlink("real", "dirlink");
    ts_symlink("/nonexistent/target.jpg", "dangling.jpg");

    cr_assert_eq(ts_run(&s, &l), 0);
    /* Every link that names an image or leads to a directory has a
     * record: nothing below a root vanishes silently. */
    assert_rels(&l, "dangling.jpg dirlink link.jpg real/a.jpg real/noext");
    t = find(&l, "link.jpg");
    cr_assert_eq(t->pre_status, TASK_SKIPPED);
    cr_assert_eq(t->pre_class, ERR_SYMLINK);
    cr_assert_str_eq(t->pre_msg,
                     "symbolic link not followed (use --follow-symlinks)");
    cr_assert_eq(find(&l, "dangling.jpg")->pre_class, ERR_SYMLINK);
    t = find(&l, "dirlink");
    cr_assert_eq(t->pre_status, TASK_SKIPPED);
    cr_assert_eq(t->pre_class, ERR_SYMLINK);
    cr_assert_str_eq(t->pre_msg, "symbolic link to a directory not followed "
                     "(use --follow-symlinks)");
    cr_assert_eq(l.ignored, 1);    /* link2 */
    cr_assert_eq(l.walk_errors, 0);
    /* The worker is told not to follow anything below the root. */
    cr_assert_eq(find(&l, "real/a.jpg")->open_follow, 0);
    scan_list_release(&l);
}

Test(scan, symlink_root_is_followed)
{
    struct ts_scan s = {{"top", "file"}};
    struct scan_list l;

    ts_png("real/a.jpg");
    ts_png("real/b");
    ts_symlink("real", "top");
    ts_symlink("real/b", "file");

    cr_assert_eq(ts_run(&s, &l), 0);
    assert_rels(&l, "a.jpg b file");
    cr_assert_eq(l.tasks[2].root_index, 1);
    cr_assert_eq(l.tasks[2].pre_status, TASK_OK);
    scan_list_release(&l);
}

Test(scan, follow_symlinks_loop_and_duplicates, .timeout = 20)
{
    struct ts_scan s = {{NULL}};
    struct scan_list l;

    ts_png("a/x.jpg");
    ts_png("a/y");
    ts_symlink("..", "a/up");              /* a/up/a/up/... */
    ts_symlink(".", "self");
    ts_symlink("a/x.jpg", "b.jpg");        /* x.jpg again */
    ts_symlink("a", "c");                  /* the whole of a again */
    ts_symlink("/dev/null", "null.jpg");
    ts_symlink("gone", "broken.png");
    s.follow = 1;

    cr_redirect_stderr();
    cr_assert_eq(ts_run(&s, &l), 0);
    /* Each real file is processed once, under the first name met; the
     * other names are reported as duplicates. */
    assert_rels(&l, "a/x.jpg a/y b.jpg broken.png c/x.jpg c/y null.jpg");
    cr_assert_eq(find(&l, "a/x.jpg")->pre_status, TASK_OK);
    cr_assert_eq(find(&l, "a/y")->pre_status, TASK_OK);
    cr_assert_eq(find(&l, "b.jpg")->pre_class, ERR_DUPLICATE);
    cr_assert_eq(find(&l, "c/x.jpg")->pre_class, ERR_DUPLICATE);
    cr_assert_eq(find(&l, "c/y")->pre_status, TASK_SKIPPED);
    cr_assert_str_eq(find(&l, "null.jpg")->pre_msg,
                     "not a regular file (character device)");
    cr_assert_eq(find(&l, "broken.png")->pre_class, ERR_READ);
    cr_assert_eq(find(&l, "broken.png")->pre_status, TASK_SKIPPED);
    /* a/up and self lead back to an ancestor. */
    cr_assert_geq(l.walk_errors, 2);
    scan_list_release(&l);
}

/*
 * Many files, each with two more hard links: enough entries to make the
 * (dev, ino) set grow several times while it is being probed.  With
 * --follow-symlinks every file is listed once under the first name met
 * (a/ sorts first) and its other names are duplicates; a physical walk
 * keeps no such set and lists every name.
 */
Test(scan, hard_links_are_duplicates_when_following, .timeout = 60)
{
    enum { NFILES = 3000 };
    struct ts_scan s = {{NULL}};
    struct scan_list l;
    char rel[64], *src, *dst;
    size_t i, ok = 0, dup = 0;
    int fd;

    ts_mkdirs("a/");
    ts_mkdirs("b/");
    ts_mkdirs("c/");
    for (i = 0; i < NFILES; i++) {
        snprintf(rel, sizeof(rel), "a/f%05zu.jpg", i);
        src = ts_path(rel);
        fd = open(src, O_WRONLY | O_CREAT | O_EXCL, 0644);
        cr_assert_geq(fd, 0, "create %s: %s", src, strerror(errno));
        close(fd);
        snprintf(rel, sizeof(rel), "b/g%05zu.jpg", NFILES - 1 - i);
        dst = ts_path(rel);
        cr_assert_eq(link(src, dst), 0, "link %s: %s", dst, strerror(errno));
        free(dst);
        snprintf(rel, sizeof(rel), "c/h%05zu.jpg", i);
        dst = ts_path(rel);
        cr_assert_eq(link(src, dst), 0, "link %s: %s", dst, strerror(errno));
        free(dst);
        free(src);
    }

    s.follow = 1;
    cr_assert_eq(ts_run(&s, &l), 0);
    cr_assert_eq(l.n, 3 * NFILES);
    for (i = 0; i < l.n; i++) {
        const struct task *t = &l.tasks[i];

        if (t->rel[0] == 'a') {
            cr_assert_eq(t->pre_status, TASK_OK, "%s", t->rel);
            ok++;
        } else {
            cr_assert_eq(t->pre_status, TASK_SKIPPED, "%s", t->rel);
            cr_assert_eq(t->pre_class, ERR_DUPLICATE, "%s", t->rel);
            dup++;
        }
    }
    cr_assert_eq(ok, NFILES);
    cr_assert_eq(dup, 2 * NFILES);
    /* The duplicate is the same file as the listed one. */
    cr_assert_eq(find(&l, "b/g00000.jpg")->ino,
                 find(&l, "a/f02999.jpg")->ino);
    scan_list_release(&l);

    s.follow = 0;
    cr_assert_eq(ts_run(&s, &l), 0);
    cr_assert_eq(l.n, 3 * NFILES);
    for (i = 0; i < l.n; i++)
        cr_assert_eq(l.tasks[i].pre_status, TASK_OK, "%s", l.tasks[i].rel);
    scan_list_release(&l);
}

Test(scan, include_exclude)
{
    struct ts_scan s = {{NULL}};
    struct scan_list l;

    ts_png("a.jpg");
    ts_png("b.png");
    ts_png("cache/c.jpg");
    ts_png("sub/cache/d.jpg");
    ts_png("sub/e.jpg");
    ts_text("notes.txt", "x");

    s.excludes[0] = "cache";    /* the top-level cache only */
    cr_assert_eq(ts_run(&s, &l), 0);
    assert_rels(&l, "a.jpg b.png sub/cache/d.jpg sub/e.jpg");
    cr_assert_eq(l.ignored, 1);
    scan_list_release(&l);

    s.excludes[0] = "cache/*";
    cr_assert_eq(ts_run(&s, &l), 0);
    assert_rels(&l, "a.jpg b.png sub/cache/d.jpg sub/e.jpg");
    scan_list_release(&l);

    s.excludes[0] = "*cache";    /* '*' crosses '/' */
    cr_assert_eq(ts_run(&s, &l), 0);
    assert_rels(&l, "a.jpg b.png sub/e.jpg");
    scan_list_release(&l);

    s.excludes[0] = "*.png";
    s.excludes[1] = "sub/e.*";
    cr_assert_eq(ts_run(&s, &l), 0);
    assert_rels(&l, "a.jpg cache/c.jpg sub/cache/d.jpg");
    cr_assert_eq(l.excluded, 2);
    scan_list_release(&l);

    s.excludes[0] = NULL;
    s.excludes[1] = NULL;
    s.includes[0] = "sub/*";
    cr_assert_eq(ts_run(&s, &l), 0);
    assert_rels(&l, "sub/cache/d.jpg sub/e.jpg");
    cr_assert_eq(l.excluded, 4);
    cr_assert_eq(l.ignored, 0);    /* notes.txt was excluded first */
    scan_list_release(&l);

    /* Exclude wins over include. */
    s.includes[1] = "*.png";
    s.excludes[0] = "*/cache/*";
    cr_assert_eq(ts_run(&s, &l), 0);
    assert_rels(&l, "b.png sub/e.jpg");
    scan_list_release(&l);
}

Test(scan, filters_match_root_file_by_base_name)
{
    struct ts_scan s = {{"d/keep.jpg", "d/drop.jpg"}};
    struct scan_list l;

    ts_png("d/keep.jpg");
    ts_png("d/drop.jpg");
    s.excludes[0] = "drop.jpg";
    cr_assert_eq(ts_run(&s, &l), 0);
    assert_rels(&l, "keep.jpg");
    cr_assert_eq(l.excluded, 1);
    scan_list_release(&l);
}

/*
 * The unreadable-directory checks, as whoever runs them.  Returns 0, or
 * the number of the check that failed: it also runs in a forked child,
 * where Criterion's assertions cannot report.
 */
static int
check_unreadable(void)
{
    struct ts_scan s = {{NULL}};
    struct ts_scan sroot = {{"locked"}};
    struct scan_list l;
    char *rels;
    int bad = 0;

    if (ts_run(&s, &l) != 0)
        bad = 1;
    rels = ts_rels(&l);
    /* The locked directory is a failed record, not a silent gap. */
    if (bad == 0 && strcmp(rels, "a.jpg locked z.jpg") != 0)
        bad = 2;
    if (bad == 0 && l.walk_errors != 1)
        bad = 3;
    if (bad == 0 && (l.tasks[1].pre_status != TASK_FAILED ||
                     l.tasks[1].pre_class != ERR_READ ||
                     strcmp(l.tasks[1].pre_msg, "cannot read directory: "
                            "permission denied") != 0))
        bad = 5;
    free(rels);
    scan_list_release(&l);

    /* The same directory named as a root is a setup error. */
    if (bad == 0 && ts_run(&sroot, &l) != -1)
        bad = 4;
    scan_list_release(&l);
    return bad;
}

Test(scan, unreadable_directory)
{
    char *locked;
    pid_t pid;
    int status;

    ts_png("a.jpg");
    ts_png("locked/b.jpg");
    ts_png("z.jpg");
    locked = ts_path("locked");
    cr_assert_eq(chmod(locked, 0), 0);
    free(locked);

    if (geteuid() != 0) {
        cr_redirect_stderr();
        cr_assert_eq(check_unreadable(), 0);
        return;
    }
    /* root reads anything: run the checks in a child that is nobody. */
    cr_assert_eq(chmod(tmp, 0755), 0);
    pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        int fd = open("/dev/null", O_WRONLY);

        if (fd >= 0)
            dup2(fd, 2);
        if (setgid(65534) != 0 || setuid(65534) != 0)
            _exit(77);
        _exit(check_unreadable());
    }
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status));
    if (WEXITSTATUS(status) == 77)
        cr_skip_test("cannot drop privileges to test permissions");
    cr_assert_eq(WEXITSTATUS(status), 0, "check %d failed",
                 WEXITSTATUS(status));
}

Test(scan, nonexistent_root)
{
    struct ts_scan s = {{"there.jpg", "missing"}};
    struct scan_list l;
    char *p = ts_path("missing");
    char want[4096];

    ts_png("there.jpg");
    snprintf(want, sizeof(want),
             "imgpool: cannot read '%s': No such file or directory\n", p);
    cr_redirect_stderr();
    cr_assert_eq(ts_run(&s, &l), -1);
    fflush(stderr);
    cr_assert_stderr_eq_str(want);
    scan_list_release(&l);
    free(p);
}

Test(scan, root_given_as_file)
{
    struct ts_scan s = {{"d/one.jpg", "d", "d/sub/noext"}};
    struct scan_list l;
    char *p = ts_path("d/one.jpg");

    ts_png("d/one.jpg");
    ts_png("d/sub/noext");
    cr_assert_eq(ts_run(&s, &l), 0);
    /* Roots keep their command-line order; a file root's rel is its
     * base name. */
    assert_rels(&l, "one.jpg one.jpg sub/noext noext");
    cr_assert_str_eq(l.tasks[0].path, p);
    cr_assert_eq(l.tasks[0].root_index, 0);
    cr_assert_eq(l.tasks[1].root_index, 1);
    cr_assert_eq(l.tasks[3].root_index, 2);
    cr_assert_eq(l.tasks[0].rel, l.tasks[0].path + strlen(p) - 7);
    scan_list_release(&l);
    free(p);
}

Test(scan, trailing_slash_on_root)
{
    struct ts_scan s = {{"d/", "d//"}};
    struct scan_list l;
    char *p = ts_path("d/x/a.jpg");
    size_t i;

    ts_png("d/x/a.jpg");
    cr_assert_eq(ts_run(&s, &l), 0);
    cr_assert_eq(l.n, 2);
    for (i = 0; i < l.n; i++) {
        cr_assert_str_eq(l.tasks[i].path, p);
        cr_assert_str_eq(l.tasks[i].rel, "x/a.jpg");
        cr_assert_null(strstr(l.tasks[i].path, "//"));
    }
    scan_list_release(&l);
    free(p);
}

Test(scan, relative_and_dot_roots)
{
    const char *roots[] = {".", "d"};
    struct scan_opts o;
    struct scan_list l;

    ts_png("d/a.jpg");
    cr_assert_eq(chdir(tmp), 0);
    memset(&o, 0, sizeof(o));
    o.roots = roots;
    o.nroots = 2;
    scan_list_init(&l);
    cr_assert_eq(scan_run(&o, &l), 0);
    assert_rels(&l, "d/a.jpg a.jpg");
    cr_assert_str_eq(l.tasks[0].path, "./d/a.jpg");
    cr_assert_str_eq(l.tasks[1].path, "d/a.jpg");
    scan_list_release(&l);
}

Test(scan, empty_tree_and_release_twice)
{
    struct ts_scan s = {{NULL}};
    struct scan_list l;

    cr_assert_eq(ts_run(&s, &l), 0);
    cr_assert_eq(l.n, 0);
    scan_list_release(&l);
    scan_list_release(&l);
}

/* ---- sharding and --files-from ---- */

static void
scan_with(struct scan_opts *o, struct scan_list *l)
{
    scan_list_init(l);
    cr_assert_eq(scan_run(o, l), 0);
}

Test(scan, shards_are_disjoint_and_cover_everything)
{
    struct scan_list all, part;
    struct scan_opts o;
    struct plan_opts po;
    const char *roots[1];
    char name[64], *outdir = ts_path("out");
    size_t total = 0, ignored = 0;
    int *seen;

    for (int i = 0; i < 60; i++) {
        snprintf(name, sizeof(name), "in/d%d/img%02d.png", i % 4, i);
        ts_png(name);
    }
    /* Three inputs competing for names: a.jpg takes "a.jpg", a.png falls
     * back to "a.png.jpg", which a.png.jpg would take... */
    ts_png("in/d0/a.jpg");
    ts_png("in/d0/a.png");
    ts_png("in/d0/a.png.jpg");
    for (int i = 0; i < 9; i++) {
        snprintf(name, sizeof(name), "in/notes%d.txt", i);
        ts_text(name, "not an image");
    }
    roots[0] = ts_path("in");
    memset(&o, 0, sizeof(o));
    o.roots = roots;
    o.nroots = 1;
    memset(&po, 0, sizeof(po));
    po.output_dir = outdir;
    scan_with(&o, &all);
    cr_assert_eq(plan_outputs(&po, &all), 0);
    cr_assert_eq(all.n, 63);
    cr_assert_eq(all.ignored, 9);
    seen = calloc(all.n, sizeof(*seen));
    for (int k = 0; k < 4; k++) {
        o.shard_k = k;
        o.shard_n = 4;
        scan_with(&o, &part);
        cr_assert_eq(plan_outputs(&po, &part), 0);
        plan_shard(&po, &part, k, 4);
        cr_assert_eq(part.n + part.other_shards, all.n);
        total += part.n;
        ignored += part.ignored;
        for (size_t i = 0; i < part.n; i++) {
            const struct task *t = find(&all, part.tasks[i].rel);
            cr_assert_not_null(t);
            /* the same output as in the single run, owned by one shard */
            cr_assert_str_eq(part.tasks[i].out_path, t->out_path);
            cr_assert_eq(part.tasks[i].pre_status, t->pre_status);
            seen[t - all.tasks]++;
        }
        scan_list_release(&part);
    }
    cr_assert_eq(total, all.n);
    cr_assert_eq(ignored, all.ignored, "ignored counts must add up");
    for (size_t i = 0; i < all.n; i++)
        cr_assert_eq(seen[i], 1);
    cr_assert_str_eq(find(&all, "d0/a.png")->out_path + strlen(outdir),
                     "/d0/a.png.jpg");
    cr_assert_str_eq(find(&all, "d0/a.png.jpg")->out_path + strlen(outdir),
                     "/d0/a.png.jpg.jpg");
    cr_assert_eq(scan_shard_of("a/b/c.jpg", 7), scan_shard_of("a/b/c.jpg", 7));
    free(seen);
    free(outdir);
    free((char *)roots[0]);
    scan_list_release(&all);
}

static void
files_from_case(int nul)
{
    struct scan_list l;
    struct scan_opts o;
    char *a = ts_path("tree/a.png"), *b = ts_path("tree/sub/b.png");
    char buf[1024];
    const struct task *t;
    FILE *f;
    int n;

    ts_png("tree/a.png");
    ts_png("tree/sub/b.png");
    ts_text("tree/notes.txt", "hello");
    n = snprintf(buf, sizeof(buf), "%s%c./tree/sub/b.png%c%s/gone.png%c%c"
                 "%s/tree/notes.txt%c", a, nul ? 0 : '\n', nul ? 0 : '\n',
                 tmp, nul ? 0 : '\n', nul ? 0 : '\n', tmp, nul ? 0 : '\n');
    cr_assert(chdir(tmp) == 0);
    f = fmemopen(buf, (size_t)n, "r");
    memset(&o, 0, sizeof(o));
    o.files_from = f;
    o.files_from_nul = nul;
    scan_with(&o, &l);
    fclose(f);
    cr_assert_eq(l.n, 3, "got %zu tasks", l.n);
    cr_assert_eq(l.ignored, 1);
    /* absolute paths mirror without the leading '/' */
    t = &l.tasks[0];
    cr_assert_str_eq(t->path, a);
    cr_assert_str_eq(t->rel, a + 1);
    cr_assert_eq(t->pre_status, TASK_OK);
    t = find(&l, "tree/sub/b.png");
    cr_assert_not_null(t, "./ not stripped");
    t = &l.tasks[2];
    cr_assert_eq(t->pre_status, TASK_FAILED);
    cr_assert_eq(t->pre_class, ERR_READ);
    scan_list_release(&l);
    free(a);
    free(b);
}

Test(scan, files_from_newline_list)
{
    files_from_case(0);
}

Test(scan, files_from_nul_list)
{
    files_from_case(1);
}

/* A file below 40 directories of 200-byte names (over PATH_MAX in full):
 * listed with its whole path, no walk error. */
Test(scan, deeper_than_path_max)
{
    struct ts_scan s = {{NULL}};
    struct scan_list l;
    char name[201];
    int fd = open(tmp, O_RDONLY | O_DIRECTORY), next;

    cr_assert_geq(fd, 0);
    for (int i = 0; i < 40; i++) {
        memset(name, 'a' + i % 26, 200);
        name[200] = '\0';
        cr_assert_eq(mkdirat(fd, name, 0755), 0);
        next = openat(fd, name, O_RDONLY | O_DIRECTORY);
        cr_assert_geq(next, 0);
        close(fd);
        fd = next;
    }
    next = openat(fd, "x.png", O_WRONLY | O_CREAT, 0644);
    cr_assert_geq(next, 0);
    cr_assert_eq(write(next, png_bytes, sizeof(png_bytes)),
                 (ssize_t)sizeof(png_bytes));
    close(next);
    close(fd);

    cr_assert_eq(ts_run(&s, &l), 0);
    cr_assert_eq(l.n, 1);
    cr_assert_eq(l.walk_errors, 0);
    cr_assert_eq(strlen(l.tasks[0].rel), 40 * 201 + 5);
    cr_assert_eq(l.tasks[0].pre_status, TASK_OK);
    cr_assert_str_eq(l.tasks[0].rel + 40 * 201, "x.png");
    scan_list_release(&l);

    /* Remove it through descriptors: the path is too long for rmdir. */
    for (int depth = 40; depth > 0; depth--) {
        fd = open(tmp, O_RDONLY | O_DIRECTORY);
        for (int i = 0; i < depth - 1; i++) {
            memset(name, 'a' + i % 26, 200);
            next = openat(fd, name, O_RDONLY | O_DIRECTORY);
            close(fd);
            fd = next;
        }
        memset(name, 'a' + (depth - 1) % 26, 200);
        if (depth == 40) {
            next = openat(fd, name, O_RDONLY | O_DIRECTORY);
            unlinkat(next, "x.png", 0);
            close(next);
        }
        cr_assert_eq(unlinkat(fd, name, AT_REMOVEDIR), 0);
        close(fd);
    }
}

/* What the worker may follow: nothing below a root by default; a root
 * named as a file (a link, maybe) itself; everything with follow. */
Test(scan, open_follow_bits)
{
    struct ts_scan s = {{"d", "d/sub/b.jpg"}};
    struct scan_list l;

    ts_png("d/sub/b.jpg");
    cr_assert_eq(ts_run(&s, &l), 0);
    assert_rels(&l, "sub/b.jpg b.jpg");
    cr_assert_eq(l.tasks[0].open_follow, 0);
    cr_assert_eq(l.tasks[1].open_follow,
                 TASK_FOLLOW_DIRS | TASK_FOLLOW_FILE);
    scan_list_release(&l);
    s.follow = 1;
    cr_assert_eq(ts_run(&s, &l), 0);
    cr_assert_eq(l.tasks[0].open_follow,
                 TASK_FOLLOW_DIRS | TASK_FOLLOW_FILE);
    scan_list_release(&l);
}
