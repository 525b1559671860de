/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test=transport: the virtio-mmio transport of the first device found,
 * register by register (virtio 1.2 §4.2.2 and the driver requirements of
 * §4.2.3), the status sequence (§3.1.1) and reset (§2.4). With expect_id=N
 * on the command line, its DeviceID must be N. Where the device is
 * virtio-rng, one request proves it usable after re-initialisation and
 * exercises the interrupt acknowledgement.
 */
#include <stddef.h>

#include "clock.h"
#include "console.h"
#include "io.h"
#include "irq.h"
#include "lib.h"
#include "tap.h"
#include "tests.h"
#include "virtqueue.h"

#define TRANSPORT_TESTS 24

#define STATUS_ALL_OK (VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | \
                       VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DRIVER_OK)
/* The optional features this driver understands. */
#define DRIVER_FEATURES (1ull << VIRTIO_F_VERSION_1 | 1ull << VIRTIO_F_INDIRECT_DESC | \
                         1ull << VIRTIO_F_EVENT_IDX)

static struct virtq vq;
static uint8_t rng_buf[64] __attribute__((aligned(64)));

/* Status write, then read back; the value read. */
static uint32_t set_status(struct virtio_dev *d, uint32_t s)
{
    virtio_mmio_set_status(d, s);
    return virtio_mmio_status(d);
}

/* The lowest feature bit the device does not offer: the driver must not
 * accept it (§2.2.1), and the device must then refuse FEATURES_OK
 * (§3.1.1 step 6, §2.2.2). */
static unsigned unoffered_bit(uint64_t offered)
{
    for (unsigned b = 0; b < 64; b++)
        if (!virtio_has(offered, b))
            return b;
    return 64;
}

static void rng_request_and_ack(struct virtio_dev *d, bool is_rng, bool usable)
{
    static const char *const descs[4] = {
        "after re-initialisation an rng request completes (a used buffer with bytes)",
        "the used-buffer interrupt arrives",
        "InterruptStatus has bit 0 (used buffer) set",
        "writing InterruptStatus to InterruptACK clears bit 0",
    };
    if (!is_rng || !usable) {
        for (unsigned i = 0; i < 4; i++)
            if (!is_rng)
                tap_skip(descs[i], "device id %u is not virtio-rng", d->device_id);
            else
                tap_check(false, descs[i], "re-initialisation failed");
        return;
    }
    uint32_t seen = irq_count[d->vector];
    struct virtq_buf b = {(uintptr_t)rng_buf, sizeof(rng_buf), true};
    virtq_want_interrupt(&vq, true);
    int head = virtq_add_chain(&vq, &b, 1);
    virtq_publish(&vq, (uint16_t)head);
    virtq_kick(&vq);
    bool used = virtq_wait_used(&vq, VIRTIO_IO_TIMEOUT_US);
    uint32_t len = 0;
    int id = used ? virtq_get_used(&vq, &len) : -1;
    if (!used)
        tap_check(false, descs[0], "no used buffer within %u us", VIRTIO_IO_TIMEOUT_US);
    else
        tap_check(id == head && len > 0 && len <= sizeof(rng_buf), descs[0],
                  "used id %d (head %d), length %u", id, head, len);
    uint32_t n = irq_wait(d->vector, seen, VIRTIO_IO_TIMEOUT_US);
    tap_check(n != seen, descs[1], "irq_count[0x%x] stayed %u for %u us (GSI %u)", d->vector,
              seen, VIRTIO_IO_TIMEOUT_US, d->irq);
    uint32_t isr = virtio_mmio_read(d, VIRTIO_MMIO_INTERRUPT_STATUS);
    tap_check(isr & VIRTIO_MMIO_INT_VRING, descs[2], "InterruptStatus 0x%x", isr);
    virtio_mmio_write(d, VIRTIO_MMIO_INTERRUPT_ACK, isr);
    uint32_t after = virtio_mmio_read(d, VIRTIO_MMIO_INTERRUPT_STATUS);
    tap_check(!(after & VIRTIO_MMIO_INT_VRING), descs[3], "InterruptStatus 0x%x after ACK of 0x%x",
              after, isr);
}

void test_transport(struct guest *g)
{
    struct virtio_dev *d = guest_need_device(g, 0, "a virtio-mmio device to test");
    if (!d)
        return;
    bool is_rng = d->device_id == VIRTIO_ID_RNG;
    tap_plan(TRANSPORT_TESTS);
    tap_diag("device at 0x%lx, GSI %u -> vector 0x%x: device id %u, vendor id 0x%08x%s", d->base,
             d->irq, d->vector, d->device_id, d->vendor_id,
             d->vendor_id == VIRTIO_MMIO_VENDOR_QEMU ? " (QEMU)" : "");
    char desc[128];

    /* Identification (§4.2.2). */
    uint32_t v = virtio_mmio_read(d, VIRTIO_MMIO_MAGIC_VALUE);
    tap_check(v == VIRTIO_MMIO_MAGIC, "MagicValue is 0x74726976 (\"virt\")", "read 0x%08x", v);
    v = virtio_mmio_read(d, VIRTIO_MMIO_VERSION);
    tap_check(v == 2, "Version is 2 (modern virtio-mmio)", "read %u%s", v,
              v == 1 ? ": legacy virtio-mmio" : "");
    v = virtio_mmio_read(d, VIRTIO_MMIO_DEVICE_ID);
    if (g->cmd.has_expect_id) {
        str_format(desc, sizeof(desc), "DeviceID is %u, as expect_id says", g->cmd.expect_id);
        tap_check(v == g->cmd.expect_id, desc, "read %u", v);
    } else {
        tap_check(v != 0, "DeviceID is not 0", "read %u", v);
    }

    /* Feature paging: DeviceFeaturesSel selects which 32 bits
     * DeviceFeatures shows. VERSION_1 is bit 32, in word 1, and word 0 of
     * a modern device differs from it (even if 0: word 1 is not). */
    uint32_t w0 = virtio_mmio_device_features_word(d, 0);
    uint32_t w1 = virtio_mmio_device_features_word(d, 1);
    uint64_t offered = (uint64_t)w1 << 32 | w0;
    tap_diag("DeviceFeatures: word 0 0x%08x, word 1 0x%08x", w0, w1);
    tap_check(w0 != w1, "DeviceFeaturesSel 0 and 1 select different feature words",
              "both read 0x%08x", w0);
    tap_check(w1 & 1, "VIRTIO_F_VERSION_1 (bit 32) is offered in word 1", "word 1 0x%08x", w1);

    /* The status sequence (§3.1.1), one step per check. */
    tap_check(virtio_mmio_reset(d), "reset: Status reads 0 after writing 0", "Status 0x%x",
              virtio_mmio_status(d));
    uint32_t s = set_status(d, VIRTIO_STATUS_ACKNOWLEDGE);
    tap_check(s == VIRTIO_STATUS_ACKNOWLEDGE, "Status ACKNOWLEDGE reads back", "read 0x%x", s);
    s = set_status(d, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
    tap_check(s == (VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER),
              "Status ACKNOWLEDGE|DRIVER reads back", "read 0x%x", s);
    d->features = offered & DRIVER_FEATURES;
    virtio_mmio_driver_features(d, d->features);
    s = set_status(d, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK);
    str_format(desc, sizeof(desc), "FEATURES_OK reads back set after accepting offered features 0x%lx",
               d->features);
    tap_check(s & VIRTIO_STATUS_FEATURES_OK, desc, "Status 0x%x", s);

    /* Queue 0 (§4.2.3.2). */
    virtio_mmio_write(d, VIRTIO_MMIO_QUEUE_SEL, 0);
    uint32_t max = virtio_mmio_read(d, VIRTIO_MMIO_QUEUE_NUM_MAX);
    tap_check(max != 0, "QueueNumMax of queue 0 is not 0", "read 0");
    v = virtio_mmio_read(d, VIRTIO_MMIO_QUEUE_READY);
    tap_check(v == 0, "QueueReady reads 0 before the queue is set up", "read %u", v);
    const char *err = virtq_setup(&vq, d, 0);
    v = virtio_mmio_read(d, VIRTIO_MMIO_QUEUE_READY);
    tap_check(!err && v == 1, "QueueReady reads 1 after the queue is set up", "%s (read %u)",
              err ? err : "QueueReady", v);
    s = set_status(d, STATUS_ALL_OK);
    tap_check(s == STATUS_ALL_OK, "Status DRIVER_OK reads back, with no NEEDS_RESET or FAILED",
              "read 0x%x", s);

    /* ConfigGeneration (§4.2.2, §2.5.1): two reads with no config change
     * between them agree. */
    uint32_t gen1 = virtio_mmio_read(d, VIRTIO_MMIO_CONFIG_GENERATION);
    uint32_t gen2 = virtio_mmio_read(d, VIRTIO_MMIO_CONFIG_GENERATION);
    tap_diag("ConfigGeneration 0x%x", gen1);
    tap_check(gen1 == gen2, "ConfigGeneration is readable and stable", "read 0x%x then 0x%x", gen1,
              gen2);

    /* Reset (§2.4): status and every queue's QueueReady go back to 0. */
    tap_check(virtio_mmio_reset(d), "reset from DRIVER_OK: Status reads 0 after writing 0",
              "Status 0x%x", virtio_mmio_status(d));
    virtio_mmio_write(d, VIRTIO_MMIO_QUEUE_SEL, 0);
    v = virtio_mmio_read(d, VIRTIO_MMIO_QUEUE_READY);
    tap_check(v == 0, "QueueReady reads 0 after reset", "read %u", v);

    /* A feature the device did not offer: the device must not accept
     * FEATURES_OK (§2.2.2: the device SHOULD NOT accept a subset it cannot
     * support; §3.1.1 step 6: the driver must re-read to find out). */
    unsigned bad = unoffered_bit(offered);
    virtio_mmio_set_status(d, VIRTIO_STATUS_ACKNOWLEDGE);
    virtio_mmio_set_status(d, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
    virtio_mmio_driver_features(d, d->features | (bad < 64 ? 1ull << bad : 0));
    s = set_status(d, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK);
    str_format(desc, sizeof(desc), "FEATURES_OK stays clear when a feature not offered (bit %u) is accepted",
               bad);
    if (bad == 64)
        tap_skip(desc, "the device offers all 64 feature bits");
    else if (d->vendor_id == VIRTIO_MMIO_VENDOR_QEMU && (s & VIRTIO_STATUS_FEATURES_OK))
        /* QEMU's virtio_mmio_write (hw/virtio/virtio-mmio.c) ignores
         * virtio_set_features() failing on a bit it did not offer (it
         * masks the bit off) and sets FEATURES_OK anyway. */
        tap_skip(desc, "QEMU's virtio-mmio masks off features it did not offer and still sets "
                       "FEATURES_OK (Status 0x%x)", s);
    else
        tap_check(!(s & VIRTIO_STATUS_FEATURES_OK), desc, "Status 0x%x", s);
    tap_check(virtio_mmio_reset(d), "reset after the refused negotiation: Status reads 0",
              "Status 0x%x", virtio_mmio_status(d));

    /* Re-initialisation from scratch, then one request where that is
     * possible (virtio-rng needs nothing but a buffer). */
    err = virtio_mmio_init(d, DRIVER_FEATURES);
    if (!err)
        err = virtq_setup(&vq, d, 0);
    s = err ? 0 : set_status(d, STATUS_ALL_OK);
    tap_check(!err && s == STATUS_ALL_OK, "re-initialisation: the full sequence again reaches DRIVER_OK",
              "%s (Status 0x%x)", err ? err : "Status", err ? virtio_mmio_status(d) : s);
    rng_request_and_ack(d, is_rng, !err && s == STATUS_ALL_OK);

    /* Shared memory regions (§4.2.2, §2.10): SHMSel 0 names no region, so
     * its length reads as all ones. */
    virtio_mmio_write(d, VIRTIO_MMIO_SHM_SEL, 0);
    uint32_t lo = virtio_mmio_read(d, VIRTIO_MMIO_SHM_LEN_LOW);
    uint32_t hi = virtio_mmio_read(d, VIRTIO_MMIO_SHM_LEN_HIGH);
    const char *shm = "SHMLenLow/High for SHMSel 0 read 0xffffffff (no shared memory region)";
    if (d->vendor_id == VIRTIO_MMIO_VENDOR_QEMU && !(lo == 0xffffffff && hi == 0xffffffff))
        tap_skip(shm, "vendor id 0x%08x is QEMU, whose virtio-mmio has no SHM registers "
                      "(read 0x%08x/0x%08x)", d->vendor_id, lo, hi);
    else
        tap_check(lo == 0xffffffff && hi == 0xffffffff, shm, "read 0x%08x/0x%08x", lo, hi);

    virtio_mmio_reset(d);
}
