/*
 * test_look.c - --target-distance D (lookq.h): on photo-like JPEGs made
 * here (smooth colour fields, fine grain, sharp-edged shapes; small ones
 * measured whole, larger ones through the tile sample) and the colour
 * photos of testdata/, the outputs are within D by butteraugli_main's
 * 3-norm on at least 90% of the files and never above 1.25 D (skipped
 * when libjxl-devtools' butteraugli_main is absent); the "look" record
 * agrees with the file written (its quantisation tables are those of the
 * chosen quality); a larger D gives smaller files; thumbnails search too;
 * the usage errors exit 2.  In place: the files replaced are within
 * 1.25 D, keep size and mtime and carry the mark, a second run changes
 * nothing, --min-saving, --backup and --force hold, CMYK is left alone.
 * (testdata's 64x64 srgb_icc.jpg is left out,
 * too small a picture for butteraugli's scale, and the orient*.jpg,
 * whose outputs are turned upright.)
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <turbojpeg.h>

#include "helpers.h"

#define NGEN 8

/* A photo-like RGB image: seeded colour waves, grain whose strength
 * varies over the image, a few flat shapes with hard edges. */
static unsigned char *
gen_photo(int w, int h, unsigned seed)
{
    unsigned char *px = malloc((size_t)w * h * 3);
    double ph[9], grain;
    unsigned r = seed;

    cr_assert_not_null(px);
    for (int i = 0; i < 9; i++)
        ph[i] = (rand_r(&r) % 628) / 100.0;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            unsigned char *p = px + ((size_t)y * w + x) * 3;
            int shape = ((x / 97 + y / 61 + (int)seed) % 7) == 0;

            grain = 4 + 20 * (0.5 + 0.5 * sin(x * 0.01 + ph[8]));
            for (int c = 0; c < 3; c++) {
                double v = 128 + 60 * sin(x * 0.006 * (c + 1) + ph[c]) +
                           40 * sin(y * 0.009 + ph[c + 3] + x * 0.002) +
                           grain * ((rand_r(&r) % 1000) / 500.0 - 1);

                if (shape)
                    v = c == (int)(seed % 3) ? 220 : 40;
                p[c] = (unsigned char)(v < 0 ? 0 : v > 255 ? 255 : v);
            }
        }
    return px;
}

static void
write_jpeg(const char *path, const unsigned char *px, int w, int h, int q)
{
    tjhandle tj = tjInitCompress();
    unsigned char *jpg = NULL;
    unsigned long len = 0;

    cr_assert_eq(tjCompress2(tj, px, w, 0, h, TJPF_RGB, &jpg, &len,
                             TJSAMP_420, q, 0), 0);
    th_write_file(path, jpg, len);
    tjFree(jpg);
    tjDestroy(tj);
}

/* The corpus in th_dir/in: NGEN generated photos and testdata's. */
static char *
make_corpus(void)
{
    static const char *const td[] = { "rgb.jpg", "q75.jpg",
                                      "progressive.jpg" };
    char *in = th_path(th_dir, "in");

    th_mkdirs(in);
    for (int i = 0; i < NGEN; i++) {
        int w = i % 2 ? 1100 : 480, h = i % 2 ? 760 : 360;
        unsigned char *px = gen_photo(w, h, 17 + i);
        char *p = th_asprintf("%s/gen%d.jpg", in, i);

        write_jpeg(p, px, w, h, 88 + i);
        free(px);
        free(p);
    }
    for (size_t i = 0; i < sizeof(td) / sizeof(td[0]); i++) {
        char *src = th_testdata(td[i]), *dst = th_path(in, td[i]);

        th_copy_file(src, dst);
        free(src);
        free(dst);
    }
    return in;
}

/* butteraugli_main's 3-norm of @b against @a, or -1. */
static double
butteraugli_3norm(const char *a, const char *b)
{
    char *cmd = th_asprintf("butteraugli_main '%s' '%s' 2>/dev/null", a, b);
    FILE *f = popen(cmd, "r");
    char line[256];
    double v = -1;

    cr_assert_not_null(f);
    while (fgets(line, sizeof(line), f))
        if (sscanf(line, "3-norm: %lf", &v) == 1)
            break;
    pclose(f);
    free(cmd);
    return v;
}

static void
need_butteraugli(void)
{
    if (system("command -v butteraugli_main >/dev/null 2>&1") != 0)
        cr_skip_test("butteraugli_main (libjxl-devtools) is not installed");
}

/* Run imgpool with @args, which must exit 0; the report @rep it wrote. */
static json_t *
run_ok(const char *const *args, const char *rep)
{
    struct th_run r;

    th_run(&r, args);
    cr_assert_eq(r.status, 0, "exit %d: %s", r.status, r.err);
    th_run_release(&r);
    return th_read_jsonl(rep);
}

/* Run recompress --target-distance @d over @in into th_dir/@out. */
static json_t *
run_look(const char *in, const char *out, const char *d)
{
    char *o = th_path(th_dir, out), *rep = th_asprintf("%s.jsonl", o);
    const char *args[] = { "recompress", "--target-distance", d,
                           "--no-incremental", "-j", "2", "-o", o,
                           "--report", rep, in, NULL };
    json_t *recs;

    recs = run_ok(args, rep);
    free(o);
    free(rep);
    return recs;
}

/* The "look" of @rec checked against the file @path it describes. */
static int
check_look(json_t *rec, const char *path)
{
    json_t *look = json_object_get(rec, "look");
    int q;

    cr_assert_not_null(look, "no \"look\" in the record of '%s'", path);
    q = (int)json_integer_value(json_object_get(look, "quality"));
    cr_assert(q >= 20 && q <= 100, "quality %d", q);
    cr_assert_eq(th_jpeg_quality(path), q, "'%s' was written at %d, the "
                 "record says %d", path, th_jpeg_quality(path), q);
    cr_assert_gt(json_real_value(json_object_get(look, "distance")), 0);
    cr_assert_leq(json_integer_value(json_object_get(look, "encodes")), 6);
    cr_assert_geq(json_integer_value(json_object_get(look, "encodes")), 2);
    cr_assert_not_null(json_string_value(json_object_get(look, "measured")));
    return q;
}

TestSuite(look, .init = th_dir_setup, .fini = th_dir_teardown,
          .timeout = 300);

Test(look, outputs_within_target_by_butteraugli)
{
    static const double d = 1.0;
    char *in, *out = NULL;
    json_t *recs, *rec;
    size_t i;
    int n = 0, within = 0;
    double worst = 0;

    need_butteraugli();
    in = make_corpus();
    recs = run_look(in, "out", "1.0");
    json_array_foreach(recs, i, rec) {
        const char *path = th_json_str(rec, "path");
        const char *name;
        char *src;
        double v;

        if (!path || !th_json_str(rec, "status"))
            continue;
        cr_assert_str_eq(th_json_str(rec, "status"), "ok", "'%s': %s", path,
                         json_dumps(rec, 0));
        name = strrchr(path, '/') + 1;
        out = th_asprintf("%s/out/%s", th_dir, name);
        src = th_path(in, name);
        check_look(rec, out);
        v = butteraugli_3norm(src, out);
        cr_assert_geq(v, 0, "butteraugli_main failed on '%s'", out);
        n++;
        within += v <= d;
        worst = v > worst ? v : worst;
        cr_log_info("%s: %.3f", name, v);
        free(src);
        free(out);
    }
    cr_assert_eq(n, NGEN + 3);
    cr_assert_geq(within * 10, n * 9, "only %d of %d within %.2f", within, n,
                  d);
    cr_assert_leq(worst, 1.25 * d, "worst %.3f over 1.25 D", worst);
    json_decref(recs);
    free(in);
}

/* A looser target, smaller files; the record follows each. */
Test(look, larger_distance_smaller_files)
{
    char *in = make_corpus(), *a, *b;
    json_t *ra = run_look(in, "tight", "0.7"), *rb = run_look(in, "loose",
                                                              "2.5");
    long long ta = 0, tb = 0;
    size_t i;
    json_t *rec;

    json_array_foreach(ra, i, rec)
        if (th_json_str(rec, "path"))
            ta += th_json_int(rec, "out_bytes");
    json_array_foreach(rb, i, rec)
        if (th_json_str(rec, "path"))
            tb += th_json_int(rec, "out_bytes");
    cr_assert_lt(tb, ta, "D 2.5: %lld bytes, D 0.7: %lld", tb, ta);
    a = th_asprintf("%s/tight/gen1.jpg", th_dir);
    b = th_asprintf("%s/loose/gen1.jpg", th_dir);
    cr_assert_gt(check_look(th_find_record(ra, "gen1.jpg"), a),
                 check_look(th_find_record(rb, "gen1.jpg"), b));
    json_decref(ra);
    json_decref(rb);
    free(a);
    free(b);
    free(in);
}

Test(look, thumbnail_searches_each_output)
{
    char *in = make_corpus(), *o = th_path(th_dir, "th");
    char *rep = th_path(th_dir, "th.jsonl"), *path;
    const char *args[] = { "thumbnail", "--target-distance", "1.5", "-s",
                           "200", "--no-incremental", "-o", o, "--report",
                           rep, in, NULL };
    struct th_image img;
    json_t *recs;

    recs = run_ok(args, rep);
    path = th_asprintf("%s/gen1.jpg", o);
    check_look(th_find_record(recs, "gen1.jpg"), path);
    cr_assert_eq(th_decode_jpeg(path, &img), 0);
    cr_assert_eq(img.w, 200, "width %d", img.w);
    th_image_release(&img);
    json_decref(recs);
    free(path);
    free(o);
    free(rep);
    free(in);
}

/* Without --target-distance the record has no "look". */
Test(look, no_look_without_target)
{
    char *in = make_corpus(), *o = th_path(th_dir, "q");
    char *rep = th_path(th_dir, "q.jsonl");
    const char *args[] = { "recompress", "-q", "80", "--no-incremental",
                           "-o", o, "--report", rep, in, NULL };
    json_t *recs;

    recs = run_ok(args, rep);
    cr_assert_null(json_object_get(th_find_record(recs, "gen0.jpg"),
                                   "look"));
    json_decref(recs);
    free(o);
    free(rep);
    free(in);
}

struct bad_args {
    const char *a[6];
    const char *says;           /* in the message */
};

Test(look, usage_errors_exit_2)
{
    static const struct bad_args bad[] = {
        { { "0" }, "target-distance" },
        { { "-1" }, "target-distance" },
        { { "0.05" }, "target-distance" },
        { { "11" }, "target-distance" },
        { { "1e9" }, "target-distance" },
        { { "nan" }, "target-distance" },
        { { "abc" }, "target-distance" },
        { { "1", "-f", "png" }, "drop --format" },
        { { "1", "-f", "webp" }, "drop --format" },
        { { "1", "--lossless" }, "drop --lossless" },
        { { "1", "-q", "80" }, "drop -q" },
    };
    char *o = th_path(th_dir, "o"), *in = th_testdata("rgb.jpg");

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        const char *args[12] = { "recompress", "--target-distance" };
        struct th_run r;
        int n = 2;

        for (int k = 0; k < 6 && bad[i].a[k]; k++)
            args[n++] = bad[i].a[k];
        args[n++] = "-o";
        args[n++] = o;
        args[n++] = in;
        th_run(&r, args);
        cr_assert_eq(r.status, 2, "case %zu: exit %d", i, r.status);
        cr_assert_not_null(strstr(r.err, bad[i].says), "case %zu: %s", i,
                           r.err);
        th_run_release(&r);
        cr_assert_not(th_exists(o), "case %zu wrote output", i);
    }
    free(o);
    free(in);
}

/* ---- in place (--in-place --target-distance) ---- */

/* What a file was: its bytes, inode and times. */
struct snap {
    char *data;
    size_t len;
    struct stat st;
};

static void
snap_take(struct snap *s, const char *path)
{
    s->data = th_read_file(path, &s->len);
    cr_assert_eq(stat(path, &s->st), 0, "cannot stat '%s'", path);
}

/* 1 when @path has @s's bytes, inode, mtime and ctime. */
static int
snap_same(const struct snap *s, const char *path)
{
    struct stat st;
    size_t len;
    char *data = th_read_file(path, &len);
    int same = len == s->len && memcmp(data, s->data, len) == 0 &&
               stat(path, &st) == 0 && st.st_ino == s->st.st_ino &&
               st.st_mtim.tv_sec == s->st.st_mtim.tv_sec &&
               st.st_mtim.tv_nsec == s->st.st_mtim.tv_nsec &&
               st.st_ctim.tv_sec == s->st.st_ctim.tv_sec &&
               st.st_ctim.tv_nsec == s->st.st_ctim.tv_nsec;

    free(data);
    return same;
}

#define NIP 4
static const char *const ip_names[NIP] = { "a.jpg", "b.jpg", "c.jpg",
                                           "q75.jpg" };

/* th_dir/ip: three Q95 photos made here and testdata's q75.jpg, their
 * mtimes set in the past; @s (NIP) their snapshots. */
static char *
make_ip_tree(struct snap *s)
{
    char *dir = th_path(th_dir, "ip");

    th_mkdirs(dir);
    for (int i = 0; i < NIP; i++) {
        char *p = th_path(dir, ip_names[i]);

        if (i < 3) {
            int w = i == 1 ? 1100 : 600, h = i == 1 ? 760 : 420;
            unsigned char *px = gen_photo(w, h, 40 + i);

            write_jpeg(p, px, w, h, 95);
            free(px);
        } else {
            char *src = th_testdata("q75.jpg");

            th_copy_file(src, p);
            free(src);
        }
        th_set_mtime(p, 1500000000LL + i, 250000000L);
        snap_take(&s[i], p);
        free(p);
    }
    return dir;
}

/* recompress --in-place --target-distance 1.0 @extra... over @dir; the
 * report (asserting exit 0). */
static json_t *
run_ip_look(const char *dir, const char *extra1, const char *extra2)
{
    char *rep = th_path(th_dir, "ip.jsonl");
    const char *args[12] = { "recompress", "--in-place", "--target-distance",
                             "1.0", "--report", rep, "-j", "2" };
    int n = 8;
    json_t *recs;

    if (extra1)
        args[n++] = extra1;
    if (extra2)
        args[n++] = extra2;
    args[n++] = dir;
    args[n] = NULL;
    unlink(rep);
    recs = run_ok(args, rep);
    free(rep);
    return recs;
}

/* 1 when @path holds the in-place look mark (lookq.h). */
static int
has_mark(const char *path)
{
    size_t len;
    char *data = th_read_file(path, &len);
    const char *m = "imgpool target-distance ";
    int found = 0;

    for (size_t i = 0; i + strlen(m) <= len && !found; i++)
        found = memcmp(data + i, m, strlen(m)) == 0;
    free(data);
    return found;
}

TestSuite(look_inplace, .init = th_dir_setup, .fini = th_dir_teardown,
          .timeout = 300);

/*
 * The photos are replaced by their look-target re-encodes: same size,
 * the chosen quality (the record's), within 1.25 D by butteraugli_main
 * against the original, the original's mtime, the mark; q75.jpg gains
 * nothing and is left.  The second run skips every file (the mark, or
 * no gain again) and changes no byte, inode or time.
 */
Test(look_inplace, replaces_within_d_and_second_run_changes_nothing)
{
    struct snap s[NIP], s2[NIP];
    char *dir = make_ip_tree(s);
    json_t *recs = run_ip_look(dir, NULL, NULL), *rec;
    int replaced = 0;

    for (int i = 0; i < NIP; i++) {
        char *p = th_path(dir, ip_names[i]), *o = th_path(th_dir, "o.jpg");
        struct th_image a, b;
        struct stat st;

        rec = th_find_record(recs, ip_names[i]);
        cr_assert_not_null(rec, "no record of '%s'", ip_names[i]);
        if (strcmp(th_json_str(rec, "status"), "ok") != 0) {
            cr_assert(snap_same(&s[i], p), "'%s' skipped but changed", p);
            free(o);
            free(p);
            continue;
        }
        replaced++;
        cr_assert(has_mark(p), "'%s' has no look mark", p);
        check_look(rec, p);
        cr_assert_eq(stat(p, &st), 0);
        cr_assert_eq(st.st_mtim.tv_sec, s[i].st.st_mtim.tv_sec,
                     "'%s' lost its mtime", p);
        cr_assert_lt(st.st_size, (off_t)s[i].len);
        th_write_file(o, s[i].data, s[i].len);
        cr_assert_eq(th_decode_jpeg(p, &a), 0);
        cr_assert_eq(th_decode_jpeg(o, &b), 0);
        cr_assert(a.w == b.w && a.h == b.h, "'%s' is %dx%d, was %dx%d", p,
                  a.w, a.h, b.w, b.h);
        th_image_release(&a);
        th_image_release(&b);
        if (system("command -v butteraugli_main >/dev/null 2>&1") == 0) {
            double v = butteraugli_3norm(o, p);

            cr_assert(v >= 0 && v <= 1.25, "'%s': butteraugli %.3f", p, v);
        }
        free(o);
        free(p);
    }
    cr_assert_geq(replaced, 3, "only %d of the Q95 photos replaced",
                  replaced);
    json_decref(recs);

    for (int i = 0; i < NIP; i++) {
        char *p = th_path(dir, ip_names[i]);

        snap_take(&s2[i], p);
        free(p);
    }
    recs = run_ip_look(dir, NULL, NULL);
    cr_assert_eq(th_json_int(th_summary(recs), "ok"), 0,
                 "the second run replaced files");
    for (int i = 0; i < NIP; i++) {
        char *p = th_path(dir, ip_names[i]);

        rec = th_find_record(recs, ip_names[i]);
        cr_assert_str_eq(th_json_str(rec, "status"), "skipped");
        cr_assert(snap_same(&s2[i], p), "the second run touched '%s'", p);
        if (i < 3)
            cr_assert_str_eq(th_json_str(rec, "reason"),
                             "already-compressed");
        free(p);
        free(s[i].data);
        free(s2[i].data);
    }
    json_decref(recs);
    free(dir);
}

/* --min-saving that no re-encode reaches leaves every file as it was;
 * --backup keeps byte-identical originals of the replaced files; --force
 * searches a marked file again. */
Test(look_inplace, min_saving_backup_and_force)
{
    struct snap s[NIP];
    char *dir = make_ip_tree(s), *bk = th_path(th_dir, "bk");
    json_t *recs = run_ip_look(dir, "--min-saving", "95"), *rec;

    for (int i = 0; i < NIP; i++) {
        char *p = th_path(dir, ip_names[i]);

        rec = th_find_record(recs, ip_names[i]);
        cr_assert_str_eq(th_json_str(rec, "status"), "skipped");
        cr_assert_str_eq(th_json_str(rec, "reason"), "no-gain");
        cr_assert(snap_same(&s[i], p), "'%s' changed", p);
        free(p);
    }
    json_decref(recs);

    recs = run_ip_look(dir, "--backup", bk);
    for (int i = 0; i < 3; i++) {
        char *b = th_path(bk, ip_names[i]);
        size_t len;
        char *data;

        rec = th_find_record(recs, ip_names[i]);
        cr_assert_str_eq(th_json_str(rec, "status"), "ok");
        cr_assert(th_exists(b), "no backup of '%s'", ip_names[i]);
        data = th_read_file(b, &len);
        cr_assert(len == s[i].len && memcmp(data, s[i].data, len) == 0,
                  "the backup of '%s' is not its original", ip_names[i]);
        free(data);
        free(b);
    }
    json_decref(recs);

    recs = run_ip_look(dir, "--force", NULL);
    rec = th_find_record(recs, "b.jpg");
    cr_assert_str_eq(th_json_str(rec, "status"), "ok", "%s",
                     json_dumps(rec, 0));
    cr_assert_not_null(json_object_get(rec, "look"));
    json_decref(recs);
    for (int i = 0; i < NIP; i++)
        free(s[i].data);
    free(bk);
    free(dir);
}

/* A CMYK JPEG is left alone (the distance is one of RGB pixels), a grey
 * one stays grey. */
Test(look_inplace, cmyk_left_alone_grey_stays_grey)
{
    char *dir = th_path(th_dir, "ipc"), *c = th_path(dir, "cmyk.jpg");
    char *g = th_path(dir, "gray.jpg"), *src;
    struct snap sc;
    json_t *recs, *rec;
    struct th_image img;

    th_mkdirs(dir);
    src = th_testdata("cmyk.jpg");
    th_copy_file(src, c);
    free(src);
    src = th_testdata("gray.jpg");
    th_copy_file(src, g);
    free(src);
    snap_take(&sc, c);
    recs = run_ip_look(dir, "--min-saving", "0");
    rec = th_find_record(recs, "cmyk.jpg");
    cr_assert_str_eq(th_json_str(rec, "status"), "skipped");
    cr_assert_str_eq(th_json_str(rec, "reason"),
                     "unsupported-format");
    cr_assert(snap_same(&sc, c), "the CMYK file changed");
    rec = th_find_record(recs, "gray.jpg");
    if (strcmp(th_json_str(rec, "status"), "ok") == 0) {
        tjhandle tj = tjInitDecompress();
        size_t len;
        unsigned char *data = (unsigned char *)th_read_file(g, &len);
        int w, h, sub, cs;

        cr_assert_eq(tjDecompressHeader3(tj, data, len, &w, &h, &sub, &cs),
                     0);
        cr_assert_eq(cs, TJCS_GRAY, "the grey file became colour space %d",
                     cs);
        tjDestroy(tj);
        free(data);
    }
    cr_assert_eq(th_decode_jpeg(g, &img), 0);
    th_image_release(&img);
    json_decref(recs);
    free(sc.data);
    free(c);
    free(g);
    free(dir);
}
