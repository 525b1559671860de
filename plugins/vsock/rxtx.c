/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The vsock device's virtqueues (virtio 1.2 §5.10.6): TX packets judged
 * (packet.c), applied to the connection table (conn.c) and handed to the
 * host side (sock.c); RX buffers filled with control packets first, then
 * with host data, one connection after another so a busy one cannot
 * starve the rest. Event-loop thread, d->lock held.
 */
#include <errno.h>

#include "vsock_dev.h"

void vsock_guest_error(struct vsock_dev *d, const char *what)
{
    const struct plugvm_host *h = d->host;
    if (d->guest_errors < VSOCK_ERRORS_LOGGED)
        h->log(h, PLUGVM_LOG_WARN, "guest: %s", what);
    else if (d->guest_errors == VSOCK_ERRORS_LOGGED)
        h->log(h, PLUGVM_LOG_WARN, "guest: more faulty packets; no longer logged one by one");
    d->guest_errors++;
}

void vsock_ctrl_push(struct vsock_dev *d, const struct vsock_pkt *p)
{
    if (d->nctrl == VSOCK_CTRL_RING) {
        /* Only host-side events can get here (TX stops at the spare
         * mark): at most a few per connection, so this is a guest that
         * gives no RX buffers at all. */
        if (d->host_drops++ == 0)
            d->host->log(d->host, PLUGVM_LOG_WARN,
                         "the guest gives no RX buffers: control packets dropped");
        return;
    }
    d->ctrl[(d->ctrl_head + d->nctrl++) % VSOCK_CTRL_RING] = *p;
}

void vsock_ready_push(struct vsock_dev *d, int slot)
{
    if (slot < 0 || d->in_ready[slot])
        return;
    d->in_ready[slot] = true;
    d->ready[(d->ready_head + d->nready++) % VSOCK_MAX_CONNS] = (uint16_t)slot;
}

static int ready_pop(struct vsock_dev *d)
{
    int slot = d->ready[d->ready_head];
    d->ready_head = (d->ready_head + 1) % VSOCK_MAX_CONNS;
    d->nready--;
    d->in_ready[slot] = false;
    return slot;
}

/* RST answering packet p, which has no connection to end. */
static void rst_for(struct vsock_dev *d, const struct vsock_pkt *p)
{
    struct vsock_pkt r;
    vsock_rst_for(&d->conns, p, &r);
    vsock_ctrl_push(d, &r);
}

static void tx_one(struct vsock_dev *d, const struct plugvm_chain *c)
{
    struct vsock_pkt p;
    const char *why = NULL;
    switch (vsock_pkt_parse(c, d->guest_cid, d->features & (1ull << VIRTIO_VSOCK_F_SEQPACKET), &p, &why)) {
    case VSOCK_PKT_DROP:
        vsock_guest_error(d, why);
        return;
    case VSOCK_PKT_RST:
        vsock_guest_error(d, why);
        rst_for(d, &p);
        return;
    case VSOCK_PKT_OK:
        break;
    }
    struct vsock_step st;
    vsock_conn_from_guest(&d->conns, &p, &st);
    int slot = st.conn ? (int)(st.conn - d->conns.c) : -1;
    if (st.reply)
        vsock_ctrl_push(d, &st.pkt);
    switch (st.act) {
    case VSOCK_HOST_NONE:
        break;
    case VSOCK_HOST_CONNECT:
        vsock_host_connect(d, slot);
        break;
    case VSOCK_HOST_ACCEPTED:
        vsock_host_accepted(d, slot);
        break;
    case VSOCK_HOST_DATA:
        vsock_host_data(d, slot, c, &p);
        break;
    case VSOCK_HOST_SHUT_WRITE:
        vsock_host_shut_write(d, slot);
        break;
    case VSOCK_HOST_CLOSE:
        vsock_host_close(d, slot);
        break;
    }
    /* Every packet carries the guest's credit: a CREDIT_UPDATE (or any
     * other) may let a stalled connection send again; a SHUTDOWN(RCV)
     * stops its reading. */
    if (slot >= 0 && d->conns.c[slot].state == VSOCK_CONN_ESTABLISHED && d->sock[slot]) {
        if (d->sock[slot]->readable || vsock_rx_record_pending(d->sock[slot]))
            vsock_ready_push(d, slot);
        vsock_sock_arm(d, d->sock[slot]);
    }
}

/* Takes TX packets while control packets have room; true when it stopped
 * for room, with packets perhaps left in the ring. */
static bool tx(struct vsock_dev *d)
{
    const struct plugvm_host *h = d->host;
    struct plugvm_chain c;
    bool pushed = false, full = false;
    for (;;) {
        if (VSOCK_CTRL_RING - d->nctrl < VSOCK_CTRL_SPARE) {
            full = true;
            break;
        }
        if (h->vq_pop(h, VSOCK_Q_TX, &c) != 1)
            break;
        tx_one(d, &c);
        h->vq_push(h, VSOCK_Q_TX, &c, 0);
        pushed = true;
    }
    if (pushed)
        h->notify_used(h, VSOCK_Q_TX);
    return full;
}

/* One host-data packet for RX chain c from the next ready connection;
 * 0 when none has anything to send now. */
static uint32_t rx_data(struct vsock_dev *d, const struct plugvm_chain *c)
{
    while (d->nready) {
        uint32_t used = vsock_host_read(d, ready_pop(d), c);
        if (used)
            return used;
    }
    return 0;
}

/* Fills RX buffers: control packets first (a RESPONSE must come before
 * the connection's data), then data. */
static void rx(struct vsock_dev *d)
{
    const struct plugvm_host *h = d->host;
    struct plugvm_chain c;
    bool pushed = false;
    while (d->nctrl || d->nready) {
        if (h->vq_pop(h, VSOCK_Q_RX, &c) != 1)
            break;
        uint32_t used = 0;
        if (c.writable_bytes <= VSOCK_HDR_SIZE || c.readable_bytes) {
            /* Linux posts header-and-page buffers; one with no room for
             * a byte of payload is the guest's fault, taken and given
             * back empty so it cannot wedge the queue. */
            vsock_guest_error(d, "an RX buffer with no room for a packet; returned unused");
        } else if (d->nctrl) {
            used = vsock_pkt_write(&c, &d->ctrl[d->ctrl_head], NULL);
            d->ctrl_head = (d->ctrl_head + 1) % VSOCK_CTRL_RING;
            d->nctrl--;
        } else if (!(used = rx_data(d, &c))) {
            h->vq_unpop(h, VSOCK_Q_RX, &c); /* kept for the next packet */
            break;
        }
        h->vq_push(h, VSOCK_Q_RX, &c, used);
        pushed = true;
    }
    if (pushed)
        h->notify_used(h, VSOCK_Q_RX);
}

void vsock_kick(struct vsock_dev *d)
{
    if (!d->active || d->paused || d->resetting)
        return;
    /* TX stalls only while control packets wait for RX buffers; every
     * round of rx frees some or finds none, so this ends. */
    for (;;) {
        bool full = tx(d);
        uint32_t before = d->nctrl;
        rx(d);
        if (!full || d->nctrl == before)
            return;
    }
}
