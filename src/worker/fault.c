/*
 * fault.c - the test-only fault injection of fault.h: IMGPOOL_FAULT read
 * once per worker, misbehaviour on matching files, and the wait points.
 * Compiled to nothing without IMGPOOL_FAULT_INJECTION (test builds,
 * CMakeLists.txt): then nothing reads the environment.
 */
#include <fcntl.h>
#include <fnmatch.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fault.h"
#include "msg.h"

#ifdef IMGPOOL_FAULT_INJECTION
/* From IMGPOOL_FAULT="KIND:GLOB"; kind is "" when none. */
static char fault_kind[16];
static const char *fault_glob;

void
worker_fault_read(void)
{
    const char *fault = getenv("IMGPOOL_FAULT");
    const char *colon = fault ? strchr(fault, ':') : NULL;
    size_t k;

    fault_kind[0] = '\0';
    if (!colon)
        return;
    k = (size_t)(colon - fault);
    if (k >= sizeof(fault_kind))
        return;
    memcpy(fault_kind, fault, k);
    fault_kind[k] = '\0';
    fault_glob = colon + 1;
}

/* True when a fault is set and @t's file name matches its glob. */
static int
fault_matches(const struct task *t)
{
    const char *base = strrchr(t->path, '/');

    base = base ? base + 1 : t->path;
    return fault_kind[0] && fnmatch(fault_glob, base, 0) == 0;
}

void
worker_fault_point(const struct task *t, const char *stage)
{
    const char *dir = getenv("IMGPOOL_FAULT_DIR");
    struct timespec nap = { 0, 5 * 1000 * 1000 };
    char path[PATH_MAX];
    int fd, i;

    if (strncmp(fault_kind, "wait-", 5) != 0 ||
        strcmp(fault_kind + 5, stage) != 0 || !dir || !fault_matches(t))
        return;
    snprintf(path, sizeof(path), "%s/reached", dir);
    fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd >= 0) {
        /* one write per line: several workers may stop here at once */
        char line[24];
        int len = snprintf(line, sizeof(line), "%d\n", (int)getpid());
        if (write(fd, line, (size_t)len) < 0)
            errorf("fault injection: cannot write '%s'", path);
        close(fd);
    }
    snprintf(path, sizeof(path), "%s/go", dir);
    for (i = 0; i < 12000 && access(path, F_OK) != 0; i++)
        nanosleep(&nap, NULL);
}

int
worker_fault_armed(const struct task *t, const char *kind)
{
    return strcmp(fault_kind, kind) == 0 && fault_matches(t);
}

void
worker_fault_inject(const struct task *t)
{
    if (!fault_matches(t))
        return;
    if (strcmp(fault_kind, "crash") == 0)
        raise(SIGSEGV);
    if (strcmp(fault_kind, "abort") == 0)
        abort();
    if (strcmp(fault_kind, "exit") == 0)
        _exit(3);
    if (strcmp(fault_kind, "hang") == 0)
        for (;;)
            pause();
    if (strcmp(fault_kind, "leak") == 0)
        for (;;) {
            char *p = malloc(1 << 20);
            if (!p)
                raise(SIGSEGV); /* what an allocator failure looks like */
            memset(p, 1, 1 << 20);
        }
}
#endif
