/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A split virtqueue, driver side (virtio 1.2 §2.7): descriptor table,
 * available ring, used ring, descriptor chains, indirect descriptor tables
 * (§2.7.5.3) and event-index notification suppression (§2.7.7, §2.7.10).
 * Polled or interrupt-driven: the caller decides when to look at the used
 * ring. One vCPU, no locking.
 */
#ifndef TESTGUEST_VIRTQUEUE_H
#define TESTGUEST_VIRTQUEUE_H

#include <stdbool.h>
#include <stdint.h>

#include "virtio_mmio.h"

/* The largest queue this driver builds; a device's QueueNumMax may be
 * larger, the driver then asks for fewer (QueueNum, §4.2.3.2). */
#define VIRTQ_MAX_SIZE 64

#define VIRTQ_DESC_F_NEXT 1
#define VIRTQ_DESC_F_WRITE 2
#define VIRTQ_DESC_F_INDIRECT 4
#define VIRTQ_AVAIL_F_NO_INTERRUPT 1
#define VIRTQ_USED_F_NO_NOTIFY 1

/* The ring layouts (§2.7.5, §2.7.6, §2.7.8), little-endian as x86 is. */
struct virtq_desc {
    uint64_t addr;
    uint32_t len;
    uint16_t flags;
    uint16_t next;
};

struct virtq_avail {
    uint16_t flags;
    uint16_t idx;
    uint16_t ring[VIRTQ_MAX_SIZE];
    uint16_t used_event_space; /* used_event follows ring[num - 1] */
};

struct virtq_used_elem {
    uint32_t id;
    uint32_t len;
};

struct virtq_used {
    uint16_t flags;
    uint16_t idx;
    struct virtq_used_elem ring[VIRTQ_MAX_SIZE];
    uint16_t avail_event_space; /* avail_event follows ring[num - 1] */
};

/* One buffer of a request: guest-physical address (the guest's memory is
 * identity-mapped) and length; device_writes for device-writable buffers. */
struct virtq_buf {
    uint64_t addr;
    uint32_t len;
    bool device_writes;
};

struct virtq {
    struct virtio_dev *dev;
    uint16_t index;
    uint16_t num;
    volatile struct virtq_desc *desc;
    volatile struct virtq_avail *avail;
    volatile struct virtq_used *used;
    bool event_idx;
    uint16_t free_head;
    uint16_t num_free;
    uint16_t avail_idx;      /* our copy of avail->idx */
    uint16_t kicked_idx;     /* avail->idx at the last notification decision */
    uint16_t last_used;      /* the next used ring entry to read */
};

/* §4.2.3.2: selects queue `index`, checks QueueReady reads 0 and
 * QueueNumMax is not 0, sizes the queue min(QueueNumMax, VIRTQ_MAX_SIZE),
 * zeroes its rings (from a static pool), writes QueueNum and the three
 * addresses, then QueueReady = 1. The event index is used when the device's
 * negotiated features hold VIRTIO_F_EVENT_IDX. NULL on success, else a
 * reason. */
const char *virtq_setup(struct virtq *vq, struct virtio_dev *dev, uint16_t index);

/* Lays a chain of n direct descriptors (device-readable ones first, as
 * §2.7.4.2 requires) and returns its head, or -1 when there are not enough
 * free descriptors. Not visible to the device until virtq_publish(). */
int virtq_add_chain(struct virtq *vq, const struct virtq_buf *bufs, unsigned n);

/* The same chain written into `table` (an indirect descriptor table of n
 * entries, 16-byte aligned, left alone until the request is used), and one
 * descriptor with VIRTQ_DESC_F_INDIRECT pointing at it. */
int virtq_add_indirect(struct virtq *vq, struct virtq_desc *table, const struct virtq_buf *bufs,
                       unsigned n);

/* Puts `head` in the available ring and publishes the new avail->idx. */
void virtq_publish(struct virtq *vq, uint16_t head);

/* Notifies the device (QueueNotify) unless it asked not to be: with the
 * event index, unless avail_event lies outside the entries added since the
 * last decision (§2.7.10); without it, unless used->flags has
 * VIRTQ_USED_F_NO_NOTIFY (§2.7.7). Returns whether it notified. */
bool virtq_kick(struct virtq *vq);

/* Asks for, or asks to be spared, the interrupt for the next used buffer:
 * with the event index, used_event = the next used index to come (or the
 * one before it, already passed); without, VIRTQ_AVAIL_F_NO_INTERRUPT. */
void virtq_want_interrupt(struct virtq *vq, bool want);

/* Whether a used buffer waits to be taken. */
bool virtq_has_used(struct virtq *vq);

/* Takes the next used buffer: returns its head (and *len, what the device
 * wrote) and frees its descriptors; -1 when there is none. */
int virtq_get_used(struct virtq *vq, uint32_t *len);

/* Spins with `pause` until a used buffer is there or timeout_us passes. */
bool virtq_wait_used(struct virtq *vq, uint64_t timeout_us);

#endif
