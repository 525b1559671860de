/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtio-vsock (virtio 1.2 §5.10) as a plugvm device plugin, with the host
 * side Firecracker defines (its docs/vsock.md): Unix sockets under
 * `uds_path`, so a program written for Firecracker's vsock works
 * unchanged. Stream sockets; SEQPACKET is not offered. The device ops:
 * settings, config space, activate/reset, the snapshot record and the
 * TRANSPORT_RESET a restored guest is sent. rxtx.c serves the queues,
 * sock.c the host sockets; the threads are in vsock_dev.h.
 */
#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <plugvm/plugin.h>

#include "vsock_dev.h"

#define VIRTIO_ID_VSOCK 19
#define CONFIG_SIZE 8 /* struct virtio_vsock_config: le64 guest_cid */
#define RECORD_TAG_VSOCK 1
#define RECORD_VERSION_VSOCK 1
/* "_" and a u32 port appended for guest-initiated connections. */
#define PORT_SUFFIX_MAX 11

static const struct plugvm_setting_spec vsock_settings[] = {
    PLUGVM_SETTING("guest_cid", PLUGVM_SETTING_INT, PLUGVM_SETTING_REQUIRED, 3, 0xfffffffeLL,
                   "the guest's context ID (3 and up; 0-2 are reserved, 2^32-1 is VMADDR_CID_ANY)"),
    PLUGVM_SETTING("uds_path", PLUGVM_SETTING_STRING, PLUGVM_SETTING_REQUIRED | PLUGVM_SETTING_PATH,
                   0, -1,
                   "host Unix socket: host programs connect here (CONNECT <port>); guest "
                   "connects to port P reach <uds_path>_P"),
    PLUGVM_SETTINGS_END,
};

static void vsock_destroy(void *instance);

static void on_kick(void *arg, int fd, uint32_t events)
{
    (void)events;
    struct vsock_dev *d = arg;
    uint64_t n;
    if (read(fd, &n, sizeof(n)) < 0) { /* EAGAIN: another callback took it */
    }
    pthread_mutex_lock(&d->lock);
    vsock_note_loop_thread(d);
    vsock_kick(d);
    pthread_mutex_unlock(&d->lock);
}

static void kick_loop(struct vsock_dev *d)
{
    uint64_t one = 1;
    if (write(d->kick_fd, &one, sizeof(one)) < 0) { /* EAGAIN: a kick is pending anyway */
    }
}

static int vsock_create(const struct plugvm_host *host, const struct plugvm_settings *s,
                        struct plugvm_device_info *info, void **instance)
{
    const struct plugvm_settings_ops *ops = s->ops;
    char at[256], path[4096];
    int64_t cid = 0;
    ops->get_int(s, "guest_cid", &cid);
    ops->where(s, "uds_path", at, sizeof(at));
    if (!PLUGVM_HAS(ops, struct plugvm_settings_ops, get_path)) {
        const char *p = "";
        ops->get_string(s, "uds_path", &p);
        snprintf(path, sizeof(path), "%s", p);
    } else if (ops->get_path(s, "uds_path", path, sizeof(path))) {
        path[0] = '\0';
    }
    struct vsock_dev *d = calloc(1, sizeof(*d));
    if (!d)
        return -ENOMEM;
    if (!path[0] || strlen(path) + PORT_SUFFIX_MAX >= sizeof(d->uds_path)) {
        host->log(host, PLUGVM_LOG_ERROR,
                  "%s: uds_path must be 1 to %zu bytes long (a Unix socket path holds %zu, and "
                  "\"_<port>\" is appended for guest connects)",
                  at, sizeof(d->uds_path) - 1 - PORT_SUFFIX_MAX, sizeof(d->uds_path) - 1);
        free(d);
        return -EINVAL;
    }
    if (!PLUGVM_HAS(host, struct plugvm_host, vq_unpop)) {
        host->log(host, PLUGVM_LOG_ERROR, "this plugvm is too old for vsock (no vq_unpop)");
        free(d);
        return -ENOTSUP;
    }
    d->host = host;
    d->settings = s;
    d->guest_cid = (uint64_t)cid;
    strcpy(d->uds_path, path);
    d->listen_fd = d->kick_fd = -1;
    d->next_host_port = VSOCK_FIRST_HOST_PORT;
    pthread_mutex_init(&d->lock, NULL);
    vsock_conns_init(&d->conns, d->guest_cid);
    d->lingers = calloc(VSOCK_MAX_CONNS, sizeof(*d->lingers));
    d->kick_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    int rc = !d->lingers || d->kick_fd < 0 ? -ENOMEM
             : host->add_fd(host, d->kick_fd, PLUGVM_EV_READ, on_kick, d, &d->kick_ev);
    if (!rc)
        rc = vsock_listen(d, at);
    if (rc) {
        vsock_destroy(d);
        return rc;
    }
    /* The first kick tells which thread is the loop's (notify serves
     * inline there). */
    kick_loop(d);
    *info = (struct plugvm_device_info){
        .device_id = VIRTIO_ID_VSOCK,
        /* §5.10.3: SOCK_SEQPACKET when the driver accepts it; stream
         * sockets are always there (Linux 6.1 knows no bit for them, and
         * vhost-vsock offers only this one too). */
        .features = 1ull << VIRTIO_VSOCK_F_SEQPACKET,
        .num_queues = VSOCK_NUM_QUEUES,
        .queue_max_size = VSOCK_QUEUE_SIZE,
        .config_size = CONFIG_SIZE,
    };
    *instance = d;
    return 0;
}

static void vsock_destroy(void *instance)
{
    struct vsock_dev *d = instance;
    pthread_mutex_lock(&d->lock);
    unsigned n = d->lingers ? vsock_take_events(d, d->drop, sizeof(d->drop) / sizeof(d->drop[0])) : 0;
    pthread_mutex_unlock(&d->lock);
    for (unsigned i = 0; i < n; i++)
        d->host->del_event(d->host, d->drop[i]);
    vsock_unlisten(d);
    if (d->kick_ev)
        d->host->del_event(d->host, d->kick_ev);
    if (d->lingers)
        vsock_close_all(d);
    if (d->kick_fd >= 0)
        close(d->kick_fd);
    free(d->lingers);
    pthread_mutex_destroy(&d->lock);
    free(d);
}

static int vsock_activate(void *instance, uint64_t features)
{
    struct vsock_dev *d = instance;
    pthread_mutex_lock(&d->lock);
    d->features = features;
    d->active = true;
    pthread_mutex_unlock(&d->lock);
    return 0;
}

/* vCPU thread, transport lock held. del_event waits for a callback that
 * is running, and that callback waits for d->lock: so the handles are
 * taken under the lock, deleted outside it (callbacks meanwhile see
 * `resetting` and return), and the sockets closed under it again. */
static void vsock_reset(void *instance)
{
    struct vsock_dev *d = instance;
    pthread_mutex_lock(&d->lock);
    d->active = false;
    d->resetting = true;
    unsigned n = vsock_take_events(d, d->drop, sizeof(d->drop) / sizeof(d->drop[0]));
    pthread_mutex_unlock(&d->lock);
    for (unsigned i = 0; i < n; i++)
        d->host->del_event(d->host, d->drop[i]);
    pthread_mutex_lock(&d->lock);
    vsock_close_all(d);
    d->features = 0;
    d->resetting = false;
    pthread_mutex_unlock(&d->lock);
}

static void vsock_notify(void *instance, uint32_t queue)
{
    struct vsock_dev *d = instance;
    if (queue == VSOCK_Q_EVENT)
        return; /* event buffers are taken only when there is an event */
    if (atomic_load(&d->loop_known) && pthread_equal(pthread_self(), d->loop_thread)) {
        pthread_mutex_lock(&d->lock);
        vsock_kick(d);
        pthread_mutex_unlock(&d->lock);
    } else {
        kick_loop(d); /* a vCPU (no ioeventfd): sockets are the loop's alone */
    }
}

static void vsock_config_read(void *instance, uint32_t offset, void *data, uint32_t len)
{
    struct vsock_dev *d = instance;
    uint64_t le = htole64(d->guest_cid);
    if (offset <= CONFIG_SIZE && len <= CONFIG_SIZE - offset)
        memcpy(data, (const uint8_t *)&le + offset, len);
}

static int vsock_quiesce(void *instance)
{
    struct vsock_dev *d = instance;
    pthread_mutex_lock(&d->lock);
    d->paused = true;
    vsock_arm_all(d); /* nothing armed while paused */
    pthread_mutex_unlock(&d->lock);
    return 0;
}

static void vsock_resume(void *instance)
{
    struct vsock_dev *d = instance;
    pthread_mutex_lock(&d->lock);
    d->paused = false;
    vsock_arm_all(d);
    vsock_kick(d);
    pthread_mutex_unlock(&d->lock);
}

/* The record: connections do not survive a snapshot (their host peers
 * are this process's sockets), so only the CID the guest was given. */
static int vsock_save(void *instance, struct plugvm_record_writer *w)
{
    struct vsock_dev *d = instance;
    const struct plugvm_record_writer_ops *o = w->ops;
    o->begin(w, RECORD_TAG_VSOCK, RECORD_VERSION_VSOCK);
    o->put_u64(w, d->guest_cid);
    return o->end(w);
}

static int vsock_restore(void *instance, struct plugvm_record_reader *r)
{
    struct vsock_dev *d = instance;
    const struct plugvm_record_reader_ops *o = r->ops;
    const struct plugvm_host *h = d->host;
    uint32_t version;
    uint64_t cid;
    int rc = o->open(r, RECORD_TAG_VSOCK, &version);
    if (rc) {
        h->log(h, PLUGVM_LOG_ERROR, "snapshot: no vsock record for %s", d->uds_path);
        return rc == -ENOENT ? -EBADMSG : rc;
    }
    if (version != RECORD_VERSION_VSOCK) {
        h->log(h, PLUGVM_LOG_ERROR, "snapshot: vsock record version %u, this plugin reads %u",
               version, RECORD_VERSION_VSOCK);
        return -EINVAL;
    }
    if (o->get_u64(r, &cid) || o->close(r)) {
        h->log(h, PLUGVM_LOG_ERROR, "snapshot: the vsock record for %s is truncated", d->uds_path);
        return -EBADMSG;
    }
    if (cid != d->guest_cid)
        h->log(h, PLUGVM_LOG_INFO,
               "snapshot: guest CID %llu, now %llu (the guest reads it again at the transport reset)",
               (unsigned long long)cid, (unsigned long long)d->guest_cid);
    return 0;
}

/* After a restore the guest's connections are gone: their host peers were
 * the saved process's sockets. §5.10.6.6: the device tells the driver with
 * VIRTIO_VSOCK_EVENT_TRANSPORT_RESET, and Linux then resets every
 * connected socket (listeners stay) and reads guest_cid again.
 * Firecracker sends it when the snapshot is taken, which also cuts the
 * running VM's connections; plugvm sends it here, to the restored guest
 * only, so a snapshot leaves the VM that was snapshotted undisturbed. */
static void vsock_restored(void *instance)
{
    struct vsock_dev *d = instance;
    const struct plugvm_host *h = d->host;
    pthread_mutex_lock(&d->lock);
    struct plugvm_chain c;
    if (d->active && h->vq_pop(h, VSOCK_Q_EVENT, &c) == 1) {
        struct virtio_vsock_event ev = {.id = htole32(VIRTIO_VSOCK_EVENT_TRANSPORT_RESET)};
        uint32_t written = 0;
        for (uint16_t i = 0; i < c.niov && written == 0; i++)
            if (c.iov[i].writable && c.iov[i].len >= sizeof(ev)) {
                memcpy(c.iov[i].addr, &ev, sizeof(ev));
                written = sizeof(ev);
            }
        h->vq_push(h, VSOCK_Q_EVENT, &c, written);
        h->notify_used(h, VSOCK_Q_EVENT);
    } else if (d->active) {
        h->log(h, PLUGVM_LOG_WARN, "restored: the guest posted no event buffer; its connections "
                                   "are not told they were reset");
    }
    pthread_mutex_unlock(&d->lock);
}

static const struct plugvm_device_ops vsock_ops = {
    .size = sizeof(struct plugvm_device_ops),
    .settings = vsock_settings,
    .create = vsock_create,
    .destroy = vsock_destroy,
    .activate = vsock_activate,
    .reset = vsock_reset,
    .notify = vsock_notify,
    .config_read = vsock_config_read,
    .quiesce = vsock_quiesce,
    .resume = vsock_resume,
    .save = vsock_save,
    .restore = vsock_restore,
    .restored = vsock_restored,
};

PLUGVM_EXPORT const struct plugvm_plugin plugvm_plugin = {
    PLUGVM_PLUGIN_INIT,
    .kind = PLUGVM_KIND_DEVICE,
    .name = "vsock",
    .version = VSOCK_VERSION,
    .description = "virtio-vsock: guest sockets to host Unix sockets, Firecracker's scheme",
    .ops = &vsock_ops,
};
