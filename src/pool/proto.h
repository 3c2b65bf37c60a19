/*
 * proto.h - framed messages between the master and a worker.
 *
 * Every message is a fixed header followed by @len payload bytes:
 *     magic "IMGP", type, task id, payload length
 * A new worker sends PROTO_READY (no payload) once it is initialised.
 * The master sends PROTO_TASK (no payload: the worker already holds the
 * task list, inherited across fork); the worker answers PROTO_RESULT with
 * a struct task_result as payload.  Both ends loop over short reads and
 * writes and EINTR.  Anything else on the wire is a protocol violation.
 */
#ifndef IMGPOOL_PROTO_H
#define IMGPOOL_PROTO_H

#include <stddef.h>
#include <stdint.h>

#define PROTO_MAGIC 0x504d4749u /* "IMGP" little-endian */
#define PROTO_MAX_PAYLOAD (64u * 1024u)

/* PROTO_READY: sent once by a worker after its initialisation, so that
 * a worker dying during start-up is never mistaken for a file that
 * crashed it. */
enum proto_type { PROTO_TASK = 1, PROTO_RESULT = 2, PROTO_READY = 3 };

struct proto_hdr {
    uint32_t magic;
    uint32_t type;
    uint32_t id;
    uint32_t len;
};

/* Send one message.  0, or -1 with errno set (EPIPE when the peer is gone). */
int proto_send(int fd, enum proto_type type, uint32_t id,
               const void *payload, uint32_t len);

/*
 * Receive one message into @hdr and @payload (capacity @cap).
 * Returns 1 for a message, 0 for a clean EOF before any header byte,
 * -1 on a read error or EOF inside a message (errno set; EPROTO for an
 * EOF mid-message), -2 on a protocol violation (bad magic, oversized).
 */
int proto_recv(int fd, struct proto_hdr *hdr, void *payload, uint32_t cap);

#endif
