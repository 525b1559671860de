/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtio-vsock stream connections, the device's bookkeeping (virtio 1.2
 * §5.10.6.4 to §5.10.6.6): a bounded table keyed by (host port, guest
 * port), and what each packet from the guest means for its connection:
 * what the host side must do (connect, take data, stop writing, close) and
 * which control packet, if any, goes back to the guest (RESPONSE, RST,
 * CREDIT_UPDATE). No sockets here: the plugin acts on the step.
 */
#ifndef PLUGVM_VSOCK_CONN_H
#define PLUGVM_VSOCK_CONN_H

#include <stdbool.h>
#include <stdint.h>

#include "credit.h"
#include "packet.h"

/* Connections per device (issue 13: 1024 at once). */
#define VSOCK_MAX_CONNS 1024
/* Bytes the device buffers per connection toward the host side: its
 * buf_alloc, so a guest can never make it hold more (credit.h). */
#define VSOCK_CONN_BUF (256u * 1024)

enum vsock_conn_state {
    VSOCK_CONN_FREE = 0,
    VSOCK_CONN_CONNECTING,  /* the guest sent REQUEST; the host side is connecting */
    VSOCK_CONN_REQUESTED,   /* the host side sent REQUEST; awaiting the guest's RESPONSE */
    VSOCK_CONN_ESTABLISHED,
};

struct vsock_conn {
    enum vsock_conn_state state;
    uint32_t host_port, guest_port;
    uint16_t type;      /* VIRTIO_VSOCK_TYPE_STREAM or _SEQPACKET, from the REQUEST */
    uint8_t guest_shut; /* VIRTIO_VSOCK_SHUTDOWN_RCV | _SEND the guest sent */
    struct vsock_credit credit;
};

struct vsock_conns {
    uint64_t guest_cid;
    uint32_t n;
    struct vsock_conn c[VSOCK_MAX_CONNS];
};

/* What the host side must do after a packet from the guest. */
enum vsock_host_act {
    VSOCK_HOST_NONE,
    VSOCK_HOST_CONNECT,   /* a new connection: connect to the host's listener for
                             host_port, then vsock_conn_connected() or _refused() */
    VSOCK_HOST_ACCEPTED,  /* the guest accepted a host-initiated connection */
    VSOCK_HOST_DATA,      /* `len` payload bytes to pass on (credit counted) */
    VSOCK_HOST_SHUT_WRITE, /* the guest sends no more: shut the host side's writing */
    VSOCK_HOST_CLOSE,     /* the connection is gone: close the host side */
};

struct vsock_step {
    enum vsock_host_act act;
    struct vsock_conn *conn; /* the connection acted on; NULL when none */
    uint32_t len;            /* VSOCK_HOST_DATA: payload bytes */
    bool reply;              /* send `pkt` to the guest (RX queue) */
    struct vsock_pkt pkt;
};

void vsock_conns_init(struct vsock_conns *t, uint64_t guest_cid);
struct vsock_conn *vsock_conns_find(struct vsock_conns *t, uint32_t host_port, uint32_t guest_port);

/* Takes packet p (judged VSOCK_PKT_OK by vsock_pkt_parse) and fills *s.
 * Everything the spec leaves a device to refuse is refused with RST: a
 * non-REQUEST for no connection, a REQUEST for one that exists, data
 * before the connection is up or past the credit the device advertised,
 * a RESPONSE nothing asked for; a full table also answers a REQUEST with
 * RST. An RST for nothing is ignored (never answered: no RST storms). */
void vsock_conn_from_guest(struct vsock_conns *t, const struct vsock_pkt *p, struct vsock_step *s);

/* The host side of a CONNECTING connection connected (RESPONSE to the
 * guest, ESTABLISHED) or was refused (RST, connection freed). Fills the
 * packet to send. */
void vsock_conn_connected(struct vsock_conns *t, struct vsock_conn *c, struct vsock_pkt *reply);
void vsock_conn_refused(struct vsock_conns *t, struct vsock_conn *c, struct vsock_pkt *reply);

/* A host-initiated connection to the guest's `guest_port` from a fresh
 * host port: REQUESTED, with the REQUEST to send. NULL when the table is
 * full or the pair is taken. */
struct vsock_conn *vsock_conn_open(struct vsock_conns *t, uint32_t host_port, uint32_t guest_port,
                                   struct vsock_pkt *request);

/* The host side closed: RST to the guest, connection freed. */
void vsock_conn_reset(struct vsock_conns *t, struct vsock_conn *c, struct vsock_pkt *reply);

/* The RST answering guest packet p, connection or none: addressed back to
 * its sender, of its socket type (STREAM for a type the device does not
 * know). */
void vsock_rst_for(const struct vsock_conns *t, const struct vsock_pkt *p, struct vsock_pkt *out);

/* A control packet (op, no payload) from the host side of c, with its
 * current credit. */
void vsock_conn_packet(const struct vsock_conns *t, const struct vsock_conn *c, uint16_t op,
                       struct vsock_pkt *out);

#endif
