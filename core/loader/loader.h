/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The plugin loader: dlopen()s shared objects, checks their descriptor
 * (include/plugvm/plugin.h) before calling any of their code, and keeps the
 * accepted ones by name.
 */
#ifndef PLUGVM_CORE_LOADER_H
#define PLUGVM_CORE_LOADER_H

#include <stddef.h>

#include <plugvm/backend.h>
#include <plugvm/device.h>
#include <plugvm/plugin.h>

struct loaded_plugin {
    char *path; /* as opened */
    void *dl;   /* dlopen handle */
    const struct plugvm_plugin *desc;
    /* The plugin's ops table as the core uses it: its first `size` bytes
     * (at most the core's own table), the rest zero. A member past the
     * plugin's `size` is NULL, absent, whatever follows its table in the
     * plugin's memory; members a newer minor appended are not seen. The
     * core calls through this copy only, never through desc->ops. */
    union {
        struct plugvm_backend_ops backend;
        struct plugvm_device_ops device;
    } ops;
};

#define LOADER_MAX_PLUGINS 64

struct plugin_set {
    size_t n;
    struct loaded_plugin items[LOADER_MAX_PLUGINS];
};

/* Loads the object at `path` into `set`. Returns the entry, or NULL with
 * "PATH: why" in err: dlopen failure, no `plugvm_plugin` symbol, ABI major
 * mismatch, unknown kind, bad name, missing mandatory ops, or a
 * name already in the set. A refused object is closed again. */
const struct loaded_plugin *loader_load_path(struct plugin_set *set, const char *path, char *err,
                                             size_t errlen);

/* Finds the plugin for a config's reference `ref`: a path (contains '/') is
 * loaded as it is; a name is looked for as plugvm-NAME.so in the plugin
 * folders (core/util/paths.h), first match wins, and must declare that
 * name. Already-loaded names are returned as they are. `kind` must match.
 * NULL with err on failure. */
const struct loaded_plugin *loader_get(struct plugin_set *set, const char *ref, uint32_t kind,
                                       char *err, size_t errlen);

/* For `plugvm plugins`: calls fn once for every plugvm-*.so found in the
 * plugin folders, in search order, with the entry or the reason it was
 * refused (exactly one of p and why is non-NULL). */
void loader_scan(struct plugin_set *set,
                 void (*fn)(const char *path, const struct loaded_plugin *p, const char *why,
                            void *arg),
                 void *arg);

const char *loader_kind_name(uint32_t kind);

/* dlclose()s everything. */
void loader_unload_all(struct plugin_set *set);

#endif
