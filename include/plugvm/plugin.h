/* SPDX-License-Identifier: Apache-2.0 */
/*
 * plugvm plugin descriptor: the one symbol every plugin exports.
 *
 * A plugin is a shared object (a CMake MODULE library) that exports a const
 * `struct plugvm_plugin` named `plugvm_plugin`. The core dlopen()s the object,
 * reads the descriptor and refuses it, before calling into it, when:
 *   - abi_major differs from PLUGVM_ABI_MAJOR (layouts changed);
 *   - kind is not one of enum plugvm_plugin_kind;
 *   - a mandatory op is NULL or past the table's `size`;
 *   - name is already taken by a plugin loaded earlier.
 * Any abi_minor loads: the core reads an ops table only up to its `size`
 * (members past it are absent), and a plugin built with a newer minor
 * checks every service that minor added with PLUGVM_HAS before using it.
 * The model is PostgreSQL's PG_MODULE_MAGIC and LV2's descriptor: the check
 * happens on plain data before any plugin code runs.
 *
 * Compatibility rule (from plugvm's first release; during 0.x, before any
 * release, the layouts may still change under ABI 1.0): within one major
 * version, tables only grow at their end, and every ops/services table
 * starts with its own size in bytes so either side can tell whether a
 * member exists (see PLUGVM_HAS()).
 */
#ifndef PLUGVM_PLUGIN_H
#define PLUGVM_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ABI version of these headers. Major: incompatible change. Minor: members
 * appended to a table, or new optional services. */
#define PLUGVM_ABI_MAJOR 1
#define PLUGVM_ABI_MINOR 0

/* Name of the descriptor symbol the loader looks up with dlsym(). */
#define PLUGVM_PLUGIN_SYMBOL "plugvm_plugin"

/* Marks the descriptor as exported even when a plugin is built with
 * -fvisibility=hidden. */
#define PLUGVM_EXPORT __attribute__((visibility("default")))

/* True when a size-prefixed table `tbl` (pointer) is large enough to hold
 * `member`: use it before calling an optional member added in a later minor
 * version. */
#define PLUGVM_HAS(tbl, type, member)                                          \
    ((tbl)->size >= offsetof(type, member) + sizeof(((type *)0)->member) &&    \
     (tbl)->member != NULL)

/* What a plugin provides; selects the type `ops` points to. */
enum plugvm_plugin_kind {
    PLUGVM_KIND_BACKEND = 1, /* ops: const struct plugvm_backend_ops * (backend.h) */
    PLUGVM_KIND_DEVICE = 2,  /* ops: const struct plugvm_device_ops * (device.h) */
};

/*
 * The descriptor. All strings are static, NUL-terminated UTF-8 and outlive
 * the object being loaded. The core only reads it; it is never written.
 *   abi_major, abi_minor  PLUGVM_ABI_MAJOR/MINOR the plugin was built with
 *                         (use PLUGVM_PLUGIN_INIT to fill them).
 *   kind                  enum plugvm_plugin_kind.
 *   name                  unique short name used in config files
 *                         ("kvm", "blk"): [a-z0-9_-], 1..31 bytes.
 *   version               the plugin's own version, free form ("1.2.0").
 *   description           one line for `plugvm plugins`.
 *   ops                   the kind's ops table; never NULL.
 */
struct plugvm_plugin {
    uint32_t abi_major;
    uint32_t abi_minor;
    uint32_t kind;
    const char *name;
    const char *version;
    const char *description;
    const void *ops;
    /* NULL: room for what a later 1.x minor adds to the descriptor; a core
     * of an older minor ignores it. */
    const void *reserved[4];
};

/* Fills the ABI fields with the values of the headers being compiled. */
#define PLUGVM_PLUGIN_INIT .abi_major = PLUGVM_ABI_MAJOR, .abi_minor = PLUGVM_ABI_MINOR

#ifdef __cplusplus
}
#endif

#endif /* PLUGVM_PLUGIN_H */
