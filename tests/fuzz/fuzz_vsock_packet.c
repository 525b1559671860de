/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target: virtio-vsock TX packets and credit (plugins/vsock) as
 * a hostile guest writes them. The input's first byte splits the rest
 * into up to 8 buffers (each a length byte, a direction bit, contents);
 * the chain is judged, a payload read out of it and an RX packet written
 * into its writable buffers, and the packet fed to a connection table;
 * then the remaining bytes drive a connection's credit. The whole input is
 * also fed to the host side's CONNECT line reader. Whatever the input: an OK packet's payload lies inside the
 * chain, no copy leaves a buffer (ASan), the RX write reports no more than
 * the writable bytes, and credit never exceeds what either side advertised. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "conn.h"
#include "credit.h"
#include "hostcmd.h"
#include "packet.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_IOV 8

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    /* The host side's CONNECT line, from the same bytes in pieces of 5. */
    struct vsock_cmd cmd = {0};
    for (size_t at = 0; at < size;) {
        size_t n = size - at < 5 ? size - at : 5, used = 0;
        uint32_t port;
        enum vsock_cmd_result r = vsock_cmd_feed(&cmd, data + at, n, &port, &used);
        if (cmd.len >= VSOCK_CMD_MAX || (r == VSOCK_CMD_PORT && (used == 0 || used > n)))
            abort();
        if (r == VSOCK_CMD_BAD)
            break;
        at += r == VSOCK_CMD_PORT ? used : n;
    }
    unsigned nbuf = 1 + data[0] % MAX_IOV;
    data++, size--;
    struct plugvm_iov iov[MAX_IOV];
    uint8_t *bufs[MAX_IOV] = {0};
    struct plugvm_chain c = {.iov = iov};
    for (unsigned i = 0; i < nbuf && size >= 1; i++) {
        uint32_t len = data[0] & 0x7f;
        bool w = data[0] & 0x80;
        data++, size--;
        /* Exactly len bytes each, so ASan sees any access past one. */
        bufs[i] = malloc(len ? len : 1);
        uint32_t have = len < size ? len : (uint32_t)size;
        memcpy(bufs[i], data, have);
        memset(bufs[i] + have, 0, len - have);
        data += have, size -= have;
        iov[c.niov++] = (struct plugvm_iov){.addr = bufs[i], .len = len, .writable = w};
        if (w)
            c.writable_bytes += len;
        else
            c.readable_bytes += len;
    }
    struct vsock_pkt p;
    const char *why;
    enum vsock_verdict v = vsock_pkt_parse(&c, 3, size & 1, &p, &why);
    if (v == VSOCK_PKT_OK) {
        if (p.len > VSOCK_MAX_PAYLOAD || p.len > c.readable_bytes - VSOCK_HDR_SIZE ||
            p.src_cid != 3 || p.dst_cid != VSOCK_HOST_CID)
            abort();
        uint8_t payload[256];
        size_t got = vsock_pkt_read(&c, &p, p.len / 2, payload, sizeof(payload));
        if (got > sizeof(payload) || got > p.len)
            abort();
        /* The connection table: a REQUEST, then the packet, then the same
         * packet again; every reply goes to the guest, the table holds
         * what it says. */
        static struct vsock_conns t;
        vsock_conns_init(&t, 3);
        struct vsock_pkt req = p;
        req.op = VIRTIO_VSOCK_OP_REQUEST;
        req.len = 0;
        struct vsock_step st;
        vsock_conn_from_guest(&t, &req, &st);
        if (st.act == VSOCK_HOST_CONNECT && (size & 2)) {
            struct vsock_pkt r;
            vsock_conn_connected(&t, st.conn, &r);
        }
        for (int k = 0; k < 2; k++) {
            vsock_conn_from_guest(&t, &p, &st);
            if ((st.reply && (st.pkt.dst_cid != 3 || st.pkt.src_cid != VSOCK_HOST_CID)) ||
                t.n > 1 || (st.act == VSOCK_HOST_DATA && st.len != p.len))
                abort();
        }
    }
    static uint8_t rx_payload[VSOCK_MAX_PAYLOAD];
    struct vsock_pkt h = {.src_cid = 2, .dst_cid = 3, .len = c.writable_bytes % 300,
                          .type = VIRTIO_VSOCK_TYPE_STREAM, .op = VIRTIO_VSOCK_OP_RW};
    uint32_t wrote = vsock_pkt_write(&c, &h, rx_payload);
    if (wrote > c.writable_bytes || (wrote && wrote != VSOCK_HDR_SIZE + h.len))
        abort();
    for (unsigned i = 0; i < c.niov; i++)
        free(bufs[i]);

    /* Credit: each remaining 9 bytes one step (op, u32, u32). */
    struct vsock_credit cr;
    vsock_credit_init(&cr, 4096, 0, 0);
    for (; size >= 9; data += 9, size -= 9) {
        uint32_t a, b;
        memcpy(&a, data + 1, 4);
        memcpy(&b, data + 5, 4);
        switch (data[0] % 5) {
        case 0: vsock_credit_update_peer(&cr, a, b); break;
        case 1: {
            uint32_t free_ = vsock_credit_peer_free(&cr);
            if (free_ > cr.peer_buf_alloc)
                abort();
            vsock_credit_sent(&cr, (uint32_t)(a % ((uint64_t)free_ + 1)));
            break;
        }
        case 2: (void)vsock_credit_received(&cr, a); break;
        case 3: vsock_credit_consumed(&cr, a); break;
        default:
            if (vsock_credit_update_due(&cr))
                vsock_credit_told(&cr);
        }
        if (cr.rx_cnt - cr.fwd_cnt > cr.buf_alloc)
            abort(); /* buffered more than advertised */
    }
    return 0;
}
