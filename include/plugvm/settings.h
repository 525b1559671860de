/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Typed access to a plugin's settings: the members of its entry in the
 * config file's `devices` list (or the `vm` group for a backend).
 *
 * Plugins never see libconfig's types, so the ABI does not depend on them.
 * A plugin declares what it accepts with a table of plugvm_setting_spec;
 * before create() is called the core has already refused, with file, line
 * and setting named, every unknown setting, every value of the wrong type,
 * every integer outside [min, max] and every missing required setting. So a
 * plugin reads values it knows are present and well typed, and checks only
 * what a table cannot say (a path that must exist, two settings that clash),
 * reporting through where() so its messages name the file and line too.
 */
#ifndef PLUGVM_SETTINGS_H
#define PLUGVM_SETTINGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Type of one setting's value in the config file. */
enum plugvm_setting_type {
    PLUGVM_SETTING_STRING = 1, /* "text" */
    PLUGVM_SETTING_INT = 2,    /* 64-bit signed integer (123, 0x10, 5L) */
    PLUGVM_SETTING_BOOL = 3,   /* true / false */
    PLUGVM_SETTING_STRING_LIST = 4, /* [ "a", "b" ] (array of strings) */
};

/* Flags of a plugvm_setting_spec. */
#define PLUGVM_SETTING_REQUIRED 0x1u /* absent is an error */
/* A STRING naming a file: read it with get_path. A snapshot keeps it as
 * an absolute path, so the snapshot restores from anywhere. */
#define PLUGVM_SETTING_PATH 0x2u

/*
 * One accepted setting. A table of them ends with an entry whose name is NULL.
 *   name      the setting's name as written in the file.
 *   type      enum plugvm_setting_type.
 *   flags     PLUGVM_SETTING_* bits.
 *   min, max  inclusive bounds for PLUGVM_SETTING_INT (ignored otherwise);
 *             min > max means unbounded.
 *   help      one line: what it means and its unit ("queue size, entries").
 */
struct plugvm_setting_spec {
    const char *name;
    uint32_t type;
    uint32_t flags;
    int64_t min;
    int64_t max;
    const char *help;
    /* NULL: a later 1.x minor may define them (a default value, a list's
     * bounds), NULL meaning what the core does today. The entries are an
     * array, so their size cannot grow within a major: this is the room. */
    const void *reserved[2];
};

/* One entry, every other member zero: use these rather than positional
 * initializers, which would not fill `reserved` (and warn with -Wextra). */
#define PLUGVM_SETTING(name_, type_, flags_, min_, max_, help_)                                   \
    {.name = (name_), .type = (type_), .flags = (flags_), .min = (min_), .max = (max_),          \
     .help = (help_)}
/* The entry that ends a table. */
#define PLUGVM_SETTINGS_END {.name = NULL}

struct plugvm_settings;

/*
 * Accessors. Every function is safe to call from any thread while the
 * settings object lives (it lives until the plugin's destroy returns) and
 * never blocks. Return values:
 *   0        found; *out is set. Strings stay valid while the settings live.
 *   -ENOENT  the setting is absent (*out unchanged).
 *   -EINVAL  present but of another type (cannot happen for a setting the
 *            plugin declared; the core checked it already).
 */
struct plugvm_settings_ops {
    uint32_t size; /* sizeof(struct plugvm_settings_ops) of the provider */
    int (*get_string)(const struct plugvm_settings *s, const char *name, const char **out);
    int (*get_int)(const struct plugvm_settings *s, const char *name, int64_t *out);
    int (*get_bool)(const struct plugvm_settings *s, const char *name, bool *out);
    /* Number of elements of a STRING_LIST setting. */
    int (*list_length)(const struct plugvm_settings *s, const char *name, size_t *out);
    /* Element `index` (0-based) of a STRING_LIST; -ERANGE past the end. */
    int (*list_string)(const struct plugvm_settings *s, const char *name, size_t index,
                       const char **out);
    /* Writes "FILE:LINE" of the setting (or of the whole entry when name is
     * NULL or absent) into buf (len bytes, always NUL-terminated); returns
     * buf. For error messages. */
    const char *(*where)(const struct plugvm_settings *s, const char *name, char *buf, size_t len);
    /* A STRING setting that names a file, as a path to open: an absolute
     * one as it is, a relative one joined to the folder of the config
     * file it was read from (not the current directory), as vm.kernel is.
     * Written into buf (len bytes, NUL-terminated). 0, -ENOENT, -EINVAL,
     * -ENAMETOOLONG when buf is too small. Nothing is checked to exist. */
    int (*get_path)(const struct plugvm_settings *s, const char *name, char *buf, size_t len);
};

/* A settings handle: the accessor table and the provider's own data. */
struct plugvm_settings {
    const struct plugvm_settings_ops *ops;
    void *impl;
};

#ifdef __cplusplus
}
#endif

#endif /* PLUGVM_SETTINGS_H */
