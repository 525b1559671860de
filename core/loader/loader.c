/* SPDX-License-Identifier: Apache-2.0 */
#include "loader.h"

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <plugvm/backend.h>
#include <plugvm/device.h>

#include "util/paths.h"

const char *loader_kind_name(uint32_t kind)
{
    switch (kind) {
    case PLUGVM_KIND_BACKEND: return "backend";
    case PLUGVM_KIND_DEVICE: return "device";
    }
    return "unknown";
}

static int refuse(char *err, size_t errlen, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int refuse(char *err, size_t errlen, const char *path, const char *fmt, ...)
{
    int n = snprintf(err, errlen, "%s: ", path);
    va_list ap;
    va_start(ap, fmt);
    if (n > 0 && (size_t)n < errlen)
        vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
    va_end(ap);
    return -1;
}

static int valid_name(const char *name)
{
    if (!name)
        return 0;
    size_t n = strlen(name);
    if (n == 0 || n > 31)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((name[i] >= 'a' && name[i] <= 'z') || (name[i] >= '0' && name[i] <= '9') ||
              name[i] == '_' || name[i] == '-'))
            return 0;
    return 1;
}

/* The plugin's ops table into the core's copy (loader.h): the size it
 * declares says how much of it exists; a short table's missing members
 * stay NULL. Returns what the plugin declared. */
static uint32_t copy_ops(const struct plugvm_plugin *d, struct loaded_plugin *p)
{
    uint32_t declared = *(const uint32_t *)d->ops; /* every table starts with its size */
    size_t core = d->kind == PLUGVM_KIND_BACKEND ? sizeof(p->ops.backend) : sizeof(p->ops.device);
    memset(&p->ops, 0, sizeof(p->ops));
    memcpy(&p->ops, d->ops, declared < core ? declared : core);
    if (d->kind == PLUGVM_KIND_BACKEND)
        p->ops.backend.size = (uint32_t)(declared < core ? declared : core);
    else
        p->ops.device.size = (uint32_t)(declared < core ? declared : core);
    return declared;
}

/* The members without which the core cannot use a plugin of each kind,
 * looked for in the copy: one past the plugin's `size` is missing. */
static const char *missing_op(const struct loaded_plugin *p)
{
    if (p->desc->kind == PLUGVM_KIND_BACKEND) {
        const struct plugvm_backend_ops *o = &p->ops.backend;
#define NEED(m)                                                                                    \
    if (!o->m)                                                                                     \
        return #m;
        NEED(probe) NEED(vm_create) NEED(vm_destroy) NEED(map_memory) NEED(vcpu_create)
        NEED(vcpu_destroy) NEED(vcpu_set_regs) NEED(vcpu_set_waiting) NEED(vcpu_run)
        NEED(vcpu_kick) NEED(vcpu_dump) NEED(irq_line)
    } else {
        const struct plugvm_device_ops *o = &p->ops.device;
        NEED(create) NEED(destroy) NEED(activate) NEED(reset) NEED(notify)
#undef NEED
    }
    return NULL;
}

static int check_descriptor(const struct plugin_set *set, const char *path,
                            const struct plugvm_plugin *d, char *err, size_t errlen)
{
    if (d->abi_major != PLUGVM_ABI_MAJOR)
        return refuse(err, errlen, path, "built for plugin ABI %u.%u; this plugvm has ABI %d.%d "
                      "(major versions differ: rebuild the plugin)",
                      d->abi_major, d->abi_minor, PLUGVM_ABI_MAJOR, PLUGVM_ABI_MINOR);
    /* A newer minor loads (docs/PLUGINS.md, "ABI versions"): what it
     * appended to its tables is not seen (copy_ops), and what it wants of
     * the core beyond this minor it must test with PLUGVM_HAS and do
     * without, or refuse in create with a message. */
    if (d->kind != PLUGVM_KIND_BACKEND && d->kind != PLUGVM_KIND_DEVICE)
        return refuse(err, errlen, path, "unknown plugin kind %u (expected %d for backend or %d "
                      "for device)", d->kind, PLUGVM_KIND_BACKEND, PLUGVM_KIND_DEVICE);
    if (!valid_name(d->name))
        return refuse(err, errlen, path, "invalid plugin name: expected 1 to 31 of [a-z0-9_-]");
    if (!d->ops)
        return refuse(err, errlen, path, "plugin '%s' has no ops table", d->name);
    for (size_t i = 0; i < set->n; i++)
        if (strcmp(set->items[i].desc->name, d->name) == 0)
            return refuse(err, errlen, path, "duplicate plugin name '%s': already loaded from %s",
                          d->name, set->items[i].path);
    return 0;
}

const struct loaded_plugin *loader_load_path(struct plugin_set *set, const char *path, char *err,
                                             size_t errlen)
{
    if (set->n == LOADER_MAX_PLUGINS) {
        refuse(err, errlen, path, "too many plugins (at most %d)", LOADER_MAX_PLUGINS);
        return NULL;
    }
    /* RTLD_LOCAL: two plugins may define the same internal symbols. */
    void *dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!dl) {
        const char *e = dlerror();
        /* dlerror already starts with the path. */
        snprintf(err, errlen, "%s", e ? e : path);
        return NULL;
    }
    dlerror();
    const struct plugvm_plugin *d = dlsym(dl, PLUGVM_PLUGIN_SYMBOL);
    if (!d) {
        refuse(err, errlen, path, "no '%s' symbol: not a plugvm plugin", PLUGVM_PLUGIN_SYMBOL);
        dlclose(dl);
        return NULL;
    }
    if (check_descriptor(set, path, d, err, errlen)) {
        dlclose(dl);
        return NULL;
    }
    struct loaded_plugin *p = &set->items[set->n];
    p->desc = d;
    uint32_t declared = copy_ops(d, p);
    const char *m = missing_op(p);
    if (m) {
        refuse(err, errlen, path, "%s plugin '%s' lacks the mandatory op '%s'%s",
               loader_kind_name(d->kind), d->name, m,
               declared < (d->kind == PLUGVM_KIND_BACKEND ? sizeof(p->ops.backend)
                                                          : sizeof(p->ops.device))
                   ? " (not within the table's size)" : "");
        dlclose(dl);
        return NULL;
    }
    set->n++;
    p->path = strdup(path);
    p->dl = dl;
    return p;
}

static const struct loaded_plugin *find_loaded(const struct plugin_set *set, const char *name)
{
    for (size_t i = 0; i < set->n; i++)
        if (strcmp(set->items[i].desc->name, name) == 0)
            return &set->items[i];
    return NULL;
}

const struct loaded_plugin *loader_get(struct plugin_set *set, const char *ref, uint32_t kind,
                                       char *err, size_t errlen)
{
    const struct loaded_plugin *p = NULL;
    if (strchr(ref, '/')) {
        for (size_t i = 0; i < set->n; i++)
            if (strcmp(set->items[i].path, ref) == 0)
                p = &set->items[i];
        if (!p)
            p = loader_load_path(set, ref, err, errlen);
    } else if (!(p = find_loaded(set, ref))) {
        char file[64];
        snprintf(file, sizeof(file), "plugvm-%s.so", ref);
        char *found = strlen(ref) < 32 ? paths_find_plugin(file) : NULL;
        if (!found) {
            char dir[4096];
            paths_install_dir(PLUGVM_PLUGIN_RELDIR, dir, sizeof(dir));
            snprintf(err, errlen, "plugin '%s' not found: no plugvm-%s.so in the build tree, "
                     "$PLUGVM_PLUGIN_PATH or %s (`plugvm plugins` lists what is found)",
                     ref, ref, dir);
            return NULL;
        }
        p = loader_load_path(set, found, err, errlen);
        if (p && strcmp(p->desc->name, ref) != 0) {
            refuse(err, errlen, found, "declares the name '%s', expected '%s'", p->desc->name, ref);
            p = NULL;
        }
        free(found);
    }
    if (p && p->desc->kind != kind) {
        refuse(err, errlen, p->path, "plugin '%s' is a %s plugin; a %s plugin is needed here",
               p->desc->name, loader_kind_name(p->desc->kind), loader_kind_name(kind));
        return NULL;
    }
    return p;
}

struct scan {
    struct plugin_set *set;
    void (*fn)(const char *, const struct loaded_plugin *, const char *, void *);
    void *arg;
};

static int by_name(const struct dirent **a, const struct dirent **b)
{
    return strcmp((*a)->d_name, (*b)->d_name);
}

static int only_plugins(const struct dirent *e)
{
    size_t n = strlen(e->d_name);
    return strncmp(e->d_name, "plugvm-", 7) == 0 && n > 10 && strcmp(e->d_name + n - 3, ".so") == 0;
}

static int scan_dir(const char *dir, void *arg)
{
    struct scan *s = arg;
    struct dirent **list;
    int n = scandir(dir, &list, only_plugins, by_name);
    for (int i = 0; i < n; i++) {
        char *p, err[1024];
        if (asprintf(&p, "%s/%s", dir, list[i]->d_name) >= 0) {
            const struct loaded_plugin *lp = loader_load_path(s->set, p, err, sizeof(err));
            s->fn(p, lp, lp ? NULL : err, s->arg);
            free(p);
        }
        free(list[i]);
    }
    if (n >= 0)
        free(list);
    return 0;
}

void loader_scan(struct plugin_set *set,
                 void (*fn)(const char *path, const struct loaded_plugin *p, const char *why,
                            void *arg),
                 void *arg)
{
    struct scan s = {set, fn, arg};
    paths_each_plugin_dir(scan_dir, &s);
}

void loader_unload_all(struct plugin_set *set)
{
    for (size_t i = 0; i < set->n; i++) {
        dlclose(set->items[i].dl);
        free(set->items[i].path);
    }
    set->n = 0;
}
