/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test=blkbench: virtio-blk throughput and IOPS, for bench/blk/run.sh.
 *
 * Four phases, in the order bench_phases= lists them (default all):
 *   seq_read    1 MiB reads over the disk, from sector 0, wrapping at its end
 *   seq_write   1 MiB writes, likewise
 *   rand_read   4 KiB reads at 4 KiB-aligned offsets from a xorshift PRNG
 *   rand_write  4 KiB writes, likewise
 * each keeping bench_qd= requests in flight on queue 0 (submit, kick, poll
 * the used ring, refill what completed, kick once per batch). The guest's
 * clock cannot be trusted where the TSC rate is unknown, so the host times
 * each phase from the arrival of its marker lines on the console:
 *   # BENCH <phase> begin qd=Q bytes_per_op=B
 *   # BENCH <phase> end ops=N bytes=M
 * and nothing else is printed between them.
 *
 * The image is the host's (bench/blk/mkimage.c): the first 8 bytes of every
 * 4 KiB block b hold BB_TAG ^ b, little-endian. Reads check that word in
 * every 4 KiB block they return (poisoned before each request, so stale
 * data shows); writes put the same word in every block they write, so the
 * image stays valid for any later phase or run. Every request must end
 * with status OK. The rest of a block is not looked at.
 *
 * Keys (all optional): bench_qd=N (1..BB_MAX_QD, default 8),
 * bench_seq_mib=N (MiB per sequential phase, default 1024),
 * bench_rand_ops=N (requests per random phase, default 65536),
 * bench_seed=N (the PRNG's seed, default 1),
 * bench_phases=a,b,... (phase names, comma-separated).
 */
#include <stddef.h>

#include "blk.h"
#include "clock.h"
#include "console.h"
#include "io.h"
#include "lib.h"
#include "tap.h"
#include "tests.h"

#define BB_MAX_QD 16u
#define BB_SEQ_BYTES (1u << 20)
#define BB_RAND_BYTES 4096u
#define BB_BLOCK 4096u
#define BB_SECTORS_PER_BLOCK (BB_BLOCK / BLK_SECTOR)
#define BB_TAG 0x626c6b62656e6368ull /* "blkbench" */
#define BB_MAX_PHASES 8u

/* One data buffer per request in flight; 16 MiB, so the guest still fits
 * the 64 MiB the other tests' configs give. */
static uint8_t bb_buf[BB_MAX_QD][BB_SEQ_BYTES] __attribute__((aligned(4096)));

struct bb_slot {
    struct blk_req req;
    uint64_t block;     /* the first 4 KiB block of the request */
    bool busy;
};
static struct bb_slot bb_slots[BB_MAX_QD];

struct bb_phase {
    const char *name;
    uint32_t type;
    bool seq;
};

static const struct bb_phase phases[] = {
    {"seq_read", VIRTIO_BLK_T_IN, true},
    {"seq_write", VIRTIO_BLK_T_OUT, true},
    {"rand_read", VIRTIO_BLK_T_IN, false},
    {"rand_write", VIRTIO_BLK_T_OUT, false},
};
#define NPHASES (sizeof(phases) / sizeof(phases[0]))

struct bb {
    struct blk b;
    unsigned qd;
    uint64_t seq_mib, rand_ops, seed;
    const struct bb_phase *run[BB_MAX_PHASES];
    unsigned nrun;
    uint64_t blocks;      /* whole 4 KiB blocks on the disk */
    uint64_t seq_units;   /* whole 1 MiB units on the disk */
    bool indirect;
    /* The phase in progress. */
    uint64_t rng, next_unit;
    uint64_t bad_status, bad_data, first_bad_block;
    int first_bad_status;
};

static struct bb bench;

/* --- The command line ------------------------------------------------------ */

static bool parse_u64(const char *s, const char *end, uint64_t *out)
{
    uint64_t v = 0;
    if (s == end)
        return false;
    for (; s < end; s++) {
        if (*s < '0' || *s > '9' || v > (UINT64_MAX - 9) / 10)
            return false;
        v = v * 10 + (uint64_t)(*s - '0');
    }
    *out = v;
    return true;
}

static bool key(const char *tok, const char *end, const char *k, const char **val)
{
    size_t n = strlen(k);
    if ((size_t)(end - tok) < n || memcmp(tok, k, n) != 0)
        return false;
    *val = tok + n;
    return true;
}

/* bench_phases=a,b: appends each name; false on an unknown one. */
static bool parse_phases(struct bb *t, const char *s, const char *end)
{
    t->nrun = 0;
    while (s < end) {
        const char *e = s;
        while (e < end && *e != ',')
            e++;
        bool found = false;
        for (unsigned i = 0; i < NPHASES && !found; i++) {
            if (str_eq_n(s, (size_t)(e - s), phases[i].name) && t->nrun < BB_MAX_PHASES) {
                t->run[t->nrun++] = &phases[i];
                found = true;
            }
        }
        if (!found)
            return false;
        s = e < end ? e + 1 : e;
    }
    return t->nrun > 0;
}

/* NULL, or the token that could not be taken (its length in *len). */
static const char *parse_keys(struct bb *t, const char *line, size_t *len)
{
    t->qd = 8;
    t->seq_mib = 1024;
    t->rand_ops = 65536;
    t->seed = 1;
    t->nrun = NPHASES;
    for (unsigned i = 0; i < NPHASES; i++)
        t->run[i] = &phases[i];
    const char *s = line ? line : "";
    while (*s) {
        while (*s == ' ' || *s == '\t' || *s == '\n')
            s++;
        const char *tok = s;
        while (*s && *s != ' ' && *s != '\t' && *s != '\n')
            s++;
        const char *v;
        uint64_t x;
        bool ok = true;
        if (key(tok, s, "bench_qd=", &v))
            ok = parse_u64(v, s, &x) && x >= 1 && x <= BB_MAX_QD && (t->qd = (unsigned)x, true);
        else if (key(tok, s, "bench_seq_mib=", &v))
            ok = parse_u64(v, s, &t->seq_mib);
        else if (key(tok, s, "bench_rand_ops=", &v))
            ok = parse_u64(v, s, &t->rand_ops);
        else if (key(tok, s, "bench_seed=", &v))
            ok = parse_u64(v, s, &t->seed);
        else if (key(tok, s, "bench_phases=", &v))
            ok = parse_phases(t, v, s);
        if (!ok) {
            *len = (size_t)(s - tok);
            return tok;
        }
    }
    return NULL;
}

/* --- Requests ---------------------------------------------------------------- */

static uint64_t next_random(struct bb *t)
{
    /* xorshift64* (Vigna): deterministic for a seed, never 0. */
    uint64_t x = t->rng;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    t->rng = x;
    return x * 0x2545f4914f6cdd1dull;
}

static void prepare(struct bb *t, const struct bb_phase *p, unsigned i)
{
    struct bb_slot *s = &bb_slots[i];
    uint32_t len = p->seq ? BB_SEQ_BYTES : BB_RAND_BYTES;
    if (p->seq) {
        s->block = t->next_unit * (BB_SEQ_BYTES / BB_BLOCK);
        t->next_unit = t->next_unit + 1 == t->seq_units ? 0 : t->next_unit + 1;
    } else {
        s->block = next_random(t) % t->blocks;
    }
    uint8_t *buf = bb_buf[i];
    /* The tag word of each block: what a write stores, or for a read a
     * value the device must overwrite. */
    for (uint32_t off = 0; off < len; off += BB_BLOCK) {
        uint64_t want = BB_TAG ^ (s->block + off / BB_BLOCK);
        *(volatile uint64_t *)(buf + off) = p->type == VIRTIO_BLK_T_OUT ? want : ~want;
    }
    blk_req_init(&s->req, p->type, s->block * BB_SECTORS_PER_BLOCK);
    s->req.indirect = t->indirect;
    /* Cannot fail: the buffer fits one segment (or, under a size_max,
     * was checked by bb_setup). */
    blk_req_data_split(&t->b, &s->req, buf, len);
}

static void complete(struct bb *t, const struct bb_phase *p, unsigned i)
{
    struct bb_slot *s = &bb_slots[i];
    int st = s->req.status;
    if (st != VIRTIO_BLK_S_OK) {
        if (!t->bad_status++) {
            t->first_bad_status = st;
            t->first_bad_block = s->block;
        }
        return;
    }
    if (p->type != VIRTIO_BLK_T_IN)
        return;
    uint32_t len = p->seq ? BB_SEQ_BYTES : BB_RAND_BYTES;
    const uint8_t *buf = bb_buf[i];
    for (uint32_t off = 0; off < len; off += BB_BLOCK) {
        uint64_t want = BB_TAG ^ (s->block + off / BB_BLOCK);
        if (*(const volatile uint64_t *)(buf + off) != want) {
            if (!t->bad_data++)
                t->first_bad_block = s->block + off / BB_BLOCK;
        }
    }
}

/* Runs `ops` requests at queue depth qd. Returns NULL, or why the phase
 * stopped early (*done says how far it got). */
static const char *run_requests(struct bb *t, const struct bb_phase *p, uint64_t ops,
                                uint64_t *done_out)
{
    struct blk *b = &t->b;
    uint64_t submitted = 0, done = 0;
    for (unsigned i = 0; i < t->qd && submitted < ops; i++) {
        prepare(t, p, i);
        if (!blk_submit(b, 0, &bb_slots[i].req))
            return "the queue took no request";
        bb_slots[i].busy = true;
        submitted++;
    }
    blk_kick(b, 0);
    uint64_t last = clock_us();
    const char *why = NULL;
    while (done < ops) {
        unsigned got = blk_poll(b, 0);
        if (b->broken) {
            why = b->broken;
            break;
        }
        if (!got) {
            if (clock_us() - last > VIRTIO_IO_TIMEOUT_US) {
                why = "no request completed within the I/O timeout";
                break;
            }
            cpu_relax();
            continue;
        }
        last = clock_us();
        bool more = false;
        for (unsigned i = 0; i < t->qd; i++) {
            struct bb_slot *s = &bb_slots[i];
            if (!s->busy || !s->req.done)
                continue;
            s->busy = false;
            done++;
            complete(t, p, i);
            if (submitted < ops) {
                prepare(t, p, i);
                if (!blk_submit(b, 0, &s->req)) {
                    why = "the queue took no request";
                    break;
                }
                s->busy = true;
                submitted++;
                more = true;
            }
        }
        if (more)
            blk_kick(b, 0);
        if (why)
            break;
    }
    *done_out = done;
    return why;
}

static void run_phase(struct bb *t, const struct bb_phase *p)
{
    uint32_t len = p->seq ? BB_SEQ_BYTES : BB_RAND_BYTES;
    uint64_t ops = p->seq ? t->seq_mib : t->rand_ops;
    t->rng = t->seed ? t->seed : 1;
    t->next_unit = 0;
    t->bad_status = t->bad_data = 0;
    t->first_bad_block = 0;
    t->first_bad_status = 0;
    if (t->b.broken) {
        tap_check(false, p->name, "not run: the device is broken (%s)", t->b.broken);
        return;
    }
    tap_diag("BENCH %s begin qd=%u bytes_per_op=%u", p->name, t->qd, len);
    uint64_t start = clock_us(), done = 0;
    const char *why = run_requests(t, p, ops, &done);
    uint64_t us = clock_us() - start;
    tap_diag("BENCH %s end ops=%lu bytes=%lu", p->name, done, done * len);
    tap_diag("  guest clock: %lu us (not to be trusted where the TSC rate is assumed)", us);
    if (why)
        tap_check(false, p->name, "%s after %lu of %lu requests", why, done, ops);
    else if (t->bad_status)
        tap_check(false, p->name, "%lu requests not OK, the first at 4 KiB block %lu: %s",
                  t->bad_status, t->first_bad_block, blk_status_name(t->first_bad_status));
    else
        tap_check(!t->bad_data, p->name, "%lu blocks read back without their tag, the first %lu",
                  t->bad_data, t->first_bad_block);
    /* Say what passed (tap_check prints details only on failure). */
    if (!why && !t->bad_status && !t->bad_data)
        tap_diag("  %lu requests of %u bytes at qd %u, all OK%s", done, len, t->qd,
                 p->type == VIRTIO_BLK_T_IN ? ", every 4 KiB block's tag matched" : "");
}

/* --- The test ------------------------------------------------------------- */

static bool bb_setup(struct bb *t, struct virtio_dev *d)
{
    const char *err = blk_init(&t->b, d, blk_wanted_features(), 1);
    if (!tap_check(!err, "virtio-blk set up for the benchmark", "%s", err))
        return false;
    uint64_t cap = t->b.cfg.capacity;
    t->blocks = cap / BB_SECTORS_PER_BLOCK;
    t->seq_units = cap / (BB_SEQ_BYTES / BLK_SECTOR);
    /* A request is header, its data segments, status: one direct chain
     * each while qd of them fit in the ring, else an indirect table each. */
    unsigned segs = 1;
    if (virtio_has(d->features, VIRTIO_BLK_F_SIZE_MAX) && t->b.cfg.size_max &&
        t->b.cfg.size_max < BB_SEQ_BYTES)
        segs = (BB_SEQ_BYTES + t->b.cfg.size_max - 1) / t->b.cfg.size_max;
    t->indirect = t->qd * (segs + 2) > t->b.vq[0].num;
    tap_diag("device: vendor 0x%08x, capacity %lu sectors, size_max %u, seg_max %u, blk_size %u, "
             "queue size %u; qd %u, %u data segment(s) per 1 MiB, %s descriptors",
             d->vendor_id, cap, t->b.cfg.size_max, t->b.cfg.seg_max, t->b.cfg.blk_size,
             t->b.vq[0].num, t->qd, segs, t->indirect ? "indirect" : "direct");
    bool writes = false;
    for (unsigned i = 0; i < t->nrun; i++)
        writes |= t->run[i]->type == VIRTIO_BLK_T_OUT;
    const char *why = NULL;
    if (t->seq_units == 0)
        why = "the disk is smaller than 1 MiB";
    else if (segs > BLK_MAX_SEGS)
        why = "size_max cuts 1 MiB into more segments than the driver takes";
    else if (t->indirect && !virtio_has(d->features, VIRTIO_F_INDIRECT_DESC))
        why = "qd requests do not fit the ring and indirect descriptors were not negotiated";
    else if (writes && virtio_has(d->features, VIRTIO_BLK_F_RO))
        why = "the disk is read-only and write phases were asked for";
    if (why) {
        t->b.broken = why;
        tap_diag("cannot run: %s", why);
    }
    return !why;
}

void test_blkbench(struct guest *g)
{
    struct bb *t = &bench;
    size_t badlen = 0;
    const char *bad = parse_keys(t, g->cmd.line, &badlen);
    struct virtio_dev *d = guest_need_device(g, VIRTIO_ID_BLOCK, "a virtio-blk device");
    if (!d)
        return;
    tap_plan(1 + t->nrun);
    if (bad) {
        char tok[64];
        size_t n = badlen < sizeof(tok) - 1 ? badlen : sizeof(tok) - 1;
        memcpy(tok, bad, n);
        tok[n] = '\0';
        tap_check(false, "virtio-blk set up for the benchmark", "cannot take '%s'", tok);
        t->b.broken = "bad command line";
    } else {
        tap_diag("blkbench: qd %u, %lu MiB per sequential phase, %lu requests per random phase, "
                 "seed %lu", t->qd, t->seq_mib, t->rand_ops, t->seed);
        bb_setup(t, d);
    }
    for (unsigned i = 0; i < t->nrun; i++)
        run_phase(t, t->run[i]);
}
