/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The balloon's pages (virtio 1.2 §5.5.6): which guest page frames the
 * driver has inflated, and what inflating and deflating a chain's PFN
 * array does to them. Every PFN comes from the guest and is checked: one
 * outside guest RAM (past its end, in the MMIO hole) or inflated twice, a
 * deflate of a page never inflated, and a trailing partial PFN are
 * counted in `struct balloon_refusals` and otherwise ignored; only pages
 * inside guest RAM are ever handed to the host's discard_ram.
 *
 * Threading: the inflate and deflate workers and the event-loop thread
 * (save, restore, reset) call in; a mutex inside serialises them.
 */
#ifndef PLUGVM_BALLOON_PAGES_H
#define PLUGVM_BALLOON_PAGES_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include <plugvm/host.h>
#include <plugvm/record.h>

#define BALLOON_PAGE 4096u /* VIRTIO_BALLOON_PFN_SHIFT 12: always 4 KiB */

struct balloon_pages {
    const struct plugvm_host *host;
    pthread_mutex_t lock;
    uint64_t npfn;      /* PFNs [0, npfn) may be RAM: RAM plus the holes */
    uint64_t *inflated; /* bitmap over [0, npfn) */
    uint64_t count;     /* bits set: pages in the balloon */
};

/* What one chain held that was not acted on. */
struct balloon_refusals {
    uint32_t outside;      /* PFNs not wholly inside guest RAM */
    uint32_t twice;        /* inflated while already in the balloon */
    uint32_t not_inflated; /* deflated while not in the balloon */
    uint32_t partial;      /* bytes after the last whole 4-byte PFN */
    uint32_t failed;       /* pages discard_ram refused */
    uint64_t first_pfn;    /* the first refused PFN, for the log line */
};

/* For a guest with `ram_bytes` of RAM. 0 or -ENOMEM. */
int balloon_pages_init(struct balloon_pages *p, const struct plugvm_host *h, uint64_t ram_bytes);
void balloon_pages_fini(struct balloon_pages *p);
/* Empties the balloon (a device reset: the driver starts again at 0). */
void balloon_pages_clear(struct balloon_pages *p);

/* Serves an inflate (deflate false) or deflate chain: its readable
 * buffers are an array of le32 PFNs. Inflated pages go to discard_ram,
 * runs of adjacent pages in one call. Returns the PFNs acted on; *r says
 * what was refused. */
uint32_t balloon_pages_serve(struct balloon_pages *p, const struct plugvm_chain *c, bool deflate,
                             struct balloon_refusals *r);

uint64_t balloon_pages_count(struct balloon_pages *p);

/* The inflated set in a snapshot record (already begun by the caller):
 * npfn, count, then runs of (first PFN, pages). 0 or the writer's error. */
int balloon_pages_save(struct balloon_pages *p, struct plugvm_record_writer *w);
/* Reads what balloon_pages_save wrote into an empty set. 0, or -EBADMSG
 * with *why saying what did not fit (another RAM size, runs out of
 * range, overlapping or miscounted). */
int balloon_pages_restore(struct balloon_pages *p, struct plugvm_record_reader *r,
                          const char **why);

#endif
