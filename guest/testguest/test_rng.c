/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test=rng: a virtio-rng device (virtio 1.2 §5.4: device id 4, one queue,
 * requestq, whose buffers are device-writable and come back filled with
 * random bytes). Three reads of 64 bytes:
 *   1. through one direct descriptor, asking for an interrupt;
 *   2. through an indirect table of two descriptors when INDIRECT_DESC was
 *      negotiated, else a direct chain of two, asking for an interrupt;
 *   3. asking for no interrupt (with EVENT_IDX: used_event behind the next
 *      used index; without: VIRTQ_AVAIL_F_NO_INTERRUPT), found by polling.
 * The interrupt checks follow what used_event (or the flag) asked for.
 */
#include <stddef.h>

#include "clock.h"
#include "console.h"
#include "irq.h"
#include "lib.h"
#include "tap.h"
#include "tests.h"
#include "virtqueue.h"

#define RNG_TESTS 13
#define RNG_LEN 64
/* How long to watch for an interrupt that should not come. */
#define QUIET_US 50000

#define STATUS_ALL_OK (VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | \
                       VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DRIVER_OK)

static struct virtq vq;
static uint8_t buf[3][RNG_LEN] __attribute__((aligned(64)));
static struct virtq_desc indirect_table[2] __attribute__((aligned(16)));

struct read_result {
    bool used;      /* a used buffer came back for our head */
    uint32_t len;
    const char *why;
};

/* Posts one request, waits (bounded) for the used buffer by polling the
 * used ring: whether an interrupt came is checked apart from this. */
static struct read_result rng_read(int head)
{
    struct read_result r = {false, 0, NULL};
    if (head < 0) {
        r.why = "no free descriptors";
        return r;
    }
    virtq_publish(&vq, (uint16_t)head);
    virtq_kick(&vq);
    if (!virtq_wait_used(&vq, VIRTIO_IO_TIMEOUT_US)) {
        r.why = "no used buffer within the timeout";
        return r;
    }
    int id = virtq_get_used(&vq, &r.len);
    if (id != head) {
        r.why = "the used buffer's id is not the request's head";
        return r;
    }
    r.used = true;
    return r;
}

static void check_read(const char *what, struct read_result r)
{
    char desc[128];
    str_format(desc, sizeof(desc), "%s completes", what);
    tap_check(r.used, desc, "%s", r.why ? r.why : "?");
    str_format(desc, sizeof(desc), "%s returns bytes (0 < used length <= %u)", what, RNG_LEN);
    tap_check(r.used && r.len > 0 && r.len <= RNG_LEN, desc, "used length %u", r.len);
}

/* The interrupt for a read that asked for one: the per-vector count moved
 * and InterruptStatus says "used buffer"; acknowledged either way. */
static void check_interrupt(struct virtio_dev *d, const char *what, uint32_t seen)
{
    char desc[128];
    uint32_t n = irq_wait(d->vector, seen, VIRTIO_IO_TIMEOUT_US);
    uint32_t isr = virtio_mmio_ack_interrupt(d);
    str_format(desc, sizeof(desc), "%s: the interrupt was delivered and InterruptStatus bit 0 set",
               what);
    tap_check(n != seen && (isr & VIRTIO_MMIO_INT_VRING), desc,
              "irq_count[0x%x] %u -> %u, InterruptStatus 0x%x", d->vector, seen, n, isr);
}

void test_rng(struct guest *g)
{
    struct virtio_dev *d = guest_need_device(g, VIRTIO_ID_RNG, "a virtio-rng device (device id 4)");
    if (!d)
        return;
    tap_plan(RNG_TESTS);
    tap_diag("virtio-rng at 0x%lx, GSI %u -> vector 0x%x, vendor id 0x%08x", d->base, d->irq,
             d->vector, d->vendor_id);

    const char *err = virtio_mmio_init(
        d, 1ull << VIRTIO_F_INDIRECT_DESC | 1ull << VIRTIO_F_EVENT_IDX);
    bool indirect = virtio_has(d->features, VIRTIO_F_INDIRECT_DESC);
    bool event_idx = virtio_has(d->features, VIRTIO_F_EVENT_IDX);
    tap_diag("features offered 0x%lx, negotiated 0x%lx: VERSION_1%s%s", d->offered, d->features,
             indirect ? ", INDIRECT_DESC" : "", event_idx ? ", EVENT_IDX" : "");
    if (!tap_check(!err, "feature negotiation reaches FEATURES_OK with VERSION_1", "%s", err)) {
        tap_bail_out("the device cannot be initialised");
        return;
    }
    err = virtq_setup(&vq, d, 0);
    if (!tap_check(!err, "requestq (queue 0) is set up", "%s", err)) {
        tap_bail_out("no queue");
        return;
    }
    tap_diag("requestq: QueueNumMax %u, using %u descriptors", virtio_mmio_read(d, VIRTIO_MMIO_QUEUE_NUM_MAX),
             vq.num);
    virtio_mmio_set_status(d, STATUS_ALL_OK);
    uint32_t s = virtio_mmio_status(d);
    tap_check(s == STATUS_ALL_OK, "DRIVER_OK reads back, with no NEEDS_RESET or FAILED", "Status 0x%x",
              s);

    /* Read 1: one direct descriptor. */
    virtq_want_interrupt(&vq, true);
    uint32_t seen = irq_count[d->vector];
    struct virtq_buf one = {(uintptr_t)buf[0], RNG_LEN, true};
    struct read_result r1 = rng_read(virtq_add_chain(&vq, &one, 1));
    check_read("read 1 (one direct descriptor)", r1);
    check_interrupt(d, "read 1", seen);

    /* Read 2: two descriptors, in an indirect table where negotiated. */
    virtq_want_interrupt(&vq, true);
    seen = irq_count[d->vector];
    struct virtq_buf two[2] = {
        {(uintptr_t)buf[1], RNG_LEN / 2, true},
        {(uintptr_t)buf[1] + RNG_LEN / 2, RNG_LEN / 2, true},
    };
    const char *what2 = indirect ? "read 2 (indirect table of two descriptors)"
                                 : "read 2 (direct chain of two; INDIRECT_DESC not offered)";
    int head = indirect ? virtq_add_indirect(&vq, indirect_table, two, 2) : virtq_add_chain(&vq, two, 2);
    struct read_result r2 = rng_read(head);
    check_read(what2, r2);
    check_interrupt(d, "read 2", seen);

    uint32_t n = r1.len < r2.len ? r1.len : r2.len;
    tap_check(r1.used && r2.used && n > 0 && memcmp(buf[0], buf[1], n) != 0,
              "the two reads returned different bytes", "%u bytes compared, equal", n);

    /* Read 3: no interrupt wanted. */
    virtq_want_interrupt(&vq, false);
    seen = irq_count[d->vector];
    struct virtq_buf three = {(uintptr_t)buf[2], RNG_LEN, true};
    struct read_result r3 = rng_read(virtq_add_chain(&vq, &three, 1));
    tap_check(r3.used && r3.len > 0, event_idx ? "read 3 (used_event set behind) completes, found by polling"
                                               : "read 3 (VIRTQ_AVAIL_F_NO_INTERRUPT) completes, found by polling",
              "%s (used length %u)", r3.why ? r3.why : "no bytes", r3.len);
    uint32_t later = irq_wait(d->vector, seen, QUIET_US);
    uint32_t isr = virtio_mmio_ack_interrupt(d);
    tap_check(later == seen && !(isr & VIRTIO_MMIO_INT_VRING),
              event_idx ? "read 3: no interrupt, as used_event asked"
                        : "read 3: no interrupt, as VIRTQ_AVAIL_F_NO_INTERRUPT asked",
              "irq_count[0x%x] %u -> %u, InterruptStatus 0x%x", d->vector, seen, later, isr);

    tap_check(virtio_mmio_reset(d), "reset: Status reads 0 after writing 0", "Status 0x%x",
              virtio_mmio_status(d));
}
