/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test=blk's data checks: patterns written and read back through chains
 * of several shapes (one segment, segments split inside sectors, an
 * indirect table, many requests in flight, two queues at once); the
 * capacity's edge and sectors whose byte offset overflows; the host's
 * region (blk_host_seed=, blk_seed=).
 */
#include <stddef.h>

#include "blk_pattern.h"
#include "console.h"
#include "lib.h"
#include "tap.h"
#include "test_blk.h"

#define INFLIGHT 8
#define INFLIGHT_BYTES 4096u

static struct blk_req wreq, rreq;
static struct blk_req many[2 * INFLIGHT];

/* Segment lengths of one round trip. */
struct shape {
    uint32_t len[BLK_MAX_SEGS];
    unsigned n;
};

static uint32_t shape_bytes(const struct shape *s)
{
    uint32_t total = 0;
    for (unsigned i = 0; i < s->n; i++)
        total += s->len[i];
    return total;
}

/* Why this driver must not send the shape to this device, or NULL. */
static const char *shape_refused(struct blk_test *t, const struct shape *s, bool indirect)
{
    uint64_t f = t->d->features;
    if (indirect && !virtio_has(f, VIRTIO_F_INDIRECT_DESC))
        return "VIRTIO_F_INDIRECT_DESC not offered";
    if (virtio_has(f, VIRTIO_BLK_F_SEG_MAX) && s->n > t->b.cfg.seg_max)
        return "more segments than seg_max";
    for (unsigned i = 0; virtio_has(f, VIRTIO_BLK_F_SIZE_MAX) && i < s->n; i++)
        if (s->len[i] > t->b.cfg.size_max)
            return "a segment longer than size_max";
    if (!indirect && s->n + 2u > t->b.vq[0].num)
        return "a chain longer than the queue";
    return NULL;
}

static void add_shape(struct blk_req *r, uint8_t *buf, const struct shape *s, bool writes)
{
    uint32_t off = 0;
    for (unsigned i = 0; i < s->n; i++) {
        blk_req_add(r, buf + off, s->len[i], writes);
        off += s->len[i];
    }
}

/* Writes pattern `seed` at `sector` through chains of shape s, reads it
 * back through the same shape, compares. */
static void round_trip(struct blk_test *t, const char *desc, uint64_t sector, const struct shape *s,
                       bool indirect, uint64_t seed)
{
    if (bt_skip_ro(t, desc))
        return;
    const char *no = shape_refused(t, s, indirect);
    if (no) {
        tap_skip(desc, "%s", no);
        return;
    }
    uint32_t bytes = shape_bytes(s), n = bytes / BLK_SECTOR;
    blk_pattern_fill(bt_wbuf, sector, n, seed);
    blk_req_init(&wreq, VIRTIO_BLK_T_OUT, sector);
    add_shape(&wreq, bt_wbuf, s, false);
    wreq.indirect = indirect;
    int ws = blk_run(&t->b, 0, &wreq);

    memset(bt_rbuf, 0xee, bytes);
    blk_req_init(&rreq, VIRTIO_BLK_T_IN, sector);
    add_shape(&rreq, bt_rbuf, s, true);
    rreq.indirect = indirect;
    int rs = blk_run(&t->b, 0, &rreq);
    uint32_t bad = blk_pattern_check(bt_rbuf, sector, n, seed);
    tap_check(ws == VIRTIO_BLK_S_OK && rs == VIRTIO_BLK_S_OK && wreq.used_len == 1 &&
                  rreq.used_len == bytes + 1 && bad == n,
              desc, "write %s (used length %u, want 1), read %s (used length %u, want %u), %s%u",
              blk_status_name(ws), wreq.used_len, blk_status_name(rs), rreq.used_len, bytes + 1,
              bad == n ? "data equal" : "data differs from sector ", bad);
}

/* n requests of INFLIGHT_BYTES each on queue q, all submitted before the
 * first is waited for; request i at sector + i * 8, data in buf. */
static bool submit_many(struct blk_test *t, struct blk_req *reqs, unsigned n, unsigned q,
                        uint32_t type, uint64_t sector, uint8_t *buf)
{
    for (unsigned i = 0; i < n; i++) {
        blk_req_init(&reqs[i], type, sector + (uint64_t)i * (INFLIGHT_BYTES / BLK_SECTOR));
        if (!blk_req_data_split(&t->b, &reqs[i], buf + (size_t)i * INFLIGHT_BYTES, INFLIGHT_BYTES) ||
            !blk_submit(&t->b, q, &reqs[i]))
            return false;
    }
    return true;
}

/* Which of n requests failed, "" when none did. */
static void statuses(struct blk_req *reqs, unsigned n, char *out, size_t size)
{
    size_t k = 0;
    out[0] = '\0';
    for (unsigned i = 0; i < n; i++)
        if (!reqs[i].done || reqs[i].status != VIRTIO_BLK_S_OK)
            k += str_format(out + k, size - k, "#%u at sector %lu: %s; ", i, reqs[i].hdr.sector,
                            reqs[i].done ? blk_status_name(reqs[i].status) : "not done");
}

static unsigned inflight_room(struct blk_test *t, unsigned q)
{
    /* A direct request is header + data + status; indirect, one. */
    unsigned per = virtio_has(t->d->features, VIRTIO_F_INDIRECT_DESC) ? 1 : 3;
    unsigned room = t->b.vq[q].num / per;
    return room < INFLIGHT ? room : INFLIGHT;
}

static void many_in_flight(struct blk_test *t, uint64_t sector)
{
    const char *desc = "8 writes, then 8 reads of 4 KiB in flight at once on queue 0 read back";
    if (bt_skip_ro(t, desc))
        return;
    unsigned n = inflight_room(t, 0);
    uint32_t sectors = n * INFLIGHT_BYTES / BLK_SECTOR;
    blk_pattern_fill(bt_wbuf, sector, sectors, 0x301);
    memset(bt_rbuf, 0xee, sectors * BLK_SECTOR);
    struct blk_req *ptr[INFLIGHT];
    for (unsigned i = 0; i < n; i++)
        ptr[i] = &many[i];
    bool ok = submit_many(t, many, n, 0, VIRTIO_BLK_T_OUT, sector, bt_wbuf);
    blk_kick(&t->b, 0);
    ok = blk_wait(&t->b, ptr, n) && ok;
    char why[256];
    statuses(many, n, why, sizeof(why));
    if (ok && !why[0]) {
        ok = submit_many(t, many, n, 0, VIRTIO_BLK_T_IN, sector, bt_rbuf);
        blk_kick(&t->b, 0);
        ok = blk_wait(&t->b, ptr, n) && ok;
        statuses(many, n, why, sizeof(why));
    }
    uint32_t bad = blk_pattern_check(bt_rbuf, sector, sectors, 0x301);
    if (n < INFLIGHT)
        tap_diag("queue 0 holds %u such requests at once, not %u", n, INFLIGHT);
    tap_check(ok && !why[0] && bad == sectors && n >= 2, desc,
              "%u in flight; %s%s; first bad sector %u of %u", n,
              ok ? "" : "not all submitted or completed; ", why, bad, sectors);
}

/* Two queues at once: INFLIGHT writes on each, interleaved, then each
 * queue reads back what the other wrote. */
static void two_queues(struct blk_test *t, uint64_t sector)
{
    const char *wdesc = "writes on queues 0 and 1 at once all complete OK";
    const char *rdesc = "reads on queues 0 and 1 at once return what the other queue wrote";
    if (t->b.nq < 2) {
        tap_skip(wdesc, "one queue (MQ %s, num_queues %u)",
                 virtio_has(t->d->features, VIRTIO_BLK_F_MQ) ? "negotiated" : "not offered",
                 t->b.cfg.num_queues);
        tap_skip(rdesc, "one queue");
        return;
    }
    if (bt_skip_ro(t, wdesc)) {
        tap_skip(rdesc, "nothing written on a read-only device");
        return;
    }
    unsigned n = inflight_room(t, 0), n1 = inflight_room(t, 1);
    n = n < n1 ? n : n1;
    uint32_t per_q = n * INFLIGHT_BYTES / BLK_SECTOR;     /* sectors per queue */
    struct blk_req *q0 = &many[0], *q1 = &many[n];
    struct blk_req *ptr[2 * INFLIGHT];
    for (unsigned i = 0; i < n; i++) {
        ptr[i] = &q0[i];
        ptr[n + i] = &q1[i];
    }
    blk_pattern_fill(bt_wbuf, sector, 2 * per_q, 0x302);
    bool ok = submit_many(t, q0, n, 0, VIRTIO_BLK_T_OUT, sector, bt_wbuf);
    ok = submit_many(t, q1, n, 1, VIRTIO_BLK_T_OUT, sector + per_q, bt_wbuf + per_q * BLK_SECTOR) && ok;
    blk_kick(&t->b, 0);
    blk_kick(&t->b, 1);
    ok = blk_wait(&t->b, ptr, 2 * n) && ok;
    char why[256];
    statuses(many, 2 * n, why, sizeof(why));
    if (n < INFLIGHT)
        tap_diag("queues hold %u requests each, not %u", n, INFLIGHT);
    bool wrote = tap_check(ok && !why[0], wdesc, "%s%s", ok ? "" : "not all submitted or completed; ", why);

    memset(bt_rbuf, 0xee, 2 * per_q * BLK_SECTOR);
    ok = wrote;
    if (ok) {
        /* Queue 0 reads queue 1's sectors, queue 1 queue 0's. */
        ok = submit_many(t, q0, n, 0, VIRTIO_BLK_T_IN, sector + per_q, bt_rbuf + per_q * BLK_SECTOR);
        ok = submit_many(t, q1, n, 1, VIRTIO_BLK_T_IN, sector, bt_rbuf) && ok;
        blk_kick(&t->b, 1);
        blk_kick(&t->b, 0);
        ok = blk_wait(&t->b, ptr, 2 * n) && ok;
        statuses(many, 2 * n, why, sizeof(why));
    }
    uint32_t bad = blk_pattern_check(bt_rbuf, sector, 2 * per_q, 0x302);
    tap_check(ok && !why[0] && bad == 2 * per_q, rdesc, "%s%s; first bad sector %u of %u",
              ok ? "" : "writes failed, or reads not all submitted or completed; ", why, bad, 2 * per_q);
}

static void expect_status(struct blk_test *t, const char *desc, uint32_t type, uint64_t sector,
                          uint32_t nsectors, int want)
{
    uint8_t *buf = type == VIRTIO_BLK_T_IN ? bt_rbuf : bt_wbuf;
    if (type == VIRTIO_BLK_T_OUT)
        blk_pattern_fill(bt_wbuf, sector, nsectors, 0x303);
    int s = bt_io(t, type, sector, buf, nsectors * BLK_SECTOR);
    tap_check(s == want, desc, "status %s, want %s", blk_status_name(s), blk_status_name(want));
}

static void edge_checks(struct blk_test *t)
{
    uint64_t last = t->cap - 1;
    static const struct shape one = {{BLK_SECTOR}, 1};
    round_trip(t, "the last sector (capacity - 1) is written and read back", last, &one, false, 0x304);
    expect_status(t, "a read at sector capacity (one past the end) gets IOERR", VIRTIO_BLK_T_IN,
                  t->cap, 1, VIRTIO_BLK_S_IOERR);
    expect_status(t, "a write at sector capacity (one past the end) gets IOERR", VIRTIO_BLK_T_OUT,
                  t->cap, 1, VIRTIO_BLK_S_IOERR);

    /* Straddling the end: the request fails whole, the last sector keeps
     * what it held. */
    static uint8_t before[BLK_SECTOR];
    int s0 = bt_read(t, last, 1);
    memcpy(before, bt_rbuf, BLK_SECTOR);
    blk_pattern_fill(bt_wbuf, last, 2, 0x305);
    int s = bt_io(t, VIRTIO_BLK_T_OUT, last, bt_wbuf, 2 * BLK_SECTOR);
    int s1 = bt_read(t, last, 1);
    tap_check(s0 == VIRTIO_BLK_S_OK && s == VIRTIO_BLK_S_IOERR && s1 == VIRTIO_BLK_S_OK &&
                  memcmp(before, bt_rbuf, BLK_SECTOR) == 0,
              "a 2-sector write from the last sector gets IOERR and leaves it unchanged",
              "status %s (reads %s, %s), last sector %s", blk_status_name(s), blk_status_name(s0),
              blk_status_name(s1), memcmp(before, bt_rbuf, BLK_SECTOR) ? "changed" : "unchanged");

    /* sector * 512 overflows 64 bits from 2^55 up; from 2^55 - 1 the
     * request's end wraps to 0. */
    expect_status(t, "a read at sector 0xffffffffffffffff gets IOERR", VIRTIO_BLK_T_IN,
                  0xffffffffffffffffull, 1, VIRTIO_BLK_S_IOERR);
    expect_status(t, "a write at sector 0xffffffffffffffff gets IOERR", VIRTIO_BLK_T_OUT,
                  0xffffffffffffffffull, 1, VIRTIO_BLK_S_IOERR);
    expect_status(t, "a read at sector 0x0080000000000000 (byte offset 2^64) gets IOERR",
                  VIRTIO_BLK_T_IN, 0x0080000000000000ull, 1, VIRTIO_BLK_S_IOERR);
    expect_status(t, "a write at sector 0x0080000000000000 (byte offset 2^64) gets IOERR",
                  VIRTIO_BLK_T_OUT, 0x0080000000000000ull, 1, VIRTIO_BLK_S_IOERR);
    expect_status(t, "a read at sector 0x007fffffffffffff (its end wraps to 0) gets IOERR",
                  VIRTIO_BLK_T_IN, 0x007fffffffffffffull, 1, VIRTIO_BLK_S_IOERR);
}

static void host_region(struct blk_test *t)
{
    const struct cmdline_blk *k = &t->g->cmd.blk;
    uint64_t count = k->has_count ? k->count : BT_DEFAULT_COUNT;
    char why[160];
    char desc[128];
    str_format(desc, sizeof(desc), "sectors 0-%lu hold the host's pattern (blk_host_seed=)", count - 1);
    if (k->has_host_seed)
        tap_check(blk_region_verify(&t->b, 0, 0, count, k->host_seed, why, sizeof(why)), desc, "%s", why);
    else
        tap_skip(desc, "no blk_host_seed= on the command line");

    str_format(desc, sizeof(desc), "pattern blk_seed= written over sectors 0-%lu, flushed, read back",
               count - 1);
    if (!k->has_seed) {
        tap_skip(desc, "no blk_seed= on the command line");
        return;
    }
    if (bt_skip_ro(t, desc))
        return;
    bool ok = blk_region_write(&t->b, 0, 0, count, k->seed, why, sizeof(why));
    if (ok && virtio_has(t->d->features, VIRTIO_BLK_F_FLUSH)) {
        int s = bt_io(t, VIRTIO_BLK_T_FLUSH, 0, NULL, 0);
        if (s != VIRTIO_BLK_S_OK) {
            ok = false;
            str_format(why, sizeof(why), "FLUSH: %s", blk_status_name(s));
        }
    }
    ok = ok && blk_region_verify(&t->b, 0, 0, count, k->seed, why, sizeof(why));
    tap_check(ok, desc, "%s", why);
}

void bt_data_checks(struct blk_test *t)
{
    const uint64_t s = BT_SCRATCH;
    static const struct shape one = {{BLK_SECTOR}, 1};
    static const struct shape page = {{4096}, 1};
    static const struct shape split = {{100, 412, 700, 324}, 4};
    static const struct shape table = {{1024, 1024, 1024, 1024, 1024, 1024, 1024, 1024}, 8};
    round_trip(t, "1 sector in one segment is written and read back", s, &one, false, 0x101);
    round_trip(t, "8 sectors (4 KiB) in one segment are written and read back", s + 8, &page, false,
               0x102);
    /* 64 KiB, in segments of size_max when the device has one. */
    struct shape big = {{0}, 0};
    uint32_t max = BT_BUF_BYTES;
    if (virtio_has(t->d->features, VIRTIO_BLK_F_SIZE_MAX) && t->b.cfg.size_max < max)
        max = t->b.cfg.size_max & ~(BLK_SECTOR - 1);
    for (uint32_t left = BT_BUF_BYTES; left && max && big.n < BLK_MAX_SEGS; left -= big.len[big.n++])
        big.len[big.n] = left < max ? left : max;
    if (shape_bytes(&big) == BT_BUF_BYTES)
        round_trip(t, "128 sectors (64 KiB) are written and read back", s + 128, &big, false, 0x103);
    else
        tap_skip("128 sectors (64 KiB) are written and read back", "size_max %u too small",
                 t->b.cfg.size_max);
    round_trip(t, "3 sectors in a chain of 4 segments cut inside sectors are written and read back",
               s + 16, &split, false, 0x104);
    round_trip(t, "16 sectors in an indirect table of 8 segments are written and read back", s + 32,
               &table, true, 0x105);
    round_trip(t, "1 sector through an indirect table is written and read back", s + 48, &one, true,
               0x106);
    many_in_flight(t, s + 256);
    edge_checks(t);
    two_queues(t, s + 1536);
    host_region(t);
}
