/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Worker threads that serve a device's virtqueues (virtio 1.2 §2.7), for
 * device plugins whose requests may block (a disk's pread, a FUSE op): a
 * queue's doorbell (notify, on the event-loop or a vCPU thread, which must
 * not block) only wakes that queue's workers, which pop descriptor chains,
 * serve each through the device's `serve` callback, push it and raise the
 * used-buffer interrupt. Several workers per queue serve its chains side
 * by side (completed out of order, as §2.7.8 allows).
 *
 * Pausing and stopping take effect between chains, never inside one: a
 * chain popped is always served and pushed. That is the device's quiesce
 * (the snapshot's pause gate: when qw_pause returns, no chain is
 * half-served and none starts until qw_resume) and its reset (workers
 * joined even while the guest keeps refilling the avail ring, so reset
 * on a vCPU thread never waits for the guest).
 *
 * Threading: qw_start, qw_stop, qw_pause and qw_resume from the device's
 * activate, reset/destroy, quiesce and resume (never two at once, as
 * device.h promises); qw_kick from notify, any thread, never blocks for
 * long. `serve` runs on the workers only.
 */
#ifndef PLUGVM_PLUGINS_QUEUE_WORKERS_H
#define PLUGVM_PLUGINS_QUEUE_WORKERS_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <plugvm/host.h>
#include <plugvm/plugin.h>

#define QW_MAX_QUEUES 16
#define QW_MAX_WORKERS 8 /* per queue */

/* Serves one chain of `queue` on worker `worker` (0..workers-1 of that
 * queue: an index for per-worker scratch space) and returns the bytes
 * written into its writable buffers, for the used ring. */
typedef uint32_t (*qw_serve_fn)(void *arg, uint32_t queue, uint32_t worker,
                                const struct plugvm_chain *c);

struct qw_pool;

struct qw_worker {
    struct qw_queue *q;
    uint32_t index;
    void *handle; /* start_worker's, while running */
};

struct qw_queue {
    struct qw_pool *p;
    uint32_t index;
    pthread_cond_t wake;
    bool kicked;   /* the doorbell rang, or work was left at a pause */
    unsigned busy; /* workers serving chains */
    struct qw_worker w[QW_MAX_WORKERS];
};

struct qw_pool {
    const struct plugvm_host *host;
    const char *name; /* thread names: NAME-qQ.W, the core keeps 15 bytes */
    uint32_t nqueues, workers;
    qw_serve_fn serve;
    void *arg;
    /* Bit q: the device serves queue q itself (the balloon's stats queue,
     * whose buffer it holds): qw_start starts no worker for it and
     * qw_kick ignores it. Zero after qw_init; set before qw_start. */
    uint32_t own;
    pthread_mutex_t lock; /* kicked, busy; stopping and paused change under it */
    pthread_cond_t idle;  /* a worker stopped being busy */
    /* Atomic as well: the serving loop reads both between chains without
     * the lock. */
    atomic_bool stopping, paused;
    struct qw_queue q[QW_MAX_QUEUES];
};

/* Sets up (no thread yet) `workers` workers (1..QW_MAX_WORKERS) for each
 * of queues 0..nqueues-1 (1..QW_MAX_QUEUES). `name` (static) names the
 * threads. 0 or -EINVAL. */
int qw_init(struct qw_pool *p, const struct plugvm_host *h, const char *name, uint32_t nqueues,
            uint32_t workers, qw_serve_fn serve, void *arg);
/* Starts every worker, each queue marked kicked (chains may already
 * wait, as after a restore). 0, or start_worker's error with none left
 * running. */
int qw_start(struct qw_pool *p);
/* Stops and joins every worker (each finishes the chain it serves). */
void qw_stop(struct qw_pool *p);
/* The doorbell of `queue` (ignored when out of range). */
void qw_kick(struct qw_pool *p, uint32_t queue);
/* Parks every worker between chains and waits until none serves one. */
void qw_pause(struct qw_pool *p);
void qw_resume(struct qw_pool *p);
/* Stops the workers and frees what qw_init set up. */
void qw_fini(struct qw_pool *p);

#endif
