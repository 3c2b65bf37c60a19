/*
 * pool.c - prefork worker pool: dispatch, collect, reap, respawn, time out.
 *
 * The master keeps one slot per worker (pid, socket, the task it is on and
 * that task's deadline) and runs a single poll() loop over the busy
 * workers' sockets and the signal self-pipe.  A worker's death shows up as
 * EOF on its socket; the master then reaps it with waitpid(), turns the
 * status into a failed result for the task it was on, and forks a
 * replacement into the same slot.  A worker past its deadline is killed
 * with SIGKILL and handled the same way.
 *
 * Tasks are pulled from the caller one at a time (get_next_task()), only
 * when a ready worker is idle, so the caller can still be producing them:
 * at most one pulled task waits here (p->held), for a worker to become
 * ready.  The request crosses the socket as the PROTO_TASK payload, the
 * result comes back as the PROTO_RESULT payload; neither is looked into.
 *
 * Workers never print and never return into the caller's code: they leave
 * with _exit(), so stdio buffers inherited from the master (the report
 * file) are never flushed twice.
 */
#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "msg.h"
#include "pool.h"
#include "proto.h"
#include "sig.h"
#include "util.h"

struct slot {
    pid_t pid;          /* 0 when no worker lives in this slot */
    int fd;             /* master's end of the socketpair, -1 if none */
    int ready;          /* the worker said PROTO_READY */
    int busy;
    uint32_t task;
    int64_t started_us;
    int64_t deadline_us;  /* 0: no deadline */
    int disabled;       /* init failed: never respawn */
};

struct pool {
    const struct pool_opts *o;
    struct pool_stats stats;
    struct slot *slots;
    pid_t master;
    /* The task pulled from get_next_task() and not yet sent. */
    int held;
    uint32_t held_id;
    const void *held_req;
    size_t held_len;
    int ended;          /* get_next_task() said POOL_NEXT_END */
    int spawned;        /* the workers were forked */
    int failed;         /* a step failed: FAIL_POLL, or FAIL_FORK (no
                           worker could be forked: nothing ran, nothing
                           is settled) */
    size_t inflight;
    int stopping, killing;
    /* Workers that died before saying READY, since one last did. */
    int startup_failures;
    struct pollfd *pfd;
    size_t *pslot;
    unsigned char *result;  /* result_size bytes, for slot_readable() */
};

enum { FAIL_POLL = 1, FAIL_FORK = 2 };

/* Give up on starting workers after this many deaths in a row per slot. */
#define POOL_MAX_STARTUP_FAILURES 3

int
pool_default_workers(void)
{
    cpu_set_t set;
    int n;

    if (sched_getaffinity(0, sizeof(set), &set) == 0) {
        n = CPU_COUNT(&set);
        if (n > 0)
            return n;
    }
    n = (int)sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? n : 1;
}

/* Receive one task into the growing buffer *@buf (*@cap bytes): its
 * header in @hdr.  0, or -1 at EOF, on an error or a protocol bug. */
static int
worker_recv(int fd, struct proto_hdr *hdr, unsigned char **buf,
            uint32_t *cap)
{
    if (proto_recv_head(fd, hdr) != PROTO_RECV_OK || hdr->type != PROTO_TASK)
        return -1;
    if (hdr->len > *cap) {
        free(*buf);
        *cap = hdr->len;
        *buf = malloc(*cap);
        if (!*buf)
            return -1;
    }
    return proto_recv_body(fd, hdr, *buf) == PROTO_RECV_OK ? 0 : -1;
}

/* The worker's whole life.  Never returns. */
static void
worker_main(const struct pool_opts *o, int fd, pid_t master)
{
    struct proto_hdr hdr;
    unsigned char *req = NULL, *res;
    uint32_t cap = 0;

    if (sig_worker_setup(master) < 0)
        _exit(POOL_EXIT_INIT_FAILED);
    if (o->max_memory_mb > 0) {
        /* RLIMIT_DATA, not RLIMIT_AS: the address space of a libvips
         * worker is mostly reservations (8 MB per thread stack, 64 MB per
         * malloc arena) that cost no memory, so an AS cap fails healthy
         * jobs at random.  DATA counts heap and private writable mappings
         * as they are made writable: what the worker really uses
         * (measurements in docs/ARCHITECTURE.md). */
        struct rlimit rl;
        rl.rlim_cur = rl.rlim_max = (rlim_t)o->max_memory_mb * 1024 * 1024;
        if (setrlimit(RLIMIT_DATA, &rl) < 0)
            _exit(POOL_EXIT_INIT_FAILED);
    }
    res = malloc(o->result_size);
    if (!res || (o->init && o->init(o->data) < 0))
        _exit(POOL_EXIT_INIT_FAILED);
    if (proto_send(fd, PROTO_READY, 0, NULL, 0) < 0)
        _exit(POOL_EXIT_INIT_FAILED);

    /* EOF: the master is done with us; anything else on the wire is a
     * bug, and the master will see our EOF. */
    while (worker_recv(fd, &hdr, &req, &cap) == 0) {
        memset(res, 0, o->result_size);
        o->work(o->data, hdr.id, req, hdr.len, res);
        if (proto_send(fd, PROTO_RESULT, hdr.id, res,
                       (uint32_t)o->result_size) < 0)
            break;
    }
    if (o->fini)
        o->fini(o->data);
    _exit(0);
}

static int
slot_spawn(struct pool *p, size_t i)
{
    struct slot *s = &p->slots[i];
    int sv[2];
    pid_t pid;
    size_t j;

    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
        return -1;
    pid = fork();
    if (pid < 0) {
        close(sv[0]);
        close(sv[1]);
        return -1;
    }
    if (pid == 0) {
        /* Keep only our own end: other workers' EOF must not depend on us. */
        close(sv[0]);
        for (j = 0; j < (size_t)p->o->workers; j++)
            if (p->slots[j].fd >= 0)
                close(p->slots[j].fd);
        worker_main(p->o, sv[1], p->master);
    }
    close(sv[1]);
    s->pid = pid;
    s->fd = sv[0];
    s->busy = 0;
    s->ready = 0;
    /* Start-up is bounded by the task timeout too. */
    s->started_us = util_now_us();
    s->deadline_us = p->o->timeout_s > 0
        ? s->started_us + (int64_t)(p->o->timeout_s * 1e6) : 0;
    return 0;
}

/*
 * Wait for a worker whose socket reached EOF (or that we killed).  It has
 * closed its socket, so it is exiting; give it a moment, then insist.
 * *status receives its wait status and *maxrss_kb its peak resident size.
 * 0, or -1 with errno when there was no such child to wait for ("worker
 * vanished"; *status is then -1, which describe_status() knows).
 */
static int
reap(pid_t pid, int *status, long *maxrss_kb)
{
    struct rusage ru;
    int st = 0, waited_ms = 0, rc = 0;
    pid_t r;

    memset(&ru, 0, sizeof(ru));
    for (;;) {
        r = wait4(pid, &st, WNOHANG, &ru);
        if (r == pid)
            break;
        if (r < 0 && errno != EINTR) {
            st = -1;
            rc = -1;
            break;
        }
        if (waited_ms >= 2000) {
            kill(pid, SIGKILL);
            do {
                r = wait4(pid, &st, 0, &ru);
            } while (r < 0 && errno == EINTR);
            if (r < 0) {
                st = -1;
                rc = -1;
            }
            break;
        }
        usleep(1000);
        waited_ms++;
    }
    *status = st;
    *maxrss_kb = ru.ru_maxrss;
    return rc;
}

/* @st as a wait status, or -1 for a worker that could not be reaped. */
static void
describe_status(int st, char *buf, size_t size)
{
    if (st == -1)
        snprintf(buf, size, "worker vanished");
    else if (WIFSIGNALED(st))
        snprintf(buf, size, "worker killed by signal %d (%s)", WTERMSIG(st),
                 strsignal(WTERMSIG(st)));
    else if (WIFEXITED(st))
        snprintf(buf, size, "worker exited with status %d", WEXITSTATUS(st));
    else
        snprintf(buf, size, "worker stopped (status 0x%x)", st);
}

/* Tell the caller how the task in @s ended. */
static void
finish_task(struct pool *p, struct slot *s, enum pool_end end,
            const void *result, const char *why)
{
    struct pool_done d;

    s->busy = 0;
    p->inflight--;
    memset(&d, 0, sizeof(d));
    d.id = s->task;
    d.end = end;
    d.result = result;
    d.result_len = result ? p->o->result_size : 0;
    d.why = why ? why : "";
    d.usec = util_now_us() - s->started_us;
    p->o->task_finished(p->o->data, &d);
}

/* How the task of a worker that died with status @st (peak resident size
 * @maxrss_kb) ended. */
static enum pool_end
lost_end(const struct pool *p, int st, long maxrss_kb, int timed_out)
{
    if (p->killing)
        return POOL_END_ABORTED;
    if (timed_out)
        return POOL_END_TIMEOUT;
    /* An allocation failure under the cap often ends in abort() (GLib's
     * g_malloc) or a crash on a NULL the decoder missed; it is the cap's
     * doing when the worker had grown close to it.  A crash far below
     * the cap stays a crash. */
    if (p->o->max_memory_mb > 0 && st != -1 && WIFSIGNALED(st) &&
        (WTERMSIG(st) == SIGABRT || WTERMSIG(st) == SIGSEGV ||
         WTERMSIG(st) == SIGBUS) &&
        maxrss_kb >= p->o->max_memory_mb * 1024 * 3 / 4)
        return POOL_END_MEMORY;
    return POOL_END_CRASHED;
}

/*
 * The worker in @s is gone or must go (@timed_out).  Settle its task,
 * reap it and put a fresh worker into the slot.
 */
static void
slot_lost(struct pool *p, size_t i, int timed_out)
{
    struct slot *s = &p->slots[i];
    enum pool_end end;
    char why[160];
    long maxrss_kb;
    int st;

    if (timed_out || p->killing)
        kill(s->pid, SIGKILL);
    close(s->fd);
    s->fd = -1;
    /* A vanished worker leaves st at -1: described, never decoded. */
    (void)reap(s->pid, &st, &maxrss_kb);
    s->pid = 0;
    describe_status(st, why, sizeof(why));

    if (!s->ready) {
        /* Died before it was ready, so before any task: a start-up
         * failure (a broken library, a memory cap too small to start),
         * never a file's fault.  Retry a few times, then give up. */
        p->startup_failures++;
        if ((st != -1 && WIFEXITED(st) &&
             WEXITSTATUS(st) == POOL_EXIT_INIT_FAILED) ||
            p->startup_failures >=
                POOL_MAX_STARTUP_FAILURES * p->o->workers) {
            if (!s->disabled)
                warnf("a worker could not start (%s)", why);
            s->disabled = 1;
            return;
        }
    }

    if (s->busy) {
        end = lost_end(p, st, maxrss_kb, timed_out);
        if (end == POOL_END_TIMEOUT)
            p->stats.timeouts++;
        else if (end == POOL_END_MEMORY || end == POOL_END_CRASHED)
            p->stats.crashes++;
        finish_task(p, s, end, NULL, why);
    }
    if (!p->stopping && !s->disabled) {
        if (slot_spawn(p, i) == 0)
            p->stats.respawns++;
        else
            warnf("cannot start a replacement worker: %s", strerror(errno));
    }
}

/* Make sure a task is held: 1 when one is, 0 when none is to be had now. */
static int
pull_task(struct pool *p)
{
    enum pool_next r;

    if (p->held)
        return 1;
    if (p->ended)
        return 0;
    r = p->o->get_next_task(p->o->data, &p->held_id, &p->held_req,
                            &p->held_len);
    if (r == POOL_NEXT_TASK)
        p->held = 1;
    else if (r == POOL_NEXT_END)
        p->ended = 1;
    return p->held;
}

/* Fork every worker, once there is something to do.  0, or -1 after
 * errorf() when not even one could be forked. */
static int
spawn_all(struct pool *p)
{
    int i, live = 0;

    p->spawned = 1;
    for (i = 0; i < p->o->workers; i++) {
        if (slot_spawn(p, (size_t)i) < 0)
            warnf("cannot start worker %d: %s", i + 1, strerror(errno));
        else
            live++;
    }
    if (live == 0) {
        errorf("cannot start any worker process: %s", strerror(errno));
        return -1;
    }
    return 0;
}

/* Settle the held task without a worker. */
static void
settle_held(struct pool *p, enum pool_end end, const char *why)
{
    struct pool_done d;

    memset(&d, 0, sizeof(d));
    d.id = p->held_id;
    d.end = end;
    d.why = why;
    p->held = 0;
    p->o->task_finished(p->o->data, &d);
}

static void
dispatch(struct pool *p)
{
    size_t i;

    for (i = 0; i < (size_t)p->o->workers; i++) {
        struct slot *s = &p->slots[i];
        if (s->pid == 0 || s->busy || !s->ready)
            continue;
        if (!pull_task(p))
            return;
        if (p->held_len > PROTO_MAX_PAYLOAD) {
            /* The caller's bug (pool.h): fail the task, not the run. */
            settle_held(p, POOL_END_CRASHED, "request too large to send "
                        "to a worker");
            i--;
            continue;
        }
        if (proto_send(s->fd, PROTO_TASK, p->held_id, p->held_req,
                       (uint32_t)p->held_len) < 0) {
            /* The worker died while idle: the task never reached it and
             * stays held for the next worker. */
            slot_lost(p, i, 0);
            continue;
        }
        p->held = 0;
        s->busy = 1;
        s->task = p->held_id;
        s->started_us = util_now_us();
        s->deadline_us = p->o->timeout_s > 0
            ? s->started_us + (int64_t)(p->o->timeout_s * 1e6) : 0;
        p->inflight++;
    }
}

static void
slot_readable(struct pool *p, size_t i)
{
    struct slot *s = &p->slots[i];
    struct proto_hdr hdr;
    enum proto_recv_result rc = proto_recv(s->fd, &hdr, p->result,
                                           (uint32_t)p->o->result_size);

    if (rc == PROTO_RECV_OK && hdr.type == PROTO_READY && !s->ready &&
        !s->busy && hdr.len == 0) {
        s->ready = 1;
        p->startup_failures = 0;
        return;
    }
    if (rc == PROTO_RECV_OK && s->busy && hdr.type == PROTO_RESULT &&
        hdr.id == s->task && hdr.len == p->o->result_size) {
        finish_task(p, s, POOL_END_RESULT, p->result, NULL);
        return;
    }
    if (rc == PROTO_RECV_OK || rc == PROTO_RECV_VIOLATION)
        warnf("protocol violation from worker %ld; replacing it",
              (long)s->pid);
    slot_lost(p, i, 0);
}

static int
live_workers(const struct pool *p)
{
    int i, n = 0;
    for (i = 0; i < p->o->workers; i++)
        if (p->slots[i].pid != 0)
            n++;
    return n;
}

/* Settle every task that was never handed out. */
static void
settle_rest(struct pool *p, enum pool_end end)
{
    while (pull_task(p))
        settle_held(p, end, "");
}

/* Close every socket, then wait for the workers with growing patience
 * (50 ms doubling), SIGKILL after about a second and a half. */
static void
shutdown_workers(struct pool *p)
{
    int i, live, wait_ms = 50, total = 0;

    for (i = 0; i < p->o->workers; i++)
        if (p->slots[i].fd >= 0) {
            close(p->slots[i].fd);
            p->slots[i].fd = -1;
        }
    for (;;) {
        live = 0;
        for (i = 0; i < p->o->workers; i++) {
            struct slot *s = &p->slots[i];
            if (s->pid == 0)
                continue;
            if (waitpid(s->pid, NULL, WNOHANG) == s->pid)
                s->pid = 0;
            else
                live++;
        }
        if (!live)
            return;
        if (total > 1500) {
            for (i = 0; i < p->o->workers; i++)
                if (p->slots[i].pid != 0) {
                    kill(p->slots[i].pid, SIGKILL);
                    waitpid(p->slots[i].pid, NULL, 0);
                    p->slots[i].pid = 0;
                }
            return;
        }
        usleep((useconds_t)wait_ms * 1000);
        total += wait_ms;
        if (wait_ms < 400)
            wait_ms *= 2;
    }
}

static int
poll_timeout_ms(const struct pool *p)
{
    int64_t now = util_now_us(), best = -1;
    int i;

    for (i = 0; i < p->o->workers; i++) {
        const struct slot *s = &p->slots[i];
        if ((s->busy || (s->pid && !s->ready)) && s->deadline_us) {
            int64_t left = s->deadline_us - now;
            if (left < 0)
                left = 0;
            if (best < 0 || left < best)
                best = left;
        }
    }
    if (best < 0)
        return -1;
    return (int)(best / 1000 + 1);
}

static void
check_signals(struct pool *p)
{
    int i, n = sig_count();

    if (n >= 1 && !p->stopping) {
        p->stopping = 1;
        p->stats.interrupted = sig_pending();
    }
    if (n >= 2 && !p->killing) {
        p->killing = 1;
        for (i = 0; i < p->o->workers; i++)
            if (p->slots[i].pid != 0)
                kill(p->slots[i].pid, SIGKILL);
    }
}

static void
check_deadlines(struct pool *p)
{
    int64_t now = util_now_us();
    int i;

    for (i = 0; i < p->o->workers; i++) {
        struct slot *s = &p->slots[i];
        if ((s->busy || (s->pid && !s->ready)) && s->deadline_us &&
            now >= s->deadline_us)
            slot_lost(p, (size_t)i, 1);
    }
}

struct pool *
pool_start(const struct pool_opts *o)
{
    struct pool *p = xcalloc(1, sizeof(*p));
    int i;

    p->o = o;
    p->master = getpid();
    p->slots = xcalloc((size_t)o->workers, sizeof(*p->slots));
    p->pfd = xcalloc((size_t)o->workers + 1, sizeof(*p->pfd));
    p->pslot = xcalloc((size_t)o->workers + 1, sizeof(*p->pslot));
    p->result = xcalloc(1, o->result_size);
    for (i = 0; i < o->workers; i++)
        p->slots[i].fd = -1;
    return p;
}

/* Wait at most @timeout_ms (-1: without a limit besides the deadlines)
 * for the signal pipe and every live worker, and act on what came.  0, or
 * -1 after errorf(). */
static int
poll_workers(struct pool *p, int timeout_ms)
{
    int i, n = 0, t = poll_timeout_ms(p);

    if (timeout_ms >= 0 && (t < 0 || timeout_ms < t))
        t = timeout_ms;
    if (sig_fd() >= 0) {
        p->pfd[n].fd = sig_fd();
        p->pfd[n].events = POLLIN;
        p->pslot[n++] = (size_t)-1;
    }
    /* Every live worker: busy ones answer, new ones say READY, and an
     * idle one that dies shows up as EOF at once. */
    for (i = 0; i < p->o->workers; i++)
        if (p->slots[i].pid != 0 && p->slots[i].fd >= 0) {
            p->pfd[n].fd = p->slots[i].fd;
            p->pfd[n].events = POLLIN;
            p->pslot[n++] = (size_t)i;
        }
    if (poll(p->pfd, (nfds_t)n, t) < 0) {
        if (errno == EINTR)
            return 0;
        errorf("poll failed: %s", strerror(errno));
        return -1;
    }
    for (i = 0; i < n; i++) {
        if (!p->pfd[i].revents)
            continue;
        if (p->pslot[i] == (size_t)-1)
            sig_drain();
        else if (p->slots[p->pslot[i]].pid != 0)
            slot_readable(p, p->pslot[i]);
    }
    check_deadlines(p);
    return 0;
}

int
pool_step(struct pool *p, int timeout_ms)
{
    if (p->failed)
        return -1;
    check_signals(p);
    if (!p->stopping && !p->stats.init_failed) {
        if (!p->spawned && pull_task(p) && spawn_all(p) < 0) {
            p->failed = FAIL_FORK;
            return -1;
        }
        dispatch(p);
    }
    if (!p->spawned)
        return 0;    /* nothing to wait for */
    if (p->inflight == 0 && (p->stopping || (p->ended && !p->held)))
        return 0;    /* nothing will come */
    if (p->inflight == 0 && live_workers(p) == 0) {
        /* Nobody to run the tasks there are or will be. */
        p->stats.init_failed = 1;
        return 0;
    }
    if (poll_workers(p, timeout_ms) < 0) {
        p->failed = FAIL_POLL;
        return -1;
    }
    return 0;
}

/* True when the run has nothing left to wait for. */
static int
pool_idle(struct pool *p)
{
    if (p->inflight > 0)
        return 0;
    if (p->stopping || p->failed || p->stats.init_failed)
        return 1;
    return !pull_task(p);    /* POOL_NEXT_END: every task has run */
}

int
pool_finish(struct pool *p, struct pool_stats *stats)
{
    int rc = p->failed ? -1 : 0;

    while (rc == 0 && !pool_idle(p))
        rc = pool_step(p, -1);
    if (p->stats.init_failed)
        settle_rest(p, POOL_END_NO_WORKER);
    else if (p->failed != FAIL_FORK)
        settle_rest(p, POOL_END_INTERRUPTED);
    shutdown_workers(p);
    *stats = p->stats;
    free(p->result);
    free(p->pslot);
    free(p->pfd);
    free(p->slots);
    free(p);
    return rc;
}

int
pool_run(const struct pool_opts *o, struct pool_stats *stats)
{
    return pool_finish(pool_start(o), stats);
}
