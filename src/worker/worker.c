/*
 * worker.c - a worker process's entry points; see worker.h.
 *
 * The pipeline itself is img.c; this file adds what belongs to the process
 * rather than to one image: starting the libraries and, in test builds,
 * the fault injection of fault.c.
 */
#include "fault.h"
#include "img.h"
#include "worker.h"

int
worker_init(const struct run_config *c)
{
    worker_fault_read();
    return img_worker_init(&c->out[0]);
}

void
worker_run(const struct run_config *c, const struct task *t,
           struct task_result *res)
{
    worker_fault_inject(t);
    worker_fault_point(t, "open");
    img_process(c, t, res);
}

void
worker_fini(void)
{
    img_worker_fini();
}
