/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One layer read as the image spec defines it (layer.md): its blob
 * streamed from the source and checked against the manifest's digest, the
 * blob decompressed as its media type says (tar, gzip or zstd, with
 * libarchive), the uncompressed tar checked against the config's diff_id,
 * and each tar entry handed over classified (core/image/entry.h) with what
 * its header says (owner, mode, times, device numbers, symlink target,
 * PAX xattrs) and a reader for its data. The digests are only known right
 * at the end: a caller that writes entries out must throw the result away
 * when the walk fails. Not thread-safe: one walk, one thread.
 */
#ifndef PLUGVM_IMAGE_LAYER_H
#define PLUGVM_IMAGE_LAYER_H

#include <stddef.h>
#include <stdint.h>

#include "image/entry.h"
#include "image/oci.h"
#include "image/rootfs.h"
#include "image/source.h"

/* At most this many xattrs per entry, and bytes per value (ext4 holds a
 * value in one 4 KiB block, less its header). */
#define LAYER_XATTR_MAX 64
#define LAYER_XATTR_VALUE_MAX 4000

struct layer_data;

/* Called for each entry in tar order: e classified, m its header (pointers
 * valid for the call only); `data` and d read a regular file's blocks
 * (data may be left unread: the walk skips it, still hashing it). Returns
 * 0 to go on, or -errno with err set to stop the walk. */
typedef int (*layer_visit_fn)(void *priv, const struct layer_entry *e, const struct rootfs_meta *m,
                              rootfs_data_fn data, struct layer_data *d, char *err, size_t errlen);

/* Walks layer `desc` of `src` whose uncompressed digest is `diff_id`,
 * calling visit. *done (may be NULL) grows by the blob's bytes as they are
 * read, for a progress display. 0 once every entry was visited and both
 * digests matched; -errno with err naming the layer's digest and what was
 * wrong (a damaged or truncated tar, a path with "..", a digest mismatch),
 * or visit's error. */
int layer_walk(struct image_source *src, const struct oci_descriptor *desc, const struct image_digest *diff_id,
               layer_visit_fn visit, void *priv, uint64_t *done, char *err, size_t errlen);

#endif
