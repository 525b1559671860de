/* SPDX-License-Identifier: Apache-2.0 */
#include "busy_guest.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <time.h>

static struct busy_guest *G(const struct plugvm_host *h)
{
    return (struct busy_guest *)((uint8_t *)h - offsetof(struct busy_guest, host));
}

static void refill(struct busy_guest *g, unsigned i)
{
    memset(g->slot[i].mem, 0, BUSY_SLOT_BYTES);
    memcpy(g->slot[i].mem, g->init, g->init_len);
    struct plugvm_chain *c = &g->slot[i].c;
    memset(c, 0, sizeof(*c));
    for (unsigned k = 0; k < g->nlayout; k++) {
        g->slot[i].iov[k] = (struct plugvm_iov){g->slot[i].mem + g->layout[k].off,
                                                g->layout[k].len, g->layout[k].writable};
        if (g->layout[k].writable)
            c->writable_bytes += g->layout[k].len;
        else
            c->readable_bytes += g->layout[k].len;
    }
    c->head = (uint16_t)i;
    c->niov = (uint16_t)g->nlayout;
    c->iov = g->slot[i].iov;
    g->slot[i].avail = true;
}

static int find_avail(struct busy_guest *g)
{
    for (unsigned k = 0; k < BUSY_SLOTS; k++) {
        unsigned i = (g->next + k) % BUSY_SLOTS;
        if (g->slot[i].avail)
            return (int)i;
    }
    return -1;
}

/* While the guest runs, an empty ring is only the moment before it puts
 * a completed chain back: vq_pop waits for that rather than answering 0,
 * so a descheduled guest thread cannot make the ring look empty and let
 * a drain loop end by luck. */
static int g_vq_pop(const struct plugvm_host *h, uint32_t q, struct plugvm_chain *out)
{
    struct busy_guest *g = G(h);
    if (q != g->queue)
        return 0;
    pthread_mutex_lock(&g->lock);
    int i;
    while ((i = find_avail(g)) < 0 && g->running)
        pthread_cond_wait(&g->changed, &g->lock);
    int rc = 0;
    if (i >= 0 && g->running) {
        g->slot[i].avail = false;
        g->slot[i].inflight = true;
        g->next = (unsigned)i + 1;
        g->popped++;
        *out = g->slot[i].c;
        rc = 1;
    }
    pthread_mutex_unlock(&g->lock);
    return rc;
}

static int g_vq_push(const struct plugvm_host *h, uint32_t q, const struct plugvm_chain *c,
                     uint32_t written)
{
    struct busy_guest *g = G(h);
    pthread_mutex_lock(&g->lock);
    int rc = 0;
    if (q != g->queue || c->head >= BUSY_SLOTS || !g->slot[c->head].inflight) {
        g->bad_push = true;
        rc = -EINVAL;
    } else {
        g->slot[c->head].inflight = false;
        g->pushed++;
        g->last_used = written;
    }
    pthread_cond_broadcast(&g->changed);
    pthread_mutex_unlock(&g->lock);
    return rc;
}

static uint32_t g_vq_avail(const struct plugvm_host *h, uint32_t q)
{
    struct busy_guest *g = G(h);
    uint32_t n = 0;
    pthread_mutex_lock(&g->lock);
    for (unsigned i = 0; q == g->queue && i < BUSY_SLOTS; i++)
        n += g->slot[i].avail;
    pthread_mutex_unlock(&g->lock);
    return n;
}

static void *guest_main(void *arg)
{
    struct busy_guest *g = arg;
    pthread_mutex_lock(&g->lock);
    while (g->running) {
        for (unsigned i = 0; i < BUSY_SLOTS; i++)
            if (!g->slot[i].avail && !g->slot[i].inflight)
                refill(g, i);
        pthread_cond_broadcast(&g->changed);
        pthread_cond_wait(&g->changed, &g->lock);
    }
    pthread_mutex_unlock(&g->lock);
    return NULL;
}

void busy_guest_init(struct busy_guest *g, struct fake_host *fh, uint32_t queue,
                     const struct busy_buf *layout, unsigned n, const void *init,
                     uint32_t init_len)
{
    memset(g, 0, sizeof(*g));
    g->host = fh->host;
    g->host.vq_pop = g_vq_pop;
    g->host.vq_push = g_vq_push;
    g->host.vq_avail = g_vq_avail;
    g->queue = queue;
    pthread_mutex_init(&g->lock, NULL);
    pthread_cond_init(&g->changed, NULL);
    g->nlayout = n < BUSY_MAX_IOV ? n : BUSY_MAX_IOV;
    memcpy(g->layout, layout, g->nlayout * sizeof(*layout));
    g->init_len = init_len < BUSY_SLOT_BYTES ? init_len : BUSY_SLOT_BYTES;
    if (g->init_len)
        memcpy(g->init, init, g->init_len);
}

void busy_guest_start(struct busy_guest *g)
{
    pthread_mutex_lock(&g->lock);
    for (unsigned i = 0; i < BUSY_SLOTS; i++)
        refill(g, i);
    g->running = true;
    pthread_mutex_unlock(&g->lock);
    g->started = pthread_create(&g->thread, NULL, guest_main, g) == 0;
}

void busy_guest_stop(struct busy_guest *g)
{
    pthread_mutex_lock(&g->lock);
    g->running = false;
    pthread_cond_broadcast(&g->changed);
    pthread_mutex_unlock(&g->lock);
    if (g->started)
        pthread_join(g->thread, NULL);
    g->started = false;
}

void busy_guest_fini(struct busy_guest *g)
{
    busy_guest_stop(g);
    pthread_cond_destroy(&g->changed);
    pthread_mutex_destroy(&g->lock);
}

static struct timespec deadline(unsigned ms)
{
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    t.tv_sec += ms / 1000;
    t.tv_nsec += (long)(ms % 1000) * 1000000;
    if (t.tv_nsec >= 1000000000) {
        t.tv_sec++;
        t.tv_nsec -= 1000000000;
    }
    return t;
}

bool busy_guest_wait_pushed(struct busy_guest *g, uint64_t n, unsigned timeout_ms)
{
    struct timespec until = deadline(timeout_ms);
    pthread_mutex_lock(&g->lock);
    int rc = 0;
    while (g->pushed < n && rc == 0)
        rc = pthread_cond_timedwait(&g->changed, &g->lock, &until);
    bool ok = g->pushed >= n;
    pthread_mutex_unlock(&g->lock);
    return ok;
}

struct resetter {
    void (*reset)(void *);
    void *instance;
    pthread_mutex_t lock;
    pthread_cond_t done_cond;
    bool done;
};

static void *reset_main(void *arg)
{
    struct resetter *r = arg;
    r->reset(r->instance);
    pthread_mutex_lock(&r->lock);
    r->done = true;
    pthread_cond_signal(&r->done_cond);
    pthread_mutex_unlock(&r->lock);
    return NULL;
}

bool busy_guest_reset_within(struct busy_guest *g, void (*reset)(void *), void *instance,
                             unsigned timeout_ms)
{
    struct resetter r = {.reset = reset, .instance = instance};
    pthread_mutex_init(&r.lock, NULL);
    pthread_cond_init(&r.done_cond, NULL);
    pthread_t t;
    if (pthread_create(&t, NULL, reset_main, &r))
        return false;
    struct timespec until = deadline(timeout_ms);
    pthread_mutex_lock(&r.lock);
    int rc = 0;
    while (!r.done && rc == 0)
        rc = pthread_cond_timedwait(&r.done_cond, &r.lock, &until);
    bool in_time = r.done;
    pthread_mutex_unlock(&r.lock);
    if (!in_time)
        busy_guest_stop(g); /* the watchdog: let a drain-until-empty loop end */
    pthread_join(t, NULL);
    pthread_cond_destroy(&r.done_cond);
    pthread_mutex_destroy(&r.lock);
    return in_time;
}
