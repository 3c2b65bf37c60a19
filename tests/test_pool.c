/*
 * test_pool.c - the worker pool with fake work functions (no libvips):
 * every task is accounted for once, crashes and hangs cost only their own
 * task, signals drain or abort, and no child is left behind.  The pool
 * knows tasks only by index and two blobs: the fake request carries a
 * number the worker echoes, the fake result is a small struct of its own.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "pool.h"
#include "proto.h"
#include "sig.h"

#define MAXT 200

/* The fake result blob; the pool never looks inside. */
struct fake_result {
    uint32_t id;          /* the id work() was called with */
    uint32_t req;         /* the number the request carried */
    int32_t pid;          /* the worker's */
    int32_t ok;
};

/* What the master saw for one task. */
struct fake_seen {
    enum pool_end end;
    struct fake_result r;
    char why[160];
};

struct fake {
    int crash_id;        /* raise(SIGSEGV) on this task */
    int exit_id;         /* _exit(5) on this task */
    int hang_id;         /* sleep forever on this task */
    int sleep_ms;        /* every task sleeps this long */
    int fail_init;
    int signal_after;    /* master: raise SIGINT after this many results */
    int signals;         /* how many SIGINTs to send then */
    int hang_signals;    /* worker: SIGINTs to the master before hanging */
    size_t ndone;
    int seen[MAXT];
    struct fake_seen res[MAXT];
    /* get_next_task(): tasks 0 .. n-1 in order; with @wait_until, it says
     * POOL_NEXT_WAIT until @released tasks may go (a producer still at
     * work). */
    size_t n, next, released;
    int lazy;
    uint32_t reqbuf;
    /* Shared with the workers (MAP_SHARED), or NULL: every task but 0
     * stores its worker's pid here, and task 0 waits (up to about 10 s)
     * until a pid other than its own's is there, so that the tasks are
     * spread over more than one worker whatever the load. */
    volatile int32_t *spread;
};

/*
 * Wait until process @pid has taken delivery of the @sig sent to it (its
 * handler has run or is running), so that the next one is counted apart
 * rather than merged with it: the bit of @sig leaves the process's pending
 * set, ShdPnd in /proc/PID/status.  Gives up after about 10 s.
 */
static void
wait_delivered(pid_t pid, int sig)
{
    char path[64], line[128];
    unsigned long long pending;

    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    for (int i = 0; i < 10000; i++) {
        FILE *f = fopen(path, "r");

        pending = 0;
        while (f && fgets(line, sizeof(line), f))
            if (sscanf(line, "ShdPnd: %llx", &pending) == 1)
                break;
        if (f)
            fclose(f);
        if (!f || !(pending & (1ULL << (sig - 1))))
            return;
        usleep(1000);
    }
}

static int
fake_init(void *data)
{
    struct fake *f = data;
    if (f->fail_init == 2)
        raise(SIGSEGV); /* dies during start-up, not on a file */
    return f->fail_init ? -1 : 0;
}

static void
fake_work(void *data, uint32_t id, const void *req, size_t len, void *result)
{
    struct fake *f = data;
    struct fake_result *res = result;

    if ((int)id == f->crash_id)
        raise(SIGSEGV);
    if ((int)id == f->exit_id)
        _exit(5);
    if ((int)id == f->hang_id) {
        for (int i = 0; i < f->hang_signals; i++) {
            kill(getppid(), SIGINT);
            wait_delivered(getppid(), SIGINT);
        }
        for (;;)
            pause();
    }
    if (f->spread && id != 0)
        __atomic_store_n(f->spread, (int32_t)getpid(), __ATOMIC_SEQ_CST);
    for (int i = 0; f->spread && id == 0 && i < 10000; i++) {
        int32_t other = __atomic_load_n(f->spread, __ATOMIC_SEQ_CST);
        if (other != 0 && other != (int32_t)getpid())
            break;
        usleep(1000);
    }
    if (f->sleep_ms)
        usleep((useconds_t)f->sleep_ms * 1000);
    res->id = id;
    if (len == sizeof(uint32_t))
        memcpy(&res->req, req, sizeof(uint32_t));
    res->pid = (int32_t)getpid();
    res->ok = 1;
}

static enum pool_next
fake_next(void *data, uint32_t *id, const void **req, size_t *len)
{
    struct fake *f = data;

    if (f->next >= f->n)
        return POOL_NEXT_END;
    if (f->lazy && f->next >= f->released)
        return POOL_NEXT_WAIT;
    *id = (uint32_t)f->next++;
    /* A request the worker must echo: 1000 + id. */
    f->reqbuf = *id + 1000;
    *req = &f->reqbuf;
    *len = sizeof(f->reqbuf);
    return POOL_NEXT_TASK;
}

static void
fake_done(void *data, const struct pool_done *d)
{
    struct fake *f = data;

    cr_assert_lt(d->id, MAXT);
    f->seen[d->id]++;
    f->res[d->id].end = d->end;
    if (d->end == POOL_END_RESULT) {
        cr_assert_eq(d->result_len, sizeof(struct fake_result));
        memcpy(&f->res[d->id].r, d->result, sizeof(struct fake_result));
    }
    snprintf(f->res[d->id].why, sizeof(f->res[d->id].why), "%s", d->why);
    f->ndone++;
    if (f->signal_after && f->ndone == (size_t)f->signal_after)
        for (int i = 0; i < f->signals; i++)
            raise(SIGINT);
}

static void
fake_opts(struct fake *f, struct pool_opts *o, int workers, double timeout)
{
    memset(o, 0, sizeof(*o));
    o->workers = workers;
    o->timeout_s = timeout;
    o->result_size = sizeof(struct fake_result);
    o->init = fake_init;
    o->work = fake_work;
    o->get_next_task = fake_next;
    o->task_finished = fake_done;
    o->data = f;
}

static void
run_pool(struct fake *f, size_t n, int workers, double timeout,
         struct pool_stats *st)
{
    struct pool_opts o;

    f->n = n;
    fake_opts(f, &o, workers, timeout);
    cr_assert_eq(pool_run(&o, st), 0);
}

static void
assert_no_children(void)
{
    errno = 0;
    cr_assert_eq(waitpid(-1, NULL, WNOHANG), -1, "a child is left behind");
    cr_assert_eq(errno, ECHILD);
}

static void
fake_init_struct(struct fake *f)
{
    memset(f, 0, sizeof(*f));
    f->crash_id = f->exit_id = f->hang_id = -1;
}

Test(pool, every_task_done_exactly_once, .timeout = 30)
{
    struct fake f;
    struct pool_stats st;
    pid_t first = 0;
    int other_pid = 0;

    fake_init_struct(&f);
    f.spread = mmap(NULL, sizeof(*f.spread), PROT_READ | PROT_WRITE,
                    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    cr_assert_neq((void *)f.spread, MAP_FAILED);
    *f.spread = 0;
    run_pool(&f, MAXT, 3, 0, &st);
    munmap((void *)f.spread, sizeof(*f.spread));
    cr_assert_eq(f.ndone, MAXT);
    for (int i = 0; i < MAXT; i++) {
        cr_assert_eq(f.seen[i], 1, "task %d seen %d times", i, f.seen[i]);
        cr_assert_eq(f.res[i].end, POOL_END_RESULT);
        cr_assert_eq(f.res[i].r.id, (uint32_t)i);
        cr_assert_eq(f.res[i].r.req, (uint32_t)i + 1000,
                     "the request did not reach the worker");
        cr_assert_neq(f.res[i].r.pid, getpid(), "ran in the master");
        if (!first)
            first = f.res[i].r.pid;
        else if (f.res[i].r.pid != first)
            other_pid = 1;
    }
    cr_assert(other_pid, "all tasks ran in one worker");
    cr_assert_eq(st.crashes + st.timeouts + st.respawns, 0);
    assert_no_children();
}

Test(pool, crash_costs_one_task_and_worker_is_replaced, .timeout = 30)
{
    struct fake f;
    struct pool_stats st;

    fake_init_struct(&f);
    f.crash_id = 7;
    run_pool(&f, 40, 2, 0, &st);
    cr_assert_eq(f.ndone, 40);
    for (int i = 0; i < 40; i++) {
        cr_assert_eq(f.seen[i], 1);
        if (i == 7)
            continue;
        cr_assert_eq(f.res[i].end, POOL_END_RESULT, "task %d", i);
    }
    cr_assert_eq(f.res[7].end, POOL_END_CRASHED);
    cr_assert(strstr(f.res[7].why, "signal 11"), "message: %s",
              f.res[7].why);
    cr_assert_eq(st.crashes, 1);
    cr_assert_eq(st.respawns, 1);
    assert_no_children();
}

Test(pool, worker_exit_is_reported_with_status, .timeout = 30)
{
    struct fake f;
    struct pool_stats st;

    fake_init_struct(&f);
    f.exit_id = 0;
    run_pool(&f, 10, 2, 0, &st);
    cr_assert_eq(f.res[0].end, POOL_END_CRASHED);
    cr_assert(strstr(f.res[0].why, "exited with status 5"), "%s",
              f.res[0].why);
    for (int i = 1; i < 10; i++)
        cr_assert_eq(f.res[i].end, POOL_END_RESULT);
    assert_no_children();
}

Test(pool, hung_task_times_out, .timeout = 30)
{
    struct fake f;
    struct pool_stats st;

    /* without the timeout the pool would wait for ever: .timeout fails */
    fake_init_struct(&f);
    f.hang_id = 2;
    run_pool(&f, 6, 2, 0.5, &st);
    cr_assert_eq(f.res[2].end, POOL_END_TIMEOUT);
    for (int i = 0; i < 6; i++)
        if (i != 2)
            cr_assert_eq(f.res[i].end, POOL_END_RESULT);
    cr_assert_eq(st.timeouts, 1);
    assert_no_children();
}

Test(pool, init_failure_fails_tasks_without_looping, .timeout = 30)
{
    struct fake f;
    struct pool_stats st;

    fake_init_struct(&f);
    f.fail_init = 1;
    run_pool(&f, 5, 2, 0, &st);
    cr_assert(st.init_failed);
    cr_assert_eq(f.ndone, 5);
    for (int i = 0; i < 5; i++) {
        cr_assert_eq(f.seen[i], 1);
        cr_assert_eq(f.res[i].end, POOL_END_NO_WORKER);
    }
    assert_no_children();
}

Test(pool, first_signal_drains_in_flight_tasks, .timeout = 30)
{
    struct fake f;
    struct pool_stats st;
    size_t ok = 0, interrupted = 0;

    cr_assert_eq(sig_master_setup(), 0);
    fake_init_struct(&f);
    f.sleep_ms = 100;
    f.signal_after = 2;
    f.signals = 1;
    run_pool(&f, 20, 2, 0, &st);
    cr_assert_eq(st.interrupted, SIGINT);
    cr_assert_eq(f.ndone, 20);
    for (int i = 0; i < 20; i++) {
        cr_assert_eq(f.seen[i], 1);
        if (f.res[i].end == POOL_END_RESULT)
            ok++;
        else if (f.res[i].end == POOL_END_INTERRUPTED)
            interrupted++;
    }
    /* Two done before the signal; those in flight then (0 to 2) finish. */
    cr_assert_geq(ok, 2);
    cr_assert_leq(ok, 4);
    cr_assert_eq(ok + interrupted, 20);
    assert_no_children();
}

Test(pool, second_signal_kills_in_flight_tasks, .timeout = 30)
{
    struct fake f;
    struct pool_stats st;
    size_t aborted = 0;

    cr_assert_eq(sig_master_setup(), 0);
    fake_init_struct(&f);
    f.hang_id = 1; /* in flight when the signals come: it sends them */
    f.hang_signals = 2;
    run_pool(&f, 6, 2, 0, &st);
    for (int i = 0; i < 6; i++) {
        cr_assert_eq(f.seen[i], 1);
        if (f.res[i].end == POOL_END_ABORTED)
            aborted++;
    }
    cr_assert_eq(f.res[1].end, POOL_END_ABORTED);
    cr_assert_geq(aborted, 1);
    assert_no_children();
}

Test(pool, default_workers_follow_affinity)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(0, &set);
    cr_assert_eq(sched_setaffinity(0, sizeof(set), &set), 0);
    cr_assert_eq(pool_default_workers(), 1);
}

Test(pool, workers_dying_at_start_up_end_the_run, .timeout = 30)
{
    struct fake f;
    struct pool_stats st;

    fake_init_struct(&f);
    f.fail_init = 2;
    run_pool(&f, 5, 2, 0, &st);
    cr_assert(st.init_failed);
    cr_assert_eq(f.ndone, 5);
    for (int i = 0; i < 5; i++) {
        cr_assert_eq(f.seen[i], 1);
        cr_assert_eq(f.res[i].end, POOL_END_NO_WORKER,
                     "a file was blamed for a start-up failure");
    }
    assert_no_children();
}

/* Lazy work: the producer releases tasks one at a time, and the first
 * one's result arrives while later ones are not even produced. */
Test(pool, lazy_tasks_run_while_the_producer_is_still_producing,
     .timeout = 30)
{
    struct fake f;
    struct pool_opts o;
    struct pool_stats st;
    struct pool *p;
    int steps = 0;

    fake_init_struct(&f);
    f.n = 30;
    f.lazy = 1;
    fake_opts(&f, &o, 2, 0);
    p = pool_start(&o);
    /* Nothing produced: no task, and no worker is forked for nothing. */
    cr_assert_eq(pool_step(p, 0), 0);
    errno = 0;
    cr_assert_eq(waitpid(-1, NULL, WNOHANG), -1, "forked without work");
    f.released = 1;
    while (f.ndone == 0 && steps++ < 1000)
        cr_assert_eq(pool_step(p, 100), 0);
    cr_assert_eq(f.ndone, 1, "the first task did not finish alone");
    cr_assert_eq(f.res[0].end, POOL_END_RESULT);
    cr_assert_eq(f.next, 1, "a task was pulled before it was produced");
    /* The rest, a few at a time, then the end. */
    while (f.released < f.n) {
        f.released += 7;
        cr_assert_eq(pool_step(p, 0), 0);
    }
    f.lazy = 0;
    cr_assert_eq(pool_finish(p, &st), 0);
    cr_assert_eq(f.ndone, 30);
    for (int i = 0; i < 30; i++) {
        cr_assert_eq(f.seen[i], 1, "task %d seen %d times", i, f.seen[i]);
        cr_assert_eq(f.res[i].r.req, (uint32_t)i + 1000);
    }
    assert_no_children();
}

Test(pool, no_task_forks_no_worker, .timeout = 30)
{
    struct fake f;
    struct pool_stats st;

    fake_init_struct(&f);
    f.fail_init = 1;    /* a worker would end the run with init_failed */
    run_pool(&f, 0, 2, 0, &st);
    cr_assert_eq(f.ndone, 0);
    cr_assert_eq(st.init_failed, 0);
    assert_no_children();
}

/* A long request (paths of a deep tree) crosses in pieces. */
static void
long_work(void *data, uint32_t id, const void *req, size_t len, void *result)
{
    struct fake_result *res = result;
    const unsigned char *p = req;
    uint32_t sum = 0;

    (void)data;
    for (size_t i = 0; i < len; i++)
        sum += p[i];
    res->id = id;
    res->req = sum;
    res->pid = (int32_t)len;
}

static unsigned char long_req[300000];

static enum pool_next
long_next(void *data, uint32_t *id, const void **req, size_t *len)
{
    struct fake *f = data;

    if (f->next >= 1)
        return POOL_NEXT_END;
    *id = (uint32_t)f->next++;
    *req = long_req;
    *len = sizeof(long_req);
    return POOL_NEXT_TASK;
}

Test(pool, long_request_arrives_whole, .timeout = 30)
{
    struct fake f;
    struct pool_opts o;
    struct pool_stats st;
    uint32_t sum = 0;

    for (size_t i = 0; i < sizeof(long_req); i++) {
        long_req[i] = (unsigned char)(i * 7);
        sum += long_req[i];
    }
    fake_init_struct(&f);
    fake_opts(&f, &o, 1, 0);
    o.work = long_work;
    o.get_next_task = long_next;
    cr_assert_eq(pool_run(&o, &st), 0);
    cr_assert_eq(f.ndone, 1);
    cr_assert_eq(f.res[0].end, POOL_END_RESULT);
    cr_assert_eq(f.res[0].r.pid, (int32_t)sizeof(long_req));
    cr_assert_eq(f.res[0].r.req, sum);
    assert_no_children();
}

/* ------------------------------------------------------------------------
 * The framing under the pool: each proto_recv() outcome, on a socketpair.
 */

static void
proto_pair(int sv[2])
{
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
}

Test(proto, round_trip_with_and_without_payload)
{
    struct proto_hdr hdr;
    char payload[16];
    int sv[2];

    proto_pair(sv);
    cr_assert_eq(proto_send(sv[0], PROTO_TASK, 7, NULL, 0), 0);
    cr_assert_eq(proto_send(sv[0], PROTO_RESULT, 9, "hello", 5), 0);
    cr_assert_eq(proto_recv(sv[1], &hdr, payload, sizeof(payload)),
                 PROTO_RECV_OK);
    cr_assert_eq(hdr.type, PROTO_TASK);
    cr_assert_eq(hdr.id, 7);
    cr_assert_eq(hdr.len, 0);
    cr_assert_eq(proto_recv(sv[1], &hdr, payload, sizeof(payload)),
                 PROTO_RECV_OK);
    cr_assert_eq(hdr.type, PROTO_RESULT);
    cr_assert_eq(hdr.id, 9);
    cr_assert_eq(hdr.len, 5);
    cr_assert_eq(memcmp(payload, "hello", 5), 0);
    close(sv[0]);
    cr_assert_eq(proto_recv(sv[1], &hdr, payload, sizeof(payload)),
                 PROTO_RECV_EOF);
    close(sv[1]);
}

Test(proto, eof_inside_a_message_is_an_error)
{
    struct proto_hdr hdr;
    char payload[16];
    int sv[2];

    /* Inside the header. */
    proto_pair(sv);
    cr_assert_eq(write(sv[0], "IMGP\1", 5), 5);
    close(sv[0]);
    errno = 0;
    cr_assert_eq(proto_recv(sv[1], &hdr, payload, sizeof(payload)),
                 PROTO_RECV_ERROR);
    cr_assert_eq(errno, EPROTO);
    close(sv[1]);

    /* After the header, inside the payload. */
    proto_pair(sv);
    memset(&hdr, 0, sizeof(hdr));
    hdr.magic = PROTO_MAGIC;
    hdr.type = PROTO_RESULT;
    hdr.len = 10;
    cr_assert_eq(write(sv[0], &hdr, sizeof(hdr)), (ssize_t)sizeof(hdr));
    cr_assert_eq(write(sv[0], "abc", 3), 3);
    close(sv[0]);
    errno = 0;
    cr_assert_eq(proto_recv(sv[1], &hdr, payload, sizeof(payload)),
                 PROTO_RECV_ERROR);
    cr_assert_eq(errno, EPROTO);
    close(sv[1]);
}

Test(proto, bad_magic_and_oversized_payload_are_violations)
{
    struct proto_hdr hdr, bad;
    char payload[4];
    int sv[2];

    proto_pair(sv);
    memset(&bad, 0, sizeof(bad));
    bad.magic = PROTO_MAGIC ^ 1;
    bad.type = PROTO_TASK;
    cr_assert_eq(write(sv[0], &bad, sizeof(bad)), (ssize_t)sizeof(bad));
    cr_assert_eq(proto_recv(sv[1], &hdr, payload, sizeof(payload)),
                 PROTO_RECV_VIOLATION);
    /* Longer than the receiver's buffer. */
    cr_assert_eq(proto_send(sv[0], PROTO_RESULT, 1, "12345", 5), 0);
    cr_assert_eq(proto_recv(sv[1], &hdr, payload, sizeof(payload)),
                 PROTO_RECV_VIOLATION);
    close(sv[0]);
    close(sv[1]);

    errno = 0;
    cr_assert_eq(proto_send(-1, PROTO_RESULT, 1, NULL,
                            PROTO_MAX_PAYLOAD + 1), -1);
    cr_assert_eq(errno, EMSGSIZE);
}

Test(proto, send_to_a_closed_peer_is_epipe_not_a_signal)
{
    int sv[2];

    proto_pair(sv);
    close(sv[1]);
    errno = 0;
    cr_assert_eq(proto_send(sv[0], PROTO_TASK, 1, NULL, 0), -1);
    cr_assert_eq(errno, EPIPE);
    close(sv[0]);
}

Test(proto, outcome_names)
{
    cr_assert_str_eq(proto_recv_str(PROTO_RECV_OK), "ok");
    cr_assert_str_eq(proto_recv_str(PROTO_RECV_EOF), "eof");
    cr_assert_str_eq(proto_recv_str(PROTO_RECV_ERROR), "error");
    cr_assert_str_eq(proto_recv_str(PROTO_RECV_VIOLATION),
                     "protocol violation");
}
