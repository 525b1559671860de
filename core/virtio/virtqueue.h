/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Split virtqueues, device side (virtio 1.2 §2.7). The guest owns the
 * rings and may write anything into them at any time, so every index,
 * length and address read from them is checked before use, each
 * descriptor is copied out once before it is looked at (no double fetch),
 * and a chain reaches a device only when it is wholly valid. A ring found
 * broken marks the queue broken: the transport then sets
 * DEVICE_NEEDS_RESET; nothing is read from the queue until a reset.
 */
#ifndef PLUGVM_CORE_VIRTQUEUE_H
#define PLUGVM_CORE_VIRTQUEUE_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include <plugvm/host.h>

#include "memory/guest_mem.h"

/* §2.7.5: descriptor flags. */
#define VIRTQ_DESC_F_NEXT 1
#define VIRTQ_DESC_F_WRITE 2
#define VIRTQ_DESC_F_INDIRECT 4
/* §2.7.6 / §2.7.8 */
#define VIRTQ_AVAIL_F_NO_INTERRUPT 1
#define VIRTQ_USED_F_NO_NOTIFY 1

struct virtq_desc {
    uint64_t addr; /* guest-physical */
    uint32_t len;  /* bytes */
    uint16_t flags;
    uint16_t next;
};

struct virtq {
    pthread_mutex_t lock;
    const struct guest_mem *mem;
    bool event_idx;  /* VIRTIO_F_EVENT_IDX negotiated */
    bool indirect;   /* VIRTIO_F_INDIRECT_DESC negotiated */
    bool ready;
    bool broken;     /* the guest corrupted the ring: refuse until reset */
    uint16_t num;    /* queue size: a power of 2 */
    /* Host pointers to the three areas, checked to lie in guest RAM. */
    volatile struct virtq_desc *desc;
    volatile uint16_t *avail; /* flags, idx, ring[num], used_event */
    volatile uint8_t *used;   /* flags, idx, ring[num] of {u32 id, u32 len}, avail_event */
    uint16_t last_avail;      /* next avail ring slot to take */
    uint16_t used_idx;        /* our copy of used->idx */
    uint16_t signalled_used;  /* used_idx when the guest was last interrupted */
    bool signalled_valid;
    struct plugvm_iov *scratch;  /* num entries: the chain being walked */
    struct plugvm_iov **inflight; /* per head: the chain handed out, or NULL */
    uint16_t *pop_pos;  /* per head in flight: the last_avail it was popped at */
    bool no_notify;     /* the device asked for no notifications (virtq_set_notify) */
};

/* Sets the queue up from the driver's registers: size `num` (a power of 2,
 * 1..32768) and the guest-physical addresses of the descriptor table,
 * driver area (avail ring) and device area (used ring), each checked for
 * the alignment §2.7 requires (16, 2, 4) and to lie wholly in RAM. 0, or
 * -EINVAL with nothing changed. */
int virtq_setup(struct virtq *q, const struct guest_mem *mem, uint16_t num, uint64_t desc_gpa,
                uint64_t avail_gpa, uint64_t used_gpa, bool event_idx, bool indirect);

/* Forgets the queue (device reset): frees chains in flight; the queue is
 * not ready afterwards. */
void virtq_reset(struct virtq *q);

/* Takes the next available chain. 1 = *out filled (its iov stays valid
 * until virtq_push), 0 = nothing available, -EIO = the ring is broken (the
 * caller sets DEVICE_NEEDS_RESET), -ENODEV = the queue is not ready. */
int virtq_pop(struct virtq *q, struct plugvm_chain *out);

/* Chains in the avail ring not yet popped: avail->idx - last_avail, or 0
 * when the queue is not ready, is broken, or the guest's index is further
 * ahead than the queue is long. */
uint32_t virtq_avail_count(struct virtq *q);

/* Puts a popped chain on the used ring with `written` bytes (clamped to
 * its writable bytes). 0, or -EINVAL for a chain not in flight. */
int virtq_push(struct virtq *q, const struct plugvm_chain *c, uint32_t written);

/* Puts n popped chains on the used ring, c[i] with written[i] bytes
 * (clamped to its writable bytes), and publishes them with one store of
 * the used index. 0, or -EINVAL with nothing pushed when any chain is not
 * in flight or appears twice, or n exceeds the queue size. */
int virtq_push_many(struct virtq *q, const struct plugvm_chain *const *c, const uint32_t *written,
                    uint32_t n);

/* Gives a popped chain back unused: the avail slot it came from is taken
 * again by the next pop. Only the chain popped at the slot just before the
 * next one to take (so several go back in the reverse order of their
 * pops). 0, or -EINVAL. */
int virtq_unpop(struct virtq *q, const struct plugvm_chain *c);

/* Asks the driver to stop (false) or resume (true) notifying this queue
 * (VIRTQ_USED_F_NO_NOTIFY, or avail_event with EVENT_IDX). On resume,
 * returns 1 when chains are waiting (they will bring no notify: poll
 * again), else 0; -EINVAL when the queue is not ready. Reset and restore
 * turn notifications back on. */
int virtq_set_notify(struct virtq *q, bool enable);

/* Whether the driver wants an interrupt now for what was pushed since the
 * last one (§2.7.7.2: used_event with EVENT_IDX, else the avail ring's
 * NO_INTERRUPT flag). Records that it was signalled when true. */
bool virtq_should_interrupt(struct virtq *q);

/* Where the device is in the rings: what a snapshot keeps of a queue
 * besides its registers. */
struct virtq_cursors {
    uint16_t last_avail;
    uint16_t used_idx;
    uint16_t signalled_used;
    bool signalled_valid;
    bool broken;
};

/* Reads the cursors; false when a chain is in flight (popped, not yet
 * pushed): a device that was not quiesced. */
bool virtq_get_cursors(struct virtq *q, struct virtq_cursors *c);
/* Sets the cursors of a queue virtq_setup made ready. */
void virtq_set_cursors(struct virtq *q, const struct virtq_cursors *c);

void virtq_init(struct virtq *q);
void virtq_destroy(struct virtq *q);

#endif
