/*
 * test_plan.c - output names and paths: the --name template, the mirrored
 * directories, and the outcomes the planner settles on its own (bad names,
 * collisions, an output that would replace its input).
 *
 * Task lists are built by hand, so these tests do not depend on the scanner;
 * the overwrite checks use a real temporary directory, because they rest on
 * what stat(2) says about it.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE     /* asprintf() */
#endif

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "helpers.h"
#include "util.h"
#include "plan.h"
#include "plan_own.h"

/* ---- fixtures ---- */

/*
 * Append a task for @root/@rel (or just @rel when @root is NULL) with
 * dev/ino from lstat() when the file exists.
 */
static struct task *
add_task(struct scan_list *l, const char *root, const char *rel)
{
    struct task *t;
    struct stat st;
    char *path;

    if (l->n == l->alloc) {
        l->alloc = l->alloc ? 2 * l->alloc : 16;
        l->tasks = realloc(l->tasks, l->alloc * sizeof(*l->tasks));
        cr_assert(l->tasks != NULL);
    }
    if (root)
        cr_assert(asprintf(&path, "%s/%s", root, rel) > 0);
    else
        path = strdup(rel);
    cr_assert(path != NULL);
    t = &l->tasks[l->n++];
    memset(t, 0, sizeof(*t));
    t->path = path;
    t->rel = root ? path + strlen(root) + 1 : path;
    if (lstat(path, &st) == 0) {
        t->dev = (uint64_t)st.st_dev;
        t->ino = (uint64_t)st.st_ino;
        t->size = st.st_size;
    }
    return t;
}

static void
free_list(struct scan_list *l)
{
    size_t i;

    for (i = 0; i < l->n; i++) {
        free(l->tasks[i].path);
        free(l->tasks[i].out_path);
    }
    free(l->tasks);
    memset(l, 0, sizeof(*l));
}

static void
assert_planned(const struct task *t, const char *want)
{
    cr_assert_eq(t->pre_status, TASK_OK, "'%s': not planned (%s)", t->path,
                 t->pre_msg ? t->pre_msg : "");
    cr_assert(t->out_path != NULL, "'%s': no out_path", t->path);
    cr_assert_str_eq(t->out_path, want, "for '%s'", t->path);
}

static void
assert_refused(const struct task *t, enum err_class c, const char *msg)
{
    cr_assert_eq(t->pre_status, TASK_FAILED, "'%s' was not refused",
                 t->path);
    cr_assert_eq(t->pre_class, c, "'%s': class %s", t->path,
                 err_class_str(t->pre_class));
    cr_assert(t->pre_msg != NULL);
    if (msg)
        cr_assert_str_eq(t->pre_msg, msg, "for '%s'", t->path);
}

static void
touch(const char *path)
{
    th_write_file(path, "x", 1);
}

/* ---- templates ---- */

Test(plan, expand_table)
{
    static const struct {
        const char *tmpl;
        const char *name;
        enum out_format fmt;
        const char *want;   /* NULL: refused */
    } cases[] = {
        {"{stem}.jpg", "IMG_1.JPG", FORMAT_JPEG, "IMG_1.jpg"},
        {NULL, "IMG_1.JPG", FORMAT_JPEG, "IMG_1.jpg"},
        {NULL, "IMG_1.JPG", FORMAT_PNG, "IMG_1.png"},
        {"{name}", "a.tar.gz", FORMAT_JPEG, "a.tar.gz"},
        {"{stem}", "a.tar.gz", FORMAT_JPEG, "a.tar"},
        {"{ext}", "a.tar.gz", FORMAT_JPEG, "gz"},
        {"{stem}.{fmt}", "x.png", FORMAT_PNG, "x.png"},
        {"{stem}.{fmt}", "x.png", FORMAT_JPEG, "x.jpg"},
        {"t_{stem}_{ext}.{fmt}", "photo.jpeg", FORMAT_JPEG,
         "t_photo_jpeg.jpg"},
        {"{stem}.jpg", ".bashrc", FORMAT_JPEG, ".bashrc.jpg"},
        {"[{ext}]", ".bashrc", FORMAT_JPEG, "[]"},
        {"{stem}.jpg", ".hidden.png", FORMAT_JPEG, ".hidden.jpg"},
        {"{stem}.jpg", "noext", FORMAT_JPEG, "noext.jpg"},
        {"{ext}x", "noext", FORMAT_JPEG, "x"},
        {"{stem}.jpg", "a.", FORMAT_JPEG, "a.jpg"},
        {"{stem}.jpg", "..b", FORMAT_JPEG, "..jpg"},
        {"{{{stem}}}", "a.b", FORMAT_JPEG, "{a}"},
        {"{{stem}}", "a.b", FORMAT_JPEG, "{stem}"},
        {"}}{{", "a.b", FORMAT_JPEG, "}{"},
        {"{name}{name}", "x.y", FORMAT_JPEG, "x.yx.y"},
        {"caf\xc3\xa9-{stem}", "\xff.jpg", FORMAT_JPEG, "caf\xc3\xa9-\xff"},
        {"thumb", "a.jpg", FORMAT_JPEG, "thumb"},
        /* refused */
        {"{ext}", "noext", FORMAT_JPEG, NULL},
        {"{ext}", ".bashrc", FORMAT_JPEG, NULL},
        {"{stem}", "..b", FORMAT_JPEG, NULL},
        {"{stem}", "...", FORMAT_JPEG, NULL},
        {"{stem}.", ".x", FORMAT_JPEG, ".x."},
        {"{ext}.", "a", FORMAT_JPEG, NULL},
        {".", "a.jpg", FORMAT_JPEG, NULL},
        {"a/{stem}", "a.jpg", FORMAT_JPEG, NULL},
        {"{nope}", "a.jpg", FORMAT_JPEG, NULL},
        {"{stem", "a.jpg", FORMAT_JPEG, NULL},
        {"", "a.jpg", FORMAT_JPEG, NULL},
    };
    char buf[256];
    size_t i;
    int n;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        memset(buf, '#', sizeof(buf));
        n = plan_expand_name(cases[i].tmpl, cases[i].name, cases[i].fmt, buf,
                             sizeof(buf));
        if (!cases[i].want) {
            cr_assert_eq(n, -1, "case %zu: '%s' expanded to '%s'", i,
                         cases[i].tmpl, buf);
            continue;
        }
        cr_assert_eq(n, (int)strlen(cases[i].want), "case %zu: %d", i, n);
        cr_assert_str_eq(buf, cases[i].want, "case %zu", i);
    }
}

Test(plan, expand_respects_buffer_size)
{
    char buf[8];

    cr_assert_eq(plan_expand_name("{name}", "abcdefg", FORMAT_JPEG, buf,
                                  sizeof(buf)),
                 7);
    cr_assert_str_eq(buf, "abcdefg");
    cr_assert_eq(plan_expand_name("{name}", "abcdefgh", FORMAT_JPEG, buf,
                                  sizeof(buf)),
                 -1);
    cr_assert_eq(plan_expand_name("{stem}", "a.jpg", FORMAT_JPEG, buf, 1),
                 -1);
}

Test(plan, template_check_table)
{
    static const struct {
        const char *tmpl;
        const char *why;    /* NULL: accepted; else a part of the reason */
    } cases[] = {
        {"{stem}.jpg", NULL},
        {"{stem}_{ext}.{fmt}", NULL},
        {"{name}", NULL},
        {"{{literal}}", NULL},
        {"thumb.jpg", NULL},
        {"...", NULL},
        {"", "empty"},
        {"a/b", "'/'"},
        {"{stem}/x", "'/'"},
        {"/", "'/'"},
        {"{", "unterminated"},
        {"{stem", "unterminated"},
        {"}", "unmatched"},
        {"{stem}}", "unmatched"},
        {"{{stem}", "unmatched"},
        {"{nope}", "unknown placeholder"},
        {"{}", "unknown placeholder"},
        {"{STEM}", "unknown placeholder"},
        {"{ stem}", "unknown placeholder"},
        {".", "'.' or '..'"},
        {"..", "'.' or '..'"},
    };
    const char *why;
    size_t i;
    int rc;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        why = NULL;
        rc = plan_template_check(cases[i].tmpl, &why);
        if (!cases[i].why) {
            cr_assert_eq(rc, 0, "'%s' refused: %s", cases[i].tmpl, why);
            continue;
        }
        cr_assert_eq(rc, -1, "'%s' accepted", cases[i].tmpl);
        cr_assert(why != NULL);
        cr_assert(strstr(why, cases[i].why) != NULL, "'%s': '%s'",
                  cases[i].tmpl, why);
    }
    cr_assert_eq(plan_template_check(NULL, &why), 0);
}

/* ---- paths ---- */

Test(plan, mirrors_directories_under_output)
{
    struct plan_opts o = {.output_dir = "out", .format = FORMAT_JPEG};
    struct scan_list l = {0};

    add_task(&l, "in", "a.png");
    add_task(&l, "in", "sub/dir/b.JPG");
    add_task(&l, "in/", "x//y/./c.jpeg");
    add_task(&l, "/abs/in", ".hidden/.bashrc");
    cr_assert_eq(plan_outputs(&o, &l), 0);
    assert_planned(&l.tasks[0], "out/a.jpg");
    assert_planned(&l.tasks[1], "out/sub/dir/b.jpg");
    assert_planned(&l.tasks[2], "out/x/y/c.jpg");
    assert_planned(&l.tasks[3], "out/.hidden/.bashrc.jpg");
    free_list(&l);

    o.output_dir = "/";
    o.name_template = "{stem}_t.{fmt}";
    o.format = FORMAT_PNG;
    add_task(&l, "in", "a.png");
    add_task(&l, "in", "d/a.png");
    cr_assert_eq(plan_outputs(&o, &l), 0);
    assert_planned(&l.tasks[0], "/a_t.png");
    assert_planned(&l.tasks[1], "/d/a_t.png");
    free_list(&l);

    o.output_dir = "o";
    o.name_template = NULL;
    add_task(&l, NULL, "lone.gif");   /* a file named on the command line */
    l.tasks[0].rel = NULL;
    add_task(&l, NULL, "dir/named.gif");
    l.tasks[1].rel = NULL;
    cr_assert_eq(plan_outputs(&o, &l), 0);
    assert_planned(&l.tasks[0], "o/lone.png");
    assert_planned(&l.tasks[1], "o/named.png");
    free_list(&l);
}

/* The boxes come with the options (plan_opts.sizes), nothing process-wide:
 * two sizes under the default template give a folder per size; the same
 * task planned without sizes has one output. */
Test(plan, sizes_come_with_the_options)
{
    struct settings s[2];
    struct plan_opts o = {.output_dir = "out", .format = FORMAT_JPEG};
    struct scan_list l = {0};

    settings_init(&s[0], MODE_THUMBNAIL);
    s[1] = s[0];
    s[0].width = s[0].height = 256;
    s[1].width = 128;
    s[1].height = 0;
    o.outs = s;
    o.nsizes = 2;
    add_task(&l, "in", "sub/a.png");
    cr_assert_eq(plan_outputs(&o, &l), 0);
    assert_planned(&l.tasks[0], "out/256/sub/a.jpg");
    cr_assert_str_eq(task_out_rel(&l.tasks[0], 1), "128x/sub/a.jpg");
    cr_assert_null(task_out_rel(&l.tasks[0], 2));
    free_list(&l);

    o.outs = NULL;
    o.nsizes = 0;
    add_task(&l, "in", "sub/a.png");
    cr_assert_eq(plan_outputs(&o, &l), 0);
    assert_planned(&l.tasks[0], "out/sub/a.jpg");
    cr_assert_null(task_out_rel(&l.tasks[0], 1));
    free_list(&l);
}

Test(plan, refuses_escaping_relative_paths)
{
    struct plan_opts o = {.output_dir = "out"};
    struct scan_list l = {0};
    struct task *t;

    add_task(&l, "in", "../a.jpg");
    add_task(&l, "in", "x/../../b.jpg");
    add_task(&l, "in", "ok/..c.jpg");
    t = add_task(&l, NULL, "/etc/d.jpg");
    t->rel = t->path;                     /* a leading '/' below the root */
    add_task(&l, "in", "dir/");
    add_task(&l, "in", "e.jpg");
    cr_assert_eq(plan_outputs(&o, &l), 0);
    assert_refused(&l.tasks[0], ERR_OUTPUT_PATH, NULL);
    cr_assert(strstr(l.tasks[0].pre_msg, "'..'"));
    assert_refused(&l.tasks[1], ERR_OUTPUT_PATH, NULL);
    assert_planned(&l.tasks[2], "out/ok/..c.jpg");
    assert_refused(&l.tasks[3], ERR_OUTPUT_PATH, NULL);
    cr_assert(strstr(l.tasks[3].pre_msg, "'/'"));
    assert_refused(&l.tasks[4], ERR_OUTPUT_PATH, NULL);
    assert_planned(&l.tasks[5], "out/e.jpg");
    cr_assert_null(l.tasks[0].out_path);
    cr_assert_null(l.tasks[3].out_path);
    free_list(&l);
}

Test(plan, bad_expansion_fails_only_that_task)
{
    struct plan_opts o = {.output_dir = "out", .name_template = "{ext}"};
    struct scan_list l = {0};
    char longname[300];     /* 299 bytes and a NUL */

    memset(longname, 'n', sizeof(longname));
    memcpy(longname + sizeof(longname) - 5, ".jpg", 5);

    add_task(&l, "in", "noext");
    add_task(&l, "in", "a.jpg");
    add_task(&l, "in", longname);
    cr_assert_eq(plan_outputs(&o, &l), 0);
    assert_refused(&l.tasks[0], ERR_OUTPUT_PATH, NULL);
    cr_assert(strstr(l.tasks[0].pre_msg, "empty"));
    assert_planned(&l.tasks[1], "out/jpg");
    cr_assert_eq(l.tasks[2].pre_status, TASK_FAILED);   /* "jpg" again */
    free_list(&l);

    o.name_template = "{name}.{fmt}";
    add_task(&l, "in", longname);        /* 299 + 4 bytes > NAME_MAX */
    cr_assert_eq(plan_outputs(&o, &l), 0);
    assert_refused(&l.tasks[0], ERR_OUTPUT_PATH, "output file name too long");
    free_list(&l);
}

Test(plan, only_tasks_to_process_get_a_path)
{
    struct plan_opts o = {.output_dir = "out"};
    struct scan_list l = {0};
    struct task *t;

    t = add_task(&l, "in", "fifo.jpg");
    t->pre_status = TASK_SKIPPED;
    t->pre_class = ERR_NOT_REGULAR;
    t = add_task(&l, "in", "a.jpg");
    cr_assert_eq(plan_outputs(&o, &l), 0);
    cr_assert_eq(l.tasks[0].pre_status, TASK_SKIPPED);
    cr_assert_eq(l.tasks[0].pre_class, ERR_NOT_REGULAR);
    cr_assert_null(l.tasks[0].out_path);
    assert_planned(&l.tasks[1], "out/a.jpg");
    free_list(&l);
}

Test(plan, no_output_dir_is_an_error)
{
    struct plan_opts o = {0};
    struct scan_list l = {0};

    add_task(&l, "in", "a.jpg");
    errno = 0;
    cr_assert_eq(plan_outputs(&o, &l), -1);
    cr_assert_eq(errno, EINVAL);
    cr_assert_eq(l.tasks[0].pre_status, TASK_OK);
    cr_assert_null(l.tasks[0].out_path);
    free_list(&l);
}

/* ---- collisions ---- */

Test(plan, second_input_to_the_same_output_fails)
{
    struct plan_opts o = {.output_dir = "out", .name_template = "{stem}.jpg"};
    struct scan_list l = {0};

    add_task(&l, "in", "a.jpg");
    add_task(&l, "in", "a.png");
    add_task(&l, "in", "a.webp");
    add_task(&l, "in", "sub/a.png");      /* another directory: fine */
    add_task(&l, "in", "b.png");
    cr_assert_eq(plan_outputs(&o, &l), 0);
    assert_planned(&l.tasks[0], "out/a.jpg");
    assert_refused(&l.tasks[1], ERR_OUTPUT_CONFLICT,
                   "output name collides with another input's output");
    assert_refused(&l.tasks[2], ERR_OUTPUT_CONFLICT, NULL);
    assert_planned(&l.tasks[3], "out/sub/a.jpg");
    assert_planned(&l.tasks[4], "out/b.jpg");
    /* The refused task keeps the path it was refused, for the report. */
    cr_assert_str_eq(l.tasks[1].out_path, "out/a.jpg");
    free_list(&l);
}

Test(plan, default_template_falls_back_to_the_full_name)
{
    struct plan_opts o = {.output_dir = "out"};
    struct scan_list l = {0};

    add_task(&l, "in", "a.jpg");
    add_task(&l, "in", "a.png");
    add_task(&l, "in", "a.webp");
    add_task(&l, "in", "a.png.jpg");   /* takes the first fallback's name */
    cr_assert_eq(plan_outputs(&o, &l), 0);
    assert_planned(&l.tasks[0], "out/a.jpg");
    assert_planned(&l.tasks[1], "out/a.png.jpg");
    assert_planned(&l.tasks[2], "out/a.webp.jpg");
    /* its own {stem}.jpg, "a.png.jpg", is taken: it falls back too */
    assert_planned(&l.tasks[3], "out/a.png.jpg.jpg");
    free_list(&l);
}

Test(plan, inputs_from_two_roots_collide)
{
    struct plan_opts o = {.output_dir = "out",
                          .name_template = "{name}"};
    struct scan_list l = {0};

    add_task(&l, "r1", "x/p.jpg");
    add_task(&l, "r2", "x/p.jpg");
    l.tasks[1].root_index = 1;
    cr_assert_eq(plan_outputs(&o, &l), 0);
    assert_planned(&l.tasks[0], "out/x/p.jpg");
    assert_refused(&l.tasks[1], ERR_OUTPUT_CONFLICT, NULL);
    free_list(&l);
}

Test(plan, constant_template_collides_per_directory)
{
    struct plan_opts o = {.output_dir = "o", .name_template = "cover.jpg"};
    struct scan_list l = {0};
    size_t i, ok = 0;
    char rel[32];

    for (i = 0; i < 100; i++) {
        snprintf(rel, sizeof(rel), "d%zu/f%zu.jpg", i % 10, i);
        add_task(&l, "in", rel);
    }
    cr_assert_eq(plan_outputs(&o, &l), 0);
    for (i = 0; i < l.n; i++) {
        if (l.tasks[i].pre_status == TASK_OK)
            ok++;
        else
            cr_assert_eq(l.tasks[i].pre_class, ERR_OUTPUT_CONFLICT);
    }
    cr_assert_eq(ok, 10);
    assert_planned(&l.tasks[3], "o/d3/cover.jpg");
    free_list(&l);
}

/* ---- an output that would replace an input ---- */

/* A temporary "in" directory holding @names (empty files). */
static char *
make_input_dir(const char *const *names, char **indir)
{
    char *dir = th_mkdtemp(), *p;

    *indir = th_path(dir, "in");
    th_mkdirs(*indir);
    for (; *names; names++) {
        p = th_path(*indir, *names);
        touch(p);
        free(p);
    }
    return dir;
}

Test(plan, output_in_input_directory_would_overwrite)
{
    static const char *const names[] = {"a.jpg", "b.jpeg", "b.jpg", "c.png",
                                        "sub/d.jpg", NULL};
    char *indir, *dir = make_input_dir(names, &indir), *want;
    struct plan_opts o = {.output_dir = indir};
    struct scan_list l = {0};

    add_task(&l, indir, "a.jpg");
    add_task(&l, indir, "b.jpeg");   /* before b.jpg in task order */
    add_task(&l, indir, "b.jpg");
    add_task(&l, indir, "c.png");
    add_task(&l, indir, "sub/d.jpg");
    cr_assert_eq(plan_outputs(&o, &l), 0);
    assert_refused(&l.tasks[0], ERR_OUTPUT_PATH,
                   "output would overwrite the input");
    assert_refused(&l.tasks[1], ERR_OUTPUT_CONFLICT,
                   "output would overwrite another input");
    assert_refused(&l.tasks[2], ERR_OUTPUT_PATH,
                   "output would overwrite the input");
    cr_assert(asprintf(&want, "%s/c.jpg", indir) > 0);
    assert_planned(&l.tasks[3], want);
    free(want);
    assert_refused(&l.tasks[4], ERR_OUTPUT_PATH,
                   "output would overwrite the input");
    free_list(&l);
    free(indir);
    th_rmrf(dir);
    free(dir);
}

Test(plan, output_dir_spelled_differently_is_still_the_input)
{
    static const char *const names[] = {"a.jpg", "x/b.jpg", NULL};
    char *indir, *dir = make_input_dir(names, &indir), *link, *dotted;
    struct plan_opts o = {0};
    struct scan_list l = {0};

    link = th_path(dir, "link");
    cr_assert(symlink("in", link) == 0, "%s", strerror(errno));
    cr_assert(asprintf(&dotted, "%s/.", indir) > 0);

    o.output_dir = link;
    add_task(&l, indir, "a.jpg");
    add_task(&l, indir, "x/b.jpg");
    cr_assert_eq(plan_outputs(&o, &l), 0);
    assert_refused(&l.tasks[0], ERR_OUTPUT_PATH,
                   "output would overwrite the input");
    assert_refused(&l.tasks[1], ERR_OUTPUT_PATH,
                   "output would overwrite the input");
    free_list(&l);

    o.output_dir = dotted;
    add_task(&l, indir, "a.jpg");
    cr_assert_eq(plan_outputs(&o, &l), 0);
    assert_refused(&l.tasks[0], ERR_OUTPUT_PATH,
                   "output would overwrite the input");
    cr_assert(strstr(l.tasks[0].out_path, "/./a.jpg"));
    free_list(&l);

    free(link);
    free(dotted);
    free(indir);
    th_rmrf(dir);
    free(dir);
}

Test(plan, relative_input_in_the_current_directory)
{
    static const char *const names[] = {"a.jpg", "p.png", NULL};
    char *indir, *dir = make_input_dir(names, &indir);
    struct plan_opts o = {.output_dir = "."};
    struct scan_list l = {0};

    cr_assert(chdir(indir) == 0);
    add_task(&l, NULL, "a.jpg");
    add_task(&l, NULL, "p.png");
    cr_assert_eq(plan_outputs(&o, &l), 0);
    assert_refused(&l.tasks[0], ERR_OUTPUT_PATH,
                   "output would overwrite the input");
    assert_planned(&l.tasks[1], "./p.jpg");
    free_list(&l);
    cr_assert(chdir("/") == 0);
    free(indir);
    th_rmrf(dir);
    free(dir);
}

Test(plan, other_name_for_the_input_file_is_the_input)
{
    static const char *const names[] = {"x.png", NULL};
    char *indir, *dir = make_input_dir(names, &indir), *src, *dst;
    struct plan_opts o = {0};
    struct scan_list l = {0};

    /* x.jpg is the same file as x.png: what a case-folding file system
     * would show for "X.PNG" -> "X.png". */
    src = th_path(indir, "x.png");
    dst = th_path(indir, "x.jpg");
    cr_assert(link(src, dst) == 0, "%s", strerror(errno));
    o.output_dir = indir;
    add_task(&l, indir, "x.png");
    cr_assert_eq(plan_outputs(&o, &l), 0);
    assert_refused(&l.tasks[0], ERR_OUTPUT_PATH,
                   "output would overwrite the input");
    free_list(&l);
    free(src);
    free(dst);
    free(indir);
    th_rmrf(dir);
    free(dir);
}

Test(plan, separate_output_dir_is_not_the_input)
{
    static const char *const names[] = {"a.jpg", NULL};
    char *indir, *dir = make_input_dir(names, &indir), *outdir, *want, *p;
    struct plan_opts o = {0};
    struct scan_list l = {0};

    outdir = th_path(dir, "out");
    th_mkdirs(outdir);
    p = th_path(outdir, "a.jpg");     /* an old output: replaced, fine */
    touch(p);
    free(p);
    o.output_dir = outdir;
    add_task(&l, indir, "a.jpg");
    cr_assert_eq(plan_outputs(&o, &l), 0);
    cr_assert(asprintf(&want, "%s/a.jpg", outdir) > 0);
    assert_planned(&l.tasks[0], want);
    free(want);
    free_list(&l);
    free(outdir);
    free(indir);
    th_rmrf(dir);
    free(dir);
}

/* ---- scale ---- */

/* Seconds on the one monotonic clock (util.h). */
static double
now_s(void)
{
    return (double)util_now_us() / 1e6;
}

Test(plan, million_tasks_with_one_duplicate, .timeout = 60)
{
    struct plan_opts o = {.output_dir = "/nonexistent-imgpool-out"};
    struct scan_list l = {0};
    const size_t n = 1000000;
    double t0, took;
    size_t i;
    struct task *t;
    char *path;

    l.tasks = calloc(n, sizeof(*l.tasks));
    cr_assert(l.tasks != NULL);
    l.alloc = n;
    for (i = 0; i < n; i++) {
        cr_assert(asprintf(&path, "/nonexistent-imgpool-in/d%03zu/"
                                  "IMG_%07zu.JPG",
                           i % 1000, i) > 0);
        t = &l.tasks[l.n++];
        t->path = path;
        t->rel = path + strlen("/nonexistent-imgpool-in/");
    }
    /* One duplicate at the end: found among a million. */
    l.tasks[n - 1].rel = l.tasks[0].rel;

    t0 = now_s();
    cr_assert_eq(plan_outputs(&o, &l), 0);
    took = now_s() - t0;
    /* Logged, not asserted: speed is for tests/bench/, not unit tests. */
    cr_log_info("planned %zu tasks in %.3f s", n, took);

    assert_planned(&l.tasks[1234],
                   "/nonexistent-imgpool-out/d234/IMG_0001234.jpg");
    for (i = 0; i + 1 < n; i++)
        cr_assert(l.tasks[i].pre_status == TASK_OK, "task %zu", i);
    /* the default template's fallback name */
    assert_planned(&l.tasks[n - 1],
                   "/nonexistent-imgpool-out/d000/IMG_0000000.JPG.jpg");
    free_list(&l);
}

Test(plan, file_output_may_not_take_a_needed_directory)
{
    struct plan_opts o = {.output_dir = "out"};
    struct plan_opts named = {.output_dir = "out", .name_template = "{stem}.jpg"};
    struct scan_list l = {0};

    add_task(&l, "in", "x.jpg/inner.jpg");   /* needs the directory out/x.jpg */
    add_task(&l, "in", "x.png");             /* wants the file out/x.jpg */
    cr_assert_eq(plan_outputs(&o, &l), 0);
    assert_planned(&l.tasks[0], "out/x.jpg/inner.jpg");
    assert_planned(&l.tasks[1], "out/x.png.jpg");
    free_list(&l);

    add_task(&l, "in", "x.jpg/inner.jpg");
    add_task(&l, "in", "x.png");
    cr_assert_eq(plan_outputs(&named, &l), 0);
    assert_planned(&l.tasks[0], "out/x.jpg/inner.jpg");
    assert_refused(&l.tasks[1], ERR_OUTPUT_CONFLICT,
                   "output name is a directory other outputs need");
    free_list(&l);
}

/* ---- names never move (issue 12), several roots, duplicates ---- */

/* The case: q.png made out/q.jpg; q.gif and q.jpeg come first in
 * scan order now, and still q.png keeps q.jpg. */
Test(plan, recorded_name_stays_with_its_input)
{
    struct plan_opts o = {.output_dir = "out"};
    struct plan_recorded rec;
    struct scan_list l = {0};

    add_task(&l, "st", "q.gif");
    add_task(&l, "st", "q.jpeg");
    add_task(&l, "st", "q.png");
    plan_recorded_init(&rec);
    plan_recorded_add(&rec, "q.jpg", 2);
    o.recorded = &rec;
    cr_assert_eq(plan_outputs(&o, &l), 0);
    assert_planned(&l.tasks[2], "out/q.jpg");
    assert_planned(&l.tasks[0], "out/q.gif.jpg");
    assert_planned(&l.tasks[1], "out/q.jpeg.jpg");
    plan_recorded_release(&rec);
    free_list(&l);

    /* Without the record, the first in order takes the name (as before). */
    add_task(&l, "st", "q.gif");
    add_task(&l, "st", "q.png");
    o.recorded = NULL;
    cr_assert_eq(plan_outputs(&o, &l), 0);
    assert_planned(&l.tasks[0], "out/q.jpg");
    assert_planned(&l.tasks[1], "out/q.png.jpg");
    free_list(&l);
}

/* A fallback name once given is kept too, even when the template name is
 * free again. */
Test(plan, recorded_fallback_name_is_kept)
{
    struct plan_opts o = {.output_dir = "out"};
    struct plan_recorded rec;
    struct scan_list l = {0};

    add_task(&l, "st", "q.png");
    plan_recorded_init(&rec);
    plan_recorded_add(&rec, "q.png.jpg", 0);
    o.recorded = &rec;
    cr_assert_eq(plan_outputs(&o, &l), 0);
    assert_planned(&l.tasks[0], "out/q.png.jpg");
    plan_recorded_release(&rec);
    free_list(&l);
}

/* A name recorded for another input that still exists is nobody else's:
 * the default template falls back, --name refuses. */
Test(plan, name_recorded_for_another_input_is_not_taken)
{
    struct plan_opts o = {.output_dir = "out"};
    struct plan_recorded rec;
    struct scan_list l = {0};

    add_task(&l, "st", "a.png");
    add_task(&l, "st", "b.png");
    plan_recorded_init(&rec);
    plan_recorded_add(&rec, "a.jpg", PLAN_OWNER_OTHER);
    plan_recorded_add(&rec, "b.jpg", PLAN_OWNER_OTHER);
    plan_recorded_add(&rec, "b.png.jpg", PLAN_OWNER_OTHER);
    o.recorded = &rec;
    cr_assert_eq(plan_outputs(&o, &l), 0);
    assert_planned(&l.tasks[0], "out/a.png.jpg");
    assert_refused(&l.tasks[1], ERR_OUTPUT_CONFLICT,
                   "output name belongs to another input (state database)");
    free_list(&l);

    add_task(&l, "st", "a.png");
    o.name_template = "{stem}.jpg";
    cr_assert_eq(plan_outputs(&o, &l), 0);
    assert_refused(&l.tasks[0], ERR_OUTPUT_CONFLICT,
                   "output name belongs to another input (state database)");
    cr_assert_str_eq(l.tasks[0].out_path, "out/a.jpg");
    plan_recorded_release(&rec);
    free_list(&l);
}

/* A recorded name that this template cannot give the input is not kept;
 * it stays reserved for its input all the same. */
Test(plan, recorded_name_from_another_template_is_not_kept)
{
    struct plan_opts o = {.output_dir = "out", .name_template = "t-{stem}.jpg"};
    struct plan_recorded rec;
    struct scan_list l = {0};

    add_task(&l, "st", "a.png");
    add_task(&l, "st", "old.png");
    plan_recorded_init(&rec);
    plan_recorded_add(&rec, "a.jpg", 0);
    plan_recorded_add(&rec, "t-old.jpg", 0);   /* a's, by an older name */
    o.recorded = &rec;
    cr_assert_eq(plan_outputs(&o, &l), 0);
    assert_planned(&l.tasks[0], "out/t-a.jpg");
    assert_refused(&l.tasks[1], ERR_OUTPUT_CONFLICT, NULL);
    plan_recorded_release(&rec);
    free_list(&l);
}

Test(plan, roots_with_directories_of_their_own)
{
    char *dirs[] = { "2023", "2023-2", NULL };
    struct plan_opts o = {.output_dir = "out", .root_dirs = dirs,
                          .nroot_dirs = 3};
    struct scan_list l = {0};

    add_task(&l, "coll/2023", "x.jpg");
    add_task(&l, "other/2023", "x.jpg")->root_index = 1;
    add_task(&l, "other/2023", "sub/y.png")->root_index = 1;
    add_task(&l, NULL, "p.png")->root_index = 2;    /* a file INPUT */
    l.tasks[3].rel = l.tasks[3].path;
    cr_assert_eq(plan_outputs(&o, &l), 0);
    assert_planned(&l.tasks[0], "out/2023/x.jpg");
    cr_assert_str_eq(l.tasks[0].out_rel, "2023/x.jpg");
    assert_planned(&l.tasks[1], "out/2023-2/x.jpg");
    assert_planned(&l.tasks[2], "out/2023-2/sub/y.jpg");
    cr_assert_str_eq(l.tasks[2].out_rel, "2023-2/sub/y.jpg");
    assert_planned(&l.tasks[3], "out/p.jpg");
    free_list(&l);
}

Test(plan, root_dirs_are_named_after_the_roots)
{
    char *tmp = th_mkdtemp(), *a = th_path(tmp, "coll/2023/"),
         *b = th_path(tmp, "other/2023"), *c = th_path(tmp, "x/2023-2"),
         *d = th_path(tmp, "coll/2023/."), *f = th_path(tmp, "p.png");
    char **dirs;

    th_mkdirs(a);
    th_mkdirs(b);
    th_mkdirs(c);
    touch(f);
    {
        const char *in[] = { a, b, c, f };
        dirs = plan_root_dirs(in, 4);
        cr_assert(dirs != NULL);
        cr_assert_str_eq(dirs[0], "2023");
        cr_assert_str_eq(dirs[1], "2023-2");
        cr_assert_str_eq(dirs[2], "2023-2-2");  /* "2023-2" was taken */
        cr_assert_null(dirs[3], "a file INPUT maps into the output dir");
        plan_root_dirs_free(dirs, 4);
    }
    {
        /* "." is named by its real path; the same dir twice is one. */
        const char *in[] = { d, b, a };
        dirs = plan_root_dirs(in, 3);
        cr_assert(dirs != NULL);
        cr_assert_str_eq(dirs[0], "2023");
        cr_assert_str_eq(dirs[1], "2023-2");
        cr_assert_str_eq(dirs[2], "2023", "same directory, same name");
        plan_root_dirs_free(dirs, 3);
    }
    {
        /* One directory, named twice: one root, into the output dir. */
        const char *in[] = { a, d };
        cr_assert_null(plan_root_dirs(in, 2));
        cr_assert_null(plan_root_dirs(in, 1));
    }
    th_rmrf(tmp);
    free(tmp);
    free(a);
    free(b);
    free(c);
    free(d);
    free(f);
}

Test(plan, same_file_twice_is_a_duplicate)
{
    struct scan_list l = {0};

    add_task(&l, "in", "a.jpg")->dev = 1;
    add_task(&l, "in", "b.jpg")->dev = 1;
    add_task(&l, "in2", "a.jpg")->dev = 1;   /* the first one again */
    add_task(&l, "in2", "skip.jpg")->dev = 1;
    l.tasks[0].ino = 10;
    l.tasks[1].ino = 11;
    l.tasks[2].ino = 10;
    l.tasks[3].ino = 10;
    l.tasks[3].pre_status = TASK_SKIPPED;    /* settled already: kept */
    l.tasks[3].pre_class = ERR_NOT_REGULAR;
    for (int i = 0; i < 4; i++)
        l.tasks[i].nlink = 1;
    cr_assert_eq(plan_mark_duplicates(&l, 0), 1);
    cr_assert_eq(l.tasks[0].pre_status, TASK_OK);
    cr_assert_eq(l.tasks[1].pre_status, TASK_OK);
    cr_assert_eq(l.tasks[2].pre_status, TASK_SKIPPED);
    cr_assert_eq(l.tasks[2].pre_class, ERR_DUPLICATE);
    cr_assert_eq(l.tasks[3].pre_class, ERR_NOT_REGULAR);
    free_list(&l);
}

Test(plan, hard_links_are_duplicates_only_in_place)
{
    for (int in_place = 0; in_place < 2; in_place++) {
        struct scan_list l = {0};

        add_task(&l, "in", "a.jpg")->dev = 1;
        add_task(&l, "in", "b.jpg")->dev = 1;   /* a hard link to a.jpg */
        add_task(&l, "in", "a.jpg")->dev = 1;   /* a.jpg named again */
        for (int i = 0; i < 3; i++) {
            l.tasks[i].ino = 10;
            l.tasks[i].nlink = 2;
        }
        cr_assert_eq(plan_mark_duplicates(&l, in_place), in_place ? 2 : 1);
        cr_expect_eq(l.tasks[1].pre_status,
                     in_place ? TASK_SKIPPED : TASK_OK, "in_place %d",
                     in_place);
        cr_expect_eq(l.tasks[2].pre_class, ERR_DUPLICATE);
        free_list(&l);
    }
}

/* The map grows while one check holds an entry: 14 directories and "."
 * are looked up first, so the output directory is the 16th entry (the
 * first allocation's last) and the input directory's lookup reallocates
 * the map under it (ASan catches a stale pointer). */
Test(plan, own_input_check_survives_the_map_growing)
{
    char *tmp = th_mkdtemp();
    struct dir_map m;
    struct task t;
    char *p, *in, *out;
    int k;

    dir_map_init(&m);
    for (k = 0; k < 14; k++) {
        char name[32];
        snprintf(name, sizeof(name), "d%02d", k);
        p = th_path(tmp, name);
        th_mkdirs(p);
        memset(&t, 0, sizeof(t));
        t.path = p;
        t.out_path = p;         /* equal strings: no lookup */
        cr_assert(is_own_input(&t, &m));
        free(p);
        /* one lookup per directory through a file below it */
        p = th_path(tmp, name);
        {
            char *f = th_path(p, "x.jpg"), *o = th_path(p, "y.jpg");
            memset(&t, 0, sizeof(t));
            t.path = "elsewhere.jpg";
            t.out_path = o;
            (void)is_own_input(&t, &m);
            free(f);
            free(o);
        }
        free(p);
    }
    in = th_path(tmp, "in");
    out = th_path(tmp, "out");
    th_mkdirs(in);
    th_mkdirs(out);
    {
        char *ip = th_path(in, "a.jpg"), *op = th_path(out, "a.jpg");
        memset(&t, 0, sizeof(t));
        t.path = ip;
        t.out_path = op;
        cr_expect_not(is_own_input(&t, &m), "different directories");
        free(ip);
        free(op);
    }
    dir_map_release(&m);
    th_rmrf(tmp);
    free(tmp);
    free(in);
    free(out);
}
