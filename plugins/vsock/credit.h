/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Credit-based flow control of one vsock stream connection (virtio 1.2
 * §5.10.6.3), both directions, kept exactly. Each side advertises
 * buf_alloc (bytes of buffer for this connection) and fwd_cnt (bytes it
 * has consumed, wrapping at 2^32); a sender may have at most
 * buf_alloc - (tx_cnt - fwd_cnt) bytes unconsumed at the peer. The counters
 * are free-running u32s: every difference is taken modulo 2^32, never
 * compared directly.
 */
#ifndef PLUGVM_VSOCK_CREDIT_H
#define PLUGVM_VSOCK_CREDIT_H

#include <stdbool.h>
#include <stdint.h>

struct vsock_credit {
    /* Toward the guest (the device sends): */
    uint32_t peer_buf_alloc; /* the guest's last advertised buf_alloc */
    uint32_t peer_fwd_cnt;   /* the guest's last advertised fwd_cnt */
    uint32_t tx_cnt;         /* payload bytes the device has sent */
    /* From the guest (the device receives): */
    uint32_t buf_alloc;      /* what the device advertises: what it buffers */
    uint32_t rx_cnt;         /* payload bytes received from the guest */
    uint32_t fwd_cnt;        /* of those, bytes the host side consumed */
    uint32_t fwd_cnt_told;   /* fwd_cnt as last sent to the guest */
};

/* A connection's credit with `buf_alloc` bytes of buffer on the device's
 * side and the guest's first buf_alloc/fwd_cnt (from its REQUEST or
 * RESPONSE). */
void vsock_credit_init(struct vsock_credit *c, uint32_t buf_alloc, uint32_t peer_buf_alloc,
                       uint32_t peer_fwd_cnt);

/* Every packet from the guest carries its credit: take it. A fwd_cnt that
 * moves backwards or past what the device sent is the guest's lie; the
 * free space it yields is clamped to 0 rather than trusted. */
void vsock_credit_update_peer(struct vsock_credit *c, uint32_t buf_alloc, uint32_t fwd_cnt);

/* Bytes the device may still send the guest: 0 when the guest's buffer is
 * full, or when its counters say more is in flight than it has room for. */
uint32_t vsock_credit_peer_free(const struct vsock_credit *c);

/* The device sent n payload bytes (n <= vsock_credit_peer_free()). */
void vsock_credit_sent(struct vsock_credit *c, uint32_t n);

/* The guest sent n payload bytes: false when they exceed the room the
 * device advertised (rx_cnt - fwd_cnt + n > buf_alloc), a guest ignoring
 * its credit, which the connection answers with RST rather than buffer
 * without bound; true after counting them. */
bool vsock_credit_received(struct vsock_credit *c, uint32_t n);

/* The host side consumed n of the received bytes (n <= what is buffered). */
void vsock_credit_consumed(struct vsock_credit *c, uint32_t n);

/* Whether to send the guest a CREDIT_UPDATE now: the host consumed at least
 * half the buffer since the guest last heard fwd_cnt, so a guest waiting
 * for credit is not left waiting (Linux's driver does the same with its
 * own buffer). After sending, call vsock_credit_told. */
bool vsock_credit_update_due(const struct vsock_credit *c);
void vsock_credit_told(struct vsock_credit *c);

#endif
