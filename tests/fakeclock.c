/*
 * fakeclock.c - clock_gettime() and nanosleep() of a test executable, with
 * a monotonic clock the test can freeze and move; see fakeclock.h.
 *
 * Both are defined here so that every call in the executable (the code
 * under test, linked statically, included) comes here first; until
 * th_clock_freeze() they are the kernel's system calls.
 */
#include <errno.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "fakeclock.h"

#define START_NS ((int64_t)1000 * 1000000000)   /* an arbitrary origin */

static int frozen;
static int64_t now_ns = START_NS;
static int sleeps;
static int64_t longest_ns;
static int tell_fd = -1, wait_fd = -1;

int
clock_gettime(clockid_t clk, struct timespec *ts)
{
    if (!frozen || clk != CLOCK_MONOTONIC)
        return (int)syscall(SYS_clock_gettime, clk, ts);
    ts->tv_sec = (time_t)(now_ns / 1000000000);
    ts->tv_nsec = (long)(now_ns % 1000000000);
    return 0;
}

int
nanosleep(const struct timespec *req, struct timespec *rem)
{
    int64_t ns;
    char c = 'w';

    if (!frozen)
        return (int)syscall(SYS_nanosleep, req, rem);
    if (req->tv_nsec < 0 || req->tv_nsec >= 1000000000 || req->tv_sec < 0) {
        errno = EINVAL;
        return -1;
    }
    if (sleeps == 0 && tell_fd >= 0 &&
        (write(tell_fd, &c, 1) != 1 || read(wait_fd, &c, 1) != 1))
        _exit(2);
    ns = (int64_t)req->tv_sec * 1000000000 + req->tv_nsec;
    sleeps++;
    if (ns > longest_ns)
        longest_ns = ns;
    now_ns += ns;
    return 0;
}

void
th_clock_freeze(void)
{
    now_ns = START_NS;
    sleeps = 0;
    longest_ns = 0;
    frozen = 1;
}

void
th_clock_advance_us(int64_t us)
{
    now_ns += us * 1000;
}

int64_t
th_clock_elapsed_us(void)
{
    return (now_ns - START_NS) / 1000;
}

int
th_clock_sleeps(void)
{
    return sleeps;
}

int64_t
th_clock_longest_sleep_us(void)
{
    return longest_ns / 1000;
}

void
th_clock_on_first_sleep(int tell, int wait)
{
    tell_fd = tell;
    wait_fd = wait;
}
