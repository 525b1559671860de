/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtio-rng (virtio 1.2 §5.4) as a plugvm device plugin: device id 4, one
 * queue (requestq); the driver posts device-writable buffers and the
 * device fills them with bytes from getrandom(2). No features, no config
 * space.
 *
 * The vCPU (or event loop) thread that rings the doorbell only wakes the
 * worker: getrandom may block before the host's pool is ready, and device
 * work that may block never runs on a vCPU thread.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/random.h>

#include <plugvm/device.h>
#include <plugvm/plugin.h>

#define VIRTIO_ID_ENTROPY 4
#define QUEUE_SIZE 256

struct rng {
    const struct plugvm_host *host;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    bool kicked;
    /* Set under lock; atomic because serve() reads it between chains
     * without the lock. */
    atomic_bool stopping;
    void *worker; /* while active */
};

/* Fills every writable buffer of a chain; returns the bytes written. */
static uint32_t fill(const struct plugvm_chain *c)
{
    uint32_t written = 0;
    for (uint16_t i = 0; i < c->niov; i++) {
        if (!c->iov[i].writable)
            continue;
        uint8_t *p = c->iov[i].addr;
        uint32_t left = c->iov[i].len;
        while (left) {
            ssize_t n = getrandom(p, left, 0);
            if (n < 0) {
                if (errno == EINTR)
                    continue;
                return written;
            }
            p += n;
            left -= (uint32_t)n;
            written += (uint32_t)n;
        }
    }
    return written;
}

/* Drains the queue until it is empty or the device is stopping. The ring
 * need never be empty: the guest's other vCPU may refill it as fast as we
 * serve it, and reset, which waits for this loop on a vCPU thread with the
 * transport lock held, would then never return. So the stop is checked
 * between chains; a chain popped is always pushed. */
static void serve(struct rng *r)
{
    struct plugvm_chain c;
    bool pushed = false;
    while (!atomic_load(&r->stopping) && r->host->vq_pop(r->host, 0, &c) == 1) {
        r->host->vq_push(r->host, 0, &c, fill(&c));
        pushed = true;
    }
    if (pushed)
        r->host->notify_used(r->host, 0);
}

static void worker(void *arg)
{
    struct rng *r = arg;
    pthread_mutex_lock(&r->lock);
    for (;;) {
        while (!r->kicked && !r->stopping)
            pthread_cond_wait(&r->wake, &r->lock);
        if (r->stopping)
            break;
        r->kicked = false;
        pthread_mutex_unlock(&r->lock);
        serve(r);
        pthread_mutex_lock(&r->lock);
    }
    pthread_mutex_unlock(&r->lock);
}

static int rng_create(const struct plugvm_host *host, const struct plugvm_settings *settings,
                      struct plugvm_device_info *info, void **instance)
{
    (void)settings;
    struct rng *r = calloc(1, sizeof(*r));
    if (!r)
        return -ENOMEM;
    r->host = host;
    pthread_mutex_init(&r->lock, NULL);
    pthread_cond_init(&r->wake, NULL);
    *info = (struct plugvm_device_info){
        .device_id = VIRTIO_ID_ENTROPY,
        .features = 0,
        .num_queues = 1,
        .queue_max_size = QUEUE_SIZE,
        .config_size = 0,
    };
    *instance = r;
    return 0;
}

static int rng_activate(void *instance, uint64_t features)
{
    (void)features;
    struct rng *r = instance;
    r->stopping = false;
    r->kicked = true; /* buffers may already wait */
    return r->host->start_worker(r->host, "rng", worker, r, &r->worker);
}

static void rng_reset(void *instance)
{
    struct rng *r = instance;
    if (!r->worker)
        return;
    pthread_mutex_lock(&r->lock);
    r->stopping = true;
    pthread_cond_signal(&r->wake);
    pthread_mutex_unlock(&r->lock);
    r->host->join_worker(r->host, r->worker);
    r->worker = NULL;
}

static void rng_notify(void *instance, uint32_t queue)
{
    (void)queue;
    struct rng *r = instance;
    pthread_mutex_lock(&r->lock);
    r->kicked = true;
    pthread_cond_signal(&r->wake);
    pthread_mutex_unlock(&r->lock);
}

static void rng_destroy(void *instance)
{
    struct rng *r = instance;
    rng_reset(r);
    pthread_cond_destroy(&r->wake);
    pthread_mutex_destroy(&r->lock);
    free(r);
}

/* No settings: the table is just its terminator. */
static const struct plugvm_setting_spec rng_settings[] = {PLUGVM_SETTINGS_END};

static const struct plugvm_device_ops rng_ops = {
    .size = sizeof(struct plugvm_device_ops),
    .settings = rng_settings,
    .create = rng_create,
    .destroy = rng_destroy,
    .activate = rng_activate,
    .reset = rng_reset,
    .notify = rng_notify,
};

PLUGVM_EXPORT const struct plugvm_plugin plugvm_plugin = {
    PLUGVM_PLUGIN_INIT,
    .kind = PLUGVM_KIND_DEVICE,
    .name = "rng",
    .version = RNG_VERSION,
    .description = "virtio-rng: guest entropy from the host's getrandom(2)",
    .ops = &rng_ops,
};
