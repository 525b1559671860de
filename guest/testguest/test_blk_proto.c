/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test=blk's protocol checks: GET_ID and the serial; requests a driver
 * should not send (an unknown type, no or zero-length data, data in the
 * wrong direction, data not a whole number of sectors), each with the
 * status virtio 1.2 §5.2.6 calls for; FLUSH; the interrupt for a used
 * buffer when the driver asks for one.
 */
#include <stddef.h>

#include "blk_pattern.h"
#include "console.h"
#include "irq.h"
#include "lib.h"
#include "tap.h"
#include "test_blk.h"

/* Where the checks that must leave a sector alone look. */
#define PROTO_SECTOR (BT_SCRATCH + 768)
#define ID_FILL 0xa5

static struct blk_req req;
static uint8_t id[32] __attribute__((aligned(64)));
static uint8_t small[100] __attribute__((aligned(64)));
static uint8_t before[BLK_SECTOR];

/* A request with the given data buffers (direction chosen per buffer). */
static int run_with(struct blk_test *t, uint32_t type, uint64_t sector, void *buf, uint32_t len,
                    bool device_writes, unsigned nbufs)
{
    blk_req_init(&req, type, sector);
    if (nbufs)
        blk_req_add(&req, buf, len, device_writes);
    return blk_run(&t->b, 0, &req);
}

static void get_id_checks(struct blk_test *t)
{
    const struct cmdline_blk *k = &t->g->cmd.blk;
    memset(id, ID_FILL, sizeof(id));
    int s = run_with(t, VIRTIO_BLK_T_GET_ID, 0, id, BLK_ID_BYTES, true, 1);
    char got[BLK_ID_BYTES + 1];
    unsigned glen = 0;
    while (glen < BLK_ID_BYTES && id[glen] && id[glen] != ID_FILL)
        got[glen] = (char)id[glen], glen++;
    got[glen] = '\0';
    tap_diag("GET_ID: status %s, used length %u, serial '%s'", blk_status_name(s), req.used_len, got);
    /* The used length is the status byte and the 20 ID bytes, which the
     * device owns whole: NUL padding is part of the answer. */
    bool len_ok = req.used_len == BLK_ID_BYTES + 1;
    tap_check(s == VIRTIO_BLK_S_OK &&
                  bt_accept(t, len_ok, req.used_len > 1,
                            "GET_ID's used length counts only the serial's bytes and its NUL"),
              "GET_ID with a 20-byte buffer gets OK, used length 21", "status %s, used length %u",
              blk_status_name(s), req.used_len);

    if (!k->serial) {
        tap_skip("GET_ID returns blk_serial=, NUL-padded to 20 bytes", "no blk_serial= on the command line");
    } else {
        unsigned n = k->serial_len < BLK_ID_BYTES ? k->serial_len : BLK_ID_BYTES;
        bool prefix = s == VIRTIO_BLK_S_OK && memcmp(id, k->serial, n) == 0;
        bool padded = bt_all(id + n, BLK_ID_BYTES - n, 0);
        /* QEMU writes the serial and one NUL, and leaves the rest. */
        bool qemu_padded = n == BLK_ID_BYTES || id[n] == 0;
        tap_check(prefix && bt_accept(t, padded, qemu_padded,
                                      "GET_ID writes the serial and one NUL, not 20 NUL-padded bytes"),
                  "GET_ID returns blk_serial=, NUL-padded to 20 bytes",
                  "got '%s' (%u bytes before a NUL or untouched byte), %s", got, glen,
                  padded ? "padded" : "not NUL-padded to 20 bytes");
    }

    memset(id, ID_FILL, sizeof(id));
    s = run_with(t, VIRTIO_BLK_T_GET_ID, 0, id, 8, true, 1);
    tap_check(bt_accept(t, s == VIRTIO_BLK_S_IOERR, s == VIRTIO_BLK_S_OK,
                        "GET_ID into an 8-byte buffer gets OK with the serial cut short"),
              "GET_ID with an 8-byte buffer (less than 20) gets IOERR", "status %s",
              blk_status_name(s));
}

/* A write that must fail and leave PROTO_SECTOR as it was. */
static void unchanged_after(struct blk_test *t, const char *desc, int s, int want, bool qemu_ok,
                            const char *difference)
{
    int r = bt_read(t, PROTO_SECTOR, 1);
    bool same = r == VIRTIO_BLK_S_OK && memcmp(before, bt_rbuf, BLK_SECTOR) == 0;
    tap_check(same && bt_accept(t, s == want, qemu_ok, difference), desc,
              "status %s, want %s; sector %lu %s (read %s)", blk_status_name(s),
              blk_status_name(want), (uint64_t)PROTO_SECTOR, same ? "unchanged" : "changed",
              blk_status_name(r));
}

static void malformed_checks(struct blk_test *t)
{
    int s = run_with(t, 99, 0, NULL, 0, false, 0);
    tap_check(s == VIRTIO_BLK_S_UNSUPP, "an unknown request type (99) gets UNSUPP", "status %s",
              blk_status_name(s));

    s = run_with(t, VIRTIO_BLK_T_IN, BT_SCRATCH, NULL, 0, true, 0);
    tap_check(s == VIRTIO_BLK_S_OK, "IN with no data buffer (0 bytes) gets OK", "status %s",
              blk_status_name(s));
    if (!bt_skip_ro(t, "OUT with no data buffer (0 bytes) gets OK")) {
        s = run_with(t, VIRTIO_BLK_T_OUT, BT_SCRATCH, NULL, 0, false, 0);
        tap_check(s == VIRTIO_BLK_S_OK, "OUT with no data buffer (0 bytes) gets OK", "status %s",
                  blk_status_name(s));
    }

    /* QEMU's virtqueue_pop refuses zero-sized buffers with virtio_error(),
     * which breaks the device until reset: not sent to QEMU. */
    const char *zin = "IN with a zero-length data descriptor gets OK";
    const char *zout = "OUT with a zero-length data descriptor gets OK";
    if (t->qemu) {
        tap_diag("QEMU (vendor id 0x%08x) differs here: zero-sized buffers break its device",
                 t->d->vendor_id);
        tap_skip(zin, "QEMU refuses zero-sized buffers");
        tap_skip(zout, "QEMU refuses zero-sized buffers");
    } else {
        s = run_with(t, VIRTIO_BLK_T_IN, BT_SCRATCH, bt_rbuf, 0, true, 1);
        tap_check(s == VIRTIO_BLK_S_OK, zin, "status %s", blk_status_name(s));
        if (!bt_skip_ro(t, zout)) {
            s = run_with(t, VIRTIO_BLK_T_OUT, BT_SCRATCH, bt_wbuf, 0, false, 1);
            tap_check(s == VIRTIO_BLK_S_OK, zout, "status %s", blk_status_name(s));
        }
    }

    /* Wrong directions. QEMU takes the device-writable buffers after the
     * header as the data whatever the type: IN then reads 0 bytes and OUT
     * writes 0 bytes, both OK. */
    memset(bt_rbuf, 0x5c, BLK_SECTOR);
    s = run_with(t, VIRTIO_BLK_T_IN, PROTO_SECTOR, bt_rbuf, BLK_SECTOR, false, 1);
    tap_check(bt_accept(t, s == VIRTIO_BLK_S_IOERR, s == VIRTIO_BLK_S_OK,
                        "IN with a device-readable data buffer reads nothing and gets OK"),
              "IN with a device-readable data buffer gets IOERR", "status %s", blk_status_name(s));

    int r = bt_read(t, PROTO_SECTOR, 1);
    memcpy(before, bt_rbuf, BLK_SECTOR);
    if (r != VIRTIO_BLK_S_OK)
        tap_diag("reading sector %u: %s", PROTO_SECTOR, blk_status_name(r));
    blk_pattern_fill(bt_wbuf, PROTO_SECTOR, 1, 0x401);
    s = run_with(t, VIRTIO_BLK_T_OUT, PROTO_SECTOR, bt_wbuf, BLK_SECTOR, true, 1);
    unchanged_after(t, "OUT with a device-writable data buffer gets IOERR, the sector unchanged", s,
                    VIRTIO_BLK_S_IOERR, s == VIRTIO_BLK_S_OK,
                    "OUT with a device-writable data buffer writes nothing and gets OK");

    s = run_with(t, VIRTIO_BLK_T_IN, PROTO_SECTOR, small, sizeof(small), true, 1);
    tap_check(s == VIRTIO_BLK_S_IOERR, "IN of 100 bytes (not a multiple of 512) gets IOERR",
              "status %s", blk_status_name(s));
    s = run_with(t, VIRTIO_BLK_T_OUT, PROTO_SECTOR, bt_wbuf, sizeof(small), false, 1);
    unchanged_after(t, "OUT of 100 bytes (not a multiple of 512) gets IOERR, the sector unchanged", s,
                    VIRTIO_BLK_S_IOERR, false, "");
}

static void flush_check(struct blk_test *t)
{
    if (!virtio_has(t->d->features, VIRTIO_BLK_F_FLUSH)) {
        tap_skip("FLUSH gets OK", "VIRTIO_BLK_F_FLUSH not offered");
        return;
    }
    int s = bt_io(t, VIRTIO_BLK_T_FLUSH, 0, NULL, 0);
    tap_check(s == VIRTIO_BLK_S_OK, "FLUSH gets OK", "status %s", blk_status_name(s));
}

/* The driver polls; here it asks for one interrupt, as a driver that
 * sleeps would (§2.7.7, §2.7.10), and sees it come. */
static void interrupt_check(struct blk_test *t)
{
    struct virtq *vq = &t->b.vq[0];
    virtio_mmio_ack_interrupt(t->d);
    virtq_want_interrupt(vq, true);
    uint32_t seen = irq_count[t->d->vector];
    int s = bt_read(t, BT_SCRATCH, 1);
    uint32_t n = irq_wait(t->d->vector, seen, VIRTIO_IO_TIMEOUT_US);
    uint32_t isr = virtio_mmio_ack_interrupt(t->d);
    virtq_want_interrupt(vq, false);
    tap_check(s == VIRTIO_BLK_S_OK && n != seen && (isr & VIRTIO_MMIO_INT_VRING),
              "a read with an interrupt asked for raises it, InterruptStatus bit 0 set",
              "read %s, irq_count[0x%x] %u -> %u, InterruptStatus 0x%x", blk_status_name(s),
              t->d->vector, seen, n, isr);
}

void bt_proto_checks(struct blk_test *t)
{
    get_id_checks(t);
    malformed_checks(t);
    flush_check(t);
    interrupt_check(t);
}
