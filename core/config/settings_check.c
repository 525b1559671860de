/* SPDX-License-Identifier: Apache-2.0 */
#include "settings_check.h"

#include "util/error.h"
#include "util/paths.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *type_name(uint32_t type)
{
    switch (type) {
    case PLUGVM_SETTING_STRING: return "a string";
    case PLUGVM_SETTING_INT: return "an integer";
    case PLUGVM_SETTING_BOOL: return "true or false";
    case PLUGVM_SETTING_STRING_LIST: return "a list of strings, [ \"a\", \"b\" ]";
    }
    return "?";
}

static bool type_matches(const config_setting_t *s, uint32_t type)
{
    int t = config_setting_type(s);
    switch (type) {
    case PLUGVM_SETTING_STRING: return t == CONFIG_TYPE_STRING;
    case PLUGVM_SETTING_INT: return t == CONFIG_TYPE_INT || t == CONFIG_TYPE_INT64;
    case PLUGVM_SETTING_BOOL: return t == CONFIG_TYPE_BOOL;
    case PLUGVM_SETTING_STRING_LIST:
        if (t != CONFIG_TYPE_ARRAY && t != CONFIG_TYPE_LIST)
            return false;
        for (int i = 0; i < config_setting_length(s); i++)
            if (config_setting_type(config_setting_get_elem(s, (unsigned)i)) != CONFIG_TYPE_STRING)
                return false;
        return true;
    }
    return false;
}

const char *settings_where(const char *file, const config_setting_t *s, char *buf, size_t len)
{
    const char *f = config_setting_source_file(s);
    unsigned line = config_setting_source_line(s);
    /* Line 0: a setting libplugvm's setters made, in no file. */
    if (line)
        snprintf(buf, len, "%s:%u", f ? f : file, line);
    else
        snprintf(buf, len, "%s", f ? f : file);
    return buf;
}

static const struct plugvm_setting_spec *find_spec(const struct plugvm_setting_spec *spec,
                                                   const char *name)
{
    for (; spec && spec->name; spec++)
        if (strcmp(spec->name, name) == 0)
            return spec;
    return NULL;
}

static bool in_list(const char *const *list, const char *name)
{
    for (; list && *list; list++)
        if (strcmp(*list, name) == 0)
            return true;
    return false;
}

int settings_check(const char *file, const config_setting_t *group, const char *where,
                   const struct plugvm_setting_spec *spec, const char *const *extra, char *err,
                   size_t errlen)
{
    char at[512];
    if (!config_setting_is_group(group)) {
        snprintf(err, errlen, "%s: '%s' must be a group, { name = value; ... }",
                 settings_where(file, group, at, sizeof(at)), where);
        return -1;
    }
    for (int i = 0; i < config_setting_length(group); i++) {
        const config_setting_t *s = config_setting_get_elem(group, (unsigned)i);
        const char *name = config_setting_name(s);
        settings_where(file, s, at, sizeof(at));
        if (in_list(extra, name))
            continue;
        const struct plugvm_setting_spec *sp = find_spec(spec, name);
        if (!sp) {
            if (!spec || !spec->name)
                return pv_fail(err, errlen, "%s: unknown setting '%s.%s': '%s' takes no settings",
                               at, where, name, where);
            int n = snprintf(err, errlen, "%s: unknown setting '%s.%s'; expected one of:", at, where,
                             name);
            for (const struct plugvm_setting_spec *e = spec; e->name && n > 0 && (size_t)n < errlen;
                 e++)
                n += snprintf(err + n, errlen - (size_t)n, " %s", e->name);
            return -1;
        }
        if (!type_matches(s, sp->type)) {
            snprintf(err, errlen, "%s: setting '%s.%s' must be %s", at, where, name,
                     type_name(sp->type));
            return -1;
        }
        if (sp->type == PLUGVM_SETTING_INT && sp->min <= sp->max) {
            long long v = config_setting_get_int64(s);
            if (v < sp->min || v > sp->max) {
                snprintf(err, errlen,
                         "%s: setting '%s.%s' = %lld is out of range: expected %s from %" PRId64
                         " to %" PRId64,
                         at, where, name, v, sp->help ? sp->help : "a value", sp->min, sp->max);
                return -1;
            }
        }
    }
    for (const struct plugvm_setting_spec *sp = spec; sp && sp->name; sp++) {
        if ((sp->flags & PLUGVM_SETTING_REQUIRED) &&
            !config_setting_get_member(group, sp->name)) {
            snprintf(err, errlen, "%s: missing setting '%s.%s' (%s)",
                     settings_where(file, group, at, sizeof(at)), where, sp->name,
                     sp->help ? sp->help : type_name(sp->type));
            return -1;
        }
    }
    return 0;
}

/* --- The plugin-facing accessor --- */

static const config_setting_t *member(const struct plugvm_settings *h, const char *name)
{
    const struct libconfig_settings *ls = h->impl;
    return config_setting_get_member(ls->group, name);
}

static int get_string(const struct plugvm_settings *h, const char *name, const char **out)
{
    const config_setting_t *s = member(h, name);
    if (!s)
        return -ENOENT;
    if (config_setting_type(s) != CONFIG_TYPE_STRING)
        return -EINVAL;
    *out = config_setting_get_string(s);
    return 0;
}

static int get_int(const struct plugvm_settings *h, const char *name, int64_t *out)
{
    const config_setting_t *s = member(h, name);
    if (!s)
        return -ENOENT;
    if (!type_matches(s, PLUGVM_SETTING_INT))
        return -EINVAL;
    *out = config_setting_get_int64(s);
    return 0;
}

static int get_bool(const struct plugvm_settings *h, const char *name, bool *out)
{
    const config_setting_t *s = member(h, name);
    if (!s)
        return -ENOENT;
    if (config_setting_type(s) != CONFIG_TYPE_BOOL)
        return -EINVAL;
    *out = config_setting_get_bool(s) != 0;
    return 0;
}

static int list_length(const struct plugvm_settings *h, const char *name, size_t *out)
{
    const config_setting_t *s = member(h, name);
    if (!s)
        return -ENOENT;
    if (!type_matches(s, PLUGVM_SETTING_STRING_LIST))
        return -EINVAL;
    *out = (size_t)config_setting_length(s);
    return 0;
}

static int list_string(const struct plugvm_settings *h, const char *name, size_t index,
                       const char **out)
{
    size_t n;
    int rc = list_length(h, name, &n);
    if (rc)
        return rc;
    if (index >= n)
        return -ERANGE;
    *out = config_setting_get_string_elem(member(h, name), (int)index);
    return 0;
}

static const char *where(const struct plugvm_settings *h, const char *name, char *buf, size_t len)
{
    const struct libconfig_settings *ls = h->impl;
    const config_setting_t *s = name ? config_setting_get_member(ls->group, name) : NULL;
    return settings_where(ls->file, s ? s : ls->group, buf, len);
}

static int get_path(const struct plugvm_settings *h, const char *name, char *buf, size_t len)
{
    const struct libconfig_settings *ls = h->impl;
    const char *v;
    int rc = get_string(h, name, &v);
    if (rc)
        return rc;
    int n;
    if (v[0] == '/' || v[0] == '\0') {
        n = snprintf(buf, len, "%s", v);
    } else {
        /* The folder of the file the setting was read from (an @include'd
         * file's own), as for vm.kernel. */
        const char *f = config_setting_source_file(member(h, name));
        char *dir = paths_dirname(f ? f : ls->file);
        if (!dir)
            return -ENOMEM;
        n = strcmp(dir, ".") == 0 ? snprintf(buf, len, "%s", v) : snprintf(buf, len, "%s/%s", dir, v);
        free(dir);
    }
    return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

static const struct plugvm_settings_ops libconfig_settings_ops = {
    .size = sizeof(struct plugvm_settings_ops),
    .get_string = get_string,
    .get_int = get_int,
    .get_bool = get_bool,
    .list_length = list_length,
    .list_string = list_string,
    .where = where,
    .get_path = get_path,
};

void libconfig_settings_init(struct libconfig_settings *ls, const char *file,
                             const config_setting_t *group)
{
    ls->handle.ops = &libconfig_settings_ops;
    ls->handle.impl = ls;
    ls->file = file;
    ls->group = group;
}
