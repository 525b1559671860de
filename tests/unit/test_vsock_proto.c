/* SPDX-License-Identifier: Apache-2.0 */
/* virtio-vsock's packet layer and credit (plugins/vsock/packet.c,
 * credit.c) against what a hostile guest writes: each TX packet judged
 * OK, DROP or RST as packet.h says, headers split across buffers read
 * right, RX packets written only where they fit, and credit kept exactly
 * across the u32 wrap, never more than advertised. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <endian.h>
#include <string.h>

#include "conn.h"
#include "credit.h"
#include "hostcmd.h"
#include "packet.h"

#define GUEST 3u

static struct virtio_vsock_hdr hdr(uint16_t op, uint32_t len)
{
    return (struct virtio_vsock_hdr){
        .src_cid = htole64(GUEST), .dst_cid = htole64(VSOCK_HOST_CID), .src_port = htole32(1234),
        .dst_port = htole32(52), .len = htole32(len), .type = htole16(VIRTIO_VSOCK_TYPE_STREAM),
        .op = htole16(op), .buf_alloc = htole32(65536), .fwd_cnt = htole32(7)};
}

/* A TX chain: the header and payload laid out in buffers split at `cut`
 * bytes (0: one buffer). */
struct tx {
    uint8_t bytes[256];
    struct plugvm_iov iov[2];
    struct plugvm_chain c;
};

static void make_tx(struct tx *t, const struct virtio_vsock_hdr *h, const void *payload,
                    uint32_t plen, uint32_t cut)
{
    memcpy(t->bytes, h, sizeof(*h));
    memcpy(t->bytes + sizeof(*h), payload, plen);
    uint32_t total = (uint32_t)sizeof(*h) + plen;
    memset(&t->c, 0, sizeof(t->c));
    if (cut && cut < total) {
        t->iov[0] = (struct plugvm_iov){.addr = t->bytes, .len = cut};
        t->iov[1] = (struct plugvm_iov){.addr = t->bytes + cut, .len = total - cut};
        t->c.niov = 2;
    } else {
        t->iov[0] = (struct plugvm_iov){.addr = t->bytes, .len = total};
        t->c.niov = 1;
    }
    t->c.readable_bytes = total;
    t->c.iov = t->iov;
}

static enum vsock_verdict judge(struct tx *t, struct vsock_pkt *p, const char **why)
{
    return vsock_pkt_parse(&t->c, GUEST, false, p, why);
}

static void good_rw_split_header(void **state)
{
    (void)state;
    struct virtio_vsock_hdr h = hdr(VIRTIO_VSOCK_OP_RW, 5);
    for (uint32_t cut = 0; cut < 49; cut += 7) {
        struct tx t;
        make_tx(&t, &h, "hello", 5, cut);
        struct vsock_pkt p;
        const char *why = NULL;
        assert_int_equal(judge(&t, &p, &why), VSOCK_PKT_OK);
        assert_int_equal(p.src_port, 1234);
        assert_int_equal(p.dst_port, 52);
        assert_int_equal(p.len, 5);
        assert_int_equal(p.buf_alloc, 65536);
        assert_int_equal(p.fwd_cnt, 7);
        char buf[8] = "";
        assert_int_equal(vsock_pkt_read(&t.c, &p, 1, buf, sizeof(buf)), 4);
        assert_memory_equal(buf, "ello", 4);
        assert_int_equal(vsock_pkt_read(&t.c, &p, 5, buf, 1), 0);
    }
}

static void dropped(void **state)
{
    (void)state;
    struct tx t;
    struct vsock_pkt p;
    const char *why;
    struct virtio_vsock_hdr h = hdr(VIRTIO_VSOCK_OP_RW, 5);

    make_tx(&t, &h, "hello", 5, 0);
    t.c.readable_bytes = VSOCK_HDR_SIZE - 1; /* too short for a header */
    t.iov[0].len = VSOCK_HDR_SIZE - 1;
    assert_int_equal(judge(&t, &p, &why), VSOCK_PKT_DROP);

    h.len = htole32(6); /* one more than it carries */
    make_tx(&t, &h, "hello", 5, 0);
    assert_int_equal(judge(&t, &p, &why), VSOCK_PKT_DROP);
    assert_non_null(strstr(why, "len"));

    h.len = htole32(0xffffffffu); /* the u32 sum would wrap */
    make_tx(&t, &h, "hello", 5, 0);
    assert_int_equal(judge(&t, &p, &why), VSOCK_PKT_DROP);

    h = hdr(VIRTIO_VSOCK_OP_RW, 5);
    h.src_cid = htole64(GUEST + 1); /* another guest's */
    make_tx(&t, &h, "hello", 5, 0);
    assert_int_equal(judge(&t, &p, &why), VSOCK_PKT_DROP);

    h = hdr(VIRTIO_VSOCK_OP_RW, 5);
    make_tx(&t, &h, "hello", 5, 0);
    t.iov[0].writable = true; /* TX buffers are readable only */
    t.c.writable_bytes = t.c.readable_bytes;
    t.c.readable_bytes = 0;
    assert_int_equal(judge(&t, &p, &why), VSOCK_PKT_DROP);
}

static void answered_with_rst(void **state)
{
    (void)state;
    struct tx t;
    struct vsock_pkt p;
    const char *why;
    struct virtio_vsock_hdr h = hdr(VIRTIO_VSOCK_OP_REQUEST, 0);
    h.dst_cid = htole64(7);
    make_tx(&t, &h, "", 0, 0);
    assert_int_equal(judge(&t, &p, &why), VSOCK_PKT_RST);
    assert_int_equal(p.src_port, 1234); /* the header was read: RST goes back to it */

    h = hdr(VIRTIO_VSOCK_OP_REQUEST, 0);
    h.type = htole16(VIRTIO_VSOCK_TYPE_SEQPACKET);
    make_tx(&t, &h, "", 0, 0);
    assert_int_equal(judge(&t, &p, &why), VSOCK_PKT_RST);
    assert_int_equal(vsock_pkt_parse(&t.c, GUEST, true, &p, &why), VSOCK_PKT_OK);

    for (uint16_t op = 0; op < 12; op++) {
        h = hdr(op, 0);
        make_tx(&t, &h, "", 0, 0);
        bool known = op >= VIRTIO_VSOCK_OP_REQUEST && op <= VIRTIO_VSOCK_OP_CREDIT_REQUEST;
        assert_int_equal(judge(&t, &p, &why), known ? VSOCK_PKT_OK : VSOCK_PKT_RST);
    }

    /* A len on a non-RW op is ignored, not trusted. */
    h = hdr(VIRTIO_VSOCK_OP_SHUTDOWN, 1000);
    make_tx(&t, &h, "", 0, 0);
    assert_int_equal(judge(&t, &p, &why), VSOCK_PKT_OK);
    assert_int_equal(p.len, 0);
}

static void rx_written_where_it_fits(void **state)
{
    (void)state;
    uint8_t a[20], b[40];
    memset(a, 0xee, sizeof(a));
    memset(b, 0xee, sizeof(b));
    struct plugvm_iov iov[2] = {{.addr = a, .len = sizeof(a), .writable = true},
                                {.addr = b, .len = sizeof(b), .writable = true}};
    struct plugvm_chain c = {.niov = 2, .writable_bytes = 60, .iov = iov};
    struct vsock_pkt h = {.src_cid = VSOCK_HOST_CID, .dst_cid = GUEST, .src_port = 52,
                          .dst_port = 1234, .len = 16, .type = VIRTIO_VSOCK_TYPE_STREAM,
                          .op = VIRTIO_VSOCK_OP_RW, .buf_alloc = 4096, .fwd_cnt = 9};
    assert_int_equal(vsock_pkt_write(&c, &h, "0123456789abcdef"), 60);
    struct virtio_vsock_hdr w;
    memcpy(&w, a, 20);
    memcpy((uint8_t *)&w + 20, b, 24);
    assert_int_equal(le64toh(w.dst_cid), GUEST);
    assert_int_equal(le32toh(w.len), 16);
    assert_int_equal(le16toh(w.op), VIRTIO_VSOCK_OP_RW);
    assert_memory_equal(b + 24, "0123456789abcdef", 16);

    h.len = 17; /* one byte more than the buffers hold */
    memset(b, 0xee, sizeof(b));
    assert_int_equal(vsock_pkt_write(&c, &h, "0123456789abcdefg"), 0);
    assert_int_equal(b[0], 0xee); /* nothing written */
    h.len = 0;
    c.readable_bytes = 1; /* an RX chain must be writable only */
    assert_int_equal(vsock_pkt_write(&c, &h, NULL), 0);
}

static void credit_exact_across_wrap(void **state)
{
    (void)state;
    struct vsock_credit c;
    vsock_credit_init(&c, 4096, 1000, 0);
    assert_int_equal(vsock_credit_peer_free(&c), 1000);
    vsock_credit_sent(&c, 600);
    assert_int_equal(vsock_credit_peer_free(&c), 400);
    vsock_credit_update_peer(&c, 1000, 500); /* it consumed 500 */
    assert_int_equal(vsock_credit_peer_free(&c), 900);

    /* Counters near 2^32: differences still right. */
    c.tx_cnt = 0xfffffff0u;
    vsock_credit_update_peer(&c, 64, 0xffffffe0u);
    assert_int_equal(vsock_credit_peer_free(&c), 48);
    vsock_credit_sent(&c, 40); /* wraps */
    assert_int_equal(c.tx_cnt, 0x18);
    assert_int_equal(vsock_credit_peer_free(&c), 8);

    /* The guest's lies yield no credit: fwd_cnt past what was sent, a
     * buffer shrunk under what is in flight. */
    vsock_credit_update_peer(&c, 64, c.tx_cnt + 10);
    assert_int_equal(vsock_credit_peer_free(&c), 0);
    vsock_credit_update_peer(&c, 10, c.tx_cnt - 56);
    assert_int_equal(vsock_credit_peer_free(&c), 0);
}

static void credit_received_bounded(void **state)
{
    (void)state;
    struct vsock_credit c;
    vsock_credit_init(&c, 100, 0, 0);
    assert_true(vsock_credit_received(&c, 60));
    assert_true(vsock_credit_received(&c, 40));
    assert_false(vsock_credit_received(&c, 1)); /* over what was advertised */
    assert_false(vsock_credit_received(&c, 0xffffffffu));
    assert_false(vsock_credit_update_due(&c));
    vsock_credit_consumed(&c, 30);
    assert_false(vsock_credit_update_due(&c)); /* under half the buffer */
    vsock_credit_consumed(&c, 30);
    assert_true(vsock_credit_update_due(&c));
    vsock_credit_told(&c);
    assert_false(vsock_credit_update_due(&c));
    assert_true(vsock_credit_received(&c, 60));
    vsock_credit_consumed(&c, 1000); /* more than buffered: only what is */
    assert_int_equal(c.rx_cnt - c.fwd_cnt, 0);
    c.rx_cnt = 0xffffffc0u; /* across the wrap */
    c.fwd_cnt = 0xffffffc0u;
    assert_true(vsock_credit_received(&c, 100));
    assert_false(vsock_credit_received(&c, 1));
}

static struct vsock_conns T;

static struct vsock_pkt from_guest(uint16_t op, uint32_t gport, uint32_t hport, uint32_t len)
{
    return (struct vsock_pkt){.src_cid = GUEST, .dst_cid = VSOCK_HOST_CID, .src_port = gport,
                              .dst_port = hport, .len = len, .type = VIRTIO_VSOCK_TYPE_STREAM,
                              .op = op, .buf_alloc = 4096, .fwd_cnt = 0};
}

static void step(uint16_t op, uint32_t gport, uint32_t hport, uint32_t len, struct vsock_step *s)
{
    struct vsock_pkt p = from_guest(op, gport, hport, len);
    vsock_conn_from_guest(&T, &p, s);
}

/* A guest connects, sends, shuts down: each step as §5.10.6 says. */
static void guest_connection_lifecycle(void **state)
{
    (void)state;
    vsock_conns_init(&T, GUEST);
    struct vsock_step s;
    step(VIRTIO_VSOCK_OP_REQUEST, 1000, 52, 0, &s);
    assert_int_equal(s.act, VSOCK_HOST_CONNECT);
    assert_false(s.reply);
    struct vsock_conn *c = s.conn;
    assert_int_equal(c->state, VSOCK_CONN_CONNECTING);
    step(VIRTIO_VSOCK_OP_RW, 1000, 52, 10, &s); /* data before RESPONSE */
    assert_int_equal(s.act, VSOCK_HOST_CLOSE);
    assert_true(s.reply);
    assert_int_equal(s.pkt.op, VIRTIO_VSOCK_OP_RST);
    assert_int_equal(s.pkt.dst_port, 1000);
    assert_int_equal(s.pkt.src_port, 52);
    assert_int_equal(T.n, 0);

    step(VIRTIO_VSOCK_OP_REQUEST, 1000, 52, 0, &s);
    c = s.conn;
    struct vsock_pkt r;
    vsock_conn_connected(&T, c, &r);
    assert_int_equal(r.op, VIRTIO_VSOCK_OP_RESPONSE);
    assert_int_equal(r.dst_cid, GUEST);
    assert_int_equal(r.buf_alloc, VSOCK_CONN_BUF);
    step(VIRTIO_VSOCK_OP_RW, 1000, 52, 100, &s);
    assert_int_equal(s.act, VSOCK_HOST_DATA);
    assert_int_equal(s.len, 100);
    step(VIRTIO_VSOCK_OP_CREDIT_REQUEST, 1000, 52, 0, &s);
    assert_true(s.reply);
    assert_int_equal(s.pkt.op, VIRTIO_VSOCK_OP_CREDIT_UPDATE);
    struct vsock_pkt sh = from_guest(VIRTIO_VSOCK_OP_SHUTDOWN, 1000, 52, 0);
    sh.flags = VIRTIO_VSOCK_SHUTDOWN_SEND;
    vsock_conn_from_guest(&T, &sh, &s);
    assert_int_equal(s.act, VSOCK_HOST_SHUT_WRITE);
    step(VIRTIO_VSOCK_OP_RW, 1000, 52, 1, &s); /* after it said no more */
    assert_int_equal(s.pkt.op, VIRTIO_VSOCK_OP_RST);
    assert_int_equal(T.n, 0);

    /* Full shutdown: RST back, gone. */
    step(VIRTIO_VSOCK_OP_REQUEST, 1001, 52, 0, &s);
    vsock_conn_connected(&T, s.conn, &r);
    sh = from_guest(VIRTIO_VSOCK_OP_SHUTDOWN, 1001, 52, 0);
    sh.flags = VIRTIO_VSOCK_SHUTDOWN_SEND | VIRTIO_VSOCK_SHUTDOWN_RCV;
    vsock_conn_from_guest(&T, &sh, &s);
    assert_int_equal(s.act, VSOCK_HOST_CLOSE);
    assert_int_equal(s.pkt.op, VIRTIO_VSOCK_OP_RST);
    assert_int_equal(T.n, 0);
}

/* What the guest may not do: each answered with RST, never buffered. */
static void guest_refusals(void **state)
{
    (void)state;
    vsock_conns_init(&T, GUEST);
    struct vsock_step s;
    step(VIRTIO_VSOCK_OP_RW, 7, 52, 1, &s); /* no such connection */
    assert_true(s.reply);
    assert_int_equal(s.pkt.op, VIRTIO_VSOCK_OP_RST);
    step(VIRTIO_VSOCK_OP_RST, 7, 52, 0, &s); /* RST for nothing: silence */
    assert_false(s.reply);
    step(VIRTIO_VSOCK_OP_RESPONSE, 7, 52, 0, &s); /* nothing asked */
    assert_int_equal(s.pkt.op, VIRTIO_VSOCK_OP_RST);

    step(VIRTIO_VSOCK_OP_REQUEST, 7, 52, 0, &s);
    struct vsock_pkt r;
    vsock_conn_connected(&T, s.conn, &r);
    step(VIRTIO_VSOCK_OP_RESPONSE, 7, 52, 0, &s); /* RESPONSE to its own REQUEST */
    assert_int_equal(s.act, VSOCK_HOST_CLOSE);
    step(VIRTIO_VSOCK_OP_REQUEST, 7, 52, 0, &s);
    vsock_conn_connected(&T, s.conn, &r);
    step(VIRTIO_VSOCK_OP_REQUEST, 7, 52, 0, &s); /* twice */
    assert_int_equal(s.act, VSOCK_HOST_CLOSE);

    /* Past the credit the device advertised. */
    step(VIRTIO_VSOCK_OP_REQUEST, 8, 52, 0, &s);
    vsock_conn_connected(&T, s.conn, &r);
    for (uint32_t sent = 0; sent < VSOCK_CONN_BUF; sent += VSOCK_MAX_PAYLOAD) {
        step(VIRTIO_VSOCK_OP_RW, 8, 52, VSOCK_MAX_PAYLOAD, &s);
        assert_int_equal(s.act, VSOCK_HOST_DATA);
    }
    step(VIRTIO_VSOCK_OP_RW, 8, 52, 1, &s);
    assert_int_equal(s.act, VSOCK_HOST_CLOSE);
    assert_int_equal(s.pkt.op, VIRTIO_VSOCK_OP_RST);

    /* A full table refuses the next REQUEST. */
    vsock_conns_init(&T, GUEST);
    for (uint32_t i = 0; i < VSOCK_MAX_CONNS; i++) {
        step(VIRTIO_VSOCK_OP_REQUEST, 10000 + i, 52, 0, &s);
        assert_int_equal(s.act, VSOCK_HOST_CONNECT);
    }
    step(VIRTIO_VSOCK_OP_REQUEST, 9, 52, 0, &s);
    assert_int_equal(s.act, VSOCK_HOST_NONE);
    assert_int_equal(s.pkt.op, VIRTIO_VSOCK_OP_RST);
    assert_int_equal(T.n, VSOCK_MAX_CONNS);
}

/* A host-initiated connection: REQUEST out, the guest's RESPONSE accepts
 * it, its RST refuses it. */
static void host_initiated(void **state)
{
    (void)state;
    vsock_conns_init(&T, GUEST);
    struct vsock_pkt req;
    struct vsock_conn *c = vsock_conn_open(&T, 1u << 30, 5000, &req);
    assert_non_null(c);
    assert_int_equal(req.op, VIRTIO_VSOCK_OP_REQUEST);
    assert_int_equal(req.dst_port, 5000);
    assert_null(vsock_conn_open(&T, 1u << 30, 5000, &req)); /* the pair is taken */
    struct vsock_step s;
    step(VIRTIO_VSOCK_OP_RESPONSE, 5000, 1u << 30, 0, &s);
    assert_int_equal(s.act, VSOCK_HOST_ACCEPTED);
    assert_int_equal(c->state, VSOCK_CONN_ESTABLISHED);
    struct vsock_pkt r;
    vsock_conn_reset(&T, c, &r);
    assert_int_equal(r.op, VIRTIO_VSOCK_OP_RST);
    assert_int_equal(T.n, 0);

    c = vsock_conn_open(&T, (1u << 30) + 1, 5001, &req);
    step(VIRTIO_VSOCK_OP_RST, 5001, (1u << 30) + 1, 0, &s); /* no listener in the guest */
    assert_int_equal(s.act, VSOCK_HOST_CLOSE);
    assert_false(s.reply);
    assert_int_equal(T.n, 0);
}

static enum vsock_cmd_result feed_str(struct vsock_cmd *c, const char *s, uint32_t *port,
                                      size_t *used)
{
    return vsock_cmd_feed(c, (const uint8_t *)s, strlen(s), port, used);
}

/* Firecracker's CONNECT line: taken whole, in pieces, with the stream's
 * first bytes after it; anything else, or too long a line, refused. */
static void host_connect_line(void **state)
{
    (void)state;
    struct vsock_cmd c = {0};
    uint32_t port = 0;
    size_t used = 0;
    assert_int_equal(feed_str(&c, "CONNECT 52\n", &port, &used), VSOCK_CMD_PORT);
    assert_int_equal(port, 52);
    assert_int_equal(used, 11);
    assert_int_equal(feed_str(&c, "CONN", &port, &used), VSOCK_CMD_MORE);
    assert_int_equal(feed_str(&c, "ECT \t4294967295 \r\nhello", &port, &used), VSOCK_CMD_PORT);
    assert_int_equal(port, 4294967295u);
    assert_int_equal(used, 18); /* "hello" is the stream's */
    static const char *const bad[] = {
        "CONNECT 4294967296\n", "CONNECT\n", "CONNECT 52x\n", "CONNECT -1\n", "connect 52\n",
        "CONNECT52\n", "CONNECT 52 53\n", "\n", "OK 52\n",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct vsock_cmd b = {0};
        if (feed_str(&b, bad[i], &port, &used) != VSOCK_CMD_BAD)
            fail_msg("took '%s'", bad[i]);
    }
    struct vsock_cmd l = {0};
    char longline[VSOCK_CMD_MAX + 1];
    memset(longline, ' ', sizeof(longline) - 1);
    longline[VSOCK_CMD_MAX] = 0;
    assert_int_equal(feed_str(&l, "CONNECT 52", &port, &used), VSOCK_CMD_MORE);
    assert_int_equal(feed_str(&l, longline, &port, &used), VSOCK_CMD_BAD); /* no newline in 32 */
    struct vsock_cmd z = {0};
    assert_int_equal(vsock_cmd_feed(&z, (const uint8_t *)"CONNECT 5\0\n", 11, &port, &used),
                     VSOCK_CMD_BAD);
    char ok[16];
    assert_int_equal(vsock_cmd_ok(1u << 30, ok, sizeof(ok)), 14);
    assert_string_equal(ok, "OK 1073741824\n");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(good_rw_split_header),   cmocka_unit_test(dropped),
        cmocka_unit_test(answered_with_rst),      cmocka_unit_test(rx_written_where_it_fits),
        cmocka_unit_test(credit_exact_across_wrap), cmocka_unit_test(credit_received_bounded),
        cmocka_unit_test(guest_connection_lifecycle), cmocka_unit_test(guest_refusals),
        cmocka_unit_test(host_initiated),         cmocka_unit_test(host_connect_line),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
