/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test=blk's framing checks. virtio 1.2 §2.6.4: a device must not assume
 * how a request is cut into descriptors. So the header split over two
 * descriptors, the header sharing one with the data, and the status byte
 * sharing one with the data must all work like the usual layout.
 */
#include <stddef.h>

#include "blk_pattern.h"
#include "console.h"
#include "lib.h"
#include "tap.h"
#include "test_blk.h"

#define FRAME_SECTOR (BT_SCRATCH + 832)

static struct blk_req req;
static struct blk_outhdr hdr __attribute__((aligned(16)));
static volatile uint8_t status;
/* Header then two sectors of data, one buffer; or two sectors then the
 * status byte. */
static uint8_t joined[sizeof(struct blk_outhdr) + 2 * BLK_SECTOR + 1] __attribute__((aligned(64)));

static void raw_start(uint32_t type, uint64_t sector)
{
    blk_req_init(&req, type, sector);
    req.raw = true;
    hdr.type = type;
    hdr.reserved = 0;
    hdr.sector = sector;
    status = BLK_STATUS_UNWRITTEN;
}

/* Reads the 2 sectors back the usual way and checks pattern `seed`. */
static bool reads_back(struct blk_test *t, uint64_t sector, uint64_t seed, int *rs)
{
    *rs = bt_read(t, sector, 2);
    return *rs == VIRTIO_BLK_S_OK && blk_pattern_check(bt_rbuf, sector, 2, seed) == 2;
}

static void split_header(struct blk_test *t)
{
    const char *desc = "OUT with its header split over two descriptors (8 + 8 bytes) writes";
    if (bt_skip_ro(t, desc))
        return;
    raw_start(VIRTIO_BLK_T_OUT, FRAME_SECTOR);
    blk_pattern_fill(bt_wbuf, FRAME_SECTOR, 2, 0x701);
    blk_req_add(&req, &hdr, 8, false);
    blk_req_add(&req, (uint8_t *)&hdr + 8, 8, false);
    blk_req_add(&req, bt_wbuf, 2 * BLK_SECTOR, false);
    blk_req_add(&req, (const void *)&status, 1, true);
    int done = blk_run(&t->b, 0, &req);
    int rs;
    bool back = reads_back(t, FRAME_SECTOR, 0x701, &rs);
    tap_check(done >= 0 && status == VIRTIO_BLK_S_OK && back, desc,
              "%s, status %s; read back %s, %s", done < 0 ? "no completion" : "completed",
              blk_status_name(status), blk_status_name(rs), back ? "data equal" : "data differs");
}

static void header_with_data(struct blk_test *t)
{
    const char *desc = "OUT with header and data in one descriptor writes";
    if (bt_skip_ro(t, desc))
        return;
    raw_start(VIRTIO_BLK_T_OUT, FRAME_SECTOR);
    memcpy(joined, &hdr, sizeof(hdr));
    blk_pattern_fill(joined + sizeof(hdr), FRAME_SECTOR, 2, 0x702);
    blk_req_add(&req, joined, sizeof(hdr) + 2 * BLK_SECTOR, false);
    blk_req_add(&req, (const void *)&status, 1, true);
    int done = blk_run(&t->b, 0, &req);
    int rs;
    bool back = reads_back(t, FRAME_SECTOR, 0x702, &rs);
    tap_check(done >= 0 && status == VIRTIO_BLK_S_OK && back, desc,
              "%s, status %s; read back %s, %s", done < 0 ? "no completion" : "completed",
              blk_status_name(status), blk_status_name(rs), back ? "data equal" : "data differs");
}

static void status_with_data(struct blk_test *t)
{
    /* Reads what header_with_data wrote, or on a read-only device
     * whatever the usual read finds there. */
    uint64_t seed = 0x702;
    int rs = bt_read(t, FRAME_SECTOR, 2);
    bool known = t->ro || blk_pattern_check(bt_rbuf, FRAME_SECTOR, 2, seed) == 2;
    static uint8_t want[2 * BLK_SECTOR];
    memcpy(want, bt_rbuf, sizeof(want));

    raw_start(VIRTIO_BLK_T_IN, FRAME_SECTOR);
    memset(joined, 0xee, sizeof(joined));
    blk_req_add(&req, &hdr, sizeof(hdr), false);
    blk_req_add(&req, joined, 2 * BLK_SECTOR + 1, true);
    int done = blk_run(&t->b, 0, &req);
    uint8_t st = joined[2 * BLK_SECTOR];
    bool same = memcmp(joined, want, sizeof(want)) == 0;
    tap_check(rs == VIRTIO_BLK_S_OK && known && done >= 0 && st == VIRTIO_BLK_S_OK && same &&
                  req.used_len == 2 * BLK_SECTOR + 1,
              "IN with the status byte in the data's descriptor (1025 bytes) reads, status last",
              "%s, status byte %s, used length %u (want 1025), data %s; the usual read: %s%s",
              done < 0 ? "no completion" : "completed", blk_status_name(st), req.used_len,
              same ? "equal" : "differs", blk_status_name(rs), known ? "" : ", not the pattern written");
}

void bt_frame_checks(struct blk_test *t)
{
    split_header(t);
    header_with_data(t);
    status_with_data(t);
}
