/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Device plugins: virtio devices (virtio 1.2 §5) behind the core's
 * virtio-mmio transport (§4.2). A device knows nothing of MMIO offsets or
 * hypervisors: it declares its device id, features, config space and
 * queues, and the core runs the transport, validates descriptor chains and
 * calls the ops below.
 *
 * Threading (core/vm: which thread calls what today):
 *   create, restore, restored  the main thread, before any vCPU runs.
 *   destroy                    the main thread at teardown, after every
 *                              vCPU and the event loop stopped, just
 *                              after one last reset.
 *   quiesce, resume, save      the event-loop thread (the control
 *                              socket's pause and snapshot), with every
 *                              vCPU parked; never concurrently with each
 *                              other.
 *   control                    the event-loop thread (a control-socket
 *                              request), vCPUs running or parked.
 *   activate, reset            the vCPU thread whose register write caused
 *                              them (Status = DRIVER_OK, Status = 0), with
 *                              the transport's lock held; at a restore,
 *                              activate runs on the main thread, after
 *                              restore. They must not wait for the guest,
 *                              and a worker must never need a vCPU to make
 *                              progress (host services a worker calls take
 *                              no transport lock). reset may come without
 *                              a prior activate, and twice in a row. reset
 *                              may block only to stop the device's own
 *                              workers, which must therefore stop between
 *                              chains even while the guest keeps refilling
 *                              the ring (docs/PLUGINS.md); the transport
 *                              frees chains in flight as soon as it returns.
 *   notify                     the event-loop thread (ioeventfd) without
 *                              the transport lock, so it may overlap
 *                              activate or reset; with backends without
 *                              ioeventfd, a vCPU thread. Must not block:
 *                              wake the device's worker, or pop and serve
 *                              what cannot block.
 *   config_read, config_write  a vCPU thread, transport lock held; must
 *                              not block.
 * Which of them may pop and push chains: host.h, "Virtqueues".
 */
#ifndef PLUGVM_DEVICE_H
#define PLUGVM_DEVICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <plugvm/host.h>
#include <plugvm/record.h>
#include <plugvm/settings.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Limits the core enforces on what a device declares. */
#define PLUGVM_DEVICE_MAX_QUEUES 64
#define PLUGVM_DEVICE_MAX_QUEUE_SIZE 32768 /* entries; a power of 2 (§2.7) */
#define PLUGVM_DEVICE_MAX_CONFIG 256       /* bytes of device config space */

/*
 * What an instance looks like to the transport; filled by create().
 *   device_id       virtio device id (§5: 2 = block, 4 = entropy, ...).
 *   features        device feature bits offered (bits 0..63; the transport
 *                   adds VIRTIO_F_VERSION_1 and the ring features it
 *                   implements, and masks out what it does not).
 *   num_queues      1..PLUGVM_DEVICE_MAX_QUEUES.
 *   queue_max_size  QueueNumMax for every queue: power of 2, 1..32768.
 *   config_size     bytes of device-specific config space, 0..256.
 *   reserved        zero (fill the struct with a compound literal or
 *                   memset): a later 1.x minor may define fields here, with
 *                   zero meaning what the core does today.
 */
struct plugvm_device_info {
    uint32_t device_id;
    uint64_t features;
    uint32_t num_queues;
    uint32_t queue_max_size;
    uint32_t config_size;
    uint32_t reserved[7];
};

struct plugvm_device_ops {
    uint32_t size; /* sizeof(struct plugvm_device_ops) of the plugin */

    /* Settings this device accepts; NULL-name-terminated. The core refuses
     * any other before create is called. */
    const struct plugvm_setting_spec *settings;

    /* Makes an instance. `host` and `settings` stay valid until destroy.
     * Fills *info and *instance. Returns 0 or a negative errno after
     * logging, through host->log, a message naming the setting (use
     * settings->ops->where) and what was expected. */
    int (*create)(const struct plugvm_host *host, const struct plugvm_settings *settings,
                  struct plugvm_device_info *info, void **instance);
    /* Frees everything; workers are stopped before it returns. */
    void (*destroy)(void *instance);

    /* The driver set DRIVER_OK (§3.1.1) having accepted `features` (the
     * device's own bits only; the transport keeps bits 24..41 for itself):
     * queues are set up, workers may start. 0 or negative errno (the
     * transport then sets DEVICE_NEEDS_RESET). */
    int (*activate)(void *instance, uint64_t features);
    /* The driver wrote 0 to Status (§2.1.2): stop using the queues, drop all
     * in-flight requests, return to the state after create. */
    void (*reset)(void *instance);
    /* The driver notified `queue` (QueueNotify, §4.2.2). Must not block. */
    void (*notify)(void *instance, uint32_t queue);

    /* Device config space access (§4.2.2: offsets from 0x100). `offset` +
     * `len` is within config_size; len is 1, 2, 4 or 8 bytes; data is
     * little-endian. Optional (NULL: reads return zeros, writes ignored). */
    void (*config_read)(void *instance, uint32_t offset, void *data, uint32_t len);
    void (*config_write)(void *instance, uint32_t offset, const void *data, uint32_t len);

    /* Parks every worker at a request boundary: when it returns no request
     * is half-served and none will start until resume. Then save may run. */
    int (*quiesce)(void *instance);
    void (*resume)(void *instance);

    /* Writes the device's own state (not the transport's) as records. */
    int (*save)(void *instance, struct plugvm_record_writer *w);
    /* Restores what save wrote into a freshly created instance. Errors name
     * the record through host->log; -EBADMSG, -EINVAL. */
    int (*restore)(void *instance, struct plugvm_record_reader *r);

    /* --- Optional, check with PLUGVM_HAS. --- */

    /* Called once after a restore, when every record was read and the
     * device activated (if its driver had set DRIVER_OK), before any vCPU
     * runs; main thread. What a device must do because time passed and
     * its peers changed: vsock queues VIRTIO_VSOCK_EVENT_TRANSPORT_RESET
     * here (§5.10.6.6), a network device announces itself. It may pop and
     * push chains and raise interrupts. */
    void (*restored)(void *instance);

    /* A request of the control socket (docs/API.md) for this device: the
     * core routes /devices/NAME[/REST] here (NAME as in the logs,
     * "balloon0"), and for the first device of a kind Firecracker's API
     * names, that name too (/balloon for virtio-balloon). `method` is
     * "GET", "PUT" or "PATCH"; `path` is REST ("" or "/statistics");
     * `body` the request's JSON text, NUL-terminated, or NULL when it has
     * none. Writes the reply's JSON body, NUL-terminated ("" for none),
     * into `reply` (`reply_len` bytes, at least 4096) and returns its HTTP
     * status: 200 with a body, 204 without, 400 with {"fault_message":
     * "..."} naming what was wrong, 404 for a path it does not serve. The
     * event-loop thread, while the VM runs or is paused; must not block. */
    int (*control)(void *instance, const char *method, const char *path, const char *body,
                   char *reply, size_t reply_len);
};

#ifdef __cplusplus
}
#endif

#endif /* PLUGVM_DEVICE_H */
