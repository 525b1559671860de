/* SPDX-License-Identifier: Apache-2.0 */
/* A config file that runs an image (core/run/image_config.h). */
#include "run/image_config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "image/process.h"
#include "image/quick.h"
#include "util/paths.h"

static int where_fail(const char *path, const config_setting_t *s, char *err, size_t errlen, const char *what)
{
    snprintf(err, errlen, "%s:%d: %s", path, s ? config_setting_source_line(s) : 0, what);
    return -1;
}

/* `name` beside the config file when relative; kept in store. */
static const char *resolve(struct image_config *st, const char *dir, const char *name, int must_exist)
{
    char *p;
    struct stat sb;
    if (name[0] == '/' || asprintf(&p, "%s/%s", dir, name) < 0)
        return name;
    if (!must_exist && stat(p, &sb)) {
        free(p);
        return name;
    }
    if (st->nstrings == sizeof(st->strings) / sizeof(st->strings[0])) {
        free(p);
        return name;
    }
    st->strings[st->nstrings++] = p;
    return p;
}

/* A list of strings into out[], at most max: 0, or -1 with err. */
static int string_list(const char *path, const config_setting_t *s, const char *name, const char **out, size_t max,
                       size_t *n, char *err, size_t errlen)
{
    char what[256];
    if (!config_setting_is_array(s) && !config_setting_is_list(s)) {
        snprintf(what, sizeof(what), "setting 'process.%s': expected a list of strings", name);
        return where_fail(path, s, err, errlen, what);
    }
    *n = 0;
    for (int i = 0; i < config_setting_length(s); i++) {
        const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
        const char *v = config_setting_get_string(e);
        if (!v || *n == max) {
            snprintf(what, sizeof(what), "setting 'process.%s'[%d]: %s", name, i,
                     v ? "too many entries" : "expected a string");
            return where_fail(path, e, err, errlen, what);
        }
        out[(*n)++] = v;
    }
    return 0;
}

static int get_bool(const char *path, const config_setting_t *s, const char *name, bool *out, char *err,
                    size_t errlen)
{
    char what[256];
    if (config_setting_type(s) != CONFIG_TYPE_BOOL) {
        snprintf(what, sizeof(what), "setting 'process.%s': expected true or false", name);
        return where_fail(path, s, err, errlen, what);
    }
    *out = config_setting_get_bool(s);
    return 0;
}

static int load_vm(const char *path, const char *dir, const config_setting_t *vm, struct image_config *st,
                   struct image_run_opts *o, char *err, size_t errlen)
{
    char what[1536];
    for (int i = 0; i < config_setting_length(vm); i++) {
        const config_setting_t *s = config_setting_get_elem(vm, (unsigned)i);
        const char *name = config_setting_name(s);
        const char *str = config_setting_get_string(s);
        if (!strcmp(name, "image") || !strcmp(name, "kernel")) {
            if (!str || !str[0]) {
                snprintf(what, sizeof(what), "setting 'vm.%s': expected a non-empty string", name);
                return where_fail(path, s, err, errlen, what);
            }
            if (!strcmp(name, "image")) {
                /* A path beside the config (with its :TAG) if it is one there. */
                char p[4096], ref[512];
                if (str[0] != '/' && image_ref_split(str, p, sizeof(p), ref, sizeof(ref)) == 0) {
                    char *full;
                    struct stat sb;
                    if (asprintf(&full, "%s/%s", dir, p) >= 0) {
                        if (stat(full, &sb) == 0 && st->nstrings < sizeof(st->strings) / sizeof(st->strings[0]) &&
                            asprintf(&st->strings[st->nstrings], "%s%s%s", full, ref[0] ? ":" : "", ref) >= 0)
                            str = st->strings[st->nstrings++];
                        free(full);
                    }
                }
                o->image = str;
            } else {
                o->kernel = resolve(st, dir, str, 1);
            }
        } else if (!strcmp(name, "vcpus") || !strcmp(name, "memory_mib")) {
            long long v = config_setting_get_int64(s);
            int bad = config_setting_type(s) != CONFIG_TYPE_INT && config_setting_type(s) != CONFIG_TYPE_INT64;
            if (bad || v < 1 || v > (!strcmp(name, "vcpus") ? 64 : 1024 * 1024)) {
                snprintf(what, sizeof(what), "setting 'vm.%s': expected a number from 1 to %d", name,
                         !strcmp(name, "vcpus") ? 64 : 1024 * 1024);
                return where_fail(path, s, err, errlen, what);
            }
            if (!strcmp(name, "vcpus"))
                o->vcpus = (uint32_t)v;
            else
                o->memory_mib = (uint64_t)v;
        } else {
            snprintf(what, sizeof(what),
                     "setting 'vm.%s': not with vm.image (the VM is made for the image); expected image, "
                     "vcpus, memory_mib or kernel",
                     name);
            return where_fail(path, s, err, errlen, what);
        }
    }
    return 0;
}

static int load_process(const char *path, const char *dir, const config_setting_t *p, struct image_config *st,
                        struct image_run_opts *o, char *err, size_t errlen)
{
    char what[1536];
    size_t nenv = 0, ncli = 0;
    const char *cli[IMAGE_CONFIG_ENV_MAX];
    for (int i = 0; p && i < config_setting_length(p); i++) {
        const config_setting_t *s = config_setting_get_elem(p, (unsigned)i);
        const char *name = config_setting_name(s);
        const char *str = config_setting_get_string(s);
        int rc = 0;
        if (!strcmp(name, "args")) {
            rc = string_list(path, s, name, st->args, IMAGE_CONFIG_ENV_MAX, &o->proc.nargs, err, errlen);
            o->proc.args = st->args;
        } else if (!strcmp(name, "env")) {
            rc = string_list(path, s, name, cli, IMAGE_CONFIG_ENV_MAX, &ncli, err, errlen);
        } else if (!strcmp(name, "volumes")) {
            const char *v[IMAGE_RUN_VOLUMES_MAX];
            rc = string_list(path, s, name, v, IMAGE_RUN_VOLUMES_MAX, &o->nvolumes, err, errlen);
            for (size_t j = 0; !rc && j < o->nvolumes; j++) {
                const char *spec = v[j];
                char *full;
                if (spec[0] != '/' && st->nstrings < sizeof(st->strings) / sizeof(st->strings[0]) &&
                    asprintf(&full, "%s/%s", dir, spec) >= 0) {
                    st->strings[st->nstrings++] = full;
                    spec = full;
                }
                o->volumes[j] = spec;
            }
        } else if (!strcmp(name, "interactive")) {
            rc = get_bool(path, s, name, &o->interactive, err, errlen);
        } else if (!strcmp(name, "tty")) {
            rc = get_bool(path, s, name, &o->tty, err, errlen);
        } else if (!strcmp(name, "no_snapshot")) {
            rc = get_bool(path, s, name, &o->no_snapshot, err, errlen);
        } else if (!strcmp(name, "entrypoint") || !strcmp(name, "workdir") || !strcmp(name, "user") ||
                   !strcmp(name, "env_file")) {
            if (!str) {
                snprintf(what, sizeof(what), "setting 'process.%s': expected a string", name);
                return where_fail(path, s, err, errlen, what);
            }
            if (!strcmp(name, "entrypoint"))
                o->proc.entrypoint = str;
            else if (!strcmp(name, "workdir"))
                o->proc.workdir = str;
            else if (!strcmp(name, "user"))
                o->proc.user = str;
            else {
                const char *file = resolve(st, dir, str, 1);
                char perr[1024];
                if (image_env_file_read(file, &st->env_file, &st->nenv_file, perr, sizeof(perr))) {
                    snprintf(what, sizeof(what), "setting 'process.env_file': %s", perr);
                    return where_fail(path, s, err, errlen, what);
                }
            }
        } else {
            snprintf(what, sizeof(what),
                     "unknown setting 'process.%s'; expected args, entrypoint, env, env_file, workdir, user, "
                     "interactive, tty, volumes or no_snapshot",
                     name);
            return where_fail(path, s, err, errlen, what);
        }
        if (rc)
            return -1;
    }
    /* env_file's variables, then env's, which win, as -e after --env-file. */
    for (size_t j = 0; j < st->nenv_file && nenv < IMAGE_CONFIG_ENV_MAX; j++)
        st->env[nenv++] = st->env_file[j];
    for (size_t j = 0; j < ncli; j++) {
        if (nenv == IMAGE_CONFIG_ENV_MAX)
            return where_fail(path, p, err, errlen, "more than 4096 environment variables");
        st->env[nenv++] = cli[j];
    }
    o->proc.env = st->env;
    o->proc.nenv = nenv;
    return 0;
}

int image_config_load(const char *path, struct image_config *st, struct image_run_opts *o, char *err, size_t errlen)
{
    memset(st, 0, sizeof(*st));
    config_init(&st->cfg);
    if (!config_read_file(&st->cfg, path)) {
        config_destroy(&st->cfg);
        return 0; /* the ordinary loader reads it again and names the error */
    }
    const config_setting_t *vm = config_lookup(&st->cfg, "vm");
    if (!vm || !config_setting_get_member(vm, "image")) {
        config_destroy(&st->cfg);
        return 0;
    }
    const config_setting_t *root = config_root_setting(&st->cfg);
    for (int i = 0; i < config_setting_length(root); i++) {
        const config_setting_t *s = config_setting_get_elem(root, (unsigned)i);
        const char *name = config_setting_name(s);
        if (strcmp(name, "vm") && strcmp(name, "process")) {
            char what[256];
            snprintf(what, sizeof(what), "unknown top-level setting '%s' beside vm.image; expected 'vm' or "
                                         "'process'", name);
            where_fail(path, s, err, errlen, what);
            image_config_free(st);
            return -1;
        }
    }
    char *dir = paths_dirname(path);
    int rc = !dir ? -1
                  : load_vm(path, dir, vm, st, o, err, errlen) ||
                            load_process(path, dir, config_lookup(&st->cfg, "process"), st, o, err, errlen)
                        ? -1
                        : 1;
    free(dir);
    if (rc < 0)
        image_config_free(st);
    return rc;
}

void image_config_free(struct image_config *st)
{
    config_destroy(&st->cfg);
    for (size_t i = 0; i < st->nstrings; i++)
        free(st->strings[i]);
    st->nstrings = 0;
    if (st->env_file)
        image_env_free(st->env_file, st->nenv_file);
    st->env_file = NULL;
}
