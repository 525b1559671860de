/* SPDX-License-Identifier: Apache-2.0 */
#include "conn.h"

#include <string.h>

void vsock_conns_init(struct vsock_conns *t, uint64_t guest_cid)
{
    memset(t, 0, sizeof(*t));
    t->guest_cid = guest_cid;
}

/* A linear scan: bounded by VSOCK_MAX_CONNS, whatever the guest sends. */
struct vsock_conn *vsock_conns_find(struct vsock_conns *t, uint32_t host_port, uint32_t guest_port)
{
    for (uint32_t i = 0; i < VSOCK_MAX_CONNS; i++) {
        struct vsock_conn *c = &t->c[i];
        if (c->state != VSOCK_CONN_FREE && c->host_port == host_port && c->guest_port == guest_port)
            return c;
    }
    return NULL;
}

static struct vsock_conn *add(struct vsock_conns *t, uint32_t host_port, uint32_t guest_port)
{
    if (t->n == VSOCK_MAX_CONNS || vsock_conns_find(t, host_port, guest_port))
        return NULL;
    for (uint32_t i = 0; i < VSOCK_MAX_CONNS; i++)
        if (t->c[i].state == VSOCK_CONN_FREE) {
            t->n++;
            t->c[i] = (struct vsock_conn){.host_port = host_port, .guest_port = guest_port};
            return &t->c[i];
        }
    return NULL;
}

static void del(struct vsock_conns *t, struct vsock_conn *c)
{
    c->state = VSOCK_CONN_FREE;
    t->n--;
}

static void header(const struct vsock_conns *t, uint32_t host_port, uint32_t guest_port, uint16_t type,
                   uint16_t op, struct vsock_pkt *out)
{
    *out = (struct vsock_pkt){.src_cid = VSOCK_HOST_CID, .dst_cid = t->guest_cid,
                              .src_port = host_port, .dst_port = guest_port,
                              .type = type, .op = op};
}

void vsock_conn_packet(const struct vsock_conns *t, const struct vsock_conn *c, uint16_t op,
                       struct vsock_pkt *out)
{
    header(t, c->host_port, c->guest_port, c->type, op, out);
    out->buf_alloc = c->credit.buf_alloc;
    out->fwd_cnt = c->credit.fwd_cnt;
}

void vsock_rst_for(const struct vsock_conns *t, const struct vsock_pkt *p, struct vsock_pkt *out)
{
    header(t, p->dst_port, p->src_port,
           p->type == VIRTIO_VSOCK_TYPE_SEQPACKET ? VIRTIO_VSOCK_TYPE_SEQPACKET : VIRTIO_VSOCK_TYPE_STREAM,
           VIRTIO_VSOCK_OP_RST, out);
}

/* RST for packet p, whether or not a connection exists for it. */
static void rst_for(const struct vsock_conns *t, const struct vsock_pkt *p, struct vsock_step *s)
{
    s->reply = true;
    vsock_rst_for(t, p, &s->pkt);
}

/* RST and the end of connection c. */
static void conn_kill(struct vsock_conns *t, struct vsock_conn *c, const struct vsock_pkt *p,
                 struct vsock_step *s)
{
    rst_for(t, p, s);
    s->act = VSOCK_HOST_CLOSE;
    s->conn = c;
    del(t, c);
}

void vsock_conn_from_guest(struct vsock_conns *t, const struct vsock_pkt *p, struct vsock_step *s)
{
    memset(s, 0, sizeof(*s));
    struct vsock_conn *c = vsock_conns_find(t, p->dst_port, p->src_port);
    if (!c) {
        if (p->op == VIRTIO_VSOCK_OP_RST)
            return;
        if (p->op != VIRTIO_VSOCK_OP_REQUEST || !(c = add(t, p->dst_port, p->src_port))) {
            rst_for(t, p, s);
            return;
        }
        c->state = VSOCK_CONN_CONNECTING;
        c->type = p->type;
        vsock_credit_init(&c->credit, VSOCK_CONN_BUF, p->buf_alloc, p->fwd_cnt);
        s->act = VSOCK_HOST_CONNECT;
        s->conn = c;
        return;
    }
    /* A packet of the other socket type for this pair of ports: not
     * this connection's (Linux resets on it too). */
    if (p->type != c->type) {
        if (p->op == VIRTIO_VSOCK_OP_RST) {
            s->act = VSOCK_HOST_CLOSE;
            s->conn = c;
            del(t, c);
        } else {
            conn_kill(t, c, p, s);
        }
        return;
    }
    /* §5.10.6.3: every packet carries the sender's credit. */
    vsock_credit_update_peer(&c->credit, p->buf_alloc, p->fwd_cnt);
    s->conn = c;
    switch (p->op) {
    case VIRTIO_VSOCK_OP_REQUEST:
        conn_kill(t, c, p, s);
        return;
    case VIRTIO_VSOCK_OP_RESPONSE:
        if (c->state != VSOCK_CONN_REQUESTED) {
            conn_kill(t, c, p, s);
            return;
        }
        c->state = VSOCK_CONN_ESTABLISHED;
        s->act = VSOCK_HOST_ACCEPTED;
        return;
    case VIRTIO_VSOCK_OP_RST:
        s->act = VSOCK_HOST_CLOSE;
        del(t, c);
        return;
    case VIRTIO_VSOCK_OP_SHUTDOWN:
        c->guest_shut |= (uint8_t)(p->flags & (VIRTIO_VSOCK_SHUTDOWN_RCV | VIRTIO_VSOCK_SHUTDOWN_SEND));
        if (c->guest_shut == (VIRTIO_VSOCK_SHUTDOWN_RCV | VIRTIO_VSOCK_SHUTDOWN_SEND)) {
            /* Both ways: the guest waits for our RST to free its socket
             * (Linux's virtio transport, and Firecracker's answer). */
            conn_kill(t, c, p, s);
            return;
        }
        if (p->flags & VIRTIO_VSOCK_SHUTDOWN_SEND)
            s->act = VSOCK_HOST_SHUT_WRITE;
        return;
    case VIRTIO_VSOCK_OP_RW:
        /* Data before the connection is up, after the guest said it
         * would send no more, or past the credit: refused, never
         * buffered without bound. */
        if (c->state != VSOCK_CONN_ESTABLISHED || (c->guest_shut & VIRTIO_VSOCK_SHUTDOWN_SEND) ||
            !vsock_credit_received(&c->credit, p->len)) {
            conn_kill(t, c, p, s);
            return;
        }
        s->act = VSOCK_HOST_DATA;
        s->len = p->len;
        return;
    case VIRTIO_VSOCK_OP_CREDIT_REQUEST:
        s->reply = true;
        vsock_conn_packet(t, c, VIRTIO_VSOCK_OP_CREDIT_UPDATE, &s->pkt);
        vsock_credit_told(&c->credit);
        return;
    default: /* CREDIT_UPDATE: taken above */
        return;
    }
}

void vsock_conn_connected(struct vsock_conns *t, struct vsock_conn *c, struct vsock_pkt *reply)
{
    c->state = VSOCK_CONN_ESTABLISHED;
    vsock_conn_packet(t, c, VIRTIO_VSOCK_OP_RESPONSE, reply);
}

void vsock_conn_refused(struct vsock_conns *t, struct vsock_conn *c, struct vsock_pkt *reply)
{
    vsock_conn_reset(t, c, reply);
}

struct vsock_conn *vsock_conn_open(struct vsock_conns *t, uint32_t host_port, uint32_t guest_port,
                                   struct vsock_pkt *request)
{
    struct vsock_conn *c = add(t, host_port, guest_port);
    if (!c)
        return NULL;
    c->state = VSOCK_CONN_REQUESTED;
    c->type = VIRTIO_VSOCK_TYPE_STREAM; /* CONNECT comes on a stream socket */
    vsock_credit_init(&c->credit, VSOCK_CONN_BUF, 0, 0);
    vsock_conn_packet(t, c, VIRTIO_VSOCK_OP_REQUEST, request);
    return c;
}

void vsock_conn_reset(struct vsock_conns *t, struct vsock_conn *c, struct vsock_pkt *reply)
{
    vsock_conn_packet(t, c, VIRTIO_VSOCK_OP_RST, reply);
    del(t, c);
}
