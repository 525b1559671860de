/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Checks a libconfig group against a table of plugvm_setting_spec, and
 * offers the group to plugins through the typed accessor (settings.h).
 */
#ifndef PLUGVM_CORE_SETTINGS_CHECK_H
#define PLUGVM_CORE_SETTINGS_CHECK_H

#include <libconfig.h>
#include <stdbool.h>
#include <stddef.h>

#include <plugvm/settings.h>

/* Refuses the first problem in `group`: a member not in `spec` (unless its
 * name is in `extra`, a NULL-terminated list of names checked elsewhere),
 * a value of the wrong type, an integer outside [min, max], a missing
 * required setting. `where` names the group in messages ("vm",
 * "devices[2]"). Returns 0, or -1 with "FILE:LINE: ..." in err. */
int settings_check(const char *file, const config_setting_t *group, const char *where,
                   const struct plugvm_setting_spec *spec, const char *const *extra, char *err,
                   size_t errlen);

/* FILE:LINE of a setting (the file being the one it was read from). */
const char *settings_where(const char *file, const config_setting_t *s, char *buf, size_t len);

/* The accessor over a libconfig group. `file` and `group` must outlive it. */
struct libconfig_settings {
    struct plugvm_settings handle;
    const char *file;
    const config_setting_t *group;
};
void libconfig_settings_init(struct libconfig_settings *ls, const char *file,
                             const config_setting_t *group);

#endif
