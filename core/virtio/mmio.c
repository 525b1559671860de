/* SPDX-License-Identifier: Apache-2.0 */
#include "mmio.h"

#include <errno.h>
#include <string.h>

int virtio_mmio_init(struct virtio_mmio *t, const struct guest_mem *mem,
                     const struct virtio_mmio_backend *be, void *dev, uint32_t device_id,
                     uint64_t device_features, uint32_t num_queues, uint32_t queue_max,
                     uint32_t config_size)
{
    if (num_queues == 0 || num_queues > VIRTIO_MMIO_MAX_QUEUES || queue_max == 0 ||
        queue_max > 32768 || (queue_max & (queue_max - 1)) || config_size > 256)
        return -EINVAL;
    memset(t, 0, sizeof(*t));
    pthread_mutex_init(&t->lock, NULL);
    t->mem = mem;
    t->be = be;
    t->dev = dev;
    t->device_id = device_id;
    t->offered = (device_features & ~VIRTIO_TRANSPORT_FEATURES_MASK) |
                 VIRTIO_TRANSPORT_FEATURES_OFFERED;
    t->dropped = device_features & VIRTIO_TRANSPORT_FEATURES_MASK;
    t->num_queues = num_queues;
    t->queue_max = queue_max;
    t->config_size = config_size;
    for (uint32_t i = 0; i < VIRTIO_MMIO_MAX_QUEUES; i++)
        virtq_init(&t->vq[i]);
    return 0;
}

void virtio_mmio_destroy(struct virtio_mmio *t)
{
    for (uint32_t i = 0; i < VIRTIO_MMIO_MAX_QUEUES; i++)
        virtq_destroy(&t->vq[i]);
    pthread_mutex_destroy(&t->lock);
}

void virtio_mmio_interrupt(struct virtio_mmio *t, uint32_t bits)
{
    atomic_fetch_or(&t->interrupt_status, bits);
    t->be->raise_irq(t->dev);
}

void virtio_mmio_needs_reset(struct virtio_mmio *t)
{
    if (!atomic_exchange(&t->needs_reset, true))
        virtio_mmio_interrupt(t, VIRTIO_MMIO_INT_CONFIG);
}

void virtio_mmio_config_changed(struct virtio_mmio *t)
{
    atomic_fetch_add(&t->config_generation, 1);
    virtio_mmio_interrupt(t, VIRTIO_MMIO_INT_CONFIG);
}

/* §2.1.2 / §4.2.2.1: writing 0 to Status resets the device: the device
 * stops first, then the transport forgets everything the driver set. */
static void reset(struct virtio_mmio *t)
{
    t->be->reset(t->dev);
    for (uint32_t i = 0; i < t->num_queues; i++) {
        virtq_reset(&t->vq[i]);
        memset(&t->qreg[i], 0, sizeof(t->qreg[i]));
    }
    t->status = 0;
    t->driver_features = 0;
    t->dev_features_sel = t->drv_features_sel = t->queue_sel = t->shm_sel = 0;
    atomic_store(&t->interrupt_status, 0);
    atomic_store(&t->needs_reset, false);
}

static uint32_t status(struct virtio_mmio *t)
{
    return t->status | (atomic_load(&t->needs_reset) ? VIRTIO_STATUS_NEEDS_RESET : 0);
}

/* Whether a notify for queue q may reach the device: a device whose
 * activate failed, or that set DEVICE_NEEDS_RESET since, is not running
 * its queues, and one notified anyway would pop from rings it never took
 * (§2.1.2: nothing until the driver resets it). */
static bool live(const struct virtio_mmio *t, uint32_t q)
{
    return q < t->num_queues && t->qreg[q].ready && (t->status & VIRTIO_STATUS_DRIVER_OK) &&
           !atomic_load(&t->needs_reset);
}

bool virtio_mmio_queue_live(struct virtio_mmio *t, uint32_t q)
{
    pthread_mutex_lock(&t->lock);
    bool ok = live(t, q);
    pthread_mutex_unlock(&t->lock);
    return ok;
}

static void set_queue_ready(struct virtio_mmio *t, uint32_t q, bool ready)
{
    if (!ready) {
        /* Only a reset may take a live queue away (VIRTIO_F_RING_RESET is
         * not offered); before DRIVER_OK it just forgets the setup. */
        if (!(t->status & VIRTIO_STATUS_DRIVER_OK)) {
            virtq_reset(&t->vq[q]);
            t->qreg[q].ready = false;
        }
        return;
    }
    if (t->qreg[q].ready)
        return;
    /* §3.1.1: queues are set up after FEATURES_OK, which fixes the ring
     * layout. A queue made ready before it would be read with features the
     * driver has not had accepted (EVENT_IDX written, FEATURES_OK never set
     * or refused: used_event/avail_event read and written for a driver
     * that does not keep them), so the write is ignored. */
    if (!(t->status & VIRTIO_STATUS_FEATURES_OK))
        return;
    uint32_t num = t->qreg[q].num;
    bool ev = t->driver_features & (1ull << VIRTIO_F_EVENT_IDX);
    bool ind = t->driver_features & (1ull << VIRTIO_F_INDIRECT_DESC);
    if (num == 0 || num > t->queue_max ||
        virtq_setup(&t->vq[q], t->mem, (uint16_t)num, t->qreg[q].desc, t->qreg[q].driver,
                    t->qreg[q].device, ev, ind)) {
        /* A queue the device cannot use: refuse it and say so (§2.1.2). */
        virtio_mmio_needs_reset(t);
        return;
    }
    t->qreg[q].ready = true;
}

static void write_status(struct virtio_mmio *t, uint32_t v)
{
    if (v == 0) {
        reset(t);
        return;
    }
    v &= 0xff & ~VIRTIO_STATUS_NEEDS_RESET;
    /* §2.1.1: the driver never clears a bit but by resetting; FAILED may
     * come at any time. */
    if ((t->status & ~v) != 0)
        return;
    uint32_t added = v & ~t->status;
    if (added & VIRTIO_STATUS_FEATURES_OK) {
        /* §3.1.1 step 5: refuse features that were not offered, and a
         * legacy driver (no VERSION_1) that this device cannot serve. */
        bool ok = !(t->driver_features & ~t->offered) &&
                  (t->driver_features & (1ull << VIRTIO_F_VERSION_1));
        if (!ok)
            v &= ~(uint32_t)VIRTIO_STATUS_FEATURES_OK;
    }
    if (added & VIRTIO_STATUS_DRIVER_OK) {
        /* A device that needs a reset is not activated until it has one:
         * DRIVER_OK again after a failed activate would start it on
         * queues it refused. */
        if (!(v & VIRTIO_STATUS_FEATURES_OK) || atomic_load(&t->needs_reset)) {
            v &= ~(uint32_t)VIRTIO_STATUS_DRIVER_OK;
        } else if (t->be->activate(t->dev, t->driver_features & ~VIRTIO_TRANSPORT_FEATURES_MASK) !=
                   0) {
            /* §2.1.2: the device is in an error state, not running:
             * DRIVER_OK must not stand (it let queue notifies through to
             * a device that never started), DEVICE_NEEDS_RESET does, with
             * a configuration change notification. */
            t->status = v & ~(uint32_t)VIRTIO_STATUS_DRIVER_OK;
            virtio_mmio_needs_reset(t);
            return;
        }
    }
    t->status = v;
}

static uint32_t read_reg(struct virtio_mmio *t, uint32_t off)
{
    uint32_t q = t->queue_sel;
    bool qok = q < t->num_queues;
    switch (off) {
    case VIRTIO_MMIO_MAGIC_VALUE: return VIRTIO_MMIO_MAGIC;
    case VIRTIO_MMIO_VERSION: return 2;
    case VIRTIO_MMIO_DEVICE_ID: return t->device_id;
    case VIRTIO_MMIO_VENDOR_ID: return VIRTIO_MMIO_VENDOR;
    case VIRTIO_MMIO_DEVICE_FEATURES:
        return t->dev_features_sel < 2 ? (uint32_t)(t->offered >> (32 * t->dev_features_sel)) : 0;
    case VIRTIO_MMIO_QUEUE_NUM_MAX: return qok ? t->queue_max : 0;
    case VIRTIO_MMIO_QUEUE_READY: return qok && t->qreg[q].ready;
    case VIRTIO_MMIO_INTERRUPT_STATUS: return atomic_load(&t->interrupt_status);
    case VIRTIO_MMIO_STATUS: return status(t);
    /* No shared memory regions: every one reads as absent, length -1
     * (§4.2.2; a 0 would describe a present, empty region). */
    case VIRTIO_MMIO_SHM_LEN_LOW:
    case VIRTIO_MMIO_SHM_LEN_HIGH:
    case VIRTIO_MMIO_SHM_BASE_LOW:
    case VIRTIO_MMIO_SHM_BASE_HIGH: return 0xffffffffu;
    case VIRTIO_MMIO_CONFIG_GENERATION: return atomic_load(&t->config_generation);
    }
    return 0; /* write-only or reserved */
}

/* The 64-bit queue addresses arrive as two 32-bit halves. */
static void set_half(uint64_t *reg, bool high, uint32_t v)
{
    *reg = high ? (*reg & 0xffffffffull) | ((uint64_t)v << 32) : (*reg & ~0xffffffffull) | v;
}

static void write_reg(struct virtio_mmio *t, uint32_t off, uint32_t v)
{
    uint32_t q = t->queue_sel;
    /* Queue registers only for an existing queue that is not live yet. */
    bool qw = q < t->num_queues && !t->qreg[q].ready;
    switch (off) {
    case VIRTIO_MMIO_DEVICE_FEATURES_SEL: t->dev_features_sel = v; break;
    case VIRTIO_MMIO_DRIVER_FEATURES_SEL: t->drv_features_sel = v; break;
    case VIRTIO_MMIO_DRIVER_FEATURES:
        /* §2.2.2: FEATURES_OK fixes the features; a later write would
         * change the ring layout under queues already set up with it. */
        if (t->drv_features_sel < 2 && !(t->status & VIRTIO_STATUS_FEATURES_OK)) {
            unsigned shift = 32 * t->drv_features_sel;
            t->driver_features = (t->driver_features & ~(0xffffffffull << shift)) |
                                 ((uint64_t)v << shift);
        }
        break;
    case VIRTIO_MMIO_QUEUE_SEL: t->queue_sel = v; break;
    case VIRTIO_MMIO_QUEUE_NUM:
        if (qw)
            t->qreg[q].num = v;
        break;
    case VIRTIO_MMIO_QUEUE_READY:
        if (q < t->num_queues)
            set_queue_ready(t, q, v & 1);
        break;
    case VIRTIO_MMIO_QUEUE_NOTIFY:
        if (live(t, v))
            t->be->notify(t->dev, v);
        break;
    case VIRTIO_MMIO_INTERRUPT_ACK: atomic_fetch_and(&t->interrupt_status, ~v); break;
    case VIRTIO_MMIO_STATUS: write_status(t, v); break;
    case VIRTIO_MMIO_QUEUE_DESC_LOW:
    case VIRTIO_MMIO_QUEUE_DESC_HIGH:
        if (qw)
            set_half(&t->qreg[q].desc, off == VIRTIO_MMIO_QUEUE_DESC_HIGH, v);
        break;
    case VIRTIO_MMIO_QUEUE_DRIVER_LOW:
    case VIRTIO_MMIO_QUEUE_DRIVER_HIGH:
        if (qw)
            set_half(&t->qreg[q].driver, off == VIRTIO_MMIO_QUEUE_DRIVER_HIGH, v);
        break;
    case VIRTIO_MMIO_QUEUE_DEVICE_LOW:
    case VIRTIO_MMIO_QUEUE_DEVICE_HIGH:
        if (qw)
            set_half(&t->qreg[q].device, off == VIRTIO_MMIO_QUEUE_DEVICE_HIGH, v);
        break;
    case VIRTIO_MMIO_SHM_SEL: t->shm_sel = v; break;
    }
}

static bool config_range(const struct virtio_mmio *t, uint64_t offset, uint32_t len)
{
    return offset >= VIRTIO_MMIO_CONFIG && offset - VIRTIO_MMIO_CONFIG <= t->config_size &&
           len <= t->config_size - (offset - VIRTIO_MMIO_CONFIG) &&
           (len == 1 || len == 2 || len == 4 || len == 8);
}

void virtio_mmio_read(struct virtio_mmio *t, uint64_t offset, uint8_t *data, uint32_t len)
{
    memset(data, 0, len);
    pthread_mutex_lock(&t->lock);
    if (offset < VIRTIO_MMIO_CONFIG) {
        if (len == 4 && !(offset & 3)) {
            uint32_t v = read_reg(t, (uint32_t)offset);
            memcpy(data, &v, 4);
        }
    } else if (config_range(t, offset, len) && t->be->config_read) {
        t->be->config_read(t->dev, (uint32_t)(offset - VIRTIO_MMIO_CONFIG), data, len);
    }
    pthread_mutex_unlock(&t->lock);
}

void virtio_mmio_write(struct virtio_mmio *t, uint64_t offset, const uint8_t *data, uint32_t len)
{
    pthread_mutex_lock(&t->lock);
    if (offset < VIRTIO_MMIO_CONFIG) {
        if (len == 4 && !(offset & 3)) {
            uint32_t v;
            memcpy(&v, data, 4);
            write_reg(t, (uint32_t)offset, v);
        }
    } else if (config_range(t, offset, len) && t->be->config_write) {
        t->be->config_write(t->dev, (uint32_t)(offset - VIRTIO_MMIO_CONFIG), data, len);
    }
    pthread_mutex_unlock(&t->lock);
}
