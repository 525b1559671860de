/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The image cache: $XDG_CACHE_HOME/plugvm/images (or ~/.cache/plugvm/images)
 * holds one folder per imported image, named after its manifest digest
 * ("sha256-HEX"), with rootfs.ext4 (the root disk), config.json (the image
 * config, verified) and info.json (source, tag, when imported). A folder
 * appears only whole: an import builds it under ".tmp-PID-N" and renames it
 * into place, so a killed import leaves nothing a later run would use
 * (image_cache_sweep removes such leftovers once their process is gone).
 * Tags are symbolic links tags/NAME -> ../sha256-HEX, replaced atomically
 * (rename over), so a tag names one image at a time, as in docker. Safe
 * against other processes using the same cache: every change is one
 * rename. Functions are thread-safe (no shared state).
 */
#ifndef PLUGVM_IMAGE_CACHE_H
#define PLUGVM_IMAGE_CACHE_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "image/digest.h"

#define IMAGE_CACHE_PATH_MAX 4096
#define IMAGE_CACHE_TAGS_MAX 1024

/* The cache folder, made if missing: `override` when not NULL (tests,
 * --cache), else from the environment as above. 0, or -errno with err
 * naming the folder. */
int image_cache_root(const char *override, char out[IMAGE_CACHE_PATH_MAX], char *err, size_t errlen);

/* The folder name for digest d ("sha256-HEX"). */
void image_cache_dirname(const struct image_digest *d, char out[IMAGE_DIGEST_TEXT_MAX]);

/* Which cached image `name` means: a digest ("sha256:HEX"), an unambiguous
 * prefix of one of at least 12 hex digits (with or without "sha256:"), or
 * a tag. 0 with dirname[] set, -ENOENT or -EINVAL (ambiguous) with err. */
int image_cache_find(const char *root, const char *name, char dirname[IMAGE_DIGEST_TEXT_MAX], char *err,
                     size_t errlen);

/* Points tag at the cached image `dirname`: 0, or -errno with err. */
int image_cache_tag(const char *root, const char *tag, const char *dirname, char *err, size_t errlen);

/* Removes the image `name` (as image_cache_find takes it) and every tag
 * that points at it; *removed gets its digest. 0, or -errno with err. */
int image_cache_remove(const char *root, const char *name, char removed[IMAGE_DIGEST_TEXT_MAX], char *err,
                       size_t errlen);

struct image_cache_entry {
    char digest[IMAGE_DIGEST_TEXT_MAX]; /* "sha256:HEX" */
    char dirname[IMAGE_DIGEST_TEXT_MAX];
    char tags[IMAGE_CACHE_TAGS_MAX];    /* comma-separated, "" when untagged */
    uint64_t disk_bytes;                /* host disk the root disk takes (it is sparse) */
    uint64_t fs_bytes;                  /* the root disk's size as the guest sees it */
    time_t imported;
};

/* Calls fn for each cached image (in no order); fn returns 0 to go on.
 * 0, or -errno with err. */
int image_cache_list(const char *root, int (*fn)(void *priv, const struct image_cache_entry *e), void *priv,
                     char *err, size_t errlen);

/* A fresh temporary name in folder `dir`: "DIR/.tmp-PID-N", N counted
 * across the process, so no two callers (threads included) get the same
 * one; image_cache_sweep knows the form. 0, or -ENAMETOOLONG. */
int image_cache_tmpname(const char *dir, char *out, size_t outlen);

/* Removes ".tmp-PID-N" folders whose process no longer exists. */
void image_cache_sweep(const char *root);

/* Removes folder `dir` and the plain files in it (a cache entry, never
 * deeper). 0, or -errno. */
int image_cache_rmdir(const char *dir);

#endif
