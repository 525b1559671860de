/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtio-vsock packets (virtio 1.2 §5.10.6), the device's side: a packet the
 * guest put on the TX queue judged before anything acts on it, and a
 * packet for the RX queue written into a chain the guest gave. The guest
 * is hostile: every field of a header it wrote is checked, and the header
 * is copied out of guest memory once, then only the copy is looked at.
 */
#ifndef PLUGVM_VSOCK_PACKET_H
#define PLUGVM_VSOCK_PACKET_H

#include <linux/virtio_vsock.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <plugvm/host.h>

/* The host's CID (VMADDR_CID_HOST): the only peer a guest may address. */
#define VSOCK_HOST_CID 2u
/* Bytes of header: struct virtio_vsock_hdr, packed. */
#define VSOCK_HDR_SIZE 44u
/* Largest payload one packet may carry, as Linux's driver and Firecracker
 * (VIRTIO_VSOCK_MAX_PKT_BUF_SIZE): a header claiming more is a lie. */
#define VSOCK_MAX_PAYLOAD (64u * 1024)

/* A TX packet: the header in host byte order, and where its payload lies
 * in the chain (`len` bytes from byte `payload_at` of the chain's readable
 * buffers). */
struct vsock_pkt {
    uint64_t src_cid, dst_cid;
    uint32_t src_port, dst_port;
    uint32_t len; /* payload bytes */
    uint16_t type, op;
    uint32_t flags;
    uint32_t buf_alloc, fwd_cnt;
};

/* What to do with a TX chain. */
enum vsock_verdict {
    VSOCK_PKT_OK,   /* a packet to act on */
    VSOCK_PKT_DROP, /* not answerable (no header, a forged source, a
                       lying length, writable buffers): drop it, log once */
    VSOCK_PKT_RST,  /* a well-formed header for something the device does
                       not do (another CID, an unknown type or op): answer
                       with RST to its source, as §5.10.6.4 has a device
                       answer what it cannot take */
};

/* Judges TX chain `c` from a guest whose CID is `guest_cid`, with
 * SOCK_SEQPACKET allowed when `seqpacket` (VIRTIO_VSOCK_F_SEQPACKET
 * negotiated). Fills *p whenever the header could be read (for OK and
 * RST). *why says, for DROP and RST, what was wrong (a static string).
 * Checks: the chain is readable only, holds at least the header, and its
 * header's len is at most VSOCK_MAX_PAYLOAD and at most what follows the
 * header in the chain; src_cid is the guest's; then dst_cid is the host's,
 * type is STREAM (or SEQPACKET), op is REQUEST..CREDIT_REQUEST. A len on
 * an op other than RW is ignored (taken as 0). */
enum vsock_verdict vsock_pkt_parse(const struct plugvm_chain *c, uint64_t guest_cid, bool seqpacket,
                                   struct vsock_pkt *p, const char **why);

/* Copies up to n bytes of the payload of the packet parsed from c, from
 * payload byte `at`, into buf; returns how many (less at its end). */
size_t vsock_pkt_read(const struct plugvm_chain *c, const struct vsock_pkt *p, uint32_t at,
                      void *buf, size_t n);

/* Writes header h (host byte order, h->len the payload's length) and then
 * the h->len bytes at `payload` into RX chain c's writable buffers.
 * Returns the bytes written (VSOCK_HDR_SIZE + len, for the used ring), or
 * 0 when the chain has readable buffers or not room for both (the guest's
 * RX buffers are too small: the packet must wait or be refused). */
uint32_t vsock_pkt_write(const struct plugvm_chain *c, const struct vsock_pkt *h,
                         const void *payload);

/* Writes only header h into RX chain c (h->len bytes of payload must
 * already be, or be about to be, at byte VSOCK_HDR_SIZE: see
 * vsock_pkt_iov). Same checks and result as vsock_pkt_write. */
uint32_t vsock_pkt_write_hdr(const struct plugvm_chain *c, const struct vsock_pkt *h);

/* Up to `max` iovecs for the payload area of chain c: its readable bytes
 * after the header (a TX packet's payload, `limit` bytes of it) or its
 * writable bytes after the header (room for an RX payload, at most
 * `limit`). Lets the plugin move payload between a host socket and guest
 * memory with one readv/writev, no copy. Returns the iovec count; *bytes
 * says how many bytes they cover (less than limit where the chain ends). */
struct iovec;
unsigned vsock_pkt_iov(const struct plugvm_chain *c, bool writable, uint32_t limit,
                       struct iovec *iov, unsigned max, uint32_t *bytes);

#endif
