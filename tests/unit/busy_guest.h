/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A hostile guest for device-plugin reset tests: a thread (the guest's
 * other vCPU) that keeps the avail ring of one queue full, making each
 * chain the device completes available again at once. It sits in front
 * of a fake_host (fake_host.h): its host table is the fake host's with
 * vq_pop, vq_push and vq_avail served from its own ring; log, workers and
 * notify_used are the fake host's.
 */
#ifndef PLUGVM_TESTS_BUSY_GUEST_H
#define PLUGVM_TESTS_BUSY_GUEST_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "fake_host.h"

#define BUSY_SLOTS 32        /* chains the ring holds */
#define BUSY_SLOT_BYTES 64   /* guest memory of one chain */
#define BUSY_MAX_IOV 4

/* One buffer of a chain: at byte `off` of its slot's memory. */
struct busy_buf {
    uint32_t off, len;
    bool writable;
};

struct busy_guest {
    struct plugvm_host host; /* give this to the plugin's create */
    uint32_t queue;
    pthread_mutex_t lock;
    pthread_cond_t changed;
    pthread_t thread;
    bool running; /* the guest thread refills; vq_pop returns 0 once it stops */
    bool started;
    /* Each chain: buffers at offsets of its slot's memory, and the bytes
     * its memory starts with (a request header). */
    struct busy_buf layout[BUSY_MAX_IOV];
    unsigned nlayout;
    uint8_t init[BUSY_SLOT_BYTES];
    uint32_t init_len;
    struct {
        uint8_t mem[BUSY_SLOT_BYTES];
        struct plugvm_iov iov[BUSY_MAX_IOV];
        struct plugvm_chain c;
        bool avail, inflight;
    } slot[BUSY_SLOTS];
    unsigned next; /* where vq_pop looks first */
    uint64_t popped, pushed;
    uint32_t last_used; /* the used length of the last push */
    bool bad_push;      /* a push of a chain not in flight */
};

/* Sets the guest up in front of fh for queue `queue`: chains of n buffers
 * as in layout (within BUSY_SLOT_BYTES), their memory starting with
 * init[0..init_len). */
void busy_guest_init(struct busy_guest *g, struct fake_host *fh, uint32_t queue,
                     const struct busy_buf *layout, unsigned n, const void *init,
                     uint32_t init_len);
/* Fills the ring and starts refilling it. */
void busy_guest_start(struct busy_guest *g);
/* Stops refilling (the ring then reads empty) and joins the thread. */
void busy_guest_stop(struct busy_guest *g);
void busy_guest_fini(struct busy_guest *g);
/* Waits up to timeout_ms for n chains to have been pushed in all. */
bool busy_guest_wait_pushed(struct busy_guest *g, uint64_t n, unsigned timeout_ms);
/* Calls reset(instance) on a thread of its own (the vCPU that wrote 0 to
 * Status) while the guest keeps refilling. Whether it returned within
 * timeout_ms; if not, the guest stops refilling so that a plugin which
 * drains until the ring is empty can finish, and the call is joined: the
 * test fails rather than hangs. */
bool busy_guest_reset_within(struct busy_guest *g, void (*reset)(void *), void *instance,
                             unsigned timeout_ms);

#endif
