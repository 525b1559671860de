/* SPDX-License-Identifier: Apache-2.0 */
#include "virtqueue.h"

#include <stddef.h>

#include "clock.h"
#include "io.h"
#include "lib.h"

/* Ring memory for up to VIRTQ_POOL queues, one page each: descriptor table
 * (16-byte aligned, §2.7), available ring (2-byte aligned) and used ring
 * (4-byte aligned) at fixed offsets. Identity-mapped: these addresses are
 * the guest-physical ones the device is given. */
#define VIRTQ_POOL 8
struct virtq_mem {
    struct virtq_desc desc[VIRTQ_MAX_SIZE];
    struct virtq_avail avail;
    uint8_t pad[64];
    struct virtq_used used;
};
_Static_assert(sizeof(struct virtq_mem) <= 4096, "one page per queue");
static struct virtq_mem pool[VIRTQ_POOL] __attribute__((aligned(4096)));
static unsigned pool_used;

/* used_event sits right after the available ring's num entries,
 * avail_event after the used ring's (§2.7.6, §2.7.8): where depends on the
 * queue's size, not on VIRTQ_MAX_SIZE. */
static volatile uint16_t *used_event(struct virtq *vq)
{
    return (volatile uint16_t *)((volatile uint8_t *)vq->avail + 4 + 2 * vq->num);
}

static volatile uint16_t *avail_event(struct virtq *vq)
{
    return (volatile uint16_t *)((volatile uint8_t *)vq->used + 4 + 8 * vq->num);
}

const char *virtq_setup(struct virtq *vq, struct virtio_dev *dev, uint16_t index)
{
    virtio_mmio_write(dev, VIRTIO_MMIO_QUEUE_SEL, index);
    if (virtio_mmio_read(dev, VIRTIO_MMIO_QUEUE_READY) != 0)
        return "QueueReady is not 0 before setup";
    uint32_t max = virtio_mmio_read(dev, VIRTIO_MMIO_QUEUE_NUM_MAX);
    if (max == 0)
        return "QueueNumMax is 0: no such queue";
    /* A queue set up again (after a reset) reuses its memory: vq must
     * start zeroed (a static), so desc is NULL on the first setup. */
    struct virtq_mem *m = (struct virtq_mem *)(uintptr_t)vq->desc;
    if (!m) {
        if (pool_used == VIRTQ_POOL)
            return "out of queue memory";
        m = &pool[pool_used++];
    }
    memset(m, 0, sizeof(*m));

    vq->dev = dev;
    vq->index = index;
    vq->num = max < VIRTQ_MAX_SIZE ? (uint16_t)max : VIRTQ_MAX_SIZE;
    /* The split ring's size must be a power of two (§2.7). */
    while (vq->num & (vq->num - 1))
        vq->num &= (uint16_t)(vq->num - 1);
    vq->desc = m->desc;
    vq->avail = &m->avail;
    vq->used = &m->used;
    vq->event_idx = virtio_has(dev->features, VIRTIO_F_EVENT_IDX);
    vq->avail_idx = vq->kicked_idx = vq->last_used = 0;
    for (uint16_t i = 0; i < vq->num; i++)
        m->desc[i].next = (uint16_t)(i + 1);
    vq->free_head = 0;
    vq->num_free = vq->num;

    uint64_t desc = (uintptr_t)m->desc, avail = (uintptr_t)&m->avail, used = (uintptr_t)&m->used;
    virtio_mmio_write(dev, VIRTIO_MMIO_QUEUE_NUM, vq->num);
    virtio_mmio_write(dev, VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)desc);
    virtio_mmio_write(dev, VIRTIO_MMIO_QUEUE_DESC_HIGH, (uint32_t)(desc >> 32));
    virtio_mmio_write(dev, VIRTIO_MMIO_QUEUE_DRIVER_LOW, (uint32_t)avail);
    virtio_mmio_write(dev, VIRTIO_MMIO_QUEUE_DRIVER_HIGH, (uint32_t)(avail >> 32));
    virtio_mmio_write(dev, VIRTIO_MMIO_QUEUE_DEVICE_LOW, (uint32_t)used);
    virtio_mmio_write(dev, VIRTIO_MMIO_QUEUE_DEVICE_HIGH, (uint32_t)(used >> 32));
    virtio_mmio_write(dev, VIRTIO_MMIO_QUEUE_READY, 1);
    return NULL;
}

static void fill_desc(volatile struct virtq_desc *d, const struct virtq_buf *b)
{
    d->addr = b->addr;
    d->len = b->len;
    d->flags = b->device_writes ? VIRTQ_DESC_F_WRITE : 0;
}

int virtq_add_chain(struct virtq *vq, const struct virtq_buf *bufs, unsigned n)
{
    if (n == 0 || n > vq->num_free)
        return -1;
    /* The free list runs through next, so the chain takes the first n
     * free descriptors and keeps their next links; NEXT marks all but the
     * last. */
    uint16_t head = vq->free_head, i = head;
    for (unsigned k = 0; k < n; k++) {
        volatile struct virtq_desc *d = &vq->desc[i];
        fill_desc(d, &bufs[k]);
        if (k + 1 < n)
            d->flags |= VIRTQ_DESC_F_NEXT;
        i = d->next;
    }
    vq->free_head = i;
    vq->num_free = (uint16_t)(vq->num_free - n);
    return head;
}

int virtq_add_indirect(struct virtq *vq, struct virtq_desc *table, const struct virtq_buf *bufs,
                       unsigned n)
{
    if (n == 0 || vq->num_free == 0)
        return -1;
    /* §2.7.5.3.1: the table's descriptors chain through next, indices
     * into the table; the one pointing at it has only INDIRECT set (the
     * device ignores WRITE there, and NEXT with INDIRECT is forbidden). */
    for (unsigned k = 0; k < n; k++) {
        fill_desc(&table[k], &bufs[k]);
        table[k].next = (uint16_t)(k + 1);
        if (k + 1 < n)
            table[k].flags |= VIRTQ_DESC_F_NEXT;
    }
    uint16_t head = vq->free_head;
    volatile struct virtq_desc *d = &vq->desc[head];
    vq->free_head = d->next;
    vq->num_free--;
    d->addr = (uintptr_t)table;
    d->len = (uint32_t)(n * sizeof(struct virtq_desc));
    d->flags = VIRTQ_DESC_F_INDIRECT;
    return head;
}

void virtq_publish(struct virtq *vq, uint16_t head)
{
    vq->avail->ring[vq->avail_idx % vq->num] = head;
    /* §2.7.13.2: the ring entry (and the descriptors before it) must be
     * visible before the index that hands them over. */
    virtio_wmb();
    vq->avail_idx++;
    vq->avail->idx = vq->avail_idx;
}

/* §2.7.10: notify when the device's event index lies among the entries
 * added since the last notification decision. */
static bool need_event(uint16_t event, uint16_t new_idx, uint16_t old_idx)
{
    return (uint16_t)(new_idx - event - 1) < (uint16_t)(new_idx - old_idx);
}

bool virtq_kick(struct virtq *vq)
{
    /* §2.7.13.4: the store of avail->idx must be ordered before the load
     * of avail_event or used->flags, or the device may go to sleep having
     * missed the new entry while we read a stale "don't notify": a full
     * barrier (a store followed by a load). */
    virtio_mb();
    uint16_t old = vq->kicked_idx, now = vq->avail_idx;
    vq->kicked_idx = now;
    bool notify;
    if (vq->event_idx)
        notify = need_event(*avail_event(vq), now, old);
    else
        notify = !(vq->used->flags & VIRTQ_USED_F_NO_NOTIFY);
    if (notify)
        virtio_mmio_write(vq->dev, VIRTIO_MMIO_QUEUE_NOTIFY, vq->index);
    return notify;
}

void virtq_want_interrupt(struct virtq *vq, bool want)
{
    if (vq->event_idx) {
        /* Interrupt when the used index passes last_used: the device
         * notifies when used_event lies in [old used idx, new used idx). */
        *used_event(vq) = want ? vq->last_used : (uint16_t)(vq->last_used - 1);
    } else {
        vq->avail->flags = want ? 0 : VIRTQ_AVAIL_F_NO_INTERRUPT;
    }
    /* §2.7.13.5: the store must be visible before we next read used->idx,
     * or a buffer used in between could go unnoticed with no interrupt. */
    virtio_mb();
}

bool virtq_has_used(struct virtq *vq)
{
    return vq->used->idx != vq->last_used;
}

int virtq_get_used(struct virtq *vq, uint32_t *len)
{
    if (!virtq_has_used(vq))
        return -1;
    /* §2.7.13.1 (the device's side): the entry is written before idx; we
     * must read idx before the entry. */
    virtio_rmb();
    volatile struct virtq_used_elem *e = &vq->used->ring[vq->last_used % vq->num];
    uint32_t id = e->id;
    *len = e->len;
    vq->last_used++;
    if (id >= vq->num)
        return -1;
    /* Free the chain: walk its NEXT links to the last descriptor. */
    uint16_t i = (uint16_t)id, n = 1;
    while ((vq->desc[i].flags & VIRTQ_DESC_F_NEXT) && n < vq->num) {
        i = vq->desc[i].next;
        n++;
    }
    vq->desc[i].next = vq->free_head;
    vq->free_head = (uint16_t)id;
    vq->num_free = (uint16_t)(vq->num_free + n);
    return (int)id;
}

bool virtq_wait_used(struct virtq *vq, uint64_t timeout_us)
{
    uint64_t start = clock_us();
    while (!virtq_has_used(vq)) {
        if (clock_us() - start > timeout_us)
            return false;
        cpu_relax();
    }
    return true;
}
