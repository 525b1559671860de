/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Host services: everything the core offers a plugin. Plugins link against
 * nothing of plugvm's; they call through this table, handed to their create
 * function. Each plugin instance gets its own table (ctx identifies it), so
 * no call needs to say which instance it is for. A unit test fakes this
 * table to drive a plugin with no VM at all.
 *
 * What each kind gets: a device plugin's table has every member below; a
 * backend's has log and gpa_to_hva only (the rest are NULL). Members added
 * in a later minor version are absent from an older core's table: check
 * those with PLUGVM_HAS(host, struct plugvm_host, member) before calling.
 */
#ifndef PLUGVM_HOST_H
#define PLUGVM_HOST_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <plugvm/log.h>

#ifdef __cplusplus
extern "C" {
#endif

struct plugvm_host;
struct plugvm_virtqueue;

/*
 * One buffer of a validated descriptor chain (virtio 1.2 §2.7.5): `addr` is
 * the host pointer for the buffer's guest-physical range, already checked to
 * lie wholly inside guest RAM; `len` is in bytes; `writable` is true for
 * device-writable buffers (VIRTQ_DESC_F_WRITE). Readable buffers always come
 * before writable ones in a chain the core hands out. The 3 bytes of
 * padding after `writable` are this struct's room to grow (a later 1.x
 * minor may name them; the size, the stride of the core's arrays, stays 16
 * bytes): the core writes them as zero.
 */
struct plugvm_iov {
    void *addr;
    uint32_t len;
    bool writable;
};

/*
 * A descriptor chain taken from a virtqueue's avail ring. `head` is the head
 * descriptor index to hand back to push; `iov` holds `niov` buffers (at most
 * the queue size); readable_bytes / writable_bytes are the sums of the
 * readable and writable buffers' lengths (each at most 2^32 - 1: the core
 * refuses chains whose total overflows). The core fills the whole struct,
 * `reserved` as zero: a later 1.x minor may add fields there, and a plugin
 * built with these headers has room for them in the chains it declares.
 */
struct plugvm_chain {
    uint16_t head;
    uint16_t niov;
    uint32_t readable_bytes;
    uint32_t writable_bytes;
    uint32_t reserved0;
    struct plugvm_iov *iov;
    uint64_t reserved[2];
};

/* Callback for an event-loop file descriptor or timer; runs on the core's
 * event-loop thread, must not block. */
typedef void (*plugvm_event_fn)(void *arg, int fd, uint32_t events);
/* Body of a worker thread started with start_worker. */
typedef void (*plugvm_worker_fn)(void *arg);

/* Event bits for add_fd. */
#define PLUGVM_EV_READ 0x1u
#define PLUGVM_EV_WRITE 0x2u

struct plugvm_host {
    uint32_t size; /* sizeof(struct plugvm_host) of the core: see PLUGVM_HAS */
    void *ctx;     /* the core's per-instance data; opaque to plugins */

    /* Logs one line (no trailing newline needed) prefixed with the plugin's
     * name and instance. Any thread; never blocks for long. */
    void (*log)(const struct plugvm_host *h, enum plugvm_log_level level, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

    /* Host pointer for the guest-physical range [gpa, gpa + len) (bytes), or
     * NULL when any byte of it is outside guest RAM or gpa + len overflows.
     * The pointer stays valid until the VM is destroyed. Any thread. */
    void *(*gpa_to_hva)(const struct plugvm_host *h, uint64_t gpa, uint64_t len);

    /* --- Virtqueues (virtio 1.2 §2.7). Called from the device's worker
     * threads, its event-loop callbacks (fds, timers), `notify`,
     * `activate`, `quiesce` (to give chains back with vq_unpop) and
     * `restored`; not from `reset`, `config_read`, `config_write`, `save`
     * or `restore`. The core serialises calls on one queue, so several
     * threads may pop from and push to the same queue (chains then
     * complete out of order, which virtio allows, §2.7.8). --- */

    /* Takes the next available chain of queue `queue` (0-based), validated:
     * 1 = a chain was taken (*out filled; its iov array is valid until the
     * chain is pushed), 0 = the avail ring is empty, -EIO = the guest broke
     * the ring (the core has set DEVICE_NEEDS_RESET). */
    int (*vq_pop)(const struct plugvm_host *h, uint32_t queue, struct plugvm_chain *out);
    /* Returns a chain to the used ring with `written` bytes (the number the
     * device wrote into its writable buffers). Does not interrupt: call
     * notify_used once per batch. 0 or -EINVAL for a chain not popped. */
    int (*vq_push)(const struct plugvm_host *h, uint32_t queue, const struct plugvm_chain *c,
                   uint32_t written);
    /* Raises the used-buffer interrupt for `queue` unless the driver
     * suppressed it (VIRTQ_AVAIL_F_NO_INTERRUPT or VIRTIO_F_EVENT_IDX).
     * Any thread. */
    int (*notify_used)(const struct plugvm_host *h, uint32_t queue);
    /* Raises the configuration-change interrupt (virtio 1.2 §4.2.2.1). Any
     * thread. */
    int (*notify_config)(const struct plugvm_host *h);

    /* --- Event loop: the core's one libevent thread. --- */

    /* Calls fn(arg, fd, events) on the loop thread when fd is ready for any
     * of `events` (PLUGVM_EV_*), until del_event; *handle identifies it.
     * 0, -ENOMEM, -EBADF. */
    int (*add_fd)(const struct plugvm_host *h, int fd, uint32_t events, plugvm_event_fn fn,
                  void *arg, void **handle);
    /* Calls fn(arg, -1, 0) after `usec` microseconds, then every `usec` if
     * periodic. 0, -ENOMEM, -EINVAL for usec 0. */
    int (*add_timer)(const struct plugvm_host *h, uint64_t usec, bool periodic,
                     plugvm_event_fn fn, void *arg, void **handle);
    /* Removes an fd or timer; when it returns, fn is not running and will
     * not run again. On the loop thread (inside any callback, fn's own
     * included: a timer may remove itself) it returns at once; from any
     * other thread it waits for a running fn to return, so the caller
     * must not hold a lock fn takes (docs/PLUGINS.md). */
    void (*del_event)(const struct plugvm_host *h, void *handle);

    /* --- Threads --- */

    /* Starts a worker thread named `name` (at most 15 bytes are kept) that
     * runs fn(arg). Device I/O that may block runs on such workers, never on
     * a vCPU thread. 0, -EAGAIN. */
    int (*start_worker)(const struct plugvm_host *h, const char *name, plugvm_worker_fn fn,
                        void *arg, void **handle);
    /* Waits for a worker to return and frees its handle. */
    void (*join_worker)(const struct plugvm_host *h, void *handle);

    /* --- Added in ABI 1.0's development: check with PLUGVM_HAS. --- */

    /* How many chains wait in queue `queue`'s avail ring, not yet popped
     * (0 when the queue is not ready or broken). A hint for a device that
     * serves one queue with several workers: whether to wake another.
     * Any thread; the count may change at once. */
    uint32_t (*vq_avail)(const struct plugvm_host *h, uint32_t queue);

    /* Gives the chain `c`, popped from `queue` and not pushed, back unused:
     * the next vq_pop takes it again (Firecracker's undo_pop). For a device
     * holding a buffer it has nothing to put in yet, e.g. an RX buffer
     * before a snapshot, which then holds the ring as the guest left it.
     * Only the chain popped last at the queue's current position: several
     * go back in the reverse order of their pops. Frees c's iov. 0, or
     * -EINVAL (not in flight, or not the last one taken). Same threads
     * as vq_pop. */
    int (*vq_unpop)(const struct plugvm_host *h, uint32_t queue, const struct plugvm_chain *c);
    /* Pushes n chains at once, c[i] with written[i] bytes, published with
     * one store of the used index (§2.7.8): the driver sees all of them or
     * none. Does not interrupt (notify_used). 0, or -EINVAL with nothing
     * pushed when any chain is not in flight or appears twice. */
    int (*vq_push_many)(const struct plugvm_host *h, uint32_t queue,
                        const struct plugvm_chain *const *c, const uint32_t *written, uint32_t n);
    /* Asks the driver not to notify `queue` while the device polls its
     * avail ring itself (enable = false), or to notify again (true): §2.7.7
     * VIRTQ_USED_F_NO_NOTIFY, or avail_event with VIRTIO_F_EVENT_IDX
     * (§2.7.10). A hint the driver may ignore. Turning them back on returns
     * 1 when chains arrived meanwhile (no notify will come for them: pop
     * them), 0 when none did; -EINVAL for a queue that is not ready. A
     * device reset and a restore turn notifications back on. */
    int (*vq_set_notify)(const struct plugvm_host *h, uint32_t queue, bool enable);

    /* --- Guest RAM given back to the host (virtio-balloon, virtio 1.2
     * §5.5.6: inflated pages, free page reporting). --- */

    /* Bytes of guest RAM in all (the `memory_mib` of the config), not
     * counting the MMIO hole RAM is laid out around. Any thread. */
    uint64_t (*ram_bytes)(const struct plugvm_host *h);
    /* Gives the host memory behind the host pointer range [hva, hva + len)
     * (bytes; from gpa_to_hva or a chain's iov) back to the host, as
     * madvise(MADV_DONTNEED) does: the pages read as zero afterwards, or,
     * in a VM restored from a snapshot, as the snapshot's memory file has
     * them; either way their contents are gone, and the next snapshot's
     * memory file leaves them out (docs/SNAPSHOT.md). Only the whole 4 KiB
     * pages inside the range are released. 0; -EINVAL when any byte of
     * the range is outside guest RAM or it overflows (nothing released);
     * -errno of madvise. Any thread; the guest may touch the pages again
     * at any time (they come back zeroed or from the file). */
    int (*discard_ram)(const struct plugvm_host *h, void *hva, uint64_t len);
};

#ifdef __cplusplus
}
#endif

#endif /* PLUGVM_HOST_H */
