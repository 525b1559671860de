/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The cache hit without reading the image: what an import of PATH[:REF]
 * gave is recorded in the cache (sources/HASH.json: the path made
 * absolute, the ref, the digest and tag it gave, and the identity of the
 * file that decides which image the path names: an OCI layout's
 * index.json, or the archive file itself: st_dev, st_ino, size, mtime and
 * ctime in nanoseconds). While that identity is unchanged and the image's
 * folder is in place, the same import is answered from the record: no
 * document is read, no digest computed, and none of libarchive, libext2fs
 * or libcrypto is needed, so plugvm itself answers it in one process. Any
 * change to that file (a new tag written, the archive replaced, even
 * touched) sends the import down the full path, which checks everything.
 * Only jansson; thread-safe (no shared state).
 */
#ifndef PLUGVM_IMAGE_QUICK_H
#define PLUGVM_IMAGE_QUICK_H

#include <stddef.h>

#include "image/digest.h"
#include "image/oci.h"

struct image_quick {
    char digest[IMAGE_DIGEST_TEXT_MAX];
    char tag[OCI_REF_NAME_MAX];
    char dirname[IMAGE_DIGEST_TEXT_MAX]; /* its folder in the cache, "sha256-HEX" */
};

/* Splits arg (PATH, PATH:TAG or PATH@sha256:HEX; a PATH that exists as
 * given is taken whole, colons and all) into path[] and ref[] ("" for
 * none). 0, or -ENAMETOOLONG. */
int image_ref_split(const char *arg, char *path, size_t pathlen, char *ref, size_t reflen);

/* The recorded import of `arg` in cache `root`, if it still holds: 0 with
 * *out, or -ENOENT (no record, or the image changed: import it). */
int image_quick_find(const char *root, const char *arg, struct image_quick *out);

#define IMAGE_QUICK_STAMP_MAX 128

/* The identity of the file that decides what `arg` names, as a string
 * (stamp[IMAGE_QUICK_STAMP_MAX]); "" when it cannot be had. Taken before
 * an import reads the image, so a change while it runs is not masked. */
void image_quick_stamp(const char *arg, char *stamp);

/* Records that importing `arg`, whose stamp was `stamp` before the import
 * began, gave digest and tag. Best effort: a record that cannot be
 * written only costs the next import its speed. */
void image_quick_record(const char *root, const char *arg, const char *stamp, const char *digest,
                        const char *tag);

#endif
