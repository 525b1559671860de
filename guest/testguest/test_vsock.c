/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test=vsock: a virtio-vsock driver (virtio 1.2 §5.10: device id 19; rx,
 * tx and event queues; config le64 guest_cid) talking to the host through
 * plugvm's vsock plugin, whose host side is Firecracker's: a connect to
 * CID 2 port P reaches the Unix socket <uds_path>_P. tests/kvm/vsock.sh
 * puts socat's echo there (vsock_port=P) and nothing at vsock_refused=Q.
 *
 * Checked, as a guest driver sees the device:
 *   - the config space holds vsock_cid=N, and SEQPACKET is offered (this
 *     driver declines it, so stream is all it may use);
 *   - a REQUEST to Q is answered with RST (nobody listens);
 *   - an unknown op is answered with RST (§5.10.6.4);
 *   - a REQUEST to P is answered with RESPONSE, addressed back to us, with
 *     the device's credit (buf_alloc > 0);
 *   - ECHO_BYTES sent as RW packets, never past the device's credit, come
 *     back byte for byte, with the device's fwd_cnt counting what it took;
 *   - SHUTDOWN both ways ends with the device's RST (Linux's driver waits
 *     for it to free the socket);
 *   - reset: Status reads 0.
 * Packet headers are built and read field by field, little-endian, as the
 * spec lays them out (struct virtio_vsock_hdr, 44 bytes, packed).
 */
#include <stddef.h>

#include "clock.h"
#include "console.h"
#include "lib.h"
#include "tap.h"
#include "tests.h"
#include "virtqueue.h"

#define VSOCK_TESTS 17
#define VIRTIO_ID_VSOCK 19
#define VIRTIO_VSOCK_F_SEQPACKET 1

#define HDR 44
#define OP_REQUEST 1
#define OP_RESPONSE 2
#define OP_RST 3
#define OP_SHUTDOWN 4
#define OP_RW 5
#define OP_CREDIT_UPDATE 6
#define TYPE_STREAM 1
#define HOST_CID 2
#define SHUTDOWN_BOTH 3

#define RX_BUFS 16
#define RX_PAYLOAD 4096
#define TX_PAYLOAD 4000
#define ECHO_BYTES (64 * 1024 + 123)
/* What this driver says it can hold: the device must never send more. */
#define OUR_BUF_ALLOC (16 * 1024)

#define STATUS_ALL_OK (VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | \
                       VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DRIVER_OK)

struct hdr {
    uint64_t src_cid, dst_cid;
    uint32_t src_port, dst_port, len;
    uint16_t type, op;
    uint32_t flags, buf_alloc, fwd_cnt;
};

static struct virtq rxq, txq, evq;
static uint8_t rx_buf[RX_BUFS][HDR + RX_PAYLOAD] __attribute__((aligned(64)));
static int rx_head[RX_BUFS];
static uint8_t tx_buf[HDR + TX_PAYLOAD] __attribute__((aligned(64)));
static uint8_t ev_buf[4][4] __attribute__((aligned(16)));
static uint8_t sent[ECHO_BYTES], got[ECHO_BYTES];
static uint64_t cid;

static uint64_t get_le(const uint8_t *p, unsigned n)
{
    uint64_t v = 0;
    for (unsigned i = n; i-- > 0;)
        v = v << 8 | p[i];
    return v;
}

static void put_le(uint8_t *p, uint64_t v, unsigned n)
{
    for (unsigned i = 0; i < n; i++, v >>= 8)
        p[i] = (uint8_t)v;
}

static void hdr_write(uint8_t *p, const struct hdr *h)
{
    put_le(p, h->src_cid, 8);
    put_le(p + 8, h->dst_cid, 8);
    put_le(p + 16, h->src_port, 4);
    put_le(p + 20, h->dst_port, 4);
    put_le(p + 24, h->len, 4);
    put_le(p + 28, h->type, 2);
    put_le(p + 30, h->op, 2);
    put_le(p + 32, h->flags, 4);
    put_le(p + 36, h->buf_alloc, 4);
    put_le(p + 40, h->fwd_cnt, 4);
}

static void hdr_read(const uint8_t *p, struct hdr *h)
{
    h->src_cid = get_le(p, 8);
    h->dst_cid = get_le(p + 8, 8);
    h->src_port = (uint32_t)get_le(p + 16, 4);
    h->dst_port = (uint32_t)get_le(p + 20, 4);
    h->len = (uint32_t)get_le(p + 24, 4);
    h->type = (uint16_t)get_le(p + 28, 2);
    h->op = (uint16_t)get_le(p + 30, 2);
    h->flags = (uint32_t)get_le(p + 32, 4);
    h->buf_alloc = (uint32_t)get_le(p + 36, 4);
    h->fwd_cnt = (uint32_t)get_le(p + 40, 4);
}

/* One RX buffer back on the ring: header and payload in one descriptor,
 * the layout Linux's driver uses. */
static void rx_post(unsigned i)
{
    struct virtq_buf b = {(uintptr_t)rx_buf[i], sizeof(rx_buf[i]), true};
    rx_head[i] = virtq_add_chain(&rxq, &b, 1);
    if (rx_head[i] >= 0)
        virtq_publish(&rxq, (uint16_t)rx_head[i]);
}

/* Sends one packet (header, then payload in a second descriptor) and
 * waits until the device has taken it. */
static bool tx_send(const struct hdr *h, const uint8_t *payload)
{
    hdr_write(tx_buf, h);
    if (h->len)
        memcpy(tx_buf + HDR, payload, h->len);
    struct virtq_buf b[2] = {{(uintptr_t)tx_buf, HDR, false},
                             {(uintptr_t)tx_buf + HDR, h->len, false}};
    int head = virtq_add_chain(&txq, b, h->len ? 2 : 1);
    if (head < 0)
        return false;
    virtq_publish(&txq, (uint16_t)head);
    virtq_kick(&txq);
    if (!virtq_wait_used(&txq, VIRTIO_IO_TIMEOUT_US))
        return false;
    uint32_t len;
    return virtq_get_used(&txq, &len) == head;
}

/* The next RX packet within the timeout: its header in *h, its payload
 * copied to `payload` (up to max bytes). False when none came or the used
 * length does not hold the header and h->len. */
static bool rx_recv(struct hdr *h, uint8_t *payload, uint32_t max)
{
    if (!virtq_wait_used(&rxq, VIRTIO_IO_TIMEOUT_US))
        return false;
    uint32_t len;
    int head = virtq_get_used(&rxq, &len);
    unsigned i = 0;
    while (i < RX_BUFS && rx_head[i] != head)
        i++;
    if (i == RX_BUFS)
        return false;
    hdr_read(rx_buf[i], h);
    bool ok = len >= HDR && h->len <= RX_PAYLOAD && len == HDR + h->len;
    if (ok && payload)
        memcpy(payload, rx_buf[i] + HDR, h->len < max ? h->len : max);
    rx_post(i);
    virtq_kick(&rxq);
    return ok;
}

static struct hdr to_host(uint32_t src_port, uint32_t dst_port, uint16_t op, uint32_t fwd_cnt)
{
    return (struct hdr){.src_cid = cid, .dst_cid = HOST_CID, .src_port = src_port,
                        .dst_port = dst_port, .type = TYPE_STREAM, .op = op,
                        .buf_alloc = OUR_BUF_ALLOC, .fwd_cnt = fwd_cnt};
}

/* Sends a packet that wants a reply and checks the reply is an RST
 * addressed back to it. */
static void expect_rst(const char *what, struct hdr req)
{
    struct hdr r = {0};
    bool sent_ok = tx_send(&req, NULL);
    bool got_one = sent_ok && rx_recv(&r, NULL, 0);
    char desc[128];
    str_format(desc, sizeof(desc), "%s is answered with RST to the sender", what);
    tap_check(got_one && r.op == OP_RST && r.src_cid == HOST_CID && r.dst_cid == cid &&
                  r.src_port == req.dst_port && r.dst_port == req.src_port,
              desc, "%s; op %u, %lu:%u -> %lu:%u", !sent_ok ? "TX not taken" : got_one ? "got" : "no reply",
              r.op, r.src_cid, r.src_port, r.dst_cid, r.dst_port);
}

/* One RX packet during the echo: credit noted, RW payload kept, our
 * consumption told back once half our buffer is used (as Linux's driver
 * does). False on a packet that does not belong. */
struct echo_state {
    uint32_t lport, hport;
    uint32_t peer_alloc, peer_fwd; /* the device's credit for us */
    uint32_t tx_cnt, rx_cnt, told; /* bytes sent, received, fwd_cnt told */
    uint32_t max_fwd;
    bool over_credit;
};

static bool echo_take(struct echo_state *e)
{
    struct hdr p;
    if (!rx_recv(&p, got + e->rx_cnt, ECHO_BYTES - e->rx_cnt))
        return false;
    e->peer_alloc = p.buf_alloc;
    e->peer_fwd = p.fwd_cnt;
    if (p.fwd_cnt > e->max_fwd)
        e->max_fwd = p.fwd_cnt;
    if (p.op == OP_CREDIT_UPDATE)
        return true;
    if (p.op != OP_RW || p.len > ECHO_BYTES - e->rx_cnt) {
        tap_diag("unexpected packet during the echo: op %u, len %u", p.op, p.len);
        return false;
    }
    e->rx_cnt += p.len;
    /* Everything received is consumed at once; the device may have at
     * most OUR_BUF_ALLOC bytes beyond the fwd_cnt we last told it. */
    if (e->rx_cnt - e->told > OUR_BUF_ALLOC)
        e->over_credit = true;
    if (e->rx_cnt - e->told >= OUR_BUF_ALLOC / 2 || e->rx_cnt == ECHO_BYTES) {
        struct hdr cu = to_host(e->lport, e->hport, OP_CREDIT_UPDATE, e->rx_cnt);
        if (!tx_send(&cu, NULL))
            return false;
        e->told = e->rx_cnt;
    }
    return true;
}

static void echo(uint32_t host_port)
{
    struct echo_state e = {.lport = 40000, .hport = host_port};
    struct hdr r = {0};
    struct hdr req = to_host(e.lport, host_port, OP_REQUEST, 0);
    bool ok = tx_send(&req, NULL) && rx_recv(&r, NULL, 0);
    tap_check(ok && r.op == OP_RESPONSE && r.src_port == host_port && r.dst_port == e.lport &&
                  r.dst_cid == cid && r.type == TYPE_STREAM,
              "a REQUEST to the host's listener is answered with RESPONSE, addressed back",
              "%s; op %u, ports %u -> %u", ok ? "got" : "no reply", r.op, r.src_port, r.dst_port);
    tap_check(ok && r.buf_alloc > 0, "the RESPONSE advertises the device's buffer (buf_alloc > 0)",
              "buf_alloc %u", r.buf_alloc);
    if (!ok || r.op != OP_RESPONSE) {
        tap_bail_out("no connection to echo over");
        return;
    }

    for (uint32_t i = 0; i < ECHO_BYTES; i++)
        sent[i] = (uint8_t)(i * 7 + (i >> 9));
    e.peer_alloc = r.buf_alloc;
    e.peer_fwd = r.fwd_cnt;
    bool bad = false;
    uint64_t deadline = clock_us() + 20 * 1000000ull;
    /* Send while the device's credit allows (§5.10.6.3: buf_alloc less
     * what is in flight), take what comes back, until every byte has made
     * the round trip. */
    while (e.rx_cnt < ECHO_BYTES && !bad) {
        if (clock_us() > deadline) {
            bad = true;
            break;
        }
        uint32_t credit = e.peer_alloc - (e.tx_cnt - e.peer_fwd);
        if (e.tx_cnt < ECHO_BYTES && credit > 0 && credit <= e.peer_alloc) {
            uint32_t n = ECHO_BYTES - e.tx_cnt;
            n = n > TX_PAYLOAD ? TX_PAYLOAD : n;
            n = n > credit ? credit : n;
            struct hdr d = to_host(e.lport, host_port, OP_RW, e.told);
            d.len = n;
            if (!tx_send(&d, sent + e.tx_cnt)) {
                bad = true;
                break;
            }
            e.tx_cnt += n;
            while (!bad && virtq_has_used(&rxq))
                bad = !echo_take(&e);
        } else {
            bad = !echo_take(&e); /* nothing to send: wait for the device */
        }
    }
    tap_diag("echo: sent %u, received %u bytes; device fwd_cnt %u", e.tx_cnt, e.rx_cnt, e.max_fwd);
    tap_check(!bad && e.rx_cnt == ECHO_BYTES, "every byte sent comes back (RW packets, within credit)",
              "received %u of %u", e.rx_cnt, ECHO_BYTES);
    tap_check(e.rx_cnt == ECHO_BYTES && memcmp(sent, got, ECHO_BYTES) == 0,
              "the echoed bytes equal the bytes sent", "they differ");
    tap_check(!e.over_credit, "the device never sent past this driver's credit (buf_alloc 16 KiB)",
              "it did");
    tap_check(e.max_fwd == e.tx_cnt, "the device's fwd_cnt counts every byte it took",
              "fwd_cnt %u, sent %u", e.max_fwd, e.tx_cnt);

    struct hdr sd = to_host(e.lport, host_port, OP_SHUTDOWN, e.rx_cnt);
    sd.flags = SHUTDOWN_BOTH;
    struct hdr x = {0};
    bool rst = false;
    if (tx_send(&sd, NULL))
        for (unsigned k = 0; k < 4 && !rst && rx_recv(&x, NULL, 0); k++)
            rst = x.op == OP_RST && x.dst_port == e.lport;
    tap_check(rst, "SHUTDOWN both ways ends with the device's RST", "last op %u", x.op);
}

void test_vsock(struct guest *g)
{
    struct virtio_dev *d = guest_need_device(g, VIRTIO_ID_VSOCK, "a virtio-vsock device (device id 19)");
    if (!d)
        return;
    const struct cmdline_vsock *k = &g->cmd.vsock;
    tap_plan(VSOCK_TESTS);
    if (!k->has_cid || !k->has_port || !k->has_refused || k->port > UINT32_MAX ||
        k->refused > UINT32_MAX) {
        tap_bail_out("the command line needs vsock_cid=, vsock_port= and vsock_refused=");
        return;
    }
    tap_diag("virtio-vsock at 0x%lx, GSI %u", d->base, d->irq);
    const char *err = virtio_mmio_init(d, 1ull << VIRTIO_F_EVENT_IDX);
    tap_diag("features offered 0x%lx, negotiated 0x%lx", d->offered, d->features);
    if (!tap_check(!err, "feature negotiation reaches FEATURES_OK with VERSION_1", "%s", err)) {
        tap_bail_out("the device cannot be initialised");
        return;
    }
    tap_check(virtio_has(d->offered, VIRTIO_VSOCK_F_SEQPACKET),
              "VIRTIO_VSOCK_F_SEQPACKET is offered (this driver declines it: stream only)",
              "offered 0x%lx", d->offered);
    uint64_t lo = virtio_mmio_read(d, VIRTIO_MMIO_CONFIG), hi = virtio_mmio_read(d, VIRTIO_MMIO_CONFIG + 4);
    cid = hi << 32 | lo;
    tap_check(cid == k->cid, "config guest_cid is the config file's", "read %lu, want %lu", cid, k->cid);

    const char *e1 = virtq_setup(&rxq, d, 0), *e2 = e1 ? NULL : virtq_setup(&txq, d, 1);
    const char *e3 = e1 || e2 ? NULL : virtq_setup(&evq, d, 2);
    if (!tap_check(!e1 && !e2 && !e3, "rx, tx and event queues (0, 1, 2) are set up", "%s",
                   e1 ? e1 : e2 ? e2 : e3)) {
        tap_bail_out("no queues");
        return;
    }
    for (unsigned i = 0; i < RX_BUFS; i++)
        rx_post(i);
    for (unsigned i = 0; i < 4; i++) {
        struct virtq_buf b = {(uintptr_t)ev_buf[i], 4, true};
        int h = virtq_add_chain(&evq, &b, 1);
        if (h >= 0)
            virtq_publish(&evq, (uint16_t)h);
    }
    virtio_mmio_set_status(d, STATUS_ALL_OK);
    virtq_kick(&rxq);
    virtq_kick(&evq);
    uint32_t s = virtio_mmio_status(d);
    tap_check(s == STATUS_ALL_OK, "DRIVER_OK reads back, with no NEEDS_RESET or FAILED", "Status 0x%x", s);
    tap_check(!virtq_has_used(&evq), "no event before anything happened (no TRANSPORT_RESET at boot)",
              "an event buffer was used");

    expect_rst("a REQUEST to a port nobody listens on", to_host(40001, (uint32_t)k->refused, OP_REQUEST, 0));
    expect_rst("an unknown op (99)", to_host(40002, (uint32_t)k->port, 99, 0));
    expect_rst("RW for a connection that does not exist", to_host(40003, (uint32_t)k->port, OP_RW, 0));

    echo((uint32_t)k->port);

    tap_check(virtio_mmio_reset(d), "reset: Status reads 0 after writing 0", "Status 0x%x",
              virtio_mmio_status(d));
}
