/*
 * sig.h - signal dispositions for the master and its workers.
 *
 * Master: sig_master_setup() installs handlers for SIGINT and SIGTERM that
 * only record the signal and write one byte to a self-pipe, so the pool's
 * poll() loop wakes up; SIGPIPE is ignored (write errors are checked
 * instead).  The loop reads sig_pending()/sig_count() and calls sig_drain().
 *
 * Worker: sig_worker_setup() restores default dispositions, ignores SIGINT
 * and SIGTERM (the master coordinates shutdown: a worker exits when its
 * socket reaches EOF), and arranges to be killed if the master dies.
 *
 * Call sequence: sig_master_setup() once in the master before pool_run();
 * sig_worker_setup() first thing in each worker.  Both return 0, or -1
 * with errno (the caller prints); the rest cannot fail.  The state is
 * process-wide (a handler can reach nothing else).
 */
#ifndef IMGPOOL_SIG_H
#define IMGPOOL_SIG_H

#include <sys/types.h>

/* Self-pipe and handlers.  0, or -1 with errno; safe to call again. */
int sig_master_setup(void);
/* Read end of the self-pipe, for poll(); -1 before setup. */
int sig_fd(void);
/* First termination signal received (SIGINT or SIGTERM), 0 if none. */
int sig_pending(void);
/* How many termination signals have arrived. */
int sig_count(void);
/* Empty the self-pipe. */
void sig_drain(void);
/* In a freshly forked worker; @master is the master's pid.  Closes the
 * self-pipe.  0, or -1 if prctl() failed (errno) or the master is already
 * gone. */
int sig_worker_setup(pid_t master);
/* Exit status for an interrupted run: 128 + signal (130, 143). */
int sig_exit_code(int signo);

#endif
