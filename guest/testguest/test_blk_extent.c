/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test=blk's checks of requests that change ranges without data (DISCARD,
 * WRITE_ZEROES: virtio 1.2 §5.2.6, segments {le64 sector, le32
 * num_sectors, le32 flags}) and of a read-only device (VIRTIO_BLK_F_RO:
 * every write gets IOERR and changes nothing).
 */
#include <stddef.h>

#include "blk_pattern.h"
#include "console.h"
#include "lib.h"
#include "tap.h"
#include "test_blk.h"

/* Sectors written on each side of the range, to see that it stays put. */
#define GUARD 8u
#define WZ_SECTOR (BT_SCRATCH + 512)
#define WZ_SECTORS 8u
#define DISCARD_SECTOR (BT_SCRATCH + 1024)
#define RO_SECTOR 0

static struct blk_req req;
static struct blk_range range __attribute__((aligned(16)));

static int range_req(struct blk_test *t, uint32_t type, uint64_t sector, uint32_t n, uint32_t flags)
{
    range.sector = sector;
    range.num_sectors = n;
    range.flags = flags;
    /* The header's sector is not used by these types (§5.2.6). */
    blk_req_init(&req, type, 0);
    blk_req_add(&req, &range, sizeof(range), false);
    return blk_run(&t->b, 0, &req);
}

enum middle { ZERO, UNCHANGED, ANY };

/* Pattern over [sector - GUARD, sector + n + GUARD), the range request on
 * [sector, sector + n), then reads the whole span: the guards must hold
 * the pattern, the range what `middle` says. */
static void range_check(struct blk_test *t, const char *desc, uint32_t type, uint64_t sector,
                        uint32_t n, uint32_t flags, int want, enum middle middle)
{
    uint64_t first = sector - GUARD;
    uint32_t span = n + 2 * GUARD;
    uint64_t seed = 0x500 + type + flags;
    char why[160] = "";
    if (!blk_region_write(&t->b, 0, first, span, seed, why, sizeof(why))) {
        tap_check(false, desc, "writing the pattern around the range: %s", why);
        return;
    }
    int s = range_req(t, type, sector, n, flags);
    int r = bt_read(t, first, span);
    uint32_t lo = blk_pattern_check(bt_rbuf, first, GUARD, seed);
    uint32_t hi = blk_pattern_check(bt_rbuf + (GUARD + n) * BLK_SECTOR, sector + n, GUARD, seed);
    const uint8_t *mid = bt_rbuf + GUARD * BLK_SECTOR;
    bool mid_ok = middle == ANY || (middle == ZERO && bt_all(mid, n * BLK_SECTOR, 0)) ||
                  (middle == UNCHANGED && blk_pattern_check(mid, sector, n, seed) == n);
    tap_check(s == want && r == VIRTIO_BLK_S_OK && lo == GUARD && hi == GUARD && mid_ok, desc,
              "status %s, want %s; guards %s; range %s", blk_status_name(s), blk_status_name(want),
              lo == GUARD && hi == GUARD ? "intact" : "changed",
              mid_ok ? "as expected" : middle == ZERO ? "not zero" : "changed");
}

static void write_zeroes_checks(struct blk_test *t)
{
    static const char *const desc[4] = {
        "WRITE_ZEROES over 8 sectors gets OK, they read back zero, their neighbours unchanged",
        "WRITE_ZEROES with the unmap flag gets OK, the range reads back zero",
        "WRITE_ZEROES with an unknown flag (0x2) gets UNSUPP and changes nothing",
        "WRITE_ZEROES past the end gets IOERR",
    };
    const char *no = NULL;
    if (!virtio_has(t->d->features, VIRTIO_BLK_F_WRITE_ZEROES))
        no = "VIRTIO_BLK_F_WRITE_ZEROES not offered";
    else if (t->ro)
        no = "the device is read-only";
    else if (t->b.cfg.max_write_zeroes_sectors < WZ_SECTORS)
        no = "max_write_zeroes_sectors below 8";
    if (no) {
        for (unsigned i = 0; i < 4; i++)
            tap_skip(desc[i], "%s", no);
        return;
    }
    range_check(t, desc[0], VIRTIO_BLK_T_WRITE_ZEROES, WZ_SECTOR, WZ_SECTORS, 0, VIRTIO_BLK_S_OK, ZERO);
    range_check(t, desc[1], VIRTIO_BLK_T_WRITE_ZEROES, WZ_SECTOR + 32, WZ_SECTORS,
                VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP, VIRTIO_BLK_S_OK, ZERO);
    range_check(t, desc[2], VIRTIO_BLK_T_WRITE_ZEROES, WZ_SECTOR + 64, WZ_SECTORS, 0x2,
                VIRTIO_BLK_S_UNSUPP, UNCHANGED);
    int s = range_req(t, VIRTIO_BLK_T_WRITE_ZEROES, t->cap - 4, WZ_SECTORS, 0);
    tap_check(s == VIRTIO_BLK_S_IOERR, desc[3], "status %s", blk_status_name(s));
}

static void discard_checks(struct blk_test *t)
{
    static const char *const desc[3] = {
        "DISCARD of an aligned range gets OK, its neighbours unchanged",
        "DISCARD with the unmap flag gets UNSUPP and changes nothing",
        "DISCARD with an unknown flag (0x2) gets UNSUPP and changes nothing",
    };
    const struct blk_config *c = &t->b.cfg;
    uint32_t align = c->discard_sector_alignment ? c->discard_sector_alignment : 1;
    uint32_t n = (8 + align - 1) / align * align;
    uint64_t sector = (DISCARD_SECTOR + align - 1) / align * align;
    const char *no = NULL;
    if (!virtio_has(t->d->features, VIRTIO_BLK_F_DISCARD))
        no = "VIRTIO_BLK_F_DISCARD not offered";
    else if (t->ro)
        no = "the device is read-only";
    else if (n + 2 * GUARD > BT_BUF_SECTORS || n > c->max_discard_sectors ||
             sector + n + GUARD > BT_SCRATCH + BT_SCRATCH_LEN)
        no = "discard_sector_alignment or max_discard_sectors out of this test's reach";
    if (no) {
        for (unsigned i = 0; i < 3; i++)
            tap_skip(desc[i], "%s", no);
        return;
    }
    range_check(t, desc[0], VIRTIO_BLK_T_DISCARD, sector, n, 0, VIRTIO_BLK_S_OK, ANY);
    /* §5.2.6.2: a discard's flags must be 0; unmap is write zeroes' only. */
    range_check(t, desc[1], VIRTIO_BLK_T_DISCARD, sector, n, VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP,
                VIRTIO_BLK_S_UNSUPP, UNCHANGED);
    range_check(t, desc[2], VIRTIO_BLK_T_DISCARD, sector, n, 0x2, VIRTIO_BLK_S_UNSUPP, UNCHANGED);
}

/* Every kind of write on a read-only device: IOERR, nothing changed. */
static void read_only_checks(struct blk_test *t)
{
    const char *out = "read-only: OUT gets IOERR and the sector is unchanged";
    const char *ranges = "read-only: DISCARD and WRITE_ZEROES get IOERR and change nothing";
    if (!t->ro) {
        tap_skip(out, "the device is writable");
        tap_skip(ranges, "the device is writable");
        return;
    }
    static uint8_t before[BLK_SECTOR];
    int r0 = bt_read(t, RO_SECTOR, 1);
    memcpy(before, bt_rbuf, BLK_SECTOR);
    blk_pattern_fill(bt_wbuf, RO_SECTOR, 1, 0x601);
    if (memcmp(before, bt_wbuf, BLK_SECTOR) == 0)
        blk_pattern_fill(bt_wbuf, RO_SECTOR, 1, 0x602);
    int s = bt_io(t, VIRTIO_BLK_T_OUT, RO_SECTOR, bt_wbuf, BLK_SECTOR);
    int r1 = bt_read(t, RO_SECTOR, 1);
    bool same = r0 == VIRTIO_BLK_S_OK && r1 == VIRTIO_BLK_S_OK && memcmp(before, bt_rbuf, BLK_SECTOR) == 0;
    tap_check(s == VIRTIO_BLK_S_IOERR && same, out, "status %s; sector %u %s (reads %s, %s)",
              blk_status_name(s), RO_SECTOR, same ? "unchanged" : "changed", blk_status_name(r0),
              blk_status_name(r1));

    bool disc = virtio_has(t->d->features, VIRTIO_BLK_F_DISCARD);
    bool wz = virtio_has(t->d->features, VIRTIO_BLK_F_WRITE_ZEROES);
    if (!disc && !wz) {
        tap_skip(ranges, "neither DISCARD nor WRITE_ZEROES offered");
        return;
    }
    int sd = disc ? range_req(t, VIRTIO_BLK_T_DISCARD, RO_SECTOR, 1, 0) : VIRTIO_BLK_S_IOERR;
    int sz = wz ? range_req(t, VIRTIO_BLK_T_WRITE_ZEROES, RO_SECTOR, 1, 0) : VIRTIO_BLK_S_IOERR;
    r1 = bt_read(t, RO_SECTOR, 1);
    same = r1 == VIRTIO_BLK_S_OK && memcmp(before, bt_rbuf, BLK_SECTOR) == 0;
    /* QEMU lets the block layer judge a discard, and on a read-only
     * drive it does nothing and reports success: harmless, the data stays. */
    bool sd_ok = bt_accept(t, sd == VIRTIO_BLK_S_IOERR, sd == VIRTIO_BLK_S_OK,
                           "DISCARD on a read-only device gets OK (and discards nothing)");
    tap_check(sd_ok && sz == VIRTIO_BLK_S_IOERR && same, ranges,
              "DISCARD %s, WRITE_ZEROES %s; sector %s", disc ? blk_status_name(sd) : "not offered",
              wz ? blk_status_name(sz) : "not offered", same ? "unchanged" : "changed");
}

void bt_extent_checks(struct blk_test *t)
{
    write_zeroes_checks(t);
    discard_checks(t);
    read_only_checks(t);
}
