/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Where plugvm looks for plugins and guest images. The build tree comes
 * first, but only when the running binary is itself inside the build tree,
 * so an installed plugvm never picks up a stale build.
 */
#ifndef PLUGVM_CORE_PATHS_H
#define PLUGVM_CORE_PATHS_H

#include <stdbool.h>
#include <stddef.h>

/* True when plugvm's code runs from the build tree it was built in: the
 * executable (/proc/self/exe), or libplugvm.so in a program embedding it. */
bool paths_in_build_tree(void);

/* PREFIX/rel (rel relative: PLUGVM_PLUGIN_RELDIR, PLUGVM_IMAGE_RELDIR,
 * PLUGVM_LIBEXEC_RELDIR) into out (len bytes), PREFIX being the tree this
 * plugvm is installed in, found from its own path (so an installed tree
 * may be moved), else the prefix it was built for. */
void paths_install_dir(const char *rel, char *out, size_t len);

/* Search folders for plugins, in order: build tree's plugins/, each entry of
 * $PLUGVM_PLUGIN_PATH (':'-separated), the install prefix's
 * lib/plugvm/plugins (paths_install_dir).
 * Calls fn for each; stops early when fn returns non-zero. */
void paths_each_plugin_dir(int (*fn)(const char *dir, void *arg), void *arg);

/* The first `file` (a plain name, "plugvm-kvm.so") found in the plugin
 * folders, in their search order; malloc'd path, or NULL. */
char *paths_find_plugin(const char *file);

/* Resolves a file named in a config: absolute paths as they are; relative
 * ones against `base_dir` (the config file's folder), then each entry of
 * $PLUGVM_IMAGE_PATH, then the build tree's images/, then the install
 * prefix's share/plugvm/images (paths_install_dir). Returns a malloc'd path of the first that
 * exists, or NULL. */
char *paths_find_image(const char *base_dir, const char *name);

/* The folder part of `path` (malloc'd; "." when it has none). */
char *paths_dirname(const char *path);

#endif
