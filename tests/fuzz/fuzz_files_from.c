/*
 * fuzz_files_from.c - libFuzzer target for the --files-from reader.
 *
 * The list is read in an empty directory and every '/' in the input is
 * replaced, so entries name nothing that exists: the target exercises the
 * splitting (newline and NUL modes), the prefix stripping and the records
 * made for unreadable entries, without walking the real file system.
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
    char *buf;
    FILE *f;

    if (!ready) {
        if (!mkdtemp(dir) || chdir(dir) < 0)
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
    scan_list_init(&l);
    if (scan_run(&o, &l) < 0)
        abort();
    for (size_t i = 0; i < l.n; i++)
        if (l.tasks[i].pre_status != TASK_FAILED || !l.tasks[i].rel)
            abort();
    scan_list_release(&l);
    fclose(f);
    free(buf);
    return 0;
}
