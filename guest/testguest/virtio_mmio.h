/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The virtio-mmio transport, modern layout (virtio 1.2 §4.2.2: Version 2),
 * as a driver sees it: register access, the device status sequence
 * (§3.1.1) and feature negotiation (§2.2). The tests use the single steps;
 * virtio_mmio_init() does the whole initialisation for a driver.
 */
#ifndef TESTGUEST_VIRTIO_MMIO_H
#define TESTGUEST_VIRTIO_MMIO_H

#include <stdbool.h>
#include <stdint.h>

/* Registers (virtio 1.2 §4.2.2, table "MMIO Device Register Layout"). */
#define VIRTIO_MMIO_MAGIC_VALUE 0x000
#define VIRTIO_MMIO_VERSION 0x004
#define VIRTIO_MMIO_DEVICE_ID 0x008
#define VIRTIO_MMIO_VENDOR_ID 0x00c
#define VIRTIO_MMIO_DEVICE_FEATURES 0x010
#define VIRTIO_MMIO_DEVICE_FEATURES_SEL 0x014
#define VIRTIO_MMIO_DRIVER_FEATURES 0x020
#define VIRTIO_MMIO_DRIVER_FEATURES_SEL 0x024
#define VIRTIO_MMIO_QUEUE_SEL 0x030
#define VIRTIO_MMIO_QUEUE_NUM_MAX 0x034
#define VIRTIO_MMIO_QUEUE_NUM 0x038
#define VIRTIO_MMIO_QUEUE_READY 0x044
#define VIRTIO_MMIO_QUEUE_NOTIFY 0x050
#define VIRTIO_MMIO_INTERRUPT_STATUS 0x060
#define VIRTIO_MMIO_INTERRUPT_ACK 0x064
#define VIRTIO_MMIO_STATUS 0x070
#define VIRTIO_MMIO_QUEUE_DESC_LOW 0x080
#define VIRTIO_MMIO_QUEUE_DESC_HIGH 0x084
#define VIRTIO_MMIO_QUEUE_DRIVER_LOW 0x090
#define VIRTIO_MMIO_QUEUE_DRIVER_HIGH 0x094
#define VIRTIO_MMIO_QUEUE_DEVICE_LOW 0x0a0
#define VIRTIO_MMIO_QUEUE_DEVICE_HIGH 0x0a4
#define VIRTIO_MMIO_SHM_SEL 0x0ac
#define VIRTIO_MMIO_SHM_LEN_LOW 0x0b0
#define VIRTIO_MMIO_SHM_LEN_HIGH 0x0b4
#define VIRTIO_MMIO_SHM_BASE_LOW 0x0b8
#define VIRTIO_MMIO_SHM_BASE_HIGH 0x0bc
#define VIRTIO_MMIO_QUEUE_RESET 0x0c0
#define VIRTIO_MMIO_CONFIG_GENERATION 0x0fc
#define VIRTIO_MMIO_CONFIG 0x100

#define VIRTIO_MMIO_MAGIC 0x74726976 /* "virt", little-endian */
#define VIRTIO_MMIO_VENDOR_QEMU 0x554d4551 /* "QEMU" */

/* InterruptStatus bits (§4.2.2). */
#define VIRTIO_MMIO_INT_VRING 0x1
#define VIRTIO_MMIO_INT_CONFIG 0x2

/* Device status (§2.1). */
#define VIRTIO_STATUS_ACKNOWLEDGE 1
#define VIRTIO_STATUS_DRIVER 2
#define VIRTIO_STATUS_DRIVER_OK 4
#define VIRTIO_STATUS_FEATURES_OK 8
#define VIRTIO_STATUS_DEVICE_NEEDS_RESET 64
#define VIRTIO_STATUS_FAILED 128

/* Reserved feature bits (§6). */
#define VIRTIO_F_INDIRECT_DESC 28
#define VIRTIO_F_EVENT_IDX 29
#define VIRTIO_F_VERSION_1 32

#define VIRTIO_ID_RNG 4

/* How long a reset may take to read back 0, and a used buffer to come. */
#define VIRTIO_RESET_TIMEOUT_US 1000000u
#define VIRTIO_IO_TIMEOUT_US 3000000u

struct virtio_dev {
    uint64_t base;
    uint64_t size;
    uint32_t irq;       /* GSI */
    uint8_t vector;     /* the IDT vector its GSI is routed to */
    uint32_t version, device_id, vendor_id;
    uint64_t offered;   /* DeviceFeatures, both words */
    uint64_t features;  /* what FEATURES_OK accepted */
};

static inline bool virtio_has(uint64_t features, unsigned bit)
{
    return (features >> bit) & 1;
}

uint32_t virtio_mmio_read(const struct virtio_dev *d, uint32_t reg);
void virtio_mmio_write(const struct virtio_dev *d, uint32_t reg, uint32_t v);

/* Reads MagicValue, Version, DeviceID and VendorID into *d. True when the
 * magic is right and a device sits behind the transport (DeviceID != 0:
 * QEMU's microvm has transports with nothing plugged in). */
bool virtio_mmio_probe(struct virtio_dev *d);

/* Feature words through DeviceFeaturesSel / DriverFeaturesSel (§4.2.2). */
uint32_t virtio_mmio_device_features_word(const struct virtio_dev *d, uint32_t sel);
uint64_t virtio_mmio_device_features(const struct virtio_dev *d);
void virtio_mmio_driver_features(const struct virtio_dev *d, uint64_t features);

uint32_t virtio_mmio_status(const struct virtio_dev *d);
void virtio_mmio_set_status(const struct virtio_dev *d, uint32_t status);

/* Writes 0 to Status and waits, bounded, for Status to read back 0
 * (§2.4.2: a driver-initiated reset is complete when status reads 0). */
bool virtio_mmio_reset(const struct virtio_dev *d);

/* §3.1.1 steps 1-6: reset, ACKNOWLEDGE, DRIVER, accept the offered
 * features among `wanted` (VERSION_1 always), FEATURES_OK and its
 * read-back. Sets d->offered and d->features. On failure sets FAILED and
 * returns a reason; NULL on success. Queues and DRIVER_OK are the
 * caller's. */
const char *virtio_mmio_init(struct virtio_dev *d, uint64_t wanted);

/* Reads InterruptStatus and writes what it read to InterruptACK (§4.2.3.4).
 * Returns what it read. */
uint32_t virtio_mmio_ack_interrupt(const struct virtio_dev *d);

#endif
