/* SPDX-License-Identifier: Apache-2.0 */
#include "paths.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef PLUGVM_BUILD_DIR
#error "PLUGVM_BUILD_DIR must be defined by the build"
#endif

bool paths_in_build_tree(void)
{
    char exe[PATH_MAX], build[PATH_MAX];
    if (!realpath("/proc/self/exe", exe) || !realpath(PLUGVM_BUILD_DIR, build))
        return false;
    size_t n = strlen(build);
    return strncmp(exe, build, n) == 0 && exe[n] == '/';
}

static int each_in_list(const char *list, int (*fn)(const char *, void *), void *arg)
{
    if (!list)
        return 0;
    char *copy = strdup(list), *save = NULL;
    int rc = 0;
    for (char *d = strtok_r(copy, ":", &save); d && !rc; d = strtok_r(NULL, ":", &save))
        if (*d)
            rc = fn(d, arg);
    free(copy);
    return rc;
}

void paths_each_plugin_dir(int (*fn)(const char *dir, void *arg), void *arg)
{
    if (paths_in_build_tree() && fn(PLUGVM_BUILD_DIR "/plugins", arg))
        return;
    if (each_in_list(getenv("PLUGVM_PLUGIN_PATH"), fn, arg))
        return;
    fn(PLUGVM_INSTALL_PLUGIN_DIR, arg);
}

struct find_ctx {
    const char *name;
    char *found;
};

static int try_dir(const char *dir, void *arg)
{
    struct find_ctx *c = arg;
    char *p;
    if (asprintf(&p, "%s/%s", dir, c->name) < 0)
        return 0;
    if (access(p, F_OK) == 0) {
        c->found = p;
        return 1;
    }
    free(p);
    return 0;
}

char *paths_find_plugin(const char *file)
{
    struct find_ctx c = {.name = file};
    paths_each_plugin_dir(try_dir, &c);
    return c.found;
}

char *paths_find_image(const char *base_dir, const char *name)
{
    if (name[0] == '/')
        return access(name, F_OK) == 0 ? strdup(name) : NULL;
    struct find_ctx c = {.name = name};
    if (try_dir(base_dir, &c) || each_in_list(getenv("PLUGVM_IMAGE_PATH"), try_dir, &c) ||
        (paths_in_build_tree() && try_dir(PLUGVM_BUILD_DIR "/images", &c)) ||
        try_dir(PLUGVM_INSTALL_IMAGE_DIR, &c))
        return c.found;
    return NULL;
}

char *paths_dirname(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        return strdup(".");
    if (slash == path)
        return strdup("/");
    return strndup(path, (size_t)(slash - path));
}
