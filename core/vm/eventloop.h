/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The core's one event loop (libevent), on a thread of its own: device
 * doorbells (ioeventfds), plugins' file descriptors and timers. Callbacks
 * run on that thread and must not block.
 */
#ifndef PLUGVM_CORE_EVENTLOOP_H
#define PLUGVM_CORE_EVENTLOOP_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include <plugvm/host.h>

struct event_base;
struct event;

struct eventloop {
    struct event_base *base;
    struct event *stop_ev; /* activated by eventloop_stop; breaks the loop from inside */
    pthread_t thread;
    bool running;
};

/* 0 or -ENOMEM. */
int eventloop_init(struct eventloop *l);
/* Starts the loop thread. 0 or -EAGAIN. */
int eventloop_start(struct eventloop *l);
/* Stops the loop and joins its thread; pending events are freed by
 * eventloop_destroy. */
void eventloop_stop(struct eventloop *l);
void eventloop_destroy(struct eventloop *l);

/* Calls fn(arg, fd, events) when fd is readable/writable (PLUGVM_EV_*),
 * persistently, until eventloop_del. Any thread. 0, -ENOMEM, -EBADF. */
int eventloop_add_fd(struct eventloop *l, int fd, uint32_t events, plugvm_event_fn fn, void *arg,
                     void **handle);
/* Calls fn(arg, -1, 0) after usec microseconds (then every usec when
 * periodic). Any thread. 0, -ENOMEM, -EINVAL (usec 0). */
int eventloop_add_timer(struct eventloop *l, uint64_t usec, bool periodic, plugvm_event_fn fn,
                        void *arg, void **handle);
/* Removes an event; when it returns, its callback is not running (unless
 * called from that callback) and will not run again. */
void eventloop_del(struct eventloop *l, void *handle);

#endif
