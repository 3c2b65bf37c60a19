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

/* 1 when @len bytes were read, 0 on EOF before the first byte, -1 else. */
static int
read_all(int fd, void *buf, size_t len)
{
    char *p = buf;
    size_t got = 0;
    while (got < len) {
        ssize_t n = read(fd, p + got, len - got);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        if (n == 0) {
            if (got == 0)
                return 0;
            errno = EPROTO;
            return -1;
        }
        got += (size_t)n;
    }
    return 1;
}

int
proto_send(int fd, enum proto_type type, uint32_t id, const void *payload,
           uint32_t len)
{
    /* Header and payload in one buffer: one send() for small messages,
     * so a reader never waits on a half-sent frame from a live peer. */
    char buf[sizeof(struct proto_hdr) + PROTO_MAX_PAYLOAD];
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
    memcpy(buf, &hdr, sizeof(hdr));
    if (len)
        memcpy(buf + sizeof(hdr), payload, len);
    return write_all(fd, buf, sizeof(hdr) + len);
}

int
proto_recv(int fd, struct proto_hdr *hdr, void *payload, uint32_t cap)
{
    int rc = read_all(fd, hdr, sizeof(*hdr));
    if (rc <= 0)
        return rc;
    if (hdr->magic != PROTO_MAGIC || hdr->len > cap ||
        hdr->len > PROTO_MAX_PAYLOAD)
        return -2;
    if (hdr->len == 0)
        return 1;
    rc = read_all(fd, payload, hdr->len);
    if (rc == 0) {
        errno = EPROTO;
        return -1;
    }
    return rc < 0 ? -1 : 1;
}
