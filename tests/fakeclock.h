/*
 * fakeclock.h - a monotonic clock that a test moves by hand, for code under
 * test that reads the time with clock_gettime(CLOCK_MONOTONIC) (through
 * util_now_us()) and waits with nanosleep(): the run lock's retries, the
 * progress line's redraw interval.
 *
 * fakeclock.c defines clock_gettime() and nanosleep() for the executable it
 * is linked into (tests/CMakeLists.txt: test_lock, test_report).  Until
 * th_clock_freeze() both pass through to the kernel.  After it, in this
 * process only:
 *   th_clock_freeze();          // CLOCK_MONOTONIC stands still
 *   th_clock_advance_us(us);    // ...and moves when the test says so
 *   ...code under test...       // its nanosleep() returns at once and
 *                               // advances the clock by what it asked
 *   th_clock_sleeps(), th_clock_longest_sleep_us(), th_clock_elapsed_us()
 * th_clock_on_first_sleep(tell_fd, wait_fd) makes the first nanosleep()
 * after it a handshake: one byte to @tell_fd ("an attempt failed, I wait"),
 * then one byte read from @wait_fd before it returns (_exit(2) when either
 * fails).  Assertions on this clock are assertions on what the code asked
 * for, never on how fast the machine is.
 */
#ifndef IMGPOOL_FAKECLOCK_H
#define IMGPOOL_FAKECLOCK_H

#include <stdint.h>

void th_clock_freeze(void);
void th_clock_advance_us(int64_t us);
/* Fake time since th_clock_freeze(), in microseconds. */
int64_t th_clock_elapsed_us(void);
/* nanosleep() calls since th_clock_freeze(), and the longest request. */
int th_clock_sleeps(void);
int64_t th_clock_longest_sleep_us(void);
void th_clock_on_first_sleep(int tell_fd, int wait_fd);

#endif
