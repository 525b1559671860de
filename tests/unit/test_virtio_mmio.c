/* SPDX-License-Identifier: Apache-2.0 */
/* The virtio-mmio transport (virtio 1.2 §4.2.2) driven by a fake device,
 * with what a driver must do and what a hostile one might. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "record/record.h"
#include "virtio/mmio.h"

struct fake {
    int activated, resets, irqs;
    uint64_t features;
    uint32_t notified;
    uint8_t config[8];
    int activate_rc;
};

static int f_activate(void *d, uint64_t f)
{
    struct fake *x = d;
    x->activated++;
    x->features = f;
    return x->activate_rc;
}
static void f_reset(void *d) { ((struct fake *)d)->resets++; }
static void f_notify(void *d, uint32_t q) { ((struct fake *)d)->notified |= 1u << q; }
static void f_config_read(void *d, uint32_t off, void *data, uint32_t len)
{
    memcpy(data, ((struct fake *)d)->config + off, len);
}
static void f_config_write(void *d, uint32_t off, const void *data, uint32_t len)
{
    memcpy(((struct fake *)d)->config + off, data, len);
}
static void f_irq(void *d) { ((struct fake *)d)->irqs++; }

static const struct virtio_mmio_backend fake_be = {f_activate, f_reset, f_notify, f_config_read,
                                                   f_config_write, f_irq};

static struct guest_mem mem;
static struct virtio_mmio t;
static struct fake dev;

#define DEV_FEATURE (1ull << 5)

static int setup(void **state)
{
    (void)state;
    assert_int_equal(guest_mem_init(&mem, 1 << 20), 0);
    memset(&dev, 0, sizeof(dev));
    memcpy(dev.config, "\x11\x22\x33\x44\x55\x66\x77\x88", 8);
    /* A device that also claims transport bits it may not set itself. */
    assert_int_equal(virtio_mmio_init(&t, &mem, &fake_be, &dev, 4,
                                      DEV_FEATURE | (1ull << 34) | (1ull << 28), 2, 64, 8),
                     0);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    virtio_mmio_destroy(&t);
    guest_mem_fini(&mem);
    return 0;
}

static uint32_t rd(uint32_t off)
{
    uint32_t v;
    virtio_mmio_read(&t, off, (uint8_t *)&v, 4);
    return v;
}

static void wr(uint32_t off, uint32_t v)
{
    virtio_mmio_write(&t, off, (uint8_t *)&v, 4);
}

static void identity(void **state)
{
    (void)state;
    assert_int_equal(rd(VIRTIO_MMIO_MAGIC_VALUE), 0x74726976);
    assert_int_equal(rd(VIRTIO_MMIO_VERSION), 2);
    assert_int_equal(rd(VIRTIO_MMIO_DEVICE_ID), 4);
    assert_int_equal(rd(VIRTIO_MMIO_VENDOR_ID), VIRTIO_MMIO_VENDOR);
    /* Absent shared memory regions read as length -1 (§4.2.2). */
    wr(VIRTIO_MMIO_SHM_SEL, 0);
    assert_int_equal(rd(VIRTIO_MMIO_SHM_LEN_LOW), 0xffffffff);
    assert_int_equal(rd(VIRTIO_MMIO_SHM_LEN_HIGH), 0xffffffff);
}

static uint64_t device_features(void)
{
    wr(VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
    uint64_t lo = rd(VIRTIO_MMIO_DEVICE_FEATURES);
    wr(VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
    uint64_t hi = rd(VIRTIO_MMIO_DEVICE_FEATURES);
    return lo | hi << 32;
}

static void feature_paging(void **state)
{
    (void)state;
    uint64_t f = device_features();
    assert_true(f & DEV_FEATURE);
    assert_true(f & (1ull << VIRTIO_F_VERSION_1));
    assert_true(f & (1ull << VIRTIO_F_INDIRECT_DESC));
    assert_true(f & (1ull << VIRTIO_F_EVENT_IDX));
    assert_false(f & (1ull << 34)); /* packed ring: the transport does not offer it */
    wr(VIRTIO_MMIO_DEVICE_FEATURES_SEL, 2);
    assert_int_equal(rd(VIRTIO_MMIO_DEVICE_FEATURES), 0);
}

static void driver_features(uint64_t f)
{
    wr(VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
    wr(VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)f);
    wr(VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
    wr(VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)(f >> 32));
}

static void negotiate(uint64_t f)
{
    wr(VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE);
    wr(VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
    driver_features(f);
    wr(VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
                               VIRTIO_STATUS_FEATURES_OK);
}

static void setup_queue(uint32_t q, uint32_t num, uint64_t desc, uint64_t drv, uint64_t devarea)
{
    wr(VIRTIO_MMIO_QUEUE_SEL, q);
    wr(VIRTIO_MMIO_QUEUE_NUM, num);
    wr(VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)desc);
    wr(VIRTIO_MMIO_QUEUE_DESC_HIGH, (uint32_t)(desc >> 32));
    wr(VIRTIO_MMIO_QUEUE_DRIVER_LOW, (uint32_t)drv);
    wr(VIRTIO_MMIO_QUEUE_DRIVER_HIGH, (uint32_t)(drv >> 32));
    wr(VIRTIO_MMIO_QUEUE_DEVICE_LOW, (uint32_t)devarea);
    wr(VIRTIO_MMIO_QUEUE_DEVICE_HIGH, (uint32_t)(devarea >> 32));
    wr(VIRTIO_MMIO_QUEUE_READY, 1);
}

static void status_sequence(void **state)
{
    (void)state;
    negotiate((1ull << VIRTIO_F_VERSION_1) | DEV_FEATURE | (1ull << VIRTIO_F_EVENT_IDX));
    assert_true(rd(VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_FEATURES_OK);
    setup_queue(0, 16, 0x1000, 0x2000, 0x3000);
    assert_int_equal(rd(VIRTIO_MMIO_QUEUE_READY), 1);
    assert_true(t.vq[0].event_idx);
    assert_false(t.vq[0].indirect);
    wr(VIRTIO_MMIO_STATUS, 0x0f);
    assert_int_equal(rd(VIRTIO_MMIO_STATUS), 0x0f);
    assert_int_equal(dev.activated, 1);
    assert_true(dev.features == DEV_FEATURE); /* the device sees its own bits only */
    /* Queue registers of a live queue are read-only now. */
    wr(VIRTIO_MMIO_QUEUE_NUM, 4);
    assert_int_equal(t.qreg[0].num, 16);
    /* Notify reaches the device for a live queue only. */
    wr(VIRTIO_MMIO_QUEUE_NOTIFY, 0);
    wr(VIRTIO_MMIO_QUEUE_NOTIFY, 1);
    wr(VIRTIO_MMIO_QUEUE_NOTIFY, 99);
    assert_int_equal(dev.notified, 1);
    /* A driver may not clear bits but by resetting. */
    wr(VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE);
    assert_int_equal(rd(VIRTIO_MMIO_STATUS), 0x0f);
}

static void features_not_offered_refused(void **state)
{
    (void)state;
    negotiate((1ull << VIRTIO_F_VERSION_1) | (1ull << 7));
    assert_false(rd(VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_FEATURES_OK);
    /* DRIVER_OK without FEATURES_OK is not taken either. */
    wr(VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
                               VIRTIO_STATUS_DRIVER_OK);
    assert_false(rd(VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_DRIVER_OK);
    assert_int_equal(dev.activated, 0);
}

static void legacy_driver_refused(void **state)
{
    (void)state;
    negotiate(DEV_FEATURE); /* no VERSION_1 */
    assert_false(rd(VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_FEATURES_OK);
}

static void bad_queue_needs_reset(void **state)
{
    (void)state;
    negotiate(1ull << VIRTIO_F_VERSION_1);
    setup_queue(0, 16, 0xfffff000, 0x2000, 0x3000); /* table outside RAM */
    assert_int_equal(rd(VIRTIO_MMIO_QUEUE_READY), 0);
    assert_true(rd(VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_NEEDS_RESET);
    assert_true(rd(VIRTIO_MMIO_INTERRUPT_STATUS) & VIRTIO_MMIO_INT_CONFIG);
    assert_int_equal(dev.irqs, 1);
    setup_queue(1, 128, 0x1000, 0x2000, 0x3000); /* larger than QueueNumMax */
    assert_int_equal(rd(VIRTIO_MMIO_QUEUE_READY), 0);
    setup_queue(1, 0, 0x1000, 0x2000, 0x3000); /* zero-size queue */
    assert_int_equal(rd(VIRTIO_MMIO_QUEUE_READY), 0);
    wr(VIRTIO_MMIO_QUEUE_SEL, 7); /* no such queue */
    assert_int_equal(rd(VIRTIO_MMIO_QUEUE_NUM_MAX), 0);
    wr(VIRTIO_MMIO_QUEUE_READY, 1);
    assert_int_equal(rd(VIRTIO_MMIO_QUEUE_READY), 0);
}

static void reset_and_reinit(void **state)
{
    (void)state;
    negotiate(1ull << VIRTIO_F_VERSION_1);
    setup_queue(0, 16, 0x1000, 0x2000, 0x3000);
    wr(VIRTIO_MMIO_STATUS, 0x0f);
    virtio_mmio_interrupt(&t, VIRTIO_MMIO_INT_VRING);
    wr(VIRTIO_MMIO_STATUS, 0);
    assert_int_equal(dev.resets, 1);
    assert_int_equal(rd(VIRTIO_MMIO_STATUS), 0);
    assert_int_equal(rd(VIRTIO_MMIO_INTERRUPT_STATUS), 0);
    wr(VIRTIO_MMIO_QUEUE_SEL, 0);
    assert_int_equal(rd(VIRTIO_MMIO_QUEUE_READY), 0);
    assert_false(t.vq[0].ready);
    /* And again, from scratch. */
    negotiate(1ull << VIRTIO_F_VERSION_1);
    setup_queue(0, 32, 0x4000, 0x5000, 0x6000);
    wr(VIRTIO_MMIO_STATUS, 0x0f);
    assert_int_equal(rd(VIRTIO_MMIO_STATUS), 0x0f);
    assert_int_equal(dev.activated, 2);
    assert_int_equal(t.vq[0].num, 32);
}

/* §2.1.2: a device whose activate failed is not live: DRIVER_OK does not
 * read back, DEVICE_NEEDS_RESET does, with a configuration change
 * notification, and no queue notify reaches the device until a reset. */
static void activate_failure_needs_reset(void **state)
{
    (void)state;
    dev.activate_rc = -5;
    negotiate(1ull << VIRTIO_F_VERSION_1);
    setup_queue(0, 16, 0x1000, 0x2000, 0x3000);
    wr(VIRTIO_MMIO_STATUS, 0x0f);
    assert_int_equal(dev.activated, 1);
    uint32_t s = rd(VIRTIO_MMIO_STATUS);
    assert_true(s & VIRTIO_STATUS_NEEDS_RESET);
    assert_false(s & VIRTIO_STATUS_DRIVER_OK);
    assert_true(rd(VIRTIO_MMIO_INTERRUPT_STATUS) & VIRTIO_MMIO_INT_CONFIG);
    assert_int_equal(dev.irqs, 1);
    wr(VIRTIO_MMIO_QUEUE_NOTIFY, 0);
    assert_int_equal(dev.notified, 0);
    assert_false(virtio_mmio_queue_live(&t, 0)); /* the doorbells' check */
    /* DRIVER_OK again does not activate a device that needs a reset. */
    wr(VIRTIO_MMIO_STATUS, 0x0f);
    assert_int_equal(dev.activated, 1);
    assert_false(rd(VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_DRIVER_OK);
    wr(VIRTIO_MMIO_QUEUE_NOTIFY, 0);
    assert_int_equal(dev.notified, 0);
    /* A reset clears it; the device then comes up as usual. */
    wr(VIRTIO_MMIO_STATUS, 0);
    assert_int_equal(rd(VIRTIO_MMIO_STATUS), 0);
    dev.activate_rc = 0;
    negotiate(1ull << VIRTIO_F_VERSION_1);
    setup_queue(0, 16, 0x1000, 0x2000, 0x3000);
    wr(VIRTIO_MMIO_STATUS, 0x0f);
    assert_int_equal(rd(VIRTIO_MMIO_STATUS), 0x0f);
    assert_true(virtio_mmio_queue_live(&t, 0));
    wr(VIRTIO_MMIO_QUEUE_NOTIFY, 0);
    assert_int_equal(dev.notified, 1);
}

/* A device that set DEVICE_NEEDS_RESET while live (a ring the guest broke)
 * gets no queue notify either until the driver resets it. */
static void needs_reset_stops_notify(void **state)
{
    (void)state;
    negotiate(1ull << VIRTIO_F_VERSION_1);
    setup_queue(0, 16, 0x1000, 0x2000, 0x3000);
    wr(VIRTIO_MMIO_STATUS, 0x0f);
    virtio_mmio_needs_reset(&t);
    assert_int_equal(rd(VIRTIO_MMIO_STATUS), 0x0f | VIRTIO_STATUS_NEEDS_RESET);
    wr(VIRTIO_MMIO_QUEUE_NOTIFY, 0);
    assert_int_equal(dev.notified, 0);
}

/* §6: bits 24 to 41 are the transport's. A plugin's bits there never reach
 * the driver (24..27 were let through: NOTIFY_ON_EMPTY, ANY_LAYOUT, which
 * this transport does not implement); the transport offers VERSION_1,
 * INDIRECT_DESC and EVENT_IDX of its own, and the device's bits on either
 * side of the range stay. */
static void transport_feature_range(void **state)
{
    (void)state;
    uint64_t plugin = DEV_FEATURE | 0xfull << 24 | 1ull << 30 | 1ull << 33 | 1ull << 41 |
                      1ull << 23 | 1ull << 50;
    struct fake d2 = {0};
    struct virtio_mmio t2;
    assert_int_equal(virtio_mmio_init(&t2, &mem, &fake_be, &d2, 4, plugin, 2, 64, 8), 0);
    uint64_t f = 0;
    for (uint32_t sel = 0; sel < 2; sel++) {
        uint32_t v;
        virtio_mmio_write(&t2, VIRTIO_MMIO_DEVICE_FEATURES_SEL, (uint8_t *)&sel, 4);
        virtio_mmio_read(&t2, VIRTIO_MMIO_DEVICE_FEATURES, (uint8_t *)&v, 4);
        f |= (uint64_t)v << (32 * sel);
    }
    uint64_t transport = (1ull << VIRTIO_F_VERSION_1) | (1ull << VIRTIO_F_INDIRECT_DESC) |
                         (1ull << VIRTIO_F_EVENT_IDX);
    assert_true(f == (DEV_FEATURE | 1ull << 23 | 1ull << 50 | transport));
    /* What device.c warns about, once, at creation. */
    assert_true(t2.dropped == (0xfull << 24 | 1ull << 30 | 1ull << 33 | 1ull << 41));
    virtio_mmio_destroy(&t2);
    /* A driver that accepts bit 24 accepts a bit that was not offered. */
    negotiate((1ull << VIRTIO_F_VERSION_1) | (1ull << 24));
    assert_false(rd(VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_FEATURES_OK);
}

/* §2.2.2 / §3.1.1: the ring layout follows the features only once
 * FEATURES_OK stands. A driver that wrote EVENT_IDX and INDIRECT_DESC but
 * never set FEATURES_OK, or had it refused, does not get its rings read
 * with used_event/avail_event or indirect tables; nor does one that writes
 * DriverFeatures after FEATURES_OK. */
static void ring_features_need_features_ok(void **state)
{
    (void)state;
    uint64_t ring = (1ull << VIRTIO_F_EVENT_IDX) | (1ull << VIRTIO_F_INDIRECT_DESC);
    wr(VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
    driver_features((1ull << VIRTIO_F_VERSION_1) | ring);
    setup_queue(0, 16, 0x1000, 0x2000, 0x3000);
    assert_false(t.vq[0].event_idx || t.vq[0].indirect);
    assert_int_equal(rd(VIRTIO_MMIO_QUEUE_READY), 0);

    /* FEATURES_OK refused (bit 7 was not offered). */
    wr(VIRTIO_MMIO_STATUS, 0);
    negotiate((1ull << VIRTIO_F_VERSION_1) | ring | (1ull << 7));
    assert_false(rd(VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_FEATURES_OK);
    setup_queue(0, 16, 0x1000, 0x2000, 0x3000);
    assert_false(t.vq[0].event_idx || t.vq[0].indirect);
    assert_int_equal(rd(VIRTIO_MMIO_QUEUE_READY), 0);

    /* DriverFeatures written after FEATURES_OK: ignored. */
    wr(VIRTIO_MMIO_STATUS, 0);
    negotiate(1ull << VIRTIO_F_VERSION_1);
    assert_true(rd(VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_FEATURES_OK);
    driver_features((1ull << VIRTIO_F_VERSION_1) | ring);
    assert_true(t.driver_features == 1ull << VIRTIO_F_VERSION_1);
    setup_queue(0, 16, 0x1000, 0x2000, 0x3000);
    assert_int_equal(rd(VIRTIO_MMIO_QUEUE_READY), 1);
    assert_false(t.vq[0].event_idx || t.vq[0].indirect);
    wr(VIRTIO_MMIO_STATUS, 0x0f);
    assert_true(dev.features == 0);
}

static void interrupt_ack(void **state)
{
    (void)state;
    virtio_mmio_interrupt(&t, VIRTIO_MMIO_INT_VRING);
    virtio_mmio_config_changed(&t);
    assert_int_equal(rd(VIRTIO_MMIO_INTERRUPT_STATUS), 3);
    assert_int_equal(rd(VIRTIO_MMIO_CONFIG_GENERATION), 1);
    wr(VIRTIO_MMIO_INTERRUPT_ACK, VIRTIO_MMIO_INT_VRING);
    assert_int_equal(rd(VIRTIO_MMIO_INTERRUPT_STATUS), 2);
    wr(VIRTIO_MMIO_INTERRUPT_ACK, 0xffffffff);
    assert_int_equal(rd(VIRTIO_MMIO_INTERRUPT_STATUS), 0);
    assert_int_equal(dev.irqs, 2);
}

static void config_space_widths(void **state)
{
    (void)state;
    uint8_t b[8] = {0};
    virtio_mmio_read(&t, 0x100, b, 1);
    assert_int_equal(b[0], 0x11);
    virtio_mmio_read(&t, 0x102, b, 2);
    assert_int_equal(b[0] | b[1] << 8, 0x4433);
    virtio_mmio_read(&t, 0x104, b, 4);
    assert_memory_equal(b, "\x55\x66\x77\x88", 4);
    virtio_mmio_read(&t, 0x100, b, 8);
    assert_memory_equal(b, "\x11\x22\x33\x44\x55\x66\x77\x88", 8);
    virtio_mmio_write(&t, 0x101, (const uint8_t *)"\xaa", 1);
    assert_int_equal(dev.config[1], 0xaa);
    /* Past the config space, or odd widths: zeros, writes dropped. */
    memset(b, 0x5a, 8);
    virtio_mmio_read(&t, 0x105, b, 4);
    assert_memory_equal(b, "\0\0\0\0", 4);
    virtio_mmio_read(&t, 0x100, b, 3);
    assert_memory_equal(b, "\0\0\0", 3);
    virtio_mmio_write(&t, 0x107, (const uint8_t *)"\1\2", 2);
    assert_int_equal(dev.config[7], 0x88);
    /* Registers take aligned 4-byte accesses only. */
    memset(b, 0x5a, 8);
    virtio_mmio_read(&t, VIRTIO_MMIO_MAGIC_VALUE, b, 2);
    assert_memory_equal(b, "\0\0", 2);
    virtio_mmio_read(&t, VIRTIO_MMIO_MAGIC_VALUE + 1, b, 4);
    assert_memory_equal(b, "\0\0\0\0", 4);
}

static void every_offset_every_width(void **state)
{
    (void)state;
    /* Whatever is written anywhere, in any order, nothing breaks and the
     * state machine's invariant holds: DRIVER_OK only with FEATURES_OK. */
    static const uint32_t widths[] = {1, 2, 4, 8};
    uint64_t values[] = {0, 1, 0xf, 0xff, 0x8000, 0xffffffff, 0x1000, UINT64_MAX};
    srand(1);
    for (int round = 0; round < 3; round++)
        for (uint32_t off = 0; off < VIRTIO_MMIO_WINDOW + 8; off++)
            for (size_t w = 0; w < 4; w++) {
                uint64_t v = values[(size_t)rand() % 8];
                virtio_mmio_write(&t, off, (uint8_t *)&v, widths[w]);
                uint8_t r[8];
                virtio_mmio_read(&t, off, r, widths[w]);
                uint32_t s = rd(VIRTIO_MMIO_STATUS);
                if ((s & VIRTIO_STATUS_DRIVER_OK) && !(s & VIRTIO_STATUS_FEATURES_OK))
                    fail_msg("DRIVER_OK without FEATURES_OK after a write at 0x%x", off);
            }
}

/* Offers chain `head` (one device-writable 64-byte buffer) on queue 0,
 * whose rings test_snapshot laid at 0x1000 / 0x2000 / 0x3000. */
static void offer(uint16_t head)
{
    uint8_t *d = mem.base + 0x1000 + 16u * head;
    uint64_t addr = 0x8000 + 64u * head;
    uint32_t len = 64;
    uint16_t flags = 2; /* VIRTQ_DESC_F_WRITE */
    memcpy(d, &addr, 8);
    memcpy(d + 8, &len, 4);
    memcpy(d + 12, &flags, 2);
    uint16_t *avail = (uint16_t *)(mem.base + 0x2000);
    avail[2 + (avail[1] % 16)] = head;
    avail[1]++;
}

/* A snapshot of a live transport restored into a fresh one for the same
 * device: registers, status, interrupt status, queues at their cursors,
 * and the device activated with the features the driver took. */
static void snapshot_round_trip(void **state)
{
    (void)state;
    uint64_t feat = (1ull << VIRTIO_F_VERSION_1) | DEV_FEATURE | (1ull << VIRTIO_F_EVENT_IDX) |
                    (1ull << VIRTIO_F_INDIRECT_DESC);
    negotiate(feat);
    setup_queue(0, 16, 0x1000, 0x2000, 0x3000);
    setup_queue(1, 8, 0x4000, 0x5000, 0x6000);
    wr(VIRTIO_MMIO_STATUS, 0x0f);
    struct plugvm_chain c;
    offer(0);
    assert_int_equal(virtq_pop(&t.vq[0], &c), 1);
    assert_int_equal(virtq_push(&t.vq[0], &c, 64), 0);
    /* In flight: refused. */
    offer(1);
    assert_int_equal(virtq_pop(&t.vq[0], &c), 1);
    struct record_buf_writer w;
    record_writer_init(&w);
    char err[256];
    assert_int_equal(virtio_mmio_save(&t, &w.handle, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "queue 0 has a request in flight"));
    assert_int_equal(virtq_push(&t.vq[0], &c, 64), 0);
    offer(2); /* left in the avail ring for after the restore */
    virtio_mmio_interrupt(&t, VIRTIO_MMIO_INT_VRING);
    wr(VIRTIO_MMIO_QUEUE_SEL, 1);
    record_writer_fini(&w);
    record_writer_init(&w);
    assert_int_equal(virtio_mmio_save(&t, &w.handle, err, sizeof(err)), 0);

    struct fake dev2 = {0};
    struct virtio_mmio t2;
    assert_int_equal(virtio_mmio_init(&t2, &mem, &fake_be, &dev2, 4,
                                      DEV_FEATURE | (1ull << 34) | (1ull << 28), 2, 64, 8), 0);
    struct record_buf_reader r;
    assert_int_equal(record_reader_init(&r, w.data, w.len), 0);
    assert_int_equal(virtio_mmio_restore(&t2, &r.handle, err, sizeof(err)), 0);
    assert_int_equal(dev2.activated, 1);
    assert_true(dev2.features == DEV_FEATURE);
    assert_int_equal(t2.status, 0x0f);
    assert_true(t2.driver_features == feat);
    assert_int_equal(t2.queue_sel, 1);
    assert_int_equal(atomic_load(&t2.interrupt_status), VIRTIO_MMIO_INT_VRING);
    assert_true(t2.qreg[1].ready && t2.qreg[1].num == 8 && t2.qreg[1].device == 0x6000);
    assert_true(t2.vq[0].event_idx && t2.vq[0].indirect);
    struct virtq_cursors a, b;
    assert_true(virtq_get_cursors(&t.vq[0], &a));
    assert_true(virtq_get_cursors(&t2.vq[0], &b));
    assert_int_equal(b.last_avail, 2);
    assert_int_equal(b.used_idx, 2);
    assert_int_equal(a.signalled_used, b.signalled_used);
    /* The restored queue carries on where the first left off. */
    assert_int_equal(virtq_pop(&t2.vq[0], &c), 1);
    assert_int_equal(c.head, 2);
    assert_int_equal(virtq_push(&t2.vq[0], &c, 64), 0);
    assert_int_equal(*(uint16_t *)(mem.base + 0x3000 + 2), 3); /* used->idx */
    virtio_mmio_destroy(&t2);

    /* Another device, or a cut record: refused, nothing set up. */
    struct fake dev3 = {0};
    struct virtio_mmio t3;
    assert_int_equal(virtio_mmio_init(&t3, &mem, &fake_be, &dev3, 2, DEV_FEATURE, 2, 64, 8), 0);
    assert_int_equal(record_reader_init(&r, w.data, w.len), 0);
    assert_int_equal(virtio_mmio_restore(&t3, &r.handle, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "virtio device 4 with 2 queues"));
    virtio_mmio_destroy(&t3);
    assert_int_equal(virtio_mmio_init(&t3, &mem, &fake_be, &dev3, 4, DEV_FEATURE, 2, 64, 8), 0);
    w.data[8] = (uint8_t)(w.data[8] - 3); /* body length: the last 3 bytes dropped */
    assert_int_equal(record_reader_init(&r, w.data, w.len - 3), 0);
    assert_int_equal(virtio_mmio_restore(&t3, &r.handle, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "truncated"));
    assert_false(t3.qreg[0].ready);
    assert_int_equal(dev3.activated, 0);
    virtio_mmio_destroy(&t3);
    record_writer_fini(&w);
}

/* Saves t into w (set up by the caller with record_writer_init). */
static void save(struct record_buf_writer *w)
{
    char err[256];
    assert_int_equal(virtio_mmio_save(&t, &w->handle, err, sizeof(err)), 0);
}

/* Restores w into *t2, a fresh transport for the same device as t, behind
 * *d2. The return value of virtio_mmio_restore. */
static int restore(struct record_buf_writer *w, struct virtio_mmio *t2, struct fake *d2,
                   char *err, size_t errlen)
{
    assert_int_equal(virtio_mmio_init(t2, &mem, &fake_be, d2, 4,
                                      DEV_FEATURE | (1ull << 34) | (1ull << 28), 2, 64, 8), 0);
    struct record_buf_reader r;
    assert_int_equal(record_reader_init(&r, w->data, w->len), 0);
    return virtio_mmio_restore(t2, &r.handle, err, errlen);
}

/* A snapshot of a live device restored where its activate fails: refused
 * with a message, as any other restore that does not fit, and the
 * transport left as virtio_mmio_init made it, no queue live, no notify
 * delivered, so a caller that carried on would have a device in reset
 * rather than a DRIVER_OK that stands for a device that is not running. */
static void restore_activate_failure_refused(void **state)
{
    (void)state;
    negotiate((1ull << VIRTIO_F_VERSION_1) | (1ull << VIRTIO_F_EVENT_IDX));
    setup_queue(0, 16, 0x1000, 0x2000, 0x3000);
    wr(VIRTIO_MMIO_STATUS, 0x0f);
    wr(VIRTIO_MMIO_QUEUE_SEL, 1);
    wr(VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
    struct record_buf_writer w;
    record_writer_init(&w);
    save(&w);
    struct fake d2 = {.activate_rc = -5};
    struct virtio_mmio t2;
    char err[256];
    assert_int_equal(restore(&w, &t2, &d2, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "could not be activated"));
    assert_int_equal(d2.activated, 1);
    uint32_t v;
    virtio_mmio_read(&t2, VIRTIO_MMIO_STATUS, (uint8_t *)&v, 4);
    assert_int_equal(v, 0);
    assert_int_equal(t2.queue_sel, 0);
    assert_int_equal(t2.dev_features_sel, 0);
    assert_true(t2.driver_features == 0);
    assert_false(t2.qreg[0].ready || t2.vq[0].ready);
    v = 0;
    virtio_mmio_write(&t2, VIRTIO_MMIO_QUEUE_NOTIFY, (uint8_t *)&v, 4);
    assert_int_equal(d2.notified, 0);
    virtio_mmio_destroy(&t2);
    record_writer_fini(&w);
}

/* A snapshot of a device that had set DEVICE_NEEDS_RESET after DRIVER_OK
 * is restored without activating the device, so no queue notify may reach
 * it either: it would land on a plugin that was never activated. */
static void restore_needs_reset_not_live(void **state)
{
    (void)state;
    negotiate(1ull << VIRTIO_F_VERSION_1);
    setup_queue(0, 16, 0x1000, 0x2000, 0x3000);
    wr(VIRTIO_MMIO_STATUS, 0x0f);
    virtio_mmio_needs_reset(&t);
    struct record_buf_writer w;
    record_writer_init(&w);
    save(&w);
    struct fake d2 = {0};
    struct virtio_mmio t2;
    char err[256];
    assert_int_equal(restore(&w, &t2, &d2, err, sizeof(err)), 0);
    assert_int_equal(d2.activated, 0);
    uint32_t v;
    virtio_mmio_read(&t2, VIRTIO_MMIO_STATUS, (uint8_t *)&v, 4);
    assert_true(v & VIRTIO_STATUS_NEEDS_RESET);
    v = 0;
    virtio_mmio_write(&t2, VIRTIO_MMIO_QUEUE_NOTIFY, (uint8_t *)&v, 4);
    assert_int_equal(d2.notified, 0);
    virtio_mmio_destroy(&t2);
    record_writer_fini(&w);
}

/* A record whose queue is ready with EVENT_IDX among the driver's features
 * but no FEATURES_OK (what the transport used to let a driver reach) is
 * refused: restoring it would read the rings with used_event/avail_event
 * for a driver that never had the feature. */
static void restore_ring_features_need_features_ok(void **state)
{
    (void)state;
    negotiate((1ull << VIRTIO_F_VERSION_1) | (1ull << VIRTIO_F_EVENT_IDX));
    setup_queue(0, 16, 0x1000, 0x2000, 0x3000);
    t.status &= ~(uint32_t)VIRTIO_STATUS_FEATURES_OK;
    struct record_buf_writer w;
    record_writer_init(&w);
    save(&w);
    struct fake d2 = {0};
    struct virtio_mmio t2;
    char err[256];
    int rc = restore(&w, &t2, &d2, err, sizeof(err));
    assert_false(t2.vq[0].event_idx);
    assert_int_equal(rc, -1);
    assert_non_null(strstr(err, "FEATURES_OK"));
    virtio_mmio_destroy(&t2);
    record_writer_fini(&w);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(identity),         T(feature_paging),     T(status_sequence),
        T(features_not_offered_refused), T(legacy_driver_refused), T(bad_queue_needs_reset),
        T(reset_and_reinit), T(activate_failure_needs_reset), T(interrupt_ack),
        T(config_space_widths), T(every_offset_every_width), T(snapshot_round_trip),
        T(transport_feature_range), T(ring_features_need_features_ok),
        T(restore_ring_features_need_features_ok), T(needs_reset_stops_notify),
        T(restore_activate_failure_refused), T(restore_needs_reset_not_live),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
