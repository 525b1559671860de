/* SPDX-License-Identifier: Apache-2.0 */
#include "packet.h"

#include <endian.h>
#include <string.h>
#include <sys/uio.h>

_Static_assert(sizeof(struct virtio_vsock_hdr) == VSOCK_HDR_SIZE, "virtio 1.2 §5.10.6: a 44-byte header");

/* Copies n bytes from byte `at` of the chain's readable (or writable)
 * buffers; returns how many there were. */
static size_t chain_copy(const struct plugvm_chain *c, bool writable, uint64_t at, void *buf,
                         size_t n, bool to_chain)
{
    size_t done = 0;
    for (uint16_t i = 0; i < c->niov && done < n; i++) {
        const struct plugvm_iov *v = &c->iov[i];
        if (v->writable != writable)
            continue;
        if (at >= v->len) {
            at -= v->len;
            continue;
        }
        size_t take = v->len - at < n - done ? (size_t)(v->len - at) : n - done;
        uint8_t *g = (uint8_t *)v->addr + at;
        if (to_chain)
            memcpy(g, (const uint8_t *)buf + done, take);
        else
            memcpy((uint8_t *)buf + done, g, take);
        done += take;
        at = 0;
    }
    return done;
}

enum vsock_verdict vsock_pkt_parse(const struct plugvm_chain *c, uint64_t guest_cid, bool seqpacket,
                                   struct vsock_pkt *p, const char **why)
{
    memset(p, 0, sizeof(*p));
    /* §5.10.6: TX buffers are device-readable only; a writable one is a
     * driver bug or a guest probing what we write where. */
    if (c->writable_bytes) {
        *why = "a TX chain with device-writable buffers";
        return VSOCK_PKT_DROP;
    }
    if (c->readable_bytes < VSOCK_HDR_SIZE) {
        *why = "a TX chain shorter than the packet header";
        return VSOCK_PKT_DROP;
    }
    /* One copy, then only the copy: the guest may rewrite its buffer. */
    struct virtio_vsock_hdr h;
    chain_copy(c, false, 0, &h, sizeof(h), false);
    p->src_cid = le64toh(h.src_cid);
    p->dst_cid = le64toh(h.dst_cid);
    p->src_port = le32toh(h.src_port);
    p->dst_port = le32toh(h.dst_port);
    p->len = le32toh(h.len);
    p->type = le16toh(h.type);
    p->op = le16toh(h.op);
    p->flags = le32toh(h.flags);
    p->buf_alloc = le32toh(h.buf_alloc);
    p->fwd_cnt = le32toh(h.fwd_cnt);
    if (p->op != VIRTIO_VSOCK_OP_RW)
        p->len = 0;
    if (p->len > VSOCK_MAX_PAYLOAD || p->len > c->readable_bytes - VSOCK_HDR_SIZE) {
        *why = "a header whose len is more than the packet carries";
        return VSOCK_PKT_DROP;
    }
    /* A packet claiming another guest's source is not answered: an RST
     * would go to whoever that is. */
    if (p->src_cid != guest_cid) {
        *why = "a src_cid that is not the guest's CID";
        return VSOCK_PKT_DROP;
    }
    if (p->dst_cid != VSOCK_HOST_CID) {
        *why = "a dst_cid other than the host's (2)";
        return VSOCK_PKT_RST;
    }
    if (p->type != VIRTIO_VSOCK_TYPE_STREAM &&
        !(seqpacket && p->type == VIRTIO_VSOCK_TYPE_SEQPACKET)) {
        *why = "a socket type the device does not offer";
        return VSOCK_PKT_RST;
    }
    if (p->op < VIRTIO_VSOCK_OP_REQUEST || p->op > VIRTIO_VSOCK_OP_CREDIT_REQUEST) {
        *why = "an unknown op";
        return VSOCK_PKT_RST;
    }
    return VSOCK_PKT_OK;
}

size_t vsock_pkt_read(const struct plugvm_chain *c, const struct vsock_pkt *p, uint32_t at,
                      void *buf, size_t n)
{
    if (at >= p->len)
        return 0;
    if (n > p->len - at)
        n = p->len - at;
    return chain_copy(c, false, (uint64_t)VSOCK_HDR_SIZE + at, buf, n, false);
}

/* Header h, little-endian, into the first bytes of c's writable buffers;
 * false when they have readable buffers or not room for header and
 * h->len bytes of payload. */
static bool put_hdr(const struct plugvm_chain *c, const struct vsock_pkt *h)
{
    if (c->readable_bytes || h->len > VSOCK_MAX_PAYLOAD ||
        c->writable_bytes < VSOCK_HDR_SIZE + h->len)
        return false;
    struct virtio_vsock_hdr w = {
        .src_cid = htole64(h->src_cid), .dst_cid = htole64(h->dst_cid),
        .src_port = htole32(h->src_port), .dst_port = htole32(h->dst_port),
        .len = htole32(h->len), .type = htole16(h->type), .op = htole16(h->op),
        .flags = htole32(h->flags), .buf_alloc = htole32(h->buf_alloc),
        .fwd_cnt = htole32(h->fwd_cnt),
    };
    chain_copy(c, true, 0, &w, sizeof(w), true);
    return true;
}

uint32_t vsock_pkt_write(const struct plugvm_chain *c, const struct vsock_pkt *h,
                         const void *payload)
{
    if (!put_hdr(c, h))
        return 0;
    if (h->len)
        chain_copy(c, true, VSOCK_HDR_SIZE, (void *)payload, h->len, true);
    return VSOCK_HDR_SIZE + h->len;
}

uint32_t vsock_pkt_write_hdr(const struct plugvm_chain *c, const struct vsock_pkt *h)
{
    return put_hdr(c, h) ? VSOCK_HDR_SIZE + h->len : 0;
}

unsigned vsock_pkt_iov(const struct plugvm_chain *c, bool writable, uint32_t limit,
                       struct iovec *iov, unsigned max, uint32_t *bytes)
{
    uint64_t skip = VSOCK_HDR_SIZE;
    uint32_t got = 0;
    unsigned n = 0;
    for (uint16_t i = 0; i < c->niov && n < max && got < limit; i++) {
        const struct plugvm_iov *v = &c->iov[i];
        if (v->writable != writable)
            continue;
        if (skip >= v->len) {
            skip -= v->len;
            continue;
        }
        uint32_t take = v->len - (uint32_t)skip;
        if (take > limit - got)
            take = limit - got;
        iov[n++] = (struct iovec){(uint8_t *)v->addr + skip, take};
        got += take;
        skip = 0;
    }
    *bytes = got;
    return n;
}
