/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The guest's memory statistics (virtio 1.2 §5.5.6.3): the stats queue's
 * buffer is an array of 10-byte entries, a le16 tag and a le64 value
 * (struct virtio_balloon_stat). Tags this plugin does not know are
 * skipped; a trailing partial entry is counted, not read.
 */
#ifndef PLUGVM_BALLOON_STATS_H
#define PLUGVM_BALLOON_STATS_H

#include <stdbool.h>
#include <stdint.h>

#include <plugvm/host.h>

/* Tags 0..15: the spec's ten (VIRTIO_BALLOON_S_SWAP_IN .. HTLB_PGFAIL)
 * and the six Linux 6.x adds (OOM kills, allocation stalls, scans and
 * reclaims). */
#define BALLOON_STATS_TAGS 16

struct balloon_stats {
    uint64_t value[BALLOON_STATS_TAGS];
    uint32_t have;     /* bit t: the guest reported tag t */
    uint32_t unknown;  /* entries with a tag past BALLOON_STATS_TAGS */
    uint32_t partial;  /* bytes after the last whole entry */
    uint64_t updates;  /* buffers read */
};

/* Reads the chain's readable buffers into *s (tags not reported keep
 * their earlier values, as the guest sends every tag it has each time). */
void balloon_stats_read(struct balloon_stats *s, const struct plugvm_chain *c);

/* The JSON member name of tag t (Firecracker's names: "swap_in",
 * "free_memory", ...), or NULL. */
const char *balloon_stats_name(unsigned t);

#endif
