/* SPDX-License-Identifier: Apache-2.0 */
#include "archive_lazy.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>

#include "util/error.h"

static struct archive_api api;
static char load_error[256];
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void load(void)
{
    void *h = dlopen(PLUGVM_LIBARCHIVE_SONAME, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        snprintf(load_error, sizeof(load_error), "cannot load %s: %s", PLUGVM_LIBARCHIVE_SONAME,
                 dlerror());
        return;
    }
    struct {
        const char *name;
        void **slot;
    } fns[] = {
#define F(member, symbol) {#symbol, (void **)&api.member}
        F(read_new, archive_read_new),
        F(read_support_filter_gzip, archive_read_support_filter_gzip),
        F(read_support_filter_bzip2, archive_read_support_filter_bzip2),
        F(read_support_filter_lzma, archive_read_support_filter_lzma),
        F(read_support_filter_xz, archive_read_support_filter_xz),
        F(read_support_filter_lz4, archive_read_support_filter_lz4),
        F(read_support_filter_zstd, archive_read_support_filter_zstd),
        F(read_support_format_raw, archive_read_support_format_raw),
        F(read_open_memory, archive_read_open_memory),
        F(read_next_header, archive_read_next_header),
        F(read_data_block, archive_read_data_block),
        F(error_string, archive_error_string),
        F(filter_name, archive_filter_name),
        F(filter_code, archive_filter_code),
        F(read_free, archive_read_free),
#undef F
    };
    for (size_t i = 0; i < sizeof(fns) / sizeof(fns[0]); i++) {
        *fns[i].slot = dlsym(h, fns[i].name);
        if (!*fns[i].slot) {
            snprintf(load_error, sizeof(load_error), "%s has no %s", PLUGVM_LIBARCHIVE_SONAME,
                     fns[i].name);
            return;
        }
    }
}

const struct archive_api *archive_api(char *err, size_t errlen)
{
    pthread_once(&once, load);
    if (load_error[0]) {
        pv_fail(err, errlen, "%s", load_error);
        return NULL;
    }
    return &api;
}
