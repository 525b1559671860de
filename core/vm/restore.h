/* SPDX-License-Identifier: Apache-2.0 */
/* The steps of a restore that differ from a boot (restore.c), in the
 * order vm.c calls them. Each returns 0, or -1 with err naming the file
 * and record. */
#ifndef PLUGVM_CORE_VM_RESTORE_H
#define PLUGVM_CORE_VM_RESTORE_H

#include <stddef.h>

#include "record/record.h"
#include "snapshot/statefile.h"

struct vm;

struct restore_src {
    const char *dir;
    struct statefile sf; /* the state file, checked */
    int mem_fd;          /* the memory file */
    struct record_buf_reader core; /* the core's records, from restore_check on */
};

/* Reads and checks DIR/state, opens DIR/memory: both must be regular
 * files (never a FIFO or device: opened without blocking), the memory
 * file the size of the guest RAM the state file's header gives. Runs
 * before the backend is probed. */
int restore_open(struct restore_src *src, const char *dir, char *err, size_t errlen);
void restore_close(struct restore_src *src);
/* Once the devices exist: the same vCPUs and devices (plugin and device
 * id, in order) as the snapshot; no records of an owner this VM lacks. */
int restore_check(struct vm *vm, struct restore_src *src, char *err, size_t errlen);
/* Guest RAM: the memory file, copy-on-write, once the header says the
 * same architecture, backend and RAM size as the config. */
int restore_memory(struct vm *vm, const struct restore_src *src, char *err, size_t errlen);
/* The backend's vCPU and VM records, once the vCPUs exist. */
int restore_machine(struct vm *vm, const struct restore_src *src, char *err, size_t errlen);
/* devices[i]'s plugin records (before it is connected), then its
 * transport's (after: the device is activated there). */
int restore_device(struct vm *vm, size_t i, const struct restore_src *src, char *err,
                   size_t errlen);
int restore_transport(struct vm *vm, size_t i, const struct restore_src *src, char *err,
                      size_t errlen);
/* COM1 and the i8042, once they exist. */
int restore_core(struct vm *vm, struct restore_src *src, char *err, size_t errlen);

#endif
