/*
 * fuzz_files_from.c - libFuzzer target for the --files-from reader.
 *
 * The list is read in a directory holding one small PNG under two names
 * (hard links "img" and "img2"), and every '/' and '.' in the input is
 * replaced, so entries name nothing else: the target exercises the
 * splitting (newline and NUL modes), the prefix stripping, the records made
 * for unreadable entries and, with --follow-symlinks, the (dev, ino) set
 * that lists one file once however often and under whichever name it is
 * listed, without walking the real file system.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "msg.h"
#include "scan.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char dir[] = "/tmp/imgpool-fuzz-XXXXXX";
    static int ready;
    struct scan_opts o;
    struct scan_list l;
    size_t nok = 0;
    char *buf;
    FILE *f;

    if (!ready) {
        static const unsigned char png[] = {
            0x89, 'P', 'N', 'G', 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0x0d,
            'I', 'H', 'D', 'R', 0, 0, 0, 1, 0, 0, 0, 1, 8, 2, 0, 0, 0,
        };
        FILE *img;

        if (!mkdtemp(dir) || chdir(dir) < 0)
            abort();
        img = fopen("img", "wb");
        if (!img || fwrite(png, 1, sizeof(png), img) != sizeof(png) ||
            fclose(img) != 0 || link("img", "img2") < 0)
            abort();
        msg_set_level(MSG_QUIET);
        ready = 1;
    }
    if (size == 0)
        return 0;
    buf = malloc(size);
    if (!buf)
        return 0;
    memcpy(buf, data, size);
    for (size_t i = 0; i < size; i++)
        if (buf[i] == '/' || buf[i] == '.')
            buf[i] = '_';
    f = fmemopen(buf, size, "r");
    if (!f) {
        free(buf);
        return 0;
    }
    memset(&o, 0, sizeof(o));
    o.files_from = f;
    o.files_from_nul = data[0] & 1;
    o.shard_n = (data[0] >> 1) & 3;
    o.shard_k = o.shard_n ? data[0] % o.shard_n : 0;
    o.follow_symlinks = (data[0] >> 3) & 1;
    scan_list_init(&l);
    if (scan_run(&o, &l) < 0)
        abort();
    for (size_t i = 0; i < l.n; i++) {
        const struct task *t = &l.tasks[i];

        if (!t->rel)
            abort();
        if (t->pre_status == TASK_FAILED)
            continue;
        /* Only the two names of the one file exist. */
        if (strcmp(t->path, "img") != 0 && strcmp(t->path, "img2") != 0)
            abort();
        if (t->pre_status == TASK_OK)
            nok++;
        else if (!o.follow_symlinks || t->pre_class != ERR_DUPLICATE)
            abort();
    }
    /* Following links, one inode is one task however often it is listed. */
    if (o.follow_symlinks && nok > 1)
        abort();
    scan_list_release(&l);
    fclose(f);
    free(buf);
    return 0;
}
