/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtio-balloon (virtio 1.2 §5.5) as a plugvm device plugin: guest RAM
 * given back to the host. The host sets a target (config num_pages, from
 * the `amount_mib` setting or the control socket); the guest's driver
 * inflates pages towards it (inflate queue) and gives them back when the
 * target falls or, with deflate_on_oom, when it runs out of memory
 * (deflate queue). Each inflated page is released with the host's
 * discard_ram (MADV_DONTNEED) at once, before the chain completes. With
 * free_page_reporting the driver also hands over free pages of 2 MiB and
 * more on its own (reporting queue); with stats_interval_s it sends its
 * memory statistics (stats queue) every that many seconds.
 *
 * Inflate, deflate and reporting chains are served on worker threads
 * (queue_workers.c), never on a vCPU; the stats queue, which only copies
 * a few bytes, is served where its doorbell rings and on the timer.
 */
#include <errno.h>
#include <linux/virtio_balloon.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <plugvm/device.h>
#include <plugvm/plugin.h>

#include "balloon_dev.h"

#define QUEUE_SIZE 256 /* Linux's VIRTIO_BALLOON_ARRAY_PFNS_MAX is 256 */
#define Q_INFLATE 0
#define Q_DEFLATE 1
#define REFUSALS_LOGGED 32
#define CONFIG_SIZE 8 /* num_pages, actual: no FREE_PAGE_HINT, no PAGE_POISON */

#define RECORD_TAG_BALLOON 1
#define RECORD_VERSION_BALLOON 1

static uint64_t now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000 + (uint64_t)t.tv_nsec / 1000000;
}

/* One line per chain that held something refused, the first
 * REFUSALS_LOGGED of them: a guest cannot fill the log. */
static void log_refusals(struct balloon *b, const char *what, const struct balloon_refusals *r)
{
    if (!r->outside && !r->twice && !r->not_inflated && !r->partial && !r->failed)
        return;
    unsigned n = atomic_fetch_add(&b->refusals, 1);
    const struct plugvm_host *h = b->host;
    if (n < REFUSALS_LOGGED)
        h->log(h, PLUGVM_LOG_WARN,
               "%s: ignored %u PFNs outside guest RAM, %u already inflated, %u not inflated, %u "
               "not released, %u bytes of a partial PFN (first PFN ignored 0x%llx)",
               what, r->outside, r->twice, r->not_inflated, r->failed, r->partial,
               (unsigned long long)r->first_pfn);
    else if (n == REFUSALS_LOGGED)
        h->log(h, PLUGVM_LOG_WARN, "more chains with refused PFNs; no longer logged one by one");
}

/* Free page reporting (§5.5.6.5): each buffer is a run of free guest
 * pages, given to the device to release; the core checked that every
 * buffer lies inside guest RAM before handing the chain out. */
static void serve_report(struct balloon *b, const struct plugvm_chain *c)
{
    const struct plugvm_host *h = b->host;
    for (uint16_t i = 0; i < c->niov; i++) {
        int rc = h->discard_ram(h, c->iov[i].addr, c->iov[i].len);
        if (rc == 0) {
            atomic_fetch_add(&b->reported_bytes, c->iov[i].len);
        } else if (atomic_fetch_add(&b->refusals, 1) < REFUSALS_LOGGED) {
            h->log(h, PLUGVM_LOG_WARN, "free page report of %u bytes not released: %s",
                   c->iov[i].len, strerror(-rc));
        }
    }
}

static uint32_t serve(void *arg, uint32_t queue, uint32_t worker, const struct plugvm_chain *c)
{
    (void)worker;
    struct balloon *b = arg;
    struct balloon_refusals r;
    if (queue == Q_INFLATE || queue == Q_DEFLATE) {
        balloon_pages_serve(&b->pages, c, queue == Q_DEFLATE, &r);
        log_refusals(b, queue == Q_INFLATE ? "inflate" : "deflate", &r);
    } else if (queue == b->reporting_q) {
        serve_report(b, c);
    }
    return 0; /* the device writes nothing into any of these buffers */
}

/* --- The stats queue (§5.5.6.3) --- */

/* Takes the driver's stats buffer, reads it and keeps it. Lock held. */
static void stats_take(struct balloon *b)
{
    const struct plugvm_host *h = b->host;
    if (b->stats_held || b->paused || !b->active || b->stats_q == BALLOON_NO_QUEUE)
        return;
    struct plugvm_chain c;
    if (h->vq_pop(h, b->stats_q, &c) != 1)
        return;
    balloon_stats_read(&b->stats, &c);
    b->stats_ms = now_ms();
    b->stats_chain = c;
    b->stats_held = true;
}

/* The timer: hands the buffer back, which asks the driver for fresh
 * figures; it answers with a new buffer on the queue. */
static void stats_tick(void *arg, int fd, uint32_t events)
{
    (void)fd;
    (void)events;
    struct balloon *b = arg;
    const struct plugvm_host *h = b->host;
    pthread_mutex_lock(&b->stats_lock);
    if (!b->paused && b->active) {
        if (b->stats_held) {
            b->stats_held = false;
            h->vq_push(h, b->stats_q, &b->stats_chain, 0);
            h->notify_used(h, b->stats_q);
        } else {
            stats_take(b); /* a buffer given back at a pause, or restored */
        }
    }
    pthread_mutex_unlock(&b->stats_lock);
}

/* --- The device --- */

static const struct plugvm_setting_spec balloon_settings[] = {
    PLUGVM_SETTING("amount_mib", PLUGVM_SETTING_INT, 0, 0, 1 << 24,
                   "target balloon size at boot, MiB (default 0); the control socket moves it"),
    PLUGVM_SETTING("deflate_on_oom", PLUGVM_SETTING_BOOL, 0, 0, -1,
                   "let the guest take pages back from the balloon rather than kill a process "
                   "when it runs out of memory (default false)"),
    PLUGVM_SETTING("stats_interval_s", PLUGVM_SETTING_INT, 0, 0, 3600,
                   "ask the guest for memory statistics every this many seconds; 0 (default): "
                   "no statistics"),
    PLUGVM_SETTING("free_page_reporting", PLUGVM_SETTING_BOOL, 0, 0, -1,
                   "the guest hands free memory (2 MiB blocks) back to the host by itself "
                   "(default false)"),
    PLUGVM_SETTINGS_END,
};

static void balloon_destroy(void *instance);

void balloon_set_target(struct balloon *b, uint32_t pages)
{
    if (atomic_exchange(&b->num_pages, pages) != pages)
        b->host->notify_config(b->host);
}

static int balloon_create(const struct plugvm_host *host, const struct plugvm_settings *s,
                          struct plugvm_device_info *info, void **instance)
{
    const struct plugvm_settings_ops *ops = s->ops;
    if (!PLUGVM_HAS(host, struct plugvm_host, discard_ram) ||
        !PLUGVM_HAS(host, struct plugvm_host, ram_bytes)) {
        host->log(host, PLUGVM_LOG_ERROR, "this plugvm cannot give guest RAM back to the host "
                  "(no discard_ram service): the balloon needs a newer core");
        return -ENOTSUP;
    }
    struct balloon *b = calloc(1, sizeof(*b));
    if (!b)
        return -ENOMEM;
    b->host = host;
    b->ram_bytes = host->ram_bytes(host);
    int64_t mib = 0, interval = 0;
    ops->get_int(s, "amount_mib", &mib);
    ops->get_int(s, "stats_interval_s", &interval);
    ops->get_bool(s, "deflate_on_oom", &b->deflate_on_oom);
    ops->get_bool(s, "free_page_reporting", &b->free_page_reporting);
    if ((uint64_t)mib << 20 > b->ram_bytes) {
        char at[256];
        host->log(host, PLUGVM_LOG_ERROR, "%s: amount_mib %lld is more than guest RAM (%llu MiB)",
                  ops->where(s, "amount_mib", at, sizeof(at)), (long long)mib,
                  (unsigned long long)(b->ram_bytes >> 20));
        free(b);
        return -EINVAL;
    }
    b->stats_interval_s = (uint32_t)interval;
    b->num_pages = (uint32_t)((uint64_t)mib << 20 >> 12);
    b->num_queues = 2 + (b->stats_interval_s > 0) + b->free_page_reporting;
    b->stats_q = b->reporting_q = BALLOON_NO_QUEUE;
    pthread_mutex_init(&b->stats_lock, NULL);
    if (balloon_pages_init(&b->pages, host, b->ram_bytes) ||
        qw_init(&b->pool, host, "balloon", b->num_queues, 1, serve, b)) {
        balloon_destroy(b);
        return -ENOMEM;
    }
    uint64_t f = 0;
    if (b->stats_interval_s)
        f |= 1ull << VIRTIO_BALLOON_F_STATS_VQ;
    if (b->deflate_on_oom)
        f |= 1ull << VIRTIO_BALLOON_F_DEFLATE_ON_OOM;
    if (b->free_page_reporting)
        f |= 1ull << VIRTIO_BALLOON_F_REPORTING;
    *info = (struct plugvm_device_info){
        .device_id = VIRTIO_ID_BALLOON,
        .features = f,
        .num_queues = b->num_queues,
        .queue_max_size = QUEUE_SIZE,
        .config_size = CONFIG_SIZE,
    };
    *instance = b;
    return 0;
}

static void stop_stats(struct balloon *b)
{
    /* Not under stats_lock: del_event waits for a running tick, which
     * takes it. */
    if (b->stats_timer)
        b->host->del_event(b->host, b->stats_timer);
    b->stats_timer = NULL;
    pthread_mutex_lock(&b->stats_lock);
    b->stats_held = false; /* the transport drops chains in flight */
    pthread_mutex_unlock(&b->stats_lock);
}

static int balloon_activate(void *instance, uint64_t features)
{
    struct balloon *b = instance;
    b->features = features;
    uint32_t next = 2;
    b->stats_q = features & 1ull << VIRTIO_BALLOON_F_STATS_VQ ? next++ : BALLOON_NO_QUEUE;
    b->reporting_q = features & 1ull << VIRTIO_BALLOON_F_REPORTING ? next++ : BALLOON_NO_QUEUE;
    b->pool.own = b->stats_q == BALLOON_NO_QUEUE ? 0 : 1u << b->stats_q;
    int rc = qw_start(&b->pool);
    if (rc)
        return rc;
    pthread_mutex_lock(&b->stats_lock);
    b->active = true;
    pthread_mutex_unlock(&b->stats_lock);
    if (b->stats_q != BALLOON_NO_QUEUE) {
        rc = b->host->add_timer(b->host, (uint64_t)b->stats_interval_s * 1000000, true, stats_tick,
                                b, &b->stats_timer);
        if (rc) {
            b->stats_timer = NULL;
            b->host->log(b->host, PLUGVM_LOG_WARN, "no statistics timer: %s", strerror(-rc));
        }
    }
    return 0;
}

static void balloon_reset(void *instance)
{
    struct balloon *b = instance;
    stop_stats(b);
    qw_stop(&b->pool);
    pthread_mutex_lock(&b->stats_lock);
    b->active = false;
    pthread_mutex_unlock(&b->stats_lock);
    b->features = 0;
    b->stats_q = b->reporting_q = BALLOON_NO_QUEUE;
    /* A driver starting again holds nothing: every page is the guest's. */
    balloon_pages_clear(&b->pages);
    atomic_store(&b->actual, 0);
}

static void balloon_notify(void *instance, uint32_t queue)
{
    struct balloon *b = instance;
    if (queue == b->stats_q) {
        pthread_mutex_lock(&b->stats_lock);
        stats_take(b);
        pthread_mutex_unlock(&b->stats_lock);
        return;
    }
    qw_kick(&b->pool, queue);
}

static void balloon_config_read(void *instance, uint32_t offset, void *data, uint32_t len)
{
    struct balloon *b = instance;
    uint8_t c[CONFIG_SIZE];
    uint32_t n = atomic_load(&b->num_pages), a = atomic_load(&b->actual);
    for (int i = 0; i < 4; i++) {
        c[i] = (uint8_t)(n >> (8 * i));
        c[4 + i] = (uint8_t)(a >> (8 * i));
    }
    if (offset <= CONFIG_SIZE && len <= CONFIG_SIZE - offset)
        memcpy(data, c + offset, len);
}

/* Only `actual` is the driver's to write (§5.5.6); num_pages is the
 * device's, and a write to it is ignored. */
static void balloon_config_write(void *instance, uint32_t offset, const void *data, uint32_t len)
{
    struct balloon *b = instance;
    if (offset != 4 || len != 4)
        return;
    const uint8_t *d = data;
    atomic_store(&b->actual, (uint32_t)d[0] | (uint32_t)d[1] << 8 | (uint32_t)d[2] << 16 |
                                 (uint32_t)d[3] << 24);
}

static int balloon_quiesce(void *instance)
{
    struct balloon *b = instance;
    qw_pause(&b->pool);
    pthread_mutex_lock(&b->stats_lock);
    b->paused = true;
    /* The held stats buffer goes back to the ring as the driver left it,
     * so a snapshot holds it there and a restored device takes it again. */
    if (b->stats_held && b->host->vq_unpop(b->host, b->stats_q, &b->stats_chain) == 0)
        b->stats_held = false;
    pthread_mutex_unlock(&b->stats_lock);
    return 0;
}

static void balloon_resume(void *instance)
{
    struct balloon *b = instance;
    pthread_mutex_lock(&b->stats_lock);
    b->paused = false; /* the next tick takes the buffer again */
    pthread_mutex_unlock(&b->stats_lock);
    qw_resume(&b->pool);
}

/* The record: the target, the driver's actual, and every inflated page,
 * so that a restored balloon goes on from where it was; the memory file
 * has holes where those pages are (discard_ram). */
static int balloon_save(void *instance, struct plugvm_record_writer *w)
{
    struct balloon *b = instance;
    const struct plugvm_record_writer_ops *o = w->ops;
    int rc = o->begin(w, RECORD_TAG_BALLOON, RECORD_VERSION_BALLOON);
    rc = rc ? rc : o->put_u32(w, atomic_load(&b->num_pages));
    rc = rc ? rc : o->put_u32(w, atomic_load(&b->actual));
    rc = rc ? rc : o->put_u8(w, (uint8_t)(b->stats_interval_s > 0));
    rc = rc ? rc : o->put_u8(w, b->free_page_reporting);
    rc = rc ? rc : o->put_u8(w, b->deflate_on_oom);
    rc = rc ? rc : balloon_pages_save(&b->pages, w);
    return rc ? rc : o->end(w);
}

static int balloon_restore(void *instance, struct plugvm_record_reader *r)
{
    struct balloon *b = instance;
    const struct plugvm_record_reader_ops *o = r->ops;
    const struct plugvm_host *h = b->host;
    uint32_t version, target, actual;
    uint8_t stats, reporting, oom;
    int rc = o->open(r, RECORD_TAG_BALLOON, &version);
    if (rc) {
        h->log(h, PLUGVM_LOG_ERROR, "snapshot: no balloon record");
        return rc == -ENOENT ? -EBADMSG : rc;
    }
    if (version != RECORD_VERSION_BALLOON) {
        h->log(h, PLUGVM_LOG_ERROR, "snapshot: balloon record version %u, this plugin reads %u",
               version, RECORD_VERSION_BALLOON);
        return -EINVAL;
    }
    if (o->get_u32(r, &target) || o->get_u32(r, &actual) || o->get_u8(r, &stats) ||
        o->get_u8(r, &reporting) || o->get_u8(r, &oom)) {
        h->log(h, PLUGVM_LOG_ERROR, "snapshot: the balloon record is truncated");
        return -EBADMSG;
    }
    /* The queues the driver set up must be the ones this device has. */
    if ((bool)stats != (b->stats_interval_s > 0) || (bool)reporting != b->free_page_reporting ||
        (bool)oom != b->deflate_on_oom) {
        h->log(h, PLUGVM_LOG_ERROR,
               "snapshot: the balloon was saved with statistics %s, free_page_reporting %s, "
               "deflate_on_oom %s; its settings now differ, and the guest's driver would not "
               "find the queues it set up",
               stats ? "on" : "off", reporting ? "true" : "false", oom ? "true" : "false");
        return -EINVAL;
    }
    if ((uint64_t)target << 12 > b->ram_bytes) {
        h->log(h, PLUGVM_LOG_ERROR, "snapshot: the balloon record's target (%u pages) is more "
               "than guest RAM", target);
        return -EBADMSG;
    }
    const char *why;
    if (balloon_pages_restore(&b->pages, r, &why) || o->close(r)) {
        h->log(h, PLUGVM_LOG_ERROR, "snapshot: the balloon record's inflated pages: %s", why);
        return -EBADMSG;
    }
    atomic_store(&b->num_pages, target);
    atomic_store(&b->actual, actual);
    return 0;
}

static void balloon_restored(void *instance)
{
    struct balloon *b = instance;
    pthread_mutex_lock(&b->stats_lock);
    stats_take(b);
    pthread_mutex_unlock(&b->stats_lock);
}

static void balloon_destroy(void *instance)
{
    struct balloon *b = instance;
    stop_stats(b);
    qw_fini(&b->pool);
    balloon_pages_fini(&b->pages);
    pthread_mutex_destroy(&b->stats_lock);
    free(b);
}

static const struct plugvm_device_ops balloon_ops = {
    .size = sizeof(struct plugvm_device_ops),
    .settings = balloon_settings,
    .create = balloon_create,
    .destroy = balloon_destroy,
    .activate = balloon_activate,
    .reset = balloon_reset,
    .notify = balloon_notify,
    .config_read = balloon_config_read,
    .config_write = balloon_config_write,
    .quiesce = balloon_quiesce,
    .resume = balloon_resume,
    .save = balloon_save,
    .restore = balloon_restore,
    .restored = balloon_restored,
    .control = balloon_control,
};

PLUGVM_EXPORT const struct plugvm_plugin plugvm_plugin = {
    PLUGVM_PLUGIN_INIT,
    .kind = PLUGVM_KIND_DEVICE,
    .name = "balloon",
    .version = BALLOON_VERSION,
    .description = "virtio-balloon: guest RAM given back to the host, with statistics and free "
                   "page reporting",
    .ops = &balloon_ops,
};
