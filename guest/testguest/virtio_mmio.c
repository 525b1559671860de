/* SPDX-License-Identifier: Apache-2.0 */
#include "virtio_mmio.h"

#include "clock.h"
#include "io.h"

uint32_t virtio_mmio_read(const struct virtio_dev *d, uint32_t reg)
{
    return mmio_read32(d->base + reg);
}

void virtio_mmio_write(const struct virtio_dev *d, uint32_t reg, uint32_t v)
{
    mmio_write32(d->base + reg, v);
}

bool virtio_mmio_probe(struct virtio_dev *d)
{
    uint32_t magic = virtio_mmio_read(d, VIRTIO_MMIO_MAGIC_VALUE);
    d->version = virtio_mmio_read(d, VIRTIO_MMIO_VERSION);
    d->device_id = virtio_mmio_read(d, VIRTIO_MMIO_DEVICE_ID);
    d->vendor_id = virtio_mmio_read(d, VIRTIO_MMIO_VENDOR_ID);
    /* §4.2.3.1.1: a driver MUST ignore a device with DeviceID 0x0. */
    return magic == VIRTIO_MMIO_MAGIC && d->device_id != 0;
}

uint32_t virtio_mmio_device_features_word(const struct virtio_dev *d, uint32_t sel)
{
    virtio_mmio_write(d, VIRTIO_MMIO_DEVICE_FEATURES_SEL, sel);
    return virtio_mmio_read(d, VIRTIO_MMIO_DEVICE_FEATURES);
}

uint64_t virtio_mmio_device_features(const struct virtio_dev *d)
{
    uint64_t lo = virtio_mmio_device_features_word(d, 0);
    uint64_t hi = virtio_mmio_device_features_word(d, 1);
    return hi << 32 | lo;
}

void virtio_mmio_driver_features(const struct virtio_dev *d, uint64_t features)
{
    virtio_mmio_write(d, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
    virtio_mmio_write(d, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)features);
    virtio_mmio_write(d, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
    virtio_mmio_write(d, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)(features >> 32));
}

uint32_t virtio_mmio_status(const struct virtio_dev *d)
{
    return virtio_mmio_read(d, VIRTIO_MMIO_STATUS);
}

void virtio_mmio_set_status(const struct virtio_dev *d, uint32_t status)
{
    virtio_mmio_write(d, VIRTIO_MMIO_STATUS, status);
}

bool virtio_mmio_reset(const struct virtio_dev *d)
{
    virtio_mmio_set_status(d, 0);
    uint64_t start = clock_us();
    while (virtio_mmio_status(d) != 0) {
        if (clock_us() - start > VIRTIO_RESET_TIMEOUT_US)
            return false;
        cpu_relax();
    }
    return true;
}

const char *virtio_mmio_init(struct virtio_dev *d, uint64_t wanted)
{
    /* §3.1.1: 1. reset; 2. ACKNOWLEDGE: we noticed the device; 3. DRIVER:
     * we can drive it; 4. read the device's features, write the subset we
     * understand; 5. FEATURES_OK; 6. re-read status: FEATURES_OK still set
     * means the device accepts that subset. */
    if (!virtio_mmio_reset(d))
        return "reset: Status did not read back 0";
    uint32_t status = VIRTIO_STATUS_ACKNOWLEDGE;
    virtio_mmio_set_status(d, status);
    status |= VIRTIO_STATUS_DRIVER;
    virtio_mmio_set_status(d, status);
    d->offered = virtio_mmio_device_features(d);
    if (!virtio_has(d->offered, VIRTIO_F_VERSION_1)) {
        virtio_mmio_set_status(d, status | VIRTIO_STATUS_FAILED);
        return "the device does not offer VIRTIO_F_VERSION_1";
    }
    d->features = d->offered & (wanted | 1ull << VIRTIO_F_VERSION_1);
    virtio_mmio_driver_features(d, d->features);
    status |= VIRTIO_STATUS_FEATURES_OK;
    virtio_mmio_set_status(d, status);
    if (!(virtio_mmio_status(d) & VIRTIO_STATUS_FEATURES_OK)) {
        virtio_mmio_set_status(d, status | VIRTIO_STATUS_FAILED);
        return "FEATURES_OK did not stay set";
    }
    return 0;
}

uint32_t virtio_mmio_ack_interrupt(const struct virtio_dev *d)
{
    uint32_t isr = virtio_mmio_read(d, VIRTIO_MMIO_INTERRUPT_STATUS);
    if (isr)
        virtio_mmio_write(d, VIRTIO_MMIO_INTERRUPT_ACK, isr);
    return isr;
}
