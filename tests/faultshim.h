/*
 * faultshim.h - driving the LD_PRELOAD fault library (faultshim.c) from a
 * test: the environment that makes the next th_run()/run_ip() of imgpool
 * fail chosen calls in its workers, and the check that the library can be
 * preloaded at all (a sanitizer build refuses preloads before its own
 * runtime; the tests skip then).  Everything here is static: include once
 * per test executable.
 */
#ifndef IMGPOOL_TEST_FAULTSHIM_H
#define IMGPOOL_TEST_FAULTSHIM_H

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>

#include "helpers.h"

static const char *const faultshim_vars[] = {
    "FAULTSHIM_OPS", "FAULTSHIM_ERRNO", "FAULTSHIM_GLOB", "FAULTSHIM_OFFSET",
    "FAULTSHIM_SHORT", "FAULTSHIM_NTH", "FAULTSHIM_PERMILLE",
    "FAULTSHIM_SEED", "FAULTSHIM_CHILDREN", "FAULTSHIM_LOG", "FAULTSHIM_XDEV",
    NULL,
};

/* No fault in the next runs. */
static inline void
faultshim_clear(void)
{
    for (int i = 0; faultshim_vars[i]; i++)
        unsetenv(faultshim_vars[i]);
    unsetenv("LD_PRELOAD");
}

/* Set one FAULTSHIM_ variable (@value NULL: unset it). */
static inline void
faultshim_set(const char *name, const char *value)
{
    if (value)
        setenv(name, value, 1);
    else
        unsetenv(name);
}

static inline void
faultshim_set_ll(const char *name, long long v)
{
    char buf[32];

    snprintf(buf, sizeof(buf), "%lld", v);
    setenv(name, buf, 1);
}

/*
 * From now on, imgpool's workers (never the master) fail @ops (faultshim.c)
 * with @err ("EIO", "ENOSPC") on paths matching @glob; the other
 * conditions are set with faultshim_set() afterwards.
 */
static inline void
faultshim_arm(const char *ops, const char *err, const char *glob)
{
    faultshim_clear();
    setenv("LD_PRELOAD", FAULTSHIM_LIB, 1);
    setenv("FAULTSHIM_OPS", ops, 1);
    setenv("FAULTSHIM_ERRNO", err, 1);
    setenv("FAULTSHIM_GLOB", glob, 1);
    setenv("FAULTSHIM_CHILDREN", "1", 1);
}

/* Skip the test when imgpool cannot run with the library preloaded. */
static inline void
faultshim_require(void)
{
    const char *args[] = {"--version", NULL};
    struct th_run r;

    setenv("LD_PRELOAD", FAULTSHIM_LIB, 1);
    th_run(&r, args);
    unsetenv("LD_PRELOAD");
    if (r.status != 0) {
        th_run_release(&r);
        cr_skip_test("imgpool does not run with %s preloaded (a sanitizer "
                     "build?)", FAULTSHIM_LIB);
    }
    th_run_release(&r);
}

#endif
