/* SPDX-License-Identifier: Apache-2.0 */
/*
 * plugvm-init's machine set-up (issue 15), before any launch record: the
 * kernel file systems, the modules of the initramfs, and the image's root
 * (the first virtio disk, ext4, read-only) under a writable overlay whose
 * upper layer is a tmpfs, so every run starts from the image as imported
 * and leaves nothing behind. Each step returns 0, or -1 with err saying
 * what failed (the mount, its target, errno's text). Runs as pid 1, once.
 */
#ifndef PLUGVM_GUEST_INIT_SETUP_H
#define PLUGVM_GUEST_INIT_SETUP_H

#include <stddef.h>

/* /dev (devtmpfs), /proc, /sys in the initramfs. */
int setup_early(char *err, size_t errlen);

/* Loads the modules listed, one path a line relative to the list's folder,
 * in `list` (made by guest/init/make-initramfs.sh in dependency order). A
 * module the kernel already has, or one it refuses (another kernel given
 * with --kernel, whose drivers may be built in), is skipped with a line
 * on the console: what is missing shows up as the root or vsock failing,
 * named then. */
void setup_modules(const char *list);

/* Mounts the root disk `dev` (waiting up to 10 s for the node) read-only
 * under an overlay with a tmpfs upper layer at /newroot, moves /dev, /proc
 * and /sys there, mounts /dev/pts, /dev/shm, /tmp and /run, and makes
 * /newroot the root (MS_MOVE + chroot, as switch_root does: the initramfs
 * cannot be unmounted). */
int setup_root(const char *dev, char *err, size_t errlen);

/* Mounts disk `dev` (ext4), or with fs the virtio-fs share tagged `dev`,
 * at `path` inside the root (made when missing), read-only when ro: a
 * --volume. */
int setup_volume(const char *dev, const char *path, int fs, int ro, char *err, size_t errlen);

#endif
