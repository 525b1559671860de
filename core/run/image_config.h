/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A config file that runs an image (docs/CONFIG.md, "Running an image"):
 * `vm.image` names it, and a `process` group holds what `plugvm run
 * --image`'s flags would say:
 *
 *   vm = { image = "alpine.tar:latest"; vcpus = 1; memory_mib = 512; kernel = "..."; };
 *   process = { args = ["sh", "-c", "echo hi"]; entrypoint = "/bin/x"; env = ["K=V"];
 *               env_file = "app.env"; workdir = "/srv"; user = "app"; interactive = true;
 *               tty = false; volumes = ["data.ext4:/data", "ref.ext4:/ref:ro"]; no_snapshot = false; };
 *
 * Relative file names (an image path that exists there, kernel, env_file,
 * volume files) are taken from the config file's folder. Every other
 * setting of `vm` (the VM is made for the image) and anything unknown is
 * refused with FILE:LINE. Not thread-safe (libconfig's state per file).
 */
#ifndef PLUGVM_RUN_IMAGE_CONFIG_H
#define PLUGVM_RUN_IMAGE_CONFIG_H

#include <libconfig.h>
#include <stddef.h>

#include "run/image_run.h"

#define IMAGE_CONFIG_ENV_MAX 4096

/* What the options point into; image_config_free releases it. */
struct image_config {
    config_t cfg;
    char *strings[IMAGE_RUN_VOLUMES_MAX + 8]; /* resolved paths */
    size_t nstrings;
    const char *env[IMAGE_CONFIG_ENV_MAX];
    const char *args[IMAGE_CONFIG_ENV_MAX];
    char **env_file;      /* from image_env_file_parse */
    size_t nenv_file;
};

/* 1 when `path` is a config with vm.image (*o filled, store to free), 0
 * when it is not one (nothing kept: the ordinary config loader reads it),
 * -1 with err for an image config that is wrong, or a file that cannot
 * be read or parsed. */
int image_config_load(const char *path, struct image_config *store, struct image_run_opts *o, char *err,
                      size_t errlen);
void image_config_free(struct image_config *store);

#endif
