/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A device instance: a device plugin behind the core's virtio-mmio
 * transport, with its MMIO window, interrupt line, doorbells and the host
 * services table the plugin calls (include/plugvm/host.h).
 */
#ifndef PLUGVM_CORE_VIRTIO_DEVICE_H
#define PLUGVM_CORE_VIRTIO_DEVICE_H

#include <stdbool.h>
#include <stdint.h>

#include <plugvm/backend.h>
#include <plugvm/device.h>

#include "boot/x86/acpi.h"
#include "config/settings_check.h"
#include "loader/loader.h"
#include "memory/guest_mem.h"
#include "virtio/mmio.h"
#include "vm/eventloop.h"

/* Device windows sit in the MMIO hole, 4 KiB each, and take IOAPIC pins
 * from 5 up (4 is COM1's): pins 5..23 give 19 devices. */
#define VIRTIO_MMIO_BASE 0xd0000000ull
#define VIRTIO_FIRST_GSI 5
#define VIRTIO_MAX_DEVICES 19

/* Where device `index` lives: its window and its interrupt line. The same
 * for a running VM and for `plugvm acpi`, so the tables match. */
static inline struct acpi_virtio_mmio device_window(unsigned index)
{
    return (struct acpi_virtio_mmio){VIRTIO_MMIO_BASE + (uint64_t)index * VIRTIO_MMIO_WINDOW,
                                     VIRTIO_MMIO_WINDOW, VIRTIO_FIRST_GSI + index};
}

/* What a device needs from the VM it joins. */
struct device_env {
    const struct guest_mem *mem;
    const struct plugvm_backend_ops *be;
    struct plugvm_vm *bvm; /* set before device_connect */
    struct eventloop *loop;
    bool no_eventfds; /* take the fallbacks even where the backend has eventfds */
};

struct vm_device {
    const struct device_env *env;
    const struct loaded_plugin *plugin;
    const struct plugvm_device_ops *ops;
    void *instance;
    bool created;
    struct plugvm_device_info info;
    struct libconfig_settings settings;
    struct plugvm_host host;
    struct virtio_mmio transport;
    bool transport_ready;
    uint64_t base; /* guest-physical start of the window */
    uint32_t gsi;
    int irqfd;     /* eventfd wired to gsi, or -1: pulse the line instead */
    int doorbell[VIRTIO_MMIO_MAX_QUEUES];  /* ioeventfd per queue, or -1 */
    void *doorbell_ev[VIRTIO_MMIO_MAX_QUEUES];
    /* The doorbell callbacks' arguments: which device, which queue. */
    struct doorbell_arg {
        struct vm_device *d;
        uint32_t queue;
    } doorbell_arg[VIRTIO_MMIO_MAX_QUEUES];
    char name[40]; /* "rng0": plugin name and index, for logs */
};

/* Creates instance `index` (0-based, < VIRTIO_MAX_DEVICES) of `plugin`
 * with the settings in `group` of config file `file`: calls the plugin's
 * create and checks what it declares. 0, or -1 with err. */
int device_create(struct vm_device *d, const struct device_env *env,
                  const struct loaded_plugin *plugin, const char *file,
                  const config_setting_t *group, unsigned index, char *err, size_t errlen);
/* Wires doorbells (ioeventfd) and the interrupt (irqfd) once the VM
 * exists; falls back to MMIO exits and irq_line where the backend lacks
 * them. 0, or -1 with err. */
int device_connect(struct vm_device *d, char *err, size_t errlen);
/* Whether gpa falls in the device's window. */
bool device_claims(const struct vm_device *d, uint64_t gpa);
void device_mmio(struct vm_device *d, uint64_t gpa, uint8_t *data, uint32_t len, bool is_write);
/* Resets and destroys the plugin instance (joining its workers), drops
 * doorbells and the irqfd. Safe on a partly created device. */
void device_destroy(struct vm_device *d);

#endif
