/* SPDX-License-Identifier: Apache-2.0 */
#include "device.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "util/error.h"
#include "util/log.h"

/* --- Host services for the plugin (include/plugvm/host.h) --- */

static struct vm_device *D(const struct plugvm_host *h)
{
    return h->ctx;
}

static void h_log(const struct plugvm_host *h, enum plugvm_log_level level, const char *fmt, ...)
{
    char prefix[48];
    snprintf(prefix, sizeof(prefix), "%s: ", D(h)->name);
    va_list ap;
    va_start(ap, fmt);
    pv_vlog(level, prefix, fmt, ap);
    va_end(ap);
}

static void *h_gpa_to_hva(const struct plugvm_host *h, uint64_t gpa, uint64_t len)
{
    return guest_mem_ptr(D(h)->env->mem, gpa, len);
}

static uint64_t h_ram_bytes(const struct plugvm_host *h)
{
    return D(h)->env->mem->size;
}

static int h_discard_ram(const struct plugvm_host *h, void *hva, uint64_t len)
{
    return guest_mem_discard(D(h)->env->mem, hva, len);
}

static struct virtq *queue(struct vm_device *d, uint32_t q)
{
    return q < d->info.num_queues ? &d->transport.vq[q] : NULL;
}

static int h_vq_pop(const struct plugvm_host *h, uint32_t q, struct plugvm_chain *out)
{
    struct vm_device *d = D(h);
    struct virtq *vq = queue(d, q);
    if (!vq)
        return -EINVAL;
    int rc = virtq_pop(vq, out);
    if (rc == -EIO) {
        h_log(h, PLUGVM_LOG_WARN, "queue %u: the guest corrupted the ring: device needs reset", q);
        virtio_mmio_needs_reset(&d->transport);
    }
    return rc == -ENODEV ? 0 : rc;
}

static int h_vq_push(const struct plugvm_host *h, uint32_t q, const struct plugvm_chain *c,
                     uint32_t written)
{
    struct virtq *vq = queue(D(h), q);
    return vq ? virtq_push(vq, c, written) : -EINVAL;
}

static uint32_t h_vq_avail(const struct plugvm_host *h, uint32_t q)
{
    struct virtq *vq = queue(D(h), q);
    return vq ? virtq_avail_count(vq) : 0;
}

static int h_vq_unpop(const struct plugvm_host *h, uint32_t q, const struct plugvm_chain *c)
{
    struct virtq *vq = queue(D(h), q);
    return vq ? virtq_unpop(vq, c) : -EINVAL;
}

static int h_vq_push_many(const struct plugvm_host *h, uint32_t q,
                          const struct plugvm_chain *const *c, const uint32_t *written, uint32_t n)
{
    struct virtq *vq = queue(D(h), q);
    return vq ? virtq_push_many(vq, c, written, n) : -EINVAL;
}

static int h_vq_set_notify(const struct plugvm_host *h, uint32_t q, bool enable)
{
    struct virtq *vq = queue(D(h), q);
    return vq ? virtq_set_notify(vq, enable) : -EINVAL;
}

static int h_notify_used(const struct plugvm_host *h, uint32_t q)
{
    struct vm_device *d = D(h);
    struct virtq *vq = queue(d, q);
    if (!vq)
        return -EINVAL;
    if (virtq_should_interrupt(vq))
        virtio_mmio_interrupt(&d->transport, VIRTIO_MMIO_INT_VRING);
    return 0;
}

static int h_notify_config(const struct plugvm_host *h)
{
    virtio_mmio_config_changed(&D(h)->transport);
    return 0;
}

static int h_add_fd(const struct plugvm_host *h, int fd, uint32_t events, plugvm_event_fn fn,
                    void *arg, void **handle)
{
    return eventloop_add_fd(D(h)->env->loop, fd, events, fn, arg, handle);
}

static int h_add_timer(const struct plugvm_host *h, uint64_t usec, bool periodic,
                       plugvm_event_fn fn, void *arg, void **handle)
{
    return eventloop_add_timer(D(h)->env->loop, usec, periodic, fn, arg, handle);
}

static void h_del_event(const struct plugvm_host *h, void *handle)
{
    eventloop_del(D(h)->env->loop, handle);
}

struct worker {
    pthread_t thread;
    plugvm_worker_fn fn;
    void *arg;
    char name[16];
};

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    pthread_setname_np(pthread_self(), w->name);
    w->fn(w->arg);
    return NULL;
}

static int h_start_worker(const struct plugvm_host *h, const char *name, plugvm_worker_fn fn,
                          void *arg, void **handle)
{
    (void)h;
    struct worker *w = calloc(1, sizeof(*w));
    if (!w)
        return -ENOMEM;
    w->fn = fn;
    w->arg = arg;
    snprintf(w->name, sizeof(w->name), "%s", name ? name : "worker");
    if (pthread_create(&w->thread, NULL, worker_main, w) != 0) {
        free(w);
        return -EAGAIN;
    }
    *handle = w;
    return 0;
}

static void h_join_worker(const struct plugvm_host *h, void *handle)
{
    (void)h;
    struct worker *w = handle;
    if (w) {
        pthread_join(w->thread, NULL);
        free(w);
    }
}

/* --- The transport's view of the plugin --- */

static int t_activate(void *dev, uint64_t features)
{
    struct vm_device *d = dev;
    int rc = d->ops->activate(d->instance, features);
    if (rc)
        pv_warn("%s: the plugin's activate with features 0x%llx failed: %s", d->name,
                (unsigned long long)features, strerror(rc < 0 ? -rc : rc));
    return rc;
}

static void t_reset(void *dev)
{
    struct vm_device *d = dev;
    d->ops->reset(d->instance);
}

static void t_notify(void *dev, uint32_t q)
{
    struct vm_device *d = dev;
    d->ops->notify(d->instance, q);
}

static void t_config_read(void *dev, uint32_t off, void *data, uint32_t len)
{
    struct vm_device *d = dev;
    if (d->ops->config_read)
        d->ops->config_read(d->instance, off, data, len);
}

static void t_config_write(void *dev, uint32_t off, const void *data, uint32_t len)
{
    struct vm_device *d = dev;
    if (d->ops->config_write)
        d->ops->config_write(d->instance, off, data, len);
}

static void t_raise_irq(void *dev)
{
    struct vm_device *d = dev;
    if (d->irqfd >= 0) {
        uint64_t one = 1;
        (void)!write(d->irqfd, &one, sizeof(one));
    } else if (d->env->bvm) {
        /* Edge: a pulse (the IOAPIC pin is programmed edge-triggered). */
        d->env->be->irq_line(d->env->bvm, d->gsi, 1);
        d->env->be->irq_line(d->env->bvm, d->gsi, 0);
    }
}

static const struct virtio_mmio_backend transport_backend = {
    .activate = t_activate,
    .reset = t_reset,
    .notify = t_notify,
    .config_read = t_config_read,
    .config_write = t_config_write,
    .raise_irq = t_raise_irq,
};

int device_create(struct vm_device *d, const struct device_env *env,
                  const struct loaded_plugin *plugin, const char *file,
                  const config_setting_t *group, unsigned index, char *err, size_t errlen)
{
    memset(d, 0, sizeof(*d));
    d->irqfd = -1;
    for (int i = 0; i < VIRTIO_MMIO_MAX_QUEUES; i++)
        d->doorbell[i] = -1;
    d->env = env;
    d->plugin = plugin;
    d->ops = &plugin->ops.device;
    struct acpi_virtio_mmio w = device_window(index);
    d->base = w.base;
    d->gsi = w.gsi;
    snprintf(d->name, sizeof(d->name), "%s%u", plugin->desc->name, index);
    libconfig_settings_init(&d->settings, file, group);
    d->host = (struct plugvm_host){
        .size = sizeof(struct plugvm_host), .ctx = d, .log = h_log, .gpa_to_hva = h_gpa_to_hva,
        .vq_pop = h_vq_pop, .vq_push = h_vq_push, .notify_used = h_notify_used,
        .notify_config = h_notify_config, .add_fd = h_add_fd, .add_timer = h_add_timer,
        .del_event = h_del_event, .start_worker = h_start_worker, .join_worker = h_join_worker,
        .vq_avail = h_vq_avail,
        .vq_unpop = h_vq_unpop,
        .vq_push_many = h_vq_push_many,
        .vq_set_notify = h_vq_set_notify,
        .ram_bytes = h_ram_bytes,
        .discard_ram = h_discard_ram,
    };
    int rc = d->ops->create(&d->host, &d->settings.handle, &d->info, &d->instance);
    if (rc)
        return pv_fail(err, errlen, "%s: device plugin '%s' could not be created: %s",
                       d->name, plugin->desc->name, strerror(-rc));
    d->created = true;
    const struct plugvm_device_info *in = &d->info;
    if (virtio_mmio_init(&d->transport, env->mem, &transport_backend, d, in->device_id,
                         in->features, in->num_queues, in->queue_max_size, in->config_size))
        return pv_fail(err, errlen,
                       "%s: plugin %s declares an impossible device: %u queues (1..%d) of %u "
                       "entries (a power of 2 up to 32768), %u bytes of config (at most %d)",
                       d->name, plugin->path, in->num_queues, PLUGVM_DEVICE_MAX_QUEUES,
                       in->queue_max_size, in->config_size, PLUGVM_DEVICE_MAX_CONFIG);
    d->transport_ready = true;
    if (d->transport.dropped)
        pv_warn("%s: plugin %s offers feature bits 0x%llx in the transport's range (24 to 41, "
                "virtio 1.2 §6): dropped", d->name, plugin->path,
                (unsigned long long)d->transport.dropped);
    return 0;
}

/* A doorbell rang: the guest wrote this queue's index to QueueNotify. */
static void doorbell(void *arg, int fd, uint32_t events)
{
    (void)events;
    const struct doorbell_arg *a = arg;
    struct vm_device *d = a->d;
    uint32_t q = a->queue;
    uint64_t count;
    if (read(fd, &count, sizeof(count)) != sizeof(count))
        return;
    if (virtio_mmio_queue_live(&d->transport, q))
        d->ops->notify(d->instance, q);
}

int device_connect(struct vm_device *d, char *err, size_t errlen)
{
    const struct device_env *env = d->env;
    if (env->no_eventfds)
        return 0;
    if (env->be->irqfd) {
        int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (fd >= 0 && env->be->irqfd(env->bvm, d->gsi, fd, false) == 0)
            d->irqfd = fd;
        else if (fd >= 0)
            close(fd);
    }
    if (!env->be->ioeventfd)
        return 0;
    for (uint32_t q = 0; q < d->info.num_queues; q++) {
        int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (fd < 0)
            return pv_fail(err, errlen, "%s: eventfd: %s", d->name, strerror(errno));
        int rc = env->be->ioeventfd(env->bvm, d->base + VIRTIO_MMIO_QUEUE_NOTIFY, 4, q,
                                    PLUGVM_IOEVENTFD_DATAMATCH, fd);
        if (rc) {
            close(fd);
            if (rc == -ENOSYS)
                return 0; /* MMIO exits carry the doorbell instead */
            return pv_fail(err, errlen, "%s: doorbell for queue %u: %s", d->name, q, strerror(-rc));
        }
        d->doorbell[q] = fd;
        d->doorbell_arg[q] = (struct doorbell_arg){d, q};
        if (eventloop_add_fd(env->loop, fd, PLUGVM_EV_READ, doorbell, &d->doorbell_arg[q],
                             &d->doorbell_ev[q]))
            return pv_fail(err, errlen, "%s: cannot watch the doorbell of queue %u", d->name, q);
    }
    return 0;
}

bool device_claims(const struct vm_device *d, uint64_t gpa)
{
    return gpa >= d->base && gpa - d->base < VIRTIO_MMIO_WINDOW;
}

void device_mmio(struct vm_device *d, uint64_t gpa, uint8_t *data, uint32_t len, bool is_write)
{
    if (is_write)
        virtio_mmio_write(&d->transport, gpa - d->base, data, len);
    else
        virtio_mmio_read(&d->transport, gpa - d->base, data, len);
}

void device_destroy(struct vm_device *d)
{
    const struct device_env *env = d->env;
    if (!env)
        return;
    for (uint32_t q = 0; q < VIRTIO_MMIO_MAX_QUEUES; q++) {
        if (d->doorbell_ev[q])
            eventloop_del(env->loop, d->doorbell_ev[q]);
        if (d->doorbell[q] >= 0) {
            if (env->bvm)
                env->be->ioeventfd(env->bvm, d->base + VIRTIO_MMIO_QUEUE_NOTIFY, 4, q,
                                   PLUGVM_IOEVENTFD_DATAMATCH | PLUGVM_IOEVENTFD_DEASSIGN,
                                   d->doorbell[q]);
            close(d->doorbell[q]);
        }
    }
    if (d->created) {
        d->ops->reset(d->instance);
        d->ops->destroy(d->instance);
    }
    if (d->transport_ready)
        virtio_mmio_destroy(&d->transport);
    if (d->irqfd >= 0) {
        if (env->bvm)
            env->be->irqfd(env->bvm, d->gsi, d->irqfd, true);
        close(d->irqfd);
    }
    d->env = NULL;
}
