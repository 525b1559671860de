/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The VM config file (libconfig syntax): a `vm` group and an optional
 * `devices` list. docs/CONFIG.md documents every setting. Every mistake is
 * refused here, before anything starts, with FILE:LINE, the setting and
 * what was expected.
 */
#ifndef PLUGVM_CORE_CONFIG_H
#define PLUGVM_CORE_CONFIG_H

#include <libconfig.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <plugvm/backend.h>

#define VM_MAX_VCPUS 64
#define VM_MAX_DEVICES 19 /* IOAPIC pins 5..23, one each (core/virtio/device.h) */
#define VM_MAX_CPUID_MASKS 64
#define VM_MIN_MEMORY_MIB 16
#define VM_MAX_MEMORY_MIB (1024 * 1024) /* 1 TiB */
/* vm.cmdline, bytes: Linux's COMMAND_LINE_SIZE on x86 is 2048 including
 * the NUL; the setup header's cmdline_size may say less, checked at boot. */
#define VM_MAX_CMDLINE 2047

/* One entry of `devices`: the libconfig group (for the plugin's settings)
 * and the plugin it names. */
struct device_config {
    const char *plugin; /* name, or a path to a .so */
    const config_setting_t *group;
    char where[16];     /* "devices[N]" */
};

struct vm_config {
    config_t cfg;
    char *path;          /* the config file as given */
    const char *backend; /* plugin name or path; default "kvm" */
    uint32_t vcpus;      /* 1..VM_MAX_VCPUS */
    uint64_t memory_mib; /* MiB of guest RAM */
    char *kernel;        /* resolved path */
    char *initrd;        /* resolved path, or NULL */
    const char *cmdline; /* guest kernel command line, as configured */
    bool acpi;           /* write ACPI tables (default true) */
    bool virtio_mmio_cmdline; /* append virtio_mmio.device= entries (default true) */
    bool exit_port;      /* the guest may end the VM with a status (default false) */
    bool eventfds;       /* doorbells and interrupts through ioeventfd/irqfd (default true) */
    struct plugvm_cpuid_mask cpuid_masks[VM_MAX_CPUID_MASKS];
    size_t ncpuid_masks;
    size_t ndevices;
    struct device_config devices[VM_MAX_DEVICES];
};

/* Reads and checks `path`. 0, or with the message in err -ENOENT (the file,
 * or a kernel or initrd it names, is not there) or -EINVAL (anything
 * else). On success config_free must be called. Relative file paths are looked up with
 * paths_find_image (core/util/paths.h). */
int config_load(struct vm_config *c, const char *path, char *err, size_t errlen);
/* The same from the NUL-terminated `text`, named `name` in messages, its
 * relative file names and @include looked up in `dir`: the fuzz target's
 * entry (no file per input). */
int config_load_string(struct vm_config *c, const char *name, const char *text, const char *dir,
                       char *err, size_t errlen);
/* A config with an empty `vm` group and no devices, named `name` in
 * messages, for libplugvm's field-by-field VMs: the settings are added to
 * c->cfg, then config_reload checks them. config_free must be called. */
void config_init_empty(struct vm_config *c, const char *name);
/* Checks c->cfg again and derives the fields from it, as config_load did
 * (relative file names looked up in `dir`), after its settings changed.
 * 0, -ENOENT or -EINVAL with err, as config_load. */
int config_reload(struct vm_config *c, const char *dir, char *err, size_t errlen);
void config_free(struct vm_config *c);

/* Looks up a CPUID feature name ("cx16", "xsave") or a raw bit written
 * "LEAF:INDEX:REG:BIT" ("0x1:0:ecx:13"). 0, or -1 when unknown. */
int cpuid_feature_lookup(const char *name, struct plugvm_cpuid_mask *out);
/* The known names, space-separated, for help and messages. */
const char *cpuid_feature_names(void);

#endif
