/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What one tar entry of a layer asks for (image-spec layer.md): a path
 * added, a whiteout (.wh.NAME: NAME of a lower layer removed), an opaque
 * directory (.wh..wh..opq: the directory's lower contents removed), or
 * nothing (sockets, which the spec says to skip, and aufs's other .wh..wh.
 * metadata). Paths are cleaned here, before anything is written: "./",
 * "//" and a leading "/" dropped, "." components dropped, and a ".."
 * component refused, as is a component over 255 bytes (NAME_MAX, ext4's
 * limit) or a whiteout of "." or "..". So no entry, and no hardlink
 * target, can name anything outside the image's root. Symlink targets are
 * not paths to clean: they are kept verbatim and resolve inside the guest.
 * Pure functions; thread-safe.
 */
#ifndef PLUGVM_IMAGE_ENTRY_H
#define PLUGVM_IMAGE_ENTRY_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define LAYER_PATH_MAX 4096

enum layer_op {
    LAYER_ADD,       /* create or replace `path` (and, for a hardlink, link it to `link`) */
    LAYER_WHITEOUT,  /* remove `path` and everything under it */
    LAYER_OPAQUE,    /* remove what lower layers put under directory `path` */
    LAYER_SKIP,      /* nothing to do: `why` says why */
};

struct layer_entry {
    enum layer_op op;
    char path[LAYER_PATH_MAX]; /* cleaned, relative to the root; "" is the root */
    char link[LAYER_PATH_MAX]; /* a hardlink's cleaned target, else "" */
    const char *why;           /* LAYER_SKIP: a static reason */
};

/* Classifies the entry whose tar path is `tar_path`, of file type `type`
 * (S_IFREG, S_IFDIR, S_IFLNK, ...), a hardlink to `hardlink` when that is
 * not NULL. 0 with *out set, or -EINVAL with err saying which path and
 * what is wrong (the caller names the layer). */
int layer_entry_classify(const char *tar_path, mode_t type, const char *hardlink, struct layer_entry *out,
                         char *err, size_t errlen);

/* Cleans `in` into out[LAYER_PATH_MAX] as above: 0, or -EINVAL with err. */
int layer_path_clean(const char *in, char *out, char *err, size_t errlen);

#endif
