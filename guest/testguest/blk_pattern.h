/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The data test=blk writes and checks: a pattern a host script can
 * compute too, and writing or checking it over a range of sectors with
 * several requests in flight.
 *
 * Each 512-byte sector is 32 records of 16 bytes, printf("%03x%010x%02x\n",
 * seed % 4096, sector % 2^40, record): the bytes say which sector and
 * which part of it they belong to, so data at the wrong offset shows. The
 * host makes the same file with
 *     awk -v seed=K -v n=N 'BEGIN { for (s = 0; s < n; s++) for (r = 0; r < 32; r++)
 *                                       printf "%03x%010x%02x\n", seed % 4096, s, r }'
 */
#ifndef TESTGUEST_BLK_PATTERN_H
#define TESTGUEST_BLK_PATTERN_H

#include <stddef.h>
#include <stdint.h>

#include "blk.h"

/* Region I/O goes in requests of BLK_CHUNK_SECTORS, BLK_REGION_INFLIGHT
 * of them in flight at once. */
#define BLK_CHUNK_SECTORS 64u
#define BLK_REGION_INFLIGHT 8u

/* Fills n sectors, the first being `sector`, with pattern `seed`. */
void blk_pattern_fill(void *buf, uint64_t sector, uint32_t n, uint64_t seed);

/* The index of the first of the n sectors in buf that does not hold the
 * pattern, or n when all do. */
uint32_t blk_pattern_check(const void *buf, uint64_t sector, uint32_t n, uint64_t seed);

/* Writes pattern `seed` over [first, first + count) through queue q.
 * False, with a reason in why, on a request that fails. */
bool blk_region_write(struct blk *b, unsigned q, uint64_t first, uint64_t count, uint64_t seed,
                      char *why, size_t whylen);

/* Reads [first, first + count) through queue q and checks it holds
 * pattern `seed`. False, with the first bad sector or the failed request
 * in why. */
bool blk_region_verify(struct blk *b, unsigned q, uint64_t first, uint64_t count, uint64_t seed,
                       char *why, size_t whylen);

#endif
