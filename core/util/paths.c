/* SPDX-License-Identifier: Apache-2.0 */
#include "paths.h"

#include <dlfcn.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#if !defined(PLUGVM_BUILD_DIR) || !defined(PLUGVM_INSTALL_PREFIX) || !defined(PLUGVM_BINDIR_REL) || \
    !defined(PLUGVM_PLUGIN_RELDIR) || !defined(PLUGVM_IMAGE_RELDIR) || !defined(PLUGVM_LIBEXEC_RELDIR) || \
    !defined(PLUGVM_LIBDIR_REL)
#error "the build defines where plugvm is built and installed (core/CMakeLists.txt)"
#endif

/* The file this code runs from, resolved: libplugvm.so in a program that
 * embeds plugvm (its plugins and images are found from the library's
 * place, not the program's), else the executable (plugvm, its helpers,
 * the tests, which link the core statically). */
static bool self_path(char *out)
{
    Dl_info info;
    if (dladdr((void *)self_path, &info) && info.dli_fname && strstr(info.dli_fname, "libplugvm.so") &&
        realpath(info.dli_fname, out))
        return true;
    return realpath("/proc/self/exe", out) != NULL;
}

bool paths_in_build_tree(void)
{
    char exe[PATH_MAX], build[PATH_MAX];
    if (!self_path(exe) || !realpath(PLUGVM_BUILD_DIR, build))
        return false;
    size_t n = strlen(build);
    return strncmp(exe, build, n) == 0 && exe[n] == '/';
}

/* The install prefix plugvm runs from: self_path's folder when it is
 * PREFIX/BINDIR (plugvm), PREFIX/LIBEXECDIR/plugvm (its helpers) or
 * PREFIX/LIBDIR (libplugvm.so), so
 * that a tree installed with `cmake --install --prefix P` (or into a
 * DESTDIR, or moved) finds its own plugins and images; else the prefix
 * it was built for. Written into out (len bytes). */
static void install_prefix(char *out, size_t len)
{
    static const char *const rels[] = {PLUGVM_BINDIR_REL, PLUGVM_LIBEXEC_RELDIR, PLUGVM_LIBDIR_REL};
    char exe[PATH_MAX];
    char *slash = self_path(exe) ? strrchr(exe, '/') : NULL;
    if (slash) {
        *slash = '\0';
        size_t n = strlen(exe);
        for (size_t i = 0; i < sizeof(rels) / sizeof(rels[0]); i++) {
            size_t r = strlen(rels[i]);
            if (rels[i][0] != '/' && n > r && exe[n - r - 1] == '/' && strcmp(exe + n - r, rels[i]) == 0) {
                snprintf(out, len, "%.*s", (int)(n - r - 1), exe);
                if (!out[0])
                    snprintf(out, len, "/");
                return;
            }
        }
    }
    snprintf(out, len, "%s", PLUGVM_INSTALL_PREFIX);
}

void paths_install_dir(const char *rel, char *out, size_t len)
{
    char prefix[PATH_MAX];
    install_prefix(prefix, sizeof(prefix));
    snprintf(out, len, "%s%s%s", prefix, strcmp(prefix, "/") ? "/" : "", rel);
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
    char dir[PATH_MAX];
    paths_install_dir(PLUGVM_PLUGIN_RELDIR, dir, sizeof(dir));
    fn(dir, arg);
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
    char installed[PATH_MAX];
    paths_install_dir(PLUGVM_IMAGE_RELDIR, installed, sizeof(installed));
    if (try_dir(base_dir, &c) || each_in_list(getenv("PLUGVM_IMAGE_PATH"), try_dir, &c) ||
        (paths_in_build_tree() && try_dir(PLUGVM_BUILD_DIR "/images", &c)) ||
        try_dir(installed, &c))
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
