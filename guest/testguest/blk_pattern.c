/* SPDX-License-Identifier: Apache-2.0 */
#include "blk_pattern.h"

#include "console.h"
#include "lib.h"

#define RECORD 16u
#define RECORDS (BLK_SECTOR / RECORD)

static struct blk_req region_req[BLK_REGION_INFLIGHT];
static uint8_t region_buf[BLK_REGION_INFLIGHT][BLK_CHUNK_SECTORS * BLK_SECTOR]
    __attribute__((aligned(4096)));

/* Lower-case hex, zero-padded to `digits`, as printf's %0Nx. */
static void put_hex(uint8_t *p, uint64_t v, unsigned digits)
{
    for (unsigned i = digits; i > 0; i--) {
        p[i - 1] = (uint8_t)"0123456789abcdef"[v & 0xf];
        v >>= 4;
    }
}

static void fill_sector(uint8_t *p, uint64_t sector, uint64_t seed)
{
    for (unsigned r = 0; r < RECORDS; r++, p += RECORD) {
        put_hex(p, seed % 4096, 3);
        put_hex(p + 3, sector & ((1ull << 40) - 1), 10);
        put_hex(p + 13, r, 2);
        p[15] = '\n';
    }
}

void blk_pattern_fill(void *buf, uint64_t sector, uint32_t n, uint64_t seed)
{
    uint8_t *p = buf;
    for (uint32_t i = 0; i < n; i++)
        fill_sector(p + (size_t)i * BLK_SECTOR, sector + i, seed);
}

uint32_t blk_pattern_check(const void *buf, uint64_t sector, uint32_t n, uint64_t seed)
{
    const uint8_t *p = buf;
    uint8_t want[BLK_SECTOR];
    for (uint32_t i = 0; i < n; i++) {
        fill_sector(want, sector + i, seed);
        if (memcmp(p + (size_t)i * BLK_SECTOR, want, BLK_SECTOR) != 0)
            return i;
    }
    return n;
}

/* One pass over up to BLK_REGION_INFLIGHT chunks from `first`: all
 * submitted, one notification, then all waited for. */
static bool region_pass(struct blk *b, unsigned q, uint32_t type, uint64_t first, uint64_t end,
                        uint64_t seed, unsigned *nreq, char *why, size_t whylen)
{
    struct blk_req *reqs[BLK_REGION_INFLIGHT];
    unsigned n = 0;
    for (uint64_t s = first; s < end && n < BLK_REGION_INFLIGHT; s += BLK_CHUNK_SECTORS, n++) {
        uint32_t len = (uint32_t)(end - s < BLK_CHUNK_SECTORS ? end - s : BLK_CHUNK_SECTORS);
        struct blk_req *r = &region_req[n];
        if (type == VIRTIO_BLK_T_OUT)
            blk_pattern_fill(region_buf[n], s, len, seed);
        else
            memset(region_buf[n], 0xee, len * BLK_SECTOR);
        blk_req_init(r, type, s);
        if (!blk_req_data_split(b, r, region_buf[n], len * BLK_SECTOR) || !blk_submit(b, q, r)) {
            str_format(why, whylen, "cannot submit sectors %lu+%u: %s", s, len,
                       b->broken ? b->broken : "no room (size_max / seg_max / queue)");
            if (n) { /* let the ones already queued finish before their buffers are reused */
                blk_kick(b, q);
                blk_wait(b, reqs, n);
            }
            return false;
        }
        reqs[n] = r;
    }
    blk_kick(b, q);
    *nreq = n;
    if (!blk_wait(b, reqs, n)) {
        str_format(why, whylen, "%s", b->broken);
        return false;
    }
    for (unsigned i = 0; i < n; i++) {
        if (reqs[i]->status != VIRTIO_BLK_S_OK) {
            str_format(why, whylen, "%s of the chunk at sector %lu: status %s",
                       type == VIRTIO_BLK_T_OUT ? "write" : "read", reqs[i]->hdr.sector,
                       blk_status_name(reqs[i]->status));
            return false;
        }
    }
    return true;
}

static bool region_io(struct blk *b, unsigned q, uint32_t type, uint64_t first, uint64_t count,
                      uint64_t seed, char *why, size_t whylen)
{
    uint64_t end = first + count;
    for (uint64_t s = first; s < end;) {
        unsigned n = 0;
        if (!region_pass(b, q, type, s, end, seed, &n, why, whylen))
            return false;
        if (type == VIRTIO_BLK_T_IN) {
            for (unsigned i = 0; i < n; i++) {
                uint64_t at = s + (uint64_t)i * BLK_CHUNK_SECTORS;
                uint32_t len = (uint32_t)(end - at < BLK_CHUNK_SECTORS ? end - at : BLK_CHUNK_SECTORS);
                uint32_t bad = blk_pattern_check(region_buf[i], at, len, seed);
                if (bad < len) {
                    char got[17];
                    memcpy(got, region_buf[i] + (size_t)bad * BLK_SECTOR, 16);
                    for (unsigned k = 0; k < 16; k++)
                        if (got[k] < 0x20 || got[k] > 0x7e)
                            got[k] = '.';
                    got[16] = '\0';
                    str_format(why, whylen, "sector %lu does not hold pattern %lu (starts '%s')",
                               at + bad, seed, got);
                    return false;
                }
            }
        }
        s += (uint64_t)n * BLK_CHUNK_SECTORS;
    }
    return true;
}

bool blk_region_write(struct blk *b, unsigned q, uint64_t first, uint64_t count, uint64_t seed,
                      char *why, size_t whylen)
{
    return region_io(b, q, VIRTIO_BLK_T_OUT, first, count, seed, why, whylen);
}

bool blk_region_verify(struct blk *b, unsigned q, uint64_t first, uint64_t count, uint64_t seed,
                       char *why, size_t whylen)
{
    return region_io(b, q, VIRTIO_BLK_T_IN, first, count, seed, why, whylen);
}
