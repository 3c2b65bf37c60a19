/*
 * stage_helpers.c - fixtures for the tests of the worker's stages (open,
 * decode, colour, resize, encode, commit: src/worker/), declared in
 * stage_helpers.h: run configurations, tasks and inputs made by hand, and
 * the stages run as img.c runs them.
 *
 * Part of the test helper library.  It calls the worker's code only
 * through its headers, which name no image library, so the suites that do
 * not use libvips themselves need not link it.
 */
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "stage_helpers.h"

const char *sh_outdir;

/* A one-output run configuration: pixel settings @s, outputs below
 * sh_outdir, the commit defaults otherwise. */
static struct run_config
sh_config(const struct settings *s)
{
    struct commit_settings cs;
    struct run_config c;

    commit_settings_init(&cs);
    cs.output_dir = sh_outdir;
    run_config_make(&c, s, NULL, 1, &cs);
    return c;
}

void
sh_process(const struct settings *s, const struct task *t,
           struct task_result *res)
{
    struct run_config c = sh_config(s);

    img_process(&c, t, res);
}

/* The part of @out_path below @output_dir, as the planner sets out_rel. */
static const char *
sh_out_rel(const char *output_dir, const char *out_path)
{
    size_t n = strlen(output_dir);

    cr_assert(strncmp(out_path, output_dir, n) == 0,
              "'%s' is not below '%s'", out_path, output_dir);
    out_path += n;
    while (*out_path == '/')
        out_path++;
    return out_path;
}

void
sh_task(struct task *t, const struct settings *s, const char *in,
        const char *out)
{
    (void)s;
    memset(t, 0, sizeof(*t));
    t->path = (char *)in;
    t->rel = strrchr(in, '/') ? strrchr(in, '/') + 1 : in;
    t->out_path = (char *)out;
    t->out_rel = out ? sh_out_rel(sh_outdir, out) : NULL;
}

void
sh_result_init(struct task_result *res)
{
    memset(res, 0, sizeof(*res));
    res->in_width = res->in_height = res->out_width = res->out_height = -1;
    res->out_bytes = -1;
}

void
sh_input(struct input *in, const char *path, enum img_format fmt,
         const struct jpeg_info *ji, off_t pos)
{
    memset(in, 0, sizeof(*in));
    in->fd = open(path, O_RDONLY | O_CLOEXEC);
    cr_assert(in->fd >= 0, "cannot open '%s'", path);
    in->size = lseek(in->fd, 0, SEEK_END);
    in->data_end = in->size;
    lseek(in->fd, pos, SEEK_SET);
    in->fmt = fmt;
    if (ji) {
        in->ji = *ji;
        in->have_ji = 1;
    }
}

void
sh_run_decoder(const struct settings *s, const char *path,
               enum img_format fmt, const struct jpeg_info *ji,
               const char *out, enum decoder_kind dec,
               struct task_result *res)
{
    struct run_config c = sh_config(s);
    struct input in;
    struct task t;

    sh_task(&t, s, path, out);
    sh_result_init(res);
    sh_input(&in, path, fmt, ji, 17);
    img_run(&c, &t, &in, dec, res);
    input_close(&in);
}

int
sh_decode_vips(const struct settings *s, const struct input *in,
               enum decode_size size, struct decoded *d,
               struct task_result *res)
{
    struct decode_params p;
    struct decoder *dec;

    decode_params_of(s, &p);
    dec = decode_open(DECODER_VIPS, &p, in, size, d, res);
    if (!dec)
        return -1;
    cr_assert_not(decode_streams(dec), "the libvips decoder streams rows");
    decode_close(dec);
    if (size == DECODE_FULL || d->fitted)
        return 0;
    d->image = resize_vips_stored(&p.box, d->width, d->height,
                                  d->stored_swap, d->ctx, d->image);
    if (d->image)
        return 0;
    task_result_fail(res, ERR_DECODE, "cannot resize");
    return -1;
}

void
sh_thumb_settings(struct settings *s, const char *outdir)
{
    settings_init(s, MODE_THUMBNAIL);
    sh_outdir = outdir;
}
