/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libplugvm's setters: each writes the setting into the VM's libconfig
 * tree, as a config file would hold it, so one checker (core/config, the
 * plugins' own tables) judges a VM from a file and one made field by
 * field alike, at plugvm_vm_start.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/handle.h"

/* Before start only; the vm group not on a snapshot's VM (its RAM and
 * vCPUs are the snapshot's). */
static int settable(struct plugvm_vm *vm, bool vm_group, const char *what, struct plugvm_error *err)
{
    if (!vm)
        return handle_fail(err, -EINVAL, "%s: no VM", what);
    if (vm->state != HANDLE_NEW)
        return handle_fail(err, -EBUSY, "%s: the VM has been started; settings are taken before", what);
    if (vm_group && vm->restore_dir)
        return handle_fail(err, -EBUSY, "%s: a VM restored from %s keeps the snapshot's vm settings", what,
                           vm->restore_dir);
    return 0;
}

/* Replaces `name` in group g by a new setting of `type`. */
static config_setting_t *replace(config_setting_t *g, const char *name, int type)
{
    if (config_setting_get_member(g, name))
        config_setting_remove(g, name);
    return config_setting_add(g, name, type);
}

static config_setting_t *vm_group(struct plugvm_vm *vm)
{
    config_setting_t *root = config_root_setting(&vm->cfg.cfg);
    config_setting_t *g = config_setting_get_member(root, "vm");
    return g ? g : config_setting_add(root, "vm", CONFIG_TYPE_GROUP);
}

static int set_vm_string(struct plugvm_vm *vm, const char *name, const char *value, struct plugvm_error *err)
{
    char what[64];
    snprintf(what, sizeof(what), "vm.%s", name);
    int rc = settable(vm, true, what, err);
    if (rc)
        return rc;
    if (!value || !value[0])
        return handle_fail(err, -EINVAL, "%s: expected a non-empty string", what);
    config_setting_t *s = replace(vm_group(vm), name, CONFIG_TYPE_STRING);
    if (!s || config_setting_set_string(s, value) != CONFIG_TRUE)
        return handle_fail(err, -ENOMEM, "%s: cannot be set", what);
    vm->changed = true;
    return 0;
}

/* vm.<name> = value, an integer in [min, max] (unit: for the message). */
static int set_vm_int(struct plugvm_vm *vm, const char *name, uint64_t value, uint64_t min, uint64_t max,
                      const char *unit, struct plugvm_error *err)
{
    char what[64];
    snprintf(what, sizeof(what), "vm.%s", name);
    int rc = settable(vm, true, what, err);
    if (rc)
        return rc;
    if (value < min || value > max)
        return handle_fail(err, -EINVAL, "%s: %llu%s; expected %llu to %llu", what, (unsigned long long)value,
                           unit, (unsigned long long)min, (unsigned long long)max);
    config_setting_t *s = replace(vm_group(vm), name, CONFIG_TYPE_INT64);
    if (!s || config_setting_set_int64(s, (long long)value) != CONFIG_TRUE)
        return handle_fail(err, -ENOMEM, "%s: cannot be set", what);
    vm->changed = true;
    return 0;
}

int plugvm_vm_set_vcpus(struct plugvm_vm *vm, uint32_t vcpus, struct plugvm_error *err)
{
    return set_vm_int(vm, "vcpus", vcpus, 1, VM_MAX_VCPUS, "", err);
}

int plugvm_vm_set_memory_mib(struct plugvm_vm *vm, uint64_t mib, struct plugvm_error *err)
{
    return set_vm_int(vm, "memory_mib", mib, VM_MIN_MEMORY_MIB, VM_MAX_MEMORY_MIB, " MiB", err);
}

int plugvm_vm_set_kernel(struct plugvm_vm *vm, const char *path, struct plugvm_error *err)
{
    return set_vm_string(vm, "kernel", path, err);
}

int plugvm_vm_set_initrd(struct plugvm_vm *vm, const char *path, struct plugvm_error *err)
{
    return set_vm_string(vm, "initrd", path, err);
}

int plugvm_vm_set_cmdline(struct plugvm_vm *vm, const char *cmdline, struct plugvm_error *err)
{
    if (cmdline && strlen(cmdline) > VM_MAX_CMDLINE)
        return handle_fail(err, -EINVAL, "vm.cmdline: %zu bytes; expected at most %d", strlen(cmdline),
                           VM_MAX_CMDLINE);
    return set_vm_string(vm, "cmdline", cmdline, err);
}

int plugvm_vm_add_device(struct plugvm_vm *vm, const char *plugin, unsigned *index, struct plugvm_error *err)
{
    int rc = settable(vm, false, "devices", err);
    if (rc)
        return rc;
    if (!plugin || !plugin[0])
        return handle_fail(err, -EINVAL, "devices: expected a plugin name or path");
    config_setting_t *root = config_root_setting(&vm->cfg.cfg);
    config_setting_t *list = config_setting_get_member(root, "devices");
    if (!list)
        list = config_setting_add(root, "devices", CONFIG_TYPE_LIST);
    if (!list || !config_setting_is_list(list))
        return handle_fail(err, -EINVAL, "devices: not a list in this VM's config");
    int n = config_setting_length(list);
    if (n >= VM_MAX_DEVICES)
        return handle_fail(err, -ENOSPC, "devices: the VM has %d devices; at most %d are supported", n,
                           VM_MAX_DEVICES);
    config_setting_t *g = config_setting_add(list, NULL, CONFIG_TYPE_GROUP);
    config_setting_t *p = g ? config_setting_add(g, "plugin", CONFIG_TYPE_STRING) : NULL;
    if (!p || config_setting_set_string(p, plugin) != CONFIG_TRUE)
        return handle_fail(err, -ENOMEM, "devices: cannot add one");
    if (index)
        *index = (unsigned)n;
    vm->changed = true;
    return 0;
}

/* libconfig's own rule for names: [A-Za-z*][-A-Za-z0-9_*]*. */
static bool valid_name(const char *s)
{
    if (!s || !((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || *s == '*'))
        return false;
    for (s++; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '-' || *s == '_' || *s == '*'))
            return false;
    return true;
}

/* Device `index`'s setting `name`, made anew with `type`. */
static int device_setting(struct plugvm_vm *vm, unsigned index, const char *name, int type,
                          config_setting_t **out, struct plugvm_error *err)
{
    char what[96];
    snprintf(what, sizeof(what), "devices[%u].%s", index, name ? name : "(null)");
    int rc = settable(vm, false, what, err);
    if (rc)
        return rc;
    config_setting_t *list = config_setting_get_member(config_root_setting(&vm->cfg.cfg), "devices");
    config_setting_t *g = list ? config_setting_get_elem(list, index) : NULL;
    if (!g || !config_setting_is_group(g))
        return handle_fail(err, -ENOENT, "%s: the VM has %d devices", what,
                           list ? config_setting_length(list) : 0);
    if (!valid_name(name))
        return handle_fail(err, -EINVAL, "%s: expected a setting name, [A-Za-z][-A-Za-z0-9_]*", what);
    if (!strcmp(name, "plugin"))
        return handle_fail(err, -EINVAL, "%s: the plugin is given to plugvm_vm_add_device", what);
    if (!(*out = replace(g, name, type)))
        return handle_fail(err, -ENOMEM, "%s: cannot be set", what);
    vm->changed = true;
    return 0;
}

int plugvm_vm_device_set_string(struct plugvm_vm *vm, unsigned index, const char *name, const char *value,
                                struct plugvm_error *err)
{
    config_setting_t *s;
    if (!value)
        return handle_fail(err, -EINVAL, "devices[%u].%s: expected a string, not NULL", index, name);
    int rc = device_setting(vm, index, name, CONFIG_TYPE_STRING, &s, err);
    return rc ? rc : config_setting_set_string(s, value) == CONFIG_TRUE ? 0 : handle_fail(err, -ENOMEM, "out of memory");
}

int plugvm_vm_device_set_int(struct plugvm_vm *vm, unsigned index, const char *name, int64_t value,
                             struct plugvm_error *err)
{
    config_setting_t *s;
    int rc = device_setting(vm, index, name, CONFIG_TYPE_INT64, &s, err);
    return rc ? rc : config_setting_set_int64(s, (long long)value) == CONFIG_TRUE ? 0 : handle_fail(err, -ENOMEM, "out of memory");
}

int plugvm_vm_device_set_bool(struct plugvm_vm *vm, unsigned index, const char *name, bool value,
                              struct plugvm_error *err)
{
    config_setting_t *s;
    int rc = device_setting(vm, index, name, CONFIG_TYPE_BOOL, &s, err);
    return rc ? rc : config_setting_set_bool(s, value) == CONFIG_TRUE ? 0 : handle_fail(err, -ENOMEM, "out of memory");
}

int plugvm_vm_set_console(struct plugvm_vm *vm, int in_fd, int out_fd, unsigned flags, struct plugvm_error *err)
{
    int rc = settable(vm, false, "console", err);
    if (rc)
        return rc;
    if (flags & ~PLUGVM_CONSOLE_TERMINAL)
        return handle_fail(err, -EINVAL, "console: unknown flags 0x%x", flags & ~PLUGVM_CONSOLE_TERMINAL);
    vm->console_in = in_fd < 0 ? -1 : in_fd;
    vm->console_out = out_fd < 0 ? -1 : out_fd;
    vm->console_terminal = flags & PLUGVM_CONSOLE_TERMINAL;
    return 0;
}

int plugvm_vm_set_api_socket(struct plugvm_vm *vm, const char *path, struct plugvm_error *err)
{
    int rc = settable(vm, false, "api socket", err);
    if (rc)
        return rc;
    char *p = path ? strdup(path) : NULL;
    if (path && !p)
        return handle_fail(err, -ENOMEM, "out of memory");
    free(vm->api_path);
    vm->api_path = p;
    return 0;
}
