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
    struct pool_stats *stats;
    struct slot *slots;
    pid_t master;
    size_t next;        /* next index into o->order */
    uint32_t *requeue;  /* tasks to hand out again (worker init failed) */
    size_t nrequeue;
    size_t inflight;
    int stopping, killing;
    /* Workers that died before saying READY, since one last did. */
    int startup_failures;
};

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

/* The worker's whole life.  Never returns. */
static void
worker_main(const struct pool_opts *o, int fd, pid_t master)
{
    struct proto_hdr hdr;
    struct task_result res;

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
    if (o->init && o->init(o->data) < 0)
        _exit(POOL_EXIT_INIT_FAILED);
    if (proto_send(fd, PROTO_READY, 0, NULL, 0) < 0)
        _exit(POOL_EXIT_INIT_FAILED);

    for (;;) {
        if (proto_recv(fd, &hdr, NULL, 0) != PROTO_RECV_OK)
            break; /* EOF: the master is done with us */
        if (hdr.type != PROTO_TASK || hdr.id >= o->id_limit)
            break; /* a protocol bug; the master will see our EOF */
        memset(&res, 0, sizeof(res));
        res.id = hdr.id;
        o->work(o->data, hdr.id, &res);
        res.id = hdr.id;
        if (proto_send(fd, PROTO_RESULT, hdr.id, &res, sizeof(res)) < 0)
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

static void
finish_task(struct pool *p, struct slot *s, const struct task_result *res)
{
    s->busy = 0;
    p->inflight--;
    p->o->done(p->o->data, res);
}

/*
 * The worker in @s is gone or must go (@timed_out).  Settle its task,
 * reap it and put a fresh worker into the slot.
 */
static void
slot_lost(struct pool *p, size_t i, int timed_out)
{
    struct slot *s = &p->slots[i];
    struct task_result res;
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

    if (!s->ready) {
        /* Died before it was ready, so before any task: a start-up
         * failure (a broken library, a memory cap too small to start),
         * never a file's fault.  Retry a few times, then give up. */
        p->startup_failures++;
        describe_status(st, why, sizeof(why));
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
        int64_t now = util_now_us();
        describe_status(st, why, sizeof(why));
        if (p->killing) {
            task_result_set(&res, s->task, TASK_FAILED, ERR_INTERRUPTED,
                            "aborted by a second signal");
        } else if (timed_out) {
            p->stats->timeouts++;
            task_result_set(&res, s->task, TASK_FAILED, ERR_TIMEOUT,
                            "still running after %.0f s; worker killed",
                            p->o->timeout_s);
        } else if (p->o->max_memory_mb > 0 && st != -1 && WIFSIGNALED(st) &&
                   (WTERMSIG(st) == SIGABRT || WTERMSIG(st) == SIGSEGV ||
                    WTERMSIG(st) == SIGBUS) &&
                   maxrss_kb >= p->o->max_memory_mb * 1024 * 3 / 4) {
            /* An allocation failure under the cap often ends in abort()
             * (GLib's g_malloc) or a crash on a NULL the decoder missed;
             * it is the cap's doing when the worker had grown close to
             * it.  A crash far below the cap stays a crash. */
            p->stats->crashes++;
            task_result_set(&res, s->task, TASK_FAILED, ERR_OUT_OF_MEMORY,
                            "%s, under its %ld MB memory cap (--max-memory)",
                            why, p->o->max_memory_mb);
        } else {
            p->stats->crashes++;
            task_result_set(&res, s->task, TASK_FAILED, ERR_WORKER_CRASHED,
                            "%s", why);
        }
        res.usec = now - s->started_us;
        finish_task(p, s, &res);
    }
    if (!p->stopping && !s->disabled) {
        if (slot_spawn(p, i) == 0)
            p->stats->respawns++;
        else
            warnf("cannot start a replacement worker: %s", strerror(errno));
    }
}

static int
next_task(struct pool *p, uint32_t *id)
{
    if (p->nrequeue > 0) {
        *id = p->requeue[--p->nrequeue];
        return 1;
    }
    if (p->next < p->o->ntasks) {
        *id = p->o->order[p->next++];
        return 1;
    }
    return 0;
}

static void
dispatch(struct pool *p)
{
    size_t i;
    uint32_t id;

    for (i = 0; i < (size_t)p->o->workers; i++) {
        struct slot *s = &p->slots[i];
        if (s->pid == 0 || s->busy || !s->ready)
            continue;
        if (!next_task(p, &id))
            return;
        s->busy = 1;
        s->task = id;
        s->started_us = util_now_us();
        s->deadline_us = p->o->timeout_s > 0
            ? s->started_us + (int64_t)(p->o->timeout_s * 1e6) : 0;
        p->inflight++;
        if (proto_send(s->fd, PROTO_TASK, id, NULL, 0) < 0) {
            /* The worker died while idle: the task never reached it. */
            p->requeue[p->nrequeue++] = id;
            s->busy = 0;
            p->inflight--;
            slot_lost(p, i, 0);
        }
    }
}

static void
slot_readable(struct pool *p, size_t i)
{
    struct slot *s = &p->slots[i];
    struct proto_hdr hdr;
    struct task_result res;
    enum proto_recv_result rc = proto_recv(s->fd, &hdr, &res, sizeof(res));

    if (rc == PROTO_RECV_OK && hdr.type == PROTO_READY && !s->ready && !s->busy &&
        hdr.len == 0) {
        s->ready = 1;
        p->startup_failures = 0;
        return;
    }
    if (rc == PROTO_RECV_OK && s->busy && hdr.type == PROTO_RESULT &&
        hdr.id == s->task && hdr.len == sizeof(res)) {
        res.id = s->task;
        res.message[sizeof(res.message) - 1] = '\0';
        res.warning[sizeof(res.warning) - 1] = '\0';
        finish_task(p, s, &res);
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
settle_rest(struct pool *p, enum task_status st, enum err_class c,
            const char *msg)
{
    struct task_result res;
    uint32_t id;

    while (next_task(p, &id)) {
        task_result_set(&res, id, st, c, "%s", msg);
        p->o->done(p->o->data, &res);
    }
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
        p->stats->interrupted = sig_pending();
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

/* Fill @pfd with what the loop waits on, @pslot with each entry's slot
 * ((size_t)-1 for the signal descriptor); returns the number of entries. */
static int
poll_set(const struct pool *p, struct pollfd *pfd, size_t *pslot)
{
    int i, n = 0;

    if (sig_fd() >= 0) {
        pfd[n].fd = sig_fd();
        pfd[n].events = POLLIN;
        pslot[n++] = (size_t)-1;
    }
    /* Every live worker: busy ones answer, new ones say READY, and an
     * idle one that dies shows up as EOF at once. */
    for (i = 0; i < p->o->workers; i++)
        if (p->slots[i].pid != 0 && p->slots[i].fd >= 0) {
            pfd[n].fd = p->slots[i].fd;
            pfd[n].events = POLLIN;
            pslot[n++] = (size_t)i;
        }
    return n;
}

int
pool_run(const struct pool_opts *o, struct pool_stats *stats)
{
    struct pool p;
    struct pollfd *pfd;
    size_t *pslot;
    int i, n, rc = 0;

    memset(stats, 0, sizeof(*stats));
    memset(&p, 0, sizeof(p));
    p.o = o;
    p.stats = stats;
    p.master = getpid();
    p.slots = xcalloc((size_t)o->workers, sizeof(*p.slots));
    p.requeue = xcalloc((size_t)o->workers + 1, sizeof(*p.requeue));
    pfd = xcalloc((size_t)o->workers + 1, sizeof(*pfd));
    pslot = xcalloc((size_t)o->workers + 1, sizeof(*pslot));
    for (i = 0; i < o->workers; i++)
        p.slots[i].fd = -1;

    if (o->ntasks == 0)
        goto out;
    for (i = 0; i < o->workers; i++)
        if (slot_spawn(&p, (size_t)i) < 0)
            warnf("cannot start worker %d: %s", i + 1, strerror(errno));
    if (live_workers(&p) == 0) {
        errorf("cannot start any worker process: %s", strerror(errno));
        rc = -1;
        goto out;
    }

    for (;;) {
        check_signals(&p);
        if (!p.stopping)
            dispatch(&p);
        if (p.inflight == 0) {
            if (p.stopping || (p.next >= o->ntasks && p.nrequeue == 0))
                break;
            if (live_workers(&p) == 0) {
                stats->init_failed = 1;
                break;
            }
        }

        n = poll_set(&p, pfd, pslot);
        if (poll(pfd, (nfds_t)n, poll_timeout_ms(&p)) < 0) {
            if (errno == EINTR)
                continue;
            errorf("poll failed: %s", strerror(errno));
            rc = -1;
            break;
        }
        for (i = 0; i < n; i++) {
            if (!pfd[i].revents)
                continue;
            if (pslot[i] == (size_t)-1)
                sig_drain();
            else if (p.slots[pslot[i]].pid != 0)
                slot_readable(&p, pslot[i]);
        }
        check_deadlines(&p);
    }

    if (stats->init_failed)
        settle_rest(&p, TASK_FAILED, ERR_INTERNAL,
                    "no worker could be initialised");
    else
        settle_rest(&p, TASK_SKIPPED, ERR_INTERRUPTED,
                    "not started: the run was interrupted");
out:
    shutdown_workers(&p);
    free(pslot);
    free(pfd);
    free(p.requeue);
    free(p.slots);
    return rc;
}
