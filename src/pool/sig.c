/*
 * sig.c - the self-pipe trick for the master, and worker dispositions.
 *
 * The handler does only async-signal-safe work: it stores the signal in a
 * volatile sig_atomic_t and writes a byte to a non-blocking pipe.  All real
 * decisions (stop dispatching, kill workers) are taken in the pool's poll()
 * loop.  These flags are process-wide by nature, hence file-scope state.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "sig.h"

static volatile sig_atomic_t first_signal;
static volatile sig_atomic_t signal_count;
static int pipe_fds[2] = { -1, -1 };

static void
on_terminate(int signo)
{
    int saved = errno;
    if (!first_signal)
        first_signal = signo;
    if (signal_count < 1000)
        signal_count++;
    if (pipe_fds[1] >= 0) {
        ssize_t n = write(pipe_fds[1], "x", 1);
        (void)n; /* a full pipe already wakes the loop */
    }
    errno = saved;
}

static const struct {
    int signo;
    void (*handler)(int);
} master_signals[] = {
    { SIGINT, on_terminate },
    { SIGTERM, on_terminate },
    { SIGPIPE, SIG_IGN },
};

int
sig_master_setup(void)
{
    struct sigaction sa;
    size_t i;

    if (pipe_fds[0] < 0 && pipe2(pipe_fds, O_CLOEXEC | O_NONBLOCK) < 0)
        return -1;
    for (i = 0; i < sizeof(master_signals) / sizeof(master_signals[0]); i++) {
        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = master_signals[i].handler;
        sigemptyset(&sa.sa_mask);
        sa.sa_flags = SA_RESTART;
        if (sigaction(master_signals[i].signo, &sa, NULL) < 0)
            return -1;
    }
    return 0;
}

int
sig_fd(void)
{
    return pipe_fds[0];
}

int
sig_pending(void)
{
    return first_signal;
}

int
sig_count(void)
{
    return signal_count;
}

void
sig_drain(void)
{
    char buf[64];
    while (pipe_fds[0] >= 0 && read(pipe_fds[0], buf, sizeof(buf)) > 0)
        ;
}

int
sig_worker_setup(pid_t master)
{
    struct sigaction sa;

    memset(&sa, 0, sizeof(sa));
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = SIG_IGN;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGPIPE, &sa, NULL);
    sa.sa_handler = SIG_DFL;
    sigaction(SIGCHLD, &sa, NULL);

    if (pipe_fds[0] >= 0) {
        close(pipe_fds[0]);
        close(pipe_fds[1]);
        pipe_fds[0] = pipe_fds[1] = -1;
    }
    /* Die with the master; the check after closes the race where the
     * master died before prctl() took effect. */
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
        return -1;
    if (getppid() != master)
        return -1;
    return 0;
}

int
sig_exit_code(int signo)
{
    return 128 + signo;
}
