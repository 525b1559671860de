/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The virtio-mmio transport, register layout version 2 (virtio 1.2
 * §4.2.2), device side. It owns the registers, the device status state
 * machine, feature negotiation and the queues; the device behind it (a
 * plugin) is reached through struct virtio_mmio_backend.
 *
 * Threading: virtio_mmio_read/write run on vCPU threads, any number at
 * once (serialised by t->lock). virtio_mmio_interrupt, _needs_reset and the
 * queue functions may be called from any thread and take no transport
 * lock, so a device's workers never wait on a vCPU.
 */
#ifndef PLUGVM_CORE_VIRTIO_MMIO_H
#define PLUGVM_CORE_VIRTIO_MMIO_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <plugvm/record.h>

#include "memory/guest_mem.h"
#include "virtio/virtqueue.h"

#define VIRTIO_MMIO_MAGIC 0x74726976 /* "virt" */
#define VIRTIO_MMIO_VENDOR 0x4d564c50 /* "PLVM" */
#define VIRTIO_MMIO_WINDOW 0x1000     /* bytes of MMIO space per device */

/* Register offsets (§4.2.2, table "MMIO Device Register Layout"). */
enum {
    VIRTIO_MMIO_MAGIC_VALUE = 0x000,
    VIRTIO_MMIO_VERSION = 0x004,
    VIRTIO_MMIO_DEVICE_ID = 0x008,
    VIRTIO_MMIO_VENDOR_ID = 0x00c,
    VIRTIO_MMIO_DEVICE_FEATURES = 0x010,
    VIRTIO_MMIO_DEVICE_FEATURES_SEL = 0x014,
    VIRTIO_MMIO_DRIVER_FEATURES = 0x020,
    VIRTIO_MMIO_DRIVER_FEATURES_SEL = 0x024,
    VIRTIO_MMIO_QUEUE_SEL = 0x030,
    VIRTIO_MMIO_QUEUE_NUM_MAX = 0x034,
    VIRTIO_MMIO_QUEUE_NUM = 0x038,
    VIRTIO_MMIO_QUEUE_READY = 0x044,
    VIRTIO_MMIO_QUEUE_NOTIFY = 0x050,
    VIRTIO_MMIO_INTERRUPT_STATUS = 0x060,
    VIRTIO_MMIO_INTERRUPT_ACK = 0x064,
    VIRTIO_MMIO_STATUS = 0x070,
    VIRTIO_MMIO_QUEUE_DESC_LOW = 0x080,
    VIRTIO_MMIO_QUEUE_DESC_HIGH = 0x084,
    VIRTIO_MMIO_QUEUE_DRIVER_LOW = 0x090,
    VIRTIO_MMIO_QUEUE_DRIVER_HIGH = 0x094,
    VIRTIO_MMIO_QUEUE_DEVICE_LOW = 0x0a0,
    VIRTIO_MMIO_QUEUE_DEVICE_HIGH = 0x0a4,
    VIRTIO_MMIO_SHM_SEL = 0x0ac,
    VIRTIO_MMIO_SHM_LEN_LOW = 0x0b0,
    VIRTIO_MMIO_SHM_LEN_HIGH = 0x0b4,
    VIRTIO_MMIO_SHM_BASE_LOW = 0x0b8,
    VIRTIO_MMIO_SHM_BASE_HIGH = 0x0bc,
    VIRTIO_MMIO_CONFIG_GENERATION = 0x0fc,
    VIRTIO_MMIO_CONFIG = 0x100,
};

/* Device status bits (§2.1). */
#define VIRTIO_STATUS_ACKNOWLEDGE 1
#define VIRTIO_STATUS_DRIVER 2
#define VIRTIO_STATUS_DRIVER_OK 4
#define VIRTIO_STATUS_FEATURES_OK 8
#define VIRTIO_STATUS_NEEDS_RESET 64
#define VIRTIO_STATUS_FAILED 128

/* Interrupt status bits (§4.2.2). */
#define VIRTIO_MMIO_INT_VRING 1
#define VIRTIO_MMIO_INT_CONFIG 2

/* Reserved feature bits (§6). */
#define VIRTIO_F_INDIRECT_DESC 28
#define VIRTIO_F_EVENT_IDX 29
#define VIRTIO_F_VERSION_1 32
/* §6: bits 24 to 41 are reserved for extensions to the queue and feature
 * negotiation mechanisms, so they are the transport's, not a device's. A
 * plugin's bits there are dropped: one at 24..27 (legacy NOTIFY_ON_EMPTY,
 * ANY_LAYOUT) used to reach the driver, which would then count on ring
 * behaviour nothing here implements. */
#define VIRTIO_TRANSPORT_FEATURES_MASK (((1ull << 42) - 1) & ~((1ull << 24) - 1))
/* The transport bits this transport implements, and so offers: split
 * rings with indirect descriptors and used_event/avail_event, virtio 1.x
 * only. Not ACCESS_PLATFORM: guest memory is reached by guest-physical
 * address, with no IOMMU. */
#define VIRTIO_TRANSPORT_FEATURES_OFFERED                                                    \
    ((1ull << VIRTIO_F_VERSION_1) | (1ull << VIRTIO_F_INDIRECT_DESC) |                       \
     (1ull << VIRTIO_F_EVENT_IDX))

#define VIRTIO_MMIO_MAX_QUEUES 64

/* The device behind the transport. Called with t->lock held, on the vCPU
 * thread that made the access; none may block or call back into the
 * transport's register functions. */
struct virtio_mmio_backend {
    int (*activate)(void *dev, uint64_t features); /* DRIVER_OK */
    void (*reset)(void *dev);                      /* Status 0; stop using queues */
    void (*notify)(void *dev, uint32_t queue);     /* QueueNotify by MMIO exit */
    void (*config_read)(void *dev, uint32_t offset, void *data, uint32_t len);
    void (*config_write)(void *dev, uint32_t offset, const void *data, uint32_t len);
    /* Raise the device's interrupt line (edge). Any thread. */
    void (*raise_irq)(void *dev);
};

struct virtio_mmio {
    pthread_mutex_t lock;
    const struct guest_mem *mem;
    const struct virtio_mmio_backend *be;
    void *dev;
    /* What the device is. */
    uint32_t device_id;
    uint64_t offered;      /* device features, transport bits included */
    uint64_t dropped;      /* the device's bits in the transport's range, not offered */
    uint32_t num_queues;
    uint32_t queue_max;
    uint32_t config_size;
    /* Driver-written state. */
    uint32_t dev_features_sel, drv_features_sel, queue_sel, shm_sel;
    uint64_t driver_features;
    uint32_t status;
    atomic_uint interrupt_status;
    atomic_uint config_generation;
    atomic_bool needs_reset;
    struct {
        uint32_t num;
        uint64_t desc, driver, device;
        bool ready;
    } qreg[VIRTIO_MMIO_MAX_QUEUES];
    struct virtq vq[VIRTIO_MMIO_MAX_QUEUES];
};

/* Sets t up for a device with `device_id`, its own feature bits
 * `device_features` (those in VIRTIO_TRANSPORT_FEATURES_MASK are dropped
 * and left in t->dropped for the caller to report), num_queues (1..64) of
 * at most queue_max entries (a power of 2, 1..32768) and config_size bytes
 * (0..256) of config space. 0 or -EINVAL. */
int virtio_mmio_init(struct virtio_mmio *t, const struct guest_mem *mem,
                     const struct virtio_mmio_backend *be, void *dev, uint32_t device_id,
                     uint64_t device_features, uint32_t num_queues, uint32_t queue_max,
                     uint32_t config_size);
void virtio_mmio_destroy(struct virtio_mmio *t);

/* A guest access at `offset` into the window, `len` bytes (1, 2, 4 or 8),
 * little-endian. Registers below 0x100 take only aligned 4-byte accesses
 * (§4.2.2.2); others read as 0 and are ignored on write. */
void virtio_mmio_read(struct virtio_mmio *t, uint64_t offset, uint8_t *data, uint32_t len);
void virtio_mmio_write(struct virtio_mmio *t, uint64_t offset, const uint8_t *data, uint32_t len);

/* Whether a QueueNotify for queue q goes to the device: q is ready,
 * DRIVER_OK is set (the device was activated) and DEVICE_NEEDS_RESET is
 * not. Takes t->lock: for the doorbells, which bypass virtio_mmio_write. */
bool virtio_mmio_queue_live(struct virtio_mmio *t, uint32_t q);

/* Sets interrupt status `bits` and raises the line. Any thread. */
void virtio_mmio_interrupt(struct virtio_mmio *t, uint32_t bits);
/* Marks DEVICE_NEEDS_RESET and raises a config-change interrupt
 * (§2.1.2). Any thread. */
void virtio_mmio_needs_reset(struct virtio_mmio *t);
/* Config space changed: bumps the generation, interrupts (§4.2.2). */
void virtio_mmio_config_changed(struct virtio_mmio *t);

/* Snapshots (mmio_state.c, docs/SNAPSHOT.md): one record. */
#define VIRTIO_MMIO_RECORD_TAG 1
#define VIRTIO_MMIO_RECORD_VERSION 1
/* Writes the transport's state: registers, status, interrupt status, and
 * each queue's addresses and ring cursors. The vCPUs must be paused and
 * the device quiesced: a chain in flight is refused (-1 with err). */
int virtio_mmio_save(struct virtio_mmio *t, struct plugvm_record_writer *w, char *err,
                     size_t errlen);
/* Reads it back into a transport virtio_mmio_init set up for the same
 * device, before any vCPU runs: the queues the driver had set up are set
 * up again at their cursors and, when the driver had set DRIVER_OK and the
 * device did not need a reset, the device is activated with the features
 * it accepted (so the plugin's own record must be restored first). An
 * activate that fails refuses the restore, where a live transport sets
 * DEVICE_NEEDS_RESET: the guest had a running device, and a restore has
 * an operator to tell, who can fix the host and retry, while a guest whose
 * device broke on restore would just hang (Linux drivers do not reset on
 * DEVICE_NEEDS_RESET). Refused, with err saying what does not
 * fit and nothing left half set (t as virtio_mmio_init left it), when the
 * device cannot be activated, or the device id, queue count,
 * features or queue addresses do not fit this device and memory, or the
 * status and queues are ones the transport cannot reach (DRIVER_OK or a
 * ready queue without FEATURES_OK). 0 or -1. */
int virtio_mmio_restore(struct virtio_mmio *t, struct plugvm_record_reader *r, char *err,
                        size_t errlen);

#endif
