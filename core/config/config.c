/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "settings_check.h"
#include "util/error.h"
#include "util/paths.h"

static const struct plugvm_setting_spec vm_spec[] = {
    PLUGVM_SETTING("backend", PLUGVM_SETTING_STRING, 0, 0, -1, "hypervisor backend plugin: name or path"),
    PLUGVM_SETTING("vcpus", PLUGVM_SETTING_INT, 0, 1, VM_MAX_VCPUS, "a vCPU count"),
    PLUGVM_SETTING("memory_mib", PLUGVM_SETTING_INT, PLUGVM_SETTING_REQUIRED, VM_MIN_MEMORY_MIB,
                   VM_MAX_MEMORY_MIB, "guest RAM in MiB"),
    PLUGVM_SETTING("kernel", PLUGVM_SETTING_STRING, PLUGVM_SETTING_REQUIRED, 0, -1,
                   "kernel file: bzImage, vmlinux ELF or PVH ELF"),
    PLUGVM_SETTING("initrd", PLUGVM_SETTING_STRING, 0, 0, -1, "initramfs file"),
    PLUGVM_SETTING("cmdline", PLUGVM_SETTING_STRING, 0, 0, -1, "kernel command line"),
    PLUGVM_SETTING("cpuid_disable", PLUGVM_SETTING_STRING_LIST, 0, 0, -1, "CPUID features to hide"),
    PLUGVM_SETTING("acpi", PLUGVM_SETTING_BOOL, 0, 0, -1, "write ACPI tables"),
    PLUGVM_SETTING("virtio_mmio_cmdline", PLUGVM_SETTING_BOOL, 0, 0, -1,
                   "append virtio_mmio.device= entries to the command line"),
    PLUGVM_SETTING("exit_port", PLUGVM_SETTING_BOOL, 0, 0, -1,
                   "let the guest end the VM with an exit status written to port 0xf4"),
    PLUGVM_SETTING("eventfds", PLUGVM_SETTING_BOOL, 0, 0, -1,
                   "use the backend's ioeventfd and irqfd (false: MMIO exits and irq_line)"),
    PLUGVM_SETTINGS_END,
};


/* A file named by `vm.<name>`: it must exist (-ENOENT) and be a regular
 * file (-EINVAL). */
static int resolve_file(const struct vm_config *c, const char *dir, const char *name, char **out,
                        char *err, size_t errlen)
{
    const config_setting_t *s = config_lookup(&c->cfg, "vm");
    s = config_setting_get_member(s, name);
    char at[512];
    settings_where(c->path, s, at, sizeof(at));
    const char *value = config_setting_get_string(s);
    char *p = paths_find_image(dir, value);
    if (!p) {
        pv_fail(err, errlen,
                "%s: setting 'vm.%s': file '%s' not found (looked beside the config file, in "
                "$PLUGVM_IMAGE_PATH and plugvm's image folders)",
                at, name, value);
        return -ENOENT;
    }
    struct stat st;
    if (stat(p, &st) != 0 || !S_ISREG(st.st_mode)) {
        pv_fail(err, errlen, "%s: setting 'vm.%s': '%s' is not a regular file", at, name, p);
        free(p);
        return -EINVAL;
    }
    *out = p;
    return 0;
}

static int load_vm(struct vm_config *c, const char *dir, char *err, size_t errlen)
{
    const config_setting_t *vm = config_lookup(&c->cfg, "vm");
    if (!vm)
        return pv_fail(err, errlen, "%s: missing group 'vm' (vm = { kernel = \"...\"; memory_mib = N; })",
                    c->path);
    if (settings_check(c->path, vm, "vm", vm_spec, NULL, err, errlen))
        return -1;

    int v;
    c->backend = "kvm";
    config_setting_lookup_string(vm, "backend", &c->backend);
    c->vcpus = config_setting_lookup_int(vm, "vcpus", &v) ? (uint32_t)v : 1;
    /* settings_check accepted it as an integer in range, 32- or 64-bit. */
    c->memory_mib = (uint64_t)config_setting_get_int64(config_setting_get_member(vm, "memory_mib"));
    c->acpi = c->virtio_mmio_cmdline = true;
    if (config_setting_lookup_bool(vm, "acpi", &v))
        c->acpi = v;
    if (config_setting_lookup_bool(vm, "virtio_mmio_cmdline", &v))
        c->virtio_mmio_cmdline = v;
    if (config_setting_lookup_bool(vm, "exit_port", &v))
        c->exit_port = v;
    c->eventfds = true;
    if (config_setting_lookup_bool(vm, "eventfds", &v))
        c->eventfds = v;
    c->cmdline = "console=ttyS0";
    config_setting_lookup_string(vm, "cmdline", &c->cmdline);
    char at[512];
    if (strlen(c->cmdline) > VM_MAX_CMDLINE)
        return pv_fail(err, errlen, "%s: setting 'vm.cmdline' is %zu bytes; expected at most %d",
                    settings_where(c->path, config_setting_get_member(vm, "cmdline"), at,
                                   sizeof(at)),
                    strlen(c->cmdline), VM_MAX_CMDLINE);

    int rc;
    if ((rc = resolve_file(c, dir, "kernel", &c->kernel, err, errlen)))
        return rc;
    if (config_setting_get_member(vm, "initrd") &&
        (rc = resolve_file(c, dir, "initrd", &c->initrd, err, errlen)))
        return rc;

    const config_setting_t *masks = config_setting_get_member(vm, "cpuid_disable");
    for (int i = 0; masks && i < config_setting_length(masks); i++) {
        const char *name = config_setting_get_string_elem(masks, i);
        settings_where(c->path, masks, at, sizeof(at));
        if (c->ncpuid_masks == VM_MAX_CPUID_MASKS)
            return pv_fail(err, errlen, "%s: setting 'vm.cpuid_disable' has more than %d entries", at,
                        VM_MAX_CPUID_MASKS);
        if (cpuid_feature_lookup(name, &c->cpuid_masks[c->ncpuid_masks++]))
            return pv_fail(err, errlen,
                        "%s: setting 'vm.cpuid_disable': unknown CPUID feature '%s'; expected one "
                        "of: %s, or LEAF:INDEX:REG:BIT such as \"0x1:0:ecx:13\"",
                        at, name, cpuid_feature_names());
    }
    return 0;
}

static int load_devices(struct vm_config *c, char *err, size_t errlen)
{
    const config_setting_t *list = config_lookup(&c->cfg, "devices");
    if (!list)
        return 0;
    char at[512];
    settings_where(c->path, list, at, sizeof(at));
    if (!config_setting_is_list(list) && !config_setting_is_array(list))
        return pv_fail(err, errlen, "%s: 'devices' must be a list of groups, ( { plugin = \"...\"; } )",
                    at);
    int n = config_setting_length(list);
    if (n > VM_MAX_DEVICES)
        return pv_fail(err, errlen, "%s: 'devices' has %d entries; at most %d are supported", at, n,
                    VM_MAX_DEVICES);
    for (int i = 0; i < n; i++) {
        struct device_config *d = &c->devices[i];
        d->group = config_setting_get_elem(list, (unsigned)i);
        snprintf(d->where, sizeof(d->where), "devices[%d]", i);
        settings_where(c->path, d->group, at, sizeof(at));
        if (!config_setting_is_group(d->group))
            return pv_fail(err, errlen, "%s: '%s' must be a group, { plugin = \"...\"; ... }", at,
                        d->where);
        if (!config_setting_lookup_string(d->group, "plugin", &d->plugin))
            return pv_fail(err, errlen, "%s: '%s' needs a string setting 'plugin' naming its device "
                        "plugin", at, d->where);
    }
    c->ndevices = (size_t)n;
    return 0;
}

/* What follows the parse, from a file or from memory: only known groups
 * at the top, then `vm` and `devices`, relative names looked up in dir. */
static int load_parsed(struct vm_config *c, const char *dir, char *err, size_t errlen)
{
    /* Only `vm` and `devices` exist at the top; anything else is a typo
     * that would otherwise be silently ignored. */
    const config_setting_t *root = config_root_setting(&c->cfg);
    for (int i = 0; i < config_setting_length(root); i++) {
        const config_setting_t *s = config_setting_get_elem(root, (unsigned)i);
        const char *name = config_setting_name(s);
        if (strcmp(name, "vm") && strcmp(name, "devices")) {
            char at[512];
            pv_fail(err, errlen, "%s: unknown top-level setting '%s'; expected 'vm' or 'devices'",
                    settings_where(c->path, s, at, sizeof(at)), name);
            return -EINVAL;
        }
    }
    int rc = load_vm(c, dir, err, errlen);
    if (rc)
        return rc == -ENOENT ? -ENOENT : -EINVAL;
    return load_devices(c, err, errlen) ? -EINVAL : 0;
}

static void syntax_error(const struct vm_config *c, char *err, size_t errlen)
{
    const char *f = config_error_file(&c->cfg);
    pv_fail(err, errlen, "%s:%d: syntax error: %s", f ? f : c->path, config_error_line(&c->cfg),
            config_error_text(&c->cfg));
}

int config_load(struct vm_config *c, const char *path, char *err, size_t errlen)
{
    memset(c, 0, sizeof(*c));
    config_init(&c->cfg);
    c->path = strdup(path);
    struct stat st;
    int rc = -EINVAL;
    if (stat(path, &st) != 0) {
        rc = errno == ENOENT ? -ENOENT : -EINVAL;
        pv_fail(err, errlen, "%s: cannot read config file: %s", path, strerror(errno));
        goto bad;
    }
    if (!S_ISREG(st.st_mode)) {
        pv_fail(err, errlen, "%s: not a regular file", path);
        goto bad;
    }
    char *dir = paths_dirname(path);
    config_set_include_dir(&c->cfg, dir);
    if (!config_read_file(&c->cfg, path)) {
        syntax_error(c, err, errlen);
        free(dir);
        goto bad;
    }
    rc = load_parsed(c, dir, err, errlen);
    free(dir);
    if (rc)
        goto bad;
    return 0;
bad:
    config_free(c);
    return rc;
}

int config_load_string(struct vm_config *c, const char *name, const char *text, const char *dir,
                       char *err, size_t errlen)
{
    memset(c, 0, sizeof(*c));
    config_init(&c->cfg);
    c->path = strdup(name);
    config_set_include_dir(&c->cfg, dir);
    int rc = -EINVAL;
    if (!config_read_string(&c->cfg, text)) {
        syntax_error(c, err, errlen);
        goto bad;
    }
    if ((rc = load_parsed(c, dir, err, errlen)))
        goto bad;
    return 0;
bad:
    config_free(c);
    return rc;
}

void config_init_empty(struct vm_config *c, const char *name)
{
    memset(c, 0, sizeof(*c));
    config_init(&c->cfg);
    c->path = strdup(name);
    config_setting_add(config_root_setting(&c->cfg), "vm", CONFIG_TYPE_GROUP);
}

int config_reload(struct vm_config *c, const char *dir, char *err, size_t errlen)
{
    /* What load_parsed derives, from nothing: the settings may have
     * changed since (libplugvm's setters). */
    free(c->kernel);
    free(c->initrd);
    c->kernel = c->initrd = NULL;
    c->ncpuid_masks = 0;
    c->ndevices = 0;
    c->exit_port = false;
    memset(c->devices, 0, sizeof(c->devices));
    return load_parsed(c, dir, err, errlen);
}

void config_free(struct vm_config *c)
{
    config_destroy(&c->cfg);
    free(c->path);
    free(c->kernel);
    free(c->initrd);
    c->path = c->kernel = c->initrd = NULL;
}
