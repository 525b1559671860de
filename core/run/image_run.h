/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `plugvm run --image` (issue 15; docs/IMAGES.md, "Running an image"): an
 * image's process in a VM of its own. The image is found in the cache (or
 * imported, by plugvm-image), its config combined with the overrides
 * (core/image/process.h), and a VM made for it: Debian's cloud kernel
 * (or --kernel), plugvm-init's initramfs, the image's root disk read-only
 * through blk, volumes as more blk disks, and vsock for the process's
 * control and stdio (core/run/relay.h). The VM's console is not the
 * terminal: it goes to a log (shown with -v, and its end on a failure).
 *
 * Started from a snapshot: the first run of an image (without volumes)
 * snapshots its VM at the point where plugvm-init asks for its launch,
 * into IMAGE_DIR/snapshots/KEY (KEY: this plugvm, the kernel, the
 * initramfs, vCPUs, RAM); later runs restore it and hand it their own
 * launch. A snapshot that fails to restore is removed and the run boots.
 */
#ifndef PLUGVM_RUN_IMAGE_RUN_H
#define PLUGVM_RUN_IMAGE_RUN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "image/process.h"

#define IMAGE_RUN_VOLUMES_MAX 16

struct image_run_opts {
    const char *image;     /* anything `plugvm image import` takes, or a cached digest/tag */
    const char *cache;     /* --cache, or NULL for the default */
    struct image_process_opts proc;
    bool interactive, tty, verbose;
    uint32_t vcpus;        /* 0: default (1) */
    uint64_t memory_mib;   /* 0: default (512) */
    const char *kernel;    /* NULL: debian-cloud-vmlinuz from the image folders */
    const char *volumes[IMAGE_RUN_VOLUMES_MAX]; /* "FILE:PATH[:ro]" */
    size_t nvolumes;
    double timeout_s;      /* 0: none */
    bool no_snapshot;      /* boot, neither restoring nor making the image's snapshot */
};

/* Runs it; returns plugvm's exit status: the process's (128+N for signal
 * N), or 125 for plugvm's own errors (printed), 126/127 for a command that
 * cannot run, as docker. */
int image_run(const struct image_run_opts *o);

/* Splits a --volume "FILE:PATH[:ro]" (FILE may hold no ':'; PATH absolute
 * and not "/"): 0 with file[], path[] and *ro, or -1 with err. */
int image_run_parse_volume(const char *spec, char *file, size_t filelen, char *path, size_t pathlen, bool *ro,
                           char *err, size_t errlen);

#endif
