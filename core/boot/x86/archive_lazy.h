/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The part of libarchive the kernel loader uses, loaded with dlopen() the
 * first time a bzImage's payload needs decompressing. Linked in, libarchive
 * and what it pulls (libxml2, ICU, the compressors: 13 of plugvm's 20
 * libraries) cost about 1.4 ms of dynamic linking at every start, which a
 * restore, which never loads a kernel, should not pay (bench/restore).
 */
#ifndef PLUGVM_CORE_ARCHIVE_LAZY_H
#define PLUGVM_CORE_ARCHIVE_LAZY_H

#include <archive.h>
#include <archive_entry.h>
#include <stddef.h>

struct archive_api {
    struct archive *(*read_new)(void);
    int (*read_support_filter_gzip)(struct archive *);
    int (*read_support_filter_bzip2)(struct archive *);
    int (*read_support_filter_lzma)(struct archive *);
    int (*read_support_filter_xz)(struct archive *);
    int (*read_support_filter_lz4)(struct archive *);
    int (*read_support_filter_zstd)(struct archive *);
    int (*read_support_format_raw)(struct archive *);
    int (*read_open_memory)(struct archive *, const void *, size_t);
    int (*read_next_header)(struct archive *, struct archive_entry **);
    int (*read_data_block)(struct archive *, const void **, size_t *, la_int64_t *);
    const char *(*error_string)(struct archive *);
    const char *(*filter_name)(struct archive *, int);
    int (*filter_code)(struct archive *, int);
    int (*read_free)(struct archive *);
};

/* The table, loaded once (thread-safe); NULL with err saying what is
 * missing when libarchive cannot be loaded. */
const struct archive_api *archive_api(char *err, size_t errlen);

#endif
