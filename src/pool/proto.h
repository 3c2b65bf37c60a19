/*
 * proto.h - framed messages between the master and a worker.
 *
 * Every message is a fixed header followed by @len payload bytes:
 *     magic "IMGP", type, task id, payload length
 * A new worker sends PROTO_READY (no payload) once it is initialised.
 * The master sends PROTO_TASK with the caller's request as payload; the
 * worker answers PROTO_RESULT with the caller's result as payload (the
 * pool looks into neither: pool.h).  Both ends loop over short reads and
 * writes and EINTR.  Anything else on the wire is a protocol violation.
 *
 * Call sequence: proto_send() on one end, proto_recv() on the other (or
 * proto_recv_head() then proto_recv_body(), to size the buffer from the
 * header), on a SOCK_STREAM socketpair the caller owns.  proto_send() is 0/-1 with errno;
 * proto_recv() tells its four outcomes apart with enum proto_recv_result.
 */
#ifndef IMGPOOL_PROTO_H
#define IMGPOOL_PROTO_H

#include <stddef.h>
#include <stdint.h>

#define PROTO_MAGIC 0x504d4749u /* "IMGP" little-endian */
/* A task's request carries its paths, which a deep tree can make long
 * (the walk is not limited by PATH_MAX): room for that, not for data. */
#define PROTO_MAX_PAYLOAD (16u * 1024u * 1024u)

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

/* What proto_recv() came to: more than ok/failed, hence an enum. */
enum proto_recv_result {
    PROTO_RECV_OK = 0,      /* one whole message */
    PROTO_RECV_EOF,         /* clean EOF before any header byte */
    PROTO_RECV_ERROR,       /* read error, or EOF inside a message (errno;
                               EPROTO for the EOF) */
    PROTO_RECV_VIOLATION,   /* bad magic, or a payload over @cap or
                               PROTO_MAX_PAYLOAD: a bug on the other side */
};

/* "ok", "eof", "error" or "protocol violation". */
const char *proto_recv_str(enum proto_recv_result r);

/* Send one message.  0, or -1 with errno set (EPIPE when the peer is gone). */
int proto_send(int fd, enum proto_type type, uint32_t id,
               const void *payload, uint32_t len);

/*
 * Receive one message into @hdr and @payload (capacity @cap; @payload may
 * be NULL when @cap is 0).  Blocks until a whole message, EOF or an error.
 */
enum proto_recv_result proto_recv(int fd, struct proto_hdr *hdr,
                                  void *payload, uint32_t cap);

/* proto_recv() in two halves: the header alone (a bad magic or a length
 * over PROTO_MAX_PAYLOAD is a violation), then its hdr->len payload bytes
 * into @payload, which must hold them. */
enum proto_recv_result proto_recv_head(int fd, struct proto_hdr *hdr);
enum proto_recv_result proto_recv_body(int fd, const struct proto_hdr *hdr,
                                       void *payload);

#endif
