/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target: any bytes as a VM config file. Refused with a message
 * or accepted; never a crash, a leak or an unterminated message. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char path[64];
    if (!path[0]) {
        snprintf(path, sizeof(path), "/tmp/plugvm-fuzz-config-%d.cfg", (int)getpid());
        /* A kernel file the config may name, beside it. */
        FILE *k = fopen("/tmp/vmlinuz", "a");
        if (k)
            fclose(k);
    }
    FILE *f = fopen(path, "w");
    if (!f)
        abort();
    fwrite(data, 1, size, f);
    fclose(f);
    struct vm_config c;
    char err[2048];
    err[sizeof(err) - 1] = 'x';
    if (config_load(&c, path, err, sizeof(err)) == 0)
        config_free(&c);
    else if (!memchr(err, 0, sizeof(err)))
        abort();
    return 0;
}
