/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A fake of the core for device-plugin unit tests: the host services table
 * (include/plugvm/host.h) over scripted queues, and a settings object
 * (include/plugvm/settings.h) filled by the test. No VM, no guest memory:
 * chains point at the test's own buffers.
 */
#ifndef PLUGVM_TESTS_FAKE_HOST_H
#define PLUGVM_TESTS_FAKE_HOST_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include <plugvm/host.h>
#include <plugvm/settings.h>

#define FAKE_QUEUES 4
#define FAKE_QUEUE_DEPTH 64

struct fake_queue {
    struct plugvm_chain pending[FAKE_QUEUE_DEPTH];
    unsigned npending, next; /* next: the next pending chain vq_pop hands out */
    struct {
        uint16_t head;
        uint32_t used;
    } done[FAKE_QUEUE_DEPTH];
    unsigned ndone;
    unsigned notified; /* notify_used calls */
};

/* An event registered with add_fd or add_timer. */
#define FAKE_EVENTS 4096
struct fake_event {
    bool used;
    int fd;           /* -1: a timer */
    uint32_t events;  /* PLUGVM_EV_* */
    bool periodic;
    uint64_t usec, due_us;
    plugvm_event_fn fn;
    void *arg;
};

struct fake_host {
    struct plugvm_host host;
    pthread_mutex_t lock;
    pthread_cond_t changed;
    struct fake_queue q[FAKE_QUEUES];
    bool bad_push;         /* a push of a chain not popped, or twice */
    unsigned config_notified; /* notify_config calls */
    char last_log[1024];
    unsigned nlog;
    struct fake_event *ev; /* FAKE_EVENTS of them, for add_fd/add_timer */
};

void fake_host_init(struct fake_host *f);
void fake_host_fini(struct fake_host *f);
/* Makes chain c (its iov array must outlive the test) available on queue q. */
void fake_host_offer(struct fake_host *f, uint32_t q, const struct plugvm_chain *c);
/* Waits up to timeout_ms for queue q to have n completed chains. */
bool fake_host_wait_done(struct fake_host *f, uint32_t q, unsigned n, unsigned timeout_ms);
unsigned fake_host_done(struct fake_host *f, uint32_t q);

/* The event loop, run on the calling thread (which is then the plugin's
 * "event-loop thread"): poll()s the registered fds for up to timeout_ms
 * and fires due timers, then calls each ready callback once. Returns how
 * many callbacks ran. */
unsigned fake_host_run_events(struct fake_host *f, unsigned timeout_ms);
/* Events registered now. */
unsigned fake_host_nevents(struct fake_host *f);

/* Fills c from iov[0..n): head, niov and the readable/writable sums. */
void fake_chain(struct plugvm_chain *c, struct plugvm_iov *iov, unsigned n, uint16_t head);

#define FAKE_SETTINGS_MAX 16
struct fake_settings {
    struct plugvm_settings handle;
    struct {
        const char *name;
        uint32_t type;
        const char *s;
        int64_t i;
        bool b;
    } v[FAKE_SETTINGS_MAX];
    unsigned n;
};

void fake_settings_init(struct fake_settings *s);
void fake_settings_string(struct fake_settings *s, const char *name, const char *value);
void fake_settings_int(struct fake_settings *s, const char *name, int64_t value);
void fake_settings_bool(struct fake_settings *s, const char *name, bool value);

#endif
