/*
 * proto.c - reliable framing over a stream socketpair.
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "proto.h"

static int
write_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    while (len > 0) {
        /* MSG_NOSIGNAL: a dead peer is an EPIPE, never a SIGPIPE. */
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Read exactly @len bytes: OK, EOF before the first byte, or ERROR (errno;
 * EPROTO for an EOF after it). */
static enum proto_recv_result
read_all(int fd, void *buf, size_t len)
{
    char *p = buf;
    size_t got = 0;
    while (got < len) {
        ssize_t n = read(fd, p + got, len - got);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return PROTO_RECV_ERROR;
        }
        if (n == 0) {
            if (got == 0)
                return PROTO_RECV_EOF;
            errno = EPROTO;
            return PROTO_RECV_ERROR;
        }
        got += (size_t)n;
    }
    return PROTO_RECV_OK;
}

const char *
proto_recv_str(enum proto_recv_result r)
{
    switch (r) {
    case PROTO_RECV_OK:
        return "ok";
    case PROTO_RECV_EOF:
        return "eof";
    case PROTO_RECV_ERROR:
        return "error";
    case PROTO_RECV_VIOLATION:
        return "protocol violation";
    }
    return "unknown";
}

/* One send() for a message up to this size, so a reader never waits on
 * a half-sent frame from a live peer. */
#define PROTO_ONE_WRITE (64u * 1024u)

int
proto_send(int fd, enum proto_type type, uint32_t id, const void *payload,
           uint32_t len)
{
    char buf[sizeof(struct proto_hdr) + PROTO_ONE_WRITE];
    struct proto_hdr hdr;

    if (len > PROTO_MAX_PAYLOAD) {
        errno = EMSGSIZE;
        return -1;
    }
    memset(&hdr, 0, sizeof(hdr));
    hdr.magic = PROTO_MAGIC;
    hdr.type = type;
    hdr.id = id;
    hdr.len = len;
    if (len > PROTO_ONE_WRITE) {
        /* A long request: the reader loops over short reads anyway. */
        if (write_all(fd, &hdr, sizeof(hdr)) < 0)
            return -1;
        return write_all(fd, payload, len);
    }
    memcpy(buf, &hdr, sizeof(hdr));
    if (len)
        memcpy(buf + sizeof(hdr), payload, len);
    return write_all(fd, buf, sizeof(hdr) + len);
}

enum proto_recv_result
proto_recv_head(int fd, struct proto_hdr *hdr)
{
    enum proto_recv_result rc = read_all(fd, hdr, sizeof(*hdr));

    if (rc != PROTO_RECV_OK)
        return rc;
    if (hdr->magic != PROTO_MAGIC || hdr->len > PROTO_MAX_PAYLOAD)
        return PROTO_RECV_VIOLATION;
    return PROTO_RECV_OK;
}

enum proto_recv_result
proto_recv_body(int fd, const struct proto_hdr *hdr, void *payload)
{
    enum proto_recv_result rc;

    if (hdr->len == 0)
        return PROTO_RECV_OK;
    rc = read_all(fd, payload, hdr->len);
    if (rc == PROTO_RECV_EOF) {
        /* The header came, its payload did not. */
        errno = EPROTO;
        return PROTO_RECV_ERROR;
    }
    return rc;
}

enum proto_recv_result
proto_recv(int fd, struct proto_hdr *hdr, void *payload, uint32_t cap)
{
    enum proto_recv_result rc = proto_recv_head(fd, hdr);

    if (rc != PROTO_RECV_OK)
        return rc;
    if (hdr->len > cap)
        return PROTO_RECV_VIOLATION;
    return proto_recv_body(fd, hdr, payload);
}
