/*
 * test_faultmatrix_slow.c - fault injection during `recompress --in-place
 * --backup DIR` (issue 21), over 48 seeds (one test each).  Each seed makes a
 * small photo tree, picks from the seed which calls fail (read, pread,
 * write, fsync, rename, link, unlink, open: one to three of them), with
 * EIO or ENOSPC, and when (the Nth matching call, or each call with a
 * probability), and runs imgpool with the LD_PRELOAD library faultshim.c
 * failing those calls in its workers; then runs it again without faults.
 * After each run:
 *   - every original is byte-identical to what it was, or a valid
 *     recompression of itself (decodes, same dimensions, PSNR >= 30 dB);
 *   - the report marks every failure: a file the record calls failed or
 *     skipped is byte-identical, one it calls ok was replaced;
 *   - every backup is whole: byte-identical to the original it backs up,
 *     and every replaced file has one;
 *   - after the clean re-run: every file that was worth recompressing is,
 *     and no temporary file (.imgpool-tmp-*) is left in the tree or the
 *     backup folder.
 * One seed in three puts the backup folder on "another file system"
 * (FAULTSHIM_XDEV: links into it fail with EXDEV), so the backups are
 * copies made in it; one seed in four makes a failed read a short one
 * (the data ends early) instead of an error.
 * To explore further: FAULTMATRIX_SEED_BASE=N shifts the seeds,
 * FAULTMATRIX_JOBS=N runs imgpool with N workers (default 1, so a seed
 * repeats itself), FAULTMATRIX_VERBOSE=1 prints what each seed met.
 * Registered in CTest with the label "slow" (about a minute on 2 cores).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "inplace_fixtures.h"
#include "faultshim.h"

INPLACE_TREE

TestSuite(inplace, .init = setup, .fini = teardown, .timeout = 120);

/* The tree every seed starts from: relative path, size, kind, quality,
 * orientation.  d.jpg is already at quality 70: it gets the lossless
 * pass instead of a re-encode, so every file is worth replacing. */
static const struct photo {
    const char *rel;
    int w, h;
    enum gen_kind kind;
    int quality, orientation;
} photos[] = {
    {"a.jpg", 640, 480, GEN_RGB420, 97, 1},
    {"d.jpg", 480, 360, GEN_RGB420, 70, 1},
    {"sub/b.jpg", 360, 480, GEN_PROGRESSIVE, 97, 1},
    {"sub/c.jpg", 320, 240, GEN_GRAY, 96, 1},
    {"sub/deeper/e.jpg", 640, 480, GEN_RGB444, 95, 6},
};
#define NPHOTOS (sizeof(photos) / sizeof(photos[0]))

/* What the seed chose, for messages. */
struct fault_plan {
    char ops[96];
    const char *err;
    long nth;           /* 0: by probability */
    long permille;
};

static void
plan_faults(uint64_t seed, struct fault_plan *p)
{
    static const char *const ops[] = {
        "read,pread", "write", "fsync", "rename", "link", "unlink", "open",
        "open-any",
    };
    const size_t nops = sizeof(ops) / sizeof(ops[0]);
    uint64_t s = seed * 0x2545F4914F6CDD1DULL + 7;
    int k = 1 + (int)(rng_next(&s) % 3);

    p->ops[0] = '\0';
    /* Every operation is the first pick of some seed. */
    snprintf(p->ops, sizeof(p->ops), "%s", ops[seed % nops]);
    while (--k > 0) {
        size_t len = strlen(p->ops);
        snprintf(p->ops + len, sizeof(p->ops) - len, ",%s",
                 ops[rng_next(&s) % nops]);
    }
    p->err = (seed / nops) % 2 ? "ENOSPC" : "EIO";
    if (rng_next(&s) % 2) {
        p->nth = 1 + (long)(rng_next(&s) % 6);
        p->permille = 0;
    } else {
        p->nth = 0;
        p->permille = 100 + (long)(rng_next(&s) % 300);
    }
}

static char *
orig_path(const char *rel)
{
    char *dir = th_path(tmp, "orig");
    char *p = th_path(dir, rel);

    free(dir);
    return p;
}

static void
make_tree(void)
{
    for (size_t i = 0; i < NPHOTOS; i++) {
        char *p = th_path(in, photos[i].rel);
        char *o = orig_path(photos[i].rel);

        gen_jpeg(p, photos[i].w, photos[i].h, photos[i].kind,
                 photos[i].quality, photos[i].orientation, (uint32_t)i + 1);
        th_copy_file(p, o);
        free(p);
        free(o);
    }
}

/* @path is a valid recompression of @orig: decodes, same size, close. */
static int
valid_recompression(const char *path, const char *orig, char *why,
                    size_t size)
{
    struct th_image a, b;
    double p;

    if (th_decode_jpeg(path, &a) != 0) {
        snprintf(why, size, "does not decode");
        return 0;
    }
    cr_assert_eq(th_decode_jpeg(orig, &b), 0);
    if (a.w != b.w || a.h != b.h) {
        snprintf(why, size, "is %dx%d, was %dx%d", a.w, a.h, b.w, b.h);
        th_image_release(&a);
        th_image_release(&b);
        return 0;
    }
    p = th_psnr(&a, &b);
    th_image_release(&a);
    th_image_release(&b);
    snprintf(why, size, "PSNR %.1f dB", p);
    return p >= 30.0;
}

/* The backup of @rel: "bak/@rel" or one of its ".~N~" names holding the
 * original's bytes (1), else 0. */
static int
has_whole_backup(const char *bak, const char *rel, const char *orig)
{
    char *p = th_path(bak, rel);
    int found = th_exists(p) && th_same_bytes(p, orig);

    for (int n = 1; !found && n < 5; n++) {
        char *alt = xasprintf("%s.~%d~", p, n);
        found = th_exists(alt) && th_same_bytes(alt, orig);
        free(alt);
    }
    free(p);
    return found;
}

/* Every file below @bak is byte-identical to the original it backs up
 * (its name, less a ".~N~" suffix). */
static void
assert_backups_whole(const char *bak, const char *ctx)
{
    struct flist l;

    flist_of(&l, bak);
    for (size_t i = 0; i < l.n; i++) {
        char *rel = strdup(l.rel[i]), *tilde = strstr(rel, ".~");
        char *b = th_path(bak, l.rel[i]), *o;

        cr_assert(!is_tmp_name(l.rel[i]) || strcmp(ctx, "faulty run") == 0,
                  "%s: temporary file '%s' in the backup folder", ctx,
                  l.rel[i]);
        if (is_tmp_name(l.rel[i]) || strstr(l.rel[i], ".imgpool")) {
            free(rel);
            free(b);
            continue;
        }
        if (tilde)
            *tilde = '\0';
        o = orig_path(rel);
        cr_assert(th_exists(o), "%s: backup '%s' of no original", ctx,
                  l.rel[i]);
        cr_assert(th_same_bytes(b, o), "%s: backup '%s' is not whole", ctx,
                  l.rel[i]);
        free(o);
        free(b);
        free(rel);
    }
    flist_release(&l);
}

/*
 * The state after a run whose report is @arr: each original whole or
 * validly replaced, as its record says, with a backup when replaced.
 * *@replaced counts the files that are now recompressed.
 */
static void
check_tree(json_t *arr, const char *bak, const char *ctx, int *replaced)
{
    char why[128];

    *replaced = 0;
    for (size_t i = 0; i < NPHOTOS; i++) {
        char *p = th_path(in, photos[i].rel), *o = orig_path(photos[i].rel);
        json_t *rec = record(arr, photos[i].rel);
        const char *st = rec ? str_of(rec, "status") : NULL;
        const char *cls = class_of(rec);
        int same;

        cr_assert(th_exists(p), "%s: '%s' is gone", ctx, photos[i].rel);
        same = th_same_bytes(p, o);
        if (!same) {
            cr_assert(valid_recompression(p, o, why, sizeof(why)),
                      "%s: '%s' is neither the original nor a valid "
                      "recompression of it (%s)", ctx, photos[i].rel, why);
            cr_assert(has_whole_backup(bak, photos[i].rel, o),
                      "%s: '%s' was replaced without a whole backup", ctx,
                      photos[i].rel);
            (*replaced)++;
        }
        cr_assert(rec != NULL, "%s: no record for '%s'", ctx,
                  photos[i].rel);
        /* A replaced file says ok (or, in a later run, already done); a
         * file left as it was never says ok. */
        if (st && strcmp(st, "ok") == 0)
            cr_assert(!same, "%s: '%s' is ok but unchanged", ctx,
                      photos[i].rel);
        else if (strcmp(ctx, "faulty run") == 0)
            cr_assert(same, "%s: '%s' is %s (%s) but was replaced", ctx,
                      photos[i].rel, st ? st : "-", cls ? cls : "-");
        free(p);
        free(o);
    }
}

/* Run in place with backups; the report into *arr.  The exit status. */
static int
run_with_backup(const char *bak, json_t **arr)
{
    const char *jobs = getenv("FAULTMATRIX_JOBS");

    return run_ip(rep, arr, NULL, "-j", jobs ? jobs : "1", "--backup", bak,
                  in, NULL);
}

/* One seed: the faulty run, its checks, the clean re-run, its checks. */
static void
run_seed(int seed_value)
{
    char *bak = th_path(tmp, "bak");
    char *log = th_path(tmp, "faults.log");
    char glob[512], ctx[256];
    struct fault_plan plan;
    json_t *arr;
    int st, replaced, again;

    if (getenv("FAULTMATRIX_SEED_BASE"))
        seed_value += atoi(getenv("FAULTMATRIX_SEED_BASE"));
    faultshim_require();
    make_tree();
    plan_faults((uint64_t)seed_value, &plan);
    snprintf(ctx, sizeof(ctx), "seed %d (%s %s, %s %ld%s%s)", seed_value,
             plan.ops, plan.err, plan.nth ? "call" : "per mille",
             plan.nth ? plan.nth : plan.permille,
             seed_value % 3 == 0 ? ", backups copied" : "",
             seed_value % 4 == 1 ? ", short reads" : "");
    snprintf(glob, sizeof(glob), "%s/*", tmp);
    faultshim_arm(plan.ops, plan.err, glob);
    faultshim_set("FAULTSHIM_LOG", log);
    if (plan.nth)
        faultshim_set_ll("FAULTSHIM_NTH", plan.nth);
    else {
        faultshim_set_ll("FAULTSHIM_PERMILLE", plan.permille);
        faultshim_set_ll("FAULTSHIM_SEED", seed_value);
    }
    /* One seed in three: the backup folder is another file system, so
     * backups are copies through a temporary file there. */
    if (seed_value % 3 == 0)
        faultshim_set("FAULTSHIM_XDEV", bak);
    /* One seed in four: a failed read is a short one (the data ends). */
    if (seed_value % 4 == 1)
        faultshim_set("FAULTSHIM_SHORT", "1");
    st = run_with_backup(bak, &arr);
    faultshim_clear();
    if (getenv("FAULTMATRIX_VERBOSE")) {     /* what each seed met */
        char *faults = th_exists(log) ? th_read_file(log, NULL) : NULL;
        fprintf(stderr, "%s: exit %d\n%s", ctx, st, faults ? faults : "");
        for (size_t i = 0; i < json_array_size(arr); i++) {
            json_t *r = json_array_get(arr, i);
            if (str_of(r, "path"))
                fprintf(stderr, "  %s %s %s\n", str_of(r, "path"),
                        str_of(r, "status"), class_of(r) ? class_of(r)
                                                         : "");
        }
        free(faults);
    }
    cr_assert(st == 0 || st == 1, "%s: exit %d", ctx, st);
    check_tree(arr, bak, "faulty run", &replaced);
    assert_backups_whole(bak, "faulty run");
    cr_assert(st == 1 || replaced == (int)NPHOTOS, "%s: exit 0 but "
              "only %d files replaced", ctx, replaced);
    json_decref(arr);

    st = run_with_backup(bak, &arr);
    cr_assert_eq(st, 0, "%s: clean re-run exit %d", ctx, st);
    check_tree(arr, bak, "clean re-run", &again);
    assert_backups_whole(bak, "clean re-run");
    cr_assert_eq(again, (int)NPHOTOS, "%s: after the clean re-run %d "
                 "of %d files are recompressed", ctx, again, (int)NPHOTOS);
    cr_assert_eq(count_tmp_files(in), 0, "%s: a temporary file is left in "
                 "the tree", ctx);
    cr_assert_eq(count_tmp_files(bak), 0, "%s: a temporary file is left in "
                 "the backup folder", ctx);
    json_decref(arr);
    free(bak);
    free(log);
}

/* One test a seed, so that Criterion runs them side by side and names
 * the seed that fails. */
#define SEED(n)                                                         \
    Test(inplace, fault_matrix_seed_##n)                                \
    {                                                                   \
        run_seed(n);                                                    \
    }

SEED(1)
SEED(2)
SEED(3)
SEED(4)
SEED(5)
SEED(6)
SEED(7)
SEED(8)
SEED(9)
SEED(10)
SEED(11)
SEED(12)
SEED(13)
SEED(14)
SEED(15)
SEED(16)
SEED(17)
SEED(18)
SEED(19)
SEED(20)
SEED(21)
SEED(22)
SEED(23)
SEED(24)
SEED(25)
SEED(26)
SEED(27)
SEED(28)
SEED(29)
SEED(30)
SEED(31)
SEED(32)
SEED(33)
SEED(34)
SEED(35)
SEED(36)
SEED(37)
SEED(38)
SEED(39)
SEED(40)
SEED(41)
SEED(42)
SEED(43)
SEED(44)
SEED(45)
SEED(46)
SEED(47)
SEED(48)
