/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The virtio-balloon device's state, shared by balloon.c (the device:
 * queues, config space, snapshot) and control.c (the control socket's
 * /balloon requests).
 */
#ifndef PLUGVM_BALLOON_DEV_H
#define PLUGVM_BALLOON_DEV_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <plugvm/host.h>

#include "pages.h"
#include "queue_workers.h"
#include "stats.h"

/* A queue that the negotiated features left out. */
#define BALLOON_NO_QUEUE UINT32_MAX

struct balloon {
    const struct plugvm_host *host;
    uint64_t ram_bytes;
    /* Settings. */
    bool deflate_on_oom, free_page_reporting;
    uint32_t stats_interval_s; /* 0: no stats queue */
    uint32_t num_queues;       /* declared: 2, + stats, + reporting */

    /* Config space (§5.5.4), little-endian as the guest reads it:
     * num_pages is the host's target (pages of 4 KiB), actual what the
     * driver says it holds. */
    _Atomic uint32_t num_pages, actual;

    /* While active: the negotiated features and where each queue is. The
     * driver numbers the queues it uses one after another, so the stats
     * and reporting queues move up when a feature before them is off. */
    uint64_t features;
    bool active;
    uint32_t stats_q, reporting_q;

    struct balloon_pages pages;
    struct qw_pool pool; /* inflate, deflate and reporting workers */

    /* The stats queue: the buffer the device holds until it wants fresh
     * figures (§5.5.6.3), the timer that asks for them, the last ones. */
    pthread_mutex_t stats_lock;
    struct plugvm_chain stats_chain;
    bool stats_held, paused;
    void *stats_timer;
    struct balloon_stats stats;
    uint64_t stats_ms; /* CLOCK_MONOTONIC ms of the last update, or 0 */

    /* Refusals logged one by one before they are only counted. */
    atomic_uint refusals;
    atomic_ullong reported_bytes; /* freed by free page reporting */
};

/* The control op (device.h): GET/PUT/PATCH /balloon, GET
 * /balloon/statistics. control.c */
int balloon_control(void *instance, const char *method, const char *path, const char *body,
                    char *reply, size_t reply_len);
/* Sets the target to `pages` and tells the driver (config change). */
void balloon_set_target(struct balloon *b, uint32_t pages);

#endif
