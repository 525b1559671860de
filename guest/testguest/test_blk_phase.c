/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test=blk blk_phase=write|verify: the guest half of the host's
 * durability script (tests/kvm/blk_durability.sh).
 *
 *   write   writes pattern blk_seed= over sectors [0, blk_count) (half on
 *           queue 1 when there are two queues, so the FLUSH on queue 0
 *           must cover another queue's writes), FLUSHes, prints a TAP line
 *           with "flush completed", then keeps writing other data after
 *           the region, never flushed, until the host kills the VMM (or
 *           WRITE_FOREVER_US passes).
 *   verify  only reads [0, blk_count) and checks it holds the pattern.
 */
#include <stddef.h>

#include "blk_pattern.h"
#include "clock.h"
#include "console.h"
#include "lib.h"
#include "tap.h"
#include "test_blk.h"

#define DEFAULT_SEED 1
/* A bound on "until killed", so a host that never kills still ends. */
#define WRITE_FOREVER_US 120000000ul
#define TAIL_SLICE 512u

static bool init_check(struct blk_test *t, uint64_t count)
{
    const struct cmdline_blk *k = &t->g->cmd.blk;
    const char *err = blk_init(&t->b, t->d, blk_wanted_features(), BLK_MAX_QUEUES);
    t->cap = t->b.cfg.capacity;
    bool cap_ok = !k->has_sectors || t->cap == k->sectors;
    return tap_check(!err && cap_ok && count > 0 && count < t->cap,
                     "virtio-blk set up, capacity as blk_sectors= says, blk_count= within it",
                     "%s; capacity %lu, blk_sectors=%lu, blk_count=%lu", err ? err : "set up",
                     t->cap, k->has_sectors ? k->sectors : 0, count);
}

static void phase_write(struct blk_test *t, uint64_t count, uint64_t seed)
{
    tap_plan(3);
    if (!init_check(t, count)) {
        tap_skip("pattern written", "no device");
        tap_skip("flush completed", "no device");
        return;
    }
    char why[160] = "";
    uint64_t half = t->b.nq >= 2 ? count / 2 : count;
    bool ok = blk_region_write(&t->b, 0, 0, half, seed, why, sizeof(why));
    if (ok && half < count)
        ok = blk_region_write(&t->b, 1, half, count - half, seed, why, sizeof(why));
    tap_check(ok, "pattern blk_seed= written over sectors [0, blk_count)", "%s", why);
    if (t->b.nq >= 2)
        tap_diag("sectors 0-%lu written on queue 0, %lu-%lu on queue 1", half - 1, half, count - 1);

    bool flush = virtio_has(t->d->features, VIRTIO_BLK_F_FLUSH);
    int s = flush ? bt_io(t, VIRTIO_BLK_T_FLUSH, 0, NULL, 0) : VIRTIO_BLK_S_OK;
    /* The host waits for this line: nothing before it may still be in
     * a cache that a killed VMM loses. */
    if (!tap_check(ok && s == VIRTIO_BLK_S_OK,
                   flush ? "flush completed: sectors [0, blk_count) written and flushed"
                         : "flush completed: sectors [0, blk_count) written (no FLUSH: write-through)",
                   "%s%s", ok ? "FLUSH: " : "the writes failed", ok ? blk_status_name(s) : ""))
        return;

    /* Unflushed writes, after the region, until the host kills us. */
    uint64_t start = clock_us(), rounds = 0;
    uint64_t at = count;
    while (clock_us() - start < WRITE_FOREVER_US) {
        uint64_t n = t->cap - at < TAIL_SLICE ? t->cap - at : TAIL_SLICE;
        if (!blk_region_write(&t->b, (unsigned)(rounds % t->b.nq), at, n, seed + 1, why, sizeof(why))) {
            tap_diag("unflushed writes stopped: %s", why);
            return;
        }
        at += n;
        if (at >= t->cap)
            at = count;
        /* The host kills us after this line, so the kill lands among
         * unflushed writes, not before the first. */
        if (rounds++ == 0)
            tap_diag("unflushed writes under way");
    }
    tap_diag("not killed within %lu s: %lu unflushed writes of %u sectors", WRITE_FOREVER_US / 1000000,
             rounds, TAIL_SLICE);
}

static void phase_verify(struct blk_test *t, uint64_t count, uint64_t seed)
{
    tap_plan(2);
    if (!init_check(t, count)) {
        tap_skip("pattern verified", "no device");
        return;
    }
    char why[160] = "";
    tap_check(blk_region_verify(&t->b, 0, 0, count, seed, why, sizeof(why)),
              "sectors [0, blk_count) hold pattern blk_seed=", "%s", why);
}

void bt_phase(struct blk_test *t)
{
    const struct cmdline_blk *k = &t->g->cmd.blk;
    uint64_t count = k->has_count ? k->count : BT_DEFAULT_COUNT;
    uint64_t seed = k->has_seed ? k->seed : DEFAULT_SEED;
    tap_diag("blk_phase: pattern %lu over sectors 0-%lu", seed, count - 1);
    if (str_eq_n(k->phase, k->phase_len, "write")) {
        phase_write(t, count, seed);
    } else if (str_eq_n(k->phase, k->phase_len, "verify")) {
        phase_verify(t, count, seed);
    } else {
        tap_plan(1);
        tap_check(false, "blk_phase= is write or verify", "unknown phase");
    }
}
