/*
 * test_state_id.c - the identities the state database compares
 * (state_id.c): the absolute input path of a task from its INPUT root, the
 * marking of up-to-date tasks, --prune's scope, and the settings
 * fingerprint.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE     /* asprintf() */
#endif

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "helpers.h"
#include "settings.h"
#include "state.h"

static char *tmp;     /* realpath of this test's directory */

static void
setup(void)
{
    char *t = th_mkdtemp();

    tmp = realpath(t, NULL);
    cr_assert(tmp != NULL);
    free(t);
    cr_assert_eq(chdir(tmp), 0);
}

static void
teardown(void)
{
    th_rmrf(tmp);
    free(tmp);
}

TestSuite(state_id, .init = setup, .fini = teardown, .timeout = 60);

/* A task for @path below INPUT @root_index, rel starting @rel_off bytes in,
 * with the identity lstat gives and output out/@out_rel. */
static void
task_make(struct task *t, const char *path, size_t rel_off, int root_index,
          const char *out_rel)
{
    struct stat sb;

    memset(t, 0, sizeof(*t));
    t->path = strdup(path);
    t->rel = t->path + rel_off;
    t->root_index = root_index;
    cr_assert(asprintf(&t->out_path, "out/%s", out_rel) > 0);
    t->out_rel = t->out_path + 4;
    if (lstat(path, &sb) == 0) {
        t->size = sb.st_size;
        t->mtime_ns = (int64_t)sb.st_mtim.tv_sec * 1000000000 +
                      sb.st_mtim.tv_nsec;
        t->dev = (uint64_t)sb.st_dev;
        t->ino = (uint64_t)sb.st_ino;
    }
}

static void
task_free(struct task *t)
{
    free(t->path);
    free(t->out_path);
}

/* "@tmp/@rel" */
static char *
abs_of(const char *rel)
{
    return th_path(tmp, rel);
}

Test(state_id, input_abs_from_each_kind_of_root)
{
    const char *inputs[] = { "in", "./in//", "one.jpg", "missing" };
    struct state_roots r;
    struct task t;
    char buf[PATH_MAX], *want;

    th_mkdirs("in/sub");
    th_fill_file("in/sub/a.jpg", 3, 'a');
    th_fill_file("one.jpg", 3, 'o');
    state_roots_init(&r, inputs, 4);
    cr_assert_eq(r.n, 4);
    cr_assert_null(r.abs[3], "a missing root has no identity");

    /* a directory root, however spelled: its realpath joined with rel */
    want = abs_of("in/sub/a.jpg");
    task_make(&t, "in/sub/a.jpg", 3, 0, "sub/a.jpg");
    cr_assert_str_eq(state_input_abs(&r, &t, buf, sizeof(buf)), want);
    task_free(&t);
    task_make(&t, "./in//sub/a.jpg", 6, 1, "sub/a.jpg");
    cr_assert_str_eq(state_input_abs(&r, &t, buf, sizeof(buf)), want);
    task_free(&t);
    free(want);

    /* a file root: its own realpath, whatever rel says */
    want = abs_of("one.jpg");
    task_make(&t, "one.jpg", 0, 2, "one.jpg");
    cr_assert_str_eq(state_input_abs(&r, &t, buf, sizeof(buf)), want);
    task_free(&t);
    free(want);

    /* no root (--files-from): the path, from the working directory */
    want = abs_of("in/sub/a.jpg");
    task_make(&t, "in/sub/a.jpg", 0, -1, "in/sub/a.jpg");
    cr_assert_str_eq(state_input_abs(&r, &t, buf, sizeof(buf)), want);
    /* ... and too small a buffer is no path at all */
    cr_assert_null(state_input_abs(&r, &t, buf, 8));
    task_free(&t);
    free(want);
    state_roots_release(&r);
    cr_assert_null(r.abs);
}

Test(state_id, through_a_symlinked_root_the_identity_is_the_target)
{
    const char *inputs[] = { "link" };
    struct state_roots r;
    struct task t;
    char buf[PATH_MAX], *want = abs_of("in/a.jpg");

    th_mkdirs("in");
    th_fill_file("in/a.jpg", 3, 'a');
    cr_assert_eq(symlink("in", "link"), 0);
    state_roots_init(&r, inputs, 1);
    task_make(&t, "link/a.jpg", 5, 0, "a.jpg");
    cr_assert_str_eq(state_input_abs(&r, &t, buf, sizeof(buf)), want);
    task_free(&t);
    state_roots_release(&r);
    free(want);
}

Test(state_id, skip_up_to_date_marks_only_what_was_recorded)
{
    const char *inputs[] = { "in" };
    struct state_roots r;
    struct settings s;
    struct state *st;
    struct task t[3];
    uint64_t fp, fp2;

    settings_init(&s, MODE_THUMBNAIL);
    fp = state_fingerprint(&s, 1);
    s.quality = 50;
    fp2 = state_fingerprint(&s, 1);
    th_mkdirs("in");
    th_mkdirs("out");
    th_fill_file("in/a.jpg", 3, 'a');
    th_fill_file("in/b.jpg", 4, 'b');
    th_fill_file("in/c.jpg", 5, 'c');
    th_fill_file("out/a.jpg", 6, 'o');
    th_fill_file("out/b.jpg", 7, 'o');
    th_fill_file("out/c.jpg", 8, 'o');
    state_roots_init(&r, inputs, 1);
    task_make(&t[0], "in/a.jpg", 3, 0, "a.jpg");
    task_make(&t[1], "in/b.jpg", 3, 0, "b.jpg");
    task_make(&t[2], "in/c.jpg", 3, 0, "c.jpg");

    cr_assert_eq(state_open(&st, "out", 0, 0), 0);
    cr_assert_eq(state_record_task(st, &r, &t[0], fp), 0);
    cr_assert_eq(state_record_task(st, &r, &t[2], fp), 0);
    t[2].pre_status = TASK_FAILED;      /* settled otherwise: left alone */
    t[2].pre_class = ERR_OUTPUT_CONFLICT;
    cr_assert_eq(state_skip_up_to_date(st, &r, t, 3, fp2), 0,
                 "other settings: nothing is up to date");
    cr_assert_eq(state_skip_up_to_date(st, &r, t, 3, fp), 1);
    cr_assert_eq(t[0].pre_status, TASK_SKIPPED);
    cr_assert_eq(t[0].pre_class, ERR_UP_TO_DATE);
    cr_assert_str_eq(t[0].pre_msg, "output is up to date");
    cr_assert_eq(t[1].pre_status, TASK_OK, "never recorded");
    cr_assert_eq(t[2].pre_status, TASK_FAILED);
    cr_assert_eq(t[2].pre_class, ERR_OUTPUT_CONFLICT);
    cr_assert_eq(state_close(st), 0);
    for (int i = 0; i < 3; i++)
        task_free(&t[i]);
    state_roots_release(&r);
}

static void
count_pruned(void *data, const char *out)
{
    (void)out;
    (*(int *)data)++;
}

Test(state_id, prune_roots_reaches_only_this_runs_roots)
{
    const char *both[] = { "in", "other" }, *mine[] = { "in" };
    struct state_roots r;
    struct settings s;
    struct state *st;
    struct task a, b;
    uint64_t fp;
    int pruned = 0;

    settings_init(&s, MODE_THUMBNAIL);
    fp = state_fingerprint(&s, 1);
    th_mkdirs("in");
    th_mkdirs("other");
    th_mkdirs("out");
    th_fill_file("in/a.jpg", 3, 'a');
    th_fill_file("other/b.jpg", 3, 'b');
    th_fill_file("out/a.jpg", 6, 'o');
    th_fill_file("out/b.jpg", 6, 'o');
    state_roots_init(&r, both, 2);
    task_make(&a, "in/a.jpg", 3, 0, "a.jpg");
    task_make(&b, "other/b.jpg", 6, 1, "b.jpg");
    cr_assert_eq(state_open(&st, "out", 0, 0), 0);
    cr_assert_eq(state_record_task(st, &r, &a, fp), 0);
    cr_assert_eq(state_record_task(st, &r, &b, fp), 0);
    state_roots_release(&r);
    cr_assert_eq(unlink("in/a.jpg"), 0);
    cr_assert_eq(unlink("other/b.jpg"), 0);

    /* a run over "in" alone prunes what came from "in" only */
    state_roots_init(&r, mine, 1);
    cr_assert_eq(state_prune_roots(st, &r, count_pruned, &pruned), 1);
    cr_assert_eq(pruned, 1);
    cr_assert_not(th_exists("out/a.jpg"));
    cr_assert(th_exists("out/b.jpg"), "another run's output was pruned");
    state_roots_release(&r);
    cr_assert_eq(state_close(st), 0);
    task_free(&a);
    task_free(&b);
}

Test(state_id, fingerprint_fields)
{
    struct settings base, s;
    uint64_t fp;

    settings_init(&base, MODE_THUMBNAIL);
    fp = state_fingerprint(&base, 1);
    cr_assert_eq(fp, state_fingerprint(&base, 1), "deterministic");

#define CHANGES(stmt)                                                       \
    do {                                                                    \
        s = base;                                                           \
        stmt;                                                               \
        cr_assert_neq(state_fingerprint(&s, 1), fp, "%s must count", #stmt);   \
    } while (0)
#define IGNORES(stmt)                                                       \
    do {                                                                    \
        s = base;                                                           \
        stmt;                                                               \
        cr_assert_eq(state_fingerprint(&s, 1), fp, "%s must not count", #stmt);\
    } while (0)

    CHANGES(s.mode = MODE_RECOMPRESS);
    CHANGES(s.width = 301);
    CHANGES(s.height = 299);
    CHANGES(s.fit = FIT_COVER);
    CHANGES(s.upscale = 1);
    CHANGES(s.quality = 89);
    CHANGES(s.format = FORMAT_PNG);
    CHANGES(s.subsample = SUBSAMPLE_444);
    CHANGES(s.background[0] = 0);
    CHANGES(s.background[2] = 254);
    CHANGES(s.strip = 0);
    CHANGES(s.fail_on = FAIL_ERROR);
    CHANGES(s.allow_untrusted = 1);
    /* width and height are not interchangeable */
    CHANGES((s.width = 300, s.height = 200));
    CHANGES(s.progressive = 1);
    CHANGES(s.lossless = 1);
    {   /* a second output counts, its box's sides in order */
        struct settings two[2];
        uint64_t a, b;

        two[0] = two[1] = base;
        two[1].width = 150;
        two[1].height = 150;
        cr_assert_neq(state_fingerprint(two, 2), fp);
        cr_assert_eq(state_fingerprint(two, 1), fp, "only nsizes count");
        two[1].width = 150;
        two[1].height = 100;
        a = state_fingerprint(two, 2);
        two[1].width = 100;
        two[1].height = 150;
        b = state_fingerprint(two, 2);
        cr_assert_neq(a, b);
    }
    IGNORES(s.strip_gps = 1);
    IGNORES(s.to_srgb = 1);
    IGNORES(s.target = TARGET_IN_PLACE);  /* with JPEG: alpha is moot */
    CHANGES(s.target_distance = 1.0);
    {   /* D replaces -q: its value counts, -q then does not */
        uint64_t a, b, c;
        s = base;
        s.target_distance = 1.0;
        a = state_fingerprint(&s, 1);
        s.quality = 50;
        b = state_fingerprint(&s, 1);
        s.target_distance = 1.5;
        c = state_fingerprint(&s, 1);
        cr_assert_eq(a, b, "-q must not count with --target-distance");
        cr_assert_neq(a, c, "D must count");
    }
    IGNORES(s.max_pixels = 1000);
    IGNORES(s.fast_jpeg = !s.fast_jpeg);
    IGNORES(s.upscale = 0);
    IGNORES(s.strip = 7);       /* booleans are canonicalised */
#undef CHANGES
#undef IGNORES
}

/*
 * The fingerprints of these settings are the ones the state databases
 * already hold: hashed from struct settings before it was split into the
 * run configuration's pixel and commit parts (the commit settings never
 * counted).  A change here redoes every tree made before it: bump
 * STATE_PIPELINE_VERSION instead when that is the intent.
 */
Test(state_id, fingerprints_of_existing_databases_are_kept)
{
    struct settings s[3];
    struct {
        const char *what;
        uint64_t fp;
    } want[] = {
        { "thumb", 0x14bcac0aa19789b1ULL },
        { "recompress", 0xa86881aff1a46854ULL },
        { "sizes", 0xa1e88af2a19204d6ULL },
        { "png", 0xbc33e123b5792a9bULL },
        { "pngbg", 0xa0eda7692fe5d600ULL },
        { "prog", 0xa3b639c0a2e841dbULL },
        { "base", 0xfde9a5781c142caeULL },
        { "webpll", 0x826c6aed694af14eULL },
        { "misc", 0xde0fde6957a1ab47ULL },
        { "three", 0x373a25d1ab2f7072ULL },
    };
    uint64_t got[10];
    int n = 0;

    settings_init(&s[0], MODE_THUMBNAIL);
    got[n++] = state_fingerprint(s, 1);
    settings_init(&s[0], MODE_RECOMPRESS);
    got[n++] = state_fingerprint(s, 1);
    settings_init(&s[0], MODE_THUMBNAIL);           /* -s 100 -s 200 */
    s[0].width = s[0].height = 100;
    s[1] = s[0];
    s[1].width = s[1].height = 200;
    got[n++] = state_fingerprint(s, 2);
    settings_init(&s[0], MODE_THUMBNAIL);           /* -f png */
    s[0].format = FORMAT_PNG;
    got[n++] = state_fingerprint(s, 1);
    s[0].background_set = 1;                        /* --background */
    s[0].background[0] = 0;
    got[n++] = state_fingerprint(s, 1);
    settings_init(&s[0], MODE_RECOMPRESS);
    s[0].progressive = 1;
    s[0].quality = 80;
    s[0].fit = FIT_COVER;
    s[0].width = 640;
    s[0].height = 480;
    s[0].upscale = 1;
    got[n++] = state_fingerprint(s, 1);
    settings_init(&s[0], MODE_THUMBNAIL);
    s[0].baseline = 1;
    s[0].density = 300;
    got[n++] = state_fingerprint(s, 1);
    settings_init(&s[0], MODE_THUMBNAIL);
    s[0].format = FORMAT_WEBP;
    s[0].lossless = 1;
    got[n++] = state_fingerprint(s, 1);
    settings_init(&s[0], MODE_THUMBNAIL);
    s[0].fail_on = FAIL_WARNING;
    s[0].strip = 0;
    s[0].allow_untrusted = 1;
    s[0].subsample = SUBSAMPLE_444;
    s[0].background[0] = 10;
    s[0].background[1] = 20;
    s[0].background[2] = 30;
    s[0].max_pixels = 5;
    s[0].fast_jpeg = 0;
    got[n++] = state_fingerprint(s, 1);
    settings_init(&s[0], MODE_THUMBNAIL);
    s[0].format = FORMAT_AVIF;
    s[0].width = 0;
    s[0].height = 64;
    s[1] = s[2] = s[0];
    s[1].width = 128;
    s[1].height = 0;
    s[2].width = s[2].height = 512;
    got[n++] = state_fingerprint(s, 3);
    for (int i = 0; i < n; i++)
        cr_expect_eq(got[i], want[i].fp, "%s: %016llx, the databases hold "
                     "%016llx", want[i].what, (unsigned long long)got[i],
                     (unsigned long long)want[i].fp);
}
